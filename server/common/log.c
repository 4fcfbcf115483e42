/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>

#include "swapdrum/log.h"

static void
default_error (const char *fmt, va_list args)
{
  fprintf (stderr, "swapdrum: ");
  vfprintf (stderr, fmt, args);
  fprintf (stderr, "\n");
}

/* Set once before threads start; read-only afterwards. */
static sd_log_fn error_hook = default_error;
static sd_log_fn debug_hook = NULL;
static sd_log_fn notice_hook = default_error;

/* Each thread's last error message, in the manner of libnbd's
 * lib/errors.c.
 */
static __thread char last_error[1024];

void
sd_log_set (sd_log_fn error, sd_log_fn debug)
{
  error_hook = error ? error : default_error;
  debug_hook = debug;
}

void
sd_log_set_notice (sd_log_fn notice)
{
  notice_hook = notice ? notice : default_error;
}

void
sd_notice (const char *fmt, ...)
{
  int saved_errno = errno;
  va_list args;

  va_start (args, fmt);
  notice_hook (fmt, args);
  va_end (args);
  errno = saved_errno;
}

void
sd_error (const char *fmt, ...)
{
  int saved_errno = errno;
  va_list args;

  va_start (args, fmt);
  vsnprintf (last_error, sizeof last_error, fmt, args);
  va_end (args);
  va_start (args, fmt);
  error_hook (fmt, args);
  va_end (args);
  errno = saved_errno;
}

const char *
sd_last_error (void)
{
  return last_error;
}

void
sd_clear_error (void)
{
  last_error[0] = '\0';
}

void
sd_debug (const char *fmt, ...)
{
  int saved_errno = errno;
  va_list args;

  if (!debug_hook)
    return;
  va_start (args, fmt);
  debug_hook (fmt, args);
  va_end (args);
  errno = saved_errno;
}
