/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the admin server's socket (server/admin/admin.c,
 * server/admin/admin-sock.c, server/admin/admin-conn.c): the socket file, many
 * clients at once, running out of file descriptors, and the privilege
 * check.  The protocol itself is in test-admin.c.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "admintest.h"
#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"

TestSuite (admin_socket, .init = fx_quiet, .timeout = 60);

/* A pool of one in-memory device "a" and a scratch directory; the
 * servers are the tests' own.
 */
struct setup {
  char *dir, *sock;
  struct pool *pool;
};

static void
setup (struct setup *s)
{
  s->dir = at_tmpdir ();
  s->sock = at_path (s->dir, "admin.sock");
  s->pool = fx_new_pool ();
  fx_add_dev (s->pool, "a", 10, 0, NULL);
}

static void
teardown (struct setup *s)
{
  pool_destroy (s->pool);
  free (s->sock);
  at_rmdir (s->dir);
}

static void
expect_version (struct at_client *c)
{
  json_object_put (at_ok (at_request (c, "{\"cmd\":\"version\"}")));
}

static mode_t
mode_of (const char *path)
{
  struct stat st;

  cr_assert_eq (lstat (path, &st), 0, "%s: %s", path, strerror (errno));
  return st.st_mode;
}

/* ---- the socket file ---- */

Test (admin_socket, the_socket_file_gets_exactly_the_mode_asked)
{
  struct setup s;
  struct admin_server *srv;
  char *other;

  setup (&s);
  umask (022);
  srv = at_start (s.pool, s.sock, 0600);
  cr_assert (S_ISSOCK (mode_of (s.sock)));
  cr_assert_eq (mode_of (s.sock) & 07777, 0600);
  cr_assert_str_eq (admin_path (srv), s.sock);
  admin_destroy (srv);
  /* A wider mode than the umask allows is still given exactly. */
  umask (077);
  other = at_path (s.dir, "group.sock");
  srv = at_start (s.pool, other, 0660);
  cr_assert_eq (mode_of (other) & 07777, 0660);
  admin_destroy (srv);
  free (other);
  teardown (&s);
}

Test (admin_socket, a_missing_parent_directory_is_created_mode_0700)
{
  struct setup s;
  struct admin_server *srv;
  struct at_client *c;
  char *sub, *path;

  setup (&s);
  umask (022);
  sub = at_path (s.dir, "run");
  path = at_path (sub, "admin.sock");
  srv = at_start (s.pool, path, 0600);
  cr_assert (S_ISDIR (mode_of (sub)));
  cr_assert_eq (mode_of (sub) & 07777, 0700);
  c = at_connect (path);
  expect_version (c);
  at_close (c);
  admin_destroy (srv);
  free (path);
  free (sub);
  teardown (&s);
}

Test (admin_socket, a_missing_parent_directory_lets_in_whom_the_socket_does)
{
  struct setup s;
  struct admin_server *srv;
  struct stat st;
  char *sub, *path, *sub2, *path2;

  setup (&s);
  umask (077);
  /* Group members may use the socket: they may search its directory,
   * which has the socket's group.
   */
  sub = at_path (s.dir, "group");
  path = at_path (sub, "admin.sock");
  srv = admin_create (s.pool, NULL, path, 0660, getegid ());
  cr_assert_not_null (srv, "admin_create: %s", mb_log_last ());
  cr_assert_eq (lstat (sub, &st), 0);
  cr_assert_eq (st.st_mode & 07777, 0710);
  cr_assert_eq (st.st_gid, getegid ());
  admin_destroy (srv);
  /* Everybody may use it: everybody may search. */
  sub2 = at_path (s.dir, "all");
  path2 = at_path (sub2, "admin.sock");
  srv = admin_create (s.pool, NULL, path2, 0666, (gid_t) -1);
  cr_assert_not_null (srv, "admin_create: %s", mb_log_last ());
  cr_assert_eq (mode_of (sub2) & 07777, 0711);
  admin_destroy (srv);
  free (path);
  free (sub);
  free (path2);
  free (sub2);
  teardown (&s);
}

Test (admin_socket, a_stale_socket_file_is_replaced)
{
  struct setup s;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct admin_server *srv;
  struct at_client *c;
  int fd;

  setup (&s);
  /* A server that died: its socket file stays, nobody listens. */
  strcpy (addr.sun_path, s.sock);
  fd = socket (AF_UNIX, SOCK_STREAM, 0);
  cr_assert_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
  close (fd);
  cr_assert (S_ISSOCK (mode_of (s.sock)));
  srv = at_start (s.pool, s.sock, 0600);
  c = at_connect (s.sock);
  expect_version (c);
  at_close (c);
  admin_destroy (srv);
  teardown (&s);
}

Test (admin_socket, a_second_server_on_a_live_socket_gets_eaddrinuse)
{
  struct setup s;
  struct admin_server *srv;
  struct at_client *c;

  setup (&s);
  srv = at_start (s.pool, s.sock, 0600);
  errno = 0;
  cr_assert_null (admin_create (s.pool, NULL, s.sock, 0600, (gid_t) -1));
  cr_assert_eq (errno, EADDRINUSE, "errno %s", strerror (errno));
  cr_assert (mb_log_has ("another server is listening there"),
             "got: %s", mb_log_last ());
  c = at_connect (s.sock);
  expect_version (c);
  at_close (c);
  admin_destroy (srv);
  teardown (&s);
}

Test (admin_socket, a_path_that_is_not_a_socket_is_left_alone)
{
  struct setup s;
  int fd;

  setup (&s);
  fd = open (s.sock, O_WRONLY | O_CREAT, 0644);
  cr_assert_geq (fd, 0);
  close (fd);
  errno = 0;
  cr_assert_null (admin_create (s.pool, NULL, s.sock, 0600, (gid_t) -1));
  cr_assert_eq (errno, EEXIST, "errno %s", strerror (errno));
  cr_assert (S_ISREG (mode_of (s.sock)));
  teardown (&s);
}

Test (admin_socket, a_socket_path_too_long_gets_enametoolong)
{
  struct setup s;
  char path[200];

  setup (&s);
  memset (path, 'x', sizeof path - 1);
  path[0] = '/';
  path[sizeof path - 1] = '\0';
  errno = 0;
  cr_assert_null (admin_create (s.pool, NULL, path, 0600, (gid_t) -1));
  cr_assert_eq (errno, ENAMETOOLONG, "errno %s", strerror (errno));
  cr_assert (mb_log_has ("socket path too long"), "got: %s", mb_log_last ());
  teardown (&s);
}

Test (admin_socket, destroy_removes_the_socket_file_only_while_it_is_ours)
{
  struct setup s;
  struct admin_server *first, *second;
  struct at_client *c;

  setup (&s);
  first = at_start (s.pool, s.sock, 0600);
  /* Somebody removed it and another server took the name. */
  cr_assert_eq (unlink (s.sock), 0);
  second = at_start (s.pool, s.sock, 0600);
  admin_destroy (first);
  cr_assert (S_ISSOCK (mode_of (s.sock)), "the second server's file went");
  c = at_connect (s.sock);
  expect_version (c);
  at_close (c);
  admin_destroy (second);
  cr_assert_eq (access (s.sock, F_OK), -1, "the socket file stayed");
  teardown (&s);
}

Test (admin_socket, a_server_never_started_is_destroyed_cleanly)
{
  struct setup s;
  struct admin_server *srv;

  setup (&s);
  srv = admin_create (s.pool, NULL, s.sock, 0600, (gid_t) -1);
  cr_assert_not_null (srv);
  admin_destroy (srv);
  admin_destroy (NULL);
  cr_assert_eq (access (s.sock, F_OK), -1, "the socket file stayed");
  teardown (&s);
}

/* ---- many clients ---- */

Test (admin_socket, a_silent_client_does_not_block_others)
{
  struct setup s;
  struct admin_server *srv;
  struct at_client *silent, *half, *other;

  setup (&s);
  srv = at_start (s.pool, s.sock, 0600);
  silent = at_connect (s.sock);
  half = at_connect (s.sock);
  at_send (half, "{\"cmd\":\"ver");
  other = at_connect (s.sock);
  expect_version (other);
  at_send (half, "sion\"}\n");
  json_object_put (at_ok (at_read (half)));
  cr_assert_null (at_read_within (silent, 100));
  at_close (silent);
  at_close (half);
  at_close (other);
  admin_destroy (srv);
  teardown (&s);
}

Test (admin_socket, two_hundred_clients_at_once_each_get_a_version_reply)
{
  struct setup s;
  struct admin_server *srv;
  struct at_client *c[200];
  size_t i;

  setup (&s);
  srv = at_start (s.pool, s.sock, 0600);
  for (i = 0; i < 200; i++)
    c[i] = at_connect (s.sock);
  for (i = 0; i < 200; i++)
    at_send (c[i], "{\"cmd\":\"version\"}\n");
  for (i = 0; i < 200; i++) {
    json_object_put (at_ok (at_read (c[i])));
    at_close (c[i]);
  }
  admin_destroy (srv);
  teardown (&s);
}

/* Raise the soft limit on open files to at least want.
 * => returns false if the hard limit is lower.
 */
static bool
raise_nofile (rlim_t want)
{
  struct rlimit lim;

  cr_assert_eq (getrlimit (RLIMIT_NOFILE, &lim), 0);
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want)
    return false;
  if (lim.rlim_cur < want) {
    lim.rlim_cur = want;
    cr_assert_eq (setrlimit (RLIMIT_NOFILE, &lim), 0);
  }
  return true;
}

Test (admin_socket, a_client_beyond_1024_is_refused_by_closing)
{
  enum { N = 1024 };
  struct setup s;
  struct admin_server *srv;
  struct at_client **c, *extra;
  size_t i;

  if (!raise_nofile (2 * N + 100))
    cr_skip_test ("needs %d open files", 2 * N + 100);
  setup (&s);
  srv = at_start (s.pool, s.sock, 0600);
  c = calloc (N, sizeof *c);
  cr_assert_not_null (c);
  for (i = 0; i < N; i++) {
    c[i] = at_connect (s.sock);
    expect_version (c[i]);
  }
  extra = at_connect (s.sock);
  cr_assert (at_eof_within (extra, AT_TIMEOUT_MS), "client %d accepted", N);
  at_close (extra);
  /* One leaves: there is room again (once the server saw it go). */
  at_close (c[0]);
  for (i = 0; i < 100; i++) {
    json_object *r;
    extra = at_connect (s.sock);
    at_send (extra, "{\"cmd\":\"version\"}\n");
    r = at_read_within (extra, 1000);
    at_close (extra);
    if (r) {
      json_object_put (at_ok (r));
      break;
    }
    usleep (10000);
  }
  cr_assert_lt (i, 100, "no room after a client left");
  for (i = 1; i < N; i++)
    at_close (c[i]);
  free (c);
  admin_destroy (srv);
  teardown (&s);
}

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

Test (admin_socket, out_of_file_descriptors_accept_pauses_without_spinning)
{
  struct setup s;
  struct admin_server *srv;
  struct at_client *c;
  struct rlimit old, lim;
  int fillers[512], n = 0, fd;
  const char *preload = getenv ("LD_PRELOAD");
  double cpu;

  /* valgrind emulates the limit: it closes an accepted fd above it
   * and fails accept with EMFILE, which loses the waiting client.
   */
  if (preload && strstr (preload, "vgpreload"))
    cr_skip_test ("valgrind emulates RLIMIT_NOFILE");
  setup (&s);
  srv = at_start (s.pool, s.sock, 0600);
  cr_assert_eq (getrlimit (RLIMIT_NOFILE, &old), 0);
  lim = old;
  lim.rlim_cur = 256;
  cr_assert_eq (setrlimit (RLIMIT_NOFILE, &lim), 0);
  while (n < 512 && (fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
    fillers[n++] = fd;
  cr_assert (n < 512 && errno == EMFILE, "could not run out of files");
  close (fillers[--n]);         /* one for the client, none for accept */
  c = at_try_connect (s.sock);
  cr_assert_not_null (c, "connect: %s", strerror (errno));

  cpu = cpu_seconds ();
  usleep (500000);
  cpu = cpu_seconds () - cpu;
  close (fillers[--n]);         /* now the server can accept */
  cr_assert_lt (cpu, 0.15, "%.3f s of CPU in 0.5 s: accept spins", cpu);
  expect_version (c);
  cr_assert (mb_log_has ("accept: "), "got: %s", mb_log_last ());
  at_close (c);
  while (n > 0)
    close (fillers[--n]);
  setrlimit (RLIMIT_NOFILE, &old);
  admin_destroy (srv);
  teardown (&s);
}

/* ---- privilege ---- */

/* Connect as euid 65534: SO_PEERCRED reports the effective uid at
 * connect(2), and seteuid, unlike setuid, can be undone (and needs no
 * fork, which valgrind and Criterion both dislike).
 */
static struct at_client *
connect_as_nobody (const char *path)
{
  struct at_client *c;

  cr_assert_eq (seteuid (65534), 0, "seteuid: %s", strerror (errno));
  c = at_try_connect (path);
  cr_assert_eq (seteuid (0), 0, "seteuid back: %s", strerror (errno));
  cr_assert_not_null (c, "connect as 65534: %s", strerror (errno));
  return c;
}

Test (admin_socket, an_unprivileged_client_may_read_but_not_change_the_pool)
{
  static const char *const changes[] = {
    "{\"cmd\":\"on\",\"path\":\"/x\"}",
    "{\"cmd\":\"ctl\",\"path\":\"a\",\"priority\":1}",
  };
  struct setup s;
  struct admin_server *srv;
  struct at_client *c;
  size_t i;

  if (geteuid () != 0)
    cr_skip_test ("needs root, to become another user");
  setup (&s);
  cr_assert_eq (chmod (s.dir, 0755), 0);
  srv = at_start (s.pool, s.sock, 0666);
  c = connect_as_nobody (s.sock);
  at_expect_error (at_request (c, "{\"cmd\":\"off\",\"path\":\"a\"}"),
                   "EPERM", "off: permission denied (uid 65534 is not root "
                   "or the server's uid 0)");
  for (i = 0; i < sizeof changes / sizeof changes[0]; i++)
    at_expect_error (at_request (c, changes[i]), "EPERM",
                     "permission denied");
  expect_version (c);
  json_object_put (at_ok (at_request (c, "{\"cmd\":\"stats\"}")));
  cr_assert_eq (pool_ndevices (s.pool), 1);
  cr_assert_eq (fx_stat_of (s.pool, "a").priority, 0);
  at_close (c);
  admin_destroy (srv);
  teardown (&s);
}
