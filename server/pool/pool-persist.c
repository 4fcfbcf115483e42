/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* What the pool keeps on its devices (docs/design.md, "The durable
 * map"): formatting a device, the pool table on every device, writing
 * and clearing page records, and the stamps' ACTIVE and CLEAN states
 * at start and stop.  Assembly is in pool-assemble.c, recovery in
 * pool-recover.c.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "pool/pool-int.h"
#include "pool/pooltable.h"
#include "storage/blist.h"
#include "storage/format.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* Records per I/O when a record area is cleared or read: 1 MiB. */
#define RECOVER_CHUNK 65536

static int clear_records (struct swapdev *dev);

/* Parse 32 hex digits, dashes ignored (a boot id as the kernel
 * writes it).  => returns 0, or -1.
 */
static int
parse_uuid (const char *s, uint8_t out[16])
{
  size_t n = 0;
  int hi = -1;

  for (; *s && *s != '\n'; s++) {
    int v;
    if (*s == '-')
      continue;
    if (*s >= '0' && *s <= '9')
      v = *s - '0';
    else if (*s >= 'a' && *s <= 'f')
      v = *s - 'a' + 10;
    else
      return -1;
    if (hi < 0)
      hi = v;
    else if (n < 16) {
      out[n++] = hi << 4 | v;
      hi = -1;
    }
    else
      return -1;
  }
  return n == 16 && hi < 0 ? 0 : -1;
}

/* This boot's id (/proc/sys/kernel/random/boot_id): a process crash
 * keeps it, a host crash changes it.  SWAPDRUM_TEST_BOOT_ID replaces
 * it, so that tests can play a host that rebooted.
 */
static void
read_boot_id (uint8_t out[16])
{
  const char *env = getenv ("SWAPDRUM_TEST_BOOT_ID");
  char buf[64] = "";
  int fd;
  ssize_t r;

  memset (out, 0, 16);
  if (env && parse_uuid (env, out) == 0)
    return;
  fd = open ("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return;
  r = read (fd, buf, sizeof buf - 1);
  close (fd);
  if (r > 0) {
    buf[r] = 0;
    if (parse_uuid (buf, out) == -1)
      memset (out, 0, 16);
  }
}

void
pool_persist_init (struct pool *pool)
{
  read_boot_id (pool->boot_id);
  atomic_store (&pool->seq, 1);
  pool->recovery = "not started";
}

const char *
pool_recovery (struct pool *pool)
{
  return pool->recovery;
}

/* Fill a new device's stamp: a fresh device id, this pool, its
 * layout.  Written later (pool_table_write).
 */
static int
format_stamp (struct pool *pool, struct swapdev *dev)
{
  struct sd_stamp *st = &dev->stamp;

  memset (st, 0, sizeof *st);
  st->version = SD_FORMAT_VERSION;
  memcpy (st->pool_id, pool->pool_id, 16);
  if (getrandom (st->device_uuid, 16, 0) != 16) {
    sd_error ("swap: %s: device id: %m", dev->path);
    return -1;
  }
  st->npages = dev->npages;
  st->table_offset = dev->table_offset;
  st->records_offset = dev->records_offset;
  st->data_offset = dev->data_offset;
  st->state = SD_STATE_ACTIVE;
  memcpy (st->boot_id, pool->boot_id, 16);
  st->dirty = 1;
  return 0;
}

/* Zero a new device's record area: whatever it held (a used device
 * formatted with new-pool=true, a disk that had other data) would not
 * verify under the new device id, and would stop the next start.
 */
static int
clear_records (struct swapdev *dev)
{
  uint64_t left = dev->npages, page = 0, k;
  CLEANUP_FREE unsigned char *zeros = calloc (RECOVER_CHUNK,
                                              SD_RECORD_SIZE);

  if (zeros == NULL) {
    sd_error ("swap: %s: %m", dev->path);
    return -1;
  }
  for (; left > 0; page += k, left -= k) {
    k = left < RECOVER_CHUNK ? left : RECOVER_CHUNK;
    if (dev->ops->pwrite (dev, zeros, k * SD_RECORD_SIZE,
                          dev->records_offset + page * SD_RECORD_SIZE,
                          false) == -1) {
      sd_error ("swap: %s: clearing the page records: %m", dev->path);
      return -1;
    }
  }
  return 0;
}

/* Write the table, as the next generation, to every device in the
 * pool (not FAKE ones) and to include: encoded and the device list
 * copied under the pool lock, written without it, with devlife held
 * shared so that swap-off cannot free a device on the copy.
 * => caller holds table_lock.
 */
static int
write_table_locked (struct pool *pool, struct swapdev *include)
{
  CLEANUP_FREE char *json = NULL;
  CLEANUP_FREE struct swapdev **devs = NULL;
  size_t len = 0, i, n = 0;
  int r = 0;

  pthread_rwlock_rdlock (&pool->devlife);
  pthread_mutex_lock (&pool->lock);
  json = pool_table_encode (&pool->table, &len);
  devs = malloc ((pool->prio.n + 1) * sizeof *devs);
  for (i = 0; devs && i < pool->prio.n; i++)
    if (!(pool->prio.devs[i]->flags & SWF_FAKE) ||
        pool->prio.devs[i] == include)
      devs[n++] = pool->prio.devs[i];
  pthread_mutex_unlock (&pool->lock);
  if (json == NULL || devs == NULL) {
    sd_error ("swap: pool table: %m");
    r = -1;
  }
  for (i = 0; r == 0 && i < n; i++)
    r = swapdev_write_table (devs[i], json, len, pool->table_gen + 1);
  pthread_rwlock_unlock (&pool->devlife);
  if (r == 0)
    pool->table_gen++;
  return r;
}

int
pool_table_write (struct pool *pool, struct swapdev *include)
{
  SD_LOCK_FOR_SCOPE (&pool->table_lock);

  return write_table_locked (pool, include);
}

int
pool_restamp (struct pool *pool, struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&pool->table_lock);
  CLEANUP_FREE char *json = NULL;
  size_t len = 0;

  if (clear_records (dev) == -1)
    return -1;
  pthread_mutex_lock (&pool->lock);
  json = pool_table_encode (&pool->table, &len);
  pthread_mutex_unlock (&pool->lock);
  if (json == NULL) {
    sd_error ("swap: %s: pool table: %m", dev->path);
    return -1;
  }
  return swapdev_write_table (dev, json, len, pool->table_gen);
}

/* The table entry for dev, opened as spec says. */
static int
member_of (const struct swapdev *dev, const struct devspec *spec,
           struct pt_member *m)
{
  memcpy (m->uuid, dev->stamp.device_uuid, 16);
  m->path = strdup (dev->path);
  if (m->path == NULL)
    return -1;
  m->priority = dev->priority;
  m->maxactive = spec ? spec->maxactive : 0;
  m->timeout = spec ? spec->timeout : 0;
  m->direct = dev->dfd >= 0;
  return 0;
}

int
pool_table_append (struct pool *pool, struct swapdev *dev,
                   const struct devspec *spec)
{
  struct pt_member *a;

  a = realloc (pool->table.members,
               (pool->table.nmembers + 1) * sizeof *a);
  if (a == NULL)
    return -1;
  pool->table.members = a;
  if (member_of (dev, spec, &a[pool->table.nmembers]) == -1)
    return -1;
  pool->table.nmembers++;
  return 0;
}

/* Remove the member with dev's uuid from the in-memory table;
 * => returns the removed entry (path to free) in *out, or false.
 */
static bool
table_drop (struct pool *pool, const struct swapdev *dev,
            struct pt_member *out)
{
  struct pt_member *m = pool_table_member (&pool->table,
                                           dev->stamp.device_uuid);
  size_t i;

  if (m == NULL)
    return false;
  i = m - pool->table.members;
  *out = *m;
  memmove (m, m + 1, (pool->table.nmembers - i - 1) * sizeof *m);
  pool->table.nmembers--;
  return true;
}

int
pool_table_add (struct pool *pool, struct swapdev *dev,
                const struct devspec *spec)
{
  SD_LOCK_FOR_SCOPE (&pool->table_lock);
  struct pt_member old;
  int saved_errno;

  pthread_mutex_lock (&pool->lock);
  if (pool_table_append (pool, dev, spec) == -1) {
    pthread_mutex_unlock (&pool->lock);
    sd_error ("swap: %s: pool table: %m", dev->path);
    return -1;
  }
  pthread_mutex_unlock (&pool->lock);
  if (write_table_locked (pool, dev) == 0)
    return 0;
  saved_errno = errno;
  pthread_mutex_lock (&pool->lock);
  if (table_drop (pool, dev, &old))
    free (old.path);
  pthread_mutex_unlock (&pool->lock);
  /* Put the old table back where the new one may have landed. */
  if (write_table_locked (pool, NULL) == -1)
    sd_error ("swap: %s: the pool table could not be put back; the device "
              "may be named in it after a restart", dev->path);
  errno = saved_errno;
  return -1;
}

int
pool_table_remove (struct pool *pool, struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&pool->table_lock);
  struct pt_member old;
  bool had;

  pthread_mutex_lock (&pool->lock);
  had = table_drop (pool, dev, &old);
  pthread_mutex_unlock (&pool->lock);
  if (!had)
    return 0;
  free (old.path);
  return write_table_locked (pool, NULL);
}

/* Records */

uint64_t
pool_next_seq (struct pool *pool)
{
  return atomic_fetch_add (&pool->seq, 1);
}

void
pool_release (struct pool *pool, drum_slot_t slot, uint64_t n)
{
  while (n > 0) {
    uint64_t k, i;
    struct swapdev *dev = pool_span (pool, "free", slot, n, &k);

    if (dev == NULL)
      return;
    if (swapdev_clear_records (dev, slot - dev->drumoffset, k) == 0 ||
        atomic_load (&dev->offline))
      /* An offline device's slots are unreachable, not broken: they go
       * back as export_drop_slot gives them back (docs/design.md, "The
       * durable map": a record left behind there is a known gap).
       */
      pool_free (pool, slot, k);
    else {
      sd_error ("free: %s: pages %" PRIu64 "+%" PRIu64 ": clearing their "
                "records: %m: kept as bad pages", dev->path,
                slot - dev->drumoffset, k);
      pool_note_error (pool, dev);
      for (i = 0; i < k; i++)
        pool_markbad (pool, slot + i);
    }
    slot += k;
    n -= k;
  }
}

int
pool_format_dev (struct pool *pool, struct swapdev *dev)
{
  if (format_stamp (pool, dev) == -1 || clear_records (dev) == -1)
    return -1;
  return 0;
}

/* Start and stop */

int
pool_start (struct pool *pool)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  char hex[33];
  size_t i;

  for (i = 0; i < pool->prio.n; i++)
    swapdev_set_state (pool->prio.devs[i], SD_STATE_ACTIVE, pool->boot_id,
                       pool->prio.devs[i]->stamp.seq_high);
  if (pool_table_write (pool, NULL) == -1)
    return -1;
  pool->started = true;
  sd_hex16 (pool->pool_id, hex);
  sd_notice ("pool %s: %zu device%s, %s", hex, pool->prio.n,
             pool->prio.n == 1 ? "" : "s", pool->recovery);
  return 0;
}

void
pool_close (struct pool *pool)
{
  uint64_t high = atomic_load (&pool->seq) - 1;
  size_t i;

  if (!pool->started)
    return;
  if (pool_flush (pool) == -1) {
    sd_error ("pool: a flush failed: the devices stay marked in use, so "
              "the next start treats this stop as a crash");
    return;
  }
  for (i = 0; i < pool->prio.n; i++) {
    struct swapdev *dev = pool->prio.devs[i];
    if (dev->flags & SWF_FAKE)
      continue;
    swapdev_set_state (dev, SD_STATE_CLEAN, NULL, high);
    swapdev_write_stamp (dev);
  }
  pool->started = false;
}
