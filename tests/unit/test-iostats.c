/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the per-export request counters and latency
 * histograms (server/export/iostats.c).
 */

#include <config.h>

#include <stdint.h>

#include <criterion/criterion.h>

#include "export/iostats.h"

Test (iostats, every_latency_falls_in_a_bucket_that_holds_it)
{
  uint64_t ns;
  unsigned b;

  for (ns = 1; ns < (UINT64_C (1) << 62); ns = ns * 3 / 2 + 1) {
    b = iostats_bucket (ns);
    cr_assert_lt (b, IOSTATS_BUCKETS);
    cr_assert_geq (iostats_bucket_max (b), ns, "ns %lu", (unsigned long) ns);
    cr_assert (b == 0 || iostats_bucket_max (b - 1) < ns,
               "ns %lu", (unsigned long) ns);
  }
  cr_assert_eq (iostats_bucket (UINT64_MAX), IOSTATS_BUCKETS - 1);
  cr_assert_eq (iostats_bucket_max (IOSTATS_BUCKETS - 1), UINT64_MAX);
}

Test (iostats, a_bucket_spans_at_most_a_quarter_of_its_lower_bound)
{
  unsigned b;

  for (b = 17; b < IOSTATS_BUCKETS; b++) {
    uint64_t lo = iostats_bucket_max (b - 1) + 1;
    uint64_t hi = iostats_bucket_max (b);

    cr_assert_leq (hi - lo + 1, lo / 4, "bucket %u", b);
  }
}

Test (iostats, percentiles_come_from_the_counted_latencies)
{
  static struct iostats st;
  struct sd_iostat out;
  int i;

  /* 989 requests of 1 µs, 10 of 1 ms, 1 of 1 s. */
  for (i = 0; i < 989; i++)
    iostats_add (&st, SD_IO_READ, 4096, 1000, false);
  for (i = 0; i < 10; i++)
    iostats_add (&st, SD_IO_READ, 4096, 1000000, false);
  iostats_add (&st, SD_IO_READ, 4096, 1000000000, true);
  iostats_snapshot (&st, SD_IO_READ, &out);
  cr_assert_eq (out.ops, 1000);
  cr_assert_eq (out.errors, 1);
  cr_assert_eq (out.bytes, 999 * 4096);
  cr_assert (out.p50_ns >= 1000 && out.p50_ns < 1250);
  cr_assert (out.p99_ns >= 1000000 && out.p99_ns < 1250000);
  cr_assert (out.p999_ns >= 1000000 && out.p999_ns < 1250000);
  iostats_snapshot (&st, SD_IO_WRITE, &out);
  cr_assert_eq (out.ops, 0);
  cr_assert_eq (out.p99_ns, 0);
}
