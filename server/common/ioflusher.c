/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The IO_FLUSHER state (include/swapdrum/ioflusher.h). */

#include <config.h>

#include <errno.h>
#include <stdbool.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "swapdrum/ioflusher.h"

/* Older headers (before Linux 5.6) lack the names; the numbers are
 * the kernel's ABI.
 */
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#define PR_GET_IO_FLUSHER 58
#endif

int
sd_io_flusher (bool *already)
{
#ifdef __linux__
  int r = prctl (PR_GET_IO_FLUSHER, 0, 0, 0, 0);

  *already = r == 1;
  if (*already)
    return 0;
  return prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0 ? 0 : -1;
#else
  *already = false;
  errno = ENOSYS;
  return -1;
#endif
}
