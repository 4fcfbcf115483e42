# swapdrum integration tests: continuous verified I/O.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
"""Keep an export busy with verified I/O until told to stop.

N connections (one thread and one libnbd handle each) each own a
region of the export and know exactly what it must hold: a model of
the pattern seed of every 512-byte sector (nbdcheck's patterns) and of
which pages are mapped.  Every write uses a fresh seed built from the
connection and a generation counter, so a sector read back tells which
write put it there, and a stale one (a lost write) is told apart from
zeros (a lost page) or garbage.  The mix of operations:

* write a run of 1 to 16 pages, then read it back and compare;
* write 1 to 7 sectors inside one page (read-modify-write in the
  engine), then read the page back;
* read 1 to 32 pages and compare;
* trim or write-zeroes 1 to 8 whole pages (they read as zeros and are
  unmapped), then read them back;
* a burst of 8 writes to distinct pages in flight at once, then read
  them back;
* now and then a flush.

A mismatch is counted and described, and the run goes on (so the
final count says how bad it is).  While running, the status file is
rewritten (atomically) about ten times a second with the counts so
far, so a test script can wait for some amount of I/O.  The report
counts the operations that ended in every 10 ms of wall-clock time
(time.time(), comparable with bash's $EPOCHREALTIME): ops_between()
tells how many ended while some command ran.  When the stop file
appears (or --max-seconds pass) the threads finish their current
operation, a fresh connection reads every region in full and compares
it with the model, and a JSON report is written.  Exit status 0 only
if there were no mismatches, no I/O errors and the final read-back
matched.

Command line (use /usr/bin/python3):

  verifier.py SOCKET --status FILE --report FILE --stop FILE
              [--conns 4] [--region-pages 2048] [--base-page 0]
              [--prefill 0.75] [--seed 1] [--max-seconds 300]

As a module: Verifier(...).run() does the same.
"""

import argparse
import array
import errno
import json
import os
import random
import sys
import threading
import time

import nbd
from nbdcheck import SECTOR, PAGE, connect, sector, parse_sector

SPP = PAGE // SECTOR                    # sectors a page
GEN_BITS = 32


def make_seed(run, conn, gen):
    """The seed of generation gen of connection conn (gen >= 1; seed 0
    means zeros).  run tells runs apart if a test starts several."""
    return ((run & 0xffff) << 48) | ((conn & 0xffff) << GEN_BITS) | gen


def split_seed(seed):
    return seed >> 48, (seed >> GEN_BITS) & 0xffff, seed & 0xffffffff


def expected(seeds, first_sector, nsect, base_offset):
    """The bytes the model says [first_sector, +nsect) of a region
    starting at export offset base_offset holds."""
    out = []
    for i in range(first_sector, first_sector + nsect):
        s = seeds[i]
        off = base_offset + i * SECTOR
        out.append(sector(s, off) if s else bytes(SECTOR))
    return b"".join(out)


def what_is(buf, offset):
    """A description of 512 bytes found at export offset `offset`."""
    if buf.count(0) == len(buf):
        return "zeros"
    p = parse_sector(buf)
    if p is None:
        return "unknown bytes %s..." % bytes(buf[:16]).hex()
    seed, off = p
    run, conn, gen = split_seed(seed)
    s = "run %d conn %d gen %d" % (run, conn, gen)
    if off != offset:
        s += " of export offset %d" % off
    return s


class Worker:
    """One connection and the region it owns."""

    def __init__(self, v, idx):
        self.v = v
        self.idx = idx
        self.rng = random.Random(v.seed * 1000 + idx)
        self.first_page = v.base_page + idx * v.region_pages
        self.npages = v.region_pages
        self.base = self.first_page * PAGE
        self.seeds = array.array("Q", bytes(8 * self.npages * SPP))
        self.mapped = bytearray(self.npages)
        self.gen = 0
        self.counts = dict(writes=0, subpage_writes=0, reads=0, trims=0,
                           zeros=0, flushes=0, aio_bursts=0, ops=0,
                           bytes_written=0, bytes_read=0)
        self.timeline = {}              # 10-ms slot of time.time(): ops
        self.mismatches = 0             # pages found wrong
        self.errors = 0                 # NBD requests that failed
        self.max_latency = 0.0
        self.unknown = set()            # pages a failed request touched
        self.prefilled = threading.Event()
        self.h = None

    # -- helpers --

    def next_seed(self):
        self.gen += 1
        return make_seed(self.v.run_id, self.idx, self.gen)

    def timed(self, fn, *args):
        t = time.monotonic()
        try:
            return fn(*args)
        finally:
            dt = time.monotonic() - t
            if dt > self.max_latency:
                self.max_latency = dt

    def error(self, what, e, sector0=None, nsect=0):
        """An NBD request failed: count it, and forget what the model
        knew about the sectors it touched (unknown from now on)."""
        self.errors += 1
        self.v.note("conn %d: %s failed: %s" % (self.idx, what, e))
        for i in range(sector0 or 0, (sector0 or 0) + nsect):
            self.seeds[i] = 0
            self.unknown.add(i // SPP)

    def model_write(self, sector0, nsect, seed):
        for i in range(sector0, sector0 + nsect):
            self.seeds[i] = seed
        for p in range(sector0 // SPP, (sector0 + nsect - 1) // SPP + 1):
            self.mapped[p] = 1
            self.unknown.discard(p)

    def model_unmap(self, page, n):
        for i in range(page * SPP, (page + n) * SPP):
            self.seeds[i] = 0
        for p in range(page, page + n):
            self.mapped[p] = 0
            self.unknown.discard(p)

    def data(self, seed, sector0, nsect):
        return b"".join(sector(seed, self.base + i * SECTOR)
                        for i in range(sector0, sector0 + nsect))

    def verify(self, page, n, what, h=None):
        """Read pages [page, +n) of the region and compare them with
        the model.  => the number of pages found wrong."""
        h = h or self.h
        try:
            buf = self.timed(h.pread, n * PAGE, self.base + page * PAGE)
        except nbd.Error as e:
            self.error("read of pages %d+%d" % (page, n), e)
            return 0
        self.counts["reads"] += 1
        self.counts["bytes_read"] += n * PAGE
        exp = expected(self.seeds, page * SPP, n * SPP,
                       self.base)
        if buf == exp:
            return 0
        bad = 0
        for p in range(n):
            if page + p in self.unknown:
                continue
            a = buf[p * PAGE:(p + 1) * PAGE]
            b = exp[p * PAGE:(p + 1) * PAGE]
            if a == b:
                continue
            bad += 1
            for s in range(SPP):
                if a[s * SECTOR:(s + 1) * SECTOR] != \
                        b[s * SECTOR:(s + 1) * SECTOR]:
                    break
            off = self.base + (page + p) * PAGE + s * SECTOR
            self.v.note("conn %d: %s: MISMATCH at export offset %d "
                        "(export page %d): expected %s, found %s" %
                        (self.idx, what, off, off // PAGE,
                         what_is(b[s * SECTOR:(s + 1) * SECTOR], off),
                         what_is(a[s * SECTOR:(s + 1) * SECTOR], off)))
        return bad

    def check(self, page, n, what):
        bad = self.verify(page, n, what)
        self.mismatches += bad

    # -- operations --

    def op_write(self):
        n = self.rng.randint(1, 16)
        page = self.rng.randrange(0, self.npages - n + 1)
        seed = self.next_seed()
        buf = self.data(seed, page * SPP, n * SPP)
        try:
            self.timed(self.h.pwrite, buf, self.base + page * PAGE)
        except nbd.Error as e:
            return self.error("write of pages %d+%d" % (page, n), e,
                              page * SPP, n * SPP)
        self.counts["writes"] += 1
        self.counts["bytes_written"] += len(buf)
        self.model_write(page * SPP, n * SPP, seed)
        self.check(page, n, "read-back of a %d-page write" % n)

    def op_subpage(self):
        page = self.rng.randrange(0, self.npages)
        k = self.rng.randint(1, SPP - 1)
        s0 = page * SPP + self.rng.randint(0, SPP - k)
        seed = self.next_seed()
        buf = self.data(seed, s0, k)
        try:
            self.timed(self.h.pwrite, buf, self.base + s0 * SECTOR)
        except nbd.Error as e:
            return self.error("write of %d sectors" % k, e, page * SPP, SPP)
        self.counts["subpage_writes"] += 1
        self.counts["bytes_written"] += len(buf)
        self.model_write(s0, k, seed)
        self.check(page, 1, "read-back of a %d-sector write" % k)

    def op_read(self):
        n = self.rng.randint(1, 32)
        page = self.rng.randrange(0, self.npages - n + 1)
        self.check(page, n, "read of %d pages" % n)

    def op_unmap(self, kind):
        n = self.rng.randint(1, 8)
        page = self.rng.randrange(0, self.npages - n + 1)
        fn = self.h.trim if kind == "trims" else self.h.zero
        try:
            self.timed(fn, n * PAGE, self.base + page * PAGE)
        except nbd.Error as e:
            return self.error("%s of pages %d+%d" % (kind, page, n), e,
                              page * SPP, n * SPP)
        self.counts[kind] += 1
        self.model_unmap(page, n)
        self.check(page, n, "read-back of %s" % kind[:-1])

    def op_burst(self):
        pages = self.rng.sample(range(self.npages), 8)
        errs = []
        seeds = {}

        def done(p):
            def cb(err):
                if err.value:
                    errs.append((p, err.value))
                return 1
            return cb

        t = time.monotonic()
        for p in pages:
            seeds[p] = self.next_seed()
            buf = nbd.Buffer.from_bytearray(
                bytearray(self.data(seeds[p], p * SPP, SPP)))
            self.h.aio_pwrite(buf, self.base + p * PAGE, completion=done(p))
        while self.h.aio_in_flight() > 0:
            self.h.poll(-1)
        self.max_latency = max(self.max_latency, time.monotonic() - t)
        failed = dict(errs)
        for p in pages:
            if p in failed:
                self.error("aio write of page %d" % p,
                           errno.errorcode.get(failed[p], failed[p]),
                           p * SPP, SPP)
            else:
                self.model_write(p * SPP, SPP, seeds[p])
                self.counts["bytes_written"] += PAGE
        self.counts["aio_bursts"] += 1
        for p in pages:
            self.check(p, 1, "read-back of a write in a burst")

    def op_flush(self):
        try:
            self.timed(self.h.flush)
        except nbd.Error as e:
            return self.error("flush", e)
        self.counts["flushes"] += 1

    # -- the thread --

    def prefill(self):
        """Write the first `prefill` of the region, 16 pages at a time."""
        end = int(self.npages * self.v.prefill)
        seed = self.next_seed()
        for page in range(0, end, 16):
            n = min(16, end - page)
            buf = self.data(seed, page * SPP, n * SPP)
            try:
                self.h.pwrite(buf, self.base + page * PAGE)
            except nbd.Error as e:
                self.error("prefill write of pages %d+%d" % (page, n), e,
                           page * SPP, n * SPP)
                continue
            self.model_write(page * SPP, n * SPP, seed)
        if end:
            self.check(0, end, "read-back of the prefill")

    def run(self):
        ops = [(self.op_write, 30), (self.op_subpage, 10),
               (self.op_read, 30), (lambda: self.op_unmap("trims"), 10),
               (lambda: self.op_unmap("zeros"), 5), (self.op_burst, 5),
               (self.op_flush, 2)]
        fns = [f for f, _ in ops]
        weights = [w for _, w in ops]
        try:
            self.h = connect(self.v.sock)
            self.prefill()
            self.prefilled.set()
            self.v.ready.wait()
            while not self.v.stopping.is_set():
                self.rng.choices(fns, weights)[0]()
                self.counts["ops"] += 1
                slot = int(time.time() * 100)
                self.timeline[slot] = self.timeline.get(slot, 0) + 1
            self.h.shutdown()
        except Exception as e:      # a crash of the verifier itself
            self.v.note("conn %d: CRASHED: %r" % (self.idx, e))
            self.errors += 1
            self.v.crashed = True
            self.prefilled.set()


class Verifier:
    def __init__(self, sock, conns=4, region_pages=2048, base_page=0,
                 prefill=0.75, seed=1, run_id=1):
        self.sock = sock
        self.conns = conns
        self.region_pages = region_pages
        self.base_page = base_page
        self.prefill = prefill
        self.seed = seed
        self.run_id = run_id
        self.workers = [Worker(self, i) for i in range(conns)]
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.notes = []
        self.nnotes = 0
        self.crashed = False

    def note(self, msg):
        with self.lock:
            self.nnotes += 1
            if len(self.notes) < 20:
                self.notes.append(msg)
                print("verifier: " + msg, file=sys.stderr, flush=True)

    def totals(self):
        t = {}
        for w in self.workers:
            for k, n in w.counts.items():
                t[k] = t.get(k, 0) + n
        t["mismatches"] = sum(w.mismatches for w in self.workers)
        t["errors"] = sum(w.errors for w in self.workers)
        return t

    def write_json(self, path, obj):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.write("\n")
        os.rename(tmp, path)

    def final_check(self):
        """Read every region in full from a fresh connection.
        => (pages checked, pages wrong)"""
        h = connect(self.sock)
        bad = checked = 0
        for w in self.workers:
            for page in range(0, w.npages, 256):
                n = min(256, w.npages - page)
                bad += w.verify(page, n, "final read-back", h)
                checked += n
        h.shutdown()
        return checked, bad

    def run(self, status=None, stop=None, max_seconds=300.0):
        threads = [threading.Thread(target=w.run, name="conn%d" % w.idx)
                   for w in self.workers]
        for t in threads:
            t.start()
        # Ready when every connection has prefilled its region.
        for w in self.workers:
            w.prefilled.wait()
        start = time.monotonic()
        self.ready.set()
        while True:
            elapsed = time.monotonic() - start
            if status:
                st = self.totals()
                st.update(ready=True, elapsed=round(elapsed, 3))
                self.write_json(status, st)
            if (stop and os.path.exists(stop)) or elapsed > max_seconds \
                    or not any(t.is_alive() for t in threads):
                break
            time.sleep(0.1)
        self.stopping.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        report = self.totals()
        timeline = {}
        for w in self.workers:
            for slot, n in w.timeline.items():
                timeline[slot] = timeline.get(slot, 0) + n
        report.update(
            elapsed=round(elapsed, 3),
            timeline={str(k): timeline[k] for k in sorted(timeline)},
            conns=self.conns,
            region_pages=self.region_pages,
            max_latency=round(max(w.max_latency for w in self.workers), 3),
            mapped_pages=sum(sum(w.mapped) for w in self.workers),
            crashed=self.crashed,
            per_conn=[dict(w.counts, mismatches=w.mismatches,
                           errors=w.errors, generations=w.gen)
                      for w in self.workers])
        try:
            checked, bad = self.final_check()
        except nbd.Error as e:
            self.note("final read-back: %s" % e)
            checked, bad = 0, -1
        report.update(final_pages_checked=checked, final_mismatches=bad,
                      notes=self.notes, nnotes=self.nnotes)
        if status:
            st = self.totals()
            st.update(ready=True, done=True, elapsed=round(elapsed, 3))
            self.write_json(status, st)
        return report


def ops_between(report, t0, t1):
    """Operations the report says ended in wall-clock [t0, t1]
    (seconds since the epoch), counting whole 10-ms slots inside."""
    lo, hi = int(t0 * 100) + 1, int(t1 * 100) - 1
    return sum(n for k, n in report["timeline"].items()
               if lo <= int(k) <= hi)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sock")
    ap.add_argument("--status")
    ap.add_argument("--report", required=True)
    ap.add_argument("--stop")
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--region-pages", type=int, default=2048)
    ap.add_argument("--base-page", type=int, default=0)
    ap.add_argument("--prefill", type=float, default=0.75)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--run-id", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=300)
    a = ap.parse_args()
    v = Verifier(a.sock, a.conns, a.region_pages, a.base_page, a.prefill,
                 a.seed, a.run_id)
    report = v.run(a.status, a.stop, a.max_seconds)
    v.write_json(a.report, report)
    ok = (report["mismatches"] == 0 and report["errors"] == 0 and
          report["final_mismatches"] == 0 and not report["crashed"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
