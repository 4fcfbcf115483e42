/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of export declarations (server/common/exportspec.c):
 * what export= and a config file's export lines accept, and that a bad
 * one is refused with its message and leaves the spec untouched.
 */

#include <config.h>

#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "swapdrum/devspec.h"
#include "swapdrum/exportspec.h"

TestSuite (exportspec, .init = fx_quiet);

/* Parse text, which must fail with a message containing want. */
static void
refused (const char *text, const char *want)
{
  struct exportspec s = { .name = (char *) "untouched" };

  cr_assert_eq (exportspec_parse (text, &s), -1, "%s was accepted", text);
  cr_assert_str_eq (s.name, "untouched");
  cr_assert (strstr (mb_log_last (), want), "%s: got \"%s\", want \"%s\"",
             text, mb_log_last (), want);
}

Test (exportspec, every_key_is_read)
{
  struct exportspec s;

  cr_assert_eq (exportspec_parse ("host1,size=1G,quota=512M,reserve=256M,"
                                  "tiers=-5-10,shared=yes", &s), 0);
  cr_assert_str_eq (s.name, "host1");
  cr_assert_eq (s.size, UINT64_C (1) << 30);
  cr_assert_eq (s.quota, UINT64_C (512) << 20);
  cr_assert_eq (s.reserve, UINT64_C (256) << 20);
  cr_assert (s.tiers_set);
  cr_assert_eq (s.tier_lo, -5);
  cr_assert_eq (s.tier_hi, 10);
  cr_assert (s.shared);
  exportspec_free (&s);
}

Test (exportspec, the_defaults_are_no_limits_and_every_tier)
{
  struct exportspec s;

  cr_assert_eq (exportspec_parse ("a,size=1M", &s), 0);
  cr_assert_eq (s.quota, 0);
  cr_assert_eq (s.reserve, 0);
  cr_assert_not (s.tiers_set);
  cr_assert_eq (s.tier_lo, SD_PRIORITY_MIN);
  cr_assert_eq (s.tier_hi, SD_PRIORITY_MAX);
  cr_assert_not (s.shared);
  exportspec_free (&s);
}

Test (exportspec, sizes_are_rounded_up_to_whole_pages)
{
  struct exportspec s;

  cr_assert_eq (exportspec_parse ("a,size=5000,quota=1", &s), 0);
  cr_assert_eq (s.size, 8192);
  cr_assert_eq (s.quota, 4096);
  exportspec_free (&s);
}

Test (exportspec, the_default_export_may_be_declared)
{
  struct exportspec s;

  cr_assert_eq (exportspec_parse (",size=1M", &s), 0);
  cr_assert_str_eq (s.name, "");
  exportspec_free (&s);
}

Test (exportspec, a_utf8_name_is_accepted)
{
  struct exportspec s;

  cr_assert_eq (exportspec_parse ("h\xc3\xb4te-\xe2\x82\xac,size=1M", &s), 0);
  exportspec_free (&s);
}

Test (exportspec, a_name_of_4096_bytes_is_accepted_and_4097_refused)
{
  char text[5000];

  memset (text, 'n', 4096);
  strcpy (text + 4096, ",size=1M");
  {
    struct exportspec s;
    cr_assert_eq (exportspec_parse (text, &s), 0);
    exportspec_free (&s);
  }
  memset (text, 'n', 4097);
  strcpy (text + 4097, ",size=1M");
  refused (text, "export: name of 4097 bytes: NBD carries at most 4096");
}

Test (exportspec, names_that_are_not_utf8_are_refused)
{
  refused ("caf\xe9,size=1M", "export: name is not valid UTF-8");
  refused ("\xc0\xaf,size=1M", "not valid UTF-8");     /* overlong '/' */
  refused ("\xed\xa0\x80,size=1M", "not valid UTF-8"); /* a surrogate */
}

Test (exportspec, control_characters_are_refused)
{
  refused ("a\nb,size=1M", "name holds a control character (byte 1)");
  refused ("\x7f,size=1M", "control character (byte 0)");
}

Test (exportspec, bad_options_are_refused_with_their_message)
{
  refused ("a", "export: a: size= is required");
  refused ("a,quota=1M", "size= is required");
  refused ("a,size=0", "size: 0: an export needs at least 4096 bytes");
  refused ("a,size=1M,quota=0", "quota: 0: a quota of nothing");
  refused ("a,size=1M,colour=red", "unknown option colour");
  refused ("a,size=1M,quota", "option quota has no value");
  refused ("a,size=1M,tiers=5", "tiers: 5: not a range of priorities");
  refused ("a,size=1M,tiers=5-1", "tiers: 5-1: the range is empty");
  refused ("a,size=1M,tiers=0-2000000", "out of range");
  refused ("a,size=1M,shared=maybe", "shared: maybe: not a boolean");
  refused ("a,size=1M,quota=1M,reserve=2M",
           "reserve (2097152 bytes) is more than the quota (1048576 bytes)");
  refused ("a,size=99999999999999999999", "too large");
}

Test (exportspec, a_bad_option_leaves_the_spec_as_it_was)
{
  struct exportspec s = { .size = 4096, .quota = 8192 };

  cr_assert_eq (exportspec_option (&s, "x", "quota=lots"), -1);
  cr_assert_eq (s.quota, 8192);
  cr_assert_eq (exportspec_option (&s, "x", "tiers=3-1"), -1);
  cr_assert_not (s.tiers_set);
}
