/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach-device.h"
#include "attach-util.h"

/* The most devices the kernel's minor numbers allow (MINORMASK >> 0). */
#define DEVICE_INDEX_MAX ((1U << 20) - 1)

int
attach_device_index (const char *path, uint32_t *index)
{
  char real[PATH_MAX];
  const char *base, *digits;
  char *end;
  unsigned long n;

  if (realpath (path, real) == NULL) {
    if (errno != ENOENT || strlen (path) >= sizeof real) {
      attach_set_error ("device: %s: %m", path);
      return -1;
    }
    strcpy (real, path);
  }
  base = strrchr (real, '/');
  base = base ? base + 1 : real;
  digits = base + 3;
  if (strncmp (base, "nbd", 3) != 0 || *digits < '0' || *digits > '9' ||
      (digits[0] == '0' && digits[1] != '\0'))
    goto bad;
  errno = 0;
  n = strtoul (digits, &end, 10);
  if (errno != 0 || *end != '\0' || n > DEVICE_INDEX_MAX)
    goto bad;
  *index = n;
  return 0;
 bad:
  attach_set_error ("device: %s: not an NBD device (/dev/nbdN)", path);
  return -1;
}

bool
attach_device_connected (uint32_t index)
{
  char path[64];

  snprintf (path, sizeof path, "/sys/block/nbd%u/pid", index);
  return access (path, F_OK) == 0;
}
