/* swapdrum: the arithmetic of reserves and tiers (pool-reserve.c).
 *
 * A tenant with a reserve of R pages and used U is owed max(0, R - U)
 * pages ("unmet").  Its tiers [lo, hi] say which devices may hold its
 * pages, so its unmet reserve can only be kept on them.  For every
 * tier interval I = [a, b] (a some tenant's lo, b some tenant's hi),
 * the free pages of the devices in I must cover the unmet reserves of
 * the tenants whose tiers lie inside I: with intervals that is exactly
 * Hall's condition, so every reserve can be met at once.  Allocation
 * keeps it (pool_reserve_allowance); promises keep the same condition
 * on capacity (pool_reserve_short).
 *
 * Locking: every function here needs the pool lock.
 */

#ifndef SWAPDRUM_POOL_RESERVE_H
#define SWAPDRUM_POOL_RESERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "pool/pool-int.h"
#include "swapdrum/nonnull.h"

/* True if the tiers [lo, hi] hold all priorities (no tier limit). */
static inline bool
pool_tiers_all (int lo, int hi)
{
  return lo <= SD_PRIORITY_MIN && hi >= SD_PRIORITY_MAX;
}

/* How many pages t (NULL: no tenant) may take from devices of priority
 * prio without leaving any interval short of the unmet reserves inside
 * it; charge: the pages are new to t, so while t's own reserve is unmet
 * they come out of it.  UINT64_MAX when no tenant has an unmet
 * reserve (the cheap case: one pass over the tenants).  Otherwise
 * O(k^2 (k + d)) for k tenants with unmet reserves and d devices.
 * => caller holds the pool lock.
 */
extern uint64_t pool_reserve_allowance (struct pool *pool,
                                        const struct pool_tenant *t,
                                        int prio, bool charge)
  SD_NONNULL (1);

/* A what-if for pool_reserve_short: tenant t (or, t NULL, one about
 * to be) called name, with these reserve and tiers instead of its own;
 * or (name NULL) device dev at priority dev_prio, or out of the pool
 * if dev_gone.
 */
struct reserve_view {
  const struct pool_tenant *t;
  const char *name;
  uint64_t reserve;             /* pages */
  int lo, hi;
  const struct swapdev *dev;
  int dev_prio;
  bool dev_gone;
};

/* One interval short of capacity for the reserves inside it. */
struct reserve_short {
  int lo, hi;                   /* the interval */
  uint64_t cap;                 /* pages the devices in it can hold */
  uint64_t others;              /* pages reserved there by the others */
  uint64_t mine;                /* the view's tenant's reserve, if its
                                   tiers are inside (else 0) */
  uint64_t pages;               /* how many pages short */
  char names[160];              /* the others, "a, b" */
};

/* Check the promises under the view: for every interval, the capacity
 * (pages minus bad pages) of the devices in it that take pages is at
 * least the reserves of the tenants whose tiers lie inside it.  For a
 * tenant's view only the intervals holding its tiers are checked (its
 * change adds demand nowhere else); for a device's view, all.
 * => returns true if one is short, with *s describing it; false if
 *    every reserve can be kept.  Caller holds the pool lock.
 */
extern bool pool_reserve_short (struct pool *pool,
                                const struct reserve_view *v,
                                struct reserve_short *s)
  SD_NONNULL (1, 2, 3);

/* Write "N GiB", "N MiB" or "N KiB" for pages into buf (32 bytes). */
extern const char *pool_pages_str (uint64_t pages, char buf[32])
  SD_NONNULL (2);

/* Write "the pool" or "tiers LO-HI" for an interval into buf (48
 * bytes).
 */
extern const char *pool_tiers_str (int lo, int hi, char buf[48])
  SD_NONNULL (3);

#endif /* SWAPDRUM_POOL_RESERVE_H */
