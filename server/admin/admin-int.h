/* swapdrum: the admin server's insides, shared by admin.c (listener,
 * threads' lifecycle), admin-worker.c (the worker thread and the queues
 * between it and the loop), admin-conn.c (one client), admin-cmd.c (one
 * request) and admin-query.c (the listings).
 *
 * Threads: the loop thread runs the libev loop and owns every watcher,
 * every client and every json-c object; the worker thread runs the
 * requests that change the pool (on, off, ctl), one at a time, and
 * talks to the loop only through the two queues under `lock` and the
 * `wake` ev_async.  Nobody else touches a running server.
 */

#ifndef SWAPDRUM_ADMIN_INT_H
#define SWAPDRUM_ADMIN_INT_H

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ev.h>

#include "swapdrum/admin.h"

struct admin_conn;
struct admin_job;

/* Limits (docs/admin-protocol.md). */
#define ADMIN_LINE_MAX 65536      /* bytes of one request, '\n' excluded */
#define ADMIN_IDLE_TIMEOUT 60.    /* seconds of silence before closing
                                   * (idle_timeout's value) */
#define ADMIN_MAX_CLIENTS 1024    /* more are closed as they come */
#define ADMIN_MAX_QUEUED 16       /* requests queued behind a running one */

struct admin_server {
  /* Constant once admin_create returns (euid and loop: once
   * admin_start returns; idle_timeout: the unit tests shorten it
   * between admin_create and admin_start).
   */
  struct pool *pool;
  struct exportset *exports;    /* NULL: export commands refused */
  char *path;
  struct stat sock_st;          /* the socket file we bound (dev, ino) */
  uid_t euid;                   /* privileged peers: 0 and this */
  int fd;                       /* the listening socket */
  struct ev_loop *loop;
  double idle_timeout;          /* seconds: ADMIN_IDLE_TIMEOUT */

  /* Loop thread only. */
  ev_io accept_watcher;
  ev_timer accept_pause;        /* EMFILE back-off before accepting again */
  bool accept_error_reported;   /* since the last successful accept */
  ev_async wake;                /* the worker and admin_destroy wake us */
  struct admin_conn *conns;     /* every client, dead ones included */
  unsigned nclients;            /* clients with an open socket */

  /* lock protects jobs_head/jobs_tail, outbox, stopping and every
   * job's hand-back fields (admin-worker.h).  Held briefly: never
   * across an engine call or a libev call other than ev_async_send.
   */
  pthread_mutex_t lock;
  pthread_cond_t work;          /* a job was queued, or stopping */
  struct admin_job *jobs_head;  /* for the worker, oldest first */
  struct admin_job **jobs_tail;
  struct admin_job *outbox;     /* jobs with news for the loop */
  bool stopping;

  /* admin_start / admin_destroy only. */
  bool started;
  pthread_t loop_thread, worker_thread;
};

/* True if the len bytes at p are all white space (or len is 0): a
 * line with no request (admin-conn.c), or what may follow a request's
 * JSON object on its line (admin-cmd.c).
 */
static inline bool
admin_is_blank (const char *p, size_t len)
{
  while (len > 0 && isspace ((unsigned char) *p))
    p++, len--;
  return len == 0;
}

#endif /* SWAPDRUM_ADMIN_INT_H */
