/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of an export's reserve (reserve=SIZE): while it holds
 * less, the pool keeps that much room free for it whatever other
 * exports write; the pool refuses to promise more than it has, at
 * creation, at swap-off and at a ctl.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "swapdrum/export.h"

TestSuite (reserve, .init = fx_quiet, .timeout = 60);

/* An export of 1 MiB with a reserve of reserve_pages pages and, if
 * lo <= hi, tiers [lo, hi].
 */
static struct export *
reserving (struct pool *pool, const char *name, uint64_t reserve_pages,
           int lo, int hi)
{
  struct exportspec spec = {
    .name = (char *) name, .size = 1 * MIB, .reserve = reserve_pages * PAGE,
    .tier_lo = lo, .tier_hi = hi, .tiers_set = lo <= hi,
  };
  struct export *exp = export_create_spec (pool, &spec);

  cr_assert_not_null (exp, "%s", mb_log_last ());
  return exp;
}

/* Write page after page from first on until ENOSPC.
 * => returns how many pages were written.
 */
static uint64_t
flood (struct export *exp, uint64_t first)
{
  char page[PAGE];
  uint64_t n = 0;

  memset (page, 'f', PAGE);
  while (export_pwrite (exp, page, PAGE, (first + n) * PAGE, false) == 0)
    n++;
  cr_assert_eq (errno, ENOSPC);
  return n;
}

/* Write n pages from 0 on, each of which must work. */
static void
write_pages (struct export *exp, uint64_t n)
{
  char page[PAGE];
  uint64_t i;

  memset (page, 'r', PAGE);
  for (i = 0; i < n; i++)
    fx_pwrite_ok (exp, page, PAGE, i * PAGE);
}

/* The usual rig: one device "a" of 128 pages, an export "r" reserving
 * 32 of them and an export "test" with no limits.
 */
struct rig {
  struct pool *pool;
  struct export *r, *f;
};

static struct rig
rig_new (void)
{
  struct rig g;

  g.pool = fx_new_pool ();
  fx_add_dev (g.pool, "a", 128, 0, NULL);
  g.r = reserving (g.pool, "r", 32, 1, 0);
  g.f = fx_new_export (g.pool, 1 * MIB);
  return g;
}

static void
rig_done (struct rig *g)
{
  export_destroy (g->f);
  export_destroy (g->r);
  pool_destroy (g->pool);
}

Test (reserve, a_flood_of_another_export_leaves_the_reserve_free)
{
  struct rig g = rig_new ();

  cr_assert_eq (flood (g.f, 0), 96);
  cr_assert (mb_log_has ("write: export test page 96: the free pages left "
                         "are reserved for other exports"), "%s",
             mb_log_last ());
  write_pages (g.r, 32);
  cr_assert_eq (export_used (g.r), 32 * PAGE);
  fx_pwrite_fails (g.r, "x", 1, 40 * PAGE, ENOSPC);
  cr_assert (mb_log_has ("the pool is full"), "%s", mb_log_last ());
  rig_done (&g);
}

Test (reserve, pages_beyond_the_reserve_compete_like_any_other)
{
  struct rig g = rig_new ();

  write_pages (g.r, 40);
  cr_assert_eq (flood (g.f, 0), 88);
  rig_done (&g);
}

Test (reserve, trimmed_pages_of_a_reserved_export_stay_reserved)
{
  struct rig g = rig_new ();

  write_pages (g.r, 32);
  cr_assert_eq (flood (g.f, 0), 96);
  cr_assert_eq (export_trim (g.r, 16 * PAGE, 0), 0);
  cr_assert_eq (flood (g.f, 96), 0, "the other export took trimmed pages");
  write_pages (g.r, 32);
  rig_done (&g);
}

Test (reserve, a_reserve_in_tiers_is_kept_on_those_tiers)
{
  struct pool *pool = fx_new_pool ();
  struct export *r, *f;

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "b", 64, 1, NULL);
  r = reserving (pool, "r", 48, 1, 1);
  f = fx_new_export (pool, 1 * MIB);
  cr_assert_eq (flood (f, 0), 80);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 64);
  write_pages (r, 48);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 64);
  export_destroy (f);
  export_destroy (r);
  pool_destroy (pool);
}

Test (reserve, the_pool_refuses_to_promise_more_than_it_has)
{
  struct pool *pool = fx_new_pool ();
  struct exportspec spec = {
    .name = (char *) "b", .size = 1 * MIB, .reserve = 96 * PAGE,
  };
  struct export *a;
  char **names;

  fx_add_dev (pool, "a", 128, 0, NULL);
  a = reserving (pool, "a", 64, 1, 0);
  errno = 0;
  cr_assert_null (export_create_spec (pool, &spec));
  cr_assert_eq (errno, ENOSPC);
  cr_assert_str_eq (mb_log_last (), "export: b: reserve 384 KiB: the pool "
                    "has 512 KiB, 256 KiB already reserved by a: 128 KiB "
                    "short");
  names = pool_export_names (pool);
  cr_assert_str_eq (names[0], "a");
  cr_assert_null (names[1], "the table took b");
  pool_names_free (names);
  export_destroy (a);
  pool_destroy (pool);
}

Test (reserve, a_reserve_beyond_its_tiers_is_refused)
{
  struct pool *pool = fx_new_pool ();
  struct exportspec spec = {
    .name = (char *) "r", .size = 1 * MIB, .reserve = 80 * PAGE,
    .tier_lo = 1, .tier_hi = 1, .tiers_set = true,
  };

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "b", 64, 1, NULL);
  cr_assert_null (export_create_spec (pool, &spec));
  cr_assert_str_eq (mb_log_last (), "export: r: reserve 320 KiB: tiers 1-1 "
                    "have 256 KiB: 64 KiB short");
  pool_destroy (pool);
}

/* A pool of two devices "a" and "b" of 64 pages at priority 0. */
static struct pool *
equal_pair (void)
{
  struct pool *pool = fx_new_pool ();

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "b", 64, 0, NULL);
  return pool;
}

Test (reserve, swap_off_below_the_reserves_is_refused)
{
  struct pool *pool = equal_pair ();
  struct export *r;

  r = reserving (pool, "r", 96, 1, 0);
  errno = 0;
  cr_assert_eq (pool_swapoff (pool, "a", NULL, NULL), -1);
  cr_assert_eq (errno, ENOSPC);
  cr_assert_str_eq (mb_log_last (), "off: a: without it: the pool would "
                    "have 256 KiB, but exports reserve 384 KiB there (r): "
                    "128 KiB short; lower a reserve first");
  cr_assert_eq (fx_stat_of (pool, "a").flags & SWF_ENABLE, SWF_ENABLE);
  write_pages (r, 96);
  export_destroy (r);
  pool_destroy (pool);
}

Test (reserve, a_ctl_moving_a_device_out_of_reserved_tiers_is_refused)
{
  struct pool *pool = equal_pair ();
  struct export *r;

  r = reserving (pool, "r", 96, 0, 0);
  errno = 0;
  cr_assert_eq (pool_ctl (pool, "b", 1), -1);
  cr_assert_eq (errno, ENOSPC);
  cr_assert_str_eq (mb_log_last (), "ctl: b: priority 1: tiers 0-0 would "
                    "have 256 KiB, but exports reserve 384 KiB there (r): "
                    "128 KiB short; lower a reserve first");
  cr_assert_eq (fx_stat_of (pool, "b").priority, 0);
  export_destroy (r);
  pool_destroy (pool);
}

/* Racing: a flooder and the reserved export write at once. */
struct racer {
  struct export *exp;
  uint64_t first, n, done;
};

static void *
race_writes (void *arg)
{
  struct racer *rc = arg;
  char page[PAGE];

  memset (page, 'z', PAGE);
  for (rc->done = 0; rc->done < rc->n; rc->done++)
    if (export_pwrite (rc->exp, page, PAGE, (rc->first + rc->done) * PAGE,
                       false) == -1)
      break;
  return NULL;
}

Test (reserve, the_reserve_holds_while_the_flood_races_it)
{
  struct pool *pool = fx_new_pool ();
  struct racer f = { .n = 256 }, r = { .n = 64 };
  pthread_t tf, tr;

  fx_add_dev (pool, "a", 128, 0, NULL);
  fx_add_dev (pool, "b", 128, 0, NULL);
  r.exp = reserving (pool, "r", 64, 1, 0);
  f.exp = fx_new_export (pool, 1 * MIB);
  pthread_create (&tf, NULL, race_writes, &f);
  pthread_create (&tr, NULL, race_writes, &r);
  pthread_join (tf, NULL);
  pthread_join (tr, NULL);
  cr_assert_eq (r.done, 64, "the reserved export wrote %lu of 64",
                (unsigned long) r.done);
  cr_assert_eq (f.done, 192);
  export_destroy (f.exp);
  export_destroy (r.exp);
  pool_destroy (pool);
}
