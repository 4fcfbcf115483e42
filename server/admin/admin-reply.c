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

static const struct {
  int err;
  const char *name;
} errno_names[] = {
  { EINVAL, "EINVAL" }, { ENOENT, "ENOENT" }, { EBUSY, "EBUSY" },
  { ENOSPC, "ENOSPC" }, { EPERM, "EPERM" }, { EIO, "EIO" },
  { ENOMEM, "ENOMEM" }, { EEXIST, "EEXIST" }, { EADDRINUSE, "EADDRINUSE" },
  { EACCES, "EACCES" }, { ENOTDIR, "ENOTDIR" },
  { ENAMETOOLONG, "ENAMETOOLONG" }, { EROFS, "EROFS" }, { ENODEV, "ENODEV" },
  { ENXIO, "ENXIO" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { EAGAIN, "EAGAIN" },
  { EFBIG, "EFBIG" }, { ELOOP, "ELOOP" }, { EISDIR, "EISDIR" },
};

const char *
admin_errno_name (int err, char *buf, size_t len)
{
  size_t i;

  for (i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
    if (errno_names[i].err == err)
      return errno_names[i].name;
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
