#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# A host crash loses at most what was not flushed, and says so with
# EIO, never zeros or stale data (docs/design.md, "Host crashes").  The
# host's reboot is played with SWAPDRUM_TEST_BOOT_ID (another boot id):
# the page cache here still holds everything, so the test checks what
# the server decides, not what a real crash would leave.  A pool of a
# (priority 0, 1024 pages) and b (priority 5):
#   1. 4096 pages flushed, SIGKILL, "reboot": every device was flushed,
#      all pages intact, nothing suspect;
#   2. a flush, 256 new pages without one (they go to b, a is full),
#      SIGKILL, "reboot": b lost writes; a's 1024 pages intact, every
#      page of b reads EIO, unwritten pages read EIO, swapdrumctl -s
#      says so; a write replaces a lost page, a zero request gives
#      zeros (a fast zero is refused: it writes), a partial write to an
#      unwritten page fails;
#   3. SIGKILL on the same boot: still suspect, the same pages lost;
#   4. swapdrumctl -Z: unwritten pages read zeros again, also after a
#      clean restart.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl

R=("$PYTHON" "$SRCDIR/restart.py")
a=$tmp/a b=$tmp/b sock=$tmp/sock state=$tmp/state
apages=1024
devs=("$a,create=$(page_file_size $apages)" "$b,create=16M,priority=5")
boot1=11111111111111111111111111111111
boot2=22222222222222222222222222222222

start () { rm -f "$sock"; start_nbdkit "$sock" "$tmp/pid" "${devs[@]}"; }
crash () { kill -9 "$NBDKIT_PID"; wait "$NBDKIT_PID" 2>/dev/null || true; }

expect_log ()
{
    grep -q "$1" "$tmp/pid.log" ||
        { cat "$tmp/pid.log" >&2; fail "the server did not say: $1"; }
}

# nbd_try read|write|zero|fastzero|trim OFFSET COUNT: what one request gives:
# "zeros" or "data" for a read, "ok" for the others, or the errno name.
nbd_try ()
{
    PATH=/usr/bin:$PATH "$PYTHON" - "$sock" "$@" <<'PY'
import errno, sys, nbd
sock, op, off, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h = nbd.NBD()
h.connect_unix(sock)
try:
    if op == "read":
        d = h.pread(count, off)
        print("zeros" if d == bytes(count) else "data")
    elif op == "write":
        h.pwrite(b"\x5a" * count, off)
        print("ok")
    elif op == "zero":
        h.zero(count, off)
        print("ok")
    elif op == "fastzero":
        h.zero(count, off, nbd.CMD_FLAG_FAST_ZERO)
        print("ok")
    elif op == "trim":
        h.trim(count, off)
        print("ok")
except nbd.Error as e:
    print(errno.errorcode.get(e.errnum, e.errnum))
h.shutdown()
PY
}

expect_try ()
{
    local want=$1 got
    shift
    got=$(nbd_try "$@")
    [ "$got" = "$want" ] || fail "$* gave $got, expected $want"
}

# The first export page the state file has never seen written.
free_page ()
{
    "$PYTHON" - "$state" <<'PY'
import json, sys
taken = set(int(k) for k in json.load(open(sys.argv[1])))
print(next(p for p in range(1 << 20) if p not in taken))
PY
}

say "1. 4096 pages flushed, SIGKILL, a host crash: nothing lost"
start
"${R[@]}" write "$sock" "$state" 4096 1
crash
SWAPDRUM_TEST_BOOT_ID=$boot1 start
expect_log "host crash, every device flushed"
"${R[@]}" verify "$sock" "$state" || fail "flushed pages lost"
expect_try zeros read $(( $(free_page) * 4096 )) 4096
ctl -s > "$tmp/s.out"
grep -q "started after host crash, every device flushed" "$tmp/s.out" ||
    { cat "$tmp/s.out"; fail "swapdrumctl -s did not say how it came up"; }
! grep -q suspect "$tmp/s.out" || fail "a flushed pool is suspect"

say "2. a flush, 256 new pages unflushed (on b), SIGKILL, a host crash"
"${R[@]}" flush "$sock"
"${R[@]}" scribble "$sock" "$state" 256 2
crash
SWAPDRUM_TEST_BOOT_ID=$boot2 start
expect_log "host crash, with writes lost"
expect_log "swap: $b: written since its last flush"
expect_log "swap: $b: [0-9]* pages dropped"
! grep -q "swap: $a: written since" "$tmp/pid.log" ||
    fail "a, flushed and not written since, was judged to have lost writes"
out=$("${R[@]}" lossy "$sock" "$state" "$tmp/lost") ||
    fail "a page read zeros or other data"
read -r intact lost <<< "$out"
say "   $intact pages intact, $lost read EIO"
[ "$intact" -eq "$apages" ] ||
    fail "$intact pages intact, expected a's $apages"
[ "$lost" -eq $(( 4096 + 256 - apages )) ] ||
    fail "$lost pages lost, expected b's $(( 4096 + 256 - apages ))"
ctl -s > "$tmp/s.out"
grep -q '^export "": suspect: unwritten pages read EIO' "$tmp/s.out" ||
    { cat "$tmp/s.out"; fail "swapdrumctl -s does not say the export is suspect"; }
grep -q "^$lost pages dropped at start" "$tmp/s.out" ||
    { cat "$tmp/s.out"; fail "swapdrumctl -s does not count the dropped pages"; }
free=$(free_page)
expect_try EIO read $(( free * 4096 )) 4096
expect_try EIO write $(( free * 4096 + 512 )) 512
expect_try ENOTSUP fastzero $(( free * 4096 )) 8192
expect_try ok zero $(( free * 4096 )) 8192
expect_try zeros read $(( free * 4096 )) 8192
p=$(head -1 "$tmp/lost")
expect_try ok write $(( p * 4096 )) 4096
expect_try data read $(( p * 4096 )) 4096
q=$(sed -n 2p "$tmp/lost")
expect_try ok trim $(( q * 4096 )) 4096
expect_try EIO read $(( q * 4096 )) 4096

say "3. SIGKILL on the same boot: still suspect, the same pages lost"
"${R[@]}" flush "$sock"
crash
SWAPDRUM_TEST_BOOT_ID=$boot2 start
expect_log "process crash on this boot"
expect_try data read $(( p * 4096 )) 4096
expect_try EIO read $(( $(sed -n 3p "$tmp/lost") * 4096 )) 4096
expect_try EIO read $(( (free + 2) * 4096 )) 4096
ctl -s | grep -q '^export "": suspect' || fail "the restart forgot suspect"

say "4. swapdrumctl -Z: unwritten pages read zeros again"
ctl -Z "" || fail "swapdrumctl -Z failed"
expect_try zeros read $(( (free + 2) * 4096 )) 4096
expect_try zeros read $(( $(sed -n 3p "$tmp/lost") * 4096 )) 4096
expect_try ok fastzero $(( (free + 4) * 4096 )) 8192
! ctl -s | grep -q suspect || fail "still suspect after -Z"
out=$(ctl -Z nosuch 2>&1) && fail "-Z of a missing export succeeded"
grep -q "trust: export nosuch: no such export" <<< "$out" ||
    fail "-Z nosuch said: $out"
stop_nbdkit "$NBDKIT_PID"
SWAPDRUM_TEST_BOOT_ID=$boot2 start
expect_log "clean shutdown"
expect_try zeros read $(( (free + 2) * 4096 )) 4096
stop_nbdkit "$NBDKIT_PID"
say "ok"
