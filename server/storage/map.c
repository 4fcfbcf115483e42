/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The export map: a lazy adaptive radix tree, export page -> 32-bit
 * entry.
 *
 * Layout.  A leaf holds 8 entries (32 bytes).  An inner node has a
 * fanout of 16 in one of two sizes, as in an adaptive radix tree: an
 * N4 holds up to 4 children and their one-byte keys (40 bytes), an N16
 * holds 16 direct child pointers (128 bytes).  Scattered pages leave
 * most inner nodes with one or two children, and N4s keep those cheap.
 * A subtree of height h (leaves have height 0) covers 2^(3 + 4h)
 * pages; the root's height is the smallest that covers npages, set at
 * map_create and raised by map_grow.  A child reference is a uintptr_t: 0 for none, else
 * the node's address, with REF_N16 set if the node is an N16.  The kind
 * lives in the reference, not in a header byte, so that an N16 is just
 * its 128 bytes and a reader gets address and kind in one atomic load.
 * Nodes are bump-allocated from zeroed chunks owned by the map (no
 * malloc header per node) and all freed by map_destroy.
 *
 * Concurrency.  Entries are read and written lock-free with atomic
 * operations on the leaf.  Changes to the shape of the tree (a new
 * node, an N4 growing into an N16) happen only on the first write into
 * an 8-page region; they are made under the map's mutex, after looking
 * again at the path under it.  Readers never take the mutex: they load
 * child references and N4 counts with acquire, and writers publish
 * with release, in an order that never shows a reader half a change:
 *   - a node is zeroed before its reference is stored in its parent;
 *   - an N4 gains a child by storing its reference at index count,
 *     then its key, then count + 1, so whoever sees the count sees the
 *     key and the reference.  Keys are appended, not sorted;
 *   - an N4 that needs a 5th child is copied into a new N16 with the
 *     new child, published by storing its reference in the parent.
 *     The N4 is retired, not freed: a reader may still be in it.
 * A node only ever gains children, so a reader walking a retired node
 * sees the tree as it was an instant earlier: a valid answer for a
 * lookup that overlaps the write that changed it.
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

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "storage/map.h"

/* Entries per leaf: 8, so a leaf is 32 bytes. */
#define LEAF_SHIFT 3
#define LEAF_SLOTS (1u << LEAF_SHIFT)
#define LEAF_MASK ((uint64_t) LEAF_SLOTS - 1)

/* Fanout of an inner node: 16. */
#define INNER_SHIFT 4
#define INNER_SLOTS (1u << INNER_SHIFT)

/* Children an N4 can hold before it must grow into an N16. */
#define N4_SLOTS 4

/* The tallest root needed: 3 + 4 * 16 = 67 >= 64 bits of page number. */
#define MAX_HEIGHT 16

/* Low bit of a child reference: the node is an N16 (else an N4, or a
 * leaf at height 0).  Nodes are 8-byte aligned, so the bit is free.
 */
#define REF_N16 ((uintptr_t) 1)

/* Arena chunks: the first is CHUNK_MIN bytes, so that a small map
 * stays small, each next one twice the last up to CHUNK_MAX.
 */
#define CHUNK_MIN 4096
#define CHUNK_MAX 65536
#define ARENA_ALIGN 8

struct leaf {
  _Atomic map_entry_t entry[LEAF_SLOTS];
};

/* key[i] is the index (0..15) of child[i]; only the first count are
 * valid, in the order they were added (not sorted).
 */
struct n4 {
  _Atomic uint8_t count;
  uint8_t key[N4_SLOTS];
  _Atomic uintptr_t child[N4_SLOTS];
};

struct n16 {
  _Atomic uintptr_t child[INNER_SLOTS];
};

/* The root and its height (0..MAX_HEIGHT), which never change
 * together except by publishing a new top.
 */
struct top {
  _Atomic uintptr_t root;       /* 0 until the first entry is set */
  unsigned height;              /* constant once the top is published */
};

/* A chunk of the arena; nodes follow the header. */
struct chunk {
  struct chunk *next;           /* the previously allocated chunk */
};

/* The sizes are multiples of ARENA_ALIGN, so each node leaves the next
 * one aligned (calloc aligns the chunk for anything).
 */
_Static_assert (sizeof (struct leaf) == 32 && sizeof (struct n4) == 40
                && sizeof (struct n16) == 128, "nodes must stay tight");
_Static_assert (_Alignof (struct n4) <= ARENA_ALIGN
                && _Alignof (struct n16) <= ARENA_ALIGN
                && _Alignof (struct leaf) <= ARENA_ALIGN
                && _Alignof (struct top) <= ARENA_ALIGN
                && sizeof (struct top) % ARENA_ALIGN == 0
                && sizeof (struct chunk) % ARENA_ALIGN == 0,
                "the arena must align every node");

struct map {
  _Atomic uint64_t npages;      /* pages the map covers, >= 1; grows */
  _Atomic (struct top *) top;   /* first &top0, then the arena's */
  struct top top0;

  /* lock serializes changes to the shape of the tree (every store of
   * a child reference, N4 key or count, and root) and protects the
   * arena fields below.  Entry reads and writes never take it.
   */
  pthread_mutex_t lock;
  struct chunk *chunks;         /* newest chunk first */
  unsigned char *cursor;        /* first free byte of the newest chunk */
  size_t left;                  /* bytes free from there */
  size_t chunk_size;            /* size of the next chunk to allocate */
  _Atomic size_t bytes;         /* total size of all chunks */
};

/* ---- arena ---- */

/* Add a fresh zeroed chunk.  => lock held.
 * => returns 0, or -1 with errno ENOMEM (nothing changed).
 */
static int
arena_grow (struct map *m)
{
  struct chunk *c = calloc (1, m->chunk_size);

  if (c == NULL) {
    errno = ENOMEM;
    return -1;
  }
  c->next = m->chunks;
  m->chunks = c;
  m->cursor = (unsigned char *) (c + 1);
  m->left = m->chunk_size - sizeof *c;
  atomic_fetch_add_explicit (&m->bytes, m->chunk_size, memory_order_relaxed);
  if (m->chunk_size < CHUNK_MAX)
    m->chunk_size *= 2;
  return 0;
}

/* Allocate size zeroed bytes (a node size: a multiple of ARENA_ALIGN
 * that fits in a CHUNK_MIN chunk).  The tail of a chunk too small for
 * the request is left unused.  => lock held.
 * => returns NULL with errno ENOMEM.
 */
static void *
arena_alloc (struct map *m, size_t size)
{
  void *p;

  if (size > m->left && arena_grow (m) == -1)
    return NULL;
  p = m->cursor;
  m->cursor += size;
  m->left -= size;
  return p;
}

/* A new empty node of this height: a leaf, or an N4 above leaves.
 * => lock held.  => returns its reference, or 0 with errno ENOMEM.
 */
static uintptr_t
new_node (struct map *m, unsigned height)
{
  return (uintptr_t) arena_alloc (m, height == 0 ? sizeof (struct leaf)
                                                 : sizeof (struct n4));
}

/* ---- geometry ---- */

/* log2 of the number of pages a subtree of this height covers (may be
 * 64 or more for the root of a huge map: callers must check).
 */
static unsigned
span_shift (unsigned height)
{
  return LEAF_SHIFT + INNER_SHIFT * height;
}

/* Index into an inner node of this height (>= 1) of the child on the
 * path to page.  span_shift (height - 1) <= 63, so the shift is defined.
 */
static unsigned
child_index (export_page_t page, unsigned height)
{
  return (page >> span_shift (height - 1)) & (INNER_SLOTS - 1);
}

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

/* The smallest root height whose subtree covers npages (>= 1) pages.
 * The loop stops at MAX_HEIGHT before span_shift reaches 64, so the
 * shift is always defined.
 */
static unsigned
height_for (uint64_t npages)
{
  unsigned h = 0;

  while (h < MAX_HEIGHT && ((npages - 1) >> span_shift (h)) != 0)
    h++;
  return h;
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

static struct n16 *
as_n16 (uintptr_t ref)
{
  return (struct n16 *) (ref & ~REF_N16);
}

/* The slot of the inner node ref that holds (or, in an N16, would
 * hold) the child at key; NULL if ref is an N4 without that key.
 * Lock-free.
 */
static _Atomic uintptr_t *
ref_slot (uintptr_t ref, unsigned key)
{
  struct n4 *n4 = (struct n4 *) ref;
  unsigned i, count;

  if (ref & REF_N16)
    return &as_n16 (ref)->child[key];
  count = atomic_load_explicit (&n4->count, memory_order_acquire);
  for (i = 0; i < count; i++)
    if (n4->key[i] == key)
      return &n4->child[i];
  return NULL;
}

/* The child at key of the inner node ref, or 0.  Lock-free. */
static uintptr_t
child_of (uintptr_t ref, unsigned key)
{
  _Atomic uintptr_t *slot = ref_slot (ref, key);

  return slot ? atomic_load_explicit (slot, memory_order_acquire) : 0;
}

/* The child of the inner node ref with the smallest key >= key, with
 * *found set to that key; or 0 if there is none.  Lock-free: an N4's
 * keys are unsorted, so all count of them are compared.
 */
static uintptr_t
next_child (uintptr_t ref, unsigned key, unsigned *found)
{
  struct n4 *n4 = (struct n4 *) ref;
  unsigned i, count, best = N4_SLOTS;
  uintptr_t child;

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
  for (i = 0; i < count; i++)
    if (n4->key[i] >= key && (best == N4_SLOTS || n4->key[i] < n4->key[best]))
      best = i;
  if (best == N4_SLOTS)
    return 0;
  *found = n4->key[best];
  return atomic_load_explicit (&n4->child[best], memory_order_acquire);
}

/* Walk from the root to the leaf covering page, or NULL if a node on
 * the way is missing.  Never allocates.  Lock-free.
 */
static struct leaf *
lookup (const struct map *m, export_page_t page)
{
  struct top *t = top_of (m);
  uintptr_t ref = atomic_load_explicit (&t->root, memory_order_acquire);
  unsigned h;

  for (h = t->height; ref != 0 && h > 0; h--)
    ref = child_of (ref, child_index (page, h));
  return (struct leaf *) ref;
}

/* Find the first leaf that covers a page in [*page, end).
 * => returns it, with *page moved to the first such page (*page is
 *    left alone if its own leaf exists);
 * => returns NULL with *page set to end if there is none.
 * Each pass from the root either finds a leaf or skips a whole missing
 * subtree.  Lock-free.
 */
static struct leaf *
seek_leaf (const struct map *m, export_page_t *page, export_page_t end)
{
  struct top *t;
  uintptr_t ref;
  unsigned h, idx, key;

  while (*page < end) {
    t = top_of (m);
    ref = atomic_load_explicit (&t->root, memory_order_acquire);
    for (h = t->height; ref != 0 && h > 0; h--) {
      idx = child_index (*page, h);
      ref = next_child (ref, idx, &key);
      if (ref == 0)
        break;
      if (key != idx)
        *page = child_start (*page, h, key);
    }
    if (ref == 0)
      *page = subtree_next (*page, h, end);
    else if (*page < end)
      return (struct leaf *) ref;
  }
  *page = end;
  return NULL;
}

/* ---- changing the shape (lock held) ---- */

/* Replace the full N4 in *slot by an N16 holding its children and
 * child at key, and publish that in *slot.  The N4 is retired in the
 * arena, where readers may still walk it.  => lock held.
 * => returns 0, or -1 with errno ENOMEM (nothing published).
 */
static int
grow_n4 (struct map *m, _Atomic uintptr_t *slot, unsigned key,
         uintptr_t child)
{
  struct n4 *n4 = (struct n4 *) atomic_load_explicit (slot,
                                                      memory_order_relaxed);
  struct n16 *n16 = arena_alloc (m, sizeof *n16);
  unsigned i;

  if (n16 == NULL)
    return -1;
  for (i = 0; i < N4_SLOTS; i++)
    atomic_init (&n16->child[n4->key[i]],
                 atomic_load_explicit (&n4->child[i], memory_order_relaxed));
  atomic_init (&n16->child[key], child);
  atomic_store_explicit (slot, (uintptr_t) n16 | REF_N16,
                         memory_order_release);
  return 0;
}

/* Give the inner node in *slot, of this height (>= 1), a new empty
 * child at key, which it must not have.  => lock held.
 * => returns 0, or -1 with errno ENOMEM: the tree is unchanged (a node
 *    allocated before the failure is left unused in the arena).
 */
static int
add_child (struct map *m, _Atomic uintptr_t *slot, unsigned height,
           unsigned key)
{
  uintptr_t ref = atomic_load_explicit (slot, memory_order_relaxed);
  uintptr_t child = new_node (m, height - 1);
  struct n4 *n4 = (struct n4 *) ref;
  unsigned count;

  if (child == 0)
    return -1;
  if (ref & REF_N16) {
    atomic_store_explicit (&as_n16 (ref)->child[key], child,
                           memory_order_release);
    return 0;
  }
  count = atomic_load_explicit (&n4->count, memory_order_relaxed);
  if (count == N4_SLOTS)
    return grow_n4 (m, slot, key, child);
  /* Reference, then key, then count: see the comment at the top. */
  atomic_store_explicit (&n4->child[count], child, memory_order_release);
  n4->key[count] = (uint8_t) key;
  atomic_store_explicit (&n4->count, (uint8_t) (count + 1),
                         memory_order_release);
  return 0;
}

/* Make sure every node on the path to page exists.  Each step looks
 * again under the lock, since another thread may have built part of
 * the path since the caller's lock-free lookup.  => lock held.
 * => returns the leaf covering page, or NULL with errno ENOMEM (nodes
 *    built before the failure stay: they are empty, which is harmless).
 */
static struct leaf *
build_path (struct map *m, export_page_t page)
{
  struct top *t = atomic_load_explicit (&m->top, memory_order_relaxed);
  _Atomic uintptr_t *slot = &t->root;
  uintptr_t root = atomic_load_explicit (slot, memory_order_relaxed);
  unsigned h, key;

  if (root == 0) {
    root = new_node (m, t->height);
    if (root == 0)
      return NULL;
    atomic_store_explicit (slot, root, memory_order_release);
  }
  for (h = t->height; h > 0; h--) {
    key = child_index (page, h);
    if (child_of (atomic_load_explicit (slot, memory_order_relaxed), key) == 0
        && add_child (m, slot, h, key) == -1)
      return NULL;
    /* add_child may have replaced the node in *slot: load it again. */
    slot = ref_slot (atomic_load_explicit (slot, memory_order_relaxed), key);
  }
  return (struct leaf *) atomic_load_explicit (slot, memory_order_relaxed);
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
    atomic_init (&n4->child[0], ref);
    n4->key[0] = 0;
    atomic_init (&n4->count, 1);
    ref = (uintptr_t) n4;
  }
  return ref;
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
  m->chunk_size = CHUNK_MIN;
  atomic_init (&m->bytes, 0);
  return m;
}

void
map_destroy (struct map *m)
{
  struct chunk *c, *next;

  if (m == NULL)
    return;
  for (c = m->chunks; c != NULL; c = next) {
    next = c->next;
    free (c);
  }
  pthread_mutex_destroy (&m->lock);
  free (m);
}

uint64_t
map_npages (const struct map *m)
{
  return atomic_load_explicit (&((struct map *) m)->npages,
                               memory_order_acquire);
}

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
    t = arena_alloc (m, sizeof *t);
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

map_entry_t
map_get (const struct map *m, export_page_t page)
{
  struct leaf *leaf;

  assert (page < map_npages (m));
  leaf = lookup (m, page);
  if (leaf == NULL)
    return MAP_UNMAPPED;
  return atomic_load_explicit (&leaf->entry[page & LEAF_MASK],
                               memory_order_acquire);
}

/* A missing leaf means the entry is MAP_UNMAPPED, so a CAS on it can
 * be decided without allocating unless it would set a non-zero entry
 * over the expected 0: only then is the path built.
 */
int
map_cas (struct map *m, export_page_t page,
         map_entry_t *expected, map_entry_t desired)
{
  struct leaf *leaf;
  _Atomic map_entry_t *entry;

  assert (page < map_npages (m));
  leaf = lookup (m, page);
  if (leaf == NULL) {
    if (*expected != MAP_UNMAPPED) {
      *expected = MAP_UNMAPPED;
      return 0;
    }
    if (desired == MAP_UNMAPPED)
      return 1;
    pthread_mutex_lock (&m->lock);
    leaf = build_path (m, page);
    pthread_mutex_unlock (&m->lock);
    if (leaf == NULL)
      return -1;
  }
  entry = &leaf->entry[page & LEAF_MASK];
  return atomic_compare_exchange_strong_explicit (entry, expected, desired,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire);
}

map_entry_t
map_clear (struct map *m, export_page_t page)
{
  struct leaf *leaf;

  assert (page < map_npages (m));
  leaf = lookup (m, page);
  if (leaf == NULL)
    return MAP_UNMAPPED;
  return atomic_exchange_explicit (&leaf->entry[page & LEAF_MASK],
                                   MAP_UNMAPPED, memory_order_acq_rel);
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
  struct leaf *leaf;
  export_page_t p;

  assert (end <= map_npages (m));
  while (from < end) {
    p = from;
    leaf = seek_leaf (m, &p, end);
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
  struct leaf *leaf;
  int r;

  while ((leaf = seek_leaf (m, &page, end)) != NULL) {
    r = leaf_visit (leaf, page, end, fn, opaque);
    if (r != 0)
      return r;
    page = subtree_next (page, 0, end);
  }
  return 0;
}

size_t
map_bytes (const struct map *m)
{
  return sizeof *m + atomic_load_explicit (&m->bytes, memory_order_relaxed);
}
