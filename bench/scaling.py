# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""Pooling scales (issue 14, item 2): N = 1, 2, 4, 8 remote devices at
one priority, each an nbdkit memory server behind the delay filter (1
ms a request, or --scaling-delay MS), maxactive=2; 4 KiB random
writes, then reads, over a region of 64 MiB of one export, from one
connection at QD32 (how a Linux nbd-client and swapdrum-attach attach
by default), from 4 connections x QD8 and from 16 x QD2
(swapdrum-attach -C 16), in the serialized model (Debian 12's default)
and with parallel=true (Debian 13's).  N devices should give about N
times one (goal: >= 0.8 N).  Then a mixed pool: a local file of 16 MiB at
priority 0, full after the fill, and the 4 remotes at priority 5, so
that three quarters of the region overflows to the remotes ("4+local").

At 1 ms, N = 8 asks for 16,000 requests a second, more than a 2-core
machine running fio, swapdrum and eight remote servers can turn
around; a longer delay (10 ms: 1,600 at N = 8) keeps the machine out
of the measurement, so that it shows the pool's own share.

Records: {"type": "scaling", "n", "model", "clients", "rw", "rep",
"iops", "delay_ms"} (records without delay_ms are from 1 ms runs)."""

import os
import statistics
import subprocess

import fiojob
import servers

MIB = 1 << 20
REMOTE = 256 * MIB
REGION = 64 * MIB
NS = [1, 2, 4, 8]
MODELS = [("serialized", "parallel=false"), ("parallel", "parallel=true")]
LOCAL = 16 * MIB
CLIENTS = [("1xQD32", 1, 32), ("4xQD8", 4, 8), ("16xQD2", 16, 2)]
RWS = [("write", "randwrite"), ("read", "randread")]


def _remotes(cfg, n):
    procs, devs = [], []
    for i in range(n):
        sock = os.path.join(cfg.workdir, "scale-remote%d.sock" % i)
        if os.path.exists(sock):
            os.unlink(sock)
        p = subprocess.Popen(
            ["nbdkit", "-f", "--exit-with-parent", "-U", sock,
             "--filter=delay", "memory", "%d" % REMOTE,
             "delay-read=%dms" % cfg.scaling_delay,
             "delay-write=%dms" % cfg.scaling_delay],
            stdin=subprocess.DEVNULL)
        uri = "nbd+unix:///?socket=" + sock
        servers.wait_ready(uri, p)
        procs.append(p)
        devs.append(uri + ",maxactive=2")
    return procs, devs


def _stop(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(cfg, emit, say):
    for n in NS:
        for model, arg in MODELS:
            _run_one(cfg, emit, say, n, model, arg)
    for model, arg in MODELS:
        _run_one(cfg, emit, say, 4, model, arg, mixed=True)


def _run_one(cfg, emit, say, n, model, arg, mixed=False):
    remotes, devs = _remotes(cfg, n)
    if mixed:
        local = os.path.join(cfg.dirs["disk"], "scale-local.img")
        if os.path.exists(local):
            os.unlink(local)
        devs = ["%s,create=%d" % (local, LOCAL)] + \
            [d + ",priority=5" for d in devs]
        n = "%d+local" % n
    sock = os.path.join(cfg.workdir, "scale.sock")
    log = open(os.path.join(cfg.workdir, "scaling-nbdkit.log"), "a")
    proc = subprocess.Popen(
        ["nbdkit", "-f", "--exit-with-parent", "-U", sock, cfg.plugin]
        + devs + ["new-pool=true", "admin=off", arg],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    uri = "nbd+unix:///?socket=" + sock
    try:
        servers.wait_ready(uri, proc)
        out = os.path.join(cfg.workdir, "scale")
        fiojob.fill(uri, REGION, out + ".fill.json")
        for rep in range(cfg.reps):
            for clients, jobs, qd in CLIENTS:
                for rw, fio_rw in RWS:
                    row = fiojob.Row("scale-%s-%s" % (clients, rw),
                                     "4 KiB random %s, %s" % (rw, clients),
                                     fio_rw, "4k", qd, numjobs=jobs)
                    r = fiojob.run(uri, row, REGION, cfg.runtime,
                                   out + ".json")
                    emit({"type": "scaling", "n": n, "model": model,
                          "clients": clients, "rw": rw, "rep": rep,
                          "iops": r["iops"],
                          "delay_ms": cfg.scaling_delay})
                    say("scaling N=%s %s %s %s rep %d, %d ms: %.0f IOPS"
                        % (n, model, clients, rw, rep, cfg.scaling_delay,
                           r["iops"]))
    finally:
        _stop([proc])
        _stop(remotes)
        if os.path.exists(sock):
            os.unlink(sock)


def section(recs):
    """The report's section, one table per remote delay: IOPS (median
    over repetitions) and the speed-up over N = 1, with a bar per
    cell."""
    rows = [r for r in recs if r["type"] == "scaling"]
    out = []
    for delay in sorted({r.get("delay_ms", 1) for r in rows}):
        out += _table(delay, [r for r in rows
                              if r.get("delay_ms", 1) == delay])
    return out


def _table(delay, rows):
    cols = NS + ["4+local"]
    out = ["## Pooling scales (%d ms a request)" % delay, "",
           "N remote devices at one priority (nbdkit memory behind the "
           "delay filter, %d ms a request, maxactive=2 each), 4 KiB random "
           "I/O over %d MiB of one export. Median IOPS over repetitions; "
           "x: over N = 1 in the same column (goal: >= 0.8 N)."
           % (delay, REGION // MIB), "",
           "| model | clients | I/O | " +
           " | ".join("N = %s" % n for n in cols) + " |",
           "|---|---|---|" + "---:|" * len(cols)]
    chart = ["", "```"]
    for model, _ in MODELS:
        for clients, _, _ in CLIENTS:
            for rw, _ in RWS:
                cell = {}
                for n in cols:
                    xs = [r["iops"] for r in rows
                          if (r["n"], r["model"], r["clients"], r["rw"])
                          == (n, model, clients, rw)]
                    if xs:
                        cell[n] = statistics.median(xs)
                if 1 not in cell:
                    continue
                out.append("| %s | %s | %s | %s |" % (
                    model, clients, rw, " | ".join(
                        "%.0f (%.2fx)" % (cell[n], cell[n] / cell[1])
                        if n in cell else "" for n in cols)))
                chart.append("%-10s %-6s %-5s" % (model, clients, rw))
                for n in cols:
                    if n in cell:
                        x = cell[n] / cell[1]
                        chart.append("   N=%-7s %-32s %.2fx" % (
                            n, "#" * int(round(x * 4)), x))
    return out + chart + ["```", ""]
