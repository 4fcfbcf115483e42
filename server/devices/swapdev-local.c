/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Local swap devices: regular files and block devices (docs/design.md,
 * "Swap devices").
 *
 * Files are fully allocated at swap-on: swapping to a sparse file can
 * fail with ENOSPC at the worst moment (the seed panics on them), so a
 * file that posix_fallocate cannot allocate is refused.  Block devices
 * are opened O_EXCL, so a mounted or otherwise claimed device is
 * refused, and page 0 is skipped to keep partition labels intact.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/fs.h>

#include "devices/swapdev.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

#define FILE_MAXACTIVE 8
#define BLOCK_MAXACTIVE 32

/* Direct I/O (direct=true, docs/design.md "Direct I/O").  Page data,
 * the stamp and the pool table go through dfd, opened O_DIRECT, so
 * they neither fill nor dirty the page cache; what is not aligned to
 * DIO_ALIGN (page records, the part of a page a partial write
 * touches) goes through fd, buffered.  The kernel keeps the two
 * coherent: a direct I/O writes back and drops the cached pages of its
 * range first.  A direct write covers its whole page, so it meets a
 * buffered one only when the two overlap: a client's race, whatever
 * the mode.  A buffer not aligned to DIO_ALIGN (nbdkit's are
 * malloc'd) is copied through an aligned one: the calling thread's own
 * bounce buffer, kept from one I/O to the next so that the data path
 * does not allocate (which it must not, least of all when memory is
 * short), up to BOUNCE_KEEP bytes; a larger I/O gets one of its own.
 */
#define DIO_ALIGN 4096
#define BOUNCE_KEEP (1024 * 1024)

/* The calling thread's bounce buffer, and its size; bounce_key frees
 * it when the thread exits.  Per thread, so no lock.
 */
static __thread void *bounce;
static __thread size_t bounce_size;
static pthread_key_t bounce_key;
static pthread_once_t bounce_once = PTHREAD_ONCE_INIT;

static void
make_bounce_key (void)
{
  pthread_key_create (&bounce_key, free);
}

/* An aligned buffer of count bytes (a multiple of DIO_ALIGN) for the
 * calling thread: its kept one, grown to count if need be (so it is as
 * large as the thread's largest I/O so far), or, past BOUNCE_KEEP, a
 * new one (*own set: the caller frees it).
 * => returns NULL with errno set.
 */
static void *
get_bounce (size_t count, void **own)
{
  void *p;
  int err;

  *own = NULL;
  if (count <= bounce_size)
    return bounce;
  err = posix_memalign (&p, DIO_ALIGN, count);
  if (err != 0) {
    errno = err;
    return NULL;
  }
  if (count > BOUNCE_KEEP)
    return *own = p;
  pthread_once (&bounce_once, make_bounce_key);
  free (bounce);
  bounce = p;
  bounce_size = count;
  pthread_setspecific (bounce_key, p);
  return p;
}

/* pread or pwritev2 (flags) all of count bytes at offset of fd. */
static int
local_io (int fd, bool write, char *p, uint64_t count, uint64_t offset,
          int flags)
{
  while (count > 0) {
    struct iovec iov = { .iov_base = p, .iov_len = count };
    ssize_t r = write ? pwritev2 (fd, &iov, 1, offset, flags)
                      : pread (fd, p, count, offset);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0) {               /* the backend shrank under us */
      errno = EIO;
      return -1;
    }
    p += r;
    count -= r;
    offset += r;
  }
  return 0;
}

/* The same through dfd, bouncing an unaligned buffer. */
static int
direct_io (struct swapdev *dev, bool write, void *buf, uint64_t count,
           uint64_t offset, int flags)
{
  CLEANUP_FREE void *own = NULL;
  char *b;
  int r;

  if ((uintptr_t) buf % DIO_ALIGN == 0)
    return local_io (dev->dfd, write, buf, count, offset, flags);
  b = get_bounce (count, &own);
  if (b == NULL)
    return -1;
  if (write)
    memcpy (b, buf, count);
  r = local_io (dev->dfd, write, b, count, offset, flags);
  if (r == 0 && !write)
    memcpy (buf, b, count);
  return r;
}

/* Whether an I/O of count bytes at offset goes through dfd. */
static bool
goes_direct (const struct swapdev *dev, uint64_t count, uint64_t offset)
{
  return dev->dfd >= 0 && count % DIO_ALIGN == 0 && offset % DIO_ALIGN == 0;
}

static int
local_pread (struct swapdev *dev, void *buf, uint64_t count,
             uint64_t offset)
{
  if (goes_direct (dev, count, offset))
    return direct_io (dev, false, buf, count, offset, 0);
  return local_io (dev->fd, false, buf, count, offset, 0);
}

static int
local_pwrite (struct swapdev *dev, const void *buf, uint64_t count,
              uint64_t offset, bool fua)
{
  int flags = fua ? RWF_DSYNC : 0;

  if (goes_direct (dev, count, offset))
    return direct_io (dev, true, (void *) buf, count, offset, flags);
  return local_io (dev->fd, true, (void *) buf, count, offset, flags);
}

static int
local_flush (struct swapdev *dev)
{
  return fdatasync (dev->fd);
}

static void
local_close (struct swapdev *dev)
{
  if (dev->fd >= 0)
    close (dev->fd);
  if (dev->dfd >= 0)
    close (dev->dfd);
  dev->fd = dev->dfd = -1;
}

static const struct swapdev_ops file_ops = {
  .kind_name = "file",
  .pread = local_pread,
  .pwrite = local_pwrite,
  .flush = local_flush,
  .close = local_close,
};

static const struct swapdev_ops block_ops = {
  .kind_name = "block",
  .pread = local_pread,
  .pwrite = local_pwrite,
  .flush = local_flush,
  .close = local_close,
};

/* Create path with `size` bytes, refusing to touch an existing file.
 * => returns 0 if created (*created set) or already there, -1 after
 *    reporting.
 */
static int
create_file (const char *path, uint64_t size, bool *created)
{
  CLEANUP_CLOSE int fd = -1;
  int err;

  fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd == -1) {
    if (errno == EEXIST)
      return 0;
    sd_error ("swap: %s: create: %m", path);
    return -1;
  }
  err = posix_fallocate (fd, 0, size);
  if (err != 0) {
    errno = err;
    sd_error ("swap: %s: create: allocating %" PRIu64 " bytes: %m",
              path, size);
    unlink (path);
    return -1;
  }
  *created = true;
  return 0;
}

/* Open path for a device of the kind stat says it is. */
static int
open_backend (const char *path, const struct stat *st)
{
  int flags = O_RDWR | O_CLOEXEC;
  int fd;

  if (S_ISBLK (st->st_mode))
    flags |= O_EXCL;            /* refuse a mounted or claimed device */
  else if (!S_ISREG (st->st_mode)) {
    errno = S_ISDIR (st->st_mode) ? EISDIR : EINVAL;
    sd_error ("swap: %s: not a regular file or block device", path);
    return -1;
  }
  fd = open (path, flags);
  if (fd == -1)
    sd_error ("swap: %s: open: %s", path,
              errno == EBUSY ? "device is in use (mounted or claimed)"
                             : strerror (errno));
  return fd;
}

/* Size a regular file and make sure every byte of it is allocated. */
static int
size_file (struct swapdev *dev, const struct stat *st, uint64_t *size)
{
  int err;

  *size = st->st_size;
  if (*size < 2 * SD_PAGE_SIZE) {
    errno = EINVAL;
    sd_error ("swap: %s: file is %" PRIu64 " bytes; "
              "a swap file needs at least 8192", dev->path, *size);
    return -1;
  }
  err = posix_fallocate (dev->fd, 0, *size);
  if (err != 0) {
    errno = err;
    sd_error ("swap: %s: cannot be fully allocated: %m", dev->path);
    return -1;
  }
  return 0;
}

static int
size_block (struct swapdev *dev, uint64_t *size)
{
  if (ioctl (dev->fd, BLKGETSIZE64, size) == -1) {
    sd_error ("swap: %s: BLKGETSIZE64: %m", dev->path);
    return -1;
  }
  if (*size < 3 * SD_PAGE_SIZE) {
    errno = EINVAL;
    sd_error ("swap: %s: device is %" PRIu64 " bytes; "
              "need at least 12288", dev->path, *size);
    return -1;
  }
  return 0;
}

/* "dev:ino" for files, "blk:major:minor" for block devices: the same
 * object under two names has one identity.
 */
static char *
local_ident (const struct stat *st)
{
  char *ident = NULL;

  if (S_ISBLK (st->st_mode)) {
    if (asprintf (&ident, "blk:%u:%u", major (st->st_rdev),
                  minor (st->st_rdev)) == -1)
      return NULL;
  }
  else if (asprintf (&ident, "file:%ju:%ju", (uintmax_t) st->st_dev,
                     (uintmax_t) st->st_ino) == -1)
    return NULL;
  return ident;
}

/* direct=true: open dev's object again, O_DIRECT, as dfd (through
 * /proc/self/fd, so that it is the object fd is open on whatever the
 * path names now), and read the stamp page through it, so that a file
 * system without direct I/O is refused here rather than at the first
 * page a client swaps out.
 */
static int
open_direct (struct swapdev *dev)
{
  CLEANUP_FREE void *page = NULL;
  char self[64];
  int err;

  snprintf (self, sizeof self, "/proc/self/fd/%d", dev->fd);
  dev->dfd = open (self, O_RDWR | O_CLOEXEC | O_DIRECT);
  if (dev->dfd == -1) {
    sd_error ("swap: %s: direct=true: open with O_DIRECT: %s", dev->path,
              errno == EINVAL ? "the file system has no direct I/O"
                              : strerror (errno));
    return -1;
  }
  err = posix_memalign (&page, DIO_ALIGN, SD_PAGE_SIZE);
  if (err != 0) {
    errno = err;
    sd_error ("swap: %s: %m", dev->path);
    return -1;
  }
  if (local_io (dev->dfd, false, page, SD_PAGE_SIZE, dev->stamp_offset,
                0) == -1) {
    sd_error ("swap: %s: direct=true: reading a page with O_DIRECT: %m",
              dev->path);
    return -1;
  }
  return 0;
}

/* Fill in the layout and identity of dev from its open fd. */
static int
setup_local (struct swapdev *dev, const struct stat *st)
{
  uint64_t size;
  bool block = dev->kind == SWAPDEV_BLOCK;

  if ((block ? size_block (dev, &size) : size_file (dev, st, &size)) == -1)
    return -1;
  /* Block devices skip page 0 (partition labels). */
  if (swapdev_layout (dev, size, block ? 1 : 0) == -1)
    return -1;
  dev->ident = local_ident (st);
  if (dev->ident == NULL) {
    sd_error ("swap: %s: %m", dev->path);
    return -1;
  }
  return 0;
}

/* Build the device over fd, open on the object st describes: the
 * common part through swapdev_alloc, then the file or block specifics.
 * => returns the device, which owns fd; or NULL after reporting, with
 *    fd closed.
 */
static struct swapdev *
new_local (const struct devspec *spec, int fd, const struct stat *st)
{
  bool block = S_ISBLK (st->st_mode);
  unsigned maxactive = spec->maxactive ? spec->maxactive
                       : block ? BLOCK_MAXACTIVE : FILE_MAXACTIVE;
  struct swapdev *dev;

  dev = swapdev_alloc (spec->path, block ? SWAPDEV_BLOCK : SWAPDEV_FILE,
                       block ? &block_ops : &file_ops, NULL, maxactive);
  if (dev == NULL) {
    close (fd);
    return NULL;
  }
  dev->fd = fd;
  if (setup_local (dev, st) == -1 ||
      (spec->direct && open_direct (dev) == -1)) {
    swapdev_free (dev);         /* closes fd */
    return NULL;
  }
  return dev;
}

struct swapdev *
swapdev_open_local (const struct devspec *spec)
{
  struct swapdev *dev;
  struct stat st;
  bool created = false;
  int fd;

  if (spec->create_size &&
      create_file (spec->path, spec->create_size, &created) == -1)
    return NULL;
  if (stat (spec->path, &st) == -1) {
    sd_error ("swap: %s: %m", spec->path);
    goto err_unlink;
  }
  fd = open_backend (spec->path, &st);
  if (fd == -1)
    goto err_unlink;
  if (fstat (fd, &st) == -1) {
    close (fd);
    goto err_unlink;
  }
  dev = new_local (spec, fd, &st);
  if (dev == NULL)
    goto err_unlink;
  return dev;

 err_unlink:
  /* Leave nothing behind for a device that was refused. */
  if (created) {
    int saved_errno = errno;
    unlink (spec->path);
    errno = saved_errno;
  }
  return NULL;
}

char *
swapdev_path_ident (const char *path)
{
  struct stat st;

  if (stat (path, &st) == -1)
    return NULL;
  return local_ident (&st);
}
