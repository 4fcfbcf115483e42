#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# swapdrum-attach's handshake (swapdrum-attach --probe, which needs no
# NBD module): it finds the pool's description on swapdrum, none on
# nbdkit's file plugin, and refuses, with one line saying why and
# within its 10 s deadline, every server of fake-nbd.py that is not
# NBD, not fixed newstyle, slow past the deadline, or sends a reply
# that is malformed, oversized or endless.  The attach itself needs the
# kernel's nbd driver: the VM test does it (tests/vm/README.md).

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
ATTACH=$BUILDDIR/swapdrum-attach
[ -x "$ATTACH" ] || fail "$ATTACH not built"

# probe EXPECTED-STATUS OUTPUT-PATTERN ARGS...: runs --probe, checks
# its exit status and that stdout+stderr match the extended regex.
probe ()
{
    local want=$1 pattern=$2 rc=0 t0 secs
    shift 2
    t0=$(date +%s)
    timeout 30 "$ATTACH" --probe "$@" > "$tmp/out" 2>&1 || rc=$?
    secs=$(( $(date +%s) - t0 ))
    [ "$rc" = "$want" ] ||
        fail "--probe $*: exit status $rc, not $want: $(cat "$tmp/out")"
    grep -Eq "$pattern" "$tmp/out" ||
        fail "--probe $*: output does not match /$pattern/: $(cat "$tmp/out")"
    [ "$secs" -le 12 ] || fail "--probe $*: took $secs s"
    [ "$(grep -c 'swapdrum-attach:' "$tmp/out")" -le 1 ] ||
        fail "--probe $*: more than one message: $(cat "$tmp/out")"
    say "$* -> $rc: $(tr '\n' ' ' < "$tmp/out")"
}

# swapdrum: the description names the pool.
start_nbdkit "$tmp/sd.sock" "$tmp/sd.pid" \
    "$tmp/a.swap,create=64M" admin=off
probe 0 '^description=swapdrum pool [0-9a-f]{32}$' "unix:$tmp/sd.sock"
grep -q "^size=$(( $(dev_pages $((64 << 20))) * 4096 ))\$" "$tmp/out" ||
    fail "swapdrum size: $(cat "$tmp/out")"
probe 0 '^flags=0x' -C 4 "unix:$tmp/sd.sock"
probe 1 'refused export "other": unknown export' -N other "unix:$tmp/sd.sock"

# nbdkit's file plugin: no description.
truncate -s 32M "$tmp/disk.img"
nbdkit -U "$tmp/file.sock" -P "$tmp/file.pid" -f file "$tmp/disk.img" \
    > "$tmp/file.log" 2>&1 &
cleanup_fn stop_nbdkit $!
for (( i = 0; i < 100; i++ )); do [ -S "$tmp/file.sock" ] && break; sleep 0.1; done
probe 0 '^size=33554432$' "unix:$tmp/file.sock"
if grep -q description "$tmp/out"; then fail "file plugin: a description?"; fi

# Addresses and servers that are not there.
probe 1 'connect: unix:/nonexistent/x.sock: No such file or directory' \
    unix:/nonexistent/x.sock
probe 1 "address: unix:: no socket path" unix:
probe 1 'address: a:b:c: not HOST' a:b:c

# The hostile servers.
fake ()
{
    local mode=$1 sock=$tmp/fake-$1.sock
    /usr/bin/python3 "$SRCDIR/fake-nbd.py" "$sock" "$mode" \
        > "$tmp/fake-$mode.log" 2>&1 < /dev/null &
    cleanup_fn kill $!
    for (( i = 0; i < 100; i++ )); do [ -S "$sock" ] && break; sleep 0.1; done
    echo "unix:$sock"
}
probe 0 '^description=swapdrum pool 0{31}1$' "$(fake desc)"
probe 0 '^size=67108864$' "$(fake good)"
probe 0 '^size=67108864$' "$(fake drip)"
probe 0 '^size=67108864$' "$(fake exportname)"
probe 1 'not an NBD server \(no NBDMAGIC\)' "$(fake badmagic)"
probe 1 'oldstyle NBD server' "$(fake oldstyle)"
probe 1 'lacks fixed newstyle' "$(fake nofixed)"
probe 1 'reading its greeting: Connection timed out' "$(fake silent)"
probe 1 'hung up while sending an option reply|sending to the server|reading an option reply: Connection reset' "$(fake hangup)"
probe 1 'an option reply of 4294967295 bytes' "$(fake huge)"
probe 1 'unknown export: no \?\[31msuch\? export\?$' "$(fake refuse)"
probe 1 "did not send the export's size" "$(fake noexport)"
probe 1 'info 0: 11 bytes' "$(fake badinfo)"
probe 1 'more than 32 replies' "$(fake flood)"
probe 1 'a malformed option reply' "$(fake wrongopt)"
probe 1 'export: the export is read-only' "$(fake readonly)"
probe 1 'block size 4096 is outside the server.s 8192' "$(fake bigblock)"
probe 0 '^size=' -b 512 "$(fake good)"
probe 2 'not 512, 1024, 2048 or 4096' -b 3000 "$(fake good)"
say "pass"
