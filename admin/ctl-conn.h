/* swapdrumctl: a connection to the admin socket.
 *
 * One request at a time: ctl_conn_call sends one JSON object as one
 * line and reads lines back until the reply (a line with "ok"),
 * handing progress lines ({"progress": {...}}) to a callback on the
 * way, as docs/admin-protocol.md describes.
 */

#ifndef SWAPDRUMCTL_CONN_H
#define SWAPDRUMCTL_CONN_H

#include <stdbool.h>

#include <json-c/json.h>

struct ctl_conn;

/* Called with the "progress" member of each progress line. */
typedef void (*ctl_progress_fn) (json_object *progress, void *opaque);

/* Connect to the admin socket at path.  If raw is true, every line the
 * server sends is also copied to stdout as it is (--json).
 * => returns the connection, or NULL after reporting
 *    "PATH: connect: reason".
 */
extern struct ctl_conn *ctl_conn_open (const char *path, bool raw);

/* Close and free.  Accepts NULL. */
extern void ctl_conn_close (struct ctl_conn *conn);

/* Send req and wait for its reply; progress lines go to progress (if
 * not NULL).  req is not consumed.
 * => returns the reply (the caller puts it) when it says "ok": true;
 *    else NULL after reporting one line: the server's "error" and
 *    "errno" for a refused request, or what went wrong with the
 *    connection.
 */
extern json_object *ctl_conn_call (struct ctl_conn *conn, json_object *req,
                                   ctl_progress_fn progress, void *opaque);

/* False once the connection failed (send, read, a reply that is not
 * JSON): no further request on it can succeed.  A refused request
 * leaves the connection usable.
 */
extern bool ctl_conn_usable (const struct ctl_conn *conn);

/* The request {"cmd": cmd}, to which the caller adds members.
 * => returns the object, or exits on out of memory.
 */
extern json_object *ctl_request_new (const char *cmd);

#endif /* SWAPDRUMCTL_CONN_H */
