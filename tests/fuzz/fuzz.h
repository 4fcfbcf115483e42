/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* What the fuzz harnesses (tests/fuzz/fuzz-*.c) share.
 *
 * Each harness defines libFuzzer's entry points and nothing else
 * global.  The same file is linked two ways: with clang's libFuzzer
 * (-fsanitize=fuzzer: `make fuzz`, .ci/fuzz) and with replay.c, whose
 * main feeds it every file of the corpus and of the regressions (plain
 * `make check`, any compiler).
 *
 * A harness checks what it can cheaply and calls fuzz_fail when a
 * check fails: that aborts, which both libFuzzer and the replay report
 * as a crash.
 */

#ifndef SWAPDRUM_FUZZ_H
#define SWAPDRUM_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (and replay.c's). */
extern int LLVMFuzzerInitialize (int *argc, char ***argv);
extern int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Print "fuzz: ..." and abort. */
extern void fuzz_fail (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2), noreturn));

#define FUZZ_CHECK(cond, ...)                   \
  do {                                          \
    if (!(cond))                                \
      fuzz_fail (__VA_ARGS__);                  \
  } while (0)

/* Route the engine's errors to a counter instead of stderr (a fuzzer
 * provokes thousands).  Call once, from LLVMFuzzerInitialize.
 */
extern void fuzz_log_init (void);

/* Forget the errors counted so far. */
extern void fuzz_log_reset (void);

/* Errors reported since fuzz_log_reset, and the last one ("" if none). */
extern unsigned fuzz_log_errors (void);
extern const char *fuzz_log_last (void);

/* Check that the engine reported exactly `want` errors since the last
 * reset, each of the form "what: [object: ]reason", the last starting
 * with prefix (NULL: any).
 */
extern void fuzz_log_expect (unsigned want, const char *prefix);

/* A NUL-terminated copy of data (malloc'd; aborts on ENOMEM). */
extern char *fuzz_strndup (const uint8_t *data, size_t size);

#endif /* SWAPDRUM_FUZZ_H */
