/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Helpers for the admin server's unit tests: see admintest.h. */

#include <config.h>

#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "admin/admin-int.h"
#include "admintest.h"
#include "fixture.h"
#include "membackend.h"
#include "swapdrum/export.h"

/* Enough for any reply the tests provoke. */
#define BUF_SIZE (1024 * 1024)

struct at_client {
  int fd;
  char *buf;
  size_t len;
};

/* ---- scratch directory and server ---- */

double at_idle_timeout;

char *
at_tmpdir (void)
{
  char *dir = strdup ("/tmp/swapdrum-admin-XXXXXX");

  cr_assert_not_null (dir);
  cr_assert_not_null (mkdtemp (dir), "mkdtemp: %s", strerror (errno));
  return dir;
}

static int
remove_one (const char *path, const struct stat *st, int flag,
            struct FTW *ftw)
{
  remove (path);
  return 0;
}

void
at_rmdir (char *dir)
{
  nftw (dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
  free (dir);
}

char *
at_path (const char *dir, const char *name)
{
  char *path;

  cr_assert_neq (asprintf (&path, "%s/%s", dir, name), -1);
  return path;
}

struct admin_server *
at_start (struct pool *pool, const char *path, mode_t mode)
{
  struct admin_server *srv = admin_create (pool, NULL, path, mode, (gid_t) -1);

  cr_assert_not_null (srv, "admin_create: %s", mb_log_last ());
  if (at_idle_timeout > 0)
    srv->idle_timeout = at_idle_timeout;
  cr_assert_eq (admin_start (srv), 0, "admin_start: %s", mb_log_last ());
  return srv;
}

/* ---- the usual setups ---- */

void
at_setup_two (struct at_setup *s)
{
  memset (s, 0, sizeof *s);
  s->dir = at_tmpdir ();
  s->sock = at_path (s->dir, "admin.sock");
  s->pool = fx_new_pool ();
  fx_add_dev (s->pool, "a", 100, 5, &s->mb_a);
  fx_add_dev (s->pool, "b", 50, -3, &s->mb_b);
  s->srv = at_start (s->pool, s->sock, 0600);
}

void
at_setup_data (struct at_setup *s, uint64_t b_pages, unsigned char **data)
{
  uint64_t seed = 42;

  memset (s, 0, sizeof *s);
  s->dir = at_tmpdir ();
  s->sock = at_path (s->dir, "admin.sock");
  s->pool = fx_new_pool ();
  fx_add_dev (s->pool, "a", 300, 0, &s->mb_a);
  s->exp = fx_new_export (s->pool, MIB);
  *data = malloc (MIB);
  cr_assert_not_null (*data);
  fx_fill_random (*data, MIB, &seed);
  fx_pwrite_ok (s->exp, *data, MIB, 0);
  fx_add_dev (s->pool, "b", b_pages, 1, &s->mb_b);
  s->srv = at_start (s->pool, s->sock, 0600);
}

void
at_teardown (struct at_setup *s)
{
  admin_destroy (s->srv);
  export_destroy (s->exp);
  pool_destroy (s->pool);
  free (s->sock);
  at_rmdir (s->dir);
}

/* ---- clients ---- */

struct at_client *
at_try_connect (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct at_client *c = calloc (1, sizeof *c);
  int err;

  cr_assert_not_null (c);
  strncpy (addr.sun_path, path, sizeof addr.sun_path - 1);
  c->fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd == -1 ||
      connect (c->fd, (struct sockaddr *) &addr, sizeof addr) == -1) {
    err = errno;
    if (c->fd >= 0)
      close (c->fd);
    free (c);
    errno = err;
    return NULL;
  }
  return c;
}

struct at_client *
at_connect (const char *path)
{
  struct at_client *c = at_try_connect (path);

  cr_assert_not_null (c, "connect %s: %s", path, strerror (errno));
  return c;
}

void
at_close (struct at_client *c)
{
  if (c) {
    close (c->fd);
    free (c->buf);
    free (c);
  }
}

int
at_fd (const struct at_client *c)
{
  return c->fd;
}

void
at_send_bytes (struct at_client *c, const void *buf, size_t len)
{
  const char *p = buf;

  while (len > 0) {
    ssize_t r = send (c->fd, p, len, MSG_NOSIGNAL);
    cr_assert_gt (r, 0, "send: %s", strerror (errno));
    p += r;
    len -= r;
  }
}

void
at_send (struct at_client *c, const char *text)
{
  at_send_bytes (c, text, strlen (text));
}

void
at_shutdown (struct at_client *c)
{
  cr_assert_eq (shutdown (c->fd, SHUT_WR), 0);
}

/* Read more bytes within ms.
 * => returns the count, 0 at EOF, -1 on timeout.
 */
static ssize_t
fill (struct at_client *c, int ms)
{
  struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
  ssize_t r;

  if (c->buf == NULL) {
    c->buf = malloc (BUF_SIZE);
    cr_assert_not_null (c->buf);
  }
  cr_assert_lt (c->len, BUF_SIZE, "reply line too long");
  if (poll (&pfd, 1, ms) != 1)
    return -1;
  r = recv (c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
  if (r == -1 && errno == ECONNRESET)
    return 0;                   /* closed with our request unread */
  cr_assert_geq (r, 0, "recv: %s", strerror (errno));
  c->len += r;
  return r;
}

/* The next whole line (malloc'd, no '\n'), NULL on EOF or timeout;
 * *eof says which.
 */
static char *
next_line (struct at_client *c, int ms, bool *eof)
{
  char *nl, *line;
  size_t n;

  *eof = false;
  while ((nl = c->buf ? memchr (c->buf, '\n', c->len) : NULL) == NULL) {
    ssize_t r = fill (c, ms);
    if (r <= 0) {
      *eof = r == 0;
      return NULL;
    }
  }
  n = nl - c->buf;
  line = strndup (c->buf, n);
  cr_assert_not_null (line);
  memmove (c->buf, nl + 1, c->len - n - 1);
  c->len -= n + 1;
  return line;
}

json_object *
at_read_within (struct at_client *c, int ms)
{
  bool eof;
  char *line = next_line (c, ms, &eof);
  json_object *obj;

  if (line == NULL)
    return NULL;
  obj = json_tokener_parse (line);
  cr_assert_not_null (obj, "not JSON: %s", line);
  cr_assert (json_object_is_type (obj, json_type_object),
             "not an object: %s", line);
  free (line);
  return obj;
}

json_object *
at_read (struct at_client *c)
{
  json_object *obj = at_read_within (c, AT_TIMEOUT_MS);

  cr_assert_not_null (obj, "no reply within %d ms", AT_TIMEOUT_MS);
  return obj;
}

bool
at_eof_within (struct at_client *c, int ms)
{
  bool eof;
  char *line = next_line (c, ms, &eof);

  cr_assert_null (line, "expected EOF, got: %s", line);
  return eof;
}

json_object *
at_request (struct at_client *c, const char *line)
{
  at_send (c, line);
  at_send (c, "\n");
  return at_read (c);
}

void
at_request_ok (struct at_client *c, const char *line)
{
  json_object_put (at_ok (at_request (c, line)));
}

int64_t
at_nswap (struct at_client *c)
{
  json_object *r = at_ok (at_request (c, "{\"cmd\":\"nswap\"}"));
  int64_t n = at_int (r, "nswap");

  json_object_put (r);
  return n;
}

/* ---- replies ---- */

json_object *
at_member (json_object *obj, const char *key)
{
  json_object *val;

  cr_assert (json_object_object_get_ex (obj, key, &val), "no \"%s\" in %s",
             key, json_object_to_json_string (obj));
  return val;
}

int64_t
at_int (json_object *obj, const char *key)
{
  json_object *val = at_member (obj, key);

  cr_assert (json_object_is_type (val, json_type_int), "\"%s\" in %s", key,
             json_object_to_json_string (obj));
  return json_object_get_int64 (val);
}

const char *
at_str (json_object *obj, const char *key)
{
  json_object *val = at_member (obj, key);

  cr_assert (json_object_is_type (val, json_type_string), "\"%s\" in %s",
             key, json_object_to_json_string (obj));
  return json_object_get_string (val);
}

json_object *
at_ok (json_object *reply)
{
  json_object *ok = at_member (reply, "ok");

  cr_assert (json_object_get_boolean (ok), "not ok: %s",
             json_object_to_json_string (reply));
  return reply;
}

void
at_expect_error (json_object *reply, const char *err, const char *needle)
{
  const char *text = json_object_to_json_string (reply);

  cr_assert (!json_object_get_boolean (at_member (reply, "ok")),
             "expected %s, got %s", err, text);
  cr_assert_str_eq (at_str (reply, "errno"), err, "in %s", text);
  if (needle)
    cr_assert (strstr (at_str (reply, "error"), needle),
               "expected \"%s\" in %s", needle, text);
  json_object_put (reply);
}

json_object *
at_device (json_object *stats, const char *path)
{
  json_object *devices = at_member (stats, "devices");
  size_t i, n = json_object_array_length (devices);

  for (i = 0; i < n; i++) {
    json_object *dev = json_object_array_get_idx (devices, i);
    if (strcmp (at_str (dev, "path"), path) == 0)
      return dev;
  }
  return NULL;
}

bool
at_has_flag (json_object *dev, const char *flag)
{
  json_object *flags = at_member (dev, "flags");
  size_t i, n = json_object_array_length (flags);

  for (i = 0; i < n; i++)
    if (strcmp (json_object_get_string (json_object_array_get_idx (flags, i)),
                flag) == 0)
      return true;
  return false;
}
