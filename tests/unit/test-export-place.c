/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of placement by region (struct pool_hint): the pages of
 * one 1 MiB region of an export land in one run of slots whatever the
 * order they are first written in, so a later request over them is one
 * device I/O; equal devices take turns region by region; priorities
 * still come first; and the runs are given up when the pool needs
 * their room.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"

TestSuite (place, .init = fx_quiet, .timeout = 60);

#define REGION POOL_REGION_PAGES

/* One page of test data for export page p: p's number all over it. */
static void
page_data (unsigned char *buf, uint64_t p)
{
  uint64_t i;

  for (i = 0; i < PAGE; i += sizeof p)
    memcpy (buf + i, &p, sizeof p);
}

/* Write the export pages [first, first + n) one at a time in an order
 * shuffled from seed.
 */
static void
write_shuffled (struct export *exp, uint64_t first, uint64_t n,
                uint64_t seed)
{
  uint64_t order[4 * REGION], i, state = seed;
  unsigned char buf[PAGE];

  cr_assert_leq (n, 4 * REGION);
  for (i = 0; i < n; i++)
    order[i] = first + i;
  for (i = n - 1; i > 0; i--) {
    uint64_t j = fx_next_random (&state) % (i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (i = 0; i < n; i++) {
    page_data (buf, order[i]);
    fx_pwrite_ok (exp, buf, PAGE, order[i] * PAGE);
  }
}

/* Assert that the export pages [first, first + n) read back as
 * page_data wrote them, with one read of the device behind mb.
 */
static void
expect_one_read (struct export *exp, struct membackend *mb, uint64_t first,
                 uint64_t n)
{
  static unsigned char want[4 * REGION * PAGE];
  uint64_t reads = mb_reads (mb), i;

  cr_assert_leq (n, 4 * REGION);
  for (i = 0; i < n; i++)
    page_data (want + i * PAGE, first + i);
  fx_expect_data (exp, first * PAGE, n * PAGE, want);
  cr_assert_eq (mb_reads (mb) - reads, 1,
                "pages %" PRIu64 "-%" PRIu64 " took %" PRIu64 " reads",
                first, first + n - 1, mb_reads (mb) - reads);
}

static uint64_t
inuse (struct pool *pool, const char *dev)
{
  return fx_stat_of (pool, dev).inuse;
}

Test (place, a_region_written_in_random_order_reads_back_in_one_io)
{
  struct pool *pool = fx_new_pool ();
  struct membackend *mb;
  struct export *exp;

  fx_add_dev (pool, "a", 4 * REGION, 0, &mb);
  exp = fx_new_export (pool, 4 * MIB);
  write_shuffled (exp, REGION, REGION, 1);
  expect_one_read (exp, mb, REGION, REGION);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (place, regions_written_interleaved_each_read_back_in_one_io)
{
  struct pool *pool = fx_new_pool ();
  struct membackend *mb;
  struct export *exp;
  uint64_t r;

  fx_add_dev (pool, "a", 4 * REGION, 0, &mb);
  exp = fx_new_export (pool, 4 * MIB);
  /* Three regions' pages in one shuffled order. */
  write_shuffled (exp, 0, 3 * REGION, 2);
  for (r = 0; r < 3; r++)
    expect_one_read (exp, mb, r * REGION, REGION);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (place, equal_devices_take_turns_by_region_not_by_page)
{
  struct pool *pool = fx_new_pool ();
  struct membackend *mba, *mbb, *first;
  struct export *exp;
  unsigned char buf[PAGE];

  fx_add_dev (pool, "a", 4 * REGION, 0, &mba);
  fx_add_dev (pool, "b", 4 * REGION, 0, &mbb);
  exp = fx_new_export (pool, 4 * MIB);
  page_data (buf, 0);
  fx_pwrite_ok (exp, buf, PAGE, 0);
  first = inuse (pool, "a") == 1 ? mba : mbb;
  /* The next region goes to the other device, the rest of each region
   * to the device its first page went to.
   */
  page_data (buf, REGION);
  fx_pwrite_ok (exp, buf, PAGE, REGION * PAGE);
  cr_assert_eq (inuse (pool, "a"), 1);
  cr_assert_eq (inuse (pool, "b"), 1);
  write_shuffled (exp, 0, 2 * REGION, 3);
  cr_assert_eq (inuse (pool, "a"), REGION);
  cr_assert_eq (inuse (pool, "b"), REGION);
  expect_one_read (exp, first, 0, REGION);
  expect_one_read (exp, first == mba ? mbb : mba, REGION, REGION);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (place, devices_smaller_than_a_region_take_turns_by_page)
{
  struct pool *pool = fx_new_pool ();
  struct export *exp;
  unsigned char buf[PAGE];
  uint64_t p;

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "b", 64, 0, NULL);
  exp = fx_new_export (pool, 1 * MIB);
  for (p = 0; p < 8; p++) {
    page_data (buf, p);
    fx_pwrite_ok (exp, buf, PAGE, p * PAGE);
    cr_assert_eq (inuse (pool, "a"), p / 2 + 1, "page %" PRIu64, p);
    cr_assert_eq (inuse (pool, "b"), (p + 1) / 2, "page %" PRIu64, p);
  }
  export_destroy (exp);
  pool_destroy (pool);
}

Test (place, a_preferred_device_wins_over_the_regions_place)
{
  struct pool *pool = fx_new_pool ();
  struct export *exp;
  unsigned char buf[PAGE];

  fx_add_dev (pool, "fast", REGION, 0, NULL);
  fx_add_dev (pool, "slow", 4 * REGION, 1, NULL);
  exp = fx_new_export (pool, 4 * MIB);
  /* Region 0 fills "fast"; page 256, in region 1, goes to "slow". */
  write_shuffled (exp, 0, REGION + 1, 4);
  cr_assert_eq (inuse (pool, "slow"), 1);
  /* Room on "fast" again: region 1's next page goes there, not next
   * to page 256.
   */
  cr_assert_eq (export_trim (exp, PAGE, 0), 0);
  page_data (buf, REGION + 1);
  fx_pwrite_ok (exp, buf, PAGE, (REGION + 1) * PAGE);
  cr_assert_eq (inuse (pool, "fast"), REGION);
  cr_assert_eq (inuse (pool, "slow"), 1);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (place, a_pool_with_no_free_region_left_still_takes_every_page)
{
  static bool written[8 * REGION];
  struct pool *pool = fx_new_pool ();
  struct export *exp;
  unsigned char buf[PAGE];
  uint64_t p, n = 0, state = 5;

  /* Room for two regions, an export of eight: once the first two
   * regions have taken the free runs, the other regions' pages go
   * into the runs' holes, until the pool is full to its last page.
   */
  fx_add_dev (pool, "a", 2 * REGION, 0, NULL);
  exp = fx_new_export (pool, 8 * MIB);
  while (n < 2 * REGION) {
    p = n < 8 ? n * REGION : fx_next_random (&state) % (8 * REGION);
    if (written[p])
      continue;
    page_data (buf, p);
    fx_pwrite_ok (exp, buf, PAGE, p * PAGE);
    written[p] = true;
    n++;
  }
  cr_assert_eq (inuse (pool, "a"), 2 * REGION);
  for (p = 0; p < 8 * REGION; p++) {
    if (written[p]) {
      page_data (buf, p);
      fx_expect_data (exp, p * PAGE, PAGE, buf);
    }
    else
      fx_expect_zeros (exp, p * PAGE, PAGE);
  }
  for (p = 0; written[p]; p++)
    ;
  page_data (buf, p);
  fx_pwrite_fails (exp, buf, PAGE, p * PAGE, ENOSPC);
  export_destroy (exp);
  pool_destroy (pool);
}
