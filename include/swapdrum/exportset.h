/* swapdrum: the exports a server serves, and who is attached to them
 * (public engine API).
 *
 * The server declares exports (exportspec.h: the plugin's export= keys
 * and a config file's export lines), or none: then it serves the
 * default export "" alone, as a single-host server always has.  Exports
 * created over the admin socket (exportset_add) are marked live in the
 * pool table and served at every start, declared or not, until they
 * are removed (exportset_remove).  The pool table may hold more exports
 * (declared at an earlier start, and not now): those are opened too,
 * so that their page records are recovered and their pages kept, but
 * not served, and a notice says so for each.
 *
 * One host per export: a client connection attaches to an export as a
 * session (session.h) from a host; while one host has sessions on an
 * export, another host is refused, unless the export is shared.
 *
 * Build the set after pool_assemble and before pool_recover; destroy it
 * before pool_destroy, when no request runs.  Every other function is
 * thread-safe.
 */

#ifndef SWAPDRUM_EXPORTSET_H
#define SWAPDRUM_EXPORTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "swapdrum/export.h"
#include "swapdrum/exportspec.h"
#include "swapdrum/nonnull.h"
#include "swapdrum/pool.h"

struct exportset;

/* The kinds of request an export counts. */
enum sd_io_kind {
  SD_IO_READ,
  SD_IO_WRITE,
  SD_IO_TRIM,                   /* trim and write-zeroes */
  SD_IO_FLUSH,
  SD_IO_KINDS
};

/* What clients did with one kind of request: how many, the bytes of
 * those that succeeded, how many failed, and latency percentiles in
 * nanoseconds (within 25%: see iostats.h).
 */
struct sd_iostat {
  uint64_t ops, bytes, errors;
  uint64_t p50_ns, p99_ns, p999_ns;
};

/* One export, a snapshot (exportset_info). */
struct sd_export_info {
  char *name;
  bool served;                  /* false: kept (not declared), or being
                                   removed */
  bool live;                    /* created over the admin socket */
  bool shared;                  /* several hosts may attach */
  bool removing;
  uint64_t size, quota, used;   /* bytes; quota 0: none */
  uint64_t reserve;             /* bytes; 0: none */
  int tier_lo, tier_hi;         /* the priorities its pages may use */
  char *host;                   /* the host attached, or NULL */
  unsigned sessions;            /* its connections */
  struct sd_iostat io[SD_IO_KINDS];
};

/* Open the n declared exports (n may be 0: the default export "" of
 * default_size bytes, 0 for the pool table's or the sum of the
 * devices), the pool table's live exports, then its other exports,
 * unserved.
 * => returns the set, or NULL after reporting (two declarations of one
 *    name: "export: NAME: declared twice"; default_size with
 *    declarations: "size: ..."; what export_create_spec reports).
 */
extern struct exportset *exportset_open (struct pool *pool,
                                         const struct exportspec *decls,
                                         size_t n, uint64_t default_size)
  SD_NONNULL (1);

/* Destroy every export of the set (export_destroy), free it.  Accepts
 * NULL.  No session may be open.
 */
extern void exportset_destroy (struct exportset *set);

/* The names of the exports served now, in order (declared, then live).
 * => returns a malloc'd NULL-terminated array (free with
 *    pool_names_free), or NULL with errno ENOMEM after reporting.
 */
extern char **exportset_names (struct exportset *set)
  SD_NONNULL (1);

/* Snapshot every export of the set, served ones first.
 * => returns the count with *info a malloc'd array (free with
 *    exportset_info_free), or -1 with errno ENOMEM after reporting.
 */
extern ssize_t exportset_info (struct exportset *set,
                               struct sd_export_info **info)
  SD_NONNULL (1, 2);
extern void exportset_info_free (struct sd_export_info *info, size_t n);

/* Create and serve the export spec declares, now: it is marked live in
 * the pool table (written to every device before this returns), so it
 * is served at every start until removed.
 * => returns 0, or -1 after reporting "export: NAME: reason" and
 *    changing nothing (EEXIST: the set has that name, served, kept or
 *    being removed; what export_create_spec reports).
 */
extern int exportset_add (struct exportset *set,
                          const struct exportspec *spec)
  SD_NONNULL (1, 2);

/* Change export name's size and limits live: opts is a comma-separated
 * list of the keys of export= (exportspec.h): size=SIZE, quota=SIZE
 * (or quota=none), reserve=SIZE (0: none), tiers=LO-HI (or
 * tiers=all), shared=BOOL.  Keys not given keep their values.  size=
 * needs the export detached (a client's device keeps the size it was
 * given), holds off new connections while it runs, and when shrinking
 * frees the pages past the new end (export_resize).  What the pool
 * keeps (size, export_set_limits) and a live export's shared flag are
 * written to the pool table; a declared export's declaration applies
 * again at the next start (its size only if larger: a start never
 * drops pages).
 * => returns 0, or -1 after reporting "export: NAME: reason" with
 *    nothing changed (ENOENT: no such export, or being removed;
 *    EINVAL: a bad option, a size below the reserve; EBUSY: size= or
 *    shared=false while connected, or tiers that leave pages outside;
 *    what export_set_limits refuses; EIO: pages past a new end could
 *    not all be freed, and the export keeps its size).
 */
extern int exportset_set (struct exportset *set, const char *name,
                          const char *opts)
  SD_NONNULL (1, 2, 3);

/* Progress of a removal: pages freed so far, of total. */
typedef void (*exportset_progress_fn) (void *opaque, uint64_t freed,
                                       uint64_t total);

/* Remove export name for good: stop serving it, free its pages
 * (clearing their records, so that no later start brings them back),
 * drop it from the pool table.  Refused with EBUSY while a session is
 * open, unless force: then the sessions' requests fail with EIO from
 * now on, and the pages are freed when the last of them closes.
 * *freed (if not NULL) is set to the pages freed.
 * => returns 0, or -1 after reporting "remove: export NAME: reason"
 *    (ENOENT: no such export; EBUSY: attached; EIO: freeing failed,
 *    the export is then served again with the pages not yet freed).
 */
extern int exportset_remove (struct exportset *set, const char *name,
                             bool force, exportset_progress_fn progress,
                             void *opaque, uint64_t *freed)
  SD_NONNULL (1, 2);

#endif /* SWAPDRUM_EXPORTSET_H */
