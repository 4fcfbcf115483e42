/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The admin server's worker thread and the queues between it and the
 * loop thread.  See admin-worker.h.
 */

#include <config.h>

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <ev.h>

#include "admin/admin-int.h"
#include "admin/admin-worker.h"
#include "swapdrum/cleanup.h"

/* ---- the loop thread's side ---- */

void
admin_worker_submit (struct admin_job *job)
{
  struct admin_server *srv = job->srv;
  SD_LOCK_FOR_SCOPE (&srv->lock);

  job->next = NULL;
  *srv->jobs_tail = job;
  srv->jobs_tail = &job->next;
  pthread_cond_signal (&srv->work);
}

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

bool
admin_worker_deliver (struct admin_server *srv)
{
  struct admin_news news;
  struct admin_job *job;
  bool stopping;

  do {
    job = take_news (srv, &news, &stopping);
    if (job)
      job->ops->deliver (job, &news);
  } while (job);
  return stopping;
}

/* ---- the worker thread's side ---- */

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
admin_worker_progress (struct admin_job *job, uint64_t moved,
                       uint64_t total)
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

/* The job has ended: hand it to the loop, which frees it. */
static void
post_done (struct admin_job *job)
{
  struct admin_server *srv = job->srv;

  /* From the unlock on, the loop may free job. */
  pthread_mutex_lock (&srv->lock);
  job->news.done = true;
  to_outbox (srv, job);
  pthread_mutex_unlock (&srv->lock);
  ev_async_send (srv->loop, &srv->wake);
}

/* The next job to run, or NULL when stopping (queued jobs are then
 * left to admin_worker_free_jobs).
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
void *
admin_worker_main (void *arg)
{
  struct admin_server *srv = arg;
  struct admin_job *job;

  while ((job = next_job (srv)) != NULL) {
    job->ops->run (job);
    post_done (job);
  }
  return NULL;
}

void
admin_worker_free_jobs (struct admin_server *srv)
{
  struct admin_job *job;

  while ((job = srv->jobs_head) != NULL) {
    srv->jobs_head = job->next;
    job->ops->free (job);
  }
  srv->jobs_tail = &srv->jobs_head;
  while ((job = srv->outbox) != NULL) {
    srv->outbox = job->next;
    job->ops->free (job);
  }
}
