/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
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

int
sd_parse_bool (const char *what, const char *text, bool *out)
{
  static const char *const yes[] = { "true", "yes", "on", "1" };
  static const char *const no[] = { "false", "no", "off", "0" };
  size_t i;

  for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcasecmp (text, yes[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp (text, no[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  sd_error ("%s: %s: not a boolean (true or false)", what, text);
  return -1;
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

/* Whether the key of opt (its first keylen characters) is key. */
static bool
key_is (const char *opt, size_t keylen, const char *key)
{
  return keylen == strlen (key) && strncmp (opt, key, keylen) == 0;
}

int
devspec_option (struct devspec *spec, const char *what, const char *opt)
{
  const char *value = strchr (opt, '=');
  size_t keylen = value ? (size_t) (value - opt) : 0;
  char key_what[1024];
  long long n;
  uint64_t size;

  if (value == NULL) {
    sd_error ("%s: option %s has no value", what, opt);
    return -1;
  }
  value++;
  snprintf (key_what, sizeof key_what, "%s: %.*s", what, (int) keylen, opt);
  if (key_is (opt, keylen, "priority")) {
    if (sd_parse_int (key_what, value,
                      SD_PRIORITY_MIN, SD_PRIORITY_MAX, &n) == -1)
      return -1;
    spec->priority = n;
    spec->priority_set = true;
  }
  else if (key_is (opt, keylen, "maxactive")) {
    if (sd_parse_int (key_what, value, 1, SD_MAXACTIVE_MAX, &n) == -1)
      return -1;
    spec->maxactive = n;
  }
  else if (key_is (opt, keylen, "create")) {
    if (sd_parse_size (key_what, value, &size) == -1)
      return -1;
    if (size == 0) {
      sd_error ("%s: create=0 makes no device", what);
      return -1;
    }
    if (size < 2 * 4096) {
      errno = EINVAL;
      sd_error ("%s: %s: too small (a swap file needs at least 8192 "
                "bytes)", key_what, value);
      return -1;
    }
    spec->create_size = size;
  }
  else if (key_is (opt, keylen, "timeout")) {
    if (sd_parse_int (key_what, value, 1, SD_TIMEOUT_MAX, &n) == -1)
      return -1;
    spec->timeout = n;
  }
  else if (key_is (opt, keylen, "direct")) {
    if (sd_parse_bool (key_what, value, &spec->direct) == -1)
      return -1;
  }
  else {
    sd_error ("%s: unknown option %.*s "
              "(priority, maxactive, create, timeout or direct)",
              what, (int) keylen, opt);
    return -1;
  }
  return 0;
}

int
devspec_parse (const char *text, struct devspec *spec)
{
  CLEANUP_FREE char *copy = strdup (text);
  struct devspec s = { .priority = 0 };
  char what[1024], *rest, *opt;

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
  snprintf (what, sizeof what, "swap: %s", s.path);
  while ((opt = strsep (&rest, ",")) != NULL) {
    if (devspec_option (&s, what, opt) == -1)
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

bool
devspec_is_uri (const char *path)
{
  static const char *const schemes[] = {
    "nbd://", "nbds://", "nbd+unix://", "nbds+unix://",
    "nbd+vsock://", "nbds+vsock://",
  };
  size_t i;

  for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
    if (strncmp (path, schemes[i], strlen (schemes[i])) == 0)
      return true;
  return false;
}
