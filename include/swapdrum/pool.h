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

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#include "swapdrum/devspec.h"
#include "swapdrum/nonnull.h"

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
  bool direct;                  /* page I/O with O_DIRECT */
  unsigned peak_active;         /* most I/Os ever in flight at once */
  unsigned flags;               /* SWF_* (see swapdev.h) */
  uint64_t nreads, nwrites, bytes_read, bytes_written;
  uint64_t read_errors, write_errors;
  uint64_t reconnects;          /* times it came back after FAILED */
  uint64_t lost_pages;          /* pages it came back without */
};

/* An export's limits (pool_export; export_set_limits).  Sizes in
 * bytes, multiples of 4096.
 */
struct pool_limits {
  uint64_t quota;               /* most bytes it may hold; 0: none */
  uint64_t reserve;             /* bytes kept free for it; 0: none */
  int tier_lo, tier_hi;         /* the priorities its pages may use;
                                   SD_PRIORITY_MIN..SD_PRIORITY_MAX:
                                   every device */
};

/* Create an empty pool with a random pool id.
 * => returns NULL after reporting.
 */
extern struct pool *pool_create (void);

/* Close every device and free the pool.  Accepts NULL.  Every export
 * of the pool must have been destroyed first.
 */
extern void pool_destroy (struct pool *pool);

/* Bring up the pool on the devices specs name (the server's start):
 * read every stamp and the newest pool table, and
 *   - all devices empty (never formatted), or new_pool: a new pool, every
 *     device formatted for it;
 *   - else the pool the devices belong to: members named in the table
 *     but not in specs are opened from the table (added live), devices
 *     of the pool the table no longer lists are left out (removed
 *     live), empty devices join as new members.
 * Refused, with one line naming the device and the reason, and nothing
 * written: a device of another pool, a member that cannot be opened,
 * two devices with one device id, a device whose size changed, a torn
 * or corrupt stamp or table.  A pool left open by a host that crashed
 * since is taken: pool_recover drops what may be lost.  Call once, on
 * a pool with no device, before any export is created; then
 * pool_export, pool_recover and pool_start.
 * => returns 0, or -1 after reporting.
 */
extern int pool_assemble (struct pool *pool, const struct devspec *specs,
                          size_t n, bool new_pool)
  SD_NONNULL (1);

/* The export called name in the pool table: its id, size and limits.
 * If the table has none, one is added with *size bytes (0: the sum of
 * the devices).  If it has one and *size is not 0, *size must match.
 * declared: the table takes *lim (quota, reserve, tiers) for the
 * export, with a notice for each that it had another (the devices'
 * copies from the next table write on: pool_start); else *lim is set
 * to the table's (no limits for a new export).  The caller checks
 * declared limits first (pool_check_limits).
 * => returns 0 with *id and *size set, or -1 after reporting
 *    "export: NAME: reason".
 */
extern int pool_export (struct pool *pool, const char *name,
                        uint64_t *size, struct pool_limits *lim,
                        bool declared, uint16_t *id)
  SD_NONNULL (1, 2, 3, 4, 6);

/* True if the pool table marks export name live: created over the
 * admin socket, and so served at every start until it is removed,
 * declared or not; *shared is then set to whether several hosts may
 * attach.
 */
extern bool pool_export_is_live (struct pool *pool, const char *name,
                                 bool *shared)
  SD_NONNULL (1, 2, 3);

/* Mark export name live, and shared or not, in the pool table and
 * write the table to every device (nothing is written if it was so
 * already).
 * => returns 0, or -1 after reporting (ENOENT: not in the table; a
 *    table write that failed: the flags are then as they were).
 */
extern int pool_export_set_live (struct pool *pool, const char *name,
                                 bool shared)
  SD_NONNULL (1, 2);

/* Record size (bytes, a multiple of 4096) as export name's size in
 * the pool table and write the table to every device (nothing is
 * written if it was so already).  The caller resizes the export itself
 * (export_resize), and when shrinking frees the pages past the new
 * end first: a record of a page past its export's end makes the next
 * start fail.
 * => returns 0, or -1 after reporting (ENOENT: not in the table; a
 *    table write that failed: the table keeps the old size).
 */
extern int pool_export_set_size (struct pool *pool, const char *name,
                                 uint64_t size)
  SD_NONNULL (1, 2);

/* Remove export name from the pool table and write the table to every
 * device.  The export must be closed (export_destroy) and should hold
 * no page: a page record of an export the table does not have makes
 * the next start fail, so clear them first (trim the whole export).
 * => returns 0, or -1 after reporting (ENOENT: not in the table;
 *    EBUSY: still open; a table write that failed: the table is then
 *    as it was).
 */
extern int pool_export_forget (struct pool *pool, const char *name)
  SD_NONNULL (1, 2);

/* The names of every export in the pool table, in table order.
 * => returns a malloc'd NULL-terminated array of malloc'd names (free
 *    with pool_names_free), or NULL with errno ENOMEM.
 */
extern char **pool_export_names (struct pool *pool)
  SD_NONNULL (1);

/* Read every device's page records into the maps of the exports that
 * have registered (export_create): the newest record of a page wins,
 * older ones are cleared.  After a host crash, the pages of devices
 * that may have lost writes are dropped, after every export is marked
 * suspect (unwritten pages read EIO; pool_trust_export).  Call after
 * pool_assemble and the exports' creation, before any request.
 * => returns 0, or -1 after reporting (a corrupt record, a record of
 *    an export or page that does not exist, an I/O error).
 */
extern int pool_recover (struct pool *pool)
  SD_NONNULL (1);

/* Mark every device in use (stamp state ACTIVE with this boot's id)
 * and write the pool table; from now on pool_destroy closes the pool
 * cleanly.  Logs one line saying how the pool came up.
 * => returns 0, or -1 after reporting.
 */
extern int pool_start (struct pool *pool)
  SD_NONNULL (1);

/* How the pool came up: "new pool", "clean shutdown", "process crash
 * on this boot", "host crash, every device flushed", "host crash, with
 * writes lost" (or "not started").
 */
extern const char *pool_recovery (struct pool *pool)
  SD_NONNULL (1);

/* The operator's word that export name's unwritten pages may read
 * zeros again after a host crash made it suspect (docs/design.md,
 * "Host crashes"): the table says so on every device, then the export.
 * => returns 0 (also if it was not suspect), or -1 after reporting
 *    (ENOENT: no such export; a table write that failed, the export
 *    then stays suspect).
 */
extern int pool_trust_export (struct pool *pool, const char *name)
  SD_NONNULL (1, 2);

/* The names of the suspect exports, and the pages pool_recover dropped
 * because their device lost writes in a host crash.
 * => returns a malloc'd NULL-terminated array of malloc'd names (free
 *    with pool_names_free), or NULL with errno ENOMEM.
 */
extern char **pool_suspect_exports (struct pool *pool, uint64_t *lost)
  SD_NONNULL (1, 2);

/* Free what pool_suspect_exports returned.  Accepts NULL. */
extern void pool_names_free (char **names);

/* Open the device spec names and add it to the pool (the seed's
 * swap_on): a FAKE placeholder first, so that a concurrent add of the
 * same device gets EBUSY; then the drum range, the stamp, and live.
 * => returns 0, or -1 after reporting "swap: PATH: reason" with errno
 *    set (EBUSY: the device, under any name, is already in the pool);
 *    the pool is then unchanged.
 */
extern int pool_swapon (struct pool *pool, const struct devspec *spec)
  SD_NONNULL (1, 2);

/* Progress of a swap-off: pages moved so far, of total. */
typedef void (*pool_progress_fn) (void *opaque, uint64_t moved,
                                  uint64_t total);

/* Remove the device at path (the seed's swap_off): stop new pages
 * going there, move every page it holds to the other devices by
 * priority while client I/O goes on, then close it and give its drum
 * range back.  path may be any spelling of the device.
 * => returns 0, or -1 after reporting "off: PATH: reason" with errno:
 *    ENOENT not in the pool; EBUSY being added; ENOSPC the rest of the
 *    pool cannot hold its pages (checked first, and again while pages
 *    move); EIO the other devices failed the writes.  On failure the
 *    device is enabled again and every page stays readable, where it
 *    was or where it moved.
 */
extern int pool_swapoff (struct pool *pool, const char *path,
                         pool_progress_fn progress, void *opaque)
  SD_NONNULL (1, 2);

/* Change the priority of the device at path (the seed's SWAP_CTL):
 * it joins the tail of its new priority's ring; no data moves.
 * => returns 0, or -1 after reporting "ctl: PATH: reason" with errno
 *    ENOENT, EBUSY or EINVAL (priority out of range).
 */
extern int pool_ctl (struct pool *pool, const char *path, int priority)
  SD_NONNULL (1, 2);

/* The NBD export description that names this pool ("swapdrum pool"
 * and its random id): the plugin gives it to clients, and adding a
 * remote device that answers with it (this server's own export) is
 * refused.
 */
extern const char *pool_description (struct pool *pool)
  SD_NONNULL (1);

/* Data pages of all devices in the pool (in use or not). */
extern uint64_t pool_npages (struct pool *pool)
  SD_NONNULL (1);

/* Number of devices in the pool (the seed's SWAP_NSWAP). */
extern size_t pool_ndevices (struct pool *pool)
  SD_NONNULL (1);

/* Snapshot every device in priority order (preferred first).
 * => returns the count and sets *stats to a malloc'd array (free it
 *    with pool_stats_free), or returns -1 after reporting.
 */
extern ssize_t pool_stats (struct pool *pool, struct pool_devstat **stats)
  SD_NONNULL (1, 2);
extern void pool_stats_free (struct pool_devstat *stats, size_t n);

/* Flush every device written since the last flush.
 * => returns 0, or -1 with errno set after reporting.
 */
extern int pool_flush (struct pool *pool)
  SD_NONNULL (1);

#endif /* SWAPDRUM_POOL_H */
