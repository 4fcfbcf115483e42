/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The pool table's exports changed live: an export created over the
 * admin socket is marked live (served at every start), a resized one
 * records its new size, a removed one leaves the table.  See pool.h.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool-int.h"
#include "pool/pooltable.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

bool
pool_export_is_live (struct pool *pool, const char *name, bool *shared)
{
  SD_LOCK_FOR_SCOPE (&pool->lock);
  struct pt_export *e = pool_table_export (&pool->table, name);

  if (e && e->live)
    *shared = e->shared;
  return e && e->live;
}

/* What a live change sets in an export's entry of the pool table. */
struct export_patch {
  bool flags;                   /* set live and shared */
  bool live, shared;
  bool resize;                  /* set size */
  uint64_t size;
};

/* Apply p to e.  => returns true if e changed. */
static bool
apply_patch (struct pt_export *e, const struct export_patch *p)
{
  bool changed = false;

  if (p->flags && (e->live != p->live || e->shared != p->shared)) {
    e->live = p->live;
    e->shared = p->shared;
    changed = true;
  }
  if (p->resize && e->size != p->size) {
    e->size = p->size;
    changed = true;
  }
  return changed;
}

/* Apply p to name's entry and write the table to every device if that
 * changed it; if the write fails, the entry is put back as it was.
 * => returns 0, or -1 after reporting (ENOENT: not in the table).
 */
static int
update_export (struct pool *pool, const char *name,
               const struct export_patch *p)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  struct pt_export *e, saved;
  bool changed = false;

  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (&pool->table, name);
  if (e) {
    saved = *e;
    changed = apply_patch (e, p);
  }
  pthread_mutex_unlock (&pool->lock);
  if (e == NULL) {
    errno = ENOENT;
    sd_error ("export: %s: not in the pool table", name);
    return -1;
  }
  if (!changed || pool_table_write (pool, NULL) == 0)
    return 0;
  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (&pool->table, name);
  if (e)
    *e = saved;
  pthread_mutex_unlock (&pool->lock);
  return -1;
}

int
pool_export_set_live (struct pool *pool, const char *name, bool shared)
{
  struct export_patch p = { .flags = true, .live = true, .shared = shared };

  return update_export (pool, name, &p);
}

int
pool_export_set_size (struct pool *pool, const char *name, uint64_t size)
{
  struct export_patch p = { .resize = true, .size = size };

  return update_export (pool, name, &p);
}

/* True if a tenant with export id is registered.  => caller holds the
 * pool lock.
 */
static bool
open_locked (struct pool *pool, uint16_t id)
{
  size_t i;

  for (i = 0; i < pool->ntenants; i++)
    if (pool->tenants[i]->id == id)
      return true;
  return false;
}

int
pool_export_forget (struct pool *pool, const char *name)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  struct pool_table *t = &pool->table;
  struct pt_export *e, saved;
  size_t i;

  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (t, name);
  if (e == NULL || open_locked (pool, e->id)) {
    pthread_mutex_unlock (&pool->lock);
    errno = e ? EBUSY : ENOENT;
    sd_error ("export: %s: %s", name,
              e ? "still open" : "not in the pool table");
    return -1;
  }
  i = e - t->exports;
  saved = *e;
  memmove (e, e + 1, (t->nexports - i - 1) * sizeof *e);
  t->nexports--;
  pthread_mutex_unlock (&pool->lock);

  if (pool_table_write (pool, NULL) == -1) {
    /* Put it back where it was: the devices still list it. */
    pthread_mutex_lock (&pool->lock);
    memmove (&t->exports[i + 1], &t->exports[i],
             (t->nexports - i) * sizeof *e);
    t->exports[i] = saved;
    t->nexports++;
    pthread_mutex_unlock (&pool->lock);
    return -1;
  }
  free (saved.name);
  return 0;
}
