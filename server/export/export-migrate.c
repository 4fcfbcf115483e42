/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* What the pool asks of an export (its tenant operations): swap-off
 * migration, which moves the export's pages off one device while client
 * I/O goes on (the seed's swap_off / uvm_swap_drum_off, which pages
 * everything in; we copy slot to slot instead), and marking the pages
 * of a device that came back empty lost.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export/export-int.h"
#include "pool/pace.h"
#include "pool/pool-int.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* Swap-off copies at most this many bytes a second (pace.h).  Unpaced,
 * a copy from page cache to page cache ran at 8-10 GiB/s here and took
 * a CPU from clients for the whole swap-off: their p99 during it was
 * 12-20 times their p99 without.  Measured with bench/run --phases
 * migrate (5 repetitions, a client at 5000 IOPS): at 1 GiB/s the p99
 * was 1.9 times, at 1.25 GiB/s 1.9 times, at 2 GiB/s 2.6 times, while
 * nbdcopy copied the same data at 1.7-2.5 GiB/s.  1.25 GiB/s keeps both
 * swap-off targets of docs/performance.md ("Targets: met and missed"):
 * at least half nbdcopy's rate, at most twice the p99.  A slower device is not slowed further.
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
    export_uncharge (exp, 1);
    export_drop_recorded (exp, dev, old);
    return 0;
  }
  if (export_new_slot (exp, page, buf, false, false, &slot) == -1)
    return -1;
  if (map_cas (exp->map, page, &cur, slot) != 1) {
    /* Cannot happen while we hold the stripe exclusive. */
    pool_release (exp->pool, slot, 1);
    errno = EIO;
    sd_error ("off: %s: export page %" PRIu64 " changed while it moved "
              "(bug)", dev->path, page);
    return -1;
  }
  pool_release (exp->pool, old, 1);
  return 0;
}

/* A run of pages that live on the device: n pages from page on, with
 * the consecutive slots e, e + 1, ...
 */
struct run {
  export_page_t page;
  drum_slot_t e;
  uint64_t n;
};

/* A swap-off in progress: the device, the copy's buffer and the
 * counters.
 */
struct migration {
  struct export *exp;
  struct swapdev *dev;
  char *buf;                    /* STRIPE_PAGES pages */
  uint64_t *moved, total;
  uint64_t paced;               /* *moved at the last pace_account */
  struct pace pace;
  pool_progress_fn progress;
  void *opaque;                 /* progress's */
};

/* True if entry e is a slot on dev. */
static bool
on_device (const struct swapdev *dev, map_entry_t e)
{
  return e != MAP_LOST && e >= dev->drumoffset &&
    e < dev->drumoffset + dev->npages;
}

/* Find the next run of pages in [*page, end) that live on dev with
 * consecutive slots.
 * => returns true with *r set and *page just past the run, or false
 *    (and *page = end) if there is none.  The caller holds the stripe
 *    of [*page, end) exclusive, or reads the map knowing that it may
 *    change (copy_chunk checks the write generation afterwards).
 */
static bool
next_run (struct export *exp, struct swapdev *dev, export_page_t *page,
          export_page_t end, struct run *r)
{
  export_page_t p = map_find (exp->map, *page, end, true);
  map_entry_t e;

  while (p < end && !on_device (dev, map_get (exp->map, p)))
    p = map_find (exp->map, p + 1, end, true);
  if (p >= end) {
    *page = end;
    return false;
  }
  r->page = p;
  r->e = map_get (exp->map, p);
  r->n = 1;
  while (p + r->n < end &&
         (e = map_get (exp->map, p + r->n)) == r->e + r->n &&
         on_device (dev, e))
    r->n++;
  *page = p + r->n;
  return true;
}

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
  if (export_store (exp, dev, slot, page, n, buf, false) == 0)
    return 0;
  pool_note_error (exp->pool, dev);
  for (i = 0; i < n; i++) {
    if (export_store (exp, dev, slot + i, page + i, 1,
                      buf + i * SD_PAGE_SIZE, false) == 0)
      continue;
    export_drop_slot (exp, dev, slot + i);
    if (export_new_slot (exp, page + i, buf + i * SD_PAGE_SIZE, false,
                         false, &slots[i]) == -1) {
      pool_release (exp->pool, slot + i + 1, n - i - 1);
      while (i-- > 0)
        pool_release (exp->pool, slots[i], 1);
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

/* Move one run of pages with one read and as few writes as the pool's
 * free runs allow.  A read failure falls back to page by page, which
 * marks unreadable pages lost.
 * => caller holds the run's stripe exclusive.
 */
static int
move_run (struct migration *m, const struct run *r)
{
  struct export *exp = m->exp;
  drum_slot_t slots[STRIPE_PAGES], slot;
  uint64_t done = 0, k, i;

  if (swapdev_read (m->dev, m->buf, r->e - m->dev->drumoffset, 0,
                    r->n * SD_PAGE_SIZE) == -1) {
    for (i = 0; i < r->n; i++) {
      if (move_page (exp, m->dev, r->page + i, r->e + i) == -1)
        return -1;
      (*m->moved)++;
    }
    return 0;
  }
  while (done < r->n) {
    k = export_alloc (exp, "off", r->page + done, r->n - done, false,
                      &slot);
    if (k == 0)
      return -1;
    if (write_fresh (exp, r->page + done, m->buf + done * SD_PAGE_SIZE,
                     slot, k, slots) == -1)
      return -1;
    switch_pages (exp, r->page + done, r->e + done, k, slots);
    pool_release (exp->pool, r->e + done, k);
    done += k;
    *m->moved += k;
  }
  return 0;
}

/* Move the pages of [start, end), one stripe chunk, that live on the
 * device, run by run.
 * => caller holds the chunk's stripe exclusive.
 */
static int
move_chunk (struct migration *m, export_page_t start, export_page_t end)
{
  struct run r;

  while (next_run (m->exp, m->dev, &start, end, &r))
    if (move_run (m, &r) == -1)
      return -1;
  return 0;
}

/* The runs of one chunk that live on the device (at most STRIPE_PAGES),
 * and the fresh slots their copies took.
 */
struct chunk_copy {
  export_page_t start;
  size_t nruns;
  struct run runs[STRIPE_PAGES];
  drum_slot_t fresh[STRIPE_PAGES]; /* by page - start; 0: none yet */
};

/* Give back every fresh slot the copy took. */
static void
release_fresh (struct export *exp, struct chunk_copy *cc)
{
  size_t i;

  for (i = 0; i < STRIPE_PAGES; i++)
    if (cc->fresh[i] != DRUM_NO_SLOT)
      pool_release (exp->pool, cc->fresh[i], 1);
}

/* Read one run from the device and write it to fresh slots, in as few
 * runs as the pool's free space allows.
 * => returns 0; 1 if the device could not be read or the pool has no
 *    room left (then the caller moves the chunk holding its stripe,
 *    which moves what fits and reports); -1 after reporting if fresh
 *    slots kept failing.
 */
static int
copy_run (struct migration *m, struct chunk_copy *cc, const struct run *r)
{
  struct export *exp = m->exp;
  char *buf = m->buf + (r->page - cc->start) * SD_PAGE_SIZE;
  drum_slot_t *fresh = &cc->fresh[r->page - cc->start], slot;
  uint64_t done = 0, k;
  struct pool_hint hint;
  enum pool_short why;

  if (swapdev_read (m->dev, buf, r->e - m->dev->drumoffset, 0,
                    r->n * SD_PAGE_SIZE) == -1)
    return 1;
  while (done < r->n) {
    /* Within the export's tiers, by region; reported by move_run if
     * it fails.
     */
    export_hint (exp, r->page + done, &hint);
    k = pool_alloc_for (exp->pool, &exp->tenant, r->n - done, false, &hint,
                        &slot, &why);
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
 * fresh slots back and move the chunk holding the stripe (move_chunk);
 * so does a read error, which move_run handles page by page.  The
 * device takes no allocations (DRAIN), so its slots cannot be handed to
 * other pages while they are read unlocked.
 */
static int
copy_chunk (struct migration *m, export_page_t start, export_page_t end)
{
  struct export *exp = m->exp;
  struct chunk_copy cc = { .start = start };
  uint32_t gen = stripes_gen (&exp->stripes, start);
  export_page_t page = start;
  size_t i;
  int r = 0;

  while (cc.nruns < STRIPE_PAGES &&
         next_run (exp, m->dev, &page, end, &cc.runs[cc.nruns]))
    cc.nruns++;
  for (i = 0; i < cc.nruns && r == 0; i++)
    r = copy_run (m, &cc, &cc.runs[i]);
  /* From before the pages switch until their old records are
   * cleared, the old device says dirty: after a host crash that lost a
   * new slot's record, it must not count as clean and give a page
   * back from its old record when a client wrote the new slot since
   * (docs/design.md, "Host crashes").
   */
  if (r == -1 || swapdev_intent_begin (m->dev) == -1) {
    release_fresh (exp, &cc);
    return -1;
  }
  stripes_wrlock (&exp->stripes, start);
  if (r == 1 || stripes_gen (&exp->stripes, start) != gen) {
    release_fresh (exp, &cc);
    r = move_chunk (m, start, end);
    stripes_wrunlock (&exp->stripes, start);
    swapdev_intent_end (m->dev);
    return r;
  }
  for (i = 0; i < cc.nruns; i++)
    switch_pages (exp, cc.runs[i].page, cc.runs[i].e, cc.runs[i].n,
                  &cc.fresh[cc.runs[i].page - start]);
  stripes_wrunlock (&exp->stripes, start);
  for (i = 0; i < cc.nruns; i++) {
    pool_release (exp->pool, cc.runs[i].e, cc.runs[i].n);
    *m->moved += cc.runs[i].n;
  }
  swapdev_intent_end (m->dev);
  return 0;
}

/* The end of the stripe chunk that holds page, clipped to npages. */
static export_page_t
chunk_end (export_page_t page, export_page_t npages)
{
  export_page_t end = (page | (STRIPE_PAGES - 1)) + 1;

  return end < npages ? end : npages;
}

/* After each chunk: report progress, and keep the copy to MIGRATE_RATE
 * (see pace.h).
 */
static void
report_progress (struct migration *m)
{
  pace_account (&m->pace, (*m->moved - m->paced) * SD_PAGE_SIZE);
  m->paced = *m->moved;
  if (m->progress)
    m->progress (m->opaque, *m->moved, m->total);
}

static int
export_migrate (struct pool_tenant *t, struct swapdev *dev,
                uint64_t *moved, uint64_t total, pool_progress_fn progress,
                void *opaque)
{
  struct export *exp = export_of_tenant (t);
  CLEANUP_FREE char *buf = malloc (STRIPE_PAGES * SD_PAGE_SIZE);
  struct migration m = {
    .exp = exp, .dev = dev, .buf = buf, .moved = moved, .paced = *moved,
    .total = total, .progress = progress, .opaque = opaque,
  };
  export_page_t npages = export_size (exp) >> SD_PAGE_SHIFT, start, end;

  if (buf == NULL) {
    sd_error ("off: %s: %m", dev->path);
    return -1;
  }
  /* Requests that allocated on dev before it stopped taking new pages
   * finish and map them: after this every page on dev is in the map.
   */
  stripes_barrier (&exp->stripes);
  pace_start (&m.pace, MIGRATE_RATE);
  for (start = map_find (exp->map, 0, npages, true); start < npages;
       start = map_find (exp->map, end, npages, true)) {
    end = chunk_end (start, npages);
    if (copy_chunk (&m, start, end) == -1)
      return -1;
    report_progress (&m);
  }
  return 0;
}

static uint64_t
export_mark_lost (struct pool_tenant *t, struct swapdev *dev)
{
  struct export *exp = export_of_tenant (t);
  export_page_t npages = export_size (exp) >> SD_PAGE_SHIFT, start, end, page;
  uint64_t lost = 0, i;
  struct run r;

  stripes_barrier (&exp->stripes);
  for (start = map_find (exp->map, 0, npages, true); start < npages;
       start = map_find (exp->map, end, npages, true)) {
    end = chunk_end (start, npages);
    page = start;
    stripes_wrlock (&exp->stripes, start);
    while (next_run (exp, dev, &page, end, &r)) {
      for (i = 0; i < r.n; i++) {
        map_entry_t cur = r.e + i;
        map_cas (exp->map, r.page + i, &cur, MAP_LOST);
      }
      export_uncharge (exp, r.n);
      lost += r.n;
    }
    stripes_wrunlock (&exp->stripes, start);
  }
  return lost;
}

static int
export_claim (struct pool_tenant *t, export_page_t page, drum_slot_t slot,
              drum_slot_t expect, drum_slot_t *cur)
{
  struct export *exp = export_of_tenant (t);
  map_entry_t e = expect;
  int r;

  if (page >= export_size (exp) >> SD_PAGE_SHIFT) {
    errno = EINVAL;
    sd_error ("recover: export %s: a page record names page %" PRIu64
              ", beyond its end (%" PRIu64 " bytes)", exp->name, page,
              export_size (exp));
    return -1;
  }
  r = map_cas (exp->map, page, &e, slot);
  if (r == -1) {
    sd_error ("recover: export %s: page %" PRIu64 ": map: %m", exp->name,
              page);
    return -1;
  }
  if (r == 0) {
    *cur = map_entry_slot (e);
    return 1;
  }
  /* Recovered pages count against the quota whatever it is now. */
  if (expect == DRUM_NO_SLOT && slot != DRUM_NO_SLOT)
    atomic_fetch_add (&exp->tenant.used, 1);
  else if (expect != DRUM_NO_SLOT && slot == DRUM_NO_SLOT)
    export_uncharge (exp, 1);
  return 0;
}

static uint64_t
export_count_on (struct pool_tenant *t, struct swapdev *dev)
{
  struct export *exp = export_of_tenant (t);
  export_page_t npages = export_size (exp) >> SD_PAGE_SHIFT, page = 0;
  uint64_t n = 0;
  struct run r;

  /* Requests that took slots on dev before it left the tenant's tiers
   * have mapped them after this; the map is read without the stripes,
   * since no new page of ours can land on dev.
   */
  stripes_barrier (&exp->stripes);
  while (next_run (exp, dev, &page, npages, &r))
    n += r.n;
  return n;
}

const struct pool_tenant_ops export_tenant_ops = {
  .migrate = export_migrate,
  .mark_lost = export_mark_lost,
  .claim = export_claim,
  .count_on = export_count_on,
};
