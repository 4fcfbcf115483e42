/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

#include <config.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/nbd.h>

#include "attach-handshake.h"
#include "attach-util.h"

/* The protocol's constants (doc/proto.md); <linux/nbd.h> has only
 * those of the transmission phase.
 */
#define HS_NBDMAGIC UINT64_C (0x4e42444d41474943)     /* "NBDMAGIC" */
#define HS_IHAVEOPT UINT64_C (0x49484156454F5054)     /* "IHAVEOPT" */
#define HS_OLDSTYLE UINT64_C (0x0000420281861253)
#define HS_REPLY_MAGIC UINT64_C (0x0003e889045565a9)
#define HS_FLAG_FIXED_NEWSTYLE (1 << 0)
#define HS_FLAG_NO_ZEROES (1 << 1)
#define HS_OPT_EXPORT_NAME 1
#define HS_OPT_GO 7
#define HS_REP_ACK 1
#define HS_REP_INFO 3
#define HS_REP_FLAG_ERROR (UINT32_C (1) << 31)
#define HS_REP_ERR_UNSUP (HS_REP_FLAG_ERROR | 1)
#define HS_INFO_EXPORT 0
#define HS_INFO_DESCRIPTION 2
#define HS_INFO_BLOCK_SIZE 3

/* A reply's payload longer than this is refused: the largest we use
 * is a description of ATTACH_DESCRIPTION_MAX bytes.
 */
#define HS_PAYLOAD_MAX (ATTACH_DESCRIPTION_MAX + 2)
/* Replies to one NBD_OPT_GO before its ACK: a server that sends more
 * is refused rather than followed forever.
 */
#define HS_REPLIES_MAX 32

/* One handshake in progress. */
struct hs {
  int fd;
  double deadline;              /* attach_now () seconds */
  const char *name;
  bool no_zeroes;               /* NBD_FLAG_C_NO_ZEROES agreed */
  uint8_t payload[HS_PAYLOAD_MAX];
};

/* Wait until FD is ready for EVENTS or the deadline passes.  Returns
 * 0, or -1 with errno ETIMEDOUT.
 */
static int
hs_wait (struct hs *hs, short events)
{
  struct pollfd pfd = { .fd = hs->fd, .events = events };
  double left;
  int r;

  for (;;) {
    left = hs->deadline - attach_now ();
    if (left <= 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    r = poll (&pfd, 1, (int) (left * 1000) + 1);
    if (r > 0)
      return 0;
    if (r == -1 && errno != EINTR)
      return -1;
  }
}

/* Read exactly LEN bytes.  Returns 0, or -1 with the error set (WHAT
 * names what was being read).
 */
static int
hs_read (struct hs *hs, void *buf, size_t len, const char *what)
{
  uint8_t *p = buf;
  ssize_t r;

  while (len > 0) {
    if (hs_wait (hs, POLLIN) == -1)
      goto err;
    r = recv (hs->fd, p, len, MSG_DONTWAIT);
    if (r == 0) {
      attach_set_error ("handshake: the server hung up while sending %s",
                        what);
      return -1;
    }
    if (r == -1) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      goto err;
    }
    p += r;
    len -= r;
  }
  return 0;
 err:
  attach_set_error ("handshake: reading %s: %m", what);
  return -1;
}

/* Write LEN bytes.  Returns 0, or -1 with the error set. */
static int
hs_write (struct hs *hs, const void *buf, size_t len)
{
  const uint8_t *p = buf;
  ssize_t r;

  while (len > 0) {
    if (hs_wait (hs, POLLOUT) == -1)
      goto err;
    r = send (hs->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r == -1) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      goto err;
    }
    p += r;
    len -= r;
  }
  return 0;
 err:
  attach_set_error ("handshake: sending to the server: %m");
  return -1;
}

static uint16_t
get16 (const uint8_t *p)
{
  uint16_t v;

  memcpy (&v, p, sizeof v);
  return be16toh (v);
}

static uint32_t
get32 (const uint8_t *p)
{
  uint32_t v;

  memcpy (&v, p, sizeof v);
  return be32toh (v);
}

static uint64_t
get64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, sizeof v);
  return be64toh (v);
}

static uint8_t *
put16 (uint8_t *p, uint16_t v)
{
  v = htobe16 (v);
  memcpy (p, &v, sizeof v);
  return p + sizeof v;
}

static uint8_t *
put32 (uint8_t *p, uint32_t v)
{
  v = htobe32 (v);
  memcpy (p, &v, sizeof v);
  return p + sizeof v;
}

static uint8_t *
put64 (uint8_t *p, uint64_t v)
{
  v = htobe64 (v);
  memcpy (p, &v, sizeof v);
  return p + sizeof v;
}

/* The server's greeting and our client flags.  Returns 0 or -1 with
 * the error set.
 */
static int
hs_greeting (struct hs *hs)
{
  uint8_t buf[18];
  uint16_t gflags;
  uint32_t cflags;

  if (hs_read (hs, buf, sizeof buf, "its greeting") == -1)
    return -1;
  if (get64 (buf) != HS_NBDMAGIC) {
    attach_set_error ("handshake: not an NBD server (no NBDMAGIC)");
    return -1;
  }
  if (get64 (buf + 8) == HS_OLDSTYLE) {
    attach_set_error ("handshake: an oldstyle NBD server: not supported");
    return -1;
  }
  if (get64 (buf + 8) != HS_IHAVEOPT) {
    attach_set_error ("handshake: not an NBD server (no IHAVEOPT)");
    return -1;
  }
  gflags = get16 (buf + 16);
  if (!(gflags & HS_FLAG_FIXED_NEWSTYLE)) {
    attach_set_error ("handshake: the server lacks fixed newstyle "
                      "negotiation");
    return -1;
  }
  hs->no_zeroes = gflags & HS_FLAG_NO_ZEROES;
  cflags = HS_FLAG_FIXED_NEWSTYLE | (hs->no_zeroes ? HS_FLAG_NO_ZEROES : 0);
  cflags = htobe32 (cflags);
  return hs_write (hs, &cflags, sizeof cflags);
}

/* Send option OPT with the export name, followed by NINFOS info
 * requests INFOS (for NBD_OPT_GO; none for NBD_OPT_EXPORT_NAME, which
 * has no count field).
 */
static int
hs_send_option (struct hs *hs, uint32_t opt, const uint16_t *infos,
                uint16_t ninfos)
{
  size_t namelen = strlen (hs->name);
  uint8_t buf[16 + 4 + ATTACH_NAME_MAX + 2 + 2 * 8];
  uint8_t *p = buf;
  uint16_t i;

  p = put64 (p, HS_IHAVEOPT);
  p = put32 (p, opt);
  if (opt == HS_OPT_EXPORT_NAME) {
    p = put32 (p, namelen);
  }
  else {
    p = put32 (p, 4 + namelen + 2 + 2 * ninfos);
    p = put32 (p, namelen);
  }
  memcpy (p, hs->name, namelen);
  p += namelen;
  if (opt != HS_OPT_EXPORT_NAME) {
    p = put16 (p, ninfos);
    for (i = 0; i < ninfos; i++)
      p = put16 (p, infos[i]);
  }
  return hs_write (hs, buf, p - buf);
}

/* Take in one NBD_REP_INFO payload of LEN bytes into EXP.  Unknown
 * info types are ignored, as the protocol says.
 */
static int
hs_info (struct hs *hs, uint32_t len, struct attach_export *exp)
{
  const uint8_t *p = hs->payload;
  uint16_t type;

  if (len < 2) {
    attach_set_error ("handshake: an info reply of %u bytes", len);
    return -1;
  }
  type = get16 (p);
  switch (type) {
  case HS_INFO_EXPORT:
    if (len != 12)
      goto bad_length;
    exp->size = get64 (p + 2);
    exp->eflags = get16 (p + 10);
    return 1;
  case HS_INFO_DESCRIPTION:
    exp->has_description = true;
    exp->description_len = len - 2;
    memcpy (exp->description, p + 2, len - 2);
    exp->description[len - 2] = '\0';
    return 0;
  case HS_INFO_BLOCK_SIZE:
    if (len != 14)
      goto bad_length;
    exp->has_block_size = true;
    exp->min_block = get32 (p + 2);
    exp->pref_block = get32 (p + 6);
    exp->max_block = get32 (p + 10);
    return 0;
  default:
    return 0;
  }
 bad_length:
  attach_set_error ("handshake: info %u: %u bytes, not what the protocol "
                    "says", type, len);
  return -1;
}

/* The message of error reply TYPE, whose LEN bytes of text are in
 * hs->payload.
 */
static void
hs_refused (struct hs *hs, uint32_t type, uint32_t len)
{
  static const char *const names[] = {
    NULL, "unsupported", "policy", "invalid", "platform", "TLS required",
    "unknown export", "shutting down", "block size required", "too big",
  };
  uint32_t code = type & ~HS_REP_FLAG_ERROR;
  char text[160];

  attach_printable (text, sizeof text, (const char *) hs->payload, len);
  attach_set_error ("handshake: the server refused export \"%s\": %s%s%s",
                    hs->name,
                    code < sizeof names / sizeof names[0] && names[code]
                    ? names[code] : "error",
                    len > 0 ? ": " : "", text);
}

/* Read the replies to NBD_OPT_GO up to its ACK into EXP.  Returns 0;
 * 1 if the server does not know NBD_OPT_GO (the caller falls back to
 * NBD_OPT_EXPORT_NAME); -1 with the error set.
 */
static int
hs_go_replies (struct hs *hs, struct attach_export *exp)
{
  uint8_t hdr[20];
  uint32_t type, len;
  bool have_export = false;
  int n, r;

  for (n = 0; n < HS_REPLIES_MAX; n++) {
    if (hs_read (hs, hdr, sizeof hdr, "an option reply") == -1)
      return -1;
    type = get32 (hdr + 12);
    len = get32 (hdr + 16);
    if (get64 (hdr) != HS_REPLY_MAGIC || get32 (hdr + 8) != HS_OPT_GO) {
      attach_set_error ("handshake: a malformed option reply");
      return -1;
    }
    if (len > HS_PAYLOAD_MAX) {
      attach_set_error ("handshake: an option reply of %u bytes (at most "
                        "%d taken)", len, HS_PAYLOAD_MAX);
      return -1;
    }
    if (hs_read (hs, hs->payload, len, "an option reply") == -1)
      return -1;
    if (type == HS_REP_ERR_UNSUP)
      return 1;
    if (type & HS_REP_FLAG_ERROR) {
      hs_refused (hs, type, len);
      return -1;
    }
    if (type == HS_REP_ACK) {
      if (!have_export) {
        attach_set_error ("handshake: the server did not send the "
                          "export's size and flags");
        return -1;
      }
      return 0;
    }
    if (type != HS_REP_INFO) {
      attach_set_error ("handshake: an unexpected option reply (type %u)",
                        type);
      return -1;
    }
    r = hs_info (hs, len, exp);
    if (r == -1)
      return -1;
    have_export |= r == 1;
  }
  attach_set_error ("handshake: more than %d replies to NBD_OPT_GO",
                    HS_REPLIES_MAX);
  return -1;
}

/* The old way in: NBD_OPT_EXPORT_NAME, answered by the size, the
 * flags and (unless NO_ZEROES was agreed) 124 zero bytes.
 */
static int
hs_export_name (struct hs *hs, struct attach_export *exp)
{
  uint8_t buf[10 + 124];
  size_t len = hs->no_zeroes ? 10 : sizeof buf;

  if (hs_send_option (hs, HS_OPT_EXPORT_NAME, NULL, 0) == -1 ||
      hs_read (hs, buf, len, "the export's size and flags") == -1)
    return -1;
  exp->size = get64 (buf);
  exp->eflags = get16 (buf + 8);
  return 0;
}

int
attach_handshake (int fd, const char *name, int timeout_ms,
                  struct attach_export *exp)
{
  static const uint16_t infos[] = { HS_INFO_DESCRIPTION, HS_INFO_BLOCK_SIZE };
  static struct hs hs;          /* static: 4 KiB not on the stack */
  int r;

  memset (exp, 0, sizeof *exp);
  if (strlen (name) > ATTACH_NAME_MAX) {
    attach_set_error ("handshake: the export name is longer than %d bytes",
                      ATTACH_NAME_MAX);
    return -1;
  }
  hs.fd = fd;
  hs.name = name;
  hs.deadline = attach_now () + timeout_ms / 1000.0;
  if (hs_greeting (&hs) == -1 ||
      hs_send_option (&hs, HS_OPT_GO, infos, 2) == -1)
    return -1;
  r = hs_go_replies (&hs, exp);
  if (r == 1) {
    memset (exp, 0, sizeof *exp);
    r = hs_export_name (&hs, exp);
  }
  if (r == 0 && !(exp->eflags & NBD_FLAG_HAS_FLAGS)) {
    attach_set_error ("handshake: the export's flags lack HAS_FLAGS");
    return -1;
  }
  return r;
}
