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
 * map_create and raised by map_grow.  The kind of a node lives in the
 * reference to it, not in a header byte, so that an N16 is just its
 * 128 bytes and a reader gets address and kind in one atomic load.
 * Nodes are bump-allocated from zeroed chunks owned by the map (no
 * malloc header per node) and all freed by map_destroy.
 *
 * Inline entries (lazy expansion, as in the ART paper).  A subtree
 * that holds one page only is not built: its slot in the parent holds
 * the entry itself and the page's offset within the subtree.  A second
 * page arriving there expands it: a node (a leaf, or an N4) holding
 * the first entry replaces the inline one, and the second page goes
 * into that node, inline again one level down if it falls under
 * another child.  So an inner node exists only where two pages share
 * its subtree, and a page alone in 2048 pages costs no node at all.
 * The inline encoding needs 64-bit references; with narrower ones
 * every subtree is built of nodes, as before (INLINE_REFS).
 *
 * A child reference is a uintptr_t: 0 for none (the subtree has no
 * mapped page), an inline entry if REF_INLINE is set (see inline_ref),
 * else the node's address, with REF_N16 set if the node is an N16.
 * The root is always a node (or 0), never inline.
 *
 * Concurrency.  Entries are read and written lock-free: those in a
 * leaf with atomic operations on the leaf, an inline one by
 * compare-and-swap of the whole child reference.  Changes to the shape
 * of the tree (an inline entry put in an empty slot or expanded into a
 * node, an N4 growing into an N16) are made under the map's mutex,
 * after looking again at the path under it.  Readers never take the
 * mutex: they load child references and N4 counts with acquire, and
 * writers publish with release, in an order that never shows a reader
 * half a change:
 *   - a node is filled before its reference is stored in its parent;
 *   - an N4 gains a child by storing its reference at index count,
 *     then its key, then count + 1, so whoever sees the count sees the
 *     key and the reference.  Keys are appended, not sorted;
 *   - only the mutex holder makes an empty slot non-empty; lock-free
 *     writers only change or clear (to 0) inline references;
 *   - an inline reference is expanded by compare-and-swap from the
 *     exact value copied into the new node: if a lock-free writer
 *     changed the entry meanwhile, nothing is published and the
 *     expansion starts again (the unused node stays in the arena);
 *   - an N4 that needs a 5th child is copied into a new N16 with the
 *     new child, published by storing its reference in the parent.
 *     Its inline children are frozen first (REF_FROZEN set, by
 *     compare-and-swap), so that no write to the N4's copy can be lost:
 *     a writer that finds a frozen reference waits for the mutex (the
 *     N16 is then published) and starts again from the root.  The N4
 *     is retired, not freed: a reader may still be in it, and reads
 *     the frozen entries, which were current until the N16 appeared.
 * A node only ever gains children or entries, so a reader walking a
 * retired node sees the tree as it was an instant earlier: a valid
 * answer for a lookup that overlaps the write that changed it.
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

/* The low bits of a child reference, free since nodes are 8-byte
 * aligned:
 *   REF_N16     the node is an N16 (else an N4, or a leaf at height 0);
 *   REF_INLINE  not a node: one entry inline (inline_ref);
 *   REF_FROZEN  with REF_INLINE: the entry was copied into an N16 that
 *               replaced this N4, and must not be changed here.
 */
#define REF_N16 ((uintptr_t) 1)
#define REF_INLINE ((uintptr_t) 2)
#define REF_FROZEN ((uintptr_t) 4)

/* An inline reference is entry << 32 | offset << 3 | REF_INLINE: the
 * offset (the page's, within the subtree) has the 29 bits between the
 * tag and the entry, enough for subtrees up to height 6 (2^27 pages).
 * The children of taller nodes are always nodes.  It needs references
 * of 64 bits: where uintptr_t is narrower, nothing is inline.
 */
#define INLINE_REFS (UINTPTR_MAX > UINT32_MAX)
#define INLINE_OFFSET_SHIFT 3
#define INLINE_ENTRY_SHIFT 32
#define INLINE_MAX_SPAN (INLINE_ENTRY_SHIFT - INLINE_OFFSET_SHIFT)

/* Internal to map_cas and map_clear: the reference changed under us;
 * look again from the root.
 */
#define RETRY 2

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

  /* lock serializes changes to the shape of the tree (every store
   * that makes a child reference non-zero or a node, of an N4 key or
   * count, of the root, and every freezing) and protects the arena
   * fields below.  Entry reads and writes never take it, except to
   * wait for an N4 they found frozen to be replaced.
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

/* ---- inline references ---- */

static bool
is_inline (uintptr_t ref)
{
  return (ref & REF_INLINE) != 0;
}

/* Whether the subtree of this height may be one inline entry. */
static bool
can_inline (unsigned height)
{
  return INLINE_REFS && span_shift (height) <= INLINE_MAX_SPAN;
}

/* The offset of page within its subtree of this height (<= 6). */
static uint64_t
offset_in (export_page_t page, unsigned height)
{
  return page & (((uint64_t) 1 << span_shift (height)) - 1);
}

/* The inline reference to entry (not MAP_UNMAPPED) at offset.  Only
 * called if INLINE_REFS, so nothing is lost in the cast.
 */
static uintptr_t
inline_ref (uint64_t offset, map_entry_t entry)
{
  return (uintptr_t) ((uint64_t) entry << INLINE_ENTRY_SHIFT
                      | offset << INLINE_OFFSET_SHIFT | REF_INLINE);
}

static map_entry_t
inline_entry (uintptr_t ref)
{
  return (map_entry_t) ((uint64_t) ref >> INLINE_ENTRY_SHIFT);
}

/* The offset in an inline reference (frozen or not). */
static uint64_t
inline_offset (uintptr_t ref)
{
  return ((uint64_t) ref & UINT32_MAX) >> INLINE_OFFSET_SHIFT;
}

/* The reference that holds entry at the offset of the inline ref: 0
 * (no child) for MAP_UNMAPPED.
 */
static uintptr_t
inline_with (uintptr_t ref, map_entry_t entry)
{
  return entry == MAP_UNMAPPED ? 0 : inline_ref (inline_offset (ref), entry);
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

/* ---- changing the shape (lock held) ---- */

/* The reference in *slot, for the lock holder: only it changes a
 * node reference, so a relaxed load suffices.  => lock held.
 */
static uintptr_t
held (_Atomic uintptr_t *slot)
{
  return atomic_load_explicit (slot, memory_order_relaxed);
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
  struct n16 *n16 = arena_alloc (m, sizeof *n16);
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
  /* Reference, then key, then count: see the comment at the top. */
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
 *    been replaced by an N16); else what insert returns.
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

/* Give page, which had no entry when the caller looked, the entry
 * desired (not MAP_UNMAPPED): inline in the first empty slot on its
 * path that may hold it, expanding inline entries of other pages on
 * the way.  Each step looks again under the lock, since other threads
 * may have changed the path since the caller's lock-free look.
 * => lock held.
 * => returns 1 if it set the entry; RETRY if the page has an entry
 *    now (its leaf exists, or another thread set it inline, or an
 *    expansion lost a race): the caller looks again without the lock;
 *    or -1 with errno ENOMEM (nodes built before the failure stay, with
 *    the entries they hold, which is harmless).
 */
static int
insert (struct map *m, export_page_t page, map_entry_t desired)
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
 * => returns as map_cas, or RETRY (see insert).
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
  r = insert (m, page, desired);
  pthread_mutex_unlock (&m->lock);
  return r;
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

size_t
map_bytes (const struct map *m)
{
  return sizeof *m + atomic_load_explicit (&m->bytes, memory_order_relaxed);
}
