/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool/drum.h"

/* Slots are [1, DRUM_LIMIT). */
#define DRUM_LIMIT (DRUM_MAX_SLOT + 1)

/* One device's range, copied into the table: drum_getsdp searches
 * these and never reads a device, because a reader may still search a
 * table retired by drum_release after the device it lists was freed
 * (swap-off frees it as soon as its range is released).
 */
struct drum_entry {
  drum_slot_t start;            /* the device's drumoffset */
  uint64_t npages;              /* and its npages */
  struct swapdev *dev;
};

/* An immutable, sorted snapshot of the devices in the drum. */
struct drum_table {
  struct drum_table *older;     /* retired tables, freed at destroy */
  size_t n;
  struct drum_entry e[];        /* sorted by start */
};

struct drum {
  _Atomic (struct drum_table *) table;
};

static struct drum_table *
table_new (size_t n)
{
  struct drum_table *t;

  t = calloc (1, sizeof *t + n * sizeof t->e[0]);
  if (t)
    t->n = n;
  return t;
}

struct drum *
drum_create (void)
{
  struct drum *drum = calloc (1, sizeof *drum);
  struct drum_table *t = table_new (0);

  if (drum == NULL || t == NULL) {
    free (drum);
    free (t);
    errno = ENOMEM;
    return NULL;
  }
  atomic_init (&drum->table, t);
  return drum;
}

void
drum_destroy (struct drum *drum)
{
  struct drum_table *t, *older;

  if (drum == NULL)
    return;
  for (t = atomic_load (&drum->table); t; t = older) {
    older = t->older;
    free (t);
  }
  free (drum);
}

/* Install t as the current table, keeping the old one reachable. */
static void
publish (struct drum *drum, struct drum_table *t)
{
  t->older = atomic_load_explicit (&drum->table, memory_order_relaxed);
  atomic_store_explicit (&drum->table, t, memory_order_release);
}

/* Find the first gap of n slots; return the index the new device goes
 * to and set *start, or return -1 if there is no room.
 */
static ssize_t
find_gap (const struct drum_table *t, uint64_t n, drum_slot_t *start)
{
  drum_slot_t next = 1;         /* slot 0 is never valid */
  size_t i;

  for (i = 0; i < t->n; i++) {
    if (t->e[i].start - next >= n)
      break;
    next = t->e[i].start + t->e[i].npages;
  }
  if (next + n > DRUM_LIMIT || next + n < next)
    return -1;
  *start = next;
  return i;
}

int
drum_claim (struct drum *drum, struct swapdev *dev)
{
  const struct drum_table *cur = atomic_load (&drum->table);
  struct drum_table *t;
  drum_slot_t start;
  ssize_t i;

  i = find_gap (cur, dev->npages, &start);
  if (i == -1) {
    errno = ENOSPC;
    return -1;
  }
  t = table_new (cur->n + 1);
  if (t == NULL)
    return -1;
  memcpy (t->e, cur->e, i * sizeof t->e[0]);
  t->e[i] = (struct drum_entry) { start, dev->npages, dev };
  memcpy (&t->e[i + 1], &cur->e[i], (cur->n - i) * sizeof t->e[0]);
  dev->drumoffset = start;
  publish (drum, t);
  return 0;
}

int
drum_release (struct drum *drum, struct swapdev *dev)
{
  const struct drum_table *cur = atomic_load (&drum->table);
  struct drum_table *t;
  size_t i, j;

  /* A device that is not in the table has no range to return; copying
   * the table without it would drop another device instead.
   */
  for (i = 0; i < cur->n && cur->e[i].dev != dev; i++)
    ;
  if (i == cur->n)
    return 0;
  t = table_new (cur->n - 1);
  if (t == NULL)
    return -1;
  for (i = j = 0; i < cur->n; i++)
    if (cur->e[i].dev != dev)
      t->e[j++] = cur->e[i];
  publish (drum, t);
  return 0;
}

struct swapdev *
drum_getsdp (const struct drum *drum, drum_slot_t slot)
{
  const struct drum_table *t =
    atomic_load_explicit (&drum->table, memory_order_acquire);
  size_t lo = 0, hi = t->n;

  /* Find the last range that starts at or below slot. */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->e[mid].start <= slot)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0 || slot - t->e[lo - 1].start >= t->e[lo - 1].npages)
    return NULL;
  return t->e[lo - 1].dev;
}
