# swapdrum VM test: the processes of one run (servers, the pool's
# admin socket, the guest under qemu) and what they report.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Every process is started here, in its own session, and stopped by
# its own process group id (SIGTERM, then SIGKILL).  Only unix sockets
# and qemu's user network with restrict=on are used: the guest reaches
# the server through a guestfwd that runs socat to the server's socket.
#
# Errors are raised as RunError (a one-line reason); the caller turns
# them into a failed run.

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

# nbdcheck (the integration tests' helpers: the device layout) needs
# python3-libnbd, as export_pages does: imported where it is used.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

PAGE = 4096
MIB = 1 << 20

# Kernel messages that fail a run whatever the guest says after them,
# on the console or in the guest's closing dmesg (which has the info
# level ones, such as nbd's "Possible stuck request" after 30 s).
KERNEL_ERRORS = re.compile(
    r"Kernel panic|Write-error on swap-device|Read-error on swap-device|"
    r"I/O error, dev nbd|Out of memory|oom-kill|blocked for more than|"
    r"BUG:|Oops|general protection|Dead connection|Connection timed out|"
    r"Possible stuck request|Receive control failed|"
    r"Send control failed|segfault")

# What the guest's kernel logs while a server restarts under a client
# that reconnects (swapdrum-attach), from drivers/block/nbd.c: the
# receiver's read fails, a request finds the connection dead (logged
# even when it then waits for the new one), a request sent on the old
# connection is noticed after the 30 s request timer and sent again.
# A restart run counts these instead of failing on them; I/O errors,
# swap read/write errors and hung tasks still fail it.
RESTART_MESSAGES = re.compile(
    r"Receive control failed|Send control failed|"
    r"Dead connection, failed to find a fallback|"
    r"Possible stuck request|Connection timed out, retrying")


class RunError(Exception):
    pass


_t0 = time.monotonic()


def log(msg):
    """Prints MSG with the seconds since the harness started."""
    print("[%7.1f] %s" % (time.monotonic() - _t0, msg), flush=True)


def _stop_group(proc, timeout=15):
    """Stops PROC's process group (PROC leads it): SIGTERM, then SIGKILL
    after TIMEOUT seconds."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            pass


class Server:
    """An NBD server started from a shell command line, in the
    foreground, listening on the unix socket SOCK."""

    def __init__(self, name, cmd, sock, logfile, env=None):
        self.name, self.cmd, self.sock = name, cmd, sock
        self.logfile = logfile
        self.proc = None
        self.env = dict(os.environ, **(env or {}))
        self.down = False       # stopped on purpose (a restart's gap)

    def start(self, wait=60):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        log("%s: %s" % (self.name, self.cmd))
        with open(self.logfile, "ab") as out:
            self.proc = subprocess.Popen(
                ["sh", "-c", "exec " + self.cmd], env=self.env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True)
        deadline = time.monotonic() + wait
        while not os.path.exists(self.sock):
            rc = self.proc.poll()
            if rc is not None:
                hint = (" (it must stay in the foreground: nbdkit -f)"
                        if rc == 0 else "")
                raise RunError("%s exited with status %d before listening "
                               "on %s%s; its log: %s" % (
                                   self.name, rc, self.sock, hint,
                                   self.log_tail()))
            if time.monotonic() > deadline:
                raise RunError("%s did not listen on %s within %d s"
                               % (self.name, self.sock, wait))
            time.sleep(0.1)

    def alive(self):
        return self.down or (self.proc is not None
                             and self.proc.poll() is None)

    def stop(self):
        _stop_group(self.proc)

    def kill(self, sig, wait=60):
        """Sends SIG to the server's process group and waits for it to
        exit (SIGKILL after WAIT seconds).  Returns the seconds it took
        to exit.  The server counts as alive (down on purpose) until
        start() is called again."""
        self.down = True
        t0 = time.monotonic()
        log("%s: %s" % (self.name, signal.Signals(sig).name))
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(wait)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            log("%s: still running %d s after %s: SIGKILL" % (
                self.name, wait, signal.Signals(sig).name))
            _stop_group(self.proc, timeout=0)
        return time.monotonic() - t0

    def restart(self):
        """Starts the same command again, after kill()."""
        self.start()
        self.down = False

    def log_tail(self, n=5):
        try:
            with open(self.logfile, errors="replace") as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return ""


class Pool:
    """The pool of a swapdrum server, through swapdrumctl on the admin
    socket (SWAPDRUM_ADMIN)."""

    def __init__(self, swapdrumctl, admin_sock):
        self.ctl_path = swapdrumctl
        self.env = dict(os.environ, SWAPDRUM_ADMIN=admin_sock)

    def ctl(self, *args, timeout=600):
        """Runs swapdrumctl ARGS; returns its stdout, raises RunError
        with its message if it fails."""
        r = subprocess.run([self.ctl_path] + list(args), env=self.env,
                           capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RunError("swapdrumctl %s: %s" % (
                " ".join(args), (r.stderr or r.stdout).strip()))
        return r.stdout

    def devices(self):
        """Returns the devices of `swapdrumctl --json -l`, by path."""
        out = self.ctl("--json", "-l", timeout=30)
        return {d["path"]: d for d in json.loads(out)["devices"]}


def export_pages(sock, name):
    """Returns (pages mapped, pages in all) of the export NAME of the
    swapdrum server on SOCK: its base:allocation extents, read on a
    connection of its own (swapdrum allows multi-conn; a page is
    mapped, holding a slot of the pool, iff it is not a hole)."""
    try:
        import nbd
    except ImportError as e:
        raise RunError("python3-libnbd is needed (.ci/deps): %s" % e)
    h = nbd.NBD()
    try:
        h.set_export_name(name)
        h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
        h.connect_unix(sock)
        size, offset, mapped = h.get_size(), 0, 0
        while offset < size:
            ext = []

            def cb(ctx, off, entries, err):
                if ctx == nbd.CONTEXT_BASE_ALLOCATION:
                    ext.extend(entries)
                return 0
            h.block_status(min(size - offset, 1 << 30), offset, cb)
            if not ext:
                raise RunError("export %r: no extents at %d" % (name, offset))
            for length, flags in zip(ext[0::2], ext[1::2]):
                if not flags & nbd.STATE_HOLE:
                    mapped += min(length, size - offset)
                offset += length
        h.shutdown()
        return mapped // PAGE, size // PAGE
    except nbd.Error as e:
        raise RunError("export %r on %s: %s" % (name, sock, e))


def page_places(paths):
    """Where the pages of the local device files PATHS are, from their
    page records (docs/design.md, "On-device format"): returns
    {(export id, export page): (index in PATHS, data page)}, the
    newest record of a page winning.  Read while the guest is idle, so
    that every record of a page written so far is in place."""
    import nbdcheck
    newest = {}
    for i, path in enumerate(paths):
        _, npages, records = nbdcheck.layout(os.path.getsize(path))
        with open(path, "rb") as f:
            f.seek(records)
            buf = f.read(npages * nbdcheck.RECORD)
        for p in range(len(buf) // nbdcheck.RECORD):
            r = buf[p * nbdcheck.RECORD:(p + 1) * nbdcheck.RECORD]
            seq = int.from_bytes(r[0:6], "little")
            if seq == 0:
                continue
            key = (int.from_bytes(r[6:8], "little"),
                   int.from_bytes(r[8:13], "little"))
            if key not in newest or newest[key][0] < seq:
                newest[key] = (seq, i, p)
    return {k: v[1:] for k, v in newest.items()}


def contiguity(places):
    """Per export id of page_places' answer: (pairs, together), the
    export pages p whose page p + 1 is mapped too, and those of them
    whose two slots are consecutive on one device, so that a request
    over both is one device I/O."""
    out = {}
    for (eid, page), (dev, slot) in places.items():
        nxt = places.get((eid, page + 1))
        if nxt is None:
            continue
        s = out.setdefault(eid, [0, 0])
        s[0] += 1
        s[1] += nxt == (dev, slot + 1)
    return {e: tuple(s) for e, s in out.items()}


class Poller(threading.Thread):
    """Samples the pool every INTERVAL seconds while a run goes on and
    keeps, per device, the peak of `used` and the last sample."""

    def __init__(self, pool, interval=2.0):
        super().__init__(daemon=True)
        self.pool, self.interval = pool, interval
        self.peak = {}          # path -> most pages used at once
        self.peak_total = 0     # most pages used in the pool at once
        self.last = {}          # path -> the last stats of the device
        self.errors = []        # samples that failed
        self.paused = False     # the server is restarting: no samples
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def sample(self):
        """Takes one sample now; returns the devices."""
        devs = self.pool.devices()
        with self.lock:
            for path, d in devs.items():
                self.peak[path] = max(self.peak.get(path, 0), d["used"])
                self.last[path] = d
            self.peak_total = max(self.peak_total,
                                  sum(d["used"] for d in devs.values()))
        return devs

    def run(self):
        while not self.stopping.wait(self.interval):
            if self.paused:
                continue
            try:
                self.sample()
            except (RunError, ValueError, KeyError,
                    subprocess.TimeoutExpired) as e:
                self.errors.append(str(e))

    def stop(self):
        self.stopping.set()
        self.join()


class Guest:
    """The guest: qemu booting the kernel with the initramfs, its
    console read line by line.  HOOKS maps a wait point (the guest's
    "VMTEST wait NAME" / "MEMTEST wait NAME") to a function run before
    the guest is told to go on."""

    def __init__(self, qemu_args, console_log, hooks, verbose=False,
                 restart_messages=False):
        self.args, self.console_log = qemu_args, console_log
        self.hooks, self.verbose = hooks, verbose
        # With RESTART_MESSAGES, those messages are counted in
        # self.restart_lines instead of failing the run.
        self.restart_messages = restart_messages
        self.restart_lines = []  # (seconds, line)
        self.proc = None
        self.lines = []          # (seconds since start, line)
        self.steps = {}          # name -> (status, rest of the line)
        self.fails = []          # "VMTEST FAIL" and "MEMTEST error" lines
        self.kernel_errors = []  # console lines matching KERNEL_ERRORS
        self.bad = []            # "MEMTEST bad" lines
        self.result = None       # the "MEMTEST result" fields
        self.phases = {}         # memtest phase -> seconds since start
        self.waits = {}          # wait point -> (seconds, seconds spent)
        # wait point -> {device: (used KiB, priority)}: the guest's
        # /proc/swaps as memtest printed it before waiting there
        self.swaps = {}
        self._swaps = {}
        self.hook_errors = []
        self.hooks_running = 0   # the guest is silent, waiting for them
        self.done = False
        self.start_time = None
        self.last_output = None
        self.lock = threading.Lock()

    def start(self):
        self.start_time = self.last_output = time.monotonic()
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def elapsed(self):
        return time.monotonic() - self.start_time

    def _read(self):
        with open(self.console_log, "w") as out:
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip("\r\n")
                line = line.replace("\r", "")
                t = self.elapsed()
                self.last_output = time.monotonic()
                out.write("%7.1f %s\n" % (t, line))
                out.flush()
                self._parse(t, line)

    def _parse(self, t, line):
        with self.lock:
            self.lines.append((t, line))
        m = re.match(r"(VMTEST|MEMTEST) wait (\S+)", line)
        sw = re.match(r"MEMTEST swap (\S+) used_kib=(\d+) priority=(-?\d+)",
                      line)
        if sw:
            self._swaps[sw.group(1)] = (int(sw.group(2)), int(sw.group(3)))
        elif m:
            if m.group(1) == "MEMTEST":
                self.swaps[m.group(2)], self._swaps = self._swaps, {}
            threading.Thread(target=self._answer, args=(m.group(2), t),
                             daemon=True).start()
        elif line.startswith("VMTEST step "):
            name, _, rest = line[len("VMTEST step "):].partition(" ")
            status, _, rest = rest.partition(" ")
            self.steps[name] = (status, rest)
        elif line.startswith(("VMTEST FAIL", "MEMTEST error")):
            self.fails.append(line)
        elif line.startswith("MEMTEST bad "):
            self.bad.append(line)
        elif line.startswith("MEMTEST result "):
            self.result = dict(kv.split("=", 1) for kv in line.split()[2:])
        elif line.startswith("MEMTEST phase "):
            self.phases[line.split()[2]] = t
        elif line == "VMTEST done":
            self.done = True
        elif self.restart_messages and RESTART_MESSAGES.search(line):
            self.restart_lines.append((t, line))
        elif KERNEL_ERRORS.search(line):
            self.kernel_errors.append(line)
        quiet = line.startswith(("MEMTEST progress", "VMTEST dmesg"))
        if self.verbose or not quiet:
            log("guest: " + line)

    def _answer(self, point, t):
        hook = self.hooks.get(point)
        t0 = time.monotonic()
        with self.lock:
            self.hooks_running += 1
        if hook is not None:
            try:
                hook()
            except Exception as e:          # reported, and the run fails
                self.hook_errors.append("%s: %s" % (point, e))
                log("host: at %s: %s" % (point, e))
        self.waits[point] = (t, time.monotonic() - t0)
        with self.lock:
            self.hooks_running -= 1
            self.last_output = time.monotonic()
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def wait(self, time_limit, stall_limit, servers):
        """Waits for qemu to exit.  Raises RunError (after stopping it)
        past TIME_LIMIT seconds, after STALL_LIMIT seconds without
        console output, or if one of SERVERS dies."""
        while True:
            try:
                self.proc.wait(1)
                break
            except subprocess.TimeoutExpired:
                pass
            why = None
            silent = time.monotonic() - self.last_output
            if self.elapsed() > time_limit:
                why = "time limit: still running after %d s" % time_limit
            elif silent > stall_limit and self.hooks_running == 0:
                why = ("stall: no console output for %d s (last line: %s)"
                       % (silent, self.lines[-1][1] if self.lines else "-"))
            for s in servers:
                if not s.alive():
                    why = "%s died (status %s): %s" % (
                        s.name, s.proc.returncode, s.log_tail())
            if why:
                self.stop()
                raise RunError(why)
        self.reader.join(10)

    def stop(self):
        _stop_group(self.proc, timeout=2)
