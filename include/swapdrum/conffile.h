/* swapdrum: the pool's config file, read by the plugin (config=FILE)
 * and by swapdrumctl -A/-U.  One device or export per line:
 *
 *   PATH [priority=N] [maxactive=N] [create=SIZE] [timeout=SECONDS]
 *        [direct=BOOL]
 *   export NAME size=SIZE [quota=SIZE] [reserve=SIZE] [tiers=LO-HI]
 *          [shared=BOOL]
 *
 * Words are separated by blanks; a word starting with '#' starts a
 * comment; blank lines are ignored; a NUL byte anywhere is an error.
 * PATH must be absolute and appear once.  (So a path cannot contain
 * blanks.)  Each other word is one option, parsed by devspec_option.
 * An export line declares an export (exportspec.h; its options are
 * exportspec_option's); NAME appears once, and cannot hold blanks.
 *
 * Pointer parameters must not be NULL where the function is marked
 * SD_NONNULL (nonnull.h); the destructors accept NULL.
 */

#ifndef SWAPDRUM_CONFFILE_H
#define SWAPDRUM_CONFFILE_H

#include <stddef.h>
#include <stdio.h>

#include "swapdrum/devspec.h"
#include "swapdrum/exportspec.h"
#include "swapdrum/nonnull.h"

struct conffile {
  struct devspec *specs;
  unsigned *lines;              /* line of each spec in the file */
  size_t n;
  struct exportspec *exports;   /* export lines, in file order */
  unsigned *export_lines;
  size_t nexports;
};

/* Read every device of file into *cf.
 * => returns 0, or -1 after reporting "FILE: reason" or
 *    "FILE:LINE: reason" for the first line that cannot be parsed;
 *    *cf is then empty.
 */
extern int conffile_read (const char *file, struct conffile *cf)
  SD_NONNULL (1, 2);

/* The same from fp, already open (the fuzzer reads from memory); name
 * stands for the file in the messages.  fp is left open.
 */
extern int conffile_read_stream (FILE *fp, const char *name,
                                 struct conffile *cf)
  SD_NONNULL (1, 2, 3);

/* Free what conffile_read allocated.  Accepts an empty *cf. */
extern void conffile_free (struct conffile *cf)
  SD_NONNULL (1);

#endif /* SWAPDRUM_CONFFILE_H */
