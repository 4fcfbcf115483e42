# swapdrum integration tests: helpers for remote swap devices.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Sourced after functions.sh by the test-remote-*.sh tests.  Starts NBD
# servers that act as the pool's remote devices (nbdkit, qemu-nbd,
# nbd-server), on unix sockets only, and kills them at exit.  Every
# process is stopped by its own pid.
#
# A remote is "killed" with SIGKILL: nbdkit on SIGTERM waits for its
# clients, and the swapdrum server keeps its connections open.
#
# shellcheck shell=bash disable=SC2154   # $tmp: set by functions.sh

# remote_uri SOCK [EXPORT]: the libnbd URI of an export on a unix socket.
remote_uri () { echo "nbd+unix:///${2-}?socket=$1"; }

# _wait_listening SOCK PID LOG WHAT [PROBE-URI]: wait (at most 30 s)
# until SOCK exists (and, with PROBE-URI, until an NBD client can
# connect to it), failing if PID dies first.
_wait_listening ()
{
    local sock=$1 pid=$2 log=$3 what=$4 uri=${5-} i
    for (( i = 0; i < 300; i++ )); do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$log" >&2
            fail "$what exited before it was ready"
        fi
        if [ -S "$sock" ]; then
            [ -z "$uri" ] && return 0
            nbdinfo --size "$uri" >/dev/null 2>&1 && return 0
        fi
        sleep 0.1
    done
    cat "$log" >&2
    fail "$what did not listen on $sock within 30 s"
}

# kill_pid PID: SIGKILL a process we started and reap it (or, if it is
# not our child, wait until it is gone).
kill_pid ()
{
    local pid=$1 i
    kill -9 "$pid" 2>/dev/null || return 0
    wait "$pid" 2>/dev/null || true
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
}

# start_remote_nbdkit NAME SOCK NBDKIT-ARGS...: a plain nbdkit (no
# swapdrum) serving on SOCK, log in $tmp/NAME.log; sets REMOTE_PID.
# It is SIGKILLed at exit.  A stale SOCK is removed first (needed after
# a remote was killed: nbdkit does not remove its socket then).
start_remote_nbdkit ()
{
    local name=$1 sock=$2 pidfile=$tmp/$1.pid i
    shift 2
    rm -f "$sock" "$pidfile"
    command nbdkit -f -U "$sock" -P "$pidfile" "$@" \
        >>"$tmp/$name.log" 2>&1 &
    REMOTE_PID=$!
    cleanup_fn kill_pid "$REMOTE_PID"
    # nbdkit writes its pid file once it listens.
    for (( i = 0; i < 300; i++ )); do
        [ -s "$pidfile" ] && [ -S "$sock" ] && return 0
        if ! kill -0 "$REMOTE_PID" 2>/dev/null; then
            cat "$tmp/$name.log" >&2
            fail "remote nbdkit ($name) exited before it was ready"
        fi
        sleep 0.1
    done
    fail "remote nbdkit ($name) was not ready within 30 s"
}

# start_qemu_nbd NAME SOCK FILE: qemu-nbd serving raw FILE on SOCK
# (trim punches holes: --discard=unmap); sets REMOTE_PID.
start_qemu_nbd ()
{
    local name=$1 sock=$2 file=$3
    rm -f "$sock"
    qemu-nbd -f raw -k "$sock" --persistent --shared=16 \
        --discard=unmap --cache=writeback "$file" \
        >>"$tmp/$name.log" 2>&1 &
    REMOTE_PID=$!
    cleanup_fn kill_pid "$REMOTE_PID"
    _wait_listening "$sock" "$REMOTE_PID" "$tmp/$name.log" \
        "qemu-nbd ($name)" "$(remote_uri "$sock")"
}

# stop_nbd_server PIDFILE: nbd-server daemonizes and forks a child per
# client: terminate the children, then the master (all by pid).
stop_nbd_server ()
{
    local master i kids
    master=$(cat "$1" 2>/dev/null) || return 0
    [ -n "$master" ] || return 0
    kids=$(pgrep -P "$master" 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -n "$kids" ] && kill -9 $kids 2>/dev/null
    kill "$master" 2>/dev/null || return 0
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$master" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -9 "$master" 2>/dev/null || true
}

# start_nbd_server NAME SOCK FILE EXPORT: nbd-server serving FILE as
# EXPORT on the unix socket SOCK (nbd-server >= 3.24: `unixsock`), with
# trim, flush and FUA.  nbd-server's -d serves one client only, so it
# runs as a daemon: its pid file is $tmp/NAME.pid.
start_nbd_server ()
{
    local name=$1 sock=$2 file=$3 export=$4 pidfile=$tmp/$1.pid
    rm -f "$sock" "$pidfile"
    cat > "$tmp/$name.conf" <<EOF
[generic]
    unixsock = $sock
    allowlist = false
[$export]
    exportname = $file
    trim = true
    flush = true
    fua = true
EOF
    nbd-server -C "$tmp/$name.conf" -p "$pidfile" >>"$tmp/$name.log" 2>&1 ||
        { cat "$tmp/$name.log" >&2; fail "nbd-server ($name) did not start"; }
    cleanup_fn stop_nbd_server "$pidfile"
    local i
    for (( i = 0; i < 100; i++ )); do
        [ -s "$pidfile" ] && break
        sleep 0.05
    done
    [ -s "$pidfile" ] || fail "nbd-server ($name) wrote no pid file"
    REMOTE_PID=$(cat "$pidfile")
    _wait_listening "$sock" "$REMOTE_PID" "$tmp/$name.log" \
        "nbd-server ($name)" "$(remote_uri "$sock" "$export")"
}

# wait_dev_flag PATH FLAG yes|no SECONDS: wait until device PATH's
# flags do (yes) or do not (no) include FLAG; fail after SECONDS.
# Prints the seconds it took.
wait_dev_flag ()
{
    local path=$1 flag=$2 want=$3 limit=$4 t0 dt flags
    t0=${EPOCHREALTIME/./}
    while :; do
        stats "$tmp/wait.json"
        flags=,$(dev "$tmp/wait.json" "$path" flags),
        if [ "$want" = yes ]; then
            [[ $flags == *,$flag,* ]] && break
        else
            [[ $flags != *,$flag,* ]] && break
        fi
        dt=$(( ${EPOCHREALTIME/./} - t0 ))
        if (( dt > limit * 1000000 )); then
            fail "device $path: flags ${flags//,/ } after $limit s (waited for $flag to be $( [ "$want" = yes ] && echo set || echo cleared))"
        fi
        sleep 0.1
    done
    dt=$(( ${EPOCHREALTIME/./} - t0 ))
    printf '%d.%02d\n' $(( dt / 1000000 )) $(( dt % 1000000 / 10000 ))
}
