/* swapdrum: error and debug messages.
 *
 * The engine never includes nbdkit headers, so it reports through a
 * pair of hooks: the plugin points them at nbdkit_verror and
 * nbdkit_vdebug, the unit tests at a capture buffer, and by default
 * they print to stderr.  Errors follow "what: object: reason".
 *
 * The hooks are set once at start-up, before any other thread runs.
 */

#ifndef SWAPDRUM_LOG_H
#define SWAPDRUM_LOG_H

#include <stdarg.h>

typedef void (*sd_log_fn) (const char *fmt, va_list args);

/* Route errors and debug messages.  NULL restores the default
 * (stderr for errors, nothing for debug).
 */
extern void sd_log_set (sd_log_fn error, sd_log_fn debug);

/* Report an error once, where it happens.  Preserves errno. */
/* Where notices go: a line the operator should see that is not an
 * error (how the pool came up).  NULL: stderr, as errors by default.
 * Set once before threads start.
 */
extern void sd_log_set_notice (sd_log_fn notice);

/* Report a notice (one line, no newline in fmt). */
extern void sd_notice (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

extern void sd_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* The last error this thread reported with sd_error (as the hook got
 * it), or "" if none: the admin server puts it in its reply.  Valid
 * until this thread's next sd_error.
 */
extern const char *sd_last_error (void);

/* Forget this thread's last error. */
extern void sd_clear_error (void);


/* Debug message (shown by nbdkit -v).  Preserves errno. */
extern void sd_debug (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

#endif /* SWAPDRUM_LOG_H */
