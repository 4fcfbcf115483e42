#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# An export's reserve and tiers through the plugin, and across restarts
# (docs/design.md, "Exports"): on a pool of two files at priorities 0
# and 5,
#   1. an export with reserve=1M,tiers=5-5 can still write its whole
#      reserve after another export flooded the pool to ENOSPC;
#   2. the pool table keeps reserve and tiers: a restart that declares
#      the export without them says what the pool had, and the pages
#      are all there;
#   3. declaring them again brings them back, with a notice;
#   4. left undeclared beside a declared reserve that takes the room,
#      it is kept without its reserve this time, with a notice.
# Bad reserve= and tiers= are in test-config-errors.sh.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

X=("$PYTHON" "$SRCDIR/exports.py")
sock=$tmp/s.sock
devs=("$tmp/a,create=8M" "$tmp/b,create=8M,priority=5")
limited=(export=t,size=4M,reserve=1M,tiers=5-5 export=f,size=32M)
plain=(export=t,size=4M export=f,size=32M)
start () { rm -f "$sock"; start_nbdkit "$sock" "$tmp/pid" "$@"; }

say "1. a reserve holds while another export floods the pool"
start "${devs[@]}" admin=off "${limited[@]}"
"${X[@]}" flood "$sock" f || fail "f: the flood did not end in ENOSPC"
"${X[@]}" write "$sock" t 3 256 || fail "t: could not write its reserve"

# restart RESERVE-WAS TIERS-WAS RESERVE-NOW TIERS-NOW DECLARATIONS...:
# restart the server; it must say what t's limits were in the pool,
# and keep t's pages.
restart ()
{
    local rwas=$1 twas=$2 rnow=$3 tnow=$4
    shift 4
    stop_nbdkit "$NBDKIT_PID"
    start "${devs[@]}" admin=off "$@"
    grep -q "export: t: reserve now $rnow, as declared (the pool had $rwas)" \
         "$tmp/pid.log" || fail "no notice of t's reserve ($rwas -> $rnow)"
    grep -q "export: t: tiers now $tnow, as declared (the pool had $twas)" \
         "$tmp/pid.log" || fail "no notice of t's tiers ($twas -> $tnow)"
    "${X[@]}" verify "$sock" t 3 256 || fail "t: pages lost"
}

say "2. the pool table kept reserve and tiers"
restart "1048576 bytes" 5-5 none all "${plain[@]}"

say "3. declared again, they come back"
restart none all "1048576 bytes" 5-5 "${limited[@]}"

say "4. undeclared, it keeps its reserve only if the pool can"
stop_nbdkit "$NBDKIT_PID"
start "${devs[@]}" admin=off export=f,size=32M,reserve=15M
grep -q "export: t: not declared: the pool cannot keep its reserve of 1 MiB" \
     "$tmp/pid.log" || fail "no notice of t's reserve left out"
"${X[@]}" absent "$sock" t || fail "t is served"
stop_nbdkit "$NBDKIT_PID"
say "PASS"
