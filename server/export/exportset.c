/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The exports a server serves (swapdrum/exportset.h).  The set is
 * built once, before any request, and never changes after: it takes no
 * lock.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swapdrum/exportset.h"
#include "swapdrum/log.h"

struct exportset {
  struct export **exps;         /* served ones first, then the kept */
  size_t n;                     /* all */
  size_t nserved;
};

/* Append exp (not NULL) to the set. */
static int
add (struct exportset *set, struct export *exp)
{
  struct export **a = realloc (set->exps, (set->n + 1) * sizeof *a);

  if (a == NULL) {
    sd_error ("export: %s: %m", export_name (exp));
    export_destroy (exp);
    return -1;
  }
  set->exps = a;
  set->exps[set->n++] = exp;
  return 0;
}

static bool
declared (const struct exportspec *decls, size_t n, const char *name)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (strcmp (decls[i].name, name) == 0)
      return true;
  return false;
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
  for (i = 0; i < n; i++) {
    if (declared (decls, i, decls[i].name)) {
      errno = EINVAL;
      sd_error ("export: %s: declared twice", decls[i].name);
      return -1;
    }
    if (decls[i].shared) {
      errno = ENOTSUP;
      sd_error ("export: %s: shared= is not implemented yet",
                decls[i].name);
      return -1;
    }
  }
  return 0;
}

/* Open the table's exports that are not declared, unserved. */
static int
keep_undeclared (struct exportset *set, struct pool *pool,
                 const struct exportspec *decls, size_t n)
{
  char **names = pool_export_names (pool);
  struct export *exp;
  size_t i;
  int r = 0;

  if (names == NULL) {
    sd_error ("export: %m");
    return -1;
  }
  for (i = 0; names[i] && r == 0; i++) {
    if (declared (decls, n, names[i]))
      continue;
    exp = export_create (pool, names[i], 0);
    if (exp == NULL || add (set, exp) == -1) {
      r = -1;
      break;
    }
    sd_notice ("export: %s: in the pool but not declared: not served; "
               "its pages are kept", names[i]);
  }
  pool_names_free (names);
  return r;
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
  set = calloc (1, sizeof *set);
  if (set == NULL) {
    sd_error ("export: %m");
    return NULL;
  }
  if (n == 0) {
    /* The default export keeps the table's quota: it has no
     * declaration to take one from.
     */
    exp = export_create (pool, dflt.name, dflt.size);
    if (exp == NULL || add (set, exp) == -1)
      goto err;
  }
  for (i = 0; i < n; i++) {
    exp = export_create_spec (pool, &decls[i]);
    if (exp == NULL || add (set, exp) == -1)
      goto err;
  }
  set->nserved = set->n;
  if (keep_undeclared (set, pool, n ? decls : &dflt, n ? n : 1) == -1)
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
  for (i = 0; i < set->n; i++)
    export_destroy (set->exps[i]);
  free (set->exps);
  free (set);
}

struct export *
exportset_find (const struct exportset *set, const char *name)
{
  char list[256] = "";
  size_t i, len = 0;

  for (i = 0; i < set->nserved; i++)
    if (strcmp (export_name (set->exps[i]), name) == 0)
      return set->exps[i];
  for (i = 0; i < set->nserved && len < sizeof list; i++)
    len += snprintf (list + len, sizeof list - len, "%s\"%s\"",
                     i ? ", " : "", export_name (set->exps[i]));
  errno = ENOENT;
  sd_error ("export: %.200s%s: no such export (the server has %s)", name,
            strlen (name) > 200 ? "..." : "", list);
  return NULL;
}

size_t
exportset_count (const struct exportset *set)
{
  return set->nserved;
}

struct export *
exportset_get (const struct exportset *set, size_t i)
{
  return i < set->nserved ? set->exps[i] : NULL;
}
