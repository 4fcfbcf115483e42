/* swapdrum: the pool table, the part of the pool's state that is the
 * same on every device: which devices are members (and how to open
 * them again), and which exports the pool holds.
 *
 * Every device keeps a copy (format.h: two copies in turn, the stamp
 * says which is current and its generation); the copy with the highest
 * generation wins.  Stored as JSON, so later versions can add keys;
 * keys this version does not know are ignored, keys it needs are
 * checked.  Decoding treats its input as untrusted.
 */

#ifndef SWAPDRUM_POOLTABLE_H
#define SWAPDRUM_POOLTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "swapdrum/nonnull.h"
#include "swapdrum/pool.h"

struct pt_member {
  uint8_t uuid[16];             /* the device's stamp says the same */
  char *path;                   /* as the operator gave it */
  int priority;
  unsigned maxactive;           /* 0: the default */
  unsigned timeout;             /* remote devices; 0: the default */
  bool direct;                  /* local devices opened O_DIRECT */
};

struct pt_export {
  uint16_t id;                  /* what page records call it, >= 1 */
  char *name;
  uint64_t size;                /* bytes */
  uint64_t quota;               /* bytes; 0: none */
  uint64_t reserve;             /* bytes; 0: none */
  int tier_lo, tier_hi;         /* the priorities its pages may use
                                   (SD_PRIORITY_MIN..SD_PRIORITY_MAX:
                                   all) */
  bool suspect;                 /* after a host crash: unwritten pages
                                   read EIO (docs/design.md) */
  bool live;                    /* created over the admin socket: served
                                   at every start until removed */
  bool shared;                  /* live ones: several hosts may attach */
};

struct pool_table {
  struct pt_member *members;
  size_t nmembers;
  struct pt_export *exports;
  size_t nexports;
};

/* Encode t as JSON.
 * => returns a malloc'd string (*len bytes, NUL-terminated), or NULL
 *    with errno ENOMEM (not reported).
 */
extern char *pool_table_encode (const struct pool_table *t, size_t *len)
  SD_NONNULL (1, 2);

/* Decode len bytes of JSON into *t (which the caller frees with
 * pool_table_free).
 * => returns 0, or -1 with *why set to a static reason and *t empty.
 */
extern int pool_table_decode (const char *json, size_t len,
                              struct pool_table *t, const char **why)
  SD_NONNULL (1, 3, 4);

/* Free what t holds and empty it.  Accepts an empty table. */
extern void pool_table_free (struct pool_table *t)
  SD_NONNULL (1);

/* The member with this uuid, or NULL. */
extern struct pt_member *pool_table_member (const struct pool_table *t,
                                            const uint8_t uuid[16])
  SD_NONNULL (1, 2);

/* Copy limits between an export's entry and struct pool_limits. */
static inline void
pool_table_set_limits (struct pt_export *e, const struct pool_limits *lim)
{
  e->quota = lim->quota;
  e->reserve = lim->reserve;
  e->tier_lo = lim->tier_lo;
  e->tier_hi = lim->tier_hi;
}

static inline void
pool_table_get_limits (const struct pt_export *e, struct pool_limits *lim)
{
  lim->quota = e->quota;
  lim->reserve = e->reserve;
  lim->tier_lo = e->tier_lo;
  lim->tier_hi = e->tier_hi;
}

/* The export with this name, or NULL. */
extern struct pt_export *pool_table_export (const struct pool_table *t,
                                            const char *name)
  SD_NONNULL (1, 2);

#endif /* SWAPDRUM_POOLTABLE_H */
