/* swapdrum: the admin socket server (public engine API).
 *
 * A unix stream socket speaking the line-delimited JSON protocol of
 * docs/admin-protocol.md, served by a libev loop of its own
 * (ev_loop_new) in a thread of its own.  Requests that change the pool
 * (on, off, ctl) run in a worker thread, so that the loop keeps
 * serving other clients during a long swap-off; no admin request ever
 * blocks the data path (the engine's admin changes take only short
 * pool-lock sections and per-stripe locks).
 *
 * Pointer parameters must not be NULL where the function is marked
 * SD_NONNULL (nonnull.h); the destructors accept NULL.
 */

#ifndef SWAPDRUM_ADMIN_H
#define SWAPDRUM_ADMIN_H

#include <sys/types.h>

#include "swapdrum/nonnull.h"
#include "swapdrum/exportset.h"
#include "swapdrum/pool.h"

struct admin_server;

/* Create, bind and listen on the socket at path (a stale socket file
 * left by a dead server is replaced; a live one is refused with
 * EADDRINUSE; a missing parent directory is created, mode 0700 plus
 * the search bit for whom `mode` lets in, with `group`).  The
 * socket file gets exactly `mode` (e.g. 0600) and, if group is not
 * (gid_t) -1, that group.  No thread is started.  Call it before other
 * threads run (nbdkit's .get_ready): it changes the umask for a moment.
 * exports (NULL: none; the export commands are then refused with
 * ENOTSUP) is the set the export commands list and change.
 * => returns the server, or NULL after reporting "admin: PATH: reason"
 *    with errno set (ENAMETOOLONG, EADDRINUSE, EEXIST: not a socket).
 */
extern struct admin_server *admin_create (struct pool *pool,
                                          struct exportset *exports,
                                          const char *path, mode_t mode,
                                          gid_t group)
  SD_NONNULL (1, 3);

/* Start the loop thread and the worker thread (with every signal
 * blocked).  Call after nbdkit forks and changes user (.after_fork):
 * "the server's uid" of the privilege check is the euid at this call.
 * => returns 0, or -1 after reporting.
 */
extern int admin_start (struct admin_server *srv)
  SD_NONNULL (1);

/* Stop the loop (if started), wait for the running request (a
 * swap-off finishes first, however long it takes; queued ones are
 * dropped unanswered), close every client and the socket, unlink the
 * socket file if it is still ours, free.  Accepts NULL.  Call it
 * before pool_destroy.
 */
extern void admin_destroy (struct admin_server *srv);

/* The socket path. */
extern const char *admin_path (const struct admin_server *srv)
  SD_NONNULL (1);

/* The listening socket (the drain leaves its connections alone). */
extern int admin_fd (const struct admin_server *srv)
  SD_NONNULL (1);

#endif /* SWAPDRUM_ADMIN_H */
