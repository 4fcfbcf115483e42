/* swapdrum: the swap pool (public engine API).
 *
 * A pool is the seed's swap subsystem: a set of swap devices ordered
 * by priority (lower number preferred; round robin among equals), each
 * owning a contiguous range of the drum, the pool's global slot space.
 * Exports (export.h) take their pages from one pool.
 *
 * Every function here is thread-safe.
 */

#ifndef SWAPDRUM_POOL_H
#define SWAPDRUM_POOL_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#include "swapdrum/devspec.h"

struct pool;

/* One device's figures, a snapshot taken under the pool lock. */
struct pool_devstat {
  char *path;
  const char *kind;             /* "file", "block", ... */
  uint64_t drumoffset;          /* first drum slot */
  uint64_t npages;              /* data pages */
  uint64_t inuse;               /* pages holding data */
  uint64_t bad;                 /* pages marked bad */
  uint64_t avail;               /* npages - inuse - bad */
  int priority;                 /* lower = preferred */
  unsigned maxactive;
  unsigned peak_active;         /* most I/Os ever in flight at once */
  unsigned flags;               /* SWF_* (see swapdev.h) */
  uint64_t nreads, nwrites, bytes_read, bytes_written;
  uint64_t read_errors, write_errors;
};

/* Create an empty pool with a random pool id.
 * => returns NULL after reporting.
 */
extern struct pool *pool_create (void);

/* Close every device and free the pool.  Accepts NULL.  Every export
 * of the pool must have been destroyed first.
 */
extern void pool_destroy (struct pool *pool);

/* Open the device spec names and add it to the pool (the seed's
 * swap_on): a FAKE placeholder first, so that a concurrent add of the
 * same device gets EBUSY; then the drum range, the stamp, and live.
 * => returns 0, or -1 after reporting "swap: PATH: reason" with errno
 *    set (EBUSY: the device, under any name, is already in the pool);
 *    the pool is then unchanged.
 */
extern int pool_swapon (struct pool *pool, const struct devspec *spec);

/* Data pages of all devices in the pool (in use or not). */
extern uint64_t pool_npages (struct pool *pool);

/* Number of devices in the pool (the seed's SWAP_NSWAP). */
extern size_t pool_ndevices (struct pool *pool);

/* Snapshot every device in priority order (preferred first).
 * => returns the count and sets *stats to a malloc'd array (free it
 *    with pool_stats_free), or returns -1 after reporting.
 */
extern ssize_t pool_stats (struct pool *pool, struct pool_devstat **stats);
extern void pool_stats_free (struct pool_devstat *stats, size_t n);

/* Flush every device written since the last flush.
 * => returns 0, or -1 with errno set after reporting.
 */
extern int pool_flush (struct pool *pool);

#endif /* SWAPDRUM_POOL_H */
