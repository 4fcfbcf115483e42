#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# A pool mixing a local file (priority 0, 32 pages) with two remote NBD
# exports (priority 5, 255 pages each), run twice to cover three NBD
# servers:
#   run 1: nbdkit memory plugin + qemu-nbd (raw file),
#   run 2: nbd-server (file) + nbdkit file plugin.
# Each run checks, reading the remote exports directly:
#   * placement: 80 single-page writes in shuffled export order: the
#     first 32 land on the local file, the next 48 alternate between
#     the two remotes (A B A B ...); 16-page writes land as one
#     contiguous run each, still alternating; stats agree;
#   * data: overwrites stay in their slot, sub-page writes work, and the
#     whole export reads back as written (a model of it);
#   * trim and write-zeroes reach the remotes: afterwards each remote's
#     own map (`nbdinfo --map`, or SEEK_DATA on the backing file of
#     nbd-server, which has no base:allocation) shows data only where a
#     live page is; freed local slots are used again.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
requires nbdinfo --version
requires qemu-nbd --version
requires nbd-server -V

REMOTE_BYTES=$((1 << 20))           # 238 data pages (nbdcheck.layout)

cat > "$tmp/mix.py" <<'EOF'
import json, os, random, subprocess, sys, time
import nbd
from nbdcheck import *
import adminclient

(sock, admin, local, model_path, r1, r2, remote_bytes) = sys.argv[1:8]
# A remote: NAME|URI|HOLEGRAIN|BACKINGFILE ("-" when none).
remotes = []
for spec in (r1, r2):
    name, uri, grain, backing = spec.split("|")
    remotes.append(dict(name=name, uri=uri, grain=int(grain),
                        backing=None if backing == "-" else backing))
# Data pages: the local file's, each remote's; where a remote's data
# pages start.
L = 32
R_DATA, R, _ = layout(int(remote_bytes))
NAMES = ["L"] + [r["name"] for r in remotes]

h = connect(sock, strict_align=False)
size = h.get_size()
if size != (L + 2 * R) * PAGE:
    fail("export is %d bytes, expected %d pages" % (size, L + 2 * R))
model = Model(model_path, size)

def stats():
    r = adminclient.request(admin, {"cmd": "stats"})
    if r.get("ok") is not True:
        fail("stats: %r" % r)
    out = {}
    for d in r["devices"]:
        out["L" if d["path"] == local else
            next(x["name"] for x in remotes if x["uri"] == d["path"])] = d
    return out

st = stats()
for r in remotes:
    d = st[r["name"]]
    if (d["kind"], d["priority"], d["maxactive"], d["pages"]) != \
            ("nbd", 5, 2, R):
        fail("%s: stats show kind %s priority %s maxactive %s pages %s, "
             "expected nbd 5 2 %d" % (r["name"], d["kind"], d["priority"],
                                      d["maxactive"], d["pages"], R))
    if sorted(d["flags"]) != ["ENABLE", "INUSE"]:
        fail("%s: flags %s" % (r["name"], d["flags"]))
if st["L"]["kind"] != "file" or st["L"]["priority"] != 0:
    fail("the local file: %r" % st["L"])

def dump(uri, path):
    """Copy a remote export to a local file, over NBD."""
    rh = nbd.NBD()
    rh.connect_uri(uri)
    with open(path, "wb") as f:
        f.write(read(rh, 0, rh.get_size()))
    rh.shutdown()

def scan(path):
    """device page -> (export offset, set of seeds) for every device
    page of a device image holding pattern sectors (of one export
    page).  Device page p is where the image's layout puts it
    (nbdcheck.layout)."""
    out = {}
    data_offset, npages, _ = layout(os.path.getsize(path))
    with open(path, "rb") as f:
        f.seek(data_offset)
        p = 0
        while p < npages:
            buf = f.read(PAGE)
            if len(buf) < PAGE:
                break
            if buf.count(0) != PAGE:
                hits = [parse_sector(buf[s:s + SECTOR])
                        for s in range(0, PAGE, SECTOR)]
                offs = {o - o % PAGE for _, o in filter(None, hits)}
                if len(offs) != 1 or None in hits:
                    fail("%s: device page %d holds something else than "
                         "one export page: %r" % (path, p, hits))
                out[p] = (offs.pop(), {s for s, _ in hits})
            p += 1
    return out

def where():
    """export offset -> (device name, device page, seeds), by scanning
    the local file and copies of the remotes."""
    found = {}
    for name in NAMES:
        if name == "L":
            path = local
        else:
            path = model_path + "." + name
            dump(next(x for x in remotes if x["name"] == name)["uri"],
                 path)
        for p, (off, seeds) in scan(path).items():
            if off in found:
                fail("export offset %d is on %s page %d and on %s page %d"
                     % (off, found[off][0], found[off][1], name, p))
            found[off] = (name, p, seeds)
    return found

def write(seed, page, n=1):
    data = pattern(seed, page * PAGE, n * PAGE)
    h.pwrite(data, page * PAGE)
    model.write(page * PAGE, data)

# ---- 1. placement of single pages -------------------------------------
rng = random.Random(5150)
order = rng.sample(range(256), L + 48)
for k, p in enumerate(order):
    write(1000 + k, p)
h.flush()
found = where()
seq = []
for k, p in enumerate(order):
    loc = found.get(p * PAGE)
    if loc is None or loc[2] != {1000 + k}:
        fail("write %d (export page %d) is on no device (or stale): %r"
             % (k, p, loc))
    seq.append(loc[0])
a, b = remotes[0]["name"], remotes[1]["name"]
log("placement of 80 single-page writes: %s" %
    "".join({"L": "L", a: "A", b: "B"}[s] for s in seq))
if seq[:L] != ["L"] * L:
    fail("the first %d writes did not all go to the local file: %s"
         % (L, seq[:L]))
rest = seq[L:]
if any(s == "L" for s in rest):
    fail("a write went to the full local file")
for i in range(1, len(rest)):
    if rest[i] == rest[i - 1]:
        fail("remote writes %d and %d both went to %s: not alternating "
             "(%s)" % (L + i - 1, L + i, rest[i], rest))
st = stats()
used = {n: st[n]["used"] for n in NAMES}
if used != {"L": L, a: 24, b: 24}:
    fail("stats show used %s, expected L %d, %s 24, %s 24" %
         (used, L, a, b))

# ---- 2. multi-page runs, overwrites, sub-page writes -------------------
log("8 writes of 16 pages: each one contiguous run on one remote")
runs = []
for i in range(8):
    write(2000 + i, 300 + 16 * i, 16)
h.flush()
found = where()
for i in range(8):
    locs = [found.get((300 + 16 * i + j) * PAGE) for j in range(16)]
    if None in locs:
        fail("16-page write %d is not (whole) on any device" % i)
    devs = {x[0] for x in locs}
    dp = [x[1] for x in locs]
    if len(devs) != 1 or dp != list(range(dp[0], dp[0] + 16)):
        fail("16-page write %d was split: %s" % (i, locs))
    runs.append(devs.pop())
log("runs went to: %s" % "".join({a: "A", b: "B", "L": "L"}[d]
                                  for d in runs))
if "L" in runs or any(runs[i] == runs[i - 1] for i in range(1, 8)):
    fail("16-page runs did not alternate between the remotes: %s" % runs)
if rest[-1] == runs[0]:
    fail("the first run went to %s again after a single page there" %
         runs[0])

before = where()
log("overwrite every third page and write sub-page pieces")
for k, p in enumerate(order):
    if k % 3 == 0:
        write(3000 + k, p)
for k, p in enumerate(order[L:L + 12]):
    off = p * PAGE + 512 * (k % 7)
    data = pattern(4000 + k, off, 1024)
    h.pwrite(data, off)
    model.write(off, data)
h.flush()
after = where()
for k, p in enumerate(order):
    if k % 3 == 0:
        o, n = before[p * PAGE], after.get(p * PAGE)
        if n is None or n[:2] != o[:2] or 3000 + k not in n[2]:
            fail("overwrite of export page %d: was on %s page %d, now %r"
                 % (p, o[0], o[1], n))
model.verify(h, what="export after writes to the remotes")
st = stats()
for n in NAMES:
    d = st[n]
    if d["bad"] or d["read_errors"] or d["write_errors"] or \
            "FAILED" in d["flags"]:
        fail("%s: errors in stats: %r" % (n, d))
log("stats: " + ", ".join("%s used %d peak_active %d/%d" %
                          (n, st[n]["used"], st[n]["peak_active"],
                           st[n]["maxactive"]) for n in NAMES))

# ---- 3. trim and zero reach the remotes ---------------------------------
loc = where()                   # export offset -> (dev, dev page, seed)
trimmed = []
# Trim two of every three single pages, and zero two 16-page runs
# (one on each remote) plus half of another.
for k, p in enumerate(order):
    if k % 3:
        h.trim(PAGE, p * PAGE)
        model.unmap(p * PAGE, PAGE)
        trimmed.append(p)
for i in (0, 1):
    h.zero(16 * PAGE, (300 + 16 * i) * PAGE)
    model.unmap((300 + 16 * i) * PAGE, 16 * PAGE)
    trimmed += range(300 + 16 * i, 316 + 16 * i)
h.zero(8 * PAGE, (300 + 16 * 2) * PAGE)
model.unmap((300 + 32) * PAGE, 8 * PAGE)
trimmed += range(332, 340)
h.flush()
model.verify(h, what="export after trim/zero")
exts = extents(h)
for p in trimmed:
    for o, n, fl in exts:
        if o <= p * PAGE < o + n:
            if not fl & nbd.STATE_HOLE:
                fail("trimmed export page %d is not a hole" % p)
            break

live = {n: set() for n in NAMES}
freed = {n: 0 for n in NAMES}
for off, (dev, dp, _) in loc.items():
    if off // PAGE in trimmed:
        freed[dev] += 1
    else:
        live[dev].add(dp)
st = stats()
for n in NAMES:
    if st[n]["used"] != len(live[n]):
        fail("%s: stats show used %d after trim, expected %d" %
             (n, st[n]["used"], len(live[n])))
log("trim/zero freed: %s" % freed)

def data_blocks_nbd(uri, grain, nbytes):
    out = subprocess.run(["nbdinfo", "--map", "--json", uri],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True)
    if out.returncode:
        return None, out.stderr.strip()
    blocks = set()
    for e in json.loads(out.stdout):
        if e["type"] & 1:
            continue
        for blk in range(e["offset"] // grain,
                         (e["offset"] + e["length"] - 1) // grain + 1):
            blocks.add(blk)
    return blocks, None

def data_blocks_file(path, grain):
    import os
    blocks = set()
    fd = os.open(path, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        off = 0
        while off < end:
            try:
                d = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            e = os.lseek(fd, d, os.SEEK_HOLE)
            blocks.update(range(d // grain, (e - 1) // grain + 1))
            off = e
    finally:
        os.close(fd)
    return blocks

for r in remotes:
    name, grain = r["name"], r["grain"]
    rh = nbd.NBD()
    rh.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    rh.connect_uri(r["uri"])
    can_trim = rh.can_trim()
    has_map = rh.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    nbytes = rh.get_size()
    rh.shutdown()
    if not can_trim:
        log("%s: the remote does not advertise trim: hole check skipped"
            % name)
        continue
    # Device page p is at R_DATA + p * PAGE.  The blocks before the
    # first whole block of data pages hold the stamp, the pool table
    # and the page records: they are left out of the comparison.
    first = (R_DATA + grain - 1) // grain
    want = {(R_DATA + p * PAGE) // grain for p in live[name]}
    want = {b for b in want if b >= first}
    if has_map:
        got, err = data_blocks_nbd(r["uri"], grain, nbytes)
        how = "nbdinfo --map"
        if got is None:
            fail("%s: nbdinfo --map: %s" % (name, err))
    elif r["backing"]:
        got = data_blocks_file(r["backing"], grain)
        how = "SEEK_DATA on its file (the server has no base:allocation)"
    else:
        log("%s: no base:allocation and no file: hole check skipped"
            % name)
        continue
    got = {b for b in got if b >= first}
    if got != want:
        fail("%s: after trim the remote has data in %d-byte blocks %s, "
             "expected %s (live pages); unexpected data: %s,"
             " unexpected holes: %s" %
             (name, grain, sorted(got)[:20], sorted(want)[:20],
              sorted(got - want)[:20], sorted(want - got)[:20]))
    log("%s: remote map (%s): %d data blocks of %d bytes, all live pages; "
        "%d trimmed pages are holes there" %
        (name, how, len(got), grain, freed[name]))

# ---- 4. freed local slots are used again --------------------------------
n = freed["L"]
log("write %d new pages: they go to the %d freed local slots" % (n, n))
fresh = list(range(428, 428 + n))      # never written
for i, p in enumerate(fresh):
    write(5000 + i, p)
h.flush()
found = where()
for i, p in enumerate(fresh):
    if found[p * PAGE][0] != "L":
        fail("new page %d went to %s, not to a freed local slot" %
             (p, found[p * PAGE][0]))
model.verify(h, what="final read-back")
h.shutdown()
log("all checks passed")
EOF

# run_pool RUN URI1 URI2 SPEC1 SPEC2: a pool of a local file and the two
# remotes; mix.py gets each remote as NAME|URI|HOLEGRAIN|BACKINGFILE.
run_pool ()
{
    local run=$1 dir=$tmp/run$1 sock rc=0
    sock=$dir/nbd.sock
    start_nbdkit "$sock" "$dir/swapdrum.pid" \
        "$dir/local,create=$(page_file_size 32)" \
        "$2,priority=5" "$3,priority=5"
    "$PYTHON" "$tmp/mix.py" "$sock" "$SWAPDRUM_ADMIN" "$dir/local" \
        "$dir/model" "$4" "$5" "$REMOTE_BYTES" || rc=$?
    stop_nbdkit "$NBDKIT_PID"
    [ $rc -eq 0 ] || { cat "$dir/swapdrum.pid.log" >&2; fail "run $run failed"; }
    if grep -Ei "assert|abort|segmentation" "$dir/swapdrum.pid.log"; then
        fail "run $run: the server log shows a crash (above)"
    fi
}

# ---- run 1: nbdkit memory + qemu-nbd --------------------------------------
mkdir "$tmp/run1"
say "run 1: local file (priority 0) + nbdkit memory + qemu-nbd (priority 5)"
start_remote_nbdkit kmem "$tmp/run1/kmem.sock" memory "$REMOTE_BYTES"
truncate -s "$REMOTE_BYTES" "$tmp/run1/qemu.img"
start_qemu_nbd qemu "$tmp/run1/qemu.sock" "$tmp/run1/qemu.img"
u1=$(remote_uri "$tmp/run1/kmem.sock")
u2=$(remote_uri "$tmp/run1/qemu.sock")
# nbdkit's sparse memory frees 32 KiB pages: holes have that grain.
run_pool 1 "$u1" "$u2" "nbdkit-memory|$u1|32768|-" \
    "qemu-nbd|$u2|4096|$tmp/run1/qemu.img"

# ---- run 2: nbd-server + nbdkit file --------------------------------------
mkdir "$tmp/run2"
say "run 2: local file (priority 0) + nbd-server + nbdkit file (priority 5)"
truncate -s "$REMOTE_BYTES" "$tmp/run2/nbds.img" "$tmp/run2/kfile.img"
start_nbd_server nbds "$tmp/run2/nbds.sock" "$tmp/run2/nbds.img" swap
start_remote_nbdkit kfile "$tmp/run2/kfile.sock" file "$tmp/run2/kfile.img"
u1=$(remote_uri "$tmp/run2/nbds.sock" swap)
u2=$(remote_uri "$tmp/run2/kfile.sock")
run_pool 2 "$u1" "$u2" "nbd-server|$u1|4096|$tmp/run2/nbds.img" \
    "nbdkit-file|$u2|4096|$tmp/run2/kfile.img"
say "PASS"
