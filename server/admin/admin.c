/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The admin server: its listener, its two threads (the libev loop and
 * the worker that runs pool changes) and the queues between them.
 * See admin-int.h for who owns what.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "admin/admin-cmd.h"
#include "admin/admin-conn.h"
#include "admin/admin-int.h"
#include "admin/admin-sock.h"
#include "admin/admin-worker.h"
#include "swapdrum/admin.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* When accept fails for want of file descriptors (or memory), the
 * listening socket stays readable: stop watching it this long rather
 * than spin.
 */
#define ACCEPT_PAUSE 0.1

/* Connections accepted per wake-up, so that a flood of new clients
 * cannot starve the ones already connected.
 */
#define ACCEPT_BATCH 64

/* ---- the loop thread: accepting ---- */

/* accept failed: retry later if it is worth it. */
static void
accept_failed (struct admin_server *srv)
{
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
      errno == ECONNABORTED)
    return;                     /* the watcher tells us when to retry */
  /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse: say so once, and let
   * the clients wait in the backlog until the timer.
   */
  if (!srv->accept_error_reported)
    sd_error ("admin: %s: accept: %m (new clients wait)", srv->path);
  srv->accept_error_reported = true;
  ev_io_stop (srv->loop, &srv->accept_watcher);
  ev_timer_set (&srv->accept_pause, ACCEPT_PAUSE, 0.);
  ev_timer_start (srv->loop, &srv->accept_pause);
}

static void
accept_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  struct admin_server *srv = w->data;
  int i, fd;

  for (i = 0; i < ACCEPT_BATCH; i++) {
    fd = accept4 (srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1) {
      accept_failed (srv);
      return;
    }
    srv->accept_error_reported = false;
    if (srv->nclients >= ADMIN_MAX_CLIENTS) {
      /* The client sees the connection closed at once. */
      sd_debug ("admin: %s: %u clients already: refusing one",
                srv->path, srv->nclients);
      close (fd);
      continue;
    }
    admin_conn_new (srv, fd, &admin_cmd_handler);
  }
}

static void
accept_resume_cb (struct ev_loop *loop, ev_timer *w, int revents)
{
  struct admin_server *srv = w->data;

  ev_io_start (loop, &srv->accept_watcher);
}

/* Woken by the worker (news) or by admin_destroy (stopping).  Jobs
 * still in the outbox when stopping are freed by admin_destroy.
 */
static void
wake_cb (struct ev_loop *loop, ev_async *w, int revents)
{
  if (admin_worker_deliver (w->data))
    ev_break (loop, EVBREAK_ALL);
}

/* ---- the threads ---- */

static void *
loop_main (void *arg)
{
  struct admin_server *srv = arg;

  ev_run (srv->loop, 0);
  return NULL;
}

/* Tell both threads to stop and wait for them.  The worker finishes
 * the request it is running (a swap-off may take a while: it must
 * leave the pool consistent) and starts no other.
 */
static void
stop_threads (struct admin_server *srv, bool loop_running)
{
  pthread_mutex_lock (&srv->lock);
  srv->stopping = true;
  pthread_cond_signal (&srv->work);
  pthread_mutex_unlock (&srv->lock);
  if (loop_running) {
    ev_async_send (srv->loop, &srv->wake);
    pthread_join (srv->loop_thread, NULL);
  }
  pthread_join (srv->worker_thread, NULL);
}

/* Start the worker and the loop thread with every signal blocked:
 * nbdkit owns the signals and handles them in its own threads.
 * => returns 0, or -1 after reporting (no thread left running).
 */
static int
start_threads (struct admin_server *srv)
{
  sigset_t all, old;
  int err;

  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  err = pthread_create (&srv->worker_thread, NULL, admin_worker_main,
                        srv);
  if (err == 0) {
    err = pthread_create (&srv->loop_thread, NULL, loop_main, srv);
    if (err != 0) {
      stop_threads (srv, false);
      srv->stopping = false;
    }
  }
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (err != 0) {
    errno = err;
    sd_error ("admin: %s: starting threads: %m", srv->path);
    return -1;
  }
  /* For top -H and gdb; a failure here is harmless. */
  pthread_setname_np (srv->loop_thread, "swapdrum-admin");
  pthread_setname_np (srv->worker_thread, "swapdrum-adminw");
  return 0;
}

/* ---- lifecycle ---- */

struct admin_server *
admin_create (struct pool *pool, struct exportset *exports, const char *path,
              mode_t mode, gid_t group)
{
  struct admin_server *srv = calloc (1, sizeof *srv);

  if (srv == NULL || (srv->path = strdup (path)) == NULL) {
    sd_error ("admin: %s: %m", path);
    free (srv);
    return NULL;
  }
  srv->pool = pool;
  srv->exports = exports;
  srv->idle_timeout = ADMIN_IDLE_TIMEOUT;
  srv->jobs_tail = &srv->jobs_head;
  pthread_mutex_init (&srv->lock, NULL);
  pthread_cond_init (&srv->work, NULL);
  srv->fd = admin_sock_listen (path, mode, group, &srv->sock_st);
  if (srv->fd == -1) {
    int saved_errno = errno;
    admin_destroy (srv);
    errno = saved_errno;
    return NULL;
  }
  sd_debug ("admin: listening on %s", path);
  return srv;
}

int
admin_start (struct admin_server *srv)
{
  if (srv->started || srv->fd == -1) {
    errno = EINVAL;
    sd_error ("admin: %s: already started", srv->path);
    return -1;
  }
  /* Now, not at create: nbdkit may have changed user since. */
  srv->euid = geteuid ();
  srv->loop = ev_loop_new (EVFLAG_AUTO | EVFLAG_NOSIGMASK);
  if (srv->loop == NULL) {
    errno = ENOMEM;
    sd_error ("admin: %s: cannot create an event loop", srv->path);
    return -1;
  }
  ev_io_init (&srv->accept_watcher, accept_cb, srv->fd, EV_READ);
  ev_init (&srv->accept_pause, accept_resume_cb);
  ev_async_init (&srv->wake, wake_cb);
  srv->accept_watcher.data = srv->accept_pause.data = srv->wake.data = srv;
  ev_io_start (srv->loop, &srv->accept_watcher);
  ev_async_start (srv->loop, &srv->wake);
  if (start_threads (srv) == -1) {
    ev_loop_destroy (srv->loop);
    srv->loop = NULL;
    return -1;
  }
  srv->started = true;
  return 0;
}

void
admin_destroy (struct admin_server *srv)
{
  if (srv == NULL)
    return;
  if (srv->started)
    stop_threads (srv, true);
  admin_worker_free_jobs (srv);
  while (srv->conns)
    admin_conn_free (srv->conns);
  if (srv->loop) {
    ev_io_stop (srv->loop, &srv->accept_watcher);
    ev_timer_stop (srv->loop, &srv->accept_pause);
    ev_async_stop (srv->loop, &srv->wake);
    ev_loop_destroy (srv->loop);
  }
  if (srv->fd >= 0) {
    admin_sock_unlink (srv->path, &srv->sock_st);
    close (srv->fd);
  }
  pthread_cond_destroy (&srv->work);
  pthread_mutex_destroy (&srv->lock);
  free (srv->path);
  free (srv);
}

const char *
admin_path (const struct admin_server *srv)
{
  return srv->path;
}

int
admin_fd (const struct admin_server *srv)
{
  return srv->fd;
}
