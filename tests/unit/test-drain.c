/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the drain (server/common/drain.c): which connections
 * drain_cut shuts down, and that SIGTERM cuts them before it calls the
 * quit function, and gives the old handler back afterwards.  Each test
 * runs in its own process (Criterion forks), so the signal handlers
 * and sockets it makes are its own.
 */

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "swapdrum/drain.h"

TestSuite (drain, .timeout = 30);

/* A unix listener on a fresh path.  => the fd. */
static int
unix_listener (struct sockaddr_un *addr)
{
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);

  cr_assert (fd >= 0);
  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  snprintf (addr->sun_path, sizeof addr->sun_path, "/tmp/drain-%d-%d.sock",
            getpid (), fd);
  unlink (addr->sun_path);
  cr_assert (bind (fd, (struct sockaddr *) addr, sizeof *addr) == 0);
  cr_assert (listen (fd, 4) == 0);
  return fd;
}

/* A TCP listener on ip (a dotted quad), port chosen by the kernel.
 * => the fd; *port gets the port (network order).
 */
static int
tcp_listener (const char *ip, in_port_t *port)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof a;

  cr_assert (fd >= 0);
  cr_assert (inet_pton (AF_INET, ip, &a.sin_addr) == 1);
  cr_assert (bind (fd, (struct sockaddr *) &a, sizeof a) == 0);
  cr_assert (listen (fd, 4) == 0);
  cr_assert (getsockname (fd, (struct sockaddr *) &a, &len) == 0);
  *port = a.sin_port;
  return fd;
}

/* Connect to addr and accept on lfd.  => client fd; *server the other. */
static int
pair (int lfd, const struct sockaddr *addr, socklen_t len, int *server)
{
  int c = socket (addr->sa_family, SOCK_STREAM, 0);

  cr_assert (c >= 0);
  cr_assert (connect (c, addr, len) == 0);
  *server = accept (lfd, NULL, NULL);
  cr_assert (*server >= 0);
  return c;
}

static int
tcp_pair (int lfd, in_port_t port, int *server)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = port };

  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return pair (lfd, (struct sockaddr *) &a, sizeof a, server);
}

/* Did the peer of fd shut its side down?  (A read sees end of file.) */
static bool
sees_eof (int fd)
{
  char c;

  return recv (fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* Does a byte still go from a to b? */
static bool
flows (int a, int b)
{
  char c = 'x';

  return send (a, &c, 1, MSG_NOSIGNAL) == 1 &&
    recv (b, &c, 1, 0) == 1 && c == 'x';
}

Test (drain, cuts_a_connection_accepted_on_a_unix_listener)
{
  struct sockaddr_un addr;
  int l = unix_listener (&addr), s;
  int c = pair (l, (struct sockaddr *) &addr, sizeof addr, &s);

  cr_assert_eq (drain_cut (-1), 1);
  cr_assert (sees_eof (c), "the client sees the connection closed");
  cr_assert_not (flows (s, c), "nothing more reaches the client");
  unlink (addr.sun_path);
}

Test (drain, cuts_a_connection_accepted_on_a_wildcard_tcp_listener)
{
  in_port_t port;
  int l = tcp_listener ("0.0.0.0", &port), s;
  int c = tcp_pair (l, port, &s);

  cr_assert_eq (drain_cut (-1), 1);
  cr_assert (sees_eof (c));
  close (l);
}

Test (drain, leaves_the_kept_listeners_connections)
{
  struct sockaddr_un addr;
  int l = unix_listener (&addr), s;
  int c = pair (l, (struct sockaddr *) &addr, sizeof addr, &s);

  cr_assert_eq (drain_cut (l), 0);
  cr_assert (flows (c, s));
  cr_assert (flows (s, c));
  unlink (addr.sun_path);
}

/* The process's own client end (a remote device's connection) has an
 * ephemeral local port, not a listener's: only the accepted end of a
 * listener that is not kept is cut.
 */
Test (drain, leaves_connections_this_process_made)
{
  in_port_t port1, port2;
  int served = tcp_listener ("127.0.0.1", &port1);
  int remote = tcp_listener ("127.0.0.1", &port2);
  int s1, s2;
  int c1 = tcp_pair (served, port1, &s1);
  int out = tcp_pair (remote, port2, &s2);

  cr_assert_eq (drain_cut (remote), 1, "only the served connection");
  cr_assert (sees_eof (c1));
  cr_assert (flows (out, s2), "the outgoing connection still works");
  cr_assert (flows (s2, out));
}

Test (drain, leaves_the_listener_itself_open)
{
  struct sockaddr_un addr;
  int l = unix_listener (&addr), s;

  cr_assert_eq (drain_cut (-1), 0);
  pair (l, (struct sockaddr *) &addr, sizeof addr, &s);
  unlink (addr.sun_path);
}

/* ---- the signal ---- */

static int term_client = -1;    /* the connection's client end */
static atomic_int quits;
static atomic_bool cut_before_quit;

static void
quit (void)
{
  atomic_store (&cut_before_quit, sees_eof (term_client));
  atomic_fetch_add (&quits, 1);
}

static void
old_handler (int sig)
{
}

static void
wait_for_quits (int n)
{
  while (atomic_load (&quits) < n)
    usleep (1000);
}

Test (drain, sigterm_cuts_connections_before_it_quits)
{
  struct sockaddr_un addr;
  int l = unix_listener (&addr), s;
  struct drain *d;

  term_client = pair (l, (struct sockaddr *) &addr, sizeof addr, &s);
  d = drain_start (quit, -1);
  cr_assert_not_null (d);
  raise (SIGTERM);
  wait_for_quits (1);
  cr_assert (atomic_load (&cut_before_quit));
  drain_stop (d);
  unlink (addr.sun_path);
}

Test (drain, sigint_quits_too_and_a_second_signal_quits_no_more)
{
  struct drain *d = drain_start (quit, -1);

  cr_assert_not_null (d);
  raise (SIGINT);
  wait_for_quits (1);
  raise (SIGTERM);
  usleep (100000);
  drain_stop (d);
  cr_assert_eq (atomic_load (&quits), 1);
}

Test (drain, stop_gives_the_old_handlers_back)
{
  struct sigaction sa = { .sa_handler = old_handler }, now;
  struct drain *d;

  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  d = drain_start (quit, -1);
  cr_assert_not_null (d);
  sigaction (SIGTERM, NULL, &now);
  cr_assert_neq (now.sa_handler, old_handler, "taken over");
  drain_stop (d);
  sigaction (SIGTERM, NULL, &now);
  cr_assert_eq (now.sa_handler, old_handler);
  sigaction (SIGINT, NULL, &now);
  cr_assert_eq (now.sa_handler, old_handler);
  cr_assert_eq (atomic_load (&quits), 0);
}
