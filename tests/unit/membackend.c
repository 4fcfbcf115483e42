/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The in-memory swap device backend and log capture of the unit tests
 * (see membackend.h).
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "membackend.h"
#include "swapdrum/log.h"

struct membackend {
  /* lock: the buffer, the failure maps and the hold, so that one I/O
   * never sees half of another.
   */
  pthread_mutex_t lock;
  unsigned char *buf;
  uint64_t size;                /* bytes of buf */
  uint64_t stamp_offset;        /* copied from the device */
  uint64_t data_offset;
  uint64_t npages;              /* data pages */
  bool *fail_write;             /* [npages] */
  bool *fail_read;              /* [npages] */
  bool hold;                    /* I/O waits on hold_cond while set */
  pthread_cond_t hold_cond;
  bool connected;               /* remote: I/O reaches the buffer */
  bool down;                    /* remote: the server is away */

  /* Flags and counters: atomics, so tests can flip and read them
   * while I/O runs.
   */
  atomic_bool fail_stamp, fail_all_writes, fail_all_reads, fail_flush;
  atomic_uint delay_usec;
  _Atomic uint64_t nreads, nwrites, nflushes, out_of_bounds;
  atomic_uint inflight, peak;
  atomic_bool fail_connect;
  _Atomic uint64_t nconnects;
  atomic_uint *closes;          /* the test's close counter, or NULL */
};

/* True if [offset, offset + count) touches a page marked in map, or
 * the stamp when fail_stamp is set.  => caller holds mb->lock.
 */
static bool
range_fails (struct membackend *mb, const bool *map, bool stamp,
             uint64_t count, uint64_t offset)
{
  uint64_t end = offset + count, p, last;

  if (stamp && offset < mb->stamp_offset + SD_PAGE_SIZE &&
      end > mb->stamp_offset)
    return true;
  if (end <= mb->data_offset)
    return false;
  p = offset > mb->data_offset ? (offset - mb->data_offset) >> SD_PAGE_SHIFT
                               : 0;
  last = (end - 1 - mb->data_offset) >> SD_PAGE_SHIFT;
  for (; p <= last && p < mb->npages; p++)
    if (map[p])
      return true;
  return false;
}

/* Count an I/O in flight and keep the peak. */
static void
inflight_enter (struct membackend *mb)
{
  unsigned now = atomic_fetch_add (&mb->inflight, 1) + 1;
  unsigned peak = atomic_load (&mb->peak);

  while (now > peak &&
         !atomic_compare_exchange_weak (&mb->peak, &peak, now))
    ;
}

/* The connection is gone: fail as the real remote backend does, with
 * EIO, taking the device offline.  Call without mb->lock.
 */
static int
lost_connection (struct swapdev *dev)
{
  swapdev_set_online (dev, false);
  errno = EIO;
  return -1;
}

/* One read or write: delay, then copy under the lock unless a failure
 * is injected or the connection is gone.  => returns 0, or -1 with
 * errno EIO (or EINVAL for an I/O outside the buffer).
 */
static int
mb_io (struct swapdev *dev, void *buf, uint64_t count, uint64_t offset,
       bool write)
{
  struct membackend *mb = dev->priv;
  unsigned delay = atomic_load (&mb->delay_usec);
  int r = 0, err = 0;
  bool lost = false;

  atomic_fetch_add (write ? &mb->nwrites : &mb->nreads, 1);
  inflight_enter (mb);
  if (delay)
    usleep (delay);
  pthread_mutex_lock (&mb->lock);
  while (mb->hold)
    pthread_cond_wait (&mb->hold_cond, &mb->lock);
  if (!mb->connected)
    lost = true;
  else if (count > mb->size || offset > mb->size - count) {
    atomic_fetch_add (&mb->out_of_bounds, 1);
    r = -1, err = EINVAL;
  }
  else if (write ? atomic_load (&mb->fail_all_writes) ||
                   range_fails (mb, mb->fail_write,
                                atomic_load (&mb->fail_stamp), count, offset)
                 : atomic_load (&mb->fail_all_reads) ||
                   range_fails (mb, mb->fail_read, false, count, offset))
    r = -1, err = EIO;
  else if (write)
    memcpy (mb->buf + offset, buf, count);
  else
    memcpy (buf, mb->buf + offset, count);
  pthread_mutex_unlock (&mb->lock);
  atomic_fetch_sub (&mb->inflight, 1);
  if (lost)
    return lost_connection (dev);
  errno = err;
  return r;
}

static int
mb_pread (struct swapdev *dev, void *buf, uint64_t count, uint64_t offset)
{
  return mb_io (dev, buf, count, offset, false);
}

static int
mb_pwrite (struct swapdev *dev, const void *buf, uint64_t count,
           uint64_t offset, bool fua)
{
  return mb_io (dev, (void *) buf, count, offset, true);
}

static int
mb_flush (struct swapdev *dev)
{
  struct membackend *mb = dev->priv;
  bool connected;

  atomic_fetch_add (&mb->nflushes, 1);
  pthread_mutex_lock (&mb->lock);
  connected = mb->connected;
  pthread_mutex_unlock (&mb->lock);
  if (!connected)
    return lost_connection (dev);
  if (atomic_load (&mb->fail_flush)) {
    errno = EIO;
    return -1;
  }
  return 0;
}

static void
mb_free (struct membackend *mb)
{
  if (mb == NULL)
    return;
  pthread_mutex_destroy (&mb->lock);
  pthread_cond_destroy (&mb->hold_cond);
  free (mb->buf);
  free (mb->fail_write);
  free (mb->fail_read);
  free (mb);
}

/* Called once by swapdev_free.  Keeps errno: the pool may be about to
 * return an error to the test.
 */
static void
mb_close (struct swapdev *dev)
{
  struct membackend *mb = dev->priv;
  atomic_uint *closes = mb->closes;
  int saved_errno = errno;

  mb_free (mb);
  if (closes)
    atomic_fetch_add (closes, 1);
  errno = saved_errno;
}

/* Remote only: open the connection again if the server is there.
 * Reports like the real backend; the device stays offline (the engine
 * checks the stamp first).
 */
static int
mb_connect (struct swapdev *dev)
{
  struct membackend *mb = dev->priv;
  bool ok;

  atomic_fetch_add (&mb->nconnects, 1);
  pthread_mutex_lock (&mb->lock);
  ok = !mb->down && !atomic_load (&mb->fail_connect);
  if (ok)
    mb->connected = true;
  pthread_mutex_unlock (&mb->lock);
  if (!ok) {
    errno = ECONNREFUSED;
    sd_error ("swap: %s: connect: %m", dev->path);
    return -1;
  }
  return 0;
}

static const struct swapdev_ops mb_ops = {
  .kind_name = MB_KIND,
  .pread = mb_pread,
  .pwrite = mb_pwrite,
  .flush = mb_flush,
  .close = mb_close,
};

/* The same, plus connect: a remote export served from memory. */
static const struct swapdev_ops mb_remote_ops = {
  .kind_name = MB_KIND,
  .pread = mb_pread,
  .pwrite = mb_pwrite,
  .flush = mb_flush,
  .connect = mb_connect,
  .close = mb_close,
};

/* A zeroed backend of size bytes; offsets are filled in later. */
static struct membackend *
mb_new (uint64_t size)
{
  struct membackend *mb = calloc (1, sizeof *mb);
  uint64_t pages = size / SD_PAGE_SIZE;

  if (mb == NULL)
    return NULL;
  pthread_mutex_init (&mb->lock, NULL);
  pthread_cond_init (&mb->hold_cond, NULL);
  mb->size = size;
  mb->connected = true;
  mb->buf = calloc (1, size);
  mb->fail_write = calloc (pages, sizeof (bool));
  mb->fail_read = calloc (pages, sizeof (bool));
  if (mb->buf == NULL || mb->fail_write == NULL || mb->fail_read == NULL) {
    mb_free (mb);
    return NULL;
  }
  return mb;
}

/* A device over a new backend with the given ops. */
static struct swapdev *
new_device (const char *name, const char *ident, uint64_t npages,
            unsigned maxactive, const struct swapdev_ops *ops,
            struct membackend **mbp)
{
  uint64_t size = sd_size_for (npages, 0);
  struct membackend *mb;
  struct swapdev *dev;

  if (npages == 0) {
    sd_error ("swap: %s: a membackend needs at least one data page", name);
    return NULL;
  }
  mb = mb_new (size);
  if (mb == NULL) {
    sd_error ("swap: %s: %m", name);
    return NULL;
  }
  dev = swapdev_new (name, ident, ops, mb, size, maxactive);
  if (dev == NULL) {
    mb_free (mb);               /* swapdev_new leaves priv to us */
    return NULL;
  }
  mb->stamp_offset = dev->stamp_offset;
  mb->data_offset = dev->data_offset;
  mb->npages = dev->npages;
  if (mbp)
    *mbp = mb;
  return dev;
}

struct swapdev *
mb_device_ident (const char *name, const char *ident, uint64_t npages,
                 unsigned maxactive, struct membackend **mbp)
{
  return new_device (name, ident, npages, maxactive, &mb_ops, mbp);
}

struct swapdev *
mb_device (const char *name, uint64_t npages, unsigned maxactive,
           struct membackend **mbp)
{
  char ident[256];

  snprintf (ident, sizeof ident, "mem:%s", name);
  return mb_device_ident (name, ident, npages, maxactive, mbp);
}

struct swapdev *
mb_remote_device (const char *name, uint64_t npages, unsigned maxactive,
                  struct membackend **mbp)
{
  char ident[256];

  snprintf (ident, sizeof ident, "mem:%s", name);
  return new_device (name, ident, npages, maxactive, &mb_remote_ops, mbp);
}

/* Set or clear one page of a failure map. */
static void
mark_page (struct membackend *mb, bool *map, dev_page_t page, bool fail)
{
  pthread_mutex_lock (&mb->lock);
  if (page < mb->npages)
    map[page] = fail;
  pthread_mutex_unlock (&mb->lock);
}

void
mb_fail_write_page (struct membackend *mb, dev_page_t page, bool fail)
{
  mark_page (mb, mb->fail_write, page, fail);
}

void
mb_fail_read_page (struct membackend *mb, dev_page_t page, bool fail)
{
  mark_page (mb, mb->fail_read, page, fail);
}

void
mb_fail_stamp_write (struct membackend *mb, bool fail)
{
  atomic_store (&mb->fail_stamp, fail);
}

void
mb_fail_all_writes (struct membackend *mb, bool fail)
{
  atomic_store (&mb->fail_all_writes, fail);
}

void
mb_fail_all_reads (struct membackend *mb, bool fail)
{
  atomic_store (&mb->fail_all_reads, fail);
}

void
mb_fail_flush (struct membackend *mb, bool fail)
{
  atomic_store (&mb->fail_flush, fail);
}

void
mb_hold (struct membackend *mb, bool hold)
{
  pthread_mutex_lock (&mb->lock);
  mb->hold = hold;
  pthread_cond_broadcast (&mb->hold_cond);
  pthread_mutex_unlock (&mb->lock);
}

void
mb_set_delay (struct membackend *mb, unsigned usec)
{
  atomic_store (&mb->delay_usec, usec);
}

/* ---- remote mode ---- */

void
mb_drop (struct membackend *mb)
{
  pthread_mutex_lock (&mb->lock);
  mb->connected = false;
  mb->down = true;
  pthread_mutex_unlock (&mb->lock);
}

void
mb_restart (struct membackend *mb, bool empty)
{
  pthread_mutex_lock (&mb->lock);
  mb->connected = false;        /* a restart breaks every connection */
  mb->down = false;
  if (empty)
    memset (mb->buf, 0, mb->size);
  pthread_mutex_unlock (&mb->lock);
}

void
mb_fail_connect (struct membackend *mb, bool fail)
{
  atomic_store (&mb->fail_connect, fail);
}

uint64_t
mb_connects (struct membackend *mb)
{
  return atomic_load (&mb->nconnects);
}

void
mb_count_close (struct membackend *mb, atomic_uint *closes)
{
  mb->closes = closes;
}

/* ---- counters and contents ---- */

uint64_t
mb_reads (struct membackend *mb)
{
  return atomic_load (&mb->nreads);
}

uint64_t
mb_writes (struct membackend *mb)
{
  return atomic_load (&mb->nwrites);
}

uint64_t
mb_flushes (struct membackend *mb)
{
  return atomic_load (&mb->nflushes);
}

unsigned
mb_inflight (struct membackend *mb)
{
  return atomic_load (&mb->inflight);
}

unsigned
mb_peak_inflight (struct membackend *mb)
{
  return atomic_load (&mb->peak);
}

uint64_t
mb_out_of_bounds (struct membackend *mb)
{
  return atomic_load (&mb->out_of_bounds);
}

const unsigned char *
mb_buffer (struct membackend *mb)
{
  return mb->buf;
}

uint64_t
mb_size (struct membackend *mb)
{
  return mb->size;
}

const unsigned char *
mb_page (struct membackend *mb, dev_page_t page)
{
  return mb->buf + mb->data_offset + page * SD_PAGE_SIZE;
}

const unsigned char *
mb_stamp (struct membackend *mb)
{
  return mb->buf + mb->stamp_offset;
}

uint64_t
mb_npages (struct membackend *mb)
{
  return mb->npages;
}

/* ---- log capture ---- */

#define LOG_MAX (1 << 20)

/* log_lock: the captured text.  Messages are kept one per line. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[LOG_MAX];
static size_t log_len;
static char log_last[1024];
static unsigned log_errors;

/* Keep one message; only errors are counted. */
static void
capture (const char *fmt, va_list args, bool error)
{
  char msg[sizeof log_last];
  size_t n;

  vsnprintf (msg, sizeof msg, fmt, args);
  n = strlen (msg);
  pthread_mutex_lock (&log_lock);
  if (error) {
    log_errors++;
    memcpy (log_last, msg, n + 1);
  }
  /* Keep the first LOG_MAX bytes; a test that reports more than that
   * is not looking for one message.
   */
  if (log_len + n + 2 <= LOG_MAX) {
    memcpy (log_text + log_len, msg, n);
    log_len += n;
    log_text[log_len++] = '\n';
    log_text[log_len] = '\0';
  }
  pthread_mutex_unlock (&log_lock);
}

static void
capture_error (const char *fmt, va_list args)
{
  capture (fmt, args, true);
}

static void
capture_debug (const char *fmt, va_list args)
{
  capture (fmt, args, false);
}

/* Format and drop: a bad format string still trips the sanitizers. */
static void
discard_debug (const char *fmt, va_list args)
{
  char msg[1024];

  vsnprintf (msg, sizeof msg, fmt, args);
}

void
mb_log_capture (bool debug)
{
  pthread_mutex_lock (&log_lock);
  log_len = 0;
  log_text[0] = log_last[0] = '\0';
  log_errors = 0;
  pthread_mutex_unlock (&log_lock);
  sd_log_set (capture_error, debug ? capture_debug : discard_debug);
}

unsigned
mb_log_errors (void)
{
  unsigned n;

  pthread_mutex_lock (&log_lock);
  n = log_errors;
  pthread_mutex_unlock (&log_lock);
  return n;
}

bool
mb_log_has (const char *needle)
{
  bool r;

  pthread_mutex_lock (&log_lock);
  r = strstr (log_text, needle) != NULL;
  pthread_mutex_unlock (&log_lock);
  return r;
}

const char *
mb_log_last (void)
{
  return log_last;
}
