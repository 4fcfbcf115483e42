/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The on-device format (format.h): layout, stamp and page records.
 * Byte offsets of every field are in docs/design.md ("On-device
 * format"); this file is the one place that knows them.
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "storage/format.h"

/* Pages before the record area, after the skip: stamp and table. */
#define META_PAGES (1 + 2 * SD_TABLE_PAGES)

/* Offsets in the stamp page. */
#define ST_MAGIC 0
#define ST_VERSION 8
#define ST_PAGE_SIZE 12
#define ST_POOL_ID 16
#define ST_DEVICE_UUID 32
#define ST_NPAGES 48
#define ST_TABLE_OFFSET 56
#define ST_RECORDS_OFFSET 64
#define ST_DATA_OFFSET 72
#define ST_RECORD_SIZE 80
#define ST_TABLE_PAGES 84
#define ST_STAMP_GEN 88
#define ST_TABLE_GEN 96
#define ST_TABLE_COPY 104
#define ST_TABLE_LEN 108
#define ST_TABLE_CRC 112
#define ST_STATE 116
#define ST_BOOT_ID 120
#define ST_SEQ_HIGH 136
#define ST_DIRTY 144
#define ST_CRC (SD_PAGE_SIZE - 4)

/* Offsets in a record. */
#define REC_SEQ 0               /* 6 bytes */
#define REC_EXPORT 6            /* 2 bytes */
#define REC_PAGE 8              /* 5 bytes */
#define REC_CHECK 13            /* 3 bytes */

static void
put_le (unsigned char *p, uint64_t v, unsigned bytes)
{
  unsigned i;

  for (i = 0; i < bytes; i++)
    p[i] = v >> (8 * i);
}

static uint64_t
get_le (const unsigned char *p, unsigned bytes)
{
  uint64_t v = 0;
  unsigned i;

  for (i = 0; i < bytes; i++)
    v |= (uint64_t) p[i] << (8 * i);
  return v;
}

uint32_t
sd_crc32 (const void *buf, uint64_t len)
{
  const unsigned char *p = buf;
  uLong crc = crc32 (0, Z_NULL, 0);

  while (len > 0) {
    uInt n = len > (1u << 30) ? 1u << 30 : (uInt) len;
    crc = crc32 (crc, p, n);
    p += n;
    len -= n;
  }
  return crc;
}

/* Data pages and their record pages that fit in r pages. */
static uint64_t
data_pages_in (uint64_t r)
{
  uint64_t n = r / (SD_RECORDS_PER_PAGE + 1) * SD_RECORDS_PER_PAGE;

  while ((n + 1) + (n + SD_RECORDS_PER_PAGE) / SD_RECORDS_PER_PAGE <= r)
    n++;
  return n;
}

int
sd_layout (uint64_t size, uint64_t skip, struct sd_layout *l)
{
  uint64_t pages = size / SD_PAGE_SIZE, n, rec_pages;

  if (pages < skip + META_PAGES + 2) {
    errno = EINVAL;
    return -1;
  }
  n = data_pages_in (pages - skip - META_PAGES);
  rec_pages = (n + SD_RECORDS_PER_PAGE - 1) / SD_RECORDS_PER_PAGE;
  l->stamp_offset = skip * SD_PAGE_SIZE;
  l->table_offset = l->stamp_offset + SD_PAGE_SIZE;
  l->records_offset = (skip + META_PAGES) * SD_PAGE_SIZE;
  l->data_offset = l->records_offset + rec_pages * SD_PAGE_SIZE;
  l->npages = n;
  return 0;
}

uint64_t
sd_size_for (uint64_t npages, uint64_t skip)
{
  uint64_t rec_pages = (npages + SD_RECORDS_PER_PAGE - 1) /
    SD_RECORDS_PER_PAGE;

  return (skip + META_PAGES + rec_pages + npages) * SD_PAGE_SIZE;
}

void
sd_stamp_encode (const struct sd_stamp *st, unsigned char page[SD_PAGE_SIZE])
{
  memset (page, 0, SD_PAGE_SIZE);
  memcpy (page + ST_MAGIC, SD_MAGIC, 8);
  put_le (page + ST_VERSION, st->version, 4);
  put_le (page + ST_PAGE_SIZE, SD_PAGE_SIZE, 4);
  memcpy (page + ST_POOL_ID, st->pool_id, 16);
  memcpy (page + ST_DEVICE_UUID, st->device_uuid, 16);
  put_le (page + ST_NPAGES, st->npages, 8);
  put_le (page + ST_TABLE_OFFSET, st->table_offset, 8);
  put_le (page + ST_RECORDS_OFFSET, st->records_offset, 8);
  put_le (page + ST_DATA_OFFSET, st->data_offset, 8);
  put_le (page + ST_RECORD_SIZE, SD_RECORD_SIZE, 4);
  put_le (page + ST_TABLE_PAGES, SD_TABLE_PAGES, 4);
  put_le (page + ST_STAMP_GEN, st->stamp_gen, 8);
  put_le (page + ST_TABLE_GEN, st->table_gen, 8);
  put_le (page + ST_TABLE_COPY, st->table_copy, 4);
  put_le (page + ST_TABLE_LEN, st->table_len, 4);
  put_le (page + ST_TABLE_CRC, st->table_crc, 4);
  put_le (page + ST_STATE, st->state, 4);
  memcpy (page + ST_BOOT_ID, st->boot_id, 16);
  put_le (page + ST_SEQ_HIGH, st->seq_high, 8);
  put_le (page + ST_DIRTY, st->dirty, 4);
  put_le (page + ST_CRC, sd_crc32 (page, ST_CRC), 4);
}

static bool
all_zero (const unsigned char *p, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (p[i])
      return false;
  return true;
}

/* The checks of a stamp that do not depend on the version's fields. */
static int
stamp_check_envelope (const unsigned char *page, const char **why)
{
  uint32_t version;

  if (memcmp (page + ST_MAGIC, SD_MAGIC, 8) != 0) {
    *why = "not a swapdrum device, and not empty: refused (new-pool=true "
      "would overwrite it)";
    return -1;
  }
  version = get_le (page + ST_VERSION, 4);
  if (version == 1) {
    *why = "made by swapdrum before version 2 of the format, which kept "
      "no page records: its pages did not survive and cannot be recovered";
    return -1;
  }
  if (version > SD_FORMAT_VERSION) {
    *why = "made by a newer swapdrum (format version above 2)";
    return -1;
  }
  if (version != SD_FORMAT_VERSION) {
    *why = "unknown format version 0";
    return -1;
  }
  if (get_le (page + ST_CRC, 4) != sd_crc32 (page, ST_CRC)) {
    *why = "stamp checksum mismatch (torn or corrupt)";
    return -1;
  }
  return 0;
}

int
sd_stamp_decode (const unsigned char page[SD_PAGE_SIZE], struct sd_stamp *st,
                 const char **why)
{
  struct sd_stamp s;

  if (all_zero (page, SD_PAGE_SIZE))
    return 0;
  if (stamp_check_envelope (page, why) == -1)
    return -1;
  if (get_le (page + ST_PAGE_SIZE, 4) != SD_PAGE_SIZE ||
      get_le (page + ST_RECORD_SIZE, 4) != SD_RECORD_SIZE ||
      get_le (page + ST_TABLE_PAGES, 4) != SD_TABLE_PAGES) {
    *why = "page, record or table size this swapdrum does not use";
    return -1;
  }
  memset (&s, 0, sizeof s);
  s.version = SD_FORMAT_VERSION;
  memcpy (s.pool_id, page + ST_POOL_ID, 16);
  memcpy (s.device_uuid, page + ST_DEVICE_UUID, 16);
  s.npages = get_le (page + ST_NPAGES, 8);
  s.table_offset = get_le (page + ST_TABLE_OFFSET, 8);
  s.records_offset = get_le (page + ST_RECORDS_OFFSET, 8);
  s.data_offset = get_le (page + ST_DATA_OFFSET, 8);
  s.stamp_gen = get_le (page + ST_STAMP_GEN, 8);
  s.table_gen = get_le (page + ST_TABLE_GEN, 8);
  s.table_copy = get_le (page + ST_TABLE_COPY, 4);
  s.table_len = get_le (page + ST_TABLE_LEN, 4);
  s.table_crc = get_le (page + ST_TABLE_CRC, 4);
  s.state = get_le (page + ST_STATE, 4);
  memcpy (s.boot_id, page + ST_BOOT_ID, 16);
  s.seq_high = get_le (page + ST_SEQ_HIGH, 8);
  s.dirty = get_le (page + ST_DIRTY, 4);
  if (s.table_copy > 1 || s.table_len > SD_TABLE_MAX ||
      (s.state != SD_STATE_ACTIVE && s.state != SD_STATE_CLEAN) ||
      s.dirty > 1 || s.seq_high > SD_SEQ_MAX) {
    *why = "stamp fields out of range (corrupt)";
    return -1;
  }
  *st = s;
  return 1;
}

int
sd_stamp_check_layout (const struct sd_stamp *st, const struct sd_layout *l,
                       const char **why)
{
  if (st->npages != l->npages || st->table_offset != l->table_offset ||
      st->records_offset != l->records_offset ||
      st->data_offset != l->data_offset) {
    *why = "its size changed since it joined the pool";
    return -1;
  }
  return 0;
}

/* The 24-bit check of record bytes [0, REC_CHECK). */
static uint32_t
record_check (const unsigned char *rec, const uint8_t uuid[16],
              uint64_t index)
{
  unsigned char buf[16 + 8 + REC_CHECK];

  memcpy (buf, uuid, 16);
  put_le (buf + 16, index, 8);
  memcpy (buf + 24, rec, REC_CHECK);
  return sd_crc32 (buf, sizeof buf) & 0xffffff;
}

void
sd_record_encode (const struct sd_record *r, const uint8_t uuid[16],
                  uint64_t index, unsigned char out[SD_RECORD_SIZE])
{
  put_le (out + REC_SEQ, r->seq, 6);
  put_le (out + REC_EXPORT, r->export_id, 2);
  put_le (out + REC_PAGE, r->page, 5);
  put_le (out + REC_CHECK, record_check (out, uuid, index), 3);
}

int
sd_record_decode (const unsigned char in[SD_RECORD_SIZE],
                  const uint8_t uuid[16], uint64_t index,
                  struct sd_record *r)
{
  uint64_t seq = get_le (in + REC_SEQ, 6);
  uint16_t export_id = get_le (in + REC_EXPORT, 2);

  if (all_zero (in, SD_RECORD_SIZE))
    return 0;
  if (seq == 0 || export_id == 0 ||
      get_le (in + REC_CHECK, 3) != record_check (in, uuid, index))
    return -1;
  r->seq = seq;
  r->export_id = export_id;
  r->page = get_le (in + REC_PAGE, 5);
  return 1;
}

void
sd_hex16 (const uint8_t id[16], char out[33])
{
  size_t i;

  for (i = 0; i < 16; i++)
    snprintf (out + 2 * i, 3, "%02x", id[i]);
}
