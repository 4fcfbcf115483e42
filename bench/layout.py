# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""Large requests after small first writes (docs/performance.md,
"Scattered pages"): one swapdrum server (serialized, two device files
on disk, a unix socket).  Each repetition, twice:

  ordered   trim the export, write it once with 1 MiB sequential writes;
  random    trim the export, write every 4 KiB page once in random
            order (fio randwrite 4k, QD8, its random map: every page
            exactly once), as a swapping client's single-page first
            writes would;

then run the large-request rows of the matrix on it.  The figure is
the random-order pool's IOPS over the ordered pool's (goal: about 1:
where pages were first written in random order, a large request still
finds them on one run of slots).

Records: {"type": "layout", "fill", "row", "rep", "iops", "p99_ns",
"cpu_us_per_io", "fill_s", "load1"}."""

import os
import subprocess
import time

import fiojob
import servers
import sysinfo
from summary import spread

ROWS = ["r64k-q8", "r256k-q8", "sr1m-q8", "w256k-q8", "sw1m-q8"]
FILLS = ["ordered", "random"]


def _random_fill(uri, size, out):
    """Every page once, 4 KiB, random order."""
    cmd = ["fio", "--name=randomfill", "--ioengine=nbd", "--uri=" + uri,
           "--rw=randwrite", "--bs=4k", "--iodepth=8", "--size=%d" % size,
           "--output-format=json", "--output=" + out]
    subprocess.run(cmd, capture_output=True, check=True)


def _fill(srv, fill, cfg, out):
    t0 = time.time()
    fiojob.trim_all(srv.uri)
    if fill == "ordered":
        fiojob.fill(srv.uri, cfg.size, out)
    else:
        _random_fill(srv.uri, cfg.size, out)
    return time.time() - t0


def run(cfg, emit, say):
    srv = servers.Server("swapdrum", "serial", cfg.dirs["disk"], cfg.size,
                         cfg.plugin, cfg.workdir)
    srv.prepare()
    srv.start("unix")
    out = os.path.join(cfg.workdir, "layout.json")
    try:
        for rep in range(cfg.reps):
            for fill in FILLS:
                fill_s = _fill(srv, fill, cfg, out)
                for key in ROWS:
                    row = fiojob.BY_KEY[key]
                    os.sync()
                    load = sysinfo.loadavg()[0]
                    cpu0 = sysinfo.cpu_seconds(srv.pid)
                    r = fiojob.run(srv.uri, row, cfg.size, cfg.runtime, out)
                    cpu1 = sysinfo.cpu_seconds(srv.pid)
                    emit({"type": "layout", "fill": fill, "row": key,
                          "what": row.what, "rep": rep, "iops": r["iops"],
                          "p99_ns": r["p99_ns"], "fill_s": fill_s,
                          "load1": load,
                          "cpu_us_per_io": (cpu1 - cpu0) / r["ios"] * 1e6
                          if r["ios"] else None})
                    say("layout rep %d %s %s: %.0f IOPS"
                        % (rep, fill, key, r["iops"]))
    finally:
        srv.stop()


def section(recs):
    """The report's section: median (min-max) over repetitions."""
    rows = [r for r in recs if r["type"] == "layout"]
    if not rows:
        return []
    out = ["## Large requests after random first writes", "",
           "swapdrum serialized, disk, unix socket. The export is "
           "trimmed and written once, either with 1 MiB sequential "
           "writes (ordered) or every 4 KiB page once in random order "
           "(random); then the large-request rows run on it. Ratio: "
           "random over ordered IOPS (goal: about 1). Median (min-max) "
           "over repetitions.", "",
           "| row | ordered IOPS | random IOPS | ratio | CPU µs/req "
           "ordered | random |", "|---|---:|---:|---:|---:|---:|"]

    def get(key, fill, field):
        return [r[field] for r in rows
                if r["row"] == key and r["fill"] == fill
                and r[field] is not None]

    for key in ROWS:
        o, f = get(key, "ordered", "iops"), get(key, "random", "iops")
        if not o or not f:
            continue
        ratios = [b / a for a, b in zip(o, f)]
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            key, spread(o), spread(f), spread(ratios, "%.2f"),
            spread(get(key, "ordered", "cpu_us_per_io"), "%.1f"),
            spread(get(key, "random", "cpu_us_per_io"), "%.1f")))
    return out + [""]
