/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* An export's limits (quota, reserve, tiers): what the export asks of
 * the pool when it takes slots, and the public calls that read and
 * change them.  The pool keeps and enforces them (pool-alloc.c,
 * pool-limits.c); docs/design.md, "Exports".
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include "export/export-int.h"
#include "pool/pool-int.h"
#include "pool/pool-reserve.h"
#include "swapdrum/log.h"

void
export_spec_limits (const struct exportspec *spec, struct pool_limits *lim)
{
  lim->quota = spec->quota;
  lim->reserve = spec->reserve;
  lim->tier_lo = spec->tiers_set ? spec->tier_lo : SD_PRIORITY_MIN;
  lim->tier_hi = spec->tiers_set ? spec->tier_hi : SD_PRIORITY_MAX;
}

int
export_check_reserve_size (const char *name, uint64_t reserve, uint64_t size)
{
  if (size != 0 && reserve > size) {
    errno = EINVAL;
    sd_error ("export: %s: reserve (%" PRIu64 " bytes) is more than its "
              "size (%" PRIu64 " bytes)", name, reserve, size);
    return -1;
  }
  return 0;
}

void
export_keep_reserve (struct pool *pool, const char *name,
                     struct pool_limits *lim)
{
  char r[32];

  if (lim->reserve == 0 || pool_limits_fit (pool, name, lim))
    return;
  sd_notice ("export: %s: not declared: the pool cannot keep its reserve "
             "of %s beside the others' now; none this time (the pool "
             "keeps it for later)", name,
             pool_pages_str (lim->reserve >> SD_PAGE_SHIFT, r));
  lim->reserve = 0;
}

void
export_tenant_init (struct export *exp, uint16_t id, const struct pool_limits *lim)
{
  exp->tenant.ops = &export_tenant_ops;
  exp->tenant.id = id;
  exp->tenant.name = exp->name;
  exp->tenant.quota = lim->quota ? lim->quota >> SD_PAGE_SHIFT
                                 : UINT64_MAX;
  exp->tenant.reserve = lim->reserve >> SD_PAGE_SHIFT;
  exp->tenant.tier_lo = lim->tier_lo;
  exp->tenant.tier_hi = lim->tier_hi;
}

uint64_t
export_quota (const struct export *exp)
{
  struct pool_limits lim;

  pool_tenant_limits (exp->pool, &exp->tenant, &lim);
  return lim.quota;
}

uint64_t
export_reserve (const struct export *exp)
{
  struct pool_limits lim;

  pool_tenant_limits (exp->pool, &exp->tenant, &lim);
  return lim.reserve;
}

void
export_tiers (const struct export *exp, int *lo, int *hi)
{
  struct pool_limits lim;

  pool_tenant_limits (exp->pool, &exp->tenant, &lim);
  *lo = lim.tier_lo;
  *hi = lim.tier_hi;
}

int
export_set_limits (struct export *exp, uint64_t quota, uint64_t reserve,
                   int tier_lo, int tier_hi)
{
  struct pool_limits lim = {
    .quota = quota, .reserve = reserve, .tier_lo = tier_lo,
    .tier_hi = tier_hi,
  };

  if (export_check_reserve_size (exp->name, reserve,
                                 export_size (exp)) == -1)
    return -1;
  return pool_set_limits (exp->pool, &exp->tenant, &lim);
}

uint64_t
export_used (const struct export *exp)
{
  return atomic_load (&((struct export *) exp)->tenant.used)
    << SD_PAGE_SHIFT;
}

/* Report why export_alloc got nothing. */
static void
report_short (struct export *exp, const char *what, export_page_t page,
              enum pool_short why)
{
  int err = errno, lo, hi;

  export_tiers (exp, &lo, &hi);
  if (why == POOL_SHORT_QUOTA)
    sd_error ("%s: export %s page %" PRIu64 ": its quota of %" PRIu64
              " pages is used", what, exp->name, page,
              export_quota (exp) >> SD_PAGE_SHIFT);
  else if (why == POOL_SHORT_TIERS)
    sd_error ("%s: export %s page %" PRIu64 ": no device in its tiers "
              "%d-%d has room", what, exp->name, page, lo, hi);
  else if (why == POOL_SHORT_RESERVED)
    sd_error ("%s: export %s page %" PRIu64 ": the free pages left are "
              "reserved for other exports", what, exp->name, page);
  else
    sd_error ("%s: export page %" PRIu64 ": %s", what, page,
              why == POOL_SHORT_FULL ? "the pool is full"
                                     : "no working device has room");
  errno = err;
}

void
export_hint (struct export *exp, export_page_t page, struct pool_hint *hint)
{
  export_page_t first = page & ~(POOL_REGION_PAGES - 1);
  export_page_t end = first + POOL_REGION_PAGES, q;

  if (end > map_npages (exp->map))
    end = map_npages (exp->map);
  hint->offset = page - first;
  hint->near = DRUM_NO_SLOT;
  hint->delta = 0;
  q = map_find (exp->map, first, end, true);
  if (q < end && (hint->near = map_entry_slot (map_get (exp->map, q))) !=
      DRUM_NO_SLOT)
    hint->delta = (int64_t) page - (int64_t) q;
}

uint64_t
export_alloc (struct export *exp, const char *what, export_page_t page,
              uint64_t want, bool charge, drum_slot_t *slot)
{
  struct pool_hint hint;
  enum pool_short why;
  uint64_t n;

  export_hint (exp, page, &hint);
  n = pool_alloc_for (exp->pool, &exp->tenant, want, charge, &hint, slot,
                      &why);

  if (n == 0)
    report_short (exp, what, page, why);
  return n;
}

void
export_uncharge (struct export *exp, uint64_t n)
{
  atomic_fetch_sub (&exp->tenant.used, n);
}
