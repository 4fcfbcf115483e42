/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Fuzz the config file parser (conffile.h), read by the plugin's
 * config= and swapdrumctl -A/-U.  The input is the file's contents.
 * Either every device comes out with an absolute path listed once, its
 * line number and every option within range, or the parse fails with
 * exactly one report "fuzz.conf[:LINE]: reason" and an empty result.
 * A file holding a NUL byte is not text: it must be refused.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "swapdrum/conffile.h"

#define NAME "fuzz.conf"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_log_init ();
  return 0;
}

/* Lines of the input: a last line without '\n' counts. */
static unsigned
count_lines (const uint8_t *data, size_t size)
{
  unsigned n = 0;
  size_t i;

  for (i = 0; i < size; i++)
    n += data[i] == '\n';
  return n + (size > 0 && data[size - 1] != '\n');
}

static void
check_result (const struct conffile *cf, unsigned nlines)
{
  size_t i, j;

  for (i = 0; i < cf->n; i++) {
    const struct devspec *s = &cf->specs[i];

    FUZZ_CHECK (s->path[0] == '/', "device %zu: %s not absolute", i,
                s->path);
    FUZZ_CHECK (strpbrk (s->path, " \t\r\n\f\v") == NULL,
                "device %zu: %s holds a blank", i, s->path);
    FUZZ_CHECK (cf->lines[i] >= 1 && cf->lines[i] <= nlines &&
                (i == 0 || cf->lines[i] > cf->lines[i - 1]),
                "device %zu: line %u of %u", i, cf->lines[i], nlines);
    FUZZ_CHECK (s->priority >= SD_PRIORITY_MIN &&
                s->priority <= SD_PRIORITY_MAX &&
                s->maxactive <= SD_MAXACTIVE_MAX &&
                (s->create_size == 0 || s->create_size >= 8192) &&
                s->timeout <= SD_TIMEOUT_MAX,
                "device %zu: %s: an option out of range", i, s->path);
    for (j = 0; j < i; j++)
      FUZZ_CHECK (strcmp (cf->specs[j].path, s->path) != 0,
                  "%s listed twice", s->path);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* fmemopen refuses an empty buffer. */
  FILE *fp = size ? fmemopen ((void *) data, size, "r")
                  : fopen ("/dev/null", "r");
  struct conffile cf;
  int r;

  FUZZ_CHECK (fp != NULL, "opening the input: %m");
  fuzz_log_reset ();
  r = conffile_read_stream (fp, NAME, &cf);
  fclose (fp);
  if (r == 0) {
    fuzz_log_expect (0, NULL);
    FUZZ_CHECK (memchr (data, '\0', size) == NULL,
                "a file with a NUL byte was accepted");
    check_result (&cf, count_lines (data, size));
    conffile_free (&cf);
  }
  else {
    fuzz_log_expect (1, NAME);
    FUZZ_CHECK (cf.n == 0 && cf.specs == NULL && cf.lines == NULL,
                "a failed parse left %zu devices", cf.n);
  }
  return 0;
}
