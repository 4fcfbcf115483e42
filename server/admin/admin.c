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
    admin_conn_new (srv, fd);
  }
}

static void
accept_resume_cb (struct ev_loop *loop, ev_timer *w, int revents)
{
  struct admin_server *srv = w->data;

  ev_io_start (loop, &srv->accept_watcher);
}

/* ---- between the threads ---- */

/* Take a job with news off the outbox.
 * => caller holds srv->lock; returns the job with *news set (its news
 *    cleared), or NULL.
 */
static struct admin_job *
pop_news (struct admin_server *srv, struct admin_news *news)
{
  struct admin_job *job = srv->outbox;

  if (job == NULL)
    return NULL;
  srv->outbox = job->next;
  job->next = NULL;
  job->in_outbox = false;
  *news = job->news;
  memset (&job->news, 0, sizeof job->news);
  return job;
}

/* The next job with news, unless stopping.
 * => returns the job with *news set, or NULL (none left, or *stopping
 *    set).
 */
static struct admin_job *
take_news (struct admin_server *srv, struct admin_news *news,
           bool *stopping)
{
  SD_LOCK_FOR_SCOPE (&srv->lock);

  *stopping = srv->stopping;
  return *stopping ? NULL : pop_news (srv, news);
}

/* Woken by the worker (news) or by admin_destroy (stopping).  Jobs
 * still in the outbox when stopping are freed by admin_destroy.
 */
static void
wake_cb (struct ev_loop *loop, ev_async *w, int revents)
{
  struct admin_server *srv = w->data;
  struct admin_news news;
  struct admin_job *job;
  bool stopping;

  do {
    job = take_news (srv, &news, &stopping);
    if (job)
      admin_job_deliver (job, &news);
  } while (job);
  if (stopping)
    ev_break (loop, EVBREAK_ALL);
}

void
admin_submit (struct admin_server *srv, struct admin_job *job)
{
  SD_LOCK_FOR_SCOPE (&srv->lock);

  job->next = NULL;
  *srv->jobs_tail = job;
  srv->jobs_tail = &job->next;
  pthread_cond_signal (&srv->work);
}

/* => caller holds srv->lock. */
static void
to_outbox (struct admin_server *srv, struct admin_job *job)
{
  if (!job->in_outbox) {
    job->next = srv->outbox;
    srv->outbox = job;
    job->in_outbox = true;
  }
}

void
admin_post_progress (struct admin_job *job, uint64_t moved, uint64_t total)
{
  struct admin_server *srv = job->srv;

  pthread_mutex_lock (&srv->lock);
  job->news.progress = true;
  job->news.moved = moved;
  job->news.total = total;
  to_outbox (srv, job);
  pthread_mutex_unlock (&srv->lock);
  ev_async_send (srv->loop, &srv->wake);
}

void
admin_post_done (struct admin_job *job)
{
  struct admin_server *srv = job->srv;

  /* From the unlock on, the loop may free job. */
  pthread_mutex_lock (&srv->lock);
  job->news.done = true;
  to_outbox (srv, job);
  pthread_mutex_unlock (&srv->lock);
  ev_async_send (srv->loop, &srv->wake);
}

/* ---- the threads ---- */

static void *
loop_main (void *arg)
{
  struct admin_server *srv = arg;

  ev_run (srv->loop, 0);
  return NULL;
}

/* The next job to run, or NULL when stopping (queued jobs are then
 * left to admin_destroy).
 */
static struct admin_job *
next_job (struct admin_server *srv)
{
  SD_LOCK_FOR_SCOPE (&srv->lock);
  struct admin_job *job;

  while (!srv->stopping && srv->jobs_head == NULL)
    pthread_cond_wait (&srv->work, &srv->lock);
  if (srv->stopping)
    return NULL;
  job = srv->jobs_head;
  srv->jobs_head = job->next;
  if (srv->jobs_head == NULL)
    srv->jobs_tail = &srv->jobs_head;
  job->next = NULL;
  return job;
}

/* One worker is enough: the engine runs one change of the device set
 * at a time anyway (its admin_lock), and read-only requests never come
 * here.
 */
static void *
worker_main (void *arg)
{
  struct admin_server *srv = arg;
  struct admin_job *job;

  while ((job = next_job (srv)) != NULL) {
    admin_job_run (job);
    admin_post_done (job);
  }
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
  err = pthread_create (&srv->worker_thread, NULL, worker_main, srv);
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
admin_create (struct pool *pool, const char *path, mode_t mode, gid_t group)
{
  struct admin_server *srv = calloc (1, sizeof *srv);

  if (srv == NULL || (srv->path = strdup (path)) == NULL) {
    sd_error ("admin: %s: %m", path);
    free (srv);
    return NULL;
  }
  srv->pool = pool;
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

/* Free the jobs nobody will run or deliver any more.
 * => every other thread has ended.
 */
static void
free_jobs (struct admin_server *srv)
{
  struct admin_job *job;

  while ((job = srv->jobs_head) != NULL) {
    srv->jobs_head = job->next;
    admin_job_free (job);
  }
  srv->jobs_tail = &srv->jobs_head;
  while ((job = srv->outbox) != NULL) {
    srv->outbox = job->next;
    admin_job_free (job);
  }
}

void
admin_destroy (struct admin_server *srv)
{
  if (srv == NULL)
    return;
  if (srv->started)
    stop_threads (srv, true);
  free_jobs (srv);
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
