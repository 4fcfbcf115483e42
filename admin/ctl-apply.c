/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* -A and -U: bring the pool in line with a config file, as swapctl -A
 * and -U do with /etc/fstab.  The pool is read once (stats) and each
 * listed device compared with it by path name, as the server lists it.
 */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl-cmd.h"
#include "ctl-conn.h"
#include "ctl-util.h"
#include "swapdrum/conffile.h"

/* What to do for one listed device: send requests over conn, or with
 * -n only say what they would be.
 * => returns 0, or -1 after reporting.
 */
typedef int (*device_fn) (const struct ctl_ctx *ctx, struct ctl_conn *conn,
                          json_object *stats, const struct devspec *dev,
                          long long default_priority);

/* The device of a stats reply named path, or NULL. */
static json_object *
find_in_pool (json_object *stats, const char *path)
{
  json_object *devs;
  size_t i, n;

  if (!json_object_object_get_ex (stats, "devices", &devs) ||
      !json_object_is_type (devs, json_type_array))
    return NULL;
  n = json_object_array_length (devs);
  for (i = 0; i < n; i++) {
    json_object *dev = json_object_array_get_idx (devs, i);
    if (strcmp (ctl_json_str (dev, "path", ""), path) == 0)
      return dev;
  }
  return NULL;
}

/* Say what is done, or with -n what would be: a line of text on
 * stdout, or with --json and -n the request as {"dry_run": REQUEST}.
 */
static void
announce (const struct ctl_ctx *ctx, json_object *req, const char *fmt, ...)
{
  va_list ap;

  if (ctx->json) {
    if (ctx->dry_run)
      printf ("{\"dry_run\":%s}\n",
              json_object_to_json_string_ext (req,
                                              JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE));
    return;
  }
  va_start (ap, fmt);
  vprintf (fmt, ap);
  va_end (ap);
  printf ("\n");
}

/* Send a request whose reply says nothing but "ok". */
static int
call_ok (struct ctl_conn *conn, json_object *req)
{
  json_object *reply = ctl_conn_call (conn, req, NULL, NULL);

  json_object_put (reply);
  return reply ? 0 : -1;
}

/* -A for one device: add it, or set its priority. */
static int
apply_device (const struct ctl_ctx *ctx, struct ctl_conn *conn,
              json_object *stats, const struct devspec *dev,
              long long default_priority)
{
  struct devspec want = *dev;
  json_object *cur = find_in_pool (stats, dev->path), *prio;
  CLEANUP_JSON json_object *req = NULL;
  long long have;

  if (!want.priority_set)
    want.priority = default_priority;   /* in range: -p was checked */
  want.priority_set = true;
  if (cur == NULL) {
    req = ctl_on_request (&want);
    announce (ctx, req, "%s %s at priority %d",
              ctx->dry_run ? "would add" : "adding", want.path,
              want.priority);
  }
  else {
    have = json_object_object_get_ex (cur, "priority", &prio)
      ? json_object_get_int64 (prio) : 0;
    if (have == want.priority)
      return 0;
    req = ctl_ctl_request (want.path, want.priority);
    announce (ctx, req, "%s the priority of %s from %lld to %d",
              ctx->dry_run ? "would change" : "changing", want.path,
              have, want.priority);
  }
  fflush (stdout);
  return ctx->dry_run ? 0 : call_ok (conn, req);
}

/* -U for one device: remove it if it is in the pool.  Without -n the
 * line ctl_do_off prints at the end says what was done.
 */
static int
unapply_device (const struct ctl_ctx *ctx, struct ctl_conn *conn,
                json_object *stats, const struct devspec *dev,
                long long default_priority)
{
  CLEANUP_JSON json_object *req = NULL;

  if (find_in_pool (stats, dev->path) == NULL)
    return 0;
  if (!ctx->dry_run)
    return ctl_do_off (ctx, conn, dev->path);
  req = ctl_off_request (dev->path);
  announce (ctx, req, "would remove %s", dev->path);
  return 0;
}

/* Run fn on every device of the config file, on one connection; go on
 * after a refused request, not after a failed connection.
 */
static int
each_device (const struct ctl_ctx *ctx, struct ctl_conn *conn,
             const struct conffile *cf, device_fn fn,
             long long default_priority)
{
  CLEANUP_JSON json_object *req = ctl_request_new ("stats");
  CLEANUP_JSON json_object *stats = ctl_conn_call (conn, req, NULL, NULL);
  size_t i;
  int r = 0;

  if (stats == NULL)
    return -1;
  for (i = 0; i < cf->n; i++) {
    if (fn (ctx, conn, stats, &cf->specs[i], default_priority) == -1) {
      r = -1;
      if (!ctl_conn_usable (conn))
        break;
    }
  }
  return r;
}

/* Read the config file, connect and run fn on each device. */
static int
run_config (const struct ctl_ctx *ctx, const char *file, device_fn fn,
            long long default_priority)
{
  struct conffile cf;
  struct ctl_conn *conn;
  int r = -1;

  /* Reports "FILE:LINE: reason" through ctl_verror (the log hook). */
  if (conffile_read (file, &cf) == -1)
    return -1;
  if (cf.n == 0)
    ctl_error ("%s: no devices listed", file);
  else if ((conn = ctl_conn_open (ctx->socket, ctx->json)) != NULL) {
    r = each_device (ctx, conn, &cf, fn, default_priority);
    ctl_conn_close (conn);
  }
  conffile_free (&cf);
  return r;
}

int
ctl_cmd_apply (const struct ctl_ctx *ctx, const char *file,
               long long default_priority)
{
  return run_config (ctx, file, apply_device, default_priority);
}

int
ctl_cmd_unapply (const struct ctl_ctx *ctx, const char *file)
{
  return run_config (ctx, file, unapply_device, 0);
}
