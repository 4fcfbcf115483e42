/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of the admin socket's idle close (server/admin/admin-conn.c,
 * idle_cb): a client that sends nothing for the idle timeout is closed;
 * bytes it sends, even of an unfinished line, count as activity; a
 * client waiting for a request the worker runs (a swap-off) is never
 * closed, and its silence counts from that request's reply; closing
 * idle clients leaves the others served and no descriptor behind.
 *
 * The servers here close after IDLE seconds instead of 60
 * (at_idle_timeout).  Devices "a" and "b" are in memory; the swap-off
 * moves a 1 MiB export from "a" to "b" (at_setup_data), and mb_hold
 * stops it for as long as a test wants.
 */

#include <config.h>

#include <dirent.h>
#include <stdbool.h>
#include <sys/param.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "admin/admin-int.h"
#include "admintest.h"
#include "fixture.h"
#include "membackend.h"

/* The idle timeout of these servers, in seconds and in milliseconds. */
#define IDLE 0.5
#define IDLE_MS 500

static void
idle_init (void)
{
  fx_quiet ();
  at_idle_timeout = IDLE;
}

TestSuite (admin_idle, .init = idle_init, .timeout = 60);

static double
now_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
sleep_seconds (double s)
{
  struct timespec ts = { .tv_sec = (time_t) s,
                         .tv_nsec = (long) ((s - (time_t) s) * 1e9) };

  nanosleep (&ts, NULL);
}

/* Open file descriptors of this process (the server's and the
 * clients' ends of every connection are both here).
 */
static unsigned
count_fds (void)
{
  DIR *d = opendir ("/proc/self/fd");
  unsigned n = 0;

  cr_assert_not_null (d);
  while (readdir (d))
    n++;
  closedir (d);
  return n - 3;                 /* ".", ".." and d's own */
}

/* Wait (at most 5 s) for the server to close c; assert it does.
 * => returns the seconds it took.
 */
static double
expect_closed (struct at_client *c)
{
  double start = now_seconds ();

  cr_assert (at_eof_within (c, 5000), "the client was not closed in 5 s");
  return now_seconds () - start;
}

static void
expect_version (struct at_client *c)
{
  json_object_put (at_ok (at_request (c, "{\"cmd\":\"version\"}")));
}

/* Read c's swap-off progress lines up to the reply; assert it is ok. */
static void
expect_off_reply (struct at_client *c)
{
  json_object *r;

  while (!json_object_object_get_ex (r = at_read (c), "ok", NULL))
    json_object_put (r);
  json_object_put (at_ok (r));
}

Test (admin_idle, a_client_that_sends_nothing_is_closed_after_the_timeout)
{
  struct at_setup s;
  struct at_client *c;
  double start, waited;

  at_setup_two (&s);
  start = now_seconds ();
  c = at_connect (s.sock);
  cr_assert_not (at_eof_within (c, IDLE_MS / 2), "closed too early");
  expect_closed (c);
  waited = now_seconds () - start;
  cr_assert_geq (waited, IDLE * 0.9, "closed after %.3f s", waited);
  cr_assert_lt (waited, IDLE + 2, "closed after %.3f s", waited);
  at_close (c);
  at_teardown (&s);
}

Test (admin_idle, the_timeout_counts_from_the_last_request)
{
  struct at_setup s;
  struct at_client *c;
  double waited;

  at_setup_two (&s);
  c = at_connect (s.sock);
  sleep_seconds (IDLE / 2);
  expect_version (c);
  waited = expect_closed (c);
  /* About IDLE, less the time the reply took to reach us. */
  cr_assert_geq (waited, IDLE * 0.6, "closed %.3f s after the request",
                 waited);
  at_close (c);
  at_teardown (&s);
}

Test (admin_idle, a_client_that_keeps_sending_requests_stays_open)
{
  struct at_setup s;
  struct at_client *c;
  double end;

  at_setup_two (&s);
  c = at_connect (s.sock);
  end = now_seconds () + 3 * IDLE;
  while (now_seconds () < end) {
    expect_version (c);
    sleep_seconds (IDLE / 3);
  }
  expect_version (c);
  at_close (c);
  at_teardown (&s);
}

Test (admin_idle, bytes_of_an_unfinished_line_count_as_activity)
{
  static const char request[] = "{\"cmd\": \"version\", \"id\": 12345}\n";
  struct at_setup s;
  struct at_client *c;
  json_object *r;
  size_t i;

  at_setup_two (&s);
  c = at_connect (s.sock);
  /* 33 bytes in 4-byte pieces, one every IDLE / 3: the line takes
   * about 3 timeouts to arrive.
   */
  for (i = 0; i < sizeof request - 1; i += 4) {
    at_send_bytes (c, &request[i], MIN (4, sizeof request - 1 - i));
    sleep_seconds (IDLE / 3);
  }
  r = at_ok (at_read (c));
  cr_assert_eq (at_int (r, "id"), 12345);
  json_object_put (r);
  at_close (c);
  at_teardown (&s);
}

Test (admin_idle, a_client_waiting_for_a_long_swap_off_is_not_closed)
{
  struct at_setup s;
  struct at_client *c;
  unsigned char *data;

  at_setup_data (&s, 300, &data);
  c = at_connect (s.sock);
  mb_hold (s.mb_a, true);       /* the off stops at its first read */
  at_send (c, "{\"cmd\":\"off\",\"path\":\"a\"}\n{\"cmd\":\"nswap\"}\n");
  sleep_seconds (3 * IDLE);
  mb_hold (s.mb_a, false);
  expect_off_reply (c);
  /* The request queued behind the off is answered too, and the
   * connection still takes new ones.
   */
  json_object_put (at_ok (at_read (c)));
  cr_assert_eq (at_nswap (c), 1);
  fx_expect_data (s.exp, 0, MIB, data);
  free (data);
  at_close (c);
  at_teardown (&s);
}

Test (admin_idle, silence_after_a_long_swap_off_counts_from_its_reply)
{
  struct at_setup s;
  struct at_client *c;
  unsigned char *data;
  double replied, waited;

  at_setup_data (&s, 300, &data);
  c = at_connect (s.sock);
  mb_hold (s.mb_a, true);
  at_send (c, "{\"cmd\":\"off\",\"path\":\"a\"}\n");
  /* The idle timer, armed by the request, ticks at 1, 2, 3 timeouts
   * after it: the reply comes just before the third tick, which must
   * not count the off's time as silence.
   */
  sleep_seconds (2.8 * IDLE);
  mb_hold (s.mb_a, false);
  expect_off_reply (c);
  replied = now_seconds ();
  waited = expect_closed (c);
  /* About IDLE, less the time the reply took to reach us; without the
   * restart at the reply, about IDLE / 5.
   */
  cr_assert_geq (waited, IDLE * 0.6,
                 "closed %.3f s after the reply of its swap-off", waited);
  cr_assert_lt (now_seconds () - replied, IDLE + 2);
  free (data);
  at_close (c);
  at_teardown (&s);
}

Test (admin_idle, idle_clients_are_closed_and_freed_while_others_are_served)
{
  struct at_setup s;
  struct at_client *idle[20], *busy;
  unsigned before, i;
  double end;

  at_setup_two (&s);
  before = count_fds ();
  for (i = 0; i < 20; i++)
    idle[i] = at_connect (s.sock);
  busy = at_connect (s.sock);
  end = now_seconds () + 3 * IDLE;
  while (now_seconds () < end) {
    expect_version (busy);
    sleep_seconds (IDLE / 4);
  }
  for (i = 0; i < 20; i++) {
    cr_assert (at_eof_within (idle[i], 100), "idle client %u is open", i);
    at_close (idle[i]);
  }
  /* Only the busy client's two ends are left; a new client is served. */
  cr_assert_eq (count_fds (), before + 2);
  cr_assert_eq (at_nswap (busy), 2);
  /* The loop thread wrote nclients before it answered that request. */
  cr_assert_eq (s.srv->nclients, 1);
  at_close (busy);
  busy = at_connect (s.sock);
  expect_version (busy);
  at_close (busy);
  at_teardown (&s);
}
