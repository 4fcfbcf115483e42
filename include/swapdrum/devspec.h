/* swapdrum: a swap device as the operator names it.
 *
 * "PATH[,priority=N][,maxactive=N][,create=SIZE][,timeout=SECONDS]
 *  [,direct=BOOL]",
 * as given to the plugin's swap= key (devspec_parse).  The same
 * options are the words of a config file line (conffile.h) and
 * swapdrumctl's -o (devspec_option); the admin socket's "on" takes
 * them as JSON members and fills in a struct devspec itself.  PATH is
 * a file, a block device or an NBD URI (devspec_is_uri).
 *
 * Pointer parameters must not be NULL where the function is marked
 * SD_NONNULL (nonnull.h); the destructors accept NULL.
 */

#ifndef SWAPDRUM_DEVSPEC_H
#define SWAPDRUM_DEVSPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "swapdrum/nonnull.h"

#define SD_PRIORITY_MIN (-1000000)
#define SD_PRIORITY_MAX 1000000
#define SD_MAXACTIVE_MAX 1024
#define SD_TIMEOUT_MAX 3600
#define SD_TIMEOUT_DEFAULT 30

struct devspec {
  char *path;              /* file, block device or NBD URI */
  int priority;            /* lower = preferred; default 0 */
  bool priority_set;       /* priority= was given, not defaulted (for
                              swapdrumctl -A, whose -p is the default) */
  unsigned maxactive;      /* 0 = the default of the device's kind */
  uint64_t create_size;    /* 0 = do not create; else create if missing */
  unsigned timeout;        /* remote devices: seconds a request may take
                              (0 = the default, SD_TIMEOUT_DEFAULT) */
  bool direct;             /* local devices: page I/O with O_DIRECT */
};

/* Parse a device specification into *spec (path is malloc'd).
 * => returns 0, or -1 after reporting "swap: SPEC: reason" (empty
 *    path, ENOMEM) or, for a bad option, as devspec_option does with
 *    WHAT "swap: PATH"; *spec is then untouched.
 */
extern int devspec_parse (const char *text, struct devspec *spec)
  SD_NONNULL (1, 2);

/* Apply one "key=value" option to *spec: priority (SD_PRIORITY_MIN to
 * SD_PRIORITY_MAX), maxactive (1 to SD_MAXACTIVE_MAX), create (a size
 * of at least 8192 bytes, sd_parse_size), timeout (seconds, 1 to
 * SD_TIMEOUT_MAX) or direct (sd_parse_bool).  what names the spec in
 * error messages ("swap: PATH" for devspec_parse, "FILE:LINE" for a
 * config file, "-o" for swapdrumctl).
 * => returns 0, or -1 after reporting "WHAT: reason" (no value,
 *    unknown key, create=0) or "WHAT: KEY: VALUE: reason"; *spec is
 *    then untouched.
 */
extern int devspec_option (struct devspec *spec, const char *what,
                           const char *opt)
  SD_NONNULL (1, 2, 3);

/* True if path names a remote device: an NBD URI (nbd://, nbds://,
 * nbd+unix://, nbds+unix://, nbd+vsock://, nbds+vsock://).
 */
extern bool devspec_is_uri (const char *path)
  SD_NONNULL (1);

/* Free what devspec_parse allocated.  Accepts NULL. */
extern void devspec_free (struct devspec *spec);

/* Parse a size: a decimal number with an optional suffix
 * (b, k/K/KiB, M/MiB, G/GiB, T/TiB, P/PiB: powers of 1024).
 * => returns 0 with *size set, or -1 after reporting
 *    "what: TEXT: reason".
 */
extern int sd_parse_size (const char *what, const char *text,
                          uint64_t *size)
  SD_NONNULL (1, 2, 3);

/* Parse a boolean: true, yes, on or 1; false, no, off or 0 (any
 * case).
 * => returns 0 with *out set, or -1 after reporting "what: TEXT: not a
 *    boolean (true or false)".
 */
extern int sd_parse_bool (const char *what, const char *text, bool *out)
  SD_NONNULL (1, 2, 3);

/* Parse a decimal integer in [min, max].
 * => returns 0, or -1 after reporting "what: TEXT: reason".
 */
extern int sd_parse_int (const char *what, const char *text,
                         long long min, long long max, long long *out)
  SD_NONNULL (1, 2, 5);

#endif /* SWAPDRUM_DEVSPEC_H */
