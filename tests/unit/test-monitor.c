/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of remote devices that go away and come back
 * (server/pool/monitor.c, with the data path of server/export/export.c): a device
 * whose connection drops is marked FAILED at the next error and its
 * pages answer EIO; the monitor thread reconnects it with backoff,
 * checks its stamp, and brings it back with its pages (it restarted
 * intact) or without them (it restarted empty: they are lost, EIO
 * until rewritten whole); it never touches a device that was removed;
 * and it stops promptly.
 *
 * The remote is a membackend in remote mode (membackend.h), "r", at
 * the preferred priority; "l", a local membackend, takes what r
 * cannot.  The monitor runs in every test, as in the server.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
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
#include "swapdrum/monitor.h"
#include "swapdrum/pool.h"

/* The tests of the monitor's work run on the rig (below): suite
 * monitor.  The test of the thread's own life builds its own pool:
 * suite monitor_thread.
 */
TestSuite (monitor_thread, .init = fx_quiet, .timeout = 60);

#define R_PAGES 64              /* the remote, preferred */
#define L_PAGES 256             /* the local one, enough for everything */
#define NFILL 16                /* pages written to r at the start */
#define NEW_PAGE 100            /* an export page never written */

/* How long a wait for the monitor may take before the test fails. */
#define WAIT_MS 10000

/* ---- waiting ---- */

static int64_t
now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms (unsigned ms)
{
  usleep (ms * 1000);
}

/* Poll cond (arg) every 10 ms until it holds.
 * => asserts that it did within WAIT_MS, naming what.
 */
static void
wait_until (bool (*cond) (void *arg), void *arg, const char *what)
{
  int64_t until = now_ms () + WAIT_MS;

  while (!cond (arg)) {
    cr_assert_lt (now_ms (), until, "still not %s after %d ms", what,
                  WAIT_MS);
    sleep_ms (10);
  }
}

/* What wait_stat waits for: the device "path" of pool satisfying cond. */
struct stat_wait {
  struct pool *pool;
  const char *path;
  bool (*cond) (const struct pool_devstat *st);
  struct pool_devstat st;       /* the last snapshot */
};

static bool
stat_holds (void *arg)
{
  struct stat_wait *w = arg;

  w->st = fx_stat_of (w->pool, w->path);
  return w->cond (&w->st);
}

/* Poll the stats of path until cond holds; => the stats that passed. */
static struct pool_devstat
wait_stat (struct pool *pool, const char *path,
           bool (*cond) (const struct pool_devstat *st), const char *what)
{
  struct stat_wait w = { .pool = pool, .path = path, .cond = cond };

  wait_until (stat_holds, &w, what);
  return w.st;
}

/* Back in service after a reconnect. */
static bool
is_back (const struct pool_devstat *st)
{
  return !(st->flags & SWF_FAILED) && st->reconnects > 0;
}

/* What wait_connects waits for. */
struct connect_wait {
  struct membackend *mb;
  uint64_t n;
};

static bool
connects_reached (void *arg)
{
  struct connect_wait *w = arg;

  return mb_connects (w->mb) >= w->n;
}

/* Wait until the monitor has tried to connect mb n times in all. */
static void
wait_connects (struct membackend *mb, uint64_t n)
{
  struct connect_wait w = { .mb = mb, .n = n };

  wait_until (connects_reached, &w, "tried to connect");
}

/* Monitor threads of this process ("swapdrum-mon", from
 * /proc/self/task): only ours, whatever threads Criterion keeps.
 */
static unsigned
nthreads (void)
{
  DIR *d = opendir ("/proc/self/task");
  struct dirent *e;
  unsigned n = 0;

  cr_assert_not_null (d);
  while ((e = readdir (d)) != NULL) {
    char path[300], comm[32] = "";
    FILE *fp;

    if (e->d_name[0] == '.')
      continue;
    snprintf (path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    fp = fopen (path, "r");
    if (fp == NULL)
      continue;                 /* the thread has just exited */
    if (fgets (comm, sizeof comm, fp) &&
        strncmp (comm, "swapdrum-mon", 12) == 0)
      n++;
    fclose (fp);
  }
  closedir (d);
  return n;
}

static bool
nthreads_is (void *arg)
{
  return nthreads () == *(unsigned *) arg;
}

/* ---- the rig: r (remote, preferred) and l, one export ---- */

struct rig {
  struct pool *pool;
  struct swapdev *r;
  struct membackend *mbr;       /* freed with r */
  struct export *exp;           /* 1 MiB */
  unsigned char *want;          /* what pages [0, NFILL) hold */
  atomic_uint closes;           /* times r was closed */
  struct monitor *mon;          /* NULL while stopped */
};

static void
rig_start (struct rig *rig)
{
  rig->mon = monitor_start (rig->pool);
  cr_assert_not_null (rig->mon);
}

/* Stopped, the monitor has finished its round; a second stop is a
 * no-op.
 */
static void
rig_stop (struct rig *rig)
{
  monitor_stop (rig->mon);
  rig->mon = NULL;
}

/* The pool, NFILL pages of data on r, the monitor running. */
static void
rig_open (struct rig *rig)
{
  uint64_t seed = 7;

  memset (rig, 0, sizeof *rig);
  rig->pool = fx_new_pool ();
  rig->r = fx_swapon (rig->pool, mb_remote_device ("r", R_PAGES, 0,
                                                   &rig->mbr), 0);
  mb_count_close (rig->mbr, &rig->closes);
  fx_add_dev (rig->pool, "l", L_PAGES, 5, NULL);
  rig->exp = fx_new_export (rig->pool, MIB);
  rig->want = malloc (NFILL * PAGE);
  cr_assert_not_null (rig->want);
  fx_fill_random (rig->want, NFILL * PAGE, &seed);
  fx_pwrite_ok (rig->exp, rig->want, NFILL * PAGE, 0);
  cr_assert_eq (fx_stat_of (rig->pool, "r").inuse, NFILL);
  rig_start (rig);
}

static void
rig_close (struct rig *rig)
{
  rig_stop (rig);
  export_destroy (rig->exp);
  pool_destroy (rig->pool);
  free (rig->want);
}

/* Drop r's connection with the server away, and read one of its
 * pages: the read fails and r is FAILED from then on.
 */
static void
rig_cut (struct rig *rig)
{
  unsigned char buf[PAGE];

  mb_drop (rig->mbr);
  fx_pread_fails (rig->exp, buf, PAGE, 0, EIO);
  cr_assert (fx_stat_of (rig->pool, "r").flags & SWF_FAILED);
}

/* Restart r's server, intact or empty, and wait until it is back. */
static struct pool_devstat
rig_restart (struct rig *rig, bool empty)
{
  mb_restart (rig->mbr, empty);
  return wait_stat (rig->pool, "r", is_back, "back in service");
}

/* Assert that every page of [0, NFILL) reads EIO. */
static void
expect_all_eio (struct rig *rig)
{
  unsigned char buf[PAGE];
  uint64_t p;

  for (p = 0; p < NFILL; p++)
    fx_pread_fails (rig->exp, buf, PAGE, p * PAGE, EIO);
}

/* Fill a page with byte c and write it whole at export page p. */
static void
write_page (struct rig *rig, unsigned char *buf, unsigned char c,
            uint64_t p)
{
  memset (buf, c, PAGE);
  fx_pwrite_ok (rig->exp, buf, PAGE, p * PAGE);
}

/* Every test of suite monitor starts with the rig open (rig_open) and
 * ends with it closed.
 */
static struct rig rig;

static void
setup (void)
{
  fx_quiet ();
  rig_open (&rig);
}

static void
teardown (void)
{
  rig_close (&rig);
}

TestSuite (monitor, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the connection drops ---- */

Test (monitor, a_dropped_device_is_marked_failed_at_the_next_read)
{
  unsigned char buf[PAGE];

  mb_drop (rig.mbr);
  cr_assert_eq (fx_stat_of (rig.pool, "r").flags & SWF_FAILED, 0,
                "nothing has noticed yet");
  fx_pread_fails (rig.exp, buf, PAGE, 3 * PAGE, EIO);
  cr_assert (fx_stat_of (rig.pool, "r").flags & SWF_FAILED);
  cr_assert (mb_log_has ("swap: r: connection lost: marked FAILED"),
             "%s", mb_log_last ());
}

Test (monitor, a_dropped_device_is_marked_failed_at_the_next_write)
{
  unsigned char buf[PAGE];

  mb_drop (rig.mbr);
  write_page (&rig, buf, 0x5a, 2);
  cr_assert (fx_stat_of (rig.pool, "r").flags & SWF_FAILED);
  fx_expect_data (rig.exp, 2 * PAGE, PAGE, buf);
}

Test (monitor, pages_on_a_failed_device_read_eio)
{
  unsigned char buf[2 * PAGE];

  rig_cut (&rig);
  expect_all_eio (&rig);
  fx_pread_fails (rig.exp, buf, 2 * PAGE, (NFILL - 1) * PAGE, EIO);
  fx_expect_zeros (rig.exp, NFILL * PAGE, 8 * PAGE);
}

Test (monitor, new_pages_go_to_the_other_device_while_one_is_failed)
{
  static unsigned char data[8 * PAGE];

  rig_cut (&rig);
  memset (data, 0x42, sizeof data);
  fx_pwrite_ok (rig.exp, data, sizeof data, NEW_PAGE * PAGE);
  fx_expect_data (rig.exp, NEW_PAGE * PAGE, sizeof data, data);
  cr_assert_eq (fx_stat_of (rig.pool, "l").inuse, 8);
  cr_assert_eq (fx_stat_of (rig.pool, "r").inuse, NFILL);
}

Test (monitor, an_overwrite_on_a_failed_device_moves_the_page_and_frees_the_slot)
{
  unsigned char buf[PAGE];
  struct pool_devstat sr;

  rig_cut (&rig);
  write_page (&rig, buf, 0x77, 5);
  fx_expect_data (rig.exp, 5 * PAGE, PAGE, buf);
  sr = fx_stat_of (rig.pool, "r");
  cr_assert_eq (sr.inuse, NFILL - 1, "the old slot is given back");
  cr_assert_eq (sr.bad, 0, "an unreachable slot is not a bad one");
  cr_assert_eq (fx_stat_of (rig.pool, "l").inuse, 1);
}

/* A write that fails because its device went offline does not mark the
 * slot bad (export_drop_slot): the device may come back intact.
 */
Test (monitor, new_pages_written_first_after_a_drop_mark_no_slot_bad)
{
  static unsigned char data[4 * PAGE];

  mb_drop (rig.mbr);
  memset (data, 0x24, sizeof data);
  fx_pwrite_ok (rig.exp, data, sizeof data, NEW_PAGE * PAGE);
  fx_expect_data (rig.exp, NEW_PAGE * PAGE, sizeof data, data);
  cr_assert (fx_stat_of (rig.pool, "r").flags & SWF_FAILED);
  cr_assert_eq (fx_stat_of (rig.pool, "l").inuse, 4);
  cr_assert_eq (fx_stat_of (rig.pool, "r").bad, 0,
                "an unreachable slot is not a bad one: %" PRIu64 " bad",
                fx_stat_of (rig.pool, "r").bad);
  cr_assert_eq (fx_stat_of (rig.pool, "r").inuse, NFILL);
}

/* ---- it restarts intact ---- */

Test (monitor, a_device_that_restarts_intact_comes_back_with_every_page)
{
  struct pool_devstat sr;

  rig_cut (&rig);
  sr = rig_restart (&rig, false);
  cr_assert_eq (sr.reconnects, 1);
  cr_assert_eq (sr.lost_pages, 0);
  cr_assert_eq (sr.inuse, NFILL);
  cr_assert_eq (sr.bad, 0);
  fx_expect_data (rig.exp, 0, NFILL * PAGE, rig.want);
}

Test (monitor, a_device_back_from_a_restart_takes_new_pages_again)
{
  static unsigned char data[4 * PAGE];

  rig_cut (&rig);
  rig_restart (&rig, false);
  memset (data, 0x31, sizeof data);
  fx_pwrite_ok (rig.exp, data, sizeof data, NEW_PAGE * PAGE);
  fx_expect_data (rig.exp, NEW_PAGE * PAGE, sizeof data, data);
  cr_assert_eq (fx_stat_of (rig.pool, "r").inuse, NFILL + 4);
  cr_assert_eq (fx_stat_of (rig.pool, "l").inuse, 0);
}

Test (monitor, a_page_moved_while_its_device_was_away_keeps_its_new_data)
{
  unsigned char buf[PAGE];

  rig_cut (&rig);
  write_page (&rig, buf, 0x66, 5);
  rig_restart (&rig, false);
  fx_expect_data (rig.exp, 5 * PAGE, PAGE, buf);
  memcpy (rig.want + 5 * PAGE, buf, PAGE);
  fx_expect_data (rig.exp, 0, NFILL * PAGE, rig.want);
  cr_assert_eq (fx_stat_of (rig.pool, "r").inuse, NFILL - 1);
}

/* ---- it restarts empty ---- */

Test (monitor, a_device_that_restarts_empty_comes_back_empty)
{
  struct pool_devstat sr;

  rig_cut (&rig);
  sr = rig_restart (&rig, true);
  cr_assert_eq (sr.reconnects, 1);
  cr_assert_eq (sr.lost_pages, NFILL);
  cr_assert_eq (sr.inuse, 0);
  cr_assert_eq (sr.bad, 0);
  cr_assert (mb_log_has ("swap: r: came back without its pages"));
  cr_assert_eq (memcmp (mb_stamp (rig.mbr), "SWAPDRUM", 8), 0,
                "stamped again");
  cr_assert_gt (rig.r->stamp.stamp_gen, 2, "with a new generation");
}

Test (monitor, pages_lost_with_an_empty_restart_read_eio_not_zeros)
{
  rig_cut (&rig);
  rig_restart (&rig, true);
  expect_all_eio (&rig);
  cr_assert (mb_log_has ("lost with its device"));
}

Test (monitor, lost_pages_counts_only_the_pages_still_on_the_device)
{
  unsigned char buf[PAGE];

  rig_cut (&rig);
  write_page (&rig, buf, 0x99, 5);
  cr_assert_eq (rig_restart (&rig, true).lost_pages, NFILL - 1);
  fx_expect_data (rig.exp, 5 * PAGE, PAGE, buf);
}

Test (monitor, a_whole_page_rewrite_makes_a_lost_page_readable)
{
  unsigned char buf[PAGE];

  rig_cut (&rig);
  rig_restart (&rig, true);
  write_page (&rig, buf, 0x3c, 3);
  fx_expect_data (rig.exp, 3 * PAGE, PAGE, buf);
  fx_pread_fails (rig.exp, buf, PAGE, 4 * PAGE, EIO);
  cr_assert_eq (fx_stat_of (rig.pool, "r").inuse, 1,
                "on the device again, from its new allocator");
}

Test (monitor, a_partial_write_to_a_lost_page_fails_with_eio)
{
  unsigned char buf[PAGE];

  rig_cut (&rig);
  rig_restart (&rig, true);
  memset (buf, 0x11, sizeof buf);
  fx_pwrite_fails (rig.exp, buf, 512, 3 * PAGE + 100, EIO);
  fx_pread_fails (rig.exp, buf, PAGE, 3 * PAGE, EIO);
}

Test (monitor, trimming_a_lost_page_makes_it_read_zeros)
{
  unsigned char buf[PAGE];

  rig_cut (&rig);
  rig_restart (&rig, true);
  cr_assert_eq (export_trim (rig.exp, PAGE, 3 * PAGE), 0);
  fx_expect_zeros (rig.exp, 3 * PAGE, PAGE);
  fx_pread_fails (rig.exp, buf, PAGE, 4 * PAGE, EIO);
  cr_assert_not (mb_log_has ("(bug)"), "no slot freed twice");
}

/* ---- connect keeps failing ---- */

Test (monitor, while_connect_keeps_failing_the_device_stays_failed)
{
  struct pool_devstat sr;

  rig_cut (&rig);
  wait_connects (rig.mbr, 2);
  sr = fx_stat_of (rig.pool, "r");
  cr_assert (sr.flags & SWF_FAILED);
  cr_assert_eq (sr.reconnects, 0);
  expect_all_eio (&rig);
  cr_assert (mb_log_has ("swap: r: connect:"));
}

Test (monitor, a_failing_connect_is_retried_after_growing_delays)
{
  uint64_t n;

  rig_cut (&rig);
  /* Tries at about 0.25 s, 1.25 to 1.5 s, 3.25 to 3.75 s: never one a
   * tick (that would be 14).
   */
  sleep_ms (3600);
  n = mb_connects (rig.mbr);
  cr_assert (n >= 2 && n <= 3, "%" PRIu64 " connects in 3.6 s", n);
}

Test (monitor, the_backoff_doubles_from_one_second_up_to_thirty)
{
  static const unsigned expect[] = {
    1000, 2000, 4000, 8000, 16000, 30000, 30000,
  };
  size_t i;

  rig_cut (&rig);
  for (i = 0; i < sizeof expect / sizeof expect[0]; i++) {
    int64_t delay;

    wait_connects (rig.mbr, i + 1);
    /* Stopped, the monitor has finished its round: its fields are
     * ours to read, and to make the device due at once.
     */
    rig_stop (&rig);
    cr_assert_eq (mb_connects (rig.mbr), i + 1);
    cr_assert_eq (rig.r->backoff_ms, expect[i], "try %zu", i + 1);
    delay = rig.r->retry_at_ms - now_ms ();
    cr_assert (delay > expect[i] - 1000 && delay <= expect[i],
               "try %zu: next in %" PRId64 " ms", i + 1, delay);
    rig.r->retry_at_ms = 0;
    rig_start (&rig);
  }
  cr_assert (fx_stat_of (rig.pool, "r").flags & SWF_FAILED);
}

Test (monitor, a_successful_reconnect_resets_the_backoff)
{
  rig_cut (&rig);
  wait_connects (rig.mbr, 2);
  rig_restart (&rig, false);
  rig_stop (&rig);
  cr_assert_eq (rig.r->backoff_ms, 0);
}

/* ---- a device that was removed ---- */

Test (monitor, swapping_off_a_failed_device_loses_its_pages_and_closes_it)
{
  unsigned char buf[PAGE];

  rig_cut (&rig);
  /* Swap off just after a try, so that no round is due meanwhile. */
  wait_connects (rig.mbr, 1);
  cr_assert_eq (pool_swapoff (rig.pool, "r", NULL, NULL), 0, "%s",
                mb_log_last ());
  cr_assert_eq (atomic_load (&rig.closes), 1, "r is closed");
  cr_assert_eq (pool_ndevices (rig.pool), 1);
  expect_all_eio (&rig);
  write_page (&rig, buf, 0x21, 3);
  fx_expect_data (rig.exp, 3 * PAGE, PAGE, buf);
  cr_assert_eq (fx_stat_of (rig.pool, "l").inuse, 1);
  sleep_ms (1500);              /* rounds with r gone */
  rig_stop (&rig);
}

/* Sleep in the first progress call of a swap-off, while it holds the
 * admin lock, long enough for the monitor to pick the device up and
 * wait for that lock.
 */
static void
slow_progress (void *opaque, uint64_t moved, uint64_t total)
{
  bool *slept = opaque;

  if (!*slept) {
    *slept = true;
    sleep_ms (2000);
  }
}

/* A device swapped off (and freed) while the monitor waited for
 * admin_lock is never touched again: revive checks membership and sets
 * the backoff under the lock (a use after free under ASan before).
 */
Test (monitor, the_monitor_never_touches_a_device_removed_while_it_waited)
{
  bool slept = false;

  rig_cut (&rig);
  cr_assert_eq (pool_swapoff (rig.pool, "r", slow_progress, &slept), 0,
                "%s", mb_log_last ());
  cr_assert (slept);
  cr_assert_eq (atomic_load (&rig.closes), 1, "r is closed");
  sleep_ms (600);               /* the monitor gets the lock and goes on */
  rig_stop (&rig);
  expect_all_eio (&rig);
}

/* ---- stopping ---- */

Test (monitor, stopping_the_monitor_is_prompt_and_idempotent)
{
  int64_t t;
  unsigned base;

  rig_stop (&rig);
  base = nthreads ();
  rig_start (&rig);
  cr_assert_eq (nthreads (), base + 1);
  rig_cut (&rig);               /* give it work: a device to retry */
  sleep_ms (300);
  t = now_ms ();
  rig_stop (&rig);
  cr_assert_lt (now_ms () - t, 1000, "stop took %" PRId64 " ms",
                now_ms () - t);
  wait_until (nthreads_is, &base, "gone");
  t = now_ms ();
  rig_stop (&rig);
  cr_assert_lt (now_ms () - t, 100, "a second stop is a no-op");
}

Test (monitor_thread, a_monitor_is_one_thread_until_it_is_stopped)
{
  struct pool *pool = fx_new_pool ();
  unsigned base = nthreads ();
  struct monitor *mon;

  fx_add_dev (pool, "l", L_PAGES, 0, NULL);
  mon = monitor_start (pool);
  cr_assert_not_null (mon);
  cr_assert_eq (nthreads (), base + 1);
  monitor_stop (mon);
  wait_until (nthreads_is, &base, "gone");
  pool_destroy (pool);
}
