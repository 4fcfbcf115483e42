/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Reserves and tiers: how much a tenant may take without breaking
 * another's reserve, and whether the pool can promise its reserves
 * (pool-reserve.h; docs/design.md, "Exports").
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pool/pool-reserve.h"

/* Pages tenant u is still owed. */
static uint64_t
unmet (const struct pool_tenant *u)
{
  uint64_t used = atomic_load (&((struct pool_tenant *) u)->used);

  return u->reserve > used ? u->reserve - used : 0;
}

static bool
inside (int lo, int hi, int a, int b)
{
  return lo >= a && hi <= b;
}

/* Free pages on the devices of priority [a, b] that take pages. */
static uint64_t
free_in (const struct pool *pool, int a, int b)
{
  uint64_t room = 0;
  size_t i;

  for (i = 0; i < pool->prio.n; i++) {
    const struct swapdev *d = pool->prio.devs[i];
    if (d->priority >= a && d->priority <= b && pool_dev_takes_pages (d))
      room += pool_dev_room (d);
  }
  return room;
}

/* Unmet reserves of the tenants whose tiers lie inside [a, b]. */
static uint64_t
unmet_in (const struct pool *pool, int a, int b)
{
  uint64_t need = 0;
  size_t i;

  for (i = 0; i < pool->ntenants; i++) {
    const struct pool_tenant *u = pool->tenants[i];
    if (inside (u->tier_lo, u->tier_hi, a, b))
      need += unmet (u);
  }
  return need;
}

/* What t may take from [a, b] (which holds prio) by that interval. */
static uint64_t
interval_allowance (const struct pool *pool, const struct pool_tenant *t,
                    int a, int b, bool charge)
{
  uint64_t room = free_in (pool, a, b), need = unmet_in (pool, a, b);
  uint64_t allow = room > need ? room - need : 0;

  /* New pages of t count against its own unmet reserve first. */
  if (charge && t && inside (t->tier_lo, t->tier_hi, a, b))
    allow += unmet (t);
  return allow;
}

uint64_t
pool_reserve_allowance (struct pool *pool, const struct pool_tenant *t,
                        int prio, bool charge)
{
  uint64_t best = UINT64_MAX;
  size_t i, j;

  for (i = 0; i < pool->ntenants; i++) {
    const struct pool_tenant *a = pool->tenants[i];
    if (unmet (a) == 0 || a->tier_lo > prio)
      continue;
    for (j = 0; j < pool->ntenants; j++) {
      const struct pool_tenant *b = pool->tenants[j];
      uint64_t allow;
      if (unmet (b) == 0 || b->tier_hi < prio || b->tier_hi < a->tier_lo)
        continue;
      allow = interval_allowance (pool, t, a->tier_lo, b->tier_hi, charge);
      if (allow < best)
        best = allow;
    }
  }
  return best;
}

/* Under the view: the priority of device d, and whether it counts. */
static bool
view_device (const struct reserve_view *v, const struct swapdev *d,
             int *prio)
{
  *prio = d->priority;
  if (d == v->dev) {
    if (v->dev_gone)
      return false;
    *prio = v->dev_prio;
  }
  return pool_dev_takes_pages (d);
}

/* Pages the devices in [a, b] can hold, under the view. */
static uint64_t
cap_in (const struct pool *pool, const struct reserve_view *v, int a, int b)
{
  uint64_t cap = 0;
  size_t i;
  int prio;

  for (i = 0; i < pool->prio.n; i++) {
    const struct swapdev *d = pool->prio.devs[i];
    if (view_device (v, d, &prio) && prio >= a && prio <= b)
      cap += d->npages - d->npgbad;
  }
  return cap;
}

/* The reserve and tiers of tenant i under the view. */
static void
view_tenant (const struct reserve_view *v, const struct pool_tenant *u,
             uint64_t *reserve, int *lo, int *hi)
{
  if (u == v->t) {
    *reserve = v->reserve;
    *lo = v->lo;
    *hi = v->hi;
  }
  else {
    *reserve = u->reserve;
    *lo = u->tier_lo;
    *hi = u->tier_hi;
  }
}

/* Append name to s->names, "a, b", cut with "..." when full. */
static void
add_name (struct reserve_short *s, const char *name)
{
  size_t len = strlen (s->names), room = sizeof s->names - len;

  if (room <= 4)
    return;
  if (snprintf (s->names + len, room, "%s%s", len ? ", " : "", name) >=
      (int) room)
    strcpy (s->names + sizeof s->names - 4, "...");
}

/* Fill s for the interval [a, b] under the view: the capacity and the
 * reserves inside.  => returns true if it is short.
 */
static bool
check_interval (const struct pool *pool, const struct reserve_view *v,
                int a, int b, struct reserve_short *s)
{
  uint64_t reserve;
  size_t i;
  int lo, hi;

  memset (s, 0, sizeof *s);
  s->lo = a;
  s->hi = b;
  s->cap = cap_in (pool, v, a, b);
  for (i = 0; i < pool->ntenants; i++) {
    const struct pool_tenant *u = pool->tenants[i];
    view_tenant (v, u, &reserve, &lo, &hi);
    if (u == v->t || reserve == 0 || !inside (lo, hi, a, b))
      continue;
    s->others += reserve;
    add_name (s, u->name);
  }
  if (inside (v->lo, v->hi, a, b))
    s->mine = v->reserve;
  if (s->others + s->mine <= s->cap)
    return false;
  s->pages = s->others + s->mine - s->cap;
  return true;
}

/* The tiers of the i-th reserving party under the view (i == ntenants:
 * the view's own tenant when it is not registered yet).
 * => returns false if it reserves nothing.
 */
static bool
party (const struct pool *pool, const struct reserve_view *v, size_t i,
       int *lo, int *hi)
{
  uint64_t reserve;

  if (i == pool->ntenants) {
    *lo = v->lo;
    *hi = v->hi;
    return v->t == NULL && v->reserve > 0;
  }
  view_tenant (v, pool->tenants[i], &reserve, lo, hi);
  return reserve > 0;
}

/* Check every interval [a, b] from the parties' ends; mine: only
 * those holding the view's tenant's tiers (a change of one tenant's
 * limits adds demand nowhere else).
 */
static bool
check_all (const struct pool *pool, const struct reserve_view *v,
           bool mine, struct reserve_short *s)
{
  size_t i, j;
  int alo, ahi, blo, bhi;

  for (i = 0; i <= pool->ntenants; i++) {
    if (!party (pool, v, i, &alo, &ahi))
      continue;
    for (j = 0; j <= pool->ntenants; j++) {
      if (!party (pool, v, j, &blo, &bhi) || bhi < alo)
        continue;
      if (mine && !inside (v->lo, v->hi, alo, bhi))
        continue;
      if (check_interval (pool, v, alo, bhi, s))
        return true;
    }
  }
  return false;
}

bool
pool_reserve_short (struct pool *pool, const struct reserve_view *v,
                    struct reserve_short *s)
{
  if (v->name)
    return v->reserve > 0 && check_all (pool, v, true, s);
  return check_all (pool, v, false, s);
}

const char *
pool_pages_str (uint64_t pages, char buf[32])
{
  uint64_t kib = pages * 4;

  if (kib >= (1 << 20) && kib % (1 << 20) == 0)
    snprintf (buf, 32, "%" PRIu64 " GiB", kib >> 20);
  else if (kib >= 1024 && kib % 1024 == 0)
    snprintf (buf, 32, "%" PRIu64 " MiB", kib >> 10);
  else
    snprintf (buf, 32, "%" PRIu64 " KiB", kib);
  return buf;
}

const char *
pool_tiers_str (int lo, int hi, char buf[48])
{
  if (pool_tiers_all (lo, hi))
    snprintf (buf, 48, "the pool");
  else
    snprintf (buf, 48, "tiers %d-%d", lo, hi);
  return buf;
}
