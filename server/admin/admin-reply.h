/* swapdrum: building the admin protocol's replies (json-c), and
 * sending them on a connection.
 *
 * Every reply has "ok", and the request's "id" if it had one; an error
 * reply adds "errno" (the symbolic name) and "error" (one line, "what:
 * object: reason").  Loop thread only, like every json-c object.
 *
 * Out of memory: the builders tolerate NULL objects, so a reply that
 * could not be built ends up NULL, and admin_conn_send then drops the
 * client rather than send half a reply.
 */

#ifndef SWAPDRUM_ADMIN_REPLY_H
#define SWAPDRUM_ADMIN_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct admin_conn;

/* The symbolic name of an errno value ("EBUSY"); "E<n>" (written in
 * buf) for one not in our table.
 */
extern const char *admin_errno_name (int err, char *buf, size_t len);

/* Add val to obj under key, taking ownership of val.  obj may be NULL
 * (then val is freed).
 */
extern void admin_put (json_object *obj, const char *key, json_object *val);
extern void admin_put_u64 (json_object *obj, const char *key, uint64_t val);

/* A new reply {"ok": ok}, plus "id" copied from req if req (which may
 * be NULL) has one.
 */
extern json_object *admin_reply_new (json_object *req, bool ok);

/* Send an error reply for req on conn: errno err, the message from
 * fmt.
 */
extern void admin_reply_error (struct admin_conn *conn, json_object *req,
                               int err, const char *fmt, ...)
  __attribute__ ((format (printf, 4, 5)));

/* Send the error reply for a failed engine call: errno err (EIO if 0)
 * and the engine's message msg; if msg is NULL or "" (the engine
 * reported nothing), "what: object: strerror (err)".
 */
extern void admin_reply_failure (struct admin_conn *conn, json_object *req,
                                 int err, const char *msg, const char *what,
                                 const char *object);

#endif /* SWAPDRUM_ADMIN_REPLY_H */
