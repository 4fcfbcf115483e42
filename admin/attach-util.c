/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "attach-util.h"

/* The last error (attach_set_error).  Static: nothing to allocate
 * while the host is short of memory.
 */
static char last_error[512];

void
attach_set_error (const char *fmt, ...)
{
  int saved_errno = errno;      /* for %m in fmt */
  va_list ap;

  va_start (ap, fmt);
  errno = saved_errno;
  vsnprintf (last_error, sizeof last_error, fmt, ap);
  va_end (ap);
  errno = saved_errno;
}

const char *
attach_get_error (void)
{
  return last_error[0] ? last_error : "unknown error";
}

void
attach_log (const char *fmt, ...)
{
  int saved_errno = errno;
  va_list ap;

  va_start (ap, fmt);
  fprintf (stderr, "%s: ", ATTACH_PROGNAME);
  errno = saved_errno;
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  errno = saved_errno;
}

double
attach_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

char *
attach_printable (char *dst, size_t dstlen, const char *src, size_t len)
{
  size_t i;

  if (dstlen == 0)
    return dst;
  for (i = 0; i < len && i < dstlen - 1; i++)
    dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
  dst[i] = '\0';
  return dst;
}
