#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# The plugin served with TLS required (nbdkit --tls=require
# --tls-psk=FILE, a key made here), on a unix socket:
#   * a client with the key (libnbd: set_tls, set_tls_psk_file,
#     set_tls_username) writes 64 pages, reads them back, trims 16 of
#     them (they read as zeros and their slots go back to the pool: the
#     admin socket's stats agree), writes sub-page ranges and reads
#     them back;
#   * nbdcopy, given an nbds+unix:// URI with the key file, copies the
#     export out and in (the bytes match);
#   * a client without TLS, and one with a wrong key, are refused, and
#     the data is still there after them;
#   * the admin socket is not behind TLS: swapdrumctl lists the pool,
#     adds a device (new pages go to it) and removes it again.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
requires nbdcopy --version
nbdkit --dump-config 2>/dev/null | grep -qx 'tls=yes' ||
    skip "nbdkit was built without TLS"
"$PYTHON" -c 'import nbd, sys; sys.exit(not nbd.NBD().supports_tls())' ||
    skip "libnbd was built without TLS"

sock=$tmp/nbd.sock
hexkey () { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
echo "swapdrum:$(hexkey)" > "$tmp/keys.psk"
echo "swapdrum:$(hexkey)" > "$tmp/wrong.psk"
chmod 0600 "$tmp"/*.psk
uri="nbds+unix://swapdrum@/?socket=$sock&tls-psk-file=$tmp/keys.psk"

start_nbdkit "$sock" "$tmp/swapdrum.pid" --tls=require \
    --tls-psk="$tmp/keys.psk" "$tmp/a,create=$(page_file_size 128)"

cat > "$tmp/client.py" <<'EOF'
import errno, json, subprocess, sys
import nbd
from nbdcheck import *
import adminclient

sock, keys, wrong, admin = sys.argv[1:5]

def tls_client(psk):
    h = nbd.NBD()
    h.set_tls(nbd.TLS_REQUIRE)
    h.set_tls_psk_file(psk)
    h.set_tls_username("swapdrum")
    h.connect_unix(sock)
    return h

def used():
    r = adminclient.request(admin, {"cmd": "summary"})
    if r.get("ok") is not True:
        fail("summary: %r" % r)
    return r["used"]

h = tls_client(keys)
if not h.get_tls_negotiated():
    fail("the connection is not encrypted")
if h.get_size() != 128 * PAGE:
    fail("export size %d" % h.get_size())
write_pattern(h, 1, 0, 64 * PAGE)
h.flush()
check_pattern(h, 1, 0, 64 * PAGE)
if used() != 64:
    fail("%d pages used after 64 written" % used())
h.trim(16 * PAGE, 16 * PAGE)
check_zero(h, 16 * PAGE, 16 * PAGE)
check_pattern(h, 1, 0, 16 * PAGE)
check_pattern(h, 1, 32 * PAGE, 32 * PAGE)
if used() != 48:
    fail("%d pages used after 16 of 64 trimmed" % used())
# Sub-page writes: read-modify-write under TLS too.
write_pattern(h, 2, 100 * PAGE + 512, 3 * SECTOR)
check_pattern(h, 2, 100 * PAGE + 512, 3 * SECTOR)
check_zero(h, 100 * PAGE, SECTOR)
log("ok: with the key: writes, reads, trims and sub-page writes")

# Without TLS, and with a wrong key: refused.
n = nbd.NBD()
try:
    n.connect_unix(sock)
    fail("a client without TLS was served")
except nbd.Error as e:
    log("ok: without TLS: %s" % e.string)
try:
    tls_client(wrong)
    fail("a client with a wrong key was served")
except nbd.Error as e:
    log("ok: a wrong key: %s" % e.string)
check_pattern(h, 1, 0, 16 * PAGE)
check_pattern(h, 1, 32 * PAGE, 32 * PAGE)
h.shutdown()
EOF
"$PYTHON" "$tmp/client.py" "$sock" "$tmp/keys.psk" "$tmp/wrong.psk" \
    "$SWAPDRUM_ADMIN" || fail "the TLS client's checks failed"

# nbdcopy out and back in, over nbds+unix.
nbdcopy "$uri" "$tmp/out.img" || fail "nbdcopy from $uri failed"
"$PYTHON" - "$tmp/out.img" <<'EOF' || fail "nbdcopy's copy differs"
import sys
from nbdcheck import *
buf = open(sys.argv[1], "rb").read()
if len(buf) != 128 * PAGE:
    fail("copied %d bytes" % len(buf))
compare(pattern(1, 0, 16 * PAGE), buf[:16 * PAGE], 0)
if any(buf[16 * PAGE:32 * PAGE]):
    fail("the trimmed pages are not zeros in the copy")
compare(pattern(1, 32 * PAGE, 32 * PAGE), buf[32 * PAGE:64 * PAGE], 32 * PAGE)
EOF
"$PYTHON" - "$tmp/in.img" <<'EOF'
import sys
from nbdcheck import *
open(sys.argv[1], "wb").write(pattern(3, 0, 128 * PAGE))
EOF
nbdcopy "$tmp/in.img" "$uri" || fail "nbdcopy to $uri failed"
nbdcopy "$uri" "$tmp/back.img" || fail "nbdcopy from $uri failed"
cmp "$tmp/in.img" "$tmp/back.img" || fail "the export does not hold what nbdcopy wrote"
say "ok: nbdcopy out and in over $uri"

# The admin socket: no TLS there.
ctl -a -p -1 -o create=1M "$tmp/b" || fail "swapdrumctl -a failed"
"$PYTHON" - "$sock" "$tmp/keys.psk" <<'EOF' || fail "I/O after -a failed"
import sys
import nbd
from nbdcheck import *
h = nbd.NBD()
h.set_tls(nbd.TLS_REQUIRE)
h.set_tls_psk_file(sys.argv[2])
h.set_tls_username("swapdrum")
h.connect_unix(sys.argv[1])
h.trim(8 * PAGE, 0)
write_pattern(h, 4, 0, 8 * PAGE)
check_pattern(h, 4, 0, 8 * PAGE)
EOF
stats "$tmp/s.json"
[ "$(dev "$tmp/s.json" "$tmp/b" used)" = 8 ] ||
    fail "the new device holds $(dev "$tmp/s.json" "$tmp/b" used) pages, not 8"
ctl -d "$tmp/b" || fail "swapdrumctl -d failed"
ctl -l > "$tmp/list" || fail "swapdrumctl -l failed"
grep -q "^$tmp/a " "$tmp/list" && ! grep -q "^$tmp/b " "$tmp/list" ||
    fail "swapdrumctl -l: $(cat "$tmp/list")"
say "ok: the admin socket lists, adds and removes while TLS guards the export"

stop_nbdkit "$NBDKIT_PID"
if grep -Ei "assert|abort|segmentation" "$tmp/swapdrum.pid.log"; then
    fail "the server log shows a crash (above)"
fi
say "PASS"
