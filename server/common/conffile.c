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
#include "swapdrum/exportspec.h"
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

/* The next word of *rest, or NULL at the end of the line or a
 * comment.
 */
static char *
next_word (char **rest)
{
  char *word;

  while ((word = strsep (rest, BLANKS)) != NULL) {
    if (*word == '\0')
      continue;
    if (*word == '#')
      return NULL;
    return word;
  }
  return NULL;
}

/* An "export NAME OPTION..." line, after its first word. */
static int
read_export (struct conffile *cf, const char *where, unsigned lineno,
             char *rest)
{
  struct exportspec spec = {
    .tier_lo = SD_PRIORITY_MIN, .tier_hi = SD_PRIORITY_MAX,
  };
  struct exportspec *a;
  unsigned *lines;
  char *word, what[1024];
  size_t i;

  spec.name = next_word (&rest);
  if (spec.name == NULL) {
    sd_error ("%s: export: no name", where);
    return -1;
  }
  if (exportspec_check_name (where, spec.name) == -1)
    return -1;
  /* From here on the name is sane enough for messages. */
  snprintf (what, sizeof what, "%s: export %.200s%s", where, spec.name,
            strlen (spec.name) > 200 ? "..." : "");
  for (i = 0; i < cf->nexports; i++)
    if (strcmp (cf->exports[i].name, spec.name) == 0) {
      sd_error ("%s: export %s: declared twice (first at line %u)", where,
                spec.name, cf->export_lines[i]);
      return -1;
    }
  while ((word = next_word (&rest)) != NULL)
    if (exportspec_option (&spec, what, word) == -1)
      return -1;
  if (exportspec_check (&spec, what) == -1)
    return -1;
  a = realloc (cf->exports, (cf->nexports + 1) * sizeof *a);
  if (a)
    cf->exports = a;
  lines = realloc (cf->export_lines, (cf->nexports + 1) * sizeof *lines);
  if (lines)
    cf->export_lines = lines;
  if (a == NULL || lines == NULL || (spec.name = strdup (spec.name)) == NULL) {
    sd_error ("%s: %m", where);
    return -1;
  }
  cf->exports[cf->nexports] = spec;
  cf->export_lines[cf->nexports++] = lineno;
  return 0;
}

/* Parse one line (modified in place) into cf: its first word is the
 * path (or "export"), the others options, up to a word starting with
 * '#'.
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
  while ((word = next_word (&rest)) != NULL) {
    if (spec.path == NULL && strcmp (word, "export") == 0)
      return read_export (cf, where, lineno, rest);
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
conffile_read_stream (FILE *fp, const char *name, struct conffile *cf)
{
  CLEANUP_FREE char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  unsigned lineno = 0;

  *cf = (struct conffile) { .specs = NULL };
  while ((len = getline (&line, &cap, fp)) != -1) {
    /* The words are C strings: whatever follows a NUL would be lost
     * without a word ("/a\0 priority=5" is /a at priority 0).
     */
    if (memchr (line, '\0', len)) {
      errno = EINVAL;
      sd_error ("%s:%u: a NUL byte in the line", name, ++lineno);
      conffile_free (cf);
      return -1;
    }
    if (read_line (cf, name, ++lineno, line) == -1) {
      conffile_free (cf);
      return -1;
    }
  }
  if (ferror (fp)) {
    sd_error ("%s: %m", name);
    conffile_free (cf);
    return -1;
  }
  return 0;
}

int
conffile_read (const char *file, struct conffile *cf)
{
  __attribute__ ((cleanup (cleanup_fclose))) FILE *fp = fopen (file, "re");

  if (fp == NULL) {
    *cf = (struct conffile) { .specs = NULL };
    sd_error ("%s: %m", file);
    return -1;
  }
  return conffile_read_stream (fp, file, cf);
}

void
conffile_free (struct conffile *cf)
{
  size_t i;

  for (i = 0; i < cf->n; i++)
    devspec_free (&cf->specs[i]);
  for (i = 0; i < cf->nexports; i++)
    exportspec_free (&cf->exports[i]);
  free (cf->specs);
  free (cf->lines);
  free (cf->exports);
  free (cf->export_lines);
  *cf = (struct conffile) { .specs = NULL };
}
