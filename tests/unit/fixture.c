/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Fixture helpers shared by the pool and export unit tests: see
 * fixture.h for the contracts.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "fixture.h"

/* ---- logs ---- */

void
fx_quiet (void)
{
  mb_log_capture (false);
}

/* ---- pools and devices ---- */

struct pool *
fx_new_pool (void)
{
  struct pool *pool = pool_create ();

  cr_assert_not_null (pool);
  return pool;
}

struct swapdev *
fx_swapon (struct pool *pool, struct swapdev *dev, int priority)
{
  cr_assert_not_null (dev);
  /* The pool frees dev if it refuses it: name it from the log. */
  cr_assert_eq (pool_swapon_dev (pool, dev, priority), 0,
                "swap-on failed: %s", mb_log_last ());
  return dev;
}

struct swapdev *
fx_add_dev (struct pool *pool, const char *name, uint64_t npages,
            int priority, struct membackend **mbp)
{
  return fx_swapon (pool, mb_device (name, npages, 0, mbp), priority);
}

drum_slot_t
fx_alloc_n (struct pool *pool, uint64_t want)
{
  drum_slot_t slot = DRUM_NO_SLOT;

  cr_assert_eq (pool_alloc (pool, want, &slot), want,
                "allocating %" PRIu64 " slots", want);
  cr_assert_neq (slot, DRUM_NO_SLOT);
  return slot;
}

drum_slot_t
fx_alloc_on (struct pool *pool, const struct swapdev *want)
{
  drum_slot_t slot = fx_alloc_n (pool, 1);

  cr_assert_eq (pool_getsdp (pool, slot), want,
                "slot %" PRIu64 " is on %s, expected %s", slot,
                pool_getsdp (pool, slot)->path, want->path);
  return slot;
}

void
fx_expect_enospc (struct pool *pool, uint64_t want)
{
  drum_slot_t slot = 42;

  errno = 0;
  cr_assert_eq (pool_alloc (pool, want, &slot), 0);
  cr_assert_eq (errno, ENOSPC);
  cr_assert_eq (slot, 42, "slot untouched on ENOSPC");
}

struct pool_devstat
fx_stat_of (struct pool *pool, const char *path)
{
  struct pool_devstat *st, r = { 0 };
  ssize_t n, i;

  n = pool_stats (pool, &st);
  cr_assert_geq (n, 0);
  for (i = 0; i < n; i++)
    if (strcmp (st[i].path, path) == 0) {
      r = st[i];
      r.path = NULL;            /* freed below */
      pool_stats_free (st, n);
      return r;
    }
  pool_stats_free (st, n);
  cr_assert_fail ("no device %s in the stats", path);
  return r;
}

uint64_t
fx_pool_inuse (struct pool *pool)
{
  struct pool_devstat *st;
  ssize_t n, i;
  uint64_t inuse = 0;

  n = pool_stats (pool, &st);
  cr_assert_geq (n, 0);
  for (i = 0; i < n; i++)
    inuse += st[i].inuse;
  pool_stats_free (st, n);
  return inuse;
}

/* I/Os in flight on mb[0 .. nmb) together. */
static unsigned
inflight (struct membackend *const *mb, size_t nmb)
{
  unsigned n = 0;
  size_t i;

  for (i = 0; i < nmb; i++)
    n += mb_inflight (mb[i]);
  return n;
}

void
fx_wait_inflight (struct membackend *const *mb, size_t nmb, unsigned n)
{
  time_t give_up = time (NULL) + 30;

  while (inflight (mb, nmb) < n) {
    cr_assert_lt (time (NULL), give_up, "only %u of %u I/Os arrived",
                  inflight (mb, nmb), n);
    sched_yield ();
  }
}

/* ---- exports ---- */

struct export *
fx_new_export (struct pool *pool, uint64_t size)
{
  static unsigned n;
  char name[32];
  struct export *exp;

  /* Export names are unique in a pool: "test", then "test2"... */
  if (n++ == 0)
    snprintf (name, sizeof name, "test");
  else
    snprintf (name, sizeof name, "test%u", n);
  exp = export_create (pool, name, size);

  cr_assert_not_null (exp);
  return exp;
}

void
fx_pwrite_ok (struct export *exp, const void *buf, uint64_t count,
              uint64_t offset)
{
  cr_assert_eq (export_pwrite (exp, buf, count, offset, false), 0,
                "write %" PRIu64 "@%" PRIu64 ": %m", count, offset);
}

void
fx_pwrite_fails (struct export *exp, const void *buf, uint64_t count,
                 uint64_t offset, int err)
{
  errno = 0;
  cr_assert_eq (export_pwrite (exp, buf, count, offset, false), -1,
                "write %" PRIu64 "@%" PRIu64 " worked", count, offset);
  cr_assert_eq (errno, err, "write %" PRIu64 "@%" PRIu64 ": %m, "
                "expected %s", count, offset, strerror (err));
}

void
fx_pread_fails (struct export *exp, void *buf, uint64_t count,
                uint64_t offset, int err)
{
  errno = 0;
  cr_assert_eq (export_pread (exp, buf, count, offset), -1,
                "read %" PRIu64 "@%" PRIu64 " worked", count, offset);
  cr_assert_eq (errno, err, "read %" PRIu64 "@%" PRIu64 ": %m, "
                "expected %s", count, offset, strerror (err));
}

void
fx_expect_data (struct export *exp, uint64_t offset, uint64_t count,
                const unsigned char *want)
{
  unsigned char *got = malloc (count);
  uint64_t i;

  cr_assert_not_null (got);
  cr_assert_eq (export_pread (exp, got, count, offset), 0,
                "read %" PRIu64 "@%" PRIu64 ": %m", count, offset);
  for (i = 0; i < count && got[i] == want[i]; i++)
    ;
  cr_assert_eq (i, count, "byte %" PRIu64 " differs: %#x, expected %#x",
                offset + i, got[i], want[i]);
  free (got);
}

void
fx_expect_zeros (struct export *exp, uint64_t offset, uint64_t count)
{
  unsigned char *zeros = calloc (1, count);

  cr_assert_not_null (zeros);
  fx_expect_data (exp, offset, count, zeros);
  free (zeros);
}

/* An export_extents callback: add the length of data extents to the
 * uint64_t at opaque.
 */
static int
count_data (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  if (!hole)
    *(uint64_t *) opaque += length;
  return 0;
}

uint64_t
fx_mapped_pages (struct export *exp)
{
  uint64_t data = 0;

  cr_assert_eq (export_extents (exp, export_size (exp), 0, count_data,
                                &data), 0);
  return data / PAGE;
}

/* ---- test data ---- */

uint64_t
fx_next_random (uint64_t *state)
{
  uint64_t z = (*state += UINT64_C (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void
fx_fill_random (void *buf, size_t len, uint64_t *state)
{
  unsigned char *p = buf;
  size_t i;

  for (i = 0; i < len; i++)
    p[i] = fx_next_random (state) | 1;  /* never 0: tells data from holes */
}
