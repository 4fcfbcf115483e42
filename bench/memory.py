# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""Memory: the RSS of nbdkit + swapdrum serving a 1 TiB export over two
1152 MiB files (on disk), taken from /proc/PID/status:

  empty    after start and one connection; against nbdkit's null
           plugin with a 1 TiB export, the fixed overhead;
  seq      after 1 GiB written sequentially at offset 0 (64 KiB writes):
           the cost of a densely mapped page;
  random   after a further 1 GiB of 4 KiB writes at random pages across
           the whole 1 TiB (fixed seed): the cost of a page alone in its
           region, the worst case of a radix map.

Bytes per mapped page = RSS growth / pages newly mapped (counted from
the export's extents).

Then the server is restarted on the same files, twice: after SIGTERM
(a clean shutdown) and after SIGKILL (a process crash).  Each time the
record is the time from starting nbdkit until it serves (the durable
map read back from 2 x 1152 MiB of devices, 2 GiB of pages written:
docs/design.md, "The durable map"), the pages the export maps again
(they must be all of them) and the RSS after."""

import os
import signal
import subprocess
import time

import servers
import sysinfo

GIB = 1 << 30
TIB = 1 << 40
PAGE = 4096


def _start(cmd, uri, log):
    proc = subprocess.Popen(cmd, stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL)
    servers.wait_ready(uri, proc)
    return proc


def _rss(pid):
    time.sleep(0.5)
    return sysinfo.status_kib(pid, "VmRSS")


def _data_bytes(uri):
    """Bytes the export's extents report as data."""
    r = subprocess.run(["nbdinfo", "--map", "--totals", uri],
                       capture_output=True, text=True, check=True)
    for line in r.stdout.splitlines():
        f = line.split()
        # "SIZE PERCENT TYPE DESCRIPTION": type 0 is data.
        if len(f) >= 3 and f[2] == "0":
            return int(f[0])
    return 0


def _fio(uri, out, *args):
    subprocess.run(["fio", "--name=mem", "--ioengine=nbd", "--uri=" + uri,
                    "--output-format=json", "--output=" + out] + list(args),
                   check=True, capture_output=True)


def _baseline(d, log):
    """RSS of nbdkit with the null plugin and a 1 TiB export."""
    sock = os.path.join(d, "mem-null.sock")
    uri = "nbd+unix:///?socket=" + sock
    p = _start(["nbdkit", "-f", "--exit-with-parent", "-U", sock, "null",
                "1T"], uri, log)
    try:
        return _rss(p.pid)
    finally:
        p.terminate()
        p.wait()


def _restart(cmd, uri, sock, log, proc, sig):
    """Stop proc with sig, start cmd again (nbdkit leaves its socket
    behind).  => (seconds until it serves, the new process)."""
    proc.send_signal(sig)
    proc.wait()
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = time.monotonic()
    p = _start(cmd, uri, log)
    return time.monotonic() - t0, p


def run(cfg, emit, say):
    d = cfg.dirs["disk"]
    log = open(os.path.join(cfg.workdir, "memory-nbdkit.log"), "a")
    null_kib = _baseline(d, log)
    sock = os.path.join(d, "mem.sock")
    uri = "nbd+unix:///?socket=" + sock
    devs = [os.path.join(d, "mem-%s.img" % x) for x in "ab"]
    cmd = (["nbdkit", "-f", "--exit-with-parent", "-U", sock, cfg.plugin] +
           ["%s,create=1152M" % p for p in devs] + ["size=1T", "admin=off"])
    proc = _start(cmd, uri, log)
    out = os.path.join(cfg.workdir, "mem-fio.json")
    try:
        load = sysinfo.loadavg()[0]
        empty = _rss(proc.pid)
        say("memory: 1 TiB export empty: %d KiB (nbdkit null 1T: %d KiB)"
            % (empty, null_kib))
        _fio(uri, out, "--rw=write", "--bs=64k", "--iodepth=8",
             "--size=%d" % GIB)
        seq = _rss(proc.pid)
        seq_pages = _data_bytes(uri) // PAGE
        _fio(uri, out, "--rw=randwrite", "--bs=4k", "--iodepth=32",
             "--size=%d" % TIB, "--io_size=%d" % GIB, "--norandommap",
             "--randseed=1234", "--randrepeat=1")
        rnd = _rss(proc.pid)
        all_pages = _data_bytes(uri) // PAGE
        hwm = sysinfo.status_kib(proc.pid, "VmHWM")
        restarts = {}
        for how, sig in (("sigterm", signal.SIGTERM),
                         ("sigkill", signal.SIGKILL)):
            secs, proc = _restart(cmd, uri, sock, log, proc, sig)
            restarts[how] = {"seconds": secs,
                             "pages": _data_bytes(uri) // PAGE,
                             "rss_kib": _rss(proc.pid)}
            say("memory: restart after %s: serving after %.2f s, %d of %d "
                "pages mapped, RSS %d KiB" % (
                    how.upper(), secs, restarts[how]["pages"], all_pages,
                    restarts[how]["rss_kib"]))
    finally:
        proc.terminate()
        proc.wait()
        for p in devs:
            if os.path.exists(p):
                os.unlink(p)
    rec = {"type": "memory", "export_bytes": TIB, "load1": load,
           "null_1t_kib": null_kib, "empty_kib": empty,
           "fixed_kib": empty - null_kib,
           "seq_kib": seq, "seq_pages": seq_pages,
           "seq_bytes_per_page": (seq - empty) * 1024.0 / seq_pages,
           "random_kib": rnd, "random_pages": all_pages - seq_pages,
           "random_bytes_per_page":
               (rnd - seq) * 1024.0 / max(1, all_pages - seq_pages),
           "hwm_kib": hwm, "restarts": restarts}
    emit(rec)
    say("memory: after 1 GiB sequential %d KiB (%.1f B/page), after 1 GiB "
        "random 4 KiB %d KiB (%.1f B/page), peak %d KiB"
        % (seq, rec["seq_bytes_per_page"], rnd,
           rec["random_bytes_per_page"], hwm))
