/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* nbdkit-swapdrum-plugin: serves a prioritized swap pool as an NBD
 * export.  This file only translates between nbdkit and the engine
 * (server/); the engine does the work.
 */

#include <config.h>

#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "swapdrum/admin.h"
#include "swapdrum/adminpath.h"
#include "swapdrum/conffile.h"
#include "swapdrum/devspec.h"
#include "swapdrum/drain.h"
#include "swapdrum/ioflusher.h"
#include "swapdrum/export.h"
#include "swapdrum/exportset.h"
#include "swapdrum/exportspec.h"
#include "swapdrum/log.h"
#include "swapdrum/monitor.h"
#include "swapdrum/pool.h"
#include "swapdrum/session.h"

/* nbdkit before 1.33.10 aborts when a client hangs up with requests
 * in flight under the PARALLEL model (RHBZ#2173054); a swap server
 * that dies loses every client's pages, so older nbdkit gets
 * SERIALIZE_REQUESTS (connections still run in parallel).
 */
#define NBDKIT_PARALLEL_SAFE                                            \
  (NBDKIT_VERSION_MAJOR > 1 ||                                          \
   (NBDKIT_VERSION_MAJOR == 1 &&                                        \
    (NBDKIT_VERSION_MINOR > 33 ||                                       \
     (NBDKIT_VERSION_MINOR == 33 && NBDKIT_VERSION_MICRO >= 10))))

/* Devices from swap= keys, in command-line order. */
static struct devspec *specs;
static size_t nspecs;

/* The default export's size from size=, or 0 for the sum of the
 * devices.
 */
static uint64_t size;

/* Exports from export= keys and config files' export lines, in order;
 * none: the default export "" alone.
 */
static struct exportspec *decls;
static size_t ndecls;

/* new-pool=true: format every device for a new, empty pool, whatever
 * it holds.
 */
static bool new_pool;

/* Thread model: parallel= overrides the version-based default. */
static bool parallel = NBDKIT_PARALLEL_SAFE;

/* Admin socket: admin= path ("off": none; NULL: the default),
 * admin-mode= permissions, admin-group= group.
 */
static char *admin_sock;
static mode_t admin_mode = 0600;
static gid_t admin_group = (gid_t) -1;

/* The pool and its exports, built in config_complete; the admin
 * server, created in get_ready and started in after_fork.
 */
static struct pool *pool;
static struct exportset *exports;
static struct admin_server *admin;
static struct monitor *monitor;   /* started in .after_fork */
static struct drain *drain;       /* started in .after_fork */

/* Notices (how the pool came up) go to nbdkit's stderr as one line;
 * nbdkit has no level between error and debug.
 */
static void
notice (const char *fmt, va_list args)
{
  fprintf (stderr, "nbdkit: swapdrum: ");
  vfprintf (stderr, fmt, args);
  fprintf (stderr, "\n");
}

static void
swapdrum_load (void)
{
  sd_log_set (nbdkit_verror, nbdkit_vdebug);
  sd_log_set_notice (notice);
}

static void
swapdrum_unload (void)
{
  size_t i;

  admin_destroy (admin);
  exportset_destroy (exports);
  pool_destroy (pool);
  for (i = 0; i < nspecs; i++)
    devspec_free (&specs[i]);
  free (specs);
  for (i = 0; i < ndecls; i++)
    exportspec_free (&decls[i]);
  free (decls);
  free (admin_sock);
}

/* Make room for n more device specs. */
static int
grow_specs (size_t n)
{
  struct devspec *s = realloc (specs, (nspecs + n) * sizeof *s);

  if (s == NULL) {
    nbdkit_error ("swap: %m");
    return -1;
  }
  specs = s;
  return 0;
}

/* Make a relative device path absolute: nbdkit changes directory to
 * / when it forks, and the admin socket's clients must see the path
 * that works.  URIs are left alone.
 */
static int
absolute_spec (struct devspec *spec)
{
  char *abs;

  if (spec->path[0] == '/' || devspec_is_uri (spec->path))
    return 0;
  abs = nbdkit_absolute_path (spec->path);
  if (abs == NULL)
    return -1;
  free (spec->path);
  spec->path = abs;
  return 0;
}

static int
add_device (const char *value)
{
  if (grow_specs (1) == -1 || devspec_parse (value, &specs[nspecs]) == -1)
    return -1;
  nspecs++;
  return absolute_spec (&specs[nspecs - 1]);
}

/* Make room for n more export declarations. */
static int
grow_decls (size_t n)
{
  struct exportspec *d = realloc (decls, (ndecls + n) * sizeof *d);

  if (d == NULL) {
    nbdkit_error ("export: %m");
    return -1;
  }
  decls = d;
  return 0;
}

static int
add_export (const char *value)
{
  if (grow_decls (1) == -1 || exportspec_parse (value, &decls[ndecls]) == -1)
    return -1;
  ndecls++;
  return 0;
}

/* config=FILE: every device and export listed in the file (the format
 * of swapdrumctl -A; see conffile.h).
 */
static int
add_config_file (const char *file)
{
  struct conffile cf;

  if (conffile_read (file, &cf) == -1)
    return -1;
  if (grow_specs (cf.n) == -1 || grow_decls (cf.nexports) == -1) {
    conffile_free (&cf);
    return -1;
  }
  /* Either list may be empty (and NULL): no memcpy from NULL. */
  if (cf.n)
    memcpy (&specs[nspecs], cf.specs, cf.n * sizeof *specs);
  nspecs += cf.n;
  if (cf.nexports)
    memcpy (&decls[ndecls], cf.exports, cf.nexports * sizeof *decls);
  ndecls += cf.nexports;
  /* The specs and declarations themselves are ours now. */
  free (cf.specs);
  free (cf.lines);
  free (cf.exports);
  free (cf.export_lines);
  return 0;
}

static int
parse_mode (const char *value)
{
  char *end;
  unsigned long m;

  errno = 0;
  m = strtoul (value, &end, 8);
  if (errno || end == value || *end || m > 0777) {
    nbdkit_error ("admin-mode: %s: not an octal mode (e.g. 0660)", value);
    return -1;
  }
  admin_mode = m;
  return 0;
}

static int
parse_group (const char *value)
{
  struct group *gr = getgrnam (value);

  if (gr == NULL) {
    nbdkit_error ("admin-group: %s: no such group", value);
    return -1;
  }
  admin_group = gr->gr_gid;
  return 0;
}

static int
swapdrum_config (const char *key, const char *value)
{
  if (strcmp (key, "swap") == 0)
    return add_device (value);
  if (strcmp (key, "config") == 0)
    return add_config_file (value);
  if (strcmp (key, "export") == 0)
    return add_export (value);
  if (strcmp (key, "size") == 0) {
    if (sd_parse_size ("size", value, &size) == -1)
      return -1;
    if (size < 4096) {
      nbdkit_error ("size: %s: too small (at least 4096 bytes)", value);
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "parallel") == 0)
    return sd_parse_bool (key, value, &parallel);
  if (strcmp (key, "new-pool") == 0)
    return sd_parse_bool (key, value, &new_pool);
  if (strcmp (key, "admin") == 0) {
    free (admin_sock);
    admin_sock = strdup (value);
    if (admin_sock == NULL) {
      nbdkit_error ("admin: %m");
      return -1;
    }
    return 0;
  }
  if (strcmp (key, "admin-mode") == 0)
    return parse_mode (value);
  if (strcmp (key, "admin-group") == 0)
    return parse_group (value);
  nbdkit_error ("unknown parameter '%s' (swap, config, export, size, "
                "new-pool, parallel, admin, admin-mode or admin-group)", key);
  return -1;
}

/* After a failed start, remove the files this start created: a bad
 * configuration changes nothing.
 */
static void
remove_created (const bool *existed, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (specs[i].create_size && !existed[i])
      unlink (specs[i].path);
}

/* Open every device, bring up the pool they hold (or a new one),
 * build the exports and recover their maps from the devices' records.
 */
static int
swapdrum_config_complete (void)
{
  bool existed[nspecs + 1];
  size_t i;

  if (nspecs == 0) {
    nbdkit_error ("swap: at least one swap device is needed "
                  "(nbdkit swapdrum PATH[,priority=N] ... or config=FILE)");
    return -1;
  }
  pool = pool_create ();
  if (pool == NULL)
    return -1;
  for (i = 0; i < nspecs; i++)
    existed[i] = access (specs[i].path, F_OK) == 0;
  if (pool_assemble (pool, specs, nspecs, new_pool) == -1)
    goto err;
  exports = exportset_open (pool, decls, ndecls, size);
  if (exports == NULL || pool_recover (pool) == -1 ||
      pool_start (pool) == -1)
    goto err;
  return 0;

 err:
  /* Nothing was served: close without marking the devices CLEAN. */
  exportset_destroy (exports);
  exports = NULL;
  pool_destroy (pool);
  pool = NULL;
  remove_created (existed, nspecs);
  return -1;
}

/* Bind the admin socket before nbdkit forks, so that a bad path fails
 * the start with one line; its thread starts in after_fork.
 */
/* Put this thread, and so every thread started after it (ours and
 * nbdkit's connection threads), in the IO_FLUSHER state; say so in
 * one line either way: the operator should know which it is.
 */
static void
io_flusher (void)
{
  bool already;

  if (sd_io_flusher (&already) == 0)
    sd_notice ("device I/O threads are I/O flushers (PR_SET_IO_FLUSHER%s)",
               already ? ", set before nbdkit started" : "");
  else
    sd_notice ("PR_SET_IO_FLUSHER: %m: device I/O threads are not I/O "
               "flushers (it needs CAP_SYS_RESOURCE and Linux 5.6), so a "
               "host short of memory may stall them; see the operator "
               "guide");
}

static int
swapdrum_get_ready (void)
{
  if (admin_sock && strcmp (admin_sock, "off") == 0)
    return 0;
  if (admin_sock == NULL &&
      (admin_sock = sd_admin_default_path ()) == NULL) {
    nbdkit_error ("admin: %m");
    return -1;
  }
  admin = admin_create (pool, exports, admin_sock, admin_mode, admin_group);
  return admin ? 0 : -1;
}

/* Threads start here, after nbdkit forks: the admin loop, the
 * monitor that brings failed remote devices back, and the drain,
 * which takes SIGTERM and SIGINT over from nbdkit so that stopping
 * answers no request with an error (swapdrum/drain.h).  nbdkit set
 * its handlers before this call, so they are the ones the drain
 * remembers and the ones nbdkit_shutdown stands in for.
 */
static int
swapdrum_after_fork (void)
{
  io_flusher ();
  monitor = monitor_start (pool);
  if (monitor == NULL)
    return -1;
  if (admin && admin_start (admin) == -1)
    return -1;
  drain = drain_start (nbdkit_shutdown, admin ? admin_fd (admin) : -1);
  return drain ? 0 : -1;
}

/* Stop the threads before unload frees the pool under them. */
static void
swapdrum_cleanup (void)
{
  drain_stop (drain);
  drain = NULL;
  admin_destroy (admin);
  admin = NULL;
  monitor_stop (monitor);
  monitor = NULL;
}

#define swapdrum_config_help \
  "[swap=]PATH[,priority=N][,maxactive=N][,create=SIZE][,timeout=SECONDS]\n" \
  "                     A swap device (repeat for more); lower priority\n" \
  "                     numbers are preferred.  PATH may be an NBD URI.\n" \
  "config=FILE          Devices (and exports) listed in FILE, one per line:\n" \
  "                     PATH [priority=N] [maxactive=N] [create=SIZE]\n" \
  "                          [timeout=SECONDS]\n" \
  "export=NAME,size=SIZE[,quota=SIZE][,shared=BOOL]\n" \
  "                     An export (repeat for more); without any, the\n" \
  "                     default export \"\" alone.  One host at a time\n" \
  "                     unless shared=true.  Config files say\n" \
  "                     export NAME size=SIZE [quota=SIZE] ...\n" \
  "size=SIZE            The default export's size (default: the sum of\n" \
  "                     the devices at the first start; then what the\n" \
  "                     pool recorded).\n" \
  "new-pool=BOOL        Start a new, empty pool, overwriting what the\n" \
  "                     devices hold (default false: recover it).\n" \
  "parallel=BOOL        Force the PARALLEL thread model on or off.\n" \
  "admin=PATH|off       Admin socket (default /run/swapdrum/admin.sock\n" \
  "                     for root; $SWAPDRUM_ADMIN overrides).\n" \
  "admin-mode=MODE      Socket permissions (default 0600).\n" \
  "admin-group=GROUP    Socket group."

static int
swapdrum_thread_model (void)
{
  return parallel ? NBDKIT_THREAD_MODEL_PARALLEL
                  : NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS;
}

/* The description carries the pool's random id, so that adding this
 * server's own export as a remote device can be refused.
 */
static int
swapdrum_list_exports (int readonly, int is_tls, struct nbdkit_exports *e)
{
  char **names = exportset_names (exports);
  size_t i;
  int r = 0;

  if (names == NULL)
    return -1;
  for (i = 0; names[i] && r == 0; i++)
    r = nbdkit_add_export (e, names[i], pool_description (pool));
  pool_names_free (names);
  return r;
}

static const char *
swapdrum_export_description (void *handle)
{
  return pool_description (pool);
}

static const char *
swapdrum_default_export (int readonly, int is_tls)
{
  return "";
}

/* The host a connection comes from, for the one-host-per-export rule:
 * session_host says how a peer is named.  A connection with no peer
 * address is nbdkit -s over a pipe, the one connection that process
 * serves (nbdkit has logged that getpeername failed).
 */
static int
peer_host (char *host, size_t len)
{
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  int64_t uid = -1;

  if (nbdkit_peer_name ((struct sockaddr *) &ss, &sslen) == -1) {
    snprintf (host, len, "the standard input");
    return 0;
  }
  if (ss.ss_family == AF_UNIX && (uid = nbdkit_peer_uid ()) == -1)
    return -1;
  session_host ((struct sockaddr *) &ss, uid, host, len);
  return 0;
}

static void *
swapdrum_open (int readonly)
{
  const char *name = nbdkit_export_name ();
  char host[SESSION_HOST_MAX];

  if (peer_host (host, sizeof host) == -1)
    return NULL;
  return session_open (exports, name ? name : "", host);
}

static void
swapdrum_close (void *handle)
{
  session_close (handle);
}

static int64_t
swapdrum_get_size (void *handle)
{
  return export_size (session_export (handle));
}

/* 512-byte requests work (read-modify-write in the engine); whole
 * pages avoid it, so 4096 is preferred.
 */
static int
swapdrum_block_size (void *handle, uint32_t *minimum, uint32_t *preferred,
                     uint32_t *maximum)
{
  *minimum = 512;
  *preferred = 4096;
  *maximum = 32 * 1024 * 1024;
  return 0;
}

/* Flush covers every device of the pool, whichever connection wrote,
 * so multi-conn is safe.
 */
static int
swapdrum_can_multi_conn (void *handle)
{
  return 1;
}

/* Trim frees the slots behind whole pages. */
static int
swapdrum_can_trim (void *handle)
{
  return 1;
}

/* Zeroing unmaps whole pages; partial pages get zeros written. */
static int
swapdrum_can_zero (void *handle)
{
  return 1;
}

/* Zeroing unmaps whole pages without I/O, so it is fast -- except in
 * an export a host crash made suspect, where it writes zero pages:
 * swapdrum_zero then refuses a fast zero with ENOTSUP.
 */
static int
swapdrum_can_fast_zero (void *handle)
{
  return 1;
}

/* Writes can carry RWF_DSYNC; flushes sync the devices written. */
static int
swapdrum_can_fua (void *handle)
{
  return NBDKIT_FUA_NATIVE;
}

static int
swapdrum_can_flush (void *handle)
{
  return 1;
}

/* The map knows exactly which pages hold data. */
static int
swapdrum_can_extents (void *handle)
{
  return 1;
}

/* Swap pages come back in the order written, not sorted on disk. */
static int
swapdrum_is_rotational (void *handle)
{
  return 0;
}

static int
swapdrum_pread (void *handle, void *buf, uint32_t count, uint64_t offset,
                uint32_t flags)
{
  return session_pread (handle, buf, count, offset);
}

static int
swapdrum_pwrite (void *handle, const void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags)
{
  return session_pwrite (handle, buf, count, offset,
                         flags & NBDKIT_FLAG_FUA);
}

static int
swapdrum_zero (void *handle, uint32_t count, uint64_t offset,
               uint32_t flags)
{
  if ((flags & NBDKIT_FLAG_FAST_ZERO) &&
      !export_zero_is_fast (session_export (handle))) {
    errno = ENOTSUP;
    return -1;
  }
  return session_zero (handle, count, offset, flags & NBDKIT_FLAG_FUA);
}

static int
swapdrum_trim (void *handle, uint32_t count, uint64_t offset,
               uint32_t flags)
{
  return session_trim (handle, count, offset);
}

static int
swapdrum_flush (void *handle, uint32_t flags)
{
  return session_flush (handle);
}

static int
add_extent (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  uint32_t type = hole ? NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO : 0;

  return nbdkit_add_extent (opaque, offset, length, type);
}

static int
swapdrum_extents (void *handle, uint32_t count, uint64_t offset,
                  uint32_t flags, struct nbdkit_extents *extents)
{
  return export_extents (session_export (handle), count, offset,
                         add_extent, extents);
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static struct nbdkit_plugin plugin = {
  .name              = "swapdrum",
  .version           = PACKAGE_VERSION,
  .longname          = "swapdrum prioritized swap pool",
  .load              = swapdrum_load,
  .unload            = swapdrum_unload,
  .config            = swapdrum_config,
  .config_complete   = swapdrum_config_complete,
  .config_help       = swapdrum_config_help,
  .magic_config_key  = "swap",
  .thread_model      = swapdrum_thread_model,
  .get_ready         = swapdrum_get_ready,
  .after_fork        = swapdrum_after_fork,
  .cleanup           = swapdrum_cleanup,
  .list_exports      = swapdrum_list_exports,
  .default_export    = swapdrum_default_export,
  .open              = swapdrum_open,
  .close             = swapdrum_close,
  .get_size          = swapdrum_get_size,
  .export_description = swapdrum_export_description,
  .block_size        = swapdrum_block_size,
  .can_multi_conn    = swapdrum_can_multi_conn,
  .can_trim          = swapdrum_can_trim,
  .can_zero          = swapdrum_can_zero,
  .can_fast_zero     = swapdrum_can_fast_zero,
  .can_fua           = swapdrum_can_fua,
  .can_flush         = swapdrum_can_flush,
  .can_extents       = swapdrum_can_extents,
  .is_rotational     = swapdrum_is_rotational,
  .pread             = swapdrum_pread,
  .pwrite            = swapdrum_pwrite,
  .zero              = swapdrum_zero,
  .trim              = swapdrum_trim,
  .flush             = swapdrum_flush,
  .extents           = swapdrum_extents,
  .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN (plugin)
