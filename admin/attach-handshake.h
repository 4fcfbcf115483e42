/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* swapdrum-attach: the client side of the NBD handshake (fixed
 * newstyle, https://github.com/NetworkBlockDevice/nbd doc/proto.md),
 * done in user space before the socket goes to the kernel.
 *
 * It asks for the export with NBD_OPT_GO, requesting the export's
 * description (a swapdrum server says "swapdrum pool <id>") and its
 * block sizes, and falls back to NBD_OPT_EXPORT_NAME on a server
 * without NBD_OPT_GO.  It never negotiates structured replies: the
 * kernel speaks simple replies only.
 *
 * Everything the server sends is untrusted: every length is checked
 * before it is used, nothing is read past a fixed limit, and the whole
 * handshake must finish before a deadline.
 */

#ifndef SWAPDRUM_ATTACH_HANDSHAKE_H
#define SWAPDRUM_ATTACH_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>

#define ATTACH_NAME_MAX 4096            /* export name, as the spec */
#define ATTACH_DESCRIPTION_MAX 4096     /* description kept, bytes */

/* What the server said of the export. */
struct attach_export {
  uint64_t size;                /* bytes */
  uint16_t eflags;              /* transmission flags (NBD_FLAG_*) */
  bool has_block_size;          /* NBD_INFO_BLOCK_SIZE was sent */
  uint32_t min_block, pref_block, max_block;
  bool has_description;         /* NBD_INFO_DESCRIPTION was sent */
  size_t description_len;       /* its bytes, NULs included */
  char description[ATTACH_DESCRIPTION_MAX + 1]; /* NUL added */
};

/* Negotiate export NAME on the connected socket FD; the whole
 * handshake must be over within TIMEOUT_MS.  On success fills EXP and
 * returns 0: FD is then in the transmission phase, for the kernel.
 * On failure returns -1 with the error set ("handshake: ..."): a
 * server that is not NBD, not fixed newstyle, refuses the export,
 * sends a malformed or oversized reply, goes quiet or hangs up.  The
 * caller closes FD either way if it does not use it.
 */
extern int attach_handshake (int fd, const char *name, int timeout_ms,
                             struct attach_export *exp);

#endif /* SWAPDRUM_ATTACH_HANDSHAKE_H */
