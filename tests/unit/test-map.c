/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the export map (server/storage/map.c): one behaviour per test. */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <criterion/criterion.h>

#include "storage/map.h"

/* 1 TiB of 4 KiB pages. */
#define TIB_PAGES (UINT64_C (1) << 28)

/* The tree's geometry (server/storage/map-int.h): a leaf holds 8
 * entries, an inner node of height 1 covers 16 leaves (128 pages), one
 * of height 2 covers 2048 pages.
 */
#define LEAF_PAGES 8
#define H1_PAGES (LEAF_PAGES * 16)
#define H2_PAGES (H1_PAGES * 16)
#define H3_PAGES (H2_PAGES * 16)

/* Deterministic pseudo-random numbers (splitmix64), so that a failure
 * can be replayed.
 */
static uint64_t
next_random (uint64_t *state)
{
  uint64_t z = (*state += UINT64_C (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static struct map *
new_map (uint64_t npages)
{
  struct map *m = map_create (npages);

  cr_assert_not_null (m, "map_create (%" PRIu64 ") failed", npages);
  return m;
}

/* Set page to entry, asserting that it was unmapped. */
static void
set (struct map *m, export_page_t page, map_entry_t entry)
{
  map_entry_t expected = MAP_UNMAPPED;

  cr_assert_eq (map_cas (m, page, &expected, entry), 1,
                "setting page %" PRIu64, page);
}

/* ---- creation ---- */

Test (map, a_zero_page_map_is_refused_with_einval)
{
  errno = 0;
  cr_assert_null (map_create (0));
  cr_assert_eq (errno, EINVAL);
}

Test (map, it_reports_the_page_count_it_was_created_with)
{
  struct map *m = new_map (1000003);

  cr_assert_eq (map_npages (m), 1000003);
  map_destroy (m);
}

Test (map, destroying_null_is_harmless)
{
  map_destroy (NULL);
}

/* ---- get, cas, clear ---- */

Test (map, an_unwritten_page_reads_as_unmapped)
{
  struct map *m = new_map (TIB_PAGES);

  cr_assert_eq (map_get (m, 0), MAP_UNMAPPED);
  cr_assert_eq (map_get (m, TIB_PAGES / 2 + 17), MAP_UNMAPPED);
  cr_assert_eq (map_get (m, TIB_PAGES - 1), MAP_UNMAPPED);
  map_destroy (m);
}

Test (map, reading_never_allocates)
{
  struct map *m = new_map (TIB_PAGES);
  size_t before = map_bytes (m);

  map_get (m, 0);
  map_get (m, TIB_PAGES - 1);
  cr_assert_eq (map_bytes (m), before);
  map_destroy (m);
}

Test (map, cas_from_unmapped_installs_the_entry)
{
  struct map *m = new_map (1000);
  map_entry_t expected = MAP_UNMAPPED;

  cr_assert_eq (map_cas (m, 123, &expected, 42), 1);
  cr_assert_eq (map_get (m, 123), 42);
  cr_assert_eq (map_get (m, 122), MAP_UNMAPPED);
  cr_assert_eq (map_get (m, 124), MAP_UNMAPPED);
  map_destroy (m);
}

Test (map, cas_replaces_a_mapped_entry_it_expects)
{
  struct map *m = new_map (1000);
  map_entry_t expected = 42;

  set (m, 7, 42);
  cr_assert_eq (map_cas (m, 7, &expected, 43), 1);
  cr_assert_eq (map_get (m, 7), 43);
  map_destroy (m);
}

Test (map, cas_with_a_wrong_expected_fails_and_reports_the_current_entry)
{
  struct map *m = new_map (1000);
  map_entry_t expected = 41;

  set (m, 7, 42);
  cr_assert_eq (map_cas (m, 7, &expected, 99), 0);
  cr_assert_eq (expected, 42);
  cr_assert_eq (map_get (m, 7), 42);
  map_destroy (m);
}

Test (map, cas_expecting_an_entry_on_a_missing_path_fails_without_allocating)
{
  struct map *m = new_map (TIB_PAGES);
  size_t before = map_bytes (m);
  map_entry_t expected = 5;

  cr_assert_eq (map_cas (m, 12345, &expected, 6), 0);
  cr_assert_eq (expected, MAP_UNMAPPED);
  cr_assert_eq (map_bytes (m), before);
  map_destroy (m);
}

Test (map, cas_to_unmapped_on_a_missing_path_succeeds_without_allocating)
{
  struct map *m = new_map (TIB_PAGES);
  size_t before = map_bytes (m);
  map_entry_t expected = MAP_UNMAPPED;

  cr_assert_eq (map_cas (m, 12345, &expected, MAP_UNMAPPED), 1);
  cr_assert_eq (map_bytes (m), before);
  map_destroy (m);
}

Test (map, clear_returns_the_old_entry_and_unmaps_the_page)
{
  struct map *m = new_map (1000);

  set (m, 500, 77);
  cr_assert_eq (map_clear (m, 500), 77);
  cr_assert_eq (map_get (m, 500), MAP_UNMAPPED);
  cr_assert_eq (map_clear (m, 500), MAP_UNMAPPED);
  map_destroy (m);
}

Test (map, clearing_a_never_written_page_returns_zero_and_allocates_nothing)
{
  struct map *m = new_map (TIB_PAGES);
  size_t before = map_bytes (m);

  cr_assert_eq (map_clear (m, 0), MAP_UNMAPPED);
  cr_assert_eq (map_clear (m, TIB_PAGES - 1), MAP_UNMAPPED);
  cr_assert_eq (map_bytes (m), before);
  map_destroy (m);
}

Test (map, a_page_can_be_rewritten_after_it_was_cleared)
{
  struct map *m = new_map (1000);

  set (m, 9, 1);
  map_clear (m, 9);
  set (m, 9, 2);
  cr_assert_eq (map_get (m, 9), 2);
  map_destroy (m);
}

Test (map, a_lost_entry_round_trips_and_names_no_slot)
{
  struct map *m = new_map (1000);
  map_entry_t expected = 0x12345678;

  set (m, 3, 0x12345678);
  cr_assert_eq (map_entry_slot (map_get (m, 3)), 0x12345678);
  cr_assert_eq (map_cas (m, 3, &expected, MAP_LOST), 1);
  cr_assert_eq (map_get (m, 3), MAP_LOST);
  cr_assert_eq (map_entry_slot (map_get (m, 3)), DRUM_NO_SLOT);
  cr_assert_eq (map_clear (m, 3), MAP_LOST);
  map_destroy (m);
}

Test (map, the_largest_slot_number_round_trips)
{
  struct map *m = new_map (1000);

  set (m, 999, DRUM_MAX_SLOT);
  cr_assert_eq (map_get (m, 999), DRUM_MAX_SLOT);
  cr_assert_eq (map_entry_slot (map_get (m, 999)), DRUM_MAX_SLOT);
  cr_assert_neq (DRUM_MAX_SLOT, (drum_slot_t) MAP_LOST);
  map_destroy (m);
}

/* ---- odd sizes ---- */

/* The last page of a map of npages is writable and readable, and its
 * neighbour stays unmapped.
 */
static void
check_last_page_usable (uint64_t npages)
{
  struct map *m = new_map (npages);

  set (m, npages - 1, 1234);
  cr_assert_eq (map_get (m, npages - 1), 1234);
  if (npages > 1)
    cr_assert_eq (map_get (m, npages - 2), MAP_UNMAPPED);
  cr_assert_eq (map_find (m, 0, npages, true), npages - 1);
  cr_assert_eq (map_clear (m, npages - 1), 1234);
  map_destroy (m);
}

Test (map, a_one_page_map_works)
{
  check_last_page_usable (1);
}

Test (map, a_9_page_map_can_use_its_last_page)
{
  check_last_page_usable (LEAF_PAGES + 1);
}

Test (map, a_33_page_map_can_use_its_last_page)
{
  check_last_page_usable (33);
}

Test (map, a_129_page_map_can_use_its_last_page)
{
  check_last_page_usable (H1_PAGES + 1);
}

Test (map, a_1000003_page_map_can_use_its_last_page)
{
  check_last_page_usable (1000003);
}

Test (map, a_map_of_the_largest_page_count_can_use_its_last_page)
{
  check_last_page_usable (UINT64_MAX);
}

Test (map, finding_in_an_empty_map_of_the_largest_page_count_terminates)
{
  struct map *m = new_map (UINT64_MAX);

  cr_assert_eq (map_find (m, 0, UINT64_MAX, true), UINT64_MAX);
  cr_assert_eq (map_find (m, 5, UINT64_MAX, false), 5);
  map_destroy (m);
}

Test (map, finding_past_the_top_subtree_of_the_largest_map_returns_end)
{
  struct map *m = new_map (UINT64_MAX);

  set (m, 0, 1);
  cr_assert_eq (map_find (m, 1, UINT64_MAX, true), UINT64_MAX);
  map_destroy (m);
}

/* ---- inline entries (a page alone in its subtree) ---- */

/* Pages 2048 apart are each alone in their height-2 subtree, so each
 * is one inline child slot of a shared node: far less than the 32-byte
 * leaf a page would cost if it had one.
 */
Test (map, a_single_page_in_a_subtree_costs_no_leaf)
{
  const unsigned n = 65536;
  struct map *m = new_map (TIB_PAGES);
  unsigned i;

  for (i = 0; i < n; i++)
    set (m, (export_page_t) i * H2_PAGES + i % H2_PAGES, i + 1);
  cr_log_info ("%u pages each alone in 2048: %zu bytes", n, map_bytes (m));
  cr_assert_lt (map_bytes (m), n * 32 / 2);
  for (i = 0; i < n; i++) {
    cr_assert_eq (map_get (m, (export_page_t) i * H2_PAGES + i % H2_PAGES),
                  i + 1);
    cr_assert_eq (map_get (m, (export_page_t) i * H2_PAGES
                           + (i + 1) % H2_PAGES), MAP_UNMAPPED);
  }
  map_destroy (m);
}

/* The second page falls in the same leaf, in another leaf of the same
 * 128 pages, or further: each expands the first page's inline entry
 * to a different depth.
 */
Test (map, a_second_page_in_the_subtree_expands_it_and_both_read_back)
{
  static const export_page_t second[] = { 1, 7, 8, 100, 2000, 40000,
                                          5000000 };
  const export_page_t first = 3 * H3_PAGES + 3 * H2_PAGES + 3;
  struct map *m;
  size_t i;

  for (i = 0; i < sizeof second / sizeof second[0]; i++) {
    m = new_map (TIB_PAGES);
    set (m, first, 11);
    set (m, first + second[i], 22);
    cr_assert_eq (map_get (m, first), 11, "second at +%" PRIu64, second[i]);
    cr_assert_eq (map_get (m, first + second[i]), 22);
    cr_assert_eq (map_get (m, first + 2), MAP_UNMAPPED);
    cr_assert_eq (map_find (m, 0, TIB_PAGES, true), first);
    cr_assert_eq (map_find (m, first + 1, TIB_PAGES, true),
                  first + second[i]);
    cr_assert_eq (map_find (m, first, TIB_PAGES, false),
                  first + (second[i] == 1 ? 2 : 1));
    map_destroy (m);
  }
}

Test (map, cas_on_an_inline_entry_checks_and_replaces_it)
{
  struct map *m = new_map (TIB_PAGES);
  map_entry_t expected = 5;

  set (m, 123456, 4);
  cr_assert_eq (map_cas (m, 123456, &expected, 6), 0);
  cr_assert_eq (expected, 4);
  cr_assert_eq (map_cas (m, 123456, &expected, 6), 1);
  cr_assert_eq (map_get (m, 123456), 6);
  expected = 9;
  cr_assert_eq (map_cas (m, 123457, &expected, 1), 0, "a neighbour");
  cr_assert_eq (expected, MAP_UNMAPPED);
  map_destroy (m);
}

Test (map, clearing_an_inline_entry_unmaps_it_and_frees_its_slot)
{
  struct map *m = new_map (TIB_PAGES);
  map_entry_t expected = 6;
  size_t before;

  set (m, 123456, 5);
  before = map_bytes (m);
  cr_assert_eq (map_clear (m, 123457), MAP_UNMAPPED, "a neighbour");
  cr_assert_eq (map_get (m, 123456), 5);
  cr_assert_eq (map_clear (m, 123456), 5);
  cr_assert_eq (map_get (m, 123456), MAP_UNMAPPED);
  cr_assert_eq (map_find (m, 0, TIB_PAGES, true), TIB_PAGES);
  cr_assert_eq (map_cas (m, 123456, &expected, 7), 0);
  cr_assert_eq (expected, MAP_UNMAPPED);
  set (m, 123457, 8);           /* the slot holds the neighbour now */
  cr_assert_eq (map_get (m, 123457), 8);
  cr_assert_eq (map_get (m, 123456), MAP_UNMAPPED);
  cr_assert_eq (map_bytes (m), before);
  map_destroy (m);
}

Test (map, cas_to_unmapped_clears_an_inline_entry)
{
  struct map *m = new_map (TIB_PAGES);
  map_entry_t expected = 5;

  set (m, 99, 5);
  cr_assert_eq (map_cas (m, 99, &expected, MAP_UNMAPPED), 1);
  cr_assert_eq (map_get (m, 99), MAP_UNMAPPED);
  cr_assert_eq (map_find (m, 0, TIB_PAGES, true), TIB_PAGES);
  map_destroy (m);
}

/* A leaf's inline child in an N4 that grows into an N16 is frozen and
 * copied: it must keep its entry, and take writes in the N16 after.
 */
Test (map, an_inline_entry_keeps_its_entry_when_its_node_grows)
{
  const export_page_t base = 7 * H1_PAGES;
  struct map *m = new_map (TIB_PAGES);
  map_entry_t expected = 1;
  unsigned k;

  set (m, base + 2, 1);
  for (k = 1; k < 16; k++)
    set (m, base + k * LEAF_PAGES + k % LEAF_PAGES, k + 1);
  cr_assert_eq (map_get (m, base + 2), 1);
  cr_assert_eq (map_cas (m, base + 2, &expected, 100), 1);
  cr_assert_eq (map_get (m, base + 2), 100);
  cr_assert_eq (map_clear (m, base + 2), 100);
  for (k = 1; k < 16; k++)
    cr_assert_eq (map_get (m, base + k * LEAF_PAGES + k % LEAF_PAGES), k + 1);
  cr_assert_eq (map_find (m, base, TIB_PAGES, true),
                base + LEAF_PAGES + 1);
  map_destroy (m);
}

/* ---- find ---- */

Test (map, find_mapped_in_an_empty_map_returns_end)
{
  struct map *m = new_map (TIB_PAGES);

  cr_assert_eq (map_find (m, 0, TIB_PAGES, true), TIB_PAGES);
  cr_assert_eq (map_find (m, 1000, 5000, true), 5000);
  map_destroy (m);
}

Test (map, find_unmapped_in_an_empty_map_returns_from)
{
  struct map *m = new_map (TIB_PAGES);

  cr_assert_eq (map_find (m, 0, TIB_PAGES, false), 0);
  cr_assert_eq (map_find (m, 777, TIB_PAGES, false), 777);
  map_destroy (m);
}

Test (map, find_with_from_equal_to_end_returns_end)
{
  struct map *m = new_map (1000);

  set (m, 10, 1);
  cr_assert_eq (map_find (m, 10, 10, true), 10);
  cr_assert_eq (map_find (m, 11, 11, false), 11);
  cr_assert_eq (map_find (m, 1000, 1000, true), 1000);
  map_destroy (m);
}

Test (map, find_mapped_returns_from_when_from_is_mapped)
{
  struct map *m = new_map (1000);

  set (m, 10, 1);
  cr_assert_eq (map_find (m, 10, 1000, true), 10);
  map_destroy (m);
}

Test (map, find_mapped_crosses_a_leaf_boundary)
{
  struct map *m = new_map (1000);

  set (m, 5, 1);
  set (m, 64, 2);               /* ninth leaf */
  cr_assert_eq (map_find (m, 6, 1000, true), 64);
  map_destroy (m);
}

Test (map, find_mapped_crosses_inner_node_boundaries)
{
  struct map *m = new_map (TIB_PAGES);

  set (m, 3, 1);
  set (m, 4 * H2_PAGES + 9, 2); /* past four height-2 subtrees */
  set (m, TIB_PAGES / 2 + 1, 3);        /* in the root's other half */
  cr_assert_eq (map_find (m, 4, TIB_PAGES, true), 4 * H2_PAGES + 9);
  cr_assert_eq (map_find (m, 4 * H2_PAGES + 10, TIB_PAGES, true),
                TIB_PAGES / 2 + 1);
  cr_assert_eq (map_find (m, TIB_PAGES / 2 + 2, TIB_PAGES, true),
                TIB_PAGES);
  map_destroy (m);
}

Test (map, find_mapped_stops_before_end)
{
  struct map *m = new_map (1000);

  set (m, 100, 1);
  cr_assert_eq (map_find (m, 0, 100, true), 100);
  cr_assert_eq (map_find (m, 0, 99, true), 99);
  cr_assert_eq (map_find (m, 0, 101, true), 100);
  map_destroy (m);
}

Test (map, find_mapped_sees_the_first_and_last_pages)
{
  struct map *m = new_map (1000003);

  set (m, 0, 1);
  set (m, 1000002, 2);
  cr_assert_eq (map_find (m, 0, 1000003, true), 0);
  cr_assert_eq (map_find (m, 1, 1000003, true), 1000002);
  cr_assert_eq (map_find (m, 1000002, 1000003, true), 1000002);
  map_destroy (m);
}

Test (map, find_unmapped_crosses_a_full_leaf)
{
  struct map *m = new_map (1000);
  export_page_t p;

  for (p = LEAF_PAGES; p < 2 * LEAF_PAGES; p++) /* the whole second leaf */
    set (m, p, p);
  set (m, 2 * LEAF_PAGES, 1);
  cr_assert_eq (map_find (m, LEAF_PAGES, 1000, false), 2 * LEAF_PAGES + 1);
  cr_assert_eq (map_find (m, LEAF_PAGES - 1, 1000, false), LEAF_PAGES - 1);
  map_destroy (m);
}

Test (map, find_unmapped_stops_at_a_missing_subtree_after_full_ones)
{
  struct map *m = new_map (TIB_PAGES);
  export_page_t p;

  for (p = 0; p < 4 * H1_PAGES; p++)   /* four full inner nodes */
    set (m, p, p + 1);
  cr_assert_eq (map_find (m, 0, TIB_PAGES, false), 4 * H1_PAGES);
  map_destroy (m);
}

Test (map, find_unmapped_sees_the_first_and_last_pages)
{
  struct map *m = new_map (33);
  export_page_t p;

  for (p = 1; p < 32; p++)
    set (m, p, p);
  cr_assert_eq (map_find (m, 0, 33, false), 0);
  cr_assert_eq (map_find (m, 1, 33, false), 32);
  set (m, 32, 1);
  cr_assert_eq (map_find (m, 1, 33, false), 33);
  map_destroy (m);
}

Test (map, find_skips_a_cleared_leaf_when_looking_for_mapped_pages)
{
  struct map *m = new_map (1000);

  set (m, 40, 1);
  map_clear (m, 40);
  set (m, 900, 2);
  cr_assert_eq (map_find (m, 0, 1000, true), 900);
  cr_assert_eq (map_find (m, 40, 1000, false), 40);
  map_destroy (m);
}

Test (map, find_agrees_with_a_linear_scan)
{
  const uint64_t n = 20000;
  struct map *m = new_map (n);
  bool *ref = calloc (n, sizeof *ref);
  uint64_t state = 1, from, end, i, want;
  int k;

  cr_assert_not_null (ref);
  /* Clustered pages, so that full, partial and missing leaves mix. */
  for (k = 0; k < 3000; k++) {
    i = (next_random (&state) % 40) * 500 + next_random (&state) % 100;
    if (!ref[i])
      set (m, i, i + 1);
    ref[i] = true;
  }
  for (k = 0; k < 2000; k++) {
    from = next_random (&state) % (n + 1);
    end = from + next_random (&state) % (n + 1 - from);
    for (want = from; want < end && !ref[want]; want++)
      ;
    cr_assert_eq (map_find (m, from, end, true), want);
    for (want = from; want < end && ref[want]; want++)
      ;
    cr_assert_eq (map_find (m, from, end, false), want);
  }
  free (ref);
  map_destroy (m);
}

/* foreach's visits, checked against the expected pages in order. */
struct scan_check {
  const bool *ref;
  export_page_t next;           /* the page after the last visited */
  uint64_t n, bad;
};

static int
check_visit (export_page_t page, map_entry_t entry, void *opaque)
{
  struct scan_check *c = opaque;
  export_page_t p;

  for (p = c->next; p < page; p++)
    if (c->ref[p])
      c->bad++;                 /* skipped a mapped page */
  if (!c->ref[page] || entry != page + 1)
    c->bad++;
  c->next = page + 1;
  c->n++;
  return 0;
}

/* Pages alone in subtrees of every height (inline entries), pairs and
 * small clusters (expanded), some cleared again: find and foreach must
 * agree with a linear scan.
 */
Test (map, find_and_foreach_across_inline_entries_agree_with_a_linear_scan)
{
  static const uint64_t gaps[] = { 1, 3, 8, 100, 2000, 40000 };
  const uint64_t n = UINT64_C (1) << 22;
  struct map *m = new_map (n);
  bool *ref = calloc (n, sizeof *ref);
  uint64_t *next = calloc (n + 1, sizeof *next);
  struct scan_check c = { 0 };
  uint64_t state = 3, from, end, i, want, mapped = 0;
  int k;

  cr_assert (ref != NULL && next != NULL);
  for (k = 0; k < 4000; k++) {
    i = next_random (&state) % n;
    if (k % 3 == 1)             /* a neighbour of the last one */
      i = (i + gaps[next_random (&state) % 6]) % n;
    if (!ref[i])
      set (m, i, i + 1);
    ref[i] = true;
    if (k % 7 == 0) {           /* cleared again */
      map_clear (m, i);
      ref[i] = false;
    }
  }
  next[n] = n;
  for (i = n; i-- > 0; ) {
    next[i] = ref[i] ? i : next[i + 1];
    mapped += ref[i];
  }
  for (k = 0; k < 4000; k++) {
    from = next_random (&state) % (n + 1);
    end = from + next_random (&state) % (n + 1 - from);
    want = next[from] < end ? next[from] : end;
    cr_assert_eq (map_find (m, from, end, true), want, "from %" PRIu64, from);
    for (want = from; want < end && ref[want]; want++)
      ;
    cr_assert_eq (map_find (m, from, end, false), want);
  }
  c.ref = ref;
  cr_assert_eq (map_foreach (m, check_visit, &c), 0);
  cr_assert_eq (next[c.next], n, "a mapped page after the last visited");
  cr_assert_eq (c.n, mapped);
  cr_assert_eq (c.bad, 0);
  free (next);
  free (ref);
  map_destroy (m);
}

/* ---- foreach ---- */

struct visits {
  size_t n;
  export_page_t page[16];
  map_entry_t entry[16];
  size_t stop_after;            /* return 7 on this visit, if non-zero */
};

static int
record_visit (export_page_t page, map_entry_t entry, void *opaque)
{
  struct visits *v = opaque;

  cr_assert_lt (v->n, 16);
  v->page[v->n] = page;
  v->entry[v->n] = entry;
  v->n++;
  return v->n == v->stop_after ? 7 : 0;
}

Test (map, foreach_on_an_empty_map_visits_nothing)
{
  struct map *m = new_map (TIB_PAGES);
  struct visits v = { 0 };

  cr_assert_eq (map_foreach (m, record_visit, &v), 0);
  cr_assert_eq (v.n, 0);
  map_destroy (m);
}

Test (map, foreach_visits_exactly_the_mapped_pages_in_order)
{
  static const export_page_t pages[] = {
    0, 31, 32, 1000, 512 * 16, TIB_PAGES / 2, TIB_PAGES - 1,
  };
  const size_t n = sizeof pages / sizeof pages[0];
  struct map *m = new_map (TIB_PAGES);
  struct visits v = { 0 };
  size_t i;

  for (i = n; i-- > 0; )        /* written out of order on purpose */
    set (m, pages[i], 100 + i);
  set (m, 77, 1);
  map_clear (m, 77);            /* cleared: must not be visited */
  cr_assert_eq (map_foreach (m, record_visit, &v), 0);
  cr_assert_eq (v.n, n);
  for (i = 0; i < n; i++) {
    cr_assert_eq (v.page[i], pages[i]);
    cr_assert_eq (v.entry[i], 100 + i);
  }
  map_destroy (m);
}

Test (map, foreach_stops_when_the_callback_returns_non_zero)
{
  struct map *m = new_map (1000);
  struct visits v = { .stop_after = 2 };

  set (m, 1, 1);
  set (m, 2, 2);
  set (m, 3, 3);
  cr_assert_eq (map_foreach (m, record_visit, &v), 7);
  cr_assert_eq (v.n, 2);
  cr_assert_eq (v.page[1], 2);
  map_destroy (m);
}

Test (map, foreach_visits_the_last_page_of_an_odd_sized_map)
{
  struct map *m = new_map (1000003);
  struct visits v = { 0 };

  set (m, 1000002, 5);
  cr_assert_eq (map_foreach (m, record_visit, &v), 0);
  cr_assert_eq (v.n, 1);
  cr_assert_eq (v.page[0], 1000002);
  map_destroy (m);
}

/* An inner node gets its children in any order and keeps them in an
 * unsorted small node until it needs a fifth: find and foreach must
 * still go in page order, before and after it grows.
 */
Test (map, the_children_of_a_small_node_are_visited_in_page_order)
{
  static const unsigned first[] = { 9, 3, 12, 0 }, more[] = { 6, 15 };
  const export_page_t base = 5 * H1_PAGES;
  struct map *m = new_map (TIB_PAGES);
  struct visits v = { 0 };
  size_t i;

  for (i = 0; i < 4; i++)
    set (m, base + first[i] * LEAF_PAGES + 1, first[i] + 1);
  cr_assert_eq (map_find (m, 0, TIB_PAGES, true), base + 1);
  cr_assert_eq (map_find (m, base + 2, TIB_PAGES, true),
                base + 3 * LEAF_PAGES + 1);
  cr_assert_eq (map_find (m, base + 4 * LEAF_PAGES, TIB_PAGES, true),
                base + 9 * LEAF_PAGES + 1);
  cr_assert_eq (map_find (m, base + 12 * LEAF_PAGES + 2, TIB_PAGES, true),
                TIB_PAGES);
  cr_assert_eq (map_find (m, base + 3 * LEAF_PAGES + 1, TIB_PAGES, false),
                base + 3 * LEAF_PAGES + 2);
  for (i = 0; i < 2; i++)
    set (m, base + more[i] * LEAF_PAGES + 1, more[i] + 1);
  cr_assert_eq (map_foreach (m, record_visit, &v), 0);
  cr_assert_eq (v.n, 6);
  for (i = 0; i < 6; i++) {
    cr_assert_eq (map_get (m, v.page[i]), v.entry[i]);
    cr_assert_eq (v.page[i], base + (v.entry[i] - 1) * LEAF_PAGES + 1);
    if (i > 0)
      cr_assert_lt (v.page[i - 1], v.page[i]);
  }
  cr_assert_eq (map_find (m, base + 4 * LEAF_PAGES, TIB_PAGES, true),
                base + 6 * LEAF_PAGES + 1);
  map_destroy (m);
}

/* ---- memory ---- */

Test (map, an_empty_1_tib_map_holds_under_4_kib)
{
  struct map *m = new_map (TIB_PAGES);

  cr_log_info ("empty 1 TiB map: %zu bytes", map_bytes (m));
  cr_assert_lt (map_bytes (m), 4096);
  map_destroy (m);
}

Test (map, a_1_tib_map_with_1000_scattered_pages_holds_under_1_mib)
{
  struct map *m = new_map (TIB_PAGES);
  uint64_t state = 42;
  map_entry_t expected;
  export_page_t page;
  int i;

  for (i = 0; i < 1000; i++) {
    page = next_random (&state) % TIB_PAGES;
    expected = map_get (m, page);
    cr_assert_neq (map_cas (m, page, &expected, page + 1), -1);
  }
  cr_log_info ("1 TiB map, 1000 scattered pages: %zu bytes", map_bytes (m));
  cr_assert_lt (map_bytes (m), 1024 * 1024);
  state = 42;
  for (i = 0; i < 1000; i++) {
    page = next_random (&state) % TIB_PAGES;
    cr_assert_eq (map_get (m, page), page + 1);
  }
  map_destroy (m);
}

/* Write n random pages, spread round robin over nmaps maps of npages
 * each, and return the bytes all the maps hold per page written.
 */
static double
random_bytes_per_page (unsigned nmaps, uint64_t npages, unsigned n)
{
  struct map *m[16];
  uint64_t state = 7;
  map_entry_t expected;
  export_page_t page;
  size_t bytes = 0;
  unsigned i;

  cr_assert_leq (nmaps, 16);
  for (i = 0; i < nmaps; i++)
    m[i] = new_map (npages);
  for (i = 0; i < n; i++) {
    page = next_random (&state) % npages;
    expected = MAP_UNMAPPED;
    cr_assert_neq (map_cas (m[i % nmaps], page, &expected, page + 1), -1);
  }
  for (i = 0; i < nmaps; i++) {
    bytes += map_bytes (m[i]);
    map_destroy (m[i]);
  }
  cr_log_info ("%u map(s) of %" PRIu64 " pages, %u random pages: %zu bytes, "
               "%.1f bytes a page", nmaps, npages, n, bytes,
               (double) bytes / n);
  return (double) bytes / n;
}

/* Isolated pages: most are alone in their 128-page subtree and cost no
 * node of their own, only a share of the nodes above (issue 14: it
 * was 94.5 bytes with a leaf for every page).
 */
Test (map, a_1_tib_map_with_262144_random_pages_costs_at_most_32_bytes_each)
{
  cr_assert_leq (random_bytes_per_page (1, TIB_PAGES, 262144), 32.0);
}

/* The same writes shared by four exports: each map is sparser, so
 * more of its pages sit alone under inner nodes; still under 32.
 */
Test (map, four_1_tib_maps_sharing_262144_random_pages_cost_at_most_32_bytes_each)
{
  cr_assert_leq (random_bytes_per_page (4, TIB_PAGES, 262144), 32.0);
}

Test (map, four_256_gib_maps_sharing_262144_random_pages_cost_at_most_32_bytes_each)
{
  cr_assert_leq (random_bytes_per_page (4, TIB_PAGES / 4, 262144), 32.0);
}

/* Dense pages: 4 bytes each in leaves, plus the nodes above. */
Test (map, a_fully_written_region_costs_under_6_bytes_a_page)
{
  const uint64_t n = UINT64_C (1) << 20, base = 12345;
  struct map *m = new_map (TIB_PAGES);
  double per_page;
  uint64_t p;

  for (p = base; p < base + n; p++)
    set (m, p, p + 1);
  per_page = (double) map_bytes (m) / (double) n;
  cr_log_info ("1 TiB map, %" PRIu64 " contiguous pages: %zu bytes, "
               "%.2f bytes a page", n, map_bytes (m), per_page);
  cr_assert_lt (per_page, 6.0);
  cr_assert_eq (map_find (m, 0, TIB_PAGES, true), base);
  cr_assert_eq (map_find (m, base, TIB_PAGES, false), base + n);
  map_destroy (m);
}

/* A page alone is inline; the rest of its leaf expands it into one
 * leaf, which still fits in the first arena chunk.
 */
Test (map, filling_a_whole_leaf_stays_within_the_first_arena_chunk)
{
  struct map *m = new_map (TIB_PAGES);
  size_t one;
  export_page_t p;

  set (m, 64, 1);
  one = map_bytes (m);
  for (p = 65; p < 64 + LEAF_PAGES; p++)
    set (m, p, 1);
  cr_assert_eq (map_bytes (m), one);
  map_destroy (m);
}

/* ---- concurrency ---- */

#define RACE_THREADS 8
#define RACE_PAGES 10000

struct racer {
  struct map *m;
  pthread_barrier_t *start;
  unsigned id;
  bool won[RACE_PAGES];
  uint64_t seen[RACE_PAGES];    /* the entry a loser found */
};

/* Spread the pages over a 1 TiB map so that node installation races
 * too, not only the entries.
 */
static export_page_t
race_page (unsigned i)
{
  return (export_page_t) i * 26821 % TIB_PAGES;
}

static map_entry_t
racer_value (unsigned id, unsigned i)
{
  return ((map_entry_t) (id + 1) << 24) | (i + 1);
}

static void *
race (void *arg)
{
  struct racer *r = arg;
  map_entry_t expected;
  unsigned i;

  pthread_barrier_wait (r->start);
  for (i = 0; i < RACE_PAGES; i++) {
    expected = MAP_UNMAPPED;
    switch (map_cas (r->m, race_page (i), &expected, racer_value (r->id, i))) {
    case 1: r->won[i] = true; break;
    case 0: r->seen[i] = expected; break;
    default: abort ();
    }
  }
  return NULL;
}

/* Start RACE_THREADS racers on m at once and wait for them all. */
static void
run_race (struct map *m, struct racer *r)
{
  pthread_t th[RACE_THREADS];
  pthread_barrier_t start;
  unsigned t;

  pthread_barrier_init (&start, NULL, RACE_THREADS);
  for (t = 0; t < RACE_THREADS; t++) {
    r[t] = (struct racer) { .m = m, .start = &start, .id = t };
    cr_assert_eq (pthread_create (&th[t], NULL, race, &r[t]), 0);
  }
  for (t = 0; t < RACE_THREADS; t++)
    pthread_join (th[t], NULL);
  pthread_barrier_destroy (&start);
}

Test (map, racing_cas_from_unmapped_has_exactly_one_winner_per_page)
{
  static struct racer r[RACE_THREADS];
  struct map *m = new_map (TIB_PAGES);
  unsigned t, i, winners, winner = 0;

  run_race (m, r);
  for (i = 0; i < RACE_PAGES; i++) {
    for (winners = 0, t = 0; t < RACE_THREADS; t++)
      if (r[t].won[i]) {
        winners++;
        winner = t;
      }
    cr_assert_eq (winners, 1, "page %u has %u winners", i, winners);
    cr_assert_eq (map_get (m, race_page (i)), racer_value (winner, i));
    for (t = 0; t < RACE_THREADS; t++)
      if (t != winner)
        cr_assert_eq (r[t].seen[i], racer_value (winner, i));
  }
  map_destroy (m);
}

/* Nodes are installed under the map's lock after a second look, so
 * racing writers never build one twice: the map must end up the size
 * of one built by a single thread, give or take one arena chunk (the
 * nodes land in the arena in another order, so the unused tails of
 * the chunks differ).
 */
Test (map, racing_writers_count_each_node_once)
{
  static struct racer r[RACE_THREADS];
  struct map *m = new_map (TIB_PAGES);
  struct map *alone = new_map (TIB_PAGES);
  size_t raced, single;
  unsigned i;

  run_race (m, r);
  for (i = 0; i < RACE_PAGES; i++)
    set (alone, race_page (i), 1);
  raced = map_bytes (m);
  single = map_bytes (alone);
  cr_assert_leq (raced, single + 65536, "%zu vs %zu", raced, single);
  cr_assert_leq (single, raced + 65536, "%zu vs %zu", raced, single);
  map_destroy (alone);
  map_destroy (m);
}

#define TEAR_WRITERS 4
#define TEAR_READERS 4
#define TEAR_PAGES_EACH 256
#define TEAR_ROUNDS 200

struct tearer {
  struct map *m;
  unsigned id;
  atomic_int *writers_left;
  uint64_t bad;                 /* a torn entry a reader saw, or 0 */
};

/* An entry whose two halves must agree: a torn read would break that. */
static map_entry_t
tear_value (uint32_t v)
{
  v &= 0x7fff;                  /* keep clear of MAP_LOST */
  return (v << 16) | v;
}

static export_page_t
tear_page (unsigned writer, unsigned i)
{
  return (export_page_t) i * 4099 * TEAR_WRITERS + writer;
}

static void *
tear_write (void *arg)
{
  struct tearer *w = arg;
  map_entry_t old, expected;
  unsigned round, i;

  for (round = 0; round < TEAR_ROUNDS; round++)
    for (i = 0; i < TEAR_PAGES_EACH; i++) {
      old = round == 0 ? MAP_UNMAPPED : tear_value (round * 7919 + i);
      expected = old;
      if (map_cas (w->m, tear_page (w->id, i), &expected,
                   tear_value ((round + 1) * 7919 + i)) != 1)
        abort ();               /* the pages are ours alone */
    }
  atomic_fetch_sub (w->writers_left, 1);
  return NULL;
}

static void *
tear_read (void *arg)
{
  struct tearer *rd = arg;
  uint64_t state = rd->id, e;
  export_page_t page;

  while (atomic_load (rd->writers_left) > 0 && rd->bad == 0) {
    page = tear_page (next_random (&state) % TEAR_WRITERS,
                      next_random (&state) % TEAR_PAGES_EACH);
    e = map_get (rd->m, page);
    if (e != MAP_UNMAPPED && e != tear_value ((uint32_t) e))
      rd->bad = e;
  }
  return NULL;
}

Test (map, concurrent_readers_never_see_a_torn_entry)
{
  struct tearer w[TEAR_WRITERS], rd[TEAR_READERS];
  pthread_t wt[TEAR_WRITERS], rt[TEAR_READERS];
  atomic_int writers_left = TEAR_WRITERS;
  struct map *m = new_map (TIB_PAGES);
  unsigned t;

  for (t = 0; t < TEAR_READERS; t++) {
    rd[t] = (struct tearer) { m, t + 1, &writers_left, 0 };
    cr_assert_eq (pthread_create (&rt[t], NULL, tear_read, &rd[t]), 0);
  }
  for (t = 0; t < TEAR_WRITERS; t++) {
    w[t] = (struct tearer) { m, t, &writers_left, 0 };
    cr_assert_eq (pthread_create (&wt[t], NULL, tear_write, &w[t]), 0);
  }
  for (t = 0; t < TEAR_WRITERS; t++)
    pthread_join (wt[t], NULL);
  for (t = 0; t < TEAR_READERS; t++) {
    pthread_join (rt[t], NULL);
    cr_assert_eq (rd[t].bad, 0, "reader %u saw %#" PRIx64, t, rd[t].bad);
  }
  for (t = 0; t < TEAR_WRITERS; t++)
    cr_assert_eq (map_get (m, tear_page (t, 5)),
                  tear_value (TEAR_ROUNDS * 7919 + 5));
  map_destroy (m);
}

#define GROW_WRITERS 8
#define GROW_READERS 4
#define GROW_ROUNDS 1000

/* The writers meet at a barrier before each round, then each adds two
 * leaves under the same inner node (children id and id + 8), so that
 * the node is created, filled and grown from 4 to 16 children by 8
 * threads at once, while readers check what has been written.
 */
struct grower {
  struct map *m;
  unsigned id;
  pthread_barrier_t *round;
  _Atomic unsigned done;        /* rounds this writer has completed */
  struct grower *writers;       /* readers: the writers to check */
  atomic_int *writers_left;
  unsigned long checked, bad;   /* readers: entries checked, wrong */
};

static export_page_t
grow_page (unsigned id, unsigned round, unsigned j)
{
  return (export_page_t) round * H1_PAGES
    + (id + j * GROW_WRITERS) * LEAF_PAGES + round % LEAF_PAGES;
}

static map_entry_t
grow_value (unsigned id, unsigned round, unsigned j)
{
  return ((map_entry_t) (id + 1) << 24) | (round * 2 + j + 1);
}

static void *
grow_write (void *arg)
{
  struct grower *w = arg;
  map_entry_t expected;
  unsigned round, j;

  for (round = 0; round < GROW_ROUNDS; round++) {
    pthread_barrier_wait (w->round);
    for (j = 0; j < 2; j++) {
      expected = MAP_UNMAPPED;
      if (map_cas (w->m, grow_page (w->id, round, j), &expected,
                   grow_value (w->id, round, j)) != 1)
        abort ();               /* the pages are ours alone */
    }
    atomic_store_explicit (&w->done, round + 1, memory_order_release);
  }
  atomic_fetch_sub (w->writers_left, 1);
  return NULL;
}

/* Check one random entry that a writer has finished writing. */
static void
grow_check (struct grower *rd, uint64_t *state)
{
  struct grower *w = &rd->writers[next_random (state) % GROW_WRITERS];
  unsigned done, round, j;
  export_page_t page;

  done = atomic_load_explicit (&w->done, memory_order_acquire);
  if (done == 0)
    return;
  round = (unsigned) (next_random (state) % done);
  j = (unsigned) (next_random (state) % 2);
  page = grow_page (w->id, round, j);
  if (map_get (rd->m, page) != grow_value (w->id, round, j)
      || map_find (rd->m, page, page + 1, true) != page)
    rd->bad++;
  rd->checked++;
}

static void *
grow_read (void *arg)
{
  struct grower *rd = arg;
  uint64_t state = rd->id;

  while (atomic_load (rd->writers_left) > 0)
    grow_check (rd, &state);
  return NULL;
}

struct grow_order {
  size_t n;
  export_page_t last;
  bool sorted;
};

static int
count_in_order (export_page_t page, map_entry_t entry, void *opaque)
{
  struct grow_order *o = opaque;

  (void) entry;
  if (o->n > 0 && page <= o->last)
    o->sorted = false;
  o->last = page;
  o->n++;
  return 0;
}

Test (map, nodes_grown_by_racing_writers_keep_every_entry)
{
  static struct grower w[GROW_WRITERS], rd[GROW_READERS];
  pthread_t wt[GROW_WRITERS], rt[GROW_READERS];
  atomic_int writers_left = GROW_WRITERS;
  struct grow_order order = { .sorted = true };
  struct map *m = new_map (TIB_PAGES);
  pthread_barrier_t round;
  unsigned t, r, j;

  pthread_barrier_init (&round, NULL, GROW_WRITERS);
  /* The readers look at every writer's progress: set all up first. */
  for (t = 0; t < GROW_WRITERS; t++)
    w[t] = (struct grower) { .m = m, .id = t, .round = &round,
                             .writers_left = &writers_left };
  for (t = 0; t < GROW_READERS; t++) {
    rd[t] = (struct grower) { .m = m, .id = t + 1, .writers = w,
                              .writers_left = &writers_left };
    cr_assert_eq (pthread_create (&rt[t], NULL, grow_read, &rd[t]), 0);
  }
  for (t = 0; t < GROW_WRITERS; t++)
    cr_assert_eq (pthread_create (&wt[t], NULL, grow_write, &w[t]), 0);
  for (t = 0; t < GROW_WRITERS; t++)
    pthread_join (wt[t], NULL);
  for (t = 0; t < GROW_READERS; t++) {
    pthread_join (rt[t], NULL);
    cr_log_info ("reader %u: %lu entries checked", t, rd[t].checked);
    cr_assert_eq (rd[t].bad, 0, "reader %u: %lu of %lu entries wrong",
                  t, rd[t].bad, rd[t].checked);
  }
  pthread_barrier_destroy (&round);
  for (t = 0; t < GROW_WRITERS; t++)
    for (r = 0; r < GROW_ROUNDS; r++)
      for (j = 0; j < 2; j++)
        cr_assert_eq (map_get (m, grow_page (t, r, j)), grow_value (t, r, j));
  cr_assert_eq (map_foreach (m, count_in_order, &order), 0);
  cr_assert_eq (order.n, GROW_WRITERS * GROW_ROUNDS * 2);
  cr_assert (order.sorted);
  map_destroy (m);
}

/* One thread counts an inline entry up by compare-and-swap for as long
 * as another writes pages beside it, so that the entry is expanded
 * level by level and frozen when its N4 grows into an N16, all under
 * the counter's writes; then it clears the entry and sets it again.
 * Every round uses a fresh region: no write may be lost, and no CAS
 * may fail.
 */
#define INLINE_ROUNDS 3000
#define INLINE_NEIGHBOURS 20

struct inline_race {
  struct map *m;
  pthread_barrier_t *start;
  _Atomic unsigned *rounds_done;  /* by the writer of the neighbours */
  unsigned long failures, counts;
};

static export_page_t
inline_target (unsigned round)
{
  return (export_page_t) round * H3_PAGES + 2;
}

/* The k-th neighbour of the target: in other leaves of its 128 pages
 * (k < 15), then in other subtrees of its region, then (odd rounds) in
 * its own leaf.
 */
static export_page_t
inline_neighbour (unsigned round, unsigned k)
{
  export_page_t base = (export_page_t) round * H3_PAGES;

  if (k < 15)
    return base + (k + 1) * LEAF_PAGES + k % LEAF_PAGES;
  if (k < 19)
    return base + (k - 14) * H1_PAGES + (k - 14) * H2_PAGES;
  return base + (round % 2 ? 5 : 7 * H2_PAGES);
}

static void *
inline_count (void *arg)
{
  struct inline_race *r = arg;
  map_entry_t expected, v;
  export_page_t page;
  unsigned round;

  for (round = 0; round < INLINE_ROUNDS; round++) {
    page = inline_target (round);
    expected = MAP_UNMAPPED;
    r->failures += map_cas (r->m, page, &expected, 1) != 1;
    pthread_barrier_wait (r->start);
    for (v = 1; atomic_load (r->rounds_done) <= round; v++) {
      expected = v;
      r->failures += map_cas (r->m, page, &expected, v + 1) != 1;
    }
    r->counts += v;
    r->failures += map_clear (r->m, page) != v;
    expected = MAP_UNMAPPED;
    r->failures += map_cas (r->m, page, &expected, 1000000 + round) != 1;
  }
  return NULL;
}

static void *
inline_expand (void *arg)
{
  struct inline_race *r = arg;
  map_entry_t expected;
  unsigned round, k;

  for (round = 0; round < INLINE_ROUNDS; round++) {
    pthread_barrier_wait (r->start);
    for (k = 0; k < INLINE_NEIGHBOURS; k++) {
      expected = MAP_UNMAPPED;
      r->failures += map_cas (r->m, inline_neighbour (round, k), &expected,
                              k + 1) != 1;
    }
    atomic_store (r->rounds_done, round + 1);
  }
  return NULL;
}

Test (map, concurrent_cas_on_an_inline_entry_racing_with_expansion_loses_no_write)
{
  struct map *m = new_map (TIB_PAGES);
  _Atomic unsigned rounds_done = 0;
  struct inline_race r[2];
  pthread_barrier_t start;
  pthread_t th[2];
  unsigned round, k, t;

  pthread_barrier_init (&start, NULL, 2);
  for (t = 0; t < 2; t++)
    r[t] = (struct inline_race) { .m = m, .start = &start,
                                  .rounds_done = &rounds_done };
  cr_assert_eq (pthread_create (&th[0], NULL, inline_count, &r[0]), 0);
  cr_assert_eq (pthread_create (&th[1], NULL, inline_expand, &r[1]), 0);
  for (t = 0; t < 2; t++) {
    pthread_join (th[t], NULL);
    cr_assert_eq (r[t].failures, 0, "thread %u: %lu failed", t,
                  r[t].failures);
  }
  pthread_barrier_destroy (&start);
  cr_log_info ("%lu counts in %u rounds", r[0].counts, INLINE_ROUNDS);
  for (round = 0; round < INLINE_ROUNDS; round++) {
    cr_assert_eq (map_get (m, inline_target (round)), 1000000 + round,
                  "round %u", round);
    for (k = 0; k < INLINE_NEIGHBOURS; k++)
      cr_assert_eq (map_get (m, inline_neighbour (round, k)), k + 1);
  }
  map_destroy (m);
}

/* ---- growing the map (map_grow) ---- */

Test (map, growing_keeps_every_entry_and_covers_the_new_pages)
{
  struct map *m = new_map (100);
  export_page_t p;

  for (p = 0; p < 100; p += 7)
    set (m, p, (map_entry_t) p + 1);
  cr_assert_eq (map_grow (m, TIB_PAGES), 0);
  cr_assert_eq (map_npages (m), TIB_PAGES);
  for (p = 0; p < 100; p++)
    cr_assert_eq (map_get (m, p), p % 7 == 0 ? (map_entry_t) p + 1 : 0,
                  "page %" PRIu64 " after growing", p);
  set (m, TIB_PAGES - 1, 42);
  cr_assert_eq (map_get (m, TIB_PAGES - 1), 42);
  cr_assert_eq (map_find (m, 99, TIB_PAGES, true), TIB_PAGES - 1);
  map_destroy (m);
}

/* The old root's children may be inline entries: after the chain is
 * added above it they still read back, and expand when a neighbour
 * comes.
 */
Test (map, inline_entries_under_the_old_root_expand_after_growing)
{
  struct map *m = new_map (H2_PAGES);
  map_entry_t expected = 2;

  set (m, 5, 1);
  set (m, 3 * H1_PAGES + 9, 2);
  cr_assert_eq (map_grow (m, TIB_PAGES), 0);
  cr_assert_eq (map_get (m, 5), 1);
  cr_assert_eq (map_get (m, 3 * H1_PAGES + 9), 2);
  set (m, 6, 3);
  set (m, 3 * H1_PAGES + 100, 4);
  cr_assert_eq (map_cas (m, 3 * H1_PAGES + 9, &expected, 5), 1);
  cr_assert_eq (map_get (m, 5), 1);
  cr_assert_eq (map_get (m, 6), 3);
  cr_assert_eq (map_get (m, 3 * H1_PAGES + 9), 5);
  cr_assert_eq (map_get (m, 3 * H1_PAGES + 100), 4);
  cr_assert_eq (map_find (m, 7, TIB_PAGES, true), 3 * H1_PAGES + 9);
  map_destroy (m);
}

Test (map, growing_an_empty_map_leaves_it_empty)
{
  struct map *m = new_map (8);

  cr_assert_eq (map_grow (m, TIB_PAGES), 0);
  cr_assert_eq (map_find (m, 0, TIB_PAGES, true), TIB_PAGES);
  set (m, 123456789, 5);
  cr_assert_eq (map_get (m, 123456789), 5);
  map_destroy (m);
}

Test (map, growing_to_fewer_pages_changes_nothing)
{
  struct map *m = new_map (1000);

  set (m, 999, 9);
  cr_assert_eq (map_grow (m, 10), 0);
  cr_assert_eq (map_npages (m), 1000);
  cr_assert_eq (map_get (m, 999), 9);
  map_destroy (m);
}

Test (map, growing_within_the_same_height_costs_no_node)
{
  struct map *m = new_map (100);
  size_t before;

  set (m, 50, 1);
  before = map_bytes (m);
  cr_assert_eq (map_grow (m, 120), 0);
  cr_assert_eq (map_bytes (m), before);
  cr_assert_eq (map_get (m, 50), 1);
  map_destroy (m);
}

/* Readers and a writer run while the map grows step by step: a
 * reader must always see every entry set before the growth began.
 */
#define GROWTH_STEPS 12
#define GROWTH_KEPT 512

struct growth_reader {
  struct map *m;
  atomic_bool *stop;
  atomic_uint *started;
  unsigned long checked, bad;
};

static void *
growth_read (void *arg)
{
  struct growth_reader *r = arg;
  unsigned i;

  atomic_fetch_add (r->started, 1);
  while (!atomic_load (r->stop))
    for (i = 0; i < GROWTH_KEPT; i++, r->checked++)
      if (map_get (r->m, (export_page_t) i * 3) != i + 1 ||
          map_find (r->m, (export_page_t) i * 3, GROWTH_KEPT * 3, true)
          != (export_page_t) i * 3)
        r->bad++;
  return NULL;
}

Test (map, readers_see_every_entry_while_the_map_grows)
{
  struct map *m = new_map (GROWTH_KEPT * 3);
  struct growth_reader r[2];
  pthread_t th[2];
  atomic_bool stop = false;
  atomic_uint started = 0;
  uint64_t npages = GROWTH_KEPT * 3;
  unsigned i, t;

  for (i = 0; i < GROWTH_KEPT; i++)
    set (m, (export_page_t) i * 3, i + 1);
  for (t = 0; t < 2; t++) {
    r[t] = (struct growth_reader) { .m = m, .stop = &stop,
                                    .started = &started };
    cr_assert_eq (pthread_create (&th[t], NULL, growth_read, &r[t]), 0);
  }
  while (atomic_load (&started) < 2)
    sched_yield ();
  for (i = 0; i < GROWTH_STEPS; i++) {
    npages *= 16;
    cr_assert_eq (map_grow (m, npages), 0);
    set (m, npages - 1, i + 1);     /* the new top is usable at once */
  }
  atomic_store (&stop, true);
  for (t = 0; t < 2; t++) {
    pthread_join (th[t], NULL);
    cr_assert_gt (r[t].checked, 0);
    cr_assert_eq (r[t].bad, 0, "reader %u: %lu of %lu wrong", t, r[t].bad,
                  r[t].checked);
  }
  map_destroy (m);
}
