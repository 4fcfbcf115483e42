# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause

"""The fio workloads (rows of the result table) and how one is run
against one server with fio's nbd ioengine.

fio's nbd engine prints a line of its own on stdout before the JSON,
so the JSON always goes to a file (--output)."""

import json
import os
import subprocess


class Row:
    """One workload.  first: a first-write pass (every block of the
    region written once, in random order, untimed; swapdrum's export is
    trimmed first so that every write allocates)."""

    def __init__(self, key, what, rw, bs, iodepth, numjobs=1,
                 first=False):
        self.key, self.what, self.rw, self.bs = key, what, rw, bs
        self.iodepth, self.numjobs, self.first = iodepth, numjobs, first

    @property
    def direction(self):
        return "write" if "write" in self.rw else "read"


# In the order a cell runs them: the reads and the large writes see
# the layout a sequential fill leaves; the first-write row then
# re-allocates the whole region in random order, and the 4 KiB
# overwrites follow on that layout.
ROWS = [
    Row("rr4k-q1", "4 KiB random read, QD1", "randread", "4k", 1),
    Row("rr4k-q32", "4 KiB random read, QD32", "randread", "4k", 32),
    Row("r64k-q8", "64 KiB random read, QD8", "randread", "64k", 8),
    Row("r256k-q8", "256 KiB random read, QD8", "randread", "256k", 8),
    Row("sr1m-q8", "1 MiB sequential read, QD8", "read", "1m", 8),
    Row("w64k-q8", "64 KiB random overwrite, QD8", "randwrite", "64k", 8),
    Row("w256k-q8", "256 KiB random overwrite, QD8", "randwrite",
        "256k", 8),
    Row("sw1m-q8", "1 MiB sequential overwrite, QD8", "write", "1m", 8),
    Row("mc4-rr4k", "4 KiB random read, 4 connections x QD8",
        "randread", "4k", 8, numjobs=4),
    Row("fw4k-q32", "4 KiB first write (allocation), QD32", "randwrite",
        "4k", 32, first=True),
    Row("ow4k-q32", "4 KiB random overwrite, QD32", "randwrite", "4k", 32),
    Row("fw4k-q1", "4 KiB first write (allocation), QD1", "randwrite",
        "4k", 1, first=True),
    Row("ow4k-q1", "4 KiB random overwrite, QD1", "randwrite", "4k", 1),
    Row("mc4-ow4k", "4 KiB random overwrite, 4 connections x QD8",
        "randwrite", "4k", 8, numjobs=4),
]
BY_KEY = {r.key: r for r in ROWS}


def command(uri, row, size, runtime, out):
    """The fio command line for row against uri over size bytes."""
    cmd = ["fio", "--name=" + row.key, "--ioengine=nbd", "--uri=" + uri,
           "--rw=" + row.rw, "--bs=" + row.bs,
           "--iodepth=%d" % row.iodepth, "--size=%d" % size,
           "--output-format=json", "--output=" + out]
    if row.numjobs > 1:
        cmd += ["--numjobs=%d" % row.numjobs, "--group_reporting"]
    if not row.first:
        cmd += ["--time_based", "--runtime=%s" % runtime,
                "--norandommap", "--randrepeat=0"]
    return cmd


def parse(path, direction):
    """The figures of one fio JSON output file."""
    with open(path) as f:
        data = json.load(f)
    job = data["jobs"][0]
    d = job[direction]
    pct = d["clat_ns"].get("percentile", {})
    return {
        "iops": d["iops"],
        "bw": d["bw_bytes"],
        "ios": d["total_ios"],
        "runtime_ms": d["runtime"],
        "p50_ns": pct.get("50.000000"),
        "p99_ns": pct.get("99.000000"),
        "lat_mean_ns": d["lat_ns"]["mean"],
        "fio_cpu": job["usr_cpu"] + job["sys_cpu"],
        "errors": job.get("error", 0),
    }


def run(uri, row, size, runtime, out, timeout=600):
    """Run row against uri; returns the parsed figures.  Raises if fio
    fails."""
    if os.path.exists(out):
        os.unlink(out)
    cmd = command(uri, row, size, runtime, out)
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("fio %s on %s failed (%d): %s"
                           % (row.key, uri, r.returncode,
                              (r.stderr or r.stdout).strip()[-500:]))
    return parse(out, row.direction)


def fill(uri, size, out, offset=0, bs="1m", iodepth=8):
    """Write [offset, offset + size) once, sequentially."""
    cmd = ["fio", "--name=fill", "--ioengine=nbd", "--uri=" + uri,
           "--rw=write", "--bs=" + bs, "--iodepth=%d" % iodepth,
           "--offset=%d" % offset, "--size=%d" % size,
           "--output-format=json", "--output=" + out]
    subprocess.run(cmd, capture_output=True, check=True)
    return parse(out, "write")


def trim_all(uri):
    """Trim the whole export (swapdrum: unmap every page).  The Python
    bindings of libnbd (python3-libnbd) are those of /usr/bin/python3,
    which runs the bench."""
    import nbd
    h = nbd.NBD()
    h.connect_uri(uri)
    size, step = h.get_size(), 32 << 20
    for off in range(0, size, step):
        h.trim(min(step, size - off), off)
    h.flush()
    h.shutdown()
