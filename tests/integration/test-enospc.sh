#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# A full pool answers writes that need new slots with ENOSPC and loses
# nothing already written; writes that need no new slot (overwrites,
# zeroing, trimming) still work; freeing a slot makes room again.
# Pool: A (priority 0, 32 pages) + B (priority 1, 32 pages) behind a
# 1 MiB (256-page) export.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

cat > "$tmp/enospc.py" <<'EOF'
import errno, random, sys
from nbdcheck import *

sock, modelpath = sys.argv[1:3]
rng = random.Random(7777)
POOL = 64

h = connect(sock, strict_align=False)
size = h.get_size()
npages = size // PAGE
model = Model(modelpath, size)

def put(seed, offset, length):
    data = pattern(seed, offset, length)
    h.pwrite(data, offset)
    model.write(offset, data)

def enospc(what, offset, data):
    """A write of data at offset must fail with ENOSPC.  Bytes of it
    that fall on mapped pages are the bytes already there, so the
    expected content does not depend on how far the write got."""
    expect_errno(errno.ENOSPC, what, h.pwrite, data, offset)

# 1. Fill the pool with runs of 1 to 8 pages spread over the export.
log("fill the pool: %d pages in runs of 1 to 8 pages" % POOL)
seed, used, page = 0, 0, 0
while used < POOL:
    n = min(rng.choice([1, 2, 3, 5, 8]), POOL - used)
    page += rng.randint(0, 2)
    seed += 1
    put(seed, page * PAGE, n * PAGE)
    used += n
    page += n
assert page < npages
h.flush()
model.verify(h)
unmapped = [p for p in range(npages) if p not in model.touched]
mapped = sorted(model.touched)

# 2. Every write that needs a new slot fails with ENOSPC.
log("check: writes needing new slots fail with ENOSPC")
p = unmapped[-1]
enospc("a one-page write to unmapped page %d" % p,
       p * PAGE, pattern(900, p * PAGE, PAGE))
enospc("a 64 KiB write to unmapped pages %d.." % (p - 15),
       (p - 15) * PAGE, pattern(901, (p - 15) * PAGE, 16 * PAGE))
enospc("a 512-byte write into unmapped page %d" % p,
       p * PAGE + 1024, pattern(902, p * PAGE + 1024, 512))
enospc("a 100-byte unaligned write into unmapped page %d" % p,
       p * PAGE + 333, b"x" * 100)
# A write over a mapped page and on into an unmapped one.
for q in mapped:
    if q + 1 in unmapped:
        break
data = model.get(q * PAGE, PAGE) + pattern(903, (q + 1) * PAGE, PAGE)
enospc("a write over mapped page %d and unmapped page %d" % (q, q + 1),
       q * PAGE, data)
log("check: the failed writes left zeros and holes behind")
for p in unmapped:
    check_zero(h, p * PAGE, PAGE, "unmapped page %d after ENOSPC" % p)
if data_ranges(extents(h)) != model.mapped_ranges():
    fail("after ENOSPC the map is %s, expected %s" %
         (data_ranges(extents(h)), model.mapped_ranges()))

# 3. What needs no new slot still works in a full pool.
log("check: overwrites of mapped pages work while the pool is full")
for i, q in enumerate(rng.sample(mapped, 12)):
    if i % 3 == 0:
        put(500 + i, q * PAGE, PAGE)                       # whole page
    elif i % 3 == 1:
        put(500 + i, q * PAGE + 512 * rng.randint(0, 7), 512)  # a sector
    else:
        put(500 + i, q * PAGE + rng.randint(1, 3000), 1000)    # bytes
log("check: zero and trim of unmapped pages work while the pool is full")
p = unmapped[0]
h.zero(2 * PAGE, p * PAGE)
h.trim(2 * PAGE, p * PAGE)
h.zero(100, unmapped[1] * PAGE + 10)
h.flush()
model.verify(h)

# 4. Freeing a slot makes room for one page, then the pool is full again.
victim = mapped[len(mapped) // 2]
log("trim page %d: room for exactly one new page" % victim)
h.trim(PAGE, victim * PAGE)
model.unmap(victim * PAGE, PAGE)
new = unmapped[-1]
put(999, new * PAGE, PAGE)
enospc("the next new page after the freed slot was taken",
       unmapped[-2] * PAGE, pattern(904, unmapped[-2] * PAGE, PAGE))
h.shutdown()

# 5. Nothing lost: all of it from a fresh connection.
log("check: everything written reads back from a fresh connection")
h = connect(sock)
model.verify(h)
if data_ranges(extents(h)) != model.mapped_ranges():
    fail("final map differs from the pages written")
h.shutdown()
log("all checks passed")
EOF

say "pool of 64 pages behind a 256-page export"
rc=0
nbdkit -U - "$PLUGIN" \
    "$tmp/a,create=$(page_file_size 32)" \
    "$tmp/b,create=$(page_file_size 32),priority=1" size=1M \
    --run "$PYTHON $tmp/enospc.py \"\$unixsocket\" $tmp/model" \
    2>"$tmp/log" || rc=$?
cat "$tmp/log"
[ $rc -eq 0 ] || fail "ENOSPC checks failed"
say "check: the server said why"
grep -q "the pool is full" "$tmp/log" ||
    fail "no 'the pool is full' message from the server"
say "PASS"
