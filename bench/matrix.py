# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""The throughput matrix: every row on every server, interleaved.

A cell is a storage (files on disk, or on tmpfs to expose CPU cost)
and a transport (unix socket or TCP loopback).  For each repetition
and each cell, all of the cell's servers are started on their own
backing files in the same directory; then each row runs on each
server in turn before the next row starts, the servers' order rotated
every repetition, so that whatever else the machine does hits every
server alike.  Every job starts with the page cache written back
(sync), so every server's writes dirty clean pages.  Each fio job is
one JSON line in the results file, with the server's CPU time and the
load average taken with it."""

import os
import time

import fiojob
import servers
import sysinfo

SER = [("swapdrum", "serial"), ("file", "serial"),
       ("qemu-nbd", "native"), ("nbd-server", "native")]
PAR = [("swapdrum", "parallel"), ("file", "parallel")]


class Cell:
    """rows: row keys; parallel_rows: those of them that also run on
    the parallel-mode servers (all rows if None)."""

    def __init__(self, storage, transport, rows, parallel_rows=None):
        self.storage, self.transport = storage, transport
        self.rows = rows
        self.parallel_rows = rows if parallel_rows is None \
            else parallel_rows

    def servers_for(self, key):
        return SER + (PAR if key in self.parallel_rows else [])

    def kinds(self):
        out = []
        for key in self.rows:
            for km in self.servers_for(key):
                if km not in out:
                    out.append(km)
        return out


def default_cells():
    """The default run (36 minutes here with --reps 5, about 25 with the
    default 3): every row in both modes on disk over a unix socket, the
    cell a swap pool mostly runs in; and the rows the targets are most
    sensitive to over TCP, and on tmpfs to expose CPU cost."""
    keys = [r.key for r in fiojob.ROWS]
    return [
        Cell("disk", "unix", keys),
        Cell("disk", "tcp", ["rr4k-q1", "rr4k-q32", "ow4k-q32"], []),
        Cell("tmpfs", "unix",
             ["rr4k-q1", "rr4k-q32", "fw4k-q32", "ow4k-q32", "ow4k-q1"],
             []),
    ]


def full_cells():
    """Everything: every row, both modes, both storages, both
    transports."""
    keys = [r.key for r in fiojob.ROWS]
    return [Cell(s, t, keys) for s in ("disk", "tmpfs")
            for t in ("unix", "tcp")]


def _job(srv, row, cfg, rep, cell, emit):
    """Run one row on one started server and emit its record."""
    if row.first and srv.kind == "swapdrum":
        fiojob.trim_all(srv.uri)
    out = os.path.join(cfg.workdir, "fio-%s.json" % srv.base)
    # Write back every dirty page first.  On a disk file system a 4 KiB
    # write that dirties a clean page-cache page costs several times
    # one that re-dirties a dirty page; without this, which server got
    # which depended on when the flusher last ran.
    t_sync = time.time()
    os.sync()
    t_sync = time.time() - t_sync
    load = sysinfo.loadavg()
    cpu0 = sysinfo.cpu_seconds(srv.pid)
    t0 = time.time()
    rec = {"type": "fio", "rep": rep, "storage": cell.storage,
           "fs": sysinfo.fs_type(cfg.dirs[cell.storage]),
           "transport": cell.transport, "row": row.key,
           "server": srv.label, "kind": srv.kind, "mode": srv.mode,
           "load1": load[0], "t": t0, "sync_s": t_sync}
    try:
        rec.update(fiojob.run(srv.uri, row, cfg.size, cfg.runtime, out))
    except Exception as e:  # one failed job must not end the run
        rec.update(type="error", error=str(e))
        emit(rec)
        return
    cpu1 = sysinfo.cpu_seconds(srv.pid)
    rec["wall_s"] = time.time() - t0
    rec["load1_after"] = sysinfo.loadavg()[0]
    if cpu0 is not None and cpu1 is not None and rec["ios"]:
        rec["server_cpu_s"] = cpu1 - cpu0
        rec["cpu_us_per_io"] = (cpu1 - cpu0) / rec["ios"] * 1e6
    emit(rec)


def _start(cell, cfg, rep, emit):
    """Start the cell's servers; swapdrum's exports are trimmed and
    then get a sequential fill, so that every row reads mapped pages
    (unmapped pages read as zeros without I/O, which would flatter it)
    laid out in order on the devices.  The trim matters from the second
    repetition on: swapdrum recovers its pool from the previous
    repetition's files, where the fw4k rows' random first writes left
    consecutive pages on scattered slots, and a fill over mapped pages
    overwrites them in place.  Scattered pages cost a large request one
    device I/O per page (docs/performance.md, "Scattered pages")."""
    started = []
    try:
        for kind, mode in cell.kinds():
            srv = servers.Server(kind, mode, cfg.dirs[cell.storage],
                                 cfg.size, cfg.plugin, cfg.workdir)
            srv.prepare()
            srv.start(cell.transport)
            started.append(srv)
            if rep == 0:
                emit({"type": "server", "server": srv.label,
                      "storage": cell.storage,
                      "transport": cell.transport, "cmd": srv.cmd,
                      "conf": srv.conf})
            if kind == "swapdrum":
                fiojob.trim_all(srv.uri)
                fiojob.fill(srv.uri, cfg.size,
                            os.path.join(cfg.workdir, "fill.json"))
    except Exception:
        for srv in started:
            srv.stop()
        raise
    return started


def run(cfg, cells, emit, say):
    """Every cell, cfg.reps times, interleaved as described above."""
    for rep in range(cfg.reps):
        for cell in cells:
            say("matrix: repetition %d/%d, %s/%s"
                % (rep + 1, cfg.reps, cell.storage, cell.transport))
            started = _start(cell, cfg, rep, emit)
            try:
                by_kind = {(s.kind, s.mode): s for s in started}
                for key in cell.rows:
                    row = fiojob.BY_KEY[key]
                    order = [by_kind[km] for km in cell.servers_for(key)]
                    k = rep % len(order)
                    for srv in order[k:] + order[:k]:
                        _job(srv, row, cfg, rep, cell, emit)
            finally:
                for srv in started:
                    srv.stop()
