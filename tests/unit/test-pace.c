/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the copy pacing (server/pool/pace.c).  Only lower bounds on
 * time are asserted: a loaded machine may make anything slower, never
 * faster.
 */

#include <config.h>

#include <stdint.h>
#include <time.h>

#include <criterion/criterion.h>

#include "common/clock.h"
#include "pool/pace.h"

#define MIB (UINT64_C (1) << 20)

Test (pace, a_copy_ahead_of_its_rate_is_held_to_it)
{
  struct pace p;
  int64_t t0 = sd_now_ns (), took;
  int i;

  pace_start (&p, 100 * MIB);           /* 10 MiB take >= 100 ms */
  for (i = 0; i < 40; i++)
    pace_account (&p, 256 * 1024);
  took = sd_now_ns () - t0;
  cr_assert_geq (took, 100000000 - PACE_SLEEP_NS,
                 "10 MiB at 100 MiB/s took %lld ns", (long long) took);
  cr_assert_gt (p.sleeps, 0);
}

Test (pace, a_copy_behind_its_rate_never_sleeps)
{
  struct pace p;
  struct timespec ms = { .tv_nsec = 1000000 };
  int i;

  pace_start (&p, 1024 * MIB);
  for (i = 0; i < 20; i++) {
    nanosleep (&ms, NULL);              /* 1 ms a piece: 256 MiB/s */
    pace_account (&p, 256 * 1024);
  }
  cr_assert_eq (p.sleeps, 0);
}

Test (pace, a_copy_that_fell_far_behind_does_not_catch_up_in_a_burst)
{
  struct pace p;
  struct timespec stall = { .tv_nsec = 50000000 };
  int64_t t0, took;
  int i;

  pace_start (&p, 100 * MIB);
  nanosleep (&stall, NULL);             /* 50 ms behind: 5 MiB of lag */
  pace_account (&p, 256 * 1024);        /* restarts the schedule */
  t0 = sd_now_ns ();
  for (i = 0; i < 8; i++)               /* 2 MiB: 20 ms at 100 MiB/s */
    pace_account (&p, 256 * 1024);
  took = sd_now_ns () - t0;
  cr_assert_geq (took, 20000000 - PACE_SLEEP_NS - 2600000,
                 "2 MiB after a stall took %lld ns", (long long) took);
}

Test (pace, a_rate_of_zero_never_sleeps)
{
  struct pace p;
  int i;

  pace_start (&p, 0);
  for (i = 0; i < 1000; i++)
    pace_account (&p, 1024 * MIB);
  cr_assert_eq (p.sleeps, 0);
}
