/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <time.h>

#include "common/clock.h"
#include "pool/pace.h"

void
pace_start (struct pace *p, uint64_t rate)
{
  p->rate = rate;
  p->start_ns = sd_now_ns ();
  p->bytes = 0;
  p->sleeps = 0;
}

/* Sleep ns nanoseconds, resuming after signals. */
static void
sleep_ns (int64_t ns)
{
  struct timespec ts = {
    .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000,
  };

  while (nanosleep (&ts, &ts) == -1 && errno == EINTR)
    ;
}

void
pace_account (struct pace *p, uint64_t n)
{
  int64_t now, due;

  if (p->rate == 0)
    return;
  p->bytes += n;
  now = sd_now_ns ();
  /* bytes / rate in ns, without overflowing for any sane copy. */
  due = p->start_ns
    + (int64_t) (p->bytes / p->rate * 1000000000
                 + p->bytes % p->rate * 1000000000 / p->rate);
  if (due - now >= PACE_SLEEP_NS) {
    p->sleeps++;
    sleep_ns (due - now);
  }
  else if (now - due > PACE_MAX_LAG_NS) {
    p->start_ns = now;          /* behind: restart, no catch-up burst */
    p->bytes = 0;
  }
}
