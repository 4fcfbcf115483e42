/* swapdrum: where the admin socket is when nobody says.
 *
 * One definition, compiled into the engine (the plugin binds the
 * socket there when admin= is not given) and into swapdrumctl (which
 * connects there when -S is not given), so that the two cannot drift.
 *
 * The path is, in order: $SWAPDRUM_ADMIN if set and not empty;
 * /run/swapdrum/admin.sock if the effective uid is 0;
 * $XDG_RUNTIME_DIR/swapdrum/admin.sock if that is set and not empty;
 * else /tmp/swapdrum-EUID/admin.sock.
 *
 * Why the effective uid, on both sides: the server's socket and its
 * directory belong to the server's effective uid, and that is the uid
 * the kernel gives the server as its peer's credentials (SO_PEERCRED)
 * and the uid that may open a 0700 directory.  So swapdrumctl looks
 * where a server of its own effective uid would be.  For a plain user
 * both uids are equal; under sudo both are 0 (and sudo -u USER makes
 * both USER's), so the root server's /run path is found.  A setuid
 * swapdrumctl (it is not installed so) would look where its effective
 * uid's server is, the same identity it connects with: deciding "root"
 * by the effective uid but naming /tmp/swapdrum-UID by the real uid,
 * as swapdrumctl once did, named a path no server used.  The plugin
 * computes the path in .get_ready, before nbdkit changes user (-u),
 * so it is that of the user who started nbdkit.
 */

#ifndef SWAPDRUM_ADMINPATH_H
#define SWAPDRUM_ADMINPATH_H

/* The default admin socket path, as above.
 * => returns a malloc'd string, or NULL with errno set (ENOMEM; no
 *    report: the caller reports).
 */
extern char *sd_admin_default_path (void);

#endif /* SWAPDRUM_ADMINPATH_H */
