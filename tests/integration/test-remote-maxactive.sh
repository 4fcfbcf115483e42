#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# maxactive on a remote device is exact.  The only device is a remote
# nbdkit memory export behind the delay filter (20 ms per read and
# write) and the log filter (outermost, so it sees every request's
# whole life).  Three servers, with maxactive=1, 2 and 8; each gets 32
# requests in flight from 8 connections (4 aio requests each; the
# plugin runs with parallel=true so that all 32 reach the engine):
# 16 single-page writes per connection, then 16 reads of them, checked
# (256 requests).
# Then:
#   * stats: peak_active == maxactive (never above, and reached);
#   * the remote's log: at most maxactive requests in flight at once
#     (and exactly that many at the peak), at most one per connection,
#     and I/O over exactly maxactive connections;
#   * time: 256 requests of 20 ms take at least 256 * 20 ms / maxactive.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
requires nbdkit --filter=delay --filter=log null --dump-plugin

DELAY_MS=20

cat > "$tmp/drive.py" <<'EOF'
import sys, threading, time
import nbd
from nbdcheck import *

sock = sys.argv[1]
CONNS, DEPTH, PER = 8, 4, 16
errors = []
maxq = [0]

def worker(c):
    h = connect(sock)
    pages = [c * PER + i for i in range(PER)]
    def run(reqs):
        for start in reqs:
            while h.aio_in_flight() >= DEPTH:
                h.poll(-1)
            start()
            maxq[0] = max(maxq[0], h.aio_in_flight())
        while h.aio_in_flight() > 0:
            h.poll(-1)
    def done(what):
        def cb(err):
            if err.value:
                errors.append("%s: errno %d" % (what, err.value))
            return 1
        return cb
    bufs = {}
    def w(p):
        buf = nbd.Buffer.from_bytearray(bytearray(pattern(7, p * PAGE, PAGE)))
        bufs[p] = buf
        return lambda: h.aio_pwrite(buf, p * PAGE,
                                    completion=done("write %d" % p))
    run([w(p) for p in pages])
    rbufs = {}
    def r(p):
        rbufs[p] = nbd.Buffer(PAGE)
        return lambda: h.aio_pread(rbufs[p], p * PAGE,
                                   completion=done("read %d" % p))
    run([r(p) for p in pages])
    for p in pages:
        compare(pattern(7, p * PAGE, PAGE), rbufs[p].to_bytearray(),
                p * PAGE, "read-back")
    h.shutdown()

t0 = time.monotonic()
threads = [threading.Thread(target=worker, args=(c,)) for c in range(CONNS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
dt = time.monotonic() - t0
if errors:
    fail("%d requests failed, first: %s" % (len(errors), errors[0]))
print("%.3f %d %d" % (dt, maxq[0], 2 * CONNS * PER))
EOF

cat > "$tmp/remotelog.py" <<'EOF'
# The nbdkit log filter's file: requests in flight at once (overall
# and per connection), and the connections that carried I/O.
import re, sys
start = re.compile(r"connection=(\d+) (Read|Write|Trim|Flush|Zero) id=(\d+)")
end = re.compile(r"connection=(\d+) \.\.\.(Read|Write|Trim|Flush|Zero) id=(\d+)")
inflight, per, peak, peak_conn, conns, n = set(), {}, 0, 0, set(), 0
for line in open(sys.argv[1]):
    m = end.search(line)
    if m:
        inflight.discard((m.group(1), m.group(3)))
        per[m.group(1)] -= 1
        continue
    m = start.search(line)
    if m:
        c = m.group(1)
        inflight.add((c, m.group(3)))
        per[c] = per.get(c, 0) + 1
        conns.add(c)
        n += 1
        peak = max(peak, len(inflight))
        peak_conn = max(peak_conn, per[c])
print(peak, peak_conn, len(conns), n)
EOF

for max in 1 2 8; do
    dir=$tmp/m$max
    mkdir "$dir"
    rlog=$dir/remote.log
    start_remote_nbdkit "remote$max" "$dir/r.sock" \
        --filter=log --filter=delay memory 16M \
        rdelay=${DELAY_MS}ms wdelay=${DELAY_MS}ms logfile="$rlog"
    rpid=$REMOTE_PID
    uri=$(remote_uri "$dir/r.sock")
    start_nbdkit "$dir/nbd.sock" "$dir/swapdrum.pid" \
        "$uri,maxactive=$max" parallel=true
    spid=$NBDKIT_PID

    read -r secs depth nreq < <("$PYTHON" "$tmp/drive.py" "$dir/nbd.sock") ||
        fail "maxactive=$max: the I/O failed"
    stats "$dir/stats.json"
    peak=$(dev "$dir/stats.json" "$uri" peak_active)
    ma=$(dev "$dir/stats.json" "$uri" maxactive)
    kind=$(dev "$dir/stats.json" "$uri" kind)
    flags=$(dev "$dir/stats.json" "$uri" flags)
    stop_nbdkit "$spid"
    stop_nbdkit "$rpid"            # (SIGTERM: the log is flushed)
    read -r rpeak rpeak_conn rconns rn < <("$PYTHON" "$tmp/remotelog.py" "$rlog")
    say "maxactive=$max: $nreq requests in ${secs} s (client queue depth $depth per connection);" \
        "stats peak_active=$peak; remote log: $rn requests, peak $rpeak in flight," \
        "at most $rpeak_conn per connection, over $rconns connections"

    [ "$kind" = nbd ] || fail "maxactive=$max: kind $kind"
    [ "$flags" = INUSE,ENABLE ] || fail "maxactive=$max: flags $flags"
    [ "$ma" = "$max" ] || fail "maxactive=$max: stats say maxactive $ma"
    [ "$depth" = 4 ] || fail "maxactive=$max: the client had $depth, not 4, requests in flight per connection"
    [ "$peak" -le "$max" ] ||
        fail "maxactive=$max: peak_active $peak exceeds the limit"
    [ "$peak" -eq "$max" ] ||
        fail "maxactive=$max: peak_active $peak never reached the limit with 32 requests in flight"
    [ "$rpeak" -le "$max" ] ||
        fail "maxactive=$max: the remote saw $rpeak requests in flight at once"
    [ "$rpeak" -eq "$max" ] ||
        fail "maxactive=$max: the remote saw at most $rpeak requests in flight, expected $max"
    [ "$rpeak_conn" -eq 1 ] ||
        fail "maxactive=$max: $rpeak_conn requests in flight on one remote connection"
    [ "$rconns" -eq "$max" ] ||
        fail "maxactive=$max: I/O came over $rconns remote connections, expected $max"
    # 128 writes + 128 reads (+ the stamp) at 20 ms each, max at a time.
    [ "$rn" -ge "$nreq" ] ||
        fail "maxactive=$max: the remote saw only $rn of $nreq requests"
    min_ms=$(( nreq * DELAY_MS / max ))
    ms=$("$PYTHON" -c "print(int(float('$secs') * 1000))")
    [ "$ms" -ge $(( min_ms * 95 / 100 )) ] ||
        fail "maxactive=$max: took $ms ms, less than $nreq x ${DELAY_MS} ms / $max = $min_ms ms"
done
say "PASS"
