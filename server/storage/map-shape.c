/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Changes to the shape of the export map, all under the map's mutex:
 * an inline entry put in an empty slot or expanded into a node, an N4
 * growing into an N16, the tree made taller.  Each looks again at the
 * path under the mutex, and publishes in the order that map-int.h
 * sets out, so that lock-free readers and writers (map.c) never see
 * half a change.
 *
 * Growing.  The root and its height live together in a struct top,
 * which readers reach by one atomic pointer, so that they never pair
 * a root with another root's height.  map_grow makes the tree taller
 * by a chain of one-child N4s above the old root (its pages are the
 * first of the taller tree) and publishes a new top; the old top is
 * retired like an N4, and a reader still in it sees the smaller tree
 * of an instant earlier.
 */

#include <config.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/map-int.h"

/* A new empty node of this height: a leaf, or an N4 above leaves.
 * => lock held.  => returns its reference, or 0 with errno ENOMEM.
 */
static uintptr_t
new_node (struct map *m, unsigned height)
{
  return (uintptr_t) map_arena_alloc (&m->arena,
                                      height == 0 ? sizeof (struct leaf)
                                                  : sizeof (struct n4));
}

/* The reference in *slot, for the lock holder: only it changes a
 * node reference, so a relaxed load suffices.  => lock held.
 */
static uintptr_t
held (_Atomic uintptr_t *slot)
{
  return atomic_load_explicit (slot, memory_order_relaxed);
}

/* The child at key of the inner node ref, or 0.  Lock-free. */
static uintptr_t
child_of (uintptr_t ref, unsigned key)
{
  _Atomic uintptr_t *slot = ref_slot (ref, key);

  return slot ? atomic_load_explicit (slot, memory_order_acquire) : 0;
}

/* Make the zeroed N4 n4 hold one child, ref at key.  => lock held. */
static void
n4_one (struct n4 *n4, unsigned key, uintptr_t ref)
{
  atomic_init (&n4->child[0], ref);
  n4->key[0] = (uint8_t) key;
  atomic_init (&n4->count, 1);
}

/* Freeze the child at index i of the N4 if it is inline, so that no
 * lock-free writer changes it once it has been copied.  => lock held.
 * => returns the child as it was when frozen, without REF_FROZEN.
 */
static uintptr_t
freeze_child (struct n4 *n4, unsigned i)
{
  uintptr_t ref = atomic_load_explicit (&n4->child[i], memory_order_acquire);

  /* A failed exchange reloads ref: the entry changed, or was cleared
   * to 0, which only the lock holder (us) could undo.
   */
  while (is_inline (ref)
         && !atomic_compare_exchange_weak_explicit (&n4->child[i], &ref,
                                                    ref | REF_FROZEN,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire))
    ;
  return ref;
}

/* Replace the full N4 in *slot by an N16 holding its children and
 * child at key, and publish that in *slot.  The N4 is retired in the
 * arena, where readers may still walk it.  => lock held.
 * => returns 0, or -1 with errno ENOMEM (nothing published).
 */
static int
grow_n4 (struct map *m, _Atomic uintptr_t *slot, unsigned key,
         uintptr_t child)
{
  struct n4 *n4 = (struct n4 *) held (slot);
  struct n16 *n16 = map_arena_alloc (&m->arena, sizeof *n16);
  unsigned i;

  if (n16 == NULL)
    return -1;
  for (i = 0; i < N4_SLOTS; i++)
    atomic_init (&n16->child[n4->key[i]], freeze_child (n4, i));
  atomic_init (&n16->child[key], child);
  atomic_store_explicit (slot, (uintptr_t) n16 | REF_N16,
                         memory_order_release);
  return 0;
}

/* Give the inner node in *slot, of this height (>= 1), the child ref
 * at key, where it has none (no slot, or a slot holding 0).
 * => lock held.
 * => returns 0, or -1 with errno ENOMEM: the tree is unchanged.
 */
static int
set_child (struct map *m, _Atomic uintptr_t *slot, unsigned key,
           uintptr_t child)
{
  uintptr_t ref = held (slot);
  _Atomic uintptr_t *at = ref_slot (ref, key);
  struct n4 *n4 = (struct n4 *) ref;
  unsigned count;

  if (at != NULL) {
    atomic_store_explicit (at, child, memory_order_release);
    return 0;
  }
  count = atomic_load_explicit (&n4->count, memory_order_relaxed);
  if (count == N4_SLOTS)
    return grow_n4 (m, slot, key, child);
  /* Reference, then key, then count: see the comment in map-int.h. */
  atomic_store_explicit (&n4->child[count], child, memory_order_release);
  n4->key[count] = (uint8_t) key;
  atomic_store_explicit (&n4->count, (uint8_t) (count + 1),
                         memory_order_release);
  return 0;
}

/* Replace the inline reference ref in *slot, a subtree of this height,
 * by a node holding its entry: a leaf, or an N4 holding it inline one
 * level down.  Published by compare-and-swap from ref, so that a
 * lock-free write to the entry is never lost.  => lock held.
 * => returns 0; RETRY if *slot no longer holds ref (the node stays
 *    unused in the arena); or -1 with errno ENOMEM (nothing changed).
 */
static int
expand (struct map *m, _Atomic uintptr_t *slot, uintptr_t ref,
        unsigned height)
{
  uintptr_t node = new_node (m, height);
  uint64_t off = inline_offset (ref);
  unsigned shift;

  if (node == 0)
    return -1;
  if (height == 0)
    atomic_init (&((struct leaf *) node)->entry[off], inline_entry (ref));
  else {
    shift = span_shift (height - 1);
    n4_one ((struct n4 *) node, (unsigned) (off >> shift),
            inline_ref (offset_in (off, height - 1), inline_entry (ref)));
  }
  if (atomic_compare_exchange_strong_explicit (slot, &ref, node,
                                               memory_order_acq_rel,
                                               memory_order_relaxed))
    return 0;
  return RETRY;
}

/* One step of insert, at the node of height h (>= 1) in *slot: make
 * the child that page falls under hold the entry inline, or be a node
 * to go down into.  => lock held.
 * => returns 0 if the child is a node now (the node in *slot may have
 *    been replaced by an N16); else what map_insert_locked returns.
 */
static int
insert_step (struct map *m, _Atomic uintptr_t *slot, unsigned h,
             export_page_t page, map_entry_t desired)
{
  unsigned key = child_index (page, h);
  uintptr_t ref = child_of (held (slot), key);

  if (ref == 0 && can_inline (h - 1))
    return set_child (m, slot, key,
                      inline_ref (offset_in (page, h - 1), desired)) ? -1 : 1;
  if (ref == 0) {
    ref = new_node (m, h - 1);
    return ref == 0 ? -1 : set_child (m, slot, key, ref);
  }
  if (!is_inline (ref))
    return 0;
  if (inline_offset (ref) == offset_in (page, h - 1))
    return RETRY;
  return expand (m, ref_slot (held (slot), key), ref, h - 1);
}

/* The entry goes inline in the first empty slot on page's path that
 * may hold it, expanding inline entries of other pages on the way.
 * Each step looks again under the lock, since other threads may have
 * changed the path since the caller's lock-free look.  RETRY also
 * covers a page whose leaf exists now, one another thread set inline,
 * and an expansion that lost a race.
 */
int
map_insert_locked (struct map *m, export_page_t page, map_entry_t desired)
{
  struct top *t = atomic_load_explicit (&m->top, memory_order_relaxed);
  _Atomic uintptr_t *slot = &t->root;   /* holds the node of height h */
  uintptr_t root;
  unsigned h;
  int r;

  if (held (slot) == 0) {
    root = new_node (m, t->height);
    if (root == 0)
      return -1;
    atomic_store_explicit (slot, root, memory_order_release);
  }
  for (h = t->height; h > 0; h--) {
    r = insert_step (m, slot, h, page, desired);
    if (r != 0)
      return r;
    slot = ref_slot (held (slot), child_index (page, h));
  }
  return RETRY;
}

/* A chain of one-child N4s from height `from` + 1 up to `to`, with
 * ref (a node of height `from`, or 0: no chain) at the bottom, each
 * zeroed and filled before anything points to it.  => lock held.
 * => returns the top of the chain (ref if from == to), or 0 with errno
 *    ENOMEM (nodes made before the failure stay unused in the arena).
 */
static uintptr_t
chain_above (struct map *m, uintptr_t ref, unsigned from, unsigned to)
{
  struct n4 *n4;
  unsigned h;

  if (ref == 0)
    return 0;
  for (h = from + 1; h <= to; h++) {
    n4 = (struct n4 *) new_node (m, h);
    if (n4 == NULL)
      return 0;
    n4_one (n4, 0, ref);
    ref = (uintptr_t) n4;
  }
  return ref;
}

/* The root is always a node, so the chain above it holds nodes only
 * and no inline entry is copied.
 */
int
map_grow (struct map *m, uint64_t npages)
{
  struct top *old, *t;
  unsigned height = height_for (npages);
  uintptr_t root;
  int ret = 0;

  pthread_mutex_lock (&m->lock);
  old = atomic_load_explicit (&m->top, memory_order_relaxed);
  if (height > old->height) {
    root = atomic_load_explicit (&old->root, memory_order_relaxed);
    t = map_arena_alloc (&m->arena, sizeof *t);
    if (t == NULL)
      ret = -1;
    else {
      t->height = height;
      atomic_init (&t->root, chain_above (m, root, old->height, height));
      if (root != 0 && atomic_load_explicit (&t->root,
                                             memory_order_relaxed) == 0)
        ret = -1;
      else
        atomic_store_explicit (&m->top, t, memory_order_release);
    }
  }
  if (ret == 0 && npages > map_npages (m))
    atomic_store_explicit (&m->npages, npages, memory_order_release);
  pthread_mutex_unlock (&m->lock);
  return ret;
}
