/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* One admin client: reading and splitting its requests, keeping them
 * in order, writing its replies.  See admin-conn.h.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "admin/admin-conn.h"
#include "admin/admin-int.h"
#include "swapdrum/log.h"

/* Bytes read per callback: a fair share, so that one chatty client
 * cannot starve the others.
 */
#define READ_CHUNK 16384

/* Stop reading from a client while this many reply bytes wait for it
 * to read them: a client that only writes cannot grow us without end.
 */
#define OUT_HIGH (1024 * 1024)

/* An emptied buffer larger than this is freed, so that an idle client
 * costs (almost) nothing.
 */
#define KEEP_BUFFER 4096

/* A request line waiting behind a running request. */
struct admin_request {
  struct admin_request *next;
  char *line;                   /* NULL: the line was too long */
  size_t len;
};

static void conn_process (struct admin_conn *conn);

/* ---- input ---- */

/* Make room for READ_CHUNK more bytes of input, moving what is not
 * split yet to the front first.
 * => returns 0, or -1 after reporting.
 */
static int
reserve_input (struct admin_conn *conn)
{
  size_t keep = conn->in_len - conn->in_start;
  char *p;

  if (conn->in_start > 0) {
    memmove (conn->in, conn->in + conn->in_start, keep);
    conn->in_start = 0;
    conn->in_len = keep;
  }
  if (conn->in_cap - conn->in_len >= READ_CHUNK)
    return 0;
  p = realloc (conn->in, conn->in_len + READ_CHUNK);
  if (p == NULL) {
    sd_error ("admin: %s: reading a request: %m", conn->srv->path);
    return -1;
  }
  conn->in = p;
  conn->in_cap = conn->in_len + READ_CHUNK;
  return 0;
}

/* Take n bytes off the front of the unsplit input.  The buffer stays:
 * the line just taken may point into it.
 */
static void
consume_input (struct admin_conn *conn, size_t n)
{
  conn->in_start += n;
  conn->scanned = 0;
}

/* Free the input buffer once everything in it is split and answered. */
static void
shrink_input (struct admin_conn *conn)
{
  if (conn->in_start == conn->in_len) {
    conn->in_start = conn->in_len = 0;
    if (conn->in_cap > KEEP_BUFFER) {
      free (conn->in);
      conn->in = NULL;
      conn->in_cap = 0;
    }
  }
}

/* The next request in conn's input: a line without its '\n' (pointing
 * into the input buffer, valid until the next read), or a line too
 * long (rq->line NULL, the rest of it then discarded as it comes).
 * After EOF a last line without '\n' counts too.
 * => returns true with *rq set, or false if no whole request is in.
 */
static bool
next_line (struct admin_conn *conn, struct admin_request *rq)
{
  for (;;) {
    size_t avail = conn->in_len - conn->in_start, len;
    char *start, *nl;

    if (avail == 0)
      return false;
    start = conn->in + conn->in_start;
    nl = memchr (start + conn->scanned, '\n', avail - conn->scanned);
    len = nl ? (size_t) (nl - start) : avail;
    if (nl == NULL && !conn->discarding && avail > ADMIN_LINE_MAX) {
      /* Refuse it now rather than buffer an endless line. */
      conn->discarding = true;
      consume_input (conn, avail);
      rq->line = NULL;
      return true;
    }
    if (nl == NULL && conn->discarding) {
      consume_input (conn, avail);
      return false;
    }
    if (nl == NULL && (conn->state == CONN_OPEN || admin_is_blank (start, len))) {
      conn->scanned = avail;
      if (conn->state != CONN_OPEN)
        consume_input (conn, avail);
      return false;
    }
    consume_input (conn, nl ? len + 1 : len);
    if (conn->discarding) {
      conn->discarding = false;
      continue;
    }
    rq->line = len > ADMIN_LINE_MAX ? NULL : start;
    rq->len = len;
    return true;
  }
}

/* ---- requests, in order ---- */

static void
run_request (struct admin_conn *conn, const struct admin_request *rq)
{
  if (rq->line)
    conn->handler->request (conn, rq->line, rq->len);
  else
    conn->handler->too_long (conn);
}

/* Keep a copy of rq until the running request ends.
 * => returns 0, or -1 after reporting.
 */
static int
enqueue (struct admin_conn *conn, const struct admin_request *rq)
{
  struct admin_request *q = calloc (1, sizeof *q);

  if (q == NULL ||
      (rq->line && (q->line = malloc (rq->len ? rq->len : 1)) == NULL)) {
    sd_error ("admin: %s: queueing a request: %m", conn->srv->path);
    free (q);
    return -1;
  }
  if (rq->line)
    memcpy (q->line, rq->line, rq->len);
  q->len = rq->len;
  *conn->queue_tail = q;
  conn->queue_tail = &q->next;
  conn->nqueued++;
  return 0;
}

/* Run the oldest queued request. */
static void
run_queued (struct admin_conn *conn)
{
  struct admin_request *q = conn->queue_head;

  conn->queue_head = q->next;
  if (conn->queue_head == NULL)
    conn->queue_tail = &conn->queue_head;
  conn->nqueued--;
  run_request (conn, q);
  free (q->line);
  free (q);
}

static void
free_queue (struct admin_conn *conn)
{
  while (conn->queue_head) {
    struct admin_request *q = conn->queue_head;
    conn->queue_head = q->next;
    free (q->line);
    free (q);
  }
  conn->queue_tail = &conn->queue_head;
  conn->nqueued = 0;
}

/* Answer conn's requests in order until one goes to the worker or no
 * whole line is left; lines that arrive behind a running request are
 * queued (up to ADMIN_MAX_QUEUED; the rest stays unsplit for later).
 */
static void
conn_run (struct admin_conn *conn)
{
  struct admin_request rq = { .line = NULL };

  while (!conn->busy && conn->queue_head && !conn->failed)
    run_queued (conn);
  while (!conn->failed && conn->nqueued < ADMIN_MAX_QUEUED &&
         next_line (conn, &rq)) {
    if (!conn->busy)
      run_request (conn, &rq);
    else if (enqueue (conn, &rq) == -1)
      conn->failed = true;
  }
}

/* ---- output ---- */

/* Send what the client takes now.  A hard error (the client went
 * away) marks conn failed: the caller closes it.
 */
static void
conn_flush (struct admin_conn *conn)
{
  while (conn->out_start < conn->out_len) {
    ssize_t r = send (conn->fd, conn->out + conn->out_start,
                      conn->out_len - conn->out_start,
                      MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        conn->failed = true;
      return;
    }
    conn->out_start += r;
  }
  conn->out_start = conn->out_len = 0;
  if (conn->out_cap > KEEP_BUFFER) {
    free (conn->out);
    conn->out = NULL;
    conn->out_cap = 0;
  }
}

/* Append text and a '\n' to the output.
 * => returns 0, or -1 (ENOMEM).
 */
static int
append_output (struct admin_conn *conn, const char *text, size_t len)
{
  if (conn->out_cap - conn->out_len < len + 1) {
    size_t cap = conn->out_len + len + 1 + KEEP_BUFFER;
    char *p = realloc (conn->out, cap);
    if (p == NULL)
      return -1;
    conn->out = p;
    conn->out_cap = cap;
  }
  memcpy (conn->out + conn->out_len, text, len);
  conn->out[conn->out_len + len] = '\n';
  conn->out_len += len + 1;
  return 0;
}

/* ---- watchers and state ---- */

static void
set_watcher (struct ev_loop *loop, ev_io *w, bool want)
{
  if (want && !ev_is_active (w))
    ev_io_start (loop, w);
  else if (!want && ev_is_active (w))
    ev_io_stop (loop, w);
}

/* Watch conn's socket for what it waits for now. */
static void
conn_watch (struct admin_conn *conn)
{
  struct ev_loop *loop = conn->srv->loop;
  bool ok = conn->state != CONN_DEAD && !conn->failed;

  set_watcher (loop, &conn->read_watcher,
               ok && conn->state == CONN_OPEN &&
               conn->nqueued < ADMIN_MAX_QUEUED &&
               conn->out_len - conn->out_start < OUT_HIGH);
  set_watcher (loop, &conn->write_watcher,
               ok && conn->out_start < conn->out_len);
}

/* Stop conn's watchers, close its socket, drop its buffers. */
static void
conn_release (struct admin_conn *conn)
{
  struct ev_loop *loop = conn->srv->loop;

  ev_io_stop (loop, &conn->read_watcher);
  ev_io_stop (loop, &conn->write_watcher);
  ev_timer_stop (loop, &conn->idle);
  if (conn->fd >= 0)
    close (conn->fd);
  conn->fd = -1;
  free (conn->in);
  conn->in = NULL;
  conn->in_start = conn->in_len = conn->in_cap = 0;
  free (conn->out);
  conn->out = NULL;
  conn->out_start = conn->out_len = conn->out_cap = 0;
  free_queue (conn);
}

/* Take conn off the server's list and free it. */
static void
conn_unlink_free (struct admin_conn *conn)
{
  struct admin_server *srv = conn->srv;

  if (conn->prev)
    conn->prev->next = conn->next;
  else
    srv->conns = conn->next;
  if (conn->next)
    conn->next->prev = conn->prev;
  free (conn);
}

/* Close conn; free it too unless its job still runs (then
 * admin_conn_job_done frees it).
 */
static void
conn_close (struct admin_conn *conn)
{
  conn_release (conn);
  conn->state = CONN_DEAD;
  conn->srv->nclients--;
  if (!conn->busy)
    conn_unlink_free (conn);
}

/* Nothing left to do for a client that stopped sending. */
static bool
conn_finished (const struct admin_conn *conn)
{
  return conn->state == CONN_EOF && !conn->busy && conn->nqueued == 0 &&
    conn->in_start == conn->in_len && conn->out_start == conn->out_len;
}

/* Move conn on after anything happened to it: answer what can be
 * answered, send what can be sent, close if done or broken, else
 * watch for what it waits for.  conn may be freed on return.
 */
static void
conn_process (struct admin_conn *conn)
{
  if (!conn->failed)
    conn_run (conn);
  shrink_input (conn);
  if (!conn->failed)
    conn_flush (conn);
  if (conn->failed || conn_finished (conn)) {
    conn_close (conn);
    return;
  }
  conn_watch (conn);
}

/* ---- callbacks ---- */

static void
read_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  struct admin_conn *conn = w->data;
  ssize_t r;

  if (reserve_input (conn) == -1) {
    conn->failed = true;
    conn_process (conn);
    return;
  }
  r = recv (conn->fd, conn->in + conn->in_len, READ_CHUNK, 0);
  if (r > 0) {
    conn->in_len += r;
    ev_timer_again (loop, &conn->idle);
  }
  else if (r == 0)
    conn->state = CONN_EOF;
  else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    conn->failed = true;
  conn_process (conn);
}

static void
write_cb (struct ev_loop *loop, ev_io *w, int revents)
{
  conn_process (w->data);
}

/* A client silent for srv->idle_timeout is closed, unless it is
 * waiting for us (a running swap-off).  Silence counts from the last
 * bytes it sent, or from the end of its last request that ran in the
 * worker (admin_conn_job_done), whichever is later.
 */
static void
idle_cb (struct ev_loop *loop, ev_timer *w, int revents)
{
  struct admin_conn *conn = w->data;

  if (conn->busy)
    return;                     /* the repeat re-arms the timer */
  sd_debug ("admin: %s: closing a client (uid %u) silent for %g s",
            conn->srv->path, (unsigned) conn->uid, conn->srv->idle_timeout);
  conn_close (conn);
}

/* ---- public ---- */

/* Record the peer's credentials, which the privilege check needs:
 * taken once, at accept, as the peer was when it connected.
 */
static void
get_peer (struct admin_conn *conn)
{
  struct ucred cred;
  socklen_t len = sizeof cred;

  conn->uid = (uid_t) -1;
  conn->pid = -1;
  if (getsockopt (conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    conn->uid = cred.uid;
    conn->pid = cred.pid;
  }
  else
    sd_debug ("admin: %s: SO_PEERCRED: %m: client treated as unprivileged",
              conn->srv->path);
}

struct admin_conn *
admin_conn_new (struct admin_server *srv, int fd,
                const struct admin_conn_handler *handler)
{
  struct admin_conn *conn = calloc (1, sizeof *conn);

  if (conn == NULL) {
    sd_error ("admin: %s: new client: %m", srv->path);
    close (fd);
    return NULL;
  }
  conn->srv = srv;
  conn->handler = handler;
  conn->fd = fd;
  conn->queue_tail = &conn->queue_head;
  get_peer (conn);
  ev_io_init (&conn->read_watcher, read_cb, fd, EV_READ);
  ev_io_init (&conn->write_watcher, write_cb, fd, EV_WRITE);
  ev_init (&conn->idle, idle_cb);
  conn->idle.repeat = srv->idle_timeout;
  conn->read_watcher.data = conn->write_watcher.data = conn->idle.data = conn;
  ev_io_start (srv->loop, &conn->read_watcher);
  ev_timer_again (srv->loop, &conn->idle);

  conn->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = conn;
  srv->conns = conn;
  srv->nclients++;
  return conn;
}

void
admin_conn_send (struct admin_conn *conn, json_object *reply)
{
  const char *text = NULL;
  size_t len = 0;

  if (conn->state == CONN_DEAD || conn->failed) {
    json_object_put (reply);
    return;
  }
  if (reply)
    text = json_object_to_json_string_length (reply,
                                              JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE,
                                              &len);
  if (text == NULL || append_output (conn, text, len) == -1) {
    errno = ENOMEM;
    sd_error ("admin: %s: reply: %m", conn->srv->path);
    conn->failed = true;
  }
  json_object_put (reply);
  /* Progress lines arrive outside conn_process: send them now. */
  if (!conn->failed)
    conn_flush (conn);
  conn_watch (conn);
}

void
admin_conn_job_done (struct admin_conn *conn)
{
  conn->busy = false;
  if (conn->state == CONN_DEAD) {
    conn_unlink_free (conn);
    return;
  }
  /* The client waited for us, maybe longer than the idle timeout: its
   * silence starts now, not at the timer's next tick.
   */
  ev_timer_again (conn->srv->loop, &conn->idle);
  conn_process (conn);
}

void
admin_conn_free (struct admin_conn *conn)
{
  if (conn->state != CONN_DEAD)
    conn_release (conn);
  conn->busy = false;
  conn_unlink_free (conn);
}
