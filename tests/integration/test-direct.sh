#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# direct=true (docs/design.md, "Direct I/O"): a local device whose page
# I/O bypasses the page cache.  Pool: A (direct, priority 0) and B
# (buffered, priority 1).
#   1. The server holds A open twice, once O_DIRECT; the listing says
#      which devices are direct.
#   2. Verified I/O on 4 connections (whole pages, sectors inside a
#      page, trims, bursts), with A filling up so that B takes pages
#      too: 0 mismatches.
#   3. swapdrumctl -a -o direct=true C: C is direct; after a restart
#      on the same arguments (which do not name C) C is direct again,
#      and every page written before reads back.
#   4. direct= on a remote device, or a value that is not a boolean,
#      is refused with one line and changes nothing.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
requires nbdkit memory --version

sock=$tmp/sock
A=$tmp/a B=$tmp/b C=$tmp/c
R=("$PYTHON" "$SRCDIR/restart.py")
args=("$A,create=$(page_file_size 4096),direct=true"
      "$B,create=$(page_file_size 8192),priority=1")

start () { rm -f "$sock"; start_nbdkit "$sock" "$tmp/pid" "${args[@]}" size=64M; }
field () { stats "$tmp/l.json"; dev "$tmp/l.json" "$1" "$2"; }

# o_direct_fds PATH: how many of the server's descriptors open on PATH
# have O_DIRECT (040000 in /proc/PID/fdinfo's octal flags).
o_direct_fds ()
{
    local fd n=0 flags
    for fd in /proc/"$NBDKIT_PID"/fd/*; do
        [ "$(readlink "$fd")" = "$1" ] || continue
        flags=$(awk '$1 == "flags:" { print $2 }' \
                    "/proc/$NBDKIT_PID/fdinfo/${fd##*/}")
        (( 8#$flags & 8#040000 )) && n=$(( n + 1 ))
    done
    echo "$n"
}

say "1. A is open O_DIRECT, B is not"
start
[ "$(o_direct_fds "$A")" = 1 ] || fail "A: $(o_direct_fds "$A") O_DIRECT fds"
[ "$(o_direct_fds "$B")" = 0 ] || fail "B: $(o_direct_fds "$B") O_DIRECT fds"
[ "$(field "$A" direct)" = True ] || fail "A listed direct=$(field "$A" direct)"
[ "$(field "$B" direct)" = False ] || fail "B listed direct=$(field "$B" direct)"

say "2. verified I/O over A (direct) and B (buffered)"
start_verifier "$sock" "$tmp" --conns 4 --region-pages 2048 --seed 7
sleep 8
stop_verifier "$tmp"
[ "$VERIFIER_RC" = 0 ] || fail "verifier: exit status $VERIFIER_RC"
a_used=$(field "$A" used) b_used=$(field "$B" used)
say "A holds $a_used pages, B $b_used"
[ "$a_used" -gt 3000 ] && [ "$b_used" -gt 0 ] ||
    fail "the I/O did not reach both devices"
[ "$(field "$A" write_errors)" = 0 ] || fail "write errors on A"

say "3. swapdrumctl -a -o direct=true C, and a restart"
ctl -a -p -1 -o create="$(page_file_size 1024),direct=true" "$C" ||
    fail "swapdrumctl -a C"
[ "$(field "$C" direct)" = True ] || fail "C listed direct=$(field "$C" direct)"
[ "$(o_direct_fds "$C")" = 1 ] || fail "C: $(o_direct_fds "$C") O_DIRECT fds"
"${R[@]}" write "$sock" "$tmp/state" 512 3
[ "$(field "$C" used)" -gt 0 ] || fail "C (preferred) took no page"
stop_nbdkit "$NBDKIT_PID"
start
[ "$(field "$C" direct)" = True ] ||
    fail "after the restart C is direct=$(field "$C" direct)"
[ "$(o_direct_fds "$C")" = 1 ] || fail "C reopened without O_DIRECT"
"${R[@]}" verify "$sock" "$tmp/state" || fail "pages lost over the restart"

say "4. refusals"
start_remote_nbdkit mem "$tmp/r.sock" memory 64M
RURI=$(remote_uri "$tmp/r.sock")
stats "$tmp/before.json"
if ctl -a -o direct=true "$RURI" > "$tmp/out" 2>&1; then
    fail "direct=true on a remote device was taken"
fi
grep -q "direct= applies to files and block devices only" "$tmp/out" ||
    { cat "$tmp/out"; fail "no reason given for the remote refusal"; }
if ctl -a -o direct=maybe "$tmp/d" > "$tmp/out" 2>&1; then
    fail "direct=maybe was taken"
fi
grep -q -- "-o: direct: maybe: not a boolean (true or false)" "$tmp/out" ||
    { cat "$tmp/out"; fail "no reason given for direct=maybe"; }
[ ! -e "$tmp/d" ] || fail "a refused device left a file"
stats "$tmp/after.json"
"$PYTHON" - "$tmp/before.json" "$tmp/after.json" <<'PY' || fail "the refusals changed the pool"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
paths = lambda s: sorted(d["path"] for d in s["devices"])
sys.exit(paths(a) != paths(b))
PY
say "PASS"
