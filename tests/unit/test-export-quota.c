/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of an export's quota (pool_alloc_for charging, from
 * server/export/export.c): the export never holds more pages than its
 * quota, whatever the writers race, and every way a page leaves it
 * gives the page back.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "swapdrum/export.h"

TestSuite (quota, .init = fx_quiet, .timeout = 60);

/* An export "q" of size bytes with a quota of quota_pages pages, on a
 * pool of two devices "a" (priority 0) and "b" (priority 1) of 256
 * pages each.
 */
static struct export *
quota_export (struct pool **poolp, uint64_t size, uint64_t quota_pages,
              struct membackend **mba)
{
  struct exportspec spec = {
    .name = (char *) "q", .size = size, .quota = quota_pages * PAGE,
  };
  struct export *exp;

  *poolp = fx_new_pool ();
  fx_add_dev (*poolp, "a", 256, 0, mba);
  fx_add_dev (*poolp, "b", 256, 1, NULL);
  exp = export_create_spec (*poolp, &spec);
  cr_assert_not_null (exp);
  return exp;
}

static void
done (struct pool *pool, struct export *exp)
{
  export_destroy (exp);
  pool_destroy (pool);
}

Test (quota, the_page_past_the_quota_fails_with_enospc)
{
  struct pool *pool;
  struct export *exp = quota_export (&pool, 1 * MIB, 8, NULL);
  char page[PAGE];
  int i;

  memset (page, 'q', PAGE);
  for (i = 0; i < 8; i++)
    fx_pwrite_ok (exp, page, PAGE, (uint64_t) i * 2 * PAGE);
  fx_pwrite_fails (exp, page, PAGE, 100 * PAGE, ENOSPC);
  cr_assert (mb_log_has ("write: export q page 100: its quota of 8 pages "
                         "is used"), "%s", mb_log_last ());
  fx_pwrite_fails (exp, page, 512, 101 * PAGE + 512, ENOSPC);
  cr_assert_eq (export_used (exp), 8 * PAGE);
  cr_assert_eq (export_quota (exp), 8 * PAGE);
  cr_assert_eq (fx_pool_inuse (pool), 8);
  done (pool, exp);
}

Test (quota, a_write_across_the_quota_lands_what_fits_then_fails)
{
  struct pool *pool;
  struct export *exp = quota_export (&pool, 1 * MIB, 4, NULL);
  char buf[6 * PAGE];

  memset (buf, 'w', sizeof buf);
  fx_pwrite_fails (exp, buf, sizeof buf, 0, ENOSPC);
  fx_expect_data (exp, 0, 4 * PAGE, (const unsigned char *) buf);
  fx_expect_zeros (exp, 4 * PAGE, 2 * PAGE);
  cr_assert_eq (export_used (exp), 4 * PAGE);
  done (pool, exp);
}

Test (quota, overwrites_of_held_pages_take_no_quota)
{
  struct pool *pool;
  struct export *exp = quota_export (&pool, 1 * MIB, 2, NULL);
  char buf[2 * PAGE];

  memset (buf, 'o', sizeof buf);
  fx_pwrite_ok (exp, buf, 2 * PAGE, 0);
  memset (buf, 'p', sizeof buf);
  fx_pwrite_ok (exp, buf, 2 * PAGE, 0);
  fx_pwrite_ok (exp, buf, 100, PAGE + 7);
  fx_expect_data (exp, 0, 2 * PAGE, (const unsigned char *) buf);
  cr_assert_eq (export_used (exp), 2 * PAGE);
  done (pool, exp);
}

Test (quota, trim_and_zero_give_pages_back)
{
  struct pool *pool;
  struct export *exp = quota_export (&pool, 1 * MIB, 4, NULL);
  char buf[4 * PAGE];

  memset (buf, 't', sizeof buf);
  fx_pwrite_ok (exp, buf, 4 * PAGE, 0);
  cr_assert_eq (export_trim (exp, PAGE, 0), 0);
  cr_assert_eq (export_zero (exp, 2 * PAGE, PAGE, false), 0);
  cr_assert_eq (export_used (exp), PAGE);
  fx_pwrite_ok (exp, buf, 3 * PAGE, 10 * PAGE);
  fx_pwrite_fails (exp, buf, PAGE, 20 * PAGE, ENOSPC);
  done (pool, exp);
}

Test (quota, a_write_error_that_moves_a_page_keeps_the_count)
{
  struct pool *pool;
  struct membackend *mba;
  struct export *exp = quota_export (&pool, 1 * MIB, 2, &mba);
  char buf[PAGE];

  memset (buf, 'e', sizeof buf);
  fx_pwrite_ok (exp, buf, PAGE, 0);
  mb_fail_write_page (mba, 0, true);    /* the page's slot goes bad */
  memset (buf, 'f', sizeof buf);
  fx_pwrite_ok (exp, buf, PAGE, 0);
  fx_expect_data (exp, 0, PAGE, (const unsigned char *) buf);
  cr_assert_eq (export_used (exp), PAGE);
  fx_pwrite_ok (exp, buf, PAGE, PAGE);
  fx_pwrite_fails (exp, buf, PAGE, 2 * PAGE, ENOSPC);
  done (pool, exp);
}

Test (quota, swap_off_moves_pages_without_changing_the_count)
{
  struct pool *pool;
  struct export *exp = quota_export (&pool, 1 * MIB, 16, NULL);
  char buf[16 * PAGE];

  memset (buf, 's', sizeof buf);
  fx_pwrite_ok (exp, buf, sizeof buf, 0);
  cr_assert_eq (pool_swapoff (pool, "a", NULL, NULL), 0);
  cr_assert_eq (export_used (exp), 16 * PAGE);
  fx_expect_data (exp, 0, sizeof buf, (const unsigned char *) buf);
  fx_pwrite_fails (exp, buf, PAGE, 100 * PAGE, ENOSPC);
  done (pool, exp);
}

Test (quota, an_export_without_quota_is_limited_by_the_pool_only)
{
  struct pool *pool;
  struct export *exp = quota_export (&pool, 4 * MIB, 0, NULL);
  static char buf[512 * PAGE];

  memset (buf, 'n', sizeof buf);
  fx_pwrite_ok (exp, buf, sizeof buf, 0);
  cr_assert_eq (export_quota (exp), 0);
  fx_pwrite_fails (exp, buf, PAGE, 600 * PAGE, ENOSPC);
  cr_assert (mb_log_has ("the pool is full"), "%s", mb_log_last ());
  done (pool, exp);
}

/* ---- racing writers ---- */

#define NTHREADS 8
#define QUOTA 100

struct racer {
  struct export *exp;
  int id;
  int written;
};

/* Write new pages (each thread its own) until ENOSPC. */
static void *
race (void *arg)
{
  struct racer *r = arg;
  char page[PAGE];
  int i;

  memset (page, 'a' + r->id, PAGE);
  for (i = 0; i < 200; i++) {
    uint64_t p = (uint64_t) i * NTHREADS + r->id;
    if (export_pwrite (r->exp, page, PAGE, p * PAGE, false) == -1) {
      cr_expect_eq (errno, ENOSPC);
      break;
    }
    r->written++;
  }
  return NULL;
}

Test (quota, racing_writers_stop_at_exactly_the_quota)
{
  struct pool *pool;
  struct export *exp = quota_export (&pool, 8 * MIB, QUOTA, NULL);
  struct racer r[NTHREADS];
  pthread_t t[NTHREADS];
  int i, total = 0;

  for (i = 0; i < NTHREADS; i++) {
    r[i] = (struct racer) { .exp = exp, .id = i };
    pthread_create (&t[i], NULL, race, &r[i]);
  }
  for (i = 0; i < NTHREADS; i++) {
    pthread_join (t[i], NULL);
    total += r[i].written;
  }
  cr_assert_eq (total, QUOTA);
  cr_assert_eq (export_used (exp), QUOTA * PAGE);
  cr_assert_eq (fx_mapped_pages (exp), QUOTA);
  cr_assert_eq (fx_pool_inuse (pool), QUOTA);
  done (pool, exp);
}
