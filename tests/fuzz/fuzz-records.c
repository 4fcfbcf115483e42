/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Fuzz what the server reads from its devices at start (the durable
 * map, docs/design.md "On-device format"): the stamp, the pool table
 * and the page records, through the whole start (pool_assemble,
 * export_create, pool_recover) on an in-memory device.
 *
 * A valid device image is made once (a pool on one device, pages
 * written, closed cleanly).  Each input is then laid over a copy of it:
 *   byte 0   what to do: bit 0 the rest goes over the record area,
 *            bit 1 over the stamp, bit 2 over the pool table (copy A,
 *            the table's length set to the bytes given); bit 3 mends
 *            the checksums of what was changed, so that the fuzzer
 *            reaches the checks behind them (duplicate pages,
 *            sequences, export ids, pages beyond the end, fields out
 *            of range).
 *   the rest the bytes laid over.
 * The start must either fail with exactly one report, or succeed with
 * a map whose every page reads back without error and whose slots are
 * each claimed once.  Nothing may crash, leak or read out of bounds.
 */

#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "devices/swapdev.h"
#include "pool/pool-int.h"
#include "storage/format.h"
#include "swapdrum/export.h"
#include "swapdrum/log.h"
#include "swapdrum/pool.h"

#define NPAGES 64
#define EXPORT_PAGES 96

static unsigned char *image;    /* the valid device, made once */
static unsigned char *work;     /* the device an input runs on */
static uint64_t image_size;
static struct sd_layout layout;

static int
mem_pread (struct swapdev *dev, void *buf, uint64_t count, uint64_t offset)
{
  unsigned char *mem = dev->priv;

  if (offset > image_size || count > image_size - offset) {
    errno = EIO;
    return -1;
  }
  memcpy (buf, mem + offset, count);
  return 0;
}

static int
mem_pwrite (struct swapdev *dev, const void *buf, uint64_t count,
            uint64_t offset, bool fua)
{
  unsigned char *mem = dev->priv;

  if (offset > image_size || count > image_size - offset) {
    errno = EIO;
    return -1;
  }
  memcpy (mem + offset, buf, count);
  return 0;
}

static int
mem_flush (struct swapdev *dev)
{
  return 0;
}

static const struct swapdev_ops mem_ops = {
  .kind_name = "mem",
  .pread = mem_pread,
  .pwrite = mem_pwrite,
  .flush = mem_flush,
};

/* The pool's opener: the device over the buffer spec->path names. */
static struct swapdev *
open_mem (const struct devspec *spec, const char *own)
{
  unsigned char *mem = strcmp (spec->path, "image") == 0 ? image : work;

  return swapdev_new (spec->path, "mem:fuzz", &mem_ops, mem, image_size,
                      0);
}

static struct pool *
new_pool (void)
{
  struct pool *pool = pool_create ();

  FUZZ_CHECK (pool, "pool_create: %s", fuzz_log_last ());
  pool_set_opener (pool, open_mem);
  return pool;
}

/* Make the valid image: a pool on it, a scattering of pages written
 * (some runs, an overwrite, a trim), closed cleanly.
 */
static void
make_image (void)
{
  struct devspec spec = { .path = (char *) "image" };
  struct pool *pool = new_pool ();
  struct export *exp;
  unsigned char page[4096];
  int i;

  FUZZ_CHECK (pool_assemble (pool, &spec, 1, false) == 0, "assemble: %s",
              fuzz_log_last ());
  exp = export_create (pool, "", EXPORT_PAGES * 4096);
  FUZZ_CHECK (exp && pool_recover (pool) == 0 && pool_start (pool) == 0,
              "start: %s", fuzz_log_last ());
  for (i = 0; i < 40; i++) {
    memset (page, i + 1, sizeof page);
    FUZZ_CHECK (export_pwrite (exp, page, sizeof page,
                               (uint64_t) (i * 7 % EXPORT_PAGES) * 4096,
                               false) == 0, "write: %s", fuzz_log_last ());
  }
  FUZZ_CHECK (export_trim (exp, 4096, 7 * 4096) == 0, "trim");
  export_destroy (exp);
  pool_destroy (pool);
}

static void
no_notice (const char *fmt, va_list args)
{
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_log_init ();
  sd_log_set_notice (no_notice);
  image_size = sd_size_for (NPAGES, 0);
  FUZZ_CHECK (sd_layout (image_size, 0, &layout) == 0 &&
              layout.npages == NPAGES, "layout");
  image = calloc (1, image_size);
  work = malloc (image_size);
  FUZZ_CHECK (image && work, "out of memory");
  make_image ();
  return 0;
}

/* Re-encode every non-zero record of the work image with a correct
 * checksum (its fields as they are).
 */
static void
mend_records (const uint8_t uuid[16])
{
  uint64_t i;

  for (i = 0; i < NPAGES; i++) {
    unsigned char *raw = work + layout.records_offset + i * SD_RECORD_SIZE;
    struct sd_record r = { 0, 0, 0 };
    int k;

    for (k = 0; k < 6; k++)
      r.seq |= (uint64_t) raw[k] << (8 * k);
    r.export_id = raw[6] | raw[7] << 8;
    for (k = 0; k < 5; k++)
      r.page |= (uint64_t) raw[8 + k] << (8 * k);
    if (r.seq || r.export_id || r.page)
      sd_record_encode (&r, uuid, i, raw);
  }
}

/* Put the stamp's checksum right (after the stamp or the table
 * changed): decode what it can, or patch the crc field in place.
 */
static void
mend_stamp (void)
{
  uint32_t crc = sd_crc32 (work, 4092);

  work[4092] = crc;
  work[4093] = crc >> 8;
  work[4094] = crc >> 16;
  work[4095] = crc >> 24;
}

/* Lay the input over the work image as byte 0 says. */
static void
lay_over (const uint8_t *data, size_t size)
{
  unsigned what = size ? data[0] : 0;
  struct sd_stamp st;
  const char *why;

  memcpy (work, image, image_size);
  if (size == 0)
    return;
  data++;
  size--;
  if (what & 1) {
    size_t n = size < NPAGES * SD_RECORD_SIZE ? size
                                              : NPAGES * SD_RECORD_SIZE;
    memcpy (work + layout.records_offset, data, n);
    if ((what & 8) && sd_stamp_decode (work, &st, &why) == 1)
      mend_records (st.device_uuid);
  }
  if (what & 2) {
    memcpy (work, data, size < 4092 ? size : 4092);
    if (what & 8)
      mend_stamp ();
  }
  if (what & 4) {
    size_t n = size < SD_TABLE_MAX ? size : SD_TABLE_MAX;
    uint32_t crc = sd_crc32 (data, n);
    memcpy (work + layout.table_offset, data, n);
    /* copy A, length n */
    work[104] = work[105] = work[106] = work[107] = 0;
    work[108] = n;
    work[109] = n >> 8;
    work[110] = n >> 16;
    work[111] = n >> 24;
    if (what & 8) {
      work[112] = crc;
      work[113] = crc >> 8;
      work[114] = crc >> 16;
      work[115] = crc >> 24;
      mend_stamp ();
    }
  }
}

/* After a successful start: every page reads without error, and the
 * one device is in the pool.
 */
static void
check_map (struct export *exp, struct pool *pool)
{
  static unsigned char buf[EXPORT_PAGES * 4096];
  uint64_t n = export_size (exp) < sizeof buf ? export_size (exp)
                                              : sizeof buf;

  FUZZ_CHECK (export_pread (exp, buf, n, 0) == 0,
              "a recovered page does not read: %s", fuzz_log_last ());
  FUZZ_CHECK (pool_npages (pool) == NPAGES, "the device is not in the "
              "pool, yet it started");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct devspec spec = { .path = (char *) "work" };
  struct pool *pool;
  struct export *exp = NULL;
  int r;

  lay_over (data, size);
  fuzz_log_reset ();
  pool = new_pool ();
  r = pool_assemble (pool, &spec, 1, false);
  if (r == 0) {
    exp = export_create (pool, "", 0);
    r = exp ? pool_recover (pool) : -1;
  }
  if (r == 0) {
    FUZZ_CHECK (fuzz_log_errors () == 0, "started, yet reported: %s",
                fuzz_log_last ());
    check_map (exp, pool);
  }
  else
    fuzz_log_expect (1, "");
  export_destroy (exp);
  pool_destroy (pool);
  return 0;
}
