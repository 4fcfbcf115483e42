/* swapdrumctl: the commands, each one or a few admin requests.
 *
 * Every command returns 0, or -1 after reporting its failure on
 * stderr (one line a failed request).
 */

#ifndef SWAPDRUMCTL_CMD_H
#define SWAPDRUMCTL_CMD_H

#include <stdbool.h>

#include "ctl-print.h"
#include "swapdrum/devspec.h"

struct ctl_ctx {
  const char *socket;           /* the admin socket */
  bool json;                    /* --json: print what the server sends */
  bool dry_run;                 /* -n: say what -A or -U would do */
  struct ctl_units units;       /* -k, -m, -g, -h */
};

/* -l and -s: the devices and the pool, then the exports (with --json:
 * the stats or summary reply with an "exports" member, which is the
 * exports reply's).
 */
extern int ctl_cmd_list (const struct ctl_ctx *ctx);
extern int ctl_cmd_summary (const struct ctl_ctx *ctx);

/* -a: add dev (swap-on); without priority_set, at the server's
 * default priority.
 */
extern int ctl_cmd_add (const struct ctl_ctx *ctx,
                        const struct devspec *dev);

/* -d: remove path (swap-off), with a progress bar on stderr if stderr
 * is a terminal, then one line on stdout.
 */
extern int ctl_cmd_remove (const struct ctl_ctx *ctx, const char *path);

/* -c: change the priority of path. */
extern int ctl_cmd_change (const struct ctl_ctx *ctx, const char *path,
                           long long priority);

/* -Z: trust export name (default export: "") again after a host crash
 * made it suspect: its unwritten pages read zeros, not EIO.
 */
extern int ctl_cmd_trust (const struct ctl_ctx *ctx, const char *name);

/* -A: add every device of the config file that is not in the pool and
 * set the priority of those that are; a device without priority= gets
 * default_priority.  -U: remove every device of the file that is in
 * the pool.  Both go on after a refused request and fail at the end.
 */
extern int ctl_cmd_apply (const struct ctl_ctx *ctx, const char *file,
                          long long default_priority);
extern int ctl_cmd_unapply (const struct ctl_ctx *ctx, const char *file);

/* -l -e: the exports; -a -e: create the export spec declares
 * ("NAME,size=SIZE[,quota=SIZE]...", as export= takes); -d -e: remove
 * export name, freeing its pages (force: even while a host is
 * attached), with a progress bar as -d has.
 */
extern int ctl_cmd_export_list (const struct ctl_ctx *ctx);
extern int ctl_cmd_export_create (const struct ctl_ctx *ctx,
                                  const char *spec);
extern int ctl_cmd_export_remove (const struct ctl_ctx *ctx,
                                  const char *name, bool force);

/* -c -e: change export name's limits: options as export= spells them
 * but size ("quota=2G,reserve=1G,tiers=0-5,shared=false"; quota=none,
 * reserve=0, tiers=all for none).
 */
extern int ctl_cmd_export_set (const struct ctl_ctx *ctx, const char *name,
                               const char *options);

/* Shared by ctl-cmd.c, ctl-apply.c and ctl-export.c. */
struct ctl_conn;

/* Add member key to obj (exits through ctl_nomem if it cannot). */
extern void ctl_add_member (json_object *obj, const char *key,
                            json_object *val);

/* Connect, send req and hang up.
 * => returns the reply, or NULL after the failure was reported.
 */
extern json_object *ctl_call (const struct ctl_ctx *ctx, json_object *req);

/* For the requests whose reply says nothing but "ok": returns 0, or -1
 * after reporting.
 */
extern int ctl_call_once (const struct ctl_ctx *ctx, json_object *req);

/* The progress bar of a swap-off or an export's removal, drawn on
 * stderr if it is a terminal, from the server's progress lines (a
 * ctl_progress_fn).  One at a time: ctl_error erases it through
 * ctl_before_error, ctl_clear_progress when the reply came.
 */
extern void ctl_draw_progress (json_object *progress, void *opaque);
extern void ctl_clear_progress (void);

/* Send req on conn, drawing the progress bar while the server sends
 * progress lines; erase it when the reply comes.
 * => returns the reply, or NULL after the failure was reported.
 */
extern json_object *ctl_call_with_progress (struct ctl_conn *conn,
                                            json_object *req);

extern json_object *ctl_on_request (const struct devspec *dev);
extern json_object *ctl_ctl_request (const char *path, long long priority);
extern json_object *ctl_off_request (const char *path);
extern int ctl_do_off (const struct ctl_ctx *ctx, struct ctl_conn *conn,
                       const char *path);

#endif /* SWAPDRUMCTL_CMD_H */
