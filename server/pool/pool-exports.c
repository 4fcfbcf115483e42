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

/* Set name's flags in the table.  => caller holds the pool lock.
 * returns 1 if they changed, 0 if not, -1 if the table has no such
 * export.
 */
static int
set_flags_locked (struct pool *pool, const char *name, bool live,
                  bool shared)
{
  struct pt_export *e = pool_table_export (&pool->table, name);
  bool same;

  if (e == NULL)
    return -1;
  same = e->live == live && e->shared == shared;
  e->live = live;
  e->shared = shared;
  return !same;
}

int
pool_export_set_live (struct pool *pool, const char *name, bool shared)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  int changed;

  pthread_mutex_lock (&pool->lock);
  changed = set_flags_locked (pool, name, true, shared);
  pthread_mutex_unlock (&pool->lock);
  if (changed == -1) {
    errno = ENOENT;
    sd_error ("export: %s: not in the pool table", name);
    return -1;
  }
  if (changed == 0)
    return 0;
  if (pool_table_write (pool, NULL) == -1) {
    pthread_mutex_lock (&pool->lock);
    set_flags_locked (pool, name, false, false);
    pthread_mutex_unlock (&pool->lock);
    return -1;
  }
  return 0;
}

int
pool_export_set_size (struct pool *pool, const char *name, uint64_t size)
{
  SD_LOCK_FOR_SCOPE (&pool->admin_lock);
  struct pt_export *e;
  uint64_t was = 0;

  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (&pool->table, name);
  if (e) {
    was = e->size;
    e->size = size;
  }
  pthread_mutex_unlock (&pool->lock);
  if (e == NULL) {
    errno = ENOENT;
    sd_error ("export: %s: not in the pool table", name);
    return -1;
  }
  if (was == size || pool_table_write (pool, NULL) == 0)
    return 0;
  pthread_mutex_lock (&pool->lock);
  e = pool_table_export (&pool->table, name);
  if (e)
    e->size = was;
  pthread_mutex_unlock (&pool->lock);
  return -1;
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
