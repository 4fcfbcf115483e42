/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrum-attach: one NBD device served by one export, from the
 * first attach to the end: the connections to the server, what the
 * first handshake found (every later handshake must find the same),
 * and the loop that reconnects when the kernel loses a connection.
 *
 * How a lost connection is seen: the kernel shuts down a socket it
 * gives up on (nbd_mark_nsock_dead: shutdown (SHUT_RDWR)) and sends
 * NBD_CMD_LINK_DEAD to the multicast group.  The session keeps its own
 * descriptor of every socket it handed to the kernel and polls them
 * for POLLHUP, so it learns which are dead even if an event is lost;
 * the event only wakes it.  It then connects again (with backoff),
 * checks the new handshake against the first and hands the kernel one
 * new socket per dead one with NBD_CMD_RECONFIGURE.
 *
 * A handshake that finds another pool (its description differs from
 * the first attach's), another size, a read-only export or fewer of
 * the flags the kernel was given is refused: the session logs why and
 * keeps trying, since the right server may come back; the kernel fails
 * requests that wait longer than the dead-connection timeout.
 */

#ifndef SWAPDRUM_ATTACH_SESSION_H
#define SWAPDRUM_ATTACH_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "attach-addr.h"
#include "attach-handshake.h"
#include "attach-netlink.h"

#define ATTACH_CONN_MAX 16              /* -C */
#define ATTACH_IO_TIMEOUT_MS 10000      /* connect + handshake, each try */
#define ATTACH_BACKOFF_FIRST 0.25       /* seconds between tries ... */
#define ATTACH_BACKOFF_MAX 2.0          /* ... doubling up to this */
#define ATTACH_LOG_EVERY 60.0           /* "still trying" at most this often */

struct attach_session {
  /* Set by the caller before attach_session_attach. */
  struct attach_addr addr;
  const char *name;             /* export name */
  const char *device;           /* as given, for messages */
  uint32_t index;               /* /dev/nbdINDEX */
  uint32_t block_size;
  int nconn;                    /* 1 ... ATTACH_CONN_MAX */
  uint64_t dead_timeout;        /* seconds */
  uint64_t timeout;             /* per-request seconds, 0: none */

  /* Set by attach_session_attach. */
  bool have_first;              /* first is set */
  struct attach_export first;   /* the first handshake's export */
  char backend[300];            /* NBD_ATTR_BACKEND_IDENTIFIER */
  struct attach_nl *nl;
  int fds[ATTACH_CONN_MAX];     /* our descriptors of the kernel's
                                 * sockets; -1 once dead */
};

/* Connect NCONN times, check the export can be swapped to, and
 * connect the device over netlink.  Returns 0, or -1 with the error
 * set (nothing is left connected then).
 */
extern int attach_session_attach (struct attach_session *s);

/* Keep the device connected: reconnect whenever the kernel loses a
 * connection, until the device is disconnected (attach_nl_disconnect,
 * by swapdrum-attach -d) or a signal (SIGTERM, SIGINT, SIGHUP) comes,
 * which leaves the device as it is.  Returns the exit code.
 */
extern int attach_session_run (struct attach_session *s);

/* Check that export EXP can serve a swap device of block size
 * BLOCK_SIZE over NCONN connections.  Returns 0, or -1 with the error
 * set.  (Exposed for --probe.)
 */
extern int attach_session_check_export (const struct attach_export *exp,
                                        uint32_t block_size, int nconn);

#endif /* SWAPDRUM_ATTACH_SESSION_H */
