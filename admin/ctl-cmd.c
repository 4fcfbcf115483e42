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

static void
add_member (json_object *obj, const char *key, json_object *val)
{
  if (val == NULL || json_object_object_add (obj, key, val))
    ctl_nomem ();
}

json_object *
ctl_on_request (const struct devspec *dev)
{
  json_object *req = ctl_request_new ("on");

  add_member (req, "path", json_object_new_string (dev->path));
  if (dev->priority_set)
    add_member (req, "priority", json_object_new_int64 (dev->priority));
  if (dev->maxactive)
    add_member (req, "maxactive", json_object_new_int64 (dev->maxactive));
  if (dev->timeout)
    add_member (req, "timeout", json_object_new_int64 (dev->timeout));
  /* Bytes as an integer: the size was checked here already, so the
   * server cannot read it another way.
   */
  if (dev->create_size)
    add_member (req, "create", json_object_new_int64 (dev->create_size));
  return req;
}

json_object *
ctl_ctl_request (const char *path, long long priority)
{
  json_object *req = ctl_request_new ("ctl");

  add_member (req, "path", json_object_new_string (path));
  add_member (req, "priority", json_object_new_int64 (priority));
  return req;
}

json_object *
ctl_off_request (const char *path)
{
  json_object *req = ctl_request_new ("off");

  add_member (req, "path", json_object_new_string (path));
  return req;
}

/* Connect, send req and hang up.
 * => returns the reply, or NULL after the failure was reported.
 */
static json_object *
call (const struct ctl_ctx *ctx, json_object *req)
{
  struct ctl_conn *conn = ctl_conn_open (ctx->socket, ctx->json);
  json_object *reply;

  if (conn == NULL)
    return NULL;
  reply = ctl_conn_call (conn, req, NULL, NULL);
  ctl_conn_close (conn);
  return reply;
}

/* For the requests whose reply says nothing but "ok". */
static int
call_once (const struct ctl_ctx *ctx, json_object *req)
{
  json_object *reply = call (ctx, req);

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
  json_object *reply = call (ctx, req);

  if (reply == NULL)
    return -1;
  if (!ctx->json)
    print (reply, &ctx->units);
  json_object_put (reply);
  return 0;
}

int
ctl_cmd_list (const struct ctl_ctx *ctx)
{
  return show (ctx, "stats", ctl_print_list);
}

int
ctl_cmd_summary (const struct ctl_ctx *ctx)
{
  return show (ctx, "summary", ctl_print_summary);
}

int
ctl_cmd_add (const struct ctl_ctx *ctx, const struct devspec *dev)
{
  CLEANUP_JSON json_object *req = ctl_on_request (dev);

  return call_once (ctx, req);
}

int
ctl_cmd_change (const struct ctl_ctx *ctx, const char *path,
                long long priority)
{
  CLEANUP_JSON json_object *req = ctl_ctl_request (path, priority);

  return call_once (ctx, req);
}

int
ctl_cmd_trust (const struct ctl_ctx *ctx, const char *name)
{
  CLEANUP_JSON json_object *req = ctl_request_new ("trust");

  add_member (req, "export", json_object_new_string (name));
  return call_once (ctx, req);
}

/* The progress bar of a swap-off, drawn on stderr if it is a
 * terminal.  One at a time: ctl_error erases it through
 * ctl_before_error.
 */
static bool bar_drawn;

/* Erase the bar, so that what follows starts on a clean line. */
static void
clear_progress (void)
{
  if (bar_drawn)
    fputs ("\r\033[K", stderr);
  bar_drawn = false;
}

/* Redraw the bar from one progress line: "\r" and "\033[K" (erase to
 * the end of the line) keep it on one line of the terminal.
 */
static void
draw_progress (json_object *p, void *opaque)
{
  uint64_t moved = ctl_json_u64 (p, "moved");
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
  fprintf (stderr, "\r%s: moving pages [%s] %3u%% %" PRIu64 "/%" PRIu64
           "\033[K", ctl_json_str (p, "path", "?"), bar, pct, moved, total);
  fflush (stderr);
  bar_drawn = true;
  ctl_before_error = clear_progress;
}

int
ctl_do_off (const struct ctl_ctx *ctx, struct ctl_conn *conn,
            const char *path)
{
  CLEANUP_JSON json_object *req = ctl_off_request (path);
  bool tty = isatty (STDERR_FILENO);
  json_object *reply;

  reply = ctl_conn_call (conn, req, tty ? draw_progress : NULL, NULL);
  clear_progress ();
  ctl_before_error = NULL;
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
