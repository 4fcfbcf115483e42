/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the priority list (server/pool/prio.c): one behaviour per
 * test.  The list only reads a device's priority, so the devices here
 * are bare structs.
 */

#include <config.h>

#include <stddef.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pool/prio.h"

#define NDEVS 8

/* Devices d[i] with the given priorities, none in a list yet. */
static struct swapdev d[NDEVS];

static void
set_priorities (const int *prio, size_t n)
{
  size_t i;

  memset (d, 0, sizeof d);
  for (i = 0; i < n; i++)
    d[i].priority = prio[i];
}

static void
insert_ok (struct prio_list *pl, struct swapdev *dev)
{
  cr_assert_eq (prio_insert (pl, dev), 0);
}

/* Assert that pl holds exactly the devices of `want`, in that order. */
static void
expect_order (const struct prio_list *pl, struct swapdev *const *want,
              size_t n)
{
  size_t i;

  cr_assert_eq (pl->n, n, "list holds %zu devices, expected %zu", pl->n, n);
  for (i = 0; i < n; i++)
    cr_assert_eq (pl->devs[i], want[i],
                  "position %zu holds d[%td], expected d[%td]",
                  i, pl->devs[i] - d, want[i] - d);
}

/* Insert d[0] .. d[n - 1], with priorities prio, in that order. */
static void
insert_with_priorities (struct prio_list *pl, const int *prio, size_t n)
{
  size_t i;

  set_priorities (prio, n);
  for (i = 0; i < n; i++)
    insert_ok (pl, &d[i]);
}

/* A list of d[0] (5), d[1] (0), d[2] (-3), d[3] (0), d[4] (5),
 * inserted in that order.
 */
static void
three_priorities (struct prio_list *pl)
{
  static const int prio[] = { 5, 0, -3, 0, 5 };

  insert_with_priorities (pl, prio, 5);
}

/* Assert that pl is in the order three_priorities left it: by
 * priority, and inside a priority in the order of insertion.
 */
static void
expect_three_priorities_order (const struct prio_list *pl)
{
  expect_order (pl, (struct swapdev *[]) { &d[2], &d[1], &d[3], &d[0],
                                           &d[4] }, 5);
}

Test (prio, devices_are_kept_in_priority_order_lower_number_first)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  for (size_t i = 1; i < pl.n; i++)
    cr_assert_leq (pl.devs[i - 1]->priority, pl.devs[i]->priority);
  cr_assert_eq (pl.devs[0], &d[2], "-3 is the most preferred");
  prio_free (&pl);
}

Test (prio, a_new_device_joins_the_tail_of_its_ring)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  expect_three_priorities_order (&pl);
  d[5].priority = 0;
  insert_ok (&pl, &d[5]);
  expect_order (&pl, (struct swapdev *[]) { &d[2], &d[1], &d[3], &d[5],
                                            &d[0], &d[4] }, 6);
  prio_free (&pl);
}

Test (prio, a_device_of_a_new_priority_starts_its_own_group)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  d[5].priority = 2;
  insert_ok (&pl, &d[5]);
  expect_order (&pl, (struct swapdev *[]) { &d[2], &d[1], &d[3], &d[5],
                                            &d[0], &d[4] }, 6);
  cr_assert_eq (prio_group_end (&pl, 3), 4);
  prio_free (&pl);
}

Test (prio, rotation_moves_a_device_to_the_tail_of_its_own_group_only)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  prio_rotate (&pl, &d[1]);
  expect_order (&pl, (struct swapdev *[]) { &d[2], &d[3], &d[1], &d[0],
                                            &d[4] }, 5);
  prio_rotate (&pl, &d[0]);
  expect_order (&pl, (struct swapdev *[]) { &d[2], &d[3], &d[1], &d[4],
                                            &d[0] }, 5);
  prio_free (&pl);
}

Test (prio, rotating_every_member_of_a_ring_in_turn_restores_its_order)
{
  static const int prio[] = { 1, 1, 1, 1 };
  struct prio_list pl = { 0 };
  size_t i;

  insert_with_priorities (&pl, prio, 4);
  for (i = 0; i < 4; i++) {
    cr_assert_eq (pl.devs[0], &d[i], "the head takes its turn");
    prio_rotate (&pl, pl.devs[0]);
  }
  expect_order (&pl, (struct swapdev *[]) { &d[0], &d[1], &d[2], &d[3] },
                4);
  prio_free (&pl);
}

Test (prio, rotating_the_tail_of_a_ring_changes_nothing)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  prio_rotate (&pl, &d[3]);
  prio_rotate (&pl, &d[2]);             /* alone in its group */
  prio_rotate (&pl, &d[4]);             /* tail of the whole list */
  expect_three_priorities_order (&pl);
  prio_free (&pl);
}

Test (prio, rotating_a_device_not_in_the_list_changes_nothing)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  d[6].priority = 0;
  prio_rotate (&pl, &d[6]);
  expect_three_priorities_order (&pl);
  prio_free (&pl);
}

Test (prio, removing_a_device_keeps_the_order_of_the_others)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  prio_remove (&pl, &d[1]);
  expect_order (&pl, (struct swapdev *[]) { &d[2], &d[3], &d[0], &d[4] },
                4);
  prio_free (&pl);
}

Test (prio, removing_the_last_device_of_a_group_makes_the_group_disappear)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  prio_remove (&pl, &d[2]);             /* the only -3 */
  expect_order (&pl, (struct swapdev *[]) { &d[1], &d[3], &d[0], &d[4] },
                4);
  cr_assert_eq (pl.devs[0]->priority, 0);
  cr_assert_eq (prio_group_end (&pl, 0), 2);
  prio_remove (&pl, &d[1]);
  prio_remove (&pl, &d[3]);             /* the 0 group is gone too */
  cr_assert_eq (pl.n, 2);
  cr_assert_eq (prio_group_end (&pl, 0), 2, "only the 5 group is left");
  prio_free (&pl);
}

Test (prio, a_group_that_disappeared_can_come_back)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  prio_remove (&pl, &d[2]);
  insert_ok (&pl, &d[2]);
  expect_three_priorities_order (&pl);
  prio_free (&pl);
}

Test (prio, removing_a_device_not_in_the_list_changes_nothing)
{
  struct prio_list pl = { 0 };

  three_priorities (&pl);
  prio_remove (&pl, &d[7]);
  expect_three_priorities_order (&pl);
  prio_free (&pl);
}

Test (prio, group_end_is_one_past_the_last_device_of_the_same_priority)
{
  static const size_t want[] = { 1, 3, 3, 5, 5 };
  struct prio_list pl = { 0 };
  size_t i;

  three_priorities (&pl);
  for (i = 0; i < 5; i++)
    cr_assert_eq (prio_group_end (&pl, i), want[i], "group end of %zu", i);
  prio_free (&pl);
}

Test (prio, group_end_of_a_list_of_one_priority_is_the_list_end)
{
  static const int prio[] = { -7, -7, -7 };
  struct prio_list pl = { 0 };
  size_t i;

  insert_with_priorities (&pl, prio, 3);
  for (i = 0; i < 3; i++)
    cr_assert_eq (prio_group_end (&pl, i), 3);
  prio_free (&pl);
}

Test (prio, the_list_grows_past_its_first_allocation)
{
  static struct swapdev many[100];
  struct prio_list pl = { 0 };
  size_t i;

  for (i = 0; i < 100; i++) {
    many[i].priority = (int) (i % 7) - 3;
    insert_ok (&pl, &many[i]);
  }
  cr_assert_eq (pl.n, 100);
  cr_assert_geq (pl.cap, 100);
  for (i = 1; i < 100; i++) {
    cr_assert_leq (pl.devs[i - 1]->priority, pl.devs[i]->priority);
    /* Inside a group, insertion order is kept. */
    if (pl.devs[i - 1]->priority == pl.devs[i]->priority)
      cr_assert_lt (pl.devs[i - 1], pl.devs[i]);
  }
  prio_free (&pl);
}

Test (prio, free_empties_the_list_and_accepts_an_empty_one)
{
  struct prio_list pl = { 0 };

  prio_free (&pl);
  three_priorities (&pl);
  prio_free (&pl);
  cr_assert_eq (pl.n, 0);
  cr_assert_null (pl.devs);
  insert_ok (&pl, &d[0]);               /* usable again */
  cr_assert_eq (pl.n, 1);
  prio_free (&pl);
}
