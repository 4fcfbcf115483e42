/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The client side of the admin protocol: a unix stream socket, one
 * JSON object per line each way.
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl-conn.h"
#include "ctl-util.h"
#include "swapdrum/cleanup.h"

/* A reply longer than this is taken for a broken server rather than
 * read into memory without end.  A stats reply costs a few hundred
 * bytes a device.
 */
#define MAX_LINE (64u << 20)

struct ctl_conn {
  int fd;
  char *path;                   /* the socket, for messages */
  bool raw;                     /* copy every line to stdout (--json) */
  bool broken;                  /* a send, read or parse failed */
  char *buf;                    /* bytes received, not yet consumed */
  size_t len;                   /* bytes in buf */
  size_t cap;                   /* size of buf */
};

struct ctl_conn *
ctl_conn_open (const char *path, bool raw)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  size_t n = strlen (path);
  struct ctl_conn *conn;
  int fd;

  if (n >= sizeof addr.sun_path) {
    ctl_error ("%s: connect: socket path too long (%zu bytes at most)",
               path, sizeof addr.sun_path - 1);
    return NULL;
  }
  memcpy (addr.sun_path, path, n + 1);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    ctl_error ("%s: socket: %m", path);
    return NULL;
  }
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == -1) {
    ctl_error ("%s: connect: %m", path);
    close (fd);
    return NULL;
  }
  conn = calloc (1, sizeof *conn);
  if (conn == NULL || (conn->path = strdup (path)) == NULL)
    ctl_nomem ();
  conn->fd = fd;
  conn->raw = raw;
  return conn;
}

void
ctl_conn_close (struct ctl_conn *conn)
{
  if (conn) {
    close (conn->fd);
    free (conn->path);
    free (conn->buf);
    free (conn);
  }
}

bool
ctl_conn_usable (const struct ctl_conn *conn)
{
  return !conn->broken;
}

json_object *
ctl_request_new (const char *cmd)
{
  json_object *req = json_object_new_object ();
  json_object *s = json_object_new_string (cmd);

  if (req == NULL || s == NULL || json_object_object_add (req, "cmd", s))
    ctl_nomem ();
  return req;
}

/* Write all of buf (a request line).  MSG_NOSIGNAL: a server that went
 * away is an error message, not a SIGPIPE.
 * => returns 0, or -1 after reporting.
 */
static int
send_all (struct ctl_conn *conn, const char *buf, size_t n)
{
  while (n > 0) {
    ssize_t r = send (conn->fd, buf, n, MSG_NOSIGNAL);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      ctl_error ("%s: send: %m", conn->path);
      return -1;
    }
    buf += r;
    n -= r;
  }
  return 0;
}

/* Send req as one line. */
static int
send_request (struct ctl_conn *conn, json_object *req)
{
  const char *text;
  CLEANUP_FREE char *line = NULL;
  int n;

  text = json_object_to_json_string_ext (req, JSON_C_TO_STRING_PLAIN |
                                         JSON_C_TO_STRING_NOSLASHESCAPE);
  if (text == NULL)
    ctl_nomem ();
  n = asprintf (&line, "%s\n", text);
  if (n == -1)
    ctl_nomem ();
  return send_all (conn, line, n);
}

/* Make room in buf for at least one more read.
 * => returns 0, or -1 after reporting a line too long.
 */
static int
make_room (struct ctl_conn *conn)
{
  size_t cap;
  char *buf;

  if (conn->len < conn->cap)
    return 0;
  if (conn->cap >= MAX_LINE) {
    ctl_error ("%s: bad reply from the server: a line longer than %u bytes",
               conn->path, MAX_LINE);
    return -1;
  }
  cap = conn->cap ? conn->cap * 2 : 4096;
  buf = realloc (conn->buf, cap);
  if (buf == NULL)
    ctl_nomem ();
  conn->buf = buf;
  conn->cap = cap;
  return 0;
}

/* Remove the first n bytes of buf and its '\n' and return them as a
 * string.
 */
static char *
take_line (struct ctl_conn *conn, size_t n)
{
  char *line = strndup (conn->buf, n);

  if (line == NULL)
    ctl_nomem ();
  conn->len -= n + 1;
  memmove (conn->buf, conn->buf + n + 1, conn->len);
  return line;
}

/* Read the next line the server sends, without its '\n'.
 * => returns it (malloc'd), or NULL after reporting the end of the
 *    stream or a read error.
 */
static char *
read_line (struct ctl_conn *conn)
{
  for (;;) {
    char *nl = conn->len ? memchr (conn->buf, '\n', conn->len) : NULL;
    ssize_t r;

    if (nl)
      return take_line (conn, nl - conn->buf);
    if (make_room (conn) == -1)
      return NULL;
    r = read (conn->fd, conn->buf + conn->len, conn->cap - conn->len);
    if (r == -1 && errno == EINTR)
      continue;
    if (r == -1) {
      ctl_error ("%s: read: %m", conn->path);
      return NULL;
    }
    if (r == 0) {
      ctl_error ("%s: the server closed the connection without replying",
                 conn->path);
      return NULL;
    }
    conn->len += r;
  }
}

/* Read and parse the next line; with raw, copy it to stdout first.
 * => returns a JSON object, or NULL after reporting.
 */
static json_object *
read_message (struct ctl_conn *conn)
{
  CLEANUP_FREE char *line = read_line (conn);
  enum json_tokener_error err;
  json_object *msg;

  if (line == NULL)
    return NULL;
  if (conn->raw) {
    /* Flushed line by line: a script reading progress lines sees them
     * as they come.
     */
    printf ("%s\n", line);
    fflush (stdout);
  }
  msg = json_tokener_parse_verbose (line, &err);
  if (msg == NULL || !json_object_is_type (msg, json_type_object)) {
    ctl_error ("%s: bad reply from the server: %s", conn->path,
               msg ? "not a JSON object" : json_tokener_error_desc (err));
    json_object_put (msg);
    return NULL;
  }
  return msg;
}

/* Report a refused request: the server's "error" line and errno name,
 * e.g. "off: /srv/a.swap: not in the pool (ENOENT)".
 */
static void
report_refusal (json_object *reply)
{
  json_object *e, *n;
  const char *error = "the server refused the request";
  const char *errname = NULL;

  if (json_object_object_get_ex (reply, "error", &e) &&
      json_object_is_type (e, json_type_string))
    error = json_object_get_string (e);
  if (json_object_object_get_ex (reply, "errno", &n) &&
      json_object_is_type (n, json_type_string))
    errname = json_object_get_string (n);
  if (errname)
    ctl_error ("%s (%s)", error, errname);
  else
    ctl_error ("%s", error);
}

/* Read lines until the reply to the request just sent; hand progress
 * lines to progress.
 * => returns the reply (whatever its "ok"), or NULL after reporting.
 */
static json_object *
read_reply (struct ctl_conn *conn, ctl_progress_fn progress, void *opaque)
{
  for (;;) {
    json_object *msg = read_message (conn), *p;

    if (msg == NULL)
      return NULL;
    if (json_object_object_get_ex (msg, "ok", NULL))
      return msg;
    if (!json_object_object_get_ex (msg, "progress", &p)) {
      ctl_error ("%s: bad reply from the server: no \"ok\" member",
                 conn->path);
      json_object_put (msg);
      return NULL;
    }
    if (progress)
      progress (p, opaque);
    json_object_put (msg);
  }
}

json_object *
ctl_conn_call (struct ctl_conn *conn, json_object *req,
               ctl_progress_fn progress, void *opaque)
{
  json_object *reply, *ok;

  if (conn->broken) {
    ctl_error ("%s: the connection failed before this request", conn->path);
    return NULL;
  }
  if (send_request (conn, req) == -1) {
    conn->broken = true;
    return NULL;
  }
  reply = read_reply (conn, progress, opaque);
  if (reply == NULL) {
    conn->broken = true;
    return NULL;
  }
  json_object_object_get_ex (reply, "ok", &ok);
  if (!json_object_get_boolean (ok)) {
    report_refusal (reply);
    json_object_put (reply);
    return NULL;
  }
  return reply;
}
