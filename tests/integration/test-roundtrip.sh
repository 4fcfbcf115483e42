#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Data written at random offsets and sizes (page-aligned, 512-aligned
# only, byte-unaligned, 4 KiB to 1 MiB plus a few sub-page pieces,
# overlapping each other) reads back identical to a local model file;
# ranges never written read as zeros; `nbdinfo --map` shows data
# exactly on the pages written and holes everywhere else.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires nbdinfo --version

cat > "$tmp/roundtrip.py" <<'EOF'
import json, random, subprocess, sys
from nbdcheck import *

sock, uri, modelpath = sys.argv[1:4]
rng = random.Random(20260101)

h = connect(sock, strict_align=False)
size = h.get_size()
log("export size %d (%d pages)" % (size, size // PAGE))
model = Model(modelpath, size)

# The writes.  Every write has its own seed, so a mismatch says which
# write the bytes found came from.
kinds = {"page": 0, "512": 0, "byte": 0, "sub-page": 0, "overlap": 0}
writes = []
for i in range(90):
    seed = i + 1
    kind = rng.choice(["page"] * 3 + ["512"] * 3 + ["byte"] * 2 + ["sub-page"])
    if kind == "page":
        length = rng.randint(1, 256) * PAGE
        offset = rng.randrange(0, size - length + 1, PAGE)
    elif kind == "512":
        length = rng.randint(8, 2048) * SECTOR
        offset = rng.randrange(0, (size - length) // SECTOR) * SECTOR
        if offset % PAGE == 0:
            offset += SECTOR
    elif kind == "byte":
        length = rng.randint(PAGE, 1 << 20)
        offset = rng.randrange(0, size - length)
    else:
        length = rng.randint(1, PAGE - 1)
        offset = rng.randrange(0, size - length)
    # Now and then, land on top of an earlier write.
    if writes and rng.random() < 0.3:
        o, n = rng.choice(writes)
        offset = min(o + rng.randrange(0, n), size - length)
        if kind == "page":
            offset -= offset % PAGE
        elif kind == "512":
            offset -= offset % SECTOR
        kinds["overlap"] += 1
    kinds[kind] += 1
    data = pattern(seed, offset, length)
    h.pwrite(data, offset)
    model.write(offset, data)
    writes.append((offset, length))
log("wrote %d pieces: %s" % (len(writes), kinds))
h.flush()
h.shutdown()

# A fresh connection reads everything back.
h = connect(sock, strict_align=False)
log("check: the whole export reads back as the model")
model.verify(h)

log("check: random unaligned reads match the model")
for _ in range(200):
    n = rng.randint(1, 70000)
    o = rng.randrange(0, size - n)
    compare(model.get(o, n), h.pread(n, o), o, "unaligned read")

# Byte ranges never written must read as zeros.
written = sorted(writes)
gaps, pos = [], 0
for o, n in written:
    if o > pos:
        gaps.append((pos, o - pos))
    pos = max(pos, o + n)
if pos < size:
    gaps.append((pos, size - pos))
log("check: %d unwritten ranges (%d bytes) read as zeros" %
    (len(gaps), sum(n for _, n in gaps)))
for o, n in gaps:
    check_zero(h, o, n, "unwritten range")

# The map: data on every page a write touched, holes elsewhere.
want = model.mapped_ranges()
log("check: nbdinfo --map shows %d data ranges (%d pages), holes elsewhere"
    % (len(want), len(model.touched)))
out = subprocess.run(["nbdinfo", "--map", "--json", uri], check=True,
                     capture_output=True, text=True).stdout
got, pos = [], 0
for e in json.loads(out):
    if e["offset"] != pos:
        fail("nbdinfo --map: extent at %d, expected one at %d" %
             (e["offset"], pos))
    pos += e["length"]
    hole = e["type"] & 1
    zero = e["type"] & 2
    if hole and not zero:
        fail("nbdinfo --map: hole without zero at %d" % e["offset"])
    if not hole:
        if got and got[-1][1] == e["offset"]:
            got[-1][1] += e["length"]
        else:
            got.append([e["offset"], e["offset"] + e["length"]])
if pos != size:
    fail("nbdinfo --map covers %d bytes, export is %d" % (pos, size))
got = [tuple(r) for r in got]
if got != want:
    extra = [r for r in got if r not in want][:5]
    missing = [r for r in want if r not in got][:5]
    fail("nbdinfo --map data ranges differ from the pages written: "
         "%d ranges, expected %d; unexpected %s; missing %s" %
         (len(got), len(want), extra, missing))
if not want or len(got) < 2:
    fail("test too weak: expected several data ranges and holes")

# The same from the client library, and every hole reads as zeros.
exts = extents(h)
if data_ranges(exts) != want:
    fail("block_status data ranges differ from nbdinfo --map")
holes = [(o, n) for o, n, fl in exts if fl & 1]
log("check: %d holes read as zeros" % len(holes))
for o, n in holes:
    check_zero(h, o, n, "hole")
h.shutdown()
log("all checks passed")
EOF

say "two 64 MiB devices, random writes, read back, map"
nbdkit -U - "$PLUGIN" "$tmp/a,create=64M" "$tmp/b,create=64M,priority=1" \
    --run "$PYTHON $tmp/roundtrip.py \"\$unixsocket\" \"\$uri\" $tmp/model" ||
    fail "round trip failed"
say "PASS"
