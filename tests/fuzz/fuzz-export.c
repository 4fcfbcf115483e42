/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Fuzz the data path in process: a stream of NBD requests as the
 * plugin hands them to the engine (plugin/swapdrum.c: each callback
 * is one export_* call) once nbdkit has checked them (1 <= count,
 * offset + count <= size), against a model of the disk.
 *
 * The NBD-stream fuzzer (AFL++ under nbdkit -s) runs the real
 * protocol but manages some tens of runs a second; this one runs
 * thousands, and knows what every read must return.
 *
 * Input: requests of 7 bytes, then a byte of data seed for writes:
 *   op      low 3 bits: 0 read, 1 write, 2 write-zeroes, 3 trim,
 *           4 flush, 5 block status (6, 7: read); 0x08 FUA;
 *           0x10 align offset and count to 512, 0x20 to 4096
 *   offset  3 bytes, big-endian, modulo the export size
 *   count   3 bytes, big-endian, 1 + modulo what is left
 *
 * The pool (48 pages) is smaller than the export (64 pages), so writes
 * run out of room.  Checked: reads return the model's bytes; zeroed
 * ranges and trimmed whole pages read as zeros (trim leaves partial
 * pages alone); block status describes the range from its start, in
 * order, and its holes read as zeros; only writes fail, and only with
 * ENOSPC, after which the range's bytes are unknown until rewritten;
 * at the end the pages in use on the devices are the pages the export
 * maps.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"

#define PAGE 4096
#define EXPORT_SIZE (64 * PAGE)

static unsigned char model[EXPORT_SIZE];
static bool known[EXPORT_SIZE];   /* false: written by a failed write */
static unsigned char buf[EXPORT_SIZE];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_log_init ();
  return 0;
}

static void
add_device (struct pool *pool, const char *name, uint64_t npages,
            int priority)
{
  FUZZ_CHECK (pool_swapon_dev (pool, mb_device (name, npages, 0, NULL),
                               priority) == 0,
              "swap-on %s: %s", name, fuzz_log_last ());
}

/* The bytes of [offset, offset + count) that the model knows must be
 * got's.
 */
static void
check_bytes (const unsigned char *got, uint64_t offset, uint64_t count,
             const char *what)
{
  uint64_t i;

  if (memcmp (got, model + offset, count) == 0)
    return;
  for (i = 0; i < count; i++)
    FUZZ_CHECK (!known[offset + i] || got[i] == model[offset + i],
                "%s: byte %llu is %#x, expected %#x", what,
                (unsigned long long) (offset + i), got[i],
                model[offset + i]);
}

static void
do_read (struct export *exp, uint64_t offset, uint64_t count)
{
  FUZZ_CHECK (export_pread (exp, buf, count, offset) == 0,
              "read %llu@%llu: %m", (unsigned long long) count,
              (unsigned long long) offset);
  check_bytes (buf, offset, count, "read");
}

static void
do_write (struct export *exp, uint64_t offset, uint64_t count, bool fua,
          unsigned char seed)
{
  uint64_t i;

  for (i = 0; i < count; i++)
    buf[i] = seed ? (unsigned char) (seed + i * 7 + (i >> 9)) : 0;
  if (export_pwrite (exp, buf, count, offset, fua) == 0) {
    memcpy (model + offset, buf, count);
    memset (known + offset, true, count);
    return;
  }
  FUZZ_CHECK (errno == ENOSPC, "write %llu@%llu: %m",
              (unsigned long long) count, (unsigned long long) offset);
  /* NBD leaves a failed write's range unspecified. */
  memset (known + offset, false, count);
}

static void
set_zero (uint64_t offset, uint64_t count)
{
  memset (model + offset, 0, count);
  memset (known + offset, true, count);
}

static void
do_zero (struct export *exp, uint64_t offset, uint64_t count, bool fua)
{
  FUZZ_CHECK (export_zero (exp, count, offset, fua) == 0,
              "zero %llu@%llu: %m", (unsigned long long) count,
              (unsigned long long) offset);
  set_zero (offset, count);
}

static void
do_trim (struct export *exp, uint64_t offset, uint64_t count)
{
  uint64_t first = (offset + PAGE - 1) / PAGE * PAGE;
  uint64_t end = (offset + count) / PAGE * PAGE;

  FUZZ_CHECK (export_trim (exp, count, offset) == 0, "trim %llu@%llu: %m",
              (unsigned long long) count, (unsigned long long) offset);
  if (end > first)
    set_zero (first, end - first);
}

struct extents {
  uint64_t next;                /* where the next extent must start */
  uint64_t data_pages;
};

static int
add_extent (void *opaque, uint64_t offset, uint64_t length, bool hole)
{
  struct extents *e = opaque;

  FUZZ_CHECK (offset == e->next && length > 0 &&
              offset + length <= EXPORT_SIZE,
              "extent %llu+%llu, expected one at %llu",
              (unsigned long long) offset, (unsigned long long) length,
              (unsigned long long) e->next);
  if (hole) {
    memset (buf, 0, length);
    check_bytes (buf, offset, length, "hole");
  }
  else
    e->data_pages += (offset + length + PAGE - 1) / PAGE - offset / PAGE;
  e->next = offset + length;
  return 0;
}

static uint64_t
do_extents (struct export *exp, uint64_t offset, uint64_t count)
{
  struct extents e = { .next = offset };

  FUZZ_CHECK (export_extents (exp, count, offset, add_extent, &e) == 0,
              "block status %llu@%llu: %m", (unsigned long long) count,
              (unsigned long long) offset);
  FUZZ_CHECK (e.next > offset, "block status %llu@%llu: no extent",
              (unsigned long long) count, (unsigned long long) offset);
  return e.data_pages;
}

/* The pages in use on the devices are the pages the export maps. */
static void
check_pool (struct pool *pool, struct export *exp)
{
  struct pool_devstat *st;
  uint64_t inuse = 0, mapped = 0, at = 0;
  ssize_t n, i;

  while (at < EXPORT_SIZE) {
    struct extents e = { .next = at };
    FUZZ_CHECK (export_extents (exp, EXPORT_SIZE - at, at, add_extent,
                                &e) == 0, "block status: %m");
    mapped += e.data_pages;
    at = e.next;
  }
  n = pool_stats (pool, &st);
  FUZZ_CHECK (n >= 0, "pool_stats: %s", fuzz_log_last ());
  for (i = 0; i < n; i++)
    inuse += st[i].inuse + st[i].bad;
  pool_stats_free (st, n);
  FUZZ_CHECK (inuse == mapped, "%llu pages in use, %llu mapped",
              (unsigned long long) inuse, (unsigned long long) mapped);
}

static uint64_t
be24 (const uint8_t *p)
{
  return (uint64_t) p[0] << 16 | p[1] << 8 | p[2];
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct pool *pool = pool_create ();
  struct export *exp;
  size_t pos = 0;

  FUZZ_CHECK (pool != NULL, "pool_create: %s", fuzz_log_last ());
  add_device (pool, "a", 24, 0);
  add_device (pool, "b", 16, 1);
  add_device (pool, "c", 8, 0);
  exp = export_create (pool, "", EXPORT_SIZE);
  FUZZ_CHECK (exp != NULL, "export_create: %s", fuzz_log_last ());
  memset (model, 0, sizeof model);
  memset (known, true, sizeof known);

  while (size - pos >= 7) {
    unsigned op = data[pos];
    uint64_t align = op & 0x20 ? PAGE : op & 0x10 ? 512 : 1;
    uint64_t offset = be24 (data + pos + 1) % EXPORT_SIZE / align * align;
    uint64_t left = EXPORT_SIZE - offset;
    uint64_t count = (1 + be24 (data + pos + 4) % left + align - 1)
                     / align * align;
    bool fua = op & 0x08;

    pos += 7;
    switch (op & 7) {
    case 1:
      do_write (exp, offset, count, fua, pos < size ? data[pos++] : 1);
      break;
    case 2:
      do_zero (exp, offset, count, fua);
      break;
    case 3:
      do_trim (exp, offset, count);
      break;
    case 4:
      FUZZ_CHECK (export_flush (exp) == 0, "flush: %m");
      break;
    case 5:
      do_extents (exp, offset, count);
      break;
    default:
      do_read (exp, offset, count);
      break;
    }
  }
  check_pool (pool, exp);
  export_destroy (exp);
  pool_destroy (pool);
  return 0;
}
