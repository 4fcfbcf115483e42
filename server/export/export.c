/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The data path: an export's reads, writes, trims and zeroes through
 * its page map to drum slots on swap devices.
 *
 * Locking: a request holds the stripes of its pages shared (see
 * stripes.h) while it looks up and uses slots; trim and zero hold one
 * stripe at a time exclusive while they unmap and free.  Map entries
 * themselves are atomic, so readers and overwriters of mapped pages
 * take no pool-wide lock; only allocation and freeing take the pool
 * lock, briefly.  Under a shared stripe an entry can only change from
 * unmapped (or lost) to a slot, or from one slot to another when a
 * write error relocates it: both by compare-and-swap, and the loser of
 * a race writes its data to the winner's slot.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export/export-int.h"
#include "storage/map.h"
#include "pool/pool-int.h"
#include "storage/stripes.h"
#include "swapdrum/log.h"


/* Create the export; declared: spec's limits, checked against the
 * pool first (exports are created one at a time, at start), not the
 * table's.
 */
static struct export *
create (struct pool *pool, const struct exportspec *spec, bool declared)
{
  const char *name = spec->name;
  struct pool_limits lim;
  struct export *exp;
  uint64_t size = spec->size;
  uint16_t id;

  if (size != 0 && size < SD_PAGE_SIZE) {
    sd_error ("export: %s: size must be at least 4096 bytes", name);
    return NULL;
  }
  export_spec_limits (spec, &lim);
  if (declared && (export_check_reserve_size (name, lim.reserve, size) == -1 ||
                   pool_check_limits (pool, name, &lim) == -1))
    return NULL;
  if (pool_export (pool, name, &size, &lim, declared, &id) == -1)
    return NULL;
  if (!declared)
    export_keep_reserve (pool, name, &lim);
  exp = calloc (1, sizeof *exp);
  if (exp == NULL || (exp->name = strdup (name)) == NULL ||
      (exp->map = map_create (size >> SD_PAGE_SHIFT)) == NULL) {
    sd_error ("export: %s: %m", name);
    if (exp)
      free (exp->name);
    free (exp);
    return NULL;
  }
  exp->pool = pool;
  atomic_init (&exp->size, size);
  stripes_init (&exp->stripes);
  export_tenant_init (exp, id, &lim);
  if (pool_add_tenant (pool, &exp->tenant) == -1) {
    sd_error ("export: %s: %m", name);
    export_destroy (exp);
    return NULL;
  }
  exp->registered = true;
  return exp;
}

struct export *
export_create (struct pool *pool, const char *name, uint64_t size)
{
  struct exportspec spec = { .name = (char *) name, .size = size };

  return create (pool, &spec, false);
}

struct export *
export_create_spec (struct pool *pool, const struct exportspec *spec)
{
  return create (pool, spec, true);
}

static int
free_entry (export_page_t page, map_entry_t entry, void *opaque)
{
  struct export *exp = opaque;

  if (map_entry_slot (entry))
    pool_free (exp->pool, map_entry_slot (entry), 1);
  return 0;
}

void
export_destroy (struct export *exp)
{
  if (exp == NULL)
    return;
  if (exp->registered)
    pool_remove_tenant (exp->pool, &exp->tenant);
  map_foreach (exp->map, free_entry, exp);
  map_destroy (exp->map);
  stripes_fini (&exp->stripes);
  free (exp->name);
  free (exp);
}

uint64_t
export_size (const struct export *exp)
{
  return atomic_load_explicit (&((struct export *) exp)->size,
                               memory_order_acquire);
}

const char *
export_name (const struct export *exp)
{
  return exp->name;
}

size_t
export_map_bytes (const struct export *exp)
{
  return map_bytes (exp->map);
}

/* An entry that names a slot holding the page's data. */
static bool
is_slot (map_entry_t e)
{
  return e != MAP_UNMAPPED && e != MAP_LOST;
}

/* Bytes from (page, skip) that form one device I/O: the first page
 * holds slot e on dev; following pages join while their slots follow
 * on, on the same device.  At most count.
 */
static uint64_t
mapped_run (struct export *exp, export_page_t page, uint64_t skip,
            uint64_t count, map_entry_t e, const struct swapdev *dev)
{
  drum_slot_t slot = map_entry_slot (e);
  drum_slot_t dev_end = dev->drumoffset + dev->npages;
  uint64_t n = SD_PAGE_SIZE - skip;

  while (n < count && slot + 1 < dev_end &&
         map_get (exp->map, page + 1) == slot + 1) {
    page++;
    slot++;
    n += SD_PAGE_SIZE;
  }
  return n < count ? n : count;
}

/* Bytes from (page, skip) whose pages are all unmapped (zero_only),
 * or else all unmapped or lost and whole.  At most count.
 */
static uint64_t
unmapped_run (struct export *exp, export_page_t page, uint64_t skip,
              uint64_t count, bool zero_only)
{
  uint64_t n = SD_PAGE_SIZE - skip;

  while (n < count) {
    map_entry_t e = map_get (exp->map, page + 1);
    if (zero_only ? e != MAP_UNMAPPED
                  : is_slot (e) || count - n < SD_PAGE_SIZE)
      break;
    page++;
    n += SD_PAGE_SIZE;
  }
  return n < count ? n : count;
}

/* The device that owns slot, which the map or the pool gave for page.
 * => returns it, or NULL with errno EIO after reporting: a slot with no
 *    device is a bug, never a reason to read or write elsewhere.
 */
static struct swapdev *
slot_device (struct export *exp, const char *what, export_page_t page,
             drum_slot_t slot)
{
  struct swapdev *dev = pool_getsdp (exp->pool, slot);

  if (dev == NULL) {
    errno = EIO;
    sd_error ("%s: export page %" PRIu64 ": slot %" PRIu64
              " has no device (bug)", what, page, slot);
  }
  return dev;
}

/* Read one run of mapped pages.  => returns bytes read, or -1. */
static int64_t
read_mapped (struct export *exp, char *buf, export_page_t page,
             uint64_t skip, uint64_t count, map_entry_t e)
{
  drum_slot_t slot = map_entry_slot (e);
  struct swapdev *dev = slot_device (exp, "read", page, slot);
  uint64_t n;

  if (dev == NULL)
    return -1;
  n = mapped_run (exp, page, skip, count, e, dev);
  if (swapdev_read (dev, buf, slot - dev->drumoffset, skip, n) == -1) {
    sd_error ("read: export page %" PRIu64 ": %s page %" PRIu64 ": %m",
              page, dev->path, slot - dev->drumoffset);
    pool_note_error (exp->pool, dev);
    errno = EIO;
    return -1;
  }
  return n;
}

/* => caller holds the stripes of the range shared. */
static int
read_range (struct export *exp, char *buf, uint64_t count, uint64_t offset)
{
  while (count > 0) {
    export_page_t page = offset >> SD_PAGE_SHIFT;
    uint64_t skip = offset & PAGE_MASK;
    map_entry_t e = map_get (exp->map, page);
    int64_t n;

    if (e == MAP_UNMAPPED && export_suspect (exp)) {
      errno = EIO;
      sd_error ("read: export %s page %" PRIu64 ": not written since a "
                "host crash lost writes (swapdrumctl -Z trusts the export "
                "again)", exp->name, page);
      return -1;
    }
    else if (e == MAP_UNMAPPED) {
      n = unmapped_run (exp, page, skip, count, true);
      memset (buf, 0, n);
    }
    else if (e == MAP_LOST) {
      errno = EIO;
      sd_error ("read: export page %" PRIu64 ": lost with its device",
                page);
      return -1;
    }
    else if ((n = read_mapped (exp, buf, page, skip, count, e)) == -1)
      return -1;
    buf += n;
    offset += n;
    count -= n;
  }
  return 0;
}

void
export_drop_slot (struct export *exp, struct swapdev *dev, drum_slot_t slot)
{
  if (atomic_load (&dev->offline))
    pool_free (exp->pool, slot, 1);
  else
    pool_markbad (exp->pool, slot);
}

void
export_drop_recorded (struct export *exp, struct swapdev *dev,
                      drum_slot_t slot)
{
  /* The page's new slot has a newer record, which wins at recovery;
   * clearing the old one keeps a later trim of the page from bringing
   * the old data back.
   */
  if (swapdev_clear_records (dev, slot - dev->drumoffset, 1) == -1)
    sd_error ("write: %s page %" PRIu64 ": clearing its record: %m: a "
              "recovery may find the page's old data there if the page "
              "is trimmed", dev->path, slot - dev->drumoffset);
  export_drop_slot (exp, dev, slot);
}

int
export_store (struct export *exp, struct swapdev *dev, drum_slot_t slot,
              export_page_t page, uint64_t n, const void *data, bool fua)
{
  if (swapdev_write (dev, data, slot - dev->drumoffset, 0,
                     n * SD_PAGE_SIZE, fua) == -1)
    return -1;
  /* The caller has the device already: no second drum search. */
  return swapdev_put_records (dev, slot - dev->drumoffset, n,
                              pool_next_seq (exp->pool), exp->tenant.id,
                              page, fua);
}

/* Take one fresh slot and write a whole page there, marking slots that
 * fail bad and trying others.
 * => returns 0 with *slotp set, or -1 (ENOSPC or EIO) after reporting.
 */
int
export_new_slot (struct export *exp, export_page_t page, const void *data,
                 bool fua, bool charge, drum_slot_t *slotp)
{
  bool charged = false;
  int i;

  for (i = 0; i < MAX_RELOCATIONS; i++) {
    struct swapdev *dev;
    drum_slot_t slot;

    if (export_alloc (exp, "write", page, 1, charge && !charged,
                      &slot) == 0)
      goto err;
    charged |= charge;
    dev = slot_device (exp, "write", page, slot);
    if (dev == NULL)
      goto err;
    if (export_store (exp, dev, slot, page, 1, data, fua) == 0) {
      *slotp = slot;
      return 0;
    }
    sd_debug ("write: %s page %" PRIu64 ": %m: trying another slot",
              dev->path, slot - dev->drumoffset);
    pool_note_error (exp->pool, dev);
    export_drop_slot (exp, dev, slot);
  }
  errno = EIO;
  sd_error ("write: export page %" PRIu64 ": %d slots failed", page, i);
 err:
  if (charged)
    export_uncharge (exp, 1);
  return -1;
}

/* Map page to slot, which holds the page's new data, if the page is
 * still unmapped or lost.  If another writer mapped it first, give the
 * slot back and write this request's piece of the page over the
 * winner's slot instead: that recurses into export_write_range, where
 * the page is now mapped, so it is an overwrite (write_mapped), which
 * comes back here only through relocate, after yet another writer
 * changed the page.  Each level needs a lost race; none holds a lock.
 */
static int
install (struct export *exp, export_page_t page, drum_slot_t slot,
         const char *piece, uint64_t skip, uint64_t len, bool fua)
{
  map_entry_t cur = map_get (exp->map, page);

  /* The page was charged (pool_alloc_for): the charge stays with the
   * mapping, or goes back with the slot.
   */
  while (!is_slot (cur)) {
    int r = map_cas (exp->map, page, &cur, slot);
    if (r == 1)
      return 0;
    if (r == -1) {
      export_uncharge (exp, 1);
      pool_release (exp->pool, slot, 1);
      sd_error ("write: export page %" PRIu64 ": map: %m", page);
      return -1;
    }
  }
  export_uncharge (exp, 1);
  pool_release (exp->pool, slot, 1);
  return export_write_range (exp, piece, len,
                             (page << SD_PAGE_SHIFT) + skip, fua);
}

/* A write to the mapped slot `e` failed: put the page's new contents
 * (the old page with this piece over it) on a good slot, then mark
 * the old slot bad (the seed's uvm_swap_markbad).  If another writer
 * changed the page meanwhile, give the fresh slot back and write the
 * piece again through export_write_range (recursion: see install).
 */
static int
relocate (struct export *exp, export_page_t page, map_entry_t e,
          const char *piece, uint64_t skip, uint64_t len, bool fua)
{
  char full[SD_PAGE_SIZE];
  drum_slot_t old = map_entry_slot (e), slot;
  struct swapdev *odev = slot_device (exp, "write", page, old);
  map_entry_t cur = e;

  if (odev == NULL)
    return -1;
  if (len < SD_PAGE_SIZE &&
      swapdev_read (odev, full, old - odev->drumoffset, 0,
                    SD_PAGE_SIZE) == -1) {
    errno = EIO;
    sd_error ("write: export page %" PRIu64 ": %s page %" PRIu64
              ": cannot read the rest of the page: %m",
              page, odev->path, old - odev->drumoffset);
    return -1;
  }
  memcpy (full + skip, piece, len);
  if (export_new_slot (exp, page, full, fua, false, &slot) == -1)
    return -1;
  if (map_cas (exp->map, page, &cur, slot) == 1) {
    export_drop_recorded (exp, odev, old);
    return 0;
  }
  pool_release (exp->pool, slot, 1);
  return export_write_range (exp, piece, len,
                             (page << SD_PAGE_SHIFT) + skip, fua);
}

/* Write one run of mapped pages; after an error, page by page. */
static int64_t
write_mapped (struct export *exp, const char *buf, export_page_t page,
              uint64_t skip, uint64_t count, map_entry_t e, bool fua)
{
  drum_slot_t slot = map_entry_slot (e);
  struct swapdev *dev = slot_device (exp, "write", page, slot);
  uint64_t n, done;

  if (dev == NULL)
    return -1;
  n = mapped_run (exp, page, skip, count, e, dev);
  if (swapdev_write (dev, buf, slot - dev->drumoffset, skip, n, fua) == 0)
    return n;
  pool_note_error (exp->pool, dev);
  for (done = 0; done < n; page++, slot++, skip = 0) {
    uint64_t len = SD_PAGE_SIZE - skip;
    if (len > n - done)
      len = n - done;
    if (swapdev_write (dev, buf + done, slot - dev->drumoffset, skip,
                       len, fua) == -1 &&
        relocate (exp, page, slot, buf + done, skip, len, fua) == -1)
      return -1;
    done += len;
  }
  return n;
}

/* Retry one whole page of a run whose write failed on its own slot:
 * if that fails too, mark the slot bad and take a fresh one.  The page
 * is charged; its charge is given back if it ends unmapped.
 */
static int
place_page (struct export *exp, export_page_t page, drum_slot_t slot,
            const char *data, bool fua)
{
  struct swapdev *dev = slot_device (exp, "write", page, slot);

  if (dev == NULL)
    return -1;
  if (export_store (exp, dev, slot, page, 1, data, fua) == -1) {
    pool_note_error (exp->pool, dev);
    export_drop_slot (exp, dev, slot);
    if (export_new_slot (exp, page, data, fua, false, &slot) == -1) {
      export_uncharge (exp, 1);
      return -1;
    }
  }
  return install (exp, page, slot, data, 0, SD_PAGE_SIZE, fua);
}

/* Write whole pages that have no slot: allocate a run charged to the
 * quota (as long as the pool gives), write it with one I/O, then map
 * the pages.
 */
static int64_t
write_new (struct export *exp, const char *buf, export_page_t page,
           uint64_t npages, bool fua)
{
  uint64_t n, i;
  drum_slot_t slot;
  struct swapdev *dev;

  n = export_alloc (exp, "write", page, npages, true, &slot);
  if (n == 0)
    return -1;
  dev = slot_device (exp, "write", page, slot);
  if (dev == NULL) {
    export_uncharge (exp, n);
    pool_free (exp->pool, slot, n);
    return -1;
  }
  if (export_store (exp, dev, slot, page, n, buf, fua) == -1) {
    pool_note_error (exp->pool, dev);
    /* Find the slots that fail, page by page: they are marked bad and
     * never handed out again; their pages go to fresh slots.
     */
    for (i = 0; i < n; i++)
      if (place_page (exp, page + i, slot + i, buf + i * SD_PAGE_SIZE,
                      fua) == -1)
        goto err_free_rest;
    return n * SD_PAGE_SIZE;
  }
  for (i = 0; i < n; i++)
    if (install (exp, page + i, slot + i, buf + i * SD_PAGE_SIZE, 0,
                 SD_PAGE_SIZE, fua) == -1)
      goto err_free_rest;
  return n * SD_PAGE_SIZE;

 err_free_rest:
  /* Page i's slot is already freed or marked bad, and its charge given
   * back; the slots after it were never mapped, so nothing else would
   * ever give them (or their charges) back.
   */
  if (i + 1 < n) {
    export_uncharge (exp, n - i - 1);
    pool_release (exp->pool, slot + i + 1, n - i - 1);
  }
  return -1;
}

/* Write part of a page that has no slot: zeros around the piece. */
static int64_t
write_new_partial (struct export *exp, const char *buf, export_page_t page,
                   uint64_t skip, uint64_t len, map_entry_t e, bool fua)
{
  char full[SD_PAGE_SIZE] = { 0 };
  drum_slot_t slot;

  if (e == MAP_LOST || export_suspect (exp)) {
    errno = EIO;
    sd_error ("write: export page %" PRIu64 ": %s; only a whole-page write "
              "can replace it", page,
              e == MAP_LOST ? "lost with its device"
                            : "not written since a host crash lost writes");
    return -1;
  }
  memcpy (full + skip, buf, len);
  if (export_new_slot (exp, page, full, fua, true, &slot) == -1)
    return -1;
  if (install (exp, page, slot, buf, skip, len, fua) == -1)
    return -1;
  return len;
}

int
export_write_range (struct export *exp, const char *buf, uint64_t count,
                    uint64_t offset, bool fua)
{
  while (count > 0) {
    export_page_t page = offset >> SD_PAGE_SHIFT;
    uint64_t skip = offset & PAGE_MASK;
    map_entry_t e = map_get (exp->map, page);
    int64_t n;

    if (is_slot (e))
      n = write_mapped (exp, buf, page, skip, count, e, fua);
    else if (skip == 0 && count >= SD_PAGE_SIZE) {
      n = unmapped_run (exp, page, 0, count, false);
      n = write_new (exp, buf, page, n >> SD_PAGE_SHIFT, fua);
    }
    else {
      n = SD_PAGE_SIZE - skip < count ? SD_PAGE_SIZE - skip : count;
      n = write_new_partial (exp, buf, page, skip, n, e, fua);
    }
    if (n == -1)
      return -1;
    buf += n;
    offset += n;
    count -= n;
  }
  return 0;
}

/* Pages [first, last] touched by a byte range (count > 0). */
static void
page_span (uint64_t count, uint64_t offset, export_page_t *first,
           uint64_t *n)
{
  *first = offset >> SD_PAGE_SHIFT;
  *n = ((offset + count - 1) >> SD_PAGE_SHIFT) - *first + 1;
}

int
export_check_bounds (const struct export *exp, const char *what, uint64_t count,
              uint64_t offset)
{
  uint64_t size = export_size (exp);

  if (offset > size || count > size - offset) {
    errno = EINVAL;
    sd_error ("%s: %s: %" PRIu64 "+%" PRIu64 " is beyond the end (%"
              PRIu64 ")", what, exp->name, offset, count, size);
    return -1;
  }
  return 0;
}

int
export_pread (struct export *exp, void *buf, uint64_t count,
              uint64_t offset)
{
  export_page_t first;
  uint64_t n;
  int r;

  if (export_check_bounds (exp, "read", count, offset) == -1)
    return -1;
  if (count == 0)
    return 0;
  page_span (count, offset, &first, &n);
  stripes_rdlock (&exp->stripes, first, n);
  r = read_range (exp, buf, count, offset);
  stripes_unlock_range (&exp->stripes, first, n);
  return r;
}

int
export_pwrite (struct export *exp, const void *buf, uint64_t count,
               uint64_t offset, bool fua)
{
  export_page_t first;
  uint64_t n;
  int r;

  if (export_check_bounds (exp, "write", count, offset) == -1)
    return -1;
  if (count == 0)
    return 0;
  page_span (count, offset, &first, &n);
  stripes_rdlock (&exp->stripes, first, n);
  r = export_write_range (exp, buf, count, offset, fua);
  stripes_unlock_written (&exp->stripes, first, n);
  return r;
}

int
export_flush (struct export *exp)
{
  return pool_flush (exp->pool);
}

