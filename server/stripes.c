/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include "stripes.h"

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
  for (i = 0; i < NSTRIPES; i++)
    pthread_rwlock_init (&s->lock[i], &attr);
  pthread_rwlockattr_destroy (&attr);
}

void
stripes_fini (struct stripes *s)
{
  size_t i;

  for (i = 0; i < NSTRIPES; i++)
    pthread_rwlock_destroy (&s->lock[i]);
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

/* Apply op to every stripe of pages [first, first + n), in increasing
 * index order (the part that wrapped past NSTRIPES first): requests
 * holding several stripes shared then never wait for each other in a
 * cycle, even while writers queue on those stripes.
 */
static void
each_stripe (struct stripes *s, export_page_t first, uint64_t n,
             int (*op) (pthread_rwlock_t *))
{
  uint64_t start, count, k, wrapped;

  if (n == 0)
    return;
  count = range_stripes (first, n, &start);
  wrapped = start + count > NSTRIPES ? start + count - NSTRIPES : 0;
  for (k = 0; k < wrapped; k++)
    op (&s->lock[k]);
  for (k = start; k < start + count - wrapped; k++)
    op (&s->lock[k]);
}

void
stripes_rdlock (struct stripes *s, export_page_t first, uint64_t n)
{
  each_stripe (s, first, n, pthread_rwlock_rdlock);
}

void
stripes_unlock_range (struct stripes *s, export_page_t first, uint64_t n)
{
  each_stripe (s, first, n, pthread_rwlock_unlock);
}

void
stripes_wrlock (struct stripes *s, export_page_t page)
{
  pthread_rwlock_wrlock (&s->lock[(page >> STRIPE_SHIFT) % NSTRIPES]);
}

void
stripes_unlock (struct stripes *s, export_page_t page)
{
  pthread_rwlock_unlock (&s->lock[(page >> STRIPE_SHIFT) % NSTRIPES]);
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
