/* swapdrum: the admin server's worker and the queues between it and
 * the loop thread.
 *
 * A job is a change of the pool that may wait for the pool's
 * admin_lock and take a long time (swap-off).  The loop thread submits
 * it; the worker thread runs it; progress and the end go back to the
 * loop through the job's hand-back fields and the outbox, and the loop
 * delivers them (as reply lines) when the worker wakes it.  What a job
 * does is its ops': this file knows nothing of commands or connections.
 *
 * Locking: srv->lock (admin-int.h) protects the job queue, the outbox,
 * srv->stopping and every job's hand-back fields below.  It is held
 * briefly, never across a job's operation.
 */

#ifndef SWAPDRUM_ADMIN_WORKER_H
#define SWAPDRUM_ADMIN_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct admin_server;
struct admin_job;

/* What the worker has told the loop about a job since the loop last
 * looked: a copy of the hand-back fields, taken under srv->lock.
 */
struct admin_news {
  bool progress;                /* moved/total are new */
  uint64_t moved, total;
  bool done;                    /* the job's results are final */
};

struct admin_job_ops {
  /* Do the work.  => worker thread. */
  void (*run) (struct admin_job *job);
  /* Turn news into replies; after news->done, also free the job.
   * => loop thread.
   */
  void (*deliver) (struct admin_job *job, const struct admin_news *news);
  /* Free a job that will never be run or delivered (the server stops).
   * => the server's threads have ended.
   */
  void (*free) (struct admin_job *job);
};

/* A job: embedded first in the job of whoever submits it. */
struct admin_job {
  /* Set before admin_worker_submit, constant after. */
  const struct admin_job_ops *ops;
  struct admin_server *srv;

  /* srv->lock. */
  struct admin_job *next;       /* in srv->jobs or srv->outbox */
  bool in_outbox;
  struct admin_news news;
};

/* Queue job for the worker.  => loop thread. */
extern void admin_worker_submit (struct admin_job *job);

/* Tell the loop how far a running job is.  => worker thread, inside
 * the job's run.
 */
extern void admin_worker_progress (struct admin_job *job, uint64_t moved,
                                   uint64_t total);

/* Deliver the news of every job in the outbox through its ops.
 * => loop thread, when the worker woke it; returns true if the server
 *    is stopping (then nothing is delivered).
 */
extern bool admin_worker_deliver (struct admin_server *srv);

/* The worker thread: runs jobs in order until the server stops (the
 * job it is running is finished first).  arg is the server.
 */
extern void *admin_worker_main (void *arg);

/* Free every job still queued or in the outbox.
 * => the server's threads have ended.
 */
extern void admin_worker_free_jobs (struct admin_server *srv);

#endif /* SWAPDRUM_ADMIN_WORKER_H */
