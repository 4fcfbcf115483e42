/* swapdrum: the export set's insides, shared by exportset.c (the set,
 * live changes) and session.c (who is attached, requests).
 */

#ifndef SWAPDRUM_EXPORTSET_INT_H
#define SWAPDRUM_EXPORTSET_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "export/iostats.h"
#include "swapdrum/exportset.h"

/* One export of the set. */
struct xs_entry {
  struct export *exp;           /* constant while the entry lives */
  bool live;                    /* constant after it is added */

  /* Under the set's lock. */
  bool served;                  /* sessions may open */
  bool shared;                  /* several hosts may attach */
  bool removing;                /* exportset_remove has it */
  bool resizing;                /* exportset_set is resizing it */
  char *host;                   /* the attached host, NULL if none */
  unsigned sessions;            /* open on it, from host */

  /* Set under the set's lock, read by requests without it. */
  _Atomic bool gone;            /* removed by force: requests fail */

  struct iostats io;            /* lock-free counters */
};

/* Lock order: admin -> lock -> the pool's locks.  admin is held across
 * a whole add or remove (a removal frees pages for as long as that
 * takes); lock only for short sections, never across I/O.
 */
struct exportset {
  struct pool *pool;
  pthread_mutex_t admin;        /* serialises exportset_add and
                                   exportset_remove */
  pthread_mutex_t lock;         /* protects entries, n, and the fields
                                   of each entry marked so */
  struct xs_entry **entries;    /* served first at open; then in order
                                   of addition */
  size_t n;
};

/* The entry named name, or NULL.  => caller holds set->lock. */
extern struct xs_entry *xs_lookup (const struct exportset *set,
                                   const char *name)
  SD_NONNULL (1, 2);

/* The last step of a removal: free every page of e's export, clearing
 * their records, then take e out of the set, close the export, drop
 * it from the pool table and free e.  e is removing and has no
 * session.
 * => caller holds set->admin, not set->lock.
 * => returns 0; -1 after reporting if not every page could be freed
 *    (e stays in the set, removing); -2 after reporting if the pool
 *    table could not be written (e is gone).
 */
extern int xs_finish_removal (struct exportset *set, struct xs_entry *e,
                              exportset_progress_fn progress, void *opaque,
                              uint64_t *freed)
  SD_NONNULL (1, 2);

#endif /* SWAPDRUM_EXPORTSET_INT_H */
