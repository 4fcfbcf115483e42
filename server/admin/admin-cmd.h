/* swapdrum: the admin protocol's requests (docs/admin-protocol.md).
 *
 * A request line is parsed and checked with json-c on the loop thread.
 * Read-only commands (version, nswap, stats, summary; admin-query.h)
 * are answered there and then: they take the pool lock only briefly.
 * Commands that change the pool (on, off, ctl) become a job for the
 * worker thread, because they wait for the pool's admin_lock and
 * swap-off moves pages for as long as it takes.  The worker hands
 * progress and the result back through the job's hand-back fields
 * (admin_post_*, in admin.c); the loop turns them into reply lines.
 * json-c objects never leave the loop thread.
 */

#ifndef SWAPDRUM_ADMIN_CMD_H
#define SWAPDRUM_ADMIN_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "swapdrum/devspec.h"

struct admin_conn;
struct admin_server;

enum admin_op {
  ADMIN_ON,
  ADMIN_OFF,
  ADMIN_CTL,
};

/* What the worker has told the loop about a job since the loop last
 * looked: a copy of the hand-back fields, taken under srv->lock.
 */
struct admin_news {
  bool progress;                /* moved/total are new */
  uint64_t moved, total;
  bool done;                    /* the result fields are final */
};

/* A request that changes the pool. */
struct admin_job {
  /* Set on the loop thread before admin_submit, constant after. */
  struct admin_server *srv;
  enum admin_op op;
  struct devspec spec;          /* path (malloc'd), priority, ... */

  /* Loop thread only. */
  struct admin_conn *conn;      /* who asked; may be dead by the end */
  json_object *req;             /* the request (its "id" goes back) */

  /* Worker thread only. */
  struct timespec last_progress; /* when progress was last handed back */
  bool progress_sent;
  uint64_t moved;               /* pages moved so far (off) */

  /* Written by the worker before it sets done; read by the loop after
   * it sees done.
   */
  int err;                      /* 0: success; else the errno */
  char *error;                  /* the engine's message (malloc'd) */

  /* srv->lock. */
  struct admin_job *next;       /* in srv->jobs or srv->outbox */
  bool in_outbox;
  struct admin_news news;
};

/* Answer one request line (len bytes, no '\n', not NUL-terminated)
 * from conn: reply on conn now, or queue a job and mark conn busy.
 * => loop thread.
 */
extern void admin_cmd_request (struct admin_conn *conn, const char *line,
                               size_t len);

/* Reply to a request longer than ADMIN_LINE_MAX.  => loop thread. */
extern void admin_cmd_too_long (struct admin_conn *conn);

/* Run job's engine call and fill in its result, handing progress back
 * on the way (admin_post_progress).  => worker thread; no lock held.
 */
extern void admin_job_run (struct admin_job *job);

/* Turn news about job into reply lines on its connection; when done,
 * free job and let the connection go on.  => loop thread.
 */
extern void admin_job_deliver (struct admin_job *job,
                               const struct admin_news *news);

/* Free a job.  Accepts NULL.  => loop thread, or admin_destroy once
 * every other thread has ended.
 */
extern void admin_job_free (struct admin_job *job);

#endif /* SWAPDRUM_ADMIN_CMD_H */
