/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the default admin socket path (server/common/adminpath.c),
 * the one definition the plugin and swapdrumctl share.  Criterion runs
 * each test in a process of its own, so a test may change its
 * environment and its effective uid freely.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "swapdrum/adminpath.h"
#include "swapdrum/cleanup.h"

#define NOBODY 65534

/* Become an ordinary user (for the tests of the non-root paths). */
static void
become_nobody (void)
{
  if (geteuid () == 0)
    cr_assert_eq (seteuid (NOBODY), 0, "seteuid: %m");
}

static void
expect_path (const char *want)
{
  CLEANUP_FREE char *path = sd_admin_default_path ();

  cr_assert_not_null (path);
  cr_assert_str_eq (path, want);
}

Test (adminpath, swapdrum_admin_wins_when_set_and_not_empty)
{
  setenv ("SWAPDRUM_ADMIN", "/somewhere/admin.sock", 1);
  setenv ("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  expect_path ("/somewhere/admin.sock");
}

Test (adminpath, root_gets_run_swapdrum_whatever_xdg_runtime_dir_says)
{
  if (geteuid () != 0)
    cr_skip_test ("needs root");
  setenv ("SWAPDRUM_ADMIN", "", 1);     /* empty: as if unset */
  setenv ("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  expect_path ("/run/swapdrum/admin.sock");
}

Test (adminpath, another_user_gets_xdg_runtime_dir)
{
  unsetenv ("SWAPDRUM_ADMIN");
  setenv ("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  become_nobody ();
  expect_path ("/run/user/1000/swapdrum/admin.sock");
}

Test (adminpath, without_xdg_runtime_dir_the_effective_uid_names_tmp)
{
  char want[64];

  unsetenv ("SWAPDRUM_ADMIN");
  unsetenv ("XDG_RUNTIME_DIR");
  become_nobody ();
  snprintf (want, sizeof want, "/tmp/swapdrum-%u/admin.sock",
            (unsigned) geteuid ());
  expect_path (want);
  /* The effective uid, not the real one (still 0 when run as root). */
  if (getuid () == 0)
    cr_assert_str_neq (want, "/tmp/swapdrum-0/admin.sock");
}
