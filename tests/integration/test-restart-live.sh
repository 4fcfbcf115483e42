#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Live changes and a crash in the middle of one survive a restart
# (docs/design.md, "The durable map").  Pool: A, a local file
# (priority 0), and R, a remote export (nbdkit memory behind the delay
# filter, 5 ms a write, priority 5), which stays up while swapdrum
# restarts.
#   1. A holds 8192 pages; swapdrumctl -d A starts moving them to R
#      (slowly: R's writes are delayed); the server is killed with
#      SIGKILL in the middle.  After a restart on the same arguments
#      every page is intact, A is listed with what it still holds, and
#      swapdrumctl -d A runs again to the end.
#   2. Restarted with A still on its command line, A stays out (it was
#      removed), and every page is intact on R.
#   3. swapdrumctl -a C and -c (a new priority for R): after a restart
#      on the same arguments (which name neither C nor the priority),
#      C is in the pool and R keeps its new priority.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
requires nbdkit memory --version
requires nbdkit --filter=delay null --version

sock=$tmp/sock
state=$tmp/state
A=$tmp/a C=$tmp/c
R=("$PYTHON" "$SRCDIR/restart.py")

start_remote_nbdkit mem "$tmp/r.sock" --filter=delay memory 256M \
    delay-write=5ms
RURI=$(remote_uri "$tmp/r.sock")
args=("$A,create=$(page_file_size 8192)" "$RURI,priority=5")

start () { rm -f "$sock"; start_nbdkit "$sock" "$tmp/pid" "${args[@]}" size=64M; }

# field DEV FIELD: FIELD of device DEV in a fresh swapdrumctl listing.
field () { stats "$tmp/l.json"; dev "$tmp/l.json" "$1" "$2"; }

say "1. SIGKILL in the middle of swapdrumctl -d A"
start
"${R[@]}" write "$sock" "$state" 8192 1
[ "$(field "$A" used)" = 8192 ] || fail "A holds $(field "$A" used) pages"
ctl -d "$A" > "$tmp/off.out" 2>&1 &
off=$!
for (( i = 0; i < 600; i++ )); do
    used=$(field "$RURI" used)
    [ "$used" -ge 512 ] && break
    sleep 0.05
done
[ "$used" -ge 512 ] || fail "the swap-off did not start moving pages"
kill -9 "$NBDKIT_PID"
wait "$NBDKIT_PID" 2>/dev/null || true
wait "$off" || true
say "killed with $used pages on R"
start
grep -q "process crash on this boot" "$tmp/pid.log" ||
    { cat "$tmp/pid.log"; fail "the restart did not say how it came up"; }
"${R[@]}" verify "$sock" "$state" || fail "pages lost by the interrupted swap-off"
a_used=$(field "$A" used) r_used=$(field "$RURI" used)
say "after the restart: A holds $a_used pages ($(field "$A" flags)), R $r_used"
[ "$(field "$A" flags)" = INUSE,ENABLE ] || fail "A's flags: $(field "$A" flags)"
[ $(( a_used + r_used )) = 8192 ] ||
    fail "A and R hold $a_used + $r_used pages, expected 8192 in all"
[ "$a_used" -gt 0 ] && [ "$a_used" -lt 8192 ] ||
    fail "the kill did not land in the middle of the swap-off"
ctl -d "$A" || fail "swapdrumctl -d A after the restart"
[ "$(field "$A" used)" = absent ] || fail "A is still in the pool"
"${R[@]}" verify "$sock" "$state" || fail "pages lost by the second swap-off"

say "2. restarted with A on the command line: A stays out"
stop_nbdkit "$NBDKIT_PID"
start
grep -q "$A: was removed from the pool" "$tmp/pid.log" ||
    { cat "$tmp/pid.log"; fail "no line saying A was left out"; }
[ "$(field "$A" used)" = absent ] || fail "A came back into the pool"
[ "$(field "$RURI" used)" = 8192 ] || fail "R holds $(field "$RURI" used) pages"
"${R[@]}" verify "$sock" "$state" || fail "pages lost after the restart"

say "3. swapdrumctl -a C and -c R: both hold after a restart"
ctl -a -p 2 -o create="$(page_file_size 256)" "$C" || fail "swapdrumctl -a C"
ctl -c -p 7 "$RURI" || fail "swapdrumctl -c R"
kill -9 "$NBDKIT_PID"
wait "$NBDKIT_PID" 2>/dev/null || true
start
grep -q "$C: pool member added with swapdrumctl" "$tmp/pid.log" ||
    { cat "$tmp/pid.log"; fail "C was not opened from the pool table"; }
[ "$(field "$C" priority)" = 2 ] || fail "C's priority: $(field "$C" priority)"
[ "$(field "$RURI" priority)" = 7 ] || fail "R's priority: $(field "$RURI" priority)"
npages () { "$PYTHON" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$state"; }
before=$(npages)
"${R[@]}" write "$sock" "$state" 64 5
new=$(( $(npages) - before ))
[ "$new" -gt 0 ] || fail "no new page among the 64 written"
[ "$(field "$C" used)" = "$new" ] ||
    fail "C (now preferred) took $(field "$C" used) of $new new pages"
"${R[@]}" verify "$sock" "$state" || fail "pages lost"
say "PASS"
