/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Replies of the admin protocol: see admin-reply.h. */

#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "admin/admin-conn.h"
#include "admin/admin-reply.h"

const char *
admin_errno_name (int err, char *buf, size_t len)
{
  /* glibc (2.32 and later) knows every name; a table of our own had
   * missed those of the network (ECONNREFUSED from a remote "on" was
   * sent as "E111").
   */
  const char *name = err > 0 ? strerrorname_np (err) : NULL;

  if (name)
    return name;
  snprintf (buf, len, "E%d", err);
  return buf;
}

void
admin_put (json_object *obj, const char *key, json_object *val)
{
  if (obj == NULL || json_object_object_add (obj, key, val) == -1)
    json_object_put (val);
}

void
admin_put_u64 (json_object *obj, const char *key, uint64_t val)
{
  admin_put (obj, key, json_object_new_uint64 (val));
}

json_object *
admin_reply_new (json_object *req, bool ok)
{
  json_object *reply = json_object_new_object ();
  json_object *id;

  admin_put (reply, "ok", json_object_new_boolean (ok));
  if (req && json_object_object_get_ex (req, "id", &id))
    admin_put (reply, "id", json_object_get (id));
  return reply;
}

/* The length of the UTF-8 character at p (at most len bytes), or 0 if
 * it is not one (RFC 3629: no overlong form, no surrogate, at most
 * U+10FFFF).
 */
static size_t
utf8_length (const unsigned char *p, size_t len)
{
  unsigned char lo = 0x80, hi = 0xbf;
  size_t n, i;

  if (p[0] < 0x80)
    return 1;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    n = 2;
  else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    lo = p[0] == 0xe0 ? 0xa0 : 0x80;
    hi = p[0] == 0xed ? 0x9f : 0xbf;
  }
  else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    lo = p[0] == 0xf0 ? 0x90 : 0x80;
    hi = p[0] == 0xf4 ? 0x8f : 0xbf;
  }
  else
    return 0;
  if (len < n || p[1] < lo || p[1] > hi)
    return 0;
  for (i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;
  return n;
}

/* Make msg one line of UTF-8, in place, as the protocol promises: a
 * message quotes paths as given (a newline is a valid path byte), and
 * the engine's messages are cut at 1023 bytes, maybe inside a
 * character.  Control characters and broken sequences become '?'.
 */
static void
one_line (char *msg)
{
  unsigned char *p = (unsigned char *) msg;
  size_t len = strlen (msg), n;

  while (len > 0) {
    n = utf8_length (p, len);
    if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f))) {
      *p = '?';
      n = 1;
    }
    p += n;
    len -= n;
  }
}

void
admin_reply_error (struct admin_conn *conn, json_object *req, int err,
                   const char *fmt, ...)
{
  json_object *reply = admin_reply_new (req, false);
  char *msg = NULL, buf[32];
  va_list args;

  va_start (args, fmt);
  if (vasprintf (&msg, fmt, args) == -1)
    msg = NULL;
  va_end (args);
  if (msg)
    one_line (msg);
  admin_put (reply, "errno",
             json_object_new_string (admin_errno_name (err, buf, sizeof buf)));
  admin_put (reply, "error",
             json_object_new_string (msg ? msg : strerror (err)));
  free (msg);
  admin_conn_send (conn, reply);
}

void
admin_reply_failure (struct admin_conn *conn, json_object *req, int err,
                     const char *msg, const char *what, const char *object)
{
  if (err == 0)
    err = EIO;
  if (msg && *msg)
    admin_reply_error (conn, req, err, "%s", msg);
  else
    admin_reply_error (conn, req, err, "%s: %s: %s", what, object,
                       strerror (err));
}
