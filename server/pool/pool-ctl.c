/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Live changes of the device set: the seed's sys_swapctl SWAP_CTL and
 * SWAP_OFF (swap-on is in pool.c).  Each runs under the pool's
 * admin_lock from start to end, so changes never interleave.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pool/pool-int.h"
#include "pool/pool-reserve.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* The device path names: the same object (by identity) or, only if
 * no device is that object, the same spelling (a file since deleted or
 * replaced).
 * => caller holds the pool lock.
 */
static struct swapdev *
find_device (struct pool *pool, const char *path, const char *ident)
{
  size_t i;

  for (i = 0; ident && i < pool->prio.n; i++)
    if (strcmp (pool->prio.devs[i]->ident, ident) == 0)
      return pool->prio.devs[i];
  for (i = 0; i < pool->prio.n; i++)
    if (strcmp (pool->prio.devs[i]->path, path) == 0)
      return pool->prio.devs[i];
  return NULL;
}

/* Find the device for an admin change and check it may change.
 * => caller holds the pool lock; reports "what: path: reason".
 */
static struct swapdev *
lookup (struct pool *pool, const char *what, const char *path,
        const char *ident)
{
  struct swapdev *dev = find_device (pool, path, ident);

  if (dev == NULL) {
    errno = ENOENT;
    sd_error ("%s: %s: not in the pool", what, path);
    return NULL;
  }
  if (dev->flags & (SWF_FAKE | SWF_DRAIN)) {
    errno = EBUSY;
    sd_error ("%s: %s: being %s", what, path,
              dev->flags & SWF_FAKE ? "added" : "removed");
    return NULL;
  }
  return dev;
}

/* Report that the view (a device at another priority, or gone) leaves
 * the reserves short.
 */
static void
report_reserves (const char *what, const char *path, const char *change,
                 const struct reserve_short *s)
{
  char cap[32], need[32], pages[32], where[48];

  errno = ENOSPC;
  sd_error ("%s: %s: %s: %s would have %s, but exports reserve %s there "
            "(%s): %s short; lower a reserve first", what, path, change,
            pool_tiers_str (s->lo, s->hi, where), pool_pages_str (s->cap, cap), pool_pages_str (s->others, need),
            s->names, pool_pages_str (s->pages, pages));
}

/* Move dev to the ring of priority, in the table too.
 * => caller holds the pool lock.
 */
static void
set_priority (struct pool *pool, struct swapdev *dev, int priority)
{
  struct pt_member *m;

  /* Removing and inserting again cannot fail: the array keeps its
   * capacity.
   */
  prio_remove (&pool->prio, dev);
  dev->priority = priority;
  prio_insert (&pool->prio, dev);
  m = pool_table_member (&pool->table, dev->stamp.device_uuid);
  if (m)
    m->priority = priority;
}

/* Give the device named path (ident) a new priority and re-sort: no
 * data moves.  Refused if the reserves could not be kept.  hold: the
 * device takes no new pages until ctl_release (pages of an export
 * whose tiers the move may change are being counted).
 * => returns the device with *old its priority before, or NULL after
 *    reporting (ENOENT, EBUSY, ENOSPC).
 */
static struct swapdev *
ctl_resort (struct pool *pool, const char *path, const char *ident,
            int priority, bool hold, int *old)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct swapdev *dev = lookup (pool, "ctl", path, ident);
  struct reserve_view v = { .dev = dev, .dev_prio = priority };
  struct reserve_short s;
  char change[48];

  if (dev == NULL)
    return NULL;
  if (pool_reserve_short (pool, &v, &s)) {
    snprintf (change, sizeof change, "priority %d", priority);
    report_reserves ("ctl", path, change, &s);
    return NULL;
  }
  *old = dev->priority;
  dev->hold = hold;
  set_priority (pool, dev, priority);
  return dev;
}

/* End a ctl that held dev: at its new priority, or (refused) back at
 * old.
 */
static void
ctl_release (struct pool *pool, struct swapdev *dev, bool undo, int old)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  if (undo)
    set_priority (pool, dev, old);
  dev->hold = false;
}

/* The tenants whose tiers hold old but not priority: the device may
 * hold their pages, which the new priority would put outside.
 * => returns a malloc'd array of *n, or NULL after reporting.
 */
static struct pool_tenant **
tenants_leaving (struct pool *pool, int old, int priority, size_t *n)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct pool_tenant **ts = pool_tenants_locked (pool, "ctl", n);
  size_t i, k = 0;

  for (i = 0; ts && i < *n; i++)
    if (old >= ts[i]->tier_lo && old <= ts[i]->tier_hi &&
        (priority < ts[i]->tier_lo || priority > ts[i]->tier_hi))
      ts[k++] = ts[i];
  *n = k;
  return ts;
}

/* The device's priority, under the pool lock (or -1 after reporting
 * "ctl: PATH: not in the pool").
 */
static int
current_priority (struct pool *pool, const char *path, const char *ident,
                  int *prio)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct swapdev *dev = lookup (pool, "ctl", path, ident);

  if (dev == NULL)
    return -1;
  *prio = dev->priority;
  return 0;
}

/* With dev held (no new page lands there): refuse if one of ts has
 * pages on dev, which priority would put outside its tiers.
 * => returns 0, or -1 after reporting.
 */
static int
check_tiers_kept (struct pool_tenant **ts, size_t n, struct swapdev *dev,
                  const char *path, int priority)
{
  size_t i;

  for (i = 0; i < n; i++) {
    uint64_t k = ts[i]->ops->count_on (ts[i], dev);
    if (k > 0) {
      errno = EBUSY;
      sd_error ("ctl: %s: priority %d is outside the tiers %d-%d of "
                "export %s, which has %" PRIu64 " pages there; swap the "
                "device off and on again at the new priority instead "
                "(its pages move within the tiers)", path, priority,
                ts[i]->tier_lo, ts[i]->tier_hi, ts[i]->name, k);
      return -1;
    }
  }
  return 0;
}

int
pool_ctl (struct pool *pool, const char *path, int priority)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  CLEANUP_FREE char *ident = swapdev_path_ident (path);
  CLEANUP_FREE struct pool_tenant **ts = NULL;
  struct swapdev *dev;
  size_t n = 0;
  int old, r;

  if (priority < SD_PRIORITY_MIN || priority > SD_PRIORITY_MAX) {
    errno = EINVAL;
    sd_error ("ctl: %s: priority %d out of range (%d to %d)", path,
              priority, SD_PRIORITY_MIN, SD_PRIORITY_MAX);
    return -1;
  }
  /* admin_lock keeps the device and the tenants' tiers as they are. */
  if (current_priority (pool, path, ident, &old) == -1 ||
      (ts = tenants_leaving (pool, old, priority, &n)) == NULL)
    return -1;
  dev = ctl_resort (pool, path, ident, priority, n > 0, &old);
  if (dev == NULL)
    return -1;
  if (n > 0) {
    r = check_tiers_kept (ts, n, dev, path, priority);
    ctl_release (pool, dev, r == -1, old);
    if (r == -1)
      return -1;
  }
  /* The new priority holds after a restart too. */
  if (pool_table_write (pool, NULL) == -1)
    sd_error ("ctl: %s: the priority is changed, but a restart may bring "
              "back the old one", path);
  return 0;
}

/* Free pages on the devices other than dev that take allocations.
 * => caller holds the pool lock.
 */
static uint64_t
room_elsewhere (struct pool *pool, const struct swapdev *dev)
{
  uint64_t room = 0;
  size_t i;

  for (i = 0; i < pool->prio.n; i++) {
    const struct swapdev *d = pool->prio.devs[i];
    if (d != dev && pool_dev_takes_pages (d))
      room += pool_dev_room (d);
  }
  return room;
}

/* Step 1 of swap-off: check there is room elsewhere and stop new
 * allocations on the device.  Copies the tenant list to *ts at the same
 * moment, so that a tenant added later cannot have pages on the device.
 */
static struct swapdev *
swapoff_begin (struct pool *pool, const char *path, const char *ident,
               struct pool_tenant ***ts, size_t *nts, uint64_t *total)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct swapdev *dev = lookup (pool, "off", path, ident);
  struct reserve_view v = { .dev_gone = true };
  struct reserve_short s;
  uint64_t room;

  if (dev == NULL)
    return NULL;
  room = room_elsewhere (pool, dev);
  if (room < dev->npginuse) {
    errno = ENOSPC;
    sd_error ("off: %s: the rest of the pool has %" PRIu64 " free pages; "
              "the device holds %" PRIu64, path, room, dev->npginuse);
    return NULL;
  }
  v.dev = dev;
  if (pool_reserve_short (pool, &v, &s)) {
    report_reserves ("off", path, "without it", &s);
    return NULL;
  }
  *ts = pool_tenants_locked (pool, "off", nts);
  if (*ts == NULL)
    return NULL;
  *total = dev->npginuse;
  dev->flags = (dev->flags & ~SWF_ENABLE) | SWF_DRAIN;
  return dev;
}

/* Undo swapoff_begin: the device takes allocations again. */
static void
swapoff_undo (struct pool *pool, struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  dev->flags = (dev->flags & ~SWF_DRAIN) | SWF_ENABLE;
}

/* Take the empty device out of the drum and the priority list.
 * => returns 0, or -1 after reporting (the device stays in the pool).
 */
static int
swapoff_unlink (struct pool *pool, struct swapdev *dev, const char *path)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  if (dev->npginuse != 0) {
    errno = EBUSY;
    sd_error ("off: %s: %" PRIu64 " pages still in use after migration",
              path, dev->npginuse);
    return -1;
  }
  if (drum_release (pool->drum, dev) == -1) {
    sd_error ("off: %s: %m", path);
    return -1;
  }
  prio_remove (&pool->prio, dev);
  return 0;
}

/* Last step: take the empty device out of the pool and free it. */
static int
swapoff_finish (struct pool *pool, struct swapdev *dev, const char *path)
{
  if (swapoff_unlink (pool, dev, path) == -1)
    return -1;
  /* Out of the pool after a restart too (the device's own stamp still
   * names the pool, so that a restart that names it leaves it out).
   */
  if (pool_table_remove (pool, dev) == -1)
    sd_error ("off: %s: removed, but the pool table could not be written: "
              "a restart may take it back (empty)", path);

  /* Wait for flushes that copied the device list, then close. */
  pthread_rwlock_wrlock (&pool->devlife);
  swapdev_free (dev);
  pthread_rwlock_unlock (&pool->devlife);
  return 0;
}

/* Swap-off copies as fast as the CPU and the devices allow.  Client
 * requests must not queue behind it for a CPU, so the copy runs at this
 * nice value (the calling thread only; Linux's setpriority on a thread
 * id), and the thread's own value is put back afterwards where the
 * process may raise it again (root, or RLIMIT_NICE).
 */
#define MIGRATE_NICE 19

/* => returns the thread's nice value before, to give to
 *    restore_priority.
 */
static int
lower_priority (void)
{
  pid_t tid = gettid ();
  int old;

  errno = 0;
  old = getpriority (PRIO_PROCESS, tid);
  if (old == -1 && errno != 0)
    old = 0;
  if (old < MIGRATE_NICE &&
      setpriority (PRIO_PROCESS, tid, MIGRATE_NICE) == -1)
    sd_debug ("off: cannot lower the copy's CPU priority: %m");
  return old;
}

static void
restore_priority (int old)
{
  if (setpriority (PRIO_PROCESS, gettid (), old) == -1)
    sd_debug ("off: the admin thread stays at nice %d: %m", MIGRATE_NICE);
}

int
pool_swapoff (struct pool *pool, const char *path,
              pool_progress_fn progress, void *opaque)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  CLEANUP_FREE char *ident = swapdev_path_ident (path);
  CLEANUP_FREE struct pool_tenant **ts = NULL;
  struct swapdev *dev;
  uint64_t moved = 0, total = 0;
  size_t nts = 0, i;
  int nice_was;

  dev = swapoff_begin (pool, path, ident, &ts, &nts, &total);
  if (dev == NULL)
    return -1;
  nice_was = lower_priority ();
  for (i = 0; i < nts; i++) {
    if (ts[i]->ops->migrate (ts[i], dev, &moved, total, progress,
                             opaque) == -1) {
      restore_priority (nice_was);
      sd_error ("off: %s: stopped after moving %" PRIu64 " of %" PRIu64
                " pages; the device is enabled again", path, moved, total);
      swapoff_undo (pool, dev);
      return -1;
    }
  }
  restore_priority (nice_was);
  if (swapoff_finish (pool, dev, path) == -1) {
    swapoff_undo (pool, dev);
    return -1;
  }
  sd_debug ("off: %s: %" PRIu64 " pages moved, device closed", path, moved);
  return 0;
}
