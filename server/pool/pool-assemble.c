/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Bringing the pool up from its devices at start (pool_assemble,
 * pool.h): which devices are the pool's, which are refused, how the
 * last server left them (docs/design.md, "The durable map").
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool/pool-int.h"
#include "pool/pooltable.h"
#include "storage/blist.h"
#include "storage/format.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* A device found at start: opened from specs or from the table. */
struct candidate {
  struct swapdev *dev;
  struct devspec spec;          /* how to open it (path borrowed) */
  int formatted;                /* 1: its stamp is ours, 0: empty */
  struct sd_stamp st;
  bool keep;                    /* joins the pool */
};

struct assembly {
  struct pool *pool;
  struct candidate *c;
  size_t n, cap;
  struct pool_table table;      /* the newest table on the devices */
  uint64_t table_gen;
};

static void
assembly_free (struct assembly *a)
{
  size_t i;

  for (i = 0; i < a->n; i++)
    swapdev_free (a->c[i].dev);
  free (a->c);
  pool_table_free (&a->table);
}

/* Open spec as one more candidate, and read its stamp unless new_pool. */
static int
add_candidate (struct assembly *a, const struct devspec *spec,
               bool new_pool)
{
  struct candidate *c;
  size_t i;

  if (a->n == a->cap) {
    size_t cap = a->cap ? 2 * a->cap : 8;
    c = realloc (a->c, cap * sizeof *c);
    if (c == NULL) {
      sd_error ("swap: %s: %m", spec->path);
      return -1;
    }
    a->c = c;
    a->cap = cap;
  }
  c = &a->c[a->n];
  memset (c, 0, sizeof *c);
  c->spec = *spec;
  c->dev = a->pool->open (spec, a->pool->description);
  if (c->dev == NULL)
    return -1;
  a->n++;
  for (i = 0; i + 1 < a->n; i++) {
    if (strcmp (a->c[i].dev->ident, c->dev->ident) == 0) {
      errno = EBUSY;
      sd_error ("swap: %s: already in the pool as %s", spec->path,
                a->c[i].dev->path);
      return -1;
    }
  }
  if (new_pool)
    return 0;
  c->formatted = swapdev_read_stamp (c->dev, &c->st);
  return c->formatted == -1 ? -1 : 0;
}

/* The first formatted candidate, or NULL. */
static struct candidate *
first_formatted (struct assembly *a)
{
  size_t i;

  for (i = 0; i < a->n; i++)
    if (a->c[i].formatted == 1)
      return &a->c[i];
  return NULL;
}

/* Every formatted candidate belongs to ref's pool, and no two carry
 * one device id.
 */
static int
check_same_pool (struct assembly *a, const struct candidate *ref)
{
  char want[33], have[33];
  size_t i, j;

  for (i = 0; i < a->n; i++) {
    const struct candidate *c = &a->c[i];
    if (c->formatted != 1)
      continue;
    if (memcmp (c->st.pool_id, ref->st.pool_id, 16) != 0) {
      sd_hex16 (ref->st.pool_id, want);
      sd_hex16 (c->st.pool_id, have);
      errno = EINVAL;
      sd_error ("swap: %s: belongs to another pool (%s), not to the pool "
                "%s on %s", c->dev->path, have, want, ref->dev->path);
      return -1;
    }
    for (j = 0; j < i; j++) {
      if (a->c[j].formatted == 1 &&
          memcmp (a->c[j].st.device_uuid, c->st.device_uuid, 16) == 0) {
        errno = EINVAL;
        sd_error ("swap: %s: carries the same device id as %s (a copy of "
                  "it?)", c->dev->path, a->c[j].dev->path);
        return -1;
      }
    }
  }
  return 0;
}

/* Read the newest pool table among the formatted candidates. */
static int
read_newest_table (struct assembly *a)
{
  struct candidate *best = NULL;
  CLEANUP_FREE char *json = NULL;
  const char *why;
  size_t i;

  for (i = 0; i < a->n; i++)
    if (a->c[i].formatted == 1 &&
        (best == NULL || a->c[i].st.table_gen > best->st.table_gen))
      best = &a->c[i];
  json = swapdev_read_table (best->dev, &best->st);
  if (json == NULL)
    return -1;
  if (pool_table_decode (json, best->st.table_len, &a->table, &why) == -1) {
    errno = EINVAL;
    sd_error ("swap: %s: %s", best->dev->path, why);
    return -1;
  }
  a->table_gen = best->st.table_gen;
  return 0;
}

/* The candidate whose stamp carries uuid, or NULL. */
static struct candidate *
find_uuid (struct assembly *a, const uint8_t uuid[16])
{
  size_t i;

  for (i = 0; i < a->n; i++)
    if (a->c[i].formatted == 1 &&
        memcmp (a->c[i].st.device_uuid, uuid, 16) == 0)
      return &a->c[i];
  return NULL;
}

/* Open the members of the table that no spec named (added live). */
static int
open_unnamed_members (struct assembly *a)
{
  char hex[33];
  size_t i;

  for (i = 0; i < a->table.nmembers; i++) {
    const struct pt_member *m = &a->table.members[i];
    struct devspec spec = {
      .path = m->path, .priority = m->priority, .priority_set = true,
      .maxactive = m->maxactive, .timeout = m->timeout,
      .direct = m->direct,
    };
    struct candidate *c;

    if (find_uuid (a, m->uuid))
      continue;
    sd_hex16 (m->uuid, hex);
    if (!devspec_is_uri (m->path) && access (m->path, F_OK) == -1) {
      sd_error ("swap: %s: pool member (device %s) is missing: %m",
                m->path, hex);
      return -1;
    }
    if (add_candidate (a, &spec, false) == -1)
      return -1;
    c = &a->c[a->n - 1];
    if (c->formatted != 1 || memcmp (c->st.device_uuid, m->uuid, 16)) {
      errno = EINVAL;
      sd_error ("swap: %s: pool member (device %s) is missing: that path "
                "now holds %s", m->path, hex,
                c->formatted == 1 ? "another device" : "an empty device");
      return -1;
    }
    sd_notice ("swap: %s: pool member added with swapdrumctl, opened from "
               "the pool table", m->path);
  }
  return 0;
}

/* Decide which candidates join: members keep the table's settings
 * (live changes win), devices of the pool the table no longer lists
 * are left out, empty devices join as new members.
 */
static void
choose_members (struct assembly *a)
{
  size_t i;

  for (i = 0; i < a->n; i++) {
    struct candidate *c = &a->c[i];
    struct pt_member *m;

    if (c->formatted != 1) {
      c->keep = true;
      sd_notice ("swap: %s: empty device: joins the pool", c->dev->path);
      continue;
    }
    m = pool_table_member (&a->table, c->st.device_uuid);
    if (m == NULL) {
      sd_notice ("swap: %s: was removed from the pool (swapdrumctl -d) "
                 "before the restart: left out", c->dev->path);
      continue;
    }
    c->keep = true;
    c->spec.priority = m->priority;
    c->spec.maxactive = m->maxactive;
    c->spec.timeout = m->timeout;
    /* direct= is how this start opened the device: a restart with
     * another direct= on the command line or in the config file
     * changes it.
     */
    m->direct = c->dev->dfd >= 0;
  }
}

/* Say how the pool was left, from its members' stamps, and name the
 * devices a host crash may have taken writes from: those whose data
 * lives in this host's page cache (intent), left ACTIVE by another boot
 * and not marked clean by a flush since their last write.
 * pool_recover drops their pages (docs/design.md, "Host crashes").
 */
static void
judge_shutdown (struct assembly *a)
{
  bool active = false, host = false;
  size_t i, unflushed = 0;

  for (i = 0; i < a->n; i++) {
    const struct candidate *c = &a->c[i];
    if (!c->keep || c->formatted != 1 || c->st.state != SD_STATE_ACTIVE)
      continue;
    active = true;
    if (!c->dev->intent || memcmp (c->st.boot_id, a->pool->boot_id, 16) == 0)
      continue;
    host = true;
    if (pool_lost_writes (a->pool, c->dev, &c->st)) {
      unflushed++;
      sd_notice ("swap: %s: written since its last flush when this host "
                 "went down (another boot id): the writes may be lost, so "
                 "its pages are dropped and read EIO", c->dev->path);
    }
  }
  if (!active)
    a->pool->recovery = "clean shutdown";
  else if (!host)
    a->pool->recovery = "process crash on this boot";
  else if (unflushed == 0)
    a->pool->recovery = "host crash, every device flushed";
  else
    a->pool->recovery = "host crash, with writes lost";
}

/* The highest seq_high of the members' stamps. */
static uint64_t
seq_floor (const struct assembly *a)
{
  uint64_t high = 0;
  size_t i;

  for (i = 0; i < a->n; i++)
    if (a->c[i].keep && a->c[i].formatted == 1 &&
        a->c[i].st.seq_high > high)
      high = a->c[i].st.seq_high;
  return high;
}

/* Put one chosen candidate in the pool: drum range, allocator, live.
 * The pool owns the device from here on (even on failure).
 */
static int
join (struct pool *pool, struct candidate *c)
{
  struct swapdev *dev = c->dev;
  struct blist *bl;

  c->dev = NULL;
  if (c->formatted == 1)
    dev->stamp = c->st;
  else if (pool_format_dev (pool, dev) == -1) {
    swapdev_free (dev);
    return -1;
  }
  if (pool_dev_reserve (pool, dev, c->spec.priority) == -1) {
    swapdev_free (dev);
    return -1;
  }
  bl = blist_create (dev->npages);
  if (bl == NULL) {
    sd_error ("swap: %s: allocator: %m", dev->path);
    pool_dev_unreserve (pool, dev);
    swapdev_free (dev);
    return -1;
  }
  pool_dev_go_live (pool, dev, bl);
  if (c->formatted != 1 && pool_table_append (pool, dev, &c->spec) == -1) {
    sd_error ("swap: %s: pool table: %m", dev->path);
    return -1;
  }
  return 0;
}

/* Adopt the pool the devices carry: its id and table. */
static int
adopt (struct assembly *a, const struct candidate *ref)
{
  struct pool *pool = a->pool;

  memcpy (pool->pool_id, ref->st.pool_id, 16);
  pool_describe (pool);
  pool->table = a->table;
  memset (&a->table, 0, sizeof a->table);
  pool->table_gen = a->table_gen;
  atomic_store (&pool->seq, seq_floor (a) + 1);
  return 0;
}

/* The table names a member by the path it was last opened with. */
static int
update_path (struct pool *pool, const struct candidate *c)
{
  struct pt_member *m = pool_table_member (&pool->table,
                                           c->st.device_uuid);
  char *path;

  if (m == NULL || strcmp (m->path, c->dev->path) == 0)
    return 0;
  path = strdup (c->dev->path);
  if (path == NULL) {
    sd_error ("swap: %s: %m", c->dev->path);
    return -1;
  }
  free (m->path);
  m->path = path;
  return 0;
}

/* Put every kept candidate in the pool, in spec order. */
static int
join_all (struct assembly *a)
{
  size_t i;

  for (i = 0; i < a->n; i++) {
    if (!a->c[i].keep)
      continue;
    if (a->c[i].formatted == 1 && update_path (a->pool, &a->c[i]) == -1)
      return -1;
    if (join (a->pool, &a->c[i]) == -1)
      return -1;
  }
  return 0;
}

int
pool_assemble (struct pool *pool, const struct devspec *specs, size_t n,
               bool new_pool)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  struct assembly a = { .pool = pool };
  struct candidate *ref;
  size_t i;
  int r = -1;

  for (i = 0; i < n; i++)
    if (add_candidate (&a, &specs[i], new_pool) == -1)
      goto out;
  ref = first_formatted (&a);
  if (ref == NULL) {
    for (i = 0; i < a.n; i++)
      a.c[i].keep = true;
    pool->recovery = "new pool";
  }
  else {
    if (check_same_pool (&a, ref) == -1 || read_newest_table (&a) == -1 ||
        open_unnamed_members (&a) == -1)
      goto out;
    choose_members (&a);
    judge_shutdown (&a);
    if (adopt (&a, ref) == -1)
      goto out;
  }
  for (i = 0; i < a.n && !a.c[i].keep; i++)
    ;
  if (i == a.n) {
    errno = ENOENT;
    sd_error ("swap: every device named was removed from the pool before "
              "the restart: no device is left (add one, or new-pool=true)");
    goto out;
  }
  r = join_all (&a);
 out:
  assembly_free (&a);
  return r;
}

