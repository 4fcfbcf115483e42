#!/usr/bin/python3
# swapdrum: write the seed corpus of the NBD-stream fuzzer, and check it.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Each seed is what a client sends in one whole session with
# `nbdkit -s` (the protocol on stdin/stdout): the newstyle handshake,
# options, then transmission-phase requests and a disconnect.  The
# bytes are written by hand from the NBD protocol specification
# (doc/proto.md of the NBD project), so that they do not depend on
# what a client library happens to send.
#
#   nbd-seeds.py DIR               write the seeds into DIR
#   nbd-seeds.py --check DIR CMD.. feed every seed of DIR to CMD (an
#                                  `nbdkit -s ...` command line) and
#                                  check every reply: the handshake is
#                                  accepted, each request succeeds,
#                                  reads return what was written.
#
# The Python standard library only.

import os
import struct
import subprocess
import sys

NBDMAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF

FLAG_FIXED_NEWSTYLE = 1
FLAG_NO_ZEROES = 2

OPT_EXPORT_NAME = 1
OPT_ABORT = 2
OPT_LIST = 3
OPT_INFO = 6
OPT_GO = 7
OPT_STRUCTURED_REPLY = 8
OPT_LIST_META_CONTEXT = 9
OPT_SET_META_CONTEXT = 10

REP_ACK = 1
REP_SERVER = 2
REP_INFO = 3
REP_META_CONTEXT = 4
REP_FLAG_ERROR = 1 << 31

INFO_EXPORT = 0
INFO_BLOCK_SIZE = 3

CMD_READ = 0
CMD_WRITE = 1
CMD_DISC = 2
CMD_FLUSH = 3
CMD_TRIM = 4
CMD_WRITE_ZEROES = 6
CMD_BLOCK_STATUS = 7

CMD_FLAG_FUA = 1 << 0
CMD_FLAG_NO_HOLE = 1 << 1
CMD_FLAG_REQ_ONE = 1 << 3
CMD_FLAG_FAST_ZERO = 1 << 4

REPLY_TYPE_NONE = 0
REPLY_TYPE_OFFSET_DATA = 1
REPLY_TYPE_OFFSET_HOLE = 2
REPLY_TYPE_BLOCK_STATUS = 5
REPLY_FLAG_DONE = 1

PAGE = 4096


class Session:
    """The bytes a client sends, and what it expects back."""

    def __init__(self):
        self.out = bytearray()
        self.cookie = 0
        # (cookie, kind, offset, length, expected bytes or None)
        self.expect = []
        self.structured = False
        self.meta = False
        self.options = []       # option numbers, in order
        self.transmission = False

    def client_flags(self, flags=FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES):
        self.out += struct.pack(">I", flags)

    def option(self, opt, data=b""):
        self.out += struct.pack(">QII", IHAVEOPT, opt, len(data)) + data
        self.options.append(opt)

    def opt_structured(self):
        self.option(OPT_STRUCTURED_REPLY)
        self.structured = True

    def opt_meta(self, opt=OPT_SET_META_CONTEXT, name=b"",
                 queries=(b"base:allocation",)):
        data = struct.pack(">I", len(name)) + name
        data += struct.pack(">I", len(queries))
        for q in queries:
            data += struct.pack(">I", len(q)) + q
        self.option(opt, data)
        if opt == OPT_SET_META_CONTEXT:
            self.meta = True

    def opt_go(self, name=b"", infos=(INFO_BLOCK_SIZE,), opt=OPT_GO):
        data = struct.pack(">I", len(name)) + name
        data += struct.pack(">H", len(infos))
        for i in infos:
            data += struct.pack(">H", i)
        self.option(opt, data)
        if opt == OPT_GO and name == b"":
            self.transmission = True

    def opt_export_name(self, name=b""):
        self.out += struct.pack(">QII", IHAVEOPT, OPT_EXPORT_NAME,
                                len(name)) + name
        self.transmission = True

    def request(self, cmd, offset=0, length=0, flags=0, data=b""):
        self.cookie += 1
        self.out += struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd,
                                self.cookie, offset, length) + data
        return self.cookie

    def write(self, offset, data, flags=0):
        c = self.request(CMD_WRITE, offset, len(data), flags, data)
        self.expect.append((c, "ok", offset, len(data), None))

    def read(self, offset, want):
        c = self.request(CMD_READ, offset, len(want))
        self.expect.append((c, "read", offset, len(want), bytes(want)))

    def simple(self, cmd, offset=0, length=0, flags=0):
        c = self.request(cmd, offset, length, flags)
        self.expect.append((c, "ok", offset, length, None))

    def block_status(self, offset, length, flags=0):
        c = self.request(CMD_BLOCK_STATUS, offset, length, flags)
        self.expect.append((c, "status", offset, length, None))

    def disconnect(self):
        self.request(CMD_DISC)


def pattern(n, seed):
    """n bytes of a pattern that differs per seed and is never zero."""
    return bytes(((i * 7 + seed) % 251) + 1 for i in range(n))


def session_go_rw():
    """Structured replies, base:allocation, NBD_OPT_GO with export "",
    then every command the plugin implements, and a disconnect."""
    s = Session()
    s.client_flags()
    s.opt_structured()
    s.opt_meta()
    s.opt_go()
    a = pattern(PAGE, 1)
    s.write(PAGE, a)
    s.read(PAGE, a)
    s.write(3 * PAGE, pattern(512, 2), CMD_FLAG_FUA)
    s.block_status(0, 8 * PAGE)
    s.simple(CMD_TRIM, PAGE, PAGE)
    s.read(PAGE, bytes(PAGE))
    s.simple(CMD_WRITE_ZEROES, 3 * PAGE, PAGE, CMD_FLAG_FAST_ZERO)
    s.read(3 * PAGE, bytes(512))
    s.simple(CMD_FLUSH)
    s.block_status(0, 4 * PAGE, CMD_FLAG_REQ_ONE)
    s.disconnect()
    return s


def session_unaligned():
    """Requests that are not page-aligned (read-modify-write in the
    engine), after an old-style NBD_OPT_EXPORT_NAME."""
    s = Session()
    s.client_flags()
    s.opt_export_name()
    a = pattern(512, 3)
    s.write(100 * 512, a)
    s.read(100 * 512, a)
    b = pattern(1024, 4)
    s.write(PAGE - 512, b)
    s.read(PAGE - 512, b)
    s.simple(CMD_WRITE_ZEROES, PAGE, 256)
    s.read(PAGE - 512, b[:512] + bytes(256) + b[768:])
    s.simple(CMD_TRIM, PAGE - 512, 1024)
    s.simple(CMD_FLUSH)
    s.disconnect()
    return s


def session_options():
    """The option haggling: list, info, meta context listing, a wrong
    export name refused, then GO and a short session."""
    s = Session()
    s.client_flags()
    s.option(OPT_LIST)
    s.opt_go(opt=OPT_INFO, infos=(INFO_EXPORT, INFO_BLOCK_SIZE))
    s.opt_structured()
    s.opt_meta(opt=OPT_LIST_META_CONTEXT, queries=())
    s.opt_go(name=b"nope")
    s.opt_meta()
    s.opt_go(infos=())
    s.write(8 * PAGE + 512, pattern(512, 5))
    s.block_status(6 * PAGE, 6 * PAGE)
    s.read(8 * PAGE, bytes(512) + pattern(512, 5))
    s.disconnect()
    return s


def session_abort():
    """A client that gives up during the handshake."""
    s = Session()
    s.client_flags()
    s.option(OPT_LIST)
    s.option(OPT_ABORT)
    return s


def session_overwrite():
    """A write spanning two pages, an overwrite of a mapped page, and a
    read past what was written (zeros), without structured replies."""
    s = Session()
    s.client_flags()
    s.opt_go()
    a = pattern(1024, 6)
    s.write(2 * PAGE - 512, a)
    b = pattern(512, 7)
    s.write(2 * PAGE + 256, b, CMD_FLAG_FUA)
    s.read(2 * PAGE - 512, a[:768] + b + a[768 + 512:])
    s.read(32 * PAGE, bytes(512))
    s.simple(CMD_FLUSH)
    s.disconnect()
    return s


SEEDS = {
    "go-rw": session_go_rw,
    "unaligned": session_unaligned,
    "options": session_options,
    "abort": session_abort,
    "overwrite": session_overwrite,
}


# ---- checking a session against a real server ----

class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("reply ends early (at byte %d, wanted %d more)"
                             % (self.pos, n))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


def check_handshake(s, r):
    if r.take(8) != NBDMAGIC or r.unpack(">Q")[0] != IHAVEOPT:
        raise ValueError("not a newstyle server")
    r.unpack(">H")
    for opt in s.options:
        while True:
            magic, ropt, rtype, rlen = r.unpack(">QIII")
            if magic != REPLY_MAGIC or ropt != opt:
                raise ValueError("option %d: bad reply header" % opt)
            r.take(rlen)
            if rtype & REP_FLAG_ERROR:
                break
            if rtype == REP_ACK:
                break
            if rtype not in (REP_SERVER, REP_INFO, REP_META_CONTEXT):
                raise ValueError("option %d: reply type %#x" % (opt, rtype))
    if s.transmission and OPT_GO not in s.options:
        r.unpack(">QH")         # NBD_OPT_EXPORT_NAME: size, flags


def check_transmission(s, r):
    for cookie, kind, offset, length, want in s.expect:
        magic = r.unpack(">I")[0]
        if magic == SIMPLE_REPLY_MAGIC:
            err, got = r.unpack(">IQ")
            if got != cookie or err:
                raise ValueError("cookie %d: error %d" % (cookie, err))
            if kind == "read" and r.take(length) != want:
                raise ValueError("cookie %d: read the wrong data" % cookie)
            continue
        data = bytearray(length) if kind == "read" else None
        while True:
            if magic != STRUCTURED_REPLY_MAGIC:
                raise ValueError("cookie %d: reply magic %#x"
                                 % (cookie, magic))
            flags, rtype, got, rlen = r.unpack(">HHQI")
            body = r.take(rlen)
            if got != cookie or rtype & 0x8000:
                raise ValueError("cookie %d: error reply" % cookie)
            if rtype == REPLY_TYPE_OFFSET_DATA:
                off = struct.unpack(">Q", body[:8])[0] - offset
                data[off:off + rlen - 8] = body[8:]
            if flags & REPLY_FLAG_DONE:
                break
            magic = r.unpack(">I")[0]
        if kind == "read" and bytes(data) != want:
            raise ValueError("cookie %d: read the wrong data" % cookie)


def check(directory, cmd):
    failed = 0
    for name in sorted(os.listdir(directory)):
        s = SEEDS[name]()
        with open(os.path.join(directory, name), "rb") as f:
            if f.read() != bytes(s.out):
                print("%s: differs from what nbd-seeds.py writes" % name)
                failed += 1
                continue
        p = subprocess.run(cmd, input=bytes(s.out), capture_output=True,
                           timeout=60)
        try:
            r = Reader(p.stdout)
            check_handshake(s, r)
            check_transmission(s, r)
            if p.returncode != 0:
                raise ValueError("the server exited with %d" % p.returncode)
            print("%s: ok (%d requests)" % (name, len(s.expect)))
        except ValueError as e:
            print("%s: %s\n%s" % (name, e, p.stderr.decode(errors="replace")))
            failed += 1
    return failed


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "--check":
        sys.exit(1 if check(sys.argv[2], sys.argv[3:]) else 0)
    if len(sys.argv) != 2:
        sys.exit("usage: nbd-seeds.py DIR | --check DIR NBDKIT-COMMAND...")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, make in SEEDS.items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(make().out)


if __name__ == "__main__":
    main()
