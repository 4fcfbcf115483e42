/* swapdrum: pacing a bulk copy to a byte rate.
 *
 * Swap-off can copy pages far faster than clients need it to (several
 * GiB/s from page cache to page cache), and a copy that runs flat out
 * takes a CPU away from the clients for the whole swap-off: their
 * requests then wait milliseconds for a CPU instead of microseconds.
 * A pace keeps the copy to a schedule of `rate` bytes a second: after
 * each piece the copier reports its bytes, and sleeps once it is ahead
 * of the schedule by PACE_SLEEP_NS or more, which leaves the CPU to
 * clients in short, frequent gaps.  A copier that falls behind (a slow
 * device, a busy machine) never sleeps, and when it is more than
 * PACE_MAX_LAG_NS behind the schedule restarts from now instead of
 * catching up in a long burst.
 *
 * A pace belongs to one thread; no locking.
 */

#ifndef SWAPDRUM_PACE_H
#define SWAPDRUM_PACE_H

#include <stdint.h>

#define PACE_SLEEP_NS 200000      /* sleep once 0.2 ms ahead */
#define PACE_MAX_LAG_NS 2000000   /* forget lag beyond 2 ms */

struct pace {
  uint64_t rate;                /* bytes a second; 0: no pacing */
  int64_t start_ns;             /* when the schedule started */
  uint64_t bytes;               /* bytes reported since then */
  uint64_t sleeps;              /* times pace_account slept */
};

/* Start a schedule of rate bytes a second from now (0: never sleep). */
extern void pace_start (struct pace *p, uint64_t rate);

/* Report n more bytes copied; sleep if that puts the copier ahead of
 * the schedule by PACE_SLEEP_NS or more, until it is on schedule.
 */
extern void pace_account (struct pace *p, uint64_t n);

#endif /* SWAPDRUM_PACE_H */
