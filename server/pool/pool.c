/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The swap pool: the seed's swap_on, uvm_swap_alloc, uvm_swap_free
 * and uvm_swap_markbad over the priority list and the drum.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "storage/blist.h"
#include "pool/drum.h"
#include "pool/pool-int.h"
#include "pool/prio.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

void
pool_describe (struct pool *pool)
{
  size_t i, n;

  n = snprintf (pool->description, sizeof pool->description,
                "swapdrum pool ");
  for (i = 0; i < sizeof pool->pool_id; i++)
    n += snprintf (pool->description + n, sizeof pool->description - n,
                   "%02x", pool->pool_id[i]);
}

const char *
pool_description (struct pool *pool)
{
  return pool->description;
}

/* The default opener: a remote export for a URI, else a local file or
 * block device.
 */
static struct swapdev *
open_device (const struct devspec *spec, const char *own)
{
  return devspec_is_uri (spec->path) ? swapdev_open_nbd (spec, own)
                                     : swapdev_open_local (spec);
}

void
pool_set_opener (struct pool *pool, pool_open_fn open)
{
  pool->open = open ? open : open_device;
}

struct pool *
pool_create (void)
{
  struct pool *pool = calloc (1, sizeof *pool);

  if (pool == NULL) {
    sd_error ("pool: %m");
    return NULL;
  }
  pthread_mutex_init (&pool->admin_lock, NULL);
  pthread_mutex_init (&pool->lock, NULL);
  pthread_mutex_init (&pool->table_lock, NULL);
  pthread_rwlock_init (&pool->devlife, NULL);
  pool->open = open_device;
  pool_persist_init (pool);
  pool->drum = drum_create ();
  if (pool->drum == NULL ||
      getrandom (pool->pool_id, sizeof pool->pool_id, 0) !=
      sizeof pool->pool_id) {
    sd_error ("pool: %m");
    pool_destroy (pool);
    return NULL;
  }
  pool_describe (pool);
  return pool;
}

void
pool_destroy (struct pool *pool)
{
  size_t i;

  if (pool == NULL)
    return;
  pool_close (pool);
  for (i = 0; i < pool->prio.n; i++)
    swapdev_free (pool->prio.devs[i]);
  pool_table_free (&pool->table);
  prio_free (&pool->prio);
  drum_destroy (pool->drum);
  free (pool->tenants);
  pthread_rwlock_destroy (&pool->devlife);
  pthread_mutex_destroy (&pool->table_lock);
  pthread_mutex_destroy (&pool->lock);
  pthread_mutex_destroy (&pool->admin_lock);
  free (pool);
}

/* The device in the pool that is the same object as ident, or NULL.
 * => caller holds the pool lock.
 */
static struct swapdev *
find_ident (struct pool *pool, const char *ident)
{
  size_t i;

  for (i = 0; i < pool->prio.n; i++)
    if (strcmp (pool->prio.devs[i]->ident, ident) == 0)
      return pool->prio.devs[i];
  return NULL;
}

int
pool_dev_reserve (struct pool *pool, struct swapdev *dev, int priority)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct swapdev *other = find_ident (pool, dev->ident);

  if (other) {
    errno = EBUSY;
    sd_error ("swap: %s: already in the pool as %s", dev->path, other->path);
    return -1;
  }
  dev->priority = priority;
  dev->flags = SWF_FAKE;
  if (prio_insert (&pool->prio, dev) == -1) {
    sd_error ("swap: %s: %m", dev->path);
    return -1;
  }
  if (drum_claim (pool->drum, dev) == -1) {
    if (errno == ENOSPC)
      sd_error ("swap: %s: %" PRIu64 " pages do not fit in the pool: it "
                "holds at most %" PRIu64 " pages (16 TiB) at once",
                dev->path, dev->npages, DRUM_MAX_SLOT);
    else
      sd_error ("swap: %s: claiming %" PRIu64 " drum slots: %m",
                dev->path, dev->npages);
    prio_remove (&pool->prio, dev);
    return -1;
  }
  return 0;
}

void
pool_dev_unreserve (struct pool *pool, struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  prio_remove (&pool->prio, dev);
  /* The shrunk table is always smaller; if even that allocation
   * fails the range stays claimed by a device no allocation can
   * reach, which wastes drum space but nothing else.
   */
  if (drum_release (pool->drum, dev) == -1)
    sd_error ("swap: %s: releasing drum range: %m", dev->path);
}

void
pool_dev_go_live (struct pool *pool, struct swapdev *dev, struct blist *bl)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  dev->blist = bl;
  dev->flags = SWF_INUSE | SWF_ENABLE;
}

/* A device joining a running pool must be empty, or a device this
 * pool left out (swapped off): never another pool's, never data.
 * => returns 0, or -1 after reporting.
 */
static int
check_joinable (struct pool *pool, struct swapdev *dev)
{
  struct sd_stamp st;
  char hex[33];
  int r = swapdev_read_stamp (dev, &st);

  if (r == -1)
    return -1;
  if (r == 0)
    return 0;
  if (memcmp (st.pool_id, pool->pool_id, 16) != 0) {
    sd_hex16 (st.pool_id, hex);
    errno = EBUSY;
    sd_error ("swap: %s: belongs to another pool (%s): refused", dev->path,
              hex);
    return -1;
  }
  if (pool_table_member (&pool->table, st.device_uuid)) {
    errno = EBUSY;
    sd_error ("swap: %s: already in the pool (under another name)",
              dev->path);
    return -1;
  }
  return 0;                     /* swapped off before: reusable */
}

/* Swap-on of an opened device, with the settings the table records. */
static int
swapon_dev (struct pool *pool, struct swapdev *dev,
            const struct devspec *spec, int priority)
{
  struct blist *bl = NULL;

  if (pool_dev_reserve (pool, dev, priority) == -1)
    goto err;
  /* Slow parts, outside the pool lock. */
  bl = blist_create (dev->npages);
  if (bl == NULL) {
    sd_error ("swap: %s: allocator: %m", dev->path);
    goto err_unreserve;
  }
  if (check_joinable (pool, dev) == -1 || pool_format_dev (pool, dev) == -1 ||
      pool_table_add (pool, dev, spec) == -1)
    goto err_unreserve;
  pool_dev_go_live (pool, dev, bl);
  sd_debug ("swap: %s: on: %s, %" PRIu64 " pages at drum slot %" PRIu64
            ", priority %d, maxactive %u", dev->path,
            swapdev_kind_name (dev), dev->npages, dev->drumoffset,
            dev->priority, dev->maxactive);
  return 0;

 err_unreserve:
  pool_dev_unreserve (pool, dev);
  blist_destroy (bl);
 err:
  swapdev_free (dev);
  return -1;
}

int
pool_swapon_dev (struct pool *pool, struct swapdev *dev, int priority)
{
  return swapon_dev (pool, dev, NULL, priority);
}

int
pool_swapon (struct pool *pool, const struct devspec *spec)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  struct swapdev *dev;

  if (spec->priority < SD_PRIORITY_MIN || spec->priority > SD_PRIORITY_MAX) {
    errno = EINVAL;
    sd_error ("swap: %s: priority %d out of range (%d to %d)", spec->path,
              spec->priority, SD_PRIORITY_MIN, SD_PRIORITY_MAX);
    return -1;
  }
  if (spec->maxactive > SD_MAXACTIVE_MAX) {
    errno = EINVAL;
    sd_error ("swap: %s: maxactive %u out of range (1 to %d)", spec->path,
              spec->maxactive, SD_MAXACTIVE_MAX);
    return -1;
  }
  dev = pool->open (spec, pool->description);
  if (dev == NULL)
    return -1;
  return swapon_dev (pool, dev, spec, spec->priority);
}

int
pool_add_tenant (struct pool *pool, struct pool_tenant *t)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct pool_tenant **a;
  size_t i;

  a = realloc (pool->tenants, (pool->ntenants + 1) * sizeof *a);
  if (a == NULL)
    return -1;
  pool->tenants = a;
  pool->tenants[pool->ntenants++] = t;
  for (i = 0; i < pool->table.nexports; i++)
    if (pool->table.exports[i].id == t->id)
      atomic_store (&t->suspect, pool->table.exports[i].suspect);
  return 0;
}

void
pool_remove_tenant (struct pool *pool, struct pool_tenant *t)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  size_t i;

  for (i = 0; i < pool->ntenants; i++) {
    if (pool->tenants[i] == t) {
      pool->tenants[i] = pool->tenants[--pool->ntenants];
      return;
    }
  }
}

struct pool_tenant **
pool_tenants (struct pool *pool, const char *what, size_t *n)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  return pool_tenants_locked (pool, what, n);
}

struct pool_tenant **
pool_tenants_locked (struct pool *pool, const char *what, size_t *n)
{
  struct pool_tenant **a;

  a = malloc ((pool->ntenants + 1) * sizeof *a);
  if (a == NULL) {
    sd_error ("%s: %m", what);
    return NULL;
  }
  if (pool->ntenants > 0)
    memcpy (a, pool->tenants, pool->ntenants * sizeof *a);
  *n = pool->ntenants;
  return a;
}

int
pool_mark_lost (struct pool *pool, struct swapdev *dev, uint64_t *lost)
{
  CLEANUP_FREE struct pool_tenant **ts = NULL;
  size_t i, n = 0;

  ts = pool_tenants (pool, "swap", &n);
  if (ts == NULL)
    return -1;
  *lost = 0;
  for (i = 0; i < n; i++) {
    uint64_t k = ts[i]->ops->mark_lost (ts[i], dev);
    if (k > 0)
      pool_mark_suspect (pool, ts[i], false);
    *lost += k;
  }
  /* The map forgets MAP_LOST at a restart: the table keeps the
   * exports suspect, so that those pages read EIO then too.
   */
  if (*lost > 0 && pool_table_write (pool, NULL) == -1)
    sd_error ("swap: %s: the pool table does not say that pages were "
              "lost: after a restart they would read zeros", dev->path);
  return 0;
}

void
pool_free (struct pool *pool, drum_slot_t slot, uint64_t n)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  while (n > 0) {
    uint64_t k;
    struct swapdev *dev = pool_span (pool, "free", slot, n, &k);

    if (dev == NULL)
      return;
    if (blist_free (dev->blist, slot - dev->drumoffset, k) == -1)
      sd_error ("free: %s: slots %" PRIu64 "+%" PRIu64
                ": not allocated (bug)", dev->path, slot, k);
    else
      dev->npginuse -= k;
    slot += k;
    n -= k;
  }
}

void
pool_markbad (struct pool *pool, drum_slot_t slot)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct swapdev *dev = drum_getsdp (pool->drum, slot);

  if (dev == NULL)
    return;
  dev->npginuse--;
  dev->npgbad++;
  sd_debug ("swap: %s: page %" PRIu64 " marked bad (%" PRIu64 " bad)",
            dev->path, slot - dev->drumoffset, dev->npgbad);
}

struct swapdev *
pool_getsdp (struct pool *pool, drum_slot_t slot)
{
  return drum_getsdp (pool->drum, slot);
}

struct swapdev *
pool_span (struct pool *pool, const char *what, drum_slot_t slot,
           uint64_t n, uint64_t *k)
{
  struct swapdev *dev = drum_getsdp (pool->drum, slot);

  if (dev == NULL) {
    sd_error ("%s: slot %" PRIu64 ": no device owns it (bug)", what, slot);
    return NULL;
  }
  *k = dev->drumoffset + dev->npages - slot;
  if (*k > n)
    *k = n;
  return dev;
}

void
pool_note_error (struct pool *pool, struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  if (!swapdev_failing (dev) || (dev->flags & SWF_FAILED))
    return;
  dev->flags |= SWF_FAILED;
  if (atomic_load (&dev->offline))
    sd_error ("swap: %s: connection lost: marked FAILED, no new pages go "
              "there; its pages read as EIO until it is back", dev->path);
  else
    sd_error ("swap: %s: %d I/O errors in a row: marked FAILED, "
              "no new pages go there", dev->path, SWAPDEV_FAIL_AFTER);
}

uint64_t
pool_npages (struct pool *pool)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  uint64_t total = 0;
  size_t i;

  for (i = 0; i < pool->prio.n; i++)
    if (!(pool->prio.devs[i]->flags & SWF_FAKE))
      total += pool->prio.devs[i]->npages;
  return total;
}

size_t
pool_ndevices (struct pool *pool)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  return pool->prio.n;
}

/* Fill st from dev.  => caller holds the pool lock. */
static int
devstat_fill (struct pool_devstat *st, const struct swapdev *dev)
{
  st->path = strdup (dev->path);
  if (st->path == NULL)
    return -1;
  st->kind = swapdev_kind_name (dev);
  st->drumoffset = dev->drumoffset;
  st->npages = dev->npages;
  st->inuse = dev->npginuse;
  st->bad = dev->npgbad;
  st->avail = dev->npages - dev->npginuse - dev->npgbad;
  st->priority = dev->priority;
  st->maxactive = dev->maxactive;
  st->direct = dev->dfd >= 0;
  st->flags = dev->flags;
  st->peak_active = gate_peak (&dev->gate);
  st->nreads = atomic_load (&dev->nreads);
  st->nwrites = atomic_load (&dev->nwrites);
  st->bytes_read = atomic_load (&dev->bytes_read);
  st->bytes_written = atomic_load (&dev->bytes_written);
  st->read_errors = atomic_load (&dev->read_errors);
  st->write_errors = atomic_load (&dev->write_errors);
  st->reconnects = atomic_load (&dev->reconnects);
  st->lost_pages = atomic_load (&dev->lost_pages);
  return 0;
}

ssize_t
pool_stats (struct pool *pool, struct pool_devstat **stats)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct pool_devstat *st;
  size_t i;

  st = calloc (pool->prio.n + 1, sizeof *st);
  if (st == NULL)
    goto err;
  for (i = 0; i < pool->prio.n; i++) {
    if (devstat_fill (&st[i], pool->prio.devs[i]) == -1) {
      pool_stats_free (st, i);
      goto err;
    }
  }
  *stats = st;
  return pool->prio.n;

 err:
  sd_error ("stats: %m");
  return -1;
}

void
pool_stats_free (struct pool_devstat *stats, size_t n)
{
  size_t i;

  if (stats == NULL)
    return;
  for (i = 0; i < n; i++)
    free (stats[i].path);
  free (stats);
}

int
pool_flush (struct pool *pool)
{
  struct swapdev **devs;
  size_t i, n;
  int r = 0;

  /* Copy the list so that fdatasync runs without the pool lock; devlife
   * keeps swap-off from freeing a device on the copy meanwhile.
   */
  pthread_rwlock_rdlock (&pool->devlife);
  pthread_mutex_lock (&pool->lock);
  devs = malloc ((pool->prio.n + 1) * sizeof *devs);
  for (i = n = 0; devs && i < pool->prio.n; i++)
    if (!(pool->prio.devs[i]->flags & SWF_FAKE))
      devs[n++] = pool->prio.devs[i];
  pthread_mutex_unlock (&pool->lock);
  if (devs == NULL) {
    pthread_rwlock_unlock (&pool->devlife);
    sd_error ("flush: %m");
    return -1;
  }
  for (i = 0; i < n; i++) {
    if (swapdev_flush (devs[i]) == -1) {
      pool_note_error (pool, devs[i]);
      r = -1;
    }
  }
  pthread_rwlock_unlock (&pool->devlife);
  free (devs);
  if (r == -1)
    errno = EIO;
  return r;
}
