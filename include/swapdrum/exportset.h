/* swapdrum: the exports a server serves (public engine API).
 *
 * The server declares exports (exportspec.h: the plugin's export= keys
 * and a config file's export lines), or none: then it serves the
 * default export "" alone, as a single-host server always has.  The
 * pool table may hold more exports than are declared (declared at an
 * earlier start, and not now): those are opened too, so that their
 * page records are recovered and their pages kept, but not served,
 * and a notice says so for each.
 *
 * Build the set after pool_assemble and before pool_recover; destroy it
 * before pool_destroy, when no request runs.
 */

#ifndef SWAPDRUM_EXPORTSET_H
#define SWAPDRUM_EXPORTSET_H

#include <stddef.h>
#include <stdint.h>

#include "swapdrum/export.h"
#include "swapdrum/exportspec.h"
#include "swapdrum/nonnull.h"

struct exportset;

/* Open the n declared exports (n may be 0: the default export "" of
 * default_size bytes, 0 for the pool table's or the sum of the
 * devices), then the pool table's other exports, unserved.
 * => returns the set, or NULL after reporting (two declarations of one
 *    name: "export: NAME: declared twice"; default_size with
 *    declarations: "size: ..."; what export_create_spec reports).
 */
extern struct exportset *exportset_open (struct pool *pool,
                                         const struct exportspec *decls,
                                         size_t n, uint64_t default_size)
  SD_NONNULL (1);

/* Destroy every export of the set (export_destroy), free it.  Accepts
 * NULL.
 */
extern void exportset_destroy (struct exportset *set);

/* The served export called name.
 * => returns it, or NULL with errno ENOENT after reporting "export:
 *    NAME: no such export (the server has: A, B, ...)".
 */
extern struct export *exportset_find (const struct exportset *set,
                                      const char *name)
  SD_NONNULL (1, 2);

/* How many exports are served, and the i-th (0 <= i < count), in
 * declaration order.
 */
extern size_t exportset_count (const struct exportset *set)
  SD_NONNULL (1);
extern struct export *exportset_get (const struct exportset *set, size_t i)
  SD_NONNULL (1);

#endif /* SWAPDRUM_EXPORTSET_H */
