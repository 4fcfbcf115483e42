/* swapdrum: the read-only commands of the admin protocol (version,
 * nswap, stats, summary, exports).
 *
 * They run on the loop thread, there and then: the engine calls they
 * make take the pool lock only briefly, never across I/O, so they
 * cannot hold up the loop even while a swap-off runs.  Each sends its
 * reply (or an error reply) to conn; req is the request, for its "id".
 */

#ifndef SWAPDRUM_ADMIN_QUERY_H
#define SWAPDRUM_ADMIN_QUERY_H

#include <json-c/json.h>

struct admin_conn;

extern void admin_query_version (struct admin_conn *conn, json_object *req);
extern void admin_query_nswap (struct admin_conn *conn, json_object *req);
extern void admin_query_stats (struct admin_conn *conn, json_object *req);
extern void admin_query_summary (struct admin_conn *conn, json_object *req);
extern void admin_query_exports (struct admin_conn *conn, json_object *req);

#endif /* SWAPDRUM_ADMIN_QUERY_H */
