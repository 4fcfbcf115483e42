/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Randomized checks of the export data path (server/export/export.c) against
 * a plain memory model: thousands of writes, zeroes, trims and reads
 * of every alignment on a small export over two in-memory devices; and
 * map laziness on a huge export.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"

/* The model: a 4 MiB export over two devices of 2 MiB of data pages
 * each, so the pool can hold every page and never fills.
 */
#define MODEL_SIZE (4 * MIB)
#define MODEL_DEV_PAGES (2 * MIB / PAGE)
#define MODEL_OPS 4000
#define MODEL_MAX_LEN (64 * 1024)

TestSuite (export_model, .init = fx_quiet);

/* Everything a model run works on. */
struct model {
  struct pool *pool;
  struct export *exp;
  unsigned char *mem;                   /* what the export must read as */
  unsigned char *buf;                   /* MODEL_MAX_LEN scratch */
  uint64_t seed, state;
  unsigned op;                          /* for messages */
};

static void
model_open (struct model *m, uint64_t seed)
{
  m->pool = fx_new_pool ();
  fx_add_dev (m->pool, "a", MODEL_DEV_PAGES, 0, NULL);
  fx_add_dev (m->pool, "b", MODEL_DEV_PAGES, 0, NULL);
  m->exp = fx_new_export (m->pool, MODEL_SIZE);
  m->mem = calloc (1, MODEL_SIZE);
  m->buf = malloc (MODEL_MAX_LEN);
  cr_assert (m->mem && m->buf);
  m->seed = m->state = seed;
}

static void
model_close (struct model *m)
{
  export_destroy (m->exp);
  pool_destroy (m->pool);
  free (m->mem);
  free (m->buf);
}

/* A random range of the export: a third each 512-byte sectors, whole
 * pages, and any bytes at all.
 */
static void
random_range (struct model *m, uint64_t *count, uint64_t *offset)
{
  uint64_t r = fx_next_random (&m->state);
  uint64_t unit = (r % 3 == 0) ? 512 : (r % 3 == 1) ? PAGE : 1;
  uint64_t units = MODEL_SIZE / unit;
  uint64_t max = MODEL_MAX_LEN / unit;

  *offset = fx_next_random (&m->state) % units;
  *count = 1 + fx_next_random (&m->state) % max;
  if (*offset + *count > units)
    *count = units - *offset;
  *offset *= unit;
  *count *= unit;
}

/* Read [offset, offset + count) and compare with the model. */
static void
model_check (struct model *m, uint64_t count, uint64_t offset)
{
  uint64_t i;

  cr_assert_eq (export_pread (m->exp, m->buf, count, offset), 0,
                "seed %" PRIu64 " op %u: read: %m", m->seed, m->op);
  for (i = 0; i < count && m->buf[i] == m->mem[offset + i]; i++)
    ;
  cr_assert_eq (i, count, "seed %" PRIu64 " op %u: byte %" PRIu64
                " reads %#x, the model says %#x", m->seed, m->op,
                offset + i, m->buf[i], m->mem[offset + i]);
}

/* The model of a trim: whole pages in the range read as zeros (the
 * engine unmaps them); partial pages keep their data.
 */
static void
model_trim (struct model *m, uint64_t count, uint64_t offset)
{
  uint64_t start = (offset + PAGE - 1) & ~(uint64_t) (PAGE - 1);
  uint64_t end = (offset + count) & ~(uint64_t) (PAGE - 1);

  if (end > start)
    memset (m->mem + start, 0, end - start);
}

/* One random operation on both the export and the model. */
static void
model_step (struct model *m, bool zero_and_trim)
{
  uint64_t count, offset, kind = fx_next_random (&m->state) % 100;

  random_range (m, &count, &offset);
  if (!zero_and_trim)
    kind %= 70;
  if (kind < 40) {
    fx_fill_random (m->buf, count, &m->state);
    cr_assert_eq (export_pwrite (m->exp, m->buf, count, offset, kind & 1),
                  0, "seed %" PRIu64 " op %u: write: %m", m->seed, m->op);
    memcpy (m->mem + offset, m->buf, count);
  }
  else if (kind < 70)
    model_check (m, count, offset);
  else if (kind < 85) {
    cr_assert_eq (export_zero (m->exp, count, offset, false), 0,
                  "seed %" PRIu64 " op %u: zero: %m", m->seed, m->op);
    memset (m->mem + offset, 0, count);
  }
  else {
    cr_assert_eq (export_trim (m->exp, count, offset), 0);
    model_trim (m, count, offset);
  }
}

/* The whole export reads as the model, and the pool holds exactly one
 * slot per page that holds data: no slot leaked, none shared.
 */
static void
model_check_all (struct model *m)
{
  uint64_t inuse, mapped, off;

  for (off = 0; off < MODEL_SIZE; off += MODEL_MAX_LEN)
    model_check (m, MODEL_MAX_LEN, off);
  inuse = fx_pool_inuse (m->pool);
  mapped = fx_mapped_pages (m->exp);
  cr_assert_eq (inuse, mapped, "seed %" PRIu64 " op %u: %" PRIu64
                " slots in use for %" PRIu64 " pages of data",
                m->seed, m->op, inuse, mapped);
}

static void
model_run (uint64_t seed, bool zero_and_trim)
{
  struct model m;

  model_open (&m, seed);
  for (m.op = 0; m.op < MODEL_OPS; m.op++) {
    model_step (&m, zero_and_trim);
    if (m.op % 1000 == 999)
      model_check_all (&m);
  }
  model_check_all (&m);
  cr_assert_eq (mb_log_errors (), 0, "got: %s", mb_log_last ());
  model_close (&m);
}

Test (export_model, random_writes_and_reads_match_a_memory_model)
{
  model_run (20260101, false);
}

Test (export_model, random_writes_zeroes_trims_and_reads_match_a_memory_model)
{
  model_run (20260102, true);
}

Test (export_model, a_second_seed_of_everything_matches_the_model_too)
{
  model_run (977, true);
}

Test (export_model, a_terabyte_export_with_1000_scattered_pages_maps_lazily)
{
  struct pool *pool = fx_new_pool ();
  uint64_t size = MIB * MIB, seed = 11, page = 0;
  unsigned char data[PAGE];
  struct export *exp;
  int i;

  fx_add_dev (pool, "a", 1024, 0, NULL);
  exp = fx_new_export (pool, size);
  cr_assert_lt (export_map_bytes (exp), 4096, "an empty map is small");
  memset (data, 0x5a, sizeof data);
  for (i = 0; i < 1000; i++) {
    page = fx_next_random (&seed) % (size / PAGE);
    cr_assert_eq (export_pwrite (exp, data, PAGE, page * PAGE, false), 0);
  }
  cr_assert_lt (export_map_bytes (exp), MIB, "map of 1000 pages: %zu bytes",
                export_map_bytes (exp));
  fx_expect_data (exp, page * PAGE, PAGE, data);
  cr_assert_eq (pool_ndevices (pool), 1);
  cr_assert_geq (fx_stat_of (pool, "a").inuse, 990,
                 "1000 pages, barring collisions");
  export_destroy (exp);
  pool_destroy (pool);
}
