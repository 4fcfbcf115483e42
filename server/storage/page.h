/* swapdrum: pages and slots.
 *
 * Every address in the engine is a 4096-byte page.  Export pages are
 * what a client sees; drum slots are the pool's global slot space;
 * device pages are offsets inside one swap device.  They are all
 * uint64_t, named apart so that a signature says which one it wants.
 */

#ifndef SWAPDRUM_PAGE_H
#define SWAPDRUM_PAGE_H

#include <stdint.h>

#define SD_PAGE_SHIFT 12
#define SD_PAGE_SIZE (UINT64_C (1) << SD_PAGE_SHIFT)

/* A page of an export (the client's view). */
typedef uint64_t export_page_t;

/* A slot of the drum (the pool's view).  Slot 0 is never valid: it
 * means "no slot", as in NetBSD's uvm_swap_alloc.
 */
typedef uint64_t drum_slot_t;
#define DRUM_NO_SLOT ((drum_slot_t) 0)

/* The highest valid slot.  The export map stores a slot in a 32-bit
 * entry (map.h) with one value reserved, so the drum holds at most
 * 2^32 - 2 slots: 16 TiB of swap in the pool at once.
 */
#define DRUM_MAX_SLOT ((drum_slot_t) UINT32_MAX - 1)

/* A page inside one swap device's allocator, counted from 0. */
typedef uint64_t dev_page_t;

#endif /* SWAPDRUM_PAGE_H */
