#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# A remote that stops answering costs a request `timeout` seconds, no
# more, and the rest of the pool keeps working.
#
# Pool: L1 (local file, priority 0, 32 pages), P (remote nbdkit memory
# behind the pause filter, priority 5, timeout=2), L2 (local file,
# priority 10, room).  X (32 pages) fills L1, A (64 pages) goes to P.
#   1. P is paused (requests hang; the connection stays up).  A read
#      of a page of A fails with EIO after about 2 s (< 10 s); P is
#      FAILED.  Meanwhile a second connection keeps reading and
#      rewriting X (on L1) without waiting, and the admin socket answers.
#   2. P is resumed: it comes back by itself, with its pages (same
#      stamp), and A reads back.  Then P hangs during a trim of one of
#      its pages: the trim ends after about 2 s (trim is advisory: no
#      error), P is FAILED like after any timeout; once resumed it is
#      reconnected by itself and its pages read back (no EIO).
#   3. P is paused again.  A write of new pages (P is preferred over
#      L2) succeeds after about 2 s (< 10 s), on L2; P is FAILED; later
#      writes go to L2 at once; A reads EIO at once; other I/O flows.
#      P resumes again: it comes back with its pages, and none of its
#      slots is bad (the slot whose write timed out was unreachable,
#      not broken: docs/design.md).
#   4. The server stops promptly on SIGTERM with P paused and a read
#      of one of its pages in flight.
#   5. A remote that accepts connections but never answers the
#      handshake: a start with it (timeout=2) fails within 10 s with a
#      clear message; adding it with `swapdrumctl -a` (the admin `on`
#      has no timeout member: the default 30 s applies) fails within
#      40 s with a clear message, while the admin socket and the data
#      path keep working.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
requires nbdkit --filter=pause null --dump-plugin

TIMEOUT=2

cat > "$tmp/hang.py" <<'EOF'
import errno, json, socket, sys, threading, time
import nbd
from nbdcheck import *
import adminclient

cmd, sock = sys.argv[1:3]
X = range(0, 32)            # on L1
A = range(64, 128)          # on P
N = range(256, 264)         # written while P hangs

def pause(ctl, c):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(ctl)
    s.sendall(c.encode())
    got = s.recv(1)
    s.close()
    if got != c.upper().encode():
        fail("pause filter answered %r to %r" % (got, c))

class Other(threading.Thread):
    """Keeps reading and rewriting X on its own connection, and asks
    the admin socket for stats, timing each."""
    def __init__(self, admin):
        super().__init__()
        self.admin = admin
        self.stop = threading.Event()
        self.ops = self.admin_ops = 0
        self.worst = self.admin_worst = 0.0
        self.error = None
    def run(self):
        try:
            h = connect(sock)
            i = 0
            while not self.stop.is_set():
                p = X[i % len(X)]
                t = time.monotonic()
                data = pattern(100 + i, p * PAGE, PAGE)
                h.pwrite(data, p * PAGE)
                compare(data, h.pread(PAGE, p * PAGE), p * PAGE, "page of X")
                self.worst = max(self.worst, time.monotonic() - t)
                self.ops += 1
                if i % 20 == 0:
                    t = time.monotonic()
                    r = adminclient.request(self.admin, {"cmd": "stats"}, 10)
                    if r.get("ok") is not True:
                        raise Fail("stats: %r" % r)
                    self.admin_worst = max(self.admin_worst,
                                           time.monotonic() - t)
                    self.admin_ops += 1
                i += 1
                time.sleep(0.005)
            h.shutdown()
        except Exception as e:
            self.error = e
    def finish(self, what):
        self.stop.set()
        self.join()
        if self.error:
            fail("%s: other I/O failed: %s" % (what, self.error))
        log("%s: meanwhile %d write+read pairs on L1 (slowest %.3f s) and "
            "%d stats requests (slowest %.3f s)" %
            (what, self.ops, self.worst, self.admin_ops, self.admin_worst))
        if self.ops < 10 or self.worst > 1.0:
            fail("%s: other I/O did not flow (%d ops, slowest %.3f s)" %
                 (what, self.ops, self.worst))
        if self.admin_ops < 1 or self.admin_worst > 1.0:
            fail("%s: the admin socket did not answer promptly" % what)

def flags(admin, path):
    r = adminclient.request(admin, {"cmd": "stats"})
    return next(d for d in r["devices"] if d["path"] == path)

if cmd == "setup":
    h = connect(sock)
    for p in X:
        write_pattern(h, 1, p * PAGE, PAGE)
    for p in A:
        write_pattern(h, 2, p * PAGE, PAGE)
    h.flush()
    check_pattern(h, 2, A.start * PAGE, len(A) * PAGE)
    h.shutdown()

elif cmd == "read-hang":
    # read-hang SOCK ADMIN CTL URI TIMEOUT
    admin, ctl, uri, timeout = sys.argv[3], sys.argv[4], sys.argv[5], \
        float(sys.argv[6])
    h = connect(sock)
    pause(ctl, "p")
    other = Other(admin)
    other.start()
    time.sleep(0.3)
    t = time.monotonic()
    expect_errno(errno.EIO, "read of a page on the paused remote",
                 h.pread, PAGE, A.start * PAGE)
    dt = time.monotonic() - t
    log("read of a page on the paused remote: EIO after %.2f s" % dt)
    if dt < timeout * 0.75 or dt > 10:
        fail("the read took %.2f s; the timeout is %g s" % (dt, timeout))
    other.finish("during the hung read")
    d = flags(admin, uri)
    if "FAILED" not in d["flags"]:
        fail("the hung remote is not FAILED: %r" % d)
    t = time.monotonic()
    expect_errno(errno.EIO, "second read of a page on the paused remote",
                 h.pread, PAGE, (A.start + 1) * PAGE)
    log("then a read of another of its pages: EIO after %.3f s" %
        (time.monotonic() - t))
    if time.monotonic() - t > 1:
        fail("a read of a FAILED device's page waited")
    h.shutdown()

elif cmd == "resume":
    # resume SOCK ADMIN CTL URI: back by itself, with its pages.
    admin, ctl, uri = sys.argv[3:6]
    pause(ctl, "r")
    t = time.monotonic()
    while "FAILED" in flags(admin, uri)["flags"]:
        if time.monotonic() - t > 40:
            fail("the resumed remote is still FAILED after 40 s")
        time.sleep(0.1)
    d = flags(admin, uri)
    log("resumed remote back in service after %.2f s: reconnects %d, "
        "lost_pages %d" % (time.monotonic() - t, d["reconnects"],
                           d["lost_pages"]))
    if d["reconnects"] < 1 or d["lost_pages"] != 0:
        fail("after resume: %r" % d)
    h = connect(sock)
    check_pattern(h, 2, A.start * PAGE, len(A) * PAGE,
                  "pages on the resumed remote")
    h.shutdown()

elif cmd == "write-hang":
    # write-hang SOCK ADMIN CTL URI TIMEOUT L2
    admin, ctl, uri, timeout, l2 = sys.argv[3], sys.argv[4], sys.argv[5], \
        float(sys.argv[6]), sys.argv[7]
    used0 = flags(admin, uri)["used"]
    l2used0 = flags(admin, l2)["used"]
    h = connect(sock)
    pause(ctl, "p")
    other = Other(admin)
    other.start()
    time.sleep(0.3)
    times = []
    for p in N:
        t = time.monotonic()
        write_pattern(h, 3, p * PAGE, PAGE)
        times.append(time.monotonic() - t)
    log("writes of new pages while the preferred remote hangs: %s s" %
        " ".join("%.2f" % x for x in times))
    if times[0] < timeout * 0.75 or times[0] > 10:
        fail("the first write took %.2f s; the timeout is %g s" %
             (times[0], timeout))
    if max(times[1:]) > 1:
        fail("later writes waited for the FAILED remote: %s" % times)
    other.finish("during the hung write")
    check_pattern(h, 3, N.start * PAGE, len(N) * PAGE, "the new pages")
    d = flags(admin, uri)
    if "FAILED" not in d["flags"]:
        fail("the hung remote is not FAILED: %r" % d)
    l2used = flags(admin, l2)["used"]
    if l2used - l2used0 != len(N):
        fail("L2 took %d of the %d new pages" % (l2used - l2used0, len(N)))
    t = time.monotonic()
    expect_errno(errno.EIO, "read of a page on the paused remote",
                 h.pread, PAGE, (A.start + 2) * PAGE)
    if time.monotonic() - t > 1:
        fail("a read of a FAILED device's page waited")
    h.shutdown()
    log("the new pages are on L2 and read back; the remote is FAILED")

elif cmd == "pause":
    pause(sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "p")

elif cmd == "trim-hang":
    # trim-hang SOCK CTL TIMEOUT: pause P, trim a page of A; trim is
    # advisory, so the client sees success, after about the timeout.
    ctl, timeout = sys.argv[3], float(sys.argv[4])
    h = connect(sock)
    pause(ctl, "p")
    t = time.monotonic()
    h.trim(PAGE, (A.start + 4) * PAGE)
    dt = time.monotonic() - t
    log("trim of a page on the paused remote: done after %.2f s" % dt)
    if dt > 10:
        fail("the trim took %.2f s; the timeout is %g s" % (dt, timeout))
    check_zero(h, (A.start + 4) * PAGE, PAGE, "the trimmed page")
    h.shutdown()

elif cmd == "read-a":
    # Read every page of A but the trimmed one: print "OK EIO".
    h = connect(sock)
    ok = eio = 0
    for p in A:
        if p == A.start + 4:
            continue
        try:
            compare(pattern(2, p * PAGE, PAGE), h.pread(PAGE, p * PAGE),
                    p * PAGE, "page of A")
            ok += 1
        except nbd.Error as e:
            if err_num(e) != errno.EIO:
                raise
            eio += 1
    h.shutdown()
    print(ok, eio)

elif cmd == "settle":
    # Rewrite the trimmed page; read A until every page reads back
    # (at most 20 s).
    h = connect(sock)
    write_pattern(h, 2, (A.start + 4) * PAGE, PAGE)
    t = time.monotonic()
    while True:
        try:
            check_pattern(h, 2, A.start * PAGE, len(A) * PAGE)
            break
        except nbd.Error:
            if time.monotonic() - t > 20:
                fail("the pages of A still do not read back after 20 s")
            time.sleep(0.2)
    h.shutdown()

elif cmd == "read-any":
    # read-any SOCK SENT: a read of a page on P that the server answers
    # with EIO or by closing: it must end within 10 s.  SENT is made
    # once the read is on its way, so that the caller's SIGTERM finds it
    # in flight however long this process took to start.
    h = connect(sock)
    t = time.monotonic()
    try:
        c = h.aio_pread(nbd.Buffer(PAGE), (A.start + 3) * PAGE)
        open(sys.argv[3], "w").close()
        while not h.aio_command_completed(c):
            h.poll(-1)
        fail("a read of a page on the paused remote succeeded")
    except nbd.Error as e:
        log("read in flight at SIGTERM: %s after %.2f s" %
            (e, time.monotonic() - t))

elif cmd == "silent-server":
    # silent-server SOCK READY: accept connections, never say a word.
    ready = sys.argv[3]
    s = socket.socket(socket.AF_UNIX)
    s.bind(sock)
    s.listen(64)
    open(ready, "w").close()
    conns = []
    while True:
        c, _ = s.accept()
        conns.append(c)

elif cmd == "flow":
    # flow SOCK STOP: write and read back pages of X until STOP exists.
    import os
    h = connect(sock)
    i = worst = 0
    while not os.path.exists(sys.argv[3]):
        p = X[i % len(X)]
        t = time.monotonic()
        data = pattern(200 + i, p * PAGE, PAGE)
        h.pwrite(data, p * PAGE)
        compare(data, h.pread(PAGE, p * PAGE), p * PAGE, "page of X")
        worst = max(worst, time.monotonic() - t)
        i += 1
        time.sleep(0.01)
    h.shutdown()
    log("data path during the admin `on`: %d write+read pairs, slowest "
        "%.3f s" % (i, worst))
    if i < 10 or worst > 1:
        fail("the data path stalled during the admin `on`")
EOF

H=("$PYTHON" "$tmp/hang.py")

# bug MSG: a check that failed but leaves the pool usable: go on with
# the test, fail at the end with every such message.
bugs=()
bug () { say "FAILED CHECK: $*"; bugs+=("$*"); }

say "start: L1 (priority 0), P (paused-able remote, priority 5, timeout=$TIMEOUT), L2 (priority 10)"
start_remote_nbdkit pause "$tmp/r.sock" --filter=pause memory 16M \
    pause-control="$tmp/pause.ctl"
rpid=$REMOTE_PID
uri=$(remote_uri "$tmp/r.sock")
start_nbdkit "$tmp/nbd.sock" "$tmp/swapdrum.pid" \
    "$tmp/l1,create=$(page_file_size 32),priority=0" \
    "$uri,priority=5,timeout=$TIMEOUT" \
    "$tmp/l2,create=$(page_file_size 2048),priority=10"
spid=$NBDKIT_PID
"${H[@]}" setup "$tmp/nbd.sock" || fail "setup"
stats "$tmp/s0.json"
{ [ "$(dev "$tmp/s0.json" "$tmp/l1" used)" = 32 ] &&
    [ "$(dev "$tmp/s0.json" "$uri" used)" = 64 ]; } ||
    fail "setup: X is not on L1 or A not on P"

say "1. P hangs: a read of its page"
"${H[@]}" read-hang "$tmp/nbd.sock" "$SWAPDRUM_ADMIN" "$tmp/pause.ctl" \
    "$uri" "$TIMEOUT" || fail "read while the remote hangs"
say "2. P resumes"
"${H[@]}" resume "$tmp/nbd.sock" "$SWAPDRUM_ADMIN" "$tmp/pause.ctl" \
    "$uri" || fail "resume"
say "2b. P hangs during a trim of one of its pages"
stats "$tmp/s2.json"
r0=$(dev "$tmp/s2.json" "$uri" reconnects)
"${H[@]}" trim-hang "$tmp/nbd.sock" "$tmp/pause.ctl" "$TIMEOUT" ||
    fail "trim while the remote hangs"
stats "$tmp/s2b.json"
f=$(dev "$tmp/s2b.json" "$uri" flags)
say "after the trim timed out: P flags $f"
[[ ,$f, == *,FAILED,* ]] ||
    bug "a trim that timed out took P offline (its connection dropped) but did not mark it FAILED (flags $f): stats do not show it and the monitor does not reconnect it"
"${H[@]}" pause "$tmp/nbd.sock" "$tmp/pause.ctl" r || fail "resume"
for (( i = 0; i < 100; i++ )); do
    stats "$tmp/s2c.json"
    [ "$(dev "$tmp/s2c.json" "$uri" reconnects)" -gt "$r0" ] && break
    sleep 0.1
done
say "10 s after the resume at most: P flags $(dev "$tmp/s2c.json" "$uri" flags)," \
    "reconnects $(dev "$tmp/s2c.json" "$uri" reconnects) (was $r0)"
[ "$(dev "$tmp/s2c.json" "$uri" reconnects)" -gt "$r0" ] ||
    bug "P was not reconnected within 10 s after the remote answered again (it went offline in a trim)"
read -r ok eio < <("${H[@]}" read-a "$tmp/nbd.sock") || fail "read-a"
say "then reads of the 63 other pages of A: $ok read back, $eio EIO"
[ "$eio" -eq 0 ] ||
    bug "$eio reads of P's pages failed with EIO although the remote had been answering again for seconds (offline since the trim timeout, never reconnected)"
"${H[@]}" settle "$tmp/nbd.sock" || fail "P did not come back after the trim timeout"

say "3. P hangs again: writes of new pages"
"${H[@]}" write-hang "$tmp/nbd.sock" "$SWAPDRUM_ADMIN" "$tmp/pause.ctl" \
    "$uri" "$TIMEOUT" "$tmp/l2" || fail "writes while the remote hangs"
stats "$tmp/s3.json"
say "P: flags $(dev "$tmp/s3.json" "$uri" flags), reconnects" \
    "$(dev "$tmp/s3.json" "$uri" reconnects), read_errors" \
    "$(dev "$tmp/s3.json" "$uri" read_errors), write_errors" \
    "$(dev "$tmp/s3.json" "$uri" write_errors), bad" \
    "$(dev "$tmp/s3.json" "$uri" bad), used $(dev "$tmp/s3.json" "$uri" used)"

say "3b. P resumes again: back with its pages; the slot whose write timed out is not bad"
"${H[@]}" resume "$tmp/nbd.sock" "$SWAPDRUM_ADMIN" "$tmp/pause.ctl" \
    "$uri" || fail "second resume"
stats "$tmp/s3b.json"
bad=$(dev "$tmp/s3b.json" "$uri" bad)
say "P: flags $(dev "$tmp/s3b.json" "$uri" flags), reconnects" \
    "$(dev "$tmp/s3b.json" "$uri" reconnects), bad $bad," \
    "used $(dev "$tmp/s3b.json" "$uri" used)"
# The engine's rule (docs/design.md, remote devices): a slot on a device
# that went offline is unreachable, not broken, so it is not marked bad.
[ "$bad" -eq 0 ] ||
    bug "P came back with its pages but $bad of its slots are marked bad: the slot of a new-page write that timed out was marked bad, not freed"

say "4. SIGTERM with P paused and a read of its page in flight"
"${H[@]}" pause "$tmp/nbd.sock" "$tmp/pause.ctl" || fail "pause"
"${H[@]}" read-any "$tmp/nbd.sock" "$tmp/read.sent" &
rapid=$!
cleanup_fn kill_pid "$rapid"
# Python's start (seconds on a loaded machine) must not count: wait
# until the read is sent, then give the server time to hand it to P.
for (( i = 0; i < 600; i++ )); do
    [ -e "$tmp/read.sent" ] || ! kill -0 "$rapid" 2>/dev/null && break
    sleep 0.05
done
[ -e "$tmp/read.sent" ] || fail "the read to be in flight at SIGTERM was not sent"
sleep 0.5
t0=${EPOCHREALTIME/./}
kill "$spid"
for (( i = 0; i < 200; i++ )); do
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.05
done
if kill -0 "$spid" 2>/dev/null; then
    # (As in test-survival.sh: with the ASan runtime preloaded into
    # Debian's uninstrumented nbdkit, exit can deadlock in libp11-kit's
    # destructor; that is not what this test is about.)
    [ "${SANITIZE-}" = 1 ] ||
        fail "the server did not exit within 10 s of SIGTERM (remote paused)"
    kill -9 "$spid"
    say "(sanitized nbdkit hung in exit; killed)"
fi
rc=0
wait "$spid" || rc=$?
dt=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
say "the server exited ${dt} ms after SIGTERM (status $rc)"
wait "$rapid" || fail "the read in flight at SIGTERM"
[ $rc -eq 0 ] || [ "${SANITIZE-}" = 1 ] ||
    { cat "$tmp/swapdrum.pid.log"; fail "exit status $rc"; }
kill_pid "$rpid"
if grep -E "\(bug\)|assert|abort|segmentation" "$tmp/swapdrum.pid.log"; then
    fail "the server log reports a bug or a crash (above)"
fi

say "5. a remote that never answers the handshake"
"${H[@]}" silent-server "$tmp/silent.sock" "$tmp/silent.ready" &
silent=$!
cleanup_fn kill_pid "$silent"
for (( i = 0; i < 100; i++ )); do [ -e "$tmp/silent.ready" ] && break; sleep 0.05; done
[ -e "$tmp/silent.ready" ] || fail "the silent server did not start"
suri=$(remote_uri "$tmp/silent.sock")

t0=${EPOCHREALTIME/./}
rc=0
timeout 60 "${NBDKIT[@]}" -U "$tmp/start.sock" -f "$PLUGIN" \
    "$tmp/l3,create=$(page_file_size 32)" "$suri,timeout=$TIMEOUT" \
    admin="$tmp/admin2.sock" > "$tmp/start.log" 2>&1 || rc=$?
dt=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
say "start with it (timeout=$TIMEOUT): exit status $rc after $dt ms:"
cat "$tmp/start.log"
{ [ $rc -ne 0 ] && [ $rc -ne 124 ]; } || fail "the start did not fail (status $rc)"
[ $dt -lt 10000 ] || fail "the start took $dt ms to fail"
grep -q "$tmp/silent.sock.*no answer within $TIMEOUT s" "$tmp/start.log" ||
    fail "no clear message naming the remote and the timeout"
[ ! -e "$tmp/l3" ] || fail "the failed start left $tmp/l3 behind"

# A new pool on the first server's files (that pool had P, now away,
# as a member: it would not start without it).
start_nbdkit "$tmp/nbd2.sock" "$tmp/swapdrum2.pid" \
    "$tmp/l1,priority=0" "$tmp/l2,priority=10" new-pool=true
spid=$NBDKIT_PID
"${H[@]}" setup "$tmp/nbd2.sock" || fail "setup (second server)"
rm -f "$tmp/flow.stop"
"${H[@]}" flow "$tmp/nbd2.sock" "$tmp/flow.stop" > "$tmp/flow.log" 2>&1 &
fpid=$!
cleanup_fn kill_pid "$fpid"
t0=${EPOCHREALTIME/./}
ctl -a -p 3 "$suri" > "$tmp/on.out" 2>&1 &
onpid=$!
cleanup_fn kill_pid "$onpid"
# While the `on` waits for the remote, the admin socket answers.
nstats=0 worst=0
while kill -0 "$onpid" 2>/dev/null; do
    t1=${EPOCHREALTIME/./}
    stats "$tmp/during.json"
    t1=$(( (${EPOCHREALTIME/./} - t1) / 1000 ))
    (( t1 > worst )) && worst=$t1
    nstats=$((nstats + 1))
    [ "$(dev "$tmp/during.json" "$suri" flags)" = absent ] ||
        say "(during the on, stats list it with flags $(dev "$tmp/during.json" "$suri" flags))"
    sleep 0.5
done
rc=0
wait "$onpid" || rc=$?
dt=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
touch "$tmp/flow.stop"
wait "$fpid" || { cat "$tmp/flow.log"; fail "the data path failed during the admin on"; }
cat "$tmp/flow.log"
say "during the on: $nstats stats requests answered, slowest $worst ms"
[ "$worst" -lt 1000 ] || fail "stats took $worst ms during the on"
say "swapdrumctl -a with it: exit status $rc after $dt ms:"
cat "$tmp/on.out"
[ $rc -ne 0 ] || fail "adding a remote that never answers succeeded"
[ $dt -lt 40000 ] || fail "adding it took $dt ms to fail"
grep -q "silent.sock.*no answer within" "$tmp/on.out" ||
    fail "no clear message naming the remote and the timeout"
stats "$tmp/s5.json"
[ "$(dev "$tmp/s5.json" "$suri" flags)" = absent ] ||
    fail "the remote that never answered is in the pool"
stop_nbdkit "$spid"
if [ ${#bugs[@]} -gt 0 ]; then
    for b in "${bugs[@]}"; do echo "$_name: FAIL: $b" >&2; done
    exit 1
fi
say "PASS"
