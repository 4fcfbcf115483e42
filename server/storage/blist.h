/* swapdrum: the free-page allocator of one swap device.
 *
 * A hierarchical bitmap in the spirit of FreeBSD/NetBSD's blist
 * (sys/kern/subr_blist.c): leaves are bitmap words, and every inner
 * node records the longest free run below it and the free runs
 * touching its two edges, so a run of n contiguous free pages is found
 * in O(log npages) and the allocator never scans the whole bitmap.
 *
 * Placement is first fit: the lowest-numbered free run that is long
 * enough.  Nodes also count the wholly free aligned blocks of
 * BLIST_BLOCK_PAGES below them, so the lowest such block is found in
 * O(log npages) too (blist_alloc_block).
 *
 * Locking: none.  A blist belongs to one swap device and every call
 * must be made with the pool lock held (see pool.h).
 *
 * Limits: a blist holds at most BLIST_MAX_PAGES pages (16 TiB of 4 KiB
 * pages); run lengths inside the tree are 32 bits.
 *
 * Memory: one bit per page plus 32 bytes per 512 pages (a cached leaf
 * summary and an inner node), the leaves padded up to a power of two;
 * about 48 MiB for 1 TiB of 4 KiB pages.  blist_bytes gives the total.
 *
 * The blist pointer is never NULL (SD_NONNULL, nonnull.h), but
 * blist_destroy accepts NULL.
 */

#ifndef SWAPDRUM_BLIST_H
#define SWAPDRUM_BLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/page.h"
#include "swapdrum/nonnull.h"

#define BLIST_MAX_PAGES ((uint64_t) UINT32_MAX)

/* Pages per aligned block (blist_alloc_block): block b is the pages
 * [b * BLIST_BLOCK_PAGES, (b + 1) * BLIST_BLOCK_PAGES).
 */
#define BLIST_BLOCK_PAGES 256

struct blist;

/* Create an allocator over pages [0, npages), all free.
 * => returns NULL with errno EINVAL if npages is 0 or above
 *    BLIST_MAX_PAGES, or ENOMEM.  Does not print anything.
 */
extern struct blist *blist_create (uint64_t npages);

/* Free the allocator.  Accepts NULL. */
extern void blist_destroy (struct blist *bl);

/* Allocate a run of contiguous free pages.
 * => if a run of `want` free pages exists, the lowest one is taken,
 *    *start is set to its first page and `want` is returned;
 * => otherwise, if `lessok`, the lowest of the longest free runs is
 *    taken whole (it is shorter than want) and its length returned;
 * => otherwise, or if no page is free at all, returns 0 and changes
 *    nothing.  want must be >= 1 (want 0 returns 0).
 */
extern uint64_t blist_alloc (struct blist *bl, uint64_t want, bool lessok,
                             dev_page_t *start)
  SD_NONNULL (1, 4);

/* Allocate the lowest aligned block (BLIST_BLOCK_PAGES) whose pages
 * are all free.
 * => returns true with *start set to its first page, or false,
 *    changing nothing, if no block is wholly free.
 */
extern bool blist_alloc_block (struct blist *bl, dev_page_t *start)
  SD_NONNULL (1, 2);

/* Number of wholly free aligned blocks (O(1)). */
extern uint64_t blist_free_blocks (const struct blist *bl)
  SD_NONNULL (1);

/* Return pages [start, start + n) to the free pool.
 * => returns 0 on success;
 * => returns -1 with errno EINVAL, changing nothing, if the range is
 *    empty, out of bounds, or any page in it is already free (a double
 *    free is a bug in the caller and must never corrupt the map).
 */
extern int blist_free (struct blist *bl, dev_page_t start, uint64_t n)
  SD_NONNULL (1);

/* Mark pages [start, start + n) allocated without searching (used to
 * take back a known range, e.g. when undoing).
 * => returns 0, or -1 with errno EINVAL, changing nothing, if the range
 *    is empty, out of bounds or any page in it is already allocated.
 */
extern int blist_reserve (struct blist *bl, dev_page_t start, uint64_t n)
  SD_NONNULL (1);

/* True if page is free.  page must be < npages. */
extern bool blist_is_free (const struct blist *bl, dev_page_t page)
  SD_NONNULL (1);

/* Number of pages the allocator covers. */
extern uint64_t blist_npages (const struct blist *bl)
  SD_NONNULL (1);

/* Number of free pages (O(1)). */
extern uint64_t blist_avail (const struct blist *bl)
  SD_NONNULL (1);

/* Length of the longest free run (O(1)). */
extern uint64_t blist_largest_run (const struct blist *bl)
  SD_NONNULL (1);

/* Bytes of memory the allocator holds (for stats and tests). */
extern size_t blist_bytes (const struct blist *bl)
  SD_NONNULL (1);

#endif /* SWAPDRUM_BLIST_H */
