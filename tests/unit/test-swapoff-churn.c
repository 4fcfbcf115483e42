/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of swap-off and ctl (server/pool/pool-ctl.c, server/export/export-migrate.c)
 * under a load of verified client I/O: worker threads write whole
 * pages and pieces, trim and zero, and read back everything they
 * change, while devices are added, made preferred and switched off.
 * Not one byte may differ from what the workers wrote, and at the end
 * the remaining device holds exactly the mapped pages.
 *
 * Workers never assert; each records its first failure and the test
 * checks after join.  Runs are repeatable from their seed.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"
#include "swapdrum/pool.h"

TestSuite (swapoff_churn, .init = fx_quiet, .timeout = 300);

/* ---- the workers ---- */

/* IO_THREADS workers, each owning IO_PAGES pages (80: not a whole
 * number of stripes, so neighbours share a stripe), write, overwrite
 * pieces, trim and zero their pages, and read back what they wrote
 * after every change, against a model of what each page must hold.
 */
#define IO_THREADS 4
#define IO_PAGES 80
#define IO_MAX 4                        /* pages per request at most */
#define CHURN_EXPORT (2 * MIB)

enum { OP_WRITE, OP_PIECE, OP_TRIM, OP_ZERO, OP_READ, OP_KINDS };

struct worker {
  pthread_t th;
  struct export *exp;
  unsigned id;
  uint64_t state;                       /* fx_next_random */
  uint64_t base;                        /* byte offset of its first page */
  unsigned char *model;                 /* IO_PAGES pages */
  bool mapped[IO_PAGES];
  uint64_t gen;                         /* writes so far */
  atomic_bool *stop;
  _Atomic uint64_t *ops;                /* every worker's ops */
  uint64_t count[OP_KINDS];
  unsigned char buf[IO_MAX * PAGE + PAGE];
  unsigned char got[IO_MAX * PAGE + PAGE];
  char failure[256];                    /* the first failure, or "" */
  atomic_bool failed;                   /* failure is set: stopped */
};

static uint64_t
pick (struct worker *w, uint64_t n)
{
  return fx_next_random (&w->state) % n;
}

static void
fail (struct worker *w, const char *what, uint64_t count, uint64_t offset)
{
  snprintf (w->failure, sizeof w->failure, "worker %u, write %" PRIu64
            ": %s %" PRIu64 "@%" PRIu64 ": %s", w->id, w->gen, what, count,
            offset, strerror (errno));
}

/* Compare count bytes at offset (relative to w->base) with the model. */
static bool
check (struct worker *w, uint64_t count, uint64_t offset)
{
  uint64_t i;

  if (export_pread (w->exp, w->got, count, w->base + offset) == -1) {
    fail (w, "read", count, offset);
    return false;
  }
  for (i = 0; i < count && w->got[i] == w->model[offset + i]; i++)
    ;
  if (i < count) {
    snprintf (w->failure, sizeof w->failure, "worker %u, after write %"
              PRIu64 ": page %" PRIu64 " byte %" PRIu64 " reads %#x, "
              "expected %#x", w->id, w->gen, (offset + i) / PAGE,
              (offset + i) % PAGE, w->got[i], w->model[offset + i]);
    return false;
  }
  return true;
}

/* Check the whole pages around [offset, offset + count). */
static bool
check_pages (struct worker *w, uint64_t count, uint64_t offset)
{
  uint64_t first = offset / PAGE, last = (offset + count - 1) / PAGE;

  return check (w, (last - first + 1) * PAGE, first * PAGE);
}

/* Data no earlier write used: the worker, the generation, the word. */
static void
pattern (struct worker *w, uint64_t count)
{
  uint64_t i, word;

  w->gen++;
  for (i = 0; i < count; i++) {
    word = (uint64_t) w->id << 56 | w->gen << 16 | i / 8;
    w->buf[i] = word >> (8 * (i % 8));
  }
}

static void
mark_mapped (struct worker *w, uint64_t count, uint64_t offset, bool whole,
             bool mapped)
{
  uint64_t p, first, end;

  if (whole) {                          /* only pages wholly inside */
    first = (offset + PAGE - 1) / PAGE;
    end = (offset + count) / PAGE;
  }
  else {
    first = offset / PAGE;
    end = (offset + count - 1) / PAGE + 1;
  }
  for (p = first; p < end; p++)
    w->mapped[p] = mapped;
}

/* One request: what, and where (relative to the worker's base). */
struct request {
  unsigned op;                          /* OP_* */
  uint64_t count, offset;
};

/* Pick a random request inside the worker's pages. */
static struct request
choose (struct worker *w)
{
  unsigned roll = pick (w, 100);
  struct request r;
  uint64_t n;

  if (roll < 40 || (roll >= 65 && roll < 75)) {  /* whole pages */
    r.op = roll < 40 ? OP_WRITE : OP_TRIM;
    n = 1 + pick (w, r.op == OP_WRITE ? IO_MAX : 3);
    r.count = n * PAGE;
    r.offset = pick (w, IO_PAGES - n + 1) * PAGE;
    return r;
  }
  /* Any bytes: a piece may straddle pages. */
  r.op = roll < 65 ? OP_PIECE : roll < 82 ? OP_ZERO : OP_READ;
  r.count = 1 + pick (w, r.op == OP_PIECE ? 2 * PAGE
                         : r.op == OP_ZERO ? 3 * PAGE : IO_MAX * PAGE);
  r.offset = pick (w, IO_PAGES * PAGE - r.count + 1);
  return r;
}

/* Send r to the export and update the model.
 * => returns 0, or -1 after recording the failure.
 */
static int
issue (struct worker *w, const struct request *r)
{
  uint64_t at = w->base + r->offset;
  int ret;

  errno = 0;
  switch (r->op) {
  case OP_WRITE: case OP_PIECE:
    pattern (w, r->count);
    ret = export_pwrite (w->exp, w->buf, r->count, at, false);
    memcpy (w->model + r->offset, w->buf, r->count);
    mark_mapped (w, r->count, r->offset, false, true);
    break;
  case OP_TRIM:
    ret = export_trim (w->exp, r->count, at);
    memset (w->model + r->offset, 0, r->count);
    mark_mapped (w, r->count, r->offset, true, false);
    break;
  default:                              /* OP_ZERO */
    ret = export_zero (w->exp, r->count, at, false);
    memset (w->model + r->offset, 0, r->count);
    mark_mapped (w, r->count, r->offset, true, false);
    break;
  }
  if (ret == -1)
    fail (w, r->op == OP_TRIM ? "trim" : r->op == OP_ZERO ? "zero" : "write",
          r->count, r->offset);
  return ret;
}

/* One random request, then a check of the pages it touched (a read
 * checks what it read).
 */
static bool
step (struct worker *w)
{
  struct request r = choose (w);

  w->count[r.op]++;
  if (r.op == OP_READ)
    return check (w, r.count, r.offset);
  return issue (w, &r) == 0 && check_pages (w, r.count, r.offset);
}

static void *
worker_run (void *arg)
{
  struct worker *w = arg;

  while (!atomic_load (w->stop)) {
    if (!step (w)) {
      atomic_store (&w->failed, true);  /* after w->failure is written */
      break;
    }
    atomic_fetch_add (w->ops, 1);
  }
  return NULL;
}

/* Wait (up to 60 s) until the workers did n more ops; give up early
 * if one of them failed.
 */
static void
wait_ops (struct worker *w, _Atomic uint64_t *ops, uint64_t n)
{
  uint64_t until = atomic_load (ops) + n;
  time_t give_up = time (NULL) + 60;
  unsigned t;

  while (atomic_load (ops) < until) {
    for (t = 0; t < IO_THREADS; t++)
      cr_assert_not (atomic_load (&w[t].failed), "%s", w[t].failure);
    cr_assert_lt (time (NULL), give_up, "the workers stalled at %" PRIu64
                  " ops", atomic_load (ops));
    usleep (1000);
  }
}

/* Pages the models say hold data. */
static uint64_t
model_mapped (struct worker *w)
{
  uint64_t n = 0, p;
  unsigned t;

  for (t = 0; t < IO_THREADS; t++)
    for (p = 0; p < IO_PAGES; p++)
      n += w[t].mapped[p];
  return n;
}

/* The workers over one export of a pool of a and b (priority 0, each
 * I/O delayed by delay microseconds).
 */
struct crew {
  struct pool *pool;
  struct membackend *mba, *mbb;
  struct export *exp;
  struct worker w[IO_THREADS];
  atomic_bool stop;
  _Atomic uint64_t ops;
  uint64_t seed;
  /* progress of the current swap-off */
  bool waited;                          /* let_workers_run waited */
  bool overshot;                        /* moved ever exceeded total */
};

static void
crew_start (struct crew *cr, uint64_t seed, unsigned delay)
{
  unsigned t;

  cr->seed = seed;
  atomic_init (&cr->stop, false);
  atomic_init (&cr->ops, 0);
  cr->pool = fx_new_pool ();
  fx_add_dev (cr->pool, "a", 256, 0, &cr->mba);
  fx_add_dev (cr->pool, "b", 256, 0, &cr->mbb);
  mb_set_delay (cr->mba, delay);
  mb_set_delay (cr->mbb, delay);
  cr->exp = fx_new_export (cr->pool, CHURN_EXPORT);
  for (t = 0; t < IO_THREADS; t++) {
    struct worker *w = &cr->w[t];
    memset (w, 0, sizeof *w);
    atomic_init (&w->failed, false);
    w->exp = cr->exp;
    w->id = t;
    w->state = seed * 1000 + t;
    w->base = (uint64_t) t * IO_PAGES * PAGE;
    w->model = calloc (IO_PAGES, PAGE);
    w->stop = &cr->stop;
    w->ops = &cr->ops;
    cr_assert_not_null (w->model);
    cr_assert_eq (pthread_create (&w->th, NULL, worker_run, w), 0);
  }
}

/* Stop the workers; check that none of them saw a failure and that
 * every page reads as its model says.
 */
static void
crew_stop (struct crew *cr)
{
  unsigned t;
  uint64_t p;

  atomic_store (&cr->stop, true);
  for (t = 0; t < IO_THREADS; t++)
    pthread_join (cr->w[t].th, NULL);
  for (t = 0; t < IO_THREADS; t++)
    cr_assert_str_empty (cr->w[t].failure, "seed %" PRIu64 ": %s",
                         cr->seed, cr->w[t].failure);
  for (t = 0; t < IO_THREADS; t++)
    for (p = 0; p < IO_PAGES; p++)
      fx_expect_data (cr->exp, cr->w[t].base + p * PAGE, PAGE,
                      cr->w[t].model + p * PAGE);
}

static void
crew_close (struct crew *cr)
{
  unsigned t;

  for (t = 0; t < IO_THREADS; t++)
    free (cr->w[t].model);
  export_destroy (cr->exp);
  pool_destroy (cr->pool);
}

/* A progress callback: the first time the device still holds pages,
 * wait until the workers have done 20 more requests, so that they
 * certainly run in the middle of the migration (swap-off holds no
 * stripe while it reports).
 */
static void
let_workers_run (void *opaque, uint64_t moved, uint64_t total)
{
  struct crew *cr = opaque;

  if (moved > total)
    cr->overshot = true;
  if (moved < total && !cr->waited) {
    cr->waited = true;
    wait_ops (cr->w, &cr->ops, 20);
  }
}

/* Assert that the only device left is path and that it holds exactly
 * the pages the models say are mapped.
 */
static void
expect_pages_on (struct crew *cr, const char *path)
{
  uint64_t mapped = model_mapped (cr->w);
  struct pool_devstat *st;
  ssize_t n;

  n = pool_stats (cr->pool, &st);
  cr_assert_eq (n, 1);
  cr_assert_str_eq (st[0].path, path);
  cr_assert_eq (st[0].inuse, mapped, "seed %" PRIu64 ": %s holds %" PRIu64
                " pages for %" PRIu64 " mapped", cr->seed, path, st[0].inuse,
                mapped);
  pool_stats_free (st, n);
  cr_assert_eq (fx_mapped_pages (cr->exp), mapped);
}

/* One run: a and b hold the pages; c comes in at 10 and is made
 * preferred (-1); a and b go; the workers never stop meanwhile.  Every
 * I/O takes 20 microseconds and c admits 4 at a time, so that copies
 * and client requests overlap and queue at the gates.
 */
static void
churn (uint64_t seed)
{
  static struct crew cr;
  struct membackend *mbc;
  const char *off[2] = { "a", "b" };
  int i;

  crew_start (&cr, seed, 20);
  wait_ops (cr.w, &cr.ops, 400);
  fx_swapon (cr.pool, mb_device ("c", 512, 4, &mbc), 10);
  mb_set_delay (mbc, 20);
  cr_assert_eq (pool_ctl (cr.pool, "c", -1), 0, "ctl: %s", mb_log_last ());
  for (i = 0; i < 2; i++) {
    cr.waited = cr.overshot = false;
    cr_assert_eq (pool_swapoff (cr.pool, off[i], let_workers_run, &cr), 0,
                  "seed %" PRIu64 ": off %s: %s", seed, off[i],
                  mb_log_last ());
    cr_assert (cr.waited, "seed %" PRIu64 ": off %s had no page to move",
               seed, off[i]);
    cr_assert_not (cr.overshot, "seed %" PRIu64 ": off %s moved more than "
                   "it counted", seed, off[i]);
  }
  wait_ops (cr.w, &cr.ops, 200);
  crew_stop (&cr);
  expect_pages_on (&cr, "c");
  cr_assert_eq (mb_out_of_bounds (mbc), 0);
  crew_close (&cr);
}

Test (swapoff_churn, verified_io_never_mismatches_while_devices_come_and_go)
{
  uint64_t seed;

  for (seed = 1; seed <= 3; seed++)
    churn (seed);
}

/* Many short-lived preferred devices, each taking a few pages and then
 * switched off at once, while the workers trim and zero pages of it:
 * a page unmapped just before swap-off looks must not make it fail.
 */
Test (swapoff_churn, off_never_fails_while_the_pages_it_moves_are_trimmed)
{
  static struct crew cr;
  unsigned round;

  crew_start (&cr, 42, 0);
  for (round = 0; round < 300; round++) {
    fx_swapon (cr.pool, mb_device ("x", 64, 0, NULL), -1);
    wait_ops (cr.w, &cr.ops, 30);
    cr_assert_eq (pool_swapoff (cr.pool, "x", NULL, NULL), 0,
                  "round %u: off x: %s", round, mb_log_last ());
  }
  crew_stop (&cr);
  cr_assert_eq (pool_ndevices (cr.pool), 2);
  cr_assert_eq (fx_pool_inuse (cr.pool), model_mapped (cr.w));
  crew_close (&cr);
}
