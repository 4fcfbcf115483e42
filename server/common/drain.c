/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The drain: SIGTERM and SIGINT cut the clients' connections before
 * the host quits (include/swapdrum/drain.h).  The signal handler only
 * writes a byte to a pipe; the thread that reads it does the work.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "swapdrum/cleanup.h"
#include "swapdrum/drain.h"
#include "swapdrum/log.h"

/* A listening socket's local address. */
struct listener {
  struct sockaddr_storage addr;
  socklen_t len;
};

struct drain {
  pthread_t thread;
  int pipe[2];                  /* [1]: the handler writes, [0]: thread */
  void (*quit) (void);
  int keep;
  int taken;                    /* how many of the signals are ours */
  struct sigaction old[2];      /* their handlers before: TERM, INT */
};

static const int signals[2] = { SIGTERM, SIGINT };

/* The write end of the running drain's pipe, for the signal handler;
 * -1 when there is none.  Set before the handler is installed and
 * reset after it is removed, so the handler never sees a closed fd.
 */
static volatile int wake_fd = -1;

/* What the thread reads: a signal number, or STOP. */
#define STOP 0

static void
on_signal (int sig)
{
  int saved = errno;
  unsigned char c = sig;
  int fd = wake_fd;
  ssize_t r;

  /* A full pipe already holds a wake-up: losing this one is fine. */
  if (fd >= 0) {
    r = write (fd, &c, 1);
    (void) r;
  }
  errno = saved;
}

/* Is this fd a socket, and listening?  => 1, 0, or -1 if no socket. */
static int
listening (int fd)
{
  int v;
  socklen_t len = sizeof v;

  if (getsockopt (fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1)
    return -1;
  return v != 0;
}

static bool
is_stream (int fd)
{
  int v;
  socklen_t len = sizeof v;

  return getsockopt (fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 &&
    v == SOCK_STREAM;
}

/* Was c (a connection's local address) accepted on listener l? */
static bool
accepted_on (const struct listener *l, const struct sockaddr_storage *c,
             socklen_t clen)
{
  if (l->addr.ss_family != c->ss_family)
    return false;
  switch (c->ss_family) {
  case AF_INET: {
    const struct sockaddr_in *a = (const void *) &l->addr;
    const struct sockaddr_in *b = (const void *) c;

    return a->sin_port == b->sin_port &&
      (a->sin_addr.s_addr == htonl (INADDR_ANY) ||
       a->sin_addr.s_addr == b->sin_addr.s_addr);
  }
  case AF_INET6: {
    const struct sockaddr_in6 *a = (const void *) &l->addr;
    const struct sockaddr_in6 *b = (const void *) c;

    return a->sin6_port == b->sin6_port &&
      (IN6_IS_ADDR_UNSPECIFIED (&a->sin6_addr) ||
       IN6_ARE_ADDR_EQUAL (&a->sin6_addr, &b->sin6_addr));
  }
  default:
    /* Unix paths (an unnamed socket has only the family, and no
     * listener is unnamed), vsock and the rest: the same bytes.
     */
    return l->len == clen && clen > sizeof (sa_family_t) &&
      memcmp (&l->addr, c, clen) == 0;
  }
}

/* The fds open in this process, ascending, as a malloc'd array.
 * => returns the count, or -1 after reporting.
 */
static int
open_fds (int **fds)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *e;
  int *v = NULL, n = 0, dfd;

  if (dir == NULL) {
    sd_error ("drain: /proc/self/fd: %m");
    return -1;
  }
  dfd = dirfd (dir);
  while ((e = readdir (dir)) != NULL) {
    int fd = atoi (e->d_name);
    int *nv;

    if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dfd)
      continue;
    nv = realloc (v, (n + 1) * sizeof *v);
    if (nv == NULL) {
      sd_error ("drain: %m");
      free (v);
      closedir (dir);
      return -1;
    }
    v = nv;
    v[n++] = fd;
  }
  closedir (dir);
  *fds = v;
  return n;
}

/* Collect the local addresses of the listening sockets among fds,
 * but keep's.  => returns the count, or -1 after reporting.
 */
static int
find_listeners (const int *fds, int nfds, int keep, struct listener **out)
{
  struct listener *v = NULL;
  int i, n = 0;

  for (i = 0; i < nfds; i++) {
    struct listener l = { .len = sizeof l.addr };
    struct listener *nv;

    if (fds[i] == keep || listening (fds[i]) != 1 ||
        getsockname (fds[i], (struct sockaddr *) &l.addr, &l.len) == -1)
      continue;
    nv = realloc (v, (n + 1) * sizeof *v);
    if (nv == NULL) {
      sd_error ("drain: %m");
      free (v);
      return -1;
    }
    v = nv;
    v[n++] = l;
  }
  *out = v;
  return n;
}

/* Was the connected socket fd accepted on one of the listeners? */
static bool
is_client (int fd, const struct listener *ls, int nls)
{
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  int i;

  if (listening (fd) != 0 || !is_stream (fd) ||
      getsockname (fd, (struct sockaddr *) &addr, &len) == -1)
    return false;
  for (i = 0; i < nls; i++)
    if (accepted_on (&ls[i], &addr, len))
      return true;
  return false;
}

int
drain_cut (int keep)
{
  CLEANUP_FREE int *fds = NULL;
  CLEANUP_FREE struct listener *ls = NULL;
  int nfds, nls, i, cut = 0;

  nfds = open_fds (&fds);
  if (nfds == -1)
    return -1;
  nls = find_listeners (fds, nfds, keep, &ls);
  if (nls == -1)
    return -1;
  for (i = 0; i < nfds; i++)
    if (is_client (fds[i], ls, nls) && shutdown (fds[i], SHUT_RDWR) == 0)
      cut++;
  return cut;
}

/* The thread: wait for a signal, cut, quit, cut again; then wait for
 * STOP.
 */
static void *
drain_thread (void *arg)
{
  struct drain *d = arg;
  bool done = false;
  unsigned char c;
  ssize_t r;
  int cut;

  for (;;) {
    r = read (d->pipe[0], &c, 1);
    if (r == -1 && errno == EINTR)
      continue;
    if (r != 1 || c == STOP)
      break;
    if (done)
      continue;
    done = true;
    cut = drain_cut (d->keep);
    if (cut >= 0)
      sd_notice ("%s: stopping: %d client connections closed without "
                 "a reply (a client that reconnects sends its requests "
                 "again)", c == SIGTERM ? "SIGTERM" : "SIGINT", cut);
    d->quit ();
    drain_cut (d->keep);
  }
  return NULL;
}

static int
take_signals (struct drain *d)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset (&sa.sa_mask);
  for (d->taken = 0; d->taken < 2; d->taken++)
    if (sigaction (signals[d->taken], &sa, &d->old[d->taken]) == -1) {
      sd_error ("drain: sigaction: %m");
      return -1;
    }
  return 0;
}

struct drain *
drain_start (void (*quit) (void), int keep)
{
  struct drain *d = calloc (1, sizeof *d);
  sigset_t all, old;
  int err;

  if (d == NULL) {
    sd_error ("drain: %m");
    return NULL;
  }
  d->quit = quit;
  d->keep = keep;
  if (pipe2 (d->pipe, O_CLOEXEC) == -1) {
    sd_error ("drain: pipe: %m");
    free (d);
    return NULL;
  }
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  err = pthread_create (&d->thread, NULL, drain_thread, d);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (err != 0) {
    errno = err;
    sd_error ("drain: pthread_create: %m");
    close (d->pipe[0]);
    close (d->pipe[1]);
    free (d);
    return NULL;
  }
  wake_fd = d->pipe[1];
  if (take_signals (d) == -1) {
    drain_stop (d);
    return NULL;
  }
  return d;
}

void
drain_stop (struct drain *d)
{
  unsigned char c = STOP;

  if (d == NULL)
    return;
  while (d->taken > 0) {
    d->taken--;
    sigaction (signals[d->taken], &d->old[d->taken], NULL);
  }
  wake_fd = -1;
  if (write (d->pipe[1], &c, 1) == -1)
    sd_error ("drain: stopping the thread: %m");
  pthread_join (d->thread, NULL);
  close (d->pipe[0]);
  close (d->pipe[1]);
  free (d);
}
