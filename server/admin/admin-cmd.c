/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The admin protocol's requests: parse, check, answer or hand to the
 * worker.  See admin-cmd.h and docs/admin-protocol.md.
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "admin/admin-cmd.h"
#include "admin/admin-conn.h"
#include "admin/admin-int.h"
#include "admin/admin-query.h"
#include "admin/admin-reply.h"
#include "admin/admin-worker.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/devspec.h"
#include "swapdrum/exportset.h"
#include "swapdrum/exportspec.h"
#include "swapdrum/log.h"
#include "swapdrum/pool.h"

/* A swap-off sends at most one progress line per this many ns. */
#define PROGRESS_INTERVAL_NS 100000000

enum cmd_op {
  CMD_ON,
  CMD_OFF,
  CMD_CTL,
  CMD_TRUST,
  CMD_EXPORT_CREATE,
  CMD_EXPORT_REMOVE,
  CMD_EXPORT_SET,
};

/* A request that changes the pool: a job for the worker. */
struct cmd_job {
  struct admin_job job;         /* first: the worker's part */

  /* Set on the loop thread before it is submitted, constant after. */
  enum cmd_op op;
  struct devspec spec;          /* path (malloc'd; trust and
                                   export-remove: the export's name),
                                   priority, ... */
  struct exportspec xspec;      /* export-create */
  bool force;                   /* export-remove */
  char *options;                /* export-set (malloc'd) */

  /* Loop thread only. */
  struct admin_conn *conn;      /* who asked; may be dead by the end */
  json_object *req;             /* the request (its "id" goes back) */

  /* Worker thread only. */
  struct timespec last_progress; /* when progress was last handed back */
  bool progress_sent;
  uint64_t moved;               /* pages moved (off) or freed
                                   (export-remove) so far */

  /* Written by the worker before its run returns; read by the loop
   * after the news says done.
   */
  int err;                      /* 0: success; else the errno */
  char *error;                  /* the engine's message (malloc'd) */
};

static void cmd_job_free (struct admin_job *j);
static const struct admin_job_ops cmd_job_ops;

/* ---- members of the requests that change the pool ---- */

/* Look up member name of req.
 * => returns 1 with *val set; 0 if absent and not required; -1 after
 *    replying if absent and required.
 */
static int
member (struct admin_conn *conn, json_object *req, const char *what,
        const char *name, bool required, json_object **val)
{
  if (json_object_object_get_ex (req, name, val))
    return 1;
  if (!required)
    return 0;
  admin_reply_error (conn, req, EINVAL, "%s: %s: missing", what, name);
  return -1;
}

/* The "path" member: a non-empty string without NUL.
 * => returns 0 with *path malloc'd, or -1 after replying.
 */
static int
get_path (struct admin_conn *conn, json_object *req, const char *what,
          char **path)
{
  json_object *val;
  const char *s;

  if (member (conn, req, what, "path", true, &val) == -1)
    return -1;
  if (!json_object_is_type (val, json_type_string)) {
    admin_reply_error (conn, req, EINVAL, "%s: path: must be a string",
                       what);
    return -1;
  }
  s = json_object_get_string (val);
  if (*s == '\0' || strlen (s) != (size_t) json_object_get_string_len (val)) {
    admin_reply_error (conn, req, EINVAL, "%s: path: %s", what,
                       *s ? "contains a NUL character" : "must not be empty");
    return -1;
  }
  *path = strdup (s);
  if (*path == NULL) {
    admin_reply_error (conn, req, ENOMEM, "%s: %s: %s", what, s,
                       strerror (ENOMEM));
    return -1;
  }
  return 0;
}

/* The "export" member: a string without NUL ("" is the default
 * export).
 * => returns 0 with *name malloc'd, or -1 after replying.
 */
static int
get_export (struct admin_conn *conn, json_object *req, const char *what,
            char **name)
{
  json_object *val;
  const char *s;

  if (member (conn, req, what, "export", true, &val) == -1)
    return -1;
  if (!json_object_is_type (val, json_type_string)) {
    admin_reply_error (conn, req, EINVAL, "%s: export: must be a string",
                       what);
    return -1;
  }
  s = json_object_get_string (val);
  if (strlen (s) != (size_t) json_object_get_string_len (val)) {
    admin_reply_error (conn, req, EINVAL,
                       "%s: export: contains a NUL character", what);
    return -1;
  }
  *name = strdup (s);
  if (*name == NULL) {
    admin_reply_error (conn, req, ENOMEM, "%s: %s", what, strerror (ENOMEM));
    return -1;
  }
  return 0;
}

/* An optional boolean member, false if absent.
 * => returns 0, or -1 after replying.
 */
static int
get_bool (struct admin_conn *conn, json_object *req, const char *what,
          const char *name, bool *out)
{
  json_object *val;
  int r = member (conn, req, what, name, false, &val);

  *out = false;
  if (r <= 0)
    return r;
  if (!json_object_is_type (val, json_type_boolean)) {
    admin_reply_error (conn, req, EINVAL, "%s: %s: must be true or false",
                       what, name);
    return -1;
  }
  *out = json_object_get_boolean (val);
  return 0;
}

/* An integer member in [min, max]; *out is left alone if it is
 * absent and not required.
 * => returns 0, or -1 after replying.
 */
static int
get_int (struct admin_conn *conn, json_object *req, const char *what,
         const char *name, bool required, long long min, long long max,
         long long *out)
{
  json_object *val;
  int r = member (conn, req, what, name, required, &val);
  int64_t v;

  if (r <= 0)
    return r;
  if (!json_object_is_type (val, json_type_int)) {
    admin_reply_error (conn, req, EINVAL, "%s: %s: must be an integer",
                       what, name);
    return -1;
  }
  /* Integers beyond 64 bits arrive as the nearest end of the 64-bit
   * range (parse_request), and json-c clamps those beyond int64 to
   * INT64_MAX: out of range too.
   */
  v = json_object_get_int64 (val);
  if (v < min || v > max) {
    admin_reply_error (conn, req, EINVAL,
                       "%s: %s: %s out of range (%lld to %lld)", what, name,
                       json_object_to_json_string (val), min, max);
    return -1;
  }
  *out = v;
  return 0;
}

/* The "create" member: a size string ("1G") or bytes as an integer;
 * 0 (do not create) if absent.
 * => returns 0, or -1 after replying.
 */
static int
get_create (struct admin_conn *conn, json_object *req, const char *what,
            uint64_t *size)
{
  json_object *val;
  int r = member (conn, req, what, "create", false, &val);

  if (r <= 0)
    return r;
  if (json_object_is_type (val, json_type_int))
    *size = json_object_get_int64 (val) > 0 ? json_object_get_uint64 (val) : 0;
  else if (json_object_is_type (val, json_type_string)) {
    sd_clear_error ();
    if (sd_parse_size ("on: create", json_object_get_string (val),
                       size) == -1) {
      admin_reply_error (conn, req, EINVAL, "%s", sd_last_error ());
      return -1;
    }
  }
  else {
    admin_reply_error (conn, req, EINVAL,
                       "%s: create: must be a size (\"1G\") or a number "
                       "of bytes", what);
    return -1;
  }
  if (*size == 0) {
    admin_reply_error (conn, req, EINVAL,
                       "%s: create: %s: must be more than 0", what,
                       json_object_to_json_string (val));
    return -1;
  }
  return 0;
}

static int
prepare_on (struct admin_conn *conn, json_object *req, struct cmd_job *job)
{
  long long priority = 0, maxactive = 0, timeout = 0;

  if (get_path (conn, req, "on", &job->spec.path) == -1 ||
      get_int (conn, req, "on", "priority", false, SD_PRIORITY_MIN,
               SD_PRIORITY_MAX, &priority) == -1 ||
      get_int (conn, req, "on", "maxactive", false, 1, SD_MAXACTIVE_MAX,
               &maxactive) == -1 ||
      get_int (conn, req, "on", "timeout", false, 1, SD_TIMEOUT_MAX,
               &timeout) == -1 ||
      get_create (conn, req, "on", &job->spec.create_size) == -1 ||
      get_bool (conn, req, "on", "direct", &job->spec.direct) == -1)
    return -1;
  job->spec.priority = priority;
  job->spec.priority_set = json_object_object_get_ex (req, "priority", NULL);
  job->spec.maxactive = maxactive;
  job->spec.timeout = timeout;
  return 0;
}

static int
prepare_off (struct admin_conn *conn, json_object *req, struct cmd_job *job)
{
  return get_path (conn, req, "off", &job->spec.path);
}

static int
prepare_ctl (struct admin_conn *conn, json_object *req, struct cmd_job *job)
{
  long long priority;

  if (get_path (conn, req, "ctl", &job->spec.path) == -1 ||
      get_int (conn, req, "ctl", "priority", true, SD_PRIORITY_MIN,
               SD_PRIORITY_MAX, &priority) == -1)
    return -1;
  job->spec.priority = priority;
  return 0;
}

static int
prepare_trust (struct admin_conn *conn, json_object *req,
               struct cmd_job *job)
{
  return get_export (conn, req, "trust", &job->spec.path);
}

/* Export commands need the server's export set. */
static int
need_exports (struct admin_conn *conn, json_object *req, const char *what)
{
  if (conn->srv->exports)
    return 0;
  admin_reply_error (conn, req, ENOTSUP, "%s: this server has no exports",
                     what);
  return -1;
}

/* export-create: "spec" is what export= takes:
 * NAME,size=SIZE[,quota=SIZE]...
 */
static int
prepare_export_create (struct admin_conn *conn, json_object *req,
                       struct cmd_job *job)
{
  json_object *val;
  const char *s;

  if (need_exports (conn, req, "export-create") == -1 ||
      member (conn, req, "export-create", "spec", true, &val) == -1)
    return -1;
  if (!json_object_is_type (val, json_type_string)) {
    admin_reply_error (conn, req, EINVAL,
                       "export-create: spec: must be a string "
                       "(NAME,size=SIZE[,quota=SIZE]...)");
    return -1;
  }
  s = json_object_get_string (val);
  sd_clear_error ();
  if (strlen (s) != (size_t) json_object_get_string_len (val) ||
      exportspec_parse (s, &job->xspec) == -1) {
    admin_reply_error (conn, req, EINVAL, "%s",
                       *sd_last_error () ? sd_last_error ()
                       : "export-create: spec: contains a NUL character");
    return -1;
  }
  job->spec.path = strdup (job->xspec.name);
  if (job->spec.path == NULL) {
    admin_reply_error (conn, req, ENOMEM, "export-create: %s",
                       strerror (ENOMEM));
    return -1;
  }
  return 0;
}

/* export-set: "options", the keys export= takes (size= resizes). */
static int
prepare_export_set (struct admin_conn *conn, json_object *req,
                    struct cmd_job *job)
{
  json_object *val;
  const char *s;

  if (need_exports (conn, req, "export-set") == -1 ||
      get_export (conn, req, "export-set", &job->spec.path) == -1 ||
      member (conn, req, "export-set", "options", true, &val) == -1)
    return -1;
  if (!json_object_is_type (val, json_type_string)) {
    admin_reply_error (conn, req, EINVAL, "export-set: options: must be a "
                       "string (quota=SIZE,reserve=SIZE,tiers=LO-HI,"
                       "shared=BOOL)");
    return -1;
  }
  s = json_object_get_string (val);
  if (strlen (s) != (size_t) json_object_get_string_len (val)) {
    admin_reply_error (conn, req, EINVAL,
                       "export-set: options: contains a NUL character");
    return -1;
  }
  job->options = strdup (s);
  if (job->options == NULL) {
    admin_reply_error (conn, req, ENOMEM, "export-set: %s",
                       strerror (ENOMEM));
    return -1;
  }
  return 0;
}

static int
prepare_export_remove (struct admin_conn *conn, json_object *req,
                       struct cmd_job *job)
{
  if (need_exports (conn, req, "export-remove") == -1 ||
      get_export (conn, req, "export-remove", &job->spec.path) == -1 ||
      get_bool (conn, req, "export-remove", "force", &job->force) == -1)
    return -1;
  return 0;
}

/* ---- dispatch ---- */

struct command {
  const char *name;
  const char *members[7];       /* besides cmd and id; NULL-terminated */
  bool changes_pool;            /* root or the server's uid only */
  /* Read-only commands: answer now. */
  void (*answer) (struct admin_conn *conn, json_object *req);
  /* The others: fill in job from req, or reply and return -1. */
  int (*prepare) (struct admin_conn *conn, json_object *req,
                  struct cmd_job *job);
  enum cmd_op op;
};

static const struct command commands[] = {
  { .name = "version", .answer = admin_query_version },
  { .name = "nswap", .answer = admin_query_nswap },
  { .name = "stats", .answer = admin_query_stats },
  { .name = "summary", .answer = admin_query_summary },
  { .name = "on",
    .members = { "path", "priority", "maxactive", "create", "timeout",
                 "direct" },
    .changes_pool = true, .prepare = prepare_on, .op = CMD_ON },
  { .name = "off", .members = { "path" },
    .changes_pool = true, .prepare = prepare_off, .op = CMD_OFF },
  { .name = "ctl", .members = { "path", "priority" },
    .changes_pool = true, .prepare = prepare_ctl, .op = CMD_CTL },
  { .name = "trust", .members = { "export" },
    .changes_pool = true, .prepare = prepare_trust, .op = CMD_TRUST },
  { .name = "exports", .answer = admin_query_exports },
  { .name = "export-create", .members = { "spec" },
    .changes_pool = true, .prepare = prepare_export_create,
    .op = CMD_EXPORT_CREATE },
  { .name = "export-remove", .members = { "export", "force" },
    .changes_pool = true, .prepare = prepare_export_remove,
    .op = CMD_EXPORT_REMOVE },
  { .name = "export-set", .members = { "export", "options" },
    .changes_pool = true, .prepare = prepare_export_set,
    .op = CMD_EXPORT_SET },
};

/* The ends of the 64-bit integers json-c holds, as JSON writes them. */
#define INT64_MIN_TEXT "-9223372036854775808"
#define UINT64_MAX_TEXT "18446744073709551615"

/* Is the well-formed JSON integer p[0..n) ('-'?, then digits without a
 * leading zero) below INT64_MIN or above UINT64_MAX?
 */
static bool
beyond_64_bits (const char *p, size_t n)
{
  const char *end = *p == '-' ? INT64_MIN_TEXT : UINT64_MAX_TEXT;
  size_t digits = n - (*p == '-'), end_len = strlen (end);

  if (digits == 0 || (digits > 1 && p[n - digits] == '0'))
    return false;               /* not well formed: json-c refuses it */
  return n > end_len || (n == end_len && memcmp (p, end, n) > 0);
}

/* json-c up to 0.16 parses an integer beyond 64 bits as the nearest end
 * of the range; 0.17 and later (Debian 13 has 0.18) refuse the whole
 * line as invalid JSON ("number expected"), so the reply would lose the
 * request's id and say nothing of range.  Do as 0.16 does, whatever the
 * version: write each such integer (outside strings) as the nearest end,
 * padded with blanks so that the byte offsets json-c reports stay those
 * of the line; the range checks then refuse it as out of range.
 * => returns a copy of line[0..len) with those integers replaced, or
 *    NULL if it has none or on ENOMEM (json-c then sees the line as it
 *    is and refuses it).
 */
static char *
clamp_wide_integers (const char *line, size_t len)
{
  char *copy = NULL;
  const char *end;
  size_t i = 0, start;
  bool in_string = false;

  while (i < len) {
    if (in_string) {
      if (line[i] == '\\')
        i++;                    /* the escaped character is skipped too */
      else if (line[i] == '"')
        in_string = false;
      i++;
      continue;
    }
    if (line[i] == '"')
      in_string = true;
    if (line[i] != '-' && !isdigit ((unsigned char) line[i])) {
      i++;
      continue;
    }
    start = i++;
    while (i < len && isdigit ((unsigned char) line[i]))
      i++;
    if (i < len && strchr (".eE", line[i]) != NULL) {
      /* A fraction or an exponent: a double, which json-c parses. */
      while (i < len && strchr ("0123456789.eE+-", line[i]) != NULL)
        i++;
      continue;
    }
    if (!beyond_64_bits (line + start, i - start))
      continue;
    if (copy == NULL) {
      copy = malloc (len);
      if (copy == NULL)
        return NULL;
      memcpy (copy, line, len);
    }
    end = line[start] == '-' ? INT64_MIN_TEXT : UINT64_MAX_TEXT;
    memcpy (copy + start, end, strlen (end));
    memset (copy + start + strlen (end), ' ', i - start - strlen (end));
  }
  return copy;
}

/* Parse a request line into a JSON object.  Anything but an object is
 * refused before json-c sees it: a bare number would leave json-c
 * waiting for more digits instead of failing.
 * => returns the object, or NULL after replying.
 */
static json_object *
parse_request (struct admin_conn *conn, const char *line, size_t len)
{
  json_tokener *tok;
  json_object *req;
  enum json_tokener_error jerr;
  size_t skip = 0, end;
  CLEANUP_FREE char *clamped = NULL;

  while (skip < len && isspace ((unsigned char) line[skip]))
    skip++;
  if (skip == len || line[skip] != '{' || memchr (line, '\0', len)) {
    admin_reply_error (conn, NULL, EINVAL, "request: %s",
                       skip == len ? "empty line"
                       : line[skip] != '{' ? "not a JSON object"
                       : "a NUL byte in the line");
    return NULL;
  }
  tok = json_tokener_new ();
  if (tok == NULL) {
    admin_reply_error (conn, NULL, ENOMEM, "request: %s",
                       strerror (ENOMEM));
    return NULL;
  }
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT |
                          JSON_TOKENER_VALIDATE_UTF8);
  clamped = clamp_wide_integers (line, len);
  if (clamped != NULL)
    line = clamped;
  req = json_tokener_parse_ex (tok, line, len);
  jerr = json_tokener_get_error (tok);
  end = json_tokener_get_parse_end (tok);
  json_tokener_free (tok);
  if (jerr == json_tokener_success && admin_is_blank (line + end, len - end))
    return req;
  json_object_put (req);
  admin_reply_error (conn, NULL, EINVAL,
                     "request: invalid JSON at byte %zu: %s", end,
                     jerr == json_tokener_continue ? "unexpected end"
                     : jerr == json_tokener_success ? "text after the object"
                     : json_tokener_error_desc (jerr));
  return NULL;
}

/* The command req names.  => returns it, or NULL after replying. */
static const struct command *
find_command (struct admin_conn *conn, json_object *req)
{
  json_object *cmd;
  const char *name;
  size_t i;

  if (!json_object_object_get_ex (req, "cmd", &cmd)) {
    admin_reply_error (conn, req, EINVAL, "request: cmd: missing");
    return NULL;
  }
  if (!json_object_is_type (cmd, json_type_string)) {
    admin_reply_error (conn, req, EINVAL, "request: cmd: must be a string");
    return NULL;
  }
  name = json_object_get_string (cmd);
  for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp (name, commands[i].name) == 0)
      return &commands[i];
  admin_reply_error (conn, req, EINVAL, "request: %.64s: unknown command",
                     name);
  return NULL;
}

/* Refuse members the command does not know (a typo must not be
 * silently ignored).  => returns 0, or -1 after replying.
 */
static int
check_members (struct admin_conn *conn, json_object *req,
               const struct command *cmd)
{
  json_object_object_foreach (req, key, val) {
    const char *const *m = cmd->members;

    (void) val;
    if (strcmp (key, "cmd") == 0 || strcmp (key, "id") == 0)
      continue;
    while (*m && strcmp (*m, key) != 0)
      m++;
    if (*m == NULL) {
      admin_reply_error (conn, req, EINVAL, "%s: %.64s: unknown member",
                         cmd->name, key);
      return -1;
    }
  }
  return 0;
}

/* Changes of the pool are for root and the server's own uid (the
 * seed's kauth check).  => returns 0, or -1 after replying.
 */
static int
check_privilege (struct admin_conn *conn, json_object *req,
                 const struct command *cmd)
{
  uid_t euid = conn->srv->euid;

  if (!cmd->changes_pool || conn->uid == 0 || conn->uid == euid)
    return 0;
  admin_reply_error (conn, req, EPERM,
                     "%s: permission denied (uid %u is not root or the "
                     "server's uid %u)", cmd->name, (unsigned) conn->uid,
                     (unsigned) euid);
  return -1;
}

/* Hand a request that changes the pool to the worker. */
static void
start_job (struct admin_conn *conn, json_object *req,
           const struct command *cmd)
{
  struct cmd_job *job = calloc (1, sizeof *job);

  if (job == NULL) {
    admin_reply_error (conn, req, ENOMEM, "%s: %s", cmd->name,
                       strerror (ENOMEM));
    return;
  }
  job->job.ops = &cmd_job_ops;
  job->job.srv = conn->srv;
  job->op = cmd->op;
  job->conn = conn;
  if (cmd->prepare (conn, req, job) == -1) {
    cmd_job_free (&job->job);
    return;
  }
  job->req = json_object_get (req);
  conn->busy = true;
  admin_worker_submit (&job->job);
}

void
admin_cmd_request (struct admin_conn *conn, const char *line, size_t len)
{
  json_object *req = parse_request (conn, line, len);
  const struct command *cmd;

  if (req == NULL)
    return;
  cmd = find_command (conn, req);
  if (cmd && check_members (conn, req, cmd) == 0 &&
      check_privilege (conn, req, cmd) == 0) {
    if (cmd->answer)
      cmd->answer (conn, req);
    else
      start_job (conn, req, cmd);
  }
  json_object_put (req);
}

void
admin_cmd_too_long (struct admin_conn *conn)
{
  admin_reply_error (conn, NULL, EINVAL, "request longer than %d bytes",
                     ADMIN_LINE_MAX);
}

/* ---- jobs ---- */

static const char *const op_names[] = {
  [CMD_ON] = "on", [CMD_OFF] = "off", [CMD_CTL] = "ctl",
  [CMD_TRUST] = "trust", [CMD_EXPORT_CREATE] = "export-create",
  [CMD_EXPORT_REMOVE] = "export-remove", [CMD_EXPORT_SET] = "export-set",
};

static int64_t
ns_between (const struct timespec *a, const struct timespec *b)
{
  return (int64_t) (b->tv_sec - a->tv_sec) * 1000000000 +
    (b->tv_nsec - a->tv_nsec);
}

/* pool_swapoff's progress callback: remember the count, and hand it
 * to the loop at most every PROGRESS_INTERVAL_NS.  => worker thread.
 */
static void
job_progress (void *opaque, uint64_t moved, uint64_t total)
{
  struct cmd_job *job = opaque;
  struct timespec now;

  job->moved = moved;
  clock_gettime (CLOCK_MONOTONIC, &now);
  if (job->progress_sent &&
      ns_between (&job->last_progress, &now) < PROGRESS_INTERVAL_NS)
    return;
  job->progress_sent = true;
  job->last_progress = now;
  admin_worker_progress (&job->job, moved, total);
}

static void
cmd_job_run (struct admin_job *j)
{
  struct cmd_job *job = (struct cmd_job *) j;
  struct pool *pool = j->srv->pool;
  int r = -1;

  sd_clear_error ();
  errno = 0;
  switch (job->op) {
  case CMD_ON:
    r = pool_swapon (pool, &job->spec);
    break;
  case CMD_OFF:
    r = pool_swapoff (pool, job->spec.path, job_progress, job);
    break;
  case CMD_CTL:
    r = pool_ctl (pool, job->spec.path, job->spec.priority);
    break;
  case CMD_TRUST:
    r = pool_trust_export (pool, job->spec.path);
    break;
  case CMD_EXPORT_CREATE:
    r = exportset_add (j->srv->exports, &job->xspec);
    break;
  case CMD_EXPORT_SET:
    r = exportset_set (j->srv->exports, job->spec.path, job->options);
    break;
  case CMD_EXPORT_REMOVE:
    r = exportset_remove (j->srv->exports, job->spec.path, job->force,
                          job_progress, job, &job->moved);
    break;
  }
  if (r == 0)
    return;
  job->err = errno ? errno : EIO;
  job->error = strdup (sd_last_error ()); /* NULL: admin_reply_failure copes */
}

static json_object *
progress_json (const struct cmd_job *job, const struct admin_news *news)
{
  json_object *line = json_object_new_object ();
  json_object *progress = json_object_new_object ();

  if (job->op == CMD_OFF) {
    admin_put (progress, "path", json_object_new_string (job->spec.path));
    admin_put_u64 (progress, "moved", news->moved);
  }
  else {
    admin_put (progress, "export", json_object_new_string (job->spec.path));
    admin_put_u64 (progress, "freed", news->moved);
  }
  admin_put_u64 (progress, "total", news->total);
  admin_put (line, "progress", progress);
  return line;
}

static void
reply_job (struct cmd_job *job)
{
  json_object *reply;

  if (job->err) {
    admin_reply_failure (job->conn, job->req, job->err, job->error,
                         op_names[job->op], job->spec.path);
    return;
  }
  reply = admin_reply_new (job->req, true);
  if (job->op == CMD_OFF)
    admin_put_u64 (reply, "moved", job->moved);
  if (job->op == CMD_EXPORT_REMOVE)
    admin_put_u64 (reply, "freed", job->moved);
  admin_conn_send (job->conn, reply);
}

static void
cmd_job_deliver (struct admin_job *j, const struct admin_news *news)
{
  struct cmd_job *job = (struct cmd_job *) j;
  struct admin_conn *conn = job->conn;

  if (news->progress)
    admin_conn_send (conn, progress_json (job, news));
  if (!news->done)
    return;
  reply_job (job);
  cmd_job_free (j);
  admin_conn_job_done (conn);
}

static void
cmd_job_free (struct admin_job *j)
{
  struct cmd_job *job = (struct cmd_job *) j;

  if (job == NULL)
    return;
  json_object_put (job->req);
  free (job->spec.path);
  exportspec_free (&job->xspec);
  free (job->options);
  free (job->error);
  free (job);
}

static const struct admin_job_ops cmd_job_ops = {
  .run = cmd_job_run,
  .deliver = cmd_job_deliver,
  .free = cmd_job_free,
};

const struct admin_conn_handler admin_cmd_handler = {
  .request = admin_cmd_request,
  .too_long = admin_cmd_too_long,
};
