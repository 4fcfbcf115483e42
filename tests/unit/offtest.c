/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Helpers for the swap-off and ctl unit tests: see offtest.h. */

#include <config.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "offtest.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"
#include "swapdrum/pool.h"

#define OT_EXPORT_SIZE (4 * MIB)

/* ---- the rig ---- */

void
ot_open (struct ot_rig *rig, uint64_t a_pages, uint64_t b_pages)
{
  memset (rig, 0, sizeof *rig);
  rig->pool = fx_new_pool ();
  fx_swapon (rig->pool, ot_counted (mb_device ("a", a_pages, 0, &rig->mba)),
             OT_PRIO_A);
  fx_add_dev (rig->pool, "b", b_pages, OT_PRIO_B, &rig->mbb);
  rig->exp = fx_new_export (rig->pool, OT_EXPORT_SIZE);
}

void
ot_close (struct ot_rig *rig)
{
  export_destroy (rig->exp);
  pool_destroy (rig->pool);
  free (rig->want);
}

void
ot_fill (struct ot_rig *rig, uint64_t npages, uint64_t seed)
{
  uint64_t p, n;

  free (rig->want);
  rig->want = malloc (npages * PAGE);
  cr_assert_not_null (rig->want);
  rig->npages = npages;
  fx_fill_random (rig->want, npages * PAGE, &seed);
  for (p = 0; p < npages; p += n) {
    n = npages - p < 8 ? npages - p : 8;
    fx_pwrite_ok (rig->exp, rig->want + p * PAGE, n * PAGE, p * PAGE);
  }
}

void
ot_expect_filled (struct ot_rig *rig)
{
  fx_expect_data (rig->exp, 0, rig->npages * PAGE, rig->want);
}

/* ---- closes ---- */

/* The ops of counted devices: the membackend's, but for close.  All
 * counted devices are membackends, so one copy serves them all.
 */
static struct swapdev_ops counted_ops;
static void (*real_close) (struct swapdev *dev);
static atomic_uint closes;
static _Atomic uint64_t inuse_at_close;

static void
counted_close (struct swapdev *dev)
{
  /* Nobody else uses the device any more: no lock for npginuse. */
  atomic_store (&inuse_at_close, dev->npginuse);
  atomic_fetch_add (&closes, 1);
  real_close (dev);
}

struct swapdev *
ot_counted (struct swapdev *dev)
{
  cr_assert_not_null (dev);
  counted_ops = *dev->ops;
  real_close = dev->ops->close;
  counted_ops.close = counted_close;
  dev->ops = &counted_ops;
  return dev;
}

unsigned
ot_closes (void)
{
  return atomic_load (&closes);
}

uint64_t
ot_inuse_at_close (void)
{
  return atomic_load (&inuse_at_close);
}

/* ---- the device list ---- */

bool
ot_in_stats (struct pool *pool, const char *path)
{
  struct ot_snapshot s = ot_snapshot (pool);
  ssize_t i;

  for (i = 0; i < s.n; i++)
    if (strcmp (s.path[i], path) == 0)
      return true;
  return false;
}

void
ot_off_fails (struct pool *pool, const char *path, int err)
{
  errno = 0;
  cr_assert_eq (pool_swapoff (pool, path, NULL, NULL), -1,
                "off %s worked", path);
  cr_assert_eq (errno, err, "off %s: %s, expected %s", path,
                strerror (errno), strerror (err));
}

void
ot_ctl_fails (struct pool *pool, const char *path, int priority, int err)
{
  errno = 0;
  cr_assert_eq (pool_ctl (pool, path, priority), -1, "ctl %s %d worked",
                path, priority);
  cr_assert_eq (errno, err, "ctl %s %d: %s, expected %s", path, priority,
                strerror (errno), strerror (err));
}

struct ot_snapshot
ot_snapshot (struct pool *pool)
{
  struct ot_snapshot s = { 0 };
  struct pool_devstat *st;
  ssize_t i;

  s.n = pool_stats (pool, &st);
  cr_assert (s.n >= 0 && s.n <= OT_MAX_DEVS, "%zd devices", s.n);
  for (i = 0; i < s.n; i++) {
    snprintf (s.path[i], sizeof s.path[i], "%s", st[i].path);
    s.priority[i] = st[i].priority;
    s.flags[i] = st[i].flags;
    s.inuse[i] = st[i].inuse;
  }
  pool_stats_free (st, s.n);
  return s;
}

void
ot_expect_unchanged (struct pool *pool, const struct ot_snapshot *before)
{
  struct ot_snapshot now = ot_snapshot (pool);
  ssize_t i;

  cr_assert_eq (now.n, before->n, "%zd devices, was %zd", now.n, before->n);
  for (i = 0; i < now.n; i++) {
    cr_assert_str_eq (now.path[i], before->path[i], "device %zd", i);
    cr_assert_eq (now.priority[i], before->priority[i], "%s", now.path[i]);
    cr_assert_eq (now.flags[i], before->flags[i], "%s", now.path[i]);
    cr_assert_eq (now.inuse[i], before->inuse[i], "%s", now.path[i]);
  }
}

/* ---- progress ---- */

void
ot_record_progress (void *opaque, uint64_t moved, uint64_t total)
{
  struct ot_progress *pr = opaque;

  if (pr->calls > 0 && moved < pr->moved)
    pr->went_back = true;
  if (pr->calls > 0 && total != pr->total)
    pr->total_changed = true;
  pr->calls++;
  pr->moved = moved;
  pr->total = total;
}
