/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Swap-off migration: move an export's pages off one device while
 * client I/O goes on (the seed's swap_off / uvm_swap_drum_off, which
 * pages everything in; we copy slot to slot instead).
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include "export-int.h"
#include "pool-int.h"
#include "swapdrum/log.h"

/* Move one page from its slot on dev to a fresh slot.
 * => caller holds the page's stripe exclusive, so nobody else can use
 *    or change the entry meanwhile.
 */
static int
move_page (struct export *exp, struct swapdev *dev, export_page_t page,
           uint64_t e)
{
  char buf[SD_PAGE_SIZE];
  drum_slot_t old = e & MAP_SLOT_MASK, slot;
  uint64_t cur = e;

  if (swapdev_read (dev, buf, old - dev->drumoffset, 0,
                    SD_PAGE_SIZE) == -1) {
    sd_error ("off: %s: page %" PRIu64 " (export page %" PRIu64
              "): %m: the page is lost and reads as EIO until rewritten",
              dev->path, old - dev->drumoffset, page);
    pool_note_error (exp->pool, dev);
    map_cas (exp->map, page, &cur, MAP_LOST);
    pool_markbad (exp->pool, old);
    return 0;
  }
  if (export_new_slot (exp, page, buf, false, &slot) == -1)
    return -1;
  if (map_cas (exp->map, page, &cur, slot) != 1) {
    /* Cannot happen while we hold the stripe exclusive. */
    pool_free (exp->pool, slot, 1);
    errno = EIO;
    sd_error ("off: %s: export page %" PRIu64 " changed while it moved "
              "(bug)", dev->path, page);
    return -1;
  }
  pool_free (exp->pool, old, 1);
  return 0;
}

/* What to do with each page of an export that lives on a device. */
struct page_walk {
  struct export *exp;
  struct swapdev *dev;
  int (*fn) (struct page_walk *w, export_page_t page, uint64_t e);
  void (*after_stripe) (struct page_walk *w);
  uint64_t done;                /* pages fn handled */
  /* for export_migrate */
  uint64_t *moved, total;
  pool_progress_fn progress;
  void *opaque;
};

/* Apply w->fn to the pages of [start, end), one stripe chunk, that live
 * on w->dev.  => caller holds the chunk's stripe exclusive.
 */
static int
walk_chunk (struct page_walk *w, export_page_t start, export_page_t end)
{
  drum_slot_t lo = w->dev->drumoffset, hi = lo + w->dev->npages;
  export_page_t page;

  for (page = map_find (w->exp->map, start, end, true); page < end;
       page = map_find (w->exp->map, page + 1, end, true)) {
    uint64_t e = map_get (w->exp->map, page);
    drum_slot_t slot = e & MAP_SLOT_MASK;

    if ((e & MAP_LOST) || slot < lo || slot >= hi)
      continue;
    if (w->fn (w, page, e) == -1)
      return -1;
    w->done++;
  }
  return 0;
}

/* Walk every mapped page of the export, one stripe at a time, holding
 * the stripe exclusive while its pages are handled.
 */
static int
walk_export (struct page_walk *w)
{
  export_page_t npages = w->exp->size >> SD_PAGE_SHIFT;
  export_page_t page = map_find (w->exp->map, 0, npages, true);

  while (page < npages) {
    export_page_t chunk_end = (page | (STRIPE_PAGES - 1)) + 1;
    int r;

    if (chunk_end > npages)
      chunk_end = npages;
    stripes_wrlock (&w->exp->stripes, page);
    r = walk_chunk (w, page, chunk_end);
    stripes_unlock (&w->exp->stripes, page);
    if (r == -1)
      return -1;
    if (w->after_stripe)
      w->after_stripe (w);
    page = map_find (w->exp->map, chunk_end, npages, true);
  }
  return 0;
}

static int
move_one (struct page_walk *w, export_page_t page, uint64_t e)
{
  if (move_page (w->exp, w->dev, page, e) == -1)
    return -1;
  (*w->moved)++;
  return 0;
}

static void
report_progress (struct page_walk *w)
{
  if (w->progress)
    w->progress (w->opaque, *w->moved, w->total);
}

int
export_migrate (struct export *exp, struct swapdev *dev, uint64_t *moved,
                uint64_t total,
                void (*progress) (void *opaque, uint64_t moved,
                                  uint64_t total),
                void *opaque)
{
  struct page_walk w = {
    .exp = exp, .dev = dev, .fn = move_one,
    .after_stripe = report_progress, .moved = moved, .total = total,
    .progress = progress, .opaque = opaque,
  };

  return walk_export (&w);
}

static int
lose_one (struct page_walk *w, export_page_t page, uint64_t e)
{
  map_cas (w->exp->map, page, &e, MAP_LOST);
  return 0;
}

uint64_t
export_mark_lost (struct export *exp, struct swapdev *dev)
{
  struct page_walk w = { .exp = exp, .dev = dev, .fn = lose_one };

  walk_export (&w);
  return w.done;
}
