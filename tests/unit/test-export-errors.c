/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the export data path (server/export/export.c) when devices
 * fail or the pool fills: failed writes move to good slots and mark
 * the bad ones (the seed's uvm_swap_markbad), a device that keeps
 * failing ends FAILED, failed reads give EIO, a full pool gives
 * ENOSPC and keeps the data it has.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"

/* Every test starts with an empty pool and a 1 MiB export "test" over
 * it, and adds the devices it needs; both are destroyed after it.
 */
static struct pool *pool;
static struct export *exp;

static void
setup (void)
{
  fx_quiet ();
  pool = fx_new_pool ();
  exp = fx_new_export (pool, MIB);
}

static void
teardown (void)
{
  export_destroy (exp);
  pool_destroy (pool);
}

TestSuite (export_errors, .init = setup, .fini = teardown);

/* Bytes that tell pages apart: page p of a write with tag t. */
static void
fill_pattern (unsigned char *buf, uint64_t npages, unsigned tag)
{
  uint64_t i;

  for (i = 0; i < npages * PAGE; i++)
    buf[i] = (unsigned char) (tag * 31 + i / PAGE * 7 + i % 251 + 1);
}

/* Fill npages pages of buf with the pattern of tag and write them at
 * offset: buf then holds what the export must read there.
 */
static void
write_pattern (struct export *exp, unsigned char *buf, uint64_t npages,
               unsigned tag, uint64_t offset)
{
  fill_pattern (buf, npages, tag);
  fx_pwrite_ok (exp, buf, npages * PAGE, offset);
}

/* ---- write errors ---- */

Test (export_errors, a_failed_write_of_new_pages_lands_on_other_slots)
{
  static unsigned char data[8 * PAGE];
  struct membackend *ma;
  struct pool_devstat sa, sb;
  dev_page_t p;

  fx_add_dev (pool, "a", 64, 0, &ma);
  fx_add_dev (pool, "b", 64, 0, NULL);
  for (p = 0; p < 4; p++)
    mb_fail_write_page (ma, p, true);
  write_pattern (exp, data, 8, 1, 0);
  fx_expect_data (exp, 0, sizeof data, data);
  sa = fx_stat_of (pool, "a");
  sb = fx_stat_of (pool, "b");
  cr_assert_gt (sa.bad, 0, "a failing page is marked bad");
  cr_assert_leq (sa.bad, 4, "only failing pages are marked bad");
  cr_assert_gt (sa.write_errors, 0);
  cr_assert_eq (sa.inuse + sb.inuse, 8, "one slot per page, none leaked");
  cr_assert_eq (sa.flags & SWF_FAILED, 0, "a few errors do not fail it");
  cr_assert_eq (mb_log_errors (), 0, "the client sees success: %s",
                mb_log_last ());
}

Test (export_errors, a_failed_overwrite_moves_the_page_and_marks_the_slot_bad)
{
  unsigned char data[PAGE], piece[512];
  struct membackend *ma;
  struct pool_devstat sa;

  fx_add_dev (pool, "a", 64, 0, &ma);
  fx_add_dev (pool, "b", 64, 5, NULL);
  write_pattern (exp, data, 1, 2, 3 * PAGE);            /* a's page 0 */
  mb_fail_write_page (ma, 0, true);
  memset (piece, 0xee, sizeof piece);
  fx_pwrite_ok (exp, piece, sizeof piece, 3 * PAGE + 1024);
  memcpy (data + 1024, piece, sizeof piece);
  fx_expect_data (exp, 3 * PAGE, PAGE, data);
  sa = fx_stat_of (pool, "a");
  cr_assert_eq (sa.bad, 1);
  cr_assert_eq (sa.inuse, 1, "the page moved to another slot of a");
  cr_assert_eq (memcmp (mb_page (ma, 1), data, PAGE), 0,
                "the new slot holds the old page with the piece over it");
  export_destroy (exp);
  exp = NULL;                   /* destroyed: nothing left for teardown */
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 0, "the bad slot stays bad");
  cr_assert_eq (fx_stat_of (pool, "a").bad, 1);
}

Test (export_errors, a_failed_overwrite_of_a_run_moves_only_the_failing_page)
{
  static unsigned char data[4 * PAGE];
  struct membackend *ma;

  fx_add_dev (pool, "a", 64, 0, &ma);
  write_pattern (exp, data, 4, 3, 0);                   /* a's 0..3 */
  mb_fail_write_page (ma, 2, true);
  write_pattern (exp, data, 4, 4, 0);
  fx_expect_data (exp, 0, sizeof data, data);
  cr_assert_eq (fx_stat_of (pool, "a").bad, 1);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 4);
  cr_assert_eq (memcmp (mb_page (ma, 0), data, 2 * PAGE), 0);
  cr_assert_eq (memcmp (mb_page (ma, 3), data + 3 * PAGE, PAGE), 0);
  cr_assert_eq (memcmp (mb_page (ma, 4), data + 2 * PAGE, PAGE), 0);
}

Test (export_errors, a_device_failing_all_writes_is_failed_writes_go_elsewhere)
{
  static unsigned char data[32 * PAGE];
  struct membackend *ma;
  struct pool_devstat sa;
  int i;

  fx_add_dev (pool, "a", 64, 0, &ma);
  fx_add_dev (pool, "b", 64, 0, NULL);
  mb_fail_all_writes (ma, true);
  fill_pattern (data, 32, 5);
  for (i = 0; i < 4; i++)
    fx_pwrite_ok (exp, data + i * 8 * PAGE, 8 * PAGE, i * 8 * PAGE);
  fx_expect_data (exp, 0, sizeof data, data);
  sa = fx_stat_of (pool, "a");
  cr_assert (sa.flags & SWF_FAILED, "a is FAILED");
  cr_assert_eq (sa.inuse, 0, "nothing lives on a");
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 32);
  cr_assert (mb_log_has ("swap: a: 8 I/O errors in a row: marked FAILED"),
             "got: %s", mb_log_last ());
  cr_assert_eq (mb_log_errors (), 1, "only the FAILED report");
}

Test (export_errors, a_write_no_device_can_take_fails_and_leaks_no_slot)
{
  static unsigned char data[2 * PAGE];
  struct membackend *ma, *mb;

  fx_add_dev (pool, "a", 64, 0, &ma);
  fx_add_dev (pool, "b", 64, 0, &mb);
  mb_fail_all_writes (ma, true);
  mb_fail_all_writes (mb, true);
  fill_pattern (data, 2, 6);
  errno = 0;
  cr_assert_eq (export_pwrite (exp, data, sizeof data, 0, false), -1);
  cr_assert (errno == EIO || errno == ENOSPC, "errno %d", errno);
  fx_expect_zeros (exp, 0, sizeof data);
  cr_assert_eq (fx_pool_inuse (pool), 0);
}

Test (export_errors, partly_overwriting_an_unreadable_failing_page_gives_eio)
{
  unsigned char data[PAGE];
  struct membackend *ma;

  fx_add_dev (pool, "a", 64, 0, &ma);
  write_pattern (exp, data, 1, 7, 0);
  mb_fail_write_page (ma, 0, true);
  mb_fail_read_page (ma, 0, true);
  fx_pwrite_fails (exp, data, 100, 50, EIO);
  cr_assert (mb_log_has ("write: export page 0: a page 0: cannot read the "
                         "rest of the page: "), "got: %s", mb_log_last ());
}

/* ---- read errors ---- */

Test (export_errors, a_failed_read_gives_eio_and_other_pages_still_read)
{
  static unsigned char data[4 * PAGE], got[4 * PAGE];
  struct membackend *ma;

  fx_add_dev (pool, "a", 64, 0, &ma);
  write_pattern (exp, data, 4, 8, 10 * PAGE);           /* a's 0..3 */
  mb_fail_read_page (ma, 2, true);
  fx_pread_fails (exp, got, PAGE, 12 * PAGE, EIO);
  cr_assert_str_eq (mb_log_last (),
                    "read: export page 12: a page 2: Input/output error");
  /* A piece of the page fails too. */
  fx_pread_fails (exp, got, 512, 12 * PAGE + 1024, EIO);
  fx_expect_data (exp, 10 * PAGE, 2 * PAGE, data);
  fx_expect_data (exp, 13 * PAGE, PAGE, data + 3 * PAGE);
}

Test (export_errors, a_long_read_across_a_failing_page_fails_whole)
{
  static unsigned char data[4 * PAGE], got[4 * PAGE];
  struct membackend *ma;

  fx_add_dev (pool, "a", 64, 0, &ma);
  write_pattern (exp, data, 4, 9, 0);
  mb_fail_read_page (ma, 3, true);
  fx_pread_fails (exp, got, sizeof got, 0, EIO);
}

/* ---- a full pool ---- */

Test (export_errors, a_full_pool_gives_enospc_and_keeps_the_data_it_has)
{
  static unsigned char old[10 * PAGE], big[40 * PAGE];

  fx_add_dev (pool, "a", 16, 0, NULL);
  fx_add_dev (pool, "b", 16, 0, NULL);
  write_pattern (exp, old, 10, 10, 0);
  fill_pattern (big, 40, 11);
  fx_pwrite_fails (exp, big, sizeof big, 10 * PAGE, ENOSPC);
  cr_assert (mb_log_has ("the pool is full"), "got: %s", mb_log_last ());
  fx_expect_data (exp, 0, sizeof old, old);
  /* The 22 pages that fitted hold their new data; the rest read as
   * zeros.
   */
  fx_expect_data (exp, 10 * PAGE, 22 * PAGE, big);
  fx_expect_zeros (exp, 32 * PAGE, 18 * PAGE);
}

Test (export_errors, a_partial_write_to_a_new_page_of_a_full_pool_gives_enospc)
{
  static unsigned char data[8 * PAGE];

  fx_add_dev (pool, "a", 8, 0, NULL);
  fx_pwrite_ok (exp, data, sizeof data, 0);
  fx_pwrite_fails (exp, data, 1, 100 * PAGE + 7, ENOSPC);
}

Test (export_errors, overwrites_still_work_when_the_pool_is_full)
{
  static unsigned char data[8 * PAGE];

  fx_add_dev (pool, "a", 8, 0, NULL);
  write_pattern (exp, data, 8, 12, 0);
  fill_pattern (data, 8, 13);
  fx_pwrite_ok (exp, data + 1000, 5 * PAGE, 1000);
  fx_pwrite_ok (exp, data, 1000, 0);
  fx_pwrite_ok (exp, data + 5 * PAGE + 1000, 3 * PAGE - 1000,
                5 * PAGE + 1000);
  fx_expect_data (exp, 0, sizeof data, data);
}

Test (export_errors, trimming_a_full_pool_makes_room_again)
{
  static unsigned char data[8 * PAGE], more[2 * PAGE];

  fx_add_dev (pool, "a", 8, 0, NULL);
  write_pattern (exp, data, 8, 14, 0);
  fill_pattern (more, 2, 15);
  fx_pwrite_fails (exp, more, sizeof more, 50 * PAGE, ENOSPC);
  cr_assert_eq (export_trim (exp, 2 * PAGE, 3 * PAGE), 0);
  fx_pwrite_ok (exp, more, sizeof more, 50 * PAGE);
  fx_expect_data (exp, 50 * PAGE, sizeof more, more);
  fx_expect_data (exp, 0, 3 * PAGE, data);
  fx_expect_data (exp, 5 * PAGE, 3 * PAGE, data + 5 * PAGE);
}
