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
  exports.py write SOCK NAME SEED N     write N pages, flush; each page's
                                        bytes say export, seed and page
  exports.py verify SOCK NAME SEED N    they read back
  exports.py absent SOCK NAME           the server has no export NAME
  exports.py flood SOCK NAME            write new pages until ENOSPC
                                        (at least one must go in)

Use with /usr/bin/python3 (the python3-libnbd bindings).
"""

import errno
import random
import struct
import sys

import nbd

PAGE = 4096


def connect(sock, name):
    h = nbd.NBD()
    h.set_export_name(name)
    h.connect_unix(sock)
    return h


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


def write(sock, name, seed, n):
    h = connect(sock, name)
    for p in pages(name, seed, n, h.get_size() // PAGE):
        h.pwrite(content(name, seed, p), p * PAGE)
    h.flush()
    print("%s: wrote %d pages" % (name, n))


def verify(sock, name, seed, n):
    h = connect(sock, name)
    bad = 0
    for p in pages(name, seed, n, h.get_size() // PAGE):
        if h.pread(PAGE, p * PAGE) != content(name, seed, p):
            bad += 1
    print("%s: verified %d pages, %d wrong" % (name, n, bad))
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
        write(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif cmd == "verify":
        return verify(argv[2], argv[3], int(argv[4]), int(argv[5]))
    elif cmd == "absent":
        return absent(argv[2], argv[3])
    elif cmd == "flood":
        return flood(argv[2], argv[3])
    else:
        print("exports.py: unknown command %s" % cmd)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
