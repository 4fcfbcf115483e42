/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the free-page allocator (server/storage/blist.c): one
 * behaviour per test, then a randomized check against a naive model.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "storage/blist.h"

/* The allocator's leaf size, repeated here only to place runs across
 * leaf and node boundaries on purpose.
 */
#define LEAF 512

/* A blist of npages pages with every page allocated. */
static struct blist *
full_blist (uint64_t npages)
{
  struct blist *bl = blist_create (npages);
  dev_page_t start;

  cr_assert_not_null (bl);
  cr_assert_eq (blist_alloc (bl, npages, false, &start), npages);
  cr_assert_eq (start, 0);
  cr_assert_eq (blist_avail (bl), 0);
  return bl;
}

/* Free [start, start + n) and check that it worked. */
static void
free_ok (struct blist *bl, dev_page_t start, uint64_t n)
{
  cr_assert_eq (blist_free (bl, start, n), 0,
                "free (%" PRIu64 ", %" PRIu64 ") failed", start, n);
}

/* Assert that freeing [start, start + n) fails with EINVAL (and so,
 * by blist_free's contract, changes nothing).
 */
static void
expect_free_fails (struct blist *bl, dev_page_t start, uint64_t n)
{
  errno = 0;
  cr_assert_eq (blist_free (bl, start, n), -1,
                "free (%" PRIu64 ", %" PRIu64 ") worked", start, n);
  cr_assert_eq (errno, EINVAL, "free (%" PRIu64 ", %" PRIu64 ")", start, n);
}

/* Assert that reserving [start, start + n) fails with EINVAL. */
static void
expect_reserve_fails (struct blist *bl, dev_page_t start, uint64_t n)
{
  errno = 0;
  cr_assert_eq (blist_reserve (bl, start, n), -1,
                "reserve (%" PRIu64 ", %" PRIu64 ") worked", start, n);
  cr_assert_eq (errno, EINVAL, "reserve (%" PRIu64 ", %" PRIu64 ")",
                start, n);
}

/* Allocate want pages without lessok; check the count and the start. */
static void
alloc_expect (struct blist *bl, uint64_t want, dev_page_t expect)
{
  dev_page_t start = UINT64_MAX;

  cr_assert_eq (blist_alloc (bl, want, false, &start), want,
                "alloc (%" PRIu64 ") failed", want);
  cr_assert_eq (start, expect, "alloc (%" PRIu64 ") at %" PRIu64
                ", expected %" PRIu64, want, start, expect);
}

/* Allocate want pages with lessok; check that got pages came, starting
 * at expect.
 */
static void
alloc_lessok_expect (struct blist *bl, uint64_t want, uint64_t got,
                     dev_page_t expect)
{
  dev_page_t start = UINT64_MAX;

  cr_assert_eq (blist_alloc (bl, want, true, &start), got,
                "lessok alloc (%" PRIu64 ") did not give %" PRIu64,
                want, got);
  cr_assert_eq (start, expect, "lessok alloc (%" PRIu64 ") at %" PRIu64
                ", expected %" PRIu64, want, start, expect);
}

/* Check that every page in [start, start + n) is free or allocated. */
static void
expect_range (const struct blist *bl, dev_page_t start, uint64_t n,
              bool free)
{
  for (uint64_t p = start; p < start + n; p++)
    cr_assert_eq (blist_is_free (bl, p), free, "page %" PRIu64, p);
}

/* Allocate single pages until the allocator says none is left; check
 * each page is new and inside [0, npages), and that all were given.
 */
static void
drain_one_by_one (struct blist *bl)
{
  uint64_t npages = blist_npages (bl);
  uint64_t count = 0;
  dev_page_t start;

  while (blist_alloc (bl, 1, false, &start) == 1) {
    cr_assert_lt (start, npages);
    cr_assert_eq (start, count, "first fit hands out pages in order");
    count++;
  }
  cr_assert_eq (count, npages);
  cr_assert_eq (blist_avail (bl), 0);
  cr_assert_eq (blist_largest_run (bl), 0);
}

/* Allocate runs of up to want pages with lessok until none is left;
 * check that each starts where the last ended, and that together they
 * cover all npages pages of the blist, from page 0.
 */
static void
drain_in_runs (struct blist *bl, uint64_t want, uint64_t npages)
{
  uint64_t total = 0, got;
  dev_page_t start;

  while ((got = blist_alloc (bl, want, true, &start)) > 0) {
    cr_assert_eq (start, total);
    total += got;
  }
  cr_assert_eq (total, npages);
  cr_assert_eq (blist_avail (bl), 0);
}

/* Creation and queries. */

Test (blist, a_new_blist_is_all_free)
{
  struct blist *bl = blist_create (3000);

  cr_assert_not_null (bl);
  cr_assert_eq (blist_npages (bl), 3000);
  cr_assert_eq (blist_avail (bl), 3000);
  cr_assert_eq (blist_largest_run (bl), 3000);
  expect_range (bl, 0, 3000, true);
  cr_assert_not (blist_is_free (bl, 3000), "past the end is never free");
  blist_destroy (bl);
}

Test (blist, create_rejects_zero_pages)
{
  errno = 0;
  cr_assert_null (blist_create (0));
  cr_assert_eq (errno, EINVAL);
}

Test (blist, create_rejects_more_than_the_maximum_pages)
{
  errno = 0;
  cr_assert_null (blist_create (BLIST_MAX_PAGES + 1));
  cr_assert_eq (errno, EINVAL);
  errno = 0;
  cr_assert_null (blist_create (UINT64_MAX));
  cr_assert_eq (errno, EINVAL);
}

Test (blist, destroy_accepts_null)
{
  blist_destroy (NULL);
}

/* Runs. */

Test (blist, allocations_are_handed_out_from_the_lowest_page_up)
{
  struct blist *bl = blist_create (10000);

  alloc_expect (bl, 1, 0);
  alloc_expect (bl, 7, 1);
  alloc_expect (bl, 64, 8);
  alloc_expect (bl, 100, 72);
  cr_assert_eq (blist_avail (bl), 10000 - 172);
  cr_assert_eq (blist_largest_run (bl), 10000 - 172);
  expect_range (bl, 0, 172, false);
  cr_assert (blist_is_free (bl, 172));
  blist_destroy (bl);
}

Test (blist, a_run_crossing_a_word_boundary_is_found)
{
  struct blist *bl = full_blist (LEAF);

  free_ok (bl, 60, 10);
  alloc_expect (bl, 10, 60);
  cr_assert_eq (blist_avail (bl), 0);
  blist_destroy (bl);
}

Test (blist, a_run_crossing_a_leaf_boundary_is_found)
{
  struct blist *bl = full_blist (4 * LEAF);

  /* 500..523 crosses the leaf boundary at 512, inside the left half. */
  free_ok (bl, 500, 24);
  alloc_expect (bl, 24, 500);
  blist_destroy (bl);
}

Test (blist, a_run_crossing_the_middle_of_the_tree_is_found)
{
  struct blist *bl = full_blist (4 * LEAF);

  /* 2 * LEAF is the boundary between the root's two children; a small
   * hole to the left must not be taken for a run that does not fit.
   */
  free_ok (bl, 10, 5);
  free_ok (bl, 2 * LEAF - 3, 8);
  alloc_expect (bl, 8, 2 * LEAF - 3);
  alloc_expect (bl, 5, 10);
  cr_assert_eq (blist_avail (bl), 0);
  blist_destroy (bl);
}

Test (blist, a_run_spanning_several_leaves_is_found)
{
  struct blist *bl = full_blist (16 * LEAF);

  free_ok (bl, 3 * LEAF - 1, 1);        /* a one-page hole first */
  free_ok (bl, 5 * LEAF - 7, 6 * LEAF); /* crosses seven boundaries */
  alloc_expect (bl, 6 * LEAF, 5 * LEAF - 7);
  alloc_expect (bl, 1, 3 * LEAF - 1);
  blist_destroy (bl);
}

Test (blist, runs_longer_than_a_leaf_are_allocated)
{
  struct blist *bl = blist_create (100000);

  alloc_expect (bl, 513, 0);
  alloc_expect (bl, 2000, 513);
  alloc_expect (bl, 50000, 2513);
  expect_range (bl, 0, 52513, false);
  cr_assert_eq (blist_largest_run (bl), 100000 - 52513);
  blist_destroy (bl);
}

Test (blist, the_whole_blist_can_be_taken_in_one_run)
{
  struct blist *bl = blist_create (77777);

  alloc_expect (bl, 77777, 0);
  cr_assert_eq (blist_avail (bl), 0);
  cr_assert_eq (blist_largest_run (bl), 0);
  blist_destroy (bl);
}

Test (blist, a_run_of_zero_pages_is_refused)
{
  struct blist *bl = blist_create (100);
  dev_page_t start = 42;

  cr_assert_eq (blist_alloc (bl, 0, false, &start), 0);
  cr_assert_eq (blist_alloc (bl, 0, true, &start), 0);
  cr_assert_eq (start, 42, "start is not touched");
  cr_assert_eq (blist_avail (bl), 100);
  blist_destroy (bl);
}

/* Leaf summaries: the allocator caches each leaf's runs and must
 * refresh every leaf a range touches, not only the leaves at its ends.
 */

Test (blist, freeing_across_leaves_refreshes_every_leaf_in_between)
{
  struct blist *bl = full_blist (8 * LEAF);

  /* Leaves 1 to 3 become wholly free, leaves 0 and 4 partly. */
  free_ok (bl, LEAF - 5, 3 * LEAF + 10);
  cr_assert_eq (blist_largest_run (bl), 3 * LEAF + 10);
  /* A page in the middle of leaf 2 splits the run there. */
  cr_assert_eq (blist_reserve (bl, 2 * LEAF + 100, 1), 0);
  cr_assert_eq (blist_largest_run (bl), 2 * LEAF - 96);
  alloc_expect (bl, 2 * LEAF - 96, 2 * LEAF + 101);
  alloc_expect (bl, LEAF + 105, LEAF - 5);
  cr_assert_eq (blist_avail (bl), 0);
  cr_assert_eq (blist_largest_run (bl), 0);
  blist_destroy (bl);
}

Test (blist, reserving_across_leaves_refreshes_every_leaf_in_between)
{
  struct blist *bl = blist_create (8 * LEAF);

  /* Leaves 1 and 2 become wholly allocated, leaves 0 and 3 partly. */
  cr_assert_eq (blist_reserve (bl, LEAF - 3, 2 * LEAF + 6), 0);
  cr_assert_eq (blist_largest_run (bl), 5 * LEAF - 3);
  alloc_expect (bl, LEAF - 3, 0);
  alloc_expect (bl, 1, 3 * LEAF + 3);   /* not a page of leaf 1 or 2 */
  blist_destroy (bl);
}

Test (blist, allocating_across_leaves_refreshes_every_leaf_in_between)
{
  struct blist *bl = blist_create (8 * LEAF);

  alloc_expect (bl, 3 * LEAF + 10, 0);
  alloc_expect (bl, 1, 3 * LEAF + 10);  /* not a page of leaf 1 or 2 */
  cr_assert_eq (blist_largest_run (bl), 5 * LEAF - 11);
  blist_destroy (bl);
}

Test (blist, a_failed_free_across_leaves_leaves_the_summaries_as_they_were)
{
  struct blist *bl = full_blist (8 * LEAF);

  free_ok (bl, 6 * LEAF, 10);
  /* Only the last page of the range is free: none may be freed. */
  expect_free_fails (bl, 2 * LEAF, 4 * LEAF + 1);
  cr_assert_eq (blist_largest_run (bl), 10);
  alloc_expect (bl, 1, 6 * LEAF);
  blist_destroy (bl);
}

/* Exhaustion. */

Test (blist, allocating_until_exhausted_returns_zero_and_avail_is_zero)
{
  struct blist *bl = blist_create (5000);
  dev_page_t start;

  drain_in_runs (bl, 300, 5000);
  cr_assert_eq (blist_largest_run (bl), 0);
  cr_assert_eq (blist_alloc (bl, 1, false, &start), 0);
  cr_assert_eq (blist_alloc (bl, 1, true, &start), 0);
  blist_destroy (bl);
}

Test (blist, single_pages_run_out_after_exactly_npages)
{
  struct blist *bl = blist_create (2 * LEAF + 5);

  drain_one_by_one (bl);
  blist_destroy (bl);
}

/* lessok. */

Test (blist, lessok_takes_the_lowest_of_the_longest_shorter_runs)
{
  struct blist *bl = full_blist (8 * LEAF);

  free_ok (bl, 5, 3);
  free_ok (bl, 100, 40);
  free_ok (bl, LEAF - 20, 40);          /* as long, but higher */
  free_ok (bl, 3000, 39);
  alloc_lessok_expect (bl, 41, 40, 100);
  alloc_lessok_expect (bl, 41, 40, LEAF - 20);
  alloc_lessok_expect (bl, 41, 39, 3000);
  alloc_lessok_expect (bl, 41, 3, 5);
  cr_assert_eq (blist_avail (bl), 0);
  blist_destroy (bl);
}

Test (blist, lessok_still_takes_a_full_run_when_one_exists)
{
  struct blist *bl = full_blist (4 * LEAF);

  free_ok (bl, 10, 100);
  free_ok (bl, 1000, 20);
  alloc_lessok_expect (bl, 20, 20, 10);  /* first fit, not best fit */
  blist_destroy (bl);
}

Test (blist, without_lessok_a_too_long_run_returns_zero_and_changes_nothing)
{
  struct blist *bl = full_blist (4 * LEAF);
  dev_page_t start = 42;

  free_ok (bl, 10, 100);
  free_ok (bl, 1000, 200);
  cr_assert_eq (blist_alloc (bl, 201, false, &start), 0);
  cr_assert_eq (start, 42);
  cr_assert_eq (blist_avail (bl), 300);
  cr_assert_eq (blist_largest_run (bl), 200);
  expect_range (bl, 10, 100, true);
  expect_range (bl, 1000, 200, true);
  blist_destroy (bl);
}

Test (blist, a_request_beyond_32_bits_is_served_by_lessok_only)
{
  struct blist *bl = blist_create (1000);
  dev_page_t start;

  cr_assert_eq (blist_alloc (bl, UINT64_MAX, false, &start), 0);
  alloc_lessok_expect (bl, (uint64_t) 1 << 32, 1000, 0);
  blist_destroy (bl);
}

/* Free and reuse. */

Test (blist, freed_pages_are_handed_out_again)
{
  struct blist *bl = blist_create (1000);

  alloc_expect (bl, 1000, 0);
  free_ok (bl, 300, 50);
  cr_assert_eq (blist_avail (bl), 50);
  cr_assert_eq (blist_largest_run (bl), 50);
  expect_range (bl, 300, 50, true);
  alloc_expect (bl, 50, 300);
  cr_assert_eq (blist_avail (bl), 0);
  blist_destroy (bl);
}

Test (blist, first_fit_picks_the_lowest_hole_that_fits)
{
  struct blist *bl = full_blist (8 * LEAF);

  free_ok (bl, 3000, 10);
  free_ok (bl, 2000, 10);
  free_ok (bl, 100, 4);                 /* too small for 10 */
  alloc_expect (bl, 10, 2000);
  alloc_expect (bl, 10, 3000);
  alloc_expect (bl, 4, 100);
  blist_destroy (bl);
}

Test (blist, adjacent_frees_merge_into_one_run)
{
  struct blist *bl = full_blist (4 * LEAF);

  free_ok (bl, LEAF - 10, 10);
  free_ok (bl, LEAF, 10);
  free_ok (bl, LEAF + 10, 2 * LEAF);
  cr_assert_eq (blist_largest_run (bl), 2 * LEAF + 20);
  alloc_expect (bl, 2 * LEAF + 20, LEAF - 10);
  blist_destroy (bl);
}

/* Errors. */

Test (blist, a_double_free_fails_and_changes_nothing)
{
  struct blist *bl = blist_create (1000);

  alloc_expect (bl, 100, 0);
  free_ok (bl, 10, 5);
  expect_free_fails (bl, 10, 5);
  cr_assert_eq (blist_avail (bl), 905);
  expect_range (bl, 0, 10, false);
  expect_range (bl, 15, 85, false);
  blist_destroy (bl);
}

Test (blist, freeing_a_partly_free_range_fails_and_changes_nothing)
{
  struct blist *bl = blist_create (4 * LEAF);

  alloc_expect (bl, 2 * LEAF, 0);
  /* Only the last page of the range is free: none may be freed. */
  expect_free_fails (bl, 100, 2 * LEAF - 99);
  cr_assert_eq (blist_avail (bl), 2 * LEAF);
  expect_range (bl, 0, 2 * LEAF, false);
  cr_assert_eq (blist_largest_run (bl), 2 * LEAF);
  blist_destroy (bl);
}

Test (blist, freeing_out_of_bounds_fails_and_changes_nothing)
{
  struct blist *bl = full_blist (1000);

  expect_free_fails (bl, 1000, 1);
  expect_free_fails (bl, 990, 11);
  expect_free_fails (bl, 10, UINT64_MAX); /* start + n wraps */
  expect_free_fails (bl, UINT64_MAX, 2);
  cr_assert_eq (blist_avail (bl), 0);
  blist_destroy (bl);
}

Test (blist, freeing_zero_pages_fails)
{
  struct blist *bl = full_blist (1000);

  expect_free_fails (bl, 10, 0);
  cr_assert_eq (blist_avail (bl), 0);
  blist_destroy (bl);
}

Test (blist, reserve_takes_a_known_range_without_search)
{
  struct blist *bl = blist_create (4 * LEAF);

  cr_assert_eq (blist_reserve (bl, LEAF - 3, LEAF + 6), 0);
  cr_assert_eq (blist_avail (bl), 3 * LEAF - 6);
  cr_assert_eq (blist_largest_run (bl), 2 * LEAF - 3);
  expect_range (bl, LEAF - 3, LEAF + 6, false);
  alloc_expect (bl, LEAF - 3, 0);
  alloc_expect (bl, 10, 2 * LEAF + 3);
  blist_destroy (bl);
}

Test (blist, reserving_an_allocated_page_fails_and_changes_nothing)
{
  struct blist *bl = blist_create (1000);

  alloc_expect (bl, 1, 0);
  expect_reserve_fails (bl, 0, 10);
  cr_assert_eq (blist_avail (bl), 999);
  expect_range (bl, 1, 999, true);
  blist_destroy (bl);
}

Test (blist, reserving_out_of_bounds_or_nothing_fails)
{
  struct blist *bl = blist_create (1000);

  expect_reserve_fails (bl, 999, 2);
  expect_reserve_fails (bl, 5, 0);
  expect_reserve_fails (bl, 2, UINT64_MAX);
  cr_assert_eq (blist_avail (bl), 1000);
  blist_destroy (bl);
}

/* Odd sizes: the padding past npages must never be handed out. */

Test (blist, a_one_page_blist_hands_out_its_page_once)
{
  struct blist *bl = blist_create (1);
  dev_page_t start;

  cr_assert_eq (blist_largest_run (bl), 1);
  cr_assert_eq (blist_alloc (bl, 2, false, &start), 0);
  alloc_lessok_expect (bl, 2, 1, 0);
  cr_assert_eq (blist_alloc (bl, 1, true, &start), 0);
  free_ok (bl, 0, 1);
  expect_free_fails (bl, 0, 1);
  drain_one_by_one (bl);
  blist_destroy (bl);
}

/* A blist of npages: one lessok run of twice its size takes exactly
 * [0, npages), then single pages run out at once.
 */
static void
check_no_padding (uint64_t npages)
{
  struct blist *bl = blist_create (npages);
  dev_page_t start;

  cr_assert_eq (blist_largest_run (bl), npages);
  cr_assert_eq (blist_alloc (bl, npages + 1, false, &start), 0);
  alloc_lessok_expect (bl, 2 * npages, npages, 0);
  cr_assert_eq (blist_alloc (bl, 1, true, &start), 0);
  expect_reserve_fails (bl, npages, 1);
  free_ok (bl, 0, npages);
  drain_one_by_one (bl);
  blist_destroy (bl);
}

Test (blist, a_511_page_blist_never_hands_out_padding)
{
  check_no_padding (511);
}

Test (blist, a_513_page_blist_never_hands_out_padding)
{
  check_no_padding (513);
}

Test (blist, a_1000003_page_blist_never_hands_out_padding)
{
  struct blist *bl = blist_create (1000003);
  dev_page_t start;

  drain_in_runs (bl, 4093, 1000003);
  free_ok (bl, 1000002, 1);
  alloc_lessok_expect (bl, 5, 1, 1000002);
  cr_assert_eq (blist_alloc (bl, 1, true, &start), 0);
  blist_destroy (bl);
}

Test (blist, a_block_is_the_lowest_wholly_free_aligned_one)
{
  struct blist *bl = full_blist (4 * LEAF);
  dev_page_t start;

  /* An unaligned free run of 300 pages comes first; the first aligned
   * block wholly free is the one at 3 * 256.
   */
  free_ok (bl, 100, 300);
  free_ok (bl, 3 * 256, 256);
  free_ok (bl, 5 * 256, 256);
  cr_assert_eq (blist_free_blocks (bl), 2);
  cr_assert (blist_alloc_block (bl, &start));
  cr_assert_eq (start, 3 * 256);
  expect_range (bl, 3 * 256, 256, false);
  cr_assert_eq (blist_free_blocks (bl), 1);
  cr_assert_eq (blist_avail (bl), 300 + 256);
  blist_destroy (bl);
}

Test (blist, with_no_wholly_free_block_alloc_block_changes_nothing)
{
  struct blist *bl = full_blist (4 * LEAF);
  dev_page_t start = 7;

  free_ok (bl, 1, 510);         /* 510 free pages, no aligned block */
  cr_assert_eq (blist_free_blocks (bl), 0);
  cr_assert (!blist_alloc_block (bl, &start));
  cr_assert_eq (start, 7);
  cr_assert_eq (blist_avail (bl), 510);
  blist_destroy (bl);
}

Test (blist, a_new_blist_counts_its_whole_blocks_only)
{
  struct blist *bl = blist_create (3 * 256 + 255);

  cr_assert_not_null (bl);
  cr_assert_eq (blist_free_blocks (bl), 3);
  blist_destroy (bl);
}

/* Randomized model check. */

/* xorshift64*: a small PRNG so that every run is reproducible. */
static uint64_t
rnd (uint64_t *state)
{
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return *state * UINT64_C (2685821657736338717);
}

/* A number in [lo, hi]. */
static uint64_t
rnd_range (uint64_t *state, uint64_t lo, uint64_t hi)
{
  return lo + rnd (state) % (hi - lo + 1);
}

/* The reference: one bool per page and naive searches. */
struct model {
  uint64_t npages;
  uint64_t avail;
  bool *free;
};

/* The free run starting at or after *pos: its start in *pos, its
 * length returned (0 if there is none).
 */
static uint64_t
model_next_run (const struct model *m, uint64_t *pos)
{
  uint64_t s = *pos, e;

  while (s < m->npages && !m->free[s])
    s++;
  for (e = s; e < m->npages && m->free[e]; e++)
    ;
  *pos = s;
  return e - s;
}

static uint64_t
model_largest_run (const struct model *m)
{
  uint64_t best = 0, pos = 0, len;

  while ((len = model_next_run (m, &pos)) > 0) {
    best = len > best ? len : best;
    pos += len;
  }
  return best;
}

/* Naive first fit with the same contract as blist_alloc. */
static uint64_t
model_alloc (struct model *m, uint64_t want, bool lessok,
             dev_page_t *start)
{
  uint64_t pos = 0, len, best = 0, best_start = 0;

  while ((len = model_next_run (m, &pos)) > 0) {
    if (len >= want) {
      best = want;
      best_start = pos;
      break;
    }
    if (len > best) {
      best = len;
      best_start = pos;
    }
    pos += len;
  }
  if (best < want && !lessok)
    return 0;
  for (uint64_t p = best_start; p < best_start + best; p++)
    m->free[p] = false;
  m->avail -= best;
  *start = best_start;
  return best;
}

/* Wholly free aligned blocks, and the lowest one in *first. */
static uint64_t
model_blocks (const struct model *m, uint64_t *first)
{
  uint64_t n = 0, b, p;

  for (b = 0; (b + 1) * BLIST_BLOCK_PAGES <= m->npages; b++) {
    for (p = b * BLIST_BLOCK_PAGES; p < (b + 1) * BLIST_BLOCK_PAGES; p++)
      if (!m->free[p])
        break;
    if (p == (b + 1) * BLIST_BLOCK_PAGES && n++ == 0)
      *first = b * BLIST_BLOCK_PAGES;
  }
  return n;
}

/* An allocated extent, remembered so it can be freed later. */
struct extent {
  uint64_t start, n;
};

struct run_state {
  struct blist *bl;
  struct model m;
  struct extent *ext;
  size_t next;
  uint64_t rng;
  uint64_t max_want;
};

static void
push_extent (struct run_state *st, uint64_t start, uint64_t n)
{
  if (n > 0)
    st->ext[st->next++] = (struct extent) { start, n };
}

/* Allocate a random run in both and compare; no page of the result may
 * have been allocated before.
 */
static void
step_alloc (struct run_state *st)
{
  uint64_t want = rnd_range (&st->rng, 1, st->max_want);
  bool lessok = rnd (&st->rng) & 1;
  dev_page_t got_start = UINT64_MAX, exp_start = UINT64_MAX;
  uint64_t got, exp;

  got = blist_alloc (st->bl, want, lessok, &got_start);
  if (got > 0)
    expect_range (st->bl, got_start, got, false);
  for (uint64_t p = got_start; got > 0 && p < got_start + got; p++)
    cr_assert (st->m.free[p], "page %" PRIu64 " allocated twice", p);
  exp = model_alloc (&st->m, want, lessok, &exp_start);
  cr_assert_eq (got, exp, "alloc (%" PRIu64 ", %d)", want, lessok);
  if (got == 0)
    return;
  cr_assert_eq (got_start, exp_start, "alloc (%" PRIu64 ", %d)", want,
                lessok);
  push_extent (st, got_start, got);
}

/* Allocate a block in both and compare. */
static void
step_block (struct run_state *st)
{
  dev_page_t got = UINT64_MAX;
  uint64_t want = UINT64_MAX;
  bool any = model_blocks (&st->m, &want) > 0;

  cr_assert_eq (blist_alloc_block (st->bl, &got), any);
  if (!any)
    return;
  cr_assert_eq (got, want);
  for (uint64_t p = got; p < got + BLIST_BLOCK_PAGES; p++)
    st->m.free[p] = false;
  st->m.avail -= BLIST_BLOCK_PAGES;
  push_extent (st, got, BLIST_BLOCK_PAGES);
}

/* Free all or a random middle part of a random extent in both. */
static void
step_free (struct run_state *st)
{
  size_t i;
  struct extent e;
  uint64_t lo, hi;

  if (st->next == 0)
    return;
  i = rnd (&st->rng) % st->next;
  e = st->ext[i];
  st->ext[i] = st->ext[--st->next];
  lo = e.start;
  hi = e.start + e.n;
  if (rnd (&st->rng) & 1) {
    lo = rnd_range (&st->rng, e.start, e.start + e.n - 1);
    hi = rnd_range (&st->rng, lo + 1, e.start + e.n);
  }
  free_ok (st->bl, lo, hi - lo);
  for (uint64_t p = lo; p < hi; p++)
    st->m.free[p] = true;
  st->m.avail += hi - lo;
  push_extent (st, e.start, lo - e.start);
  push_extent (st, hi, e.start + e.n - hi);
}

/* Reserve a random free range, or check that a free or reserve that
 * must fail fails and changes nothing.
 */
static void
step_reserve (struct run_state *st)
{
  uint64_t pos = rnd (&st->rng) % st->m.npages;
  uint64_t len = model_next_run (&st->m, &pos);
  uint64_t n;

  if (len == 0)
    return;
  n = rnd_range (&st->rng, 1, len);
  expect_free_fails (st->bl, pos, n);    /* a double free */
  if (pos > 0 && !st->m.free[pos - 1])
    expect_reserve_fails (st->bl, pos - 1, n);
  cr_assert_eq (blist_reserve (st->bl, pos, n), 0);
  for (uint64_t p = pos; p < pos + n; p++)
    st->m.free[p] = false;
  st->m.avail -= n;
  push_extent (st, pos, n);
}

static void
compare_all_pages (const struct run_state *st)
{
  for (uint64_t p = 0; p < st->m.npages; p++)
    cr_assert_eq (blist_is_free (st->bl, p), st->m.free[p],
                  "page %" PRIu64, p);
}

/* Run nops random operations on npages pages against the model. */
static void
model_check (uint64_t npages, unsigned nops, uint64_t max_want,
             uint64_t seed)
{
  struct run_state st = { .rng = seed, .max_want = max_want };

  st.bl = blist_create (npages);
  st.m = (struct model) { npages, npages, malloc (npages) };
  st.ext = malloc (npages * sizeof st.ext[0]);
  cr_assert (st.bl && st.m.free && st.ext);
  memset (st.m.free, true, npages);
  for (unsigned op = 0; op < nops; op++) {
    uint64_t r = rnd (&st.rng) % 100;

    if (r < 50)
      step_alloc (&st);
    else if (r < 55)
      step_block (&st);
    else if (r < 95)
      step_free (&st);
    else
      step_reserve (&st);
    cr_assert_eq (blist_avail (st.bl), st.m.avail, "op %u", op);
    cr_assert_eq (blist_largest_run (st.bl), model_largest_run (&st.m),
                  "op %u", op);
    if (op % 128 == 0) {
      uint64_t first;
      compare_all_pages (&st);
      cr_assert_eq (blist_free_blocks (st.bl), model_blocks (&st.m, &first),
                    "op %u", op);
    }
  }
  compare_all_pages (&st);
  free (st.ext);
  free (st.m.free);
  blist_destroy (st.bl);
}

static double
now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

Test (blist, random_operations_on_10007_pages_match_a_naive_model)
{
  double t = now ();

  model_check (10007, 20000, 2000, 1);
  model_check (10007, 20000, 200, 2);
  cr_log_info ("model check, 10007 pages, 40000 ops: %.3f s", now () - t);
}

Test (blist, random_operations_on_odd_sizes_match_a_naive_model)
{
  model_check (1, 500, 3, 3);
  model_check (511, 3000, 600, 4);
  model_check (513, 3000, 600, 5);
  model_check (4 * LEAF + 1, 5000, 2000, 6);
}

Test (blist, random_operations_on_100003_pages_match_a_naive_model)
{
  model_check (100003, 5000, 20000, 7);
}

/* Scale: a 1 TiB device. */

#define TERA_PAGES (UINT64_C (1) << 28)

Test (blist, a_blist_of_a_tebibyte_uses_under_64_mib)
{
  struct blist *bl = blist_create (TERA_PAGES);

  cr_assert_not_null (bl);
  cr_log_info ("blist of 2^28 pages: %zu bytes", blist_bytes (bl));
  cr_assert_lt (blist_bytes (bl), 64 << 20);
  cr_assert_eq (blist_largest_run (bl), TERA_PAGES);
  blist_destroy (bl);
}

Test (blist, allocating_and_freeing_in_a_tebibyte_blist_is_fast,
      .timeout = 120)
{
  struct blist *bl = blist_create (TERA_PAGES);
  enum { N = 100000 };
  struct extent *ext = malloc (N * sizeof *ext);
  uint64_t rng = 8;
  double t = now ();

  cr_assert (bl && ext);
  for (size_t i = 0; i < N; i++) {
    ext[i].n = blist_alloc (bl, rnd_range (&rng, 1, 2000), false,
                            &ext[i].start);
    cr_assert_gt (ext[i].n, 0);
  }
  /* Free every other run, so allocations must search among holes. */
  for (size_t i = 0; i < N; i += 2)
    free_ok (bl, ext[i].start, ext[i].n);
  for (size_t i = 0; i < N; i += 2)
    ext[i].n = blist_alloc (bl, rnd_range (&rng, 1, 2000), true,
                            &ext[i].start);
  for (size_t i = 0; i < N; i++)
    free_ok (bl, ext[i].start, ext[i].n);
  t = now () - t;
  cr_log_info ("2.5e5 operations on 2^28 pages: %.3f s", t);
  cr_assert_eq (blist_avail (bl), TERA_PAGES);
  cr_assert_lt (t, 30.0, "far too slow: %.3f s", t);
  free (ext);
  blist_destroy (bl);
}
