#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Placement by priority, checked in the device files themselves.
# Devices: A (priority 0, 32 pages), B (priority 0, 64 pages),
# C (priority 5, 64 pages; named first on the command line, so order
# on the command line is not what decides).  Writes must:
#   * take turns between A and B while both have room,
#   * go to B alone once A is full,
#   * reach C only when A and B are both full.
# After every write the test scans the data pages of the three files
# (where the device layout puts them: nbdcheck.layout) for the pattern
# it wrote
# and checks which device got it.  Phase 1 writes single pages; phase 2
# writes 4-page runs, each of which must land on one device as one
# contiguous run.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

cat > "$tmp/placement.py" <<'EOF'
import random, sys
from nbdcheck import *

sock, run, a, b, c = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
names = {a: "A", b: "B", c: "C"}
cap = {"A": 32, "B": 64, "C": 64}
rng = random.Random(4242 + run)

h = connect(sock)
size = h.get_size()
if size != 160 * PAGE:
    fail("export is %d bytes, expected 160 pages (the sum of the devices)"
         % size)

seed = run
# Export pages written in a shuffled order: where a page lands must
# depend on the order of allocation, not on its export offset.
per = run                   # pages per write: 1 in phase 1, 4 in phase 2
nwrites = 160 // per
order = list(range(nwrites))
rng.shuffle(order)

def where():
    """export offset -> (device, device page) for every pattern page."""
    found = {}
    for path, name in names.items():
        pages, other = scan_device(path)
        if other:
            fail("%s holds %d pages that are neither zero nor a whole "
                 "pattern page" % (name, other))
        for p, (s, off) in pages.items():
            if s != seed:
                fail("%s page %d holds seed %d, expected %d" %
                     (name, p, s, seed))
            if off in found:
                fail("export offset %d is on %s page %d and on %s page %d"
                     % (off, found[off][0], found[off][1], name, p))
            found[off] = (name, p)
    return found

placed = []               # device of each write, in order
for k, slot in enumerate(order):
    offset = slot * per * PAGE
    write_pattern(h, seed, offset, per * PAGE)
    found = where()
    if len(found) != (k + 1) * per:
        fail("after %d writes the device files hold %d written pages, "
             "expected %d" % (k + 1, len(found), (k + 1) * per))
    locs = [found.get(offset + i * PAGE) for i in range(per)]
    if None in locs:
        fail("write %d (export offset %d) is in no device file" %
             (k, offset))
    devs = {d for d, _ in locs}
    if len(devs) != 1:
        fail("write %d (%d pages) was split over devices %s" %
             (k, per, sorted(devs)))
    dev = devs.pop()
    dpages = [p for _, p in locs]
    if dpages != list(range(dpages[0], dpages[0] + per)):
        fail("write %d (%d pages) is not one contiguous run on %s: "
             "device pages %s" % (k, per, dev, dpages))
    placed.append(dev)

# The expected sequence: A and B in turns while A has room, then B
# alone, then C.
turns = 2 * cap["A"] // per
log("placement of the %d writes: %s" % (len(placed), "".join(placed)))
for k, dev in enumerate(placed):
    if k < turns:
        ok = dev in "AB" and (k == 0 or dev != placed[k - 1])
        why = "A and B taking turns"
    elif k < turns + (cap["B"] - cap["A"]) // per:
        ok = dev == "B"
        why = "B (A is full, C has a lower priority)"
    else:
        ok = dev == "C"
        why = "C (A and B are full)"
    if not ok:
        fail("write %d went to %s, expected %s; sequence %s" %
             (k, dev, why, "".join(placed)))

counts = {n: placed.count(n) * per for n in "ABC"}
log("pages per device: %s" % counts)
if counts != cap:
    fail("devices hold %s pages, expected %s" % (counts, cap))

# And the export reads back.
check_pattern(h, seed, 0, size)
h.shutdown()
log("placement as expected")
EOF

for run in 1 4; do
    dir=$tmp/run$run
    mkdir "$dir"
    say "phase $([ $run = 1 ] && echo 1: single-page || echo 2: 4-page) writes"
    nbdkit -U - "$PLUGIN" \
        "$dir/c,create=$(page_file_size 64),priority=5" \
        "$dir/a,create=$(page_file_size 32)" \
        "$dir/b,create=$(page_file_size 64),priority=0" \
        --run "$PYTHON $tmp/placement.py \"\$unixsocket\" $run \
                 $dir/a $dir/b $dir/c" ||
        fail "placement (run $run) is wrong"
done
say "PASS"
