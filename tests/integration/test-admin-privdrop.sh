#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# The admin socket when nbdkit drops privileges (--user=nobody
# --group=nogroup; needs root, and the system's nobody, nogroup and
# daemon accounts: none is created).  Other users act through setpriv.
#   run 1, the default admin-mode (0600): the socket is made before
#     nbdkit changes user, so it is root's (0:0, 0600) while the server
#     runs as nobody; root lists and changes the pool (-a, -c, -d); nobody,
#     the server's own user, cannot even connect (EACCES), nor can
#     daemon.  At exit the server, nobody by then, cannot remove the
#     socket from root's directory: the file stays.
#   run 2, admin-mode=0660 admin-group=nogroup, in a directory that does
#     not exist yet: the directory is made 0710 root:nogroup and the
#     socket 0660 root:nogroup; nobody (the server's uid, group nogroup)
#     lists and changes the pool; daemon with nogroup as a
#     supplementary group lists but gets EPERM on -a, -c and -d, and the
#     pool does not change; daemon without it cannot connect; root
#     still changes the pool; the export serves I/O throughout.
#   run 3, the default mode again on run 1's path: the stale socket
#     file is replaced and root uses the new server.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
[ "$(id -u)" -eq 0 ] || skip "needs root (nbdkit --user, acting as other users)"
requires setpriv --version
nobody_uid=$(id -u nobody 2>/dev/null) || skip "no user nobody"
daemon_uid=$(id -u daemon 2>/dev/null) || skip "no user daemon"
daemon_gid=$(id -g daemon)
nogroup_gid=$(getent group nogroup | cut -d: -f3)
[ -n "$nogroup_gid" ] || skip "no group nogroup"

# $tmp: traversable by all; $pub: readable by all (swapdrumctl, the
# sockets' directories); $run: the server's own (pid files, devices it
# creates), since nbdkit writes its pid file after changing user.
chmod 0711 "$tmp"
pub=$tmp/pub run=$tmp/run
mkdir -m 0755 "$pub" "$pub/s1"
mkdir -m 0755 "$run"
chown nobody:nogroup "$run"
cp "$SWAPDRUMCTL" "$pub/swapdrumctl"
chmod 0755 "$pub/swapdrumctl"
D1=$run/d1

# as UID GID GROUPS CMD...: run CMD as that user (GROUPS: a gid list
# for setgroups, or "" for none).
as ()
{
    local uid=$1 gid=$2 groups=$3
    shift 3
    if [ -n "$groups" ]; then
        timeout 60 setpriv --reuid="$uid" --regid="$gid" --groups="$groups" -- "$@"
    else
        timeout 60 setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
    fi
}

# owner_mode PATH: "UID:GID MODE" (octal).
owner_mode () { stat -c '%u:%g %a' "$1"; }

# check_server_user PID: the server runs as nobody:nogroup.
check_server_user ()
{
    local uids gids
    uids=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$1/status")
    gids=$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$1/status")
    [ "$uids" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid" ] &&
        [ "$gids" = "$nogroup_gid $nogroup_gid $nogroup_gid $nogroup_gid" ] ||
        fail "the server runs as uids $uids, gids $gids"
}

# shape SOCK: the pool's devices, priorities and flags (as root).
shape () { ctl -S "$1" --json -l | "$PYTHON" -c 'import json, sys
print(json.dumps([(d["path"], d["priority"], d["flags"])
                  for d in json.load(sys.stdin)["devices"]]))'; }

# can WHO SOCK ARGS...: swapdrumctl ARGS as WHO (uid:gid:groups) works.
can ()
{
    local who=$1 sock=$2
    shift 2
    IFS=: read -r uid gid groups <<< "$who"
    as "$uid" "$gid" "$groups" "$pub/swapdrumctl" -S "$sock" "$@" \
        > "$tmp/out" 2> "$tmp/err" ||
        { cat "$tmp/out" "$tmp/err"; fail "as $who: swapdrumctl $* failed"; }
}

# cannot WHO SOCK WHY ARGS...: swapdrumctl ARGS as WHO fails with one
# line matching WHY (an extended regex), and the pool does not change.
cannot ()
{
    local who=$1 sock=$2 why=$3 before rc=0
    shift 3
    before=$(shape "$sock")
    IFS=: read -r uid gid groups <<< "$who"
    as "$uid" "$gid" "$groups" "$pub/swapdrumctl" -S "$sock" "$@" \
        > "$tmp/out" 2> "$tmp/err" || rc=$?
    if [ $rc -ne 1 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] ||
           ! grep -qE "$why" "$tmp/err"; then
        echo "  exit $rc; stdout: $(cat "$tmp/out")"
        echo "  stderr: $(cat "$tmp/err")"
        fail "as $who: swapdrumctl $*: expected exit 1 and /$why/"
    fi
    [ "$(shape "$sock")" = "$before" ] || fail "as $who: swapdrumctl $*: the pool changed"
    say "ok: as $who: swapdrumctl $*: $(cat "$tmp/err")"
}

ROOT=0:0: NOBODY=$nobody_uid:$nogroup_gid:
DAEMON=$daemon_uid:$daemon_gid: DAEMON_IN_NOGROUP=$daemon_uid:$daemon_gid:$nogroup_gid

cat > "$tmp/io.py" <<'EOF'
import sys
from nbdcheck import *
h = connect(sys.argv[1])
seed = int(sys.argv[2])
write_pattern(h, seed, 0, 16 * PAGE)
check_pattern(h, seed, 0, 16 * PAGE)
EOF

# ---- run 1: the default mode ---------------------------------------------

say "run 1: --user=nobody --group=nogroup, admin-mode 0600"
S1=$pub/s1/admin.sock
start_nbdkit "$run/nbd1.sock" "$run/s1.pid" --user=nobody --group=nogroup \
    "$D1,create=$(page_file_size 64)" admin="$S1"
check_server_user "$NBDKIT_PID"
[ "$(owner_mode "$S1")" = "0:0 600" ] ||
    fail "run 1: the socket is $(owner_mode "$S1"), expected 0:0 600"
say "ok: the server runs as nobody; the socket is root's, 0600"
"$PYTHON" "$tmp/io.py" "$run/nbd1.sock" 1
can "$ROOT" "$S1" -a -o create=1M "$run/r1"
can "$ROOT" "$S1" -c -p 5 "$run/r1"
can "$ROOT" "$S1" -d "$run/r1"
can "$ROOT" "$S1" -l
say "ok: root adds, re-prioritizes, removes and lists"
cannot "$NOBODY" "$S1" "connect: Permission denied" -l
cannot "$DAEMON" "$S1" "connect: Permission denied" -l
stop_nbdkit "$NBDKIT_PID"
[ -S "$S1" ] || fail "run 1: the server (nobody by then) removed root's socket"
say "ok: at exit the socket file stays (nobody may not write $pub/s1)"

# ---- run 2: a group that lets the server's user in ------------------------

say "run 2: admin-mode=0660 admin-group=nogroup, in a new directory"
S2=$pub/new/admin.sock
start_nbdkit "$run/nbd2.sock" "$run/s2.pid" --user=nobody --group=nogroup \
    "$D1" admin="$S2" admin-mode=0660 admin-group=nogroup
check_server_user "$NBDKIT_PID"
[ "$(owner_mode "$pub/new")" = "0:$nogroup_gid 710" ] ||
    fail "run 2: the directory is $(owner_mode "$pub/new"), expected 0:$nogroup_gid 710"
[ "$(owner_mode "$S2")" = "0:$nogroup_gid 660" ] ||
    fail "run 2: the socket is $(owner_mode "$S2"), expected 0:$nogroup_gid 660"
say "ok: directory 0710 and socket 0660, root:nogroup"
can "$NOBODY" "$S2" -a -o create=1M "$run/n1"
can "$NOBODY" "$S2" -c -p 7 "$run/n1"
can "$NOBODY" "$S2" -l
grep -q "^$run/n1 .* 7 " "$tmp/out" || fail "run 2: nobody's device: $(cat "$tmp/out")"
say "ok: nobody, the server's own user, adds, re-prioritizes and lists"
"$PYTHON" "$tmp/io.py" "$run/nbd2.sock" 2
can "$DAEMON_IN_NOGROUP" "$S2" -l
grep -q "^$D1 " "$tmp/out" || fail "run 2: daemon's list: $(cat "$tmp/out")"
cannot "$DAEMON_IN_NOGROUP" "$S2" "\\(EPERM\\)$" -a -o create=1M "$run/x1"
[ ! -e "$run/x1" ] || fail "run 2: daemon's refused -a created $run/x1"
cannot "$DAEMON_IN_NOGROUP" "$S2" "\\(EPERM\\)$" -c -p 3 "$D1"
cannot "$DAEMON_IN_NOGROUP" "$S2" "\\(EPERM\\)$" -d "$run/n1"
cannot "$DAEMON" "$S2" "connect: Permission denied" -l
can "$NOBODY" "$S2" -d "$run/n1"
can "$ROOT" "$S2" -c -p 1 "$D1"
"$PYTHON" "$tmp/io.py" "$run/nbd2.sock" 3
stop_nbdkit "$NBDKIT_PID"

# ---- run 3: a stale socket file is replaced -------------------------------

say "run 3: the default mode on run 1's path"
start_nbdkit "$run/nbd3.sock" "$run/s3.pid" --user=nobody --group=nogroup \
    "$D1" admin="$S1"
[ "$(owner_mode "$S1")" = "0:0 600" ] ||
    fail "run 3: the socket is $(owner_mode "$S1"), expected 0:0 600"
can "$ROOT" "$S1" -l
grep -q "^$D1 " "$tmp/out" || fail "run 3: root's list: $(cat "$tmp/out")"
say "ok: the stale socket was replaced"
stop_nbdkit "$NBDKIT_PID"
say "PASS"
