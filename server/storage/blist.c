/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The free-page allocator of one swap device (see blist.h).
 *
 * Layout.  Pages are grouped in leaves of LEAF_PAGES pages, each leaf
 * LEAF_WORDS bitmap words of the array map (bit set = page free, bit i
 * of a word is page 64 * word + i).  Above the leaves sits a complete
 * binary tree stored as a heap: node[1] is the root and node i has the
 * children 2i and 2i + 1.  The number of leaves is padded up to a power
 * of two, span, so an index c >= span is the leaf c - span.
 *
 * Every leaf keeps its summary (prefix, suffix, longest run, free
 * blocks) in node[span + leaf], recomputed from its 8 words only when
 * those words change (update_tree).  An allocation reads each summary on its path
 * several times, descending and rebuilding, so computing it once per
 * change instead of per visit about halves the cost of a one-page
 * allocation.  The memory is one bit per page plus two 16-byte nodes
 * per leaf of the padded tree (one inner, one leaf): 64 + 32 bytes per
 * 512 pages when nleaves is a power of two.
 *
 * Padding.  Leaves at or beyond nleaves have no bitmap and their
 * summaries stay all zero (all allocated); the bits past npages in the
 * last real leaf are 0 and are never set, since blist_free and
 * blist_reserve refuse any range that leaves [0, npages).  So padding
 * is never handed out and never counts in a free run.
 *
 * Run lengths fit in 32 bits because no run can be longer than npages,
 * which is at most BLIST_MAX_PAGES = UINT32_MAX.
 */

#include <config.h>

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/blist.h"

#define WORD_BITS 64
#define LEAF_WORDS 8
#define LEAF_PAGES (WORD_BITS * LEAF_WORDS)
#define ALL_FREE UINT64_MAX

/* Words per block (BLIST_BLOCK_PAGES): a leaf holds two blocks. */
#define BLOCK_WORDS (BLIST_BLOCK_PAGES / WORD_BITS)

/* The free runs of a subtree, counted in pages. */
struct bnode {
  uint32_t prefix;              /* free run starting at its first page */
  uint32_t suffix;              /* free run ending at its last page */
  uint32_t longest;             /* longest free run anywhere inside */
  uint32_t blocks;              /* wholly free aligned blocks inside */
};

struct blist {
  uint64_t npages;              /* pages covered: [0, npages) */
  uint64_t nleaves;             /* leaves with a bitmap */
  uint64_t span;                /* leaves in the padded tree, 2^k >= 2 */
  uint64_t avail;               /* free pages, kept for O(1) stats */
  uint64_t *map;                /* nleaves * LEAF_WORDS words */
  struct bnode *node;           /* 2 * span entries, node[0] unused */
};

static inline uint64_t
min_u64 (uint64_t a, uint64_t b)
{
  return a < b ? a : b;
}

static inline uint64_t
max_u64 (uint64_t a, uint64_t b)
{
  return a > b ? a : b;
}

/* The bits [lo, lo + count) of a word; count is 1..64, lo + count <= 64.
 * Written so that no shift is by 64, which C leaves undefined.
 */
static inline uint64_t
word_mask (unsigned lo, unsigned count)
{
  uint64_t bits = count == WORD_BITS ? ALL_FREE : (UINT64_C (1) << count) - 1;

  return bits << lo;
}

/* Length of the longest run of set bits in w. */
static unsigned
word_longest_run (uint64_t w)
{
  unsigned best = 0;

  while (w != 0) {
    unsigned len;

    w >>= __builtin_ctzll (w);          /* drop the clear bits below */
    if (w == ALL_FREE)
      return WORD_BITS;
    len = __builtin_ctzll (~w);
    best = len > best ? len : best;
    w >>= len;                          /* len < 64: w had a clear bit */
  }
  return best;
}

/* True if block b (0 or 1) of a leaf's words w is wholly free. */
static bool
block_free (const uint64_t *w, unsigned b)
{
  for (unsigned i = b * BLOCK_WORDS; i < (b + 1) * BLOCK_WORDS; i++)
    if (w[i] != ALL_FREE)
      return false;
  return true;
}

/* The runs of leaf number leaf (< nleaves), scanned from its bitmap
 * words.  Runs are tracked across words: run is the free run ending at
 * the word being looked at.
 */
static struct bnode
leaf_summary (const struct blist *bl, uint64_t leaf)
{
  struct bnode s = { 0, 0, 0, 0 };
  const uint64_t *w = &bl->map[leaf * LEAF_WORDS];
  uint64_t run = 0;
  bool in_prefix = true;

  for (unsigned i = 0; i < LEAF_WORDS; i++) {
    if (w[i] == ALL_FREE) {
      run += WORD_BITS;
      continue;
    }
    run += __builtin_ctzll (~w[i]);
    if (in_prefix)
      s.prefix = run;
    in_prefix = false;
    s.longest = max_u64 (s.longest, max_u64 (run, word_longest_run (w[i])));
    run = __builtin_clzll (~w[i]);      /* ~w[i] != 0 here */
  }
  if (in_prefix)
    s.prefix = run;
  s.suffix = run;
  s.longest = max_u64 (s.longest, run);
  s.blocks = block_free (w, 0) + block_free (w, 1);
  return s;
}

/* The summary of a node from its two children, each covering half
 * pages.  A child's edge run spills into its sibling only when the
 * child is entirely free.
 */
static struct bnode
combine (struct bnode left, struct bnode right, uint64_t half)
{
  struct bnode s;
  uint64_t cross = (uint64_t) left.suffix + right.prefix;

  s.prefix = left.prefix == half ? half + right.prefix : left.prefix;
  s.suffix = right.suffix == half ? half + left.suffix : right.suffix;
  s.longest = max_u64 (cross, max_u64 (left.longest, right.longest));
  s.blocks = left.blocks + right.blocks;
  return s;
}

/* Recompute the summaries of real leaves [lo, hi], whose words have
 * changed, then of the inner nodes above them, level by level up to
 * the root: O(hi - lo + log span) node updates, each a combine of two
 * stored children.
 */
static void
update_tree (struct blist *bl, uint64_t lo, uint64_t hi)
{
  uint64_t half = LEAF_PAGES;           /* pages under each child */

  for (uint64_t leaf = lo; leaf <= hi; leaf++)
    bl->node[bl->span + leaf] = leaf_summary (bl, leaf);
  lo = (lo + bl->span) / 2;
  hi = (hi + bl->span) / 2;
  while (lo > 0) {
    for (uint64_t i = lo; i <= hi; i++)
      bl->node[i] = combine (bl->node[2 * i], bl->node[2 * i + 1], half);
    lo /= 2;
    hi /= 2;
    half *= 2;
  }
}

/* Set (free) or clear (allocate) the bits of pages [start, start + n),
 * a word at a time.
 */
static void
set_bits (struct blist *bl, uint64_t start, uint64_t n, bool free)
{
  uint64_t end = start + n;

  while (start < end) {
    unsigned lo = start % WORD_BITS;
    unsigned count = min_u64 (WORD_BITS - lo, end - start);
    uint64_t mask = word_mask (lo, count);
    uint64_t *w = &bl->map[start / WORD_BITS];

    *w = free ? *w | mask : *w & ~mask;
    start += count;
  }
}

/* True if every page in [start, start + n) is free (free) or every
 * page is allocated (!free).  The range must lie inside [0, npages).
 */
static bool
range_is (const struct blist *bl, uint64_t start, uint64_t n, bool free)
{
  uint64_t end = start + n;

  while (start < end) {
    unsigned lo = start % WORD_BITS;
    unsigned count = min_u64 (WORD_BITS - lo, end - start);
    uint64_t mask = word_mask (lo, count);
    uint64_t w = bl->map[start / WORD_BITS];

    if ((w & mask) != (free ? mask : 0))
      return false;
    start += count;
  }
  return true;
}

/* Mark a valid range free or allocated and bring the counters and the
 * tree up to date.  The caller has checked that every page in it is in
 * the opposite state.
 */
static void
mark_range (struct blist *bl, uint64_t start, uint64_t n, bool free)
{
  set_bits (bl, start, n, free);
  if (free)
    bl->avail += n;
  else
    bl->avail -= n;
  update_tree (bl, start / LEAF_PAGES, (start + n - 1) / LEAF_PAGES);
}

/* Inside one leaf's words, the first page at or after pos whose bit is
 * set (free) or clear (!free); LEAF_PAGES if there is none.
 */
static unsigned
leaf_scan (const uint64_t *w, unsigned pos, bool free)
{
  while (pos < LEAF_PAGES) {
    uint64_t x = free ? w[pos / WORD_BITS] : ~w[pos / WORD_BITS];

    x &= ALL_FREE << (pos % WORD_BITS);
    if (x != 0)
      return pos / WORD_BITS * WORD_BITS + __builtin_ctzll (x);
    pos = (pos / WORD_BITS + 1) * WORD_BITS;
  }
  return LEAF_PAGES;
}

/* The first page of the lowest free run of at least want pages inside
 * leaf, counted from the leaf's start.  The caller knows there is one.
 * A single page (the common first write) fits in any free run, so its
 * run's end is not looked for.
 */
static unsigned
leaf_find (const struct blist *bl, uint64_t leaf, uint64_t want)
{
  const uint64_t *w = &bl->map[leaf * LEAF_WORDS];
  unsigned pos = 0;

  for (;;) {
    unsigned start = leaf_scan (w, pos, true);
    unsigned end;

    assert (start < LEAF_PAGES);
    if (want == 1)
      return start;
    end = leaf_scan (w, start, false);
    if (end - start >= want)
      return start;
    pos = end;
  }
}

/* The first page of the lowest free run of at least want pages; the
 * caller knows there is one (root longest >= want).
 *
 * Descending from the root we keep the invariant that no fitting run
 * starts before the current node.  Then the lowest fit lies wholly in
 * the left child if that has one, else it is the run crossing the
 * middle if that is long enough, else it lies in the right child.
 */
static uint64_t
find_run (const struct blist *bl, uint64_t want)
{
  uint64_t i = 1;
  uint64_t base = 0;
  uint64_t half = bl->span * LEAF_PAGES / 2;

  while (i < bl->span) {
    const struct bnode *left = &bl->node[2 * i];
    const struct bnode *right = &bl->node[2 * i + 1];

    if (left->longest >= want)
      i = 2 * i;
    else if ((uint64_t) left->suffix + right->prefix >= want)
      return base + half - left->suffix;
    else {
      i = 2 * i + 1;
      base += half;
    }
    half /= 2;
  }
  return base + leaf_find (bl, i - bl->span, want);
}

/* The first page of the lowest wholly free block; the caller knows
 * there is one (root blocks > 0).
 */
static uint64_t
find_block (const struct blist *bl)
{
  uint64_t i = 1;

  while (i < bl->span)
    i = bl->node[2 * i].blocks > 0 ? 2 * i : 2 * i + 1;
  i -= bl->span;
  return i * LEAF_PAGES +
    (block_free (&bl->map[i * LEAF_WORDS], 0) ? 0 : BLIST_BLOCK_PAGES);
}

/* The smallest power of two >= n and >= 2, so the tree always has a
 * root inner node.
 */
static uint64_t
tree_span (uint64_t n)
{
  uint64_t span = 2;

  while (span < n)
    span *= 2;
  return span;
}

/* Build the bitmap with [0, npages) set and every node from the leaves
 * up; the summaries of padding leaves stay as calloc left them, all
 * zero.  The contract is in blist.h; like every entry point below it
 * assumes the caller holds the pool lock (a new blist is private).
 */
struct blist *
blist_create (uint64_t npages)
{
  struct blist *bl;

  if (npages == 0 || npages > BLIST_MAX_PAGES) {
    errno = EINVAL;
    return NULL;
  }
  bl = calloc (1, sizeof *bl);
  if (bl == NULL)
    return NULL;
  bl->npages = npages;
  bl->nleaves = (npages + LEAF_PAGES - 1) / LEAF_PAGES;
  bl->span = tree_span (bl->nleaves);
  bl->map = calloc (bl->nleaves * LEAF_WORDS, sizeof bl->map[0]);
  bl->node = calloc (2 * bl->span, sizeof bl->node[0]);
  if (bl->map == NULL || bl->node == NULL) {
    blist_destroy (bl);
    errno = ENOMEM;
    return NULL;
  }
  set_bits (bl, 0, npages, true);
  bl->avail = npages;
  update_tree (bl, 0, bl->nleaves - 1);
  return bl;
}

void
blist_destroy (struct blist *bl)
{
  if (bl == NULL)
    return;
  free (bl->map);
  free (bl->node);
  free (bl);
}

/* First fit in O(log npages) plus the pages taken (see blist.h).  The
 * root's longest run decides at once whether want fits, so a failing
 * call costs O(1) and changes nothing.
 */
uint64_t
blist_alloc (struct blist *bl, uint64_t want, bool lessok,
             dev_page_t *start)
{
  uint64_t longest = bl->node[1].longest;
  uint64_t first;

  if (want == 0 || longest == 0)
    return 0;
  if (want > longest) {
    if (!lessok)
      return 0;
    /* The lowest run of exactly the longest length is the lowest of
     * the longest runs, and it is taken whole.
     */
    want = longest;
  }
  first = find_run (bl, want);
  mark_range (bl, first, want, false);
  *start = first;
  return want;
}

/* Lowest free block in O(log npages) (see blist.h). */
bool
blist_alloc_block (struct blist *bl, dev_page_t *start)
{
  uint64_t first;

  if (bl->node[1].blocks == 0)
    return false;
  first = find_block (bl);
  mark_range (bl, first, BLIST_BLOCK_PAGES, false);
  *start = first;
  return true;
}

uint64_t
blist_free_blocks (const struct blist *bl)
{
  return bl->node[1].blocks;
}

/* True if [start, start + n) is a non-empty range inside the blist,
 * checked without letting start + n wrap.
 */
static bool
range_ok (const struct blist *bl, dev_page_t start, uint64_t n)
{
  return n > 0 && start < bl->npages && n <= bl->npages - start;
}

/* Validate the whole range before touching anything, so that a double
 * free leaves the map as it was (see blist.h).
 */
int
blist_free (struct blist *bl, dev_page_t start, uint64_t n)
{
  if (!range_ok (bl, start, n) || !range_is (bl, start, n, false)) {
    errno = EINVAL;
    return -1;
  }
  mark_range (bl, start, n, true);
  return 0;
}

/* The mirror of blist_free: every page must be free first. */
int
blist_reserve (struct blist *bl, dev_page_t start, uint64_t n)
{
  if (!range_ok (bl, start, n) || !range_is (bl, start, n, true)) {
    errno = EINVAL;
    return -1;
  }
  mark_range (bl, start, n, false);
  return 0;
}

bool
blist_is_free (const struct blist *bl, dev_page_t page)
{
  if (page >= bl->npages)
    return false;
  return (bl->map[page / WORD_BITS] >> (page % WORD_BITS)) & 1;
}

uint64_t
blist_npages (const struct blist *bl)
{
  return bl->npages;
}

uint64_t
blist_avail (const struct blist *bl)
{
  return bl->avail;
}

uint64_t
blist_largest_run (const struct blist *bl)
{
  return bl->node[1].longest;
}

size_t
blist_bytes (const struct blist *bl)
{
  return sizeof *bl
    + bl->nleaves * LEAF_WORDS * sizeof bl->map[0]
    + 2 * bl->span * sizeof bl->node[0];
}
