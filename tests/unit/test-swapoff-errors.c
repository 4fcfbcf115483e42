/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of swap-off when things go wrong (server/pool/pool-ctl.c,
 * server/export/export-migrate.c), one thread: the rest of the pool cannot hold the
 * pages (known up front, or found out while they move), the other
 * device fails every write, a page cannot be read from the device
 * being removed.  Each time the device must be enabled again or gone,
 * and every page readable, or answering EIO if it was lost.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "offtest.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"
#include "swapdrum/pool.h"

TestSuite (swapoff_errors, .init = fx_quiet, .timeout = 60);

/* ---- the rest of the pool cannot hold the pages ---- */

/* a holds 100 pages; b has only 50. */
static void
cramped_rig (struct ot_rig *rig)
{
  ot_open (rig, 128, 50);
  ot_fill (rig, 100, 3);
  cr_assert_eq (fx_stat_of (rig->pool, "a").inuse, 100);
}

Test (swapoff_errors, off_without_room_elsewhere_fails_with_enospc_saying_why)
{
  struct ot_rig rig;

  cramped_rig (&rig);
  ot_off_fails (rig.pool, "a", ENOSPC);
  cr_assert_str_eq (mb_log_last (), "off: a: the rest of the pool has 50 "
                    "free pages; the device holds 100");
  ot_close (&rig);
}

Test (swapoff_errors, off_without_room_elsewhere_leaves_the_device_enabled)
{
  struct ot_rig rig;
  unsigned char page[PAGE];
  uint64_t seed = 4;

  cramped_rig (&rig);
  ot_off_fails (rig.pool, "a", ENOSPC);
  cr_assert_eq (fx_stat_of (rig.pool, "a").flags, SWF_INUSE | SWF_ENABLE);
  /* ... and, being preferred, it takes the next new page. */
  fx_fill_random (page, sizeof page, &seed);
  fx_pwrite_ok (rig.exp, page, PAGE, 500 * PAGE);
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 101);
  cr_assert_eq (ot_closes (), 0);
  ot_close (&rig);
}

Test (swapoff_errors, off_without_room_elsewhere_moves_nothing_and_keeps_every_page)
{
  struct ot_rig rig;
  uint64_t writes;

  cramped_rig (&rig);
  writes = mb_writes (rig.mbb);
  ot_off_fails (rig.pool, "a", ENOSPC);
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 100);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 0);
  cr_assert_eq (mb_writes (rig.mbb), writes, "nothing was written to b");
  ot_expect_filled (&rig);
  ot_close (&rig);
}

Test (swapoff_errors, off_of_the_only_device_holding_pages_fails_with_enospc)
{
  struct pool *pool = fx_new_pool ();
  struct export *exp;
  unsigned char page[PAGE];

  memset (page, 0x5a, sizeof page);
  fx_add_dev (pool, "a", 16, 0, NULL);
  exp = fx_new_export (pool, MIB);
  fx_pwrite_ok (exp, page, PAGE, 0);
  ot_off_fails (pool, "a", ENOSPC);
  cr_assert_eq (fx_stat_of (pool, "a").flags, SWF_INUSE | SWF_ENABLE);
  fx_expect_data (exp, 0, PAGE, page);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (swapoff_errors, off_does_not_count_the_room_of_a_failed_device)
{
  struct ot_rig rig;
  struct swapdev *c;

  cramped_rig (&rig);
  /* c has room for everything, but it is FAILED (as pool_note_error
   * marks it).
   */
  c = fx_add_dev (rig.pool, "c", 256, 9, NULL);
  pthread_mutex_lock (&rig.pool->lock);
  c->flags |= SWF_FAILED;
  pthread_mutex_unlock (&rig.pool->lock);
  ot_off_fails (rig.pool, "a", ENOSPC);
  cr_assert (strstr (mb_log_last (), "has 50 free pages") != NULL,
             "message: %s", mb_log_last ());
  ot_expect_filled (&rig);
  ot_close (&rig);
}

/* ---- the rest of the pool fills up while pages move ---- */

/* A progress callback that, the first time, writes fresh pages from
 * export page FILL_AT until b can take only half of what a still
 * holds: client I/O that swap-off must survive, made deterministic
 * (swap-off holds no stripe while it reports).
 */
#define FILL_AT 512

struct filler {
  struct ot_rig *rig;
  unsigned char *data;          /* what pages FILL_AT... hold */
  uint64_t npages;
};

static void
fill_b (void *opaque, uint64_t moved, uint64_t total)
{
  struct filler *f = opaque;
  uint64_t avail, room_left, seed = 11, p;

  if (f->data)
    return;
  avail = fx_stat_of (f->rig->pool, "b").avail;
  room_left = (total - moved) / 2;
  cr_assert_gt (avail, room_left);
  f->npages = avail - room_left;
  f->data = malloc (f->npages * PAGE);
  cr_assert_not_null (f->data);
  fx_fill_random (f->data, f->npages * PAGE, &seed);
  for (p = 0; p < f->npages; p++)
    fx_pwrite_ok (f->rig->exp, f->data + p * PAGE, PAGE,
                  (FILL_AT + p) * PAGE);
}

/* a holds 200 pages, b has room for 256; fill_b runs during off a,
 * which must fail.
 */
static void
filling_rig (struct ot_rig *rig, struct filler *f)
{
  ot_open (rig, 256, 256);
  ot_fill (rig, 200, 9);
  *f = (struct filler) { .rig = rig };
  errno = 0;
  cr_assert_eq (pool_swapoff (rig->pool, "a", fill_b, f), -1);
  cr_assert_not_null (f->data, "the filler never ran");
}

Test (swapoff_errors, off_fails_with_enospc_when_the_rest_fills_up_midway)
{
  struct ot_rig rig;
  struct filler f;

  filling_rig (&rig, &f);
  cr_assert_eq (errno, ENOSPC, "off: %s", strerror (errno));
  cr_assert_eq (fx_stat_of (rig.pool, "b").avail, 0);
  cr_assert (mb_log_has ("of 200 pages; the device is enabled again"),
             "message: %s", mb_log_last ());
  free (f.data);
  ot_close (&rig);
}

Test (swapoff_errors, off_that_ran_out_of_room_midway_leaves_the_device_enabled)
{
  struct ot_rig rig;
  struct filler f;

  filling_rig (&rig, &f);
  cr_assert_eq (fx_stat_of (rig.pool, "a").flags, SWF_INUSE | SWF_ENABLE);
  cr_assert_eq (ot_closes (), 0);
  free (f.data);
  ot_close (&rig);
}

Test (swapoff_errors, off_that_ran_out_of_room_midway_keeps_every_page_moved_or_not)
{
  struct ot_rig rig;
  struct filler f;
  uint64_t on_a, on_b;

  filling_rig (&rig, &f);
  ot_expect_filled (&rig);
  fx_expect_data (rig.exp, FILL_AT * PAGE, f.npages * PAGE, f.data);
  on_a = fx_stat_of (rig.pool, "a").inuse;
  on_b = fx_stat_of (rig.pool, "b").inuse;
  cr_assert_lt (on_a, 200, "some pages moved");
  cr_assert_gt (on_a, 0, "some pages stayed");
  cr_assert_eq (on_a + on_b, 200 + f.npages, "no slot leaked or lost");
  cr_assert_eq (fx_mapped_pages (rig.exp), 200 + f.npages);
  free (f.data);
  ot_close (&rig);
}

Test (swapoff_errors, off_that_failed_midway_can_be_retried_once_there_is_room)
{
  struct ot_rig rig;
  struct filler f;

  filling_rig (&rig, &f);
  cr_assert_eq (export_trim (rig.exp, f.npages * PAGE, FILL_AT * PAGE), 0);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0, "off: %s",
                mb_log_last ());
  ot_expect_filled (&rig);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 200);
  free (f.data);
  ot_close (&rig);
}

/* ---- the other device fails every write ---- */

Test (swapoff_errors, off_fails_with_eio_when_the_other_device_fails_every_write)
{
  struct ot_rig rig;

  ot_open (&rig, 64, 256);
  ot_fill (&rig, 40, 10);
  mb_fail_all_writes (rig.mbb, true);
  errno = 0;
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), -1);
  /* b is marked FAILED after SWAPDEV_FAIL_AFTER errors; its free pages
   * then make the pool answer EIO (not ENOSPC).
   */
  cr_assert_eq (errno, EIO, "off: %s", strerror (errno));
  cr_assert (mb_log_has ("stopped after moving 0 of 40 pages"),
             "message: %s", mb_log_last ());
  cr_assert_eq (fx_stat_of (rig.pool, "a").flags, SWF_INUSE | SWF_ENABLE);
  cr_assert_eq (fx_stat_of (rig.pool, "a").inuse, 40);
  cr_assert_eq (ot_closes (), 0);
  ot_expect_filled (&rig);
  ot_close (&rig);
}

Test (swapoff_errors, off_places_pages_around_bad_slots_of_the_other_device)
{
  struct ot_rig rig;
  dev_page_t p;

  ot_open (&rig, 64, 256);
  ot_fill (&rig, 40, 12);
  for (p = 0; p < 5; p++)               /* b's first free pages */
    mb_fail_write_page (rig.mbb, p, true);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0, "off: %s",
                mb_log_last ());
  ot_expect_filled (&rig);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 40);
  cr_assert_eq (fx_stat_of (rig.pool, "b").bad, 5);
  ot_close (&rig);
}

/* ---- pages that cannot be read during off ---- */

#define LOST 13                         /* the export page a loses */

/* The device page of mb holding data (a whole page). */
static dev_page_t
dev_page_holding (struct membackend *mb, const unsigned char *data)
{
  dev_page_t dp;

  for (dp = 0; dp < mb_npages (mb); dp++)
    if (memcmp (mb_page (mb, dp), data, PAGE) == 0)
      return dp;
  cr_assert_fail ("no page of the device holds the data");
  return 0;
}

/* a (preferred, 64 pages) full and 36 pages on b; a cannot read the
 * page holding export page LOST; then off a.
 */
static void
lost_rig (struct ot_rig *rig)
{
  dev_page_t dp;

  ot_open (rig, 64, 256);
  ot_fill (rig, 100, 1);
  dp = dev_page_holding (rig->mba, rig->want + LOST * PAGE);
  mb_fail_read_page (rig->mba, dp, true);
  cr_assert_eq (pool_swapoff (rig->pool, "a", NULL, NULL), 0,
                "off: %s", mb_log_last ());
}

Test (swapoff_errors, a_page_unreadable_during_off_does_not_stop_it)
{
  struct ot_rig rig;
  char want[64];

  lost_rig (&rig);
  cr_assert_not (ot_in_stats (rig.pool, "a"));
  cr_assert_eq (ot_closes (), 1);
  snprintf (want, sizeof want, "(export page %d)", LOST);
  cr_assert (mb_log_has (want), "the error names export page %d", LOST);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 99);
  ot_close (&rig);
}

Test (swapoff_errors, a_page_unreadable_during_off_is_lost_and_reads_as_eio)
{
  struct ot_rig rig;
  unsigned char buf[3 * PAGE];

  lost_rig (&rig);
  fx_pread_fails (rig.exp, buf, PAGE, LOST * PAGE, EIO);
  fx_pread_fails (rig.exp, buf, 512, LOST * PAGE + 1024, EIO);
  fx_pread_fails (rig.exp, buf, 3 * PAGE, (LOST - 1) * PAGE, EIO);
  ot_close (&rig);
}

Test (swapoff_errors, a_page_unreadable_during_off_leaves_the_others_intact)
{
  struct ot_rig rig;

  lost_rig (&rig);
  fx_expect_data (rig.exp, 0, LOST * PAGE, rig.want);
  fx_expect_data (rig.exp, (LOST + 1) * PAGE, (rig.npages - LOST - 1) * PAGE,
                  rig.want + (LOST + 1) * PAGE);
  ot_close (&rig);
}

Test (swapoff_errors, a_lost_page_reads_again_after_a_whole_page_rewrite)
{
  struct ot_rig rig;
  unsigned char page[PAGE];
  uint64_t seed = 8;

  lost_rig (&rig);
  fx_fill_random (page, sizeof page, &seed);
  fx_pwrite_ok (rig.exp, page, PAGE, LOST * PAGE);
  fx_expect_data (rig.exp, LOST * PAGE, PAGE, page);
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 100);
  ot_close (&rig);
}

Test (swapoff_errors, a_lost_page_refuses_a_partial_write_with_eio)
{
  struct ot_rig rig;
  unsigned char buf[PAGE];

  lost_rig (&rig);
  memset (buf, 0x77, sizeof buf);
  fx_pwrite_fails (rig.exp, buf, 512, LOST * PAGE + 512, EIO);
  fx_pread_fails (rig.exp, buf, PAGE, LOST * PAGE, EIO);
  ot_close (&rig);
}

Test (swapoff_errors, a_lost_page_can_be_trimmed_and_then_reads_as_zeros)
{
  struct ot_rig rig;

  lost_rig (&rig);
  cr_assert_eq (export_trim (rig.exp, PAGE, LOST * PAGE), 0);
  fx_expect_zeros (rig.exp, LOST * PAGE, PAGE);
  cr_assert_eq (fx_mapped_pages (rig.exp), 99);
  ot_close (&rig);
}

Test (swapoff_errors, off_of_a_device_that_cannot_read_at_all_loses_its_pages_and_goes)
{
  struct ot_rig rig;
  unsigned char buf[PAGE];
  uint64_t p;

  ot_open (&rig, 64, 256);
  ot_fill (&rig, 10, 13);
  mb_fail_all_reads (rig.mba, true);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0, "off: %s",
                mb_log_last ());
  cr_assert_not (ot_in_stats (rig.pool, "a"));
  cr_assert_eq (fx_stat_of (rig.pool, "b").inuse, 0);
  for (p = 0; p < 10; p++)
    fx_pread_fails (rig.exp, buf, PAGE, p * PAGE, EIO);
  ot_close (&rig);
}
