/* swapdrumctl: messages and exit codes shared by the parts of the
 * CLI.  (Numbers, sizes, device options and the config file are
 * parsed by the engine's devspec.c and conffile.c, as in the plugin.)
 *
 * The rule for messages: a failing function reports once, with
 * ctl_error, and returns -1 or NULL; its callers only propagate.  So a
 * failed command prints exactly one line on stderr.
 */

#ifndef SWAPDRUMCTL_UTIL_H
#define SWAPDRUMCTL_UTIL_H

#include <stdarg.h>

#include <json-c/json.h>

#define CTL_PROGNAME "swapdrumctl"

/* Exit codes (documented in docs/swapdrumctl.pod). */
#define CTL_EXIT_OK 0
#define CTL_EXIT_FAILURE 1      /* the command failed */
#define CTL_EXIT_USAGE 2        /* bad options or arguments */

/* If set, ctl_error calls it first: a progress bar on the terminal
 * erases itself, so that the message starts on a clean line.
 */
extern void (*ctl_before_error) (void);

/* Print "swapdrumctl: MESSAGE\n" on stderr. */
extern void ctl_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* The same with a va_list: main makes it the engine's error hook
 * (sd_log_set), so the config file and option parsers shared with the
 * plugin report as ctl_error does.
 */
extern void ctl_verror (const char *fmt, va_list args)
  __attribute__ ((format (printf, 1, 0)));

/* Report "out of memory" and exit: the CLI has nothing to undo. */
extern void ctl_nomem (void) __attribute__ ((noreturn));

/* A new string from a printf format; exits on out of memory. */
extern char *ctl_strdup_printf (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* A json-c object released at the end of the scope. */
static inline void
ctl_cleanup_json (json_object **obj)
{
  json_object_put (*obj);
}
#define CLEANUP_JSON __attribute__ ((cleanup (ctl_cleanup_json)))

#endif /* SWAPDRUMCTL_UTIL_H */
