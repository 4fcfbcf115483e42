/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the swap pool's devices (server/pool/pool.c) over
 * in-memory devices: swap-on and its refusals, the stamp, FAILED
 * devices, stats and flush.  Slot allocation is in test-pool.c.
 */

#include <config.h>

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"

/* Every test starts with an empty pool, destroyed after it. */
static struct pool *pool;

static void
setup (void)
{
  fx_quiet ();
  pool = fx_new_pool ();
}

static void
teardown (void)
{
  pool_destroy (pool);
}

TestSuite (pool_devices, .init = setup, .fini = teardown);

/* ---- swap-on ---- */

/* Assert that the pool refuses dev at priority with errno err.  The
 * pool frees a device it refuses.
 */
static void
expect_swapon_fails (struct pool *pool, struct swapdev *dev, int priority,
                     int err)
{
  cr_assert_not_null (dev);
  errno = 0;
  cr_assert_eq (pool_swapon_dev (pool, dev, priority), -1);
  cr_assert_eq (errno, err, "swap-on: %s, expected %s", strerror (errno),
                strerror (err));
}

Test (pool_devices, a_device_added_twice_is_refused_with_ebusy_and_no_change)
{
  struct swapdev *a, *again;
  drum_slot_t slot;

  a = fx_swapon (pool, mb_device_ident ("/dev/a", "mem:same", 10, 0, NULL),
                 0);
  slot = fx_alloc_n (pool, 3);
  again = mb_device_ident ("/dev/a-alias", "mem:same", 50, 0, NULL);
  expect_swapon_fails (pool, again, -5, EBUSY);
  cr_assert_str_eq (mb_log_last (),
                    "swap: /dev/a-alias: already in the pool as /dev/a");
  cr_assert_eq (pool_ndevices (pool), 1);
  cr_assert_eq (pool_npages (pool), 10);
  cr_assert_eq (fx_stat_of (pool, "/dev/a").inuse, 3);
  cr_assert_eq (fx_alloc_on (pool, a), slot + 3);
}

Test (pool_devices, a_failed_stamp_write_refuses_the_device_changing_nothing)
{
  struct membackend *mb;
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, NULL), *b, *c;

  b = mb_device ("b", 10, 0, &mb);
  cr_assert_not_null (b);
  mb_fail_stamp_write (mb, true);
  expect_swapon_fails (pool, b, -1, EIO);
  cr_assert (mb_log_has ("swap: b: writing the stamp: "),
             "got: %s", mb_log_last ());
  cr_assert_eq (pool_ndevices (pool), 1);
  cr_assert_eq (pool_npages (pool), 10);
  fx_alloc_on (pool, a);
  /* b's drum range was given back: the next device gets it. */
  c = fx_add_dev (pool, "c", 10, 0, NULL);
  cr_assert_eq (c->drumoffset, a->drumoffset + 10);
}

Test (pool_devices, swap_on_writes_the_stamp_to_the_first_page)
{
  struct membackend *ma, *mb;
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, &ma);
  struct swapdev *b = fx_add_dev (pool, "b", 20, 0, &mb);
  struct sd_stamp sa, sb;
  const char *why = NULL;

  cr_assert_eq (memcmp (mb_stamp (ma), SD_MAGIC, 8), 0);
  cr_assert_eq (sd_stamp_decode (mb_stamp (ma), &sa, &why), 1, "%s", why);
  cr_assert_eq (sd_stamp_decode (mb_stamp (mb), &sb, &why), 1, "%s", why);
  cr_assert_eq (sa.version, SD_FORMAT_VERSION);
  cr_assert_eq (sa.npages, 10);
  cr_assert_eq (sb.npages, 20);
  cr_assert_eq (memcmp (sa.pool_id, sb.pool_id, 16), 0, "one pool id");
  cr_assert_neq (memcmp (sa.device_uuid, sb.device_uuid, 16), 0,
                 "a device id each");
  cr_assert_eq (swapdev_check_stamp (a), 1);
  cr_assert_eq (swapdev_check_stamp (b), 1);
}

Test (pool_devices, a_backend_smaller_than_two_pages_is_refused)
{
  static const struct swapdev_ops none = { .kind_name = "none" };

  cr_assert_null (swapdev_new ("tiny", "tiny", &none, NULL,
                              sd_size_for (1, 0) - 1, 0));
  cr_assert (mb_log_has ("swap: tiny: size 77823 bytes: need 77824 to "),
             "got: %s", mb_log_last ());
}

Test (pool_devices, npages_and_ndevices_count_every_device)
{
  cr_assert_eq (pool_npages (pool), 0);
  cr_assert_eq (pool_ndevices (pool), 0);
  fx_add_dev (pool, "a", 10, 0, NULL);
  fx_add_dev (pool, "b", 32, 3, NULL);
  cr_assert_eq (pool_npages (pool), 42);
  cr_assert_eq (pool_ndevices (pool), 2);
}

Test (pool_devices, destroy_accepts_null)
{
  pool_destroy (NULL);
}

/* ---- FAILED ---- */

/* Write a page of zeros to data page p of dev: it must work. */
static void
write_page_ok (struct swapdev *dev, dev_page_t p)
{
  char page[SD_PAGE_SIZE] = { 0 };

  cr_assert_eq (swapdev_write (dev, page, p, 0, sizeof page, false), 0,
                "writing page %" PRIu64 " of %s", p, dev->path);
}

/* n failing writes in a row to page 0 of dev (whose backend fails
 * them), each followed by the pool's verdict.
 */
static void
fail_writes (struct pool *pool, struct swapdev *dev, int n)
{
  char page[SD_PAGE_SIZE] = { 0 };
  int i;

  for (i = 0; i < n; i++) {
    cr_assert_eq (swapdev_write (dev, page, 0, 0, sizeof page, false), -1);
    cr_assert_eq (errno, EIO);
    pool_note_error (pool, dev);
  }
}

Test (pool_devices, a_device_that_keeps_failing_is_marked_failed_and_skipped)
{
  struct membackend *mb;
  struct swapdev *a = fx_add_dev (pool, "a", 100, 0, &mb);
  struct swapdev *b = fx_add_dev (pool, "b", 100, 0, NULL);
  int i;

  mb_fail_all_writes (mb, true);
  fail_writes (pool, a, SWAPDEV_FAIL_AFTER - 1);
  cr_assert_not (fx_stat_of (pool, "a").flags & SWF_FAILED);
  fail_writes (pool, a, 1);
  cr_assert (fx_stat_of (pool, "a").flags & SWF_FAILED);
  cr_assert_eq (fx_stat_of (pool, "a").write_errors, SWAPDEV_FAIL_AFTER);
  cr_assert_str_eq (mb_log_last (), "swap: a: 8 I/O errors in a row: "
                    "marked FAILED, no new pages go there");
  fail_writes (pool, a, 1);
  cr_assert_eq (mb_log_errors (), 1, "FAILED is reported once");
  for (i = 0; i < 20; i++)
    fx_alloc_on (pool, b);
}

Test (pool_devices, a_pool_whose_only_room_is_on_failed_devices_gives_eio)
{
  struct membackend *mb;
  struct swapdev *a = fx_add_dev (pool, "a", 100, 0, &mb);
  drum_slot_t slot;

  mb_fail_all_writes (mb, true);
  fail_writes (pool, a, SWAPDEV_FAIL_AFTER);
  errno = 0;
  cr_assert_eq (pool_alloc (pool, 1, &slot), 0);
  cr_assert_eq (errno, EIO, "broken devices are not a full pool");
}

Test (pool_devices, a_success_between_errors_keeps_a_device_in_service)
{
  struct membackend *mb;
  struct swapdev *a = fx_add_dev (pool, "a", 100, 0, &mb);

  mb_fail_all_writes (mb, true);
  fail_writes (pool, a, SWAPDEV_FAIL_AFTER - 1);
  mb_fail_all_writes (mb, false);
  write_page_ok (a, 1);
  mb_fail_all_writes (mb, true);
  fail_writes (pool, a, SWAPDEV_FAIL_AFTER - 1);
  cr_assert_not (fx_stat_of (pool, "a").flags & SWF_FAILED);
  fx_alloc_on (pool, a);
}

/* ---- stats ---- */

Test (pool_devices, devstat_reports_every_field_of_a_device)
{
  struct swapdev *a = fx_swapon (pool, mb_device ("/mem/a", 50, 3, NULL),
                                 -7);
  char page[SD_PAGE_SIZE] = { 1 };
  struct pool_devstat *st;
  drum_slot_t slot;

  slot = fx_alloc_n (pool, 5);
  pool_markbad (pool, slot);
  cr_assert_eq (swapdev_write (a, page, 1, 0, sizeof page, false), 0);
  cr_assert_eq (swapdev_write (a, page, 2, 512, 1024, true), 0);
  cr_assert_eq (swapdev_read (a, page, 1, 0, sizeof page), 0);
  cr_assert_eq (pool_stats (pool, &st), 1);
  cr_assert_str_eq (st[0].path, "/mem/a");
  cr_assert_str_eq (st[0].kind, MB_KIND);
  cr_assert_eq (st[0].drumoffset, 1);
  cr_assert_eq (st[0].npages, 50);
  cr_assert_eq (st[0].inuse, 4);
  cr_assert_eq (st[0].bad, 1);
  cr_assert_eq (st[0].avail, 45);
  cr_assert_eq (st[0].priority, -7);
  cr_assert_eq (st[0].maxactive, 3);
  cr_assert_eq (st[0].peak_active, 1);
  cr_assert_eq (st[0].flags, SWF_INUSE | SWF_ENABLE);
  cr_assert_eq (st[0].nwrites, 2, "the stamp is not a data write");
  cr_assert_eq (st[0].bytes_written, 4096 + 1024);
  cr_assert_eq (st[0].nreads, 1);
  cr_assert_eq (st[0].bytes_read, 4096);
  cr_assert_eq (st[0].read_errors + st[0].write_errors, 0);
  pool_stats_free (st, 1);
}

Test (pool_devices, stats_list_devices_in_priority_order)
{
  static const char *const want[] = { "w", "x", "y", "z" };
  struct pool_devstat *st;
  ssize_t n, i;

  fx_add_dev (pool, "z", 4, 5, NULL);
  fx_add_dev (pool, "x", 4, 0, NULL);
  fx_add_dev (pool, "w", 4, -3, NULL);
  fx_add_dev (pool, "y", 4, 0, NULL);
  n = pool_stats (pool, &st);
  cr_assert_eq (n, 4);
  for (i = 0; i < n; i++)
    cr_assert_str_eq (st[i].path, want[i]);
  pool_stats_free (st, n);
}

Test (pool_devices, stats_of_an_empty_pool_are_an_empty_list)
{
  struct pool_devstat *st = NULL;

  cr_assert_eq (pool_stats (pool, &st), 0);
  cr_assert_not_null (st);
  pool_stats_free (st, 0);
  pool_stats_free (NULL, 0);
}

/* ---- flush ---- */

Test (pool_devices, flush_reaches_only_devices_written_since_the_last_flush)
{
  struct membackend *ma, *mb;
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, &ma);

  fx_add_dev (pool, "b", 10, 0, &mb);
  /* The first flush reaches both: each says dirty until a flush has
   * made it clean (write intent, test-swapdev-intent.c).
   */
  cr_assert_eq (pool_flush (pool), 0);
  cr_assert_eq (mb_flushes (ma), 1);
  cr_assert_eq (mb_flushes (mb), 1);
  cr_assert_eq (pool_flush (pool), 0);
  cr_assert_eq (mb_flushes (ma) + mb_flushes (mb), 2, "nothing written");
  write_page_ok (a, 0);
  cr_assert_eq (pool_flush (pool), 0);
  cr_assert_eq (mb_flushes (ma), 2);
  cr_assert_eq (mb_flushes (mb), 1);
  cr_assert_eq (pool_flush (pool), 0);
  cr_assert_eq (mb_flushes (ma), 2, "clean since the last flush");
}

static void *
write_page_zero (void *arg)
{
  char page[SD_PAGE_SIZE] = { 0 };

  return (void *) (intptr_t) swapdev_write (arg, page, 0, 0, sizeof page,
                                            false);
}

/* A flush that raced with a write need not cover it, but the next
 * flush, issued after the write completed, must.
 */
Test (pool_devices, a_write_that_completes_during_a_flush_is_flushed_by_the_next)
{
  struct membackend *ma;
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, &ma);
  pthread_t th;
  void *r;
  uint64_t before;

  mb_hold (ma, true);
  cr_assert_eq (pthread_create (&th, NULL, write_page_zero, a), 0);
  while (mb_inflight (ma) < 1)
    sched_yield ();
  cr_assert_eq (pool_flush (pool), 0);  /* races with the write */
  mb_hold (ma, false);
  pthread_join (th, &r);
  cr_assert_eq ((intptr_t) r, 0);
  before = mb_flushes (ma);
  cr_assert_eq (pool_flush (pool), 0);
  cr_assert_eq (mb_flushes (ma), before + 1,
                "the completed write was never flushed");
}

Test (pool_devices, a_failed_flush_gives_eio_and_is_retried_next_time)
{
  struct membackend *ma;
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, &ma);

  write_page_ok (a, 0);
  mb_fail_flush (ma, true);
  errno = 0;
  cr_assert_eq (pool_flush (pool), -1);
  cr_assert_eq (errno, EIO);
  cr_assert (mb_log_has ("flush: a: "), "got: %s", mb_log_last ());
  mb_fail_flush (ma, false);
  cr_assert_eq (pool_flush (pool), 0);
  cr_assert_eq (mb_flushes (ma), 2);
}


/* ---- threads ---- */

#define ADDERS 8

struct adder {
  struct pool *pool;
  pthread_barrier_t *start;
  unsigned id;
  int r, err;                           /* results, read after join */
};

/* Add one more device under the ident every adder shares.  The slow
 * stamp write keeps the winner's FAKE placeholder in the pool while
 * the others try.
 */
static void *
add_same (void *arg)
{
  struct adder *a = arg;
  struct membackend *mb;
  struct swapdev *dev;
  char name[32];

  snprintf (name, sizeof name, "alias%u", a->id);
  dev = mb_device_ident (name, "mem:contended", 16, 0, &mb);
  if (dev == NULL) {
    a->r = -2;
    return NULL;
  }
  mb_set_delay (mb, 20000);
  pthread_barrier_wait (a->start);
  a->r = pool_swapon_dev (a->pool, dev, 0);
  a->err = errno;
  return NULL;
}

Test (pool_devices, concurrent_adds_of_one_device_admit_exactly_one)
{
  struct adder a[ADDERS];
  pthread_t th[ADDERS];
  pthread_barrier_t start;
  unsigned t, won = 0;

  pthread_barrier_init (&start, NULL, ADDERS);
  for (t = 0; t < ADDERS; t++) {
    a[t] = (struct adder) { .pool = pool, .start = &start, .id = t };
    cr_assert_eq (pthread_create (&th[t], NULL, add_same, &a[t]), 0);
  }
  for (t = 0; t < ADDERS; t++) {
    pthread_join (th[t], NULL);
    if (a[t].r == 0)
      won++;
    else {
      cr_assert_eq (a[t].r, -1);
      cr_assert_eq (a[t].err, EBUSY, "adder %u: %s", t, strerror (a[t].err));
    }
  }
  cr_assert_eq (won, 1);
  cr_assert_eq (pool_ndevices (pool), 1);
  cr_assert_eq (pool_npages (pool), 16);
  fx_alloc_n (pool, 16);
  pthread_barrier_destroy (&start);
}

struct slow_add {
  struct pool *pool;
  struct swapdev *dev;
  int r;
};

static void *
slow_add (void *arg)
{
  struct slow_add *sa = arg;

  sa->r = pool_swapon_dev (sa->pool, sa->dev, 0);
  return NULL;
}

Test (pool_devices, a_device_being_added_is_listed_fake_and_takes_no_pages)
{
  struct membackend *mb;
  struct slow_add sa = { .pool = pool };
  struct pool_devstat st;
  pthread_t th;

  /* The swap-on stops in its stamp write until released, while the
   * device is a FAKE placeholder in the pool.
   */
  sa.dev = mb_device ("slow", 16, 0, &mb);
  cr_assert_not_null (sa.dev);
  mb_hold (mb, true);
  cr_assert_eq (pthread_create (&th, NULL, slow_add, &sa), 0);
  while (pool_ndevices (pool) == 0)
    sched_yield ();
  st = fx_stat_of (pool, "slow");
  cr_assert_eq (st.flags, SWF_FAKE);
  cr_assert_eq (pool_npages (pool), 0, "a FAKE device has no pages yet");
  fx_expect_enospc (pool, 1);
  mb_hold (mb, false);
  pthread_join (th, NULL);
  cr_assert_eq (sa.r, 0);
  cr_assert_eq (fx_stat_of (pool, "slow").flags, SWF_INUSE | SWF_ENABLE);
  fx_alloc_n (pool, 16);
}
