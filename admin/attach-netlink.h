/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrum-attach: the kernel's NBD driver over generic netlink
 * (family "nbd", <linux/nbd-netlink.h>), through libnl.
 *
 * Two netlink sockets: one for commands (CONNECT, RECONFIGURE,
 * DISCONNECT), each sent and answered in turn, and one subscribed to
 * the family's multicast group for NBD_CMD_LINK_DEAD, read when poll
 * says so.  They are kept apart so that an event never lands in the
 * middle of a command's answer.
 *
 * Every function that fails returns -1 with errno set to the kernel's
 * errno (or the closest one) and the error set ("netlink: ...").
 */

#ifndef SWAPDRUM_ATTACH_NETLINK_H
#define SWAPDRUM_ATTACH_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct attach_nl;

/* What NBD_CMD_CONNECT sets up. */
struct attach_nl_config {
  uint32_t index;               /* /dev/nbdINDEX */
  uint64_t size;                /* bytes */
  uint64_t block_size;          /* bytes, 512 ... 4096 */
  uint64_t server_flags;        /* the export's transmission flags */
  uint64_t dead_timeout;        /* seconds requests wait for a socket */
  uint64_t timeout;             /* per-request seconds; 0: none set */
  const char *backend;          /* the kernel compares it on reconfigure */
};

/* Open the command socket and resolve the "nbd" family; with EVENTS,
 * also the event socket, subscribed to the multicast group.  Returns
 * NULL with the error set (ENOENT: no nbd module loaded).
 */
extern struct attach_nl *attach_nl_open (bool events);

/* Close both sockets.  NL may be NULL. */
extern void attach_nl_close (struct attach_nl *nl);

/* NBD_CMD_CONNECT: device CONFIG->index, served by the NFDS sockets
 * FDS (each already through the handshake).  The kernel takes its own
 * reference to each socket.  Returns 0 or -1.
 */
extern int attach_nl_connect (struct attach_nl *nl,
                              const struct attach_nl_config *config,
                              const int *fds, size_t nfds);

/* NBD_CMD_RECONFIGURE: give device INDEX the sockets FDS for its dead
 * connections.  The kernel takes one socket per dead connection and
 * drops the rest without saying so.  BACKEND must be what connect
 * gave.  Returns 0, or -1 (EINVAL: the device is not connected any
 * more, or its backend differs).
 */
extern int attach_nl_reconfigure (struct attach_nl *nl, uint32_t index,
                                  const char *backend,
                                  const int *fds, size_t nfds);

/* NBD_CMD_DISCONNECT for device INDEX.  Returns 0 or -1. */
extern int attach_nl_disconnect (struct attach_nl *nl, uint32_t index);

/* The event socket's file descriptor, for poll (POLLIN). */
extern int attach_nl_event_fd (const struct attach_nl *nl);

/* Read the events waiting on the event socket, without blocking.
 * Returns 1 if one of them was NBD_CMD_LINK_DEAD for device INDEX, or
 * if events were lost (the socket's buffer overflowed: the caller
 * must look for itself); 0 if not; -1 on another error.
 */
extern int attach_nl_read_events (struct attach_nl *nl, uint32_t index);

#endif /* SWAPDRUM_ATTACH_NETLINK_H */
