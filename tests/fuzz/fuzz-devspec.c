/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Fuzz the device spec parser (devspec.h): the plugin's swap= values,
 * swapdrumctl's -o options and, through devspec_option, every option
 * word of a config file.  The input is the spec text; parsing either
 * works and leaves a spec within every range, or fails with exactly
 * one report and leaves the spec untouched.
 *
 * The same text also goes through sd_parse_size and sd_parse_int (the
 * admin protocol's "create" and the plugin's size=), and
 * devspec_is_uri, which decides whether a device is remote, and, for a
 * URI, swapdev_nbd_ident, which turns it into the identity that refuses
 * the same export added twice: that must be stable (the identity of an
 * identity is itself), keep no TLS detail, and start "nbd:".  (What
 * libnbd makes of a URI before that, nbd_get_uri, needs a connection.)
 */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "devices/swapdev.h"
#include "fuzz.h"
#include "swapdrum/devspec.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_log_init ();
  return 0;
}

/* A parsed spec must be within the ranges devspec.h promises. */
static void
check_spec (const char *text, const struct devspec *s)
{
  FUZZ_CHECK (s->path && s->path[0] != '\0', "%s: empty path", text);
  FUZZ_CHECK (strchr (s->path, ',') == NULL, "%s: ',' in path %s", text,
              s->path);
  FUZZ_CHECK (strncmp (text, s->path, strlen (s->path)) == 0,
              "%s: path %s is not its first field", text, s->path);
  FUZZ_CHECK (s->priority >= SD_PRIORITY_MIN &&
              s->priority <= SD_PRIORITY_MAX, "%s: priority %d", text,
              s->priority);
  FUZZ_CHECK (s->priority_set || s->priority == 0,
              "%s: priority %d not set", text, s->priority);
  FUZZ_CHECK (s->maxactive <= SD_MAXACTIVE_MAX, "%s: maxactive %u", text,
              s->maxactive);
  FUZZ_CHECK (s->create_size == 0 || s->create_size >= 8192,
              "%s: create %llu", text, (unsigned long long) s->create_size);
  FUZZ_CHECK (s->timeout <= SD_TIMEOUT_MAX, "%s: timeout %u", text,
              s->timeout);
}

static void
fuzz_devspec (const char *text)
{
  struct devspec spec = { .path = (char *) "untouched", .priority = 42 };

  fuzz_log_reset ();
  if (devspec_parse (text, &spec) == 0) {
    fuzz_log_expect (0, NULL);
    check_spec (text, &spec);
    devspec_free (&spec);
  }
  else {
    fuzz_log_expect (1, "swap: ");
    FUZZ_CHECK (strcmp (spec.path, "untouched") == 0 && spec.priority == 42,
                "%s: a failed parse changed the spec", text);
  }
}

static void
fuzz_numbers (const char *text)
{
  uint64_t size = 42;
  long long n = 42;

  fuzz_log_reset ();
  if (sd_parse_size ("size", text, &size) == 0)
    fuzz_log_expect (0, NULL);
  else {
    fuzz_log_expect (1, "size: ");
    FUZZ_CHECK (size == 42, "%s: a failed size parse set %llu", text,
                (unsigned long long) size);
  }

  fuzz_log_reset ();
  if (sd_parse_int ("n", text, -1000, 1000, &n) == 0) {
    fuzz_log_expect (0, NULL);
    FUZZ_CHECK (n >= -1000 && n <= 1000, "%s: %lld out of range", text, n);
  }
  else {
    fuzz_log_expect (1, "n: ");
    FUZZ_CHECK (n == 42, "%s: a failed int parse set %lld", text, n);
  }
}

static void
fuzz_ident (const char *uri)
{
  char *ident = swapdev_nbd_ident (uri), *again, *query;

  FUZZ_CHECK (ident != NULL, "%s: no identity", uri);
  FUZZ_CHECK (strncmp (ident, "nbd:", 4) == 0 &&
              strncmp (ident + 4, "nbds", 4) != 0,
              "%s: identity %s", uri, ident);
  /* Its parameters follow the first '?', joined by '&'. */
  for (query = strchr (ident, '?'); query; query = strchr (query + 1, '&'))
    FUZZ_CHECK (strncmp (query + 1, "tls-", 4) != 0,
                "%s: identity %s keeps a tls- parameter", uri, ident);
  again = swapdev_nbd_ident (ident + 4);
  FUZZ_CHECK (again != NULL && strcmp (again, ident) == 0,
              "%s: identity %s, but that one's is %s", uri, ident, again);
  free (again);
  free (ident);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = fuzz_strndup (data, size);

  fuzz_devspec (text);
  fuzz_numbers (text);
  if (devspec_is_uri (text))
    fuzz_ident (text);
  free (text);
  return 0;
}
