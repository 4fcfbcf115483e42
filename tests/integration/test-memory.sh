#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Memory: the plugin serving a 1 TiB export over two 768 MiB files,
# after 1 GiB of 4 KiB writes at random page-aligned offsets across the
# whole 1 TiB (262144 writes; fixed seed), stays under 64 MiB of RSS.
# The figures (VmRSS before and after, VmHWM) come from
# /proc/PID/status of the nbdkit process and are printed.  The writes
# go through libnbd aio with 32 requests in flight on each of 4
# connections, or through fio's nbd engine if the Python bindings are
# missing.  A sample of the pages written is read back, and the map
# must show exactly the pages written as data.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin

# AddressSanitizer's shadow memory and quarantine make RSS meaningless.
[ "${SANITIZE-}" = 1 ] && skip "RSS is not measurable under AddressSanitizer"

LIMIT_KIB=$((64 * 1024))
NWRITES=262144
NEED=$((2 * 1024 * 1024 * 1024))

# SWAPDRUM_MEMORY_CLIENT=python|fio forces one (to test the test).
use=${SWAPDRUM_MEMORY_CLIENT:-}
if [ -n "$use" ]; then
    :
elif "$PYTHON" -c 'import nbd' 2>/dev/null; then
    use=python
elif command -v fio >/dev/null 2>&1 &&
     fio --enghelp=nbd >/dev/null 2>&1; then
    use=fio
else
    skip "neither the Python libnbd bindings nor fio with the nbd engine"
fi

avail=$(free_bytes "$tmp")
if [ "$avail" -lt "$NEED" ]; then
    skip "$tmp has $((avail >> 20)) MiB free, this test needs 2048 MiB"
fi

sock=$tmp/sock
pidfile=$tmp/nbdkit.pid

say "1 TiB export over two 768 MiB files (created in $tmp)"
start_nbdkit "$sock" "$pidfile" \
    "$tmp/a,create=768M" "$tmp/b,create=768M" size=1T
pid=$NBDKIT_PID

rss0=$(vm_kib "$pid" VmRSS)
say "nbdkit pid $pid: VmRSS before the writes: $rss0 KiB"

start=$(date +%s)
case $use in
python)
    cat > "$tmp/memory.py" <<'EOF'
import random, struct, sys, threading
import nbd
from nbdcheck import *

sock, nwrites = sys.argv[1], int(sys.argv[2])
NCONN, DEPTH = 4, 32
TAG = b"SWDRUMMEM"

h = connect(sock)
size = h.get_size()
if size != 1 << 40:
    fail("export size %d, expected 1 TiB" % size)
npages = size // PAGE
rng = random.Random(1234)
pages = [rng.randrange(npages) for _ in range(nwrites)]
filler = bytes(range(256)) * (PAGE // 256)

def page_data(p):
    # Tag and page number at the front: a page read back says what it is.
    return TAG + struct.pack("<Q", p) + filler[17:]

errors = []
def worker(c):
    try:
        hc = connect(sock)
        aio_pwrite_all(hc, ((p * PAGE, page_data(p))
                            for p in pages[c::NCONN]), depth=DEPTH)
        hc.flush()
        hc.shutdown()
    except Exception as e:
        errors.append("connection %d: %s" % (c, e))

log("%d writes of 4 KiB at random pages of %d, %d connections x %d in "
    "flight" % (nwrites, npages, NCONN, DEPTH))
threads = [threading.Thread(target=worker, args=(c,)) for c in range(NCONN)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if errors:
    fail("; ".join(errors))

uniq = set(pages)
log("check: a sample of 2000 pages reads back")
for p in random.Random(99).sample(sorted(uniq), 2000):
    got = h.pread(PAGE, p * PAGE)
    if got != page_data(p):
        fail("page %d reads back wrong: %s" % (p, describe(got, p * PAGE)))
log("check: the map shows exactly the %d distinct pages written" % len(uniq))
ndata = sum(e - s for s, e in data_ranges(extents(h))) // PAGE
if ndata != len(uniq):
    fail("map: %d pages of data, expected %d" % (ndata, len(uniq)))
h.shutdown()
EOF
    "$PYTHON" "$tmp/memory.py" "$sock" "$NWRITES" || fail "the writes failed"
    ;;
fio)
    say "writing with fio (nbd engine)"
    fio --name=memory --ioengine=nbd --uri="nbd+unix:///?socket=$sock" \
        --rw=randwrite --bs=4k --size=1T --io_size=1G --iodepth=32 \
        --norandommap --randseed=1234 --randrepeat=1 --numjobs=1 \
        --output="$tmp/fio.out" ||
        { cat "$tmp/fio.out"; fail "fio failed"; }
    grep -E "WRITE:|err=" "$tmp/fio.out" || true
    if command -v nbdinfo >/dev/null 2>&1; then
        # fio may hit a page twice: between 99% and 100% of 1 GiB.
        data=$(nbdinfo --map --totals "nbd+unix:///?socket=$sock" |
               awk '$3 == 0 { print $1 }')
        say "check: the map shows ${data:-0} bytes of data"
        [ "${data:-0}" -le $((NWRITES * 4096)) ] &&
        [ "${data:-0}" -ge $((NWRITES * 4096 / 100 * 99)) ] ||
            fail "map: ${data:-0} bytes of data after 1 GiB of writes"
    fi
    ;;
esac
end=$(date +%s)

check_alive "$pid" "nbdkit"
rss=$(vm_kib "$pid" VmRSS)
hwm=$(vm_kib "$pid" VmHWM)
say "writes took $((end - start)) s"
say "nbdkit VmRSS after 1 GiB of random 4 KiB writes: $rss KiB ($((rss / 1024)) MiB)"
say "nbdkit VmHWM (peak RSS):                           $hwm KiB ($((hwm / 1024)) MiB)"
say "limit: $LIMIT_KIB KiB (64 MiB)"
[ "$rss" -le "$LIMIT_KIB" ] ||
    fail "VmRSS $rss KiB is above 64 MiB"
[ "$hwm" -le "$LIMIT_KIB" ] ||
    fail "VmHWM $hwm KiB is above 64 MiB"
say "PASS"
