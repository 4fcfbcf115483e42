/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "swapdrum/cleanup.h"
#include "swapdrum/devspec.h"
#include "swapdrum/log.h"

int
sd_parse_int (const char *what, const char *text,
              long long min, long long max, long long *out)
{
  char *end;
  long long v;

  errno = 0;
  v = strtoll (text, &end, 10);
  if (end == text || *end != '\0' || isspace ((unsigned char) *text)) {
    sd_error ("%s: %s: not a number", what, text);
    return -1;
  }
  if (errno == ERANGE || v < min || v > max) {
    sd_error ("%s: %s: out of range (%lld to %lld)", what, text, min, max);
    return -1;
  }
  *out = v;
  return 0;
}

/* The power of 1024 a size suffix stands for, or -1. */
static int
size_shift (const char *suffix)
{
  static const char *const units[] = { "", "k", "m", "g", "t", "p" };
  size_t i;

  if (*suffix == '\0' || strcasecmp (suffix, "b") == 0)
    return 0;
  for (i = 1; i < sizeof units / sizeof units[0]; i++) {
    char long_form[8] = { units[i][0], 'i', 'b', '\0' };
    if (strcasecmp (suffix, units[i]) == 0 ||
        strcasecmp (suffix, long_form) == 0)
      return 10 * i;
  }
  return -1;
}

int
sd_parse_size (const char *what, const char *text, uint64_t *size)
{
  char *end;
  unsigned long long v;
  int shift;

  errno = 0;
  if (!isdigit ((unsigned char) *text)) {
    sd_error ("%s: %s: not a size", what, text);
    return -1;
  }
  v = strtoull (text, &end, 10);
  shift = size_shift (end);
  if (shift < 0) {
    sd_error ("%s: %s: not a size (suffix b, K, M, G, T or P)", what, text);
    return -1;
  }
  if (errno == ERANGE || (shift && v > (UINT64_MAX >> shift))) {
    sd_error ("%s: %s: too large", what, text);
    return -1;
  }
  *size = (uint64_t) v << shift;
  return 0;
}

/* Apply one "key=value" option to spec; errors name the device:
 * "swap: PATH: priority: VALUE: reason".
 */
static int
devspec_option (struct devspec *spec, char *opt)
{
  char *value = strchr (opt, '=');
  char what[256];
  long long n;

  if (value == NULL) {
    sd_error ("swap: %s: option %s has no value", spec->path, opt);
    return -1;
  }
  *value++ = '\0';
  snprintf (what, sizeof what, "swap: %s: %s", spec->path, opt);
  if (strcmp (opt, "priority") == 0) {
    if (sd_parse_int (what, value,
                      SD_PRIORITY_MIN, SD_PRIORITY_MAX, &n) == -1)
      return -1;
    spec->priority = n;
  }
  else if (strcmp (opt, "maxactive") == 0) {
    if (sd_parse_int (what, value,
                      1, SD_MAXACTIVE_MAX, &n) == -1)
      return -1;
    spec->maxactive = n;
  }
  else if (strcmp (opt, "create") == 0) {
    if (sd_parse_size (what, value, &spec->create_size) == -1)
      return -1;
    if (spec->create_size == 0) {
      sd_error ("swap: %s: create=0 makes no device", spec->path);
      return -1;
    }
  }
  else {
    sd_error ("swap: %s: unknown option %s "
              "(priority, maxactive or create)", spec->path, opt);
    return -1;
  }
  return 0;
}

int
devspec_parse (const char *text, struct devspec *spec)
{
  CLEANUP_FREE char *copy = strdup (text);
  struct devspec s = { .priority = 0 };
  char *rest, *opt;

  if (copy == NULL) {
    sd_error ("swap: %s: %m", text);
    return -1;
  }
  rest = copy;
  s.path = strsep (&rest, ",");
  if (*s.path == '\0') {
    sd_error ("swap: %s: no path", text);
    return -1;
  }
  while ((opt = strsep (&rest, ",")) != NULL) {
    if (devspec_option (&s, opt) == -1)
      return -1;
  }
  s.path = strdup (s.path);
  if (s.path == NULL) {
    sd_error ("swap: %s: %m", text);
    return -1;
  }
  *spec = s;
  return 0;
}

void
devspec_free (struct devspec *spec)
{
  if (spec) {
    free (spec->path);
    spec->path = NULL;
  }
}
