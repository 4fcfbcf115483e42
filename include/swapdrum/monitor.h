/* swapdrum: the monitor thread (public engine API).
 *
 * The monitor reconnects FAILED devices that can reconnect (remote
 * exports) with backoff (1 s doubling to 30 s), checks their stamp, and
 * brings them back: with their pages if the stamp matches, else with
 * every page they held marked lost (EIO until rewritten) and an empty
 * allocator.  It works on a pool but the pool does not know it: whoever
 * owns the pool starts the monitor after nbdkit forks and stops it
 * before destroying the pool.
 */

#ifndef SWAPDRUM_MONITOR_H
#define SWAPDRUM_MONITOR_H

struct pool;
struct monitor;

/* Start a monitor thread for pool.
 * => returns the monitor, or NULL after reporting.
 */
extern struct monitor *monitor_start (struct pool *pool);

/* Stop the thread (promptly: it finishes the round it is in) and free
 * the monitor.  NULL is a no-op.
 */
extern void monitor_stop (struct monitor *mon);

#endif /* SWAPDRUM_MONITOR_H */
