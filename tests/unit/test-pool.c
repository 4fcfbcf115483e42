/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the swap pool's slot allocation (server/pool/pool.c) over
 * in-memory devices: placement by priority and round robin, lessok,
 * ENOSPC, free and reuse, bad pages, and alloc/free from many threads.
 * Swap-on, FAILED devices, stats and flush are in test-pool-devices.c.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"

/* Every test starts with an empty pool, destroyed after it. */
static struct pool *pool;

static void
setup (void)
{
  fx_quiet ();
  pool = fx_new_pool ();
}

static void
teardown (void)
{
  pool_destroy (pool);
}

TestSuite (pool, .init = setup, .fini = teardown);

/* ---- placement ---- */

Test (pool, equal_priority_devices_take_turns)
{
  struct swapdev *a = fx_add_dev (pool, "a", 100, 0, NULL);
  struct swapdev *b = fx_add_dev (pool, "b", 100, 0, NULL);
  drum_slot_t slot;
  int i;

  for (i = 0; i < 10; i++) {
    struct swapdev *want = i % 2 ? b : a;
    slot = fx_alloc_on (pool, want);
    cr_assert_eq (slot, want->drumoffset + i / 2,
                  "each device hands out its pages lowest first");
  }
}

Test (pool, three_equal_devices_take_turns_in_the_order_they_were_added)
{
  struct swapdev *d[3];
  int i;

  d[0] = fx_add_dev (pool, "a", 10, 7, NULL);
  d[1] = fx_add_dev (pool, "b", 10, 7, NULL);
  d[2] = fx_add_dev (pool, "c", 10, 7, NULL);
  for (i = 0; i < 9; i++)
    fx_alloc_on (pool, d[i % 3]);
}

Test (pool, lower_priority_numbers_are_used_first_and_the_next_only_when_full)
{
  struct swapdev *x = fx_add_dev (pool, "x", 4, 0, NULL);
  struct swapdev *y = fx_add_dev (pool, "y", 4, 0, NULL);
  struct swapdev *z = fx_add_dev (pool, "z", 4, 5, NULL);
  struct swapdev *w = fx_add_dev (pool, "w", 4, -3, NULL);
  int i;

  for (i = 0; i < 4; i++)
    fx_alloc_on (pool, w);
  for (i = 0; i < 8; i++)
    fx_alloc_on (pool, i % 2 ? y : x);
  for (i = 0; i < 4; i++)
    fx_alloc_on (pool, z);
  fx_expect_enospc (pool, 1);
}

Test (pool, a_slot_freed_on_a_preferred_device_is_used_before_a_worse_one)
{
  struct swapdev *x = fx_add_dev (pool, "x", 4, 0, NULL);
  struct swapdev *z = fx_add_dev (pool, "z", 100, 5, NULL);
  drum_slot_t slot = fx_alloc_n (pool, 4);

  fx_alloc_on (pool, z);
  pool_free (pool, slot + 2, 1);
  cr_assert_eq (fx_alloc_on (pool, x), slot + 2);
  fx_alloc_on (pool, z);
}

Test (pool, a_request_longer_than_any_run_gets_a_shorter_run)
{
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, NULL);
  struct swapdev *b = fx_add_dev (pool, "b", 10, 0, NULL);
  drum_slot_t slot;

  cr_assert_eq (pool_alloc (pool, 15, &slot), 10);
  cr_assert_eq (slot, a->drumoffset);
  cr_assert_eq (pool_alloc (pool, 15, &slot), 10);
  cr_assert_eq (slot, b->drumoffset);
  fx_expect_enospc (pool, 15);
}

Test (pool, a_whole_run_on_an_equal_device_beats_a_shorter_one)
{
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, NULL);
  struct swapdev *b = fx_add_dev (pool, "b", 10, 0, NULL);
  drum_slot_t first = fx_alloc_n (pool, 10), slot;
  int i;

  /* a: every other page free, runs of one; b is untouched and a is
   * back at the head of the ring.
   */
  for (i = 0; i < 10; i += 2)
    pool_free (pool, first + i, 1);
  fx_alloc_on (pool, b);
  pool_free (pool, b->drumoffset, 1);
  cr_assert_eq (pool_alloc (pool, 5, &slot), 5);
  cr_assert_eq (pool_getsdp (pool, slot), b);
  cr_assert_eq (a->drumoffset, first);
}

Test (pool, a_short_run_at_a_preferred_priority_beats_a_whole_run_at_a_worse)
{
  struct swapdev *x = fx_add_dev (pool, "x", 10, 0, NULL);
  drum_slot_t first = fx_alloc_n (pool, 10), slot;
  int i;

  fx_add_dev (pool, "z", 100, 5, NULL);
  for (i = 0; i < 10; i += 3)
    pool_free (pool, first + i, 1);
  cr_assert_eq (pool_alloc (pool, 4, &slot), 1);
  cr_assert_eq (pool_getsdp (pool, slot), x);
}

Test (pool, an_empty_pool_fails_with_enospc)
{
  fx_expect_enospc (pool, 1);
  fx_expect_enospc (pool, 1000);
}

Test (pool, a_full_pool_fails_with_enospc_until_a_slot_is_freed)
{
  struct swapdev *a = fx_add_dev (pool, "a", 8, 0, NULL);
  drum_slot_t slot = fx_alloc_n (pool, 8);

  fx_expect_enospc (pool, 1);
  fx_expect_enospc (pool, 3);
  pool_free (pool, slot + 5, 1);
  cr_assert_eq (fx_alloc_on (pool, a), slot + 5);
  fx_expect_enospc (pool, 1);
}

/* ---- free and reuse ---- */

Test (pool, freed_slots_are_handed_out_again)
{
  struct swapdev *a = fx_add_dev (pool, "a", 20, 0, NULL);
  drum_slot_t slot = fx_alloc_n (pool, 20);

  pool_free (pool, slot + 4, 3);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 17);
  cr_assert_eq (fx_stat_of (pool, "a").avail, 3);
  cr_assert_eq (fx_alloc_n (pool, 3), slot + 4);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 20);
  cr_assert_eq (pool_getsdp (pool, slot + 4), a);
}

Test (pool, a_free_may_span_devices_with_adjacent_ranges)
{
  struct swapdev *a = fx_add_dev (pool, "a", 10, 0, NULL);
  struct swapdev *b = fx_add_dev (pool, "b", 10, 1, NULL);

  fx_alloc_n (pool, 10);
  fx_alloc_n (pool, 10);
  cr_assert_eq (b->drumoffset, a->drumoffset + 10);
  pool_free (pool, a->drumoffset + 6, 8);       /* 4 on a, 4 on b */
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 6);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 6);
  cr_assert_eq (mb_log_errors (), 0);
}

Test (pool, freeing_a_free_slot_is_reported_and_changes_nothing)
{
  drum_slot_t slot;

  fx_add_dev (pool, "a", 10, 0, NULL);
  slot = fx_alloc_n (pool, 5);
  pool_free (pool, slot + 3, 4);                /* 5 and 6 are free */
  cr_assert_eq (mb_log_errors (), 1);
  cr_assert (mb_log_has ("free: a: slots "), "got: %s", mb_log_last ());
  cr_assert (mb_log_has (": not allocated (bug)"));
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 5);
}

Test (pool, freeing_a_slot_no_device_owns_is_reported)
{
  fx_add_dev (pool, "a", 10, 0, NULL);
  fx_alloc_n (pool, 10);
  pool_free (pool, 0, 1);
  cr_assert_str_eq (mb_log_last (), "free: slot 0: no device owns it (bug)");
  pool_free (pool, 11, 1);
  cr_assert_eq (mb_log_errors (), 2);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 10);
}

/* ---- bad pages ---- */

Test (pool, markbad_moves_a_page_from_inuse_to_bad)
{
  drum_slot_t slot;
  struct pool_devstat st;

  fx_add_dev (pool, "a", 10, 0, NULL);
  slot = fx_alloc_n (pool, 2);
  pool_markbad (pool, slot + 1);
  st = fx_stat_of (pool, "a");
  cr_assert_eq (st.inuse, 1);
  cr_assert_eq (st.bad, 1);
  cr_assert_eq (st.avail, 8);
}

Test (pool, a_bad_page_is_never_handed_out_again)
{
  drum_slot_t first, slot;
  int i, got = 0;

  fx_add_dev (pool, "a", 8, 0, NULL);
  first = fx_alloc_n (pool, 8);
  pool_markbad (pool, first + 3);
  for (i = 0; i < 8; i++)
    if (i != 3)
      pool_free (pool, first + i, 1);
  while (pool_alloc (pool, 1, &slot) == 1) {
    cr_assert_neq (slot, first + 3);
    got++;
  }
  cr_assert_eq (got, 7);
  pool_free (pool, first, 3);
  cr_assert_eq (pool_alloc (pool, 8, &slot), 3, "the bad page splits runs");
}

Test (pool, a_device_whose_pages_are_all_bad_is_skipped)
{
  struct swapdev *b;
  drum_slot_t first;
  int i;

  fx_add_dev (pool, "a", 4, 0, NULL);
  b = fx_add_dev (pool, "b", 4, 1, NULL);
  first = fx_alloc_n (pool, 4);
  for (i = 0; i < 4; i++)
    pool_markbad (pool, first + i);
  fx_alloc_on (pool, b);
  cr_assert_eq (fx_stat_of (pool, "a").avail, 0);
}

/* ---- threads ---- */

#define STRESS_THREADS 16
#define STRESS_ROUNDS 3000
#define STRESS_HOLD 8                   /* runs a thread holds at most */
#define STRESS_WANT 8                   /* longest run asked for */

struct stresser {
  struct pool *pool;
  unsigned id;                          /* >= 1 */
  pthread_barrier_t *start;
  _Atomic unsigned *owner;              /* [nslots]: holder's id or 0 */
  uint64_t nslots;
  uint64_t errors, allocs;              /* results, read after join */
};

/* Claim every slot of a run in the ownership array; a slot someone
 * else holds was handed out twice.
 */
static void
stress_take (struct stresser *s, drum_slot_t slot, uint64_t n)
{
  uint64_t i;

  if (slot + n > s->nslots ||
      pool_getsdp (s->pool, slot) != pool_getsdp (s->pool, slot + n - 1)) {
    s->errors++;
    return;
  }
  for (i = 0; i < n; i++)
    if (atomic_exchange (&s->owner[slot + i], s->id) != 0)
      s->errors++;
}

/* Give a run back: disown it first, so no other thread can be handed
 * it while we still appear to hold it.
 */
static void
stress_give (struct stresser *s, drum_slot_t slot, uint64_t n)
{
  uint64_t i;

  for (i = 0; i < n; i++)
    if (atomic_exchange (&s->owner[slot + i], 0) != s->id)
      s->errors++;
  pool_free (s->pool, slot, n);
}

static void *
stress (void *arg)
{
  struct stresser *s = arg;
  struct { drum_slot_t slot; uint64_t n; } held[STRESS_HOLD] = { { 0 } };
  uint64_t state = s->id * UINT64_C (0x9e3779b97f4a7c15);
  unsigned round, k;
  uint64_t want;

  pthread_barrier_wait (s->start);
  for (round = 0; round < STRESS_ROUNDS; round++) {
    state = state * 6364136223846793005 + 1442695040888963407;
    k = (state >> 33) % STRESS_HOLD;
    if (held[k].n > 0) {
      stress_give (s, held[k].slot, held[k].n);
      held[k].n = 0;
      continue;
    }
    want = 1 + (state >> 40) % STRESS_WANT;
    errno = 0;
    held[k].n = pool_alloc (s->pool, want, &held[k].slot);
    if (held[k].n == 0) {
      if (errno != ENOSPC)
        s->errors++;
      continue;
    }
    if (held[k].n > want)
      s->errors++;
    s->allocs++;
    stress_take (s, held[k].slot, held[k].n);
  }
  for (k = 0; k < STRESS_HOLD; k++)
    if (held[k].n > 0)
      stress_give (s, held[k].slot, held[k].n);
  return NULL;
}

Test (pool, concurrent_alloc_and_free_never_hand_out_a_slot_twice)
{
  static struct stresser s[STRESS_THREADS];
  pthread_t th[STRESS_THREADS];
  pthread_barrier_t start;
  struct pool_devstat *st;
  uint64_t nslots, allocs = 0;
  _Atomic unsigned *owner;
  ssize_t n, i;
  unsigned t;

  /* 256 slots for 16 threads holding up to 64 each: full at times. */
  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "b", 64, 0, NULL);
  fx_add_dev (pool, "c", 64, 1, NULL);
  fx_add_dev (pool, "d", 64, -2, NULL);
  nslots = 1 + pool_npages (pool);
  owner = calloc (nslots, sizeof *owner);
  cr_assert_not_null (owner);
  pthread_barrier_init (&start, NULL, STRESS_THREADS);
  for (t = 0; t < STRESS_THREADS; t++) {
    s[t] = (struct stresser) { .pool = pool, .id = t + 1, .start = &start,
                               .owner = owner, .nslots = nslots };
    cr_assert_eq (pthread_create (&th[t], NULL, stress, &s[t]), 0);
  }
  for (t = 0; t < STRESS_THREADS; t++) {
    pthread_join (th[t], NULL);
    cr_assert_eq (s[t].errors, 0, "thread %u saw %" PRIu64 " errors",
                  t, s[t].errors);
    allocs += s[t].allocs;
  }
  cr_assert_gt (allocs, STRESS_THREADS * STRESS_ROUNDS / 4);
  n = pool_stats (pool, &st);
  for (i = 0; i < n; i++) {
    cr_assert_eq (st[i].inuse, 0, "%s: %" PRIu64 " slots leaked",
                  st[i].path, st[i].inuse);
    cr_assert_eq (st[i].avail, st[i].npages);
  }
  pool_stats_free (st, n);
  cr_assert_eq (mb_log_errors (), 0, "got: %s", mb_log_last ());
  pthread_barrier_destroy (&start);
  free (owner);
}
