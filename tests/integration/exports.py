# swapdrum integration tests: named exports (test-exports.sh).
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
"""Checks on the exports of one server.

  exports.py quota SOCK FULL OTHER      FULL has a quota of 1 MiB (256
                                        pages): 256 new pages go in, the
                                        257th fails with ENOSPC, as does
                                        a partial write to a new page,
                                        while OTHER still takes new
                                        pages; overwrites go in; a trim
                                        gives a page back
  exports.py at-quota SOCK FULL         FULL is at its quota: a new page
                                        fails with ENOSPC (after a
                                        restart: the count was recovered)
  exports.py write SOCK NAME SEED N [NPAGES]
                                        write N pages (of the first
                                        NPAGES; default all), flush;
                                        each page's bytes say export,
                                        seed and page
  exports.py verify SOCK NAME SEED N [NPAGES [BELOW]]
                                        they read back (those below page
                                        BELOW)
  exports.py count-below NAME SEED N NPAGES BELOW
                                        how many of them lie below BELOW
  exports.py zeros SOCK NAME FIRST END  pages [FIRST, END) read zeros
  exports.py absent SOCK NAME           the server has no export NAME
  exports.py hosts PORT ADMIN SOLO MULTI
                                        one host per export over TCP:
                                        127.0.0.1 holds SOLO (two
                                        connections), 127.0.0.2 is
                                        refused until they close; MULTI
                                        (shared) takes both; the admin
                                        socket's exports reply names the
                                        host and counts connections
  exports.py forced SOCK ADMIN NAME     NAME removed by force while
                                        attached: the connection's
                                        requests fail with EIO, and its
                                        pages are freed when it closes
  exports.py fresh SOCK NAME            every byte of NAME reads zero; a
                                        partial write to a new page
                                        shows zeros around it
  exports.py flood SOCK NAME            write new pages until ENOSPC
                                        (at least one must go in)

SOCK is a unix socket, or tcp:SRC:PORT: a TCP connection to
127.0.0.1:PORT from the address SRC.

Use with /usr/bin/python3 (the python3-libnbd bindings).
"""

import errno
import os
import random
import socket
import struct
import sys
import time

import nbd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adminclient  # noqa: E402

PAGE = 4096


def connect(sock, name):
    h = nbd.NBD()
    h.set_export_name(name)
    # Unaligned requests go through (the engine read-modify-writes).
    h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_ALIGN)
    if sock.startswith("tcp:"):
        _, src, port = sock.split(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.connect(("127.0.0.1", int(port)))
        h.connect_socket(s.detach())
    else:
        h.connect_unix(sock)
    return h


def refused(sock, name):
    try:
        connect(sock, name)
    except nbd.Error:
        return True
    return False


def export_info(admin, name):
    r = adminclient.request(admin, {"cmd": "exports"})
    assert r["ok"], r
    for x in r["exports"]:
        if x["name"] == name:
            return x
    return None


def hosts(port, admin, solo, multi):
    a = "tcp:127.0.0.1:%s" % port
    b = "tcp:127.0.0.2:%s" % port
    h1, h2 = connect(a, solo), connect(a, solo)
    h1.pwrite(b"1" * PAGE, 0)
    h2.pwrite(b"2" * PAGE, PAGE)
    if not refused(b, solo):
        raise SystemExit("a second host attached to %s" % solo)
    x = export_info(admin, solo)
    if x["host"] != "127.0.0.1" or x["connections"] != 2:
        raise SystemExit("exports reply: %r" % x)
    h1.shutdown()
    if not refused(b, solo):
        raise SystemExit("a second host attached while one connection "
                         "of the first was open")
    h2.shutdown()
    del h1, h2
    # The server's .close runs after the hang-up: give it a moment.
    for i in range(100):
        try:
            g = connect(b, solo)
            break
        except nbd.Error:
            time.sleep(0.1)
    else:
        raise SystemExit("%s stayed taken after its host hung up" % solo)
    if g.pread(PAGE, 0) != b"1" * PAGE:
        raise SystemExit("the second host does not see the data")
    if export_info(admin, solo)["host"] != "127.0.0.2":
        raise SystemExit("exports reply does not name the new host")
    m1, m2 = connect(a, multi), connect(b, multi)
    m1.pwrite(b"m" * PAGE, 0)
    if m2.pread(PAGE, 0) != b"m" * PAGE:
        raise SystemExit("the shared export differs between hosts")
    print("hosts: 127.0.0.2 refused while 127.0.0.1 held %s, taken after; "
          "%s took both" % (solo, multi))


def forced(sock, admin, name):
    h = connect(sock, name)
    for i in range(8):
        h.pwrite(b"f" * PAGE, i * PAGE)
    r = adminclient.request(admin, {"cmd": "export-remove", "export": name})
    if not adminclient.is_error(r, "EBUSY"):
        raise SystemExit("removing an attached export: %r" % r)
    r = adminclient.request(admin, {"cmd": "export-remove", "export": name,
                                    "force": True})
    if r.get("ok") is not True:
        raise SystemExit("forced removal: %r" % r)
    try:
        h.pread(PAGE, 0)
    except nbd.Error as e:
        if e.errnum != errno.EIO:
            raise
    else:
        raise SystemExit("a read after a forced removal worked")
    if not refused(sock, name):
        raise SystemExit("a removed export took a new connection")
    used = export_info(admin, name)["used"]
    h.shutdown()
    del h
    for i in range(50):
        if export_info(admin, name) is None:
            break
        time.sleep(0.1)
    else:
        raise SystemExit("the removed export stayed after its connection "
                         "closed")
    print("forced: requests failed with EIO, %d bytes freed at close" % used)


def fresh(sock, name):
    h = connect(sock, name)
    size = h.get_size()
    for off in range(0, size, 1 << 20):
        if h.pread(min(1 << 20, size - off), off).count(0) != \
                min(1 << 20, size - off):
            raise SystemExit("%s: bytes at %d are not zero" % (name, off))
    h.pwrite(b"new", 100)
    page = h.pread(PAGE, 0)
    if page[100:103] != b"new" or page[:100].count(0) != 100 or \
            page[103:].count(0) != PAGE - 103:
        raise SystemExit("%s: a partial write shows old bytes" % name)
    print("%s: %d bytes of zeros, a partial write with zeros around it"
          % (name, size))


def expect_enospc(what, fn, *args):
    try:
        fn(*args)
    except nbd.Error as e:
        if e.errnum != errno.ENOSPC:
            raise
        return
    raise SystemExit("%s: no ENOSPC" % what)


def quota(sock, full, other):
    h = connect(sock, full)
    g = connect(sock, other)
    for i in range(256):
        h.pwrite(b"q" * PAGE, 2 * i * PAGE)
    expect_enospc("page 257", h.pwrite, b"q" * PAGE, 1000 * PAGE)
    expect_enospc("a partial write to a new page", h.pwrite, b"p" * 512,
                  1001 * PAGE + 512)
    for i in range(64):
        g.pwrite(b"o" * PAGE, i * PAGE)
    h.pwrite(b"r" * PAGE, 0)               # overwrites are not charged
    h.pwrite(b"s" * 512, 2 * PAGE + 1024)
    h.trim(PAGE, 4 * PAGE)                 # gives one page back
    h.pwrite(b"t" * PAGE, 1000 * PAGE)
    expect_enospc("page 257 after the trim", h.pwrite, b"q" * PAGE,
                  1002 * PAGE)
    h.zero(4 * PAGE, 6 * PAGE)             # pages 6 and 8 back
    h.pwrite(b"u" * 2 * PAGE, 1003 * PAGE)
    expect_enospc("after the zero", h.pwrite, b"q" * PAGE, 1005 * PAGE)
    if h.pread(PAGE, 0) != b"r" * PAGE or \
       h.pread(PAGE, 1000 * PAGE) != b"t" * PAGE or \
       h.pread(PAGE, 4 * PAGE) != bytes(PAGE):
        raise SystemExit("wrong data after the quota checks")
    h.flush()
    print("quota: 256 pages in, page 257 ENOSPC; %s unaffected" % other)


def at_quota(sock, full):
    h = connect(sock, full)
    expect_enospc("a new page at the quota", h.pwrite, b"q" * PAGE,
                  1010 * PAGE)
    h.pwrite(b"r" * PAGE, 0)
    print("at-quota: still ENOSPC on a new page")


def pages(name, seed, n, npages):
    rng = random.Random("%s/%d" % (name, seed))
    return rng.sample(range(npages), n)


def content(name, seed, p):
    tag = ("%s/%d" % (name, seed)).encode()[:32].ljust(32, b".")
    return (tag + struct.pack("<Q", p)) * (PAGE // 40) + bytes(PAGE % 40)


def write(sock, name, seed, n, npages=None):
    """n pages among the first npages (default: the whole export)."""
    h = connect(sock, name)
    for p in pages(name, seed, n, npages or h.get_size() // PAGE):
        h.pwrite(content(name, seed, p), p * PAGE)
    h.flush()
    print("%s: wrote %d pages" % (name, n))


def verify(sock, name, seed, n, npages=None, below=None):
    """The pages write wrote, those below page `below` if given."""
    h = connect(sock, name)
    bad = checked = 0
    for p in pages(name, seed, n, npages or h.get_size() // PAGE):
        if below is not None and p >= below:
            continue
        checked += 1
        if h.pread(PAGE, p * PAGE) != content(name, seed, p):
            bad += 1
    print("%s: verified %d pages, %d wrong" % (name, checked, bad))
    return 1 if bad else 0


def count_below(name, seed, n, npages, below):
    """How many of the pages write wrote lie below page `below`."""
    print(sum(1 for p in pages(name, seed, n, npages) if p < below))


def zeros(sock, name, first, end):
    """Pages [first, end) read as zeros."""
    h = connect(sock, name)
    bad = [p for p in range(first, end)
           if h.pread(PAGE, p * PAGE) != bytes(PAGE)]
    print("%s: pages %d-%d: %d not zeros" % (name, first, end - 1, len(bad)))
    return 1 if bad else 0


def flood(sock, name):
    h = connect(sock, name)
    n = 0
    try:
        while n * PAGE < h.get_size():
            h.pwrite(b"f" * PAGE, n * PAGE)
            n += 1
    except nbd.Error as e:
        if e.errnum != errno.ENOSPC:
            raise
    print("%s: %d pages in, then ENOSPC" % (name, n))
    return 0 if n > 0 and n * PAGE < h.get_size() else 1


def absent(sock, name):
    try:
        connect(sock, name)
    except nbd.Error as e:
        print("%s: refused: %s" % (name, e.string))
        return 0
    print("%s: served, but should not be" % name)
    return 1


def main(argv):
    cmd = argv[1]
    if cmd == "quota":
        quota(argv[2], argv[3], argv[4])
    elif cmd == "at-quota":
        at_quota(argv[2], argv[3])
    elif cmd == "write":
        write(argv[2], argv[3], *map(int, argv[4:7]))
    elif cmd == "verify":
        return verify(argv[2], argv[3], *map(int, argv[4:8]))
    elif cmd == "count-below":
        count_below(argv[2], *map(int, argv[3:7]))
    elif cmd == "zeros":
        return zeros(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif cmd == "absent":
        return absent(argv[2], argv[3])
    elif cmd == "hosts":
        hosts(argv[2], argv[3], argv[4], argv[5])
    elif cmd == "forced":
        forced(argv[2], argv[3], argv[4])
    elif cmd == "fresh":
        fresh(argv[2], argv[3])
    elif cmd == "flood":
        return flood(argv[2], argv[3])
    else:
        print("exports.py: unknown command %s" % cmd)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
