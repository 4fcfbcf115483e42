/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of swap-off over the admin socket (server/admin/admin*.c):
 * progress lines, a refused off, and the order of replies while an off
 * runs: other clients are served meanwhile, the off's own client gets
 * its later replies after it, a second change waits for it, and
 * shutting the server down waits for it too.
 *
 * The off moves the pages of a 1 MiB export from in-memory device "a"
 * to "b" (admintest.h, at_setup_data); mb_hold stops it mid-way.
 */

#include <config.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "admintest.h"
#include "fixture.h"
#include "membackend.h"
#include "pool/pool-int.h"

TestSuite (admin_off, .init = fx_quiet, .timeout = 60);

static double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read progress lines up to the reply; assert their form and rate.
 * => returns the reply; *nprogress the number of progress lines.
 */
static json_object *
read_progress_then_reply (struct at_client *c, const char *path,
                          int64_t total, unsigned *nprogress)
{
  double start = now_seconds ();
  int64_t last = 0;
  json_object *r, *p;

  *nprogress = 0;
  while (!json_object_object_get_ex (r = at_read (c), "ok", NULL)) {
    p = at_member (r, "progress");
    cr_assert_str_eq (at_str (p, "path"), path);
    cr_assert_eq (at_int (p, "total"), total);
    cr_assert_geq (at_int (p, "moved"), last);
    cr_assert_leq (at_int (p, "moved"), total);
    last = at_int (p, "moved");
    (*nprogress)++;
    json_object_put (r);
  }
  /* At most about ten a second (the first comes at once). */
  cr_assert_leq (*nprogress, 2 + (now_seconds () - start) * 10,
                 "%u progress lines in %.2f s", *nprogress,
                 now_seconds () - start);
  return r;
}

Test (admin_off, off_moves_the_pages_sending_progress_then_ok)
{
  struct at_setup s;
  struct at_client *c;
  unsigned char *data;
  unsigned nprogress;
  json_object *r;

  at_setup_data (&s, 300, &data);
  /* Slow enough for several progress lines. */
  mb_set_delay (s.mb_a, 1000);
  mb_set_delay (s.mb_b, 1000);
  c = at_connect (s.sock);
  at_send (c, "{\"cmd\":\"off\",\"path\":\"a\",\"id\":1}\n");
  r = at_ok (read_progress_then_reply (c, "a", 256, &nprogress));
  cr_assert_geq (nprogress, 1);
  cr_assert_eq (at_int (r, "moved"), 256);
  cr_assert_eq (at_int (r, "id"), 1);
  json_object_put (r);
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  cr_assert_null (at_device (r, "a"));
  cr_assert_eq (at_int (at_device (r, "b"), "used"), 256);
  json_object_put (r);
  fx_expect_data (s.exp, 0, MIB, data);
  free (data);
  at_close (c);
  at_teardown (&s);
}

Test (admin_off, an_off_the_rest_cannot_hold_gets_enospc_and_changes_nothing)
{
  struct at_setup s;
  struct at_client *c;
  unsigned char *data;
  json_object *r, *a;

  at_setup_data (&s, 100, &data);
  c = at_connect (s.sock);
  at_expect_error (at_request (c, "{\"cmd\":\"off\",\"path\":\"a\"}"),
                   "ENOSPC", "off: a: ");
  r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
  a = at_device (r, "a");
  cr_assert_not_null (a);
  cr_assert (at_has_flag (a, "ENABLE") && !at_has_flag (a, "DRAIN"));
  json_object_put (r);
  fx_expect_data (s.exp, 0, MIB, data);
  free (data);
  at_close (c);
  at_teardown (&s);
}

/* ---- ordering around a running off ---- */

/* Wait until stats shows device path draining (the off has begun). */
static void
wait_draining (struct at_client *c, const char *path)
{
  int i;

  for (i = 0; i < 1000; i++) {
    json_object *r = at_ok (at_request (c, "{\"cmd\":\"stats\"}"));
    json_object *dev = at_device (r, path);
    bool draining = dev && at_has_flag (dev, "DRAIN");

    json_object_put (r);
    if (draining)
      return;
    usleep (10000);
  }
  cr_assert_fail ("%s never started draining", path);
}

Test (admin_off, others_are_served_during_an_off_and_its_client_waits_in_order)
{
  struct at_setup s;
  struct at_client *c1, *c2;
  unsigned char *data;
  unsigned nprogress;
  json_object *r;

  at_setup_data (&s, 300, &data);
  c1 = at_connect (s.sock);
  c2 = at_connect (s.sock);
  mb_hold (s.mb_a, true);       /* the off stops at its first read */
  at_send (c1, "{\"cmd\":\"off\",\"path\":\"a\"}\n{\"cmd\":\"version\"}\n"
           "{\"cmd\":\"nswap\"}\n");
  wait_draining (c2, "a");
  at_request_ok (c2, "{\"cmd\":\"version\"}");
  cr_assert_eq (at_nswap (c2), 2);
  /* A second change waits for the first. */
  at_send (c2, "{\"cmd\":\"ctl\",\"path\":\"b\",\"priority\":7}\n");
  cr_assert_null (at_read_within (c2, 200), "ctl did not wait for the off");
  cr_assert_null (at_read_within (c1, 100), "c1 got a reply too early");

  mb_hold (s.mb_a, false);
  r = at_ok (read_progress_then_reply (c1, "a", 256, &nprogress));
  cr_assert_eq (at_int (r, "moved"), 256);
  json_object_put (r);
  r = at_ok (at_read (c1));
  cr_assert_str_eq (at_str (r, "version"), PACKAGE_VERSION);
  json_object_put (r);
  r = at_ok (at_read (c1));
  cr_assert_eq (at_int (r, "nswap"), 1);
  json_object_put (r);
  json_object_put (at_ok (at_read (c2)));
  fx_expect_data (s.exp, 0, MIB, data);
  free (data);
  at_close (c1);
  at_close (c2);
  at_teardown (&s);
}

Test (admin_off, a_hundred_requests_behind_an_off_are_answered_in_order)
{
  struct at_setup s;
  struct at_client *c, *watcher;
  unsigned char *data;
  unsigned nprogress, i;
  char line[128];
  json_object *r;

  at_setup_data (&s, 300, &data);
  c = at_connect (s.sock);
  watcher = at_connect (s.sock);
  mb_hold (s.mb_a, true);
  at_send (c, "{\"cmd\":\"off\",\"path\":\"a\"}\n");
  wait_draining (watcher, "a");
  for (i = 0; i < 100; i++) {
    snprintf (line, sizeof line, "{\"cmd\":\"nswap\",\"id\":%u}\n", i);
    at_send (c, line);
  }
  usleep (100000);
  mb_hold (s.mb_a, false);
  json_object_put (at_ok (read_progress_then_reply (c, "a", 256,
                                                    &nprogress)));
  for (i = 0; i < 100; i++) {
    r = at_ok (at_read (c));
    cr_assert_eq (at_int (r, "id"), i);
    cr_assert_eq (at_int (r, "nswap"), 1);
    json_object_put (r);
  }
  free (data);
  at_close (watcher);
  at_close (c);
  at_teardown (&s);
}

Test (admin_off, a_client_gone_during_its_off_does_not_disturb_the_server)
{
  struct at_setup s;
  struct at_client *c1, *c2;
  unsigned char *data;
  int i;

  at_setup_data (&s, 300, &data);
  c1 = at_connect (s.sock);
  c2 = at_connect (s.sock);
  mb_hold (s.mb_a, true);
  at_send (c1, "{\"cmd\":\"off\",\"path\":\"a\"}\n{\"cmd\":\"version\"}\n");
  wait_draining (c2, "a");
  at_close (c1);
  at_request_ok (c2, "{\"cmd\":\"version\"}");
  mb_hold (s.mb_a, false);
  for (i = 0; i < 500 && at_nswap (c2) != 1; i++)
    usleep (10000);
  cr_assert_eq (at_nswap (c2), 1, "the off never finished");
  fx_expect_data (s.exp, 0, MIB, data);
  free (data);
  at_close (c2);
  at_teardown (&s);
}

Test (admin_off, a_client_that_stops_sending_still_gets_every_reply)
{
  struct at_setup s;
  struct at_client *c;
  unsigned char *data;
  unsigned nprogress;
  json_object *r;

  at_setup_data (&s, 300, &data);
  c = at_connect (s.sock);
  /* The last request has no '\n': EOF ends it. */
  at_send (c, "{\"cmd\":\"off\",\"path\":\"a\"}\n{\"cmd\":\"nswap\"}");
  at_shutdown (c);
  json_object_put (at_ok (read_progress_then_reply (c, "a", 256,
                                                    &nprogress)));
  r = at_ok (at_read (c));
  cr_assert_eq (at_int (r, "nswap"), 1);
  json_object_put (r);
  cr_assert (at_eof_within (c, AT_TIMEOUT_MS), "not closed after EOF");
  free (data);
  at_close (c);
  at_teardown (&s);
}

static void *
destroy_thread (void *srv)
{
  admin_destroy (srv);
  return NULL;
}

Test (admin_off, destroying_the_server_during_an_off_waits_for_the_off)
{
  struct at_setup s;
  struct at_client *c1, *c2;
  unsigned char *data;
  pthread_t thread;

  at_setup_data (&s, 300, &data);
  c1 = at_connect (s.sock);
  c2 = at_connect (s.sock);
  mb_hold (s.mb_a, true);
  at_send (c1, "{\"cmd\":\"off\",\"path\":\"a\"}\n");
  at_send (c1, "{\"cmd\":\"version\"}\n"); /* queued: never answered */
  wait_draining (c2, "a");
  at_send (c2, "{\"cmd\":\"ctl\",\"path\":\"b\",\"priority\":2}\n");
  usleep (50000);               /* the ctl is queued for the worker */
  cr_assert_eq (pthread_create (&thread, NULL, destroy_thread, s.srv), 0);
  usleep (200000);
  mb_hold (s.mb_a, false);
  cr_assert_eq (pthread_join (thread, NULL), 0);
  s.srv = NULL;
  /* The off finished; the ctl behind it never ran. */
  cr_assert_eq (pool_ndevices (s.pool), 1);
  cr_assert_eq (fx_stat_of (s.pool, "b").priority, 1);
  fx_expect_data (s.exp, 0, MIB, data);
  free (data);
  at_close (c1);
  at_close (c2);
  at_teardown (&s);
}
