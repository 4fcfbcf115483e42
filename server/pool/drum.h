/* swapdrum: the drum, the pool's global slot space.
 *
 * Every swap device in the pool owns one contiguous range
 * [drumoffset, drumoffset + npages) of the drum.  The table of devices
 * sorted by drumoffset is both the range allocator (a new device takes
 * the first gap that fits, above slot 0 which is never valid) and the
 * index for drum_getsdp (binary search).
 *
 * Locking: drum_claim and drum_release must be called with the pool
 * lock held.  drum_getsdp takes no lock: the table is immutable once
 * published and replaced with an atomic pointer store; replaced tables
 * are kept until drum_destroy so a reader never sees one freed.  A
 * table holds a copy of each device's range, so the search reads no
 * device: a reader of a replaced table never touches a device freed
 * after drum_release.  The device drum_getsdp returns is alive as long
 * as the caller's slot is in use.
 */

#ifndef SWAPDRUM_DRUM_H
#define SWAPDRUM_DRUM_H

#include "storage/page.h"
#include "devices/swapdev.h"

struct drum;

/* => returns NULL with errno ENOMEM. */
extern struct drum *drum_create (void);

/* Free the drum and every table it published.  Accepts NULL.  Does
 * not free the devices.
 */
extern void drum_destroy (struct drum *drum);

/* Give dev the first free range of dev->npages slots: sets
 * dev->drumoffset and publishes a new table.
 * => returns 0, or -1 with errno ENOMEM (or ENOSPC if the drum's
 *    DRUM_MAX_SLOT slots, 16 TiB, are used up); nothing changes then.
 */
extern int drum_claim (struct drum *drum, struct swapdev *dev);

/* Return dev's range and publish a table without it.
 * => returns 0, or -1 with errno ENOMEM (dev stays in the table).
 */
extern int drum_release (struct drum *drum, struct swapdev *dev);

/* The device whose range holds slot, or NULL. */
extern struct swapdev *drum_getsdp (const struct drum *drum,
                                    drum_slot_t slot);

#endif /* SWAPDRUM_DRUM_H */
