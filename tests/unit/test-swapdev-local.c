/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of local swap devices (server/devices/swapdev-local.c) over
 * regular files in a temporary directory: what swapdev_open_local
 * builds, and what it refuses.  Block devices need root and a spare
 * device; the integration tests cover what they can of them.
 */

#include <config.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "devices/swapdev.h"

/* The temporary directory of the running test, and a path in it. */
static char dir[] = "/tmp/swapdrum-local-XXXXXX";
static char path[PATH_MAX];

static void
setup (void)
{
  fx_quiet ();
  cr_assert_not_null (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/swap", dir);
}

static void
teardown (void)
{
  unlink (path);
  rmdir (dir);
}

TestSuite (swapdev_local, .init = setup, .fini = teardown);

/* Open path, creating it with create bytes if not 0. */
static struct swapdev *
open_local (uint64_t create, unsigned maxactive)
{
  struct devspec spec = { .path = path, .create_size = create,
                          .maxactive = maxactive };

  return swapdev_open_local (&spec);
}

Test (swapdev_local, a_created_file_is_a_file_device_with_the_file_default)
{
  struct swapdev *dev = open_local (MIB, 0);

  cr_assert_not_null (dev, "%s", mb_log_last ());
  cr_assert_eq (dev->kind, SWAPDEV_FILE);
  cr_assert_str_eq (swapdev_kind_name (dev), "file");
  cr_assert_str_eq (dev->path, path);
  cr_assert_eq (strncmp (dev->ident, "file:", 5), 0, "%s", dev->ident);
  cr_assert_geq (dev->fd, 0);
  struct sd_layout l;

  cr_assert_eq (sd_layout (MIB, 0, &l), 0);
  cr_assert_eq (dev->stamp_offset, 0);
  cr_assert_eq (dev->data_offset, l.data_offset);
  cr_assert_eq (dev->npages, l.npages);
  cr_assert_eq (l.npages, 238, "the stamp, two 8-page tables, one page "
                "of records");
  cr_assert_eq (dev->maxactive, 8);
  cr_assert_eq (dev->gate.max, 8);
  swapdev_free (dev);
}

Test (swapdev_local, maxactive_from_the_spec_sizes_the_gate)
{
  struct swapdev *dev = open_local (MIB, 3);

  cr_assert_not_null (dev, "%s", mb_log_last ());
  cr_assert_eq (dev->maxactive, 3);
  cr_assert_eq (dev->gate.max, 3);
  swapdev_free (dev);
}

Test (swapdev_local, a_file_device_reads_back_what_it_wrote)
{
  struct swapdev *dev = open_local (MIB, 0);
  unsigned char out[PAGE], in[PAGE];

  cr_assert_not_null (dev, "%s", mb_log_last ());
  memset (out, 0x5a, sizeof out);
  cr_assert_eq (swapdev_write (dev, out, 7, 0, PAGE, false), 0);
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (swapdev_read (dev, in, 7, 0, PAGE), 0);
  cr_assert_arr_eq (in, out, PAGE);
  swapdev_free (dev);
}

Test (swapdev_local, a_created_file_too_small_is_refused_and_removed)
{
  char want[PATH_MAX + 64];

  cr_assert_null (open_local (PAGE, 0));
  snprintf (want, sizeof want,
            "swap: %s: file is 4096 bytes; a swap file needs at least 8192",
            path);
  cr_assert_str_eq (mb_log_last (), want);
  cr_assert_eq (mb_log_errors (), 1);
  cr_assert_neq (access (path, F_OK), 0, "the refused file was left behind");
}

Test (swapdev_local, a_missing_file_is_refused)
{
  char want[PATH_MAX + 64];

  cr_assert_null (open_local (0, 0));
  snprintf (want, sizeof want, "swap: %s: No such file or directory", path);
  cr_assert_str_eq (mb_log_last (), want);
  cr_assert_eq (mb_log_errors (), 1);
}

Test (swapdev_local, a_directory_is_refused)
{
  char want[PATH_MAX + 64];

  snprintf (path, sizeof path, "%s", dir);
  cr_assert_null (open_local (0, 0));
  snprintf (want, sizeof want,
            "swap: %s: not a regular file or block device", dir);
  cr_assert_str_eq (mb_log_last (), want);
  cr_assert_eq (mb_log_errors (), 1);
}
