#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Swap-off of a device whose pages the rest of the pool cannot hold
# fails with ENOSPC and changes nothing: swapdrumctl -d exits 1 with
# one line on stderr naming ENOSPC, every page still reads back (while
# verifier.py does verified I/O on 4 connections throughout), the
# device is listed INUSE,ENABLE again and takes new pages.  Then the
# boundary: one page more than the others can hold still fails, and
# once the others can hold exactly the device's pages, -d moves them
# all and nothing is lost.
#
# Pool: A (priority 0, 2047 pages) + B (priority 5, 1023 pages).
# Export pages [0, 2300) are written first, in order: A's 2047 pages
# and 253 on B.  The verifier owns 4 regions of 160 pages from page
# 2304 (at most 640 pages, all on B since A is full): B never holds
# more than 893 pages, so it can never take A's 2047.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl

A=$tmp/a B=$tmp/b
sock=$tmp/nbd.sock
state=$tmp/static.json
STATIC=2300
VBASE=2304 VREGION=160
NEW=2944                        # first page of the new writes of step 3

cat > "$tmp/static.py" <<'EOF'
"""The static data: STATE maps export page -> pattern seed (0: trimmed,
zeros); pages not in STATE are not ours.  Subcommands:
  fill N               write pages [0, N) with seed 1, 16 at a time
  verify               read back every page of STATE
  trim-on DEV K        trim K static pages found on device file DEV
  write FIRST N SEED   write pages [FIRST, +N) with SEED
  count-on DEV SEED    how many pages of seed SEED DEV holds (mapped)"""
import json, os, sys
from nbdcheck import *

cmd, sock, statef = sys.argv[1:4]
args = sys.argv[4:]
state = {}
if os.path.exists(statef):
    state = {int(k): v for k, v in json.load(open(statef)).items()}

def save():
    with open(statef, "w") as f:
        json.dump(state, f)

def on_device(dev):
    """Export pages whose current content is on dev (by content)."""
    pages, _ = scan_device(dev)
    return sorted(off // PAGE for seed, off in pages.values()
                  if state.get(off // PAGE) == seed)

h = connect(sock)
if cmd == "fill":
    n = int(args[0])
    for p in range(0, n, 16):
        k = min(16, n - p)
        write_pattern(h, 1, p * PAGE, k * PAGE)
        state.update((q, 1) for q in range(p, p + k))
    h.flush()
    save()
elif cmd == "verify":
    pages = sorted(state)
    runs = []
    for p in pages:
        if runs and runs[-1][1] == p and runs[-1][1] - runs[-1][0] < 64:
            runs[-1][1] += 1
        else:
            runs.append([p, p + 1])
    for a, b in runs:
        exp = b"".join(pattern(state[q], q * PAGE, PAGE) if state[q]
                       else bytes(PAGE) for q in range(a, b))
        compare(exp, h.pread((b - a) * PAGE, a * PAGE), a * PAGE,
                "static data")
    log("  %d pages read back (%d of them trimmed, zeros)"
        % (len(pages), sum(1 for p in pages if not state[p])))
elif cmd == "trim-on":
    dev, k = args[0], int(args[1])
    victims = [p for p in on_device(dev) if state[p] == 1][:k]
    if len(victims) < k:
        fail("only %d static pages found on %s" % (len(victims), dev))
    for p in victims:
        h.trim(PAGE, p * PAGE)
        state[p] = 0
    save()
elif cmd == "write":
    first, n, seed = map(int, args)
    write_pattern(h, seed, first * PAGE, n * PAGE)
    state.update((q, seed) for q in range(first, first + n))
    save()
elif cmd == "count-on":
    seed = int(args[1])
    print(sum(1 for p in on_device(args[0]) if state[p] == seed))
h.shutdown()
EOF
# Timeouts: a hung server must fail the test, not hang it.
static () { timeout 120 "$PYTHON" "$tmp/static.py" "$1" "$sock" "$state" "${@:2}"; }



# shape FILE: what no I/O changes in stats FILE (paths, priorities,
# flags, sizes...), one device a line.
shape ()
{
    "$PYTHON" -c 'import json, sys
for d in json.load(open(sys.argv[1]))["devices"]:
    print(d["path"], d["kind"], d["priority"], d["maxactive"],
          ",".join(d["flags"]), d["size"], d["pages"], d["drumoffset"])' "$1"
}

# off_enospc WHAT: swapdrumctl -d A and swapdrumctl --json -d A both
# fail with ENOSPC, exit 1, one line on stderr; the pool's shape does
# not change.
off_enospc ()
{
    local rc
    stats "$tmp/before"
    for json in "" --json; do
        rc=0
        ctl $json -d "$A" > "$tmp/out" 2> "$tmp/err" || rc=$?
        say "$1: swapdrumctl${json:+ $json} -d A: exit $rc: $(cat "$tmp/err")"
        [ $rc -eq 1 ] || fail "swapdrumctl $json -d A: exit $rc, expected 1"
        [ "$(wc -l < "$tmp/err")" -eq 1 ] ||
            fail "swapdrumctl $json -d A: expected one line on stderr"
        grep -q '^swapdrumctl: .*ENOSPC' "$tmp/err" ||
            fail "swapdrumctl $json -d A: no ENOSPC on stderr"
        if [ -n "$json" ]; then
            "$PYTHON" -c 'import json, sys
lines = open(sys.argv[1]).read().splitlines()
r = json.loads(lines[-1])
assert r["ok"] is False and r["errno"] == "ENOSPC", r
assert all("progress" in json.loads(l) for l in lines[:-1])' "$tmp/out" ||
                fail "swapdrumctl --json -d A: stdout: $(cat "$tmp/out")"
        else
            [ ! -s "$tmp/out" ] || fail "swapdrumctl -d A: stdout: $(cat "$tmp/out")"
        fi
    done
    stats "$tmp/after"
    shape "$tmp/before" > "$tmp/before.shape"
    shape "$tmp/after" > "$tmp/after.shape"
    diff -u "$tmp/before.shape" "$tmp/after.shape" ||
        fail "$1: the failed swap-off changed the pool"
    [ "$(dev "$tmp/after" "$A" flags)" = INUSE,ENABLE ] ||
        fail "$1: A's flags after the failed -d: $(dev "$tmp/after" "$A" flags)"
}

# ---------------------------------------------------------------------
say "server: A (2047 pages, priority 0) + B (1023 pages, priority 5), 12 MiB export"
start_nbdkit "$sock" "$tmp/nbdkit.pid" \
    "$A,create=$(page_file_size 2047)" \
    "$B,create=$(page_file_size 1023),priority=5" size=12M

say "write export pages [0, $STATIC) in order"
static fill $STATIC
stats "$tmp/s0"
[ "$(dev "$tmp/s0" "$A" used)" = 2047 ] ||
    fail "A holds $(dev "$tmp/s0" "$A" used) pages, expected 2047 (full)"
[ "$(dev "$tmp/s0" "$B" used)" = 253 ] ||
    fail "B holds $(dev "$tmp/s0" "$B" used) pages, expected 253"

say "verifier: 4 connections x $VREGION pages from page $VBASE"
start_verifier "$sock" "$tmp" --conns 4 --base-page $VBASE \
    --region-pages $VREGION --prefill 0.75 --seed 22

# 1. Swap-off of A under load: ENOSPC, nothing changes.
off_enospc "under load"
say "static data after the failed swap-off"
static verify
sleep 0.5
off_enospc "again"

# 2. Stop the verifier: its counts and a full read-back of its regions.
stop_verifier "$tmp"
"$PYTHON" - "$tmp/verifier.report" <<'EOF' || fail "verifier results"
import json, sys
r = json.load(open(sys.argv[1]))
print("test-off-enospc: verifier: %d ops, %d mismatches, %d I/O errors; "
      "final read-back of %d pages: %d wrong"
      % (r["ops"], r["mismatches"], r["errors"], r["final_pages_checked"],
         r["final_mismatches"]))
assert r["ops"] > 0 and r["mismatches"] == 0 and r["errors"] == 0
assert r["final_mismatches"] == 0 and r["final_pages_checked"] == 640
assert not r["crashed"]
EOF
[ "$VERIFIER_RC" -eq 0 ] || fail "the verifier exited with status $VERIFIER_RC"
static verify

# 3. A takes new pages again: free 16 of its slots, write 16 new pages.
say "A takes new pages: trim 16 static pages on A, write 16 new ones"
static trim-on "$A" 16
stats "$tmp/s1"
a1=$(dev "$tmp/s1" "$A" used)
[ "$a1" -eq 2031 ] || fail "after trimming 16 pages on A it holds $a1"
static write $NEW 16 3
stats "$tmp/s2"
[ "$(dev "$tmp/s2" "$A" used)" -eq 2047 ] ||
    fail "the 16 new pages did not go to A (A holds $(dev "$tmp/s2" "$A" used))"
[ "$(static count-on "$A" 3)" -eq 16 ] ||
    fail "A's file does not hold the 16 new pages"
static verify

# 4. The boundary: room for all of A's pages but one, then for all.
b_room=$(( $(dev "$tmp/s2" "$B" avail) ))
k=$(( 2047 - b_room ))
say "B has room for $b_room pages: trim $(( k - 1 )) static pages on A"
static trim-on "$A" $(( k - 1 ))
off_enospc "one page short"
static verify
say "trim one more: B can take exactly A's pages"
static trim-on "$A" 1
stats "$tmp/s3"
[ "$(dev "$tmp/s3" "$A" used)" -eq "$b_room" ] ||
    fail "A holds $(dev "$tmp/s3" "$A" used) pages, expected $b_room"
ctl -d "$A" > "$tmp/out" 2> "$tmp/err" ||
    { cat "$tmp/err" >&2; fail "swapdrumctl -d A failed with room for its pages"; }
cat "$tmp/out"
[ "$(cat "$tmp/out")" = "removed $A ($b_room pages moved)" ] ||
    fail "swapdrumctl -d A printed: $(cat "$tmp/out")"
stats "$tmp/s4"
[ "$(dev "$tmp/s4" "$A" used)" = absent ] || fail "A is still in the pool"
[ "$(dev "$tmp/s4" "$B" avail)" = 0 ] ||
    fail "B should be full, has $(dev "$tmp/s4" "$B" avail) free pages"
say "every page after the swap-off"
static verify
check_alive "$NBDKIT_PID" nbdkit
say "PASS"
