/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Listings in the manner of NetBSD's swapctl -l and -s: the same
 * columns and the same "total:" line, plus the columns a swapdrum
 * device has and a NetBSD one does not (Kind, Flags, Bad).
 */

#include <config.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-print.h"
#include "ctl-util.h"

/* The page size the protocol fixes (docs/admin-protocol.md). */
#define PAGE_SIZE 4096

#define MIN_BLOCK 512
#define MAX_BLOCK (UINT64_C (1) << 30)

uint64_t
ctl_json_u64 (json_object *obj, const char *key)
{
  json_object *v;
  int64_t n;

  if (!json_object_object_get_ex (obj, key, &v))
    return 0;
  n = json_object_get_int64 (v);
  return n > 0 ? (uint64_t) n : 0;
}

const char *
ctl_json_str (json_object *obj, const char *key, const char *dflt)
{
  json_object *v;

  if (!json_object_object_get_ex (obj, key, &v) ||
      !json_object_is_type (v, json_type_string))
    return dflt;
  return json_object_get_string (v);
}

/* Units of BLOCKSIZE, as getbsize(3) reads it: a count and an optional
 * K, M or G.
 * => returns 0, or -1 if text is not such a size.
 */
static int
units_from_blocksize (struct ctl_units *u, const char *text)
{
  char *end;
  unsigned long long n;
  char form = '\0';
  int shift = 0;

  if (!isdigit ((unsigned char) *text))
    return -1;
  n = strtoull (text, &end, 10);
  if (*end != '\0') {
    form = toupper ((unsigned char) *end);
    shift = form == 'K' ? 10 : form == 'M' ? 20 : form == 'G' ? 30 : -1;
    if (shift < 0 || end[1] != '\0')
      return -1;
  }
  if (n == 0 || n > (MAX_BLOCK >> shift))
    return -1;
  u->block = (uint64_t) n << shift;
  if (u->block < MIN_BLOCK) {
    /* getbsize raises a small size to the minimum, with a warning. */
    ctl_error ("BLOCKSIZE=%s: the minimum is 512", text);
    u->block = MIN_BLOCK;
    n = MIN_BLOCK;
    form = '\0';
  }
  if (form)
    snprintf (u->header, sizeof u->header, "%llu%c-blocks", n, form);
  else
    snprintf (u->header, sizeof u->header, "%llu-blocks", n);
  return 0;
}

void
ctl_units_init (struct ctl_units *u, int unit)
{
  const char *env = getenv ("BLOCKSIZE");

  switch (unit) {
  case 'h':
    u->block = 0;
    strcpy (u->header, "Size");
    return;
  case 'm':
    u->block = UINT64_C (1) << 20;
    strcpy (u->header, "1M-blocks");
    return;
  case 'g':
    u->block = UINT64_C (1) << 30;
    strcpy (u->header, "1G-blocks");
    return;
  case 0:
    if (env && *env && units_from_blocksize (u, env) == 0)
      return;
    if (env && *env)
      ctl_error ("BLOCKSIZE=%s: unknown block size, using 1K", env);
    /* fall through */
  default:
    u->block = 1024;
    strcpy (u->header, "1K-blocks");
  }
}

/* A size for humans: "0B", "512B", "4.0K", "1.5G", "512M". */
static void
humanize (char *buf, size_t n, uint64_t bytes)
{
  static const char suffix[] = "BKMGTPE";
  double v = bytes;
  size_t i = 0;

  while (v >= 1023.5 && i + 1 < sizeof suffix - 1) {
    v /= 1024;
    i++;
  }
  if (i == 0)
    snprintf (buf, n, "%" PRIu64 "B", bytes);
  else if (v < 9.95)
    snprintf (buf, n, "%.1f%c", v, suffix[i]);
  else
    snprintf (buf, n, "%.0f%c", v, suffix[i]);
}

void
ctl_format_amount (char *buf, size_t n, uint64_t bytes,
                   const struct ctl_units *u)
{
  if (u->block)
    snprintf (buf, n, "%" PRIu64, bytes / u->block);
  else
    humanize (buf, n, bytes);
}

/* The listing is built as a table of strings first, so that every
 * column can be as wide as its widest cell.
 */
enum column {
  COL_DEVICE, COL_SIZE, COL_USED, COL_AVAIL, COL_CAPACITY,
  COL_PRIORITY, COL_KIND, COL_FLAGS, COL_BAD, NCOLS
};

static const bool col_left[NCOLS] = {
  [COL_DEVICE] = true, [COL_KIND] = true, [COL_FLAGS] = true,
};

struct row {
  char *cell[NCOLS];
};

/* One row's amounts: bytes of data pages, and pages. */
struct amounts {
  uint64_t size;
  uint64_t pages, used, avail, bad;
};

char *
ctl_xstrdup (const char *s)
{
  char *r = strdup (s);

  if (r == NULL)
    ctl_nomem ();
  return r;
}

/* "INUSE,ENABLE" from the flags array; "-" if there is none. */
static char *
join_flags (json_object *dev)
{
  json_object *flags;
  char buf[256] = "";
  size_t i, n;

  if (!json_object_object_get_ex (dev, "flags", &flags) ||
      !json_object_is_type (flags, json_type_array))
    return ctl_xstrdup ("-");
  n = json_object_array_length (flags);
  for (i = 0; i < n; i++) {
    const char *f = json_object_get_string (json_object_array_get_idx (flags,
                                                                        i));
    if (i)
      strncat (buf, ",", sizeof buf - strlen (buf) - 1);
    strncat (buf, f ? f : "?", sizeof buf - strlen (buf) - 1);
  }
  return ctl_xstrdup (n ? buf : "-");
}

/* Fill the amount columns of r (Size to Capacity, and Bad). */
static void
fill_amounts (struct row *r, const struct amounts *a, uint64_t page_size,
              const struct ctl_units *u)
{
  char buf[64];

  ctl_format_amount (buf, sizeof buf, a->size, u);
  r->cell[COL_SIZE] = ctl_xstrdup (buf);
  ctl_format_amount (buf, sizeof buf, a->used * page_size, u);
  r->cell[COL_USED] = ctl_xstrdup (buf);
  ctl_format_amount (buf, sizeof buf, a->avail * page_size, u);
  r->cell[COL_AVAIL] = ctl_xstrdup (buf);
  ctl_format_amount (buf, sizeof buf, a->bad * page_size, u);
  r->cell[COL_BAD] = ctl_xstrdup (buf);
  snprintf (buf, sizeof buf, "%.0f%%",
            a->pages ? 100.0 * a->used / a->pages : 0.0);
  r->cell[COL_CAPACITY] = ctl_xstrdup (buf);
}

/* Build the row of one device of a stats reply; add its amounts to
 * *total.
 */
static void
device_row (struct row *r, json_object *dev, uint64_t page_size,
            const struct ctl_units *u, struct amounts *total)
{
  struct amounts a = {
    .pages = ctl_json_u64 (dev, "pages"),
    .used = ctl_json_u64 (dev, "used"),
    .avail = ctl_json_u64 (dev, "avail"),
    .bad = ctl_json_u64 (dev, "bad"),
  };
  json_object *prio;
  char buf[32];

  a.size = ctl_json_u64 (dev, "size");
  if (a.size == 0)
    a.size = a.pages * page_size;
  r->cell[COL_DEVICE] = ctl_xstrdup (ctl_json_str (dev, "path", "?"));
  fill_amounts (r, &a, page_size, u);
  if (json_object_object_get_ex (dev, "priority", &prio))
    snprintf (buf, sizeof buf, "%" PRId64, json_object_get_int64 (prio));
  else
    strcpy (buf, "?");
  r->cell[COL_PRIORITY] = ctl_xstrdup (buf);
  r->cell[COL_KIND] = ctl_xstrdup (ctl_json_str (dev, "kind", "?"));
  r->cell[COL_FLAGS] = join_flags (dev);
  total->size += a.size;
  total->pages += a.pages;
  total->used += a.used;
  total->avail += a.avail;
  total->bad += a.bad;
}

static void
header_row (struct row *r, const struct ctl_units *u)
{
  static const char *const names[NCOLS] = {
    "Device", NULL, "Used", "Avail", "Capacity", "Priority",
    "Kind", "Flags", "Bad",
  };
  size_t c;

  for (c = 0; c < NCOLS; c++)
    r->cell[c] = ctl_xstrdup (names[c] ? names[c] : u->header);
}

static void
total_row (struct row *r, const struct amounts *total, uint64_t page_size,
           const struct ctl_units *u)
{
  r->cell[COL_DEVICE] = ctl_xstrdup ("Total");
  fill_amounts (r, total, page_size, u);
  r->cell[COL_PRIORITY] = ctl_xstrdup ("");
  r->cell[COL_KIND] = ctl_xstrdup ("");
  r->cell[COL_FLAGS] = ctl_xstrdup ("");
}

void
ctl_print_table (char **cells, size_t nrows, size_t ncols, const bool *left)
{
  size_t width[ncols], i, c;

  memset (width, 0, sizeof width);
  for (i = 0; i < nrows; i++)
    for (c = 0; c < ncols; c++)
      if (strlen (cells[i * ncols + c]) > width[c])
        width[c] = strlen (cells[i * ncols + c]);
  for (i = 0; i < nrows; i++) {
    for (c = 0; c < ncols; c++) {
      int w = width[c];
      /* The last column is not padded: no trailing spaces. */
      if (left[c] && c + 1 == ncols)
        w = 0;
      printf ("%s%*s", c ? "  " : "", left[c] ? -w : w,
              cells[i * ncols + c]);
      free (cells[i * ncols + c]);
    }
    printf ("\n");
  }
}

void
ctl_print_list (json_object *stats, const struct ctl_units *u)
{
  uint64_t page_size = ctl_json_u64 (stats, "page_size");
  struct amounts total = { 0 };
  json_object *devs = NULL;
  struct row *rows;
  size_t n = 0, i;

  if (page_size == 0)
    page_size = PAGE_SIZE;
  if (json_object_object_get_ex (stats, "devices", &devs) &&
      json_object_is_type (devs, json_type_array))
    n = json_object_array_length (devs);
  if (n == 0) {
    printf ("no swap devices configured\n");
    return;
  }
  rows = calloc (n + 2, sizeof *rows);
  if (rows == NULL)
    ctl_nomem ();
  header_row (&rows[0], u);
  for (i = 0; i < n; i++)
    device_row (&rows[i + 1], json_object_array_get_idx (devs, i),
                page_size, u, &total);
  if (n > 1)
    total_row (&rows[n + 1], &total, page_size, u);
  printf ("Devices in priority order: lower priority numbers are "
          "preferred.\n");
  ctl_print_table ((char **) rows, n > 1 ? n + 2 : n + 1, NCOLS, col_left);
  free (rows);
}

/* "pool ID: started after HOW" (servers before the durable map send
 * neither key: nothing is printed).
 */
static void
print_pool_line (json_object *summary)
{
  json_object *id, *how;

  if (json_object_object_get_ex (summary, "pool", &id) &&
      json_object_object_get_ex (summary, "started_after", &how) &&
      json_object_is_type (id, json_type_string) &&
      json_object_is_type (how, json_type_string))
    printf ("pool %s: started after %s\n", json_object_get_string (id),
            json_object_get_string (how));
}

/* One line per export a host crash made suspect (servers before it
 * send no "suspect": nothing is printed).
 */
static void
print_suspect (json_object *summary)
{
  json_object *arr, *name;
  size_t i;

  if (!json_object_object_get_ex (summary, "suspect", &arr) ||
      !json_object_is_type (arr, json_type_array))
    return;
  if (json_object_array_length (arr) > 0)
    printf ("%" PRIu64 " pages dropped at start (lost writes)\n",
            ctl_json_u64 (summary, "lost_at_start"));
  for (i = 0; i < json_object_array_length (arr); i++) {
    name = json_object_array_get_idx (arr, i);
    if (json_object_is_type (name, json_type_string))
      printf ("export \"%s\": suspect: unwritten pages read EIO "
              "(swapdrumctl -Z to trust it)\n",
              json_object_get_string (name));
  }
}

void
ctl_print_summary (json_object *summary, const struct ctl_units *u)
{
  uint64_t size = ctl_json_u64 (summary, "size");
  uint64_t pages = ctl_json_u64 (summary, "pages");
  uint64_t page_size = pages && size ? size / pages : PAGE_SIZE;
  uint64_t bad = ctl_json_u64 (summary, "bad");
  char s[64], used[64], avail[64], b[64];

  ctl_format_amount (s, sizeof s, size, u);
  ctl_format_amount (used, sizeof used,
                 ctl_json_u64 (summary, "used") * page_size, u);
  ctl_format_amount (avail, sizeof avail,
                 ctl_json_u64 (summary, "avail") * page_size, u);
  ctl_format_amount (b, sizeof b, bad * page_size, u);
  printf ("total: %s%s%s allocated, %s used, %s available",
          s, u->block ? " " : "", u->block ? u->header : "", used, avail);
  if (bad)
    printf (", %s bad", b);
  printf ("\n");
  print_pool_line (summary);
  print_suspect (summary);
}
