# swapdrum integration tests: pages that must outlive a server restart.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
"""Writes and checks pages across server restarts (test-restart*.sh).

  restart.py write SOCK STATE N SEED     write N scattered pages (each
                                         page's bytes say page and
                                         generation), flush; STATE keeps
                                         what each page must hold
  restart.py rewrite SOCK STATE N SEED   overwrite N of them, no flush
  restart.py scribble SOCK STATE N SEED  write N new pages, no flush
  restart.py flush SOCK                  flush
  restart.py trim SOCK STATE N SEED      trim N of them (now zeros)
  restart.py verify SOCK STATE           every page in STATE reads back
  restart.py lossy SOCK STATE LOST       after a host crash: every page in
                                         STATE reads back or fails with
                                         EIO (never zeros, never other
                                         data); prints "INTACT EIO", and
                                         the EIO pages go to file LOST
  restart.py storm SOCK LOG CONNS STATE  CONNS connections write pages
                                         not in STATE until the server
                                         goes away; LOG gets "b PAGE GEN"
                                         before each write and "a PAGE
                                         GEN" once acknowledged
  restart.py term SOCK LOG STATE PID [OLDLOG...]
                                         SIGTERM to PID while 2
                                         connections write pages not in
                                         STATE or an OLDLOG at QD 8 (LOG
                                         as storm's)
                                         and 2 sit idle, which read
                                         after it: no request may get an
                                         error reply
  restart.py check-storm SOCK LOG        every acknowledged write reads
                                         back; a page whose write was in
                                         flight holds the old or the new

Use with /usr/bin/python3 (the python3-libnbd bindings).
"""

import errno
import json
import os
import random
import signal
import struct
import sys
import threading
import time

import nbd

PAGE = 4096


def content(page, gen):
    """A page's bytes for generation gen (0: zeros, never written)."""
    if gen == 0:
        return bytes(PAGE)
    return struct.pack("<QQ", page, gen) * (PAGE // 16)


def describe(page, data):
    if data == bytes(PAGE):
        return "zeros"
    p, g = struct.unpack_from("<QQ", data)
    if content(p, g) == data:
        return "page %d generation %d" % (p, g)
    return "unknown bytes"


def connect(sock):
    h = nbd.NBD()
    h.connect_unix(sock)
    return h


def load(state):
    try:
        with open(state) as f:
            return {int(k): v for k, v in json.load(f).items()}
    except FileNotFoundError:
        return {}


def save(state, pages):
    with open(state + ".new", "w") as f:
        json.dump(pages, f)
    os.rename(state + ".new", state)


def write(sock, state, n, seed, flush=True, rewrite=False):
    h = connect(sock)
    pages = load(state)
    rng = random.Random(seed)
    npages = h.get_size() // PAGE
    if rewrite:
        chosen = rng.sample(sorted(pages), min(n, len(pages)))
    else:
        # New pages only: an old page would be overwritten in place.
        pool = rng.sample(range(npages), min(npages, n + len(pages)))
        chosen = [p for p in pool if p not in pages][:n]
    for p in chosen:
        gen = pages.get(p, 0) + 1
        h.pwrite(content(p, gen), p * PAGE)
        pages[p] = gen
    if flush:
        h.flush()
    save(state, pages)
    h.shutdown()
    print("wrote %d pages" % len(chosen))


def trim(sock, state, n, seed):
    h = connect(sock)
    pages = load(state)
    rng = random.Random(seed)
    chosen = rng.sample(sorted(p for p, g in pages.items() if g), n)
    for p in chosen:
        h.trim(PAGE, p * PAGE)
        pages[p] = 0
    save(state, pages)
    h.shutdown()
    print("trimmed %d pages" % n)


def flush(sock):
    h = connect(sock)
    h.flush()
    h.shutdown()


def lossy(sock, state, lostpath):
    h = connect(sock)
    pages = load(state)
    bad = intact = 0
    lost = []
    for p, gen in sorted(pages.items()):
        try:
            got = h.pread(PAGE, p * PAGE)
        except nbd.Error as e:
            if e.errnum != errno.EIO:
                raise
            lost.append(p)
            continue
        if got == content(p, gen):
            intact += 1
        else:
            bad += 1
            if bad <= 5:
                print("page %d: expected generation %d or EIO, found %s" %
                      (p, gen, describe(p, got)), file=sys.stderr)
    h.shutdown()
    with open(lostpath, "w") as f:
        f.write("".join("%d\n" % p for p in lost))
    if bad:
        print("%d pages wrong" % bad, file=sys.stderr)
        return 1
    print(intact, len(lost))
    return 0


def verify(sock, state):
    h = connect(sock)
    pages = load(state)
    bad = 0
    for p, gen in sorted(pages.items()):
        got = h.pread(PAGE, p * PAGE)
        if got != content(p, gen):
            bad += 1
            if bad <= 5:
                print("page %d: expected generation %d, found %s" %
                      (p, gen, describe(p, got)))
    h.shutdown()
    print("verified %d pages: %d wrong" % (len(pages), bad))
    return 1 if bad else 0


def storm(sock, logpath, conns, state):
    taken = load(state)
    fd = os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lock = threading.Lock()

    def note(kind, p, g):
        with lock:
            os.write(fd, b"%s %d %d\n" % (kind, p, g))

    def worker(i):
        try:
            h = connect(sock)
        except nbd.Error:
            return
        npages = h.get_size() // PAGE
        rng = random.Random(1000 + i)   # not the seeds of write()
        mine = [p for p in rng.sample(range(npages), 4096)
                if p % conns == i and p not in taken]
        gens = {}
        try:
            while True:
                p = rng.choice(mine)
                g = gens.get(p, 0) + 1
                note(b"b", p, g)
                h.pwrite(content(p, g), p * PAGE)
                note(b"a", p, g)
                gens[p] = g
        except nbd.Error:
            pass

    threads = [threading.Thread(target=worker, args=(i,))
               for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def logged_pages(logpath):
    with open(logpath) as f:
        return {int(line.split()[1]) for line in f
                if len(line.split()) == 3}


def term(sock, logpath, state, pid, oldlogs):
    """A stop must close connections, never answer with an error: the
    kernel fails a request that gets one (a swap page lost), while a
    request the closed connection retires (ENOTCONN here) is sent again
    by a client that reconnects."""
    taken = set(load(state))
    for old in oldlogs:
        taken |= logged_pages(old)
    fd = os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lock = threading.Lock()
    replies = []            # errors the server answered with
    acked = [0]
    started = threading.Barrier(3)

    def note(kind, p, g):
        with lock:
            os.write(fd, b"%s %d %d\n" % (kind, p, g))

    def completed(h, cookie, p, g=None):
        """g None: a read, not counted."""
        try:
            h.aio_command_completed(cookie)
        except nbd.Error as e:
            if e.errnum != errno.ENOTCONN:
                with lock:
                    replies.append("page %d: %s" % (p, e.string))
            return
        if g is not None:
            note(b"a", p, g)
            with lock:
                acked[0] += 1

    def busy(i):
        h = connect(sock)
        npages = h.get_size() // PAGE
        rng = random.Random(2000 + i)
        mine = [p for p in rng.sample(range(npages), 4096)
                if p % 2 == i and p not in taken]
        gens = {}
        started.wait()
        try:
            while True:
                batch = []
                for p in rng.sample(mine, 8):
                    g = gens.get(p, 0) + 1
                    gens[p] = g
                    note(b"b", p, g)
                    batch.append((h.aio_pwrite(content(p, g), p * PAGE),
                                  p, g))
                while h.aio_in_flight() > 0:
                    h.poll(-1)
                for cookie, p, g in batch:
                    completed(h, cookie, p, g)
        except nbd.Error:
            pass                # the connection closed

    idle = [connect(sock) for i in range(2)]
    threads = [threading.Thread(target=busy, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(2)
    os.kill(pid, signal.SIGTERM)
    time.sleep(0.5)
    tried = 0
    for h in idle:
        try:
            bufs = [nbd.Buffer(PAGE) for i in range(8)]
            cookies = [h.aio_pread(b, i * PAGE) for i, b in enumerate(bufs)]
            tried += 8
            while h.aio_in_flight() > 0:
                h.poll(-1)
            for i, c in enumerate(cookies):
                completed(h, c, i)
        except nbd.Error:
            pass
    for t in threads:
        t.join()
    print("SIGTERM: %d writes acknowledged, %d error replies "
          "(%d reads from idle connections after it)" %
          (acked[0], len(replies), tried))
    for r in replies[:5]:
        print(r)
    if acked[0] < 1000:
        print("too few writes before SIGTERM: the test is too weak")
        return 1
    return 1 if replies else 0


def check_storm(sock, logpath):
    acked, begun = {}, {}
    with open(logpath) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue            # the last line may be cut short
            kind, p, g = parts[0], int(parts[1]), int(parts[2])
            if kind == "a":
                acked[p] = max(acked.get(p, 0), g)
            else:
                begun[p] = max(begun.get(p, 0), g)
    h = connect(sock)
    bad = inflight = 0
    for p in sorted(begun):
        old = acked.get(p, 0)
        allowed = {old}
        if begun[p] > old:
            allowed.add(begun[p])
            inflight += 1
        got = h.pread(PAGE, p * PAGE)
        if not any(got == content(p, g) for g in allowed):
            bad += 1
            if bad <= 5:
                print("page %d: acknowledged generation %d%s, found %s" %
                      (p, old, ", in flight %d" % begun[p]
                       if begun[p] > old else "", describe(p, got)))
    h.shutdown()
    writes = sum(acked.values())
    print("checked %d pages (%d acknowledged writes, %d in flight): "
          "%d wrong" % (len(begun), writes, inflight, bad))
    if writes < 1000:
        print("too few writes before the kill: the test is too weak")
        return 1
    return 1 if bad else 0


def main(argv):
    cmd = argv[1]
    if cmd == "write":
        write(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif cmd == "rewrite":
        write(argv[2], argv[3], int(argv[4]), int(argv[5]), flush=False,
              rewrite=True)
    elif cmd == "scribble":
        write(argv[2], argv[3], int(argv[4]), int(argv[5]), flush=False)
    elif cmd == "flush":
        flush(argv[2])
    elif cmd == "lossy":
        return lossy(argv[2], argv[3], argv[4])
    elif cmd == "trim":
        trim(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif cmd == "verify":
        return verify(argv[2], argv[3])
    elif cmd == "storm":
        storm(argv[2], argv[3], int(argv[4]), argv[5])
    elif cmd == "term":
        return term(argv[2], argv[3], argv[4], int(argv[5]), argv[6:])
    elif cmd == "check-storm":
        return check_storm(argv[2], argv[3])
    else:
        print("restart.py: unknown command %s" % cmd)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
