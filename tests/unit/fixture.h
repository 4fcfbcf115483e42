/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Fixture helpers shared by the unit tests of the pool and the export
 * (test-pool*.c, test-export*.c): pools of in-memory devices
 * (membackend.h), exports over them, and the checks those tests make
 * again and again.
 *
 * Every helper asserts with Criterion, so a failing setup step fails
 * the test at that step, with a message, instead of crashing later.
 * Call them from a test's own thread only: an assertion from another
 * thread cannot stop the test.
 *
 * The pool and the exports belong to the test: it destroys them
 * (export_destroy before pool_destroy), as with the engine's own
 * constructors.
 */

#ifndef SWAPDRUM_FIXTURE_H
#define SWAPDRUM_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "membackend.h"
#include "pool/pool-int.h"
#include "swapdrum/export.h"

/* The page size, spelt out so that the tests do not depend on the
 * engine's constant; and a mebibyte, the usual export size.
 */
#define PAGE 4096
#define MIB (UINT64_C (1) << 20)

/* ---- logs ---- */

/* A TestSuite .init: capture the engine's errors (mb_log_capture),
 * so the tests can look at them and stderr stays quiet.
 */
extern void fx_quiet (void);

/* ---- pools and devices ---- */

/* A new empty pool.
 * => asserts that pool_create worked.
 */
extern struct pool *fx_new_pool (void);

/* Swap dev on at priority.  dev may be NULL (a failed mb_device), so
 * that a device can be built and added in one expression.
 * => asserts that dev is not NULL and that the swap-on worked;
 *    returns dev, which the pool now owns.
 */
extern struct swapdev *fx_swapon (struct pool *pool, struct swapdev *dev,
                                  int priority);

/* Add a membackend device "name" of npages data pages at priority,
 * with swapdev_new's default maxactive.  If mbp is not NULL it is set
 * to the backend.
 * => asserts that it worked; returns the device.
 */
extern struct swapdev *fx_add_dev (struct pool *pool, const char *name,
                                   uint64_t npages, int priority,
                                   struct membackend **mbp);

/* Allocate exactly want slots.
 * => asserts that pool_alloc gave want slots; returns the first.
 */
extern drum_slot_t fx_alloc_n (struct pool *pool, uint64_t want);

/* Allocate one slot.
 * => asserts that it is on the device want; returns it.
 */
extern drum_slot_t fx_alloc_on (struct pool *pool,
                                const struct swapdev *want);

/* Assert that allocating want slots fails with ENOSPC and leaves the
 * slot argument untouched.
 */
extern void fx_expect_enospc (struct pool *pool, uint64_t want);

/* The stats of the device called path, with .path set to NULL (the
 * stats it came from are freed).
 * => asserts that the pool has such a device.
 */
extern struct pool_devstat fx_stat_of (struct pool *pool, const char *path);

/* Pages in use on all the devices of the pool. */
extern uint64_t fx_pool_inuse (struct pool *pool);

/* Wait (up to 30 s) until at least n I/Os are in flight on the
 * backends mb[0 .. nmb) together (mb_inflight), e.g. held there by
 * mb_hold.
 * => asserts that they arrived in time.
 */
extern void fx_wait_inflight (struct membackend *const *mb, size_t nmb,
                              unsigned n);

/* ---- exports ---- */

/* A new export "test" of size bytes over pool.
 * => asserts that export_create worked.
 */
extern struct export *fx_new_export (struct pool *pool, uint64_t size);

/* Assert that writing count bytes of buf at offset works. */
extern void fx_pwrite_ok (struct export *exp, const void *buf,
                          uint64_t count, uint64_t offset);

/* Assert that writing count bytes of buf at offset fails with -1 and
 * errno err (errno is cleared first, so a stale value cannot pass).
 */
extern void fx_pwrite_fails (struct export *exp, const void *buf,
                             uint64_t count, uint64_t offset, int err);

/* The same for reading into buf. */
extern void fx_pread_fails (struct export *exp, void *buf, uint64_t count,
                            uint64_t offset, int err);

/* Assert that [offset, offset + count) reads back as want; a mismatch
 * names the first byte that differs.
 */
extern void fx_expect_data (struct export *exp, uint64_t offset,
                            uint64_t count, const unsigned char *want);

/* Assert that [offset, offset + count) reads back as zeros. */
extern void fx_expect_zeros (struct export *exp, uint64_t offset,
                             uint64_t count);

/* Pages of the export that hold data, as its extents report them. */
extern uint64_t fx_mapped_pages (struct export *exp);

/* ---- test data ---- */

/* Deterministic pseudo-random numbers (splitmix64) from *state, so
 * that a failure can be replayed from the seed in its message.
 */
extern uint64_t fx_next_random (uint64_t *state);

/* Fill len bytes of buf from *state, never with 0 (so data can be told
 * from holes).
 */
extern void fx_fill_random (void *buf, size_t len, uint64_t *state);

#endif /* SWAPDRUM_FIXTURE_H */
