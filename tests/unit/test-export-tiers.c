/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of an export's tiers (tiers=LO-HI): its pages land only
 * on devices whose priority is in the range, for new writes, after a
 * write error, and when swap-off moves them; a ctl that would leave
 * its pages outside is refused.
 */

#include <config.h>

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "swapdrum/export.h"

TestSuite (tiers, .init = fx_quiet, .timeout = 60);

/* A pool of three devices of 64 pages: "a" at priority 0, "b" at 1,
 * "c" at 2.
 */
static struct pool *
three_tiers (struct membackend **mbb)
{
  struct pool *pool = fx_new_pool ();

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "b", 64, 1, mbb);
  fx_add_dev (pool, "c", 64, 2, NULL);
  return pool;
}

/* An export "t" of 1 MiB limited to tiers [lo, hi]. */
static struct export *
tiered (struct pool *pool, const char *name, int lo, int hi)
{
  struct exportspec spec = {
    .name = (char *) name, .size = 1 * MIB, .tier_lo = lo, .tier_hi = hi,
    .tiers_set = true,
  };
  struct export *exp = export_create_spec (pool, &spec);

  cr_assert_not_null (exp, "%s", mb_log_last ());
  return exp;
}

static uint64_t
inuse (struct pool *pool, const char *dev)
{
  return fx_stat_of (pool, dev).inuse;
}

Test (tiers, new_pages_land_only_inside_the_tiers_until_they_are_full)
{
  struct pool *pool = three_tiers (NULL);
  struct export *exp = tiered (pool, "t", 1, 2);
  char page[PAGE];
  int i;

  memset (page, 'n', PAGE);
  for (i = 0; i < 128; i++)
    fx_pwrite_ok (exp, page, PAGE, (uint64_t) i * PAGE);
  cr_assert_eq (inuse (pool, "a"), 0);
  cr_assert_eq (inuse (pool, "b"), 64);
  cr_assert_eq (inuse (pool, "c"), 64);
  fx_pwrite_fails (exp, page, PAGE, 200 * PAGE, ENOSPC);
  cr_assert (mb_log_has ("write: export t page 200: no device in its "
                         "tiers 1-2 has room"), "%s", mb_log_last ());
  cr_assert_eq (inuse (pool, "a"), 0);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (tiers, an_export_without_tiers_still_uses_the_preferred_device)
{
  struct pool *pool = three_tiers (NULL);
  struct export *t = tiered (pool, "t", 2, 2);
  struct export *all = fx_new_export (pool, 1 * MIB);
  char page[PAGE];

  memset (page, 'p', PAGE);
  fx_pwrite_ok (t, page, PAGE, 0);
  fx_pwrite_ok (all, page, PAGE, 0);
  cr_assert_eq (inuse (pool, "a"), 1);
  cr_assert_eq (inuse (pool, "c"), 1);
  export_destroy (all);
  export_destroy (t);
  pool_destroy (pool);
}

Test (tiers, a_page_relocated_after_a_write_error_stays_inside_the_tiers)
{
  struct membackend *mbb;
  struct pool *pool = three_tiers (&mbb);
  struct export *exp = tiered (pool, "t", 1, 2);
  unsigned char page[PAGE];

  memset (page, 'r', PAGE);
  fx_pwrite_ok (exp, page, PAGE, 0);
  cr_assert_eq (inuse (pool, "b"), 1);
  mb_fail_write_page (mbb, 0, true);
  memset (page, 's', PAGE);
  fx_pwrite_ok (exp, page, PAGE, 0);
  fx_expect_data (exp, 0, PAGE, page);
  cr_assert_eq (inuse (pool, "a"), 0, "relocated outside the tiers");
  cr_assert_eq (fx_stat_of (pool, "b").bad + inuse (pool, "b") +
                inuse (pool, "c"), 2);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (tiers, swap_off_moves_pages_only_inside_the_tiers)
{
  struct pool *pool = three_tiers (NULL);
  struct export *exp = tiered (pool, "t", 0, 1);
  struct export *all = fx_new_export (pool, 1 * MIB);
  unsigned char buf[8 * PAGE];

  memset (buf, 'm', sizeof buf);
  fx_pwrite_ok (exp, buf, sizeof buf, 0);
  fx_pwrite_ok (all, buf, sizeof buf, 0);
  cr_assert_eq (inuse (pool, "a"), 16);
  cr_assert_eq (pool_swapoff (pool, "a", NULL, NULL), 0, "%s",
                mb_log_last ());
  /* "t" may use b only; the other export goes to b too (preferred). */
  cr_assert_eq (inuse (pool, "b"), 16);
  cr_assert_eq (inuse (pool, "c"), 0);
  fx_expect_data (exp, 0, sizeof buf, buf);
  export_destroy (all);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (tiers, swap_off_fails_when_the_tiers_have_no_room_and_keeps_every_page)
{
  struct pool *pool = fx_new_pool ();
  struct export *exp;
  unsigned char buf[8 * PAGE];

  fx_add_dev (pool, "a", 64, 0, NULL);
  fx_add_dev (pool, "a2", 4, 0, NULL);
  fx_add_dev (pool, "c", 64, 2, NULL);
  exp = tiered (pool, "t", 0, 0);
  memset (buf, 'k', sizeof buf);
  fx_pwrite_ok (exp, buf, sizeof buf, 0);
  errno = 0;
  cr_assert_eq (pool_swapoff (pool, "a", NULL, NULL), -1);
  cr_assert_eq (errno, ENOSPC);
  cr_assert (mb_log_has ("off: export t page"), "%s", mb_log_last ());
  cr_assert (mb_log_has ("no device in its tiers 0-0 has room"), "%s",
             mb_log_last ());
  cr_assert_eq (inuse (pool, "c"), 0);
  fx_expect_data (exp, 0, sizeof buf, buf);
  /* The device takes pages again, as after any failed swap-off. */
  fx_pwrite_ok (exp, buf, PAGE, 100 * PAGE);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (tiers, a_ctl_that_would_leave_pages_outside_the_tiers_is_refused)
{
  struct pool *pool = three_tiers (NULL);
  struct export *exp = tiered (pool, "t", 0, 1);
  char page[PAGE];

  memset (page, 'c', PAGE);
  fx_pwrite_ok (exp, page, PAGE, 0);
  errno = 0;
  cr_assert_eq (pool_ctl (pool, "a", 5), -1);
  cr_assert_eq (errno, EBUSY);
  cr_assert (mb_log_has ("ctl: a: priority 5 is outside the tiers 0-1 of "
                         "export t, which has 1 pages there"), "%s",
             mb_log_last ());
  cr_assert_eq (fx_stat_of (pool, "a").priority, 0);
  fx_pwrite_ok (exp, page, PAGE, PAGE);
  cr_assert_eq (inuse (pool, "a"), 2, "the refused ctl left a held");
  /* Its pages stay where the tiers allow; b holds none of them. */
  cr_assert_eq (pool_ctl (pool, "b", 5), 0, "%s", mb_log_last ());
  cr_assert_eq (fx_stat_of (pool, "b").priority, 5);
  export_destroy (exp);
  pool_destroy (pool);
}

Test (tiers, tiers_in_which_no_device_lies_are_refused_at_creation)
{
  struct pool *pool = three_tiers (NULL);
  struct exportspec spec = {
    .name = (char *) "t", .size = 1 * MIB, .tier_lo = 5, .tier_hi = 6,
    .tiers_set = true,
  };
  char **names;

  errno = 0;
  cr_assert_null (export_create_spec (pool, &spec));
  cr_assert_eq (errno, EINVAL);
  cr_assert_str_eq (mb_log_last (), "export: t: tiers 5-6: no device of "
                    "the pool has a priority in that range");
  names = pool_export_names (pool);
  cr_assert_null (names[0], "the table took it");
  pool_names_free (names);
  pool_destroy (pool);
}
