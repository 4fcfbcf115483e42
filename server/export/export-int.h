/* swapdrum: an export's insides, for the engine's own modules
 * (export.c, the data path; migrate.c, swap-off).
 */

#ifndef SWAPDRUM_EXPORT_INT_H
#define SWAPDRUM_EXPORT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/map.h"
#include "storage/page.h"
#include "storage/stripes.h"
#include "devices/swapdev.h"
#include "swapdrum/export.h"

#define PAGE_MASK (SD_PAGE_SIZE - 1)

/* How many fresh slots a page may try after write errors. */
#define MAX_RELOCATIONS 16

struct export {
  char *name;
  struct pool *pool;
  uint64_t size;                /* bytes, a multiple of 4096 */
  struct map *map;              /* atomic entries; see map.h */
  struct stripes stripes;       /* see stripes.h */
  bool registered;              /* in pool->exports */
};

/* Take one fresh slot from the pool and write a whole page there,
 * marking slots that fail bad and trying others (at most
 * MAX_RELOCATIONS).  The page is not mapped: the caller installs it.
 * => returns 0 with *slotp set, or -1 with errno ENOSPC (pool full),
 *    or EIO (every slot tried failed), after reporting.
 */
extern int export_new_slot (struct export *exp, export_page_t page,
                            const void *data, bool fua,
                            drum_slot_t *slotp);

/* A write to slot on dev failed: mark the slot bad (the seed's
 * uvm_swap_markbad), unless dev is offline: then the slot is not bad,
 * just unreachable, and goes back for when the device returns.
 */
extern void export_drop_slot (struct export *exp, struct swapdev *dev,
                              drum_slot_t slot);

/* Write count bytes at offset through the map: overwrites go to the
 * slots pages have, new pages take slots by priority, write errors
 * relocate pages.
 * => caller holds the stripes of the range shared.
 * => returns 0, or -1 with errno set after reporting.
 */
extern int export_write_range (struct export *exp, const char *buf,
                               uint64_t count, uint64_t offset, bool fua);

/* Refuse a request beyond the end of the export (nbdkit never sends
 * one): returns 0, or -1 with errno EINVAL after reporting
 * "what: NAME: OFFSET+COUNT is beyond the end (SIZE)".
 */
extern int export_check_bounds (const struct export *exp, const char *what,
                                uint64_t count, uint64_t offset);

/* Move every page of exp that lives on dev to other devices (swap-off),
 * one stripe at a time: copy the stripe's pages on dev without holding
 * it, then switch the map holding it exclusive if its write generation
 * shows no write overlapped the copy; else move them again holding it
 * exclusive, so a write to a moving page either finishes before the
 * copy reads it or waits and reaches the new slot (see migrate.c).
 * dev must no longer be ENABLE (so no new page goes there) and
 * stripes_barrier must have run since.  A page that cannot be read from
 * dev is marked MAP_LOST (it answers EIO until rewritten) and its slot
 * marked bad.  *moved counts the pages moved; progress, if not NULL, is
 * called after each stripe.
 * => returns 0, or -1 with errno ENOSPC/EIO when no other device could
 *    take a page (after reporting); pages moved so far stay moved.
 */
extern int export_migrate (struct export *exp, struct swapdev *dev,
                           uint64_t *moved, uint64_t total,
                           void (*progress) (void *opaque, uint64_t moved,
                                             uint64_t total),
                           void *opaque);

/* The device came back without the pages it held (its stamp is gone or
 * different): mark every page of exp that lived on dev MAP_LOST (it
 * answers EIO until rewritten whole, never zeros or stale data), one
 * stripe at a time, holding it exclusive.  The slots are not freed:
 * the caller resets the device's allocator afterwards.  dev must take
 * no allocations (FAILED) and stripes_barrier must have run since.
 * => returns the number of pages marked.
 */
extern uint64_t export_mark_lost (struct export *exp, struct swapdev *dev);

#endif /* SWAPDRUM_EXPORT_INT_H */
