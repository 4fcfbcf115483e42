/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/nbd.h>

#include "attach-device.h"
#include "attach-session.h"
#include "attach-util.h"

/* The transmission flags the kernel acts on: a new handshake must
 * offer each of these that the first one did.
 */
#define KERNEL_FLAGS (NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | \
                      NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |   \
                      NBD_FLAG_CAN_MULTI_CONN)

/* The state of the reconnect loop. */
struct loop {
  bool reconnecting;            /* some connection is dead */
  double lost_at;               /* when the first of them died */
  double next_try;              /* when to try again */
  double backoff;               /* seconds before the try after next */
  unsigned tries;               /* since lost_at */
  char last_error[512];         /* the last try's reason, logged once */
  double logged_at;             /* when a failed try was last logged */
};

int
attach_session_check_export (const struct attach_export *exp,
                             uint32_t block_size, int nconn)
{
  if (exp->eflags & NBD_FLAG_READ_ONLY) {
    attach_set_error ("export: the export is read-only");
    return -1;
  }
  if (exp->size < block_size) {
    attach_set_error ("export: the export has %" PRIu64 " bytes, less "
                      "than a block", exp->size);
    return -1;
  }
  if (exp->has_block_size &&
      (block_size < exp->min_block || block_size > exp->max_block)) {
    attach_set_error ("export: block size %u is outside the server's "
                      "%u ... %u", block_size, exp->min_block,
                      exp->max_block);
    return -1;
  }
  if (nconn > 1 && !(exp->eflags & NBD_FLAG_CAN_MULTI_CONN)) {
    attach_set_error ("export: the server does not allow multiple "
                      "connections (-C %d)", nconn);
    return -1;
  }
  return 0;
}

/* The description of EXP for a message, quoted, or "no description". */
static const char *
describe (const struct attach_export *exp, char *buf, size_t len)
{
  char text[100];

  if (!exp->has_description)
    return "no description";
  attach_printable (text, sizeof text, exp->description,
                    exp->description_len);
  snprintf (buf, len, "\"%s\"", text);
  return buf;
}

/* Check that EXP is the export of the first attach.  Returns 0, or -1
 * with the error set.
 */
static int
check_same (const struct attach_session *s, const struct attach_export *exp)
{
  const struct attach_export *first = &s->first;
  char a[128], b[128];

  if (exp->has_description != first->has_description ||
      exp->description_len != first->description_len ||
      memcmp (exp->description, first->description,
              first->description_len) != 0) {
    attach_set_error ("the server exports %s, not %s as at the first "
                      "attach: another pool; refused",
                      describe (exp, a, sizeof a),
                      describe (first, b, sizeof b));
    return -1;
  }
  if (exp->size != first->size) {
    attach_set_error ("the export has %" PRIu64 " bytes, not %" PRIu64
                      " as at the first attach; refused", exp->size,
                      first->size);
    return -1;
  }
  if ((exp->eflags & NBD_FLAG_READ_ONLY) ||
      (first->eflags & ~exp->eflags & KERNEL_FLAGS)) {
    attach_set_error ("the export's flags are 0x%x, were 0x%x at the "
                      "first attach; refused", exp->eflags, first->eflags);
    return -1;
  }
  return 0;
}

/* One connection: connect, handshake, and check the export (against
 * the first attach's once there was one).  Returns the socket, or -1
 * with the error set ("ADDRESS: reason").
 */
static int
open_connection (const struct attach_session *s, bool first,
                 struct attach_export *exp)
{
  int fd = attach_addr_connect (&s->addr, ATTACH_IO_TIMEOUT_MS);

  if (fd == -1)
    return -1;
  if (attach_handshake (fd, s->name, ATTACH_IO_TIMEOUT_MS, exp) == -1 ||
      (first ? attach_session_check_export (exp, s->block_size, s->nconn)
             : check_same (s, exp)) == -1) {
    char why[512];

    snprintf (why, sizeof why, "%s", attach_get_error ());
    attach_set_error ("%s: %s", s->addr.display, why);
    close (fd);
    return -1;
  }
  return fd;
}

/* Open N connections into FDS, all checked against the first attach's
 * export (or, if S has none yet, against the first of them).  Returns
 * 0, or -1 with the error set and none left open.
 */
static int
open_connections (struct attach_session *s, int *fds, int n)
{
  static struct attach_export exp;     /* static: 4 KiB */
  int i;

  for (i = 0; i < n; i++) {
    fds[i] = open_connection (s, !s->have_first, &exp);
    if (fds[i] == -1) {
      while (i-- > 0)
        close (fds[i]);
      return -1;
    }
    if (!s->have_first) {
      s->first = exp;
      s->have_first = true;
    }
  }
  return 0;
}

/* NBD_ATTR_BACKEND_IDENTIFIER: the pool's description if the server
 * has one (shown in /sys/block/nbdN/backend), else the address and
 * export name.
 */
static void
set_backend (struct attach_session *s)
{
  if (s->first.has_description && s->first.description_len > 0)
    attach_printable (s->backend, sizeof s->backend, s->first.description,
                      s->first.description_len);
  else
    snprintf (s->backend, sizeof s->backend, "%.200s export \"%.80s\"",
              s->addr.display, s->name);
}

int
attach_session_attach (struct attach_session *s)
{
  struct attach_nl_config config;
  int i;

  s->have_first = false;
  if (open_connections (s, s->fds, s->nconn) == -1)
    return -1;
  set_backend (s);
  config = (struct attach_nl_config) {
    .index = s->index,
    .size = s->first.size,
    .block_size = s->block_size,
    .server_flags = s->first.eflags,
    .dead_timeout = s->dead_timeout,
    .timeout = s->timeout,
    .backend = s->backend,
  };
  if (attach_nl_connect (s->nl, &config, s->fds, s->nconn) == -1) {
    for (i = 0; i < s->nconn; i++)
      close (s->fds[i]);
    return -1;
  }
  return 0;
}

/* A descriptor for SIGTERM, SIGINT and SIGHUP, which are blocked. */
static int
open_signals (void)
{
  sigset_t set;

  sigemptyset (&set);
  sigaddset (&set, SIGTERM);
  sigaddset (&set, SIGINT);
  sigaddset (&set, SIGHUP);
  if (sigprocmask (SIG_BLOCK, &set, NULL) == -1)
    return -1;
  return signalfd (-1, &set, SFD_CLOEXEC);
}

/* Mark the connections the kernel has shut down: close our descriptor
 * and set it to -1.  Returns how many died now.
 */
static int
reap_dead (struct attach_session *s)
{
  struct pollfd pfd;
  int i, n = 0, err;
  socklen_t len = sizeof err;

  for (i = 0; i < s->nconn; i++) {
    if (s->fds[i] == -1)
      continue;
    pfd = (struct pollfd) { .fd = s->fds[i], .events = 0 };
    if (poll (&pfd, 1, 0) != 1)
      continue;
    if (pfd.revents & (POLLHUP | POLLNVAL)) {
      close (s->fds[i]);
      s->fds[i] = -1;
      n++;
    }
    else if (pfd.revents & POLLERR) {
      /* An error the kernel's receiver will see too: clear it so that
       * poll does not spin; the shutdown (POLLHUP) follows.
       */
      getsockopt (s->fds[i], SOL_SOCKET, SO_ERROR, &err, &len);
    }
  }
  return n;
}

/* Start (or go on) reconnecting after N connections died. */
static void
note_lost (struct attach_session *s, struct loop *l, int n)
{
  int alive = 0, i;

  for (i = 0; i < s->nconn; i++)
    alive += s->fds[i] != -1;
  attach_log ("%s: %d of %d connections to %s lost; reconnecting",
              s->device, s->nconn - alive, s->nconn, s->addr.display);
  if (!l->reconnecting) {
    l->reconnecting = true;
    l->lost_at = l->next_try = l->logged_at = attach_now ();
    l->backoff = ATTACH_BACKOFF_FIRST;
    l->tries = 0;
    l->last_error[0] = '\0';
  }
}

/* Log a failed try: when its reason differs from the last one, else
 * at most every ATTACH_LOG_EVERY seconds.
 */
static void
note_failure (struct attach_session *s, struct loop *l)
{
  const char *why = attach_get_error ();
  double now = attach_now ();

  if (strcmp (why, l->last_error) != 0 ||
      now - l->logged_at >= ATTACH_LOG_EVERY) {
    attach_log ("reconnect: %s (try %u, %.1f s after the loss; trying "
                "again every %.0f s at most)", why, l->tries,
                now - l->lost_at, ATTACH_BACKOFF_MAX);
    snprintf (l->last_error, sizeof l->last_error, "%s", why);
    l->logged_at = now;
  }
  l->next_try = now + l->backoff;
  l->backoff *= 2;
  if (l->backoff > ATTACH_BACKOFF_MAX)
    l->backoff = ATTACH_BACKOFF_MAX;
}

/* One try at replacing the dead connections.  Returns 0 if done (or
 * failed, to be tried again), 1 if the device is no longer connected
 * (the session ends).
 */
static int
try_reconnect (struct attach_session *s, struct loop *l)
{
  int fds[ATTACH_CONN_MAX], slots[ATTACH_CONN_MAX];
  int n = 0, i;

  if (!attach_device_connected (s->index))
    return 1;
  for (i = 0; i < s->nconn; i++)
    if (s->fds[i] == -1)
      slots[n++] = i;
  l->tries++;
  if (open_connections (s, fds, n) == -1) {
    note_failure (s, l);
    return 0;
  }
  if (attach_nl_reconfigure (s->nl, s->index, s->backend, fds, n) == -1) {
    bool gone = errno == EINVAL;

    for (i = 0; i < n; i++)
      close (fds[i]);
    if (gone)
      return 1;
    note_failure (s, l);
    return 0;
  }
  for (i = 0; i < n; i++)
    s->fds[slots[i]] = fds[i];
  attach_log ("%s: reconnected to %s, %.1f s after the loss (%u %s)",
              s->device, s->addr.display, attach_now () - l->lost_at,
              l->tries, l->tries == 1 ? "try" : "tries");
  l->reconnecting = false;
  return 0;
}

/* Fill PFDS for poll: the signals, the events, and every live
 * connection (events 0: POLLHUP and POLLERR only).  Returns the count.
 */
static int
fill_pollfds (const struct attach_session *s, int sigfd, struct pollfd *pfds)
{
  int n = 0, i;

  pfds[n++] = (struct pollfd) { .fd = sigfd, .events = POLLIN };
  pfds[n++] = (struct pollfd) { .fd = attach_nl_event_fd (s->nl),
                                .events = POLLIN };
  for (i = 0; i < s->nconn; i++)
    if (s->fds[i] != -1)
      pfds[n++] = (struct pollfd) { .fd = s->fds[i], .events = 0 };
  return n;
}

/* The poll timeout: until the next try while reconnecting, else none. */
static int
poll_timeout (const struct loop *l)
{
  double left;

  if (!l->reconnecting)
    return -1;
  left = l->next_try - attach_now ();
  return left <= 0 ? 0 : (int) (left * 1000) + 1;
}

/* Whether poll saw anything on the connections or a LINK_DEAD event. */
static bool
something_died (struct attach_session *s, struct pollfd *pfds, int n)
{
  bool died = false;
  int i;

  if (pfds[1].revents & POLLIN) {
    int r = attach_nl_read_events (s->nl, s->index);

    if (r == -1)
      attach_log ("%s", attach_get_error ());
    died |= r != 0;
  }
  for (i = 2; i < n; i++)
    died |= pfds[i].revents != 0;
  return died;
}

/* The session ends on signal SIGFD reports. */
static int
end_on_signal (struct attach_session *s, int sigfd)
{
  struct signalfd_siginfo si;

  if (read (sigfd, &si, sizeof si) != sizeof si)
    si.ssi_signo = 0;
  attach_log ("%s: exiting on signal %u: the device stays as it is, but "
              "nothing will reconnect it", s->device, si.ssi_signo);
  return ATTACH_EXIT_OK;
}

int
attach_session_run (struct attach_session *s)
{
  struct pollfd pfds[2 + ATTACH_CONN_MAX];
  struct loop l = { .reconnecting = false };
  int sigfd = open_signals ();
  int n, dead;

  if (sigfd == -1) {
    attach_log ("signalfd: %m");
    return ATTACH_EXIT_FAILURE;
  }
  for (;;) {
    n = fill_pollfds (s, sigfd, pfds);
    if (poll (pfds, n, poll_timeout (&l)) == -1 && errno != EINTR) {
      attach_log ("poll: %m");
      return ATTACH_EXIT_FAILURE;
    }
    if (pfds[0].revents & POLLIN)
      return end_on_signal (s, sigfd);
    if (something_died (s, pfds, n) && (dead = reap_dead (s)) > 0) {
      if (!attach_device_connected (s->index))
        break;                  /* swapdrum-attach -d */
      note_lost (s, &l, dead);
    }
    if (l.reconnecting && attach_now () >= l.next_try &&
        try_reconnect (s, &l) == 1)
      break;
  }
  attach_log ("%s: disconnected: exiting", s->device);
  return ATTACH_EXIT_OK;
}
