#!/usr/bin/python3
# swapdrum integration tests: NBD servers that misbehave, for the
# client side (swapdrum-attach's handshake).
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
"""fake-nbd.py SOCKET MODE: listens on the unix socket SOCKET and
answers every connection the way MODE says, until killed.  Modes:

  good        a valid fixed-newstyle server (NBD_OPT_GO, 64 MiB)
  desc        good, with the description "swapdrum pool 00..01"
  drip        good, but every byte of the greeting 0.1 s apart
  exportname  NBD_OPT_GO unsupported: answers NBD_OPT_EXPORT_NAME
  badmagic    not NBD at all
  oldstyle    an oldstyle server
  nofixed     newstyle without the fixed-newstyle flag
  silent      accepts and says nothing
  hangup      hangs up after the greeting
  huge        an option reply claiming 4 GiB of payload
  refuse      NBD_REP_ERR_UNKNOWN with control characters in its text
  noexport    ACK without the export's size
  badinfo     NBD_INFO_EXPORT of the wrong length
  flood       info replies without end
  wrongopt    a reply to another option
  readonly    good, but the export is read-only
  bigblock    good, but the minimum block size is 8192
"""

import os
import socket
import struct
import sys
import threading
import time

NBDMAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3e889045565a9
OPT_GO, OPT_EXPORT_NAME = 7, 1
REP_ACK, REP_INFO = 1, 3
ERR_UNSUP, ERR_UNKNOWN = (1 << 31) | 1, (1 << 31) | 6
SIZE = 64 << 20
FLAGS = 1 | 4 | 8 | 32 | 256     # HAS_FLAGS FLUSH FUA TRIM MULTI_CONN


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        part = c.recv(n - len(buf))
        if not part:
            raise EOFError
        buf += part
    return buf


def reply(c, opt, rtype, data=b""):
    c.sendall(struct.pack(">QIII", REPLY_MAGIC, opt, rtype, len(data)) + data)


def info_export(flags=FLAGS):
    return struct.pack(">HQH", 0, SIZE, flags)


def read_option(c):
    magic, opt, length = struct.unpack(">QII", recv_exact(c, 16))
    assert magic == IHAVEOPT
    return opt, recv_exact(c, length)


def greet(c, mode):
    hello = NBDMAGIC + struct.pack(">QH", IHAVEOPT, 0 if mode == "nofixed"
                                   else 3)
    if mode == "drip":
        for b in hello:
            c.sendall(bytes([b]))
            time.sleep(0.1)
    else:
        c.sendall(hello)
    recv_exact(c, 4)             # client flags


def serve(c, mode):
    if mode == "badmagic":
        c.sendall(b"HTTP/1.0 200 OK\r\n\r\n")
        return
    if mode == "oldstyle":
        c.sendall(NBDMAGIC + struct.pack(">QQI", 0x420281861253, SIZE, 3)
                  + b"\0" * 124)
        return
    if mode == "silent":
        time.sleep(60)
        return
    greet(c, mode)
    if mode == "hangup":
        return
    opt, _ = read_option(c)
    if mode == "exportname":
        reply(c, opt, ERR_UNSUP)
        opt, _ = read_option(c)
        assert opt == OPT_EXPORT_NAME
        c.sendall(struct.pack(">QH", SIZE, FLAGS))   # NO_ZEROES agreed
        time.sleep(1)
        return
    answers = {
        "huge": lambda: c.sendall(struct.pack(">QIII", REPLY_MAGIC, opt,
                                              REP_INFO, 0xffffffff)),
        "refuse": lambda: reply(c, opt, ERR_UNKNOWN,
                                b"no \x1b[31msuch\x00 export\n"),
        "noexport": lambda: reply(c, opt, REP_ACK),
        "badinfo": lambda: reply(c, opt, REP_INFO, info_export()[:11]),
        "wrongopt": lambda: reply(c, opt + 1, REP_ACK),
        "flood": lambda: [reply(c, opt, REP_INFO, struct.pack(">H", 99))
                          for _ in range(100)],
    }
    if mode in answers:
        answers[mode]()
        time.sleep(1)
        return
    reply(c, opt, REP_INFO, info_export(FLAGS | 2 if mode == "readonly"
                                        else FLAGS))
    if mode == "desc":
        reply(c, opt, REP_INFO, struct.pack(">H", 2) +
              b"swapdrum pool " + b"0" * 31 + b"1")
    if mode == "bigblock":
        reply(c, opt, REP_INFO, struct.pack(">HIII", 3, 8192, 8192, 1 << 20))
    reply(c, opt, REP_ACK)
    time.sleep(1)


def handle(c, mode):
    try:
        serve(c, mode)
    except (EOFError, OSError):
        pass
    finally:
        c.close()


def main():
    path, mode = sys.argv[1:3]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, mode), daemon=True).start()


if __name__ == "__main__":
    main()
