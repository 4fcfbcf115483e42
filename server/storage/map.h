/* swapdrum: the export map, export page -> drum slot.
 *
 * A lazy adaptive radix tree: a node is allocated only when two
 * entries share the subtree below it (a page alone in its subtree is
 * held inline in its parent), so an export costs memory in proportion
 * to the pages written, not to its size.  A written region costs about
 * 5.4 bytes a page (4-byte entries in 8-entry leaves, plus the nodes
 * above them); pages scattered at random over a 1 TiB export cost
 * about 22 to 31 bytes each, whatever their number (the inner nodes
 * that two pages share); an empty map is its header, about a hundred
 * bytes, however large the export.  Nodes come from chunks owned by
 * the map and are freed all at once by map_destroy.
 *
 * Entries are 32-bit words read and written with atomic operations:
 * map_get, map_cas and map_clear may be called from any number of
 * threads at once; map_get never takes a lock.  Writing a page that
 * has no entry yet changes the tree under a map-wide mutex, held
 * briefly; readers never wait for it.  No node is freed before
 * map_destroy, so a reader never sees a node disappear under it.
 *
 * An entry is one of:
 *   MAP_UNMAPPED  (0) the page was never written or was trimmed, and
 *                 reads as zeros;
 *   MAP_LOST      the device that held the page lost it: the page reads
 *                 as EIO until it is rewritten;
 *   a drum slot   anything else (1 .. DRUM_MAX_SLOT, see page.h).
 *
 * The map pointer is never NULL (SD_NONNULL, nonnull.h), but
 * map_destroy accepts NULL.
 */

#ifndef SWAPDRUM_MAP_H
#define SWAPDRUM_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/page.h"
#include "swapdrum/nonnull.h"

typedef uint32_t map_entry_t;

#define MAP_UNMAPPED ((map_entry_t) 0)
#define MAP_LOST ((map_entry_t) UINT32_MAX)

/* The drum slot an entry holds, or DRUM_NO_SLOT (unmapped or lost). */
static inline drum_slot_t
map_entry_slot (map_entry_t e)
{
  return e == MAP_LOST ? DRUM_NO_SLOT : e;
}

struct map;

/* Create an empty map for an export of npages pages.
 * => returns NULL with errno EINVAL if npages is 0, or ENOMEM.
 */
extern struct map *map_create (uint64_t npages);

/* Free the map and all its nodes.  Accepts NULL.  No other thread may
 * be using the map.
 */
extern void map_destroy (struct map *m);

/* Let the map cover npages pages: more than it does, or nothing
 * changes (a map never shrinks; entries past an export's new end are
 * cleared by the export first).  Safe while other threads read and
 * write entries: they see the old or the new tree, both with every
 * entry set so far.
 * => returns 0, or -1 with errno ENOMEM (the map is unchanged).
 */
extern int map_grow (struct map *m, uint64_t npages)
  SD_NONNULL (1);

/* Number of export pages the map covers. */
extern uint64_t map_npages (const struct map *m)
  SD_NONNULL (1);

/* Atomically load the entry of page (< npages); MAP_UNMAPPED if no
 * node covers it.  Acquire ordering.  Never allocates.
 */
extern map_entry_t map_get (const struct map *m, export_page_t page)
  SD_NONNULL (1);

/* Atomically replace the entry of page by desired if it equals
 * *expected (acq_rel ordering).
 * => returns 1 if it was replaced;
 * => returns 0 if not, with *expected set to the current entry;
 * => returns -1 with errno ENOMEM if a node was needed and could not
 *    be allocated (the entry is unchanged; nodes made before the
 *    failure may stay, holding the entries they were made for).
 * Lock-free, except that when the page has no entry yet and desired
 * is not MAP_UNMAPPED, it is added under the map's mutex, and that a
 * write meeting an inner node being grown waits for the mutex once.
 * Setting an entry to MAP_UNMAPPED never allocates.
 */
extern int map_cas (struct map *m, export_page_t page,
                    map_entry_t *expected, map_entry_t desired)
  SD_NONNULL (1, 3);

/* Atomically set the entry of page to MAP_UNMAPPED and return what it
 * held.  Never allocates.  Lock-free, but for the wait of map_cas.
 */
extern map_entry_t map_clear (struct map *m, export_page_t page)
  SD_NONNULL (1);

/* Return the first page in [from, end) whose entry is mapped (!= 0)
 * if `mapped`, or unmapped (== 0) if !`mapped`; end if there is none
 * (also when from >= end).  end must be <= npages.
 * Skips whole missing subtrees and the rest of a subtree that holds
 * one page inline, so a scan of an empty region costs O(log npages)
 * per such subtree, not per page.  Lock-free.  The
 * answer may be stale by the time it returns if other threads change
 * the map.
 */
extern export_page_t map_find (const struct map *m, export_page_t from,
                               export_page_t end, bool mapped)
  SD_NONNULL (1);

/* Call fn (page, entry, opaque) for every mapped entry in page order.
 * If fn returns non-zero, stop and return that value; else return 0.
 * Entries changed concurrently may or may not be visited.  No lock is
 * held while fn runs, so fn may call map_get, map_cas and map_clear.
 */
extern int map_foreach (const struct map *m,
                        int (*fn) (export_page_t page, map_entry_t entry,
                                   void *opaque),
                        void *opaque)
  SD_NONNULL (1, 2);

/* Bytes of memory held by the map: its header and every chunk its
 * nodes are allocated from (whole chunks, used or not, including the
 * nodes an inner node's growth left behind).  Counts only what the
 * map asked for, not the allocator's own overhead per chunk.
 */
extern size_t map_bytes (const struct map *m)
  SD_NONNULL (1);

#endif /* SWAPDRUM_MAP_H */
