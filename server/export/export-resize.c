/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Resizing an export (docs/design.md, "Exports"): growing makes the
 * map cover more pages; shrinking first frees every page past the new
 * end, so that no page record outlives its page's place in the export.
 * The pool table records the new size last, so a crash in between
 * leaves the old size with nothing lost.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>

#include "export/export-int.h"
#include "storage/format.h"
#include "storage/map.h"
#include "swapdrum/log.h"

/* Free the pages in [size, old).  => returns 0, or -1 after reporting. */
static int
free_tail (struct export *exp, uint64_t size, uint64_t old)
{
  uint64_t held = export_used (exp);

  if (export_trim (exp, old - size, size) == -1) {
    sd_error ("resize: export %s: the pages past %" PRIu64 " could not "
              "all be freed; it keeps its size of %" PRIu64 " bytes",
              exp->name, size, old);
    return -1;
  }
  if (held > export_used (exp))
    sd_notice ("resize: export %s: freed %" PRIu64 " pages past the new "
               "end", exp->name, (held - export_used (exp)) >> SD_PAGE_SHIFT);
  return 0;
}

int
export_resize (struct export *exp, uint64_t size)
{
  uint64_t old = export_size (exp);

  size &= ~(uint64_t) PAGE_MASK;
  if (size == 0 || (size >> SD_PAGE_SHIFT) - 1 > SD_RECORD_PAGE_MAX) {
    errno = EINVAL;
    sd_error ("export: %s: size: must be 4096 bytes to 4 PiB", exp->name);
    return -1;
  }
  if (export_check_reserve_size (exp->name, export_reserve (exp),
                                 size) == -1)
    return -1;
  if (size == old)
    return 0;
  if (size > old && map_grow (exp->map, size >> SD_PAGE_SHIFT) == -1) {
    sd_error ("export: %s: resize: %m", exp->name);
    return -1;
  }
  if (size < old && free_tail (exp, size, old) == -1)
    return -1;
  if (pool_export_set_size (exp->pool, exp->name, size) == -1)
    return -1;
  atomic_store_explicit (&exp->size, size, memory_order_release);
  return 0;
}
