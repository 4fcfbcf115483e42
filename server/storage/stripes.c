/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include "storage/stripes.h"

void
stripes_init (struct stripes *s)
{
  pthread_rwlockattr_t attr;
  size_t i;

  /* Prefer writers: with glibc's default (readers first) a steady
   * stream of reads to one stripe would starve trim and swap-off
   * forever.
   */
  pthread_rwlockattr_init (&attr);
  pthread_rwlockattr_setkind_np (&attr,
                                 PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  for (i = 0; i < NSTRIPES; i++) {
    pthread_rwlock_init (&s->lock[i], &attr);
    atomic_init (&s->gen[i], 0);
  }
  pthread_rwlockattr_destroy (&attr);
}

void
stripes_fini (struct stripes *s)
{
  size_t i;

  for (i = 0; i < NSTRIPES; i++)
    pthread_rwlock_destroy (&s->lock[i]);
}

static size_t
stripe_of (export_page_t page)
{
  return (page >> STRIPE_SHIFT) % NSTRIPES;
}

/* The stripes a page range touches: stripe (first_chunk + k) %
 * NSTRIPES for k < count.  A range never covers more than NSTRIPES.
 */
static uint64_t
range_stripes (export_page_t first, uint64_t n, uint64_t *start)
{
  uint64_t c0 = first >> STRIPE_SHIFT;
  uint64_t c1 = (first + n - 1) >> STRIPE_SHIFT;
  uint64_t count = c1 - c0 + 1;

  *start = c0 % NSTRIPES;
  return count < NSTRIPES ? count : NSTRIPES;
}

/* What each_stripe does to every stripe. */
enum stripe_op { OP_RDLOCK, OP_UNLOCK, OP_BUMP_UNLOCK };

static void
stripe_do (struct stripes *s, size_t i, enum stripe_op op)
{
  switch (op) {
  case OP_RDLOCK:
    pthread_rwlock_rdlock (&s->lock[i]);
    break;
  case OP_BUMP_UNLOCK:
    atomic_fetch_add_explicit (&s->gen[i], 1, memory_order_release);
    /* fall through */
  case OP_UNLOCK:
    pthread_rwlock_unlock (&s->lock[i]);
    break;
  }
}

/* Apply op to every stripe of pages [first, first + n), in increasing
 * index order (the part that wrapped past NSTRIPES first): requests
 * holding several stripes shared then never wait for each other in a
 * cycle, even while writers queue on those stripes.  A request nearly
 * always touches one stripe, which is handled without the loops.
 */
static inline void
each_stripe (struct stripes *s, export_page_t first, uint64_t n,
             enum stripe_op op)
{
  uint64_t start, count, k, wrapped;

  if (n == 0)
    return;
  if ((first >> STRIPE_SHIFT) == ((first + n - 1) >> STRIPE_SHIFT)) {
    stripe_do (s, stripe_of (first), op);
    return;
  }
  count = range_stripes (first, n, &start);
  wrapped = start + count > NSTRIPES ? start + count - NSTRIPES : 0;
  for (k = 0; k < wrapped; k++)
    stripe_do (s, k, op);
  for (k = start; k < start + count - wrapped; k++)
    stripe_do (s, k, op);
}

void
stripes_rdlock (struct stripes *s, export_page_t first, uint64_t n)
{
  each_stripe (s, first, n, OP_RDLOCK);
}

void
stripes_unlock_range (struct stripes *s, export_page_t first, uint64_t n)
{
  each_stripe (s, first, n, OP_UNLOCK);
}

void
stripes_unlock_written (struct stripes *s, export_page_t first, uint64_t n)
{
  each_stripe (s, first, n, OP_BUMP_UNLOCK);
}

void
stripes_wrlock (struct stripes *s, export_page_t page)
{
  pthread_rwlock_wrlock (&s->lock[stripe_of (page)]);
}

void
stripes_wrunlock (struct stripes *s, export_page_t page)
{
  stripe_do (s, stripe_of (page), OP_BUMP_UNLOCK);
}

uint32_t
stripes_gen (struct stripes *s, export_page_t page)
{
  return atomic_load_explicit (&s->gen[stripe_of (page)],
                               memory_order_acquire);
}

void
stripes_barrier (struct stripes *s)
{
  size_t i;

  for (i = 0; i < NSTRIPES; i++) {
    pthread_rwlock_wrlock (&s->lock[i]);
    pthread_rwlock_unlock (&s->lock[i]);
  }
}
