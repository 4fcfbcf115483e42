/* swapdrum: the maxactive gate of a swap device.
 *
 * A gate admits at most `max` holders at once (I/Os in flight on one
 * device).  When it is full, later arrivals wait; each leave wakes
 * exactly one waiter, by handing it the leaver's place.  Waiters have
 * a class (the export a request is for: gate_set_class), and the
 * places go round robin between the classes that have waiters, in
 * the order each class first queued, and in arrival order within a
 * class: so one export that floods a device with requests does not
 * make another's wait behind all of them (it waits for at most one
 * place per other class with waiters), and none starves.  With one
 * class this is FIFO.  The most holders ever admitted at once (the
 * peak) is kept exactly.
 *
 * Protocol.  `state` packs the holder count (low 32 bits) and the
 * waiter count (high 32 bits) into one atomic word, so one CAS can
 * check and change both:
 *   - enter, fast path: no waiters and fewer than max holders: CAS
 *     holders + 1.  No lock.
 *   - leave, fast path: no waiters: CAS holders - 1.  No lock.
 *   - otherwise take `lock`.  An arrival that still finds no room
 *     adds itself to the waiter count and to the queue (behind its
 *     class, or as a new class at the end of the ring), then sleeps on
 *     its own condition variable.  A leaver that finds waiters pops the
 *     oldest waiter of the class at the head of the ring (which moves
 *     to the end if more of it wait), takes one off the waiter count
 *     and hands its place over: the holder count stays the same (the
 *     place is never free, so no one can barge past the queue), and
 *     the waiter is signalled.
 * The waiter count and the queue change only under `lock`, together.
 * While there are waiters the gate is full (the first one queued only
 * because holders == max, and handovers keep holders there), so
 * neither fast path can succeed and the whole state changes only
 * under `lock`: a waiter is never missed.
 *
 * Locking: `lock` protects the queue and every change of the waiter
 * count; `state` and `peak` are atomics (the fast paths use no lock);
 * `max` is constant after gate_init.  Nothing else is ever taken while
 * `lock` is held, and it is never held during the caller's I/O.
 *
 * The gate pointer is never NULL (SD_NONNULL, nonnull.h).
 */

#ifndef SWAPDRUM_GATE_H
#define SWAPDRUM_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "swapdrum/nonnull.h"

struct gate_waiter;

struct gate {
  unsigned max;                 /* constant: most holders at once */
  _Atomic uint64_t state;       /* holders | waiters << 32 */
  _Atomic unsigned peak;        /* most holders ever at once */
  pthread_mutex_t lock;         /* the queue, the waiter count */
  struct gate_waiter *head;     /* lock: the ring of classes with
                                   waiters (each by its oldest), the
                                   one served next first; or NULL */
  struct gate_waiter **tail;    /* lock: where the next class goes */
};

/* Set the calling thread's class for its later gate_enter calls (0
 * until set: the pool's own I/O); returns the one it had.  The data
 * path sets the export's id around a request.
 */
extern unsigned gate_set_class (unsigned cls);

/* Open an empty gate for at most max (at least 1) holders. */
extern void gate_init (struct gate *g, unsigned max)
  SD_NONNULL (1);

/* Release the gate's resources.  No thread may hold or wait at it. */
extern void gate_destroy (struct gate *g)
  SD_NONNULL (1);

/* Wait until admitted, then hold a place.
 * => returns holding one of the gate's max places; call gate_leave
 *    when done.  The caller must hold no lock that a holder needs.
 */
extern void gate_enter (struct gate *g)
  SD_NONNULL (1);

/* Give the place taken by gate_enter back, to the oldest waiter if
 * there is one.
 */
extern void gate_leave (struct gate *g)
  SD_NONNULL (1);

/* The most holders ever admitted at once.  Lock-free. */
extern unsigned gate_peak (const struct gate *g)
  SD_NONNULL (1);

/* Holders and waiters now (for tests and debugging: stale at once
 * unless the caller knows the gate is quiet).  Lock-free.
 */
extern unsigned gate_holders (const struct gate *g)
  SD_NONNULL (1);
extern unsigned gate_waiters (const struct gate *g)
  SD_NONNULL (1);

#endif /* SWAPDRUM_GATE_H */
