#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Faults of remote devices.
#
# Part 1, write errors: the preferred device is a remote nbdkit behind
# the error filter failing 10% of writes (turned on once the pool is up,
# so the stamp write at swap-on is not hit); a local file (priority 5)
# has room.  The verifier (4 connections, 1024 pages, more than the
# remote holds) runs for a few seconds: no client error, no mismatch;
# the remote's bad and write_errors counts rose, it is not FAILED.
#
# Part 2, the remote dies mid-run (kill -9), run twice: with an nbdkit
# memory remote (its pages die with it) and with an nbdkit file remote
# (restarted on the same file: its pages survive).  The remote is
# preferred (priority 0, timeout=5); a local file (priority 5) has room.
#   1. 256 pages (region A) are written: all on the remote.
#   2. A writer (2 connections, single whole-page writes, each read
#      back) runs over regions B (new pages) and C (the first 64 pages
#      of A); the remote is killed under it.  Writes go on to
#      the local file: no client write error.
#   3. While the remote is dead: it is FAILED; every page of A that was
#      not rewritten reads EIO (never other data), quickly.
#   4. The remote is restarted: FAILED clears by itself within 20 s,
#      reconnects >= 1.  memory: lost_pages > 0 and exactly those pages
#      read EIO (all of A\C among them; only pages whose last write
#      started before the kill); file: no page is lost, every page
#      reads back its data.
#   5. New writes land on the remote again (it is preferred).
#   6. memory: a lost page reads EIO until rewritten whole; a partial
#      write to one fails with EIO; trim makes one read zeros.
#   7. A final read of every page: its data, or EIO for the lost ones.
#   8. memory: SIGKILL and a restart: the lost pages still read EIO
#      (the pool table keeps the export suspect).

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
requires nbdkit --filter=error null --dump-plugin

# ---------------------------------------------------------------------
# Part 1: write errors at 10% on the preferred remote.

say "part 1: 10% write errors on the preferred remote device"
dir=$tmp/errors
mkdir "$dir"
start_remote_nbdkit errors "$dir/r.sock" --filter=error memory 2M \
    error-pwrite-rate=10% error-pwrite-file="$dir/inject"
epid=$REMOTE_PID
euri=$(remote_uri "$dir/r.sock")
start_nbdkit "$dir/nbd.sock" "$dir/swapdrum.pid" \
    "$euri,priority=0,timeout=10" \
    "$dir/local,create=$(page_file_size 2048),priority=5"
spid=$NBDKIT_PID
touch "$dir/inject"
start_verifier "$dir/nbd.sock" "$dir" --conns 4 --region-pages 256 --seed 11
sleep 5
stop_verifier "$dir"
"$PYTHON" - "$dir/verifier.report" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print("verifier: %(ops)d ops (%(writes)d writes, %(subpage_writes)d sub-page,"
      " %(aio_bursts)d bursts, %(trims)d trims), %(errors)d errors, "
      "%(mismatches)d mismatches, final %(final_mismatches)d wrong of "
      "%(final_pages_checked)d" % r)
EOF
[ "$VERIFIER_RC" -eq 0 ] || fail "the verifier saw errors or wrong data"
stats "$dir/stats.json"
ebad=$(dev "$dir/stats.json" "$euri" bad)
ewerr=$(dev "$dir/stats.json" "$euri" write_errors)
eflags=$(dev "$dir/stats.json" "$euri" flags)
eused=$(dev "$dir/stats.json" "$euri" used)
lused=$(dev "$dir/stats.json" "$dir/local" used)
say "remote: used $eused, bad $ebad, write_errors $ewerr, flags $eflags; local: used $lused"
[ "$ebad" -gt 0 ] || fail "the erroring remote has no bad pages"
[ "$ewerr" -ge "$ebad" ] || fail "write_errors $ewerr < bad $ebad"
[ "$eflags" = INUSE,ENABLE ] || fail "the erroring remote's flags: $eflags"
[ "$lused" -gt 0 ] || fail "nothing went to the local file"
stop_nbdkit "$spid"
stop_nbdkit "$epid"

# ---------------------------------------------------------------------
# Part 2: the remote dies mid-run.

cat > "$tmp/faults.py" <<'EOF'
"""faults.py CMD SOCK STATE [...]: steps of the remote-death test.
STATE (JSON) holds the model: page -> [seed, time the write started]."""
import errno, json, os, random, sys, threading, time
import nbd
from nbdcheck import *

A = range(0, 256)           # written first, on the remote
C = range(0, 64)            # part of A the writer overwrites
B = range(256, 768)         # new pages for the writer
D = range(768, 832)         # written after the remote is back

cmd, sock, state = sys.argv[1:4]

def load():
    try:
        with open(state) as f:
            return {int(k): v for k, v in json.load(f).items()}
    except FileNotFoundError:
        return {}

def save(model):
    with open(state + ".tmp", "w") as f:
        json.dump(model, f)
    os.rename(state + ".tmp", state)

def classify(h, p, seed):
    """'ok', 'eio' or a description of wrong data."""
    t = time.monotonic()
    try:
        buf = h.pread(PAGE, p * PAGE)
    except nbd.Error as e:
        if err_num(e) != errno.EIO:
            return "error %s" % e, time.monotonic() - t
        return "eio", time.monotonic() - t
    if buf == pattern(seed, p * PAGE, PAGE):
        return "ok", time.monotonic() - t
    return describe(buf, p * PAGE), time.monotonic() - t

def write_run(h, model, pages, seed):
    t = time.time()
    h.pwrite(pattern(seed, pages[0] * PAGE, len(pages) * PAGE),
             pages[0] * PAGE)
    for p in pages:
        model[p] = [seed, t]

if cmd == "fill":
    h = connect(sock)
    model = {}
    for p in range(A.start, A.stop, 4):
        write_run(h, model, list(range(p, p + 4)), 1)
    h.flush()
    for p in A:
        r, _ = classify(h, p, 1)
        if r != "ok":
            fail("page %d after fill: %s" % (p, r))
    save(model)

elif cmd == "writer":
    status, stop = sys.argv[4:6]
    model = load()
    lock = threading.Lock()
    counts = dict(writes=0, write_errors=0, readback_eio=0, wrong=0)
    notes = []
    pool = list(C) + list(B)

    def work(i):
        h = connect(sock)
        rng = random.Random(77 + i)
        mine = [p for p in pool if p % 2 == i]
        gen = 0
        while not os.path.exists(stop):
            p = rng.choice(mine)
            gen += 1
            seed = (2 << 40) | (i << 32) | gen
            t = time.time()
            try:
                h.pwrite(pattern(seed, p * PAGE, PAGE), p * PAGE)
            except nbd.Error as e:
                with lock:
                    counts["write_errors"] += 1
                    notes.append("write of page %d: %s" % (p, e))
                    model.pop(p, None)
                continue
            with lock:
                model[p] = [seed, t]
                counts["writes"] += 1
            r, _ = classify(h, p, seed)
            if r == "eio":
                # Acked by the remote just before it died.
                with lock:
                    counts["readback_eio"] += 1
            elif r != "ok":
                with lock:
                    counts["wrong"] += 1
                    notes.append("read-back of page %d: %s" % (p, r))
        h.shutdown()

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        with lock:
            c = dict(counts, time=time.time())
        with open(status + ".tmp", "w") as f:
            json.dump(c, f)
        os.rename(status + ".tmp", status)
        time.sleep(0.05)
    for t in threads:
        t.join()
    save(model)
    with open(status, "w") as f:
        json.dump(dict(counts, done=True, notes=notes[:10]), f)
    log("writer: %(writes)d page writes, %(write_errors)d write errors, "
        "%(readback_eio)d read-backs EIO, %(wrong)d wrong" % counts)
    for n in notes[:10]:
        log("  " + n)
    if counts["write_errors"] or counts["wrong"]:
        sys.exit(1)

elif cmd == "dead":
    # While the remote is down: pages of A the writer never touched
    # live on it: each read must fail with EIO, quickly.
    model = load()
    h = connect(sock)
    worst = 0.0
    for p in A:
        if p in C:
            continue
        r, dt = classify(h, p, model[p][0])
        worst = max(worst, dt)
        if r != "eio":
            fail("page %d lives on the dead remote but read %s" % (p, r))
    h.shutdown()
    log("dead remote: all %d pages of A\\C read EIO (slowest %.3f s)" %
        (len(A) - len(C), worst))

elif cmd == "check":
    # check SOCK STATE DEADTIME MODE: read every page the model knows.
    # MODE memory: EIO allowed only for pages whose last write started
    # before the remote was dead (reaped), and required for A\C; file:
    # no EIO at all.
    kill_time, mode = float(sys.argv[4]), sys.argv[5]
    model = load()
    h = connect(sock)
    eio, ok = [], 0
    for p in sorted(model):
        seed, t = model[p]
        r, _ = classify(h, p, seed)
        if r == "ok":
            ok += 1
            continue
        if r != "eio":
            fail("page %d: expected its data (seed %#x) or EIO, found %s"
                 % (p, seed, r))
        if mode == "file":
            fail("page %d reads EIO, but a file-backed remote keeps its "
                 "pages" % p)
        if t >= kill_time:
            fail("page %d reads EIO, but its last write started %.3f s "
                 "after the kill (it cannot be on the dead remote)" %
                 (p, t - kill_time))
        eio.append(p)
    if mode == "memory":
        # Pages of A\C still holding what "fill" wrote (seed 1) lived
        # on the remote when it died.
        missing = [p for p in A if p not in C and p not in eio
                   and p in model and model[p][0] == 1]
        if missing:
            fail("%d pages of A\\C read their old data after the memory "
                 "remote restarted empty: %s" % (len(missing), missing[:10]))
    h.shutdown()
    print(len(eio), ok)
    with open(state + ".eio", "w") as f:
        json.dump(eio, f)

elif cmd == "fresh":
    model = load()
    h = connect(sock)
    for p in range(D.start, D.stop, 4):
        write_run(h, model, list(range(p, p + 4)), 3)
    h.flush()
    for p in D:
        r, _ = classify(h, p, 3)
        if r != "ok":
            fail("new page %d: %s" % (p, r))
    save(model)

elif cmd == "lost":
    # A lost page: EIO until rewritten whole; a partial write fails;
    # trim makes it read zeros.
    model = load()
    with open(state + ".eio") as f:
        eio = json.load(f)
    if len(eio) < 3:
        fail("need 3 lost pages, have %d" % len(eio))
    h = connect(sock, strict_align=False)
    p0, p1, p2 = eio[:3]
    write_run(h, model, [p0], 4)
    r, _ = classify(h, p0, 4)
    if r != "ok":
        fail("lost page %d after a whole-page rewrite: %s" % (p0, r))
    expect_errno(errno.EIO, "partial write to lost page %d" % p1,
                 h.pwrite, b"x" * 512, p1 * PAGE + 512)
    r, _ = classify(h, p1, model[p1][0])
    if r != "eio":
        fail("lost page %d after a failed partial write: %s" % (p1, r))
    h.trim(PAGE, p2 * PAGE)
    check_zero(h, p2 * PAGE, PAGE, "trimmed lost page %d" % p2)
    del model[p2]
    save(model)
    with open(state + ".eio", "w") as f:
        json.dump([p for p in eio if p not in (p0, p2)], f)
    h.shutdown()
    log("lost pages: %d rewritten whole reads its data, %d refuses a "
        "partial write (EIO), %d trimmed reads zeros" % (p0, p1, p2))
EOF

# status FILE KEY: a number from the writer's status file.
wstat () { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# remote_die KIND: one run of part 2 with a memory or file remote.
remote_die ()
{
    local kind=$1 dir=$tmp/die-$1 uri rpid spid wpid n0 t_dead secs i
    local args rused used lost eio ok reconn
    mkdir "$dir"
    say "part 2 ($kind remote): the preferred remote dies under a writer"
    if [ "$kind" = memory ]; then
        args=(memory 4M)
    else
        truncate -s 4M "$dir/remote.img"
        args=(file "$dir/remote.img")
    fi
    start_remote_nbdkit "die-$kind" "$dir/r.sock" "${args[@]}"
    rpid=$REMOTE_PID
    uri=$(remote_uri "$dir/r.sock")
    start_nbdkit "$dir/nbd.sock" "$dir/swapdrum.pid" \
        "$uri,priority=0,timeout=5" \
        "$dir/local,create=$(page_file_size 2048),priority=5"
    spid=$NBDKIT_PID
    local S=("$PYTHON" "$tmp/faults.py")

    "${S[@]}" fill "$dir/nbd.sock" "$dir/model" || fail "fill"
    stats "$dir/s1.json"
    { [ "$(dev "$dir/s1.json" "$uri" used)" = 256 ] &&
        [ "$(dev "$dir/s1.json" "$dir/local" used)" = 0 ]; } ||
        fail "region A is not all on the remote: $(cat "$dir/s1.json")"

    rm -f "$dir/stop" "$dir/wstatus"
    "${S[@]}" writer "$dir/nbd.sock" "$dir/model" "$dir/wstatus" \
        "$dir/stop" > "$dir/writer.log" 2>&1 &
    wpid=$!
    cleanup_fn kill_pid "$wpid"
    # Let it write a while to the remote, then kill the remote.
    for (( i = 0; i < 300; i++ )); do
        [ -s "$dir/wstatus" ] && [ "$(wstat "$dir/wstatus" writes)" -ge 200 ] && break
        kill -0 "$wpid" 2>/dev/null || { cat "$dir/writer.log"; fail "the writer died"; }
        sleep 0.05
    done
    n0=$(wstat "$dir/wstatus" writes)
    kill -9 "$rpid"
    wait "$rpid" 2>/dev/null || true
    t_dead=$EPOCHREALTIME           # reaped: its sockets are closed
    rm -f "$dir/r.sock"
    say "killed the remote after $n0 page writes"
    secs=$(wait_dev_flag "$uri" FAILED yes 15)
    say "the remote is FAILED ${secs} s after the kill"
    # Writes go on, to the local file.
    for (( i = 0; i < 300; i++ )); do
        [ "$(wstat "$dir/wstatus" writes)" -ge $(( n0 + 300 )) ] && break
        kill -0 "$wpid" 2>/dev/null || { cat "$dir/writer.log"; fail "the writer died"; }
        sleep 0.05
    done
    [ "$(wstat "$dir/wstatus" writes)" -ge $(( n0 + 300 )) ] ||
        fail "writes did not go on after the remote died ($(cat "$dir/wstatus"))"
    [ "$(wstat "$dir/wstatus" write_errors)" = 0 ] ||
        fail "the client saw write errors: $(cat "$dir/wstatus")"
    touch "$dir/stop"
    wait "$wpid" || { cat "$dir/writer.log"; fail "the writer failed"; }
    cat "$dir/writer.log"
    "${S[@]}" dead "$dir/nbd.sock" "$dir/model" || fail "reads while dead"
    stats "$dir/s2.json"
    say "while dead: remote $(dev "$dir/s2.json" "$uri" flags)," \
        "used $(dev "$dir/s2.json" "$uri" used)," \
        "read_errors $(dev "$dir/s2.json" "$uri" read_errors)," \
        "write_errors $(dev "$dir/s2.json" "$uri" write_errors);" \
        "local used $(dev "$dir/s2.json" "$dir/local" used)"
    [ "$(dev "$dir/s2.json" "$dir/local" used)" -gt 0 ] ||
        fail "nothing went to the local file"

    say "restart the remote"
    start_remote_nbdkit "die-$kind" "$dir/r.sock" "${args[@]}"
    secs=$(wait_dev_flag "$uri" FAILED no 20)
    stats "$dir/s3.json"
    reconn=$(dev "$dir/s3.json" "$uri" reconnects)
    lost=$(dev "$dir/s3.json" "$uri" lost_pages)
    rused=$(dev "$dir/s3.json" "$uri" used)
    say "back in service ${secs} s after the restart: flags" \
        "$(dev "$dir/s3.json" "$uri" flags), reconnects $reconn," \
        "lost_pages $lost, used $rused, bad $(dev "$dir/s3.json" "$uri" bad)"
    [ "$reconn" -ge 1 ] || fail "reconnects is $reconn"
    read -r eio ok < <("${S[@]}" check "$dir/nbd.sock" "$dir/model" \
                           "$t_dead" "$kind") || fail "check after return"
    say "after return: $ok pages read their data, $eio read EIO"
    if [ "$kind" = memory ]; then
        [ "$lost" -gt 0 ] || fail "memory remote came back but lost_pages is 0"
        [ "$eio" -eq "$lost" ] ||
            fail "$eio pages read EIO, but lost_pages is $lost"
        [ "$rused" -eq 0 ] || fail "used $rused on the remote that came back empty"
    else
        [ "$lost" -eq 0 ] || fail "file remote came back but lost_pages is $lost"
        [ "$eio" -eq 0 ] || fail "$eio pages read EIO"
    fi

    "${S[@]}" fresh "$dir/nbd.sock" "$dir/model" || fail "new writes"
    stats "$dir/s4.json"
    used=$(dev "$dir/s4.json" "$uri" used)
    [ "$used" -eq $(( rused + 64 )) ] ||
        fail "64 new pages: the remote's used went from $rused to $used (it is preferred)"
    say "64 new pages went to the remote (used $rused -> $used)"

    if [ "$kind" = memory ]; then
        "${S[@]}" lost "$dir/nbd.sock" "$dir/model" || fail "lost pages"
    fi
    read -r eio ok < <("${S[@]}" check "$dir/nbd.sock" "$dir/model" \
                           "$t_dead" "$kind") || fail "final check"
    say "final: $ok pages read their data, $eio read EIO (lost), none wrong"
    [ "$kind" = file ] || [ "$eio" -eq $(( lost - 2 )) ] ||
        fail "final: $eio pages read EIO, expected lost_pages - 2 = $(( lost - 2 ))"
    if grep -E "\(bug\)|assert|abort|segmentation" "$dir/swapdrum.pid.log"; then
        fail "the server log reports a bug or a crash (above)"
    fi
    if [ "$kind" = memory ]; then
        # 8. The map's MAP_LOST does not survive a restart; the pool
        # table's "suspect" does: the lost pages still read EIO.
        kill -9 "$spid"
        wait "$spid" 2>/dev/null || true
        rm -f "$dir/nbd.sock"
        start_nbdkit "$dir/nbd.sock" "$dir/swapdrum.pid" \
            "$uri,priority=0,timeout=5" \
            "$dir/local,create=$(page_file_size 2048),priority=5"
        spid=$NBDKIT_PID
        ctl -s | grep -q '^export "": suspect' ||
            fail "after a restart, swapdrumctl -s does not say suspect"
        read -r eio ok < <("${S[@]}" check "$dir/nbd.sock" "$dir/model" \
                               "$t_dead" "$kind") || fail "check after restart"
        [ "$eio" -eq $(( lost - 2 )) ] ||
            fail "after a restart: $eio pages read EIO, expected $(( lost - 2 ))"
        say "after a restart: $ok pages read their data, $eio still EIO"
    fi
    stop_nbdkit "$spid"
    kill_pid "$REMOTE_PID"
}

remote_die memory
remote_die file
say "PASS"
