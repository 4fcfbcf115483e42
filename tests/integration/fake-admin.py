#!/usr/bin/python3
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# A stand-in for the plugin's admin socket, for swapdrumctl's tests:
# it speaks docs/admin-protocol.md from a small in-memory pool, so the
# CLI can be tested without nbdkit.
#
#   fake-admin.py SOCKET LOG
#
# Every request line received is appended to LOG as it came.  The pool
# starts with two devices, /srv/fast.swap (priority 0, 1200 pages used)
# and /srv/slow.swap (priority 5, empty); on, off and ctl change it.
# off sends three progress lines before its reply.  Unknown paths get
# ENOENT, duplicates EBUSY, bad requests EINVAL; off fails with ENOSPC
# when the other devices cannot hold the device's pages.  A path under
# /missing/ without create= gets ENOENT, as a file that is not there.
# Stdlib only; runs until killed.

import json
import os
import re
import socketserver
import sys
import threading

PAGE = 4096
MEMBERS = {
    "version": set(), "nswap": set(), "stats": set(), "summary": set(),
    "exports": set(),
    "on": {"path", "priority", "maxactive", "create"},
    "off": {"path"},
    "ctl": {"path", "priority"},
}


class Refused(Exception):
    def __init__(self, errno, error):
        super().__init__(error)
        self.errno = errno
        self.error = error


def device(path, priority, pages, used=0, maxactive=8):
    return {"path": path, "kind": "file", "priority": priority,
            "maxactive": maxactive, "peak_active": 0,
            "flags": ["INUSE", "ENABLE"], "size": pages * PAGE,
            "pages": pages, "used": used, "avail": pages - used,
            "bad": 0, "drumoffset": 0, "reads": 0, "writes": used,
            "bytes_read": 0, "bytes_written": used * PAGE,
            "read_errors": 0, "write_errors": 0}


class Pool:
    def __init__(self):
        self.lock = threading.Lock()
        self.devices = [device("/srv/fast.swap", 0, 131071, used=1200),
                        device("/srv/slow.swap", 5, 131071)]

    def ordered(self):
        # Stable sort: equal priorities keep the order they were added.
        return sorted(self.devices, key=lambda d: d["priority"])

    def find(self, what, path):
        for d in self.devices:
            if d["path"] == path:
                return d
        raise Refused("ENOENT", f"{what}: {path}: not in the pool")


def get_int(req, key, lo, hi, default=None):
    v = req.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise Refused("EINVAL", f"{req['cmd']}: {key}: "
                      f"not an integer from {lo} to {hi}")
    return v


def get_path(req):
    p = req.get("path")
    if not isinstance(p, str) or not p:
        raise Refused("EINVAL", f"{req['cmd']}: path: missing")
    return p


def parse_size(v):
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    m = re.fullmatch(r"(\d+)([KMGT]?)", str(v))
    if not m:
        raise Refused("EINVAL", f"on: create: {v}: not a size")
    return int(m.group(1)) << (10 * " KMGT".index(m.group(2) or " "))


def do_on(pool, req, send):
    path = get_path(req)
    prio = get_int(req, "priority", -1000000, 1000000, 0)
    maxactive = get_int(req, "maxactive", 1, 1024, 8)
    if any(d["path"] == path for d in pool.devices):
        raise Refused("EBUSY", f"swap: {path}: already in the pool")
    if "create" in req:
        size = parse_size(req["create"])
    elif path.startswith("/missing/"):
        raise Refused("ENOENT", f"swap: {path}: No such file or directory")
    else:
        size = 64 << 20
    pool.devices.append(device(path, prio, size // PAGE - 1,
                               maxactive=maxactive))
    return {"ok": True}


def do_off(pool, req, send):
    path = get_path(req)
    dev = pool.find("off", path)
    used = dev["used"]
    others = [d for d in pool.ordered() if d is not dev]
    if used > sum(d["avail"] for d in others):
        raise Refused("ENOSPC", f"off: {path}: the other devices cannot "
                      f"hold its {used} pages")
    for i in (1, 2, 3):
        send({"progress": {"path": path, "moved": used * i // 3,
                           "total": used}})
    left = used
    for d in others:
        n = min(left, d["avail"])
        d["used"] += n
        d["avail"] -= n
        left -= n
    pool.devices.remove(dev)
    return {"ok": True, "moved": used}


def do_ctl(pool, req, send):
    path = get_path(req)
    if "priority" not in req:
        raise Refused("EINVAL", "ctl: priority: missing")
    prio = get_int(req, "priority", -1000000, 1000000)
    pool.find("ctl", path)["priority"] = prio
    return {"ok": True}


def do_stats(pool, req, send):
    return {"ok": True, "priority_order": "lower is preferred",
            "page_size": PAGE, "devices": pool.ordered()}


def do_summary(pool, req, send):
    s = {k: sum(d[k] for d in pool.devices)
         for k in ("pages", "used", "avail", "bad", "size")}
    return {"ok": True, "devices": len(pool.devices), **s}


def do_exports(pool, req, send):
    """The default export, a tenth of the pool, never used."""
    size = sum(d["size"] for d in pool.devices) // 10 // PAGE * PAGE
    io = {"ops": 0, "bytes": 0, "errors": 0, "p50_ns": 0, "p99_ns": 0,
          "p999_ns": 0}
    return {"ok": True, "exports": [
        {"name": "", "state": "served", "live": False, "shared": False,
         "size": size, "quota": 0, "used": 0, "reserve": 0,
         "tier_lo": -1000000, "tier_hi": 1000000, "host": None,
         "connections": 0,
         "io": {k: dict(io) for k in ("read", "write", "trim", "flush")}}]}


COMMANDS = {
    "version": lambda pool, req, send: {"ok": True, "version": "0.1.0",
                                        "protocol": 1},
    "nswap": lambda pool, req, send: {"ok": True,
                                      "nswap": len(pool.devices)},
    "stats": do_stats, "summary": do_summary, "exports": do_exports,
    "on": do_on, "off": do_off, "ctl": do_ctl,
}


def check_request(line):
    try:
        req = json.loads(line)
    except ValueError:
        raise Refused("EINVAL", "request: not JSON")
    if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
        raise Refused("EINVAL", "request: no \"cmd\" string")
    if req["cmd"] not in COMMANDS:
        raise Refused("EINVAL", f"request: {req['cmd']}: unknown command")
    extra = set(req) - MEMBERS[req["cmd"]] - {"cmd", "id"}
    if extra:
        raise Refused("EINVAL", f"{req['cmd']}: unknown member "
                      f"{sorted(extra)[0]}")
    return req


class Handler(socketserver.StreamRequestHandler):
    def send(self, obj):
        self.wfile.write((json.dumps(obj) + "\n").encode())
        self.wfile.flush()

    def handle(self):
        for raw in self.rfile:
            line = raw.decode(errors="replace").rstrip("\n")
            with self.server.log_lock, open(self.server.log, "a") as log:
                log.write(line + "\n")
            req = None
            try:
                req = check_request(line)
                with self.server.pool.lock:
                    reply = COMMANDS[req["cmd"]](self.server.pool, req,
                                                 self.send)
            except Refused as e:
                reply = {"ok": False, "errno": e.errno, "error": e.error}
            if isinstance(req, dict) and "id" in req:
                reply["id"] = req["id"]
            self.send(reply)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fake-admin.py SOCKET LOG")
    sock, log = sys.argv[1:]
    if os.path.exists(sock):
        os.unlink(sock)
    with Server(sock, Handler) as server:
        server.pool = Pool()
        server.log = log
        server.log_lock = threading.Lock()
        server.serve_forever()


if __name__ == "__main__":
    main()
