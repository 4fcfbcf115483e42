/* swapdrum: an export as the operator declares it.
 *
 * "NAME,size=SIZE[,quota=SIZE][,reserve=SIZE][,tiers=LO-HI][,shared=BOOL]",
 * as given to the plugin's export= key (exportspec_parse).  The same
 * options are the words after "export NAME" on a config file line
 * (conffile.h).  NAME is what an NBD client asks for: at most 4096
 * bytes of UTF-8 (exportspec_check_name), and it cannot hold a comma
 * in this spelling.
 *
 * Pointer parameters must not be NULL where the function is marked
 * SD_NONNULL (nonnull.h); the destructors accept NULL.
 */

#ifndef SWAPDRUM_EXPORTSPEC_H
#define SWAPDRUM_EXPORTSPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "swapdrum/nonnull.h"

/* The longest export name NBD carries (bytes). */
#define SD_EXPORT_NAME_MAX 4096

struct exportspec {
  char *name;
  uint64_t size;           /* bytes, a multiple of 4096; 0 = not given */
  uint64_t quota;          /* most bytes of pages it may hold; 0 = the
                              pool's size (no quota) */
  uint64_t reserve;        /* bytes of pages kept for it; 0 = none */
  int tier_lo, tier_hi;    /* the priorities its pages may use */
  bool tiers_set;          /* tiers= was given */
  bool shared;             /* more than one host may attach it */
};

/* Check an export name: at most SD_EXPORT_NAME_MAX bytes, valid UTF-8
 * (no overlong forms, no surrogates), no control characters.  The
 * message does not quote the name.
 * => returns 0, or -1 after reporting "WHAT: name ...: reason" with
 *    errno EINVAL.
 */
extern int exportspec_check_name (const char *what, const char *name)
  SD_NONNULL (1, 2);

/* Parse a declaration into *spec (name is malloc'd).  size= is
 * required.
 * => returns 0, or -1 after reporting "export: NAME: reason" (or
 *    "export: TEXT: reason" before the name is known); *spec is then
 *    untouched.
 */
extern int exportspec_parse (const char *text, struct exportspec *spec)
  SD_NONNULL (1, 2);

/* Apply one "key=value" option to *spec: size, quota, reserve (sizes,
 * sd_parse_size, rounded up to 4096 bytes; size at least 4096), tiers
 * (LO-HI, priorities with LO <= HI) or shared (true/false, yes/no,
 * on/off, 1/0).  what names the spec in messages.
 * => returns 0, or -1 after reporting "WHAT: reason" or "WHAT: KEY:
 *    VALUE: reason"; *spec is then untouched.
 */
extern int exportspec_option (struct exportspec *spec, const char *what,
                              const char *opt)
  SD_NONNULL (1, 2, 3);

/* Check what no single option can: size= given, reserve <= quota when
 * both are set.  => returns 0, or -1 after reporting "WHAT: reason".
 */
extern int exportspec_check (const struct exportspec *spec,
                             const char *what)
  SD_NONNULL (1, 2);

/* Free what exportspec_parse allocated.  Accepts NULL. */
extern void exportspec_free (struct exportspec *spec);

#endif /* SWAPDRUM_EXPORTSPEC_H */
