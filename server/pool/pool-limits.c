/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* A tenant's limits: checked when an export is declared, changed live
 * (pool_set_limits), kept in the pool table (docs/design.md,
 * "Exports").  The allocation that enforces them is pool-alloc.c.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool-int.h"
#include "pool/pool-reserve.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* True if a device of the pool (not one being added) has a priority in
 * [lo, hi].  => caller holds the pool lock.
 */
static bool
tiers_have_device (const struct pool *pool, int lo, int hi)
{
  size_t i;

  for (i = 0; i < pool->prio.n; i++) {
    const struct swapdev *d = pool->prio.devs[i];
    if (!(d->flags & SWF_FAKE) && d->priority >= lo && d->priority <= hi)
      return true;
  }
  return false;
}

/* Report a reserve the pool cannot promise. */
static void
report_short (const char *name, uint64_t reserve,
              const struct reserve_short *s)
{
  char r[32], cap[32], others[32], pages[32], where[48];
  bool all = pool_tiers_all (s->lo, s->hi);

  pool_tiers_str (s->lo, s->hi, where);
  errno = ENOSPC;
  if (s->others)
    sd_error ("export: %s: reserve %s: %s %s %s, %s already reserved by "
              "%s: %s short", name, pool_pages_str (reserve, r), where,
              all ? "has" : "have", pool_pages_str (s->cap, cap),
              pool_pages_str (s->others, others), s->names,
              pool_pages_str (s->pages, pages));
  else
    sd_error ("export: %s: reserve %s: %s %s %s: %s short", name,
              pool_pages_str (reserve, r), where, all ? "has" : "have",
              pool_pages_str (s->cap, cap),
              pool_pages_str (s->pages, pages));
}

/* The checks that need no tenant state: tiers with a device, the
 * reserve promised; report: say why, else be quiet.
 * => caller holds the pool lock.
 */
static int
check_locked (struct pool *pool, const struct pool_tenant *t,
              const char *name, const struct pool_limits *lim, bool report)
{
  struct reserve_view v = {
    .t = t, .name = name, .reserve = lim->reserve >> SD_PAGE_SHIFT,
    .lo = lim->tier_lo, .hi = lim->tier_hi,
  };
  struct reserve_short s;

  if (!pool_tiers_all (lim->tier_lo, lim->tier_hi) &&
      !tiers_have_device (pool, lim->tier_lo, lim->tier_hi)) {
    errno = EINVAL;
    if (report)
      sd_error ("export: %s: tiers %d-%d: no device of the pool has a "
              "priority in that range", name, lim->tier_lo, lim->tier_hi);
    return -1;
  }
  if (pool_reserve_short (pool, &v, &s)) {
    if (report)
      report_short (name, v.reserve, &s);
    errno = ENOSPC;
    return -1;
  }
  return 0;
}

int
pool_check_limits (struct pool *pool, const char *name,
                   const struct pool_limits *lim)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  return check_locked (pool, NULL, name, lim, true);
}

bool
pool_limits_fit (struct pool *pool, const char *name,
                 const struct pool_limits *lim)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  return check_locked (pool, NULL, name, lim, false) == 0;
}

void
pool_tenant_limits (struct pool *pool, const struct pool_tenant *t,
                    struct pool_limits *lim)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  lim->quota = t->quota == UINT64_MAX ? 0 : t->quota << SD_PAGE_SHIFT;
  lim->reserve = t->reserve << SD_PAGE_SHIFT;
  lim->tier_lo = t->tier_lo;
  lim->tier_hi = t->tier_hi;
}

/* The checks against what t holds now: the quota covers it, the
 * reserve fits in the quota; then check_locked.
 * => caller holds the pool lock (t->used rises only under it).
 */
static int
check_tenant (struct pool *pool, const struct pool_tenant *t,
              const struct pool_limits *lim)
{
  uint64_t used = atomic_load (&((struct pool_tenant *) t)->used);
  char a[32], b[32];

  if (lim->quota && lim->quota >> SD_PAGE_SHIFT < used) {
    errno = EINVAL;
    sd_error ("export: %s: quota %s is below the %s it holds", t->name,
              pool_pages_str (lim->quota >> SD_PAGE_SHIFT, a),
              pool_pages_str (used, b));
    return -1;
  }
  if (lim->quota && lim->reserve > lim->quota) {
    errno = EINVAL;
    sd_error ("export: %s: reserve %s is more than the quota %s", t->name,
              pool_pages_str (lim->reserve >> SD_PAGE_SHIFT, a),
              pool_pages_str (lim->quota >> SD_PAGE_SHIFT, b));
    return -1;
  }
  return check_locked (pool, t, t->name, lim, true);
}

/* Check lim (quota, reserve, tiers: rounded to pages, tiers in range)
 * as a whole: the parts that need no pool.
 */
static int
check_shape (const struct pool_tenant *t, const struct pool_limits *lim)
{
  if (lim->tier_lo < SD_PRIORITY_MIN || lim->tier_hi > SD_PRIORITY_MAX ||
      lim->tier_lo > lim->tier_hi) {
    errno = EINVAL;
    sd_error ("export: %s: tiers %d-%d: need %d <= LO <= HI <= %d",
              t->name, lim->tier_lo, lim->tier_hi, SD_PRIORITY_MIN,
              SD_PRIORITY_MAX);
    return -1;
  }
  if ((lim->quota | lim->reserve) % SD_PAGE_SIZE) {
    errno = EINVAL;
    sd_error ("export: %s: quota and reserve must be multiples of 4096 "
              "bytes", t->name);
    return -1;
  }
  return 0;
}

/* Set t's tiers.  => takes the pool lock. */
static void
set_tiers (struct pool *pool, struct pool_tenant *t, int lo, int hi)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  t->tier_lo = lo;
  t->tier_hi = hi;
}

/* The devices of the pool whose priority is outside [lo, hi], copied
 * (the array is re-sorted by allocations).  => returns a malloc'd
 * array of *n, or NULL after reporting.  The caller holds admin_lock,
 * so none of them leaves the pool meanwhile.
 */
static struct swapdev **
devices_outside (struct pool *pool, const char *name, int lo, int hi,
                 size_t *n)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct swapdev **a = malloc ((pool->prio.n + 1) * sizeof *a);
  size_t i;

  if (a == NULL) {
    sd_error ("export: %s: %m", name);
    return NULL;
  }
  for (i = *n = 0; i < pool->prio.n; i++) {
    struct swapdev *d = pool->prio.devs[i];
    if (!(d->flags & SWF_FAKE) && (d->priority < lo || d->priority > hi))
      a[(*n)++] = d;
  }
  return a;
}

/* With t's new tiers in force (no new page of t lands outside them),
 * check that t holds no page on a device outside them.
 * => returns 0, or -1 after reporting.
 */
static int
check_pages_inside (struct pool *pool, struct pool_tenant *t, int lo,
                    int hi)
{
  CLEANUP_FREE struct swapdev **devs = NULL;
  size_t i, n = 0;

  devs = devices_outside (pool, t->name, lo, hi, &n);
  if (devs == NULL)
    return -1;
  for (i = 0; i < n; i++) {
    uint64_t k = t->ops->count_on (t, devs[i]);
    if (k > 0) {
      errno = EBUSY;
      sd_error ("export: %s: tiers %d-%d would leave %" PRIu64 " of its "
                "pages on %s (priority %d) outside them", t->name, lo, hi,
                k, devs[i]->path, devs[i]->priority);
      return -1;
    }
  }
  return 0;
}

/* Apply the checked limits to t and to the table.
 * => caller holds the pool lock.
 */
static void
apply_locked (struct pool *pool, struct pool_tenant *t,
              const struct pool_limits *lim)
{
  size_t i;

  t->quota = lim->quota ? lim->quota >> SD_PAGE_SHIFT : UINT64_MAX;
  t->reserve = lim->reserve >> SD_PAGE_SHIFT;
  t->tier_lo = lim->tier_lo;
  t->tier_hi = lim->tier_hi;
  for (i = 0; i < pool->table.nexports; i++)
    if (pool->table.exports[i].id == t->id)
      pool_table_set_limits (&pool->table.exports[i], lim);
}

/* Check lim against t now and apply it.  => returns 0, or -1 after
 * reporting (nothing applied).
 */
static int
check_and_apply (struct pool *pool, struct pool_tenant *t,
                 const struct pool_limits *lim)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  if (check_tenant (pool, t, lim) == -1)
    return -1;
  apply_locked (pool, t, lim);
  return 0;
}

/* How a change of tiers must be made. */
enum tier_change {
  TIERS_DONE,                   /* applied at once: nothing to look for */
  TIERS_LOOK,                   /* look for pages outside the new tiers */
  TIERS_DISJOINT,               /* no priority in common, and t holds
                                   pages: refused */
};

/* Check lim, then: if no page of t can be outside the new tiers (they
 * hold the old ones, or t holds no page: used rises only under the
 * pool lock), apply everything now.  Else, while the pages are looked
 * for, narrow t's tiers to the old ones' intersection with the new,
 * so that a page placed meanwhile is inside both, whichever end up in
 * force.  => returns the case, or -1 after reporting.
 */
static int
begin_change (struct pool *pool, struct pool_tenant *t,
              const struct pool_limits *lim, int old[2])
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  int lo = lim->tier_lo > t->tier_lo ? lim->tier_lo : t->tier_lo;
  int hi = lim->tier_hi < t->tier_hi ? lim->tier_hi : t->tier_hi;

  if (check_tenant (pool, t, lim) == -1)
    return -1;
  old[0] = t->tier_lo;
  old[1] = t->tier_hi;
  if ((lim->tier_lo <= old[0] && lim->tier_hi >= old[1]) ||
      atomic_load (&t->used) == 0) {
    apply_locked (pool, t, lim);
    return TIERS_DONE;
  }
  if (lo > hi)
    return TIERS_DISJOINT;
  t->tier_lo = lo;
  t->tier_hi = hi;
  return TIERS_LOOK;
}

/* Refuse tiers that share no priority with t's, which holds pages. */
static int
refuse_disjoint (struct pool *pool, struct pool_tenant *t,
                 const struct pool_limits *lim, const int old[2])
{
  /* Name a device that holds its pages if there is one. */
  if (check_pages_inside (pool, t, lim->tier_lo, lim->tier_hi) == 0) {
    errno = EBUSY;
    sd_error ("export: %s: tiers %d-%d share no priority with its tiers "
              "%d-%d, where it holds pages", t->name, lim->tier_lo,
              lim->tier_hi, old[0], old[1]);
  }
  return -1;
}

int
pool_set_limits (struct pool *pool, struct pool_tenant *t,
                 const struct pool_limits *lim)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  int old[2], r;

  if (check_shape (t, lim) == -1)
    return -1;
  r = begin_change (pool, t, lim, old);
  if (r == -1)
    return -1;
  if (r == TIERS_DISJOINT)
    return refuse_disjoint (pool, t, lim, old);
  if (r == TIERS_LOOK &&
      (check_pages_inside (pool, t, lim->tier_lo, lim->tier_hi) == -1 ||
       check_and_apply (pool, t, lim) == -1)) {
    set_tiers (pool, t, old[0], old[1]);
    return -1;
  }
  if (pool_table_write (pool, NULL) == -1)
    sd_error ("export: %s: the new limits hold, but a restart may bring "
              "back the old ones", t->name);
  return 0;
}
