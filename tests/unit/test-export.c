/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the export data path (server/export/export.c) over a pool of
 * in-memory devices: reads, writes (aligned or not), zero, trim,
 * extents and slot accounting, one behaviour per test.  The
 * randomized model check and map laziness are in test-export-model.c,
 * device errors and ENOSPC in test-export-errors.c, threads in
 * test-export-threads.c.
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

TestSuite (export, .init = setup, .fini = teardown);

/* Extents as a list, for the tests to look at. */
struct extent {
  uint64_t offset, length;
  bool hole;
};
struct extent_list {
  size_t n;
  struct extent e[64];
  size_t stop_after;            /* return 1 after this many; 0: never */
};

static int
add_extent (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  struct extent_list *l = opaque;

  cr_assert_lt (l->n, 64);
  l->e[l->n++] = (struct extent) { offset, length, hole };
  return l->stop_after && l->n == l->stop_after;
}

/* ---- creation ---- */

Test (export, create_rounds_the_size_down_to_whole_pages)
{
  struct export *odd = fx_new_export (pool, 3 * PAGE + 1000);

  cr_assert_eq (export_size (odd), 3 * PAGE);
  cr_assert_str_eq (export_name (odd), "test2");
  export_destroy (odd);
}

Test (export, an_export_smaller_than_a_page_is_refused)
{
  cr_assert_null (export_create (pool, "tiny", PAGE - 1));
  cr_assert_str_eq (mb_log_last (),
                    "export: tiny: size must be at least 4096 bytes");
  export_destroy (NULL);
}

/* ---- reads and writes ---- */

/* Fill count bytes of buf with random data from *seed and write them
 * at offset: buf then holds what the export must read there.
 */
static void
write_random (struct export *exp, unsigned char *buf, uint64_t count,
              uint64_t offset, uint64_t *seed)
{
  fx_fill_random (buf, count, seed);
  fx_pwrite_ok (exp, buf, count, offset);
}

Test (export, an_unwritten_export_reads_as_zeros_without_device_io)
{
  struct membackend *mb;
  uint64_t reads;

  fx_add_dev (pool, "a", 64, 0, &mb);
  reads = mb_reads (mb);
  fx_expect_zeros (exp, 0, MIB);
  fx_expect_zeros (exp, 513, 3 * PAGE + 7);
  fx_expect_zeros (exp, MIB - 1, 1);
  cr_assert_eq (mb_reads (mb), reads);
  cr_assert_eq (fx_pool_inuse (pool), 0);
}

Test (export, a_whole_page_write_lands_on_the_preferred_device)
{
  struct membackend *ma;
  unsigned char data[PAGE];
  uint64_t seed = 1;

  fx_add_dev (pool, "b", 64, 1, NULL);
  fx_add_dev (pool, "a", 64, 0, &ma);
  write_random (exp, data, PAGE, 5 * PAGE, &seed);
  fx_expect_data (exp, 5 * PAGE, PAGE, data);
  cr_assert_eq (memcmp (mb_page (ma, 0), data, PAGE), 0,
                "first fit on the preferred device: its page 0");
  fx_expect_zeros (exp, 4 * PAGE, PAGE);
  fx_expect_zeros (exp, 6 * PAGE, PAGE);
  cr_assert_eq (fx_pool_inuse (pool), 1);
}

Test (export, a_partial_write_to_a_new_page_keeps_zeros_around_it)
{
  unsigned char data[512], page[PAGE] = { 0 };
  uint64_t seed = 2;

  fx_add_dev (pool, "a", 64, 0, NULL);
  write_random (exp, data, sizeof data, 7 * PAGE + 1024, &seed);
  memcpy (page + 1024, data, sizeof data);
  fx_expect_data (exp, 7 * PAGE, PAGE, page);
  cr_assert_eq (fx_pool_inuse (pool), 1);
}

Test (export, a_write_straddling_pages_at_an_odd_offset_reads_back)
{
  unsigned char data[PAGE + 13], want[4 * PAGE] = { 0 };
  uint64_t seed = 3;

  fx_add_dev (pool, "a", 64, 0, NULL);
  write_random (exp, data, sizeof data, 3 * PAGE - 7, &seed);
  memcpy (want + PAGE - 7, data, sizeof data);
  fx_expect_data (exp, 2 * PAGE, 4 * PAGE, want);
  cr_assert_eq (fx_pool_inuse (pool), 3, "pages 2, 3 and 4");
}

Test (export, an_overwrite_keeps_its_slot)
{
  struct membackend *ma;
  unsigned char data[PAGE], piece[100];
  uint64_t seed = 4;

  fx_add_dev (pool, "a", 64, 0, &ma);
  write_random (exp, data, PAGE, 0, &seed);
  write_random (exp, piece, sizeof piece, 333, &seed);
  memcpy (data + 333, piece, sizeof piece);
  fx_expect_data (exp, 0, PAGE, data);
  cr_assert_eq (fx_pool_inuse (pool), 1);
  cr_assert_eq (memcmp (mb_page (ma, 0), data, PAGE), 0);
}

Test (export, a_multi_page_write_to_new_pages_is_one_device_write)
{
  struct membackend *ma;
  static unsigned char data[16 * PAGE];
  uint64_t seed = 5, writes, reads;

  fx_add_dev (pool, "a", 64, 0, &ma);
  writes = mb_writes (ma);
  write_random (exp, data, sizeof data, 8 * PAGE, &seed);
  cr_assert_eq (mb_writes (ma) - writes, 2,
                "one run: one data I/O, one for its records");
  cr_assert_eq (memcmp (mb_page (ma, 0), data, sizeof data), 0);
  reads = mb_reads (ma);
  fx_expect_data (exp, 8 * PAGE, sizeof data, data);
  cr_assert_eq (mb_reads (ma) - reads, 1, "read back as one run too");
}

Test (export, a_write_larger_than_any_device_run_is_split_across_devices)
{
  static unsigned char data[24 * PAGE];
  uint64_t seed = 6;

  fx_add_dev (pool, "a", 16, 0, NULL);
  fx_add_dev (pool, "b", 16, 0, NULL);
  write_random (exp, data, sizeof data, 0, &seed);
  fx_expect_data (exp, 0, sizeof data, data);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 16);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 8);
}

/* ---- zero and trim ---- */

Test (export, zero_unmaps_whole_pages_and_zeros_partial_ones)
{
  static unsigned char data[4 * PAGE];
  uint64_t seed = 7;

  fx_add_dev (pool, "a", 64, 0, NULL);
  write_random (exp, data, sizeof data, 0, &seed);
  cr_assert_eq (export_zero (exp, 2 * PAGE + 100 - 2048, 2048, false), 0);
  memset (data + 2048, 0, 2 * PAGE + 100 - 2048);
  fx_expect_data (exp, 0, 4 * PAGE, data);
  cr_assert_eq (fx_pool_inuse (pool), 3, "page 1 is unmapped");
  cr_assert_eq (export_zero (exp, 2 * PAGE - 1, PAGE + 1, false), 0);
  memset (data + PAGE + 1, 0, 2 * PAGE - 1);
  fx_expect_data (exp, 0, 4 * PAGE, data);
  cr_assert_eq (fx_pool_inuse (pool), 2, "pages 0 and 3 hold data");
  cr_assert_eq (fx_mapped_pages (exp), 2);
}

Test (export, zeroing_unwritten_pages_allocates_nothing)
{
  fx_add_dev (pool, "a", 64, 0, NULL);
  cr_assert_eq (export_zero (exp, 10, 100, false), 0);
  cr_assert_eq (export_zero (exp, 100, 3 * PAGE + 5, false), 0);
  cr_assert_eq (export_zero (exp, 20, 5 * PAGE - 10, false), 0);
  cr_assert_eq (export_zero (exp, 0, 0, false), 0);
  cr_assert_eq (fx_pool_inuse (pool), 0);
  fx_expect_zeros (exp, 0, 8 * PAGE);
}

Test (export, trim_unmaps_whole_pages_and_leaves_partial_ones_alone)
{
  static unsigned char data[4 * PAGE];
  uint64_t seed = 8;

  fx_add_dev (pool, "a", 64, 0, NULL);
  write_random (exp, data, sizeof data, 0, &seed);
  cr_assert_eq (export_trim (exp, 2 * PAGE + 150, PAGE - 100), 0);
  memset (data + PAGE, 0, 2 * PAGE);
  fx_expect_data (exp, 0, 4 * PAGE, data);
  cr_assert_eq (fx_pool_inuse (pool), 2, "pages 1 and 2 are unmapped");
  cr_assert_eq (export_trim (exp, 100, PAGE - 100), 0, "inside one page");
  cr_assert_eq (export_trim (exp, 2, 4 * PAGE - 1), 0, "across an edge");
  cr_assert_eq (export_trim (exp, 0, 0), 0);
  cr_assert_eq (fx_pool_inuse (pool), 2);
  fx_expect_data (exp, 0, 4 * PAGE, data);
}

Test (export, after_a_trim_new_writes_land_on_the_preferred_device_again)
{
  struct membackend *ma;
  static unsigned char data[12 * PAGE], more[4 * PAGE];
  uint64_t seed = 9;

  fx_add_dev (pool, "a", 8, 0, &ma);
  fx_add_dev (pool, "b", 64, 1, NULL);
  write_random (exp, data, sizeof data, 0, &seed);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 8);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 4);
  cr_assert_eq (export_trim (exp, 2 * PAGE, 4 * PAGE), 0);
  cr_assert_eq (export_zero (exp, 4 * PAGE, 4 * PAGE, false), 0);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 4);
  write_random (exp, more, sizeof more, 100 * PAGE, &seed);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 8);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 4);
  cr_assert_eq (memcmp (mb_page (ma, 4), more, sizeof more), 0,
                "the freed pages of a are reused");
  fx_expect_data (exp, 100 * PAGE, sizeof more, more);
  fx_expect_data (exp, 0, 4 * PAGE, data);
  fx_expect_zeros (exp, 4 * PAGE, 4 * PAGE);
  fx_expect_data (exp, 8 * PAGE, 4 * PAGE, data + 8 * PAGE);
}

/* ---- extents ---- */

static void
expect_extent (const struct extent_list *l, size_t i, uint64_t offset,
               uint64_t length, bool hole)
{
  cr_assert_lt (i, l->n, "only %zu extents", l->n);
  cr_assert_eq (l->e[i].offset, offset, "extent %zu at %" PRIu64, i,
                l->e[i].offset);
  cr_assert_eq (l->e[i].length, length, "extent %zu of %" PRIu64, i,
                l->e[i].length);
  cr_assert_eq (l->e[i].hole, hole, "extent %zu hole", i);
}

Test (export, extents_report_holes_and_data_from_the_requested_offset)
{
  static unsigned char data[2 * PAGE];
  struct extent_list l = { 0 };

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_pwrite_ok (exp, data, 2 * PAGE, 2 * PAGE);         /* pages 2, 3 */
  fx_pwrite_ok (exp, data, 1, 7 * PAGE + 4000);         /* page 7 */
  cr_assert_eq (export_extents (exp, 10 * PAGE - 1000 - 5, 1000,
                                add_extent, &l), 0);
  cr_assert_eq (l.n, 5);
  expect_extent (&l, 0, 1000, 2 * PAGE - 1000, true);
  expect_extent (&l, 1, 2 * PAGE, 2 * PAGE, false);
  expect_extent (&l, 2, 4 * PAGE, 3 * PAGE, true);
  expect_extent (&l, 3, 7 * PAGE, PAGE, false);
  expect_extent (&l, 4, 8 * PAGE, 2 * PAGE - 5, true);
  l.n = 0;
  cr_assert_eq (export_extents (exp, 100, 2 * PAGE + 50, add_extent, &l),
                0);
  cr_assert_eq (l.n, 1);
  expect_extent (&l, 0, 2 * PAGE + 50, 100, false);
}

Test (export, extents_of_an_unwritten_export_are_one_hole)
{
  struct extent_list l = { 0 };
  struct export *big = fx_new_export (pool, 1024 * MIB);

  cr_assert_eq (export_extents (big, 1024 * MIB - 3, 3, add_extent, &l),
                0);
  cr_assert_eq (l.n, 1);
  expect_extent (&l, 0, 3, 1024 * MIB - 3, true);
  export_destroy (big);
}

Test (export, extents_stop_when_the_callback_says_so)
{
  static unsigned char data[PAGE];
  struct extent_list l = { .stop_after = 2 };

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_pwrite_ok (exp, data, PAGE, PAGE);
  fx_pwrite_ok (exp, data, PAGE, 3 * PAGE);
  cr_assert_eq (export_extents (exp, 8 * PAGE, 0, add_extent, &l), 1);
  cr_assert_eq (l.n, 2);
}

/* ---- slots and memory ---- */

Test (export, destroy_gives_every_slot_back_to_the_pool)
{
  static unsigned char data[8 * PAGE];
  struct export *other;

  fx_add_dev (pool, "a", 32, 0, NULL);
  fx_add_dev (pool, "b", 32, 0, NULL);
  other = fx_new_export (pool, MIB);
  fx_pwrite_ok (exp, data, sizeof data, 0);
  fx_pwrite_ok (exp, data, 100, 50 * PAGE + 7);
  fx_pwrite_ok (other, data, sizeof data, 0);
  cr_assert_eq (fx_pool_inuse (pool), 17);
  export_destroy (exp);
  exp = NULL;                   /* destroyed: nothing left for teardown */
  cr_assert_eq (fx_pool_inuse (pool), 8, "the other export keeps its pages");
  fx_expect_data (other, 0, sizeof data, data);
  export_destroy (other);
  cr_assert_eq (fx_pool_inuse (pool), 0);
  cr_assert_eq (mb_log_errors (), 0, "got: %s", mb_log_last ());
}

Test (export, flush_reaches_the_devices_written)
{
  struct membackend *ma, *mb;
  static unsigned char data[PAGE];

  fx_add_dev (pool, "a", 64, 0, &ma);
  fx_add_dev (pool, "b", 64, 1, &mb);
  cr_assert_eq (export_flush (exp), 0);   /* both say clean from here */
  fx_pwrite_ok (exp, data, PAGE, 0);
  cr_assert_eq (export_flush (exp), 0);
  cr_assert_eq (mb_flushes (ma), 2);
  cr_assert_eq (mb_flushes (mb), 1);
}
