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

/* Count dev's page against the pool and give its drum slot. */
static uint64_t
take (struct pool *pool, struct swapdev *dev, dev_page_t start, uint64_t n,
      bool rotate, drum_slot_t *slot)
{
  dev->npginuse += n;
  *slot = dev->drumoffset + start;
  if (rotate)
    prio_rotate (&pool->prio, dev);
  return n;
}

/* A run for the first page of a region, at offset off in it: a free
 * aligned block of the device, of which [off, off + want) is kept and
 * the rest given back (struct pool_hint); want is cut at the region's
 * end, and the caller asks again for the rest.
 * => returns the pages taken with *start set, or 0 if dev has no
 *    wholly free block.
 */
static uint64_t
region_run (struct swapdev *dev, uint64_t off, uint64_t want,
            dev_page_t *start)
{
  dev_page_t block;

  if (want > POOL_REGION_PAGES - off)
    want = POOL_REGION_PAGES - off;
  if (!blist_alloc_block (dev->blist, &block))
    return 0;
  /* Cannot fail: the pages were allocated a moment ago. */
  if (off > 0)
    blist_free (dev->blist, block, off);
  if (off + want < POOL_REGION_PAGES)
    blist_free (dev->blist, block + off + want,
                POOL_REGION_PAGES - off - want);
  *start = block + off;
  return want;
}

enum fit {
  FIT_WHOLE,                    /* a run of want pages */
  FIT_LESS,                     /* the longest run, if shorter */
  FIT_REGION,                   /* a region's run (region_run) */
};

/* Try the devices of one priority group [i, end) for a run, and rotate
 * the one that gives it to the tail of its ring.
 * => caller holds the pool lock.
 */
static uint64_t
alloc_in_group (struct pool *pool, size_t i, size_t end, uint64_t want,
                enum fit fit, uint64_t off, drum_slot_t *slot)
{
  for (; i < end; i++) {
    struct swapdev *dev = pool->prio.devs[i];
    dev_page_t start;
    uint64_t n;

    if (!dev_usable (dev))
      continue;
    if (fit == FIT_REGION)
      n = region_run (dev, off, want, &start);
    else
      n = blist_alloc (dev->blist, want, fit == FIT_LESS, &start);
    if (n > 0)
      return take (pool, dev, start, n, true, slot);
  }
  return 0;
}

/* The device of the group starting at i that holds the hint's goal,
 * with the goal's page in *goal; NULL if there is none, if the device
 * takes no pages now, or if the region's run would not fit inside it
 * (so a device smaller than a region is placed in plain round robin).
 * => caller holds the pool lock.
 */
static struct swapdev *
goal_device (struct pool *pool, size_t i, const struct pool_hint *hint,
             dev_page_t *goal)
{
  struct swapdev *dev;
  int64_t g;

  if (hint->near == DRUM_NO_SLOT)
    return NULL;
  dev = drum_getsdp (pool->drum, hint->near);
  if (dev == NULL || dev->priority != pool->prio.devs[i]->priority ||
      !dev_usable (dev))
    return NULL;
  g = (int64_t) (hint->near - dev->drumoffset) + hint->delta;
  if (g < (int64_t) hint->offset ||
      g - hint->offset + POOL_REGION_PAGES > blist_npages (dev->blist))
    return NULL;
  *goal = g;
  return dev;
}

/* The free pages from goal on, at most want, on dev.
 * => returns their number (0 if goal is taken).
 */
static uint64_t
goal_run (struct swapdev *dev, dev_page_t goal, uint64_t want)
{
  uint64_t n = 0;

  while (n < want && blist_is_free (dev->blist, goal + n))
    n++;
  /* Cannot fail: the pages are free. */
  if (n > 0)
    blist_reserve (dev->blist, goal, n);
  return n;
}

/* A run from the group [i, end): where the hint asks, else a whole
 * run, else a shorter one.  A goal that is taken (the region's run was
 * given to others) falls back to a plain run, not to a new region's
 * run: the region's other pages aim at the same place.
 */
static uint64_t
alloc_group (struct pool *pool, size_t i, size_t end, uint64_t want,
             const struct pool_hint *hint, drum_slot_t *slot)
{
  struct swapdev *dev;
  dev_page_t goal;
  uint64_t n = 0;

  if (hint != NULL && (dev = goal_device (pool, i, hint, &goal)) != NULL) {
    n = goal_run (dev, goal, want);
    if (n > 0)
      return take (pool, dev, goal, n, false, slot);
  }
  else if (hint != NULL)
    n = alloc_in_group (pool, i, end, want, FIT_REGION, hint->offset, slot);
  if (n == 0)
    n = alloc_in_group (pool, i, end, want, FIT_WHOLE, 0, slot);
  if (n == 0 && want > 1)
    n = alloc_in_group (pool, i, end, want, FIT_LESS, 0, slot);
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
                bool charge, const struct pool_hint *hint, drum_slot_t *slot,
                enum pool_short *why)
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
                                    hint, slot);
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

  return pool_alloc_for (pool, NULL, want, false, NULL, slot, &why);
}
