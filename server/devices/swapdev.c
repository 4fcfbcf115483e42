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
#include <unistd.h>

#include "storage/blist.h"
#include "devices/swapdev.h"
#include "swapdrum/cleanup.h"
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
  dev->dfd = -1;
  dev->kind = kind;
  dev->ops = ops;
  dev->priv = priv;
  dev->maxactive = maxactive ? maxactive : SWAPDEV_MAXACTIVE;
  gate_init (&dev->gate, dev->maxactive);
  pthread_mutex_init (&dev->stamp_lock, NULL);
  /* Page cache devices keep a durable dirty flag (the unit tests'
   * backends too, to test it).  Until the pool's first flush clears
   * it, the stamp counts as dirty: the pool's start writes it so.
   */
  dev->intent = kind != SWAPDEV_NBD;
  atomic_init (&dev->stamp_dirty, true);
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
  struct sd_layout l;
  int r = sd_layout (size, skip, &l);

  if (r == -1 || l.npages > BLIST_MAX_PAGES) {
    errno = r == -1 ? EINVAL : EFBIG;
    sd_error ("swap: %s: size %" PRIu64 " bytes: need %" PRIu64 " to %"
              PRIu64 " bytes", dev->path, size, sd_size_for (1, skip),
              sd_size_for (BLIST_MAX_PAGES, skip));
    return -1;
  }
  dev->stamp_offset = l.stamp_offset;
  dev->table_offset = l.table_offset;
  dev->records_offset = l.records_offset;
  dev->data_offset = l.data_offset;
  dev->npages = l.npages;
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
  pthread_mutex_destroy (&dev->stamp_lock);
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

static int write_stamp_locked (struct swapdev *dev);

/* Before a write lands on an intent device whose stamp says clean:
 * say dirty, on stable storage, first.  A write that cannot say so
 * fails (EIO) and is not attempted.
 * => caller counted the write in wr_begun.
 */
static int
mark_dirty (struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&dev->stamp_lock);

  if (dev->stamp.dirty) {       /* another writer said it first */
    atomic_store (&dev->stamp_dirty, true);
    return 0;
  }
  dev->stamp.dirty = 1;
  if (write_stamp_locked (dev) == -1) {
    /* The stamp on the device may say either: keep saying clean in
     * memory so that the next write tries again.
     */
    dev->stamp.dirty = 0;
    errno = EIO;
    return -1;
  }
  atomic_store (&dev->stamp_dirty, true);
  return 0;
}

int
swapdev_intent_begin (struct swapdev *dev)
{
  /* Counted before stamp_dirty is read, as swapdev_flush's clean
   * step stores stamp_dirty before it reads wr_begun: one of the two
   * sees the other (both sequentially consistent).
   */
  atomic_fetch_add (&dev->wr_begun, 1);
  if (dev->intent && !atomic_load (&dev->stamp_dirty) &&
      mark_dirty (dev) == -1) {
    atomic_fetch_add (&dev->wr_done, 1);
    return -1;
  }
  return 0;
}

void
swapdev_intent_end (struct swapdev *dev)
{
  atomic_fetch_add (&dev->wr_done, 1);
}

/* Write count bytes at byte offset of the backend through the gate,
 * saying dirty first where the device keeps write intent, marking it
 * for the next flush and feeding the FAILED logic: the part of a data
 * or record write that both share.  Data writes (data true) count in
 * nwrites and bytes_written.
 */
static int
gated_write (struct swapdev *dev, const void *buf, uint64_t count,
             uint64_t offset, bool fua, bool data)
{
  int r, saved_errno;

  if (atomic_load (&dev->offline)) {
    atomic_fetch_add (&dev->write_errors, 1);
    errno = EIO;
    return -1;
  }
  if (swapdev_intent_begin (dev) == -1) {
    atomic_fetch_add (&dev->write_errors, 1);
    return -1;
  }
  gate_enter (&dev->gate);
  r = dev->ops->pwrite (dev, buf, count, offset, fua);
  saved_errno = errno;
  gate_leave (&dev->gate);
  swapdev_intent_end (dev);
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
  if (data) {
    atomic_fetch_add_explicit (&dev->nwrites, 1, memory_order_relaxed);
    if (r == 0)
      atomic_fetch_add_explicit (&dev->bytes_written, count,
                                 memory_order_relaxed);
  }
  note_result (dev, r, &dev->write_errors);
  errno = saved_errno;
  return r;
}

int
swapdev_write (struct swapdev *dev, const void *buf, dev_page_t page,
               uint64_t skip, uint64_t count, bool fua)
{
  return gated_write (dev, buf, count,
                      dev->data_offset + page * SD_PAGE_SIZE + skip, fua,
                      true);
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

/* After a flush that began with every write begun so far (`begun`)
 * done: say clean on the device, unless a write began since.  The
 * store to stamp_dirty comes before the second read of wr_begun, so a
 * writer that began after that read sees stamp_dirty false and waits
 * for the lock to say dirty again.
 */
static int
mark_clean (struct swapdev *dev, uint64_t begun)
{
  SD_LOCK_FOR_SCOPE (&dev->stamp_lock);

  if (!dev->stamp.dirty || dev->stamp.state != SD_STATE_ACTIVE)
    return 0;
  atomic_store (&dev->stamp_dirty, false);
  if (atomic_load (&dev->wr_begun) != begun) {
    atomic_store (&dev->stamp_dirty, true);
    return 0;
  }
  dev->stamp.dirty = 0;
  /* On failure the stamp may say either; memory keeps saying clean,
   * so the next write says dirty again before it lands.
   */
  return write_stamp_locked (dev);
}

int
swapdev_flush (struct swapdev *dev)
{
  uint64_t begun = atomic_load (&dev->wr_begun);
  bool settled = atomic_load (&dev->wr_done) == begun;
  bool clean, need;
  int r;

  if (atomic_load (&dev->offline))
    return 0;                   /* nothing it holds can be made safer */
  need = atomic_exchange (&dev->dirty, false);
  /* Saying clean needs a flush of its own even if another thread's
   * flush took the dirty flag: that one may not have finished.
   */
  clean = dev->intent && settled && atomic_load (&dev->stamp_dirty);
  if (!need && !clean)
    return 0;
  gate_enter (&dev->gate);
  r = dev->ops->flush (dev);
  gate_leave (&dev->gate);
  if (r == -1) {
    atomic_store (&dev->dirty, true);
    sd_error ("flush: %s: %m", dev->path);
    return -1;
  }
  if (clean)
    return mark_clean (dev, begun);
  return 0;
}

/* One metadata I/O (stamp, table, records at startup), tried up to
 * SWAPDEV_META_TRIES times with a short pause between: metadata is
 * small and rare, and a remote that fails now and then should not
 * take the device, or the server's start, with it.
 */
static int
meta_io (struct swapdev *dev, void *buf, uint64_t count, uint64_t offset,
         bool write)
{
  int i, r = -1;

  for (i = 0; i < SWAPDEV_META_TRIES; i++) {
    if (i > 0)
      usleep (20000 << i);
    r = write ? dev->ops->pwrite (dev, buf, count, offset, true)
              : dev->ops->pread (dev, buf, count, offset);
    if (r == 0)
      return 0;
    if (errno != EIO && errno != EAGAIN && errno != EINTR &&
        errno != ETIMEDOUT)
      break;
  }
  return r;
}

/* => caller holds stamp_lock. */
static int
write_stamp_locked (struct swapdev *dev)
{
  unsigned char page[SD_PAGE_SIZE];

  dev->stamp.stamp_gen++;
  sd_stamp_encode (&dev->stamp, page);
  if (meta_io (dev, page, SD_PAGE_SIZE, dev->stamp_offset, true) == -1) {
    sd_error ("swap: %s: writing the stamp: %m", dev->path);
    return -1;
  }
  return 0;
}

int
swapdev_write_stamp (struct swapdev *dev)
{
  SD_LOCK_FOR_SCOPE (&dev->stamp_lock);

  return write_stamp_locked (dev);
}

void
swapdev_set_state (struct swapdev *dev, uint32_t state,
                   const uint8_t boot_id[16], uint64_t seq_high)
{
  SD_LOCK_FOR_SCOPE (&dev->stamp_lock);

  dev->stamp.state = state;
  if (boot_id)
    memcpy (dev->stamp.boot_id, boot_id, 16);
  dev->stamp.seq_high = seq_high;
  dev->stamp.dirty = state == SD_STATE_ACTIVE;
  atomic_store (&dev->stamp_dirty, dev->stamp.dirty);
}

int
swapdev_read_stamp (struct swapdev *dev, struct sd_stamp *st)
{
  unsigned char page[SD_PAGE_SIZE];
  struct sd_layout l = {
    .stamp_offset = dev->stamp_offset, .table_offset = dev->table_offset,
    .records_offset = dev->records_offset,
    .data_offset = dev->data_offset, .npages = dev->npages,
  };
  const char *why;
  int r;

  if (meta_io (dev, page, SD_PAGE_SIZE, dev->stamp_offset, false) == -1) {
    sd_error ("swap: %s: reading the stamp: %m", dev->path);
    return -1;
  }
  r = sd_stamp_decode (page, st, &why);
  if (r == 1 && sd_stamp_check_layout (st, &l, &why) == -1)
    r = -1;
  if (r == -1) {
    errno = EINVAL;
    sd_error ("swap: %s: %s", dev->path, why);
  }
  return r;
}

int
swapdev_check_stamp (struct swapdev *dev)
{
  unsigned char want[SD_PAGE_SIZE], have[SD_PAGE_SIZE];

  if (meta_io (dev, have, SD_PAGE_SIZE, dev->stamp_offset, false) == -1) {
    sd_error ("swap: %s: reading the stamp: %m", dev->path);
    return -1;
  }
  pthread_mutex_lock (&dev->stamp_lock);
  sd_stamp_encode (&dev->stamp, want);
  pthread_mutex_unlock (&dev->stamp_lock);
  return memcmp (want, have, SD_PAGE_SIZE) == 0;
}

int
swapdev_write_table (struct swapdev *dev, const char *json, size_t len,
                     uint64_t gen)
{
  SD_LOCK_FOR_SCOPE (&dev->stamp_lock);
  CLEANUP_FREE char *buf = NULL;
  uint32_t copy = dev->stamp.table_gen ? !dev->stamp.table_copy : 0;
  uint64_t span = (len + SD_PAGE_SIZE - 1) & ~(SD_PAGE_SIZE - 1);

  if (len > SD_TABLE_MAX) {
    errno = EFBIG;
    sd_error ("swap: %s: the pool table is %zu bytes, more than the %" PRIu32 " "
              "a device has room for (too many devices, or paths too "
              "long)", dev->path, len, SD_TABLE_MAX);
    return -1;
  }
  buf = calloc (1, span ? span : SD_PAGE_SIZE);
  if (buf == NULL) {
    sd_error ("swap: %s: %m", dev->path);
    return -1;
  }
  memcpy (buf, json, len);
  if (meta_io (dev, buf, span, dev->table_offset + copy * SD_TABLE_MAX,
               true) == -1) {
    sd_error ("swap: %s: writing the pool table: %m", dev->path);
    return -1;
  }
  dev->stamp.table_gen = gen;
  dev->stamp.table_copy = copy;
  dev->stamp.table_len = len;
  dev->stamp.table_crc = sd_crc32 (json, len);
  return write_stamp_locked (dev);
}

char *
swapdev_read_table (struct swapdev *dev, const struct sd_stamp *st)
{
  char *buf;

  buf = malloc (st->table_len + 1);
  if (buf == NULL) {
    sd_error ("swap: %s: %m", dev->path);
    return NULL;
  }
  if (st->table_len > 0 &&
      meta_io (dev, buf, st->table_len,
               dev->table_offset + st->table_copy * SD_TABLE_MAX,
               false) == -1) {
    sd_error ("swap: %s: reading the pool table: %m", dev->path);
    free (buf);
    return NULL;
  }
  if (sd_crc32 (buf, st->table_len) != st->table_crc) {
    errno = EINVAL;
    sd_error ("swap: %s: pool table checksum mismatch (torn or corrupt)",
              dev->path);
    free (buf);
    return NULL;
  }
  buf[st->table_len] = 0;
  return buf;
}

/* Write count bytes of records at byte offset off of the record area,
 * through the gate.
 */
static int
records_io (struct swapdev *dev, const void *buf, uint64_t count,
            uint64_t off, bool fua)
{
  return gated_write (dev, buf, count, dev->records_offset + off, fua,
                      false);
}

/* Records per stack buffer in put and clear. */
#define RECORD_CHUNK 256

int
swapdev_put_records (struct swapdev *dev, dev_page_t page, uint64_t n,
                     uint64_t seq, uint16_t export_id, export_page_t first,
                     bool fua)
{
  unsigned char buf[RECORD_CHUNK * SD_RECORD_SIZE];
  uint64_t i, k;

  while (n > 0) {
    k = n < RECORD_CHUNK ? n : RECORD_CHUNK;
    for (i = 0; i < k; i++) {
      struct sd_record rec = {
        .seq = seq, .export_id = export_id, .page = first + i,
      };
      sd_record_encode (&rec, dev->stamp.device_uuid, page + i,
                        buf + i * SD_RECORD_SIZE);
    }
    if (records_io (dev, buf, k * SD_RECORD_SIZE, page * SD_RECORD_SIZE,
                    fua) == -1)
      return -1;
    page += k;
    first += k;
    n -= k;
  }
  return 0;
}

int
swapdev_clear_records (struct swapdev *dev, dev_page_t page, uint64_t n)
{
  static const unsigned char zeros[RECORD_CHUNK * SD_RECORD_SIZE];
  uint64_t k;

  while (n > 0) {
    k = n < RECORD_CHUNK ? n : RECORD_CHUNK;
    if (records_io (dev, zeros, k * SD_RECORD_SIZE, page * SD_RECORD_SIZE,
                    false) == -1)
      return -1;
    page += k;
    n -= k;
  }
  return 0;
}

int
swapdev_read_records (struct swapdev *dev, dev_page_t page, uint64_t n,
                      unsigned char *buf)
{
  if (meta_io (dev, buf, n * SD_RECORD_SIZE,
               dev->records_offset + page * SD_RECORD_SIZE, false) == -1) {
    sd_error ("swap: %s: reading the records of pages %" PRIu64 "+%"
              PRIu64 ": %m", dev->path, page, n);
    return -1;
  }
  return 0;
}
