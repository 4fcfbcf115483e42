/* swapdrum: the admin protocol's requests (docs/admin-protocol.md).
 *
 * A request line is parsed and checked with json-c on the loop thread.
 * Read-only commands (version, nswap, stats, summary; admin-query.h)
 * are answered there and then: they take the pool lock only briefly.
 * Commands that change the pool (on, off, ctl) become a job for the
 * worker thread, because they wait for the pool's admin_lock and
 * swap-off moves pages for as long as it takes.  The worker hands
 * progress and the result back (admin-worker.h); the loop turns them
 * into reply lines.
 * json-c objects never leave the loop thread.
 */

#ifndef SWAPDRUM_ADMIN_CMD_H
#define SWAPDRUM_ADMIN_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <json-c/json.h>

#include "admin/admin-conn.h"

struct admin_conn;
struct admin_server;

/* Answer one request line (len bytes, no '\n', not NUL-terminated)
 * from conn: reply on conn now, or queue a job and mark conn busy.
 * => loop thread.
 */
extern void admin_cmd_request (struct admin_conn *conn, const char *line,
                               size_t len);

/* Reply to a request longer than ADMIN_LINE_MAX.  => loop thread. */
extern void admin_cmd_too_long (struct admin_conn *conn);

/* The two above, as the connections' handler (admin-conn.h). */
extern const struct admin_conn_handler admin_cmd_handler;

#endif /* SWAPDRUM_ADMIN_CMD_H */
