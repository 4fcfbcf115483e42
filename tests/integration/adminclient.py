# swapdrum integration tests: a raw admin-socket client.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
"""Talk to the admin socket of a swapdrum server directly, with the
Python standard library only (so that it also runs as another user),
to send it what swapdrumctl never would: malformed JSON, huge lines,
half lines, nothing at all.  See docs/admin-protocol.md.

  c = Client(path)
  c.send_line(b'{"cmd": "nswap"}')     # raw bytes; the '\\n' is added
  r = c.recv()                         # the next reply line, as a dict
  r = c.request({"cmd": "stats"})      # send + recv, skipping progress

Every wait has a timeout (Timeout is raised): a test must never hang
on a server that does not answer.
"""

import json
import socket
import time

TIMEOUT = 20.0


class Timeout(Exception):
    pass


class Closed(Exception):
    pass


class Client:
    def __init__(self, path, timeout=TIMEOUT):
        self.path = path
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def fileno(self):
        return self.sock.fileno()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_line(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data + b"\n")

    def send(self, obj):
        self.send_line(json.dumps(obj).encode())

    def recv_line(self, timeout=None):
        """The next line the server sent (without '\\n')."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("no reply within %.0f s" % (timeout or
                                                          self.timeout))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise Closed("the server closed the connection"
                             + (" (%d bytes of a line left)" % len(self.buf)
                                if self.buf else ""))
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self, timeout=None, progress=None):
        """The next reply, as a dict.  Progress lines are skipped (and
        appended to the list `progress` if given)."""
        while True:
            line = self.recv_line(timeout)
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("reply is not an object: %r" % line)
            if "progress" in obj and "ok" not in obj:
                if progress is not None:
                    progress.append(obj["progress"])
                continue
            return obj

    def request(self, obj, timeout=None):
        self.send(obj)
        return self.recv(timeout)

    def pending(self, wait=0.2):
        """True if the server sent something (or closed) within wait s."""
        if self.buf:
            return True
        self.sock.settimeout(wait)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except (socket.timeout, BlockingIOError):
            return False
        finally:
            self.sock.settimeout(self.timeout)
        return True


def request(path, obj, timeout=TIMEOUT):
    """One request on a fresh connection."""
    c = Client(path, timeout)
    try:
        return c.request(obj)
    finally:
        c.close()


def shape(stats):
    """What I/O does not change in a stats reply: per device, the path,
    kind, priority, maxactive, flags, size, pages and drum offset."""
    keys = ("path", "kind", "priority", "maxactive", "flags", "size",
            "pages", "drumoffset")
    return [tuple(json.dumps(d.get(k)) for k in keys)
            for d in stats["devices"]]


def pool_shape(path):
    r = request(path, {"cmd": "stats"})
    if r.get("ok") is not True:
        raise ValueError("stats failed: %r" % r)
    return shape(r)


def is_error(reply, errno_name):
    return (isinstance(reply, dict) and reply.get("ok") is False and
            reply.get("errno") == errno_name and
            isinstance(reply.get("error"), str) and reply["error"] and
            "\n" not in reply["error"])
