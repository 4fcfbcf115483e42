/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Helpers shared by the fuzz harnesses: see fuzz.h. */

#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "swapdrum/log.h"

/* The harnesses run one input at a time on one thread (the admin
 * harness runs the admin server's worker job itself), so the counters
 * need no lock.
 */
static unsigned nerrors;
static char last[1024];
static bool bad_format;         /* an error not of the form "a: b" */
static char first_bad[1024];

void
fuzz_fail (const char *fmt, ...)
{
  va_list args;

  fprintf (stderr, "fuzz: ");
  va_start (args, fmt);
  vfprintf (stderr, fmt, args);
  va_end (args);
  fprintf (stderr, "\n");
  abort ();
}

static void
count_error (const char *fmt, va_list args)
{
  vsnprintf (last, sizeof last, fmt, args);
  nerrors++;
  /* "what: object: reason": at least one ": ".  (It may span lines:
   * the object is echoed as given, and a path may hold a newline.)
   */
  if (!bad_format && strstr (last, ": ") == NULL) {
    bad_format = true;
    snprintf (first_bad, sizeof first_bad, "%s", last);
  }
}

void
fuzz_log_init (void)
{
  sd_log_set (count_error, NULL);
}

void
fuzz_log_reset (void)
{
  nerrors = 0;
  last[0] = '\0';
  bad_format = false;
}

unsigned
fuzz_log_errors (void)
{
  return nerrors;
}

const char *
fuzz_log_last (void)
{
  return last;
}

void
fuzz_log_expect (unsigned want, const char *prefix)
{
  FUZZ_CHECK (nerrors == want, "%u errors reported, expected %u "
              "(the last: \"%s\")", nerrors, want, last);
  FUZZ_CHECK (!bad_format, "error not of the form \"what: reason\": "
              "\"%s\"", first_bad);
  FUZZ_CHECK (want == 0 || prefix == NULL ||
              strncmp (last, prefix, strlen (prefix)) == 0,
              "error \"%s\" does not start with \"%s\"", last, prefix);
}

char *
fuzz_strndup (const uint8_t *data, size_t size)
{
  char *s = malloc (size + 1);

  FUZZ_CHECK (s != NULL, "out of memory");
  memcpy (s, data, size);
  s[size] = '\0';
  return s;
}
