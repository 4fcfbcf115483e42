/* swapdrum: an export's insides, for the engine's own modules
 * (export.c, the data path; export-unmap.c, trim, zero and extents;
 * export-migrate.c, what the pool asks of an export: swap-off and lost
 * pages).
 */

#ifndef SWAPDRUM_EXPORT_INT_H
#define SWAPDRUM_EXPORT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/map.h"
#include "storage/page.h"
#include "storage/stripes.h"
#include "devices/swapdev.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"
#include "swapdrum/nonnull.h"

#define PAGE_MASK (SD_PAGE_SIZE - 1)

/* How many fresh slots a page may try after write errors. */
#define MAX_RELOCATIONS 16

struct export {
  char *name;
  struct pool *pool;
  _Atomic uint64_t size;        /* bytes, a multiple of 4096; changed
                                   only by export_resize */
  struct map *map;              /* atomic entries; see map.h */
  struct stripes stripes;       /* see stripes.h */
  /* How the pool reaches our pages; also our limits (quota, reserve,
   * tiers) and `used`, the pages we hold (map entries that are slots)
   * plus those being written for the first time, charged when their
   * slot is taken (pool_alloc_for), given back with export_uncharge.
   */
  struct pool_tenant tenant;
  bool registered;              /* tenant is in the pool's list */
};

/* export-limits.c: the limits spec declares, as struct pool_limits
 * (tiers not set: every priority).
 */
extern void export_spec_limits (const struct exportspec *spec,
                                struct pool_limits *lim)
  SD_NONNULL (1, 2);

/* A reserve beyond the export's size could never be used, only kept
 * from the others.  size 0: not known yet (the table's), not checked.
 * => returns 0, or -1 after reporting "export: NAME: reserve (R bytes)
 *    is more than its size (S bytes)" (EINVAL).
 */
extern int export_check_reserve_size (const char *name, uint64_t reserve,
                                      uint64_t size)
  SD_NONNULL (1);

/* An export opened undeclared takes the pool table's limits, checked
 * when they were set; but the pool may have shrunk since, or declared
 * exports taken the room first.  If its reserve cannot be promised
 * now, it runs without one (lim->reserve = 0), with a notice; the
 * table keeps the reserve for a later start.  Takes the pool lock.
 */
extern void export_keep_reserve (struct pool *pool, const char *name,
                                 struct pool_limits *lim)
  SD_NONNULL (1, 2, 3);

/* Give the tenant its ops, id, name and limits, before it is
 * registered (pool_add_tenant).
 */
extern void export_tenant_init (struct export *exp, uint16_t id,
                                const struct pool_limits *lim)
  SD_NONNULL (1, 3);

/* Where new slots for page should go (struct pool_hint): next to the
 * slot of the first mapped page of its region, if it has one.  Reads
 * the map lock-free: an answer made stale by other writers is only a
 * worse hint.
 */
extern void export_hint (struct export *exp, export_page_t page,
                         struct pool_hint *hint)
  SD_NONNULL (1, 3);

/* Take up to want slots for pages from page on (what: "write" or
 * "off", for the message) with the export's limits (pool_alloc_for),
 * placed by region (export_hint); charge: the pages are new to the
 * export and are charged to its quota.
 * => returns n >= 1 with *slot set, or 0 with errno ENOSPC (EIO: only
 *    FAILED devices have room) after reporting "WHAT: export NAME page
 *    PAGE: reason" (its quota is used, the pool is full, no device in
 *    its tiers has room, the rest is other exports' reserves).
 */
extern uint64_t export_alloc (struct export *exp, const char *what,
                              export_page_t page, uint64_t want,
                              bool charge, drum_slot_t *slot)
  SD_NONNULL (1, 2, 6);

/* Give back n pages: charged and not mapped, or unmapped (trim, zero,
 * lost).  Call before their slots go back to the pool, so that the
 * pool never counts a free slot as meeting a reserve.
 */
extern void export_uncharge (struct export *exp, uint64_t n)
  SD_NONNULL (1);

/* Take one fresh slot from the pool and write a whole page there,
 * marking slots that fail bad and trying others (at most
 * MAX_RELOCATIONS).  The page is not mapped: the caller installs it.
 * charge: the page is new to the export: charged with its first slot,
 * and given back if this fails.
 * => returns 0 with *slotp set, or -1 with errno ENOSPC (pool full,
 *    quota, tiers, reserves), or EIO (every slot tried failed), after
 *    reporting.
 */
extern int export_new_slot (struct export *exp, export_page_t page,
                            const void *data, bool fua, bool charge,
                            drum_slot_t *slotp)
  SD_NONNULL (1, 3, 6);

/* A write to slot on dev failed: mark the slot bad (the seed's
 * uvm_swap_markbad), unless dev is offline: then the slot is not bad,
 * just unreachable, and goes back for when the device returns.
 */
extern void export_drop_slot (struct export *exp, struct swapdev *dev,
                              drum_slot_t slot)
  SD_NONNULL (1, 2);

/* A slot whose record was written lost its page (relocated after a
 * write error): clear the record, then drop the slot as
 * export_drop_slot does.
 */
extern void export_drop_recorded (struct export *exp, struct swapdev *dev,
                                  drum_slot_t slot)
  SD_NONNULL (1, 2);

/* Put n whole pages of data on the fresh slots [slot, slot + n) of dev
 * (one run), then their records (export page page + i on slot + i): the
 * order a write to a new slot needs before it may be acknowledged.
 * => returns 0, or -1 with errno set (not reported).
 */
extern int export_store (struct export *exp, struct swapdev *dev,
                         drum_slot_t slot, export_page_t page, uint64_t n,
                         const void *data, bool fua)
  SD_NONNULL (1, 2, 6);

/* Write count bytes at offset through the map: overwrites go to the
 * slots pages have, new pages take slots by priority, write errors
 * relocate pages.  Recursive: a page another writer mapped or changed
 * first is written again through here (see install in export.c).
 * => caller holds the stripes of the range shared.
 * => returns 0, or -1 with errno set after reporting.
 */
extern int export_write_range (struct export *exp, const char *buf,
                               uint64_t count, uint64_t offset, bool fua)
  SD_NONNULL (1, 2);

/* Refuse a request beyond the end of the export (nbdkit never sends
 * one): returns 0, or -1 with errno EINVAL after reporting
 * "what: NAME: OFFSET+COUNT is beyond the end (SIZE)".
 */
extern int export_check_bounds (const struct export *exp, const char *what,
                                uint64_t count, uint64_t offset)
  SD_NONNULL (1, 2);

/* How the pool reaches an export's pages (pool-int.h's tenant
 * interface), in export-migrate.c: migrate moves every page of the
 * export that lives on a device to other devices (swap-off), one stripe
 * at a time, copying without holding the stripe and switching the map
 * holding it exclusive if no write overlapped the copy; mark_lost marks
 * every page on a device that came back empty MAP_LOST.  Each first
 * waits for the export's requests in flight (stripes_barrier).
 */
extern const struct pool_tenant_ops export_tenant_ops;

/* True if the export's unwritten pages read EIO: a host crash lost
 * writes (pool_tenant.suspect, docs/design.md "Host crashes").
 */
static inline bool
export_suspect (struct export *exp)
{
  return atomic_load_explicit (&exp->tenant.suspect, memory_order_relaxed);
}

/* The export that embeds tenant t. */
static inline struct export *
export_of_tenant (struct pool_tenant *t)
{
  return (struct export *) ((char *) t - offsetof (struct export, tenant));
}

#endif /* SWAPDRUM_EXPORT_INT_H */
