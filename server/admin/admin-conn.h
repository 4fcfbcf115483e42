/* swapdrum: one admin client (in the manner of sniproxy's
 * connection.c): its socket, its peer credentials, its input split
 * into request lines, the requests waiting behind a running one, and
 * its queue of reply bytes.
 *
 * Everything here runs on the loop thread and takes no lock.
 *
 * Flow control: requests are answered in order, one at a time.  While
 * a request runs in the worker, further lines wait in the connection
 * (at most ADMIN_MAX_QUEUED; then the connection stops reading until
 * they drain).  It also stops reading while more than a mebibyte of
 * replies waits for the client to read them.
 */

#ifndef SWAPDRUM_ADMIN_CONN_H
#define SWAPDRUM_ADMIN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <ev.h>
#include <json-c/json.h>

struct admin_server;
struct admin_request;
struct admin_conn;

/* What a connection does with its requests, in order, one at a time
 * (the next waits while conn->busy): the server chooses (admin.c gives
 * admin-cmd's).  => loop thread.
 */
struct admin_conn_handler {
  /* One request line: len bytes, no '\n', not NUL-terminated. */
  void (*request) (struct admin_conn *conn, const char *line, size_t len);
  /* A line longer than ADMIN_LINE_MAX (its bytes are dropped). */
  void (*too_long) (struct admin_conn *conn);
};

enum admin_conn_state {
  CONN_OPEN,                    /* reading requests */
  CONN_EOF,                     /* the peer stopped sending: answer what
                                 * it sent, then close */
  CONN_DEAD,                    /* socket closed: freed when its running
                                 * job ends */
};

struct admin_conn {
  struct admin_server *srv;
  const struct admin_conn_handler *handler;
  struct admin_conn *prev, *next; /* srv->conns */
  enum admin_conn_state state;
  bool failed;                  /* I/O error: close at the next chance */
  int fd;
  uid_t uid;                    /* peer credentials (SO_PEERCRED), taken */
  pid_t pid;                    /* at accept; uid (uid_t) -1 if unknown */

  ev_io read_watcher, write_watcher;
  ev_timer idle;                /* closes a silent client */

  /* Input: bytes [in_start, in_len) of in are not split into lines
   * yet; the first `scanned` of them hold no '\n'.  discarding: the
   * current line was too long, drop it up to its '\n'.
   */
  char *in;
  size_t in_start, in_len, in_cap, scanned;
  bool discarding;

  /* Requests waiting while busy, oldest first. */
  struct admin_request *queue_head, **queue_tail;
  unsigned nqueued;
  bool busy;                    /* a job of ours is queued or running */

  /* Output: bytes [out_start, out_len) of out are still to send. */
  char *out;
  size_t out_start, out_len, out_cap;
};

/* Take on a new client, fd (non-blocking, close-on-exec), whose
 * requests go to handler.
 * => returns the connection, or NULL after reporting (fd closed).
 */
extern struct admin_conn *admin_conn_new (
  struct admin_server *srv, int fd,
  const struct admin_conn_handler *handler);

/* Send reply (one line), taking ownership of it.  A dead or failed
 * connection drops it.
 */
extern void admin_conn_send (struct admin_conn *conn, json_object *reply);

/* conn's job has ended (its reply is sent): go on with its queue, or
 * free a dead connection.  conn may be freed on return.
 */
extern void admin_conn_job_done (struct admin_conn *conn);

/* Close and free conn whatever its state (admin_destroy, after every
 * thread but the caller's has ended).
 */
extern void admin_conn_free (struct admin_conn *conn);

#endif /* SWAPDRUM_ADMIN_CONN_H */
