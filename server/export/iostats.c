/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Per-export request counters and latency histograms (iostats.h). */

#include <config.h>

#include <stdatomic.h>

#include "export/iostats.h"

unsigned
iostats_bucket (uint64_t ns)
{
  unsigned msb;

  if (ns < 16)
    return ns;
  msb = 63 - __builtin_clzll (ns);
  return 16 + (msb - 4) * 4 + ((ns >> (msb - 2)) & 3);
}

uint64_t
iostats_bucket_max (unsigned i)
{
  unsigned msb, sub;

  if (i < 16)
    return i;
  msb = (i - 16) / 4 + 4;
  sub = (i - 16) % 4;
  /* The top bucket ends at UINT64_MAX: computed without overflow. */
  return ((uint64_t) (4 + sub) << (msb - 2)) +
         (((uint64_t) 1 << (msb - 2)) - 1);
}

void
iostats_add (struct iostats *st, enum sd_io_kind kind, uint64_t bytes,
             uint64_t ns, bool failed)
{
  struct iostats_kind *k = &st->kind[kind];

  atomic_fetch_add_explicit (&k->ops, 1, memory_order_relaxed);
  if (failed)
    atomic_fetch_add_explicit (&k->errors, 1, memory_order_relaxed);
  else
    atomic_fetch_add_explicit (&k->bytes, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit (&k->hist[iostats_bucket (ns)], 1,
                             memory_order_relaxed);
}

/* The upper bound of the bucket holding the rank-th smallest latency
 * (1-based) of hist, which counts total.
 */
static uint64_t
at_rank (const uint64_t *hist, uint64_t rank)
{
  uint64_t seen = 0;
  unsigned i;

  for (i = 0; i < IOSTATS_BUCKETS; i++) {
    seen += hist[i];
    if (seen >= rank)
      return iostats_bucket_max (i);
  }
  return iostats_bucket_max (IOSTATS_BUCKETS - 1);
}

/* The rank of per-mille pm among total (at least 1). */
static uint64_t
rank_of (uint64_t total, unsigned pm)
{
  uint64_t r = (total * pm + 999) / 1000;

  return r ? r : 1;
}

void
iostats_snapshot (const struct iostats *st, enum sd_io_kind kind,
                  struct sd_iostat *out)
{
  const struct iostats_kind *k = &st->kind[kind];
  uint64_t hist[IOSTATS_BUCKETS], total = 0;
  unsigned i;

  for (i = 0; i < IOSTATS_BUCKETS; i++) {
    hist[i] = atomic_load_explicit (&k->hist[i], memory_order_relaxed);
    total += hist[i];
  }
  out->ops = atomic_load_explicit (&k->ops, memory_order_relaxed);
  out->bytes = atomic_load_explicit (&k->bytes, memory_order_relaxed);
  out->errors = atomic_load_explicit (&k->errors, memory_order_relaxed);
  out->p50_ns = total ? at_rank (hist, rank_of (total, 500)) : 0;
  out->p99_ns = total ? at_rank (hist, rank_of (total, 990)) : 0;
  out->p999_ns = total ? at_rank (hist, rank_of (total, 999)) : 0;
}
