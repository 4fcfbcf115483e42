/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/nbd-netlink.h>

#include "attach-netlink.h"
#include "attach-util.h"

struct attach_nl {
  struct nl_sock *cmd;          /* commands and their answers */
  struct nl_sock *events;       /* the multicast group; NULL if unused */
  int family;                   /* the "nbd" family's id */
  uint32_t index;               /* attach_nl_read_events' filter */
  bool dead;                    /* set by on_event */
};

/* The kernel's answer to one command: 1 while waiting, then 0 or a
 * negative errno.
 */
static int
on_error (struct sockaddr_nl *who, struct nlmsgerr *err, void *arg)
{
  int *result = arg;

  *result = err->error;
  return NL_STOP;
}

static int
on_ack (struct nl_msg *msg, void *arg)
{
  int *result = arg;

  *result = 0;
  return NL_STOP;
}

/* A new socket connected to generic netlink; NULL with the error set. */
static struct nl_sock *
open_socket (void)
{
  struct nl_sock *sock = nl_socket_alloc ();
  int r;

  if (sock == NULL) {
    errno = ENOMEM;
    attach_set_error ("netlink: %m");
    return NULL;
  }
  r = genl_connect (sock);
  if (r < 0) {
    nl_socket_free (sock);
    errno = EPROTONOSUPPORT;
    attach_set_error ("netlink: generic netlink: %s", nl_geterror (r));
    return NULL;
  }
  return sock;
}

/* Join the "nbd" family's multicast group on a new event socket. */
static int
open_events (struct attach_nl *nl)
{
  int group, r;

  nl->events = open_socket ();
  if (nl->events == NULL)
    return -1;
  group = genl_ctrl_resolve_grp (nl->cmd, NBD_GENL_FAMILY_NAME,
                                 NBD_GENL_MCAST_GROUP_NAME);
  if (group < 0) {
    errno = ENOENT;
    attach_set_error ("netlink: %s: no multicast group %s: %s",
                      NBD_GENL_FAMILY_NAME, NBD_GENL_MCAST_GROUP_NAME,
                      nl_geterror (group));
    return -1;
  }
  r = nl_socket_add_membership (nl->events, group);
  if (r == 0)
    r = nl_socket_set_nonblocking (nl->events);
  if (r < 0) {
    errno = EPROTO;
    attach_set_error ("netlink: joining %s: %s", NBD_GENL_MCAST_GROUP_NAME,
                      nl_geterror (r));
    return -1;
  }
  return 0;
}

struct attach_nl *
attach_nl_open (bool events)
{
  struct attach_nl *nl = calloc (1, sizeof *nl);

  if (nl == NULL) {
    attach_set_error ("netlink: %m");
    return NULL;
  }
  nl->cmd = open_socket ();
  if (nl->cmd == NULL)
    goto err;
  nl->family = genl_ctrl_resolve (nl->cmd, NBD_GENL_FAMILY_NAME);
  if (nl->family < 0) {
    errno = ENOENT;
    attach_set_error ("netlink: the kernel has no generic netlink family "
                      "\"%s\" (modprobe nbd)", NBD_GENL_FAMILY_NAME);
    goto err;
  }
  if (events && open_events (nl) == -1)
    goto err;
  return nl;
 err:
  attach_nl_close (nl);
  return NULL;
}

void
attach_nl_close (struct attach_nl *nl)
{
  if (nl == NULL)
    return;
  if (nl->events)
    nl_socket_free (nl->events);
  if (nl->cmd)
    nl_socket_free (nl->cmd);
  free (nl);
}

int
attach_nl_event_fd (const struct attach_nl *nl)
{
  return nl_socket_get_fd (nl->events);
}

/* A new message for command CMD, or NULL with the error set. */
static struct nl_msg *
new_message (struct attach_nl *nl, uint8_t cmd, const char *what)
{
  struct nl_msg *msg = nlmsg_alloc ();

  if (msg == NULL ||
      genlmsg_put (msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, 0,
                   cmd, NBD_GENL_VERSION) == NULL) {
    nlmsg_free (msg);
    errno = ENOMEM;
    attach_set_error ("netlink: %s: %m", what);
    return NULL;
  }
  return msg;
}

/* Add NBD_ATTR_SOCKETS with the NFDS sockets FDS to MSG. */
static int
put_sockets (struct nl_msg *msg, const int *fds, size_t nfds)
{
  struct nlattr *list, *item;
  size_t i;

  list = nla_nest_start (msg, NBD_ATTR_SOCKETS);
  if (list == NULL)
    return -1;
  for (i = 0; i < nfds; i++) {
    item = nla_nest_start (msg, NBD_SOCK_ITEM);
    if (item == NULL || nla_put_u32 (msg, NBD_SOCK_FD, fds[i]) < 0)
      return -1;
    nla_nest_end (msg, item);
  }
  nla_nest_end (msg, list);
  return 0;
}

/* Send MSG (freed here) and wait for the kernel's answer.  Returns 0,
 * or -1 with errno and the error set ("netlink: WHAT: /dev/nbdINDEX:
 * reason").
 */
static int
send_command (struct attach_nl *nl, struct nl_msg *msg, const char *what,
              uint32_t index)
{
  struct nl_cb *cb = nl_cb_alloc (NL_CB_DEFAULT);
  int result = 1, r;

  if (cb == NULL) {
    nlmsg_free (msg);
    errno = ENOMEM;
    goto err;
  }
  nl_cb_err (cb, NL_CB_CUSTOM, on_error, &result);
  nl_cb_set (cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, &result);
  r = nl_send_auto (nl->cmd, msg);
  nlmsg_free (msg);
  while (r >= 0 && result == 1)
    r = nl_recvmsgs (nl->cmd, cb);
  nl_cb_put (cb);
  if (result == 0)
    return 0;
  errno = result < 0 ? -result : EPROTO;
 err:
  attach_set_error ("netlink: %s: /dev/nbd%u: %m", what, index);
  return -1;
}

int
attach_nl_connect (struct attach_nl *nl,
                   const struct attach_nl_config *config,
                   const int *fds, size_t nfds)
{
  struct nl_msg *msg = new_message (nl, NBD_CMD_CONNECT, "connect");

  if (msg == NULL)
    return -1;
  if (nla_put_u32 (msg, NBD_ATTR_INDEX, config->index) < 0 ||
      nla_put_u64 (msg, NBD_ATTR_SIZE_BYTES, config->size) < 0 ||
      nla_put_u64 (msg, NBD_ATTR_BLOCK_SIZE_BYTES, config->block_size) < 0 ||
      nla_put_u64 (msg, NBD_ATTR_SERVER_FLAGS, config->server_flags) < 0 ||
      nla_put_u64 (msg, NBD_ATTR_DEAD_CONN_TIMEOUT,
                   config->dead_timeout) < 0 ||
      (config->timeout > 0 &&
       nla_put_u64 (msg, NBD_ATTR_TIMEOUT, config->timeout) < 0) ||
      nla_put_string (msg, NBD_ATTR_BACKEND_IDENTIFIER,
                      config->backend) < 0 ||
      put_sockets (msg, fds, nfds) == -1) {
    nlmsg_free (msg);
    errno = EMSGSIZE;
    attach_set_error ("netlink: connect: /dev/nbd%u: message too long",
                      config->index);
    return -1;
  }
  return send_command (nl, msg, "connect", config->index);
}

int
attach_nl_reconfigure (struct attach_nl *nl, uint32_t index,
                       const char *backend, const int *fds, size_t nfds)
{
  struct nl_msg *msg = new_message (nl, NBD_CMD_RECONFIGURE, "reconfigure");

  if (msg == NULL)
    return -1;
  if (nla_put_u32 (msg, NBD_ATTR_INDEX, index) < 0 ||
      nla_put_string (msg, NBD_ATTR_BACKEND_IDENTIFIER, backend) < 0 ||
      put_sockets (msg, fds, nfds) == -1) {
    nlmsg_free (msg);
    errno = EMSGSIZE;
    attach_set_error ("netlink: reconfigure: /dev/nbd%u: message too long",
                      index);
    return -1;
  }
  return send_command (nl, msg, "reconfigure", index);
}

int
attach_nl_disconnect (struct attach_nl *nl, uint32_t index)
{
  struct nl_msg *msg = new_message (nl, NBD_CMD_DISCONNECT, "disconnect");

  if (msg == NULL)
    return -1;
  if (nla_put_u32 (msg, NBD_ATTR_INDEX, index) < 0) {
    nlmsg_free (msg);
    errno = EMSGSIZE;
    attach_set_error ("netlink: disconnect: /dev/nbd%u: message too long",
                      index);
    return -1;
  }
  return send_command (nl, msg, "disconnect", index);
}

/* Multicast messages carry no sequence number of ours. */
static int
no_seq_check (struct nl_msg *msg, void *arg)
{
  return NL_OK;
}

/* One multicast message: note NBD_CMD_LINK_DEAD for our device.  The
 * message comes from the kernel, but is parsed with the family's
 * policy all the same.
 */
static int
on_event (struct nl_msg *msg, void *arg)
{
  static struct nla_policy policy[NBD_ATTR_MAX + 1] = {
    [NBD_ATTR_INDEX] = { .type = NLA_U32 },
  };
  struct attach_nl *nl = arg;
  struct nlmsghdr *hdr = nlmsg_hdr (msg);
  struct genlmsghdr *ghdr = nlmsg_data (hdr);
  struct nlattr *attrs[NBD_ATTR_MAX + 1];

  if (!genlmsg_valid_hdr (hdr, 0) || ghdr->cmd != NBD_CMD_LINK_DEAD)
    return NL_OK;
  if (genlmsg_parse (hdr, 0, attrs, NBD_ATTR_MAX, policy) < 0 ||
      attrs[NBD_ATTR_INDEX] == NULL)
    return NL_OK;
  if (nla_get_u32 (attrs[NBD_ATTR_INDEX]) == nl->index)
    nl->dead = true;
  return NL_OK;
}

int
attach_nl_read_events (struct attach_nl *nl, uint32_t index)
{
  struct nl_cb *cb = nl_cb_alloc (NL_CB_DEFAULT);
  int r;

  if (cb == NULL) {
    errno = ENOMEM;
    attach_set_error ("netlink: events: %m");
    return -1;
  }
  nl_cb_set (cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
  nl_cb_set (cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, nl);
  nl->index = index;
  nl->dead = false;
  do
    r = nl_recvmsgs (nl->events, cb);
  while (r >= 0);
  nl_cb_put (cb);
  if (r == -NLE_AGAIN)
    return nl->dead;
  if (r == -NLE_NOMEM)
    return 1;                   /* ENOBUFS: events were lost */
  errno = EPROTO;
  attach_set_error ("netlink: events: %s", nl_geterror (r));
  return -1;
}
