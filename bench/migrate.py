# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""Swap-off migration: how fast `swapdrumctl -d` moves a device's pages
to the other device, alone and while a client does I/O, what it does to
that client's latency, and nbdcopy's rate on the same amount of data.

The pool is two written files on disk, A (priority 0) and B (priority
5).  The export (as large as the data) is filled sequentially, so all
of it lives on the device in use.  Each repetition removes the device
holding the data and adds it back, so the data goes A -> B, then
B -> A, and so on:

  alone    swapdrumctl -d, timed;
  base     the client alone for a few seconds (its p99 without);
  client   the client again, and 1.5 s into it the next swap-off; the
           client's p99 over the I/Os that completed while it ran.

The client is a swap-like load: 4 KiB random reads and writes over the
whole export, 4 in flight, rate-limited (RATE reads and RATE writes a
second), so that its latency measures interference, not saturation.
Its per-I/O completion latencies come from fio's log (unix epoch
timestamps), the swap-off's window from our own clock."""

import json
import os
import subprocess
import threading
import time

import servers
import sysinfo

MIB = 1 << 20
RATE = 2500


def _ctl(cfg, admin, *args):
    """Run swapdrumctl against admin; returns (seconds, last JSON)."""
    t0 = time.time()
    r = subprocess.run([cfg.swapdrumctl, "-S", admin, "--json"] +
                       list(args), capture_output=True, text=True)
    dt = time.time() - t0
    if r.returncode != 0:
        raise RuntimeError("swapdrumctl %s: %s"
                           % (" ".join(args), r.stderr.strip()))
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    return dt, json.loads(lines[-1]) if lines else {}


def _client_cmd(uri, size, seconds, logprefix, out):
    return ["fio", "--name=client", "--ioengine=nbd", "--uri=" + uri,
            "--rw=randrw", "--bs=4k", "--iodepth=4", "--size=%d" % size,
            "--time_based", "--runtime=%g" % seconds, "--norandommap",
            "--rate_iops=%d" % RATE, "--write_lat_log=" + logprefix,
            "--log_avg_msec=0", "--log_unix_epoch=1",
            "--output-format=json", "--output=" + out]


def _latencies(logprefix):
    """(epoch ms, ns) of every completion in the client's clat log."""
    out = []
    with open(logprefix + "_clat.1.log") as f:
        for line in f:
            parts = line.split(",")
            out.append((int(parts[0]), int(parts[1])))
    return out


def pctl(values, p):
    """The p-th percentile (nearest rank) of values, or None."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def _client(cfg, uri, seconds, tag):
    """Run the client for seconds; returns its latencies."""
    prefix = os.path.join(cfg.workdir, "lat-" + tag)
    for suffix in ("_clat.1.log", "_lat.1.log", "_slat.1.log"):
        if os.path.exists(prefix + suffix):
            os.unlink(prefix + suffix)
    out = os.path.join(cfg.workdir, "client-%s.json" % tag)
    subprocess.run(_client_cmd(uri, cfg.migrate_bytes, seconds, prefix,
                               out), check=True, capture_output=True)
    return _latencies(prefix)


def _swapoff_under_client(cfg, uri, admin, path, seconds, delay=1.5):
    """Start the client, swap off path after delay; returns (window
    start, end, seconds, reply, latencies)."""
    box = {}

    def client():
        box["lat"] = _client(cfg, uri, seconds, "client")
    th = threading.Thread(target=client)
    th.start()
    time.sleep(delay)
    t0 = time.time()
    dt, reply = _ctl(cfg, admin, "-d", path)
    t1 = time.time()
    th.join()
    return t0, t1, dt, reply, box["lat"]


def _nbdcopy(cfg, emit, say, src_uri, d):
    """nbdcopy of the same amount of data: file to file, and export to
    export (two nbdkit file servers on unix sockets); destinations
    written beforehand, as swapdrum's devices are."""
    n = cfg.migrate_bytes
    src, dst = os.path.join(d, "copy-src.img"), os.path.join(d,
                                                             "copy-dst.img")
    servers.write_zeros(dst, n)
    # The source holds the data the pool holds (fio's non-zero buffers;
    # nbdcopy skips zero blocks, so zeros would flatter it).
    subprocess.run(["nbdcopy", src_uri, src], check=True)
    exps = []
    try:
        for name, path in (("src", src), ("dst", dst)):
            sock = os.path.join(d, "copy-%s.sock" % name)
            p = subprocess.Popen(["nbdkit", "-f", "--exit-with-parent",
                                  "-U", sock, "file", "file=" + path],
                                 stdin=subprocess.DEVNULL)
            exps.append(p)
            servers.wait_ready("nbd+unix:///?socket=" + sock, p)
        pairs = [("file-to-file", src, dst),
                 ("nbd-to-nbd", "nbd+unix:///?socket=%s/copy-src.sock" % d,
                  "nbd+unix:///?socket=%s/copy-dst.sock" % d)]
        for rep in range(cfg.reps):
            for how, a, b in pairs:
                os.sync()
                load = sysinfo.loadavg()[0]
                t0 = time.time()
                subprocess.run(["nbdcopy", a, b], check=True)
                dt = time.time() - t0
                emit({"type": "nbdcopy", "how": how, "rep": rep,
                      "bytes": n, "seconds": dt, "mib_s": n / MIB / dt,
                      "load1": load})
                say("migrate: nbdcopy %s: %.0f MiB/s"
                    % (how, n / MIB / dt))
    finally:
        for p in exps:
            p.terminate()
            p.wait()


def _start_pool(cfg, d, dev, prio, admin, sock):
    size = cfg.migrate_bytes
    for path in dev.values():
        servers.write_zeros(path, size + 16 * MIB)
    cmd = ["nbdkit", "-f", "--exit-with-parent", "-U", sock, cfg.plugin,
           "%s,priority=%d" % (dev["A"], prio["A"]),
           "%s,priority=%d" % (dev["B"], prio["B"]),
           "size=%d" % size, "admin=" + admin]
    log = open(os.path.join(cfg.workdir, "migrate-nbdkit.log"), "a")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    uri = "nbd+unix:///?socket=" + sock
    servers.wait_ready(uri, proc)
    return proc, uri


def run(cfg, emit, say):
    d = cfg.dirs["disk"]
    n = cfg.migrate_bytes
    dev = {"A": os.path.join(d, "mig-a.img"),
           "B": os.path.join(d, "mig-b.img")}
    prio = {"A": 0, "B": 5}
    admin, sock = os.path.join(d, "mig-admin.sock"), \
        os.path.join(d, "mig.sock")
    proc, uri = _start_pool(cfg, d, dev, prio, admin, sock)
    try:
        say("migrate: filling %d MiB" % (n // MIB))
        subprocess.run(["fio", "--name=fill", "--ioengine=nbd",
                        "--uri=" + uri, "--rw=write", "--bs=1m",
                        "--iodepth=8", "--size=%d" % n,
                        "--output=" + os.path.join(cfg.workdir,
                                                   "mig-fill.txt")],
                       check=True, capture_output=True)
        holder = "A"
        for rep in range(cfg.reps):
            holder = _one_rep(cfg, emit, say, rep, uri, admin, dev, prio,
                              holder)
        _nbdcopy(cfg, emit, say, uri, d)
    finally:
        proc.terminate()
        proc.wait()
        for path in dev.values():
            os.unlink(path)


def _move(cfg, admin, dev, prio, holder):
    """The name of the device that holds the data after holder is
    swapped off, once holder is back in the pool."""
    _ctl(cfg, admin, "-a", "-p", str(prio[holder]), dev[holder])
    return "B" if holder == "A" else "A"


def _one_rep(cfg, emit, say, rep, uri, admin, dev, prio, holder):
    """One alone / base / client round; returns the new holder."""
    n = cfg.migrate_bytes
    os.sync()
    load = sysinfo.loadavg()[0]
    dt, reply = _ctl(cfg, admin, "-d", dev[holder])
    emit({"type": "migrate", "client": False, "rep": rep, "bytes": n,
          "from": holder, "seconds": dt, "mib_s": n / MIB / dt,
          "moved": reply.get("moved"), "load1": load})
    say("migrate: swap-off of %s alone: %.0f MiB/s" % (holder,
                                                       n / MIB / dt))
    holder = _move(cfg, admin, dev, prio, holder)

    seconds = 1.5 + max(3.0, 4 * dt) + 1.0
    os.sync()
    load = sysinfo.loadavg()[0]
    base = [ns for _, ns in _client(cfg, uri, seconds, "base")]
    emit({"type": "client", "rep": rep, "seconds": seconds,
          "rate_iops": 2 * RATE, "ios": len(base),
          "p99_ns": pctl(base, 99), "p50_ns": pctl(base, 50),
          "max_ns": max(base) if base else None, "load1": load})

    os.sync()
    load = sysinfo.loadavg()[0]
    t0, t1, dt, reply, lat = _swapoff_under_client(
        cfg, uri, admin, dev[holder], seconds)
    during = [ns for ms, ns in lat if t0 * 1000 <= ms <= t1 * 1000]
    emit({"type": "migrate", "client": True, "rep": rep, "bytes": n,
          "from": holder, "seconds": dt, "mib_s": n / MIB / dt,
          "moved": reply.get("moved"), "load1": load,
          "client_ios_during": len(during),
          "client_p99_during_ns": pctl(during, 99),
          "client_p50_during_ns": pctl(during, 50),
          "client_max_during_ns": max(during) if during else None,
          "client_p99_base_ns": pctl(base, 99),
          # The window is short: the report pools these over the
          # repetitions for its p99.
          "client_during_ns": sorted(during)})
    say("migrate: swap-off of %s under the client: %.0f MiB/s, client "
        "p99 %s us during (%d I/Os), %s us without"
        % (holder, n / MIB / dt,
           (pctl(during, 99) or 0) // 1000, len(during),
           (pctl(base, 99) or 0) // 1000))
    return _move(cfg, admin, dev, prio, holder)
