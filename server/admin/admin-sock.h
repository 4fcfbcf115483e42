/* swapdrum: the admin socket file.
 *
 * The listening unix socket of the admin server and the file it is
 * bound to: created with exact permissions, a stale file left by a
 * dead server replaced, a live server's never touched, and on the way
 * out removed only if it is still ours.
 */

#ifndef SWAPDRUM_ADMIN_SOCK_H
#define SWAPDRUM_ADMIN_SOCK_H

#include <sys/stat.h>
#include <sys/types.h>

/* Bind a non-blocking, close-on-exec unix stream socket to path and
 * listen.  The parent directory is created if missing: mode 0700, plus
 * the search bit for the group and others if `mode` lets them in, and
 * `group`'s group.  A stale socket file (connecting is refused) is
 * replaced.  The file
 * gets exactly `mode` and, unless group is (gid_t) -1, that group.
 * *st is set to the file's stat, to know it again later.
 * => returns the socket, or -1 after reporting "admin: PATH: reason"
 *    with errno set (ENAMETOOLONG, EADDRINUSE: a server is listening
 *    there, EEXIST: the path is not a socket, ...).
 *
 * It changes the process umask for the moment of bind(2): call it
 * before other threads create files (nbdkit's .get_ready).
 */
extern int admin_sock_listen (const char *path, mode_t mode, gid_t group,
                              struct stat *st);

/* Remove the socket file at path if it is still the one described by
 * st (same device and inode): a later server may have replaced it.
 */
extern void admin_sock_unlink (const char *path, const struct stat *st);

#endif /* SWAPDRUM_ADMIN_SOCK_H */
