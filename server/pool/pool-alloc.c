/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Allocation: the seed's uvm_swap_alloc over the priority list, with
 * a tenant's limits (quota, tiers, the others' reserves) applied under
 * the same brief hold of the pool lock.
 */

#include <config.h>

#include <errno.h>

#include "pool/pool-int.h"
#include "pool/pool-reserve.h"
#include "storage/blist.h"
#include "swapdrum/cleanup.h"

/* True if dev may take new allocations now.
 * => caller holds the pool lock.
 */
static bool
dev_usable (const struct swapdev *dev)
{
  return pool_dev_takes_pages (dev) && pool_dev_room (dev) > 0;
}

/* Try the devices of one priority group [i, end) for a run.
 * => caller holds the pool lock.
 */
static uint64_t
alloc_in_group (struct pool *pool, size_t i, size_t end, uint64_t want,
                bool lessok, drum_slot_t *slot)
{
  for (; i < end; i++) {
    struct swapdev *dev = pool->prio.devs[i];
    dev_page_t start;
    uint64_t n;

    if (!dev_usable (dev))
      continue;
    n = blist_alloc (dev->blist, want, lessok, &start);
    if (n == 0)
      continue;
    dev->npginuse += n;
    *slot = dev->drumoffset + start;
    prio_rotate (&pool->prio, dev);
    return n;
  }
  return 0;
}

/* A whole run from the group [i, end), else a shorter one. */
static uint64_t
alloc_group (struct pool *pool, size_t i, size_t end, uint64_t want,
             drum_slot_t *slot)
{
  uint64_t n = alloc_in_group (pool, i, end, want, false, slot);

  if (n == 0 && want > 1)
    n = alloc_in_group (pool, i, end, want, true, slot);
  return n;
}

/* True if a device of the group [i, end) could give a page now. */
static bool
group_has_room (const struct pool *pool, size_t i, size_t end)
{
  for (; i < end; i++)
    if (dev_usable (pool->prio.devs[i]))
      return true;
  return false;
}

/* Why nothing could be given, after the walk: room held back for
 * reserves, room only outside the tiers, room only on FAILED devices,
 * or none.  => caller holds the pool lock.
 */
static enum pool_short
why_short (const struct pool *pool, bool reserved)
{
  bool failed = false, usable = false;
  size_t i;

  if (reserved)
    return POOL_SHORT_RESERVED;
  for (i = 0; i < pool->prio.n; i++) {
    const struct swapdev *dev = pool->prio.devs[i];
    usable |= dev_usable (dev);
    failed |= (dev->flags & SWF_FAILED) && pool_dev_room (dev) > 0;
  }
  if (usable)
    return POOL_SHORT_TIERS;
  return failed ? POOL_SHORT_FAILED : POOL_SHORT_FULL;
}

/* The pages of t's quota still free, at most want.
 * => caller holds the pool lock (t->used rises only under it).
 */
static uint64_t
quota_room (struct pool_tenant *t, uint64_t want)
{
  uint64_t used = atomic_load (&t->used);
  uint64_t room = used >= t->quota ? 0 : t->quota - used;

  return room < want ? room : want;
}

uint64_t
pool_alloc_for (struct pool *pool, struct pool_tenant *t, uint64_t want,
                bool charge, drum_slot_t *slot, enum pool_short *why)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  int lo = t ? t->tier_lo : SD_PRIORITY_MIN;
  int hi = t ? t->tier_hi : SD_PRIORITY_MAX;
  bool reserved = false;
  size_t i, end;

  if (charge && t && (want = quota_room (t, want)) == 0) {
    *why = POOL_SHORT_QUOTA;
    errno = ENOSPC;
    return 0;
  }
  for (i = 0; i < pool->prio.n; i = end) {
    int prio = pool->prio.devs[i]->priority;
    uint64_t cap, n;

    end = prio_group_end (&pool->prio, i);
    if (prio < lo || prio > hi)
      continue;
    cap = pool_reserve_allowance (pool, t, prio, charge);
    n = cap == 0 ? 0 : alloc_group (pool, i, end, want < cap ? want : cap,
                                    slot);
    if (n > 0) {
      if (charge && t)
        atomic_fetch_add (&t->used, n);
      return n;
    }
    reserved |= cap == 0 && group_has_room (pool, i, end);
  }
  *why = why_short (pool, reserved);
  errno = *why == POOL_SHORT_FAILED ? EIO : ENOSPC;
  return 0;
}

uint64_t
pool_alloc (struct pool *pool, uint64_t want, drum_slot_t *slot)
{
  enum pool_short why;

  return pool_alloc_for (pool, NULL, want, false, slot, &why);
}
