/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of live administration (server/pool/pool-ctl.c,
 * server/export/export-migrate.c) over in-memory devices, one thread: swap-off moves
 * every page of every export and closes the device; its progress; the
 * refusals that change nothing; ctl re-sorts without moving data.
 * Failures while pages move are in test-swapoff-errors.c, races with
 * client I/O in test-swapoff-threads.c and test-swapoff-churn.c.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "offtest.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"
#include "swapdrum/pool.h"

TestSuite (swapoff, .init = fx_quiet, .timeout = 60);

/* a (64 pages, preferred) full, and 36 pages on b (256 pages). */
static void
spill_rig (struct ot_rig *rig)
{
  ot_open (rig, 64, 256);
  ot_fill (rig, 100, 1);
  cr_assert_eq (fx_stat_of (rig->pool, "a").inuse, 64);
  cr_assert_eq (fx_stat_of (rig->pool, "b").inuse, 36);
}

/* ---- off moves every page ---- */

Test (swapoff, off_moves_every_page_and_each_reads_back_identical)
{
  struct ot_rig rig;

  spill_rig (&rig);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0, "off: %s",
                mb_log_last ());
  ot_expect_filled (&rig);
  ot_close (&rig);
}

Test (swapoff, off_removes_the_device_and_the_rest_holds_the_mapped_pages)
{
  struct ot_rig rig;

  spill_rig (&rig);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0);
  cr_assert_not (ot_in_stats (rig.pool, "a"));
  cr_assert_eq (pool_ndevices (rig.pool), 1);
  cr_assert_eq (pool_npages (rig.pool), 256);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 100);
  cr_assert_eq (fx_mapped_pages (rig.exp), 100);
  ot_close (&rig);
}

Test (swapoff, off_closes_the_backend_of_the_device_once_it_is_empty)
{
  struct ot_rig rig;

  spill_rig (&rig);
  cr_assert_eq (ot_closes (), 0);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0);
  cr_assert_eq (ot_closes (), 1, "the close op ran %u times", ot_closes ());
  cr_assert_eq (ot_inuse_at_close (), 0, "closed with %" PRIu64
                " pages in use", ot_inuse_at_close ());
  ot_close (&rig);
  cr_assert_eq (ot_closes (), 1, "pool_destroy closed a again");
}

Test (swapoff, off_moves_the_pages_of_every_export)
{
  struct pool *pool = fx_new_pool ();
  struct export *one, *two;
  unsigned char d1[20 * PAGE], d2[30 * PAGE];
  uint64_t seed = 7;

  fx_add_dev (pool, "a", 64, OT_PRIO_A, NULL);
  fx_add_dev (pool, "b", 64, OT_PRIO_B, NULL);
  one = export_create (pool, "one", MIB);
  two = export_create (pool, "two", MIB);
  cr_assert (one && two);
  fx_fill_random (d1, sizeof d1, &seed);
  fx_fill_random (d2, sizeof d2, &seed);
  fx_pwrite_ok (one, d1, sizeof d1, 0);
  fx_pwrite_ok (two, d2, sizeof d2, 5 * PAGE);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 50);
  cr_assert_eq (pool_swapoff (pool, "a", NULL, NULL), 0);
  fx_expect_data (one, 0, sizeof d1, d1);
  fx_expect_data (two, 5 * PAGE, sizeof d2, d2);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 50);
  export_destroy (one);
  export_destroy (two);
  pool_destroy (pool);
}

Test (swapoff, off_moves_the_pages_in_the_short_last_stripe_of_an_export)
{
  struct pool *pool = fx_new_pool ();
  struct export *exp;
  unsigned char data[70 * PAGE];
  uint64_t seed = 17;

  fx_add_dev (pool, "a", 128, OT_PRIO_A, NULL);
  fx_add_dev (pool, "b", 128, OT_PRIO_B, NULL);
  exp = fx_new_export (pool, sizeof data);     /* 64 + 6 pages */
  fx_fill_random (data, sizeof data, &seed);
  fx_pwrite_ok (exp, data, sizeof data, 0);
  cr_assert_eq (pool_swapoff (pool, "a", NULL, NULL), 0);
  fx_expect_data (exp, 0, sizeof data, data);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 70);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (swapoff, off_leaves_trimmed_and_partly_written_pages_as_they_were)
{
  struct ot_rig rig;
  unsigned char piece[100];

  spill_rig (&rig);
  memset (piece, 0xee, sizeof piece);
  fx_pwrite_ok (rig.exp, piece, sizeof piece, 3 * PAGE + 4000);
  memcpy (rig.want + 3 * PAGE + 4000, piece, 96);
  memcpy (rig.want + 4 * PAGE, piece + 96, 4);
  cr_assert_eq (export_trim (rig.exp, 2 * PAGE, 10 * PAGE), 0);
  memset (rig.want + 10 * PAGE, 0, 2 * PAGE);
  fx_pwrite_ok (rig.exp, piece, sizeof piece, 300 * PAGE + 10);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0);
  ot_expect_filled (&rig);
  fx_expect_zeros (rig.exp, 300 * PAGE, 10);
  fx_expect_data (rig.exp, 300 * PAGE + 10, sizeof piece, piece);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 99);
  ot_close (&rig);
}

Test (swapoff, off_of_a_device_holding_no_page_succeeds_without_any_io)
{
  struct ot_rig rig;
  uint64_t reads, writes;

  ot_open (&rig, 64, 256);
  cr_assert_eq (pool_ctl (rig.pool, "a", OT_PRIO_B + 1), 0);
  ot_fill (&rig, 20, 2);                /* all on b */
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 0);
  reads = mb_reads (rig.mbb);
  writes = mb_writes (rig.mbb);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0);
  /* (a's backend is freed now: only b can be looked at.) */
  cr_assert_eq (mb_reads (rig.mbb), reads, "nothing was read from b");
  cr_assert_eq (mb_writes (rig.mbb), writes + 2,
                "only the pool table and stamp were written to b");
  cr_assert_not (ot_in_stats (rig.pool, "a"));
  cr_assert_eq (ot_closes (), 1);
  ot_expect_filled (&rig);
  ot_close (&rig);
}

Test (swapoff, off_of_the_last_device_holding_no_page_empties_the_pool)
{
  struct pool *pool = fx_new_pool ();
  struct export *exp;

  fx_add_dev (pool, "a", 16, 0, NULL);
  exp = fx_new_export (pool, MIB);
  cr_assert_eq (pool_swapoff (pool, "a", NULL, NULL), 0);
  cr_assert_eq (pool_ndevices (pool), 0);
  cr_assert_eq (pool_npages (pool), 0);
  fx_expect_zeros (exp, 0, MIB);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (swapoff, the_range_of_a_removed_device_goes_to_the_next_without_mixups)
{
  struct ot_rig rig;
  unsigned char more[8 * PAGE];
  uint64_t seed = 99, offset_a;

  spill_rig (&rig);
  offset_a = fx_stat_of (rig.pool, "a").drumoffset;
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0);
  /* The same name again (the old device is gone), at the same place
   * in the drum: the moved pages must not be read from it.
   */
  fx_add_dev (rig.pool, "a", 64, OT_PRIO_A, NULL);
  cr_assert_eq (fx_stat_of (rig.pool, "a").drumoffset, offset_a);
  ot_expect_filled (&rig);
  fx_fill_random (more, sizeof more, &seed);
  fx_pwrite_ok (rig.exp, more, sizeof more, 200 * PAGE);
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 8);
  fx_expect_data (rig.exp, 200 * PAGE, sizeof more, more);
  ot_expect_filled (&rig);
  ot_close (&rig);
}

/* ---- progress ---- */

Test (swapoff, off_reports_progress_rising_to_the_pages_on_the_device)
{
  struct ot_rig rig;
  struct ot_progress pr = { 0 };
  uint64_t on_a;

  ot_open (&rig, 256, 256);
  ot_fill (&rig, 200, 5);               /* four stripes' worth */
  on_a = fx_stat_of (rig.pool, "a").inuse;
  cr_assert_eq (on_a, 200);
  cr_assert_eq (pool_swapoff (rig.pool, "a", ot_record_progress, &pr), 0);
  cr_assert_geq (pr.calls, 2, "progress called %u times", pr.calls);
  cr_assert_not (pr.went_back, "moved decreased");
  cr_assert_not (pr.total_changed, "total changed");
  cr_assert_eq (pr.total, on_a);
  cr_assert_eq (pr.moved, pr.total, "ended at %" PRIu64 " of %" PRIu64,
                pr.moved, pr.total);
  ot_close (&rig);
}

/* ---- CPU priority ---- */

static void
record_nice (void *opaque, uint64_t moved, uint64_t total)
{
  int *nice = opaque;

  (void) moved;
  (void) total;
  errno = 0;
  *nice = getpriority (PRIO_PROCESS, gettid ());
}

Test (swapoff, off_copies_at_nice_19_and_then_puts_the_thread_back)
{
  struct ot_rig rig;
  int during = 0, before;

  errno = 0;
  before = getpriority (PRIO_PROCESS, gettid ());
  cr_assert_eq (errno, 0);
  if (geteuid () != 0)
    cr_skip_test ("only root may raise a thread's priority back");
  spill_rig (&rig);
  cr_assert_eq (pool_swapoff (rig.pool, "a", record_nice, &during), 0);
  cr_assert_eq (during, 19, "the copy ran at nice %d", during);
  cr_assert_eq (getpriority (PRIO_PROCESS, gettid ()), before);
  ot_close (&rig);
}

/* ---- refusals ---- */

Test (swapoff, off_twice_fails_the_second_time_with_enoent)
{
  struct ot_rig rig;

  spill_rig (&rig);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0);
  ot_off_fails (rig.pool, "a", ENOENT);
  ot_expect_filled (&rig);
  ot_close (&rig);
}

Test (swapoff, off_of_a_path_not_in_the_pool_fails_with_enoent_changing_nothing)
{
  struct ot_rig rig;
  struct ot_snapshot before;

  spill_rig (&rig);
  before = ot_snapshot (rig.pool);
  ot_off_fails (rig.pool, "nosuch", ENOENT);
  cr_assert_str_eq (mb_log_last (), "off: nosuch: not in the pool");
  ot_expect_unchanged (rig.pool, &before);
  ot_expect_filled (&rig);
  ot_close (&rig);
}

Test (swapoff, ctl_of_a_path_not_in_the_pool_fails_with_enoent_changing_nothing)
{
  struct ot_rig rig;
  struct ot_snapshot before;

  spill_rig (&rig);
  before = ot_snapshot (rig.pool);
  ot_ctl_fails (rig.pool, "nosuch", 3, ENOENT);
  cr_assert_str_eq (mb_log_last (), "ctl: nosuch: not in the pool");
  ot_expect_unchanged (rig.pool, &before);
  ot_close (&rig);
}

Test (swapoff, ctl_with_a_priority_out_of_range_fails_with_einval_changing_nothing)
{
  struct ot_rig rig;
  struct ot_snapshot before;

  spill_rig (&rig);
  before = ot_snapshot (rig.pool);
  ot_ctl_fails (rig.pool, "a", SD_PRIORITY_MAX + 1, EINVAL);
  cr_assert (strstr (mb_log_last (), "ctl: a: priority") != NULL,
             "message: %s", mb_log_last ());
  ot_ctl_fails (rig.pool, "a", SD_PRIORITY_MIN - 1, EINVAL);
  ot_ctl_fails (rig.pool, "nosuch", SD_PRIORITY_MAX + 1, EINVAL);
  ot_expect_unchanged (rig.pool, &before);
  ot_close (&rig);
}

/* ---- ctl ---- */

Test (swapoff, ctl_accepts_both_ends_of_the_priority_range)
{
  struct ot_rig rig;
  struct ot_snapshot s;

  ot_open (&rig, 16, 16);
  cr_assert_eq (pool_ctl (rig.pool, "a", SD_PRIORITY_MAX), 0);
  cr_assert_eq (pool_ctl (rig.pool, "b", SD_PRIORITY_MIN), 0);
  s = ot_snapshot (rig.pool);
  cr_assert_str_eq (s.path[0], "b");
  cr_assert_eq (s.priority[0], SD_PRIORITY_MIN);
  cr_assert_eq (s.priority[1], SD_PRIORITY_MAX);
  ot_close (&rig);
}

Test (swapoff, after_ctl_above_the_other_device_new_writes_go_there_first)
{
  struct ot_rig rig;
  struct ot_snapshot s;
  unsigned char more[4 * PAGE];
  uint64_t seed = 6;

  ot_open (&rig, 256, 256);
  ot_fill (&rig, 10, 6);
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 10);
  cr_assert_eq (pool_ctl (rig.pool, "a", OT_PRIO_B + 1), 0);
  s = ot_snapshot (rig.pool);
  cr_assert_str_eq (s.path[0], "b", "b is preferred now");
  cr_assert_eq (s.priority[1], OT_PRIO_B + 1);
  fx_fill_random (more, sizeof more, &seed);
  fx_pwrite_ok (rig.exp, more, sizeof more, 100 * PAGE);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 4);
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 10);
  ot_close (&rig);
}

Test (swapoff, ctl_moves_no_data)
{
  struct ot_rig rig;
  uint64_t reads, writes;

  spill_rig (&rig);
  reads = mb_reads (rig.mba) + mb_reads (rig.mbb);
  writes = mb_writes (rig.mba) + mb_writes (rig.mbb);
  cr_assert_eq (pool_ctl (rig.pool, "a", OT_PRIO_B + 1), 0);
  cr_assert_eq (pool_ctl (rig.pool, "b", OT_PRIO_A), 0);
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 64);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 36);
  cr_assert_eq (mb_reads (rig.mba) + mb_reads (rig.mbb), reads);
  /* Each change writes the pool table and the stamp to each device. */
  cr_assert_eq (mb_writes (rig.mba) + mb_writes (rig.mbb), writes + 8,
                "no data, only the pool table");
  ot_expect_filled (&rig);
  ot_close (&rig);
}

Test (swapoff, ctl_puts_the_device_at_the_tail_of_its_new_ring)
{
  struct pool *pool = fx_new_pool ();
  struct ot_snapshot s;

  fx_add_dev (pool, "x", 16, 1, NULL);
  fx_add_dev (pool, "y", 16, 1, NULL);
  fx_add_dev (pool, "z", 16, 7, NULL);
  cr_assert_eq (pool_ctl (pool, "z", 1), 0);
  cr_assert_eq (pool_ctl (pool, "x", 1), 0);
  s = ot_snapshot (pool);
  cr_assert_str_eq (s.path[0], "y");
  cr_assert_str_eq (s.path[1], "z");
  cr_assert_str_eq (s.path[2], "x");
  pool_destroy (pool);
}

/* ---- which device a path names ---- */

/* Two devices: "old" is called by the path of a real file but is
 * another object (a file since renamed, say); "new" is that file, added
 * under another name.  old is preferred, so it comes first in the list.
 */
struct two_names {
  char path[64];
  struct pool *pool;
};

static void
two_names_open (struct two_names *tn)
{
  char *ident;
  int fd;

  snprintf (tn->path, sizeof tn->path, "/tmp/swapoff-test-XXXXXX");
  fd = mkstemp (tn->path);
  cr_assert_geq (fd, 0);
  close (fd);
  ident = swapdev_path_ident (tn->path);
  cr_assert_not_null (ident);
  tn->pool = fx_new_pool ();
  fx_swapon (tn->pool, mb_device_ident (tn->path, "mem:old", 16, 0, NULL),
             0);
  fx_swapon (tn->pool, mb_device_ident ("new", ident, 16, 0, NULL), 5);
  free (ident);
}

static void
two_names_close (struct two_names *tn)
{
  pool_destroy (tn->pool);
  unlink (tn->path);
}

/* A path names the device that is that file (by identity) before one
 * that is merely spelt the same (a file since replaced).
 */
Test (swapoff, off_by_path_removes_the_device_that_is_that_file)
{
  struct two_names tn;

  two_names_open (&tn);
  cr_assert_eq (pool_swapoff (tn.pool, tn.path, NULL, NULL), 0);
  cr_assert (ot_in_stats (tn.pool, tn.path), "removed the device only "
             "spelt like the file");
  cr_assert_not (ot_in_stats (tn.pool, "new"));
  two_names_close (&tn);
}

Test (swapoff, ctl_by_path_changes_the_device_that_is_that_file)
{
  struct two_names tn;

  two_names_open (&tn);
  cr_assert_eq (pool_ctl (tn.pool, tn.path, -3), 0);
  cr_assert_eq (fx_stat_of (tn.pool, "new").priority, -3);
  cr_assert_eq (fx_stat_of (tn.pool, tn.path).priority, 0);
  two_names_close (&tn);
}

Test (swapoff, off_by_a_path_that_is_no_file_goes_by_the_spelling)
{
  struct pool *pool = fx_new_pool ();

  fx_add_dev (pool, "/nonexistent/swap", 16, 0, NULL);
  cr_assert_eq (pool_swapoff (pool, "/nonexistent/swap", NULL, NULL), 0);
  cr_assert_eq (pool_ndevices (pool), 0);
  pool_destroy (pool);
}
