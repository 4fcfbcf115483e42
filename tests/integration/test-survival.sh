#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# The server survives clients that hang up with requests in flight.
# One long-running nbdkit (default thread model) serves a pool; a
# verified pattern is written first.  Then, 20 times in a row, a client
# queues 32 writes (aio, 256 KiB each), lets some of them go out and
# vanishes without an NBD disconnect: os._exit, closing the handle, or
# SIGKILL to itself.  After each, the server must accept a new
# connection and its process must be alive (not a zombie, not gone).
# At the end the pattern written first reads back intact.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

sock=$tmp/sock
pidfile=$tmp/nbdkit.pid
ROUNDS=20

cat > "$tmp/hangup.py" <<'EOF'
import os, signal, sys, time
import nbd
from nbdcheck import *

sock, round_, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
N, LEN = 32, 256 * 1024
base = 16 << 20                 # away from the verified pattern

h = connect(sock)
done = [0]
def cb(err):
    done[0] += 1
    return 1
bufs = []
for i in range(N):
    o = base + i * LEN
    bufs.append(nbd.Buffer.from_bytearray(pattern(100 + round_, o, LEN)))
    h.aio_pwrite(bufs[-1], o, completion=cb)
# Let some go out (and a few come back), but not all.
deadline = time.monotonic() + 2
while done[0] == 0 and time.monotonic() < deadline:
    h.poll(1)
print("round %d: %s with %d of %d writes answered" %
      (round_, mode, done[0], N), flush=True)
if mode == "exit":
    os._exit(0)                  # the kernel closes the socket
elif mode == "close":
    del h                        # nbd_close: no NBD_CMD_DISC
    os._exit(0)
else:
    os.kill(os.getpid(), signal.SIGKILL)
EOF

cat > "$tmp/probe.py" <<'EOF'
import sys
from nbdcheck import *
h = connect(sys.argv[1])
h.pread(4096, 0)
h.shutdown()
EOF

cat > "$tmp/pattern.py" <<'EOF'
import sys
from nbdcheck import *
h = connect(sys.argv[1])
if sys.argv[2] == "write":
    write_pattern(h, 1, 0, 8 << 20)
    h.flush()
check_pattern(h, 1, 0, 8 << 20, "the pattern written first")
h.shutdown()
EOF

say "start a long-running server"
start_nbdkit "$sock" "$pidfile" \
    "$tmp/a,create=64M" "$tmp/b,create=64M,priority=1"
pid=$NBDKIT_PID
check_alive "$pid" "nbdkit"

say "write and verify an 8 MiB pattern"
"$PYTHON" "$tmp/pattern.py" "$sock" write || fail "writing the pattern"

modes=(exit close kill)
early=0
for (( r = 0; r < ROUNDS; r++ )); do
    mode=${modes[r % 3]}
    rc=0
    # (The braces keep bash's "Killed" notice out of the output.)
    { "$PYTHON" "$tmp/hangup.py" "$sock" "$r" "$mode" \
        >"$tmp/client.out" 2>&1; } 2>/dev/null || rc=$?
    cat "$tmp/client.out"
    grep -q "round $r: $mode" "$tmp/client.out" ||
        fail "round $r: the client failed before hanging up (exit $rc)"
    if grep -q " with 32 of 32 writes answered" "$tmp/client.out"; then
        early=$((early + 1))
    fi
    case $mode in
        kill) [ $rc -eq 137 ] || fail "round $r: client exit $rc, expected SIGKILL" ;;
        *)    [ $rc -eq 0 ] || fail "round $r: client exit $rc" ;;
    esac
    "$PYTHON" "$tmp/probe.py" "$sock" ||
        fail "round $r: the server does not answer a new connection"
    check_alive "$pid" "nbdkit (after round $r)"
done
[ $early -lt $ROUNDS ] ||
    fail "every client saw all its writes answered: none hung up with requests in flight"
say "$ROUNDS clients hung up with requests in flight; server state $(proc_state "$pid")"

# Give a late crash a moment to show.
sleep 0.5
check_alive "$pid" "nbdkit (at the end)"

say "the pattern written first reads back"
"$PYTHON" "$tmp/pattern.py" "$sock" check || fail "the pattern was damaged"

if grep -Ei "assert|abort|segmentation|bug" "$pidfile.log"; then
    fail "the server log shows a crash or a bug (above)"
fi

say "the server stops cleanly on SIGTERM"
kill "$pid"
if [ "${SANITIZE-}" = 1 ]; then
    # With the ASan runtime preloaded into Debian's uninstrumented
    # nbdkit, exit() after clients hung up can deadlock in libp11-kit's
    # destructor on glibc's setlocale lock (seen in the sanitized run
    # only; gdb shows __freelocale from _dl_fini).  Give it 10 s, then
    # kill it: the data checks above are what this test is for.
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null && say "(sanitized nbdkit hung in exit; killed)"
    wait "$pid" 2>/dev/null || true
else
    rc=0
    wait "$pid" || rc=$?
    [ $rc -eq 0 ] || { cat "$pidfile.log"; fail "nbdkit exit status $rc after SIGTERM"; }
fi
say "PASS"
