/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* An in-memory swap device backend for the unit tests, plus a log
 * capture the tests share.
 *
 * A membackend is a zeroed malloc'd buffer behind struct swapdev_ops:
 * byte 0 is the stamp page (stamp_offset) and data page p lives at
 * data_offset + p * 4096, as swapdev_new lays it out.  Tests can make
 * I/O to chosen data pages (or to the stamp, or to everything) fail
 * with EIO, slow every I/O down to widen race windows, count I/Os and
 * look into the buffer to see where data landed.
 *
 * Thread safety: every function may be called from any thread at any
 * time.  The buffer is copied in and out under the backend's own lock,
 * so each I/O is atomic with respect to the others; the delay is spent
 * outside it, so I/Os still overlap and the engine's maxactive gate is
 * what limits them.
 *
 * A remote membackend (mb_remote_device) models an NBD export served
 * from memory: its ops have .connect, and the test can drop the
 * connection, keep the server away, and restart it with its memory
 * intact or empty.  Like the real remote backend, an I/O that fails
 * because the connection is gone takes the device offline
 * (swapdev_set_online (dev, false)); only ops->connect brings the
 * connection back, and the engine decides when the device is online.
 *
 * Ownership: the swap device owns its backend.  It is freed when the
 * device is (swapdev_free, pool_destroy, or a refused pool_swapon_dev),
 * so a test may use the membackend pointer only while its device
 * lives.
 */

#ifndef SWAPDRUM_MEMBACKEND_H
#define SWAPDRUM_MEMBACKEND_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/page.h"
#include "devices/swapdev.h"

/* The kind name membackend devices report in stats. */
#define MB_KIND "mem"

struct membackend;

/* Build a swap device "NAME" (ident "mem:NAME") over a new backend of
 * npages data pages plus the stamp page.  maxactive 0 takes
 * swapdev_new's default.  If mbp is not NULL it is set to the backend.
 * => returns NULL after reporting (npages 0, or ENOMEM).
 */
extern struct swapdev *mb_device (const char *name, uint64_t npages,
                                  unsigned maxactive,
                                  struct membackend **mbp);

/* The same with an explicit ident, to model one object under two
 * names.
 */
extern struct swapdev *mb_device_ident (const char *name, const char *ident,
                                        uint64_t npages, unsigned maxactive,
                                        struct membackend **mbp);

/* Failure injection: I/O touching any chosen page fails with EIO.
 * Pages are data pages (data_offset + page * 4096); a page past the
 * end is ignored.
 */
extern void mb_fail_write_page (struct membackend *mb, dev_page_t page,
                                bool fail);
extern void mb_fail_read_page (struct membackend *mb, dev_page_t page,
                               bool fail);
extern void mb_fail_stamp_write (struct membackend *mb, bool fail);
extern void mb_fail_all_writes (struct membackend *mb, bool fail);
extern void mb_fail_all_reads (struct membackend *mb, bool fail);
extern void mb_fail_flush (struct membackend *mb, bool fail);

/* While held, every read and write waits (counted, and in flight)
 * until the hold is lifted: a test can stop the engine inside an I/O.
 */
extern void mb_hold (struct membackend *mb, bool hold);

/* Sleep this long in every read and write (0: no delay). */
extern void mb_set_delay (struct membackend *mb, unsigned usec);

/* ---- remote mode ---- */

/* As mb_device, but a remote: its ops have .connect, and it starts
 * connected.
 */
extern struct swapdev *mb_remote_device (const char *name, uint64_t npages,
                                         unsigned maxactive,
                                         struct membackend **mbp);

/* The connection drops and the server goes away: every later read,
 * write and flush fails with EIO and takes the device offline, and
 * connect fails until mb_restart.
 */
extern void mb_drop (struct membackend *mb);

/* The server restarts: connections from before are gone (I/O fails as
 * after mb_drop until a connect), and connect works again.  Its memory
 * is as it was, or, if empty, all zeros, the stamp page included, as a
 * memory-backed NBD server's.
 */
extern void mb_restart (struct membackend *mb, bool empty);

/* While set, connect fails (ECONNREFUSED) even if the server is up. */
extern void mb_fail_connect (struct membackend *mb, bool fail);

/* Connect attempts so far, failed ones included. */
extern uint64_t mb_connects (struct membackend *mb);

/* When the device is freed, add 1 to *closes (which must outlive it):
 * the backend itself is gone by then.  Call before the device can be
 * freed.
 */
extern void mb_count_close (struct membackend *mb, atomic_uint *closes);

/* Counters, failed I/Os included. */
extern uint64_t mb_reads (struct membackend *mb);
extern uint64_t mb_writes (struct membackend *mb);
extern uint64_t mb_flushes (struct membackend *mb);
/* Reads and writes in progress now (held ones included). */
extern unsigned mb_inflight (struct membackend *mb);
/* Most reads and writes ever in progress at once. */
extern unsigned mb_peak_inflight (struct membackend *mb);
/* I/Os that reached outside the buffer (an engine bug): always 0. */
extern uint64_t mb_out_of_bounds (struct membackend *mb);

/* The backend's bytes: the whole buffer, one data page, the stamp.
 * Read them only while no I/O is running on the device.
 */
extern const unsigned char *mb_buffer (struct membackend *mb);
extern uint64_t mb_size (struct membackend *mb);
extern const unsigned char *mb_page (struct membackend *mb, dev_page_t page);
extern const unsigned char *mb_stamp (struct membackend *mb);
extern uint64_t mb_npages (struct membackend *mb);

/* Log capture.  mb_log_capture routes the engine's errors (and debug
 * messages, if `debug`) into a buffer instead of stderr; call it
 * first in a test, before any thread starts.  The other functions are
 * thread-safe.
 */
extern void mb_log_capture (bool debug);
/* Number of errors reported since the capture started. */
extern unsigned mb_log_errors (void);
/* True if some captured message (an error, or a debug message when
 * captured) contains needle.
 */
extern bool mb_log_has (const char *needle);
/* The last error message, "" if none (valid until the next report). */
extern const char *mb_log_last (void);

#endif /* SWAPDRUM_MEMBACKEND_H */
