/* swapdrum: the pool's slot interface, for the rest of the engine.
 *
 * Locking: the pool lock (the seed's uvm_swap_data_lock) protects the
 * priority list, the drum table and every swap device's "pool" fields.
 * It is held briefly, never across I/O.  Lock order: see struct pool.
 * The functions below take the pool lock themselves; callers must not
 * hold it.
 */

#ifndef SWAPDRUM_POOL_INT_H
#define SWAPDRUM_POOL_INT_H

#include <pthread.h>
#include <stdint.h>

#include "pool/drum.h"
#include "storage/page.h"
#include "pool/prio.h"
#include "devices/swapdev.h"
#include "swapdrum/pool.h"

/* A tenant of the pool: something that maps its pages to drum slots
 * (an export).  The pool never looks inside a tenant: when the pages on
 * a device must move (swap-off) or are gone (a remote device came back
 * empty), it asks every tenant through these operations.  A tenant
 * embeds struct pool_tenant and finds itself from it (container_of).
 * Both operations are called under admin_lock, with dev taking no new
 * allocations (DRAIN or FAILED); each waits for its own requests that
 * may still map pages on dev before it walks its map.
 */
struct pool_tenant;
struct pool_tenant_ops {
  /* Move every page on dev to other devices, adding to *moved (out of
   * total, for progress, which may be NULL).
   * => returns 0, or -1 after reporting (ENOSPC/EIO: no other device
   *    could take a page); pages moved so far stay moved.
   */
  int (*migrate) (struct pool_tenant *t, struct swapdev *dev,
                  uint64_t *moved, uint64_t total,
                  pool_progress_fn progress, void *opaque);
  /* Mark every page on dev lost (EIO until rewritten); the slots stay
   * allocated, the caller resets dev's allocator afterwards.
   * => returns the number of pages marked.
   */
  uint64_t (*mark_lost) (struct pool_tenant *t, struct swapdev *dev);
};
struct pool_tenant {
  const struct pool_tenant_ops *ops;
};

/* The pool.  Lock order: admin_lock -> devlife -> stripe locks (see
 * stripes.h) -> lock.  A device's gate lock (gate.h) is a leaf, never
 * taken with `lock` held.
 */
struct pool {
  /* admin_lock serializes the changes of the device set (swap-on,
   * swap-off, ctl) from start to end, I/O included.  It is never taken
   * on the data path.
   */
  pthread_mutex_t admin_lock;
  /* The pool lock (the seed's uvm_swap_data_lock) protects prio, the
   * drum's writers, tenants, next_device_id and every device's "pool"
   * fields.  Held briefly, never across I/O.
   */
  pthread_mutex_t lock;
  /* devlife: held shared by code that uses a device pointer it did not
   * get from a map entry under a stripe lock (flush); swap-off holds it
   * exclusive to free a device.
   */
  pthread_rwlock_t devlife;
  struct prio_list prio;        /* every device, FAKE ones included */
  struct drum *drum;
  struct pool_tenant **tenants; /* the exports taking pages from us */
  size_t ntenants;
  uint8_t pool_id[16];
  char description[64];         /* "swapdrum pool ID": constant */
  uint64_t next_device_id;
};

/* Allocate up to `want` contiguous drum slots (the seed's
 * uvm_swap_alloc): walk priorities from the preferred end; inside a
 * priority try every enabled, non-failed device for a whole run, then
 * for a shorter one ("lessok"); rotate the device that gave it to the
 * tail of its priority (round robin).  A priority with any free page
 * is used before a less preferred one, even if it can only give a
 * shorter run.
 * => returns n in [1, want] with *slot set, or 0 with errno ENOSPC
 *    when no enabled device has a free page (EIO if the only free
 *    pages are on FAILED devices).  want must be >= 1.
 */
extern uint64_t pool_alloc (struct pool *pool, uint64_t want,
                            drum_slot_t *slot);

/* Free drum slots [slot, slot + n) (the seed's uvm_swap_free).  The
 * run may span devices whose ranges are adjacent.
 * => a slot that is not allocated is reported as a bug and skipped.
 */
extern void pool_free (struct pool *pool, drum_slot_t slot, uint64_t n);

/* Mark an allocated slot bad (the seed's uvm_swap_markbad): it stays
 * allocated forever and is counted in npgbad, not npginuse.
 */
extern void pool_markbad (struct pool *pool, drum_slot_t slot);

/* The device owning slot (the seed's swapdrum_getsdp), by binary
 * search of the drum table; NULL if no device owns it.  Takes no lock.
 */
extern struct swapdev *pool_getsdp (struct pool *pool, drum_slot_t slot);

/* Call after an I/O error on dev: if the device keeps failing, mark it
 * FAILED (no new allocations) and report that once.
 */
extern void pool_note_error (struct pool *pool, struct swapdev *dev);

/* Register / unregister a tenant, so that swap-off and the monitor can
 * reach the pages on a device.  pool_add_tenant returns -1 with errno
 * ENOMEM (not reported: the caller reports).
 */
extern int pool_add_tenant (struct pool *pool, struct pool_tenant *t);
extern void pool_remove_tenant (struct pool *pool, struct pool_tenant *t);

/* The tenants now, copied into a new array (*n of them), or NULL after
 * reporting "what: ENOMEM".  Tenants live as long as the pool's users
 * keep them registered; the caller frees the array.
 */
extern struct pool_tenant **pool_tenants (struct pool *pool,
                                          const char *what, size_t *n);
/* The same, => caller holds the pool lock. */
extern struct pool_tenant **pool_tenants_locked (struct pool *pool,
                                                 const char *what,
                                                 size_t *n);

/* Tell every tenant that dev came back without its pages: they mark
 * them lost, and *lost counts the pages marked in all tenants.
 * => caller holds admin_lock; dev is FAILED.
 * => returns 0, or -1 after reporting (ENOMEM) with nothing marked:
 *    the caller must then keep dev's allocator as it is.
 */
extern int pool_mark_lost (struct pool *pool, struct swapdev *dev,
                           uint64_t *lost);

/* Add a device built by the caller (unit tests): as pool_swapon after
 * the open.  Takes ownership of dev, even on failure.
 */
extern int pool_swapon_dev (struct pool *pool, struct swapdev *dev,
                            int priority);

#endif /* SWAPDRUM_POOL_INT_H */
