/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrumctl: the operator's tool for a running swapdrum pool, in the
 * manner of NetBSD's swapctl(8).  It reads the options, picks the
 * admin socket and runs one command (ctl-cmd.c, ctl-apply.c); it
 * speaks to the server only through the admin socket.
 */

#include <config.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl-cmd.h"
#include "ctl-util.h"
#include "swapdrum/adminpath.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/devspec.h"
#include "swapdrum/log.h"

/* The config file of -A and -U without -f (set by Makefile.am). */
#ifndef SWAPDRUMCTL_CONFIG
#define SWAPDRUMCTL_CONFIG "/etc/swapdrum/swapdrum.conf"
#endif

/* The admin protocol version this client speaks. */
#define PROTOCOL_VERSION 1

/* The options as given, checked by check_options. */
struct options {
  int cmd;                      /* 'a', 'd', 'c', 'l', 's', 'A', 'U', 'Z' */
  bool exports;                 /* -e: -a, -d, -l act on exports */
  bool force;                   /* -F (with -d -e) */
  int unit;                     /* 'k', 'm', 'g', 'h', or 0 */
  bool has_priority;            /* -p */
  long long priority;
  const char *opts;             /* -o, as given */
  struct devspec devopts;       /* -o, parsed for a device (no path) */
  const char *file;             /* -f */
  bool dry_run;                 /* -n */
  const char *socket;           /* -S */
  bool json;                    /* --json */
  const char *path;             /* the operand of -a, -d, -c, -Z (with
                                   -e: the export's spec or name) */
};

enum { OPT_JSON = 256, OPT_HELP };

static const char short_options[] = "AaUZdcleFskmghnp:o:f:S:V";
static const struct option long_options[] = {
  { "json",    no_argument, NULL, OPT_JSON },
  { "help",    no_argument, NULL, OPT_HELP },
  { "version", no_argument, NULL, 'V' },
  { NULL, 0, NULL, 0 },
};

static void
help (void)
{
  printf ("Usage:\n"
          "  %1$s -a [-p PRIORITY]\n"
          "      [-o maxactive=N,create=SIZE,timeout=S,direct=BOOL] PATH\n"
          "  %1$s -d PATH\n"
          "  %1$s -c -p PRIORITY PATH\n"
          "  %1$s -l | -s [-k | -m | -g | -h]\n"
          "  %1$s -A [-n] [-p PRIORITY] [-f CONFIG]\n"
          "  %1$s -U [-n] [-f CONFIG]\n"
          "  %1$s -Z [EXPORT]\n"
          "  %1$s -a -e NAME,size=SIZE[,quota=SIZE]\n"
          "  %1$s -d -e [-F] NAME\n"
          "  %1$s -c -e -o size=SIZE,quota=SIZE,reserve=SIZE,tiers=LO-HI,"
          "shared=BOOL NAME\n"
          "  %1$s -l -e [-k | -m | -g | -h]\n"
          "  %1$s -V | --help\n"
          "\n"
          "  -a  add PATH to the pool         -d  remove PATH from the pool\n"
          "  -c  change the priority of PATH  -p  priority (lower is "
          "preferred)\n"
          "  -l  list the devices             -s  summary of the pool\n"
          "  -k  1K blocks  -m  1M blocks  -g  1G blocks  -h  "
          "human-readable\n"
          "  -A  add the devices of CONFIG    -U  remove the devices of "
          "CONFIG\n"
          "  -n  only say what -A or -U would do\n"
          "  -Z  after a host crash: EXPORT's unwritten pages read zeros "
          "again\n"
          "  -e  -a, -d, -c and -l act on exports: create (spelled as\n"
          "      export=), remove (freeing its pages; -F even while\n"
          "      attached), change limits (-o), list\n"
          "  -f CONFIG  default: %2$s\n"
          "  -S SOCKET  the admin socket; default: $SWAPDRUM_ADMIN, else\n"
          "             /run/swapdrum/admin.sock (root),\n"
          "             $XDG_RUNTIME_DIR/swapdrum/admin.sock or\n"
          "             /tmp/swapdrum-UID/admin.sock\n"
          "  --json     print the server's JSON replies, one a line\n"
          "  -V         version\n"
          "\n"
          "Exit status: 0 success, 1 failure, 2 usage error.\n"
          "See swapdrumctl(8).\n",
          CTL_PROGNAME, SWAPDRUMCTL_CONFIG);
}

/* Report a usage error.  => returns CTL_EXIT_USAGE. */
static int
usage_error (const char *what)
{
  ctl_error ("%s (see %s --help)", what, CTL_PROGNAME);
  return CTL_EXIT_USAGE;
}

/* Set the command; two different ones are an error. */
static int
set_command (struct options *o, int cmd)
{
  char msg[64];

  if (o->cmd && o->cmd != cmd) {
    snprintf (msg, sizeof msg, "-%c and -%c cannot be used together",
              o->cmd, cmd);
    return usage_error (msg);
  }
  o->cmd = cmd;
  return 0;
}

/* The message for a getopt failure on argv[optind - 1]. */
static int
bad_option (char **argv)
{
  char msg[256];

  /* optopt: the short option at fault, 0 for a long one. */
  if (optopt > 0 && optopt < 128 && strchr ("poSf", optopt))
    snprintf (msg, sizeof msg, "option -%c needs an argument", optopt);
  else if (optopt > 0 && optopt < 128)
    snprintf (msg, sizeof msg, "unknown option -%c", optopt);
  else
    snprintf (msg, sizeof msg, "unknown option %.200s", argv[optind - 1]);
  return usage_error (msg);
}

/* -o OPTIONS: maxactive=N, create=SIZE, timeout=S, direct=BOOL,
 * comma-separated, into *dev (the priority there would be -p's job,
 * but is taken too), by the parser of the plugin's swap= options and
 * of the config file.
 * => returns 0, or CTL_EXIT_USAGE after reporting "-o: reason".
 */
static int
parse_devopts (struct devspec *dev, const char *text)
{
  CLEANUP_FREE char *copy = strdup (text);
  char *rest = copy, *opt;

  if (copy == NULL)
    ctl_nomem ();
  while ((opt = strsep (&rest, ",")) != NULL) {
    if (*opt && devspec_option (dev, "-o", opt) == -1)
      return CTL_EXIT_USAGE;
  }
  return 0;
}

/* Apply one option c (with optarg).
 * => returns 0, or an exit code after reporting.
 */
static int
take_option (struct options *o, int c)
{
  switch (c) {
  case 'A': case 'a': case 'U': case 'Z': case 'd': case 'c': case 'l':
  case 's':
    return set_command (o, c);
  case 'k': case 'm': case 'g': case 'h':
    o->unit = c;
    return 0;
  case 'n': o->dry_run = true; return 0;
  case 'e': o->exports = true; return 0;
  case 'F': o->force = true; return 0;
  case 'o':
    o->opts = optarg;
    return 0;
  case 'f': o->file = optarg; return 0;
  case 'S': o->socket = optarg; return 0;
  case OPT_JSON: o->json = true; return 0;
  case 'p':
    if (sd_parse_int ("-p", optarg, SD_PRIORITY_MIN, SD_PRIORITY_MAX,
                      &o->priority) == -1)
      return CTL_EXIT_USAGE;
    o->has_priority = true;
    return 0;
  }
  return CTL_EXIT_USAGE;
}

/* Each option belongs to some commands only. */
static int
check_options (struct options *o, int nargs)
{
  bool wants_path = o->cmd && strchr ("adc", o->cmd);

  if (o->exports && wants_path && nargs != 1)
    return usage_error (nargs ? "one export only" :
                        o->cmd == 'a' ? "NAME,size=SIZE missing"
                        : "NAME missing");
  if (o->cmd == 0)
    return usage_error ("no command: use -a, -d, -c, -l, -s, -A, -U or -Z");
  if (wants_path && nargs != 1)
    return usage_error (nargs ? "one PATH only" : "PATH missing");
  if (o->cmd == 'Z' && nargs > 1)
    return usage_error ("one EXPORT only");
  if (!wants_path && o->cmd != 'Z' && nargs)
    return usage_error ("unexpected operand");
  if (o->cmd == 'c' && !o->has_priority && !o->exports)
    return usage_error ("-c needs -p PRIORITY");
  if (o->has_priority && !strchr ("acA", o->cmd))
    return usage_error ("-p goes with -a, -c or -A");
  if (o->opts && o->cmd != 'a' && !(o->cmd == 'c' && o->exports))
    return usage_error ("-o goes with -a, or -c -e");
  if ((o->file || o->dry_run) && !strchr ("AU", o->cmd))
    return usage_error ("-f and -n go with -A or -U");
  if (o->unit && !strchr ("ls", o->cmd))
    return usage_error ("-k, -m, -g and -h go with -l or -s");
  if (o->exports && !strchr ("adcl", o->cmd))
    return usage_error ("-e goes with -a, -d, -c or -l");
  if (o->exports && o->has_priority)
    return usage_error ("-p goes with devices, not -e");
  if (o->exports && o->cmd == 'c' && !o->opts)
    return usage_error ("-c -e needs -o OPTIONS (quota=, reserve=, "
                        "tiers=, shared=)");
  if (o->exports && o->cmd == 'a' && o->opts)
    return usage_error ("-a -e takes its options in NAME,size=SIZE,...");
  if (o->opts && !o->exports)
    return parse_devopts (&o->devopts, o->opts);
  if (o->force && !(o->exports && o->cmd == 'd'))
    return usage_error ("-F goes with -d -e");
  return 0;
}

/* Parse argv into *o.
 * => returns 0, -1 for --help or -V (done), or an exit code.
 */
static int
parse_options (int argc, char **argv, struct options *o)
{
  int c, r;

  opterr = 0;                   /* our own one-line messages */
  while ((c = getopt_long (argc, argv, short_options, long_options,
                           NULL)) != -1) {
    if (c == '?')
      return bad_option (argv);
    if (c == OPT_HELP) {
      help ();
      return -1;
    }
    if (c == 'V') {
      printf ("%s %s (admin protocol %d)\n", CTL_PROGNAME, PACKAGE_VERSION,
              PROTOCOL_VERSION);
      return -1;
    }
    r = take_option (o, c);
    if (r)
      return r;
  }
  r = check_options (o, argc - optind);
  if (r == 0 && optind < argc)
    o->path = argv[optind];
  return r;
}

/* PATH as the server must see it: the server's working directory is
 * not ours, so a relative path is made absolute here (an NBD URI is
 * left alone).
 * => returns the path (malloc'd), or NULL after reporting.
 */
static char *
absolute_path (const char *path)
{
  CLEANUP_FREE char *cwd = NULL;

  if (path[0] == '/' || devspec_is_uri (path))
    return ctl_strdup_printf ("%s", path);
  cwd = getcwd (NULL, 0);
  if (cwd == NULL) {
    ctl_error ("%s: getcwd: %m", path);
    return NULL;
  }
  return ctl_strdup_printf ("%s/%s", cwd, path);
}

/* -a: the device from -p and -o. */
static int
add_command (const struct ctl_ctx *ctx, const struct options *o,
             char *path)
{
  struct devspec dev = o->devopts;

  dev.path = path;
  if (o->has_priority) {
    dev.priority = o->priority;
    dev.priority_set = true;
  }
  return ctl_cmd_add (ctx, &dev);
}

/* -e: the command on exports.  => returns 0 or -1 (reported). */
static int
run_export (const struct ctl_ctx *ctx, const struct options *o)
{
  switch (o->cmd) {
  case 'a': return ctl_cmd_export_create (ctx, o->path);
  case 'd': return ctl_cmd_export_remove (ctx, o->path, o->force);
  case 'c': return ctl_cmd_export_set (ctx, o->path, o->opts);
  case 'l': return ctl_cmd_export_list (ctx);
  }
  return -1;
}

/* Run the command of o.  => returns 0 or -1 (reported). */
static int
run (const struct ctl_ctx *ctx, const struct options *o)
{
  CLEANUP_FREE char *path = NULL;

  if (o->cmd == 'Z')
    return ctl_cmd_trust (ctx, o->path ? o->path : "");
  if (o->exports)
    return run_export (ctx, o);
  if (o->path && (path = absolute_path (o->path)) == NULL)
    return -1;
  switch (o->cmd) {
  case 'l': return ctl_cmd_list (ctx);
  case 's': return ctl_cmd_summary (ctx);
  case 'a': return add_command (ctx, o, path);
  case 'd': return ctl_cmd_remove (ctx, path);
  case 'c': return ctl_cmd_change (ctx, path, o->priority);
  case 'A':
    return ctl_cmd_apply (ctx, o->file ? o->file : SWAPDRUMCTL_CONFIG,
                          o->has_priority ? o->priority : 0);
  case 'U':
    return ctl_cmd_unapply (ctx, o->file ? o->file : SWAPDRUMCTL_CONFIG);
  }
  return -1;
}

int
main (int argc, char **argv)
{
  struct options o = { .cmd = 0 };
  struct ctl_ctx ctx = { .socket = NULL };
  CLEANUP_FREE char *socket = NULL;
  int r;

  /* The engine's parsers (devspec.c, conffile.c) report through
   * sd_error: print their messages as ours.
   */
  sd_log_set (ctl_verror, NULL);
  r = parse_options (argc, argv, &o);
  if (r)
    return r == -1 ? CTL_EXIT_OK : r;
  socket = o.socket ? ctl_strdup_printf ("%s", o.socket)
                    : sd_admin_default_path ();
  if (socket == NULL)
    ctl_nomem ();
  ctx.socket = socket;
  ctx.json = o.json;
  ctx.dry_run = o.dry_run;
  if (o.cmd == 'l' || o.cmd == 's')
    ctl_units_init (&ctx.units, o.unit);
  r = run (&ctx, &o);
  if (fflush (stdout) == EOF || ferror (stdout)) {
    ctl_error ("stdout: write error");
    r = -1;
  }
  return r == 0 ? CTL_EXIT_OK : CTL_EXIT_FAILURE;
}
