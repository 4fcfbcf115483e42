#!/bin/bash
# swapdrum: replay the NBD fuzzer's seeds and regressions through the
# plugin under `nbdkit -s` (the protocol on stdin/stdout).
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# The seeds (corpus/nbd) are real sessions: nbd-seeds.py --check
# verifies that they are what it writes and that the server answers
# every request correctly.  Every input of regressions/nbd (and each
# FILE given) must end with nbdkit exiting by itself: not killed by a
# signal, no sanitizer report (SANITIZE=1 preloads the runtimes, see
# tests/integration/functions.sh).
#
#   test-replay-nbd.sh [FILE...]

: "${FUZZ_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${SRCDIR:=$FUZZ_SRCDIR/../integration}"
source "$SRCDIR/functions.sh"

requires nbdkit --version
tmp=$(mktemp -d /tmp/swapdrum-fuzz-nbd.XXXXXX)
cleanup_fn rm -rf "$tmp"
truncate -s 1M "$tmp/a.swap" "$tmp/b.swap"
# parallel=false: the seeds pipeline requests that depend on each other
# (a read after the write it checks) and expect replies in request
# order; NBD promises neither while a PARALLEL server (the default with
# nbdkit >= 1.33.10, Debian 13) has both in flight.
server=("${NBDKIT[@]}" -s "$PLUGIN" "$tmp/a.swap" "$tmp/b.swap" admin=off
        parallel=false)

if [ $# -eq 0 ]; then
    $PYTHON "$FUZZ_SRCDIR/nbd-seeds.py" --check "$FUZZ_SRCDIR/corpus/nbd" \
        "${server[@]}"
    set -- "$FUZZ_SRCDIR"/regressions/nbd/*
fi
for f in "$@"; do
    [ -f "$f" ] || continue
    rc=0
    "${server[@]}" < "$f" > /dev/null 2> "$tmp/err" || rc=$?
    if [ $rc -ge 128 ] || grep -q 'Sanitizer\|runtime error' "$tmp/err"; then
        cat "$tmp/err"
        echo "$f: nbdkit exited with $rc"
        exit 1
    fi
    echo "$f: ok (exit $rc)"
done
