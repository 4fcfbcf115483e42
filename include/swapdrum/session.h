/* swapdrum: a client connection's session on an export (public engine
 * API).
 *
 * A session attaches to a served export of an exportset from a host,
 * under the rule of one host per export (exportset.h), and carries the
 * connection's requests to the export, counting them in its stats.
 *
 * A host is a string the caller makes from the connection's peer
 * (session_host); two sessions are from one host if the strings are
 * equal.
 *
 * Every function is thread-safe; a session's requests may run at once.
 * Data-path functions are those of export.h, with the same errno, plus
 * EIO once the export was removed by force under the session.
 */

#ifndef SWAPDRUM_SESSION_H
#define SWAPDRUM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "swapdrum/export.h"
#include "swapdrum/exportset.h"
#include "swapdrum/nonnull.h"

struct session;

/* Room for any host session_host makes. */
#define SESSION_HOST_MAX 64

/* Name the host of a peer at sa (from getpeername): its address on
 * TCP ("192.0.2.1", "2001:db8::1"; an IPv4-mapped IPv6 address as
 * IPv4, so that one host is one name however it connected), "local
 * uid UID" on a unix socket (uid: the peer's, from SO_PEERCRED): a
 * unix socket reaches only processes of this host, told apart by
 * user.  Other families: "address family N".
 */
extern void session_host (const struct sockaddr *sa, int64_t uid,
                          char *host, size_t len)
  SD_NONNULL (1, 3);

/* Attach to the served export name from host.
 * => returns the session, or NULL after reporting "export: NAME:
 *    reason" with errno ENOENT (no such export served: the message
 *    lists those that are) or EBUSY (attached from another host, and
 *    not shared).
 */
extern struct session *session_open (struct exportset *set,
                                     const char *name, const char *host)
  SD_NONNULL (1, 2, 3);

/* Detach (no request of the session may be running).  The host's last
 * session frees the export for other hosts; the last session of an
 * export removed by force frees its pages.  Accepts NULL.
 */
extern void session_close (struct session *s);

/* The export (for its size and name). */
extern struct export *session_export (const struct session *s)
  SD_NONNULL (1);

extern int session_pread (struct session *s, void *buf, uint64_t count,
                          uint64_t offset)
  SD_NONNULL (1, 2);
extern int session_pwrite (struct session *s, const void *buf,
                           uint64_t count, uint64_t offset, bool fua)
  SD_NONNULL (1, 2);
extern int session_zero (struct session *s, uint64_t count, uint64_t offset,
                         bool fua)
  SD_NONNULL (1);
extern int session_trim (struct session *s, uint64_t count, uint64_t offset)
  SD_NONNULL (1);
extern int session_flush (struct session *s)
  SD_NONNULL (1);

#endif /* SWAPDRUM_SESSION_H */
