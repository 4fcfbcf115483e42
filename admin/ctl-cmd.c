/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The commands on one device (-a, -d, -c) and the listings (-l, -s). */

#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl-cmd.h"
#include "ctl-conn.h"
#include "ctl-util.h"

/* Width of the progress bar, in characters between the brackets. */
#define BAR_WIDTH 30

void
ctl_add_member (json_object *obj, const char *key, json_object *val)
{
  if (val == NULL || json_object_object_add (obj, key, val))
    ctl_nomem ();
}

json_object *
ctl_on_request (const struct devspec *dev)
{
  json_object *req = ctl_request_new ("on");

  ctl_add_member (req, "path", json_object_new_string (dev->path));
  if (dev->priority_set)
    ctl_add_member (req, "priority", json_object_new_int64 (dev->priority));
  if (dev->maxactive)
    ctl_add_member (req, "maxactive", json_object_new_int64 (dev->maxactive));
  if (dev->timeout)
    ctl_add_member (req, "timeout", json_object_new_int64 (dev->timeout));
  if (dev->direct)
    ctl_add_member (req, "direct", json_object_new_boolean (1));
  /* Bytes as an integer: the size was checked here already, so the
   * server cannot read it another way.
   */
  if (dev->create_size)
    ctl_add_member (req, "create", json_object_new_int64 (dev->create_size));
  return req;
}

json_object *
ctl_ctl_request (const char *path, long long priority)
{
  json_object *req = ctl_request_new ("ctl");

  ctl_add_member (req, "path", json_object_new_string (path));
  ctl_add_member (req, "priority", json_object_new_int64 (priority));
  return req;
}

json_object *
ctl_off_request (const char *path)
{
  json_object *req = ctl_request_new ("off");

  ctl_add_member (req, "path", json_object_new_string (path));
  return req;
}

json_object *
ctl_call (const struct ctl_ctx *ctx, json_object *req)
{
  struct ctl_conn *conn = ctl_conn_open (ctx->socket, ctx->json);
  json_object *reply;

  if (conn == NULL)
    return NULL;
  reply = ctl_conn_call (conn, req, NULL, NULL);
  ctl_conn_close (conn);
  return reply;
}

int
ctl_call_once (const struct ctl_ctx *ctx, json_object *req)
{
  json_object *reply = ctl_call (ctx, req);

  if (reply == NULL)
    return -1;
  json_object_put (reply);
  return 0;
}

/* Send a request of no members; the reply goes to print unless
 * --json printed it already.
 */
static int
show (const struct ctl_ctx *ctx, const char *cmd,
      void (*print) (json_object *, const struct ctl_units *))
{
  CLEANUP_JSON json_object *req = ctl_request_new (cmd);
  json_object *reply = ctl_call (ctx, req);

  if (reply == NULL)
    return -1;
  if (!ctx->json)
    print (reply, &ctx->units);
  json_object_put (reply);
  return 0;
}

/* Send cmd and then "exports" on one connection (not copied raw):
 * print both with print and print_exports, or, with --json, the first
 * reply with the exports array added as its "exports" member, on one
 * line.
 */
static int
show_with_exports (const struct ctl_ctx *ctx, const char *cmd,
                   void (*print) (json_object *, const struct ctl_units *),
                   void (*print_exports) (json_object *,
                                          const struct ctl_units *))
{
  CLEANUP_JSON json_object *req = ctl_request_new (cmd);
  CLEANUP_JSON json_object *xreq = ctl_request_new ("exports");
  CLEANUP_JSON json_object *reply = NULL;
  CLEANUP_JSON json_object *xreply = NULL;
  struct ctl_conn *conn = ctl_conn_open (ctx->socket, false);
  json_object *arr;

  if (conn == NULL)
    return -1;
  reply = ctl_conn_call (conn, req, NULL, NULL);
  if (reply)
    xreply = ctl_conn_call (conn, xreq, NULL, NULL);
  ctl_conn_close (conn);
  if (reply == NULL || xreply == NULL)
    return -1;
  if (!ctx->json) {
    print (reply, &ctx->units);
    print_exports (xreply, &ctx->units);
    return 0;
  }
  if (json_object_object_get_ex (xreply, "exports", &arr))
    ctl_add_member (reply, "exports", json_object_get (arr));
  printf ("%s\n", json_object_to_json_string_ext (
            reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
  return 0;
}

/* -l: the devices' table, a blank line, the exports' table. */
static void
print_list (json_object *stats, const struct ctl_units *u)
{
  ctl_print_list (stats, u);
  printf ("\n");
}

int
ctl_cmd_list (const struct ctl_ctx *ctx)
{
  return show_with_exports (ctx, "stats", print_list, ctl_print_exports);
}

int
ctl_cmd_summary (const struct ctl_ctx *ctx)
{
  return show_with_exports (ctx, "summary", ctl_print_summary,
                            ctl_print_export_lines);
}

int
ctl_cmd_export_list (const struct ctl_ctx *ctx)
{
  return show (ctx, "exports", ctl_print_exports);
}

int
ctl_cmd_add (const struct ctl_ctx *ctx, const struct devspec *dev)
{
  CLEANUP_JSON json_object *req = ctl_on_request (dev);

  return ctl_call_once (ctx, req);
}

int
ctl_cmd_change (const struct ctl_ctx *ctx, const char *path,
                long long priority)
{
  CLEANUP_JSON json_object *req = ctl_ctl_request (path, priority);

  return ctl_call_once (ctx, req);
}

int
ctl_cmd_trust (const struct ctl_ctx *ctx, const char *name)
{
  CLEANUP_JSON json_object *req = ctl_request_new ("trust");

  ctl_add_member (req, "export", json_object_new_string (name));
  return ctl_call_once (ctx, req);
}

/* Whether the progress bar (ctl-cmd.h) is on the screen. */
static bool bar_drawn;

void
ctl_clear_progress (void)
{
  if (bar_drawn)
    fputs ("\r\033[K", stderr);
  bar_drawn = false;
}

/* Redraw the bar from one progress line: "\r" and "\033[K" (erase to
 * the end of the line) keep it on one line of the terminal.
 */
void
ctl_draw_progress (json_object *p, void *opaque)
{
  bool freeing = json_object_object_get_ex (p, "export", NULL);
  uint64_t moved = ctl_json_u64 (p, freeing ? "freed" : "moved");
  uint64_t total = ctl_json_u64 (p, "total");
  char bar[BAR_WIDTH + 1];
  unsigned filled, pct;

  if (moved > total)
    moved = total;
  filled = total ? moved * BAR_WIDTH / total : 0;
  pct = total ? moved * 100 / total : 0;
  memset (bar, '#', filled);
  memset (bar + filled, ' ', BAR_WIDTH - filled);
  bar[BAR_WIDTH] = '\0';
  fprintf (stderr, "\r%s%s: %s pages [%s] %3u%% %" PRIu64 "/%" PRIu64
           "\033[K", freeing ? "export " : "",
           ctl_json_str (p, freeing ? "export" : "path", "?"),
           freeing ? "freeing" : "moving", bar, pct, moved, total);
  fflush (stderr);
  bar_drawn = true;
  ctl_before_error = ctl_clear_progress;
}

json_object *
ctl_call_with_progress (struct ctl_conn *conn, json_object *req)
{
  bool tty = isatty (STDERR_FILENO);
  json_object *reply;

  reply = ctl_conn_call (conn, req, tty ? ctl_draw_progress : NULL, NULL);
  ctl_clear_progress ();
  ctl_before_error = NULL;
  return reply;
}

int
ctl_do_off (const struct ctl_ctx *ctx, struct ctl_conn *conn,
            const char *path)
{
  CLEANUP_JSON json_object *req = ctl_off_request (path);
  json_object *reply = ctl_call_with_progress (conn, req);

  if (reply == NULL)
    return -1;
  if (!ctx->json)
    printf ("removed %s (%" PRIu64 " pages moved)\n", path,
            ctl_json_u64 (reply, "moved"));
  json_object_put (reply);
  return 0;
}

int
ctl_cmd_remove (const struct ctl_ctx *ctx, const char *path)
{
  struct ctl_conn *conn = ctl_conn_open (ctx->socket, ctx->json);
  int r;

  if (conn == NULL)
    return -1;
  r = ctl_do_off (ctx, conn, path);
  ctl_conn_close (conn);
  return r;
}
