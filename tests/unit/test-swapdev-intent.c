/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Unit tests of a device's write intent (server/devices/swapdev.c,
 * docs/design.md "Host crashes"): the stamp on the device says dirty
 * before any write lands after a flush, and clean only after a flush
 * that no write overlapped.  Over a membackend, which keeps intent as
 * a page cache device does.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"
#include "membackend.h"
#include "devices/swapdev.h"
#include "storage/format.h"

static struct swapdev *dev;
static struct membackend *mb;
static unsigned char page[SD_PAGE_SIZE];

static void
setup (void)
{
  static const uint8_t boot[16] = { 1 };

  fx_quiet ();
  dev = mb_device ("a", 16, 0, &mb);
  cr_assert_not_null (dev);
  dev->stamp.version = SD_FORMAT_VERSION;
  dev->stamp.npages = dev->npages;
  dev->stamp.table_offset = dev->table_offset;
  dev->stamp.records_offset = dev->records_offset;
  dev->stamp.data_offset = dev->data_offset;
  /* As pool_start leaves it: ACTIVE, dirty, on the device. */
  swapdev_set_state (dev, SD_STATE_ACTIVE, boot, 0);
  cr_assert_eq (swapdev_write_stamp (dev), 0);
  memset (page, 0x5a, sizeof page);
}

static void
teardown (void)
{
  swapdev_free (dev);
}

TestSuite (swapdev_intent, .init = setup, .fini = teardown);

/* The dirty field of the stamp on the device. */
static uint32_t
dirty_on_device (void)
{
  struct sd_stamp st;
  const char *why;

  cr_assert_eq (sd_stamp_decode (mb_stamp (mb), &st, &why), 1,
                "the stamp on the device does not decode");
  return st.dirty;
}

Test (swapdev_intent, a_started_device_says_dirty_until_its_first_flush)
{
  cr_assert_eq (dirty_on_device (), 1);
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (dirty_on_device (), 0);
}

Test (swapdev_intent, the_first_write_after_a_flush_says_dirty_and_costs_one_stamp_write)
{
  uint64_t before;

  cr_assert_eq (swapdev_flush (dev), 0);
  before = mb_writes (mb);
  cr_assert_eq (swapdev_write (dev, page, 0, 0, SD_PAGE_SIZE, false), 0);
  cr_assert_eq (dirty_on_device (), 1);
  cr_assert_eq (mb_writes (mb), before + 2, "the stamp and the page");
  cr_assert_eq (swapdev_write (dev, page, 1, 0, SD_PAGE_SIZE, false), 0);
  cr_assert_eq (mb_writes (mb), before + 3, "the second write alone");
}

Test (swapdev_intent, a_write_that_cannot_say_dirty_fails_and_lands_nothing)
{
  cr_assert_eq (swapdev_flush (dev), 0);
  mb_fail_stamp_write (mb, true);
  errno = 0;
  cr_assert_eq (swapdev_write (dev, page, 0, 0, SD_PAGE_SIZE, false), -1);
  cr_assert_eq (errno, EIO);
  cr_assert_eq (mb_page (mb, 0)[0], 0, "the page was written anyway");
  mb_fail_stamp_write (mb, false);
  cr_assert_eq (swapdev_write (dev, page, 0, 0, SD_PAGE_SIZE, false), 0);
  cr_assert_eq (dirty_on_device (), 1);
  cr_assert_eq (mb_page (mb, 0)[0], 0x5a);
}

Test (swapdev_intent, a_flush_with_no_write_since_the_last_writes_nothing)
{
  uint64_t before;

  cr_assert_eq (swapdev_flush (dev), 0);
  before = mb_writes (mb);
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (mb_writes (mb), before);
  cr_assert_eq (dirty_on_device (), 0);
}

Test (swapdev_intent, record_writes_say_dirty_too)
{
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (swapdev_put_records (dev, 0, 1, 1, 1, 0, false), 0);
  cr_assert_eq (dirty_on_device (), 1);
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (swapdev_clear_records (dev, 0, 1), 0);
  cr_assert_eq (dirty_on_device (), 1);
}

static void *
write_page (void *arg)
{
  return (void *) (intptr_t) swapdev_write (dev, page, 2, 0, SD_PAGE_SIZE,
                                            false);
}

Test (swapdev_intent, a_flush_that_a_write_overlaps_leaves_the_stamp_dirty)
{
  pthread_t t;
  void *r;
  int i;

  /* Clean, then dirty again: the held write below is the data alone,
   * not the stamp write that says dirty.
   */
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (swapdev_write (dev, page, 1, 0, SD_PAGE_SIZE, false), 0);
  mb_hold (mb, true);
  pthread_create (&t, NULL, write_page, NULL);
  for (i = 0; i < 5000 && mb_inflight (mb) == 0; i++)
    usleep (1000);
  cr_assert_eq (mb_inflight (mb), 1, "the write never reached the backend");
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (dirty_on_device (), 1, "clean with a write in flight");
  mb_hold (mb, false);
  pthread_join (t, &r);
  cr_assert_eq ((intptr_t) r, 0);
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (dirty_on_device (), 0);
}

Test (swapdev_intent, a_failed_clean_stamp_makes_the_next_write_say_dirty_again)
{
  mb_fail_stamp_write (mb, true);
  cr_assert_eq (swapdev_flush (dev), -1);
  mb_fail_stamp_write (mb, false);
  cr_assert_eq (swapdev_write (dev, page, 0, 0, SD_PAGE_SIZE, false), 0);
  cr_assert_eq (dirty_on_device (), 1);
}

Test (swapdev_intent, a_closed_device_says_clean_and_a_flush_leaves_it)
{
  cr_assert_eq (swapdev_flush (dev), 0);
  swapdev_set_state (dev, SD_STATE_CLEAN, NULL, 7);
  cr_assert_eq (swapdev_write_stamp (dev), 0);
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (dirty_on_device (), 0);
}

Test (swapdev_intent, a_bracket_says_dirty_and_holds_off_a_clean_flush)
{
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (dirty_on_device (), 0);
  cr_assert_eq (swapdev_intent_begin (dev), 0);
  cr_assert_eq (dirty_on_device (), 1, "begin did not say dirty");
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (dirty_on_device (), 1, "clean inside the bracket");
  swapdev_intent_end (dev);
  cr_assert_eq (swapdev_flush (dev), 0);
  cr_assert_eq (dirty_on_device (), 0);
}
