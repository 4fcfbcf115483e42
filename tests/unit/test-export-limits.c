/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of export_set_limits: an export's quota, reserve and
 * tiers change live; a change the export or the pool cannot keep is
 * refused with one line and changes nothing.
 */

#include <config.h>

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "swapdrum/export.h"

TestSuite (limits, .init = fx_quiet, .timeout = 60);

#define ALL SD_PRIORITY_MIN, SD_PRIORITY_MAX

/* The pool of the tests: "a" (priority 0) and "b" (priority 1), 64
 * pages each.
 */
static struct pool *pool;

static void
two_tiers (void)
{
  fx_quiet ();
  pool = fx_new_pool ();
  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "b", 64, 1, NULL);
}

static void
done (void)
{
  pool_destroy (pool);
}

TestSuite (limits_live, .init = two_tiers, .fini = done, .timeout = 60);

static void
write_pages (struct export *exp, uint64_t first, uint64_t n)
{
  char page[PAGE];
  uint64_t i;

  memset (page, 'l', PAGE);
  for (i = 0; i < n; i++)
    fx_pwrite_ok (exp, page, PAGE, (first + i) * PAGE);
}

/* Assert that the export's limits are these. */
static void
expect_limits (struct export *exp, uint64_t quota, uint64_t reserve,
               int lo, int hi)
{
  int tlo, thi;

  cr_assert_eq (export_quota (exp), quota);
  cr_assert_eq (export_reserve (exp), reserve);
  export_tiers (exp, &tlo, &thi);
  cr_assert_eq (tlo, lo);
  cr_assert_eq (thi, hi);
}

/* Assert that export_set_limits refuses with err and message msg. */
static void
expect_refused (struct export *exp, uint64_t quota, uint64_t reserve,
                int lo, int hi, int err, const char *msg)
{
  errno = 0;
  cr_assert_eq (export_set_limits (exp, quota, reserve, lo, hi), -1);
  cr_assert_eq (errno, err, "errno %d", errno);
  cr_assert_str_eq (mb_log_last (), msg);
}

/* A new export of 1 MiB called name, with no limits. */
static struct export *
named (const char *name)
{
  struct exportspec spec = { .name = (char *) name, .size = 1 * MIB };
  struct export *exp = export_create_spec (pool, &spec);

  cr_assert_not_null (exp, "%s", mb_log_last ());
  return exp;
}

Test (limits_live, a_new_quota_applies_to_the_next_write)
{
  struct export *exp = fx_new_export (pool, 1 * MIB);

  cr_assert_eq (export_set_limits (exp, 4 * PAGE, 0, ALL), 0);
  expect_limits (exp, 4 * PAGE, 0, ALL);
  write_pages (exp, 0, 4);
  fx_pwrite_fails (exp, "x", 1, 10 * PAGE, ENOSPC);
  cr_assert_eq (export_set_limits (exp, 0, 0, ALL), 0);
  write_pages (exp, 10, 1);
  export_destroy (exp);
}

Test (limits_live, a_quota_below_what_the_export_holds_is_refused)
{
  struct export *exp = fx_new_export (pool, 1 * MIB);

  write_pages (exp, 0, 10);
  expect_refused (exp, 8 * PAGE, 0, ALL, EINVAL,
                  "export: test: quota 32 KiB is below the 40 KiB it holds");
  expect_limits (exp, 0, 0, ALL);
  export_destroy (exp);
}

Test (limits_live, a_reserve_above_the_quota_is_refused)
{
  struct export *exp = fx_new_export (pool, 1 * MIB);

  expect_refused (exp, 8 * PAGE, 16 * PAGE, ALL, EINVAL,
                  "export: test: reserve 64 KiB is more than the quota "
                  "32 KiB");
  expect_limits (exp, 0, 0, ALL);
  export_destroy (exp);
}

Test (limits_live, a_reserve_beyond_the_export_size_is_refused)
{
  struct export *exp = fx_new_export (pool, 64 * PAGE);

  expect_refused (exp, 0, 65 * PAGE, ALL, EINVAL,
                  "export: test: reserve (266240 bytes) is more than its "
                  "size (262144 bytes)");
  expect_limits (exp, 0, 0, ALL);
  export_destroy (exp);
}

Test (limits_live, a_reserve_beyond_the_pool_is_refused_with_the_shortfall)
{
  struct export *a = fx_new_export (pool, 1 * MIB);
  struct export *b = named ("b");

  cr_assert_eq (export_set_limits (a, 0, 100 * PAGE, ALL), 0);
  expect_refused (b, 0, 40 * PAGE, ALL, ENOSPC,
                  "export: b: reserve 160 KiB: the pool has 512 KiB, "
                  "400 KiB already reserved by test: 48 KiB short");
  expect_limits (b, 0, 0, ALL);
  export_destroy (b);
  export_destroy (a);
}

Test (limits_live, a_new_reserve_holds_against_a_flood)
{
  struct export *a = fx_new_export (pool, 1 * MIB);
  struct export *b = named ("b");
  char page[PAGE];
  uint64_t n = 0;

  cr_assert_eq (export_set_limits (b, 0, 20 * PAGE, ALL), 0);
  memset (page, 'f', PAGE);
  while (export_pwrite (a, page, PAGE, n * PAGE, false) == 0)
    n++;
  cr_assert_eq (n, 108);
  write_pages (b, 0, 20);
  export_destroy (b);
  export_destroy (a);
}

Test (limits_live, tiers_with_no_device_are_refused)
{
  struct export *exp = fx_new_export (pool, 1 * MIB);

  expect_refused (exp, 0, 0, 7, 9, EINVAL,
                  "export: test: tiers 7-9: no device of the pool has a "
                  "priority in that range");
  expect_refused (exp, 0, 0, 3, 2, EINVAL,
                  "export: test: tiers 3-2: need -1000000 <= LO <= HI <= "
                  "1000000");
  expect_limits (exp, 0, 0, ALL);
  export_destroy (exp);
}

Test (limits_live, tiers_that_would_leave_pages_outside_are_refused)
{
  struct export *exp = fx_new_export (pool, 1 * MIB);

  write_pages (exp, 0, 3);
  expect_refused (exp, 0, 0, 1, 1, EBUSY,
                  "export: test: tiers 1-1 would leave 3 of its pages on a "
                  "(priority 0) outside them");
  expect_limits (exp, 0, 0, ALL);
  /* Once its pages are gone, the same change works. */
  cr_assert_eq (export_trim (exp, 3 * PAGE, 0), 0);
  cr_assert_eq (export_set_limits (exp, 0, 0, 1, 1), 0, "%s",
                mb_log_last ());
  write_pages (exp, 0, 3);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 0);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 3);
  export_destroy (exp);
}

/* An export "t" of 1 MiB with tiers 1-1 (device b), holding pages 0
 * and 1.
 */
static struct export *
on_tier_one (void)
{
  struct exportspec spec = {
    .name = (char *) "t", .size = 1 * MIB, .tier_lo = 1, .tier_hi = 1,
    .tiers_set = true,
  };
  struct export *exp = export_create_spec (pool, &spec);

  cr_assert_not_null (exp, "%s", mb_log_last ());
  write_pages (exp, 0, 2);
  return exp;
}

Test (limits_live, tiers_apart_from_the_present_ones_are_refused_while_it_holds_pages)
{
  struct export *exp = on_tier_one ();

  expect_refused (exp, 0, 0, 0, 0, EBUSY,
                  "export: t: tiers 0-0 would leave 2 of its pages on b "
                  "(priority 1) outside them");
  expect_limits (exp, 0, 0, 1, 1);
  write_pages (exp, 2, 1);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 0);
  export_destroy (exp);
}

Test (limits_live, widening_the_tiers_lets_pages_use_the_new_devices)
{
  struct export *exp = on_tier_one ();

  cr_assert_eq (export_set_limits (exp, 0, 0, 0, 1), 0);
  expect_limits (exp, 0, 0, 0, 1);
  write_pages (exp, 2, 2);
  cr_assert_eq (fx_stat_of (pool, "a").inuse, 2);
  cr_assert_eq (fx_stat_of (pool, "b").inuse, 2);
  export_destroy (exp);
}

Test (limits_live, the_pool_table_keeps_the_new_limits)
{
  struct export *exp = fx_new_export (pool, 1 * MIB);
  struct pt_export *e;

  cr_assert_eq (export_set_limits (exp, 32 * PAGE, 8 * PAGE, 1, 1), 0);
  e = pool_table_export (&pool->table, "test");
  cr_assert_not_null (e);
  cr_assert_eq (e->quota, 32 * PAGE);
  cr_assert_eq (e->reserve, 8 * PAGE);
  cr_assert_eq (e->tier_lo, 1);
  cr_assert_eq (e->tier_hi, 1);
  export_destroy (exp);
}

Test (limits, the_table_round_trips_reserve_and_tiers_and_reads_old_tables)
{
  struct pool_table t = { 0 }, back;
  struct pt_export e = {
    .id = 3, .name = (char *) "x", .size = MIB, .quota = 64 * PAGE,
    .reserve = 16 * PAGE, .tier_lo = -2, .tier_hi = 5,
  };
  const char *old = "{\"members\": [], \"exports\": [{\"id\": 1, "
    "\"name\": \"o\", \"size\": 4096}]}";
  const char *why = NULL;
  size_t len;
  char *json;

  t.exports = &e;
  t.nexports = 1;
  json = pool_table_encode (&t, &len);
  cr_assert_not_null (json);
  cr_assert_eq (pool_table_decode (json, len, &back, &why), 0, "%s", why);
  cr_assert_eq (back.exports[0].reserve, 16 * PAGE);
  cr_assert_eq (back.exports[0].tier_lo, -2);
  cr_assert_eq (back.exports[0].tier_hi, 5);
  pool_table_free (&back);
  free (json);
  cr_assert_eq (pool_table_decode (old, strlen (old), &back, &why), 0);
  cr_assert_eq (back.exports[0].reserve, 0);
  cr_assert_eq (back.exports[0].tier_lo, SD_PRIORITY_MIN);
  cr_assert_eq (back.exports[0].tier_hi, SD_PRIORITY_MAX);
  pool_table_free (&back);
}
