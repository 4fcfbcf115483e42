/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "attach-addr.h"
#include "attach-util.h"

/* Fill ADDR with the unix socket PATH. */
static int
parse_unix (const char *path, struct attach_addr *addr)
{
  struct sockaddr_un *sun = (struct sockaddr_un *) &addr->addrs[0];

  if (path[0] == '\0') {
    attach_set_error ("address: %s: no socket path after unix:",
                      addr->display);
    return -1;
  }
  if (strlen (path) >= sizeof sun->sun_path) {
    attach_set_error ("address: %s: socket path longer than %zu bytes",
                      addr->display, sizeof sun->sun_path - 1);
    return -1;
  }
  memset (sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  strcpy (sun->sun_path, path);
  addr->lens[0] = sizeof *sun;
  addr->naddrs = 1;
  return 0;
}

/* Split TEXT ("HOST", "HOST:PORT", "[V6]:PORT", "[V6]") into HOST and
 * PORT (buffers of at least strlen (TEXT) + 1 bytes).
 */
static int
split_host_port (const char *text, char *host, char *port)
{
  const char *colon;

  strcpy (port, ATTACH_DEFAULT_PORT);
  if (text[0] == '[') {
    const char *end = strchr (text, ']');

    if (end == NULL || (end[1] != '\0' && end[1] != ':'))
      return -1;
    memcpy (host, text + 1, end - text - 1);
    host[end - text - 1] = '\0';
    if (end[1] == ':')
      strcpy (port, end + 2);
  }
  else {
    colon = strchr (text, ':');
    if (colon != NULL && strchr (colon + 1, ':') != NULL)
      return -1;                /* a bare IPv6 address needs [] */
    if (colon == NULL)
      strcpy (host, text);
    else {
      memcpy (host, text, colon - text);
      host[colon - text] = '\0';
      strcpy (port, colon + 1);
    }
  }
  return host[0] != '\0' && port[0] != '\0' ? 0 : -1;
}

/* Resolve HOST and PORT into ADDR's addresses. */
static int
resolve (const char *host, const char *port, struct attach_addr *addr)
{
  struct addrinfo hints = {
    .ai_family = AF_UNSPEC,
    .ai_socktype = SOCK_STREAM,
    .ai_flags = AI_ADDRCONFIG,
  };
  struct addrinfo *res, *ai;
  int r;

  r = getaddrinfo (host, port, &hints, &res);
  if (r != 0) {
    attach_set_error ("address: %s: %s", addr->display,
                      r == EAI_SYSTEM ? strerror (errno) : gai_strerror (r));
    return -1;
  }
  addr->naddrs = 0;
  for (ai = res; ai != NULL && addr->naddrs < ATTACH_ADDR_MAX;
       ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof addr->addrs[0])
      continue;
    memcpy (&addr->addrs[addr->naddrs], ai->ai_addr, ai->ai_addrlen);
    addr->lens[addr->naddrs++] = ai->ai_addrlen;
  }
  freeaddrinfo (res);
  if (addr->naddrs == 0) {
    attach_set_error ("address: %s: no usable address", addr->display);
    return -1;
  }
  return 0;
}

int
attach_addr_parse (const char *text, struct attach_addr *addr)
{
  size_t len = strlen (text);
  char host[len + 1], port[len + sizeof ATTACH_DEFAULT_PORT];

  memset (addr, 0, sizeof *addr);
  if (len >= sizeof addr->display) {
    attach_set_error ("address: %.40s...: longer than %zu bytes", text,
                      sizeof addr->display - 1);
    return -1;
  }
  strcpy (addr->display, text);
  if (strncmp (text, "unix:", 5) == 0)
    return parse_unix (text + 5, addr);
  if (split_host_port (text, host, port) == -1) {
    attach_set_error ("address: %s: not HOST, HOST:PORT, [ADDRESS]:PORT "
                      "or unix:PATH", text);
    return -1;
  }
  return resolve (host, port, addr);
}

/* Wait until the non-blocking connect on FD finishes or TIMEOUT_MS
 * passes.  Returns 0 when connected, else -1 with errno set.
 */
static int
wait_connected (int fd, int timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = POLLOUT };
  int err = 0;
  socklen_t len = sizeof err;
  int r;

  do
    r = poll (&pfd, 1, timeout_ms);
  while (r == -1 && errno == EINTR);
  if (r == 0)
    errno = ETIMEDOUT;
  if (r <= 0)
    return -1;
  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
    return -1;
  if (err != 0) {
    errno = err;
    return -1;
  }
  return 0;
}

/* Connect to the one address SA within TIMEOUT_MS.  Returns the socket
 * (still non-blocking) or -1 with errno set.
 */
static int
connect_one (const struct sockaddr_storage *sa, socklen_t len,
             int timeout_ms)
{
  int fd, saved;

  fd = socket (sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
               0);
  if (fd == -1)
    return -1;
  if (connect (fd, (const struct sockaddr *) sa, len) == 0 ||
      (errno == EINPROGRESS && wait_connected (fd, timeout_ms) == 0))
    return fd;
  saved = errno;
  close (fd);
  errno = saved;
  return -1;
}

/* The socket options the kernel's NBD driver expects: blocking (the
 * handshake is done with poll), and for TCP no Nagle delay on the
 * small request headers.
 */
static int
prepare_for_kernel (int fd, int family)
{
  int flags = fcntl (fd, F_GETFL);
  int one = 1;

  if (flags == -1 || fcntl (fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
    return -1;
  if (family != AF_UNIX &&
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1)
    return -1;
  return 0;
}

int
attach_addr_connect (const struct attach_addr *addr, int timeout_ms)
{
  int i, fd = -1;

  for (i = 0; i < addr->naddrs && fd == -1; i++)
    fd = connect_one (&addr->addrs[i], addr->lens[i], timeout_ms);
  if (fd == -1) {
    attach_set_error ("connect: %s: %m", addr->display);
    return -1;
  }
  if (prepare_for_kernel (fd, addr->addrs[i - 1].ss_family) == -1) {
    attach_set_error ("connect: %s: socket options: %m", addr->display);
    close (fd);
    return -1;
  }
  return fd;
}
