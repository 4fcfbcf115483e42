/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The maxactive gate: a lock-free fast path while there is room, a
 * queue of sleeping waiters when there is not, served round robin
 * between classes and in order within one (see gate.h for the
 * protocol and its invariant).
 */

#include <config.h>

#include <stdbool.h>

#include "devices/gate.h"
#include "swapdrum/cleanup.h"

/* One waiter in the state word. */
#define GATE_WAITER (UINT64_C (1) << 32)

/* The calling thread's class (gate_set_class). */
static __thread unsigned my_class;

/* A thread queued at a full gate.  It lives on the waiter's stack
 * from the moment it is queued until it is admitted.  The oldest
 * waiter of each class is that class's head: it is in the ring (the
 * gate's list of classes with waiters, whose head is served next) and
 * keeps where its class's next waiter goes.
 */
struct gate_waiter {
  pthread_cond_t cond;          /* signalled when admitted */
  bool admitted;                /* lock: a leaver handed us its place */
  unsigned cls;                 /* constant: the class it waits in */
  struct gate_waiter *next;     /* lock: the next younger waiter of its
                                   class */
  struct gate_waiter **tail;    /* lock, class heads: where the class's
                                   next waiter goes */
  struct gate_waiter *ring_next; /* lock, class heads: the next class */
};

unsigned
gate_set_class (unsigned cls)
{
  unsigned was = my_class;

  my_class = cls;
  return was;
}

static unsigned
holders_of (uint64_t state)
{
  return (uint32_t) state;
}

static unsigned
waiters_of (uint64_t state)
{
  return state >> 32;
}

void
gate_init (struct gate *g, unsigned max)
{
  g->max = max ? max : 1;
  atomic_init (&g->state, 0);
  atomic_init (&g->peak, 0);
  pthread_mutex_init (&g->lock, NULL);
  g->head = NULL;
  g->tail = &g->head;
}

void
gate_destroy (struct gate *g)
{
  pthread_mutex_destroy (&g->lock);
}

/* Raise the peak to n if it is lower.  Every admission that makes n
 * holders calls this with n, so the peak is exact.
 */
static void
note_peak (struct gate *g, unsigned n)
{
  unsigned peak = atomic_load_explicit (&g->peak, memory_order_relaxed);

  while (n > peak &&
         !atomic_compare_exchange_weak_explicit (&g->peak, &peak, n,
                                                 memory_order_relaxed,
                                                 memory_order_relaxed))
    ;
}

/* The fast path: take a place if one is free and no one waits.
 * => returns true if admitted, false if the caller must queue.
 */
static bool
try_enter (struct gate *g)
{
  uint64_t s = atomic_load_explicit (&g->state, memory_order_relaxed);

  while (waiters_of (s) == 0 && holders_of (s) < g->max) {
    if (atomic_compare_exchange_weak_explicit (&g->state, &s, s + 1,
                                               memory_order_acquire,
                                               memory_order_relaxed)) {
      note_peak (g, holders_of (s) + 1);
      return true;
    }
  }
  return false;
}

/* In one CAS, take a place if there is room after all, or count the
 * caller as a waiter: checking first and counting after would let
 * the last holder leave in between, and no one would wake the caller.
 * => caller holds g->lock.
 * => returns true if admitted, false if counted as a waiter (the
 *    caller must then queue before dropping the lock).
 */
static bool
enter_or_count_locked (struct gate *g)
{
  uint64_t s = atomic_load (&g->state);
  bool room;

  do
    room = waiters_of (s) == 0 && holders_of (s) < g->max;
  while (!atomic_compare_exchange_weak (&g->state, &s,
                                        room ? s + 1 : s + GATE_WAITER));
  if (room)
    note_peak (g, holders_of (s) + 1);
  return room;
}

/* Put class head h at the end of the ring.  => caller holds g->lock. */
static void
ring_append_locked (struct gate *g, struct gate_waiter *h)
{
  h->ring_next = NULL;
  *g->tail = h;
  g->tail = &h->ring_next;
}

/* Queue w behind its class's waiters, or, if its class has none, as a
 * new class at the end of the ring.  => caller holds g->lock.
 */
static void
queue_locked (struct gate *g, struct gate_waiter *w)
{
  struct gate_waiter *h;

  for (h = g->head; h; h = h->ring_next)
    if (h->cls == w->cls) {
      *h->tail = w;
      h->tail = &w->next;
      return;
    }
  w->tail = &w->next;
  ring_append_locked (g, w);
}

/* Queue and sleep until a leaver hands us its place.
 * => caller holds g->lock and has been counted as a waiter; returns
 *    with the lock held and admitted.
 */
static void
wait_turn_locked (struct gate *g)
{
  struct gate_waiter w = { .admitted = false, .cls = my_class };

  pthread_cond_init (&w.cond, NULL);
  queue_locked (g, &w);
  while (!w.admitted)
    pthread_cond_wait (&w.cond, &g->lock);
  pthread_cond_destroy (&w.cond);
}

void
gate_enter (struct gate *g)
{
  if (try_enter (g))
    return;
  /* The slow path, under the lock until admitted. */
  SD_LOCK_FOR_SCOPE (&g->lock);
  if (!enter_or_count_locked (g))
    wait_turn_locked (g);
}

/* Wake the oldest waiter of the class whose turn it is, which now
 * owns the leaver's place; its class, if more of it wait, goes to the
 * end of the ring.  The signal is sent under the lock: once `admitted`
 * is set the waiter may return and its condition variable go away.
 * => caller holds g->lock and has taken one off the waiter count.
 */
static void
hand_over_locked (struct gate *g)
{
  struct gate_waiter *w = g->head, *next = w->next;

  g->head = w->ring_next;
  if (g->head == NULL)
    g->tail = &g->head;
  if (next) {
    next->tail = w->tail;
    ring_append_locked (g, next);
  }
  w->admitted = true;
  pthread_cond_signal (&w->cond);
}

/* Leave with the lock held: hand the place to the oldest waiter if
 * any is left (another leaver may have served the last one while we
 * waited for the lock), else give it back.
 * => caller holds g->lock.
 */
static void
leave_locked (struct gate *g)
{
  uint64_t s = atomic_load (&g->state);
  bool hand_over;

  do
    hand_over = waiters_of (s) > 0;
  while (!atomic_compare_exchange_weak (&g->state, &s,
                                        hand_over ? s - GATE_WAITER
                                                  : s - 1));
  if (hand_over)
    hand_over_locked (g);
}

void
gate_leave (struct gate *g)
{
  uint64_t s = atomic_load_explicit (&g->state, memory_order_relaxed);

  /* The fast path: no one waits, just give the place back. */
  while (waiters_of (s) == 0) {
    if (atomic_compare_exchange_weak_explicit (&g->state, &s, s - 1,
                                               memory_order_release,
                                               memory_order_relaxed))
      return;
  }
  SD_LOCK_FOR_SCOPE (&g->lock);
  leave_locked (g);
}

unsigned
gate_peak (const struct gate *g)
{
  return atomic_load_explicit (&g->peak, memory_order_relaxed);
}

unsigned
gate_holders (const struct gate *g)
{
  return holders_of (atomic_load (&g->state));
}

unsigned
gate_waiters (const struct gate *g)
{
  return waiters_of (atomic_load (&g->state));
}
