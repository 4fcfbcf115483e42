/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrum-attach: messages, the last error, and the clock.
 *
 * The rule for errors is libnbd's: a failing function records one
 * message with attach_set_error ("what: object: reason") and returns
 * -1 or NULL; its callers only propagate.  Whoever decides what to do
 * with the failure prints attach_get_error () once: main at the first
 * attach, the supervisor (rate-limited) while it reconnects.
 *
 * swapdrum-attach has one thread; nothing here locks.
 */

#ifndef SWAPDRUM_ATTACH_UTIL_H
#define SWAPDRUM_ATTACH_UTIL_H

#define ATTACH_PROGNAME "swapdrum-attach"

/* Exit codes (documented in docs/swapdrum-attach.pod). */
#define ATTACH_EXIT_OK 0
#define ATTACH_EXIT_FAILURE 1
#define ATTACH_EXIT_USAGE 2

/* Record the last error, replacing the one before.  %m works (errno
 * is saved on entry).  Never fails: a message longer than the buffer
 * is cut.
 */
extern void attach_set_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* The last error recorded, or "unknown error". */
extern const char *attach_get_error (void);

/* Print "swapdrum-attach: MESSAGE\n" on stderr.  Used both for errors
 * and for the events of a running attach (lost, reconnected).
 */
extern void attach_log (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* Seconds on CLOCK_MONOTONIC. */
extern double attach_now (void);

/* Copy the untrusted bytes SRC[0..LEN) into DST (of DSTLEN bytes,
 * NUL-terminated), printable ASCII kept and anything else written as
 * '?', so that a server's text can go into a message.  Returns DST.
 */
extern char *attach_printable (char *dst, size_t dstlen,
                               const char *src, size_t len);

#endif /* SWAPDRUM_ATTACH_UTIL_H */
