/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the default admin socket path (server/common/adminpath.c),
 * the one definition the plugin and swapdrumctl share.  Criterion runs
 * each test in a process of its own, so a test may change its
 * environment freely.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "swapdrum/adminpath.h"

#define NOBODY 65534

/* The default path as an ordinary user sees it: as root, under euid
 * NOBODY for the call only (seteuid can be undone; the sanitizers'
 * leak check at exit needs root's /proc/self back).
 */
static char *
path_as_user (void)
{
  char *path;

  if (geteuid () != 0)
    return sd_admin_default_path ();
  cr_assert_eq (seteuid (NOBODY), 0, "seteuid: %m");
  path = sd_admin_default_path ();
  cr_assert_eq (seteuid (0), 0, "seteuid back: %m");
  return path;
}

/* The uid path_as_user runs the call under. */
static unsigned
user_uid (void)
{
  return geteuid () == 0 ? NOBODY : (unsigned) geteuid ();
}

static void
expect_path (char *path, const char *want)
{
  cr_assert_not_null (path);
  cr_assert_str_eq (path, want);
  free (path);
}

Test (adminpath, swapdrum_admin_wins_when_set_and_not_empty)
{
  setenv ("SWAPDRUM_ADMIN", "/somewhere/admin.sock", 1);
  setenv ("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  expect_path (sd_admin_default_path (), "/somewhere/admin.sock");
}

Test (adminpath, root_gets_run_swapdrum_whatever_xdg_runtime_dir_says)
{
  if (geteuid () != 0)
    cr_skip_test ("needs root");
  setenv ("SWAPDRUM_ADMIN", "", 1);     /* empty: as if unset */
  setenv ("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  expect_path (sd_admin_default_path (), "/run/swapdrum/admin.sock");
}

Test (adminpath, another_user_gets_xdg_runtime_dir)
{
  unsetenv ("SWAPDRUM_ADMIN");
  setenv ("XDG_RUNTIME_DIR", "/run/user/1000", 1);
  expect_path (path_as_user (), "/run/user/1000/swapdrum/admin.sock");
}

/* As root, path_as_user changes only the effective uid: the path
 * names it, not the real uid (still 0).
 */
Test (adminpath, without_xdg_runtime_dir_the_effective_uid_names_tmp)
{
  char want[64];

  unsetenv ("SWAPDRUM_ADMIN");
  unsetenv ("XDG_RUNTIME_DIR");
  snprintf (want, sizeof want, "/tmp/swapdrum-%u/admin.sock", user_uid ());
  expect_path (path_as_user (), want);
}
