#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# 8 concurrent connections (one thread and one handle each; every
# handle must see can_multi_conn) write:
#   1. disjoint regions, cut at random byte offsets, in random order;
#   2. one region where every page is shared: connection t owns sector
#      t of each page (concurrent first writes to one unmapped page);
#   3. one region that all 8 write entirely with the same data, with 8
#      requests in flight per connection;
#   4. one region in rounds: in round r chunk c belongs to connection
#      (c + r) % 8; a barrier between rounds; the last two rounds trim
#      the odd chunks and write the even ones.
# Then one connection flushes, and a fresh connection reads the whole
# export: it must match the expected content exactly, with data on the
# written pages and holes elsewhere.  Last, every unmapped page of the
# export (as large as the pool) is written: a slot lost in a race would
# make that fail with ENOSPC.  Run with the default thread model and
# with parallel=true.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

cat > "$tmp/multiconn.py" <<'EOF'
import random, sys, threading
import nbd
from nbdcheck import *

sock, modelpath = sys.argv[1:3]
N = 8
MiB = 1 << 20
DISJOINT = 0                 # N MiB: connection t owns [t MiB, t+1 MiB)
SHARED = N * MiB             # 1 MiB: sector t of every page is t's
SAME = SHARED + MiB          # 2 MiB: everybody writes pattern 30
ROUNDS = SAME + 2 * MiB      # 1 MiB in 64 chunks of 16 KiB
CHUNK, NCHUNK, NROUND = 16384, 64, 6
END = ROUNDS + NCHUNK * CHUNK

barrier = threading.Barrier(N)
errors = []

def round_seed(r, t):
    return 100 + r * N + t

def worker(t):
    try:
        rng = random.Random(1000 + t)
        h = connect(sock, strict_align=False)
        if not h.can_multi_conn():
            raise Fail("connection %d: the server does not offer multi-conn"
                       % t)
        barrier.wait()

        # 1. Disjoint: cut [t MiB, t+1 MiB) at random byte offsets.
        base = DISJOINT + t * MiB
        cuts = sorted(set([0, MiB] + [rng.randrange(1, MiB)
                                      for _ in range(60)]))
        pieces = list(zip(cuts, cuts[1:]))
        rng.shuffle(pieces)
        for a, b in pieces:
            write_pattern(h, 10 + t, base + a, b - a)
        barrier.wait()

        # 2. Shared pages, disjoint sectors.
        pages = list(range(MiB // PAGE))
        rng.shuffle(pages)
        for p in pages:
            o = SHARED + p * PAGE + t * SECTOR
            write_pattern(h, 20 + t, o, SECTOR)
        barrier.wait()

        # 3. Same data from everybody, 8 requests in flight.
        offs = list(range(SAME, SAME + 2 * MiB, 32768))
        rng.shuffle(offs)
        aio_pwrite_all(h, ((o, pattern(30, o, 32768)) for o in offs),
                       depth=8)
        barrier.wait()

        # 4. Ownership per round.
        for r in range(NROUND):
            for c in range(NCHUNK):
                if (c + r) % N != t:
                    continue
                o = ROUNDS + c * CHUNK
                if r == NROUND - 2 and c % 2 == 1:
                    h.trim(CHUNK, o)
                elif r == NROUND - 1 and c % 2 == 1:
                    pass
                else:
                    write_pattern(h, round_seed(r, t), o, CHUNK)
            barrier.wait()

        # A flush from one connection covers everybody's writes.
        if t == 0:
            h.flush()
        barrier.wait()
        h.shutdown()
    except Exception as e:
        errors.append("connection %d: %s: %s" % (t, type(e).__name__, e))
        barrier.abort()

log("8 connections writing")
threads = [threading.Thread(target=worker, args=(t,)) for t in range(N)]
for th in threads:
    th.start()
for th in threads:
    th.join()
real = [e for e in errors if "BrokenBarrierError" not in e] or errors
if real:
    fail("; ".join(real))

# The expected content.
h = connect(sock)
size = h.get_size()
assert END <= size
model = Model(modelpath, size)
for t in range(N):
    model.write(DISJOINT + t * MiB, pattern(10 + t, DISJOINT + t * MiB, MiB))
for p in range(MiB // PAGE):
    for t in range(N):
        o = SHARED + p * PAGE + t * SECTOR
        model.write(o, pattern(20 + t, o, SECTOR))
model.write(SAME, pattern(30, SAME, 2 * MiB))
for c in range(NCHUNK):
    o = ROUNDS + c * CHUNK
    if c % 2 == 0:
        owner = (c + NROUND - 1) % N
        model.write(o, pattern(round_seed(NROUND - 1, owner), o, CHUNK))
    else:
        model.write(o, bytes(CHUNK))
        model.unmap(o, CHUNK)

log("check: a fresh connection reads exactly the expected content")
model.verify(h)
got = data_ranges(extents(h))
if got != model.mapped_ranges():
    fail("map: data ranges %s, expected %s" % (got[:6],
                                                model.mapped_ranges()[:6]))

log("check: no slot was lost in a race: every unmapped page can be written")
rest = [p for p in range(size // PAGE) if p not in model.touched]
i = 0
while i < len(rest):
    j = i
    while j + 1 < len(rest) and rest[j + 1] == rest[j] + 1 and j - i < 255:
        j += 1
    try:
        write_pattern(h, 40, rest[i] * PAGE, (j - i + 1) * PAGE)
    except nbd.Error as e:
        fail("writing unmapped pages %d..%d: %s (slots leaked?)" %
             (rest[i], rest[j], e))
    i = j + 1
if extents(h) != [(0, size, 0)]:
    fail("export fully written but the map still has holes")
h.shutdown()
log("all checks passed")
EOF

for par in default true; do
    dir=$tmp/$par
    mkdir "$dir"
    extra=()
    [ $par = default ] || extra=(parallel=$par)
    say "thread model: $par; devices 2 x 8 MiB (priority 0) + 8 MiB (priority 3)"
    nbdkit -U - "$PLUGIN" \
        "$dir/a,create=8M" "$dir/b,create=8M" "$dir/c,create=8M,priority=3" \
        "${extra[@]}" \
        --run "$PYTHON $tmp/multiconn.py \"\$unixsocket\" $dir/model" ||
        fail "multi-conn checks failed (thread model $par)"
done
say "PASS"
