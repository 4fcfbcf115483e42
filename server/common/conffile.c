/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swapdrum/cleanup.h"
#include "swapdrum/conffile.h"
#include "swapdrum/log.h"

#define BLANKS " \t\r\n\f\v"

static void
cleanup_fclose (FILE **fp)
{
  if (*fp)
    fclose (*fp);
}

/* Check that path is absolute and not listed before. */
static int
check_path (const struct conffile *cf, const char *where, const char *path)
{
  size_t i;

  if (path[0] != '/') {
    sd_error ("%s: %s: not an absolute path", where, path);
    return -1;
  }
  for (i = 0; i < cf->n; i++) {
    if (strcmp (cf->specs[i].path, path) == 0) {
      sd_error ("%s: %s: listed twice (first at line %u)", where, path,
                cf->lines[i]);
      return -1;
    }
  }
  return 0;
}

/* Append a parsed spec. */
static int
append (struct conffile *cf, const struct devspec *spec, unsigned line)
{
  struct devspec *specs;
  unsigned *lines;

  specs = realloc (cf->specs, (cf->n + 1) * sizeof *specs);
  if (specs)
    cf->specs = specs;
  lines = realloc (cf->lines, (cf->n + 1) * sizeof *lines);
  if (lines)
    cf->lines = lines;
  if (specs == NULL || lines == NULL)
    return -1;
  cf->specs[cf->n] = *spec;
  cf->lines[cf->n++] = line;
  return 0;
}

/* Parse one line (modified in place) into cf: its first word is the
 * path, the others options, up to a word starting with '#'.
 * => returns 0 (also for a line without a device), or -1 after
 *    reporting "FILE:LINE: reason".
 */
static int
read_line (struct conffile *cf, const char *file, unsigned lineno,
           char *line)
{
  struct devspec spec = { .path = NULL };
  char where[512], *rest = line, *word;

  snprintf (where, sizeof where, "%s:%u", file, lineno);
  while ((word = strsep (&rest, BLANKS)) != NULL) {
    if (*word == '\0')
      continue;
    if (*word == '#')
      break;
    if (spec.path == NULL) {
      if (check_path (cf, where, word) == -1)
        return -1;
      spec.path = word;
    }
    else if (devspec_option (&spec, where, word) == -1)
      return -1;
  }
  if (spec.path == NULL)
    return 0;
  spec.path = strdup (spec.path);
  if (spec.path == NULL || append (cf, &spec, lineno) == -1) {
    sd_error ("%s: %m", where);
    free (spec.path);
    return -1;
  }
  return 0;
}

int
conffile_read (const char *file, struct conffile *cf)
{
  __attribute__ ((cleanup (cleanup_fclose))) FILE *fp = fopen (file, "re");
  CLEANUP_FREE char *line = NULL;
  size_t cap = 0;
  unsigned lineno = 0;

  *cf = (struct conffile) { NULL, NULL, 0 };
  if (fp == NULL) {
    sd_error ("%s: %m", file);
    return -1;
  }
  while (getline (&line, &cap, fp) != -1) {
    if (read_line (cf, file, ++lineno, line) == -1) {
      conffile_free (cf);
      return -1;
    }
  }
  if (ferror (fp)) {
    sd_error ("%s: %m", file);
    conffile_free (cf);
    return -1;
  }
  return 0;
}

void
conffile_free (struct conffile *cf)
{
  size_t i;

  for (i = 0; i < cf->n; i++)
    devspec_free (&cf->specs[i]);
  free (cf->specs);
  free (cf->lines);
  *cf = (struct conffile) { NULL, NULL, 0 };
}
