/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Fuzz the admin protocol: the input is what one client sends on the
 * admin socket (request lines, docs/admin-protocol.md), and it goes
 * through the server's own code for one connection (admin-conn.c:
 * reading, splitting, queueing; admin-cmd.c: parsing, checking,
 * dispatching; the queries and the replies) down to the pool, over a
 * fresh pool of three in-memory devices holding one export's data.
 *
 * To stay deterministic the harness plays both of the server's
 * threads on its own: it runs the libev loop without waiting, and runs
 * each job (on, off, ctl) itself when the loop hands one over.  Device
 * opens go to membackend devices (pool_set_opener), so that an "on"
 * never touches a file or the network.
 *
 * Checked after every input: each reply line is a JSON object with
 * "ok" (an error with "errno" and a one-line "error"), one reply per
 * request line; the connection ends by itself; the export still reads
 * back exactly the data written before; the pool's counters add up and
 * no device is left half added or half removed.
 *
 * An input starting with the line "unprivileged" (not sent) comes
 * from a client that is not root nor the server's uid.  FUZZ_ECHO=1
 * in the environment prints every reply (to look at a replay).
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <json-c/json.h>

#include "admin/admin-cmd.h"
#include "admin/admin-conn.h"
#include "admin/admin-int.h"
#include "admin/admin-worker.h"
#include "fuzz.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"
#include "swapdrum/log.h"

#define PAGE 4096
/* Small, so that a run costs little: every input builds them anew. */
#define EXPORT_PAGES 20
#define DATA_PAGES 16           /* written at the start: pages [0, 16) */
#define DEFAULT_PAGES 16        /* an "on" without create= */
#define MAX_PAGES 64            /* the most an "on" gets */
#define UNPRIVILEGED "unprivileged\n"
#define NOBODY 65534
#define MAX_ROUNDS 100000       /* loop rounds before calling it a hang */

/* The server, built by hand: no listening socket, no threads. */
static struct admin_server srv;
static bool echo;               /* FUZZ_ECHO: print the replies */
static char srv_path[] = "fuzz-admin";

/* What the export holds. */
static unsigned char expected[EXPORT_PAGES * PAGE];

/* The pool's opener: an in-memory device for a path (create= sets its
 * size, as it would a file's), identified by the path's last
 * component, so that "/x/a" and "/y/a" are one object under two names.
 * No URI can be reached.
 */
static struct swapdev *
open_mem (const struct devspec *spec, const char *own)
{
  uint64_t size = spec->create_size ? spec->create_size
                                    : (DEFAULT_PAGES + 1) * PAGE;
  const char *base = strrchr (spec->path, '/');
  char ident[300];

  if (devspec_is_uri (spec->path)) {
    errno = ECONNREFUSED;
    sd_error ("swap: %s: connect: no network in the fuzzer", spec->path);
    return NULL;
  }
  if (size < 2 * PAGE) {
    errno = EINVAL;
    sd_error ("swap: %s: file is %llu bytes; a swap file needs at least "
              "8192", spec->path, (unsigned long long) size);
    return NULL;
  }
  snprintf (ident, sizeof ident, "mem:%.256s", base ? base + 1 : spec->path);
  return mb_device_ident (spec->path, ident,
                          size / PAGE - 1 > MAX_PAGES ? MAX_PAGES
                          : size / PAGE - 1, spec->maxactive, NULL);
}

static void
wake_cb (struct ev_loop *loop, ev_async *w, int revents)
{
  admin_worker_deliver (&srv);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  size_t i;

  fuzz_log_init ();
  echo = getenv ("FUZZ_ECHO") != NULL;
  /* What admin_create and admin_start set up, minus the socket and the
   * threads.
   */
  srv.path = srv_path;
  srv.fd = -1;
  srv.euid = geteuid ();
  srv.idle_timeout = ADMIN_IDLE_TIMEOUT;
  srv.jobs_tail = &srv.jobs_head;
  pthread_mutex_init (&srv.lock, NULL);
  pthread_cond_init (&srv.work, NULL);
  srv.loop = ev_loop_new (EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  FUZZ_CHECK (srv.loop != NULL, "ev_loop_new failed");
  ev_async_init (&srv.wake, wake_cb);
  ev_async_start (srv.loop, &srv.wake);

  for (i = 0; i < DATA_PAGES * PAGE; i++)
    expected[i] = ((i / PAGE) * 31 + i) | 1;
  return 0;
}

/* ---- the pool ---- */

static void
add_device (struct pool *pool, const char *path, uint64_t npages,
            int priority)
{
  struct devspec spec = {
    .path = (char *) path, .priority = priority,
    .create_size = (npages + 1) * PAGE,
  };

  FUZZ_CHECK (pool_swapon (pool, &spec) == 0, "swap-on %s: %s", path,
              fuzz_log_last ());
}

/* A pool of three devices ("c" preferred, then "a", then "b") and an
 * export whose first DATA_PAGES pages fill "c" and part of "a".
 */
static struct pool *
new_pool (struct export **exp)
{
  struct pool *pool = pool_create ();

  FUZZ_CHECK (pool != NULL, "pool_create: %s", fuzz_log_last ());
  pool_set_opener (pool, open_mem);
  add_device (pool, "/fuzz/a", 24, 0);
  add_device (pool, "/fuzz/b", 12, 1);
  add_device (pool, "/fuzz/c", 6, -1);
  *exp = export_create (pool, "", EXPORT_PAGES * PAGE);
  FUZZ_CHECK (*exp != NULL, "export_create: %s", fuzz_log_last ());
  FUZZ_CHECK (export_pwrite (*exp, expected, DATA_PAGES * PAGE, 0,
                             false) == 0, "writing the data: %s",
              fuzz_log_last ());
  return pool;
}

/* What no admin request may break: the data, and the pool's books. */
static void
check_pool (struct pool *pool, struct export *exp)
{
  static unsigned char got[EXPORT_PAGES * PAGE];
  struct pool_devstat *st;
  uint64_t inuse = 0;
  ssize_t n, i;

  FUZZ_CHECK (export_pread (exp, got, sizeof got, 0) == 0,
              "reading the export back: %s", fuzz_log_last ());
  FUZZ_CHECK (memcmp (got, expected, sizeof got) == 0,
              "the export's data changed");
  n = pool_stats (pool, &st);
  FUZZ_CHECK (n >= 0, "pool_stats: %s", fuzz_log_last ());
  for (i = 0; i < n; i++) {
    FUZZ_CHECK (st[i].inuse + st[i].bad <= st[i].npages &&
                st[i].avail == st[i].npages - st[i].inuse - st[i].bad,
                "%s: %llu pages, %llu in use, %llu bad, %llu available",
                st[i].path, (unsigned long long) st[i].npages,
                (unsigned long long) st[i].inuse,
                (unsigned long long) st[i].bad,
                (unsigned long long) st[i].avail);
    FUZZ_CHECK ((st[i].flags & (SWF_FAKE | SWF_DRAIN)) == 0 &&
                (st[i].flags & SWF_ENABLE),
                "%s: left with flags %#x", st[i].path, st[i].flags);
    inuse += st[i].inuse;
  }
  pool_stats_free (st, n);
  FUZZ_CHECK (inuse == DATA_PAGES, "%llu pages in use, the export maps %d",
              (unsigned long long) inuse, DATA_PAGES);
}

/* ---- the connection ---- */

/* Check one reply line.  => returns 1 for a final reply, 0 for a
 * progress line.
 */
static unsigned
check_reply (const char *line)
{
  json_tokener *tok = json_tokener_new ();
  json_object *r, *ok, *val;
  unsigned final = 1;

  if (echo)
    fprintf (stderr, "%s\n", line);
  FUZZ_CHECK (tok != NULL, "out of memory");
  /* The protocol is UTF-8 both ways. */
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT |
                          JSON_TOKENER_VALIDATE_UTF8);
  r = json_tokener_parse_ex (tok, line, strlen (line));
  json_tokener_free (tok);
  FUZZ_CHECK (r && json_object_is_type (r, json_type_object),
              "reply not a JSON object of UTF-8: %s", line);
  if (json_object_object_get_ex (r, "progress", NULL))
    final = 0;
  else {
    FUZZ_CHECK (json_object_object_get_ex (r, "ok", &ok) &&
                json_object_is_type (ok, json_type_boolean),
                "reply without \"ok\": %s", line);
    if (!json_object_get_boolean (ok)) {
      /* The symbolic name, never "E111". */
      FUZZ_CHECK (json_object_object_get_ex (r, "errno", &val) &&
                  json_object_is_type (val, json_type_string) &&
                  json_object_get_string (val)[0] == 'E' &&
                  !isdigit ((unsigned char) json_object_get_string (val)[1]),
                  "error reply without an errno name: %s", line);
      FUZZ_CHECK (json_object_object_get_ex (r, "error", &val) &&
                  json_object_is_type (val, json_type_string) &&
                  strstr (json_object_get_string (val), ": ") &&
                  strchr (json_object_get_string (val), '\n') == NULL,
                  "error reply without \"what: reason\": %s", line);
    }
  }
  json_object_put (r);
  return final;
}

struct replies {
  char *buf;
  size_t len, cap;
  unsigned final;               /* final replies checked */
};

/* Read what the server sent on fd; check the whole lines.
 * => returns true at EOF.
 */
static bool
read_replies (int fd, struct replies *rp)
{
  for (;;) {
    ssize_t r;
    char *nl;

    if (rp->cap - rp->len < 65536) {
      rp->cap = rp->len + 65536;
      rp->buf = realloc (rp->buf, rp->cap + 1);
      FUZZ_CHECK (rp->buf != NULL, "out of memory");
    }
    r = recv (fd, rp->buf + rp->len, rp->cap - rp->len, MSG_DONTWAIT);
    if (r == 0)
      return true;
    if (r == -1) {
      FUZZ_CHECK (errno == EAGAIN || errno == EWOULDBLOCK,
                  "reading replies: %m");
      return false;
    }
    rp->len += r;
    while ((nl = memchr (rp->buf, '\n', rp->len)) != NULL) {
      size_t n = nl - rp->buf;

      *nl = '\0';
      rp->final += check_reply (rp->buf);
      memmove (rp->buf, nl + 1, rp->len - n - 1);
      rp->len -= n + 1;
    }
  }
}

/* The request lines the server must answer: every line, but a last
 * one without '\n' that is blank.
 */
static unsigned
count_requests (const uint8_t *data, size_t size)
{
  unsigned n = 0;
  size_t i, start = 0;

  for (i = 0; i < size; i++)
    if (data[i] == '\n') {
      n++;
      start = i + 1;
    }
  for (i = start; i < size; i++)
    if (!strchr (" \t\n\v\f\r", data[i]) || data[i] == '\0')
      return n + 1;
  return n;
}

/* Send data as one client, to the end, and check what comes back. */
static void
converse (const uint8_t *data, size_t size, bool privileged)
{
  struct replies rp = { .buf = NULL };
  struct admin_conn *conn;
  size_t sent = 0;
  bool eof = false;
  unsigned rounds;
  int sv[2];

  FUZZ_CHECK (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
                          SOCK_CLOEXEC, 0, sv) == 0, "socketpair: %m");
  conn = admin_conn_new (&srv, sv[0], &admin_cmd_handler);
  FUZZ_CHECK (conn != NULL, "admin_conn_new: %s", fuzz_log_last ());
  if (!privileged)
    conn->uid = NOBODY;
  for (rounds = 0; !eof || srv.conns; rounds++) {
    FUZZ_CHECK (rounds < MAX_ROUNDS, "the connection never finished "
                "(%zu of %zu bytes sent)", sent, size);
    if (sent < size) {
      ssize_t r = send (sv[1], data + sent, size - sent, MSG_NOSIGNAL);
      FUZZ_CHECK (r > 0 || errno == EAGAIN, "sending: %m");
      sent += r > 0 ? r : 0;
      if (sent == size)
        shutdown (sv[1], SHUT_WR);
    }
    else if (size == 0 && rounds == 0)
      shutdown (sv[1], SHUT_WR);
    ev_run (srv.loop, EVRUN_NOWAIT);
    admin_worker_run_one (&srv);
    eof = read_replies (sv[1], &rp) || eof;
  }
  close (sv[1]);
  FUZZ_CHECK (rp.len == 0, "a reply without its '\\n'");
  /* Lines longer than the limit are answered in one piece each:
   * count only inputs that cannot hold one.
   */
  if (size <= ADMIN_LINE_MAX)
    FUZZ_CHECK (rp.final == count_requests (data, size),
                "%u replies to %u requests", rp.final,
                count_requests (data, size));
  FUZZ_CHECK (srv.jobs_head == NULL && srv.outbox == NULL,
              "a job left behind");
  free (rp.buf);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  size_t skip = strlen (UNPRIVILEGED);
  bool privileged = !(size >= skip && memcmp (data, UNPRIVILEGED, skip) == 0);
  struct export *exp;
  struct pool *pool;

  fuzz_log_reset ();
  pool = new_pool (&exp);
  srv.pool = pool;
  if (!privileged) {
    data += skip;
    size -= skip;
  }
  converse (data, size, privileged);
  check_pool (pool, exp);
  export_destroy (exp);
  pool_destroy (pool);
  srv.pool = NULL;
  return 0;
}
