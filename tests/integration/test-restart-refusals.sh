#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Wrong devices are refused, never reformatted (docs/design.md, "The
# durable map"): a pool of a and b holds pages; each case below starts
# the server on a wrong set of devices and expects nbdkit to exit with
# one error line naming the device and the reason, and every device
# file to be byte for byte as it was.  Then new-pool=true (the explicit
# word) starts a new, empty pool on used devices, and the old pool,
# untouched by all the refusals, still gives back its pages.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

cd "$tmp"
a=$tmp/a b=$tmp/b
sock=$tmp/sock
R=("$PYTHON" "$SRCDIR/restart.py")
failures=0

say "the pool: a (priority 0) and b (priority 5), 512 pages written"
rm -f "$sock"
start_nbdkit "$sock" "$tmp/pid" "$a,create=8M" "$b,create=8M,priority=5" \
    admin=off
"${R[@]}" write "$sock" "$tmp/state" 512 1
stop_nbdkit "$NBDKIT_PID"

# Another pool, on c.
nbdkit -U - "$PLUGIN" "$tmp/c,create=8M" admin=off --run true
# Not swapdrum's: 8 MiB of other data.
head -c 8M /dev/urandom > "$tmp/other"

# A copy of a with one byte changed: corrupt FILE OFFSET.
corrupt ()
{
    cp --sparse=always "$a" "$1"
    "$PYTHON" - "$1" "$2" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x5a]))
EOF
}

# The offset of a's first page record that is not zero.
first_record=$("$PYTHON" - "$a" <<'EOF'
import os, sys
from nbdcheck import layout
path = sys.argv[1]
data, n, records = layout(os.path.getsize(path))
with open(path, "rb") as f:
    f.seek(records)
    buf = f.read(n * 16)
for i in range(n):
    if any(buf[16 * i:16 * i + 16]):
        print(records + 16 * i)
        break
EOF
)
[ -n "$first_record" ] || fail "a holds no page record"

corrupt "$tmp/a-stamp" 100           # inside the stamp's fields
corrupt "$tmp/a-table" $((4096 + 2)) # inside the pool table (copy A)
corrupt "$tmp/a-record" "$first_record"
corrupt "$tmp/a-newer" 8             # the version: 2 -> 0x58
cp --sparse=always "$a" "$tmp/a-copy"
cp --sparse=always "$b" "$tmp/b-grown"
truncate -s +1M "$tmp/b-grown"
ln -s "$a" "$tmp/a-link"

# The checksums of every device file there is now (b may be away).
sums ()
{
    local f
    for f in "$a" "$b" "$tmp/b.away" "$tmp/c" "$tmp/other" "$tmp"/a-* \
             "$tmp/b-grown"; do
        [ -e "$f" ] && md5sum "$f"
    done
    return 0
}

# refuse WHAT REGEXP [ENV=VALUE...] -- PLUGIN-ARGS...
# nbdkit must exit non-zero with one error line matching REGEXP, and
# no device file may change.
refuse ()
{
    local what=$1 re=$2 rc=0 lines envs=()
    shift 2
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    sums > "$tmp/before"
    env "${envs[@]}" "${NBDKIT[@]}" -U - "$PLUGIN" "$@" admin=off \
        --run 'echo SERVER-STARTED' >"$tmp/out" 2>&1 || rc=$?
    sums > "$tmp/after"
    lines=$(grep -c 'error' "$tmp/out" || true)
    if [ $rc -eq 0 ] || grep -q SERVER-STARTED "$tmp/out"; then
        echo "  FAIL: $what: the server started"
        failures=$((failures + 1))
    elif ! grep -Eq -- "$re" "$tmp/out" || [ "$lines" -ne 1 ]; then
        echo "  FAIL: $what: expected one error line matching /$re/:"
        sed 's/^/    | /' "$tmp/out"
        failures=$((failures + 1))
    elif ! cmp -s "$tmp/before" "$tmp/after"; then
        echo "  FAIL: $what: a device changed:"
        diff "$tmp/before" "$tmp/after" | sed 's/^/    | /'
        failures=$((failures + 1))
    else
        echo "  ok: $what: $(grep 'error' "$tmp/out")"
    fi
}

say "wrong devices"
refuse "a device of another pool" "swap: $tmp/c: belongs to another pool" \
    -- "$a" "$b,priority=5" "$tmp/c"
refuse "not a swapdrum device, not empty" \
    "swap: $tmp/other: not a swapdrum device, and not empty" \
    -- "$a" "$b,priority=5" "$tmp/other"
mv "$b" "$tmp/b.away"
refuse "a missing device" "swap: $b: pool member \(device [0-9a-f]{32}\) is missing: No such file" \
    -- "$a"
mv "$tmp/b.away" "$b"
refuse "the same device twice" "swap: $tmp/a-link: already in the pool as $a" \
    -- "$a" "$b,priority=5" "$tmp/a-link"
refuse "a copy of a device" "swap: $tmp/a-copy: carries the same device id as $a" \
    -- "$a" "$b,priority=5" "$tmp/a-copy"
refuse "a device whose size changed" \
    "swap: $tmp/b-grown: its size changed since it joined the pool" \
    -- "$a" "$tmp/b-grown,priority=5"
refuse "a corrupt stamp" "swap: $tmp/a-stamp: stamp checksum mismatch" \
    -- "$tmp/a-stamp" "$b,priority=5"
refuse "a newer format" "swap: $tmp/a-newer: made by a newer swapdrum" \
    -- "$tmp/a-newer" "$b,priority=5"
refuse "a corrupt pool table" "swap: $tmp/a-table: pool table checksum mismatch" \
    -- "$tmp/a-table" "$b,priority=5"
refuse "a corrupt page record" \
    "swap: $tmp/a-record: the record of page [0-9]+ is corrupt" \
    -- "$tmp/a-record" "$b,priority=5"

say "the pool itself still starts and holds its pages"
rm -f "$sock"
start_nbdkit "$sock" "$tmp/pid" "$a" "$b,priority=5" admin=off
grep -q "clean shutdown" "$tmp/pid.log" ||
    { cat "$tmp/pid.log"; fail "the restart did not say how it came up"; }
"${R[@]}" verify "$sock" "$tmp/state" || fail "pages lost"
stop_nbdkit "$NBDKIT_PID"

say "new-pool=true: a new, empty pool on the used devices"
rm -f "$sock"
start_nbdkit "$sock" "$tmp/pid" "$a" "$b,priority=5" "$tmp/c" new-pool=true \
    admin=off
grep -q "new pool" "$tmp/pid.log" || fail "new-pool=true did not say so"
"$PYTHON" - "$sock" <<'EOF' || fail "the new pool is not empty"
import sys, nbd
h = nbd.NBD()
h.connect_unix(sys.argv[1])
size = h.get_size()
for off in range(0, size, 1 << 22):
    n = min(1 << 22, size - off)
    if h.pread(n, off) != bytes(n):
        sys.exit("data at %d" % off)
print("the new pool reads zeros")
EOF
stop_nbdkit "$NBDKIT_PID"
rm -f "$sock"
start_nbdkit "$sock" "$tmp/pid" "$a" "$b,priority=5" "$tmp/c" admin=off
grep -q "clean shutdown" "$tmp/pid.log" || fail "the new pool did not come back"
stop_nbdkit "$NBDKIT_PID"

[ $failures -eq 0 ] || fail "$failures cases were not refused as they should be"
say "PASS"
