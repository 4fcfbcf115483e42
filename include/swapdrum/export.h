/* swapdrum: an export, the virtual disk a client sees (public engine
 * API).
 *
 * An export has a fixed size and is thin: its pages take drum slots
 * from its pool when first written, and give them back when trimmed
 * or zeroed.  Unwritten pages read as zeros.  Requests need not be
 * aligned to 4096 bytes: partial pages are read-modify-written inside
 * the engine.
 *
 * Every function is thread-safe; requests from any number of
 * connections may run at once.  Concurrent writes to the same bytes
 * land in some order (NBD promises no more); writes to different
 * bytes of one page never disturb each other.
 *
 * Data-path functions return 0, or -1 with errno set to what the NBD
 * client should see (EIO, ENOSPC, ENOMEM), after reporting once.
 */

#ifndef SWAPDRUM_EXPORT_H
#define SWAPDRUM_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swapdrum/exportspec.h"
#include "swapdrum/pool.h"
#include "swapdrum/nonnull.h"

struct export;

/* Create an export of `size` bytes (rounded down to 4096; 0: what the
 * pool table says, or the sum of the devices) over pool, with the
 * limits (quota, reserve, tiers) the pool table keeps for it (none for
 * a new one), unchecked: the pool accepted them once.
 * => returns NULL after reporting "export: NAME: reason".
 */
extern struct export *export_create (struct pool *pool, const char *name,
                                     uint64_t size)
  SD_NONNULL (1, 2);

/* Create the export spec declares (name, size, quota, reserve,
 * tiers; size 0: what the pool table says, or the sum of the devices),
 * as export_create does.  The limits are the declaration's (quota and
 * reserve 0: none; tiers not set: every priority), also when the pool
 * table kept others: the table then records the new ones, with a
 * notice.  Refused first, with nothing changed: a reserve above the
 * export's size, tiers in which no device of the pool lies, a reserve
 * the pool cannot promise beside the exports created before
 * (pool_check_limits).  spec's shared is
 * not used here.
 * => returns NULL after reporting "export: NAME: reason".
 */
extern struct export *export_create_spec (struct pool *pool,
                                          const struct exportspec *spec)
  SD_NONNULL (1, 2);

/* Give every slot back to the pool and free the export.  Accepts
 * NULL.  No request may be running.
 */
extern void export_destroy (struct export *exp);

extern uint64_t export_size (const struct export *exp)
  SD_NONNULL (1);
extern const char *export_name (const struct export *exp)
  SD_NONNULL (1);

/* The quota in bytes (0: none), and the bytes of pages the export
 * holds or is writing for the first time.
 */
extern uint64_t export_quota (const struct export *exp)
  SD_NONNULL (1);
extern uint64_t export_used (const struct export *exp)
  SD_NONNULL (1);

/* The reserve in bytes (0: none): room the pool keeps free for the
 * export's pages while it holds less than that, whatever other exports
 * write.
 */
extern uint64_t export_reserve (const struct export *exp)
  SD_NONNULL (1);

/* The priorities the export's pages may use, [*lo, *hi]
 * (SD_PRIORITY_MIN, SD_PRIORITY_MAX: every device).
 */
extern void export_tiers (const struct export *exp, int *lo, int *hi)
  SD_NONNULL (1, 2, 3);

/* Change the export's limits live (for the admin socket): quota and
 * reserve in bytes, multiples of 4096 (0: none); tiers [tier_lo,
 * tier_hi] (SD_PRIORITY_MIN, SD_PRIORITY_MAX: every device).  The pool
 * table keeps them (written to every device).  Refused with nothing
 * changed, after reporting one line "export: NAME: reason":
 *   EINVAL: a quota below what the export holds ("quota 100 MiB is
 *           below the 140 MiB it holds"), a reserve above the quota
 *           or the export's size, tiers out of range or empty, tiers
 *           in which no device lies;
 *   ENOSPC: a reserve the pool cannot promise ("reserve 600 MiB: the
 *           pool has 1020 MiB, 500 MiB already reserved by a: 80 MiB
 *           short");
 *   EBUSY:  tiers that would leave pages of the export on a device
 *           outside them (no page is moved: swap that device off and
 *           on again, or widen the tiers).
 * Requests may run meanwhile.  => returns 0, or -1 with errno set.
 */
extern int export_set_limits (struct export *exp, uint64_t quota,
                              uint64_t reserve, int tier_lo, int tier_hi)
  SD_NONNULL (1);

/* Change the export's size (bytes, rounded down to 4096; 4096 bytes
 * to 4 PiB) and record it in the pool table.  Shrinking first frees
 * every page past the new end (their records cleared), then records
 * the size; growing covers the new pages, which read as zeros.  No
 * client may be attached (a client's device keeps the size it was
 * given; exportset_set enforces that): requests past the new end
 * would fail.  Refused with nothing changed, after reporting one line
 * "export: NAME: reason": EINVAL for a size out of range or below the
 * export's reserve.  A failure to free pages or write the table (EIO)
 * leaves the old size, with some pages past the new end maybe freed.
 * => returns 0, or -1 with errno set.
 */
extern int export_resize (struct export *exp, uint64_t size)
  SD_NONNULL (1);

extern int export_pread (struct export *exp, void *buf, uint64_t count,
                         uint64_t offset)
  SD_NONNULL (1, 2);

/* Write; fua: on stable storage before returning.  ENOSPC when no
 * device in the export's tiers can take a page (or only by taking room
 * other exports' reserves need), or when a page not yet written would
 * take the export past its quota; pages written before that keep
 * their new data.
 */
extern int export_pwrite (struct export *exp, const void *buf,
                          uint64_t count, uint64_t offset, bool fua)
  SD_NONNULL (1, 2);

/* Make the range read as zeros: whole pages are unmapped (fast, no
 * I/O) and their slots freed; partial pages that hold data get zeros
 * written.  In a suspect export (after a host crash lost writes,
 * docs/design.md "Host crashes") an unmapped page reads EIO, so whole
 * pages get zeros written too.
 */
extern int export_zero (struct export *exp, uint64_t count,
                        uint64_t offset, bool fua)
  SD_NONNULL (1);

/* True if export_zero of whole pages is fast (unmaps, no I/O): false
 * while the export is suspect.
 */
extern bool export_zero_is_fast (struct export *exp)
  SD_NONNULL (1);

/* Discard: whole pages are unmapped and their slots freed; partial
 * pages are left alone (trim is advisory).
 */
extern int export_trim (struct export *exp, uint64_t count,
                        uint64_t offset)
  SD_NONNULL (1);

/* Flush every device of the pool written since the last flush. */
extern int export_flush (struct export *exp)
  SD_NONNULL (1);

/* Describe [offset, offset + count) as extents, in order: add is
 * called with hole = true for unmapped pages (they read as zeros) and
 * false for pages holding data.  The first extent starts at offset.
 * => returns 0, or the first non-zero value add returned.
 */
extern int export_extents (struct export *exp, uint64_t count,
                           uint64_t offset,
                           int (*add) (void *opaque, uint64_t offset,
                                       uint64_t length, bool hole),
                           void *opaque)
  SD_NONNULL (1, 4);

/* Bytes held by the export's page map (for tests and stats). */
extern size_t export_map_bytes (const struct export *exp)
  SD_NONNULL (1);

#endif /* SWAPDRUM_EXPORT_H */
