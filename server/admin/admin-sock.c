/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* The admin socket file: see admin-sock.h. */

#include <config.h>

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin/admin-sock.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

/* A burst of clients (a monitoring script, swapdrumctl in a loop)
 * waits in the kernel instead of being refused.
 */
#define BACKLOG 512

/* Fill *addr for path.
 * => returns 0, or -1 after reporting (empty, or longer than sun_path).
 */
static int
make_address (const char *path, struct sockaddr_un *addr)
{
  size_t len = strlen (path);

  if (len == 0) {
    errno = EINVAL;
    sd_error ("admin: the socket path is empty");
    return -1;
  }
  if (len >= sizeof addr->sun_path) {
    errno = ENAMETOOLONG;
    sd_error ("admin: %s: socket path too long (%zu bytes, at most %zu)",
              path, len, sizeof addr->sun_path - 1);
    return -1;
  }
  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy (addr->sun_path, path, len + 1);
  return 0;
}

/* The mode of a directory made for a socket of mode `mode`: 0700, and
 * the search bit for the group and for others if the socket lets them
 * in, or they could not reach it.
 */
static mode_t
parent_mode (mode_t mode)
{
  return 0700 | (mode & 0060 ? 0010 : 0) | (mode & 0006 ? 0001 : 0);
}

/* Create path's directory (the last level only) if it is missing, so
 * that /run/swapdrum/admin.sock just works: mode parent_mode (mode)
 * exactly, and group `group` unless that is (gid_t) -1.
 */
static int
make_parent (const char *path, mode_t mode, gid_t group)
{
  CLEANUP_FREE char *copy = strdup (path);
  const char *dir;
  struct stat st;

  if (copy == NULL) {
    sd_error ("admin: %s: %m", path);
    return -1;
  }
  dir = dirname (copy);
  if (stat (dir, &st) == 0 || errno != ENOENT)
    return 0;                   /* bind will say what is wrong with it */
  if (mkdir (dir, 0700) == -1) {
    if (errno == EEXIST)
      return 0;
    sd_error ("admin: %s: creating directory %s: %m", path, dir);
    return -1;
  }
  if ((group != (gid_t) -1 && chown (dir, (uid_t) -1, group) == -1) ||
      chmod (dir, parent_mode (mode)) == -1) {
    sd_error ("admin: %s: directory %s: %m", path, dir);
    return -1;
  }
  return 0;
}

/* bind(2) under a umask that lets the new file have at most `mode`,
 * so that it is never more open than asked, not even for a moment.
 */
static int
bind_with_mode (int fd, const struct sockaddr_un *addr, mode_t mode)
{
  mode_t old = umask (~mode & 0777);
  int r = bind (fd, (const struct sockaddr *) addr, sizeof *addr);
  int saved_errno = errno;

  umask (old);
  errno = saved_errno;
  return r;
}

/* Connect to path to see whether a server is listening there.
 * => returns 1 (live), 0 (nobody: ECONNREFUSED, or gone), or -1 after
 *    reporting.
 */
static int
probe_live (const char *path, const struct sockaddr_un *addr)
{
  CLEANUP_CLOSE int fd = -1;

  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    sd_error ("admin: %s: socket: %m", path);
    return -1;
  }
  /* A full backlog (EAGAIN) still means somebody listens. */
  if (connect (fd, (const struct sockaddr *) addr, sizeof *addr) == 0 ||
      errno == EAGAIN || errno == EINPROGRESS)
    return 1;
  if (errno == ECONNREFUSED || errno == ENOENT)
    return 0;
  sd_error ("admin: %s: checking for a live server: %m", path);
  return -1;
}

/* bind said path is taken: remove it if it is a socket nobody listens
 * on (a server that died without cleaning up).
 * => returns 0 (removed, or gone meanwhile), or -1 after reporting.
 */
static int
remove_stale (const char *path, const struct sockaddr_un *addr)
{
  struct stat st;
  int live;

  if (lstat (path, &st) == -1) {
    if (errno == ENOENT)
      return 0;
    sd_error ("admin: %s: %m", path);
    return -1;
  }
  if (!S_ISSOCK (st.st_mode)) {
    errno = EEXIST;
    sd_error ("admin: %s: exists and is not a socket", path);
    return -1;
  }
  live = probe_live (path, addr);
  if (live == -1)
    return -1;
  if (live) {
    errno = EADDRINUSE;
    sd_error ("admin: %s: another server is listening there", path);
    return -1;
  }
  if (unlink (path) == -1 && errno != ENOENT) {
    sd_error ("admin: %s: removing a stale socket: %m", path);
    return -1;
  }
  sd_debug ("admin: %s: replacing a stale socket", path);
  return 0;
}

/* Give the socket file its group (if asked) and exactly its mode; the
 * chmod comes last because chown may clear mode bits.
 */
static int
set_owner_mode (const char *path, mode_t mode, gid_t group)
{
  if (group != (gid_t) -1 && chown (path, (uid_t) -1, group) == -1) {
    sd_error ("admin: %s: chown to group %u: %m", path, (unsigned) group);
    return -1;
  }
  if (chmod (path, mode & 07777) == -1) {
    sd_error ("admin: %s: chmod %04o: %m", path, (unsigned) mode & 07777);
    return -1;
  }
  return 0;
}

int
admin_sock_listen (const char *path, mode_t mode, gid_t group,
                   struct stat *st)
{
  struct sockaddr_un addr;
  int fd, r, saved_errno;

  if (make_address (path, &addr) == -1 ||
      make_parent (path, mode, group) == -1)
    return -1;
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) {
    sd_error ("admin: %s: socket: %m", path);
    return -1;
  }
  r = bind_with_mode (fd, &addr, mode);
  if (r == -1 && errno == EADDRINUSE) {
    if (remove_stale (path, &addr) == -1)
      goto err;
    r = bind_with_mode (fd, &addr, mode);
  }
  if (r == -1) {
    sd_error ("admin: %s: bind: %m", path);
    goto err;
  }
  if (set_owner_mode (path, mode, group) == -1)
    goto err_unlink;
  if (lstat (path, st) == -1 || listen (fd, BACKLOG) == -1) {
    sd_error ("admin: %s: listen: %m", path);
    goto err_unlink;
  }
  return fd;

 err_unlink:
  saved_errno = errno;
  unlink (path);
  errno = saved_errno;
 err:
  saved_errno = errno;
  close (fd);
  errno = saved_errno;
  return -1;
}

void
admin_sock_unlink (const char *path, const struct stat *st)
{
  struct stat now;

  if (lstat (path, &now) == 0 &&
      now.st_dev == st->st_dev && now.st_ino == st->st_ino)
    unlink (path);
}
