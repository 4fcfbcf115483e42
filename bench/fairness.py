# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""Fairness between exports (issue 13, item 4): one pool of one
device, two exports.  A probe client on export "probe" runs 4 KiB
random reads at QD1, then 4 KiB random overwrites at QD1, first alone,
then while a flood client on export "flood" writes 4 KiB random pages
with 4 connections x QD32.  Each in the serialized model (Debian 12's
default) and with parallel=true (Debian 13's), on two devices:

  file    a 1 GiB file (page cache): no gate is full; what the probe
          waits for is CPU, shared with the flood's threads and fio;
  remote  an nbdkit memory server behind the delay filter (1 ms a
          request), maxactive=2: the device's gate is the bottleneck,
          and how it shares its places decides the probe's wait.

The figure is the probe's p99 under the flood divided by its p99 alone
(goal: <= 2).

Records: {"type": "fairness", "device", "model", "probe", "rep",
"alone_p99_ns", "flooded_p99_ns", "ratio", "flood_iops"}."""

import os
import subprocess
import threading

import fiojob
import servers
from summary import spread

MIB = 1 << 20
DEVICE = 1024 * MIB
EXPORT = 384 * MIB

PROBES = [
    fiojob.Row("probe-rr4k-q1", "4 KiB random read, QD1", "randread",
               "4k", 1),
    fiojob.Row("probe-ow4k-q1", "4 KiB random overwrite, QD1",
               "randwrite", "4k", 1),
]
FLOOD = fiojob.Row("flood-w4k", "4 KiB random write, 4 x QD32",
                   "randwrite", "4k", 32, numjobs=4)
MODELS = [("serialized", "parallel=false"), ("parallel", "parallel=true")]
DEVICES = ["file", "remote"]
REMOTE_DELAY = "1ms"


def _remote(cfg):
    """An nbdkit memory server behind the delay filter; returns (proc,
    its URI as a swapdrum device with maxactive=2)."""
    sock = os.path.join(cfg.workdir, "fair-remote.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    cmd = ["nbdkit", "-f", "--exit-with-parent", "-U", sock,
           "--filter=delay", "memory", "%d" % DEVICE,
           "delay-read=" + REMOTE_DELAY, "delay-write=" + REMOTE_DELAY]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    uri = "nbd+unix:///?socket=" + sock
    servers.wait_ready(uri, proc)
    return proc, uri + ",maxactive=2"


def _start(cfg, dev, sock, model_arg):
    cmd = ["nbdkit", "-f", "--exit-with-parent", "-U", sock, cfg.plugin,
           dev, "export=probe,size=%d" % EXPORT,
           "export=flood,size=%d" % EXPORT, "admin=off", model_arg]
    log = open(os.path.join(cfg.workdir, "fairness-nbdkit.log"), "a")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    uri = {e: "nbd+unix:///%s?socket=%s" % (e, sock)
           for e in ("probe", "flood")}
    servers.wait_ready(uri["probe"], proc)
    return proc, uri


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _flooded(cfg, uri, probe, out):
    """Run probe on uri["probe"] while the flood runs on uri["flood"]
    (started first, running a second longer on each side)."""
    res = {}

    def flood():
        res["flood"] = fiojob.run(uri["flood"], FLOOD, EXPORT,
                                  cfg.runtime + 2, out + ".flood.json")

    t = threading.Thread(target=flood)
    t.start()
    threading.Event().wait(1.0)
    res["probe"] = fiojob.run(uri["probe"], probe, EXPORT, cfg.runtime,
                              out + ".probe.json")
    t.join()
    return res["probe"], res["flood"]


def run(cfg, emit, say):
    for device in DEVICES:
        for model, arg in MODELS:
            _run_one(cfg, emit, say, device, model, arg)


def _run_one(cfg, emit, say, device, model, arg):
    sock = os.path.join(cfg.workdir, "fair.sock")
    remote = None
    if device == "file":
        dev = os.path.join(cfg.dirs["disk"], "fair.img")
        servers.write_zeros(dev, DEVICE)
    else:
        remote, dev = _remote(cfg)
    proc, uri = _start(cfg, dev, sock, arg)
    try:
        _measure(cfg, emit, say, device, model, uri)
    finally:
        _stop(proc)
        if remote:
            _stop(remote)
        if os.path.exists(sock):
            os.unlink(sock)


def _measure(cfg, emit, say, device, model, uri):
    out = os.path.join(cfg.workdir, "fair")
    # Both exports fully written: the probe reads data, the flood
    # overwrites (no allocation in the measured part).
    for e in ("probe", "flood"):
        fiojob.fill(uri[e], EXPORT, out + ".fill.json")
    for rep in range(cfg.reps):
        for probe in PROBES:
            alone = fiojob.run(uri["probe"], probe, EXPORT, cfg.runtime,
                               out + ".alone.json")
            flooded, flood = _flooded(cfg, uri, probe, out)
            ratio = flooded["p99_ns"] / alone["p99_ns"]
            emit({"type": "fairness", "device": device, "model": model,
                  "probe": probe.key, "what": probe.what, "rep": rep,
                  "alone_p99_ns": alone["p99_ns"],
                  "flooded_p99_ns": flooded["p99_ns"], "ratio": ratio,
                  "flood_iops": flood["iops"]})
            say("fairness %s %s %s rep %d: p99 %.0f us alone, %.0f us "
                "flooded (%.1fx; flood %.0f IOPS)"
                % (device, model, probe.key, rep, alone["p99_ns"] / 1e3,
                   flooded["p99_ns"] / 1e3, ratio, flood["iops"]))


def section(recs):
    """The report's section: median (min-max) over repetitions."""
    rows = [r for r in recs if r["type"] == "fairness"]
    if not rows:
        return []
    out = ["## Fairness between exports", "",
           "One device, two exports of %d MiB. The probe runs alone, "
           "then while the flood writes 4 KiB random pages on the other "
           "export with 4 connections x QD32. Devices: a 1 GiB file, "
           "and a remote (nbdkit memory behind the delay filter, %s a "
           "request, maxactive=2). Ratio: the probe's p99 under the "
           "flood over its p99 alone (goal: <= 2). Median (min-max) "
           "over repetitions." % (EXPORT // MIB, REMOTE_DELAY), "",
           "| device | model | probe | p99 alone, µs | p99 flooded, µs | "
           "ratio | flood IOPS |", "|---|---|---|---:|---:|---:|---:|"]
    models = [m for m, _ in MODELS]
    keys = sorted({(r.get("device", "file"), r["model"], r["probe"])
                   for r in rows},
                  key=lambda k: (k[0], models.index(k[1]), k[2]))
    for device, model, probe in keys:
        rs = [r for r in rows if (r.get("device", "file"), r["model"],
                                  r["probe"]) == (device, model, probe)]
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            device, model, rs[0]["what"],
            spread([r["alone_p99_ns"] for r in rs], scale=1e3),
            spread([r["flooded_p99_ns"] for r in rs], scale=1e3),
            spread([r["ratio"] for r in rs], fmt="%.1f"),
            spread([r["flood_iops"] for r in rs])))
    return out + [""]
