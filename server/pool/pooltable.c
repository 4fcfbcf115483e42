/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The pool table as JSON (pooltable.h):
 *   {"members": [{"uuid": HEX32, "path": S, "priority": N,
 *                 "maxactive": N, "timeout": N[, "direct": true]},
 *                ...],
 *    "exports": [{"id": N, "name": S, "size": N[, "quota": N]
 *                 [, "reserve": N][, "tier_lo": N, "tier_hi": N]
 *                 [, "suspect": true][, "live": true]
 *                 [, "shared": true]}, ...]}
 * A key in brackets is left out when it says nothing (no quota, no
 * reserve, every tier, not suspect, not live, not shared, not
 * direct), so older tables, which have none of them, read as before.
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "pool/pooltable.h"
#include "storage/format.h"
#include "swapdrum/devspec.h"

void
pool_table_free (struct pool_table *t)
{
  size_t i;

  for (i = 0; i < t->nmembers; i++)
    free (t->members[i].path);
  for (i = 0; i < t->nexports; i++)
    free (t->exports[i].name);
  free (t->members);
  free (t->exports);
  memset (t, 0, sizeof *t);
}

struct pt_member *
pool_table_member (const struct pool_table *t, const uint8_t uuid[16])
{
  size_t i;

  for (i = 0; i < t->nmembers; i++)
    if (memcmp (t->members[i].uuid, uuid, 16) == 0)
      return &t->members[i];
  return NULL;
}

struct pt_export *
pool_table_export (const struct pool_table *t, const char *name)
{
  size_t i;

  for (i = 0; i < t->nexports; i++)
    if (strcmp (t->exports[i].name, name) == 0)
      return &t->exports[i];
  return NULL;
}

/* Add key: an int64 to obj.  => returns 0, or -1 (ENOMEM). */
static int
put_int (json_object *obj, const char *key, int64_t v)
{
  json_object *val = json_object_new_int64 (v);

  return val ? json_object_object_add (obj, key, val) : -1;
}

static int
put_string (json_object *obj, const char *key, const char *s)
{
  json_object *val = json_object_new_string (s);

  return val ? json_object_object_add (obj, key, val) : -1;
}

static json_object *
encode_member (const struct pt_member *m)
{
  json_object *obj = json_object_new_object ();
  char hex[33];

  if (obj == NULL)
    return NULL;
  sd_hex16 (m->uuid, hex);
  if (put_string (obj, "uuid", hex) || put_string (obj, "path", m->path) ||
      put_int (obj, "priority", m->priority) ||
      put_int (obj, "maxactive", m->maxactive) ||
      put_int (obj, "timeout", m->timeout) ||
      (m->direct &&
       json_object_object_add (obj, "direct",
                               json_object_new_boolean (1)))) {
    json_object_put (obj);
    return NULL;
  }
  return obj;
}

/* True if e's pages may use every priority. */
static bool
all_tiers (const struct pt_export *e)
{
  return e->tier_lo == SD_PRIORITY_MIN && e->tier_hi == SD_PRIORITY_MAX;
}

static json_object *
encode_export (const struct pt_export *e)
{
  json_object *obj = json_object_new_object ();

  if (obj == NULL)
    return NULL;
  if (put_int (obj, "id", e->id) || put_string (obj, "name", e->name) ||
      put_int (obj, "size", e->size) ||
      (e->quota && put_int (obj, "quota", e->quota)) ||
      (e->reserve && put_int (obj, "reserve", e->reserve)) ||
      (!all_tiers (e) && (put_int (obj, "tier_lo", e->tier_lo) ||
                          put_int (obj, "tier_hi", e->tier_hi))) ||
      (e->suspect &&
       json_object_object_add (obj, "suspect",
                               json_object_new_boolean (1))) ||
      (e->live &&
       json_object_object_add (obj, "live", json_object_new_boolean (1))) ||
      (e->shared &&
       json_object_object_add (obj, "shared",
                               json_object_new_boolean (1)))) {
    json_object_put (obj);
    return NULL;
  }
  return obj;
}

char *
pool_table_encode (const struct pool_table *t, size_t *len)
{
  json_object *root = json_object_new_object ();
  json_object *members = json_object_new_array ();
  json_object *exports = json_object_new_array ();
  const char *s;
  char *out = NULL;
  size_t i;

  if (root == NULL || members == NULL || exports == NULL)
    goto out;
  for (i = 0; i < t->nmembers; i++)
    if (json_object_array_add (members, encode_member (&t->members[i])))
      goto out;
  for (i = 0; i < t->nexports; i++)
    if (json_object_array_add (exports, encode_export (&t->exports[i])))
      goto out;
  json_object_object_add (root, "members", members);
  json_object_object_add (root, "exports", exports);
  members = exports = NULL;
  s = json_object_to_json_string_ext (root, JSON_C_TO_STRING_PLAIN);
  if (s) {
    out = strdup (s);
    if (out)
      *len = strlen (out);
  }
 out:
  json_object_put (members);
  json_object_put (exports);
  json_object_put (root);
  if (out == NULL)
    errno = ENOMEM;
  return out;
}

/* An integer member of obj in [min, max]. */
static int
get_int (json_object *obj, const char *key, int64_t min, int64_t max,
         int64_t *v)
{
  json_object *val;

  if (!json_object_object_get_ex (obj, key, &val) ||
      !json_object_is_type (val, json_type_int))
    return -1;
  errno = 0;
  *v = json_object_get_int64 (val);
  if (errno || *v < min || *v > max)
    return -1;
  return 0;
}

/* A string member of obj, strdup'd. */
static char *
get_string (json_object *obj, const char *key)
{
  json_object *val;

  if (!json_object_object_get_ex (obj, key, &val) ||
      !json_object_is_type (val, json_type_string))
    return NULL;
  return strdup (json_object_get_string (val));
}

static int
parse_hex16 (const char *s, uint8_t out[16])
{
  size_t i;

  if (s == NULL || strlen (s) != 32)
    return -1;
  for (i = 0; i < 16; i++) {
    char byte[3] = { s[2 * i], s[2 * i + 1], 0 };
    char *end;
    if (!strchr ("0123456789abcdef", byte[0]) || byte[0] == 0 ||
        !strchr ("0123456789abcdef", byte[1]) || byte[1] == 0)
      return -1;
    out[i] = strtoul (byte, &end, 16);
  }
  return 0;
}

/* An optional boolean member: *flag is left alone if it is absent.
 * => returns 0, or -1 if it is not a boolean.
 */
static int
get_flag (json_object *obj, const char *key, bool *flag)
{
  json_object *val;

  if (!json_object_object_get_ex (obj, key, &val))
    return 0;
  if (!json_object_is_type (val, json_type_boolean))
    return -1;
  *flag = json_object_get_boolean (val);
  return 0;
}

static int
decode_member (json_object *obj, struct pt_member *m)
{
  json_object *val;
  int64_t prio, maxactive, timeout;

  if (!json_object_is_type (obj, json_type_object) ||
      !json_object_object_get_ex (obj, "uuid", &val) ||
      !json_object_is_type (val, json_type_string) ||
      parse_hex16 (json_object_get_string (val), m->uuid) == -1 ||
      get_int (obj, "priority", SD_PRIORITY_MIN, SD_PRIORITY_MAX,
               &prio) == -1 ||
      get_int (obj, "maxactive", 0, SD_MAXACTIVE_MAX, &maxactive) == -1 ||
      get_int (obj, "timeout", 0, UINT32_MAX, &timeout) == -1)
    return -1;
  m->path = get_string (obj, "path");
  if (m->path == NULL || m->path[0] == 0)
    return -1;
  m->priority = prio;
  m->maxactive = maxactive;
  m->timeout = timeout;
  m->direct = false;
  return get_flag (obj, "direct", &m->direct);
}

/* An optional size (a multiple of 4096, at least 4096) at key. */
static int
get_size (json_object *obj, const char *key, int64_t *v)
{
  if (!json_object_object_get_ex (obj, key, NULL))
    return 0;
  if (get_int (obj, key, 4096, INT64_MAX, v) == -1 || *v % 4096 != 0)
    return -1;
  return 0;
}

/* The optional tiers: both ends or neither, lo <= hi. */
static int
get_tiers (json_object *obj, struct pt_export *e)
{
  bool has_lo = json_object_object_get_ex (obj, "tier_lo", NULL);
  bool has_hi = json_object_object_get_ex (obj, "tier_hi", NULL);
  int64_t lo = SD_PRIORITY_MIN, hi = SD_PRIORITY_MAX;

  if (has_lo != has_hi)
    return -1;
  if (has_lo &&
      (get_int (obj, "tier_lo", SD_PRIORITY_MIN, SD_PRIORITY_MAX,
                &lo) == -1 ||
       get_int (obj, "tier_hi", lo, SD_PRIORITY_MAX, &hi) == -1))
    return -1;
  e->tier_lo = lo;
  e->tier_hi = hi;
  return 0;
}

static int
decode_export (json_object *obj, struct pt_export *e)
{
  int64_t id, size, quota = 0, reserve = 0;
  json_object *val;

  if (!json_object_is_type (obj, json_type_object) ||
      get_int (obj, "id", 1, SD_EXPORT_ID_MAX, &id) == -1 ||
      get_int (obj, "size", 4096, INT64_MAX, &size) == -1 ||
      size % 4096 != 0)
    return -1;
  if (get_size (obj, "quota", &quota) == -1 ||
      get_size (obj, "reserve", &reserve) == -1 ||
      get_tiers (obj, e) == -1)
    return -1;
  e->quota = quota;
  e->reserve = reserve;
  if (json_object_object_get_ex (obj, "suspect", &val)) {
    if (!json_object_is_type (val, json_type_boolean))
      return -1;
    e->suspect = json_object_get_boolean (val);
  }
  if (get_flag (obj, "live", &e->live) == -1 ||
      get_flag (obj, "shared", &e->shared) == -1)
    return -1;
  e->name = get_string (obj, "name");
  if (e->name == NULL)
    return -1;
  e->id = id;
  e->size = size;
  return 0;
}

/* Decode the array at key into *items (count *n), each item by fn. */
static int
decode_array (json_object *root, const char *key, size_t item_size,
              void **items, size_t *n,
              int (*fn) (json_object *obj, void *item))
{
  json_object *arr;
  size_t i, len;
  char *a;

  if (!json_object_object_get_ex (root, key, &arr) ||
      !json_object_is_type (arr, json_type_array))
    return -1;
  len = json_object_array_length (arr);
  a = calloc (len + 1, item_size);
  if (a == NULL)
    return -1;
  *items = a;
  for (i = 0; i < len; i++) {
    if (fn (json_object_array_get_idx (arr, i), a + i * item_size) == -1) {
      *n = i + 1;               /* free the partly filled item too */
      return -1;
    }
  }
  *n = len;
  return 0;
}

static int
member_fn (json_object *obj, void *item)
{
  return decode_member (obj, item);
}

static int
export_fn (json_object *obj, void *item)
{
  return decode_export (obj, item);
}

/* No two members with one uuid, no two exports with one id or name. */
static int
check_unique (const struct pool_table *t)
{
  size_t i, j;

  for (i = 0; i < t->nmembers; i++)
    for (j = i + 1; j < t->nmembers; j++)
      if (memcmp (t->members[i].uuid, t->members[j].uuid, 16) == 0)
        return -1;
  for (i = 0; i < t->nexports; i++)
    for (j = i + 1; j < t->nexports; j++)
      if (t->exports[i].id == t->exports[j].id ||
          strcmp (t->exports[i].name, t->exports[j].name) == 0)
        return -1;
  return 0;
}

int
pool_table_decode (const char *json, size_t len, struct pool_table *t,
                   const char **why)
{
  json_tokener *tok;
  json_object *root;
  int r = -1;

  memset (t, 0, sizeof *t);
  if (len == 0 || memchr (json, 0, len)) {
    *why = "pool table: empty or holds a NUL byte";
    return -1;
  }
  tok = json_tokener_new ();
  if (tok == NULL) {
    *why = "pool table: out of memory";
    return -1;
  }
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT);
  root = json_tokener_parse_ex (tok, json, len);
  if (root == NULL || json_tokener_get_parse_end (tok) != len ||
      !json_object_is_type (root, json_type_object))
    *why = "pool table: not a JSON object";
  else if (decode_array (root, "members", sizeof (struct pt_member),
                         (void **) &t->members, &t->nmembers,
                         member_fn) == -1 ||
           decode_array (root, "exports", sizeof (struct pt_export),
                         (void **) &t->exports, &t->nexports,
                         export_fn) == -1)
    *why = "pool table: a member or export is missing a field or out of "
      "range";
  else if (check_unique (t) == -1)
    *why = "pool table: a device or export is listed twice";
  else
    r = 0;
  json_object_put (root);
  json_tokener_free (tok);
  if (r == -1)
    pool_table_free (t);
  return r;
}
