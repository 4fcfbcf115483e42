/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of device specifications (server/common/devspec.c) for
 * direct=: how it is read, what it refuses, and that the pool table
 * (server/pool/pooltable.c) keeps it.
 */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pooltable.h"
#include "swapdrum/devspec.h"

TestSuite (devspec, .init = fx_quiet);

Test (devspec, direct_is_off_unless_given)
{
  struct devspec s;

  cr_assert_eq (devspec_parse ("/x,priority=2", &s), 0);
  cr_assert_not (s.direct);
  devspec_free (&s);
}

Test (devspec, direct_takes_each_spelling_of_a_boolean)
{
  static const char *const on[] = { "true", "YES", "on", "1" };
  static const char *const off[] = { "false", "no", "Off", "0" };
  char text[64];
  struct devspec s;
  size_t i;

  for (i = 0; i < 4; i++) {
    snprintf (text, sizeof text, "/x,direct=%s", on[i]);
    cr_assert_eq (devspec_parse (text, &s), 0, "%s", text);
    cr_assert (s.direct, "%s", text);
    devspec_free (&s);
    snprintf (text, sizeof text, "/x,direct=true,direct=%s", off[i]);
    cr_assert_eq (devspec_parse (text, &s), 0, "%s", text);
    cr_assert_not (s.direct, "%s", text);
    devspec_free (&s);
  }
}

Test (devspec, a_bad_direct_value_is_refused_and_changes_nothing)
{
  struct devspec s = { .path = (char *) "untouched" };

  cr_assert_eq (devspec_parse ("/x,direct=maybe", &s), -1);
  cr_assert_str_eq (mb_log_last (),
                    "swap: /x: direct: maybe: not a boolean (true or false)");
  cr_assert_str_eq (s.path, "untouched");
  cr_assert_eq (devspec_option (&s, "-o", "direct="), -1);
  cr_assert_str_eq (mb_log_last (), "-o: direct: : not a boolean "
                    "(true or false)");
  cr_assert_not (s.direct);
}

Test (pooltable, a_members_direct_flag_survives_the_table)
{
  struct pt_member m[2] = {
    { .path = (char *) "/a", .direct = true },
    { .path = (char *) "/b" },
  };
  struct pool_table t = { .members = m, .nmembers = 2 }, back;
  const char *why = NULL;
  size_t len;
  char *json;

  m[1].uuid[0] = 1;
  json = pool_table_encode (&t, &len);
  cr_assert_not_null (json);
  cr_assert_not_null (strstr (json, "direct"));
  cr_assert_null (strstr (strstr (json, "direct") + 1, "direct"),
                  "direct=false is left out of the table: %s", json);
  cr_assert_eq (pool_table_decode (json, len, &back, &why), 0, "%s", why);
  cr_assert_eq (back.nmembers, 2);
  cr_assert (back.members[0].direct);
  cr_assert_not (back.members[1].direct);
  pool_table_free (&back);
  free (json);
}
