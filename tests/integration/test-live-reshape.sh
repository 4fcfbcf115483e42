#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Reshape the pool of a running server under load, with swapdrumctl
# on the real admin socket: the pool starts as A (priority 0) and B
# (priority 5), both holding data; C is added at priority 10 (it gets
# nothing while A and B have room), then made the preferred device
# (-c -p -1: new pages go to C, none to A or B), then A and B are
# removed one after the other (-d: their pages migrate to C).  All the
# while verifier.py keeps 4 connections doing verified I/O (writes
# with generation-counted patterns read back at once, sub-page
# writes, reads, trims, zeroes, bursts of writes in flight).  At the
# end: no mismatch and no I/O error, plenty of I/O done during the
# reshape and during each migration, a full read-back from a fresh
# connection matches, C holds exactly the pages mapped, `swapdrumctl
# -l` lists C alone, and nbdkit no longer has A or B open.
#
# Two rounds: with the default thread model (requests of different
# connections in parallel), and with parallel=true (several requests
# of one connection in parallel too: the bursts of writes in flight).

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl

# Set by reshape for its round.
A='' B='' C='' sock='' status='' report=''

# 4 regions of 6144 pages (96 MiB), 3/4 written before the reshape
# starts (18432 pages: A's 10239 and 8193 on B).  A + B hold 26622
# pages, C 32767: the export always fits.
REGION_PAGES=6144
NPAGES=$(( 4 * REGION_PAGES ))




# paths FILE: the device paths of stats FILE, in order, one line.
paths ()
{
    "$PYTHON" -c 'import json, sys
print(" ".join(d["path"] for d in json.load(open(sys.argv[1]))["devices"]))' "$1"
}

# vstat FIELD: FIELD of the verifier's latest status.
vstat ()
{
    "$PYTHON" -c 'import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$status" "$1"
}

# wait_ops N: wait until the verifier has done N more operations (at
# most 30 s), and check it is still running.
wait_ops ()
{
    local want i
    want=$(( $(vstat ops) + $1 ))
    for (( i = 0; i < 300; i++ )); do
        [ "$(vstat ops)" -ge "$want" ] && return 0
        kill -0 "$VERIFIER_PID" 2>/dev/null || fail "the verifier stopped early"
        sleep 0.1
    done
    fail "the verifier did not do $1 operations in 30 s"
}

# open_files: the files nbdkit has open, one a line.
open_files ()
{
    local fd
    for fd in /proc/"$NBDKIT_PID"/fd/*; do
        readlink "$fd" || true
    done
}

# reshape NAME [PLUGIN-ARGS...]: one round, in $tmp/NAME, with its own
# server (extra plugin arguments PLUGIN-ARGS) and admin socket.
reshape ()
{
    local name=$1 dir=$tmp/$1 mapped a0 b0 a2 a3 b2 b3 c2 c3 t0 t1
    local t_reshape t_end ta tb
    shift
    mkdir "$dir"
    A=$dir/a B=$dir/b C=$dir/c
    sock=$dir/nbd.sock
    status=$dir/verifier.status
    report=$dir/verifier.report
    export SWAPDRUM_ADMIN=$dir/admin.sock

    say "$name: server: A (10239 pages, priority 0) + B (16383 pages, priority 5), 96 MiB export"
    start_nbdkit "$sock" "$dir/nbdkit.pid" \
        "$A,create=$(page_file_size 10239)" \
        "$B,create=$(page_file_size 16383),priority=5" \
        size=$(( NPAGES * 4 ))K "$@"
    [ -S "$SWAPDRUM_ADMIN" ] || fail "no admin socket at $SWAPDRUM_ADMIN"

    say "$name: verifier: 4 connections, $REGION_PAGES pages each, 3/4 prefilled"
    start_verifier "$sock" "$dir" --conns 4 --region-pages $REGION_PAGES \
        --prefill 0.75 --seed 11
    wait_ops 500

    stats "$dir/s0"
    [ "$(paths "$dir/s0")" = "$A $B" ] ||
        fail "initial pool: $(paths "$dir/s0"), expected $A $B"
    a0=$(dev "$dir/s0" "$A" used) b0=$(dev "$dir/s0" "$B" used)
    say "$name: before: A holds $a0 pages, B $b0"
    [ "$a0" -gt 0 ] && [ "$b0" -gt 0 ] || fail "A and B should both hold data"

    t_reshape=$EPOCHREALTIME

    # 1. Add C, least preferred: it takes nothing while B has room.
    say "$name: swapdrumctl -a -p 10 -o create=(32767 pages) C"
    ctl -a -p 10 -o create="$(page_file_size 32767)" "$C" ||
        fail "swapdrumctl -a failed"
    wait_ops 1000
    stats "$dir/s1"
    [ "$(paths "$dir/s1")" = "$A $B $C" ] ||
        fail "after -a: $(paths "$dir/s1"), expected $A $B $C"
    [ "$(dev "$dir/s1" "$C" flags)" = INUSE,ENABLE ] ||
        fail "C flags: $(dev "$dir/s1" "$C" flags)"
    [ "$(dev "$dir/s1" "$C" priority)" = 10 ] || fail "C priority"
    [ "$(dev "$dir/s1" "$C" pages)" = 32767 ] ||
        fail "C has $(dev "$dir/s1" "$C" pages) pages, expected 32767"
    [ "$(dev "$dir/s1" "$C" used)" = 0 ] ||
        fail "C (priority 10) got $(dev "$dir/s1" "$C" used) pages while B had room"

    # 2. Prefer C: new pages go there, none to A or B.
    say "$name: swapdrumctl -c -p -1 C"
    ctl -c -p -1 "$C" || fail "swapdrumctl -c failed"
    stats "$dir/s2"
    [ "$(paths "$dir/s2")" = "$C $A $B" ] ||
        fail "after -c: $(paths "$dir/s2"), expected $C $A $B"
    wait_ops 2000
    stats "$dir/s3"
    a2=$(dev "$dir/s2" "$A" used) a3=$(dev "$dir/s3" "$A" used)
    b2=$(dev "$dir/s2" "$B" used) b3=$(dev "$dir/s3" "$B" used)
    c2=$(dev "$dir/s2" "$C" used) c3=$(dev "$dir/s3" "$C" used)
    say "$name: new pages: C $c2 -> $c3, A $a2 -> $a3, B $b2 -> $b3"
    [ "$c3" -gt "$c2" ] || fail "C (preferred) got no new pages"
    [ "$a3" -le "$a2" ] || fail "A got new pages after C was preferred"
    [ "$b3" -le "$b2" ] || fail "B got new pages after C was preferred"

    # 3. Remove A, then B, while the verifier runs.
    say "$name: swapdrumctl -d A"
    t0=$EPOCHREALTIME
    ctl -d "$A" > "$dir/d-a.out" 2> "$dir/d-a.err" ||
        { cat "$dir/d-a.err" >&2; fail "swapdrumctl -d A failed"; }
    t1=$EPOCHREALTIME
    cat "$dir/d-a.out"
    grep -Eq "^removed $A \\([1-9][0-9]* pages moved\\)\$" "$dir/d-a.out" ||
        fail "swapdrumctl -d A printed: $(cat "$dir/d-a.out")"
    [ ! -s "$dir/d-a.err" ] || fail "swapdrumctl -d A: $(cat "$dir/d-a.err")"
    ta=("$t0" "$t1")
    stats "$dir/s4"
    [ "$(paths "$dir/s4")" = "$C $B" ] ||
        fail "after -d A: $(paths "$dir/s4"), expected $C $B"
    open_files > "$dir/fds4"
    ! grep -qxF "$A" "$dir/fds4" || fail "nbdkit still has $A open"
    wait_ops 500

    say "$name: swapdrumctl --json -d B"
    t0=$EPOCHREALTIME
    ctl --json -d "$B" > "$dir/d-b.out" 2> "$dir/d-b.err" ||
        { cat "$dir/d-b.err" >&2; fail "swapdrumctl --json -d B failed"; }
    t1=$EPOCHREALTIME
    tb=("$t0" "$t1")
    [ ! -s "$dir/d-b.err" ] || fail "swapdrumctl -d B: $(cat "$dir/d-b.err")"
    "$PYTHON" - "$dir/d-b.out" "$B" <<'EOF' || fail "swapdrumctl --json -d B output"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
*progress, reply = lines
assert reply.get("ok") is True and reply.get("moved", 0) > 0, reply
for p in progress:
    p = p["progress"]
    assert p["path"] == sys.argv[2] and 0 <= p["moved"] <= p["total"], p
print("  %d progress lines, then %s" % (len(progress), json.dumps(reply)))
EOF
    wait_ops 500
    t_end=$EPOCHREALTIME

    # 4. Stop the verifier: it reads everything back from a fresh connection.
    stop_verifier "$dir"

    "$PYTHON" - "$report" "$NPAGES" "$t_reshape" "$t_end" "${ta[@]}" "${tb[@]}" \
            > "$dir/summary" <<'EOF' || { cat "$dir/summary"; fail "verifier results"; }
import json, sys
from verifier import ops_between
r = json.load(open(sys.argv[1]))
npages = int(sys.argv[2])
t = [float(x) for x in sys.argv[3:]]
during = ops_between(r, t[0], t[1])
during_a = ops_between(r, t[2], t[3])
during_b = ops_between(r, t[4], t[5])
print("verifier: %d ops in %.1f s (%d writes, %d sub-page writes, %d reads, "
      "%d trims, %d zeroes, %d bursts, %d flushes), max latency %.3f s"
      % (r["ops"], r["elapsed"], r["writes"], r["subpage_writes"],
         r["reads"], r["trims"], r["zeros"], r["aio_bursts"],
         r["flushes"], r["max_latency"]))
print("verifier: %d ops during the reshape (%.2f s), %d while A's pages "
      "moved (%.2f s), %d while B's moved (%.2f s)"
      % (during, t[1] - t[0], during_a, t[3] - t[2], during_b, t[5] - t[4]))
print("verifier: %d mismatches, %d I/O errors; final read-back of %d pages: "
      "%d wrong; %d pages mapped"
      % (r["mismatches"], r["errors"], r["final_pages_checked"],
         r["final_mismatches"], r["mapped_pages"]))
ok = True
def check(cond, msg):
    global ok
    if not cond:
        print("FAIL: " + msg)
        ok = False
check(r["mismatches"] == 0, "mismatches during the run")
check(r["errors"] == 0, "I/O errors during the run")
check(not r["crashed"], "the verifier crashed")
check(r["final_pages_checked"] == npages, "final read-back incomplete")
check(r["final_mismatches"] == 0, "final read-back mismatches")
check(during >= 2000, "too little I/O during the reshape")
check(during_a > 0 and during_b > 0, "no I/O completed during a migration")
sys.exit(0 if ok else 1)
EOF
    sed "s/^/$_name: $name: /" "$dir/summary"
    [ "$VERIFIER_RC" -eq 0 ] ||
        fail "the verifier exited with status $VERIFIER_RC"
    mapped=$("$PYTHON" -c 'import json, sys
print(json.load(open(sys.argv[1]))["mapped_pages"])' "$report")

    # 5. The pool is C alone, holding exactly the mapped pages.
    say "$name: swapdrumctl -l"
    ctl -l > "$dir/l.out" || fail "swapdrumctl -l failed"
    sed 's/^/    | /' "$dir/l.out"
    [ "$(sed '/^$/,$d' "$dir/l.out" | wc -l)" -eq 3 ] ||
        fail "-l: expected 3 lines of devices"
    [ "$(awk 'NR == 3 { print $1 }' "$dir/l.out")" = "$C" ] ||
        fail "-l: the only device should be $C"
    ! grep -qE "^($A|$B) " "$dir/l.out" || fail "-l still lists A or B"
    stats "$dir/s5"
    [ "$(paths "$dir/s5")" = "$C" ] || fail "pool: $(paths "$dir/s5")"
    [ "$(dev "$dir/s5" "$C" flags)" = INUSE,ENABLE ] || fail "C flags"
    [ "$(dev "$dir/s5" "$C" used)" = "$mapped" ] ||
        fail "C holds $(dev "$dir/s5" "$C" used) pages; $mapped are mapped"
    say "$name: C holds the $mapped mapped pages"

    # 6. nbdkit has closed A and B, and still has C open.
    open_files > "$dir/fds"
    ! grep -qxF "$A" "$dir/fds" || fail "nbdkit still has $A open"
    ! grep -qxF "$B" "$dir/fds" || fail "nbdkit still has $B open"
    grep -qxF "$C" "$dir/fds" || fail "nbdkit does not have $C open"
    check_alive "$NBDKIT_PID" nbdkit
    stop_nbdkit "$NBDKIT_PID"
    say "$name: ok"
}

reshape default
reshape parallel parallel=true
say "PASS"
