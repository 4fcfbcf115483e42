/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the admin protocol (server/admin/admin*.c,
 * docs/admin-protocol.md): every command and its refusals.  Swap-off
 * with pages to move, and the order of replies around it, are in
 * test-admin-off.c; the socket file, many clients and privileges in
 * test-admin-socket.c.
 *
 * The server runs over a pool of in-memory devices (membackend.h) or
 * small files in a scratch directory; the tests talk to it with plain
 * sockets (admintest.h).
 */

#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "admintest.h"
#include "fixture.h"
#include "membackend.h"

/* Every test starts with a server over devices "a" (100 pages,
 * priority 5) and "b" (50 pages, priority -3), no export
 * (at_setup_two), and one client c connected to it.
 */
static struct at_setup s;
static struct at_client *c;

static void
setup (void)
{
  fx_quiet ();
  at_setup_two (&s);
  c = at_connect (s.sock);
}

static void
teardown (void)
{
  at_close (c);
  at_teardown (&s);
}

TestSuite (admin, .init = setup, .fini = teardown, .timeout = 60);

/* ---- read-only commands ---- */

Test (admin, version_reports_the_package_and_protocol_versions)
{
  json_object *r;

  r = at_ok (at_request (c, "{\"cmd\":\"version\"}"));
  cr_assert_str_eq (at_str (r, "version"), PACKAGE_VERSION);
  cr_assert_eq (at_int (r, "protocol"), 1);
  json_object_put (r);
}

Test (admin, nswap_counts_the_devices)
{
  cr_assert_eq (at_nswap (c), 2);
}

Test (admin, stats_lists_every_device_preferred_first_with_its_figures)
{
  json_object *r, *devs, *b, *a;

  fx_alloc_n (s.pool, 3);       /* on b, the preferred device */
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  cr_assert_str_eq (at_str (r, "priority_order"), "lower is preferred");
  cr_assert_eq (at_int (r, "page_size"), 4096);
  devs = at_member (r, "devices");
  cr_assert_eq (json_object_array_length (devs), 2);
  b = json_object_array_get_idx (devs, 0);
  a = json_object_array_get_idx (devs, 1);
  cr_assert_str_eq (at_str (b, "path"), "b");
  cr_assert_str_eq (at_str (b, "kind"), MB_KIND);
  cr_assert_eq (at_int (b, "priority"), -3);
  cr_assert_eq (at_int (b, "pages"), 50);
  cr_assert_eq (at_int (b, "size"), 50 * PAGE);
  cr_assert_eq (at_int (b, "used"), 3);
  cr_assert_eq (at_int (b, "avail"), 47);
  cr_assert_eq (at_int (b, "bad"), 0);
  cr_assert (at_has_flag (b, "INUSE") && at_has_flag (b, "ENABLE"));
  cr_assert (!at_has_flag (b, "FAKE") && !at_has_flag (b, "DRAIN"));
  cr_assert_gt (at_int (b, "maxactive"), 0);
  at_int (b, "drumoffset");
  at_int (b, "peak_active");
  at_int (b, "reads");
  at_int (b, "writes");
  at_int (b, "bytes_read");
  at_int (b, "bytes_written");
  at_int (b, "read_errors");
  at_int (b, "write_errors");
  cr_assert_str_eq (at_str (a, "path"), "a");
  cr_assert_eq (at_int (a, "priority"), 5);
  cr_assert_eq (at_int (a, "used"), 0);
  json_object_put (r);
}

Test (admin, summary_adds_up_every_device)
{
  json_object *r;

  fx_alloc_n (s.pool, 3);
  r = at_ok (at_request (c, "{\"cmd\":\"summary\"}"));
  cr_assert_eq (at_int (r, "devices"), 2);
  cr_assert_eq (at_int (r, "pages"), 150);
  cr_assert_eq (at_int (r, "used"), 3);
  cr_assert_eq (at_int (r, "avail"), 147);
  cr_assert_eq (at_int (r, "bad"), 0);
  cr_assert_eq (at_int (r, "size"), 150 * PAGE);
  json_object_put (r);
}

Test (admin, the_id_of_a_request_comes_back_in_its_reply_even_an_error)
{
  json_object *r;

  r = at_ok (at_request (c, "{\"id\":{\"x\":[1,\"two\"]},\"cmd\":\"nswap\"}"));
  cr_assert_str_eq (json_object_to_json_string_ext (at_member (r, "id"),
                                                    JSON_C_TO_STRING_PLAIN),
                    "{\"x\":[1,\"two\"]}");
  json_object_put (r);
  r = at_request (c, "{\"cmd\":\"nope\",\"id\":7}");
  cr_assert_eq (at_int (r, "id"), 7);
  at_expect_error (r, "EINVAL", "unknown command");
  r = at_ok (at_request (c, "{\"cmd\":\"version\",\"id\":null}"));
  cr_assert (json_object_is_type (at_member (r, "id"), json_type_null));
  json_object_put (r);
}

/* ---- malformed requests ---- */

Test (admin, malformed_json_gets_einval_and_the_connection_goes_on)
{
  static const char *const bad[] = {
    "{\"cmd\":", "{cmd: version}", "{\"cmd\":\"version\"} trailing",
    "{\"cmd\":\"version\",}", "{\"cmd\":\"\xff\"}",
  };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    at_expect_error (at_request (c, bad[i]), "EINVAL",
                     "request: invalid JSON");
  at_request_ok (c, "{\"cmd\":\"version\"}");
}

Test (admin, a_line_that_is_not_an_object_gets_einval)
{
  static const char *const bad[] = { "[1]", "42", "\"version\"", "null" };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    at_expect_error (at_request (c, bad[i]), "EINVAL", "not a JSON object");
  at_expect_error (at_request (c, "   "), "EINVAL", "empty line");
  at_send_bytes (c, "{\"cmd\":\"version\"}\0\n", 19);
  at_expect_error (at_read (c), "EINVAL", "a NUL byte in the line");
  at_request_ok (c, "{\"cmd\":\"version\"}");
}

Test (admin, an_unknown_command_gets_einval_naming_it)
{
  at_expect_error (at_request (c, "{\"cmd\":\"frobnicate\"}"), "EINVAL",
                   "request: frobnicate: unknown command");
  at_request_ok (c, "{\"cmd\":\"version\"}");
}

Test (admin, missing_or_ill_typed_members_get_einval_changing_nothing)
{
  static const struct {
    const char *line, *needle;
  } bad[] = {
    { "{}", "request: cmd: missing" },
    { "{\"cmd\":3}", "request: cmd: must be a string" },
    { "{\"cmd\":\"version\",\"verbose\":true}",
      "version: verbose: unknown member" },
    { "{\"cmd\":\"off\",\"path\":\"a\",\"priority\":1}",
      "off: priority: unknown member" },
    { "{\"cmd\":\"on\"}", "on: path: missing" },
    { "{\"cmd\":\"on\",\"path\":5}", "on: path: must be a string" },
    { "{\"cmd\":\"on\",\"path\":\"\"}", "on: path: must not be empty" },
    { "{\"cmd\":\"on\",\"path\":\"a\\u0000b\"}", "NUL" },
    { "{\"cmd\":\"ctl\",\"path\":\"a\"}", "ctl: priority: missing" },
    { "{\"cmd\":\"ctl\",\"path\":\"a\",\"priority\":\"1\"}",
      "ctl: priority: must be an integer" },
    { "{\"cmd\":\"ctl\",\"path\":\"a\",\"priority\":1.5}",
      "ctl: priority: must be an integer" },
    { "{\"cmd\":\"on\",\"path\":\"x\",\"maxactive\":0}",
      "on: maxactive: 0 out of range (1 to 1024)" },
    { "{\"cmd\":\"on\",\"path\":\"x\",\"create\":\"lots\"}", "not a size" },
    { "{\"cmd\":\"on\",\"path\":\"x\",\"create\":true}", "on: create:" },
    { "{\"cmd\":\"on\",\"path\":\"x\",\"create\":0}", "more than 0" },
  };
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    at_expect_error (at_request (c, bad[i].line), "EINVAL", bad[i].needle);
  cr_assert_eq (at_nswap (c), 2);
}

/* A request line of len bytes: a version request padded by its id. */
static char *
padded_request (size_t len)
{
  const char *head = "{\"cmd\":\"version\",\"id\":\"", *tail = "\"}";
  char *line = malloc (len + 2);

  cr_assert_not_null (line);
  memset (line, 'x', len);
  memcpy (line, head, strlen (head));
  memcpy (line + len - strlen (tail), tail, strlen (tail));
  line[len] = '\n';
  line[len + 1] = '\0';
  return line;
}

Test (admin, a_1_mib_line_gets_one_einval_and_the_connection_goes_on)
{
  char *line;

  line = padded_request (MIB);
  at_send (c, line);
  at_send (c, "{\"cmd\":\"nswap\"}\n");
  at_expect_error (at_read (c), "EINVAL", "request longer than 65536 bytes");
  json_object_put (at_ok (at_read (c)));
  cr_assert_null (at_read_within (c, 200), "one reply too many");
  free (line);
}

Test (admin, a_line_of_exactly_65536_bytes_is_served_one_more_is_not)
{
  char *line;
  json_object *r;

  line = padded_request (65536);
  at_send (c, line);
  r = at_ok (at_read (c));
  cr_assert_eq (strlen (at_str (r, "id")), 65536 - 25);
  json_object_put (r);
  free (line);
  line = padded_request (65537);
  at_send (c, line);
  at_expect_error (at_read (c), "EINVAL", "longer than 65536");
  at_request_ok (c, "{\"cmd\":\"version\"}");
  free (line);
}

/* ---- on ---- */

Test (admin, on_of_a_path_that_does_not_exist_gets_enoent)
{
  char line[512];

  snprintf (line, sizeof line, "{\"cmd\":\"on\",\"path\":\"%s/missing\"}",
            s.dir);
  at_expect_error (at_request (c, line), "ENOENT", "/missing: ");
  cr_assert_eq (at_nswap (c), 2);
}

Test (admin, on_creates_and_adds_a_file_with_priority_and_maxactive)
{
  char line[512];
  json_object *r, *dev;
  char *path;

  path = at_path (s.dir, "c.swap");
  snprintf (line, sizeof line, "{\"cmd\":\"on\",\"path\":\"%s\","
            "\"create\":\"1M\",\"priority\":-10,\"maxactive\":4}", path);
  at_request_ok (c, line);
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  dev = json_object_array_get_idx (at_member (r, "devices"), 0);
  cr_assert_str_eq (at_str (dev, "path"), path);
  cr_assert_str_eq (at_str (dev, "kind"), "file");
  cr_assert_eq (at_int (dev, "priority"), -10);
  cr_assert_eq (at_int (dev, "maxactive"), 4);
  /* Less the stamp, the pool table and the records. */
  cr_assert_eq (at_int (dev, "pages"), 238);
  json_object_put (r);
  free (path);
  path = at_path (s.dir, "d.swap");
  snprintf (line, sizeof line, "{\"cmd\":\"on\",\"path\":\"%s\","
            "\"create\":131072}", path);
  at_request_ok (c, line);
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  dev = at_device (r, path);
  cr_assert_not_null (dev);
  cr_assert_eq (at_int (dev, "pages"), 14);
  cr_assert_eq (at_int (dev, "priority"), 0);
  json_object_put (r);
  free (path);
}

Test (admin, on_of_a_file_in_the_pool_under_another_name_gets_ebusy)
{
  char line[512];
  char *path, *link;

  path = at_path (s.dir, "c.swap");
  link = at_path (s.dir, "link");
  snprintf (line, sizeof line, "{\"cmd\":\"on\",\"path\":\"%s\","
            "\"create\":\"1M\"}", path);
  at_request_ok (c, line);
  cr_assert_eq (symlink ("c.swap", link), 0);
  snprintf (line, sizeof line, "{\"cmd\":\"on\",\"path\":\"%s\"}", link);
  at_expect_error (at_request (c, line), "EBUSY", "already in the pool as");
  /* Relative paths resolve against the server's working directory. */
  cr_assert_eq (chdir (s.dir), 0);
  at_expect_error (at_request (c, "{\"cmd\":\"on\",\"path\":\"./c.swap\"}"),
                   "EBUSY", "swap: ./c.swap: already in the pool as");
  cr_assert_eq (at_nswap (c), 3);
  free (link);
  free (path);
}

/* ---- ctl ---- */

Test (admin, ctl_moves_a_device_in_the_priority_order)
{
  json_object *r, *first;

  at_request_ok (c, "{\"cmd\":\"ctl\",\"path\":\"a\",\"priority\":-10}");
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  first = json_object_array_get_idx (at_member (r, "devices"), 0);
  cr_assert_str_eq (at_str (first, "path"), "a");
  cr_assert_eq (at_int (first, "priority"), -10);
  json_object_put (r);
}

Test (admin, ctl_out_of_range_gets_einval_and_changes_nothing)
{
  static const char *const bad[] = { "1000001", "-1000001", "1000000000000",
                                     "99999999999999999999" };
  char line[256];
  json_object *r;
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf (line, sizeof line,
              "{\"cmd\":\"ctl\",\"path\":\"a\",\"priority\":%s}", bad[i]);
    at_expect_error (at_request (c, line), "EINVAL", "out of range");
  }
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  cr_assert_eq (at_int (at_device (r, "a"), "priority"), 5);
  json_object_put (r);
}

/* json-c 0.16 clamps an integer beyond 64 bits, 0.17 and later refuse
 * the line as invalid JSON: the server answers as 0.16 would, with
 * either.
 */
Test (admin, integers_beyond_64_bits_are_out_of_range_with_the_id)
{
  struct at_setup s;
  struct at_client *c;
  json_object *r, *wide, *narrow;

  at_setup_two (&s);
  c = at_connect (s.sock);
  r = at_request (c, "{\"id\":9,\"cmd\":\"ctl\",\"path\":\"a\","
                  "\"priority\":-99999999999999999999}");
  cr_assert_eq (at_int (r, "id"), 9);
  at_expect_error (r, "EINVAL", "out of range");
  /* Digits inside a string are no number. */
  at_expect_error (at_request (c, "{\"cmd\":\"ctl\",\"path\":"
                               "\"99999999999999999999\",\"priority\":1}"),
                   "ENOENT", "ctl: 99999999999999999999: not in the pool");
  /* An error after a wide integer is at the same byte as after a
   * narrow one of the same length.
   */
  wide = at_request (c, "{\"cmd\":\"ctl\",\"priority\":"
                     "123456789012345678901234567890,}");
  narrow = at_request (c, "{\"cmd\":\"ctl\",\"priority\":"
                       "1                             ,}");
  cr_assert_str_eq (at_str (wide, "error"), at_str (narrow, "error"));
  cr_assert (strstr (at_str (wide, "error"), "invalid JSON at byte"),
             "%s", at_str (wide, "error"));
  json_object_put (wide);
  json_object_put (narrow);
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  cr_assert_eq (at_int (at_device (r, "a"), "priority"), 5);
  json_object_put (r);
  at_close (c);
  at_teardown (&s);
}

Test (admin, ctl_of_a_device_not_in_the_pool_gets_enoent)
{
  at_expect_error (at_request (c, "{\"cmd\":\"ctl\",\"path\":\"zz\","
                               "\"priority\":1}"),
                   "ENOENT", "ctl: zz: not in the pool");
}

/* ---- off ---- */

Test (admin, off_of_a_device_not_in_the_pool_gets_enoent)
{
  at_expect_error (at_request (c, "{\"cmd\":\"off\",\"path\":\"nothere\"}"),
                   "ENOENT", "off: nothere: not in the pool");
  cr_assert_eq (at_nswap (c), 2);
}

Test (admin, off_removes_an_empty_device)
{
  json_object *r;

  r = at_ok (at_request (c, "{\"cmd\":\"off\",\"path\":\"a\"}"));
  cr_assert_eq (at_int (r, "moved"), 0);
  json_object_put (r);
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  cr_assert_eq (json_object_array_length (at_member (r, "devices")), 1);
  cr_assert_null (at_device (r, "a"));
  json_object_put (r);
}
