/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The exports: their table (-l, -l -e), their lines in the summary
 * (-s), and the commands that create (-a -e) and remove (-d -e) one.
 */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-cmd.h"
#include "ctl-conn.h"
#include "ctl-util.h"

enum column {
  COL_NAME, COL_STATE, COL_SIZE, COL_QUOTA, COL_RESERVE, COL_USED,
  COL_TIERS, COL_CONNS,
  COL_READS, COL_WRITES, COL_ERRORS, COL_RP99, COL_WP99, COL_HOST, NCOLS
};

static const bool col_left[NCOLS] = {
  [COL_NAME] = true, [COL_STATE] = true, [COL_TIERS] = true,
  [COL_HOST] = true,
};

/* The export's name as printed: quoted, so that "" shows. */
static char *
quoted (json_object *x)
{
  return ctl_strdup_printf ("\"%s\"", ctl_json_str (x, "name", "?"));
}

/* Member kind of the export's "io" object. */
static json_object *
io_of (json_object *x, const char *kind)
{
  json_object *io, *k;

  if (json_object_object_get_ex (x, "io", &io) &&
      json_object_object_get_ex (io, kind, &k))
    return k;
  return NULL;
}

/* A latency for humans: "850ns", "161us", "3.4ms", "1.2s"; "-" if no
 * request was counted.
 */
static char *
latency (json_object *kind)
{
  uint64_t ns = ctl_json_u64 (kind, "p99_ns");

  if (ctl_json_u64 (kind, "ops") == 0)
    return ctl_xstrdup ("-");
  if (ns < 1000)
    return ctl_strdup_printf ("%" PRIu64 "ns", ns);
  if (ns < 1000000)
    return ctl_strdup_printf ("%" PRIu64 "us", ns / 1000);
  if (ns < 1000000000)
    return ctl_strdup_printf ("%.1fms", ns / 1e6);
  return ctl_strdup_printf ("%.1fs", ns / 1e9);
}

static char *
amount (uint64_t bytes, const struct ctl_units *u)
{
  char buf[64];

  ctl_format_amount (buf, sizeof buf, bytes, u);
  return ctl_xstrdup (buf);
}

/* "0-5", or "all" for every priority (the server's whole range). */
static char *
tiers (json_object *x)
{
  json_object *lo, *hi;

  if (!json_object_object_get_ex (x, "tier_lo", &lo) ||
      !json_object_object_get_ex (x, "tier_hi", &hi) ||
      (json_object_get_int64 (lo) <= -1000000 &&
       json_object_get_int64 (hi) >= 1000000))
    return ctl_xstrdup ("all");
  return ctl_strdup_printf ("%" PRId64 "-%" PRId64,
                            json_object_get_int64 (lo),
                            json_object_get_int64 (hi));
}

static char *
number (uint64_t n)
{
  return ctl_strdup_printf ("%" PRIu64, n);
}

static void
export_row (char **r, json_object *x, const struct ctl_units *u)
{
  json_object *rd = io_of (x, "read"), *wr = io_of (x, "write");
  uint64_t errors = ctl_json_u64 (rd, "errors") + ctl_json_u64 (wr, "errors")
    + ctl_json_u64 (io_of (x, "trim"), "errors")
    + ctl_json_u64 (io_of (x, "flush"), "errors");
  uint64_t quota = ctl_json_u64 (x, "quota");

  r[COL_NAME] = quoted (x);
  r[COL_STATE] = ctl_strdup_printf ("%s%s", ctl_json_str (x, "state", "?"),
                                    json_object_get_boolean (
                                      json_object_object_get (x, "shared"))
                                    ? ",shared" : "");
  r[COL_SIZE] = amount (ctl_json_u64 (x, "size"), u);
  r[COL_QUOTA] = quota ? amount (quota, u) : ctl_xstrdup ("-");
  r[COL_RESERVE] = ctl_json_u64 (x, "reserve")
    ? amount (ctl_json_u64 (x, "reserve"), u) : ctl_xstrdup ("-");
  r[COL_USED] = amount (ctl_json_u64 (x, "used"), u);
  r[COL_TIERS] = tiers (x);
  r[COL_CONNS] = number (ctl_json_u64 (x, "connections"));
  r[COL_READS] = number (ctl_json_u64 (rd, "ops"));
  r[COL_WRITES] = number (ctl_json_u64 (wr, "ops"));
  r[COL_ERRORS] = number (errors);
  r[COL_RP99] = latency (rd);
  r[COL_WP99] = latency (wr);
  r[COL_HOST] = ctl_xstrdup (ctl_json_str (x, "host", "-"));
}

/* The exports array of a reply, and its length. */
static size_t
exports_of (json_object *reply, json_object **arr)
{
  if (json_object_object_get_ex (reply, "exports", arr) &&
      json_object_is_type (*arr, json_type_array))
    return json_object_array_length (*arr);
  return 0;
}

void
ctl_print_exports (json_object *reply, const struct ctl_units *u)
{
  static const char *const names[NCOLS] = {
    "Export", "State", NULL, "Quota", "Reserve", "Used", "Tiers", "Conns",
    "Reads", "Writes", "Errors", "Read-p99", "Write-p99", "Host",
  };
  json_object *arr;
  size_t n = exports_of (reply, &arr), i, c;
  char **cells;

  if (n == 0) {
    printf ("no exports\n");
    return;
  }
  cells = calloc ((n + 1) * NCOLS, sizeof *cells);
  if (cells == NULL)
    ctl_nomem ();
  for (c = 0; c < NCOLS; c++)
    cells[c] = ctl_xstrdup (names[c] ? names[c] : u->header);
  for (i = 0; i < n; i++)
    export_row (&cells[(i + 1) * NCOLS], json_object_array_get_idx (arr, i),
                u);
  ctl_print_table (cells, n + 1, NCOLS, col_left);
  free (cells);
}

void
ctl_print_export_lines (json_object *reply, const struct ctl_units *u)
{
  json_object *arr, *x;
  size_t n = exports_of (reply, &arr), i;
  char used[64], quota[64], reserve[64];
  char *t;

  for (i = 0; i < n; i++) {
    x = json_object_array_get_idx (arr, i);
    ctl_format_amount (used, sizeof used, ctl_json_u64 (x, "used"), u);
    ctl_format_amount (quota, sizeof quota, ctl_json_u64 (x, "quota"), u);
    ctl_format_amount (reserve, sizeof reserve, ctl_json_u64 (x, "reserve"),
                       u);
    printf ("export \"%s\": %s, %s used", ctl_json_str (x, "name", "?"),
            ctl_json_str (x, "state", "?"), used);
    if (ctl_json_u64 (x, "quota"))
      printf (" of a quota of %s", quota);
    if (ctl_json_u64 (x, "reserve"))
      printf (", %s reserved", reserve);
    t = tiers (x);
    if (strcmp (t, "all") != 0)
      printf (", tiers %s", t);
    free (t);
    if (ctl_json_u64 (x, "connections"))
      printf (", attached from %s (%" PRIu64 " connections)",
              ctl_json_str (x, "host", "?"),
              ctl_json_u64 (x, "connections"));
    printf ("\n");
  }
}

int
ctl_cmd_export_create (const struct ctl_ctx *ctx, const char *spec)
{
  CLEANUP_JSON json_object *req = ctl_request_new ("export-create");

  ctl_add_member (req, "spec", json_object_new_string (spec));
  return ctl_call_once (ctx, req);
}

int
ctl_cmd_export_set (const struct ctl_ctx *ctx, const char *name,
                    const char *options)
{
  CLEANUP_JSON json_object *req = ctl_request_new ("export-set");

  ctl_add_member (req, "export", json_object_new_string (name));
  ctl_add_member (req, "options", json_object_new_string (options));
  return ctl_call_once (ctx, req);
}

int
ctl_cmd_export_remove (const struct ctl_ctx *ctx, const char *name,
                       bool force)
{
  CLEANUP_JSON json_object *req = ctl_request_new ("export-remove");
  struct ctl_conn *conn;
  json_object *reply;

  ctl_add_member (req, "export", json_object_new_string (name));
  if (force)
    ctl_add_member (req, "force", json_object_new_boolean (1));
  conn = ctl_conn_open (ctx->socket, ctx->json);
  if (conn == NULL)
    return -1;
  reply = ctl_call_with_progress (conn, req);
  ctl_conn_close (conn);
  if (reply == NULL)
    return -1;
  if (!ctx->json)
    printf ("removed export \"%s\" (%" PRIu64 " pages freed)\n", name,
            ctl_json_u64 (reply, "freed"));
  json_object_put (reply);
  return 0;
}
