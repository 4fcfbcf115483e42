/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the maxactive gate (server/devices/gate.c): on its own, and
 * in front of an in-memory device that counts the I/Os in flight.
 * The races are forced where the test needs a state (threads are
 * started one at a time and the test waits until the gate counts them
 * as waiters); the stress tests look for what must never happen.
 */

#include <config.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "devices/gate.h"
#include "membackend.h"
#include "devices/swapdev.h"

/* A lost wake-up or a thread let in early shows as a hang: fail it. */
TestSuite (gate, .init = fx_quiet, .timeout = 30);

/* Spin (yielding) until the gate counts `n` waiters. */
static void
wait_for_waiters (struct gate *g, unsigned n)
{
  while (gate_waiters (g) != n)
    sched_yield ();
}

/* ---- on its own ---- */

Test (gate, a_free_gate_admits_up_to_max_without_waiting)
{
  struct gate g;
  unsigned i;

  gate_init (&g, 3);
  for (i = 0; i < 3; i++)
    gate_enter (&g);
  cr_assert_eq (gate_holders (&g), 3);
  cr_assert_eq (gate_waiters (&g), 0);
  cr_assert_eq (gate_peak (&g), 3);
  for (i = 0; i < 3; i++)
    gate_leave (&g);
  cr_assert_eq (gate_holders (&g), 0);
  cr_assert_eq (gate_peak (&g), 3, "the peak stays after they leave");
  gate_destroy (&g);
}

Test (gate, a_max_of_zero_admits_one_at_a_time)
{
  struct gate g;

  gate_init (&g, 0);
  cr_assert_eq (g.max, 1);
  gate_destroy (&g);
}

/* A thread that goes through the gate once, noting when it got in. */
struct passer {
  struct gate *g;
  atomic_uint *next_slot;       /* the order of admission, shared */
  unsigned admitted_as;         /* 0-based admission order */
  atomic_bool inside;
};

static void *
pass_once (void *arg)
{
  struct passer *p = arg;

  gate_enter (p->g);
  p->admitted_as = atomic_fetch_add (p->next_slot, 1);
  atomic_store (&p->inside, true);
  gate_leave (p->g);
  return NULL;
}

Test (gate, an_arrival_at_a_full_gate_waits_until_a_holder_leaves)
{
  struct gate g;
  atomic_uint slot = 0;
  struct passer p = { .g = &g, .next_slot = &slot };
  pthread_t t;

  gate_init (&g, 1);
  gate_enter (&g);
  cr_assert_eq (pthread_create (&t, NULL, pass_once, &p), 0);
  wait_for_waiters (&g, 1);
  usleep (10000);
  cr_assert_not (atomic_load (&p.inside), "it got past a full gate");
  gate_leave (&g);
  cr_assert_eq (pthread_join (t, NULL), 0);
  cr_assert (atomic_load (&p.inside));
  cr_assert_eq (gate_holders (&g), 0);
  cr_assert_eq (gate_waiters (&g), 0);
  cr_assert_eq (gate_peak (&g), 1);
  gate_destroy (&g);
}

#define FIFO_THREADS 6

Test (gate, waiters_are_admitted_in_the_order_they_arrived)
{
  struct gate g;
  atomic_uint slot = 0;
  struct passer p[FIFO_THREADS];
  pthread_t t[FIFO_THREADS];
  unsigned i;

  gate_init (&g, 1);
  gate_enter (&g);
  /* Queue them one at a time: thread i arrives once i are waiting. */
  for (i = 0; i < FIFO_THREADS; i++) {
    p[i] = (struct passer) { .g = &g, .next_slot = &slot };
    cr_assert_eq (pthread_create (&t[i], NULL, pass_once, &p[i]), 0);
    wait_for_waiters (&g, i + 1);
  }
  gate_leave (&g);
  for (i = 0; i < FIFO_THREADS; i++)
    cr_assert_eq (pthread_join (t[i], NULL), 0);
  for (i = 0; i < FIFO_THREADS; i++)
    cr_assert_eq (p[i].admitted_as, i, "arrival %u was admitted as %u",
                  i, p[i].admitted_as);
  cr_assert_eq (gate_peak (&g), 1);
  gate_destroy (&g);
}

/* A passer in a class (gate_set_class). */
struct classed {
  struct passer p;
  unsigned cls;
};

static void *
pass_once_in_class (void *arg)
{
  struct classed *c = arg;

  gate_set_class (c->cls);
  return pass_once (&c->p);
}

#define CLASS_THREADS 7

Test (gate, places_go_round_the_classes_that_wait)
{
  /* Arrivals: class 1 five times (a flood), then class 2 twice. */
  static const unsigned cls[CLASS_THREADS] = { 1, 1, 1, 1, 1, 2, 2 };
  /* Admission order, by arrival: 1 2 1 2 1 1 1. */
  static const unsigned want[CLASS_THREADS] = { 0, 2, 4, 5, 6, 1, 3 };
  struct gate g;
  atomic_uint slot = 0;
  struct classed c[CLASS_THREADS];
  pthread_t t[CLASS_THREADS];
  unsigned i;

  gate_init (&g, 1);
  gate_enter (&g);
  for (i = 0; i < CLASS_THREADS; i++) {
    c[i] = (struct classed) {
      .p = { .g = &g, .next_slot = &slot }, .cls = cls[i],
    };
    cr_assert_eq (pthread_create (&t[i], NULL, pass_once_in_class, &c[i]),
                  0);
    wait_for_waiters (&g, i + 1);
  }
  gate_leave (&g);
  for (i = 0; i < CLASS_THREADS; i++)
    cr_assert_eq (pthread_join (t[i], NULL), 0);
  for (i = 0; i < CLASS_THREADS; i++)
    cr_assert_eq (c[i].p.admitted_as, want[i],
                  "arrival %u (class %u) was admitted as %u, not %u",
                  i, cls[i], c[i].p.admitted_as, want[i]);
  gate_destroy (&g);
}

Test (gate, a_thread_keeps_its_class_until_it_sets_another)
{
  cr_assert_eq (gate_set_class (5), 0, "a thread starts in class 0");
  cr_assert_eq (gate_set_class (0), 5);
}

/* A thread that stays inside until the test lets it go. */
struct stayer {
  struct gate *g;
  pthread_mutex_t *lock;
  pthread_cond_t *cond;
  bool *go;                     /* under lock */
};

static void *
stay_inside (void *arg)
{
  struct stayer *s = arg;

  gate_enter (s->g);
  pthread_mutex_lock (s->lock);
  while (!*s->go)
    pthread_cond_wait (s->cond, s->lock);
  pthread_mutex_unlock (s->lock);
  gate_leave (s->g);
  return NULL;
}

#define STAY_MAX 3
#define STAY_THREADS 7

Test (gate, the_peak_is_exactly_max_when_more_arrive_than_it_admits)
{
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
  bool go = false;
  struct gate g;
  struct stayer s = { .g = &g, .lock = &lock, .cond = &cond, .go = &go };
  pthread_t t[STAY_THREADS];
  unsigned i;

  gate_init (&g, STAY_MAX);
  for (i = 0; i < STAY_THREADS; i++)
    cr_assert_eq (pthread_create (&t[i], NULL, stay_inside, &s), 0);
  wait_for_waiters (&g, STAY_THREADS - STAY_MAX);
  cr_assert_eq (gate_holders (&g), STAY_MAX);
  cr_assert_eq (gate_peak (&g), STAY_MAX);
  pthread_mutex_lock (&lock);
  go = true;
  pthread_cond_broadcast (&cond);
  pthread_mutex_unlock (&lock);
  for (i = 0; i < STAY_THREADS; i++)
    cr_assert_eq (pthread_join (t[i], NULL), 0);
  cr_assert_eq (gate_peak (&g), STAY_MAX, "peak %u", gate_peak (&g));
  cr_assert_eq (gate_holders (&g), 0);
  cr_assert_eq (gate_waiters (&g), 0);
  gate_destroy (&g);
}

/* ---- stress: many threads in and out ---- */

#define STRESS_THREADS 12
#define STRESS_ROUNDS 3000

struct stress {
  struct gate *g;
  atomic_uint inside;           /* threads between enter and leave */
  atomic_uint most_inside;
  atomic_uint passes;
};

static void *
stress_loop (void *arg)
{
  struct stress *st = arg;
  unsigned i, now, most;

  for (i = 0; i < STRESS_ROUNDS; i++) {
    gate_enter (st->g);
    now = atomic_fetch_add (&st->inside, 1) + 1;
    most = atomic_load (&st->most_inside);
    while (now > most &&
           !atomic_compare_exchange_weak (&st->most_inside, &most, now))
      ;
    if (i % 8 == 0)
      sched_yield ();           /* let others pile up at the gate */
    atomic_fetch_sub (&st->inside, 1);
    gate_leave (st->g);
    atomic_fetch_add (&st->passes, 1);
  }
  return NULL;
}

/* Run the stress loop through a gate of max places. */
static void
stress_gate (unsigned max)
{
  struct gate g;
  struct stress st = { .g = &g };
  pthread_t t[STRESS_THREADS];
  unsigned i;

  gate_init (&g, max);
  for (i = 0; i < STRESS_THREADS; i++)
    cr_assert_eq (pthread_create (&t[i], NULL, stress_loop, &st), 0);
  for (i = 0; i < STRESS_THREADS; i++)
    cr_assert_eq (pthread_join (t[i], NULL), 0);
  cr_assert_eq (atomic_load (&st.passes), STRESS_THREADS * STRESS_ROUNDS,
                "max %u: some passes never got through", max);
  cr_assert_leq (atomic_load (&st.most_inside), max,
                 "max %u: %u were inside at once", max,
                 atomic_load (&st.most_inside));
  cr_assert_leq (gate_peak (&g), max, "max %u: peak %u", max,
                 gate_peak (&g));
  cr_assert_geq (gate_peak (&g), atomic_load (&st.most_inside),
                 "max %u: the peak missed some holders", max);
  cr_assert_eq (gate_holders (&g), 0);
  cr_assert_eq (gate_waiters (&g), 0);
  gate_destroy (&g);
}

Test (gate, many_threads_never_get_more_than_max_inside_and_all_get_through)
{
  stress_gate (1);
  stress_gate (2);
  stress_gate (5);
}

Test (gate, a_gate_wider_than_the_crowd_never_makes_anyone_wait)
{
  stress_gate (STRESS_THREADS);
}

/* ---- in front of a device ---- */

#define DEV_MAX 3
#define DEV_THREADS 8
#define DEV_ROUNDS 200

struct dev_io {
  struct swapdev *dev;
  unsigned id;
  atomic_uint *failures;
};

/* Read and write this thread's own pages; count failures. */
static void *
dev_io_loop (void *arg)
{
  struct dev_io *io = arg;
  unsigned char buf[PAGE];
  unsigned i;

  memset (buf, io->id + 1, sizeof buf);
  for (i = 0; i < DEV_ROUNDS; i++) {
    dev_page_t page = io->id * 4 + i % 4;
    if (swapdev_write (io->dev, buf, page, 0, PAGE, false) == -1 ||
        swapdev_read (io->dev, buf, page, 0, PAGE) == -1)
      atomic_fetch_add (io->failures, 1);
  }
  return NULL;
}

Test (gate, device_io_from_many_threads_never_exceeds_maxactive)
{
  struct membackend *mb;
  struct swapdev *dev = mb_device ("gate", 64, DEV_MAX, &mb);
  struct dev_io io[DEV_THREADS];
  pthread_t t[DEV_THREADS];
  atomic_uint failures = 0;
  unsigned i;

  cr_assert_not_null (dev);
  mb_set_delay (mb, 20);
  for (i = 0; i < DEV_THREADS; i++) {
    io[i] = (struct dev_io) { .dev = dev, .id = i, .failures = &failures };
    cr_assert_eq (pthread_create (&t[i], NULL, dev_io_loop, &io[i]), 0);
  }
  for (i = 0; i < DEV_THREADS; i++)
    cr_assert_eq (pthread_join (t[i], NULL), 0);
  cr_assert_eq (atomic_load (&failures), 0);
  cr_assert_eq (mb_reads (mb) + mb_writes (mb),
                2 * DEV_THREADS * DEV_ROUNDS);
  cr_assert_leq (mb_peak_inflight (mb), DEV_MAX, "backend saw %u at once",
                 mb_peak_inflight (mb));
  cr_assert_leq (gate_peak (&dev->gate), DEV_MAX);
  cr_assert_geq (gate_peak (&dev->gate), mb_peak_inflight (mb));
  swapdev_free (dev);
}

/* A held read, for the test below. */
static void *
read_once (void *arg)
{
  struct dev_io *io = arg;
  unsigned char buf[PAGE];

  if (swapdev_read (io->dev, buf, io->id, 0, PAGE) == -1)
    atomic_fetch_add (io->failures, 1);
  return NULL;
}

Test (gate, a_device_admits_exactly_maxactive_held_ios_and_queues_the_rest)
{
  struct membackend *mb;
  struct swapdev *dev = mb_device ("gate", 64, DEV_MAX, &mb);
  struct dev_io io[DEV_THREADS];
  pthread_t t[DEV_THREADS];
  atomic_uint failures = 0;
  unsigned i;

  cr_assert_not_null (dev);
  mb_hold (mb, true);
  for (i = 0; i < DEV_THREADS; i++) {
    io[i] = (struct dev_io) { .dev = dev, .id = i, .failures = &failures };
    cr_assert_eq (pthread_create (&t[i], NULL, read_once, &io[i]), 0);
  }
  wait_for_waiters (&dev->gate, DEV_THREADS - DEV_MAX);
  while (mb_inflight (mb) != DEV_MAX)
    sched_yield ();
  usleep (10000);
  cr_assert_eq (mb_inflight (mb), DEV_MAX, "more got past the gate");
  cr_assert_eq (gate_peak (&dev->gate), DEV_MAX);
  mb_hold (mb, false);
  for (i = 0; i < DEV_THREADS; i++)
    cr_assert_eq (pthread_join (t[i], NULL), 0);
  cr_assert_eq (atomic_load (&failures), 0);
  cr_assert_eq (mb_reads (mb), DEV_THREADS);
  cr_assert_eq (mb_peak_inflight (mb), DEV_MAX);
  cr_assert_eq (gate_peak (&dev->gate), DEV_MAX);
  swapdev_free (dev);
}

Test (gate, a_device_without_maxactive_gets_the_default)
{
  struct swapdev *dev = mb_device ("gate", 4, 0, NULL);

  cr_assert_not_null (dev);
  cr_assert_eq (dev->maxactive, SWAPDEV_MAXACTIVE);
  cr_assert_eq (dev->gate.max, SWAPDEV_MAXACTIVE);
  swapdev_free (dev);
}
