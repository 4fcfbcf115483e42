/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The export map: a lazy adaptive radix tree, export page -> 32-bit
 * entry.  This file holds the API and everything that reads or writes
 * entries without the map's mutex; the layout, the reference encoding
 * and the rules readers and writers share are in map-int.h, changes to
 * the tree's shape in map-shape.c, the node arena in map-arena.c.
 *
 * Readers never take the mutex: they reach the root and its height by
 * one acquire load of the top, then load child references and N4
 * counts with acquire, so they see every node filled (map-int.h).  An
 * entry in a leaf is read and written with atomic operations on the
 * leaf, an inline one by compare-and-swap of the whole child
 * reference.  A write to a page with no entry yet, which must change
 * the shape, is handed to map_insert_locked under the mutex.  A write
 * whose reference changed under it, or that meets a frozen reference
 * (after waiting for the mutex once), looks again from the root.
 */

#include <config.h>

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "storage/map-int.h"

/* ---- geometry of a scan ---- */

/* The first page of child key of the node of this height (>= 1) that
 * covers page.  below, the mask of the node's pages, wraps to all ones
 * when the node spans 64 bits or more.
 */
static export_page_t
child_start (export_page_t page, unsigned height, unsigned key)
{
  unsigned shift = span_shift (height - 1);
  uint64_t below = ((uint64_t) INNER_SLOTS << shift) - 1;

  return (page & ~below) | ((uint64_t) key << shift);
}

/* The first page after the subtree of this height that contains page,
 * or end if that is at or past end (including when it would overflow
 * 64 bits).
 */
static export_page_t
subtree_next (export_page_t page, unsigned height, export_page_t end)
{
  unsigned shift = span_shift (height);
  uint64_t base, next;

  if (shift >= 64)
    return end;
  base = page >> shift;
  if (base == UINT64_MAX >> shift)
    return end;
  next = (base + 1) << shift;
  return next < end ? next : end;
}

/* ---- lock-free reading ---- */

/* The current top.  Lock-free. */
static struct top *
top_of (const struct map *m)
{
  return atomic_load_explicit (&((struct map *) m)->top, memory_order_acquire);
}

/* The non-zero child of the inner node ref with the smallest key >=
 * key, with *found set to that key; or 0 if there is none.  Lock-free:
 * an N4's keys are unsorted, so all count of them are compared, and a
 * key whose inline child was cleared to 0 is passed over.
 */
static uintptr_t
next_child (uintptr_t ref, unsigned key, unsigned *found)
{
  struct n4 *n4 = (struct n4 *) ref;
  unsigned i, count, best_key = INNER_SLOTS;
  uintptr_t child, best = 0;

  if (ref & REF_N16) {
    for (; key < INNER_SLOTS; key++) {
      child = atomic_load_explicit (&as_n16 (ref)->child[key],
                                    memory_order_acquire);
      if (child != 0) {
        *found = key;
        return child;
      }
    }
    return 0;
  }
  count = atomic_load_explicit (&n4->count, memory_order_acquire);
  for (i = 0; i < count; i++) {
    if (n4->key[i] < key || n4->key[i] >= best_key)
      continue;
    child = atomic_load_explicit (&n4->child[i], memory_order_acquire);
    if (child != 0) {
      best = child;
      best_key = n4->key[i];
    }
  }
  *found = best_key;
  return best;
}

/* Where a page's entry lives. */
struct where {
  _Atomic map_entry_t *entry;   /* in a leaf; or NULL, and then */
  _Atomic uintptr_t *slot;      /* inline in this child slot, */
  uintptr_t ref;                /* which held this reference */
};

/* Walk from the root to page's entry.
 * => returns true with w->entry set if the page's leaf exists, or with
 *    w->slot and w->ref set if a child slot holds the page inline;
 * => returns false if the page has no entry (a node on the way is
 *    missing, or holds another page inline): it reads as unmapped.
 * Never allocates.  Lock-free.
 */
static bool
locate (const struct map *m, export_page_t page, struct where *w)
{
  struct top *t = top_of (m);
  uintptr_t ref = atomic_load_explicit (&t->root, memory_order_acquire);
  _Atomic uintptr_t *slot;
  unsigned h;

  if (ref == 0)
    return false;
  for (h = t->height; h > 0; h--) {
    slot = ref_slot (ref, child_index (page, h));
    ref = slot ? atomic_load_explicit (slot, memory_order_acquire) : 0;
    if (ref == 0)
      return false;
    if (is_inline (ref)) {
      w->entry = NULL;
      w->slot = slot;
      w->ref = ref;
      return inline_offset (ref) == offset_in (page, h - 1);
    }
  }
  w->entry = &((struct leaf *) ref)->entry[page & LEAF_MASK];
  return true;
}

/* Fill scratch as the leaf that an inline entry for page would have
 * been in: that entry, and every other unmapped (the inline entry is
 * alone in a subtree at least a leaf wide).  => returns scratch.
 */
static struct leaf *
inline_leaf (struct leaf *scratch, export_page_t page, map_entry_t entry)
{
  unsigned i;

  for (i = 0; i < LEAF_SLOTS; i++)
    atomic_init (&scratch->entry[i],
                 i == (page & LEAF_MASK) ? entry : MAP_UNMAPPED);
  return scratch;
}

/* Find the first leaf that covers a page in [*page, end), or the first
 * inline entry for a page in it, shown as a leaf filled in scratch.
 * => returns it, with *page moved to the first such page (*page is
 *    left alone if its own leaf exists);
 * => returns NULL with *page set to end if there is none.
 * Each pass from the root either finds a leaf or an entry, or skips a
 * whole missing subtree.  Lock-free.
 */
static struct leaf *
seek_leaf (const struct map *m, export_page_t *page, export_page_t end,
           struct leaf *scratch)
{
  struct top *t;
  uintptr_t ref;
  unsigned h, idx, key;
  export_page_t at;

  while (*page < end) {
    t = top_of (m);
    ref = atomic_load_explicit (&t->root, memory_order_acquire);
    for (h = t->height; ref != 0 && !is_inline (ref) && h > 0; h--) {
      idx = child_index (*page, h);
      ref = next_child (ref, idx, &key);
      if (ref == 0)
        break;
      if (key != idx)
        *page = child_start (*page, h, key);
    }
    if (ref != 0 && is_inline (ref)) {
      /* The subtree of height h that holds *page has one entry, at. */
      at = (*page - offset_in (*page, h)) + inline_offset (ref);
      if (at >= *page) {
        *page = at;
        if (at < end)
          return inline_leaf (scratch, at, inline_entry (ref));
        continue;
      }
      ref = 0;
    }
    if (ref == 0)
      *page = subtree_next (*page, h, end);
    else if (*page < end)
      return (struct leaf *) ref;
  }
  *page = end;
  return NULL;
}

/* ---- writing entries ---- */

/* Wait until the mutex holder has finished changing the tree's shape:
 * after an N4 was found frozen, its N16 is then published.
 */
static void
wait_for_shape (struct map *m)
{
  pthread_mutex_lock (&m->lock);
  pthread_mutex_unlock (&m->lock);
}

/* map_cas on a page with no entry (it reads as MAP_UNMAPPED): decided
 * without the lock unless it sets a non-zero entry over the expected
 * 0; then the entry is inserted under the lock.
 * => returns as map_cas, or RETRY (see map_insert_locked).
 */
static int
cas_missing (struct map *m, export_page_t page, map_entry_t *expected,
             map_entry_t desired)
{
  int r;

  if (*expected != MAP_UNMAPPED) {
    *expected = MAP_UNMAPPED;
    return 0;
  }
  if (desired == MAP_UNMAPPED)
    return 1;
  pthread_mutex_lock (&m->lock);
  r = map_insert_locked (m, page, desired);
  pthread_mutex_unlock (&m->lock);
  return r;
}

/* The reference that holds entry at the offset of the inline ref: 0
 * (no child) for MAP_UNMAPPED.
 */
static uintptr_t
inline_with (uintptr_t ref, map_entry_t entry)
{
  return entry == MAP_UNMAPPED ? 0 : inline_ref (inline_offset (ref), entry);
}

/* map_cas on an entry held inline in w->slot, as w->ref: by
 * compare-and-swap of the whole reference, to 0 for MAP_UNMAPPED.
 * => returns as map_cas; or RETRY if the reference changed since
 *    locate read it (a writer changed the entry, or the lock holder
 *    expanded it or froze it: then wait for the lock holder first).
 * Lock-free, but for that wait.
 */
static int
cas_inline (struct map *m, const struct where *w, map_entry_t *expected,
            map_entry_t desired)
{
  uintptr_t ref = w->ref;

  if (ref & REF_FROZEN) {
    wait_for_shape (m);
    return RETRY;
  }
  if (inline_entry (ref) != *expected) {
    *expected = inline_entry (ref);
    return 0;
  }
  if (atomic_compare_exchange_strong_explicit (w->slot, &ref,
                                               inline_with (ref, desired),
                                               memory_order_acq_rel,
                                               memory_order_acquire))
    return 1;
  return RETRY;
}

/* ---- the API ---- */

struct map *
map_create (uint64_t npages)
{
  struct map *m;
  int err;

  if (npages == 0) {
    errno = EINVAL;
    return NULL;
  }
  m = calloc (1, sizeof *m);
  if (m == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  err = pthread_mutex_init (&m->lock, NULL);
  if (err != 0) {
    free (m);
    errno = err;
    return NULL;
  }
  atomic_init (&m->npages, npages);
  m->top0.height = height_for (npages);
  atomic_init (&m->top0.root, 0);
  atomic_init (&m->top, &m->top0);
  map_arena_init (&m->arena);
  return m;
}

void
map_destroy (struct map *m)
{
  if (m == NULL)
    return;
  map_arena_free (&m->arena);
  pthread_mutex_destroy (&m->lock);
  free (m);
}

uint64_t
map_npages (const struct map *m)
{
  return atomic_load_explicit (&((struct map *) m)->npages,
                               memory_order_acquire);
}

map_entry_t
map_get (const struct map *m, export_page_t page)
{
  struct where w;

  assert (page < map_npages (m));
  if (!locate (m, page, &w))
    return MAP_UNMAPPED;
  if (w.entry == NULL)
    return inline_entry (w.ref);
  return atomic_load_explicit (w.entry, memory_order_acquire);
}

/* Each pass either decides, or finds that another thread changed the
 * page's reference meanwhile (and so made progress) and looks again.
 */
int
map_cas (struct map *m, export_page_t page,
         map_entry_t *expected, map_entry_t desired)
{
  struct where w;
  int r;

  assert (page < map_npages (m));
  do {
    if (!locate (m, page, &w))
      r = cas_missing (m, page, expected, desired);
    else if (w.entry == NULL)
      r = cas_inline (m, &w, expected, desired);
    else
      r = atomic_compare_exchange_strong_explicit (w.entry, expected,
                                                   desired,
                                                   memory_order_acq_rel,
                                                   memory_order_acquire);
  } while (r == RETRY);
  return r;
}

map_entry_t
map_clear (struct map *m, export_page_t page)
{
  struct where w;
  map_entry_t old;

  assert (page < map_npages (m));
  for (;;) {
    if (!locate (m, page, &w))
      return MAP_UNMAPPED;
    if (w.entry != NULL)
      return atomic_exchange_explicit (w.entry, MAP_UNMAPPED,
                                       memory_order_acq_rel);
    old = inline_entry (w.ref);
    if (cas_inline (m, &w, &old, MAP_UNMAPPED) == 1)
      return old;
  }
}

/* Scan one leaf from *page to the end of the leaf or to end, whichever
 * comes first, for an entry that is mapped (if mapped) or unmapped.
 * => returns true with *page set to the first such page;
 * => returns false with *page set to where the scan stopped: the first
 *    page of the next leaf, or end.
 */
static bool
leaf_scan (const struct leaf *leaf, export_page_t *page,
           export_page_t end, bool mapped)
{
  map_entry_t e;

  for (;;) {
    e = atomic_load_explicit (&leaf->entry[*page & LEAF_MASK],
                              memory_order_acquire);
    if ((e != MAP_UNMAPPED) == mapped)
      return true;
    ++*page;
    if (*page >= end || (*page & LEAF_MASK) == 0)
      return false;
  }
}

/* Each step either answers, or moves past missing subtrees (found by
 * one walk from the root per subtree) or past the rest of one leaf.
 * Looking for an unmapped page, a missing subtree at from is the
 * answer: seek_leaf tells by moving past it.
 */
export_page_t
map_find (const struct map *m, export_page_t from,
          export_page_t end, bool mapped)
{
  struct leaf *leaf, scratch;
  export_page_t p;

  assert (end <= map_npages (m));
  while (from < end) {
    p = from;
    leaf = seek_leaf (m, &p, end, &scratch);
    if (!mapped && p != from)
      return from;
    if (leaf == NULL)
      return end;
    from = p;
    if (leaf_scan (leaf, &from, end, mapped))
      return from;
  }
  return end;
}

/* Call fn for every mapped entry of leaf from page to the end of the
 * leaf, stopping at end.  Returns the first non-zero fn result, or 0.
 */
static int
leaf_visit (const struct leaf *leaf, export_page_t page, export_page_t end,
            int (*fn) (export_page_t, map_entry_t, void *), void *opaque)
{
  map_entry_t e;
  int r;

  do {
    e = atomic_load_explicit (&leaf->entry[page & LEAF_MASK],
                              memory_order_acquire);
    if (e != MAP_UNMAPPED && (r = fn (page, e, opaque)) != 0)
      return r;
    page++;
  } while (page < end && (page & LEAF_MASK) != 0);
  return 0;
}

int
map_foreach (const struct map *m,
             int (*fn) (export_page_t page, map_entry_t entry,
                        void *opaque),
             void *opaque)
{
  export_page_t page = 0, end = map_npages (m);
  struct leaf *leaf, scratch;
  int r;

  while ((leaf = seek_leaf (m, &page, end, &scratch)) != NULL) {
    r = leaf_visit (leaf, page, end, fn, opaque);
    if (r != 0)
      return r;
    page = subtree_next (page, 0, end);
  }
  return 0;
}
