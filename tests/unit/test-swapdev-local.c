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

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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

/* The same with direct=true. */
static struct swapdev *
open_direct (uint64_t create)
{
  struct devspec spec = { .path = path, .create_size = create,
                          .direct = true };

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

Test (swapdev_local, direct_opens_the_same_file_again_with_O_DIRECT)
{
  struct swapdev *dev = open_direct (MIB);
  struct stat a, b;

  cr_assert_not_null (dev, "%s", mb_log_last ());
  cr_assert_geq (dev->dfd, 0);
  cr_assert (fcntl (dev->dfd, F_GETFL) & O_DIRECT);
  cr_assert_not (fcntl (dev->fd, F_GETFL) & O_DIRECT);
  cr_assert_eq (fstat (dev->fd, &a), 0);
  cr_assert_eq (fstat (dev->dfd, &b), 0);
  cr_assert (a.st_dev == b.st_dev && a.st_ino == b.st_ino);
  swapdev_free (dev);
}

Test (swapdev_local, without_direct_there_is_no_O_DIRECT_descriptor)
{
  struct swapdev *dev = open_local (MIB, 0);

  cr_assert_not_null (dev, "%s", mb_log_last ());
  cr_assert_eq (dev->dfd, -1);
  swapdev_free (dev);
}

Test (swapdev_local, direct_pages_read_back_through_unaligned_buffers)
{
  struct swapdev *dev = open_direct (MIB);
  unsigned char out[3 * PAGE + 1], in[3 * PAGE + 3];
  size_t i;

  cr_assert_not_null (dev, "%s", mb_log_last ());
  for (i = 0; i < sizeof out; i++)
    out[i] = i * 7 + 1;
  /* One byte in: nbdkit's buffers are malloc'd, not page aligned. */
  cr_assert_eq (swapdev_write (dev, out + 1, 5, 0, 3 * PAGE, false), 0);
  cr_assert_eq (swapdev_read (dev, in + 3, 5, 0, 3 * PAGE), 0);
  cr_assert_arr_eq (in + 3, out + 1, 3 * PAGE);
  swapdev_free (dev);
}

Test (swapdev_local, a_partial_write_and_a_direct_page_see_each_other)
{
  struct swapdev *dev = open_direct (MIB);
  unsigned char page[PAGE], in[PAGE], bytes[100];

  cr_assert_not_null (dev, "%s", mb_log_last ());
  memset (page, 0x11, sizeof page);
  memset (bytes, 0x22, sizeof bytes);
  /* The whole page goes direct, the part of it buffered: the direct
   * read that follows must see the buffered bytes, and a direct write
   * over them must replace them in what a buffered read sees.
   */
  cr_assert_eq (swapdev_write (dev, page, 9, 0, PAGE, false), 0);
  cr_assert_eq (swapdev_write (dev, bytes, 9, 1000, sizeof bytes, false), 0);
  memset (page + 1000, 0x22, sizeof bytes);
  cr_assert_eq (swapdev_read (dev, in, 9, 0, PAGE), 0);
  cr_assert_arr_eq (in, page, PAGE);
  memset (page, 0x33, sizeof page);
  cr_assert_eq (swapdev_write (dev, page, 9, 0, PAGE, true), 0);
  cr_assert_eq (swapdev_read (dev, bytes, 9, 1000, sizeof bytes), 0);
  cr_assert_arr_eq (bytes, page, sizeof bytes);
  swapdev_free (dev);
}
