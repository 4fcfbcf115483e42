/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* nbdkit-aflfork-filter: where AFL++'s fork server starts when the
 * NBD-stream fuzzer runs the plugin under `nbdkit -s` (docs/fuzzing.md).
 *
 * Debian's nbdkit is not instrumented; the plugin is (afl-clang-fast),
 * and AFL++'s runtime is preloaded.  Started at load, the fork server
 * would make every run pay for nbdkit's start-up, the loading of the
 * plugin and its libraries, and the opening of the devices: about
 * 50 ms, so 20 runs a second.  With __AFL_DEFER_FORKSRV set, the
 * runtime waits for __afl_manual_init, which this filter calls from
 * get_ready: nbdkit 1.32 runs it after the plugin's own get_ready (the
 * pool is built, its devices open) and before after_fork (no thread of
 * the plugin or of nbdkit runs yet, so forking is safe).  Each run then
 * starts at the NBD handshake.
 *
 * Without AFL++'s runtime loaded the filter does nothing.
 */

#include <config.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-filter.h>

/* In AFL++'s runtime (afl-compiler-rt), preloaded by the fuzzer. */
extern void __afl_manual_init (void) __attribute__ ((weak));

static int
aflfork_get_ready (int thread_model)
{
  if (__afl_manual_init)
    __afl_manual_init ();
  return 0;
}

static struct nbdkit_filter filter = {
  .name              = "aflfork",
  .longname          = "swapdrum AFL++ fork server point",
  .get_ready         = aflfork_get_ready,
};

NBDKIT_REGISTER_FILTER (filter)
