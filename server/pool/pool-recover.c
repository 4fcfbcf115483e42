/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The pool's exports as the pool table keeps them (pool_export), and
 * the recovery of their maps from the devices' page records
 * (pool_recover): docs/design.md, "The durable map".
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool-int.h"
#include "pool/pooltable.h"
#include "storage/blist.h"
#include "storage/format.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* Records per I/O when a record area is cleared or read: 1 MiB. */
#define RECOVER_CHUNK 65536

/* The tenant with export id, or NULL.  => caller holds the pool lock
 * or is alone (recovery runs before any request).
 */
static struct pool_tenant *
tenant_of (struct pool *pool, uint16_t id)
{
  size_t i;

  for (i = 0; i < pool->ntenants; i++)
    if (pool->tenants[i]->id == id)
      return pool->tenants[i];
  return NULL;
}

/* The lowest export id the table does not use, or 0 if none is left. */
static uint16_t
free_export_id (const struct pool_table *t)
{
  uint32_t id;
  size_t i;

  for (id = 1; id <= SD_EXPORT_ID_MAX; id++) {
    for (i = 0; i < t->nexports; i++)
      if (t->exports[i].id == id)
        break;
    if (i == t->nexports)
      return id;
  }
  return 0;
}

/* Add export name of size bytes to the in-memory table. */
static int
table_add_export (struct pool *pool, const char *name, uint64_t size,
                  const struct pool_limits *lim, uint16_t *id)
{
  struct pt_export *a;

  *id = free_export_id (&pool->table);
  if (*id == 0) {
    errno = ENOSPC;
    sd_error ("export: %s: the pool has no export id left", name);
    return -1;
  }
  a = realloc (pool->table.exports,
               (pool->table.nexports + 1) * sizeof *a);
  if (a == NULL) {
    sd_error ("export: %s: %m", name);
    return -1;
  }
  pool->table.exports = a;
  a += pool->table.nexports;
  memset (a, 0, sizeof *a);
  a->name = strdup (name);
  if (a->name == NULL) {
    sd_error ("export: %s: %m", name);
    return -1;
  }
  a->id = *id;
  a->size = size;
  pool_table_set_limits (a, lim);
  pool->table.nexports++;
  return 0;
}

/* Say "none" or "N bytes" into buf. */
static const char *
bytes_str (uint64_t v, char buf[32])
{
  if (v == 0)
    snprintf (buf, 32, "none");
  else
    snprintf (buf, 32, "%" PRIu64 " bytes", v);
  return buf;
}

/* Say "all" or "LO-HI" into buf. */
static const char *
tiers_str (int lo, int hi, char buf[32])
{
  if (lo == SD_PRIORITY_MIN && hi == SD_PRIORITY_MAX)
    snprintf (buf, 32, "all");
  else
    snprintf (buf, 32, "%d-%d", lo, hi);
  return buf;
}

/* A declaration's limits replace the table's: a notice for each that
 * changes.  => caller holds admin_lock; takes the pool lock.
 */
static void
declare_limits (struct pool *pool, struct pt_export *e,
                const struct pool_limits *lim)
{
  char now[32], was[32];

  if (e->quota != lim->quota)
    sd_notice ("export: %s: quota now %s, as declared (the pool had %s)",
               e->name, bytes_str (lim->quota, now),
               bytes_str (e->quota, was));
  if (e->reserve != lim->reserve)
    sd_notice ("export: %s: reserve now %s, as declared (the pool had %s)",
               e->name, bytes_str (lim->reserve, now),
               bytes_str (e->reserve, was));
  if (e->tier_lo != lim->tier_lo || e->tier_hi != lim->tier_hi)
    sd_notice ("export: %s: tiers now %s, as declared (the pool had %s)",
               e->name, tiers_str (lim->tier_lo, lim->tier_hi, now),
               tiers_str (e->tier_lo, e->tier_hi, was));
  pthread_mutex_lock (&pool->lock);
  pool_table_set_limits (e, lim);
  pthread_mutex_unlock (&pool->lock);
}

/* An export the table has: its size must match, its limits are the
 * declaration's (declared) or become *lim.
 */
static int
known_export (struct pool *pool, struct pt_export *e, uint64_t *size,
              struct pool_limits *lim, bool declared, uint16_t *id)
{
  uint64_t want = *size & ~(SD_PAGE_SIZE - 1);

  if (*size != 0 && want > e->size) {
    if ((want >> SD_PAGE_SHIFT) - 1 > SD_RECORD_PAGE_MAX) {
      errno = EINVAL;
      sd_error ("export: %s: size %" PRIu64 ": must be 4096 bytes to 4 PiB",
                e->name, *size);
      return -1;
    }
    sd_notice ("export: %s: size now %" PRIu64 " bytes, as declared (the "
               "pool had %" PRIu64 ")", e->name, want, e->size);
    pthread_mutex_lock (&pool->lock);
    e->size = want;
    pthread_mutex_unlock (&pool->lock);
  }
  else if (*size != 0 && want < e->size)
    sd_notice ("export: %s: declared size %" PRIu64 " is below the %"
               PRIu64 " bytes the pool keeps for it (resized live, or "
               "the declaration changed): serving %" PRIu64 ", since a "
               "start never drops pages; shrink it with `swapdrumctl -c "
               "-e %s -o size=%" PRIu64 "`, which frees the pages past "
               "the new end", e->name, want, e->size, e->size, e->name,
               want);
  *size = e->size;
  *id = e->id;
  if (declared)
    declare_limits (pool, e, lim);
  else
    pool_table_get_limits (e, lim);
  return 0;
}

int
pool_export (struct pool *pool, const char *name, uint64_t *size,
             struct pool_limits *lim, bool declared, uint16_t *id)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  static const struct pool_limits none = {
    .tier_lo = SD_PRIORITY_MIN, .tier_hi = SD_PRIORITY_MAX,
  };
  struct pt_export *e;

  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (&pool->table, name);
  if (e && tenant_of (pool, e->id)) {
    pthread_mutex_unlock (&pool->lock);
    errno = EBUSY;
    sd_error ("export: %s: already open", name);
    return -1;
  }
  pthread_mutex_unlock (&pool->lock);
  if (e)
    return known_export (pool, e, size, lim, declared, id);
  if (!declared)
    *lim = none;
  if (*size == 0)
    *size = pool_npages (pool) * SD_PAGE_SIZE;
  *size &= ~(SD_PAGE_SIZE - 1);
  if (*size == 0 || (*size >> SD_PAGE_SHIFT) - 1 > SD_RECORD_PAGE_MAX) {
    errno = EINVAL;
    sd_error ("export: %s: size %" PRIu64 ": must be 4096 bytes to 4 PiB",
              name, *size);
    return -1;
  }
  pthread_mutex_lock (&pool->lock);
  if (table_add_export (pool, name, *size, lim, id) == -1) {
    pthread_mutex_unlock (&pool->lock);
    return -1;
  }
  pthread_mutex_unlock (&pool->lock);
  return 0;
}

/* Recovery */

/* The sequence of slot's record.  => returns it, or 0 after reporting. */
static uint64_t
record_seq (struct pool *pool, drum_slot_t slot)
{
  struct swapdev *dev = pool_getsdp (pool, slot);
  unsigned char raw[SD_RECORD_SIZE];
  struct sd_record rec;

  if (dev == NULL ||
      swapdev_read_records (dev, slot - dev->drumoffset, 1, raw) == -1 ||
      sd_record_decode (raw, dev->stamp.device_uuid,
                        slot - dev->drumoffset, &rec) != 1) {
    sd_error ("recover: slot %" PRIu64 ": its record cannot be read back",
              slot);
    return 0;
  }
  return rec.seq;
}

/* Take slot back for the page its record names: the newest record of
 * a page wins; the slot of the older one is released.
 */
static int
claim_record (struct pool *pool, struct swapdev *dev, dev_page_t page,
              const struct sd_record *rec)
{
  struct pool_tenant *t = tenant_of (pool, rec->export_id);
  drum_slot_t slot = dev->drumoffset + page, cur, other;
  uint64_t cur_seq;
  int r;

  if (t == NULL) {
    errno = EINVAL;
    sd_error ("swap: %s: the record of page %" PRIu64 " names export id "
              "%u, which the pool does not have (corrupt)", dev->path, page,
              rec->export_id);
    return -1;
  }
  pthread_mutex_lock (&pool->lock);
  r = blist_reserve (dev->blist, page, 1);
  if (r == 0)
    dev->npginuse++;
  pthread_mutex_unlock (&pool->lock);
  if (r == -1) {
    sd_error ("swap: %s: page %" PRIu64 " claimed twice (bug)", dev->path,
              page);
    return -1;
  }
  r = t->ops->claim (t, rec->page, slot, DRUM_NO_SLOT, &cur);
  if (r != 1)
    return r;
  /* Two slots claim the page: a crash came between writing a page's
   * new slot and releasing its old one.
   */
  cur_seq = record_seq (pool, cur);
  if (cur_seq == 0)
    return -1;
  if (cur_seq == rec->seq) {
    errno = EINVAL;
    sd_error ("swap: %s: the record of page %" PRIu64 " and slot %" PRIu64
              " claim one export page with one sequence (corrupt)",
              dev->path, page, cur);
    return -1;
  }
  if (rec->seq > cur_seq) {
    if (t->ops->claim (t, rec->page, slot, cur, &other) != 0)
      return -1;
    pool_release (pool, cur, 1);
  }
  else
    pool_release (pool, slot, 1);
  return 0;
}

/* True if n records at buf are all zeros. */
static bool
records_empty (const unsigned char *buf, uint64_t n)
{
  const uint64_t *w = (const uint64_t *) buf;
  uint64_t i;

  for (i = 0; i < n * SD_RECORD_SIZE / 8; i++)
    if (w[i])
      return false;
  return true;
}

/* Call fn for every record of dev that is not all zeros, decoded (1
 * MiB of records per read; all-zero stretches skipped).  A record that
 * fails its checksum stops the walk with an error.
 * => returns 0, or -1 after reporting (or as fn returned it).
 */
static int
walk_records (struct pool *pool, struct swapdev *dev,
              int (*fn) (struct pool *pool, struct swapdev *dev,
                         dev_page_t page, const struct sd_record *rec,
                         void *opaque),
              void *opaque)
{
  CLEANUP_FREE unsigned char *buf = malloc (RECOVER_CHUNK * SD_RECORD_SIZE);
  uint64_t first, k, i;

  if (buf == NULL) {
    sd_error ("swap: %s: %m", dev->path);
    return -1;
  }
  for (first = 0; first < dev->npages; first += k) {
    k = dev->npages - first < RECOVER_CHUNK ? dev->npages - first
                                            : RECOVER_CHUNK;
    if (swapdev_read_records (dev, first, k, buf) == -1)
      return -1;
    if (records_empty (buf, k))
      continue;
    for (i = 0; i < k; i++) {
      struct sd_record rec;
      int r = sd_record_decode (buf + i * SD_RECORD_SIZE,
                                dev->stamp.device_uuid, first + i, &rec);
      if (r == 0)
        continue;
      if (r == -1) {
        errno = EINVAL;
        sd_error ("swap: %s: the record of page %" PRIu64 " is corrupt "
                  "(checksum): the pool's map cannot be recovered safely",
                  dev->path, first + i);
        return -1;
      }
      if (fn (pool, dev, first + i, &rec, opaque) == -1)
        return -1;
    }
  }
  return 0;
}

/* walk_records: claim the record's page; *opaque (the highest sequence
 * seen) rises to its sequence.
 */
static int
recover_record (struct pool *pool, struct swapdev *dev, dev_page_t page,
                const struct sd_record *rec, void *opaque)
{
  uint64_t *seq_max = opaque;

  if (claim_record (pool, dev, page, rec) == -1)
    return -1;
  if (rec->seq > *seq_max)
    *seq_max = rec->seq;
  return 0;
}

void
pool_mark_suspect (struct pool *pool, struct pool_tenant *t, bool now)
{
  size_t i;

  pthread_mutex_lock (&pool->lock);
  for (i = 0; i < pool->table.nexports; i++)
    if (pool->table.exports[i].id == t->id)
      pool->table.exports[i].suspect = true;
  pthread_mutex_unlock (&pool->lock);
  if (now)
    atomic_store (&t->suspect, true);
}

/* Mark every export suspect, in the table on every device and in the
 * tenants, before any page of a device that lost writes is dropped:
 * a crash in between must not bring those pages back as zeros.
 */
static int
mark_suspect (struct pool *pool)
{
  size_t i;

  pthread_mutex_lock (&pool->lock);
  for (i = 0; i < pool->table.nexports; i++)
    pool->table.exports[i].suspect = true;
  for (i = 0; i < pool->ntenants; i++)
    atomic_store (&pool->tenants[i]->suspect, true);
  pthread_mutex_unlock (&pool->lock);
  return pool_table_write (pool, NULL);
}

/* walk_records on a device that lost writes: if the record's page
 * still points at its slot (the newest record won), unmap the page and
 * release the slot; *opaque counts them.  What the records say may be
 * stale or incomplete.
 */
static int
drop_record (struct pool *pool, struct swapdev *dev, dev_page_t page,
             const struct sd_record *rec, void *opaque)
{
  struct pool_tenant *t = tenant_of (pool, rec->export_id);
  drum_slot_t slot = dev->drumoffset + page, cur;
  uint64_t *dropped = opaque;

  if (t == NULL || t->ops->claim (t, rec->page, DRUM_NO_SLOT, slot,
                                  &cur) != 0)
    return 0;                   /* another slot won (or checked before) */
  pool_release (pool, slot, 1);
  (*dropped)++;
  return 0;
}

/* Drop every page whose newest record is on dev. */
static int
drop_device (struct pool *pool, struct swapdev *dev)
{
  uint64_t dropped = 0;

  if (walk_records (pool, dev, drop_record, &dropped) == -1)
    return -1;
  pool->lost_at_start += dropped;
  sd_notice ("swap: %s: %" PRIu64 " page%s dropped (lost writes)",
             dev->path, dropped, dropped == 1 ? "" : "s");
  return 0;
}

int
pool_recover (struct pool *pool)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  uint64_t seq_max = atomic_load (&pool->seq) - 1;
  size_t i, nlost = 0;

  for (i = 0; i < pool->prio.n; i++) {
    if (walk_records (pool, pool->prio.devs[i], recover_record,
                      &seq_max) == -1)
      return -1;
    nlost += pool_lost_writes (pool, pool->prio.devs[i],
                               &pool->prio.devs[i]->stamp);
  }
  if (seq_max >= SD_SEQ_MAX) {
    errno = EOVERFLOW;
    sd_error ("recover: the page records' sequence is used up");
    return -1;
  }
  atomic_store (&pool->seq, seq_max + 1);
  if (nlost == 0)
    return 0;
  if (mark_suspect (pool) == -1)
    return -1;
  for (i = 0; i < pool->prio.n; i++)
    if (pool_lost_writes (pool, pool->prio.devs[i],
                          &pool->prio.devs[i]->stamp) &&
        drop_device (pool, pool->prio.devs[i]) == -1)
      return -1;
  return 0;
}

int
pool_trust_export (struct pool *pool, const char *name)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  struct pt_export *e;
  struct pool_tenant *t;
  bool was;

  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (&pool->table, name);
  if (e == NULL) {
    pthread_mutex_unlock (&pool->lock);
    errno = ENOENT;
    sd_error ("trust: export %s: no such export", name);
    return -1;
  }
  was = e->suspect;
  e->suspect = false;
  pthread_mutex_unlock (&pool->lock);
  if (!was)
    return 0;
  /* The table first: if it cannot be written, the export stays
   * suspect everywhere, on the devices and here.
   */
  if (pool_table_write (pool, NULL) == -1) {
    pthread_mutex_lock (&pool->lock);
    e = pool_table_export (&pool->table, name);
    if (e)
      e->suspect = true;
    pthread_mutex_unlock (&pool->lock);
    return -1;
  }
  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (&pool->table, name);
  t = e ? tenant_of (pool, e->id) : NULL;
  if (t)
    atomic_store (&t->suspect, false);
  pthread_mutex_unlock (&pool->lock);
  sd_notice ("export %s: unwritten pages read zeros again (trusted by the "
             "operator after a host crash)", name);
  return 0;
}

/* The names of the table's exports (all, or the suspect ones).
 * => caller holds the pool lock; returns them as pool_suspect_exports
 *    does.
 */
static char **
table_names (struct pool *pool, bool suspect_only)
{
  char **names = calloc (pool->table.nexports + 1, sizeof *names);
  size_t i, n = 0;

  if (names == NULL)
    return NULL;
  for (i = 0; i < pool->table.nexports; i++) {
    if (suspect_only && !pool->table.exports[i].suspect)
      continue;
    names[n] = strdup (pool->table.exports[i].name);
    if (names[n++] == NULL) {
      pool_names_free (names);
      errno = ENOMEM;
      return NULL;
    }
  }
  return names;
}

char **
pool_suspect_exports (struct pool *pool, uint64_t *lost)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  *lost = pool->lost_at_start;
  return table_names (pool, true);
}

char **
pool_export_names (struct pool *pool)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);

  return table_names (pool, false);
}

void
pool_names_free (char **names)
{
  size_t i;

  if (names == NULL)
    return;
  for (i = 0; names[i]; i++)
    free (names[i]);
  free (names);
}
