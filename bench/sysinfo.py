# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""The machine and its processes, read from /proc: load, CPU time,
RSS, the CPU model, free TCP ports.  Every figure the bench records
comes with the load it was taken under."""

import os
import platform
import re
import socket
import subprocess


def loadavg():
    """The 1, 5 and 15 minute load averages."""
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def _stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    # The command name may hold spaces and parentheses: split after it.
    return data[data.rindex(")") + 2:].split()


def _children(pid):
    """Every live descendant of pid (nbd-server forks one per client)."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            kids.setdefault(int(_stat_fields(int(name))[1]), []).append(
                int(name))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def cpu_seconds(pid):
    """CPU time (user + system) used so far by pid, its reaped children
    and its live descendants; None if pid is gone."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        f = _stat_fields(pid)
    except OSError:
        return None
    # Fields 14-17 of stat (utime stime cutime cstime), counted from 1
    # with pid and comm removed: indices 11-14.
    total = sum(int(x) for x in f[11:15])
    for kid in _children(pid):
        try:
            total += sum(int(x) for x in _stat_fields(kid)[11:13])
        except OSError:
            pass
    return total / tick


def status_kib(pid, key):
    """A field of /proc/PID/status in KiB (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fs_type(path):
    """The file system type of the mount holding path."""
    best, kind = "", "?"
    path = os.path.realpath(path)
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, typ = line.split()[:3]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
               and len(mnt) >= len(best):
                best, kind = mnt, typ
    return kind


def _version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=10)
    except OSError:
        return None
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else None


def machine():
    """What the results were measured on."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "mem_mib": mem // 1024,
        "nbdkit": _version(["nbdkit", "--version"]),
        "qemu-nbd": _version(["qemu-nbd", "--version"]),
        "nbd-server": _version(["nbd-server", "-V"]),
        "fio": _version(["fio", "--version"]),
        "nbdcopy": _version(["nbdcopy", "--version"]),
    }
