#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Trim and write-zeroes unmap whole pages and free their slots:
#   * after trimming everything, the export reads zeros and is one
#     hole, and new writes land on the preferred devices again (checked
#     in the device files);
#   * a trim or zero of part of the export unmaps the whole pages in
#     it (holes, zeros), keeps the data around it (partial pages), and
#     the freed slots on the preferred devices are used again;
#   * no slot leaks: at the end every page of the export (as large as
#     the pool) can be written.
# Devices: A1, A2 (priority 0, 16 pages each), B (priority 5, 64).

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

cat > "$tmp/trim.py" <<'EOF'
import sys
from nbdcheck import *

sock, a1, a2, b = sys.argv[1:5]
devs = {"A1": a1, "A2": a2, "B": b}

h = connect(sock, strict_align=False)
size = h.get_size()
npages = size // PAGE
if npages != 96:
    fail("export has %d pages, expected 96" % npages)
model = Model(sys.argv[5], size)

def seeds_on_devices():
    """{device: {seed: count of whole pattern pages}}"""
    out = {}
    for name, path in devs.items():
        pages, _ = scan_device(path)
        out[name] = {}
        for s, _ in pages.values():
            out[name][s] = out[name].get(s, 0) + 1
    return out

def write_pages(seed, pages):
    for p in pages:
        data = pattern(seed, p * PAGE, PAGE)
        h.pwrite(data, p * PAGE)
        model.write(p * PAGE, data)

def expect_holes(pages, what):
    """Every page in `pages` is a hole (and reads zeros); every page
    the model says was written is data."""
    exts = extents(h)
    want = model.mapped_ranges()
    got = data_ranges(exts)
    if got != want:
        fail("%s: data ranges %s, expected %s" % (what, got[:8], want[:8]))
    for p in pages:
        for o, n, fl in exts:
            if o <= p * PAGE < o + n:
                if not fl & 1:
                    fail("%s: page %d is not a hole" % (what, p))
                break
        check_zero(h, p * PAGE, PAGE, "%s: page %d" % (what, p))

# 1. Fill: 48 single-page writes, 32 on A1/A2, then 16 on B.
log("write 48 pages: A1 and A2 fill, B takes the rest")
write_pages(1, range(48))
s = seeds_on_devices()
got = {n: s[n].get(1, 0) for n in devs}
if got != {"A1": 16, "A2": 16, "B": 16}:
    fail("after 48 writes the devices hold %s pages, expected "
         "A1 16, A2 16, B 16" % got)

# 2. Trim everything.
log("trim the whole export: zeros, one hole")
h.trim(size, 0)
model.unmap(0, size)
check_zero(h, 0, size, "after trim of everything")
exts = extents(h)
if exts != [(0, size, 3)]:
    fail("after trim of everything the map is %s, expected one "
         "hole+zero extent" % exts[:8])

# 3. New writes go to the preferred devices again.
log("write 32 new pages: all land on A1 and A2 (priority 0), none on B")
write_pages(2, range(50, 82))
s = seeds_on_devices()
got = {n: s[n].get(2, 0) for n in devs}
if got != {"A1": 16, "A2": 16, "B": 0}:
    fail("after trim, 32 new writes landed %s, expected A1 16, A2 16, "
         "B 0" % got)
if any(s[n].get(1, 0) for n in ("A1", "A2")):
    fail("A1/A2 still hold old pages after being refilled: %s" % s)
log("check: trimmed pages 0..49 read zeros and are holes")
expect_holes(range(0, 50), "after refill")
model.verify(h)

# 4. Trim and zero parts of the export.
log("trim pages 50..57, zero pages 60..63, zero and trim unaligned ranges")
h.trim(8 * PAGE, 50 * PAGE)
model.unmap(50 * PAGE, 8 * PAGE)
h.zero(4 * PAGE, 60 * PAGE)
model.unmap(60 * PAGE, 4 * PAGE)
# Zero from inside page 64 to inside page 66: page 65 is unmapped, the
# pieces of 64 and 66 read zeros and the rest of them keeps its data.
zo, zn = 64 * PAGE + 100, 2 * PAGE + 100
h.zero(zn, zo)
model.write(zo, bytes(zn))
model.touched.discard(65)
# Trim from inside page 70 to inside page 72: page 71 is unmapped; what
# the trimmed pieces of 70 and 72 read is unspecified, the rest of them
# keeps its data.
to, tn = 70 * PAGE + 512, 2 * PAGE
h.trim(tn, to)
model.write(71 * PAGE, bytes(PAGE))
model.touched.discard(71)
compare(model.get(70 * PAGE, 512), h.pread(512, 70 * PAGE), 70 * PAGE,
        "data before a partial trim")
compare(model.get(72 * PAGE + 512, PAGE - 512),
        h.pread(PAGE - 512, 72 * PAGE + 512), 72 * PAGE + 512,
        "data after a partial trim")
# From here on the model holds what the server has in those pieces.
model.write(to, h.pread(PAGE - 512, to))
model.write(72 * PAGE, h.pread(512, 72 * PAGE))
freed = list(range(50, 58)) + list(range(60, 64)) + [65, 71]
expect_holes(freed, "after partial trim/zero")
compare(bytes(zn), h.pread(zn, zo), zo, "zeroed range")
model.verify(h)

log("write %d new pages: they take the freed slots on A1/A2, none on B"
    % len(freed))
write_pages(3, range(82, 82 + len(freed)))
s = seeds_on_devices()
on_a = s["A1"].get(3, 0) + s["A2"].get(3, 0)
if s["B"].get(3, 0) or on_a != len(freed):
    fail("%d writes after freeing %d slots on A1/A2: %d landed on A1/A2, "
         "%d on B" % (len(freed), len(freed), on_a, s["B"].get(3, 0)))
model.verify(h)

# 5. No slot leaked: the pool holds exactly the export, so writing every
# page still unmapped must succeed.
rest = [p for p in range(npages) if p not in model.touched]
log("write the %d unmapped pages: the pool must have room for all" %
    len(rest))
try:
    write_pages(4, rest)
except Exception as e:
    fail("filling the export after trims failed (slots leaked?): %s" % e)
exts = extents(h)
if exts != [(0, size, 0)]:
    fail("export fully written but the map is %s" % exts[:8])
model.verify(h)

# 6. And trim everything once more.
h.trim(size, 0)
check_zero(h, 0, size, "after the final trim")
if extents(h) != [(0, size, 3)]:
    fail("after the final trim the export is not one hole")
h.shutdown()
log("all checks passed")
EOF

say "devices A1, A2 (priority 0) and B (priority 5)"
nbdkit -U - "$PLUGIN" \
    "$tmp/a1,create=$(page_file_size 16)" \
    "$tmp/a2,create=$(page_file_size 16)" \
    "$tmp/b,create=$(page_file_size 64),priority=5" \
    --run "$PYTHON $tmp/trim.py \"\$unixsocket\" $tmp/a1 $tmp/a2 $tmp/b \
             $tmp/model" ||
    fail "trim checks failed"
say "PASS"
