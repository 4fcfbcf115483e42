/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl-util.h"

void (*ctl_before_error) (void);

void
ctl_verror (const char *fmt, va_list args)
{
  int saved_errno = errno;      /* for %m in fmt */

  if (ctl_before_error)
    ctl_before_error ();
  /* stdout may hold listing lines not yet written: keep the order the
   * user would expect on a shared terminal.
   */
  fflush (stdout);
  fprintf (stderr, "%s: ", CTL_PROGNAME);
  errno = saved_errno;
  vfprintf (stderr, fmt, args);
  fputc ('\n', stderr);
}

void
ctl_error (const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  ctl_verror (fmt, ap);
  va_end (ap);
}

void
ctl_nomem (void)
{
  ctl_error ("out of memory");
  exit (CTL_EXIT_FAILURE);
}

char *
ctl_strdup_printf (const char *fmt, ...)
{
  va_list ap;
  char *s;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&s, fmt, ap);
  va_end (ap);
  if (r == -1)
    ctl_nomem ();
  return s;
}
