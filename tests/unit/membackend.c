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

  /* Flags and counters: atomics, so tests can flip and read them
   * while I/O runs.
   */
  atomic_bool fail_stamp, fail_all_writes, fail_all_reads, fail_flush;
  atomic_uint delay_usec;
  _Atomic uint64_t nreads, nwrites, nflushes, out_of_bounds;
  atomic_uint inflight, peak;
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

/* One read or write: delay, then copy under the lock unless a failure
 * is injected.  => returns 0, or -1 with errno EIO (or EINVAL for an
 * I/O outside the buffer).
 */
static int
mb_io (struct membackend *mb, void *buf, uint64_t count, uint64_t offset,
       bool write)
{
  unsigned delay = atomic_load (&mb->delay_usec);
  int r = 0, err = 0;

  atomic_fetch_add (write ? &mb->nwrites : &mb->nreads, 1);
  inflight_enter (mb);
  if (delay)
    usleep (delay);
  pthread_mutex_lock (&mb->lock);
  while (mb->hold)
    pthread_cond_wait (&mb->hold_cond, &mb->lock);
  if (count > mb->size || offset > mb->size - count) {
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
  errno = err;
  return r;
}

static int
mb_pread (struct swapdev *dev, void *buf, uint64_t count, uint64_t offset)
{
  return mb_io (dev->priv, buf, count, offset, false);
}

static int
mb_pwrite (struct swapdev *dev, const void *buf, uint64_t count,
           uint64_t offset, bool fua)
{
  return mb_io (dev->priv, (void *) buf, count, offset, true);
}

static int
mb_flush (struct swapdev *dev)
{
  struct membackend *mb = dev->priv;

  atomic_fetch_add (&mb->nflushes, 1);
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
  int saved_errno = errno;

  mb_free (dev->priv);
  errno = saved_errno;
}

static const struct swapdev_ops mb_ops = {
  .kind_name = MB_KIND,
  .pread = mb_pread,
  .pwrite = mb_pwrite,
  .flush = mb_flush,
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
  mb->buf = calloc (1, size);
  mb->fail_write = calloc (pages, sizeof (bool));
  mb->fail_read = calloc (pages, sizeof (bool));
  if (mb->buf == NULL || mb->fail_write == NULL || mb->fail_read == NULL) {
    mb_free (mb);
    return NULL;
  }
  return mb;
}

struct swapdev *
mb_device_ident (const char *name, const char *ident, uint64_t npages,
                 unsigned maxactive, struct membackend **mbp)
{
  uint64_t size = (npages + 1) * SD_PAGE_SIZE;
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
  dev = swapdev_new (name, ident, &mb_ops, mb, size, maxactive);
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
mb_device (const char *name, uint64_t npages, unsigned maxactive,
           struct membackend **mbp)
{
  char ident[256];

  snprintf (ident, sizeof ident, "mem:%s", name);
  return mb_device_ident (name, ident, npages, maxactive, mbp);
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
