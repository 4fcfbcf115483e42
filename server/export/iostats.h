/* swapdrum: what clients did through an export: requests, bytes,
 * errors and a latency histogram per kind of request.
 *
 * Counting takes no lock: every counter is a relaxed atomic, so a
 * snapshot taken while requests run may be a request or two apart
 * between its figures, never torn within one.
 */

#ifndef SWAPDRUM_IOSTATS_H
#define SWAPDRUM_IOSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "swapdrum/exportset.h"
#include "swapdrum/nonnull.h"

/* Latency buckets: exact below 16 ns, then four per power of two (a
 * bucket spans at most a quarter of its lower bound): 256 cover every
 * uint64_t.
 */
#define IOSTATS_BUCKETS 256

struct iostats_kind {
  _Atomic uint64_t ops, bytes, errors;
  _Atomic uint64_t hist[IOSTATS_BUCKETS];
};

struct iostats {
  struct iostats_kind kind[SD_IO_KINDS];
};

/* Count one request of kind that moved bytes and took ns, failed or
 * not.  Zero-initialised iostats are empty.
 */
extern void iostats_add (struct iostats *st, enum sd_io_kind kind,
                         uint64_t bytes, uint64_t ns, bool failed)
  SD_NONNULL (1);

/* Copy kind's figures into *out, with the 50th, 99th and 99.9th
 * percentiles (the upper bound of the bucket each falls in; 0 if no
 * request was counted).
 */
extern void iostats_snapshot (const struct iostats *st,
                              enum sd_io_kind kind, struct sd_iostat *out)
  SD_NONNULL (1, 3);

/* The bucket ns falls in, and the largest ns in bucket i (exposed for
 * the unit test).
 */
extern unsigned iostats_bucket (uint64_t ns);
extern uint64_t iostats_bucket_max (unsigned i);

#endif /* SWAPDRUM_IOSTATS_H */
