/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the export set and sessions
 * (server/export/exportset.c, session.c): one host per export, live
 * creation and removal, and per-export stats.
 */

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"
#include "pool/pooltable.h"
#include "swapdrum/exportset.h"
#include "swapdrum/session.h"

TestSuite (exportset, .init = fx_quiet, .timeout = 60);

static struct pool *pool;

/* A set serving "a" (1 MiB) and "b" (1 MiB, shared) over a pool of
 * one device of 1024 pages.
 */
static struct exportset *
two_exports (void)
{
  struct exportspec decls[] = {
    { .name = (char *) "a", .size = 1 * MIB },
    { .name = (char *) "b", .size = 1 * MIB, .shared = true },
  };
  struct exportset *set;

  pool = fx_new_pool ();
  fx_add_dev (pool, "d", 1024, 0, NULL);
  set = exportset_open (pool, decls, 2, 0);
  cr_assert_not_null (set, "%s", mb_log_last ());
  return set;
}

static void
done (struct exportset *set)
{
  exportset_destroy (set);
  pool_destroy (pool);
}

/* The info of export name in set. */
static struct sd_export_info
info_of (struct exportset *set, const char *name)
{
  struct sd_export_info *info, out = { 0 };
  ssize_t n = exportset_info (set, &info), i;

  cr_assert_geq (n, 0);
  for (i = 0; i < n; i++)
    if (strcmp (info[i].name, name) == 0) {
      out = info[i];
      out.name = out.host = NULL;
    }
  exportset_info_free (info, n);
  return out;
}

static void
write_pages (struct session *s, uint64_t n, char fill)
{
  char page[PAGE];
  uint64_t i;

  memset (page, fill, sizeof page);
  for (i = 0; i < n; i++)
    cr_assert_eq (session_pwrite (s, page, PAGE, i * PAGE, false), 0,
                  "%s", mb_log_last ());
}

Test (exportset, a_second_host_is_refused_while_the_first_is_attached)
{
  struct exportset *set = two_exports ();
  struct session *s1 = session_open (set, "a", "10.0.0.1");
  struct session *s2 = session_open (set, "a", "10.0.0.1");

  cr_assert_not_null (s1);
  cr_assert_not_null (s2, "a second connection of one host is allowed");
  errno = 0;
  cr_assert_null (session_open (set, "a", "10.0.0.2"));
  cr_assert_eq (errno, EBUSY);
  cr_assert (mb_log_has ("export: a: attached from 10.0.0.1 "
                         "(2 connections): one host per export"),
             "%s", mb_log_last ());
  session_close (s1);
  cr_assert_null (session_open (set, "a", "10.0.0.2"));
  session_close (s2);
  done (set);
}

Test (exportset, the_export_is_free_again_after_the_hosts_last_connection)
{
  struct exportset *set = two_exports ();
  struct session *s1 = session_open (set, "a", "10.0.0.1");
  struct session *s2;

  session_close (s1);
  s2 = session_open (set, "a", "10.0.0.2");
  cr_assert_not_null (s2);
  cr_assert_eq (info_of (set, "a").sessions, 1);
  session_close (s2);
  done (set);
}

Test (exportset, a_shared_export_takes_several_hosts)
{
  struct exportset *set = two_exports ();
  struct session *s1 = session_open (set, "b", "10.0.0.1");
  struct session *s2 = session_open (set, "b", "local uid 0");

  cr_assert_not_null (s1);
  cr_assert_not_null (s2);
  session_close (s1);
  session_close (s2);
  done (set);
}

Test (exportset, hosts_are_named_by_address_or_local_user)
{
  struct sockaddr_in sin = { .sin_family = AF_INET };
  struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  char host[SESSION_HOST_MAX];

  inet_pton (AF_INET, "127.0.0.2", &sin.sin_addr);
  session_host ((struct sockaddr *) &sin, -1, host, sizeof host);
  cr_assert_str_eq (host, "127.0.0.2");
  inet_pton (AF_INET6, "::ffff:127.0.0.2", &sin6.sin6_addr);
  session_host ((struct sockaddr *) &sin6, -1, host, sizeof host);
  cr_assert_str_eq (host, "127.0.0.2", "IPv4-mapped is IPv4");
  inet_pton (AF_INET6, "2001:db8::1", &sin6.sin6_addr);
  session_host ((struct sockaddr *) &sin6, -1, host, sizeof host);
  cr_assert_str_eq (host, "2001:db8::1");
  session_host ((struct sockaddr *) &sun, 1000, host, sizeof host);
  cr_assert_str_eq (host, "local uid 1000");
}

Test (exportset, an_undeclared_name_is_refused_with_the_served_list)
{
  struct exportset *set = two_exports ();

  errno = 0;
  cr_assert_null (session_open (set, "", "h"));
  cr_assert_eq (errno, ENOENT);
  cr_assert (mb_log_has ("export: : no such export (the server has "
                         "\"a\", \"b\")"), "%s", mb_log_last ());
  done (set);
}

Test (exportset, an_export_added_live_is_served_and_marked_live)
{
  struct exportset *set = two_exports ();
  struct exportspec spec = { .name = (char *) "c", .size = 2 * MIB };
  struct session *s;
  char **names;
  bool shared = true;

  cr_assert_eq (exportset_add (set, &spec), 0, "%s", mb_log_last ());
  s = session_open (set, "c", "h");
  cr_assert_not_null (s);
  cr_assert_eq (export_size (session_export (s)), 2 * MIB);
  write_pages (s, 3, 'c');
  cr_assert_eq (info_of (set, "c").used, 3 * PAGE);
  cr_assert (pool_export_is_live (pool, "c", &shared));
  cr_assert_not (shared);
  cr_assert_not (pool_export_is_live (pool, "a", &shared));
  names = exportset_names (set);
  cr_assert_str_eq (names[2], "c");
  cr_assert_null (names[3]);
  pool_names_free (names);
  session_close (s);
  done (set);
}

Test (exportset, adding_a_name_the_set_has_changes_nothing)
{
  struct exportset *set = two_exports ();
  struct exportspec spec = { .name = (char *) "a", .size = 2 * MIB };

  errno = 0;
  cr_assert_eq (exportset_add (set, &spec), -1);
  cr_assert_eq (errno, EEXIST);
  cr_assert (mb_log_has ("export: a: already served"));
  cr_assert_eq (info_of (set, "a").size, 1 * MIB);
  done (set);
}

Test (exportset, removing_an_attached_export_is_refused)
{
  struct exportset *set = two_exports ();
  struct session *s = session_open (set, "a", "10.0.0.1");

  write_pages (s, 4, 'a');
  errno = 0;
  cr_assert_eq (exportset_remove (set, "a", false, NULL, NULL, NULL), -1);
  cr_assert_eq (errno, EBUSY);
  cr_assert (mb_log_has ("remove: export a: attached from 10.0.0.1 "
                         "(1 connections)"), "%s", mb_log_last ());
  cr_assert (info_of (set, "a").served);
  cr_assert_eq (info_of (set, "a").used, 4 * PAGE);
  session_close (s);
  done (set);
}

/* Progress callback: remember the last figures. */
static uint64_t last_freed, last_total;

static void
progress (void *opaque, uint64_t freed, uint64_t total)
{
  last_freed = freed;
  last_total = total;
}

Test (exportset, removing_an_export_frees_its_pages_and_its_name)
{
  struct exportset *set = two_exports ();
  struct session *s = session_open (set, "a", "h");
  char **names;
  uint64_t freed = 0;

  write_pages (s, 5, 'a');
  session_close (s);
  cr_assert_eq (fx_pool_inuse (pool), 5);
  cr_assert_eq (exportset_remove (set, "a", false, progress, NULL, &freed),
                0, "%s", mb_log_last ());
  cr_assert_eq (freed, 5);
  cr_assert_eq (last_freed, 5);
  cr_assert_eq (last_total, 5);
  cr_assert_eq (fx_pool_inuse (pool), 0);
  names = pool_export_names (pool);
  cr_assert_str_eq (names[0], "b");
  cr_assert_null (names[1]);
  pool_names_free (names);
  cr_assert_null (session_open (set, "a", "h"));
  done (set);
}

Test (exportset, a_page_freed_by_removal_reads_zeros_in_a_new_export)
{
  struct exportset *set = two_exports ();
  struct exportspec spec = { .name = (char *) "a", .size = 1 * MIB };
  struct session *s = session_open (set, "a", "h");
  char page[PAGE] = { 0 };

  write_pages (s, 16, 's');
  session_close (s);
  cr_assert_eq (exportset_remove (set, "a", false, NULL, NULL, NULL), 0);
  cr_assert_eq (exportset_add (set, &spec), 0, "%s", mb_log_last ());
  s = session_open (set, "a", "h2");
  /* A partial write to a never-written page: zeros around it. */
  cr_assert_eq (session_pwrite (s, "new", 3, 100, false), 0);
  cr_assert_eq (session_pread (s, page, PAGE, 0), 0);
  cr_assert_eq (memcmp (page + 100, "new", 3), 0);
  page[100] = page[101] = page[102] = 0;
  fx_expect_zeros (session_export (s), PAGE, 15 * PAGE);
  cr_assert_eq (memcmp (page, (char[PAGE]) { 0 }, PAGE), 0);
  session_close (s);
  done (set);
}

Test (exportset, a_forced_removal_fails_requests_then_frees_on_close)
{
  struct exportset *set = two_exports ();
  struct session *s = session_open (set, "a", "h");
  char page[PAGE];

  write_pages (s, 3, 'f');
  cr_assert_eq (exportset_remove (set, "a", true, NULL, NULL, NULL), 0,
                "%s", mb_log_last ());
  errno = 0;
  cr_assert_eq (session_pread (s, page, PAGE, 0), -1);
  cr_assert_eq (errno, EIO);
  cr_assert (mb_log_has ("read: export a: removed by the admin"));
  cr_assert_null (session_open (set, "a", "h"), "no new session");
  cr_assert_eq (fx_pool_inuse (pool), 3, "pages kept while attached");
  session_close (s);
  cr_assert_eq (fx_pool_inuse (pool), 0);
  cr_assert_eq (exportset_remove (set, "a", false, NULL, NULL, NULL), -1);
  cr_assert_eq (errno, ENOENT);
  done (set);
}

Test (exportset, sessions_count_requests_in_the_exports_stats)
{
  struct exportset *set = two_exports ();
  struct session *s = session_open (set, "a", "h");
  char page[PAGE];
  struct sd_export_info info;

  write_pages (s, 2, 'x');
  cr_assert_eq (session_pread (s, page, PAGE, 0), 0);
  cr_assert_eq (session_trim (s, PAGE, 0), 0);
  cr_assert_eq (session_flush (s), 0);
  info = info_of (set, "a");
  cr_assert_eq (info.io[SD_IO_WRITE].ops, 2);
  cr_assert_eq (info.io[SD_IO_WRITE].bytes, 2 * PAGE);
  cr_assert_eq (info.io[SD_IO_READ].ops, 1);
  cr_assert_eq (info.io[SD_IO_TRIM].ops, 1);
  cr_assert_eq (info.io[SD_IO_FLUSH].ops, 1);
  cr_assert_gt (info.io[SD_IO_WRITE].p99_ns, 0);
  cr_assert_eq (info_of (set, "b").io[SD_IO_WRITE].ops, 0);
  session_close (s);
  done (set);
}

Test (exportset, limits_change_live_and_the_keys_not_given_stay)
{
  struct exportset *set = two_exports ();
  struct sd_export_info info;

  cr_assert_eq (exportset_set (set, "a", "quota=512K,tiers=0-0"), 0,
                "%s", mb_log_last ());
  cr_assert_eq (exportset_set (set, "a", "reserve=256K"), 0, "%s",
                mb_log_last ());
  info = info_of (set, "a");
  cr_assert_eq (info.quota, 512 * 1024);
  cr_assert_eq (info.reserve, 256 * 1024);
  cr_assert_eq (info.tier_lo, 0);
  cr_assert_eq (info.tier_hi, 0);
  cr_assert_eq (exportset_set (set, "a", "quota=none,reserve=0,tiers=all"),
                0, "%s", mb_log_last ());
  info = info_of (set, "a");
  cr_assert_eq (info.quota, 0);
  cr_assert_eq (info.reserve, 0);
  cr_assert_eq (info.tier_lo, SD_PRIORITY_MIN);
  done (set);
}

Test (exportset, a_bad_change_of_limits_changes_nothing)
{
  struct exportset *set = two_exports ();
  struct session *s = session_open (set, "b", "h1");

  cr_assert_eq (exportset_set (set, "a", "quota=512K"), 0);
  errno = 0;
  cr_assert_eq (exportset_set (set, "a", "reserve=128K,size=64K"), -1);
  cr_assert_eq (errno, EINVAL);
  cr_assert_eq (info_of (set, "a").reserve, 0, "reserve= was not applied");
  cr_assert_eq (info_of (set, "a").size, 1 * MIB, "size= was not applied");
  errno = 0;
  cr_assert_eq (exportset_set (set, "a", "quota=1M,color=red"), -1);
  cr_assert_eq (errno, EINVAL);
  cr_assert_eq (info_of (set, "a").quota, 512 * 1024);
  errno = 0;
  cr_assert_eq (exportset_set (set, "b", "shared=false"), -1);
  cr_assert_eq (errno, EBUSY);
  cr_assert (info_of (set, "b").shared);
  errno = 0;
  cr_assert_eq (exportset_set (set, "nope", "quota=1M"), -1);
  cr_assert_eq (errno, ENOENT);
  session_close (s);
  cr_assert_eq (exportset_set (set, "b", "shared=false"), 0);
  cr_assert_not (info_of (set, "b").shared);
  done (set);
}

/* ---- resizing ---- */

/* Write n pages of fill from page first through a session of host h1. */
static void
write_at (struct exportset *set, const char *name, uint64_t first,
          uint64_t n, char fill)
{
  struct session *s = session_open (set, name, "h1");
  char page[PAGE];
  uint64_t i;

  cr_assert_not_null (s, "%s", mb_log_last ());
  memset (page, fill, sizeof page);
  for (i = 0; i < n; i++)
    cr_assert_eq (session_pwrite (s, page, PAGE, (first + i) * PAGE, false),
                  0, "%s", mb_log_last ());
  session_close (s);
}

/* Expect n pages of fill (0: zeros) from page first. */
static void
expect_at (struct exportset *set, const char *name, uint64_t first,
           uint64_t n, char fill)
{
  struct session *s = session_open (set, name, "h1");
  char page[PAGE], want[PAGE];
  uint64_t i;

  cr_assert_not_null (s, "%s", mb_log_last ());
  memset (want, fill, sizeof want);
  for (i = 0; i < n; i++) {
    cr_assert_eq (session_pread (s, page, PAGE, (first + i) * PAGE), 0,
                  "%s", mb_log_last ());
    cr_assert_arr_eq (page, want, PAGE, "page %" PRIu64, first + i);
  }
  session_close (s);
}

Test (exportset, growing_an_export_keeps_its_pages_and_serves_the_new_end)
{
  struct exportset *set = two_exports ();

  write_at (set, "a", 0, 16, 'a');
  cr_assert_eq (exportset_set (set, "a", "size=64M"), 0, "%s",
                mb_log_last ());
  cr_assert_eq (info_of (set, "a").size, 64 * MIB);
  cr_assert_eq (pool_table_export (&pool->table, "a")->size, 64 * MIB,
                "the pool table records the new size");
  expect_at (set, "a", 0, 16, 'a');
  write_at (set, "a", 64 * MIB / PAGE - 1, 1, 'z');
  expect_at (set, "a", 64 * MIB / PAGE - 1, 1, 'z');
  expect_at (set, "a", 16, 8, 0);
  done (set);
}

Test (exportset, shrinking_an_export_frees_the_pages_past_its_new_end)
{
  struct exportset *set = two_exports ();
  uint64_t used;

  write_at (set, "a", 0, 256, 'a');       /* the whole 1 MiB */
  used = info_of (set, "a").used;
  cr_assert_eq (exportset_set (set, "a", "size=256K"), 0, "%s",
                mb_log_last ());
  cr_assert_eq (info_of (set, "a").size, 256 * 1024);
  cr_assert_eq (pool_table_export (&pool->table, "a")->size, 256 * 1024);
  cr_assert_eq (info_of (set, "a").used, used - 192 * PAGE,
                "the 192 pages past the new end are freed");
  expect_at (set, "a", 0, 64, 'a');
  /* Grown again, the freed pages read zeros, not their old data. */
  cr_assert_eq (exportset_set (set, "a", "size=1M"), 0, "%s",
                mb_log_last ());
  expect_at (set, "a", 64, 192, 0);
  done (set);
}

Test (exportset, resizing_an_attached_export_is_refused)
{
  struct exportset *set = two_exports ();
  struct session *s = session_open (set, "a", "10.0.0.1");

  cr_assert_not_null (s);
  errno = 0;
  cr_assert_eq (exportset_set (set, "a", "size=2M"), -1);
  cr_assert_eq (errno, EBUSY);
  cr_assert (mb_log_has ("export: a: size: attached from 10.0.0.1 "
                         "(1 connections)"), "%s", mb_log_last ());
  cr_assert_eq (info_of (set, "a").size, 1 * MIB);
  session_close (s);
  cr_assert_eq (exportset_set (set, "a", "size=2M"), 0, "%s",
                mb_log_last ());
  done (set);
}

Test (exportset, a_shrink_below_the_reserve_is_refused_unless_it_drops_too)
{
  struct exportset *set = two_exports ();

  cr_assert_eq (exportset_set (set, "a", "reserve=512K"), 0, "%s",
                mb_log_last ());
  errno = 0;
  cr_assert_eq (exportset_set (set, "a", "size=256K"), -1);
  cr_assert_eq (errno, EINVAL);
  cr_assert_eq (info_of (set, "a").size, 1 * MIB);
  cr_assert_eq (exportset_set (set, "a", "size=256K,reserve=128K"), 0, "%s",
                mb_log_last ());
  cr_assert_eq (info_of (set, "a").size, 256 * 1024);
  cr_assert_eq (info_of (set, "a").reserve, 128 * 1024);
  done (set);
}

Test (exportset, a_grow_with_a_refused_limit_keeps_the_old_size)
{
  struct exportset *set = two_exports ();

  errno = 0;
  /* 3 MiB of reserve on a pool of 4 MiB with b beside it: b has none,
   * so the pool could, but a quota below the reserve cannot be.
   */
  cr_assert_eq (exportset_set (set, "a", "size=8M,quota=64K,reserve=1M"),
                -1);
  cr_assert_eq (info_of (set, "a").size, 1 * MIB, "the grow is undone");
  cr_assert_eq (info_of (set, "a").quota, 0);
  done (set);
}
