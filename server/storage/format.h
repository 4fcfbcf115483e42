/* swapdrum: the on-device format, version 2 (docs/design.md, "On-device
 * format"): the layout of a swap device, its stamp (the header page)
 * and its page records.  Encoding and decoding only; no I/O.
 *
 * Layout, in 4096-byte pages from the start of the backend:
 *   [skip]     block devices only: page 0 is never touched;
 *   [stamp]    one page: struct sd_stamp, checksummed;
 *   [table]    two copies (A, B) of SD_TABLE_PAGES pages each: the pool
 *              table (members, exports), JSON, written alternately;
 *   [records]  SD_RECORD_SIZE bytes per data page: which export page
 *              the data page holds, and since when (a sequence);
 *   [data]     the data pages.
 *
 * Every integer is little endian.  Decoding treats its input as
 * untrusted: any byte pattern gives a result or a reason, never a
 * crash.
 */

#ifndef SWAPDRUM_FORMAT_H
#define SWAPDRUM_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/page.h"
#include "swapdrum/nonnull.h"

#define SD_MAGIC "SWAPDRUM"
#define SD_FORMAT_VERSION 2
#define SD_RECORD_SIZE 16
#define SD_RECORDS_PER_PAGE (SD_PAGE_SIZE / SD_RECORD_SIZE)
#define SD_TABLE_PAGES 8
#define SD_TABLE_MAX ((uint32_t) (SD_TABLE_PAGES * SD_PAGE_SIZE))

/* Record fields are 48-bit sequences, 16-bit export ids and 40-bit
 * export pages.
 */
#define SD_SEQ_MAX ((UINT64_C (1) << 48) - 1)
#define SD_EXPORT_ID_MAX UINT16_MAX
#define SD_RECORD_PAGE_MAX ((UINT64_C (1) << 40) - 1)

/* The stamp's state field. */
#define SD_STATE_ACTIVE 1       /* a server has the pool open */
#define SD_STATE_CLEAN  2       /* the last server closed it cleanly */

/* Where things are on one device.  Byte offsets from the start of the
 * backend.
 */
struct sd_layout {
  uint64_t stamp_offset;
  uint64_t table_offset;        /* copy A; copy B follows it */
  uint64_t records_offset;
  uint64_t data_offset;
  uint64_t npages;              /* data pages */
};

/* The stamp (header page), decoded. */
struct sd_stamp {
  uint32_t version;
  uint8_t pool_id[16];
  uint8_t device_uuid[16];      /* random, given when formatted */
  uint64_t npages;
  uint64_t table_offset, records_offset, data_offset;
  uint64_t stamp_gen;           /* bumped at every stamp write */
  uint64_t table_gen;           /* the pool table's generation */
  uint32_t table_copy;          /* 0: copy A holds it, 1: copy B */
  uint32_t table_len;           /* bytes of JSON */
  uint32_t table_crc;           /* crc32 of those bytes */
  uint32_t state;               /* SD_STATE_* */
  uint8_t boot_id[16];          /* the host that set state ACTIVE */
  uint64_t seq_high;            /* CLEAN: no record has a higher seq */
  uint32_t dirty;               /* 1: written since the last flush */
};

/* One page record, decoded. */
struct sd_record {
  uint64_t seq;                 /* 1 .. SD_SEQ_MAX */
  uint16_t export_id;           /* 1 .. SD_EXPORT_ID_MAX */
  uint64_t page;                /* export page, <= SD_RECORD_PAGE_MAX */
};

/* Lay out a backend of size bytes whose first `skip` pages are left
 * alone: the stamp, the table's two copies, then as many data pages as
 * fit with their records.
 * => returns 0, or -1 with errno EINVAL when not even one data page
 *    fits.
 */
extern int sd_layout (uint64_t size, uint64_t skip, struct sd_layout *l)
  SD_NONNULL (3);

/* The bytes a backend needs to hold npages data pages after skip
 * pages (the inverse of sd_layout, for tests and tools).
 */
extern uint64_t sd_size_for (uint64_t npages, uint64_t skip);

/* The crc32 (zlib's) of len bytes. */
extern uint32_t sd_crc32 (const void *buf, uint64_t len);

/* Encode the stamp into a whole page, zero padded, checksummed. */
extern void sd_stamp_encode (const struct sd_stamp *st,
                             unsigned char page[SD_PAGE_SIZE])
  SD_NONNULL (1, 2);

/* Decode a stamp page.
 * => returns 1 with *st set; 0 if the page is all zeros (a device no
 *    swapdrum has formatted); -1 with *why set to a static reason
 *    (not ours, version, checksum...) and *st untouched.
 */
extern int sd_stamp_decode (const unsigned char page[SD_PAGE_SIZE],
                            struct sd_stamp *st, const char **why)
  SD_NONNULL (1, 2, 3);

/* Check that a decoded stamp describes the layout l (same offsets and
 * data pages): a device whose size changed does not.
 * => returns 0, or -1 with *why set.
 */
extern int sd_stamp_check_layout (const struct sd_stamp *st,
                                  const struct sd_layout *l,
                                  const char **why)
  SD_NONNULL (1, 2, 3);

/* Encode the record of data page `index` of the device `uuid`.  The
 * checksum covers the device and the index too, so a record written
 * to the wrong place, or copied from another device, does not verify.
 */
extern void sd_record_encode (const struct sd_record *r,
                              const uint8_t uuid[16], uint64_t index,
                              unsigned char out[SD_RECORD_SIZE])
  SD_NONNULL (1, 2, 4);

/* Decode the record of data page `index` of device uuid.
 * => returns 1 with *r set; 0 if the record is all zeros (the page
 *    holds nothing); -1 if it is corrupt (checksum, a zero sequence or
 *    export id), *r untouched.
 */
extern int sd_record_decode (const unsigned char in[SD_RECORD_SIZE],
                             const uint8_t uuid[16], uint64_t index,
                             struct sd_record *r)
  SD_NONNULL (1, 2, 4);

/* Format 16 bytes as 32 hex digits into out (33 bytes). */
extern void sd_hex16 (const uint8_t id[16], char out[33])
  SD_NONNULL (1, 2);

#endif /* SWAPDRUM_FORMAT_H */
