/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The read-only commands of the admin protocol: see admin-query.h. */

#include <config.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "admin/admin-conn.h"
#include "admin/admin-int.h"
#include "admin/admin-query.h"
#include "admin/admin-reply.h"
#include "storage/page.h"
#include "devices/swapdev.h"
#include "swapdrum/exportset.h"
#include "swapdrum/log.h"
#include "swapdrum/pool.h"

/* The protocol this server speaks (docs/admin-protocol.md). */
#define PROTOCOL_VERSION 1

void
admin_query_version (struct admin_conn *conn, json_object *req)
{
  json_object *reply = admin_reply_new (req, true);

  admin_put (reply, "version", json_object_new_string (PACKAGE_VERSION));
  admin_put (reply, "protocol", json_object_new_int (PROTOCOL_VERSION));
  admin_conn_send (conn, reply);
}

void
admin_query_nswap (struct admin_conn *conn, json_object *req)
{
  json_object *reply = admin_reply_new (req, true);

  admin_put_u64 (reply, "nswap", pool_ndevices (conn->srv->pool));
  admin_conn_send (conn, reply);
}

/* Snapshot the pool's devices.
 * => returns the count with *st set, or -1 after replying.
 */
static ssize_t
take_stats (struct admin_conn *conn, json_object *req, const char *what,
            struct pool_devstat **st)
{
  ssize_t n;

  sd_clear_error ();
  errno = 0;
  n = pool_stats (conn->srv->pool, st);
  if (n == -1)
    admin_reply_failure (conn, req, errno, sd_last_error (), what, "pool");
  return n;
}

static json_object *
flags_json (unsigned flags)
{
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {
    { SWF_INUSE, "INUSE" }, { SWF_ENABLE, "ENABLE" }, { SWF_FAKE, "FAKE" },
    { SWF_DRAIN, "DRAIN" }, { SWF_FAILED, "FAILED" },
  };
  json_object *array = json_object_new_array ();
  size_t i;

  for (i = 0; array && i < sizeof names / sizeof names[0]; i++)
    if (flags & names[i].bit)
      json_object_array_add (array, json_object_new_string (names[i].name));
  return array;
}

/* The counters of a device, in the order the reply lists them. */
static const struct {
  const char *name;
  size_t offset;
} devstat_counters[] = {
  { "pages", offsetof (struct pool_devstat, npages) },
  { "used", offsetof (struct pool_devstat, inuse) },
  { "avail", offsetof (struct pool_devstat, avail) },
  { "bad", offsetof (struct pool_devstat, bad) },
  { "drumoffset", offsetof (struct pool_devstat, drumoffset) },
  { "reads", offsetof (struct pool_devstat, nreads) },
  { "writes", offsetof (struct pool_devstat, nwrites) },
  { "bytes_read", offsetof (struct pool_devstat, bytes_read) },
  { "bytes_written", offsetof (struct pool_devstat, bytes_written) },
  { "read_errors", offsetof (struct pool_devstat, read_errors) },
  { "write_errors", offsetof (struct pool_devstat, write_errors) },
  { "reconnects", offsetof (struct pool_devstat, reconnects) },
  { "lost_pages", offsetof (struct pool_devstat, lost_pages) },
};

static json_object *
devstat_json (const struct pool_devstat *st)
{
  json_object *dev = json_object_new_object ();
  size_t i;

  admin_put (dev, "path", json_object_new_string (st->path ? st->path : ""));
  admin_put (dev, "kind", json_object_new_string (st->kind ? st->kind : "?"));
  admin_put (dev, "priority", json_object_new_int (st->priority));
  admin_put_u64 (dev, "maxactive", st->maxactive);
  admin_put (dev, "direct", json_object_new_boolean (st->direct));
  admin_put_u64 (dev, "peak_active", st->peak_active);
  admin_put (dev, "flags", flags_json (st->flags));
  admin_put_u64 (dev, "size", st->npages * SD_PAGE_SIZE);
  for (i = 0; i < sizeof devstat_counters / sizeof devstat_counters[0]; i++)
    admin_put_u64 (dev, devstat_counters[i].name,
                   *(const uint64_t *) ((const char *) st +
                                        devstat_counters[i].offset));
  return dev;
}

void
admin_query_stats (struct admin_conn *conn, json_object *req)
{
  struct pool_devstat *st;
  json_object *reply, *devices;
  ssize_t n, i;

  n = take_stats (conn, req, "stats", &st);
  if (n == -1)
    return;
  reply = admin_reply_new (req, true);
  admin_put (reply, "priority_order",
             json_object_new_string ("lower is preferred"));
  admin_put_u64 (reply, "page_size", SD_PAGE_SIZE);
  devices = json_object_new_array_ext (n);
  for (i = 0; devices && i < n; i++)
    json_object_array_add (devices, devstat_json (&st[i]));
  admin_put (reply, "devices", devices);
  pool_stats_free (st, n);
  admin_conn_send (conn, reply);
}

/* The exports a host crash made suspect, and the pages it dropped. */
static void
put_suspect (struct admin_conn *conn, json_object *reply)
{
  uint64_t lost = 0;
  char **names = pool_suspect_exports (conn->srv->pool, &lost);
  json_object *arr = json_object_new_array ();
  size_t i;

  for (i = 0; names && arr && names[i]; i++)
    json_object_array_add (arr, json_object_new_string (names[i]));
  pool_names_free (names);
  admin_put (reply, "suspect", arr);
  admin_put_u64 (reply, "lost_at_start", lost);
}

void
admin_query_summary (struct admin_conn *conn, json_object *req)
{
  struct pool_devstat *st;
  uint64_t pages = 0, used = 0, avail = 0, bad = 0;
  json_object *reply;
  ssize_t n, i;

  n = take_stats (conn, req, "summary", &st);
  if (n == -1)
    return;
  for (i = 0; i < n; i++) {
    pages += st[i].npages;
    used += st[i].inuse;
    avail += st[i].avail;
    bad += st[i].bad;
  }
  pool_stats_free (st, n);
  reply = admin_reply_new (req, true);
  admin_put_u64 (reply, "devices", n);
  admin_put_u64 (reply, "pages", pages);
  admin_put_u64 (reply, "used", used);
  admin_put_u64 (reply, "avail", avail);
  admin_put_u64 (reply, "bad", bad);
  admin_put_u64 (reply, "size", pages * SD_PAGE_SIZE);
  admin_put (reply, "pool", json_object_new_string (
               pool_description (conn->srv->pool) + strlen ("swapdrum pool ")));
  admin_put (reply, "started_after",
             json_object_new_string (pool_recovery (conn->srv->pool)));
  put_suspect (conn, reply);
  admin_conn_send (conn, reply);
}

/* ---- exports ---- */

static const char *const io_kind_names[SD_IO_KINDS] = {
  [SD_IO_READ] = "read", [SD_IO_WRITE] = "write",
  [SD_IO_TRIM] = "trim", [SD_IO_FLUSH] = "flush",
};

static json_object *
iostat_json (const struct sd_iostat *io)
{
  json_object *obj = json_object_new_object ();

  admin_put_u64 (obj, "ops", io->ops);
  admin_put_u64 (obj, "bytes", io->bytes);
  admin_put_u64 (obj, "errors", io->errors);
  admin_put_u64 (obj, "p50_ns", io->p50_ns);
  admin_put_u64 (obj, "p99_ns", io->p99_ns);
  admin_put_u64 (obj, "p999_ns", io->p999_ns);
  return obj;
}

static const char *
export_state (const struct sd_export_info *x)
{
  return x->removing ? "removing" : x->served ? "served" : "kept";
}

static json_object *
export_json (const struct sd_export_info *x)
{
  json_object *obj = json_object_new_object ();
  json_object *io = json_object_new_object ();
  int k;

  admin_put (obj, "name", json_object_new_string (x->name));
  admin_put (obj, "state", json_object_new_string (export_state (x)));
  admin_put (obj, "live", json_object_new_boolean (x->live));
  admin_put (obj, "shared", json_object_new_boolean (x->shared));
  admin_put_u64 (obj, "size", x->size);
  admin_put_u64 (obj, "quota", x->quota);
  admin_put_u64 (obj, "used", x->used);
  admin_put_u64 (obj, "reserve", x->reserve);
  admin_put (obj, "tier_lo", json_object_new_int (x->tier_lo));
  admin_put (obj, "tier_hi", json_object_new_int (x->tier_hi));
  admin_put (obj, "host", x->host ? json_object_new_string (x->host) : NULL);
  admin_put_u64 (obj, "connections", x->sessions);
  for (k = 0; k < SD_IO_KINDS; k++)
    admin_put (io, io_kind_names[k], iostat_json (&x->io[k]));
  admin_put (obj, "io", io);
  return obj;
}

void
admin_query_exports (struct admin_conn *conn, json_object *req)
{
  struct sd_export_info *info;
  json_object *reply, *arr;
  ssize_t n, i;

  if (conn->srv->exports == NULL) {
    admin_reply_error (conn, req, ENOTSUP, "exports: this server has none");
    return;
  }
  sd_clear_error ();
  n = exportset_info (conn->srv->exports, &info);
  if (n == -1) {
    admin_reply_error (conn, req, errno, "%s", sd_last_error ());
    return;
  }
  reply = admin_reply_new (req, true);
  arr = json_object_new_array_ext (n);
  for (i = 0; arr && i < n; i++)
    json_object_array_add (arr, export_json (&info[i]));
  admin_put (reply, "exports", arr);
  exportset_info_free (info, n);
  admin_conn_send (conn, reply);
}
