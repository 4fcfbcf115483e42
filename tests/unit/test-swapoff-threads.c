/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of swap-off (server/pool/pool-ctl.c, server/export/export-migrate.c) racing
 * single requests: a request in flight on the device when off starts,
 * a request to a page while it moves, a device still being added.
 * The long run of verified I/O is in test-swapoff-churn.c.
 *
 * Races are forced, not hoped for: the device holds its I/O (mb_hold)
 * so that a request, the migration's copy or a swap-on is parked in
 * the middle while the other side starts.  Swap-off copies a stripe's
 * pages holding nothing, and moves them again holding the stripe
 * exclusive only if a request changed the stripe meanwhile: both
 * halves are tested.  Threads never assert; they
 * record what happened and the test checks after join.
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
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "offtest.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"
#include "swapdrum/pool.h"

TestSuite (swapoff_threads, .init = fx_quiet, .timeout = 60);

/* How long a test lets a blocked thread run before concluding that it
 * waits, in microseconds.
 */
#define SETTLE_USEC 100000

/* ---- requests in other threads ---- */

enum job_kind { JOB_WRITE, JOB_TRIM, JOB_READ, JOB_OFF };

/* One call made in a thread of its own: the test starts it, looks at
 * `done` while it should be blocked, then joins it.
 */
struct job {
  enum job_kind kind;
  pthread_t th;
  struct pool *pool;
  struct export *exp;
  const char *path;             /* JOB_OFF */
  void *buf;                    /* JOB_WRITE, JOB_READ */
  uint64_t count, offset;
  int r, err;
  atomic_bool done;
  /* JOB_OFF: progress seen */
  unsigned calls;
  uint64_t moved, total;
};

static void
job_progress (void *opaque, uint64_t moved, uint64_t total)
{
  struct job *j = opaque;

  j->calls++;
  j->moved = moved;
  j->total = total;
}

static void *
job_run (void *arg)
{
  struct job *j = arg;

  errno = 0;
  switch (j->kind) {
  case JOB_WRITE:
    j->r = export_pwrite (j->exp, j->buf, j->count, j->offset, false);
    break;
  case JOB_TRIM:
    j->r = export_trim (j->exp, j->count, j->offset);
    break;
  case JOB_READ:
    j->r = export_pread (j->exp, j->buf, j->count, j->offset);
    break;
  case JOB_OFF:
    j->r = pool_swapoff (j->pool, j->path, job_progress, j);
    break;
  }
  j->err = errno;
  atomic_store (&j->done, true);
  return NULL;
}

static void
job_start (struct job *j)
{
  atomic_init (&j->done, false);
  cr_assert_eq (pthread_create (&j->th, NULL, job_run, j), 0);
}

/* Join j and assert that it worked. */
static void
job_join_ok (struct job *j, const char *what)
{
  pthread_join (j->th, NULL);
  cr_assert_eq (j->r, 0, "%s: %s (%s)", what, strerror (j->err),
                mb_log_last ());
}

/* Wait (up to 30 s) until the device path has all of flags, or until
 * job j is done (whose outcome the caller then checks).
 */
static void
wait_flags (struct pool *pool, const char *path, unsigned flags,
            struct job *j)
{
  time_t give_up = time (NULL) + 30;

  while (!atomic_load (&j->done) &&
         (fx_stat_of (pool, path).flags & flags) != flags) {
    cr_assert_lt (time (NULL), give_up, "%s never got flags %#x", path,
                  flags);
    usleep (1000);
  }
}

/* ---- the rig ---- */

/* a (64 pages, preferred, close counted) and b (64 pages). */
static void
rig_open (struct ot_rig *rig)
{
  ot_open (rig, 64, 64);
}

/* After off a: only b is left, holding npages pages, and a was closed
 * empty.
 */
static void
expect_only_b (struct ot_rig *rig, uint64_t npages)
{
  cr_assert_eq (pool_ndevices (rig->pool), 1);
  cr_assert_eq (fx_stat_of (rig->pool, "b").inuse, npages);
  cr_assert_eq (ot_closes (), 1);
  cr_assert_eq (ot_inuse_at_close (), 0, "a closed with %" PRIu64
                " pages in use", ot_inuse_at_close ());
}

/* ---- requests in flight when off starts ---- */

/* Park a write to page 7 on a (held), start off a, check that off
 * waits, then let both go.  The write is a first write (old == NULL)
 * or an overwrite of old.
 */
static void
off_behind_a_parked_write (struct ot_rig *rig, const unsigned char *old,
                           unsigned char *new, struct job *off)
{
  struct job w = { .kind = JOB_WRITE, .exp = rig->exp, .buf = new,
                   .count = PAGE, .offset = 7 * PAGE };

  if (old)
    fx_pwrite_ok (rig->exp, old, PAGE, 7 * PAGE);
  mb_hold (rig->mba, true);
  job_start (&w);
  fx_wait_inflight (&rig->mba, 1, 1);
  *off = (struct job) { .kind = JOB_OFF, .pool = rig->pool, .path = "a" };
  job_start (off);
  wait_flags (rig->pool, "a", SWF_DRAIN, off);
  usleep (SETTLE_USEC);
  cr_assert_not (atomic_load (&off->done), "off did not wait for the "
                 "write in flight: %s", mb_log_last ());
  cr_assert_eq (fx_stat_of (rig->pool, "a").inuse, 1);
  mb_hold (rig->mba, false);
  job_join_ok (&w, "write");
  job_join_ok (off, "off");
}

Test (swapoff_threads, off_waits_for_a_first_write_in_flight_and_moves_its_page)
{
  struct ot_rig rig;
  struct job off;
  unsigned char page[PAGE];

  memset (page, 0xc3, sizeof page);
  rig_open (&rig);
  off_behind_a_parked_write (&rig, NULL, page, &off);
  fx_expect_data (rig.exp, 7 * PAGE, PAGE, page);
  expect_only_b (&rig, 1);
  cr_assert_eq (off.total, 1, "the slot in flight was counted");
  cr_assert_eq (off.moved, 1, "and moved");
  ot_close (&rig);
}

Test (swapoff_threads, off_waits_for_an_overwrite_in_flight_and_keeps_its_data)
{
  struct ot_rig rig;
  struct job off;
  unsigned char old[PAGE], new[PAGE];

  memset (old, 0x11, sizeof old);
  memset (new, 0x22, sizeof new);
  rig_open (&rig);
  off_behind_a_parked_write (&rig, old, new, &off);
  fx_expect_data (rig.exp, 7 * PAGE, PAGE, new);
  expect_only_b (&rig, 1);
  ot_close (&rig);
}

/* ---- requests to a page while it is copied ---- */

/* Wait (up to 30 s) until job j is done. */
static void
wait_done (struct job *j, const char *what)
{
  time_t give_up = time (NULL) + 30;

  while (!atomic_load (&j->done)) {
    cr_assert_lt (time (NULL), give_up, "%s never finished", what);
    usleep (1000);
  }
}

/* Write old to page 7 (on a), then start off a with b held and wait
 * until the copy of page 7 has read a and is parked writing to b,
 * holding no stripe.
 */
static void
park_off_in_copy (struct ot_rig *rig, const unsigned char *old,
                  struct job *off)
{
  *off = (struct job) { .kind = JOB_OFF, .pool = rig->pool, .path = "a" };
  fx_pwrite_ok (rig->exp, old, PAGE, 7 * PAGE);
  mb_hold (rig->mbb, true);
  job_start (off);
  fx_wait_inflight (&rig->mbb, 1, 1);   /* the copy's write */
}

/* Start req on page 7: at req->offset inside it, req->count bytes, a
 * whole page if 0.
 */
static void
start_on_page_7 (struct ot_rig *rig, struct job *req)
{
  req->exp = rig->exp;
  req->offset += 7 * PAGE;
  if (req->count == 0)
    req->count = PAGE;
  job_start (req);
}

/* Page 7 holds old on a.  Start off a with b held, so that the copy of
 * page 7 has read a and is parked writing to b, holding no stripe.
 * Then run `req` (at req->offset inside page 7, req->count bytes, a
 * whole page if 0): it must finish while the copy is parked, because
 * the copy holds no lock.  Then let the copy go: the stripe changed
 * under it (unless req only read), so the page moves again holding the
 * stripe, and ends on b with req's effect.
 */
static void
request_during_copy (struct ot_rig *rig, const unsigned char *old,
                     struct job *req)
{
  struct job off;

  park_off_in_copy (rig, old, &off);
  start_on_page_7 (rig, req);
  wait_done (req, "the request during the copy");
  cr_assert_eq (mb_inflight (rig->mbb), 1, "the copy is still parked");
  cr_assert_not (atomic_load (&off.done));
  mb_hold (rig->mbb, false);
  job_join_ok (&off, "off");
  job_join_ok (req, "request");
}

Test (swapoff_threads, a_write_during_the_copy_of_its_page_does_not_wait_and_survives_the_move)
{
  struct ot_rig rig;
  unsigned char old[PAGE], new[PAGE];
  struct job w = { .kind = JOB_WRITE, .buf = new };

  memset (old, 0x33, sizeof old);
  memset (new, 0x44, sizeof new);
  rig_open (&rig);
  request_during_copy (&rig, old, &w);
  fx_expect_data (rig.exp, 7 * PAGE, PAGE, new);
  expect_only_b (&rig, 1);
  ot_close (&rig);
}

Test (swapoff_threads, a_partial_write_during_the_copy_of_its_page_lands_on_the_moved_page)
{
  struct ot_rig rig;
  unsigned char old[PAGE], piece[100];
  struct job w = { .kind = JOB_WRITE, .buf = piece, .count = sizeof piece,
                   .offset = 1000 };

  memset (old, 0x55, sizeof old);
  memset (piece, 0x66, sizeof piece);
  rig_open (&rig);
  request_during_copy (&rig, old, &w);
  memcpy (old + 1000, piece, sizeof piece);
  fx_expect_data (rig.exp, 7 * PAGE, PAGE, old);
  expect_only_b (&rig, 1);
  ot_close (&rig);
}

Test (swapoff_threads, a_read_during_the_copy_of_its_page_does_not_wait_and_sees_the_whole_page)
{
  struct ot_rig rig;
  unsigned char old[PAGE], got[PAGE];
  struct job r = { .kind = JOB_READ, .buf = got };

  memset (old, 0x77, sizeof old);
  memset (got, 0, sizeof got);
  rig_open (&rig);
  request_during_copy (&rig, old, &r);
  cr_assert_arr_eq (got, old, PAGE);
  fx_expect_data (rig.exp, 7 * PAGE, PAGE, old);
  expect_only_b (&rig, 1);
  ot_close (&rig);
}

Test (swapoff_threads, a_trim_during_the_copy_of_its_page_does_not_wait_and_the_copy_is_dropped)
{
  struct ot_rig rig;
  unsigned char old[PAGE];
  struct job t = { .kind = JOB_TRIM };

  memset (old, 0x88, sizeof old);
  rig_open (&rig);
  request_during_copy (&rig, old, &t);
  fx_expect_zeros (rig.exp, 7 * PAGE, PAGE);
  expect_only_b (&rig, 0);
  cr_assert_eq (fx_mapped_pages (rig.exp), 0);
  ot_close (&rig);
}

/* ---- requests to a page while it moves holding its stripe ---- */

/* As request_during_copy with a write of first, but a is held when the
 * copy is let go: the copy sees the stripe changed and moves the page
 * again holding the stripe exclusive, parked reading a.  Then `req`
 * must wait for that move (nothing reaches a meanwhile).
 */
static void
request_during_locked_move (struct ot_rig *rig, const unsigned char *old,
                            unsigned char *first, struct job *req)
{
  struct job off;
  struct job w = { .kind = JOB_WRITE, .buf = first };
  uint64_t writes_a;

  park_off_in_copy (rig, old, &off);
  start_on_page_7 (rig, &w);
  job_join_ok (&w, "write during the copy");
  mb_hold (rig->mba, true);
  mb_hold (rig->mbb, false);
  fx_wait_inflight (&rig->mba, 1, 1);   /* the locked move's read */
  writes_a = mb_writes (rig->mba);
  start_on_page_7 (rig, req);
  usleep (SETTLE_USEC);
  cr_assert_not (atomic_load (&req->done), "the request did not wait for "
                 "the page to move");
  cr_assert_eq (mb_writes (rig->mba), writes_a, "something was written to "
                "a while its page moved");
  mb_hold (rig->mba, false);
  job_join_ok (&off, "off");
  job_join_ok (req, "request");
}

Test (swapoff_threads, a_write_to_a_page_moving_under_its_stripe_waits_and_reaches_the_new_slot)
{
  struct ot_rig rig;
  unsigned char old[PAGE], first[PAGE], new[PAGE];
  struct job w = { .kind = JOB_WRITE, .buf = new };

  memset (old, 0x33, sizeof old);
  memset (first, 0x3f, sizeof first);
  memset (new, 0x44, sizeof new);
  rig_open (&rig);
  request_during_locked_move (&rig, old, first, &w);
  fx_expect_data (rig.exp, 7 * PAGE, PAGE, new);
  expect_only_b (&rig, 1);
  ot_close (&rig);
}

Test (swapoff_threads, a_read_of_a_page_moving_under_its_stripe_waits_and_sees_the_latest_write)
{
  struct ot_rig rig;
  unsigned char old[PAGE], first[PAGE], got[PAGE];
  struct job r = { .kind = JOB_READ, .buf = got };

  memset (old, 0x77, sizeof old);
  memset (first, 0x7f, sizeof first);
  memset (got, 0, sizeof got);
  rig_open (&rig);
  request_during_locked_move (&rig, old, first, &r);
  cr_assert_arr_eq (got, first, PAGE);
  expect_only_b (&rig, 1);
  ot_close (&rig);
}

/* ---- swap-off under a steady load on one stripe ---- */

/* A reader that reads one page of stripe 0 over and over until told
 * to stop.
 */
struct hammer {
  pthread_t th;
  struct export *exp;
  atomic_bool *stop;
  unsigned id;
  int err;
};

static void *
hammer_run (void *arg)
{
  struct hammer *h = arg;
  unsigned char buf[PAGE];

  while (!atomic_load (h->stop))
    if (export_pread (h->exp, buf, PAGE, (h->id % 8) * PAGE) == -1 &&
        !h->err)
      h->err = errno;
  return NULL;
}

/* While requests to one stripe keep overlapping, its exclusive lock
 * (stripes_barrier, export_migrate, trim and zero) must still be
 * granted: the stripes prefer writers (stripes.h).  With readers first,
 * four clients reading one 256 KiB region blocked swap-off for good;
 * the timeout makes a regression fail instead of hang.
 */
#define HAMMERS 4

Test (swapoff_threads, off_completes_while_readers_keep_one_stripe_busy,
      .timeout = 20)
{
  struct ot_rig rig;
  struct hammer h[HAMMERS];
  atomic_bool stop;
  unsigned i;

  ot_open (&rig, 64, 64);
  ot_fill (&rig, 8, 14);
  mb_set_delay (rig.mba, 20);
  atomic_init (&stop, false);
  for (i = 0; i < HAMMERS; i++) {
    h[i] = (struct hammer) { .exp = rig.exp, .stop = &stop, .id = i };
    cr_assert_eq (pthread_create (&h[i].th, NULL, hammer_run, &h[i]), 0);
  }
  usleep (SETTLE_USEC);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0, "off: %s",
                mb_log_last ());
  atomic_store (&stop, true);
  for (i = 0; i < HAMMERS; i++) {
    pthread_join (h[i].th, NULL);
    cr_assert_eq (h[i].err, 0, "reader %u: %s", i, strerror (h[i].err));
  }
  ot_expect_filled (&rig);
  ot_close (&rig);
}

/* ---- a device still being added ---- */

/* pool_swapon_dev of c (npages) in a thread of its own, parked while
 * it writes c's stamp: c is in the list as a FAKE placeholder.
 * (pool_swapon would hold the admin lock meanwhile; the engine's own
 * swap-on step is what the unit can reach.)
 */
struct adding {
  pthread_t th;
  struct pool *pool;
  struct swapdev *dev;
  struct membackend *mb;
  int r;
};

static void *
adding_run (void *arg)
{
  struct adding *ad = arg;

  ad->r = pool_swapon_dev (ad->pool, ad->dev, 0);
  return NULL;
}

static void
adding_start (struct adding *ad, struct pool *pool, uint64_t npages)
{
  ad->pool = pool;
  ad->dev = mb_device ("c", npages, 0, &ad->mb);
  cr_assert_not_null (ad->dev);
  mb_hold (ad->mb, true);
  cr_assert_eq (pthread_create (&ad->th, NULL, adding_run, ad), 0);
  fx_wait_inflight (&ad->mb, 1, 1);
  cr_assert_eq (fx_stat_of (pool, "c").flags, SWF_FAKE);
}

/* Let the swap-on finish; assert that it worked. */
static void
adding_finish (struct adding *ad)
{
  mb_hold (ad->mb, false);
  pthread_join (ad->th, NULL);
  cr_assert_eq (ad->r, 0, "swap-on: %s", mb_log_last ());
  cr_assert_eq (fx_stat_of (ad->pool, "c").flags, SWF_INUSE | SWF_ENABLE);
}

Test (swapoff_threads, off_of_a_device_being_added_fails_with_ebusy)
{
  struct ot_rig rig;
  struct adding ad;

  rig_open (&rig);
  adding_start (&ad, rig.pool, 16);
  ot_off_fails (rig.pool, "c", EBUSY);
  cr_assert_str_eq (mb_log_last (), "off: c: being added");
  adding_finish (&ad);
  cr_assert_eq (pool_swapoff (rig.pool, "c", NULL, NULL), 0);
  ot_close (&rig);
}

Test (swapoff_threads, ctl_of_a_device_being_added_fails_with_ebusy)
{
  struct ot_rig rig;
  struct adding ad;

  rig_open (&rig);
  adding_start (&ad, rig.pool, 16);
  ot_ctl_fails (rig.pool, "c", 3, EBUSY);
  cr_assert_str_eq (mb_log_last (), "ctl: c: being added");
  adding_finish (&ad);
  cr_assert_eq (fx_stat_of (rig.pool, "c").priority, 0);
  ot_close (&rig);
}

Test (swapoff_threads, off_does_not_count_the_room_of_a_device_being_added)
{
  struct ot_rig rig;
  struct adding ad;

  ot_open (&rig, 64, 16);
  ot_fill (&rig, 40, 3);                /* all on a */
  adding_start (&ad, rig.pool, 256);
  ot_off_fails (rig.pool, "a", ENOSPC);
  cr_assert_str_eq (mb_log_last (), "off: a: the rest of the pool has 16 "
                    "free pages; the device holds 40");
  adding_finish (&ad);
  cr_assert_eq (pool_swapoff (rig.pool, "a", NULL, NULL), 0);
  ot_expect_filled (&rig);
  ot_close (&rig);
}
