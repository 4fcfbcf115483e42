/* swapdrum: monotonic time for deadlines and backoff. */

#ifndef SWAPDRUM_CLOCK_H
#define SWAPDRUM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (never jumps with the wall clock). */
static inline int64_t
sd_now_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline int64_t
sd_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif /* SWAPDRUM_CLOCK_H */
