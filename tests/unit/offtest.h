/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Helpers for the unit tests of swap-off and ctl (test-swapoff*.c):
 * the usual pool of two devices with data on it, a device whose close
 * is counted, snapshots of the device list, and a progress recorder.
 *
 * Like fixture.h, every helper asserts with Criterion: call them from
 * the test's own thread (the close and progress hooks excepted, which
 * only record).
 */

#ifndef SWAPDRUM_OFFTEST_H
#define SWAPDRUM_OFFTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fixture.h"
#include "membackend.h"
#include "devices/swapdev.h"

/* Priorities of the rig's devices: a is preferred. */
#define OT_PRIO_A 0
#define OT_PRIO_B 5

/* ---- the rig: devices a and b, one export ---- */

struct ot_rig {
  struct pool *pool;
  struct membackend *mba, *mbb;   /* mba is freed once a is off */
  struct export *exp;           /* "test", 4 MiB */
  unsigned char *want;          /* what pages [0, npages) hold */
  uint64_t npages;              /* pages written by ot_fill */
};

/* A pool with a (a_pages, OT_PRIO_A, its close counted: ot_closes)
 * and b (b_pages, OT_PRIO_B), and a 4 MiB export.
 */
extern void ot_open (struct ot_rig *rig, uint64_t a_pages, uint64_t b_pages);
extern void ot_close (struct ot_rig *rig);

/* Write npages pages of random data (from seed) at export page 0,
 * eight pages a request, keeping a copy in rig->want.
 */
extern void ot_fill (struct ot_rig *rig, uint64_t npages, uint64_t seed);

/* Assert that every page ot_fill wrote reads back as written. */
extern void ot_expect_filled (struct ot_rig *rig);

/* ---- closes ---- */

/* Make dev (not yet in a pool) count its close: ot_closes () is how
 * many times a counted device was closed, ot_inuse_at_close () its
 * npginuse when it last was.  The hook runs in whichever thread frees
 * the device.  dev may be NULL (asserts).
 */
extern struct swapdev *ot_counted (struct swapdev *dev);
extern unsigned ot_closes (void);
extern uint64_t ot_inuse_at_close (void);

/* ---- the device list ---- */

/* True if the pool has a device called path. */
extern bool ot_in_stats (struct pool *pool, const char *path);

/* Assert that off / ctl of path fails with err (errno cleared first). */
extern void ot_off_fails (struct pool *pool, const char *path, int err);
extern void ot_ctl_fails (struct pool *pool, const char *path, int priority,
                          int err);

/* Every device's path, priority, flags and pages in use, in list
 * order (at most OT_MAX_DEVS devices).
 */
#define OT_MAX_DEVS 8

struct ot_snapshot {
  ssize_t n;
  char path[OT_MAX_DEVS][32];
  int priority[OT_MAX_DEVS];
  unsigned flags[OT_MAX_DEVS];
  uint64_t inuse[OT_MAX_DEVS];
};

extern struct ot_snapshot ot_snapshot (struct pool *pool);

/* Assert that the pool's devices are as in before. */
extern void ot_expect_unchanged (struct pool *pool,
                                 const struct ot_snapshot *before);

/* ---- progress ---- */

/* A pool_progress_fn recording into a struct ot_progress (opaque). */
struct ot_progress {
  unsigned calls;
  uint64_t moved, total;        /* of the last call */
  bool went_back;               /* moved ever decreased */
  bool total_changed;
};

extern void ot_record_progress (void *opaque, uint64_t moved,
                                uint64_t total);

#endif /* SWAPDRUM_OFFTEST_H */
