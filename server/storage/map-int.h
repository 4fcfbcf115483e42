/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The export map's insides, shared by its files: the node layout, the
 * encoding of child references, struct map, and the rules by which
 * lock-free readers and the mutex holder share the tree.
 *   map.c        the API, and reading and writing entries lock-free;
 *   map-shape.c  changes to the shape of the tree, under the mutex;
 *   map-arena.c  the chunks nodes are allocated from.
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
 * Nodes come from the map's arena (map-arena.c).
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
 * Concurrency.  Entries are read and written lock-free (map.c): those
 * in a leaf with atomic operations on the leaf, an inline one by
 * compare-and-swap of the whole child reference.  Changes to the shape
 * of the tree (an inline entry put in an empty slot or expanded into a
 * node, an N4 growing into an N16) are made under the map's mutex,
 * after looking again at the path under it (map-shape.c).  Readers
 * never take the mutex: they load child references and N4 counts with
 * acquire, and writers publish with release, in an order that never
 * shows a reader half a change:
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
 * The helpers below are static inline: they are on the lookup path,
 * once per level of the tree, and are shared by map.c and map-shape.c.
 */

#ifndef SWAPDRUM_MAP_INT_H
#define SWAPDRUM_MAP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Internal to map_cas and map_clear (and map_insert_locked, which they
 * call): the reference changed under us; look again from the root.
 */
#define RETRY 2

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

_Static_assert (sizeof (struct leaf) == 32 && sizeof (struct n4) == 40
                && sizeof (struct n16) == 128, "nodes must stay tight");

/* Where nodes are bump-allocated from (map-arena.c).  Every field is
 * protected by the map's lock, but bytes, which is also read without
 * it (map_bytes).
 */
struct chunk;
struct arena {
  struct chunk *chunks;         /* newest chunk first */
  unsigned char *cursor;        /* first free byte of the newest chunk */
  size_t left;                  /* bytes free from there */
  size_t chunk_size;            /* size of the next chunk to allocate */
  _Atomic size_t bytes;         /* total size of all chunks */
};

struct map {
  _Atomic uint64_t npages;      /* pages the map covers, >= 1; grows */
  _Atomic (struct top *) top;   /* first &top0, then the arena's */
  struct top top0;

  /* lock serializes changes to the shape of the tree (every store
   * that makes a child reference non-zero or a node, of an N4 key or
   * count, of the root, and every freezing) and protects the arena.
   * Entry reads and writes never take it, except to wait for an N4
   * they found frozen to be replaced.
   */
  pthread_mutex_t lock;
  struct arena arena;
};

/* ---- the arena (map-arena.c) ---- */

/* Make a an empty arena: no chunk yet, nothing allocated. */
extern void map_arena_init (struct arena *a);

/* Allocate size zeroed bytes (a node size: a multiple of 8 that fits
 * in the smallest chunk), aligned for any node.  => map's lock held.
 * => returns NULL with errno ENOMEM (nothing changed).
 */
extern void *map_arena_alloc (struct arena *a, size_t size);

/* Free every chunk, and so every node allocated from a.  No other
 * thread may be using the map.
 */
extern void map_arena_free (struct arena *a);

/* ---- changing the shape (map-shape.c) ---- */

/* Give page, which had no entry when the caller looked, the entry
 * desired (not MAP_UNMAPPED).  => m's lock held.
 * => returns 1 if it set the entry; RETRY if the page has an entry
 *    now: the caller looks again without the lock; or -1 with errno
 *    ENOMEM (nodes built before the failure stay, with the entries
 *    they hold, which is harmless).
 */
extern int map_insert_locked (struct map *m, export_page_t page,
                              map_entry_t desired);

/* ---- geometry ---- */

/* log2 of the number of pages a subtree of this height covers (may be
 * 64 or more for the root of a huge map: callers must check).
 */
static inline unsigned
span_shift (unsigned height)
{
  return LEAF_SHIFT + INNER_SHIFT * height;
}

/* Index into an inner node of this height (>= 1) of the child on the
 * path to page.  span_shift (height - 1) <= 63, so the shift is defined.
 */
static inline unsigned
child_index (export_page_t page, unsigned height)
{
  return (page >> span_shift (height - 1)) & (INNER_SLOTS - 1);
}

/* The smallest root height whose subtree covers npages (>= 1) pages.
 * The loop stops at MAX_HEIGHT before span_shift reaches 64, so the
 * shift is always defined.
 */
static inline unsigned
height_for (uint64_t npages)
{
  unsigned h = 0;

  while (h < MAX_HEIGHT && ((npages - 1) >> span_shift (h)) != 0)
    h++;
  return h;
}

/* ---- inline references ---- */

static inline bool
is_inline (uintptr_t ref)
{
  return (ref & REF_INLINE) != 0;
}

/* Whether the subtree of this height may be one inline entry. */
static inline bool
can_inline (unsigned height)
{
  return INLINE_REFS && span_shift (height) <= INLINE_MAX_SPAN;
}

/* The offset of page within its subtree of this height (<= 6). */
static inline uint64_t
offset_in (export_page_t page, unsigned height)
{
  return page & (((uint64_t) 1 << span_shift (height)) - 1);
}

/* The inline reference to entry (not MAP_UNMAPPED) at offset.  Only
 * called if INLINE_REFS, so nothing is lost in the cast.
 */
static inline uintptr_t
inline_ref (uint64_t offset, map_entry_t entry)
{
  return (uintptr_t) ((uint64_t) entry << INLINE_ENTRY_SHIFT
                      | offset << INLINE_OFFSET_SHIFT | REF_INLINE);
}

static inline map_entry_t
inline_entry (uintptr_t ref)
{
  return (map_entry_t) ((uint64_t) ref >> INLINE_ENTRY_SHIFT);
}

/* The offset in an inline reference (frozen or not). */
static inline uint64_t
inline_offset (uintptr_t ref)
{
  return ((uint64_t) ref & UINT32_MAX) >> INLINE_OFFSET_SHIFT;
}

/* ---- inner nodes ---- */

static inline struct n16 *
as_n16 (uintptr_t ref)
{
  return (struct n16 *) (ref & ~REF_N16);
}

/* The slot of the inner node ref that holds (or, in an N16, would
 * hold) the child at key; NULL if ref is an N4 without that key.
 * Lock-free.
 */
static inline _Atomic uintptr_t *
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

#endif /* SWAPDRUM_MAP_INT_H */
