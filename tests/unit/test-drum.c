/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the drum (server/pool/drum.c): range allocation and
 * drum_getsdp at every edge.  The drum only reads a device's npages
 * and sets its drumoffset, so the devices here are bare structs.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pool/drum.h"

#define NDEVS 8

static struct swapdev d[NDEVS];

static struct drum *
new_drum (void)
{
  struct drum *drum = drum_create ();

  cr_assert_not_null (drum);
  return drum;
}

/* Give d[i] npages and claim its range. */
static void
claim (struct drum *drum, size_t i, uint64_t npages)
{
  d[i].npages = npages;
  cr_assert_eq (drum_claim (drum, &d[i]), 0, "claiming d[%zu]", i);
}

static void
release (struct drum *drum, size_t i)
{
  cr_assert_eq (drum_release (drum, &d[i]), 0, "releasing d[%zu]", i);
}

/* Assert that slot belongs to want (NULL: to no device). */
static void
expect_owner (const struct drum *drum, drum_slot_t slot,
              const struct swapdev *want)
{
  const struct swapdev *got = drum_getsdp (drum, slot);

  cr_assert_eq (got, want, "slot %" PRIu64 " belongs to %s%td, expected "
                "%s%td", slot, got ? "d" : "none ", got ? got - d : 0,
                want ? "d" : "none ", want ? want - d : 0);
}

/* Assert that exactly [drumoffset, drumoffset + npages) of d[i] maps
 * to d[i]: both edges inside, and the slots just outside not to it.
 */
static void
expect_range (const struct drum *drum, size_t i)
{
  drum_slot_t first = d[i].drumoffset, last = first + d[i].npages - 1;

  expect_owner (drum, first, &d[i]);
  expect_owner (drum, last, &d[i]);
  cr_assert_neq (drum_getsdp (drum, first - 1), &d[i]);
  cr_assert_neq (drum_getsdp (drum, last + 1), &d[i]);
}

/* Assert that [first, last] is a gap: its edge slots have no owner. */
static void
expect_gap (const struct drum *drum, drum_slot_t first, drum_slot_t last)
{
  expect_owner (drum, first, NULL);
  expect_owner (drum, last, NULL);
}

/* d[0], d[1] and d[2] of 10 pages each (slots 1..30), then d[1]
 * released: a gap at 11..20 between two devices.
 */
static void
gap_in_the_middle (struct drum *drum)
{
  claim (drum, 0, 10);
  claim (drum, 1, 10);
  claim (drum, 2, 10);
  release (drum, 1);
}

/* Each test starts with fresh devices and an empty drum, destroyed
 * after it.
 */
static struct drum *drum;

static void
setup (void)
{
  memset (d, 0, sizeof d);
  drum = new_drum ();
}

static void
teardown (void)
{
  drum_destroy (drum);
}

TestSuite (drum, .init = setup, .fini = teardown);

Test (drum, an_empty_drum_has_no_device_for_any_slot)
{
  expect_owner (drum, 0, NULL);
  expect_owner (drum, 1, NULL);
  expect_owner (drum, UINT64_MAX, NULL);
}

Test (drum, destroy_accepts_null)
{
  drum_destroy (NULL);
}

Test (drum, slot_0_is_never_valid)
{
  claim (drum, 0, 1);
  claim (drum, 1, 100);
  cr_assert_gt (d[0].drumoffset, 0);
  expect_owner (drum, 0, NULL);
}

Test (drum, the_first_device_starts_at_slot_1)
{
  claim (drum, 0, 10);
  cr_assert_eq (d[0].drumoffset, 1);
  expect_owner (drum, 1, &d[0]);
  expect_owner (drum, 10, &d[0]);
  expect_owner (drum, 11, NULL);
}

Test (drum, devices_claimed_in_turn_get_adjacent_ranges)
{
  static const uint64_t sizes[] = { 10, 1, 7, 4096 };
  size_t i;

  for (i = 0; i < 4; i++)
    claim (drum, i, sizes[i]);
  for (i = 1; i < 4; i++)
    cr_assert_eq (d[i].drumoffset, d[i - 1].drumoffset + d[i - 1].npages);
}

Test (drum, getsdp_finds_the_first_and_last_slot_of_every_device)
{
  static const uint64_t sizes[] = { 10, 1, 7, 4096, 2, 3 };
  size_t i;

  for (i = 0; i < 6; i++)
    claim (drum, i, sizes[i]);
  for (i = 0; i < 6; i++)
    expect_range (drum, i);
}

Test (drum, the_slot_one_past_the_last_device_has_no_owner)
{
  claim (drum, 0, 10);
  claim (drum, 1, 20);
  expect_owner (drum, d[1].drumoffset + 20, NULL);
  expect_owner (drum, UINT64_MAX, NULL);
}

Test (drum, adjacent_ranges_meet_without_overlap)
{
  claim (drum, 0, 5);
  claim (drum, 1, 5);
  /* Slots 1..5 are d[0], 6..10 are d[1]. */
  expect_owner (drum, 5, &d[0]);
  expect_owner (drum, 6, &d[1]);
}

Test (drum, a_released_range_leaves_a_gap_no_device_owns)
{
  claim (drum, 0, 10);
  claim (drum, 1, 20);
  claim (drum, 2, 30);
  release (drum, 1);
  expect_gap (drum, 11, 30);
  expect_range (drum, 0);
  expect_range (drum, 2);
  expect_owner (drum, 10, &d[0]);
  expect_owner (drum, 31, &d[2]);
}

Test (drum, releasing_the_first_device_leaves_slots_from_1_unowned)
{
  claim (drum, 0, 10);
  claim (drum, 1, 10);
  release (drum, 0);
  expect_gap (drum, 1, 10);
  expect_range (drum, 1);
}

Test (drum, releasing_the_only_device_empties_the_drum)
{
  claim (drum, 0, 10);
  release (drum, 0);
  expect_gap (drum, 1, 5);
  claim (drum, 1, 3);
  cr_assert_eq (d[1].drumoffset, 1, "the range is reused from slot 1");
}

Test (drum, a_new_device_takes_the_first_gap_that_fits)
{
  claim (drum, 0, 10);                  /* 1..10 */
  claim (drum, 1, 20);                  /* 11..30 */
  claim (drum, 2, 30);                  /* 31..60 */
  claim (drum, 3, 40);                  /* 61..100 */
  release (drum, 0);
  release (drum, 2);
  claim (drum, 4, 25);                  /* too big for 1..10 */
  cr_assert_eq (d[4].drumoffset, 31);
  claim (drum, 5, 10);                  /* fits 1..10 exactly */
  cr_assert_eq (d[5].drumoffset, 1);
  claim (drum, 6, 5);                   /* the 56..60 left over */
  cr_assert_eq (d[6].drumoffset, 56);
  for (size_t i = 3; i < 7; i++)
    expect_range (drum, i);
  expect_range (drum, 1);
}

Test (drum, a_device_too_big_for_every_gap_goes_after_the_last_range)
{
  gap_in_the_middle (drum);             /* gap 11..20 */
  claim (drum, 3, 11);
  cr_assert_eq (d[3].drumoffset, 31);
  expect_owner (drum, 11, NULL);
  expect_range (drum, 3);
}

Test (drum, a_reused_gap_is_split_exactly)
{
  gap_in_the_middle (drum);             /* gap 11..20 */
  claim (drum, 3, 4);                   /* 11..14 */
  cr_assert_eq (d[3].drumoffset, 11);
  expect_gap (drum, 15, 20);
  expect_owner (drum, 21, &d[2]);
  claim (drum, 4, 6);                   /* 15..20: fills the rest */
  cr_assert_eq (d[4].drumoffset, 15);
  for (size_t i = 0; i < 5; i++)
    if (i != 1)
      expect_range (drum, i);
}

Test (drum, getsdp_is_right_for_every_slot_of_many_devices)
{
  static struct swapdev many[64];
  size_t i;
  drum_slot_t s;

  for (i = 0; i < 64; i++) {
    many[i].npages = 1 + (i * 37) % 13;
    cr_assert_eq (drum_claim (drum, &many[i]), 0);
  }
  for (i = 0; i < 64; i += 3)           /* gaps of every size */
    cr_assert_eq (drum_release (drum, &many[i]), 0);
  for (i = 0; i < 64; i++)
    for (s = many[i].drumoffset; s < many[i].drumoffset + many[i].npages;
         s++)
      cr_assert_eq (drum_getsdp (drum, s), i % 3 ? &many[i] : NULL,
                    "slot %" PRIu64 " of many[%zu]", s, i);
}

Test (drum, a_claim_past_the_drum_limit_fails_with_enospc_and_changes_nothing)
{
  /* Slots 1 .. DRUM_MAX_SLOT are usable (the map's 32-bit entries). */
  claim (drum, 0, DRUM_MAX_SLOT - 1);
  d[1].npages = 2;
  d[1].drumoffset = 12345;
  errno = 0;
  cr_assert_eq (drum_claim (drum, &d[1]), -1);
  cr_assert_eq (errno, ENOSPC);
  cr_assert_eq (d[1].drumoffset, 12345, "drumoffset untouched");
  expect_owner (drum, DRUM_MAX_SLOT, NULL);
  claim (drum, 2, 1);                   /* the last slot still fits */
  cr_assert_eq (d[2].drumoffset, DRUM_MAX_SLOT);
  expect_range (drum, 0);
  expect_range (drum, 2);
}

Test (drum, releasing_a_device_not_in_the_drum_changes_nothing)
{
  claim (drum, 0, 10);
  claim (drum, 1, 10);
  d[2].npages = 10;
  d[2].drumoffset = 21;
  release (drum, 2);
  expect_range (drum, 0);
  expect_range (drum, 1);
}

/* Swap-off frees a device right after releasing its range, while a
 * reader may still be searching the table from before: the search
 * must read the ranges its table holds, never the devices.  Here the
 * devices' own fields are scribbled over after the claims, as a freed
 * device's may be.
 */
Test (drum, getsdp_searches_the_ranges_in_its_table_not_the_devices)
{
  claim (drum, 0, 10);                  /* 1..10 */
  claim (drum, 1, 20);                  /* 11..30 */
  claim (drum, 2, 30);                  /* 31..60 */
  memset (d, 0xa5, 3 * sizeof d[0]);
  expect_owner (drum, 1, &d[0]);
  expect_owner (drum, 10, &d[0]);
  expect_owner (drum, 11, &d[1]);
  expect_owner (drum, 30, &d[1]);
  expect_owner (drum, 60, &d[2]);
  expect_owner (drum, 61, NULL);
}
