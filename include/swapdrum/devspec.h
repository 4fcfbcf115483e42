/* swapdrum: a swap device as the operator names it.
 *
 * "PATH[,priority=N][,maxactive=N][,create=SIZE]", as given to the
 * plugin's swap= key (and later to the admin socket's "on").
 */

#ifndef SWAPDRUM_DEVSPEC_H
#define SWAPDRUM_DEVSPEC_H

#include <stdint.h>

#define SD_PRIORITY_MIN (-1000000)
#define SD_PRIORITY_MAX 1000000
#define SD_MAXACTIVE_MAX 1024

struct devspec {
  char *path;              /* file, block device (or URI later) */
  int priority;            /* lower = preferred; default 0 */
  unsigned maxactive;      /* 0 = the default of the device's kind */
  uint64_t create_size;    /* 0 = do not create; else create if missing */
};

/* Parse a device specification into *spec (path is malloc'd).
 * => returns 0, or -1 after reporting "swap: SPEC: reason" (unknown
 *    key, number out of range, empty path); *spec is then untouched.
 */
extern int devspec_parse (const char *text, struct devspec *spec);

/* Free what devspec_parse allocated.  Accepts NULL. */
extern void devspec_free (struct devspec *spec);

/* Parse a size: a decimal number with an optional suffix
 * (b, k/K/KiB, M/MiB, G/GiB, T/TiB, P/PiB: powers of 1024).
 * => returns 0 with *size set, or -1 after reporting
 *    "what: TEXT: reason".
 */
extern int sd_parse_size (const char *what, const char *text,
                          uint64_t *size);

/* Parse a decimal integer in [min, max].
 * => returns 0, or -1 after reporting "what: TEXT: reason".
 */
extern int sd_parse_int (const char *what, const char *text,
                         long long min, long long max, long long *out);

#endif /* SWAPDRUM_DEVSPEC_H */
