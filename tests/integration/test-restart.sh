#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# A restart loses nothing (docs/design.md, "The durable map"): on a
# pool of two files (priorities 0 and 5), and again on a pool of a
# small file (priority 0) and a remote export (nbdkit memory, priority
# 5, up all along), where most pages and their records live,
#   1. 4096 scattered pages, flushed, survive SIGTERM and a restart;
#   2. 2048 of them overwritten without a flush survive SIGKILL;
#   3. 512 trimmed pages read zeros after a restart, the rest intact;
#   4. a storm of writes from 4 connections, killed with SIGKILL in its
#      middle: every acknowledged write reads back, a page whose write
#      was in flight holds the old or the new data;
#   5. SIGTERM while 2 connections write and 2 sit idle: no request gets
#      an error reply (the connections close unanswered, as on SIGKILL;
#      swapdrum/drain.h), the server exits 0 and comes back after a clean
#      shutdown with every acknowledged write;
# and the server says how it came up each time.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl

R=("$PYTHON" "$SRCDIR/restart.py")

# nbdkit leaves its socket behind when it stops.
start () { rm -f "$sock"; start_nbdkit "$sock" "$tmp/pid" "${devs[@]}"; }

# expect_log TEXT: the last server's log says TEXT, and swapdrumctl -s
# too.
expect_log ()
{
    grep -q "$1" "$tmp/pid.log" ||
        { cat "$tmp/pid.log" >&2; fail "the server did not say: $1"; }
    ctl -s > "$tmp/s.out" || fail "swapdrumctl -s failed"
    grep -q "^pool [0-9a-f]\{32\}: started after $1\$" "$tmp/s.out" ||
        { cat "$tmp/s.out" >&2; fail "swapdrumctl -s did not say: $1"; }
}

# run_pool NAME DEVICE...: steps 1 to 4 on a pool of DEVICEs.
run_pool ()
{
    local name=$1
    shift
    devs=("$@")
    sock=$tmp/$name.sock
    state=$tmp/$name.state
    say "$name: 1. 4096 scattered pages, flushed, SIGTERM, restart"
    start
    expect_log "new pool"
    "${R[@]}" write "$sock" "$state" 4096 1
    stop_nbdkit "$NBDKIT_PID"
    start
    expect_log "clean shutdown"
    "${R[@]}" verify "$sock" "$state" || fail "pages lost after SIGTERM"

    say "$name: 2. 2048 overwritten without a flush, SIGKILL, restart"
    "${R[@]}" rewrite "$sock" "$state" 2048 2
    "${R[@]}" write "$sock" "$state" 1024 3   # new pages too
    kill -9 "$NBDKIT_PID"
    wait "$NBDKIT_PID" 2>/dev/null || true
    start
    expect_log "process crash on this boot"
    "${R[@]}" verify "$sock" "$state" || fail "pages lost after SIGKILL"

    say "$name: 3. 512 trimmed, SIGKILL, restart: zeros there, the rest intact"
    "${R[@]}" trim "$sock" "$state" 512 4
    kill -9 "$NBDKIT_PID"
    wait "$NBDKIT_PID" 2>/dev/null || true
    start
    "${R[@]}" verify "$sock" "$state" || fail "trimmed pages came back"

    say "$name: 4. a 4-connection write storm, SIGKILL in its middle"
    "${R[@]}" storm "$sock" "$tmp/$name.storm.log" 4 "$state" &
    storm=$!
    sleep 4
    kill -9 "$NBDKIT_PID"
    wait "$NBDKIT_PID" 2>/dev/null || true
    wait "$storm" || true
    start
    "${R[@]}" check-storm "$sock" "$tmp/$name.storm.log" ||
        fail "acknowledged writes lost in the storm"
    "${R[@]}" verify "$sock" "$state" ||
        fail "pages outside the storm changed"

    say "$name: 5. SIGTERM under writes and idle connections: no error reply"
    "${R[@]}" term "$sock" "$tmp/$name.term.log" "$state" "$NBDKIT_PID" \
        "$tmp/$name.storm.log" ||
        fail "requests answered with an error at SIGTERM"
    wait "$NBDKIT_PID" || fail "nbdkit exited with status $? after SIGTERM"
    grep -q 'SIGTERM: stopping: [0-9]* client connections closed' \
         "$tmp/pid.log" || fail "the server did not log the stop"
    start
    expect_log "clean shutdown"
    "${R[@]}" check-storm "$sock" "$tmp/$name.term.log" ||
        fail "acknowledged writes lost at SIGTERM"
    "${R[@]}" verify "$sock" "$state" ||
        fail "pages changed at SIGTERM"
    stop_nbdkit "$NBDKIT_PID"
}

run_pool files "$tmp/fast,create=64M" "$tmp/slow,create=64M,priority=5"
start_remote_nbdkit mem "$tmp/r.sock" memory 128M
run_pool remote "$tmp/small,create=$(page_file_size 1024)" \
    "$(remote_uri "$tmp/r.sock"),priority=5"
say "PASS"
