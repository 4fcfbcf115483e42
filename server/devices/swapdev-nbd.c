/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Remote swap devices: NBD exports reached with libnbd (docs/design.md,
 * "Remote devices").
 *
 * A remote device holds `maxactive` connections.  The device's gate
 * (swapdev.c) admits at most maxactive I/Os at once, so every admitted
 * I/O owns one connection for its duration and drives it itself with
 * libnbd's aio calls and nbd_poll, against a deadline: a remote that
 * stops answering costs a request `timeout` seconds, then the
 * connection is dropped and the device goes offline (FAILED in the
 * pool) until the pool's monitor reconnects it and checks its stamp.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libnbd.h>

#include "common/clock.h"
#include "devices/swapdev.h"
#include "swapdrum/cleanup.h"
#include "swapdrum/log.h"

#define NBD_MAXACTIVE 2

struct remote_conn {
  struct nbd_handle *h;         /* NULL while down */
  bool busy;                    /* owned by an I/O */
};

struct remote {
  char *uri;
  unsigned timeout_ms;          /* per request and per connect */
  bool can_trim, multi_conn;
  uint64_t size;                /* bytes, as first seen */
  /* lock protects conns[*] and wakes flush waiting for a busy conn */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  size_t nconns;
  struct remote_conn *conns;
};

/* errno for a libnbd failure: its own, or EIO. */
static int
nbd_errno (void)
{
  int e = nbd_get_errno ();

  return e ? e : EIO;
}

/* Drive h until cookie completes or the deadline passes.
 * => returns 0, or -1 with errno (ETIMEDOUT on the deadline).
 */
static int
wait_cookie (struct nbd_handle *h, int64_t cookie, int64_t deadline)
{
  for (;;) {
    int64_t left;
    int r = nbd_aio_command_completed (h, cookie);

    if (r == 1)
      return 0;
    if (r == -1) {
      errno = nbd_errno ();
      return -1;
    }
    left = deadline - sd_now_ms ();
    if (left <= 0) {
      errno = ETIMEDOUT;
      return -1;
    }
    if (nbd_poll (h, left > INT32_MAX ? INT32_MAX : (int) left) == -1) {
      errno = nbd_errno ();
      return -1;
    }
  }
}

/* Report that connecting h to uri failed, with errno set.  libnbd
 * reports a failed TLS session without an errno and in gnutls's words,
 * which do not say why ("The TLS connection was non-properly
 * terminated" when the server hung up on a wrong key): say what to
 * check, and call it EACCES.
 */
static void
connect_failed (struct nbd_handle *h, const char *uri)
{
  const char *msg = nbd_get_error ();
  int err = nbd_get_errno ();

  if (msg == NULL)
    msg = "unknown error";
  if (err == 0 && nbd_get_tls (h) == LIBNBD_TLS_REQUIRE &&
      strstr (msg, "gnutls") != NULL) {
    errno = EACCES;
    sd_error ("swap: %s: connect: TLS failed (wrong key, username or "
              "certificates?): %s", uri, msg);
    return;
  }
  errno = err ? err : EIO;
  sd_error ("swap: %s: connect: %s", uri, msg);
}

/* Connect one handle to uri within timeout_ms.
 * => returns the handle, or NULL after reporting "swap: URI: reason"
 *    with errno set.
 */
static struct nbd_handle *
connect_one (const char *uri, unsigned timeout_ms)
{
  struct nbd_handle *h = nbd_create ();
  int64_t deadline = sd_now_ms () + timeout_ms;

  if (h == NULL) {
    sd_error ("swap: %s: %s", uri, nbd_get_error ());
    return NULL;
  }
  nbd_set_full_info (h, true);
  /* The URI may name a TLS key file (tls-psk-file=, tls-certificates=):
   * libnbd refuses that unless told.  Only the operator names devices
   * (the command line, or a privileged admin client), and the server
   * reads the file with its own rights.
   */
  if (nbd_set_uri_allow_local_file (h, true) == -1 ||
      nbd_aio_connect_uri (h, uri) == -1)
    goto err;
  while (!nbd_aio_is_ready (h)) {
    int64_t left = deadline - sd_now_ms ();
    if (nbd_aio_is_dead (h) || nbd_aio_is_closed (h))
      goto err;
    if (left <= 0) {
      nbd_close (h);
      errno = ETIMEDOUT;
      sd_error ("swap: %s: connect: no answer within %u s", uri,
                timeout_ms / 1000);
      return NULL;
    }
    if (nbd_poll (h, (int) (left > INT32_MAX ? INT32_MAX : left)) == -1)
      goto err;
  }
  return h;

 err:
  connect_failed (h, uri);
  nbd_close (h);
  return NULL;
}

/* Take a live, free connection.  The gate admits at most nconns I/Os,
 * so one is free unless connections are down.
 * => returns its index, or -1 with errno EIO if none is up.
 */
static ssize_t
take_conn (struct remote *r)
{
  SD_LOCK_FOR_SCOPE (&r->lock);
  size_t i;

  for (i = 0; i < r->nconns; i++) {
    if (r->conns[i].h && !r->conns[i].busy) {
      r->conns[i].busy = true;
      return i;
    }
  }
  errno = EIO;
  return -1;
}

/* Free connection i, taking it out of the set if it is broken, and
 * wake flush waiting for it.
 * => returns the broken handle for the caller to close (not under the
 *    lock), or NULL.
 */
static struct nbd_handle *
release_conn (struct remote *r, size_t i, bool broken)
{
  SD_LOCK_FOR_SCOPE (&r->lock);
  struct nbd_handle *dead = NULL;

  if (broken) {
    dead = r->conns[i].h;
    r->conns[i].h = NULL;
  }
  r->conns[i].busy = false;
  pthread_cond_broadcast (&r->cond);
  return dead;
}

/* Give a connection back; if its command failed, drop it and take the
 * device offline: a remote that errs at the transport level or times
 * out is not trusted again until the monitor has checked its stamp.
 */
static void
give_conn (struct swapdev *dev, struct remote *r, size_t i, bool broken)
{
  struct nbd_handle *dead = release_conn (r, i, broken);

  if (dead) {
    nbd_close (dead);
    swapdev_set_online (dev, false);
  }
}

/* An error the remote answered with (EIO from the export) leaves the
 * connection usable; anything else (timeout, transport) breaks it.
 */
static bool
conn_broken (struct nbd_handle *h, int err)
{
  return err == ETIMEDOUT || !nbd_aio_is_ready (h);
}

enum remote_op { OP_READ, OP_WRITE, OP_WRITE_FUA, OP_FLUSH, OP_TRIM };

/* Start op on h.  => returns the cookie, or -1. */
static int64_t
start_op (struct nbd_handle *h, enum remote_op op, void *buf,
          uint64_t count, uint64_t offset)
{
  switch (op) {
  case OP_READ:
    return nbd_aio_pread (h, buf, count, offset, NBD_NULL_COMPLETION, 0);
  case OP_WRITE:
  case OP_WRITE_FUA:
    return nbd_aio_pwrite (h, buf, count, offset, NBD_NULL_COMPLETION,
                           op == OP_WRITE_FUA ? LIBNBD_CMD_FLAG_FUA : 0);
  case OP_FLUSH:
    return nbd_aio_flush (h, NBD_NULL_COMPLETION, 0);
  case OP_TRIM:
    return nbd_aio_trim (h, count, offset, NBD_NULL_COMPLETION, 0);
  }
  abort ();
}

/* Run one command on connection i, with the device's deadline. */
static int
run_on (struct swapdev *dev, size_t i, enum remote_op op, void *buf,
        uint64_t count, uint64_t offset)
{
  struct remote *r = dev->priv;
  struct nbd_handle *h = r->conns[i].h;
  int64_t cookie = start_op (h, op, buf, count, offset);
  int err = 0;

  if (cookie == -1 || wait_cookie (h, cookie, sd_now_ms () + r->timeout_ms)
      == -1)
    err = cookie == -1 ? nbd_errno () : errno;
  give_conn (dev, r, i, err && conn_broken (h, err));
  errno = err;
  return err ? -1 : 0;
}

static int
run (struct swapdev *dev, enum remote_op op, void *buf, uint64_t count,
     uint64_t offset)
{
  ssize_t i = take_conn (dev->priv);

  if (i == -1)
    return -1;
  return run_on (dev, i, op, buf, count, offset);
}

static int
remote_pread (struct swapdev *dev, void *buf, uint64_t count,
              uint64_t offset)
{
  return run (dev, OP_READ, buf, count, offset);
}

static int
remote_pwrite (struct swapdev *dev, const void *buf, uint64_t count,
               uint64_t offset, bool fua)
{
  return run (dev, fua ? OP_WRITE_FUA : OP_WRITE, (void *) buf, count,
              offset);
}

static int
remote_discard (struct swapdev *dev, uint64_t count, uint64_t offset)
{
  struct remote *r = dev->priv;

  return r->can_trim ? run (dev, OP_TRIM, NULL, count, offset) : 0;
}

/* Wait until connection i is free, then own it.  => -1 if it is down. */
static int
take_conn_i (struct remote *r, size_t i)
{
  SD_LOCK_FOR_SCOPE (&r->lock);

  while (r->conns[i].busy && r->conns[i].h)
    pthread_cond_wait (&r->cond, &r->lock);
  if (r->conns[i].h == NULL)
    return -1;
  r->conns[i].busy = true;
  return 0;
}

/* Flush: with multi-conn one connection covers all; otherwise each
 * connection flushes what was written through it.
 */
static int
remote_flush (struct swapdev *dev)
{
  struct remote *r = dev->priv;
  size_t i, n = r->multi_conn ? 1 : r->nconns;
  int ret = 0;

  if (r->multi_conn)
    return run (dev, OP_FLUSH, NULL, 0, 0);
  for (i = 0; i < n; i++) {
    if (take_conn_i (r, i) == -1)
      continue;
    if (run_on (dev, i, OP_FLUSH, NULL, 0, 0) == -1)
      ret = -1;
  }
  return ret;
}

/* Close every connection. */
static void
drop_all (struct remote *r)
{
  size_t i;

  for (i = 0; i < r->nconns; i++) {
    if (r->conns[i].h)
      nbd_close (r->conns[i].h);
    r->conns[i].h = NULL;
  }
}

/* Check what an export offers against what a swap device needs.
 * own: this server's export description, to refuse swapping to itself.
 */
static int
check_export (struct remote *r, struct nbd_handle *h, const char *own)
{
  int64_t size = nbd_get_size (h);
  CLEANUP_FREE char *desc = nbd_get_export_description (h);

  if (own && desc && strcmp (desc, own) == 0) {
    errno = EBUSY;
    sd_error ("swap: %s: that is this server's own export", r->uri);
    return -1;
  }
  if (nbd_is_read_only (h) == 1) {
    errno = EROFS;
    sd_error ("swap: %s: the export is read-only", r->uri);
    return -1;
  }
  if (size < 0 || (uint64_t) size < 3 * SD_PAGE_SIZE) {
    errno = EINVAL;
    sd_error ("swap: %s: the export is %" PRId64 " bytes; "
              "need at least 12288", r->uri, size);
    return -1;
  }
  if (r->size && (uint64_t) size != r->size) {
    errno = EIO;
    sd_error ("swap: %s: the export changed size (%" PRIu64 " to %"
              PRId64 " bytes)", r->uri, r->size, size);
    return -1;
  }
  r->size = size;
  r->can_trim = nbd_can_trim (h) == 1;
  r->multi_conn = nbd_can_multi_conn (h) == 1;
  return 0;
}

/* Put the connections hs[0 .. nconns) in place of the old ones, which
 * are closed.
 */
static void
install_conns (struct remote *r, struct nbd_handle **hs)
{
  SD_LOCK_FOR_SCOPE (&r->lock);
  size_t i;

  drop_all (r);
  for (i = 0; i < r->nconns; i++)
    r->conns[i].h = hs[i];
}

/* (Re)open every connection.  The device stays offline. */
static int
remote_connect (struct swapdev *dev)
{
  struct remote *r = dev->priv;
  struct nbd_handle **hs;
  size_t i;

  hs = calloc (r->nconns, sizeof *hs);
  if (hs == NULL) {
    sd_error ("swap: %s: %m", r->uri);
    return -1;
  }
  for (i = 0; i < r->nconns; i++) {
    hs[i] = connect_one (r->uri, r->timeout_ms);
    if (hs[i] == NULL || (i == 0 && check_export (r, hs[0], NULL) == -1))
      goto err;
  }
  install_conns (r, hs);
  free (hs);
  return 0;

 err:
  for (i = 0; i < r->nconns; i++)
    if (hs[i])
      nbd_close (hs[i]);
  free (hs);
  return -1;
}

/* Close every connection and free r.  Accepts NULL. */
static void
remote_free (struct remote *r)
{
  if (r == NULL)
    return;
  drop_all (r);
  pthread_mutex_destroy (&r->lock);
  pthread_cond_destroy (&r->cond);
  free (r->conns);
  free (r->uri);
  free (r);
}

static void
remote_close (struct swapdev *dev)
{
  remote_free (dev->priv);
  dev->priv = NULL;
}

static const struct swapdev_ops nbd_ops = {
  .kind_name = "nbd",
  .pread = remote_pread,
  .pwrite = remote_pwrite,
  .flush = remote_flush,
  .discard = remote_discard,
  .connect = remote_connect,
  .close = remote_close,
};

/* The backend's state for spec, with no connection yet.
 * => returns it, or NULL after reporting "swap: URI: reason".
 */
static struct remote *
remote_new (const struct devspec *spec)
{
  size_t nconns = spec->maxactive ? spec->maxactive : NBD_MAXACTIVE;
  struct remote *r = calloc (1, sizeof *r);

  if (r == NULL)
    goto err;
  pthread_mutex_init (&r->lock, NULL);
  pthread_cond_init (&r->cond, NULL);
  r->timeout_ms = (spec->timeout ? spec->timeout : SD_TIMEOUT_DEFAULT) * 1000;
  r->uri = strdup (spec->path);
  r->conns = calloc (nconns, sizeof *r->conns);
  if (r->uri == NULL || r->conns == NULL)
    goto err;
  r->nconns = nconns;
  return r;

 err:
  sd_error ("swap: %s: %m", spec->path);
  remote_free (r);
  return NULL;
}

/* Put one query parameter (len bytes at param) of a remote's URI
 * into its identity: the socket path made canonical, so that two
 * spellings of it are one export.
 */
static void
put_param (FILE *f, const char *param, size_t len)
{
  CLEANUP_FREE char *path = NULL;
  CLEANUP_FREE char *real = NULL;

  if (len > 7 && strncmp (param, "socket=", 7) == 0 &&
      (path = strndup (param + 7, len - 7)) != NULL &&
      (real = realpath (path, NULL)) != NULL)
    fprintf (f, "socket=%s", real);
  else
    fwrite (param, 1, len, f);
}

/* Put the query of a remote's URI (after its '?') into its identity,
 * less the tls-* parameters: they say how to get in, not where.
 */
static void
put_query (FILE *f, const char *query)
{
  char sep = '?';

  while (*query) {
    size_t len = strcspn (query, "&;");

    if (len > 0 && strncmp (query, "tls-", 4) != 0) {
      fputc (sep, f);
      put_param (f, query, len);
      sep = '&';
    }
    query += len;
    if (*query)
      query++;
  }
}

/* Put uri, as libnbd normalises it, into a remote's identity, less
 * what only says how to get in: TLS (nbds becomes nbd), the TLS
 * username and the tls-* parameters (which name key files).
 */
static void
put_uri (FILE *f, const char *uri)
{
  const char *auth, *at, *end;

  if (strncmp (uri, "nbds", 4) == 0) {
    fputs ("nbd", f);
    uri += 4;
  }
  auth = strstr (uri, "://");
  if (auth == NULL) {
    fputs (uri, f);
    return;
  }
  auth += 3;
  fwrite (uri, 1, auth - uri, f);
  end = auth + strcspn (auth, "/?");
  /* The host follows the last '@' of the authority (RFC 3986: a host
   * never holds one).  Cutting at the first left "nbd://u@x@host/e"
   * as "nbd://x@host/e", whose own identity is "nbd://host/e": two
   * names of one export with two identities.
   */
  at = memrchr (auth, '@', end - auth);
  uri = at ? at + 1 : auth;
  end = uri + strcspn (uri, "?");
  fwrite (uri, 1, end - uri, f);
  if (*end == '?')
    put_query (f, end + 1);
}

char *
swapdev_nbd_ident (const char *uri)
{
  char *ident = NULL;
  size_t size;
  FILE *f = open_memstream (&ident, &size);

  if (f == NULL)
    return NULL;
  fputs ("nbd:", f);
  put_uri (f, uri);
  if (fclose (f) == EOF) {
    free (ident);
    return NULL;
  }
  return ident;
}

/* The identity of a connected remote: from its URI as libnbd
 * normalises it, or as given if libnbd cannot say.
 */
static char *
remote_ident (struct remote *r)
{
  CLEANUP_FREE char *uri = nbd_get_uri (r->conns[0].h);

  return swapdev_nbd_ident (uri ? uri : r->uri);
}

/* The constructor: check the export on one connection, build the
 * device over it (swapdev_alloc, swapdev_layout, as every backend),
 * then open all maxactive connections.
 */
struct swapdev *
swapdev_open_nbd (const struct devspec *spec, const char *own)
{
  struct remote *r;
  struct swapdev *dev = NULL;

  if (spec->create_size) {
    errno = EINVAL;
    sd_error ("swap: %s: create= applies to files only", spec->path);
    return NULL;
  }
  if (spec->direct) {
    errno = EINVAL;
    sd_error ("swap: %s: direct= applies to files and block devices only",
              spec->path);
    return NULL;
  }
  r = remote_new (spec);
  if (r == NULL)
    return NULL;
  r->conns[0].h = connect_one (r->uri, r->timeout_ms);
  if (r->conns[0].h == NULL || check_export (r, r->conns[0].h, own) == -1)
    goto err;
  dev = swapdev_alloc (spec->path, SWAPDEV_NBD, &nbd_ops, r, r->nconns);
  if (dev == NULL)
    goto err;
  if (swapdev_layout (dev, r->size, 0) == -1)
    goto err;
  dev->ident = remote_ident (r);
  if (dev->ident == NULL) {
    sd_error ("swap: %s: %m", spec->path);
    goto err;
  }
  if (remote_connect (dev) == -1)
    goto err;
  return dev;

 err:
  if (dev)
    swapdev_free (dev);         /* closes r too */
  else
    remote_free (r);
  return NULL;
}
