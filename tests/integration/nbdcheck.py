# swapdrum integration tests: pattern writes and verification.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
"""Deterministic data patterns over libnbd, shared by the tests.

Every 512-byte sector of a pattern is a function of (seed, offset of
the sector in the export): a 24-byte header (MAGIC, seed, offset)
followed by 488 bytes of SHAKE-128 output of that header.  So:

* any byte range written with write_pattern() can be re-checked later
  with check_pattern(), whatever its alignment;
* a sector found anywhere (in a read, in a device file) tells which
  write put it there: parse_sector() returns its (seed, offset);
* a mismatch is reported with what was found instead (zeros, another
  seed or offset, or unknown bytes).

Use with /usr/bin/python3 (the python3-libnbd bindings).
"""

import errno
import hashlib
import os
import struct
import sys

import nbd

SECTOR = 512
PAGE = 4096
MAGIC = b"SWDRUMPT"
_HDR = struct.Struct("<8sQQ")          # magic, seed, offset: 24 bytes

__all__ = [
    "SECTOR", "PAGE", "Fail", "fail", "connect", "sector", "pattern",
    "parse_sector", "describe", "compare", "write_pattern",
    "check_pattern", "check_zero", "aio_pwrite_all", "check_bytes", "read", "Model",
    "extents", "data_ranges", "scan_device", "layout", "err_num",
    "expect_errno",
    "log",
]


class Fail(Exception):
    """A check failed."""


def log(*args):
    print(*args, flush=True)


def fail(msg):
    """Report a failure and exit 1 (for the test scripts)."""
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def _excepthook(typ, value, tb, _default=sys.excepthook):
    # A failed check is a verdict, not a crash: one line, no traceback.
    if issubclass(typ, Fail):
        print("FAIL: %s" % value, file=sys.stderr, flush=True)
    else:
        _default(typ, value, tb)


sys.excepthook = _excepthook


# ---------------------------------------------------------------------
# Connections.

def connect(target, strict_align=True):
    """A connected handle.  target: a unix socket path or an NBD URI.
    With strict_align=False, libnbd lets requests that are not aligned
    to the server's minimum block size through (the server must still
    handle them: the engine does read-modify-write)."""
    h = nbd.NBD()
    h.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    if not strict_align:
        h.set_strict_mode(h.get_strict_mode() & ~nbd.STRICT_ALIGN)
    if "://" in target:
        h.connect_uri(target)
    else:
        h.connect_unix(target)
    return h


def err_num(e):
    """The errno number of an nbd.Error (libnbd 1.14 has .errnum, and
    .errno is the symbolic name; later versions may differ)."""
    n = getattr(e, "errnum", None)
    if isinstance(n, int):
        return n
    n = getattr(e, "errno", None)
    if isinstance(n, int):
        return n
    if isinstance(n, str):
        return getattr(errno, n, None)
    return None


def expect_errno(want, what, fn, *args, **kwargs):
    """Call fn(*args); it must raise nbd.Error with errno `want`."""
    try:
        fn(*args, **kwargs)
    except nbd.Error as e:
        got = err_num(e)
        if got != want:
            raise Fail("%s: expected %s, got %s (%s)" %
                       (what, errno.errorcode[want],
                        errno.errorcode.get(got, got), e))
        return e
    raise Fail("%s: succeeded, expected %s" % (what, errno.errorcode[want]))


# ---------------------------------------------------------------------
# Patterns.

def sector(seed, offset):
    """The 512 bytes of pattern `seed` at export offset `offset`
    (a multiple of 512)."""
    hdr = _HDR.pack(MAGIC, seed, offset)
    return hdr + hashlib.shake_128(hdr).digest(SECTOR - _HDR.size)


def pattern(seed, offset, length):
    """The bytes of pattern `seed` for export range [offset, +length)."""
    start = offset - offset % SECTOR
    end = offset + length
    buf = b"".join(sector(seed, o) for o in range(start, end, SECTOR))
    return buf[offset - start:offset - start + length]


def parse_sector(buf):
    """(seed, offset) if buf (512 bytes) is an intact pattern sector,
    else None."""
    if len(buf) < SECTOR or buf[:8] != MAGIC:
        return None
    _, seed, offset = _HDR.unpack_from(buf)
    if bytes(buf[:SECTOR]) != sector(seed, offset):
        return None
    return seed, offset


def describe(buf, offset):
    """What buf (read at export `offset`) holds, around its start."""
    s = offset - offset % SECTOR
    chunk = bytes(buf[:SECTOR - offset % SECTOR])
    if chunk.count(0) == len(chunk):
        return "zeros"
    if offset % SECTOR == 0 and len(buf) >= SECTOR:
        p = parse_sector(buf)
        if p:
            return "pattern seed=%d offset=%d" % p
    # Unaligned: look for a header at the next sector boundary.
    nxt = SECTOR - offset % SECTOR if offset % SECTOR else 0
    if nxt and len(buf) >= nxt + SECTOR:
        p = parse_sector(buf[nxt:nxt + SECTOR])
        if p:
            return "(next sector) pattern seed=%d offset=%d" % p
    return "unknown bytes %s..." % chunk[:16].hex()


def compare(expected, actual, offset, what="data"):
    """Raise Fail at the first byte where actual differs."""
    if expected == actual:
        return
    if len(expected) != len(actual):
        raise Fail("%s at %d: read %d bytes, expected %d" %
                   (what, offset, len(actual), len(expected)))
    # Find the first mismatch quickly: compare 4 KiB blocks first.
    i = 0
    while i < len(expected) and \
            expected[i:i + PAGE] == actual[i:i + PAGE]:
        i += PAGE
    while expected[i] == actual[i]:
        i += 1
    bad = 0
    for j in range(0, len(expected), SECTOR):
        if expected[j:j + SECTOR] != actual[j:j + SECTOR]:
            bad += 1
    # Describe from the start of the sector holding the first mismatch.
    d = max(0, i - (offset + i) % SECTOR)
    raise Fail("%s mismatch at export offset %d (+%d into [%d, %d)): "
               "expected %s, found %s; %d of %d sectors differ" %
               (what, offset + i, i, offset, offset + len(expected),
                describe(expected[d:], offset + d),
                describe(actual[d:], offset + d),
                bad, (len(expected) + SECTOR - 1) // SECTOR))


def read(h, offset, length, chunk=1 << 20):
    """Read [offset, +length) in chunks of at most `chunk` bytes."""
    out = bytearray()
    while length > 0:
        n = min(chunk, length)
        out += h.pread(n, offset)
        offset += n
        length -= n
    return bytes(out)


def write_pattern(h, seed, offset, length, flags=0):
    h.pwrite(pattern(seed, offset, length), offset, flags)


def check_bytes(h, expected, offset, what="data", chunk=1 << 20):
    for i in range(0, len(expected), chunk):
        exp = expected[i:i + chunk]
        compare(exp, h.pread(len(exp), offset + i), offset + i, what)


def check_pattern(h, seed, offset, length, what=None, chunk=1 << 20):
    """Read back [offset, +length) and compare it with pattern seed."""
    what = what or "pattern %d" % seed
    for o in range(offset, offset + length, chunk):
        n = min(chunk, offset + length - o)
        compare(pattern(seed, o, n), h.pread(n, o), o, what)


def check_zero(h, offset, length, what="zeros", chunk=1 << 20):
    for o in range(offset, offset + length, chunk):
        n = min(chunk, offset + length - o)
        compare(bytes(n), h.pread(n, o), o, what)


def aio_pwrite_all(h, items, depth=32):
    """Write (offset, data) items with up to `depth` requests in
    flight; raise Fail if any of them failed."""
    errs = []

    def done(off):
        def cb(err):
            if err.value:
                errs.append((off, err.value))
            return 1                    # retire the command
        return cb

    for off, data in items:
        while h.aio_in_flight() >= depth:
            h.poll(-1)
        h.aio_pwrite(nbd.Buffer.from_bytearray(data), off,
                     completion=done(off))
    while h.aio_in_flight() > 0:
        h.poll(-1)
    if errs:
        off, e = errs[0]
        raise Fail("%d aio writes failed, first at offset %d: %s" %
                   (len(errs), off, errno.errorcode.get(e, e)))


# ---------------------------------------------------------------------
# A model of the export in a local (sparse) file.

class Model:
    """The expected content of the export, kept in a sparse file, plus
    the set of pages ever written (which the server must have mapped:
    a write of any byte of a page maps the whole page)."""

    def __init__(self, path, size):
        self.size = size
        self.f = open(path, "w+b")
        self.f.truncate(size)
        self.touched = set()

    def write(self, offset, data):
        self.f.seek(offset)
        self.f.write(data)
        first = offset // PAGE
        last = (offset + len(data) - 1) // PAGE
        self.touched.update(range(first, last + 1))

    def unmap(self, offset, length):
        """Trim/zero of whole pages: zeros, and the pages unmapped."""
        assert offset % PAGE == 0 and length % PAGE == 0
        self.f.seek(offset)
        self.f.write(bytes(length))
        self.touched.difference_update(
            range(offset // PAGE, (offset + length) // PAGE))

    def get(self, offset, length):
        self.f.seek(offset)
        return self.f.read(length)

    def verify(self, h, chunk=1 << 20, what="export"):
        """Read the whole export and compare it with the model."""
        for o in range(0, self.size, chunk):
            n = min(chunk, self.size - o)
            compare(self.get(o, n), h.pread(n, o), o, what)

    def mapped_ranges(self):
        """Merged [start, end) byte ranges of touched pages."""
        return _merge(sorted(self.touched))


def _merge(pages):
    out = []
    for p in pages:
        if out and out[-1][1] == p * PAGE:
            out[-1][1] += PAGE
        else:
            out.append([p * PAGE, (p + 1) * PAGE])
    return [tuple(r) for r in out]


# ---------------------------------------------------------------------
# Extents.

def extents(h, offset=0, length=None):
    """[(offset, length, flags)] over the range from base:allocation,
    adjacent extents of equal flags merged."""
    if length is None:
        length = h.get_size() - offset
    out = []
    end = offset + length

    def cb(metacontext, off, entries, err):
        if metacontext != nbd.CONTEXT_BASE_ALLOCATION:
            return 0
        for i in range(0, len(entries), 2):
            n, fl = entries[i], entries[i + 1]
            if out and out[-1][0] + out[-1][1] == off and out[-1][2] == fl:
                out[-1][1] += n
            else:
                out.append([off, n, fl])
            off += n
        return 0

    pos = offset
    while pos < end:
        before = out[-1][0] + out[-1][1] if out else offset
        h.block_status(min(end - pos, 1 << 30), pos, cb)
        after = out[-1][0] + out[-1][1] if out else offset
        if after <= before:
            raise Fail("block_status at %d made no progress" % pos)
        pos = after
    if out and out[-1][0] + out[-1][1] > end:
        out[-1][1] = end - out[-1][0]
    return [tuple(e) for e in out]


def data_ranges(exts):
    """Merged [start, end) ranges of extents that are not holes."""
    out = []
    for off, n, fl in exts:
        if fl & nbd.STATE_HOLE:
            continue
        if out and out[-1][1] == off:
            out[-1][1] += n
        else:
            out.append([off, off + n])
    return [tuple(r) for r in out]


# ---------------------------------------------------------------------
# Device files.

META_PAGES = 17      # the stamp and two 8-page pool tables
RECORD = 16          # bytes of page record per data page


def layout(size, skip=0):
    """The device layout of a backend of size bytes whose first skip
    pages are left alone, as sd_layout (server/storage/format.c):
    returns (data_offset, npages, records_offset)."""
    r = size // PAGE - skip - META_PAGES
    n = r // 257 * 256
    while (n + 1) + (n + 256) // 256 <= r:
        n += 1
    records = (skip + META_PAGES) * PAGE
    return records + (n + 255) // 256 * PAGE, n, records


def scan_device(path, data_offset=None):
    """Map device page -> (seed, export offset) for every device page
    of the file at `path` that holds one whole pattern page (8 intact
    sectors of one seed at consecutive export offsets).  Device page p
    is at file offset data_offset + p * PAGE (by default where the
    file's layout puts it).  Returns (pages, other): `other` counts
    device pages that are neither zero nor a whole pattern page."""
    pages = {}
    other = 0
    zero = bytes(PAGE)
    size = os.path.getsize(path)
    data_offset, npages, _ = layout(size) if data_offset is None \
        else (data_offset, (size - data_offset) // PAGE, 0)
    with open(path, "rb") as f:
        f.seek(data_offset)
        p = 0
        while p < npages:
            buf = f.read(PAGE)
            if len(buf) < PAGE:
                break
            if buf != zero:
                first = parse_sector(buf[:SECTOR])
                ok = first is not None and first[1] % PAGE == 0
                if ok:
                    seed, off = first
                    ok = buf == pattern(seed, off, PAGE)
                if ok:
                    pages[p] = first
                else:
                    other += 1
            p += 1
    return pages, other
