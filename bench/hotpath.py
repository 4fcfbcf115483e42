# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""Profiles of the hot paths: nbdkit with swapdrum in the serialized
thread model (parallel=false, named so that it is the same on every
platform), and for comparison nbdkit's file plugin (same model through
--filter=noparallel), under three 4 KiB phases driven by fio over a
unix socket: first writes (allocation), overwrites, random reads, each
PHASE_IOS requests at QD32 over a 256 MiB region (swapdrum's pool: two
1 GiB files).

With hardware counters (`perf stat -e instructions true` counts), the
server runs under `perf record` and the report names the hottest
symbols.  Without them (virtual machines such as this one) it runs
under callgrind, which counts instructions exactly: the profile is
dumped after each phase (callgrind_control --dump), so each phase's
instructions per request (user space only: callgrind does not see the
kernel) and its most expensive functions are known apart."""

import glob
import os
import re
import signal
import subprocess
import time

import fiojob
import servers
import sysinfo

MIB = 1 << 20
REGION = 256 * MIB
PHASE_IOS = REGION // 4096
PHASES = [
    ("first-write", ["--rw=randwrite"]),
    ("overwrite", ["--rw=randwrite", "--norandommap",
                   "--io_size=%d" % REGION]),
    ("read", ["--rw=randread", "--norandommap", "--io_size=%d" % REGION]),
]
PLUGIN_OBJ = "nbdkit-swapdrum-plugin"


def perf_counts():
    """True if perf can count instructions here."""
    try:
        r = subprocess.run(["perf", "stat", "-x,", "-e", "instructions",
                            "true"], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and "not supported" not in r.stderr \
        and "not counted" not in r.stderr


def _server_cmd(cfg, kind, d, sock):
    if kind == "swapdrum":
        return ["nbdkit", "-f", "-U", sock, cfg.plugin,
                os.path.join(d, "prof-a.img") + ",create=1G",
                os.path.join(d, "prof-b.img") + ",create=1G",
                "size=%d" % REGION, "admin=off", "parallel=false"]
    servers.write_zeros(os.path.join(d, "prof-file.img"), REGION)
    return ["nbdkit", "-f", "-U", sock, "--filter=noparallel", "file",
            "file=" + os.path.join(d, "prof-file.img"),
            "serialize=requests"]


def _phase(uri, args, out):
    cmd = ["fio", "--name=prof", "--ioengine=nbd", "--uri=" + uri,
           "--bs=4k", "--iodepth=32", "--size=%d" % REGION,
           "--output-format=json", "--output=" + out] + args
    subprocess.run(cmd, check=True, capture_output=True)
    d = "write" if "--rw=randwrite" in args else "read"
    return fiojob.parse(out, d)


# "  1,234 (12.34%)  file.c:function [/path/object.so]"
LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?):(\S+)"
                  r"(?:\s+\[(.*)\])?\s*$")


def annotate(path, inclusive=False):
    """[(Ir, function, object)] of a callgrind output file, most
    expensive first, and the total Ir."""
    r = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100",
                        "--inclusive=" + ("yes" if inclusive else "no"),
                        path], capture_output=True, text=True, check=True)
    total, rows = 0, []
    for line in r.stdout.splitlines():
        if "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            continue
        m = LINE.match(line)
        if m:
            rows.append((int(m.group(1).replace(",", "")), m.group(3),
                         os.path.basename(m.group(4) or m.group(2))))
    if not inclusive:
        # A dump taken while threads run charges each running thread's
        # whole cost to the frame at the bottom of its stack (clone) as
        # if it were its own: drop such rows while the self costs add
        # up to more than the total.
        while rows and sum(r[0] for r in rows) > total * 1.01 and \
                rows[0][0] >= total // 2:
            rows.pop(0)
    return rows, total


def _summarize(path, ios):
    """What the report needs from one phase's dump."""
    selfc, total = annotate(path)
    incl, _ = annotate(path, inclusive=True)
    objs = {}
    for ir, _, obj in selfc:
        objs[obj] = objs.get(obj, 0) + ir
    plugin = [(ir, fn) for ir, fn, obj in selfc if PLUGIN_OBJ in obj]
    plugin_incl = [(ir, fn) for ir, fn, obj in incl if PLUGIN_OBJ in obj]
    return {"total_ir": total, "ios": ios,
            "ir_per_io": total / ios if ios else None,
            "top_self": [[ir, fn, obj] for ir, fn, obj in selfc[:12]],
            "by_object": sorted(([ir, o] for o, ir in objs.items()),
                                reverse=True)[:8],
            "plugin_self": [[ir, fn] for ir, fn in plugin[:10]],
            "plugin_inclusive": [[ir, fn] for ir, fn in plugin_incl[:10]]}


def _callgrind(cfg, kind, d, emit, say):
    sock = os.path.join(d, "prof-%s.sock" % kind)
    uri = "nbd+unix:///?socket=" + sock
    base = os.path.join(cfg.workdir, "callgrind-%s.out" % kind)
    for f in glob.glob(base + "*"):
        os.unlink(f)
    log = open(os.path.join(cfg.workdir, "callgrind-%s.log" % kind), "w")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind",
                             "--callgrind-out-file=" + base] +
                            _server_cmd(cfg, kind, d, sock),
                            stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    try:
        servers.wait_ready(uri, proc, timeout=180)
        subprocess.run(["callgrind_control", "--zero", str(proc.pid)],
                       check=True, capture_output=True)
        for name, args in PHASES:
            load = sysinfo.loadavg()[0]
            res = _phase(uri, args, os.path.join(cfg.workdir, "prof.json"))
            subprocess.run(["callgrind_control", "--dump=" + name,
                            str(proc.pid)], check=True, capture_output=True)
            dumps = sorted(glob.glob(base + ".*"), key=os.path.getmtime)
            rec = {"type": "profile", "tool": "callgrind", "server": kind,
                   "phase": name, "load1": load, "iops": res["iops"]}
            rec.update(_summarize(dumps[-1], res["ios"]))
            emit(rec)
            say("profile: %s %s: %.0f instructions per request; plugin: %s"
                % (kind, name, rec["ir_per_io"] or 0,
                   ", ".join(fn for _, fn in rec["plugin_self"][:3])))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _perf(cfg, kind, d, emit, say):
    sock = os.path.join(d, "prof-%s.sock" % kind)
    uri = "nbd+unix:///?socket=" + sock
    log = open(os.path.join(cfg.workdir, "perf-%s.log" % kind), "w")
    proc = subprocess.Popen(_server_cmd(cfg, kind, d, sock), stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL)
    try:
        servers.wait_ready(uri, proc)
        for name, args in PHASES:
            data = os.path.join(cfg.workdir, "perf-%s-%s.data" % (kind,
                                                                  name))
            rec_p = subprocess.Popen(["perf", "record", "-g", "-o", data,
                                      "-p", str(proc.pid)], stdout=log,
                                     stderr=log)
            time.sleep(0.5)
            load = sysinfo.loadavg()[0]
            res = _phase(uri, args, os.path.join(cfg.workdir, "prof.json"))
            rec_p.send_signal(signal.SIGINT)
            rec_p.wait()
            r = subprocess.run(["perf", "report", "-i", data, "--stdio",
                                "--no-children", "--sort", "dso,sym",
                                "-g", "none"], capture_output=True,
                               text=True)
            top = []
            for line in r.stdout.splitlines():
                m = re.match(r"^\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(\S+)", line)
                if m:
                    top.append([float(m.group(1)), m.group(3), m.group(2)])
            emit({"type": "profile", "tool": "perf", "server": kind,
                  "phase": name, "load1": load, "iops": res["iops"],
                  "ios": res["ios"], "top_self_pct": top[:12],
                  "plugin_self_pct": [t for t in top
                                      if PLUGIN_OBJ in t[2]][:10]})
            say("profile: %s %s: %s" % (kind, name, ", ".join(
                [t[1] for t in top if PLUGIN_OBJ in t[2]][:3])))
    finally:
        proc.terminate()
        proc.wait()


def run(cfg, emit, say):
    d = cfg.dirs["disk"]
    tool = getattr(cfg, "profiler", "auto")
    if tool == "auto":
        tool = "perf" if perf_counts() else "callgrind"
    say("profile: with %s" % tool)
    for kind in ("swapdrum", "file"):
        (_perf if tool == "perf" else _callgrind)(cfg, kind, d, emit, say)
        for f in glob.glob(os.path.join(d, "prof-*.img")):
            os.unlink(f)
