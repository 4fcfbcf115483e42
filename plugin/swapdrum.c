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
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "swapdrum/devspec.h"
#include "swapdrum/export.h"
#include "swapdrum/log.h"
#include "swapdrum/pool.h"

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

/* Export size from size=, or 0 for the sum of the devices. */
static uint64_t size;

/* Thread model: parallel= overrides the version-based default. */
static bool parallel = NBDKIT_PARALLEL_SAFE;

/* The pool and its one export, built in config_complete. */
static struct pool *pool;
static struct export *export;

static void
swapdrum_load (void)
{
  sd_log_set (nbdkit_verror, nbdkit_vdebug);
}

static void
swapdrum_unload (void)
{
  size_t i;

  export_destroy (export);
  pool_destroy (pool);
  for (i = 0; i < nspecs; i++)
    devspec_free (&specs[i]);
  free (specs);
}

static int
add_device (const char *value)
{
  struct devspec *s = realloc (specs, (nspecs + 1) * sizeof *s);

  if (s == NULL) {
    nbdkit_error ("swap: %m");
    return -1;
  }
  specs = s;
  if (devspec_parse (value, &specs[nspecs]) == -1)
    return -1;
  nspecs++;
  return 0;
}

/* Parse a boolean, reporting "parallel: VALUE: not a boolean" (nbdkit's
 * own parser does not name the parameter).
 */
static int
parse_bool (const char *key, const char *value, bool *out)
{
  static const char *const yes[] = { "1", "true", "yes", "on" };
  static const char *const no[] = { "0", "false", "no", "off" };
  size_t i;

  for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcasecmp (value, yes[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp (value, no[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  nbdkit_error ("%s: %s: not a boolean (true or false)", key, value);
  return -1;
}

static int
swapdrum_config (const char *key, const char *value)
{
  if (strcmp (key, "swap") == 0)
    return add_device (value);
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
    return parse_bool (key, value, &parallel);
  nbdkit_error ("unknown parameter '%s' (swap, size or parallel)", key);
  return -1;
}

/* Open every device and build the export. */
static int
swapdrum_config_complete (void)
{
  size_t i;

  if (nspecs == 0) {
    nbdkit_error ("swap: at least one swap device is needed "
                  "(nbdkit swapdrum PATH[,priority=N] ...)");
    return -1;
  }
  pool = pool_create ();
  if (pool == NULL)
    return -1;
  for (i = 0; i < nspecs; i++)
    if (pool_swapon (pool, &specs[i]) == -1)
      return -1;
  if (size == 0)
    size = pool_npages (pool) * 4096;
  export = export_create (pool, "", size);
  return export ? 0 : -1;
}

#define swapdrum_config_help \
  "[swap=]PATH[,priority=N][,maxactive=N][,create=SIZE]\n" \
  "                     A swap device (repeat for more); lower priority\n" \
  "                     numbers are preferred.\n" \
  "size=SIZE            Export size (default: the sum of the devices).\n" \
  "parallel=BOOL        Force the PARALLEL thread model on or off."

static int
swapdrum_thread_model (void)
{
  return parallel ? NBDKIT_THREAD_MODEL_PARALLEL
                  : NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS;
}

static int
swapdrum_list_exports (int readonly, int is_tls, struct nbdkit_exports *e)
{
  return nbdkit_add_export (e, "", "swapdrum pool");
}

static const char *
swapdrum_default_export (int readonly, int is_tls)
{
  return "";
}

static void *
swapdrum_open (int readonly)
{
  const char *name = nbdkit_export_name ();

  if (name && *name) {
    nbdkit_error ("export: %s: no such export (only the default, \"\")",
                  name);
    return NULL;
  }
  return export;
}

static int64_t
swapdrum_get_size (void *handle)
{
  return export_size (handle);
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

/* Zeroing unmaps whole pages without I/O, so it is always fast. */
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
  return export_pread (handle, buf, count, offset);
}

static int
swapdrum_pwrite (void *handle, const void *buf, uint32_t count,
                 uint64_t offset, uint32_t flags)
{
  return export_pwrite (handle, buf, count, offset,
                        flags & NBDKIT_FLAG_FUA);
}

static int
swapdrum_zero (void *handle, uint32_t count, uint64_t offset,
               uint32_t flags)
{
  return export_zero (handle, count, offset, flags & NBDKIT_FLAG_FUA);
}

static int
swapdrum_trim (void *handle, uint32_t count, uint64_t offset,
               uint32_t flags)
{
  return export_trim (handle, count, offset);
}

static int
swapdrum_flush (void *handle, uint32_t flags)
{
  return export_flush (handle);
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
  return export_extents (handle, count, offset, add_extent, extents);
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
  .list_exports      = swapdrum_list_exports,
  .default_export    = swapdrum_default_export,
  .open              = swapdrum_open,
  .get_size          = swapdrum_get_size,
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
