/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unistr.h>

#include "swapdrum/cleanup.h"
#include "swapdrum/devspec.h"
#include "swapdrum/exportspec.h"
#include "swapdrum/log.h"

#define PAGE 4096

int
exportspec_check_name (const char *what, const char *name)
{
  size_t len = strlen (name), i;

  errno = EINVAL;
  if (len > SD_EXPORT_NAME_MAX) {
    sd_error ("%s: name of %zu bytes: NBD carries at most %d",
              what, len, SD_EXPORT_NAME_MAX);
    return -1;
  }
  if (u8_check ((const uint8_t *) name, len) != NULL) {
    sd_error ("%s: name is not valid UTF-8", what);
    return -1;
  }
  for (i = 0; i < len; i++)
    if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f) {
      sd_error ("%s: name holds a control character (byte %zu)",
                what, i);
      return -1;
    }
  return 0;
}

static bool
key_is (const char *opt, size_t keylen, const char *key)
{
  return keylen == strlen (key) && strncmp (opt, key, keylen) == 0;
}

/* A size rounded up to whole pages.  => 0, or -1 after reporting. */
static int
page_size (const char *what, const char *value, uint64_t *out)
{
  uint64_t v;

  if (sd_parse_size (what, value, &v) == -1)
    return -1;
  if (v > UINT64_MAX - (PAGE - 1)) {
    sd_error ("%s: %s: too large", what, value);
    return -1;
  }
  *out = (v + PAGE - 1) & ~(uint64_t) (PAGE - 1);
  return 0;
}

/* "LO-HI": two priorities, either may be negative ("-5-0"). */
static int
parse_tiers (const char *what, const char *value, int *lo, int *hi)
{
  CLEANUP_FREE char *copy = strdup (value);
  char *dash;
  long long a, b;

  if (copy == NULL) {
    sd_error ("%s: %m", what);
    return -1;
  }
  dash = strchr (copy + (copy[0] == '-'), '-');
  if (dash == NULL) {
    sd_error ("%s: %s: not a range of priorities (LO-HI)", what, value);
    return -1;
  }
  *dash = '\0';
  if (sd_parse_int (what, copy, SD_PRIORITY_MIN, SD_PRIORITY_MAX, &a) == -1 ||
      sd_parse_int (what, dash + 1, SD_PRIORITY_MIN, SD_PRIORITY_MAX,
                    &b) == -1)
    return -1;
  if (a > b) {
    sd_error ("%s: %s: the range is empty (%lld > %lld)", what, value, a, b);
    return -1;
  }
  *lo = a;
  *hi = b;
  return 0;
}

int
exportspec_option (struct exportspec *spec, const char *what,
                   const char *opt)
{
  const char *value = strchr (opt, '=');
  size_t keylen = value ? (size_t) (value - opt) : 0;
  struct exportspec s = *spec;
  char key_what[1024];

  if (value == NULL) {
    sd_error ("%s: option %s has no value", what, opt);
    return -1;
  }
  value++;
  snprintf (key_what, sizeof key_what, "%s: %.*s", what, (int) keylen, opt);
  if (key_is (opt, keylen, "size")) {
    if (page_size (key_what, value, &s.size) == -1)
      return -1;
    if (s.size == 0) {
      sd_error ("%s: %s: an export needs at least 4096 bytes", key_what,
                value);
      return -1;
    }
  }
  else if (key_is (opt, keylen, "quota")) {
    if (page_size (key_what, value, &s.quota) == -1)
      return -1;
    if (s.quota == 0) {
      sd_error ("%s: 0: a quota of nothing takes no write; leave quota "
                "out for none", key_what);
      return -1;
    }
  }
  else if (key_is (opt, keylen, "reserve")) {
    if (page_size (key_what, value, &s.reserve) == -1)
      return -1;
  }
  else if (key_is (opt, keylen, "tiers")) {
    if (parse_tiers (key_what, value, &s.tier_lo, &s.tier_hi) == -1)
      return -1;
    s.tiers_set = true;
  }
  else if (key_is (opt, keylen, "shared")) {
    if (sd_parse_bool (key_what, value, &s.shared) == -1)
      return -1;
  }
  else {
    sd_error ("%s: unknown option %.*s "
              "(size, quota, reserve, tiers or shared)",
              what, (int) keylen, opt);
    return -1;
  }
  *spec = s;
  return 0;
}

int
exportspec_check (const struct exportspec *spec, const char *what)
{
  if (spec->size == 0) {
    sd_error ("%s: size= is required", what);
    return -1;
  }
  if (spec->quota && spec->reserve > spec->quota) {
    sd_error ("%s: reserve (%" PRIu64 " bytes) is more than the quota (%"
              PRIu64 " bytes)", what, spec->reserve, spec->quota);
    return -1;
  }
  return 0;
}

int
exportspec_parse (const char *text, struct exportspec *spec)
{
  CLEANUP_FREE char *copy = strdup (text);
  struct exportspec s = {
    .tier_lo = SD_PRIORITY_MIN, .tier_hi = SD_PRIORITY_MAX,
  };
  char what[1024], *rest, *opt;

  if (copy == NULL) {
    sd_error ("export: %m");
    return -1;
  }
  rest = copy;
  s.name = strsep (&rest, ",");
  /* The name goes into messages only once it is known to be sane. */
  if (exportspec_check_name ("export", s.name) == -1)
    return -1;
  snprintf (what, sizeof what, "export: %.200s%s", s.name,
            strlen (s.name) > 200 ? "..." : "");
  while ((opt = strsep (&rest, ",")) != NULL)
    if (exportspec_option (&s, what, opt) == -1)
      return -1;
  if (exportspec_check (&s, what) == -1)
    return -1;
  s.name = strdup (s.name);
  if (s.name == NULL) {
    sd_error ("%s: %m", what);
    return -1;
  }
  *spec = s;
  return 0;
}

void
exportspec_free (struct exportspec *spec)
{
  if (spec) {
    free (spec->name);
    spec->name = NULL;
  }
}
