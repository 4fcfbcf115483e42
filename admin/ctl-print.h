/* swapdrumctl: the listing (-l) and the summary (-s) of the pool, from
 * the server's stats and summary replies, in the units of -k, -m, -g
 * or -h.
 */

#ifndef SWAPDRUMCTL_PRINT_H
#define SWAPDRUMCTL_PRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct ctl_units {
  uint64_t block;               /* bytes a block; 0: human-readable */
  char header[24];              /* the size column: "1K-blocks", "Size" */
};

/* Set *u for unit 'k', 'm', 'g' or 'h' (-k, -m, -g, -h), or 0 for the
 * default: the BLOCKSIZE environment variable as getbsize(3) reads it
 * ("512", "1K", "4M", "1G"...; 512 bytes to 1G), else 1K blocks.  An
 * unreadable BLOCKSIZE gets a warning and 1K blocks.
 */
extern void ctl_units_init (struct ctl_units *u, int unit);

/* Print the table of devices of a stats reply on stdout, in the
 * server's order (preferred first), with a Total row when there is
 * more than one device.
 */
extern void ctl_print_list (json_object *stats, const struct ctl_units *u);

/* Print the one "total:" line of a summary reply on stdout. */
extern void ctl_print_summary (json_object *summary,
                               const struct ctl_units *u);

/* Print the exports of an exports reply on stdout: a table (-l), or a
 * line each (-s).  ctl-export.c.
 */
extern void ctl_print_exports (json_object *reply,
                               const struct ctl_units *u);
extern void ctl_print_export_lines (json_object *reply,
                                    const struct ctl_units *u);

/* bytes in the units of u, as a string in buf. */
extern void ctl_format_amount (char *buf, size_t n, uint64_t bytes,
                               const struct ctl_units *u);

/* Print nrows rows of ncols cells (row-major, malloc'd; freed here),
 * every column as wide as its widest cell, two spaces apart; left[c]:
 * column c is aligned left, else right.
 */
extern void ctl_print_table (char **cells, size_t nrows, size_t ncols,
                             const bool *left);

/* strdup, or exit through ctl_nomem. */
extern char *ctl_xstrdup (const char *s);

/* Read member key of obj as a non-negative integer (0 if absent or
 * negative) or as a string (dflt if absent).
 */
extern uint64_t ctl_json_u64 (json_object *obj, const char *key);
extern const char *ctl_json_str (json_object *obj, const char *key,
                                 const char *dflt);

#endif /* SWAPDRUMCTL_PRINT_H */
