/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the export data path (server/export/export.c) under
 * concurrency: racing first writes to one page (one mapping wins, the
 * loser's slot is freed, no data is lost), the maxactive gate, and
 * trims racing with writes to neighbouring pages.
 *
 * Races are forced, not hoped for: the devices hold every I/O
 * (mb_hold) until all racers have taken a fresh slot and are writing
 * it, and only then let them go on to map their pages.  Threads never
 * assert; they record what went wrong and the test checks after join.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"

#define NDEVS 2

TestSuite (export_threads, .init = fx_quiet);

/* The test rig: a pool of NDEVS equal devices and one export over
 * it.
 */
struct rig {
  struct pool *pool;
  struct membackend *mb[NDEVS];
  struct export *exp;
};

static void
rig_open (struct rig *rig, uint64_t dev_pages, unsigned maxactive,
          uint64_t size)
{
  static const char *const names[NDEVS] = { "a", "b" };
  int i;

  rig->pool = fx_new_pool ();
  for (i = 0; i < NDEVS; i++)
    fx_swapon (rig->pool,
               mb_device (names[i], dev_pages, maxactive, &rig->mb[i]), 0);
  rig->exp = fx_new_export (rig->pool, size);
}

static void
rig_close (struct rig *rig)
{
  export_destroy (rig->exp);
  pool_destroy (rig->pool);
}

static void
hold_all (struct rig *rig, bool hold)
{
  int i;

  for (i = 0; i < NDEVS; i++)
    mb_hold (rig->mb[i], hold);
}

/* Every page holding data has exactly one slot: none leaked. */
static void
expect_no_leak (struct rig *rig)
{
  uint64_t inuse = fx_pool_inuse (rig->pool);
  uint64_t mapped = fx_mapped_pages (rig->exp);

  cr_assert_eq (inuse, mapped,
                "%" PRIu64 " slots in use for %" PRIu64 " mapped pages",
                inuse, mapped);
}

/* A racer: a thread that runs `rounds` requests in step with the test
 * through the two barriers.
 */
struct racer {
  struct export *exp;
  pthread_barrier_t *start, *done;
  unsigned id, rounds;
  int err;                              /* errno of the first failure */
};

static void
racer_write (struct racer *r, const void *buf, uint64_t count,
             uint64_t offset)
{
  if (export_pwrite (r->exp, buf, count, offset, false) == -1 && !r->err)
    r->err = errno ? errno : -1;
}

/* Run nthreads racers of fn; for each round, hold the devices until
 * `arrive` I/Os are in flight, then let everything go.
 */
static void
run_rounds (struct rig *rig, struct racer *r, unsigned nthreads,
            unsigned rounds, unsigned arrive, void *(*fn) (void *))
{
  pthread_t th[16];
  pthread_barrier_t start, done;
  unsigned t, round;

  pthread_barrier_init (&start, NULL, nthreads + 1);
  pthread_barrier_init (&done, NULL, nthreads + 1);
  for (t = 0; t < nthreads; t++) {
    r[t] = (struct racer) { .exp = rig->exp, .start = &start, .done = &done,
                            .id = t, .rounds = rounds };
    cr_assert_eq (pthread_create (&th[t], NULL, fn, &r[t]), 0);
  }
  for (round = 0; round < rounds; round++) {
    hold_all (rig, true);
    pthread_barrier_wait (&start);
    fx_wait_inflight (rig->mb, NDEVS, arrive);
    hold_all (rig, false);
    pthread_barrier_wait (&done);
  }
  for (t = 0; t < nthreads; t++) {
    pthread_join (th[t], NULL);
    cr_assert_eq (r[t].err, 0, "racer %u: %s", t, strerror (r[t].err));
  }
  pthread_barrier_destroy (&start);
  pthread_barrier_destroy (&done);
}

/* ---- two sectors of one new page ---- */

#define SECTOR_PAGES 64

/* Racer 0 writes sector 0 of each page, racer 1 sector 7. */
static void *
sector_writer (void *arg)
{
  struct racer *r = arg;
  unsigned char sector[512];
  unsigned round;

  memset (sector, r->id ? 0xb2 : 0xa1, sizeof sector);
  for (round = 0; round < r->rounds; round++) {
    pthread_barrier_wait (r->start);
    racer_write (r, sector, sizeof sector,
                 (uint64_t) round * PAGE + r->id * 7 * 512);
    pthread_barrier_wait (r->done);
  }
  return NULL;
}

Test (export_threads, two_writers_to_different_sectors_of_a_new_page_both_land)
{
  struct rig rig;
  struct racer r[2];
  unsigned char want[PAGE] = { 0 };
  uint64_t p, writes = 0;
  int i;

  rig_open (&rig, 256, 0, MIB);
  for (i = 0; i < NDEVS; i++)
    writes -= mb_writes (rig.mb[i]);    /* the stamps and pool tables */
  run_rounds (&rig, r, 2, SECTOR_PAGES, 2, sector_writer);
  memset (want, 0xa1, 512);
  memset (want + 7 * 512, 0xb2, 512);
  for (p = 0; p < SECTOR_PAGES; p++)
    fx_expect_data (rig.exp, p * PAGE, PAGE, want);
  cr_assert_eq (fx_pool_inuse (rig.pool), SECTOR_PAGES, "the losers' slots "
                "were freed");
  /* Per page: two fresh slots written at once, each with its record,
   * then the loser's record cleared and its sector written over the
   * winner's slot.
   */
  for (i = 0; i < NDEVS; i++)
    writes += mb_writes (rig.mb[i]);
  cr_assert_eq (writes, 6 * SECTOR_PAGES);
  expect_no_leak (&rig);
  rig_close (&rig);
}

/* ---- whole pages from eight threads ---- */

#define RACERS 8
#define GROUP 4                         /* pages written per round */

/* The contents racer t gives page p: every word the same. */
static uint64_t
version (unsigned t, uint64_t p)
{
  return (p << 8 | t) + 1;
}

/* Write pages [base + t % 3, base + GROUP), one request, page p holding
 * version (t, p).
 */
static void
group_write (struct racer *r, uint64_t base)
{
  static __thread uint64_t buf[GROUP * PAGE / 8];
  uint64_t first = base + r->id % 3, p, w;

  for (p = first; p < base + GROUP; p++)
    for (w = 0; w < PAGE / 8; w++)
      buf[(p - first) * PAGE / 8 + w] = version (r->id, p);
  racer_write (r, buf, (base + GROUP - first) * PAGE, first * PAGE);
}

static void *
group_writer (void *arg)
{
  struct racer *r = arg;
  unsigned round;

  for (round = 0; round < r->rounds; round++) {
    pthread_barrier_wait (r->start);
    group_write (r, (uint64_t) round * GROUP);
    pthread_barrier_wait (r->done);
  }
  return NULL;
}

/* Page p reads as the version of one racer that wrote it, whole. */
static void
expect_one_version (struct export *exp, uint64_t p)
{
  uint64_t buf[PAGE / 8], w, t;

  cr_assert_eq (export_pread (exp, buf, PAGE, p * PAGE), 0);
  for (w = 1; w < PAGE / 8; w++)
    cr_assert_eq (buf[w], buf[0], "page %" PRIu64 " mixes versions", p);
  t = (buf[0] - 1) & 0xff;
  cr_assert_eq (buf[0], version (t, p), "page %" PRIu64 " holds %#" PRIx64,
                p, buf[0]);
  cr_assert (t < RACERS && p % GROUP >= t % 3,
             "page %" PRIu64 " holds racer %" PRIu64 "'s data, who did "
             "not write it", p, t);
}

Test (export_threads, racing_first_writes_leave_one_whole_version_and_no_leak)
{
  struct rig rig;
  struct racer r[RACERS];
  unsigned rounds = 16;
  uint64_t p;

  rig_open (&rig, 256, 0, MIB);
  /* Every racer's request allocates its run and writes it in one I/O;
   * all RACERS are held there, so all of them race to map.
   */
  run_rounds (&rig, r, RACERS, rounds, RACERS, group_writer);
  for (p = 0; p < rounds * GROUP; p++)
    expect_one_version (rig.exp, p);
  cr_assert_eq (fx_pool_inuse (rig.pool), rounds * GROUP);
  expect_no_leak (&rig);
  rig_close (&rig);
}

/* Free-running racers: each goes over all pages in its own order with
 * its own run lengths, three times.
 */
#define FREE_PAGES 64

static void *
free_writer (void *arg)
{
  struct racer *r = arg;
  static __thread uint64_t buf[GROUP * PAGE / 8];
  uint64_t state = r->id + 1, p, n, k, w, first;
  unsigned pass;

  pthread_barrier_wait (r->start);
  for (pass = 0; pass < 3; pass++)
    for (p = 0; p < FREE_PAGES; p += n) {
      state = state * 6364136223846793005 + 1442695040888963407;
      n = 1 + (state >> 33) % GROUP;
      if (p + n > FREE_PAGES)
        n = FREE_PAGES - p;
      /* Mirror the page order for odd racers: they meet in the middle. */
      first = r->id & 1 ? FREE_PAGES - p - n : p;
      for (k = 0; k < n; k++)
        for (w = 0; w < PAGE / 8; w++)
          buf[k * PAGE / 8 + w] = version (r->id, first + k);
      racer_write (r, buf, n * PAGE, first * PAGE);
    }
  return NULL;
}

Test (export_threads, unsynchronized_writers_of_shared_pages_leave_whole_pages)
{
  struct rig rig;
  struct racer r[RACERS];
  pthread_t th[RACERS];
  pthread_barrier_t start;
  unsigned t;
  uint64_t p, buf[PAGE / 8];

  rig_open (&rig, 256, 0, MIB);
  for (t = 0; t < NDEVS; t++)
    mb_set_delay (rig.mb[t], 50);
  pthread_barrier_init (&start, NULL, RACERS);
  for (t = 0; t < RACERS; t++) {
    r[t] = (struct racer) { .exp = rig.exp, .start = &start, .id = t };
    cr_assert_eq (pthread_create (&th[t], NULL, free_writer, &r[t]), 0);
  }
  for (t = 0; t < RACERS; t++) {
    pthread_join (th[t], NULL);
    cr_assert_eq (r[t].err, 0, "racer %u: %s", t, strerror (r[t].err));
  }
  pthread_barrier_destroy (&start);
  for (p = 0; p < FREE_PAGES; p++) {
    cr_assert_eq (export_pread (rig.exp, buf, PAGE, p * PAGE), 0);
    for (t = 1; t < PAGE / 8; t++)
      cr_assert_eq (buf[t], buf[0], "page %" PRIu64 " mixes versions", p);
    cr_assert_eq (buf[0] >> 8, p, "page %" PRIu64 " holds another page", p);
  }
  cr_assert_eq (fx_pool_inuse (rig.pool), FREE_PAGES);
  rig_close (&rig);
}

/* ---- the maxactive gate ---- */

#define GATE_THREADS 8

static void *
gate_writer (void *arg)
{
  struct racer *r = arg;
  unsigned char buf[PAGE];

  memset (buf, r->id + 1, sizeof buf);
  pthread_barrier_wait (r->start);
  racer_write (r, buf, PAGE, (uint64_t) r->id * 16 * PAGE);
  pthread_barrier_wait (r->done);
  return NULL;
}

Test (export_threads, maxactive_limits_the_ios_in_flight_on_a_device)
{
  struct rig rig;
  struct racer r[GATE_THREADS];
  struct pool_devstat *st;
  ssize_t n, i;

  rig_open (&rig, 256, 2, MIB);
  /* Eight writes, four per device by round robin; with maxactive 2
   * only two per device may reach the backend, so hold until four
   * are in flight, look, and check no more ever got through.
   */
  run_rounds (&rig, r, GATE_THREADS, 1, 4, gate_writer);
  for (i = 0; i < NDEVS; i++)
    cr_assert_eq (mb_peak_inflight (rig.mb[i]), 2, "device %zd", i);
  n = pool_stats (rig.pool, &st);
  for (i = 0; i < n; i++) {
    cr_assert_eq (st[i].maxactive, 2);
    cr_assert_eq (st[i].peak_active, 2);
  }
  pool_stats_free (st, n);
  rig_close (&rig);
}

/* ---- trims racing with writes to neighbouring pages ---- */

#define NB_THREADS 4
#define NB_PAGES 256
#define NB_OPS 3000

/* Each thread owns the pages p with p % NB_THREADS == id and keeps its
 * own model of them; pages of different owners share stripes, slots
 * freed by one thread's trim go straight to another's writes.
 */
struct neighbour {
  struct export *exp;
  pthread_barrier_t *start;
  unsigned id;
  unsigned char *model;                 /* the whole export; own pages */
  uint64_t bad_page;                    /* first mismatch + 1, or 0 */
  int err;
};

static void
nb_op (struct neighbour *nb, uint64_t *state)
{
  unsigned char buf[PAGE], got[PAGE];
  uint64_t r, page, skip, len, i;

  *state = *state * 6364136223846793005 + 1442695040888963407;
  r = *state >> 20;
  page = (r % (NB_PAGES / NB_THREADS)) * NB_THREADS + nb->id;
  skip = (r >> 8) % 2 ? 0 : (r >> 9) % PAGE;
  len = skip ? 1 + (r >> 21) % (PAGE - skip) : PAGE;
  switch ((r >> 40) % 4) {
  case 0:
  case 1:
    for (i = 0; i < len; i++)
      buf[i] = (unsigned char) (r + i) | 1;
    if (export_pwrite (nb->exp, buf, len, page * PAGE + skip, false) == -1)
      nb->err = errno;
    memcpy (nb->model + page * PAGE + skip, buf, len);
    break;
  case 2:
    if (export_zero (nb->exp, len, page * PAGE + skip, false) == -1)
      nb->err = errno;
    memset (nb->model + page * PAGE + skip, 0, len);
    break;
  case 3:
    if (export_trim (nb->exp, PAGE, page * PAGE) == -1)
      nb->err = errno;
    memset (nb->model + page * PAGE, 0, PAGE);
    break;
  }
  if (export_pread (nb->exp, got, PAGE, page * PAGE) == -1)
    nb->err = errno;
  else if (memcmp (got, nb->model + page * PAGE, PAGE) != 0 && !nb->bad_page)
    nb->bad_page = page + 1;
}

static void *
neighbour (void *arg)
{
  struct neighbour *nb = arg;
  uint64_t state = nb->id * 7919 + 1;
  unsigned op;

  pthread_barrier_wait (nb->start);
  for (op = 0; op < NB_OPS && !nb->err && !nb->bad_page; op++)
    nb_op (nb, &state);
  return NULL;
}

Test (export_threads, trims_and_writes_of_neighbouring_pages_never_mix_data)
{
  struct rig rig;
  struct neighbour nb[NB_THREADS];
  pthread_t th[NB_THREADS];
  pthread_barrier_t start;
  unsigned char *model = calloc (NB_PAGES, PAGE);
  unsigned t;

  cr_assert_not_null (model);
  rig_open (&rig, NB_PAGES / 2, 0, NB_PAGES * PAGE);
  pthread_barrier_init (&start, NULL, NB_THREADS);
  for (t = 0; t < NB_THREADS; t++) {
    nb[t] = (struct neighbour) { .exp = rig.exp, .start = &start, .id = t,
                                 .model = model };
    cr_assert_eq (pthread_create (&th[t], NULL, neighbour, &nb[t]), 0);
  }
  for (t = 0; t < NB_THREADS; t++) {
    pthread_join (th[t], NULL);
    cr_assert_eq (nb[t].err, 0, "thread %u: %s", t, strerror (nb[t].err));
    cr_assert_eq (nb[t].bad_page, 0, "thread %u: page %" PRIu64
                  " differs from its model", t, nb[t].bad_page - 1);
  }
  pthread_barrier_destroy (&start);
  fx_expect_data (rig.exp, 0, NB_PAGES * PAGE, model);
  expect_no_leak (&rig);
  rig_close (&rig);
  free (model);
}
