/* swapdrum: the pool's slot interface, for the rest of the engine.
 *
 * Locking: the pool lock (the seed's uvm_swap_data_lock) protects the
 * priority list, the drum table and every swap device's "pool" fields.
 * It is held briefly, never across I/O.  Lock order: see struct pool.
 * The functions below take the pool lock themselves; callers must not
 * hold it.
 */

#ifndef SWAPDRUM_POOL_INT_H
#define SWAPDRUM_POOL_INT_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "pool/drum.h"
#include "pool/pooltable.h"
#include "storage/blist.h"
#include "storage/page.h"
#include "pool/prio.h"
#include "devices/swapdev.h"
#include "swapdrum/pool.h"
#include "swapdrum/nonnull.h"

/* A tenant of the pool: something that maps its pages to drum slots
 * (an export).  The pool never looks inside a tenant: when the pages on
 * a device must move (swap-off) or are gone (a remote device came back
 * empty), it asks every tenant through these operations.  A tenant
 * embeds struct pool_tenant and finds itself from it (container_of).
 * Both operations are called under admin_lock, with dev taking no new
 * allocations (DRAIN or FAILED); each waits for its own requests that
 * may still map pages on dev before it walks its map.
 */
struct blist;
struct pool_tenant;
struct pool_tenant_ops {
  /* Move every page on dev to other devices, adding to *moved (out of
   * total, for progress, which may be NULL).
   * => returns 0, or -1 after reporting (ENOSPC/EIO: no other device
   *    could take a page); pages moved so far stay moved.
   */
  int (*migrate) (struct pool_tenant *t, struct swapdev *dev,
                  uint64_t *moved, uint64_t total,
                  pool_progress_fn progress, void *opaque);
  /* Mark every page on dev lost (EIO until rewritten); the slots stay
   * allocated, the caller resets dev's allocator afterwards.
   * => returns the number of pages marked.
   */
  uint64_t (*mark_lost) (struct pool_tenant *t, struct swapdev *dev);
  /* Recovery (pool_recover, before any request): make page point at
   * slot if it now points at `expect` (DRUM_NO_SLOT: at nothing).
   * => returns 0 if it does now; 1 with *cur set to the slot it points
   *    at instead; -1 after reporting if page is beyond the tenant's
   *    end or the map has no memory.
   */
  int (*claim) (struct pool_tenant *t, export_page_t page, drum_slot_t slot,
                drum_slot_t expect, drum_slot_t *cur);
  /* How many of the tenant's pages live on dev, after its requests
   * that may still map pages there have finished (pool_ctl and
   * pool_set_limits ask before they leave pages outside the tenant's
   * tiers).  Called under admin_lock.
   */
  uint64_t (*count_on) (struct pool_tenant *t, struct swapdev *dev);
};
struct pool_tenant {
  const struct pool_tenant_ops *ops;
  uint16_t id;                  /* the export id in page records */
  const char *name;             /* the export's, for messages: constant */
  /* The tenant's limits, in pages, which pool_alloc_for enforces: set
   * before pool_add_tenant, then changed only by pool_set_limits, all
   * under the pool lock (docs/design.md, "Exports").
   */
  uint64_t quota;               /* most pages it may hold; UINT64_MAX:
                                   no quota */
  uint64_t reserve;             /* pages kept free for it; 0: none */
  int tier_lo, tier_hi;         /* priorities its pages may use */
  /* Pages the tenant holds plus those being written for the first
   * time: what the quota counts, and what its reserve has met.  Raised
   * only under the pool lock (pool_alloc_for charging new pages, so
   * the quota holds exactly) or before any request (recovery); lowered
   * lock-free (export_uncharge), before the slot is given back, so that
   * under the pool lock it never counts a page whose slot is free.
   */
  _Atomic uint64_t used;
  /* After a host crash lost writes (docs/design.md, "Host crashes"):
   * pages the map does not have read EIO, not zeros.  Set by
   * pool_add_tenant from the table and by pool_recover; cleared by
   * pool_trust_export.  Read without locks by the data path.
   */
  _Atomic bool suspect;
};

/* How pool_swapon turns a spec into a device (not yet in a pool):
 * by default swapdev_open_nbd for a URI (own is the pool's
 * description), else swapdev_open_local.
 * => returns the device, or NULL after reporting "swap: PATH: reason".
 */
typedef struct swapdev *(*pool_open_fn) (const struct devspec *spec,
                                         const char *own);

/* The pool.  Lock order: admin_lock -> table_lock -> devlife -> stripe
 * locks (see stripes.h) -> lock.  A device's gate lock (gate.h) is a
 * leaf, never taken with `lock` held.
 */
struct pool {
  /* admin_lock serializes the changes of the device set (swap-on,
   * swap-off, ctl) from start to end, I/O included.  It is never taken
   * on the data path.
   */
  pthread_mutex_t admin_lock;
  /* The pool lock (the seed's uvm_swap_data_lock) protects prio, the
   * drum's writers, tenants (and each tenant's limits, and the rises
   * of its used), next_device_id and every device's "pool" fields.  Held briefly, never across I/O.
   */
  pthread_mutex_t lock;
  /* devlife: held shared by code that uses a device pointer it did not
   * get from a map entry under a stripe lock (flush); swap-off holds it
   * exclusive to free a device.
   */
  pthread_rwlock_t devlife;
  struct prio_list prio;        /* every device, FAKE ones included */
  struct drum *drum;
  struct pool_tenant **tenants; /* the exports taking pages from us */
  size_t ntenants;
  uint8_t pool_id[16];
  char description[64];         /* "swapdrum pool ID": constant */
  pool_open_fn open;            /* set before any swap-on, then constant */

  /* table_lock serializes the writes of the pool table to the devices
   * (table_gen and the order of the writes); the in-memory `table` is
   * changed and encoded under `lock`.
   */
  pthread_mutex_t table_lock;
  struct pool_table table;      /* members and exports, as last written */
  uint64_t table_gen;           /* its generation: table_lock */
  uint8_t boot_id[16];          /* this host's, for the stamps */
  bool started;                 /* stamps say ACTIVE: close them CLEAN */
  const char *recovery;         /* how the pool came up (static string) */
  uint64_t lost_at_start;       /* pages dropped by pool_recover: their
                                   device lost writes in a host crash */
  _Atomic uint64_t seq;         /* the next page record's sequence */
};

/* Free pages of dev (neither handed out nor bad).
 * => caller holds the pool lock.
 */
static inline uint64_t
pool_dev_room (const struct swapdev *dev)
{
  return dev->npages - dev->npginuse - dev->npgbad;
}

/* True if dev takes new allocations: enabled, not failed, not being
 * set up, not held by a ctl.  => caller holds the pool lock.
 */
static inline bool
pool_dev_takes_pages (const struct swapdev *dev)
{
  return (dev->flags & (SWF_ENABLE | SWF_FAILED | SWF_FAKE)) == SWF_ENABLE &&
    !dev->hold;
}

/* Why pool_alloc_for gave no slot. */
enum pool_short {
  POOL_SHORT_FULL,              /* no device taking pages has room
                                   (ENOSPC) */
  POOL_SHORT_FAILED,            /* the only room is on FAILED devices
                                   (EIO) */
  POOL_SHORT_QUOTA,             /* the tenant's quota is used (ENOSPC) */
  POOL_SHORT_TIERS,             /* room only outside the tenant's tiers
                                   (ENOSPC) */
  POOL_SHORT_RESERVED,          /* the room left is other tenants'
                                   reserves (ENOSPC) */
};

/* Export pages per placement region: 256, 1 MiB of 4 KiB pages (the
 * Linux kernel's swap cluster without THP swap, half of it with).
 */
#define POOL_REGION_PAGES ((uint64_t) BLIST_BLOCK_PAGES)

/* Where a tenant would like new slots (pool_alloc_for): pages that are
 * neighbours in the tenant are neighbours in the pool, so that a later
 * request over many of them is one device I/O, whatever order they
 * were first written in.
 *   offset  the first wanted page's offset in its region (an aligned
 *           run of POOL_REGION_PAGES tenant pages);
 *   near    the slot of another page of that region, or DRUM_NO_SLOT;
 *   delta   the wanted page minus that page.
 * A region's first page takes a wholly free aligned block of a device
 * (blist_alloc_block) and keeps its own place in it; the rest of the
 * block is given back to the free pool, but as long as the pool has
 * other free blocks, it is there when the region's next page comes
 * (goal near + delta).  A hint is never a promise: the block's pages
 * go to whoever needs them once no free block is left.
 */
struct pool_hint {
  uint64_t offset;
  drum_slot_t near;
  int64_t delta;
};

/* pool_alloc for tenant t (NULL: no tenant, no limits of its own):
 * only devices whose priority is in t's tiers, and never the room
 * other tenants' unmet reserves need (pool-reserve.c).  charge: the
 * slots are for pages t does not hold yet: at most its quota's room
 * is given, and t->used is raised by what is given, under the pool
 * lock, so the quota holds exactly; else (a page t holds moves: a
 * relocation, swap-off) t->used is left alone.  hint (may be NULL)
 * places the slots by region (struct pool_hint) within the first
 * priority that can give them; priorities, tiers, reserves and quota
 * are the same with or without it.
 * => returns n in [1, want] with *slot set, or 0 with *why set and
 *    errno ENOSPC (EIO for POOL_SHORT_FAILED); not reported.
 */
extern uint64_t pool_alloc_for (struct pool *pool, struct pool_tenant *t,
                                uint64_t want, bool charge,
                                const struct pool_hint *hint,
                                drum_slot_t *slot, enum pool_short *why)
  SD_NONNULL (1, 6, 7);

/* Check an export's declared limits before it is created: its tiers
 * hold a device of the pool, and the pool can promise its reserve
 * (pool-reserve.h) beside the reserves of the tenants it has.
 * => returns 0, or -1 after reporting "export: NAME: tiers LO-HI: no
 *    device of the pool has a priority in that range" (EINVAL) or
 *    "export: NAME: reserve R: the pool has C, O already reserved by
 *    A, B: S short" (ENOSPC).  Takes the pool lock.
 */
extern int pool_check_limits (struct pool *pool, const char *name,
                              const struct pool_limits *lim)
  SD_NONNULL (1, 2, 3);

/* The same, quietly: true if pool_check_limits would accept lim. */
extern bool pool_limits_fit (struct pool *pool, const char *name,
                             const struct pool_limits *lim)
  SD_NONNULL (1, 2, 3);

/* Change registered tenant t's limits live (pool-limits.c): refused,
 * with nothing changed, for a quota below what t holds, a reserve
 * above the quota, tiers with no device or leaving pages of t on a
 * device outside them (asked with count_on), a reserve the pool
 * cannot promise (pool_check_limits's messages).  The pool table
 * keeps the new limits (written to every device).
 * => returns 0, or -1 after reporting "export: NAME: reason" (EINVAL,
 *    ENOSPC, EBUSY for pages outside the tiers, ENOMEM).  Takes
 *    admin_lock.
 */
extern int pool_set_limits (struct pool *pool, struct pool_tenant *t,
                            const struct pool_limits *lim)
  SD_NONNULL (1, 2, 3);

/* Tenant t's limits now, as bytes (struct pool_limits).  Takes the
 * pool lock.
 */
extern void pool_tenant_limits (struct pool *pool,
                                const struct pool_tenant *t,
                                struct pool_limits *lim)
  SD_NONNULL (1, 2, 3);

/* Allocate up to `want` contiguous drum slots (the seed's
 * uvm_swap_alloc): walk priorities from the preferred end; inside a
 * priority try every enabled, non-failed device for a whole run, then
 * for a shorter one ("lessok"); rotate the device that gave it to the
 * tail of its priority (round robin).  A priority with any free page
 * is used before a less preferred one, even if it can only give a
 * shorter run.
 * => returns n in [1, want] with *slot set, or 0 with errno ENOSPC
 *    when no enabled device has a free page (EIO if the only free
 *    pages are on FAILED devices).  want must be >= 1.
 */
extern uint64_t pool_alloc (struct pool *pool, uint64_t want,
                            drum_slot_t *slot)
  SD_NONNULL (1, 3);

/* The device that owns slot, and in *k how many slots of
 * [slot, slot + n) it owns (a run may span devices whose ranges are
 * adjacent).  => returns it, or NULL after reporting
 * "what: slot SLOT: no device owns it (bug)".  Takes no lock.
 */
extern struct swapdev *pool_span (struct pool *pool, const char *what,
                                  drum_slot_t slot, uint64_t n,
                                  uint64_t *k)
  SD_NONNULL (1, 2, 5);

/* Free drum slots [slot, slot + n) (the seed's uvm_swap_free).  The
 * run may span devices whose ranges are adjacent.
 * => a slot that is not allocated is reported as a bug and skipped.
 */
extern void pool_free (struct pool *pool, drum_slot_t slot, uint64_t n)
  SD_NONNULL (1);

/* Mark an allocated slot bad (the seed's uvm_swap_markbad): it stays
 * allocated forever and is counted in npgbad, not npginuse.
 */
extern void pool_markbad (struct pool *pool, drum_slot_t slot)
  SD_NONNULL (1);

/* The device owning slot (the seed's swapdrum_getsdp), by binary
 * search of the drum table; NULL if no device owns it.  Takes no lock.
 */
extern struct swapdev *pool_getsdp (struct pool *pool, drum_slot_t slot)
  SD_NONNULL (1);

/* Call after an I/O error on dev: if the device keeps failing, mark it
 * FAILED (no new allocations) and report that once.
 */
extern void pool_note_error (struct pool *pool, struct swapdev *dev)
  SD_NONNULL (1, 2);

/* Register / unregister a tenant, so that swap-off and the monitor can
 * reach the pages on a device.  pool_add_tenant returns -1 with errno
 * ENOMEM (not reported: the caller reports).
 */
extern int pool_add_tenant (struct pool *pool, struct pool_tenant *t)
  SD_NONNULL (1, 2);
extern void pool_remove_tenant (struct pool *pool, struct pool_tenant *t)
  SD_NONNULL (1, 2);

/* The tenants now, copied into a new array (*n of them), or NULL after
 * reporting "what: ENOMEM".  Tenants live as long as the pool's users
 * keep them registered; the caller frees the array.
 */
extern struct pool_tenant **pool_tenants (struct pool *pool,
                                          const char *what, size_t *n)
  SD_NONNULL (1, 2, 3);
/* The same, => caller holds the pool lock. */
extern struct pool_tenant **pool_tenants_locked (struct pool *pool,
                                                 const char *what,
                                                 size_t *n)
  SD_NONNULL (1, 2, 3);

/* True if dev, whose stamp as found at start is st, may have lost
 * writes in a host crash: its data lives in this host's page cache
 * (intent), another boot left it ACTIVE, and no flush said it clean
 * after its last write (docs/design.md, "Host crashes").  Shared by
 * pool_assemble's verdict and pool_recover's drop.
 */
static inline bool
pool_lost_writes (const struct pool *pool, const struct swapdev *dev,
                  const struct sd_stamp *st)
{
  return dev->intent && st->state == SD_STATE_ACTIVE && st->dirty &&
    memcmp (st->boot_id, pool->boot_id, 16) != 0;
}

/* Mark tenant t suspect in the in-memory table (the caller writes it),
 * and, if now, in the tenant too (pool_tenant.suspect).  While the
 * server runs, a device's lost pages are MAP_LOST in the map, which
 * is exact: pool_mark_lost leaves `now` false, and the table makes
 * the export suspect from the next start on.
 * => caller holds admin_lock.
 */
extern void pool_mark_suspect (struct pool *pool, struct pool_tenant *t,
                               bool now)
  SD_NONNULL (1, 2);

/* Tell every tenant that dev came back without its pages: they mark
 * them lost, and *lost counts the pages marked in all tenants; the
 * table on every device then says the tenants that lost pages are
 * suspect, so that after a restart (when the map no longer has
 * MAP_LOST) their unwritten pages read EIO.
 * => caller holds admin_lock; dev is FAILED.
 * => returns 0, or -1 after reporting (ENOMEM) with nothing marked:
 *    the caller must then keep dev's allocator as it is.
 */
extern int pool_mark_lost (struct pool *pool, struct swapdev *dev,
                           uint64_t *lost)
  SD_NONNULL (1, 2, 3);

/* Add a device built by the caller (unit tests): as pool_swapon after
 * the open.  Takes ownership of dev, even on failure.
 */
extern int pool_swapon_dev (struct pool *pool, struct swapdev *dev,
                            int priority)
  SD_NONNULL (1);

/* The sequence for the next page records (one per run of records;
 * swapdev_put_records).  Lock-free.
 */
extern uint64_t pool_next_seq (struct pool *pool)
  SD_NONNULL (1);

/* Give back slots whose records were written (pages trimmed, moved,
 * replaced): clear their records, then free them.  A record that
 * cannot be cleared is reported; the slot is then marked bad instead
 * of freed, so no later page reuses it while its stale record claims
 * a page (at recovery a newer record of that page wins over it) --
 * unless the device is offline: then the slot is freed, as
 * export_drop_slot frees it.
 */
extern void pool_release (struct pool *pool, drum_slot_t slot, uint64_t n)
  SD_NONNULL (1);

/* Make the pool table's current state known to dev (a device that came
 * back empty): clear its records, write the table and the stamp.
 * => returns 0, or -1 after reporting.
 */
extern int pool_restamp (struct pool *pool, struct swapdev *dev)
  SD_NONNULL (1, 2);

/* Add dev (already in prio and the drum) to the pool table and write
 * the table to every device and to dev (while FAKE).
 * => returns 0, or -1 after reporting (the table is then unchanged).
 */
extern int pool_table_add (struct pool *pool, struct swapdev *dev,
                           const struct devspec *spec)
  SD_NONNULL (1, 2);

/* Remove dev (out of prio already) from the pool table and write it
 * to every device.  => returns 0, or -1 after reporting.
 */
extern int pool_table_remove (struct pool *pool, struct swapdev *dev)
  SD_NONNULL (1, 2);

/* Write the pool table to every device in the pool (not FAKE ones
 * unless include is that device), as the next generation.  Takes
 * table_lock; the caller must not hold devlife or lock.
 * => returns 0, or -1 after reporting.
 */
extern int pool_table_write (struct pool *pool, struct swapdev *include)
  SD_NONNULL (1);

/* Steps of swap-on (pool.c), shared with pool_assemble: enter dev as
 * a FAKE placeholder holding its drum range (EBUSY if the device is in
 * the pool under another name; reported); undo that; give it its
 * allocator and let it take pages.
 */
extern int pool_dev_reserve (struct pool *pool, struct swapdev *dev,
                             int priority)
  SD_NONNULL (1, 2);
extern void pool_dev_unreserve (struct pool *pool, struct swapdev *dev)
  SD_NONNULL (1, 2);
extern void pool_dev_go_live (struct pool *pool, struct swapdev *dev,
                              struct blist *bl)
  SD_NONNULL (1, 2, 3);

/* Set pool->description from pool->pool_id. */
extern void pool_describe (struct pool *pool)
  SD_NONNULL (1);

/* pool-persist.c's part of pool_create: the boot id, the sequence. */
extern void pool_persist_init (struct pool *pool)
  SD_NONNULL (1);

/* Append dev (its stamp filled in) to the in-memory pool table as a
 * member opened as spec says (NULL: the defaults).
 * => caller holds the pool lock or is alone; returns 0, or -1 (ENOMEM,
 *    not reported).
 */
extern int pool_table_append (struct pool *pool, struct swapdev *dev,
                              const struct devspec *spec)
  SD_NONNULL (1, 2);

/* Give dev a fresh stamp for this pool (a new device id) and clear its
 * record area; the stamp is written with the next table.
 * => returns 0, or -1 after reporting.
 */
extern int pool_format_dev (struct pool *pool, struct swapdev *dev)
  SD_NONNULL (1, 2);

/* If pool_start ran: flush every device and mark it CLEAN (a clean
 * shutdown).  Called by pool_destroy.
 */
extern void pool_close (struct pool *pool)
  SD_NONNULL (1);

/* Make pool_swapon open devices with open instead (the fuzzers: an
 * admin "on" must build an in-memory device, never touch a file or
 * the network).  Call before any swap-on; NULL restores the default.
 */
extern void pool_set_opener (struct pool *pool, pool_open_fn open);

#endif /* SWAPDRUM_POOL_INT_H */
