/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The default admin socket path: see adminpath.h.  libc only, as it is
 * compiled into swapdrumctl too.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "swapdrum/adminpath.h"

char *
sd_admin_default_path (void)
{
  const char *env = getenv ("SWAPDRUM_ADMIN");
  const char *xdg = getenv ("XDG_RUNTIME_DIR");
  uid_t euid = geteuid ();
  char *path = NULL;
  int r;

  if (env && *env)
    r = asprintf (&path, "%s", env);
  else if (euid == 0)
    r = asprintf (&path, "/run/swapdrum/admin.sock");
  else if (xdg && *xdg)
    r = asprintf (&path, "%s/swapdrum/admin.sock", xdg);
  else
    r = asprintf (&path, "/tmp/swapdrum-%u/admin.sock", (unsigned) euid);
  return r == -1 ? NULL : path;
}
