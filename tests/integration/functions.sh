# swapdrum integration tests: shared shell helpers.
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Sourced by every tests/integration/test-*.sh, in the manner of
# nbdkit's tests/functions.sh.  make check sets:
#   PLUGIN    absolute path of nbdkit-swapdrum-plugin.so
#   SRCDIR    absolute path of tests/integration in the source tree
#   BUILDDIR  absolute path of the build tree
# Running a test by hand works too if those are exported.
#
# Exit codes: 0 pass, 1 fail, 77 skip (with a reason on stdout).

set -euo pipefail

: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${BUILDDIR:=$PWD}"
: "${PLUGIN:=$BUILDDIR/.libs/nbdkit-swapdrum-plugin.so}"
export SRCDIR BUILDDIR PLUGIN

# The Python with the libnbd bindings: the python on PATH may be a
# pyenv interpreter without them.
PYTHON=/usr/bin/python3
# nbdsh is a Python script too: run it under the system Python.
nbdsh () { PATH=/usr/bin:$PATH command nbdsh "$@"; }
# Tests import nbdcheck from the source tree; keep __pycache__ out of it.
export PYTHONPATH="$SRCDIR${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED=1
export LC_ALL=C

# SANITIZE=1 (.ci/run's second pass): the plugin is built with ASan and
# UBSan but Debian's nbdkit is not, so the runtimes are preloaded into
# nbdkit.  Leaks are left to the engine's unit tests (nbdkit exits
# without freeing everything).  NBDKIT is the command line that starts
# nbdkit; through env, so that `$NBDKIT ... &` leaves $! = nbdkit's pid.
#
# libp11-kit (nbdkit -> gnutls -> p11-kit) calls newlocale() in its
# constructor, which runs before the preloaded ASan's: ASan then
# initializes inside newlocale, with glibc's locale lock held, and its
# dlerror() -> dcgettext() unlocks that lock once too often.  Every
# later newlocale() in nbdkit (json-c calls it for each admin request)
# then blocks for ever.  Preloading p11-kit ahead of ASan runs its
# constructor after ASan's; ASan must be told not to insist on being
# first (nothing in p11-kit interposes what ASan intercepts).
if [ "${SANITIZE-}" = 1 ]; then
    _san_preload="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
    _san_opts=detect_leaks=0
    _p11=$(ldd "$(command -v nbdkit)" 2>/dev/null |
               awk '$1 ~ /^libp11-kit/ && $3 ~ /^\// { print $3 }')
    if [ -n "$_p11" ]; then
        _san_preload="$_p11 $_san_preload"
        _san_opts=$_san_opts:verify_asan_link_order=0
    fi
    NBDKIT=(env "LD_PRELOAD=$_san_preload"
            "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}$_san_opts"
            nbdkit)
else
    NBDKIT=(env nbdkit)
fi
nbdkit () { "${NBDKIT[@]}" "$@"; }

# ---------------------------------------------------------------------
# Cleanup hooks: cleanup_fn CMD ARGS... runs CMD ARGS at exit (in the
# reverse order of registration), whatever the way out (pass, fail,
# skip, signal).

_cleanup_hooks=()

cleanup_fn ()
{
    _cleanup_hooks+=("$(printf '%q ' "$@")")
}

_run_cleanup_hooks ()
{
    local status=$? i
    set +e
    trap '' INT QUIT TERM EXIT ERR
    for (( i = ${#_cleanup_hooks[@]} - 1; i >= 0; i-- )); do
        eval "${_cleanup_hooks[i]}"
    done
    exit $status
}
trap _run_cleanup_hooks INT QUIT TERM EXIT

# ---------------------------------------------------------------------
# Messages and verdicts.

_name=$(basename "$0" .sh)

say ()  { echo "$_name: $*"; }
fail () { echo "$_name: FAIL: $*" >&2; exit 1; }
skip () { echo "$_name: SKIP: $*"; exit 77; }

# requires CMD [ARGS...]: skip the test unless CMD ARGS runs and
# succeeds (e.g. `requires nbdinfo --version`).  A bare command name
# only needs to be on PATH.
requires ()
{
    if [ $# -eq 1 ]; then
        command -v "$1" >/dev/null 2>&1 ||
            skip "required program '$1' is not installed"
        return 0
    fi
    ( "$@" ) </dev/null >/dev/null 2>&1 ||
        skip "prerequisite '$*' failed (missing or not working)"
}

# requires_python_nbd: the system Python has the libnbd bindings.
requires_python_nbd ()
{
    [ -x "$PYTHON" ] || skip "$PYTHON not found"
    "$PYTHON" -c 'import nbd' 2>/dev/null ||
        skip "$PYTHON has no 'nbd' module (install python3-libnbd)"
}

# requires_plugin: PLUGIN is built and nbdkit can load it.
requires_plugin ()
{
    requires nbdkit --version
    [ -f "$PLUGIN" ] || fail "PLUGIN=$PLUGIN: no such file (build first)"
    nbdkit "$PLUGIN" --dump-plugin >/dev/null 2>&1 ||
        fail "nbdkit cannot load $PLUGIN"
}

# ---------------------------------------------------------------------
# Per-test temporary directory, removed at exit.  Each test gets its
# own under ${TMPDIR:-/tmp}, so tests can run in parallel.

tmp=$(mktemp -d "${TMPDIR:-/tmp}/swapdrum-$_name.XXXXXX")
cleanup_fn rm -rf "$tmp"

# Each test's servers get their own admin socket by default (the plugin
# and swapdrumctl both read SWAPDRUM_ADMIN), so tests can run at once.
export SWAPDRUM_ADMIN="$tmp/admin.sock"

# free_bytes DIR: bytes available to us on the filesystem of DIR.
free_bytes ()
{
    df -P -B1 "$1" | awk 'NR == 2 { print $4 }'
}

# ---------------------------------------------------------------------
# Long-running servers.

# start_nbdkit SOCK PIDFILE [NBDKIT-ARGS...] PLUGIN-ARGS...
# Starts `nbdkit -U SOCK -P PIDFILE -f NBDKIT-ARGS $PLUGIN PLUGIN-ARGS`
# in the background (log in PIDFILE.log), waits until it has written
# its pid file and sets NBDKIT_PID.  The server is killed at exit.
# nbdkit options (starting with -) must come first.
start_nbdkit ()
{
    local sock=$1 pidfile=$2 i opts=()
    shift 2
    while [ $# -gt 0 ] && [[ $1 == -* ]]; do
        opts+=("$1")
        shift
    done
    rm -f "$pidfile"
    "${NBDKIT[@]}" -U "$sock" -P "$pidfile" -f "${opts[@]}" "$PLUGIN" "$@" \
        >"$pidfile.log" 2>&1 &
    NBDKIT_PID=$!
    cleanup_fn stop_nbdkit "$NBDKIT_PID"
    for (( i = 0; i < 600; i++ )); do
        if [ -s "$pidfile" ] && [ -S "$sock" ]; then
            [ "$(cat "$pidfile")" = "$NBDKIT_PID" ] ||
                fail "nbdkit pid file says $(cat "$pidfile"), started $NBDKIT_PID"
            return 0
        fi
        if ! kill -0 "$NBDKIT_PID" 2>/dev/null; then
            cat "$pidfile.log" >&2
            fail "nbdkit exited before it was ready"
        fi
        sleep 0.1
    done
    cat "$pidfile.log" >&2
    fail "nbdkit did not write $pidfile within 60 s"
}

# stop_nbdkit PID: terminate a server we started and reap it.
stop_nbdkit ()
{
    local pid=$1 i
    kill "$pid" 2>/dev/null || return 0
    for (( i = 0; i < 100; i++ )); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# proc_state PID: the one-letter state from /proc/PID/stat, or "gone".
proc_state ()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo gone; return 0; }
    # Field 3, after the last ')' (the command name may hold spaces).
    stat=${stat##*) }
    echo "${stat%% *}"
}

# check_alive PID [WHAT]: fail unless PID is a live process.  A zombie
# (Z) or dead (X) process is not alive.
check_alive ()
{
    local state
    state=$(proc_state "$1")
    case "$state" in
        gone) fail "${2:-process} $1 is gone" ;;
        Z|X|x) fail "${2:-process} $1 is dead (state $state)" ;;
    esac
}

# vm_kib PID FIELD: FIELD (VmRSS, VmHWM...) of /proc/PID/status in KiB.
vm_kib ()
{
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# ---------------------------------------------------------------------
# Helpers for the plugin's arguments.

# The device layout (docs/design.md, "On-device format"): the stamp,
# two pool table copies of 8 pages, 16 bytes of page record per data
# page, then the data pages.  Mirrors sd_layout (server/storage/format.c).
_META_PAGES=17

# page_file_size NPAGES: the size of a device file holding NPAGES data
# pages.
page_file_size ()
{
    echo $(( (_META_PAGES + ($1 + 255) / 256 + $1) * 4096 ))
}

# dev_pages BYTES: the data pages of a device file of BYTES bytes.
dev_pages ()
{
    local r=$(( $1 / 4096 - _META_PAGES )) n
    n=$(( r / 257 * 256 ))
    while (( (n + 1) + (n + 256) / 256 <= r )); do n=$(( n + 1 )); done
    echo $n
}

# dev_data_offset BYTES: the byte offset of data page 0 in a device
# file of BYTES bytes.
dev_data_offset ()
{
    local n
    n=$(dev_pages "$1")
    echo $(( (_META_PAGES + (n + 255) / 256) * 4096 ))
}

# ---------------------------------------------------------------------
# Continuous verified I/O (verifier.py).

# start_verifier SOCK DIR [VERIFIER-ARGS...]: run verifier.py on the
# NBD socket SOCK in the background, with its status, report, stop
# file and stderr in DIR (DIR/verifier.{status,report,stop,log}); wait
# (at most 60 s) until every connection has written its prefill, and
# set VERIFIER_PID.  It is killed at exit.
start_verifier ()
{
    local sock=$1 dir=$2 i
    shift 2
    rm -f "$dir/verifier.status" "$dir/verifier.report" "$dir/verifier.stop"
    "$PYTHON" "$SRCDIR/verifier.py" "$sock" \
        --status "$dir/verifier.status" --report "$dir/verifier.report" \
        --stop "$dir/verifier.stop" --max-seconds 300 "$@" \
        2> "$dir/verifier.log" &
    VERIFIER_PID=$!
    cleanup_fn stop_nbdkit "$VERIFIER_PID"
    for (( i = 0; i < 600; i++ )); do
        [ -s "$dir/verifier.status" ] && return 0
        if ! kill -0 "$VERIFIER_PID" 2>/dev/null; then
            cat "$dir/verifier.log" >&2
            fail "the verifier exited before it was ready"
        fi
        sleep 0.1
    done
    fail "the verifier was not ready within 60 s"
}

# stop_verifier DIR: tell the verifier of DIR to stop and wait (at
# most 120 s) for it to read everything back and write its report;
# show its messages; set VERIFIER_RC to its exit status.
stop_verifier ()
{
    local dir=$1 i
    touch "$dir/verifier.stop"
    for (( i = 0; i < 1200; i++ )); do
        kill -0 "$VERIFIER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$VERIFIER_PID" 2>/dev/null; then
        cat "$dir/verifier.log" >&2
        fail "the verifier did not finish within 120 s (I/O hung?)"
    fi
    VERIFIER_RC=0
    wait "$VERIFIER_PID" || VERIFIER_RC=$?
    cat "$dir/verifier.log"
    [ -s "$dir/verifier.report" ] ||
        fail "the verifier wrote no report (exit status $VERIFIER_RC)"
}

# ---------------------------------------------------------------------
# The admin socket, through swapdrumctl.

# requires_swapdrumctl: SWAPDRUMCTL (set by make check) is built.
requires_swapdrumctl ()
{
    : "${SWAPDRUMCTL:=$BUILDDIR/swapdrumctl}"
    [ -x "$SWAPDRUMCTL" ] || fail "SWAPDRUMCTL=$SWAPDRUMCTL: not built"
}

# ctl ARGS...: swapdrumctl with a timeout: a hung server must fail the
# test, not hang it.
ctl () { timeout 120 "$SWAPDRUMCTL" "$@"; }

# stats FILE: `swapdrumctl --json -l` into FILE.
stats () { ctl --json -l > "$1" || fail "swapdrumctl --json -l failed"; }

# dev FILE PATH FIELD: FIELD of device PATH in stats FILE ("absent" if
# PATH is not listed; lists joined with commas).
dev ()
{
    "$PYTHON" - "$@" <<'EOF'
import json, sys
f, path, field = sys.argv[1:4]
for d in json.load(open(f))["devices"]:
    if d["path"] == path:
        v = d[field]
        print(",".join(v) if isinstance(v, list) else v)
        break
else:
    print("absent")
EOF
}
