#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Exports as tenants (docs/design.md, "Exports"): on a pool of two
# files,
#   1. one host per export over TCP: 127.0.0.2 is refused while
#      127.0.0.1 holds the export (with two connections), and takes it
#      once they close; a shared export takes both; swapdrumctl shows
#      the host;
#   2. live: an export created and removed with swapdrumctl while a
#      verifier runs on another (0 mismatches); removing an attached
#      export is refused; bad requests change nothing;
#   3. a removed name created again reads zeros (no page of its
#      previous life), and a partial write shows zeros around it;
#   4. an export created live is served after a restart with its
#      pages; removed, it is gone after the next;
#   5. a forced removal fails the attached connection's requests with
#      EIO and frees the pages when it closes;
#   6. limits change live (-c -e -o), bad changes are refused and
#      change nothing, and a live export's limits survive a restart;
#   7. resizing while a verifier runs on another export (created for
#      it, so that it starts empty): refused while
#      attached; grown, an export keeps its pages and serves the new
#      end; shrunk, it frees the pages past the new end and keeps the
#      rest; grown again, those pages read zeros; sizes survive a
#      restart, a declared export's larger live size too.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl

X=("$PYTHON" "$SRCDIR/exports.py")
admin=$tmp/admin.sock
export SWAPDRUM_ADMIN=$admin
devs=("$tmp/a,create=64M" "$tmp/b,create=64M,priority=5")
decls=(export=solo,size=16M export=multi,size=16M,shared=true
       export=work,size=32M)

# start_tcp: the server on 127.0.0.1 at a free port (PORT).
start_tcp ()
{
    local i
    for (( i = 0; i < 20; i++ )); do
        PORT=$(( 20000 + RANDOM % 40000 ))
        rm -f "$tmp/pid"
        "${NBDKIT[@]}" -p "$PORT" -i 127.0.0.1 -P "$tmp/pid" -f "$PLUGIN" \
            "${devs[@]}" admin="$admin" "${decls[@]}" "$@" \
            > "$tmp/pid.log" 2>&1 &
        NBDKIT_PID=$!
        cleanup_fn stop_nbdkit "$NBDKIT_PID"
        while kill -0 "$NBDKIT_PID" 2>/dev/null && ! [ -s "$tmp/pid" ]; do
            sleep 0.1
        done
        if [ -s "$tmp/pid" ] && [ -S "$admin" ]; then
            return 0
        fi
        wait "$NBDKIT_PID" 2>/dev/null || true
        grep -q 'Address already in use' "$tmp/pid.log" || {
            cat "$tmp/pid.log" >&2; fail "nbdkit did not start"; }
    done
    fail "no free port found"
}
tcp () { echo "tcp:127.0.0.1:$PORT"; }
uri () { echo "nbd://127.0.0.1:$PORT/$1"; }

# expect_refusal WHAT ERRNO-WORDS -- ARGS: swapdrumctl ARGS fails with
# one line on stderr containing WORDS, and the exports are unchanged.
expect_refusal ()
{
    local what=$1 words=$2 before after
    shift 3
    before=$(ctl --json -l -e | "$PYTHON" -c 'import json, sys
print([[x[k] for k in ("name", "state", "size", "quota", "reserve", "tier_lo", "tier_hi", "shared")] for x in json.load(sys.stdin)["exports"]])')
    if ctl "$@" > "$tmp/out" 2> "$tmp/err"; then
        fail "$what: swapdrumctl $* succeeded"
    fi
    [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -qF -- "$words" "$tmp/err" ||
        { cat "$tmp/err" >&2; fail "$what: not the one-line error '$words'"; }
    after=$(ctl --json -l -e | "$PYTHON" -c 'import json, sys
print([[x[k] for k in ("name", "state", "size", "quota", "reserve", "tier_lo", "tier_hi", "shared")] for x in json.load(sys.stdin)["exports"]])')
    [ "$before" = "$after" ] || fail "$what: the exports changed"
    say "   refused: $(cat "$tmp/err")"
}

say "1. one host per export"
start_tcp
"${X[@]}" hosts "$PORT" "$admin" solo multi || fail "the host rule"
ctl -l > "$tmp/list" || fail "swapdrumctl -l failed"
cat "$tmp/list"
grep -q '^"solo"  *served  *16384  *-  *-  *8  *all  *0  *1  *2  *0 ' \
    "$tmp/list" ||
    fail "swapdrumctl -l does not show solo's figures"
grep -q '^"multi"  *served,shared ' "$tmp/list" ||
    fail "swapdrumctl -l does not show multi as shared"

say "2. live create and remove while a verifier runs"
mkdir -p "$tmp/v"
start_verifier "$(uri work)" "$tmp/v" --conns 2 --region-pages 1024
ctl -a -e fresh,size=8M,quota=1M || fail "creating fresh failed"
nbdinfo --list "$(uri work)" | grep -q '^export="fresh":' ||
    fail "nbdinfo --list does not show fresh"
"${X[@]}" write "$(tcp)" fresh 1 200 || fail "writing to fresh failed"
"${X[@]}" verify "$(tcp)" fresh 1 200 || fail "fresh lost data"
expect_refusal "a duplicate" "export: fresh: already served" -- \
    -a -e fresh,size=8M
expect_refusal "a bad spec" "export: x: size= is required" -- -a -e x
expect_refusal "removing an attached export" \
    "remove: export work: attached from 127.0.0.1" -- -d -e work
expect_refusal "removing what is not there" \
    "remove: export nope: no such export" -- -d -e nope
ctl --json -l -e | "$PYTHON" -c 'import json, sys
x = [x for x in json.load(sys.stdin)["exports"] if x["name"] == "fresh"][0]
assert x["used"] == 200 * 4096 and x["quota"] == 1 << 20, x
assert x["io"]["write"]["ops"] >= 200 and x["io"]["read"]["ops"] >= 200, x
' || fail "the exports reply is wrong about fresh"
ctl -d -e fresh > "$tmp/out" || fail "removing fresh failed"
grep -q 'removed export "fresh" (200 pages freed)' "$tmp/out" ||
    { cat "$tmp/out"; fail "swapdrumctl -d -e did not say what it freed"; }
"${X[@]}" absent "$(tcp)" fresh || fail "fresh is still served"
stop_verifier "$tmp/v"
[ "$VERIFIER_RC" -eq 0 ] || fail "the verifier on work found errors"

say "3. a name created again starts empty"
ctl -a -e again,size=4M || fail "creating again failed"
"${X[@]}" write "$(tcp)" again 3 500 || fail "writing to again failed"
ctl -d -e again > /dev/null || fail "removing again failed"
ctl -a -e again,size=4M || fail "creating again a second time failed"
"${X[@]}" fresh "$(tcp)" again || fail "again shows old data"

say "4. a live export persists, with its limits; a removed one stays removed"
ctl -a -e kept,size=8M,shared=true || fail "creating kept failed"
"${X[@]}" write "$(tcp)" kept 4 300 || fail "writing to kept failed"
ctl -c -e -o quota=4M,reserve=2M,tiers=0-0 kept ||
    fail "changing kept's limits failed"
ctl -d -e again > /dev/null || fail "removing again failed"
stop_nbdkit "$NBDKIT_PID"
start_tcp
nbdinfo --list "$(uri work)" > "$tmp/list2"
grep -q '^export="kept":' "$tmp/list2" ||
    { cat "$tmp/list2" >&2; fail "kept is not served after a restart"; }
! grep -q '^export="again":' "$tmp/list2" ||
    fail "the removed export came back"
"${X[@]}" verify "$(tcp)" kept 4 300 || fail "kept lost pages in a restart"
ctl --json -l -e | "$PYTHON" -c 'import json, sys
x = [x for x in json.load(sys.stdin)["exports"] if x["name"] == "kept"][0]
assert x["live"] and x["shared"] and x["used"] == 300 * 4096, x
assert x["quota"] == 4 << 20 and x["reserve"] == 2 << 20, x
assert (x["tier_lo"], x["tier_hi"]) == (0, 0), x
' || fail "kept lost its limits in the restart"

say "5. limits change live; bad changes change nothing"
ctl -c -e -o quota=16M,reserve=8M,tiers=0-5 work ||
    fail "changing work's limits failed"
ctl -l -e > "$tmp/list3"
grep -q '^"work"  *served  *32768  *16384  *8192  *[0-9]*  *0-5 ' \
    "$tmp/list3" ||
    { cat "$tmp/list3"; fail "swapdrumctl -l -e does not show the limits"; }
ctl -c -e -o quota=none,reserve=0,tiers=all work ||
    fail "lifting work's limits failed"
"${X[@]}" write "$(tcp)" work 5 100 || fail "writing to work failed"
expect_refusal "a quota below use" "below" -- -c -e -o quota=200K work
expect_refusal "tiers with no device" "tiers" -- -c -e -o tiers=50-60 work
expect_refusal "a reserve beyond its size" "more than its size" -- \
    -c -e -o reserve=64M work
expect_refusal "a bad option" "export: work: unknown option color" -- \
    -c -e -o color=red work
expect_refusal "no such export" "export: nope: no such export" -- \
    -c -e -o quota=1M nope

say "6. a forced removal"
"${X[@]}" forced "$(tcp)" "$admin" kept || fail "the forced removal"
stop_nbdkit "$NBDKIT_PID"
start_tcp
"${X[@]}" absent "$(tcp)" kept || fail "kept came back after a restart"
grep -q 'not declared' "$tmp/pid.log" && fail "a removed export was kept"

say "7. resizing while the others run"
size_of () { nbdinfo --size "$(uri "$1")"; }
used_of () { ctl --json -l -e | "$PYTHON" -c 'import json, sys
print([x for x in json.load(sys.stdin)["exports"] if x["name"] == sys.argv[1]][0]["used"] // 4096)' "$1"; }
ctl -a -e busy,size=16M || fail "creating busy failed"
start_verifier "$(uri busy)" "$tmp/v" --conns 2 --region-pages 1024
ctl -a -e rs,size=4M || fail "creating rs failed"
"${X[@]}" write "$(tcp)" rs 7 300 1024 || fail "writing to rs failed"
# An attached host holds its device's size: refused, nothing changed.
# wait_conns NAME N: until export NAME has N connections (10 s).
wait_conns ()
{
    local i
    for (( i = 0; i < 100; i++ )); do
        ctl --json -l -e | "$PYTHON" -c 'import json, sys
x = [x for x in json.load(sys.stdin)["exports"] if x["name"] == sys.argv[1]][0]
sys.exit(0 if x["connections"] == int(sys.argv[2]) else 1)' "$1" "$2" &&
            return 0
        sleep 0.1
    done
    fail "export $1 did not reach $2 connections"
}
"$PYTHON" -c 'import nbd, sys, time
h = nbd.NBD(); h.connect_uri(sys.argv[1]); time.sleep(60)' "$(uri rs)" &
holder=$!
stop_holder () { kill "$holder" 2>/dev/null || true; }
cleanup_fn stop_holder
wait_conns rs 1
expect_refusal "resizing an attached export" \
    "export: rs: size: attached from 127.0.0.1 (1 connections)" -- \
    -c -e -o size=64M rs
stop_holder
wait "$holder" 2>/dev/null || true
wait_conns rs 0
ctl -c -e -o size=64M rs || fail "growing rs failed"
[ "$(size_of rs)" -eq $(( 64 << 20 )) ] || fail "rs did not grow"
"${X[@]}" verify "$(tcp)" rs 7 300 1024 || fail "rs lost pages in growing"
"${X[@]}" write "$(tcp)" rs 8 50 16384 || fail "writing past rs's old end"
"${X[@]}" verify "$(tcp)" rs 8 50 16384 || fail "rs's new end lost data"
expect_refusal "a size with a bad unit" "export: rs: size" -- \
    -c -e -o size=12Q rs
# Shrink to 2 MiB: the pages past page 512 are freed, the rest kept.
before=$(used_of rs)
ctl -c -e -o size=2M rs || fail "shrinking rs failed"
[ "$(size_of rs)" -eq $(( 2 << 20 )) ] || fail "rs did not shrink"
keep7=$("${X[@]}" count-below rs 7 300 1024 512)
keep8=$("${X[@]}" count-below rs 8 50 16384 512)
after=$(used_of rs)
say "   rs held $before pages, $after after shrinking ($keep7 + $keep8 below the end)"
[ "$after" -le $(( keep7 + keep8 )) ] && [ "$after" -ge "$keep7" ] ||
    fail "rs holds $after pages after shrinking, not those below its end"
ctl -c -e -o size=4M rs || fail "growing rs again failed"
"${X[@]}" zeros "$(tcp)" rs 512 1024 || fail "freed pages came back"
ctl -c -e -o size=32M solo || fail "growing the declared solo failed"
stop_verifier "$tmp/v"
[ "$VERIFIER_RC" -eq 0 ] || fail "the verifier on busy found errors"
stop_nbdkit "$NBDKIT_PID"
start_tcp
[ "$(size_of rs)" -eq $(( 4 << 20 )) ] || fail "rs lost its size in a restart"
[ "$(size_of solo)" -eq $(( 32 << 20 )) ] ||
    fail "solo did not keep its live size in a restart"
grep -q 'export: solo: declared size 16777216 is below' "$tmp/pid.log" ||
    fail "the start did not say that solo's declaration is smaller"
[ "$(used_of rs)" -eq "$after" ] || fail "rs's pages changed in a restart"
say "ok"
