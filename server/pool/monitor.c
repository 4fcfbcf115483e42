/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The pool's monitor thread: it brings FAILED devices that can
 * reconnect (remote exports) back into service, checking their stamp
 * first, so a remote that restarted empty is never read as if it held
 * its pages (docs/design.md, "Remote devices").  It calls into the pool
 * and reports to it (pool_mark_lost); the pool never calls the
 * monitor: its owner starts it after the pool and stops it before.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/blist.h"
#include "common/clock.h"
#include "pool/pool-int.h"
#include "swapdrum/monitor.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define TICK_MS 250

/* True if dev is still in the pool.  => caller holds the pool lock. */
static bool
in_pool (struct pool *pool, const struct swapdev *dev)
{
  size_t i;

  for (i = 0; i < pool->prio.n; i++)
    if (pool->prio.devs[i] == dev)
      return true;
  return false;
}

/* The device came back without its pages: mark them lost in every
 * export, start its allocator afresh and stamp it again.
 * => caller holds admin_lock; dev is FAILED (takes no allocations).
 */
static int
forget_pages (struct pool *pool, struct swapdev *dev)
{
  struct blist *fresh = blist_create (dev->npages);
  uint64_t lost;

  if (fresh == NULL) {
    sd_error ("swap: %s: %m", dev->path);
    return -1;
  }
  if (pool_mark_lost (pool, dev, &lost) == -1) {
    blist_destroy (fresh);
    return -1;
  }
  pthread_mutex_lock (&pool->lock);
  blist_destroy (dev->blist);
  dev->blist = fresh;
  dev->npginuse = dev->npgbad = 0;
  pthread_mutex_unlock (&pool->lock);
  atomic_fetch_add (&dev->lost_pages, lost);
  sd_error ("swap: %s: came back without its pages (stamp missing or "
            "different): %" PRIu64 " pages lost, they read as EIO until "
            "rewritten", dev->path, lost);
  return pool_restamp (pool, dev);
}

/* Reconnect dev, check its stamp and put it back in service.
 * => caller holds admin_lock, with dev in the pool and FAILED;
 *    returns 0 if it is back in service.
 */
static int
reconnect (struct pool *pool, struct swapdev *dev)
{
  int same;

  if (dev->ops->connect (dev) == -1)
    return -1;
  same = swapdev_check_stamp (dev);
  if (same == -1 || (same == 0 && forget_pages (pool, dev) == -1))
    return -1;
  swapdev_set_online (dev, true);
  atomic_fetch_add (&dev->reconnects, 1);
  pthread_mutex_lock (&pool->lock);
  dev->flags &= ~SWF_FAILED;
  pthread_mutex_unlock (&pool->lock);
  sd_debug ("swap: %s: back in service%s", dev->path,
            same ? " with its pages" : ", empty");
  return 0;
}

/* Try to bring dev back if it is still in the pool and FAILED, and set
 * its backoff.  dev is touched only under admin_lock once it is known
 * to be in the pool: swap-off frees a device under admin_lock after it
 * has left.
 */
static void
revive (struct pool *pool, struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  bool present;

  pthread_mutex_lock (&pool->lock);
  present = in_pool (pool, dev) && (dev->flags & SWF_FAILED);
  pthread_mutex_unlock (&pool->lock);
  if (!present)
    return;
  if (reconnect (pool, dev) == 0) {
    dev->backoff_ms = 0;
    return;
  }
  dev->backoff_ms = dev->backoff_ms ? dev->backoff_ms * 2 : BACKOFF_MIN_MS;
  if (dev->backoff_ms > BACKOFF_MAX_MS)
    dev->backoff_ms = BACKOFF_MAX_MS;
  dev->retry_at_ms = sd_now_ms () + dev->backoff_ms;
}

/* The FAILED devices that can reconnect and are due for a try. */
static size_t
due_devices (struct pool *pool, struct swapdev ***devs)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  int64_t now = sd_now_ms ();
  size_t i, n = 0;

  *devs = malloc ((pool->prio.n + 1) * sizeof **devs);
  for (i = 0; *devs && i < pool->prio.n; i++) {
    struct swapdev *dev = pool->prio.devs[i];
    if ((dev->flags & SWF_FAILED) && dev->ops->connect &&
        dev->retry_at_ms <= now)
      (*devs)[n++] = dev;
  }
  return n;
}

/* One round: try every device that is due; back off the failures.
 * Devices are freed only under admin_lock after leaving the pool, and
 * revive checks membership under admin_lock before touching one.
 */
static void
monitor_round (struct pool *pool)
{
  CLEANUP_FREE struct swapdev **devs = NULL;
  size_t i, n = due_devices (pool, &devs);

  for (i = 0; i < n; i++)
    revive (pool, devs[i]);
}

/* A monitor thread and what stops it. */
struct monitor {
  struct pool *pool;
  pthread_t thread;
  /* lock protects stop; cond wakes the thread early to stop. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool stop;
};

static void *
monitor_main (void *arg)
{
  struct monitor *mon = arg;

  pthread_mutex_lock (&mon->lock);
  while (!mon->stop) {
    struct timespec until;

    clock_gettime (CLOCK_REALTIME, &until);
    until.tv_nsec += TICK_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait (&mon->cond, &mon->lock, &until);
    if (mon->stop)
      break;
    pthread_mutex_unlock (&mon->lock);
    monitor_round (mon->pool);
    pthread_mutex_lock (&mon->lock);
  }
  pthread_mutex_unlock (&mon->lock);
  return NULL;
}

struct monitor *
monitor_start (struct pool *pool)
{
  struct monitor *mon = calloc (1, sizeof *mon);
  int err;

  if (mon == NULL) {
    sd_error ("pool: monitor thread: %m");
    return NULL;
  }
  mon->pool = pool;
  pthread_mutex_init (&mon->lock, NULL);
  pthread_cond_init (&mon->cond, NULL);
  err = pthread_create (&mon->thread, NULL, monitor_main, mon);
  if (err) {
    errno = err;
    sd_error ("pool: monitor thread: %m");
    pthread_mutex_destroy (&mon->lock);
    pthread_cond_destroy (&mon->cond);
    free (mon);
    return NULL;
  }
  /* For top -H, gdb and the tests; a failure here is harmless. */
  pthread_setname_np (mon->thread, "swapdrum-mon");
  return mon;
}

void
monitor_stop (struct monitor *mon)
{
  if (mon == NULL)
    return;
  pthread_mutex_lock (&mon->lock);
  mon->stop = true;
  pthread_cond_signal (&mon->cond);
  pthread_mutex_unlock (&mon->lock);
  pthread_join (mon->thread, NULL);
  pthread_mutex_destroy (&mon->lock);
  pthread_cond_destroy (&mon->cond);
  free (mon);
}
