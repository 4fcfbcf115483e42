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
#include <stdlib.h>
#include <string.h>

#include "export/export-int.h"
#include "pool/pace.h"
#include "pool/pool-int.h"
#include "swapdrum/log.h"

/* Swap-off copies at most this many bytes a second (pace.h).  Unpaced,
 * a copy from page cache to page cache ran at 8-10 GiB/s here and took
 * a CPU from clients for the whole swap-off: their p99 during it was
 * 12-20 times their p99 without.  Measured with bench/run --phases
 * migrate (5 repetitions, a client at 5000 IOPS): at 1 GiB/s the p99
 * was 1.9 times, at 1.25 GiB/s 1.9 times, at 2 GiB/s 2.6 times, while
 * nbdcopy copied the same data at 1.7-2.5 GiB/s.  1.25 GiB/s keeps both
 * of the brief's targets (at least half nbdcopy's rate, at most twice
 * the p99).  A slower device is not slowed further.
 */
#define MIGRATE_RATE (UINT64_C (1280) << 20)

/* Move one page from its slot on dev to a fresh slot.
 * => caller holds the page's stripe exclusive, so nobody else can use
 *    or change the entry meanwhile.
 */
static int
move_page (struct export *exp, struct swapdev *dev, export_page_t page,
           map_entry_t e)
{
  char buf[SD_PAGE_SIZE];
  drum_slot_t old = map_entry_slot (e), slot;
  map_entry_t cur = e;

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

/* What to do with the pages of an export that live on a device. */
struct page_walk {
  struct export *exp;
  struct swapdev *dev;
  /* Handle n pages from page on, whose slots are e, e + 1, ... on dev
   * (plain slots, no flags).
   */
  int (*fn) (struct page_walk *w, export_page_t page, uint64_t e,
             uint64_t n);
  /* Handle the pages of [start, end), one stripe chunk. */
  int (*chunk) (struct page_walk *w, export_page_t start,
                export_page_t end);
  void (*after_stripe) (struct page_walk *w);
  uint64_t done;                /* pages fn handled */
  /* for export_migrate */
  char *buf;                    /* STRIPE_PAGES pages */
  uint64_t *moved, total;
  uint64_t paced;               /* *moved at the last pace_account */
  struct pace pace;
  pool_progress_fn progress;
  void *opaque;                 /* progress's */
  /* for copy_chunk's walk that collects the runs */
  struct chunk_copy *cc;
};

/* Write n pages of buf to the fresh slots from slot on (one device).
 * If that fails, page by page: a slot that fails again is marked bad
 * and its page takes another fresh slot, recorded in slots[].
 */
static int
write_fresh (struct export *exp, export_page_t page, const char *buf,
             drum_slot_t slot, uint64_t n, drum_slot_t *slots)
{
  struct swapdev *dev = pool_getsdp (exp->pool, slot);
  uint64_t i;

  for (i = 0; i < n; i++)
    slots[i] = slot + i;
  if (swapdev_write (dev, buf, slot - dev->drumoffset, 0,
                     n * SD_PAGE_SIZE, false) == 0)
    return 0;
  pool_note_error (exp->pool, dev);
  for (i = 0; i < n; i++) {
    if (swapdev_write (dev, buf + i * SD_PAGE_SIZE,
                       slot + i - dev->drumoffset, 0, SD_PAGE_SIZE,
                       false) == 0)
      continue;
    export_drop_slot (exp, dev, slot + i);
    if (export_new_slot (exp, page + i, buf + i * SD_PAGE_SIZE, false,
                         &slots[i]) == -1) {
      pool_free (exp->pool, slot + i + 1, n - i - 1);
      while (i-- > 0)
        pool_free (exp->pool, slots[i], 1);
      return -1;
    }
  }
  return 0;
}

/* Point pages [page, page + n) from old slots e.. to slots[].
 * => caller holds the stripe exclusive: nobody else changes them.
 */
static void
switch_pages (struct export *exp, export_page_t page, uint64_t e,
              uint64_t n, const drum_slot_t *slots)
{
  uint64_t i;

  for (i = 0; i < n; i++) {
    map_entry_t cur = e + i;
    if (map_cas (exp->map, page + i, &cur, slots[i]) != 1)
      sd_error ("off: export page %" PRIu64 " changed while it moved "
                "(bug)", page + i);
  }
}

/* Move n pages with consecutive slots on dev, with one read and as few
 * writes as the pool's free runs allow.  A read failure falls back to
 * page by page, which marks unreadable pages lost.
 */
static int
move_run (struct page_walk *w, export_page_t page, uint64_t e, uint64_t n)
{
  struct export *exp = w->exp;
  drum_slot_t slots[STRIPE_PAGES], slot;
  uint64_t done = 0, k, i;

  if (swapdev_read (w->dev, w->buf, e - w->dev->drumoffset, 0,
                    n * SD_PAGE_SIZE) == -1) {
    for (i = 0; i < n; i++) {
      if (move_page (exp, w->dev, page + i, e + i) == -1)
        return -1;
      (*w->moved)++;
    }
    return 0;
  }
  while (done < n) {
    k = pool_alloc (exp->pool, n - done, &slot);
    if (k == 0) {
      sd_error ("off: %s: no other device can take export page %" PRIu64
                ": %m", w->dev->path, page + done);
      return -1;
    }
    if (write_fresh (exp, page + done, w->buf + done * SD_PAGE_SIZE, slot,
                     k, slots) == -1)
      return -1;
    switch_pages (exp, page + done, e + done, k, slots);
    pool_free (exp->pool, e + done, k);
    done += k;
    *w->moved += k;
  }
  return 0;
}

/* Apply w->fn to the pages of [start, end), one stripe chunk, that live
 * on w->dev, in runs of consecutive pages with consecutive slots.
 * => caller holds the chunk's stripe exclusive.
 */
static int
walk_chunk (struct page_walk *w, export_page_t start, export_page_t end)
{
  drum_slot_t lo = w->dev->drumoffset, hi = lo + w->dev->npages;
  export_page_t page, run_page = 0;
  uint64_t run_e = 0, run_n = 0;

  for (page = map_find (w->exp->map, start, end, true); page <= end;
       page = page < end ? map_find (w->exp->map, page + 1, end, true)
                         : end + 1) {
    map_entry_t e = page < end ? map_get (w->exp->map, page) : MAP_UNMAPPED;
    bool on_dev = e != MAP_LOST && e >= lo && e < hi;

    if (run_n > 0 && on_dev && page == run_page + run_n &&
        e == run_e + run_n) {
      run_n++;
      continue;
    }
    if (run_n > 0 && w->fn (w, run_page, run_e, run_n) == -1)
      return -1;
    w->done += run_n;
    run_n = 0;
    if (on_dev) {
      run_page = page;
      run_e = e;
      run_n = 1;
    }
  }
  return 0;
}

/* Handle the chunk holding its stripe exclusive. */
static int
locked_chunk (struct page_walk *w, export_page_t start, export_page_t end)
{
  int r;

  stripes_wrlock (&w->exp->stripes, start);
  r = walk_chunk (w, start, end);
  stripes_unlock (&w->exp->stripes, start);
  return r;
}

/* One run of a chunk: n pages from page on, with slots e, e + 1, ...
 * on the device, copied to fresh[] (one slot per page).
 */
struct run {
  export_page_t page;
  drum_slot_t e;
  uint64_t n;
};

/* The runs of one chunk that live on the device (at most STRIPE_PAGES). */
struct chunk_copy {
  export_page_t start;
  size_t nruns;
  struct run runs[STRIPE_PAGES];
  drum_slot_t fresh[STRIPE_PAGES]; /* by page - start; 0: none yet */
};

static int
collect_run (struct page_walk *w, export_page_t page, uint64_t e,
             uint64_t n)
{
  struct chunk_copy *cc = w->cc;

  cc->runs[cc->nruns++] = (struct run) { .page = page, .e = e, .n = n };
  return 0;
}

/* Give back every fresh slot the copy took. */
static void
release_fresh (struct export *exp, struct chunk_copy *cc)
{
  size_t i;

  for (i = 0; i < STRIPE_PAGES; i++)
    if (cc->fresh[i] != DRUM_NO_SLOT)
      pool_free (exp->pool, cc->fresh[i], 1);
}

/* Read one run from the device and write it to fresh slots, in as few
 * runs as the pool's free space allows.
 * => returns 0; 1 if the device could not be read or the pool has no
 *    room left (then the caller moves the chunk holding its stripe,
 *    which moves what fits and reports); -1 after reporting if fresh
 *    slots kept failing.
 */
static int
copy_run (struct page_walk *w, struct chunk_copy *cc, const struct run *r)
{
  struct export *exp = w->exp;
  char *buf = w->buf + (r->page - cc->start) * SD_PAGE_SIZE;
  drum_slot_t *fresh = &cc->fresh[r->page - cc->start], slot;
  uint64_t done = 0, k;

  if (swapdev_read (w->dev, buf, r->e - w->dev->drumoffset, 0,
                    r->n * SD_PAGE_SIZE) == -1)
    return 1;
  while (done < r->n) {
    k = pool_alloc (exp->pool, r->n - done, &slot);
    if (k == 0)
      return 1;
    if (write_fresh (exp, r->page + done, buf + done * SD_PAGE_SIZE, slot,
                     k, fresh + done) == -1) {
      /* write_fresh gave back what it took for these k pages. */
      memset (fresh + done, 0, k * sizeof *fresh);
      return -1;
    }
    done += k;
  }
  return 0;
}

/* Move the chunk's pages without holding its stripe while they are
 * copied, so that client requests to the stripe do not wait for the
 * copy: note the stripe's write generation, copy every run to fresh
 * slots, then take the stripe exclusive and switch the map only if the
 * generation is unchanged (no write, trim or zero overlapped the copy:
 * each bumps it before letting its stripe go).  Otherwise give the
 * fresh slots back and move the chunk holding the stripe, as
 * locked_chunk does; so does a read error, which locked_chunk handles
 * page by page.  The device takes no allocations (DRAIN), so its slots
 * cannot be handed to other pages while they are read unlocked.
 */
static int
copy_chunk (struct page_walk *w, export_page_t start, export_page_t end)
{
  struct export *exp = w->exp;
  struct chunk_copy cc = { .start = start };
  struct page_walk collect = {
    .exp = exp, .dev = w->dev, .fn = collect_run, .cc = &cc,
  };
  uint32_t gen = stripes_gen (&exp->stripes, start);
  size_t i;
  int r = 0;

  walk_chunk (&collect, start, end);
  for (i = 0; i < cc.nruns && r == 0; i++)
    r = copy_run (w, &cc, &cc.runs[i]);
  if (r == -1) {
    release_fresh (exp, &cc);
    return -1;
  }
  stripes_wrlock (&exp->stripes, start);
  if (r == 1 || stripes_gen (&exp->stripes, start) != gen) {
    release_fresh (exp, &cc);
    r = walk_chunk (w, start, end);
    stripes_unlock (&exp->stripes, start);
    return r;
  }
  for (i = 0; i < cc.nruns; i++)
    switch_pages (exp, cc.runs[i].page, cc.runs[i].e, cc.runs[i].n,
                  &cc.fresh[cc.runs[i].page - start]);
  stripes_unlock (&exp->stripes, start);
  for (i = 0; i < cc.nruns; i++) {
    pool_free (exp->pool, cc.runs[i].e, cc.runs[i].n);
    *w->moved += cc.runs[i].n;
  }
  return 0;
}

/* Walk every mapped page of the export, one stripe chunk at a time. */
static int
walk_export (struct page_walk *w)
{
  export_page_t npages = w->exp->size >> SD_PAGE_SHIFT;
  export_page_t page = map_find (w->exp->map, 0, npages, true);

  while (page < npages) {
    export_page_t chunk_end = (page | (STRIPE_PAGES - 1)) + 1;

    if (chunk_end > npages)
      chunk_end = npages;
    if (w->chunk (w, page, chunk_end) == -1)
      return -1;
    if (w->after_stripe)
      w->after_stripe (w);
    page = map_find (w->exp->map, chunk_end, npages, true);
  }
  return 0;
}

/* After each stripe: report progress, and keep the copy to
 * MIGRATE_RATE (see pace.h).
 */
static void
report_progress (struct page_walk *w)
{
  pace_account (&w->pace, (*w->moved - w->paced) * SD_PAGE_SIZE);
  w->paced = *w->moved;
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
    .exp = exp, .dev = dev, .fn = move_run, .chunk = copy_chunk,
    .after_stripe = report_progress, .moved = moved, .total = total,
    .progress = progress, .opaque = opaque,
  };
  int r;

  w.buf = malloc (STRIPE_PAGES * SD_PAGE_SIZE);
  if (w.buf == NULL) {
    sd_error ("off: %s: %m", dev->path);
    return -1;
  }
  w.paced = *moved;
  pace_start (&w.pace, MIGRATE_RATE);
  r = walk_export (&w);
  free (w.buf);
  return r;
}

static int
lose_run (struct page_walk *w, export_page_t page, uint64_t e, uint64_t n)
{
  uint64_t i;

  for (i = 0; i < n; i++) {
    map_entry_t cur = e + i;
    map_cas (w->exp->map, page + i, &cur, MAP_LOST);
  }
  return 0;
}

uint64_t
export_mark_lost (struct export *exp, struct swapdev *dev)
{
  struct page_walk w = {
    .exp = exp, .dev = dev, .fn = lose_run, .chunk = locked_chunk,
  };

  walk_export (&w);
  return w.done;
}
