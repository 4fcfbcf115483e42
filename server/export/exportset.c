/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The exports a server serves (swapdrum/exportset.h): opened at start
 * from the declarations and the pool table, changed live by the admin
 * socket.  Locking: exportset-int.h.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/exportset-int.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* Pages a removal frees between two progress reports: 64 MiB. */
#define REMOVE_CHUNK_PAGES 16384

/* Append a new entry for exp to the set (exp is destroyed if that
 * fails).  => caller holds set->lock or is alone.
 */
static struct xs_entry *
add (struct exportset *set, struct export *exp, bool served, bool live,
     bool shared)
{
  struct xs_entry **a = realloc (set->entries, (set->n + 1) * sizeof *a);
  struct xs_entry *e = calloc (1, sizeof *e);

  if (a)
    set->entries = a;
  if (a == NULL || e == NULL) {
    sd_error ("export: %s: %m", export_name (exp));
    free (e);
    export_destroy (exp);
    return NULL;
  }
  e->exp = exp;
  e->served = served;
  e->live = live;
  e->shared = shared;
  set->entries[set->n++] = e;
  return e;
}

struct xs_entry *
xs_lookup (const struct exportset *set, const char *name)
{
  size_t i;

  for (i = 0; i < set->n; i++)
    if (strcmp (export_name (set->entries[i]->exp), name) == 0)
      return set->entries[i];
  return NULL;
}

static const struct exportspec *
declaration (const struct exportspec *decls, size_t n, const char *name)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (strcmp (decls[i].name, name) == 0)
      return &decls[i];
  return NULL;
}

/* Check the declarations among themselves. */
static int
check_decls (const struct exportspec *decls, size_t n, uint64_t default_size)
{
  size_t i;

  if (n > 0 && default_size != 0) {
    errno = EINVAL;
    sd_error ("size: the default export's size, but exports are declared "
              "(export=): give each its size=");
    return -1;
  }
  for (i = 0; i < n; i++)
    if (declaration (decls, i, decls[i].name)) {
      errno = EINVAL;
      sd_error ("export: %s: declared twice", decls[i].name);
      return -1;
    }
  return 0;
}

/* Open the table's exports that are not declared: the live ones
 * served, the others kept.
 */
static int
open_undeclared (struct exportset *set, const struct exportspec *decls,
                 size_t n)
{
  char **names = pool_export_names (set->pool);
  struct export *exp;
  bool live, shared = false;
  size_t i;
  int r = 0;

  if (names == NULL) {
    sd_error ("export: %m");
    return -1;
  }
  for (i = 0; names[i] && r == 0; i++) {
    if (declaration (decls, n, names[i]))
      continue;
    live = pool_export_is_live (set->pool, names[i], &shared);
    exp = export_create (set->pool, names[i], 0);
    if (exp == NULL || add (set, exp, live, live, shared) == NULL) {
      r = -1;
      break;
    }
    if (!live)
      sd_notice ("export: %s: in the pool but not declared: not served; "
                 "its pages are kept", names[i]);
  }
  pool_names_free (names);
  return r;
}

static struct exportset *
new_set (struct pool *pool)
{
  struct exportset *set = calloc (1, sizeof *set);

  if (set == NULL) {
    sd_error ("export: %m");
    return NULL;
  }
  set->pool = pool;
  pthread_mutex_init (&set->admin, NULL);
  pthread_mutex_init (&set->lock, NULL);
  return set;
}

struct exportset *
exportset_open (struct pool *pool, const struct exportspec *decls, size_t n,
                uint64_t default_size)
{
  struct exportset *set;
  struct exportspec dflt = { .name = (char *) "", .size = default_size };
  struct export *exp;
  size_t i;

  if (check_decls (decls, n, default_size) == -1)
    return NULL;
  set = new_set (pool);
  if (set == NULL)
    return NULL;
  if (n == 0) {
    /* The default export keeps the table's quota: it has no
     * declaration to take one from.
     */
    exp = export_create (pool, dflt.name, dflt.size);
    if (exp == NULL || add (set, exp, true, false, false) == NULL)
      goto err;
  }
  for (i = 0; i < n; i++) {
    exp = export_create_spec (pool, &decls[i]);
    if (exp == NULL || add (set, exp, true, false, decls[i].shared) == NULL)
      goto err;
  }
  if (open_undeclared (set, n ? decls : &dflt, n ? n : 1) == -1)
    goto err;
  return set;

 err:
  exportset_destroy (set);
  return NULL;
}

void
exportset_destroy (struct exportset *set)
{
  size_t i;

  if (set == NULL)
    return;
  for (i = 0; i < set->n; i++) {
    export_destroy (set->entries[i]->exp);
    free (set->entries[i]->host);
    free (set->entries[i]);
  }
  free (set->entries);
  pthread_mutex_destroy (&set->lock);
  pthread_mutex_destroy (&set->admin);
  free (set);
}

char **
exportset_names (struct exportset *set)
{
  SD_LOCK_FOR_SCOPE (&set->lock);
  char **names = calloc (set->n + 1, sizeof *names);
  size_t i, k = 0;

  for (i = 0; names && i < set->n; i++) {
    if (!set->entries[i]->served)
      continue;
    names[k] = strdup (export_name (set->entries[i]->exp));
    if (names[k++] == NULL) {
      pool_names_free (names);
      names = NULL;
    }
  }
  if (names == NULL)
    sd_error ("export: %m");
  return names;
}

/* Fill *out from e.  => caller holds set->lock.  returns -1 with
 * errno ENOMEM.
 */
static int
info_of (const struct xs_entry *e, struct sd_export_info *out)
{
  int k;

  out->name = strdup (export_name (e->exp));
  out->host = e->host ? strdup (e->host) : NULL;
  if (out->name == NULL || (e->host && out->host == NULL))
    return -1;
  out->served = e->served;
  out->live = e->live;
  out->shared = e->shared;
  out->removing = e->removing;
  out->size = export_size (e->exp);
  out->quota = export_quota (e->exp);
  out->used = export_used (e->exp);
  out->reserve = export_reserve (e->exp);
  export_tiers (e->exp, &out->tier_lo, &out->tier_hi);
  out->sessions = e->sessions;
  for (k = 0; k < SD_IO_KINDS; k++)
    iostats_snapshot (&e->io, k, &out->io[k]);
  return 0;
}

ssize_t
exportset_info (struct exportset *set, struct sd_export_info **info)
{
  SD_LOCK_FOR_SCOPE (&set->lock);
  struct sd_export_info *a = calloc (set->n + 1, sizeof *a);
  size_t i, k = 0;
  int pass;

  /* Served ones first, then the others, each in set order. */
  for (pass = 1; a && pass >= 0; pass--)
    for (i = 0; a && i < set->n; i++) {
      if (set->entries[i]->served != pass)
        continue;
      if (info_of (set->entries[i], &a[k++]) == -1) {
        exportset_info_free (a, k);
        a = NULL;
      }
    }
  if (a == NULL) {
    errno = ENOMEM;
    sd_error ("export: %m");
    return -1;
  }
  *info = a;
  return k;
}

void
exportset_info_free (struct sd_export_info *info, size_t n)
{
  size_t i;

  if (info == NULL)
    return;
  for (i = 0; i < n; i++) {
    free (info[i].name);
    free (info[i].host);
  }
  free (info);
}

/* Why name cannot be added: it is in the set.  => caller holds lock. */
static int
refuse_existing (const struct xs_entry *e, const char *name)
{
  errno = EEXIST;
  sd_error ("export: %s: %s", name,
            e->removing ? "being removed" :
            e->served ? "already served" :
            "in the pool but not served (declared at an earlier start; "
            "its pages are kept): declare it again, or remove it first");
  return -1;
}

int
exportset_add (struct exportset *set, const struct exportspec *spec)
{
  SD_LOCK_FOR_SCOPE (&set->admin);
  struct xs_entry *e;
  struct export *exp;

  pthread_mutex_lock (&set->lock);
  e = xs_lookup (set, spec->name);
  pthread_mutex_unlock (&set->lock);
  if (e)
    return refuse_existing (e, spec->name);
  exp = export_create_spec (set->pool, spec);
  if (exp == NULL)
    return -1;
  if (pool_export_set_live (set->pool, spec->name, spec->shared) == -1) {
    /* Nothing of it reached the devices: forget it again. */
    export_destroy (exp);
    pool_export_forget (set->pool, spec->name);
    return -1;
  }
  pthread_mutex_lock (&set->lock);
  e = add (set, exp, true, true, spec->shared);
  pthread_mutex_unlock (&set->lock);
  if (e == NULL)
    return -1;                  /* served again at the next start */
  sd_notice ("export: %s: created (%" PRIu64 " bytes)", spec->name,
             export_size (exp));
  return 0;
}

/* The export's limits now, as a spec (shared: the entry's).
 * => caller holds set->admin.
 */
static struct exportspec
current_spec (struct exportset *set, struct xs_entry *e)
{
  struct exportspec s = {
    .name = (char *) export_name (e->exp), .size = export_size (e->exp),
    .quota = export_quota (e->exp), .reserve = export_reserve (e->exp),
  };

  export_tiers (e->exp, &s.tier_lo, &s.tier_hi);
  s.tiers_set = s.tier_lo != SD_PRIORITY_MIN || s.tier_hi != SD_PRIORITY_MAX;
  pthread_mutex_lock (&set->lock);
  s.shared = e->shared;
  pthread_mutex_unlock (&set->lock);
  return s;
}

/* Apply one option of exportset_set to *s.  => returns 0, or -1 after
 * reporting with errno set.
 */
static int
apply_option (struct exportspec *s, const char *what, const char *opt)
{
  if (strcmp (opt, "quota=none") == 0)
    s->quota = 0;
  else if (strcmp (opt, "tiers=all") == 0) {
    s->tiers_set = false;
    s->tier_lo = SD_PRIORITY_MIN;
    s->tier_hi = SD_PRIORITY_MAX;
  }
  else if (exportspec_option (s, what, opt) == -1) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

/* Parse opts over *s.  => returns 0, or -1 after reporting. */
static int
apply_options (struct exportspec *s, const char *what, const char *opts)
{
  CLEANUP_FREE char *copy = strdup (opts);
  char *rest = copy, *opt;

  if (copy == NULL) {
    sd_error ("%s: %m", what);
    return -1;
  }
  if (*opts == '\0') {
    errno = EINVAL;
    sd_error ("%s: nothing to change (size=, quota=, reserve=, tiers=, "
              "shared=)", what);
    return -1;
  }
  while ((opt = strsep (&rest, ",")) != NULL)
    if (apply_option (s, what, opt) == -1)
      return -1;
  return 0;
}

/* Set e's shared flag, in the pool table too if e is live.
 * => caller holds set->admin.  returns 0, or -1 after reporting.
 */
static int
set_shared (struct exportset *set, struct xs_entry *e, bool shared)
{
  const char *name = export_name (e->exp);

  pthread_mutex_lock (&set->lock);
  if (!shared && e->shared && e->sessions > 0) {
    pthread_mutex_unlock (&set->lock);
    errno = EBUSY;
    sd_error ("export: %s: shared=false while %u connections are "
              "attached (from more hosts, maybe): detach them first",
              name, e->sessions);
    return -1;
  }
  pthread_mutex_unlock (&set->lock);
  if (e->live && pool_export_set_live (set->pool, name, shared) == -1)
    return -1;
  pthread_mutex_lock (&set->lock);
  e->shared = shared;
  pthread_mutex_unlock (&set->lock);
  return 0;
}

/* Mark e resizing, so that no session opens on it meanwhile, if none
 * is open.  => caller holds set->admin.  returns 0, or -1 after
 * reporting (EBUSY).
 */
static int
start_resize (struct exportset *set, struct xs_entry *e)
{
  SD_LOCK_FOR_SCOPE (&set->lock);

  if (e->sessions > 0) {
    errno = EBUSY;
    sd_error ("export: %s: size: attached from %s (%u connections), whose "
              "device keeps the size it was given: detach it, resize, "
              "attach again (and mkswap: a swap area's size is in its "
              "header)", export_name (e->exp), e->host, e->sessions);
    return -1;
  }
  e->resizing = true;
  return 0;
}

/* Resize e's export to size.  => caller holds set->admin.  returns 0,
 * or -1 after reporting.
 */
static int
resize (struct exportset *set, struct xs_entry *e, uint64_t size)
{
  int r;

  if (size == export_size (e->exp))
    return 0;
  if (start_resize (set, e) == -1)
    return -1;
  r = export_resize (e->exp, size);
  pthread_mutex_lock (&set->lock);
  e->resizing = false;
  pthread_mutex_unlock (&set->lock);
  return r;
}

/* Apply s's limits and sharing over was's.  => caller holds
 * set->admin.  returns 0, or -1 after reporting with both as they were.
 */
static int
set_limits (struct exportset *set, struct xs_entry *e,
            const struct exportspec *was, const struct exportspec *s)
{
  if (s->shared != was->shared && set_shared (set, e, s->shared) == -1)
    return -1;
  if (export_set_limits (e->exp, s->quota, s->reserve, s->tier_lo,
                         s->tier_hi) == -1) {
    if (s->shared != was->shared)
      set_shared (set, e, was->shared);
    return -1;
  }
  return 0;
}

int
exportset_set (struct exportset *set, const char *name, const char *opts)
{
  SD_LOCK_FOR_SCOPE (&set->admin);
  struct xs_entry *e;
  struct exportspec was, s;
  char what[256];
  int err;

  pthread_mutex_lock (&set->lock);
  e = xs_lookup (set, name);
  pthread_mutex_unlock (&set->lock);
  if (e == NULL || e->removing) {
    errno = ENOENT;
    sd_error ("export: %.200s: %s", name,
              e ? "being removed" : "no such export");
    return -1;
  }
  snprintf (what, sizeof what, "export: %.200s", name);
  was = s = current_spec (set, e);
  if (apply_options (&s, what, opts) == -1)
    return -1;
  /* Growing comes before the limits (a larger reserve may need the
   * room), shrinking after them (a smaller reserve may have to come
   * first); either is undone if the other step is refused.
   */
  if (s.size > was.size && resize (set, e, s.size) == -1)
    return -1;
  if (set_limits (set, e, &was, &s) == -1) {
    err = errno;
    if (s.size > was.size)
      resize (set, e, was.size);
    errno = err;
    return -1;
  }
  if (s.size < was.size && resize (set, e, s.size) == -1) {
    err = errno;
    set_limits (set, e, &s, &was);
    errno = err;
    return -1;
  }
  sd_notice ("export: %s: %s changed (%s)", name,
             s.size != was.size ? "size and limits" : "limits", opts);
  return 0;
}

/* Take e out of set->entries.  => caller holds set->lock. */
static void
unlink_entry (struct exportset *set, struct xs_entry *e)
{
  size_t i;

  for (i = 0; i < set->n; i++)
    if (set->entries[i] == e) {
      memmove (&set->entries[i], &set->entries[i + 1],
               (set->n - i - 1) * sizeof *set->entries);
      set->n--;
      return;
    }
}

/* Trim the whole export in chunks, reporting progress. */
static int
free_pages (struct export *exp, exportset_progress_fn progress,
            void *opaque, uint64_t *freed)
{
  const uint64_t chunk = (uint64_t) REMOVE_CHUNK_PAGES * 4096;
  uint64_t total = export_used (exp) / 4096, off, len;

  for (off = 0; off < export_size (exp); off += len) {
    len = export_size (exp) - off < chunk ? export_size (exp) - off : chunk;
    if (export_trim (exp, len, off) == -1)
      return -1;
    if (freed)
      *freed = total - export_used (exp) / 4096;
    if (progress)
      progress (opaque, total - export_used (exp) / 4096, total);
  }
  return 0;
}

int
xs_finish_removal (struct exportset *set, struct xs_entry *e,
                   exportset_progress_fn progress, void *opaque,
                   uint64_t *freed)
{
  CLEANUP_FREE char *name = strdup (export_name (e->exp));

  if (name == NULL) {
    sd_error ("remove: export %s: %m", export_name (e->exp));
    return -1;
  }
  if (free_pages (e->exp, progress, opaque, freed) == -1) {
    sd_error ("remove: export %s: its pages could not all be freed; "
              "the rest are kept", name);
    return -1;
  }
  pthread_mutex_lock (&set->lock);
  unlink_entry (set, e);
  pthread_mutex_unlock (&set->lock);
  export_destroy (e->exp);
  free (e->host);
  free (e);
  if (pool_export_forget (set->pool, name) == -1) {
    sd_error ("remove: export %s: its pages are freed, but the pool "
              "table still lists it: it comes back empty at the next "
              "start", name);
    return -2;
  }
  sd_notice ("export: %s: removed", name);
  return 0;
}

/* Mark e removing, or say why not.  => caller holds set->lock.
 * returns 1 if the pages can be freed now, 0 if the last session will,
 * -1 after reporting.
 */
static int
start_removal (struct xs_entry *e, const char *name, bool force)
{
  if (e->removing && e->sessions > 0) {
    errno = EBUSY;
    sd_error ("remove: export %s: already removed; its pages are freed "
              "when its %u connections close", name, e->sessions);
    return -1;
  }
  if (e->sessions > 0 && !force) {
    errno = EBUSY;
    sd_error ("remove: export %s: attached from %s (%u connections); "
              "force removes it anyway, failing their requests",
              name, e->host, e->sessions);
    return -1;
  }
  e->served = false;
  e->removing = true;
  if (e->sessions == 0)
    return 1;
  e->gone = true;
  sd_notice ("remove: export %s: removed while %u connections from %s "
             "are attached: their requests fail from now on, and its "
             "pages are freed when they close", name, e->sessions, e->host);
  return 0;
}

int
exportset_remove (struct exportset *set, const char *name, bool force,
                  exportset_progress_fn progress, void *opaque,
                  uint64_t *freed)
{
  SD_LOCK_FOR_SCOPE (&set->admin);
  struct xs_entry *e;
  bool was_served;
  int now;

  if (freed)
    *freed = 0;
  pthread_mutex_lock (&set->lock);
  e = xs_lookup (set, name);
  if (e == NULL) {
    pthread_mutex_unlock (&set->lock);
    errno = ENOENT;
    sd_error ("remove: export %.200s: no such export", name);
    return -1;
  }
  was_served = e->served;
  now = start_removal (e, name, force);
  pthread_mutex_unlock (&set->lock);
  if (now <= 0)
    return now;
  now = xs_finish_removal (set, e, progress, opaque, freed);
  if (now == 0)
    return 0;
  if (now == -1) {
    /* Still in the set: the pages not freed stay, and so does it. */
    pthread_mutex_lock (&set->lock);
    e->served = was_served;
    e->removing = false;
    pthread_mutex_unlock (&set->lock);
  }
  errno = EIO;
  return -1;
}
