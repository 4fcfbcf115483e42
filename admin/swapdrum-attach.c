/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrum-attach: attach a swapdrum pool (or any NBD export) to a
 * client's /dev/nbdN, and keep it attached across server restarts.
 *
 *   swapdrum-attach [-N NAME] [-t DEAD] [-T TIMEOUT] [-b BLOCK]
 *                   [-C CONNECTIONS] [-D] ADDRESS /dev/nbdN
 *   swapdrum-attach -d /dev/nbdN
 *   swapdrum-attach --probe [-N NAME] ADDRESS
 *
 * It does the NBD handshake itself (attach-handshake.c), connects the
 * device over the kernel's netlink interface (attach-netlink.c), then
 * stays to reconnect when the kernel loses a connection
 * (attach-session.c).  It runs while the host is short of memory, so
 * it locks itself in memory, asks the OOM killer to spare it and
 * allocates as an I/O flusher does.  docs/swapdrum-attach.pod is its
 * manual.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach-device.h"
#include "attach-session.h"
#include "attach-util.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define DEFAULT_DEAD_TIMEOUT 60         /* seconds: a server restart */

/* The options as given. */
struct options {
  const char *name;             /* -N */
  uint64_t dead_timeout;        /* -t */
  uint64_t timeout;             /* -T */
  uint32_t block_size;          /* -b */
  int nconn;                    /* -C */
  bool daemon;                  /* -D */
  const char *disconnect;       /* -d DEVICE */
  bool probe;                   /* --probe */
  const char *address, *device; /* operands */
};

enum { OPT_HELP = 256, OPT_PROBE };

static const char short_options[] = "N:t:T:b:C:d:DV";
static const struct option long_options[] = {
  { "name",         required_argument, NULL, 'N' },
  { "dead-timeout", required_argument, NULL, 't' },
  { "timeout",      required_argument, NULL, 'T' },
  { "block-size",   required_argument, NULL, 'b' },
  { "connections",  required_argument, NULL, 'C' },
  { "disconnect",   required_argument, NULL, 'd' },
  { "daemon",       no_argument,       NULL, 'D' },
  { "probe",        no_argument,       NULL, OPT_PROBE },
  { "help",         no_argument,       NULL, OPT_HELP },
  { "version",      no_argument,       NULL, 'V' },
  { NULL, 0, NULL, 0 },
};

static void
help (void)
{
  printf ("Usage:\n"
          "  %1$s [-N NAME] [-t DEAD_SECONDS] [-T SECONDS] [-b BLOCK]\n"
          "         [-C CONNECTIONS] [-D] ADDRESS /dev/nbdN\n"
          "  %1$s -d /dev/nbdN\n"
          "  %1$s --probe [-N NAME] ADDRESS\n"
          "\n"
          "ADDRESS: HOST, HOST:PORT, [IPV6]:PORT (port 10809 by default) "
          "or unix:PATH\n"
          "  -N  export name (default \"\")\n"
          "  -t  seconds I/O waits for a lost connection to come back "
          "(default %2$d)\n"
          "  -T  seconds a request may take before its connection is "
          "given up\n"
          "      (default: none)\n"
          "  -b  block size: 512, 1024, 2048 or 4096 (default 4096)\n"
          "  -C  connections (default 1)\n"
          "  -D  go to the background once the device is connected\n"
          "  -d  disconnect /dev/nbdN\n"
          "  --probe  only negotiate, print what the server offers, "
          "exit\n"
          "\n"
          "See swapdrum-attach(8).\n",
          ATTACH_PROGNAME, DEFAULT_DEAD_TIMEOUT);
}

/* Parse the number ARG of option OPT, in [MIN, MAX]. */
static int
parse_number (const char *arg, int opt, uint64_t min, uint64_t max,
              uint64_t *value)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull (arg, &end, 10);
  if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
      v < min || v > max) {
    attach_log ("-%c: %s: not a number from %" PRIu64 " to %" PRIu64,
                opt, arg, min, max);
    return -1;
  }
  *value = v;
  return 0;
}

/* The block size ARG: a power of two from 512 to 4096 (the kernel's
 * limits: at least a sector, at most a page).
 */
static int
parse_block_size (const char *arg, uint32_t *value)
{
  uint64_t v;

  if (parse_number (arg, 'b', 512, 4096, &v) == -1)
    return -1;
  if (v & (v - 1)) {
    attach_log ("-b: %s: not 512, 1024, 2048 or 4096", arg);
    return -1;
  }
  *value = v;
  return 0;
}

/* Read the options into OPTS.  Returns 0, 1 for an early exit
 * (--help, -V), or -1 on a usage error (reported).
 */
static int
parse_options (int argc, char **argv, struct options *opts)
{
  uint64_t v;
  int c;

  while ((c = getopt_long (argc, argv, short_options, long_options,
                           NULL)) != -1) {
    switch (c) {
    case 'N': opts->name = optarg; break;
    case 'D': opts->daemon = true; break;
    case 'd': opts->disconnect = optarg; break;
    case OPT_PROBE: opts->probe = true; break;
    case 't':
      if (parse_number (optarg, c, 0, 86400 * 365, &opts->dead_timeout) == -1)
        return -1;
      break;
    case 'T':
      if (parse_number (optarg, c, 0, 86400 * 365, &opts->timeout) == -1)
        return -1;
      break;
    case 'b':
      if (parse_block_size (optarg, &opts->block_size) == -1)
        return -1;
      break;
    case 'C':
      if (parse_number (optarg, c, 1, ATTACH_CONN_MAX, &v) == -1)
        return -1;
      opts->nconn = v;
      break;
    case 'V': printf ("%s %s\n", ATTACH_PROGNAME, PACKAGE_VERSION); return 1;
    case OPT_HELP: help (); return 1;
    default: return -1;
    }
  }
  return 0;
}

/* Check the operands for the mode the options chose. */
static int
check_operands (int argc, char **argv, struct options *opts)
{
  int want = opts->disconnect ? 0 : opts->probe ? 1 : 2;

  if (argc - optind != want) {
    attach_log ("%s: see %s --help",
                argc - optind < want ? "missing operand"
                                     : "too many operands",
                ATTACH_PROGNAME);
    return -1;
  }
  if (opts->disconnect && opts->probe) {
    attach_log ("-d and --probe: choose one");
    return -1;
  }
  if (want >= 1)
    opts->address = argv[optind];
  if (want == 2)
    opts->device = argv[optind + 1];
  return 0;
}

/* -d DEVICE. */
static int
do_disconnect (const char *device)
{
  struct attach_nl *nl;
  uint32_t index;
  int r;

  if (attach_device_index (device, &index) == -1 ||
      (nl = attach_nl_open (false)) == NULL) {
    attach_log ("disconnect: %s", attach_get_error ());
    return ATTACH_EXIT_FAILURE;
  }
  r = attach_nl_disconnect (nl, index);
  attach_nl_close (nl);
  if (r == -1) {
    attach_log ("%s", attach_get_error ());
    return ATTACH_EXIT_FAILURE;
  }
  return ATTACH_EXIT_OK;
}

/* --probe: negotiate and print what the server offers. */
static int
do_probe (const struct options *opts)
{
  static struct attach_export exp;
  struct attach_addr addr;
  char text[ATTACH_DESCRIPTION_MAX + 1];
  int fd;

  if (attach_addr_parse (opts->address, &addr) == -1 ||
      (fd = attach_addr_connect (&addr, ATTACH_IO_TIMEOUT_MS)) == -1) {
    attach_log ("%s", attach_get_error ());
    return ATTACH_EXIT_FAILURE;
  }
  if (attach_handshake (fd, opts->name, ATTACH_IO_TIMEOUT_MS, &exp) == -1) {
    attach_log ("%s: %s", addr.display, attach_get_error ());
    close (fd);
    return ATTACH_EXIT_FAILURE;
  }
  close (fd);
  printf ("size=%" PRIu64 "\nflags=0x%04x\n", exp.size, exp.eflags);
  if (exp.has_block_size)
    printf ("block_size=%u/%u/%u\n", exp.min_block, exp.pref_block,
            exp.max_block);
  if (exp.has_description)
    printf ("description=%s\n", attach_printable (text, sizeof text,
                                                  exp.description,
                                                  exp.description_len));
  if (attach_session_check_export (&exp, opts->block_size, opts->nconn) == -1) {
    attach_log ("%s: %s", addr.display, attach_get_error ());
    return ATTACH_EXIT_FAILURE;
  }
  return ATTACH_EXIT_OK;
}

/* Keep this process in RAM and out of the OOM killer's way: it must
 * run when the host is short of memory and its swap is waiting for it.
 * PR_SET_IO_FLUSHER (Linux >= 5.6) makes its allocations (the new
 * socket's) not wait on I/O, which might be the swap it is there to
 * restore.  Only mlockall is required.
 */
static int
protect_process (void)
{
  int fd;

  if (mlockall (MCL_CURRENT | MCL_FUTURE) == -1) {
    attach_log ("mlockall: %m (run as root, or raise RLIMIT_MEMLOCK)");
    return -1;
  }
  fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd == -1 || write (fd, "-1000", 5) != 5)
    attach_log ("warning: /proc/self/oom_score_adj: %m");
  if (fd != -1)
    close (fd);
  if (prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0) == -1)
    attach_log ("warning: PR_SET_IO_FLUSHER: %m");
  return 0;
}

/* -D: fork; the parent waits until the child says the device is
 * connected (a byte on the pipe) and exits 0, or exits with the
 * child's status.  Returns, in the child, the pipe's write end (-1 in
 * the foreground); exits in the parent.
 */
static int
daemonize (bool daemon)
{
  int fds[2], status;
  char ok;
  pid_t pid;

  if (!daemon)
    return -1;
  if (pipe2 (fds, O_CLOEXEC) == -1 || (pid = fork ()) == -1) {
    attach_log ("daemon: %m");
    exit (ATTACH_EXIT_FAILURE);
  }
  if (pid == 0) {
    close (fds[0]);
    setsid ();
    return fds[1];
  }
  close (fds[1]);
  if (read (fds[0], &ok, 1) == 1)
    exit (ATTACH_EXIT_OK);
  if (waitpid (pid, &status, 0) == pid && WIFEXITED (status))
    exit (WEXITSTATUS (status));
  exit (ATTACH_EXIT_FAILURE);
}

/* In the background child: tell the parent, let go of its terminal
 * (stderr stays: it is where messages go).
 */
static void
detach_from_parent (int notify)
{
  int null;

  if (notify == -1)
    return;
  if (write (notify, "1", 1) != 1)
    attach_log ("daemon: %m");
  close (notify);
  null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null != -1) {
    dup2 (null, STDIN_FILENO);
    dup2 (null, STDOUT_FILENO);
    close (null);
  }
  if (chdir ("/") == -1)
    attach_log ("daemon: chdir /: %m");
}

/* Attach OPTS->device and keep it attached.  Returns the exit code. */
static int
do_attach (const struct options *opts)
{
  static struct attach_session s;
  int notify;

  s.name = opts->name;
  s.device = opts->device;
  s.block_size = opts->block_size;
  s.nconn = opts->nconn;
  s.dead_timeout = opts->dead_timeout;
  s.timeout = opts->timeout;
  if (attach_device_index (opts->device, &s.index) == -1 ||
      attach_addr_parse (opts->address, &s.addr) == -1) {
    attach_log ("%s", attach_get_error ());
    return ATTACH_EXIT_FAILURE;
  }
  notify = daemonize (opts->daemon);
  if (protect_process () == -1)
    return ATTACH_EXIT_FAILURE;
  s.nl = attach_nl_open (true);
  if (s.nl == NULL || attach_session_attach (&s) == -1) {
    attach_log ("%s", attach_get_error ());
    return ATTACH_EXIT_FAILURE;
  }
  attach_log ("%s: attached to %s (%s, %" PRIu64 " bytes, %d connection%s, "
              "lost connections waited for %" PRIu64 " s)", s.device,
              s.addr.display, s.backend, s.first.size, s.nconn,
              s.nconn == 1 ? "" : "s", s.dead_timeout);
  detach_from_parent (notify);
  return attach_session_run (&s);
}

int
main (int argc, char *argv[])
{
  struct options opts = {
    .name = "",
    .dead_timeout = DEFAULT_DEAD_TIMEOUT,
    .block_size = 4096,
    .nconn = 1,
  };
  int r;

  r = parse_options (argc, argv, &opts);
  if (r != 0)
    return r == 1 ? ATTACH_EXIT_OK : ATTACH_EXIT_USAGE;
  if (check_operands (argc, argv, &opts) == -1)
    return ATTACH_EXIT_USAGE;
  if (opts.disconnect)
    return do_disconnect (opts.disconnect);
  if (opts.probe)
    return do_probe (&opts);
  return do_attach (&opts);
}
