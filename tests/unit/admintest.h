/* swapdrum
 * Copyright (C) 2026 the swapdrum authors
 * SPDX-License-Identifier: BSD-3-Clause
 */

/* Helpers for the admin server's unit tests (test-admin*.c): a
 * scratch directory, a server on a socket in it, and a plain-socket
 * client that speaks the line protocol and parses replies with json-c.
 *
 * Every helper asserts with Criterion, so call them from the test's
 * own thread (or from a forked child that reports by exit status).
 * Reads time out after AT_TIMEOUT_MS, so a missing reply fails the
 * test instead of hanging it.
 */

#ifndef SWAPDRUM_ADMINTEST_H
#define SWAPDRUM_ADMINTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "membackend.h"
#include "swapdrum/admin.h"
#include "swapdrum/pool.h"

#define AT_TIMEOUT_MS 10000

/* ---- scratch directory and server ---- */

/* A new empty directory under /tmp (asserts).  at_rmdir removes it
 * and everything in it.  Both return / take a malloc'd path.
 */
extern char *at_tmpdir (void);
extern void at_rmdir (char *dir);

/* "dir/name", malloc'd. */
extern char *at_path (const char *dir, const char *name);

/* Seconds of silence after which the servers at_start starts close a
 * client; 0 (the default) leaves the server's own (60 s).  A suite's
 * .init may set it.
 */
extern double at_idle_timeout;

/* A started admin server for pool on path with mode (no group).
 * => asserts that admin_create and admin_start worked.
 */
extern struct admin_server *at_start (struct pool *pool, const char *path,
                                      mode_t mode);

/* ---- the usual setups ---- */

/* A server on dir/admin.sock over pool; exp (if any) is destroyed
 * after the server and before the pool.
 */
struct at_setup {
  char *dir, *sock;
  struct pool *pool;
  struct admin_server *srv;
  struct export *exp;
  struct membackend *mb_a, *mb_b;
};

/* Devices "a" (100 pages, priority 5) and "b" (50 pages, priority -3,
 * so preferred), no export.
 */
extern void at_setup_two (struct at_setup *s);

/* Devices "a" (300 pages, priority 0) and "b" (b_pages, priority 1)
 * and an export of 1 MiB whose 256 pages all hold data on "a"; *data
 * is set to those bytes (malloc'd).
 */
extern void at_setup_data (struct at_setup *s, uint64_t b_pages,
                           unsigned char **data);

/* Destroy the server (if s->srv is not NULL), the export, the pool and
 * the scratch directory.
 */
extern void at_teardown (struct at_setup *s);

/* ---- clients ---- */

struct at_client;

/* Connect to the socket at path (asserts). */
extern struct at_client *at_connect (const char *path);

/* Connect without asserting: NULL with errno set on failure. */
extern struct at_client *at_try_connect (const char *path);

extern void at_close (struct at_client *c);
extern int at_fd (const struct at_client *c);

/* Send text exactly as given (add the '\n' yourself). */
extern void at_send (struct at_client *c, const char *text);
extern void at_send_bytes (struct at_client *c, const void *buf, size_t len);

/* Stop sending (shutdown SHUT_WR): the server sees EOF. */
extern void at_shutdown (struct at_client *c);

/* The next line from the server, parsed (the caller puts it).
 * => asserts a valid JSON line arrived within AT_TIMEOUT_MS.
 */
extern json_object *at_read (struct at_client *c);

/* As at_read, but waits at most ms; NULL if nothing came. */
extern json_object *at_read_within (struct at_client *c, int ms);

/* True if the server closed the connection (EOF) within ms, with no
 * line before it.
 */
extern bool at_eof_within (struct at_client *c, int ms);

/* Send line + '\n' and read one reply. */
extern json_object *at_request (struct at_client *c, const char *line);

/* The same, asserting the reply is ok (and dropping it). */
extern void at_request_ok (struct at_client *c, const char *line);

/* The device count, by the nswap command. */
extern int64_t at_nswap (struct at_client *c);

/* ---- replies ---- */

/* Assert reply is {"ok": true, ...}; returns reply. */
extern json_object *at_ok (json_object *reply);

/* Assert reply is an error with errno name err and an error message
 * containing needle (if not NULL); puts reply.
 */
extern void at_expect_error (json_object *reply, const char *err,
                             const char *needle);

/* Members, asserting they exist with the right type. */
extern int64_t at_int (json_object *obj, const char *key);
extern const char *at_str (json_object *obj, const char *key);
extern json_object *at_member (json_object *obj, const char *key);

/* The device called path in a stats reply, or NULL. */
extern json_object *at_device (json_object *stats, const char *path);

/* True if a device's flags array holds flag. */
extern bool at_has_flag (json_object *dev, const char *flag);

#endif /* SWAPDRUM_ADMINTEST_H */
