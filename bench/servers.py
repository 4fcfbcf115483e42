# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""The NBD servers under test, each on its own backing files in one
directory: swapdrum (two device files of equal priority), nbdkit's file
plugin, qemu-nbd and nbd-server.  A server listens on a unix socket or
on a free TCP port of 127.0.0.1 and is stopped by the pid we started.

Modes: "serial" is swapdrum with parallel=false, its default on
nbdkit < 1.33.10 (SERIALIZE_REQUESTS: one request at a time per
connection, connections in parallel); nbdkit's file plugin gets the
same model from --filter=noparallel serialize=requests.  "parallel" is
swapdrum with parallel=true, its default on newer nbdkit (Debian 13),
and the file plugin as it comes.  Both are named explicitly, so that a
mode means the same on every platform.  qemu-nbd and nbd-server
have one model of their own ("native")."""

import os
import signal
import subprocess
import time

import sysinfo

MIB = 1 << 20

# (kind, mode) of every server the bench knows, in the order the
# interleaved loop visits them.
ALL = [
    ("swapdrum", "serial"),
    ("file", "serial"),
    ("qemu-nbd", "native"),
    ("nbd-server", "native"),
    ("swapdrum", "parallel"),
    ("file", "parallel"),
]


def label(kind, mode):
    return "%s/%s" % (kind, mode)


def write_zeros(path, size):
    """Create path as size bytes of written zeros, unless it already
    has that size: every server then starts on allocated, written
    blocks, so no server pays the file system's first-write cost."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    chunk = bytes(MIB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, MIB)
            f.write(chunk[:n])
            left -= n


def wait_ready(uri, proc=None, timeout=30):
    """Wait until an NBD client can connect to uri."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited (%d) before %s was ready"
                               % (proc.returncode, uri))
        r = subprocess.run(["nbdinfo", "--size", uri],
                           capture_output=True)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("%s: not ready after %d s" % (uri, timeout))


def _alive(pid):
    """False once pid is gone or a zombie (a daemon's parent is init)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Server:
    """One server process over its own files in dirpath.  size is the
    export size; plugin the swapdrum .so."""

    def __init__(self, kind, mode, dirpath, size, plugin, logdir):
        self.kind, self.mode = kind, mode
        self.dir, self.size, self.plugin = dirpath, size, plugin
        self.logdir = logdir
        self.proc, self.pid, self.uri = None, None, None
        self.cmd, self.conf = None, None
        self.base = "%s-%s" % (kind, mode)

    @property
    def label(self):
        return label(self.kind, self.mode)

    def files(self):
        """(path, size) of the backing files."""
        if self.kind == "swapdrum":
            # Two devices of equal priority, each half the export plus
            # room for the stamp page, so the pool holds the export.
            half = self.size // 2 + 8 * MIB
            return [(os.path.join(self.dir, self.base + "-a.img"), half),
                    (os.path.join(self.dir, self.base + "-b.img"), half)]
        return [(os.path.join(self.dir, self.base + ".img"), self.size)]

    def prepare(self):
        for path, size in self.files():
            write_zeros(path, size)

    def _listen(self, transport):
        """nbdkit-style listen arguments and the URI (export name
        added by the caller)."""
        if transport == "unix":
            sock = os.path.join(self.dir, self.base + ".sock")
            if os.path.exists(sock):
                os.unlink(sock)
            return sock, None
        return None, sysinfo.free_port()

    def _uri(self, sock, port, export=""):
        if sock:
            return "nbd+unix:///%s?socket=%s" % (export, sock)
        return "nbd://127.0.0.1:%d/%s" % (port, export)

    def _nbdkit_cmd(self, sock, port):
        cmd = ["nbdkit", "-f", "--exit-with-parent"]
        cmd += ["-U", sock] if sock else ["-i", "127.0.0.1", "-p", str(port)]
        if self.kind == "swapdrum":
            cmd += [self.plugin] + [p for p, _ in self.files()]
            cmd += ["size=%d" % self.size, "admin=off"]
            cmd.append("parallel=%s" % ("true" if self.mode == "parallel"
                                        else "false"))
        else:
            # Filter parameters follow the plugin's name.
            if self.mode == "serial":
                cmd.append("--filter=noparallel")
            cmd += ["file", "file=" + self.files()[0][0]]
            if self.mode == "serial":
                cmd.append("serialize=requests")
        return cmd

    def _qemu_cmd(self, sock, port):
        cmd = ["qemu-nbd", "-f", "raw", "-t", "-e", "16",
               "--cache=writeback", "--aio=threads"]
        cmd += ["-k", sock] if sock else ["-b", "127.0.0.1", "-p", str(port)]
        return cmd + [self.files()[0][0]]

    def _nbd_server_start(self, sock, port, log):
        conf = os.path.join(self.dir, self.base + ".conf")
        pidfile = os.path.join(self.dir, self.base + ".pid")
        # nbd-server listens on the unix socket or on TCP, not both.
        listen = ("    unixsock = %s\n" % sock) if sock else \
            ("    listenaddr = 127.0.0.1\n    port = %d\n" % port)
        self.conf = "[generic]\n%s[bench]\n    exportname = %s\n" \
            % (listen, self.files()[0][0])
        with open(conf, "w") as f:
            f.write(self.conf)
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        # It forks into the background; its pid file says where.
        self.cmd = ["nbd-server", "-C", conf, "-p", pidfile]
        subprocess.run(self.cmd, stdout=log, stderr=log, check=True)
        # The file appears before the pid is written into it.
        deadline = time.time() + 10
        while True:
            try:
                with open(pidfile) as f:
                    self.pid = int(f.read().strip())
                break
            except (OSError, ValueError):
                if time.time() > deadline:
                    raise RuntimeError("nbd-server wrote no pid to %s"
                                       % pidfile)
                time.sleep(0.05)

    def start(self, transport):
        """Start the server on transport ("unix" or "tcp"); returns
        the URI."""
        sock, port = self._listen(transport)
        log = open(os.path.join(self.logdir, self.base + ".log"), "a")
        if self.kind == "nbd-server":
            self._nbd_server_start(sock, port, log)
            self.uri = self._uri(sock, port, "bench")
            wait_ready(self.uri)
        else:
            self.cmd = (self._qemu_cmd if self.kind == "qemu-nbd"
                        else self._nbdkit_cmd)(sock, port)
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
            self.pid = self.proc.pid
            self.uri = self._uri(sock, port)
            wait_ready(self.uri, self.proc)
        log.close()
        return self.uri

    def stop(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            deadline = time.time() + 10
            while time.time() < deadline and _alive(self.pid):
                time.sleep(0.05)
        self.proc, self.pid, self.uri = None, None, None
