#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# IO_FLUSHER (docs/design.md, "Config file and install"): the start
# says in one line whether nbdkit's threads are I/O flushers.  Where
# the kernel let the plugin set it (CAP_SYS_RESOURCE, Linux >= 5.6),
# every thread of the server, those started for a connection
# included, carries PF_MEMALLOC_NOIO and PF_LOCAL_THROTTLE; where not,
# the line names the reason and the server serves all the same.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin

# The task flags (field 9 of /proc/PID/task/TID/stat).
PF_MEMALLOC_NOIO=$(( 0x00080000 ))
PF_LOCAL_THROTTLE=$(( 0x00100000 ))

start_nbdkit "$tmp/sock" "$tmp/pid" "$tmp/a,create=16M" admin=off
log=$tmp/pid.log
# Hold a connection open while the threads are looked at, so that the
# connection's threads exist.
"$PYTHON" -c 'import nbd, sys, time
h = nbd.NBD(); h.connect_unix(sys.argv[1]); h.pread(4096, 0); time.sleep(2)' \
    "$tmp/sock" &
client=$!
sleep 1
if grep -q 'device I/O threads are I/O flushers' "$log"; then
    n=0
    for stat in /proc/"$NBDKIT_PID"/task/*/stat; do
        flags=$(sed 's/^.*) //' "$stat" | awk '{ print $7 }')
        (( (flags & PF_MEMALLOC_NOIO) && (flags & PF_LOCAL_THROTTLE) )) ||
            fail "thread $stat has flags $flags: not an I/O flusher"
        n=$(( n + 1 ))
    done
    [ "$n" -ge 3 ] || fail "only $n threads looked at"
    say "all $n threads are I/O flushers"
elif grep -q 'PR_SET_IO_FLUSHER: .*: device I/O threads are not I/O flushers' \
        "$log"; then
    say "not permitted here, and the start says so: $(grep PR_SET "$log")"
else
    cat "$log" >&2
    fail "the start does not say whether the threads are I/O flushers"
fi
wait "$client" || fail "the client failed"
[ "$(grep -c 'IO_FLUSHER' "$log")" -eq 1 ] ||
    fail "not exactly one line about IO_FLUSHER"
say "ok"
