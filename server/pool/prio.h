/* swapdrum: the priority list (the seed's swap_priority list).
 *
 * The devices of a pool in the order allocation visits them: sorted
 * by priority, lower number first (preferred); devices of one priority
 * form a ring kept in list order, and the device that gives an
 * allocation is rotated to the tail of its ring, so equals take turns.
 * A priority group exists only while it has devices.
 *
 * Locking: none of its own; every call needs the pool lock.
 */

#ifndef SWAPDRUM_PRIO_H
#define SWAPDRUM_PRIO_H

#include <stddef.h>

#include "devices/swapdev.h"

struct prio_list {
  size_t n, cap;
  struct swapdev **devs;        /* sorted by priority; ring order within */
};

/* Insert dev at the tail of the ring of dev->priority.
 * => returns 0, or -1 with errno ENOMEM (nothing changed).
 */
extern int prio_insert (struct prio_list *pl, struct swapdev *dev);

/* Remove dev if it is in the list. */
extern void prio_remove (struct prio_list *pl, struct swapdev *dev);

/* Move dev to the tail of the ring of its priority. */
extern void prio_rotate (struct prio_list *pl, struct swapdev *dev);

/* Index one past the last device with the same priority as devs[i]
 * (the end of i's group).
 */
extern size_t prio_group_end (const struct prio_list *pl, size_t i);

/* Free the array (not the devices). */
extern void prio_free (struct prio_list *pl);

#endif /* SWAPDRUM_PRIO_H */
