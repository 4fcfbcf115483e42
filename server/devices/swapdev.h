/* swapdrum: a swap device.
 *
 * A swap device is a backend (a regular file, a block device, a remote
 * NBD export) behind a small vtable, plus what the pool keeps about
 * it: its drum range, its free-page allocator, counters, flags,
 * priority and in-flight limit (maxactive).
 *
 * Each kind has one constructor (swapdev_open_local, swapdev_open_nbd,
 * and swapdev_new for the unit tests' backends), built from the same
 * two shared steps: swapdev_alloc, then swapdev_layout.
 *
 * Layout on the backend (storage/format.h, docs/design.md "On-device
 * format"): [skip] [stamp] [pool table A, B] [records] [data]; device
 * page p lives at data_offset + p*4096, its record at records_offset +
 * p*16.
 *
 * Locking (no I/O under the pool lock; the gate's lock is a leaf,
 * never taken with the pool lock held):
 *   - fields under "constant" are set before the device joins the pool
 *     and never change;
 *   - fields under "pool" belong to the pool and are read and written
 *     only with the pool lock held (see pool.c);
 *   - the maxactive gate (gate.h) is lock-free while it has room and
 *     takes its own lock only when I/Os must wait;
 *   - counters are atomics, read without locks for stats.
 *
 * Pointer parameters must not be NULL where the function is marked
 * SD_NONNULL (nonnull.h); the destructors accept NULL.
 */

#ifndef SWAPDRUM_SWAPDEV_H
#define SWAPDRUM_SWAPDEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/gate.h"
#include "storage/format.h"
#include "storage/page.h"
#include "swapdrum/devspec.h"
#include "swapdrum/nonnull.h"

enum swapdev_kind {
  SWAPDEV_FILE,
  SWAPDEV_BLOCK,
  SWAPDEV_NBD,             /* a remote NBD export, through libnbd */
  SWAPDEV_TEST,            /* a backend supplied by a unit test */
};

/* Flags, as the seed's SWF_*. */
#define SWF_INUSE   0x01   /* in the pool, holding a drum range */
#define SWF_ENABLE  0x02   /* takes new allocations */
#define SWF_FAKE    0x04   /* placeholder while being set up */
#define SWF_FAILED  0x08   /* kept failing: no new allocations */
#define SWF_DRAIN   0x10   /* swap-off: its pages are moving away */

/* maxactive when the caller asks for the default (0). */
#define SWAPDEV_MAXACTIVE 8

/* After this many I/O errors in a row a device is marked FAILED. */
#define SWAPDEV_FAIL_AFTER 8

/* Times a stamp or table I/O is tried before the device is given up:
 * a remote that fails one write in ten must not stop the server.
 */
#define SWAPDEV_META_TRIES 5

struct swapdev;

/* Backend operations.  Offsets and counts are bytes on the backend.
 * Each returns 0, or -1 with errno set (and reports nothing: the
 * caller reports once, with the device and slot).  pread and pwrite
 * must transfer everything or fail.
 */
struct swapdev_ops {
  const char *kind_name;
  int (*pread) (struct swapdev *dev, void *buf, uint64_t count,
                uint64_t offset);
  /* fua: the data must be on stable storage when this returns. */
  int (*pwrite) (struct swapdev *dev, const void *buf, uint64_t count,
                 uint64_t offset, bool fua);
  int (*flush) (struct swapdev *dev);
  /* Optional: tell the backend the range holds nothing (remote trim). */
  int (*discard) (struct swapdev *dev, uint64_t count, uint64_t offset);
  /* Optional: (re)connect a backend whose connection was lost.  The
   * device stays offline (swapdev_read/write fail) until the caller
   * has checked the stamp and calls swapdev_set_online.
   */
  int (*connect) (struct swapdev *dev);
  /* Release the backend.  Called once, from swapdev_free. */
  void (*close) (struct swapdev *dev);
};

struct swapdev {
  /* constant */
  char *path;                   /* as the operator gave it */
  char *ident;                  /* what it is: "dev:ino" (or a URI) */
  enum swapdev_kind kind;
  const struct swapdev_ops *ops;
  void *priv;                   /* the backend's own state */
  int fd;                       /* file and block backends, else -1 */
  int dfd;                      /* local devices with direct=true: the
                                   same object opened O_DIRECT, for
                                   aligned page I/O; else -1 */
  uint64_t stamp_offset;        /* byte offset of the stamp page */
  uint64_t table_offset;        /* byte offset of pool table copy A */
  uint64_t records_offset;      /* byte offset of page 0's record */
  uint64_t data_offset;         /* byte offset of device page 0 */
  uint64_t npages;              /* usable data pages */

  /* stamp_lock protects stamp and orders the stamp's writes: the
   * pool's setup and admin code change its fields and write it holding
   * the lock (through the swapdev_*stamp* and swapdev_write_table
   * functions), and so does the data path when it marks the device
   * dirty.  A leaf: no other lock is taken while it is held.
   */
  pthread_mutex_t stamp_lock;
  /* The stamp as last written (or read, before the pool adopts the
   * device).
   */
  struct sd_stamp stamp;

  /* Write intent (docs/design.md, "Host crashes"): on devices whose
   * writes sit in this host's page cache (intent true, constant), the
   * stamp says dirty, on stable storage, before any write lands after
   * a flush, and says clean again only after a flush that no write
   * overlapped.  stamp_dirty mirrors stamp.dirty for the data path,
   * which reads it without the lock; wr_begun and wr_done count the
   * writes begun and done (swapdev_flush's check, see swapdev.c).
   */
  bool intent;
  _Atomic bool stamp_dirty;
  _Atomic uint64_t wr_begun, wr_done;

  /* pool */
  drum_slot_t drumoffset;       /* first drum slot of the range */
  int priority;
  unsigned flags;               /* SWF_* */
  bool hold;                    /* a ctl is checking that no export's
                                   pages end outside its tiers: no new
                                   pages meanwhile */
  struct blist *blist;          /* free data pages */
  uint64_t npginuse;            /* pages handed out, excluding bad */
  uint64_t npgbad;              /* pages marked bad, never reused */

  /* the gate's own locking (gate.h): FIFO admission of at most
   * maxactive I/Os, and the peak in flight for stats
   */
  unsigned maxactive;           /* constant */
  struct gate gate;

  /* counters */
  _Atomic uint64_t nreads, nwrites;
  _Atomic uint64_t bytes_read, bytes_written;
  _Atomic uint64_t read_errors, write_errors;
  _Atomic unsigned error_run;   /* errors since the last success */
  _Atomic bool dirty;           /* written since the last flush */
  _Atomic bool offline;         /* connection lost: page I/O fails */
  _Atomic uint64_t reconnects;  /* times it came back */
  _Atomic uint64_t lost_pages;  /* pages it came back without */

  /* the pool's monitor thread only: reconnect backoff */
  int64_t retry_at_ms;
  unsigned backoff_ms;
};

/* Open a file or block device as a swap device (not yet in a pool).
 * Regular files are created if missing and spec->create_size is set,
 * and fully allocated with posix_fallocate (a file that cannot be is
 * refused); block devices are opened O_EXCL and skip page 0.
 * => returns the device with flags 0 and its stamp not yet written,
 *    or NULL after reporting "swap: PATH: reason".
 */
extern struct swapdev *swapdev_open_local (const struct devspec *spec)
  SD_NONNULL (1);

/* The identity the device at path would have ("file:DEV:INO",
 * "blk:MAJOR:MINOR"), to find it whatever its spelling.
 * => returns a malloc'd string, or NULL with errno set (no report).
 */
extern char *swapdev_path_ident (const char *path)
  SD_NONNULL (1);

/* The part every backend's constructor shares: a device called path,
 * of the given kind, over ops and priv, with no fd (-1) and the gate
 * open for maxactive I/Os (0: SWAPDEV_MAXACTIVE).  The caller fills in
 * the rest (ident, layout, fd) and frees the device with swapdev_free
 * if that fails; from here on swapdev_free calls ops->close.
 * => returns the device, or NULL after reporting "swap: PATH: reason"
 *    (the caller still owns priv).
 */
extern struct swapdev *swapdev_alloc (const char *path,
                                      enum swapdev_kind kind,
                                      const struct swapdev_ops *ops,
                                      void *priv, unsigned maxactive)
  SD_NONNULL (1, 3);

/* The layout every backend shares, over size bytes: `skip` pages left
 * alone (block devices: 1), then the stamp, the pool table, the
 * records and the data pages (sd_layout).  Sets the offsets and
 * npages.
 * => returns 0, or -1 after reporting "swap: PATH: reason" with errno
 *    EINVAL (no room for the stamp and one data page) or EFBIG (more
 *    data pages than BLIST_MAX_PAGES).
 */
extern int swapdev_layout (struct swapdev *dev, uint64_t size,
                           uint64_t skip)
  SD_NONNULL (1);

/* Build a device over a caller-supplied backend (unit tests), laid out
 * with no skip page.  `size` is the backend's size in bytes.
 * => returns NULL after reporting, on bad size or ENOMEM (the caller
 *    still owns priv).
 */
extern struct swapdev *swapdev_new (const char *path, const char *ident,
                                    const struct swapdev_ops *ops,
                                    void *priv, uint64_t size,
                                    unsigned maxactive)
  SD_NONNULL (1, 2, 3);

/* Open a remote NBD export (an nbd://, nbds://, nbd+unix:// ... URI)
 * as a swap device, with spec->maxactive connections (default 2) and
 * spec->timeout seconds per request.  A read-only or too small export,
 * or this server's own export, is refused.
 * => returns the device, or NULL after reporting "swap: URI: reason".
 */
extern struct swapdev *swapdev_open_nbd (const struct devspec *spec,
                                         const char *own_description)
  SD_NONNULL (1);

/* The identity of the remote export at uri (as libnbd normalises it,
 * nbd_get_uri): "nbd:" and the URI less what only says how to get in
 * (TLS: nbds becomes nbd; the user name; tls-* parameters), its socket
 * path made canonical.  So the same export named with another key
 * file, another parameter order or another spelling of its socket is
 * refused as the device it already is.  Touches nothing but realpath:
 * the device spec fuzzer reaches it without a network.
 * => returns a malloc'd string, or NULL (ENOMEM).
 */
extern char *swapdev_nbd_ident (const char *uri)
  SD_NONNULL (1);

/* Mark the device offline (its connection is gone: page I/O fails
 * with EIO at once) or online again.
 */
extern void swapdev_set_online (struct swapdev *dev, bool online)
  SD_NONNULL (1);

/* Close the backend and free the device.  Accepts NULL.  The device
 * must not be in a pool.
 */
extern void swapdev_free (struct swapdev *dev);

/* Write dev->stamp (with stamp_gen bumped first) to the stamp page,
 * with FUA, trying up to SWAPDEV_META_TRIES times, holding stamp_lock.
 * => returns 0, or -1 after reporting "swap: PATH: writing the stamp:
 *    reason".
 */
extern int swapdev_write_stamp (struct swapdev *dev)
  SD_NONNULL (1);

/* Set the stamp's state (SD_STATE_*), boot id (unless NULL) and
 * seq_high, with dirty set for ACTIVE and clear otherwise, holding
 * stamp_lock; nothing is written (swapdev_write_stamp, or the next
 * swapdev_write_table, writes it).
 */
extern void swapdev_set_state (struct swapdev *dev, uint32_t state,
                               const uint8_t boot_id[16],
                               uint64_t seq_high)
  SD_NONNULL (1);

/* Read and decode the stamp page (trying I/O errors up to
 * SWAPDEV_META_TRIES times), and check it against the device's layout.
 * => returns 1 with *st set; 0 if the page is all zeros (never
 *    formatted); -1 after reporting "swap: PATH: reason" (I/O error,
 *    not ours, corrupt, another version, size changed).
 */
extern int swapdev_read_stamp (struct swapdev *dev, struct sd_stamp *st)
  SD_NONNULL (1, 2);

/* Read the stamp page back and compare it with dev->stamp.
 * => returns 1 if it matches, 0 if missing or different, -1 on I/O
 *    error (reported).
 */
extern int swapdev_check_stamp (struct swapdev *dev)
  SD_NONNULL (1);

/* Write the pool table (len bytes of JSON, at most SD_TABLE_MAX) as
 * generation gen: into the copy the stamp does not point at, then the
 * stamp pointing at it, both with FUA.  A crash in between leaves the
 * old table in force.
 * => returns 0, or -1 after reporting (EFBIG: the table is too big).
 */
extern int swapdev_write_table (struct swapdev *dev, const char *json,
                                size_t len, uint64_t gen)
  SD_NONNULL (1, 2);

/* Read the pool table the stamp st points at and check its checksum.
 * => returns a malloc'd NUL-terminated string of st->table_len bytes,
 *    or NULL after reporting "swap: PATH: reason".
 */
extern char *swapdev_read_table (struct swapdev *dev,
                                 const struct sd_stamp *st)
  SD_NONNULL (1, 2);

/* Write the records of device pages [page, page + n): page + i holds
 * export page first + i of export export_id, since sequence seq.  One
 * I/O through the maxactive gate; fua as for data.
 * => returns 0, or -1 with errno set (not reported; counted as a write
 *    error of the device).
 */
extern int swapdev_put_records (struct swapdev *dev, dev_page_t page,
                                uint64_t n, uint64_t seq,
                                uint16_t export_id, export_page_t first,
                                bool fua)
  SD_NONNULL (1);

/* Clear the records of device pages [page, page + n) (they hold
 * nothing).  => returns 0, or -1 with errno set (not reported).
 */
extern int swapdev_clear_records (struct swapdev *dev, dev_page_t page,
                                  uint64_t n)
  SD_NONNULL (1);

/* Read the raw records of device pages [page, page + n) into buf
 * (n * SD_RECORD_SIZE bytes), trying I/O errors up to
 * SWAPDEV_META_TRIES times.  Not through the gate: for recovery.
 * => returns 0, or -1 after reporting.
 */
extern int swapdev_read_records (struct swapdev *dev, dev_page_t page,
                                 uint64_t n, unsigned char *buf)
  SD_NONNULL (1, 4);

/* Read or write `n` whole pages starting at device page `page`,
 * waiting at the maxactive gate and counting the I/O.  `skip` and
 * `count` select bytes inside that span (for partial pages): the I/O
 * covers bytes [page*4096 + skip, page*4096 + skip + count).
 * => returns 0, or -1 with errno set; does not report (the caller
 *    knows which export page failed).  Errors feed the FAILED logic.
 */
extern int swapdev_read (struct swapdev *dev, void *buf, dev_page_t page,
                         uint64_t skip, uint64_t count)
  SD_NONNULL (1, 2);
extern int swapdev_write (struct swapdev *dev, const void *buf,
                          dev_page_t page, uint64_t skip, uint64_t count,
                          bool fua)
  SD_NONNULL (1, 2);

/* Bracket writes to dev: between begin and end the device says dirty
 * on stable storage (on an intent device: begin writes the stamp if it
 * says clean) and no flush may say it clean.  Every data and record
 * write is bracketed inside; swap-off brackets a whole chunk, from
 * before its pages switch to new slots until their old records are
 * cleared (docs/design.md, "Host crashes").
 * => begin returns 0, or -1 with errno EIO after reporting (the stamp
 *    could not be written; nothing is bracketed, do not call end).
 */
extern int swapdev_intent_begin (struct swapdev *dev)
  SD_NONNULL (1);
extern void swapdev_intent_end (struct swapdev *dev)
  SD_NONNULL (1);

/* Flush the backend if it was written since the last flush.  On an
 * intent device whose stamp says dirty, flush even if not, and if no
 * write was in flight or began meanwhile, write the stamp saying clean
 * (a write that begins later says dirty again first).
 * => returns 0, or -1 after reporting.
 */
extern int swapdev_flush (struct swapdev *dev)
  SD_NONNULL (1);

/* Discard device pages [page, page + n) on the backend, if it can.
 * => returns 0 (also when the backend cannot), or -1 with errno set.
 */
extern int swapdev_discard (struct swapdev *dev, dev_page_t page,
                            uint64_t n)
  SD_NONNULL (1);

/* True once SWAPDEV_FAIL_AFTER errors in a row have been seen, or the
 * device went offline.
 */
extern bool swapdev_failing (const struct swapdev *dev)
  SD_NONNULL (1);

/* The kind as a word ("file", "block", ...). */
extern const char *swapdev_kind_name (const struct swapdev *dev)
  SD_NONNULL (1);

#endif /* SWAPDRUM_SWAPDEV_H */
