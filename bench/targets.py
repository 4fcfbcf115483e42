# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""The issue's targets, judged from the results, and the sections of
the report on migration, memory and the profiles."""

import statistics

import fiojob

MIB = 1 << 20

# The numbers.
VS_FILE = 0.95        # overwrite and read IOPS against nbdkit file
VS_OTHERS = 1.0       # ... against qemu-nbd and nbd-server
FIRST_VS_OVER = 0.85  # first writes against overwrites
P99_VS_FILE = 1.1     # p99 at iodepth 32 against nbdkit file
MIG_VS_COPY = 0.5     # migration under clients against nbdcopy
P99_DURING = 2.0      # client p99 during migration against without
DENSE_BYTES = 10      # per mapped 4 KiB page, written densely (issue 14)
RANDOM_BYTES = 32     # per page at random over a 1 TiB export (issue 14)
FIXED_MIB = 16        # for a 1 TiB export


def _med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _verdict(ok, value, limit, higher_is_better=True):
    if ok:
        return "met"
    if higher_is_better:
        return "**missed** by %.0f%%" % ((limit - value) / limit * 100)
    return "**missed** by %.0f%%" % ((value - limit) / limit * 100)


def _ratio_target(rrows, name, limit, want):
    """(measured summary, verdict, misses) for a ratio target over the
    rows want(row) selects."""
    vals, misses = [], []
    for cell, row, mode, rs, _ in rrows:
        t = rs.get(name)
        if t is None or not want(row):
            continue
        vals.append(t[0])
        if t[0] < limit:
            misses.append("%s/%s %s %s: %.2f (%.2f–%.2f)"
                          % (cell + (row, mode) + t))
    if not vals:
        return "-", "not measured", []
    worst = min(vals)
    return ("%d of %d rows ≥ %.2f; worst %.2f"
            % (len(vals) - len(misses), len(vals), limit, worst),
            _verdict(not misses, worst, limit), misses)


def _first_vs_over(mx):
    vals, misses, labels = [], [], []
    for cell in mx.cells:
        for q in ("q32", "q1"):
            for mode in ("serial", "parallel"):
                srv = "swapdrum/" + mode
                fw = mx.get(cell, "fw4k-" + q, srv)
                ow = mx.get(cell, "ow4k-" + q, srv)
                if not fw or not ow:
                    continue
                mf = _med(r["iops"] for r in fw.values())
                mo = _med(r["iops"] for r in ow.values())
                per = [fw[k]["iops"] / ow[k]["iops"] for k in fw if k in ow]
                t = (mf / mo, min(per), max(per))
                vals.append(t[0])
                labels.append("%s/%s %s %s %.2f" % (cell + (q, mode, t[0])))
                if t[0] < FIRST_VS_OVER:
                    misses.append("%s/%s %s %s: %.2f (%.2f–%.2f)"
                                  % (cell + (q, mode) + t))
    if not vals:
        return "-", "not measured", []
    return ("fw4k / ow4k IOPS: %s" % "; ".join(labels),
            _verdict(not misses, min(vals), FIRST_VS_OVER), misses)


def _p99(rrows):
    vals, misses = [], []
    for cell, row, mode, _, p99 in rrows:
        r = fiojob.BY_KEY.get(row)
        if p99 is None or r is None or r.iodepth != 32 or r.numjobs != 1:
            continue
        vals.append(p99[0])
        if p99[0] > P99_VS_FILE:
            misses.append("%s/%s %s %s: %.2f (%.2f–%.2f)"
                          % (cell + (row, mode) + p99))
    if not vals:
        return "-", "not measured", []
    return ("%d of %d rows ≤ %.1f; worst %.2f"
            % (len(vals) - len(misses), len(vals), P99_VS_FILE, max(vals)),
            _verdict(not misses, max(vals), P99_VS_FILE, False), misses)


def migration_figures(recs):
    """Medians of the migration phase, or None."""
    alone = [r["mib_s"] for r in recs
             if r["type"] == "migrate" and not r["client"]]
    under = [r for r in recs if r["type"] == "migrate" and r["client"]]
    copies = {}
    for r in recs:
        if r["type"] == "nbdcopy":
            copies.setdefault(r["how"], []).append(r["mib_s"])
    if not alone and not under:
        return None
    during = sorted(ns for r in under for ns in r.get("client_during_ns",
                                                        []))
    base = [r["p99_ns"] for r in recs if r["type"] == "client"]
    f = {"alone": alone, "under": [r["mib_s"] for r in under],
         "copies": copies, "during_n": len(during),
         "p99_during": during[min(len(during) - 1,
                                  int(0.99 * len(during)))]
         if during else None,
         "p99_during_reps": [r.get("client_p99_during_ns") for r in under],
         "p99_base": _med(base), "base": base,
         "seconds": [r["seconds"] for r in under],
         "mib": under[0]["bytes"] / MIB if under else None}
    best = max((_med(v) for v in copies.values()), default=None)
    f["copy_best"] = best
    return f


def section(mx, rrows, recs):
    rows = []
    for name, limit, label in (
            ("file", VS_FILE, "overwrite and read IOPS ≥ 0.95 × nbdkit "
             "file, every row"),
            ("qemu-nbd", VS_OTHERS, "overwrite and read IOPS ≥ 1.0 × "
             "qemu-nbd"),
            ("nbd-server", VS_OTHERS, "overwrite and read IOPS ≥ 1.0 × "
             "nbd-server")):
        rows.append((label,) + _ratio_target(
            rrows, name, limit, lambda r: not r.startswith("fw")))
    rows.append(("first writes ≥ 0.85 × overwrites (swapdrum)",)
                + _first_vs_over(mx))
    rows.append(("p99 at iodepth 32 ≤ 1.1 × nbdkit file",) + _p99(rrows))
    m = migration_figures(recs)
    if m and m["copy_best"]:
        v = _med(m["under"]) / m["copy_best"]
        rows.append(("migration under client I/O ≥ 0.5 × nbdcopy",
                     "%.0f MiB/s vs nbdcopy %.0f MiB/s: %.2f"
                     % (_med(m["under"]), m["copy_best"], v),
                     _verdict(v >= MIG_VS_COPY, v, MIG_VS_COPY), []))
    if m and m["p99_during"] and m["p99_base"]:
        v = m["p99_during"] / m["p99_base"]
        rows.append(("client p99 during migration ≤ 2 × without",
                     "%.0f µs vs %.0f µs: %.1f×"
                     % (m["p99_during"] / 1000, m["p99_base"] / 1000, v),
                     _verdict(v <= P99_DURING, v, P99_DURING, False), []))
    mem = next((r for r in recs if r["type"] == "memory"), None)
    if mem:
        dense = mem["seq_bytes_per_page"] / DENSE_BYTES
        rand = mem["random_bytes_per_page"] / RANDOM_BYTES
        worst = max(dense, rand)
        rows.append(("map ≤ %d bytes per page written densely, ≤ %d at "
                     "random over a 1 TiB export" % (DENSE_BYTES,
                                                     RANDOM_BYTES),
                     "%.1f B sequential, %.1f B random"
                     % (mem["seq_bytes_per_page"],
                        mem["random_bytes_per_page"]),
                     _verdict(worst <= 1, worst, 1, False), []))
        fixed = mem["fixed_kib"] / 1024.0
        rows.append(("< 16 MiB fixed for a 1 TiB export",
                     "%.1f MiB over nbdkit's null plugin (RSS %.1f MiB)"
                     % (fixed, mem["empty_kib"] / 1024.0),
                     _verdict(fixed < FIXED_MIB, fixed, FIXED_MIB, False),
                     []))
    out = ["## Targets", "", "| target | measured | verdict |",
           "|---|---|---|"]
    out += ["| %s | %s | %s |" % r[:3] for r in rows]
    misses = [(r[0], m) for r in rows for m in r[3]]
    if misses:
        out += ["", "Rows that miss (ratio of medians, per-repetition "
                "range):", ""]
        out += ["* %s — %s" % (t, m) for t, m in misses]
    return out + [""]


def migration_section(recs):
    m = migration_figures(recs)
    if not m:
        return []

    def s(xs, scale=1.0):
        xs = [x / scale for x in xs if x is not None]
        if not xs:
            return "-"
        return "%.0f (%.0f–%.0f)" % (statistics.median(xs), min(xs),
                                     max(xs))
    out = ["## Swap-off migration", "",
           "%.0f MiB moved by `swapdrumctl -d` from one file to the other "
           "(on disk, page cache), median (min–max) over repetitions." %
           (m["mib"] or 0), "",
           "| measure | value |", "|---|---|",
           "| migration alone, MiB/s | %s |" % s(m["alone"]),
           "| migration under client I/O, MiB/s | %s |" % s(m["under"]),
           "| migration under client I/O, seconds | %s |" % ", ".join(
               "%.3f" % x for x in m["seconds"])]
    for how, v in sorted(m["copies"].items()):
        out.append("| nbdcopy %s, MiB/s | %s |" % (how, s(v)))
    out += ["| client p99 without migration, µs | %s |" % s(m["base"],
                                                           1000),
            "| client p99 during migration, µs (pooled, %d I/Os) | %.0f |"
            % (m["during_n"], (m["p99_during"] or 0) / 1000),
            "| client p99 during migration per repetition, µs | %s |"
            % ", ".join("%.0f" % (x / 1000) for x in m["p99_during_reps"]
                        if x), ""]
    return out


def memory_section(recs):
    mem = next((r for r in recs if r["type"] == "memory"), None)
    if not mem:
        return []
    return ["## Memory (1 TiB export, VmRSS of nbdkit + swapdrum)", "",
            "| state | RSS KiB | bytes per mapped page |", "|---|---:|---:|",
            "| nbdkit null plugin, 1 TiB (baseline) | %d | |"
            % mem["null_1t_kib"],
            "| swapdrum, empty | %d | |" % mem["empty_kib"],
            "| after 1 GiB sequential (%d pages) | %d | %.1f |"
            % (mem["seq_pages"], mem["seq_kib"], mem["seq_bytes_per_page"]),
            "| after 1 GiB of random 4 KiB writes (%d more pages) | %d | "
            "%.1f |" % (mem["random_pages"], mem["random_kib"],
                        mem["random_bytes_per_page"]),
            "| peak (VmHWM) | %d | |" % mem["hwm_kib"], ""] + \
        _restart_rows(mem)


def _restart_rows(mem):
    """The restarts after the memory runs (the durable map read back)."""
    r = mem.get("restarts")
    if not r:
        return []
    out = ["Restarted on the same devices (2 x 1152 MiB, %d pages written):"
           % (mem["seq_pages"] + mem["random_pages"]), "",
           "| stopped with | serving after | pages mapped again | RSS KiB |",
           "|---|---:|---:|---:|"]
    for how in ("sigterm", "sigkill"):
        if how in r:
            out.append("| %s | %.2f s | %d | %d |" % (
                how.upper(), r[how]["seconds"], r[how]["pages"],
                r[how]["rss_kib"]))
    return out + [""]


def profile_section(recs):
    profs = [r for r in recs if r["type"] == "profile"]
    if not profs:
        return []
    out = ["## Profiles (4 KiB, QD32, unix socket, "
           "serialized: parallel=false)", ""]
    cg = [r for r in profs if r["tool"] == "callgrind"]
    if cg:
        out += ["callgrind, user space only (the kernel's share, the "
                "syscalls, is not counted).", "",
                "| phase | swapdrum instr/req | nbdkit file instr/req | "
                "ratio | swapdrum's three most expensive functions "
                "(self, share of the phase) |", "|---|---:|---:|---:|---|"]
        by = {(r["server"], r["phase"]): r for r in cg}
        for phase in ("first-write", "overwrite", "read"):
            a, b = by.get(("swapdrum", phase)), by.get(("file", phase))
            if not a:
                continue
            top = ", ".join("`%s` %.1f%%" % (fn, 100.0 * ir / a["total_ir"])
                            for ir, fn in a["plugin_self"][:3])
            out.append("| %s | %.0f | %s | %s | %s |" % (
                phase, a["ir_per_io"],
                "%.0f" % b["ir_per_io"] if b else "-",
                "%.2f" % (a["ir_per_io"] / b["ir_per_io"]) if b else "-",
                top))
        out += ["", "Instructions per request by object (self cost): "
                "what the remapping adds over the file plugin.", "",
                "| server | phase | plugin | nbdkit | libc | total |",
                "|---|---|---:|---:|---:|---:|"]
        for r in cg:
            objs = {o: ir / r["ios"] for ir, o in r["by_object"]}
            plug = sum(v for o, v in objs.items() if o.startswith(
                "nbdkit-") and o.endswith("-plugin.so"))
            out.append("| %s | %s | %.0f | %.0f | %.0f | %.0f |" % (
                r["server"], r["phase"], plug, objs.get("nbdkit", 0),
                objs.get("libc.so.6", 0), r["ir_per_io"]))
        out += ["", "Most expensive functions overall (self), swapdrum:",
                ""]
        for r in cg:
            if r["server"] != "swapdrum":
                continue
            out.append("* %s: %s" % (r["phase"], ", ".join(
                "`%s` (%s) %.1f%%" % (fn, obj, 100.0 * ir / r["total_ir"])
                for ir, fn, obj in r["top_self"][:6])))
            out.append("  inclusive in the plugin: %s" % ", ".join(
                "`%s` %.1f%%" % (fn, 100.0 * ir / r["total_ir"])
                for ir, fn in r["plugin_inclusive"][:6]))
    for r in profs:
        if r["tool"] == "perf":
            top = ", ".join("`%s` (%s) %.1f%%" % (t[1], t[2], t[0])
                            for t in r["top_self_pct"][:6])
            out.append("* perf %s %s: %s" % (r["server"], r["phase"], top))
    return out + [""]
