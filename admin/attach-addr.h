/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrum-attach: the server's address, and connecting to it.
 *
 * An address is HOST, HOST:PORT, [V6ADDR]:PORT (default port 10809)
 * or unix:PATH.  A host name is resolved once, by attach_addr_parse:
 * reconnecting happens while the client is short of memory and its
 * swap waits, so it must not depend on a resolver (nor on swap-backed
 * files such as /etc/hosts being readable).
 */

#ifndef SWAPDRUM_ATTACH_ADDR_H
#define SWAPDRUM_ATTACH_ADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#define ATTACH_DEFAULT_PORT "10809"
#define ATTACH_ADDR_MAX 8       /* resolved addresses kept */

struct attach_addr {
  char display[300];            /* as given, for messages */
  int naddrs;                   /* resolved addresses, in order */
  struct sockaddr_storage addrs[ATTACH_ADDR_MAX];
  socklen_t lens[ATTACH_ADDR_MAX];
};

/* Parse and resolve TEXT into ADDR.  Returns 0, or -1 with the error
 * set (a malformed address, a path too long for a unix socket, a name
 * that does not resolve).
 */
extern int attach_addr_parse (const char *text, struct attach_addr *addr);

/* Connect to ADDR, trying its addresses in order, each within
 * TIMEOUT_MS.  Returns a connected, blocking, close-on-exec stream
 * socket (TCP_NODELAY for TCP), ready to be handed to the kernel after
 * the handshake, or -1 with the error set (the last address's
 * reason).
 */
extern int attach_addr_connect (const struct attach_addr *addr,
                                int timeout_ms);

#endif /* SWAPDRUM_ATTACH_ADDR_H */
