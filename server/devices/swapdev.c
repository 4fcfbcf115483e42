/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The parts of a swap device every backend shares: construction, the
 * counters, the stamp and the page-addressed I/O wrappers, which pass
 * the maxactive gate (gate.c).
 */

#include <config.h>

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "storage/blist.h"
#include "devices/swapdev.h"
#include "swapdrum/log.h"

struct swapdev *
swapdev_alloc (const char *path, enum swapdev_kind kind,
               const struct swapdev_ops *ops, void *priv,
               unsigned maxactive)
{
  struct swapdev *dev;

  dev = calloc (1, sizeof *dev);
  if (dev == NULL) {
    sd_error ("swap: %s: %m", path);
    return NULL;
  }
  dev->fd = -1;
  dev->kind = kind;
  dev->ops = ops;
  dev->priv = priv;
  dev->maxactive = maxactive ? maxactive : SWAPDEV_MAXACTIVE;
  gate_init (&dev->gate, dev->maxactive);
  dev->path = strdup (path);
  if (dev->path == NULL) {
    sd_error ("swap: %s: %m", path);
    dev->ops = NULL;            /* the caller still owns priv */
    swapdev_free (dev);
    return NULL;
  }
  return dev;
}

int
swapdev_layout (struct swapdev *dev, uint64_t size, uint64_t skip)
{
  uint64_t pages = size / SD_PAGE_SIZE;

  if (pages < skip + 2 || pages - skip - 1 > BLIST_MAX_PAGES) {
    errno = pages < skip + 2 ? EINVAL : EFBIG;
    sd_error ("swap: %s: size %" PRIu64 " bytes: need %" PRIu64 " to %"
              PRIu64 " pages of 4096 bytes", dev->path, size, skip + 2,
              skip + 1 + BLIST_MAX_PAGES);
    return -1;
  }
  dev->stamp_offset = skip * SD_PAGE_SIZE;
  dev->data_offset = (skip + 1) * SD_PAGE_SIZE;
  dev->npages = pages - skip - 1;
  return 0;
}

struct swapdev *
swapdev_new (const char *path, const char *ident,
             const struct swapdev_ops *ops, void *priv, uint64_t size,
             unsigned maxactive)
{
  struct swapdev *dev;

  dev = swapdev_alloc (path, SWAPDEV_TEST, ops, priv, maxactive);
  if (dev == NULL)
    return NULL;
  dev->ident = strdup (ident);
  if (dev->ident == NULL) {
    sd_error ("swap: %s: %m", path);
    goto err;
  }
  if (swapdev_layout (dev, size, 0) == -1)
    goto err;
  return dev;

 err:
  dev->ops = NULL;              /* the caller still owns priv */
  swapdev_free (dev);
  return NULL;
}

void
swapdev_free (struct swapdev *dev)
{
  if (dev == NULL)
    return;
  if (dev->ops && dev->ops->close)
    dev->ops->close (dev);
  blist_destroy (dev->blist);
  gate_destroy (&dev->gate);
  free (dev->path);
  free (dev->ident);
  free (dev);
}

const char *
swapdev_kind_name (const struct swapdev *dev)
{
  return dev->ops->kind_name;
}

/* Count the outcome of one I/O for the FAILED logic.  A success
 * stores only when there was a run of errors to end: every I/O from
 * every thread passes here, and an unconditional store would bounce
 * the counter's cache line between them.
 */
static void
note_result (struct swapdev *dev, int r, _Atomic uint64_t *errors)
{
  if (r == 0) {
    if (atomic_load_explicit (&dev->error_run, memory_order_relaxed) != 0)
      atomic_store_explicit (&dev->error_run, 0, memory_order_relaxed);
  }
  else {
    atomic_fetch_add (errors, 1);
    atomic_fetch_add (&dev->error_run, 1);
  }
}

bool
swapdev_failing (const struct swapdev *dev)
{
  return atomic_load (&dev->error_run) >= SWAPDEV_FAIL_AFTER ||
    atomic_load (&dev->offline);
}

void
swapdev_set_online (struct swapdev *dev, bool online)
{
  if (online)
    atomic_store (&dev->error_run, 0);
  atomic_store (&dev->offline, !online);
}

int
swapdev_read (struct swapdev *dev, void *buf, dev_page_t page,
              uint64_t skip, uint64_t count)
{
  uint64_t offset = dev->data_offset + page * SD_PAGE_SIZE + skip;
  int r, saved_errno;

  if (atomic_load (&dev->offline)) {
    atomic_fetch_add (&dev->read_errors, 1);
    errno = EIO;
    return -1;
  }
  gate_enter (&dev->gate);
  r = dev->ops->pread (dev, buf, count, offset);
  saved_errno = errno;
  gate_leave (&dev->gate);
  atomic_fetch_add_explicit (&dev->nreads, 1, memory_order_relaxed);
  if (r == 0)
    atomic_fetch_add_explicit (&dev->bytes_read, count,
                               memory_order_relaxed);
  note_result (dev, r, &dev->read_errors);
  errno = saved_errno;
  return r;
}

int
swapdev_write (struct swapdev *dev, const void *buf, dev_page_t page,
               uint64_t skip, uint64_t count, bool fua)
{
  uint64_t offset = dev->data_offset + page * SD_PAGE_SIZE + skip;
  int r, saved_errno;

  if (atomic_load (&dev->offline)) {
    atomic_fetch_add (&dev->write_errors, 1);
    errno = EIO;
    return -1;
  }
  gate_enter (&dev->gate);
  r = dev->ops->pwrite (dev, buf, count, offset, fua);
  saved_errno = errno;
  gate_leave (&dev->gate);
  /* Mark the device dirty once the data is in the backend: a flush
   * that starts after this write completed then sees the flag (set
   * here, or still set by an earlier write, since whoever clears it
   * flushes after clearing).  Marking it before the write let a flush
   * racing with the write clear the flag before the data arrived, and
   * the next flush skipped the device.  Store only on a change: every
   * write passes here.
   */
  if (r == 0 && !fua && !atomic_load (&dev->dirty))
    atomic_store (&dev->dirty, true);
  atomic_fetch_add_explicit (&dev->nwrites, 1, memory_order_relaxed);
  if (r == 0)
    atomic_fetch_add_explicit (&dev->bytes_written, count,
                               memory_order_relaxed);
  note_result (dev, r, &dev->write_errors);
  errno = saved_errno;
  return r;
}

int
swapdev_discard (struct swapdev *dev, dev_page_t page, uint64_t n)
{
  int r;

  if (dev->ops->discard == NULL || atomic_load (&dev->offline))
    return 0;
  gate_enter (&dev->gate);
  r = dev->ops->discard (dev, n * SD_PAGE_SIZE,
                         dev->data_offset + page * SD_PAGE_SIZE);
  gate_leave (&dev->gate);
  return r;
}

int
swapdev_flush (struct swapdev *dev)
{
  int r;

  if (atomic_load (&dev->offline))
    return 0;                   /* nothing it holds can be made safer */
  if (!atomic_exchange (&dev->dirty, false))
    return 0;
  gate_enter (&dev->gate);
  r = dev->ops->flush (dev);
  gate_leave (&dev->gate);
  if (r == -1) {
    atomic_store (&dev->dirty, true);
    sd_error ("flush: %s: %m", dev->path);
  }
  return r;
}

/* Encode the stamp into a page buffer, little endian. */
static void
stamp_encode (const struct swapdev_stamp *st, unsigned char *page)
{
  struct swapdev_stamp le = *st;

  le.version = htole32 (st->version);
  le.page_size = htole32 (st->page_size);
  le.device_id = htole64 (st->device_id);
  le.generation = htole64 (st->generation);
  le.npages = htole64 (st->npages);
  memset (page, 0, SD_PAGE_SIZE);
  memcpy (page, &le, sizeof le);
}

int
swapdev_write_stamp (struct swapdev *dev, const uint8_t pool_id[16],
                     uint64_t device_id, uint64_t generation)
{
  unsigned char page[SD_PAGE_SIZE];
  struct swapdev_stamp *st = &dev->stamp;

  memset (st, 0, sizeof *st);
  memcpy (st->magic, SWAPDEV_MAGIC, sizeof st->magic);
  st->version = SWAPDEV_STAMP_VERSION;
  st->page_size = SD_PAGE_SIZE;
  memcpy (st->pool_id, pool_id, sizeof st->pool_id);
  st->device_id = device_id;
  st->generation = generation;
  st->npages = dev->npages;
  stamp_encode (st, page);
  if (dev->ops->pwrite (dev, page, SD_PAGE_SIZE, dev->stamp_offset,
                        true) == -1) {
    sd_error ("swap: %s: writing the stamp: %m", dev->path);
    return -1;
  }
  return 0;
}

int
swapdev_check_stamp (struct swapdev *dev)
{
  unsigned char want[SD_PAGE_SIZE], have[SD_PAGE_SIZE];

  if (dev->ops->pread (dev, have, SD_PAGE_SIZE, dev->stamp_offset) == -1) {
    sd_error ("swap: %s: reading the stamp: %m", dev->path);
    return -1;
  }
  stamp_encode (&dev->stamp, want);
  return memcmp (want, have, SD_PAGE_SIZE) == 0;
}
