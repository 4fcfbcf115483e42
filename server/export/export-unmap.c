/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unmapping an export's pages (trim and zero) and describing them
 * (extents).  Trim and zero hold one stripe at a time exclusive while
 * they clear map entries, and give the slots back (discarding them on
 * devices that can) before they drop it, so no request still uses a
 * slot that is freed.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include "export/export-int.h"
#include "storage/map.h"
#include "pool/pool-int.h"
#include "storage/stripes.h"
#include "swapdrum/log.h"

/* Collects freed slots into runs so that the pool lock is taken once
 * per run, not once per page.
 */
struct free_run {
  drum_slot_t start;
  uint64_t n;
};

/* Give slots [start, start + n) back: first tell devices that can
 * discard (remote exports) that the pages hold nothing, while the slots
 * are still ours, then free them.
 */
static void
release_run (struct export *exp, drum_slot_t start, uint64_t n)
{
  drum_slot_t slot = start;

  while (slot < start + n) {
    uint64_t k;
    struct swapdev *dev = pool_span (exp->pool, "trim", slot,
                                     start + n - slot, &k);

    if (dev == NULL)
      return;
    /* A discard that fails may have taken the device offline: let
     * the pool mark it FAILED so the monitor brings it back.
     */
    if (swapdev_discard (dev, slot - dev->drumoffset, k) == -1)
      pool_note_error (exp->pool, dev);
    slot += k;
  }
  pool_release (exp->pool, start, n);
}

static void
free_run_add (struct export *exp, struct free_run *fr, drum_slot_t slot)
{
  if (fr->n > 0 && fr->start + fr->n == slot) {
    fr->n++;
    return;
  }
  if (fr->n > 0)
    release_run (exp, fr->start, fr->n);
  fr->start = slot;
  fr->n = 1;
}

/* Unmap the mapped pages of one stripe chunk [start, end), holding the
 * chunk's stripe exclusive, then free their slots.
 */
static void
unmap_chunk (struct export *exp, export_page_t start, export_page_t end)
{
  struct free_run fr = { 0, 0 };
  export_page_t page;

  stripes_wrlock (&exp->stripes, start);
  for (page = map_find (exp->map, start, end, true); page < end;
       page = map_find (exp->map, page + 1, end, true)) {
    map_entry_t e = map_clear (exp->map, page);
    if (map_entry_slot (e)) {
      /* The charge goes first: a reserve is never met by a free slot. */
      export_uncharge (exp, 1);
      free_run_add (exp, &fr, map_entry_slot (e));
    }
  }
  if (fr.n > 0)
    release_run (exp, fr.start, fr.n);
  stripes_wrunlock (&exp->stripes, start);
}

/* Unmap whole pages [first, first + n). */
static void
unmap_pages (struct export *exp, export_page_t first, uint64_t n)
{
  export_page_t end = first + n, page = first;

  while (page < end) {
    export_page_t chunk_end = (page | (STRIPE_PAGES - 1)) + 1;
    export_page_t next;
    if (chunk_end > end)
      chunk_end = end;
    unmap_chunk (exp, page, chunk_end);
    /* Jump over unmapped stretches without taking their locks. */
    next = map_find (exp->map, chunk_end, end, true);
    page = next;
  }
}

/* Whole pages inside [offset, offset + count): [*first, *first + *n). */
static void
whole_pages (uint64_t count, uint64_t offset, export_page_t *first,
             uint64_t *n)
{
  uint64_t start = (offset + PAGE_MASK) & ~PAGE_MASK;
  uint64_t end = (offset + count) & ~PAGE_MASK;

  *first = start >> SD_PAGE_SHIFT;
  *n = end > start ? (end - start) >> SD_PAGE_SHIFT : 0;
}

int
export_trim (struct export *exp, uint64_t count, uint64_t offset)
{
  export_page_t first;
  uint64_t n;

  if (export_check_bounds (exp, "trim", count, offset) == -1)
    return -1;
  whole_pages (count, offset, &first, &n);
  if (n > 0)
    unmap_pages (exp, first, n);
  return 0;
}

/* Zero a piece of one page: only a page holding data needs a write. */
static int
zero_partial (struct export *exp, uint64_t count, uint64_t offset,
              bool fua)
{
  static const char zeros[SD_PAGE_SIZE];
  export_page_t page = offset >> SD_PAGE_SHIFT;
  int r = 0;

  if (count == 0)
    return 0;
  stripes_rdlock (&exp->stripes, page, 1);
  if (map_get (exp->map, page) != MAP_UNMAPPED || export_suspect (exp))
    r = export_write_range (exp, zeros, count, offset, fua);
  stripes_unlock_written (&exp->stripes, page, 1);
  return r;
}

/* Zero whole pages [first, first + n) of a suspect export: unmapped,
 * they would read EIO, so each gets a page of zeros written.
 */
static int
zero_written (struct export *exp, export_page_t first, uint64_t n,
              bool fua)
{
  uint64_t i;

  for (i = 0; i < n; i++)
    if (zero_partial (exp, SD_PAGE_SIZE, (first + i) << SD_PAGE_SHIFT,
                      fua) == -1)
      return -1;
  return 0;
}

int
export_zero (struct export *exp, uint64_t count, uint64_t offset, bool fua)
{
  export_page_t first;
  uint64_t n, head, tail;

  if (export_check_bounds (exp, "zero", count, offset) == -1)
    return -1;
  if (count == 0)
    return 0;
  whole_pages (count, offset, &first, &n);
  if (n == 0) {                 /* inside one page, or across one edge */
    head = ((offset | PAGE_MASK) + 1) - offset;
    if (head >= count)
      return zero_partial (exp, count, offset, fua);
    return zero_partial (exp, head, offset, fua) ||
      zero_partial (exp, count - head, offset + head, fua) ? -1 : 0;
  }
  head = (first << SD_PAGE_SHIFT) - offset;
  tail = offset + count - ((first + n) << SD_PAGE_SHIFT);
  if (zero_partial (exp, head, offset, fua) == -1 ||
      zero_partial (exp, tail, (first + n) << SD_PAGE_SHIFT, fua) == -1)
    return -1;
  if (export_suspect (exp))
    return zero_written (exp, first, n, fua);
  unmap_pages (exp, first, n);
  return 0;
}

bool
export_zero_is_fast (struct export *exp)
{
  return !export_suspect (exp);
}

int
export_extents (struct export *exp, uint64_t count, uint64_t offset,
                int (*add) (void *opaque, uint64_t offset,
                            uint64_t length, bool hole),
                void *opaque)
{
  export_page_t page = offset >> SD_PAGE_SHIFT;
  export_page_t end = (offset + count + PAGE_MASK) >> SD_PAGE_SHIFT;
  uint64_t pos = offset;

  if (export_check_bounds (exp, "extents", count, offset) == -1)
    return -1;
  while (page < end) {
    bool unmapped = map_get (exp->map, page) == MAP_UNMAPPED;
    bool hole = unmapped && !export_suspect (exp);
    export_page_t next = map_find (exp->map, page + 1, end, unmapped);
    uint64_t stop = next << SD_PAGE_SHIFT;
    int r;

    if (stop > offset + count)
      stop = offset + count;
    r = add (opaque, pos, stop - pos, hole);
    if (r != 0)
      return r;
    pos = stop;
    page = next;
  }
  return 0;
}
