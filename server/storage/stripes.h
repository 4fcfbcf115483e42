/* swapdrum: striped page locks of an export.
 *
 * Requests that read or write pages hold the stripes of those pages
 * shared for the whole request; operations that free or move the slot
 * behind a page (trim, zero, migration) hold the page's stripe
 * exclusive, one stripe at a time.  So a slot is never freed (and
 * handed to another page) while a request still uses it.
 *
 * A stripe covers STRIPE_PAGES consecutive pages (256 KiB); stripes
 * are hashed into NSTRIPES rwlocks.  The rwlocks prefer writers, so
 * trim and swap-off are not starved by steady reads.  Deadlock freedom:
 * a request takes its stripes shared in increasing index order, and an
 * exclusive holder (trim, zero, migration, the barrier) holds one
 * stripe at a time and never waits for another while holding it.  No
 * thread takes a stripe it already holds.
 *
 * Each stripe also has a write generation, bumped (release) by every
 * holder that may have changed its pages' data or slots, just before it
 * lets go: writers through stripes_unlock_written, exclusive holders
 * through stripes_wrunlock.  Swap-off copies a stripe's pages without
 * holding it, then takes it exclusive and switches the map only if the
 * generation it read before copying is unchanged: any write that
 * overlapped the copy bumped it before letting go (see
 * export/export-migrate.c).
 *
 * The stripes pointer is never NULL (SD_NONNULL, nonnull.h).
 */

#ifndef SWAPDRUM_STRIPES_H
#define SWAPDRUM_STRIPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "storage/page.h"
#include "swapdrum/nonnull.h"

#define STRIPE_SHIFT 6
#define STRIPE_PAGES (UINT64_C (1) << STRIPE_SHIFT)
#define NSTRIPES 1024

struct stripes {
  pthread_rwlock_t lock[NSTRIPES]; /* each: the slots of its pages */
  _Atomic uint32_t gen[NSTRIPES];  /* write generations, lock-free */
};

extern void stripes_init (struct stripes *s)
  SD_NONNULL (1);
extern void stripes_fini (struct stripes *s)
  SD_NONNULL (1);

/* Hold shared / release the stripes of pages [first, first + n). */
extern void stripes_rdlock (struct stripes *s, export_page_t first,
                            uint64_t n)
  SD_NONNULL (1);
extern void stripes_unlock_range (struct stripes *s, export_page_t first,
                                  uint64_t n)
  SD_NONNULL (1);

/* Release the stripes of pages [first, first + n), held shared by a
 * request that wrote them, bumping their write generations first.
 */
extern void stripes_unlock_written (struct stripes *s, export_page_t first,
                                    uint64_t n)
  SD_NONNULL (1);

/* Take and drop every stripe exclusive, one after the other: when it
 * returns, every request that held a stripe when it was called has
 * finished with it.
 */
extern void stripes_barrier (struct stripes *s)
  SD_NONNULL (1);

/* Take the one stripe of page exclusive / release it from exclusive.
 * stripes_wrunlock bumps the stripe's write generation before
 * releasing it.
 */
extern void stripes_wrlock (struct stripes *s, export_page_t page)
  SD_NONNULL (1);
extern void stripes_wrunlock (struct stripes *s, export_page_t page)
  SD_NONNULL (1);

/* The old name of stripes_wrunlock, until export-migrate.c (being
 * rewritten elsewhere) calls it by the new one.  Remove then.
 */
static inline void
stripes_unlock (struct stripes *s, export_page_t page)
{
  stripes_wrunlock (s, page);
}

/* The write generation of page's stripe (acquire): read it before
 * copying the stripe's pages without the lock; if it is the same once
 * the stripe is held exclusive, no write overlapped the copy.
 */
extern uint32_t stripes_gen (struct stripes *s, export_page_t page)
  SD_NONNULL (1);

#endif /* SWAPDRUM_STRIPES_H */
