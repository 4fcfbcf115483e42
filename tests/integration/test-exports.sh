#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Named exports over one pool (docs/design.md, "Exports"): on a pool of
# two files, exports declared with export= and in a config file,
#   1. nbdinfo --list shows each with the pool's description; a name
#      not declared is refused;
#   2. three exports under concurrent verified I/O: 0 mismatches;
#   3. a quota holds to the page: ENOSPC exactly at quota + 1 page,
#      another export unaffected, trim and zero give pages back;
#   4. a restart (SIGTERM) keeps every export's pages, and the quota
#      counts the recovered pages;
#   5. an export left out of the declarations is not served, its pages
#      are kept, and it comes back whole when declared again.
# Bad declarations are in test-config-errors.sh.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd

X=("$PYTHON" "$SRCDIR/exports.py")
sock=$tmp/s.sock
uri () { echo "nbd+unix:///$1?socket=$sock"; }

devs=("$tmp/a,create=96M" "$tmp/b,create=96M,priority=5")
cat > "$tmp/exports.conf" <<EOF
# the third export comes from a config file
export gamma size=16M
EOF
decls=(export=alpha,size=32M export=beta,size=32M,quota=24M
       config="$tmp/exports.conf" export=quota,size=8M,quota=1M)
start () { rm -f "$sock"; start_nbdkit "$sock" "$tmp/pid" "$@"; }

say "1. the declared exports are listed, others refused"
start "${devs[@]}" admin=off "${decls[@]}"
nbdinfo --list "$(uri '')" > "$tmp/list" || fail "nbdinfo --list failed"
for e in alpha beta gamma quota; do
    grep -q "^export=\"$e\":" "$tmp/list" || {
        cat "$tmp/list" >&2; fail "nbdinfo --list does not show $e"; }
done
[ "$(grep -c '^export=' "$tmp/list")" -eq 4 ] ||
    { cat "$tmp/list" >&2; fail "nbdinfo --list shows other exports"; }
[ "$(grep -c 'description: swapdrum pool [0-9a-f]\{32\}$' "$tmp/list")" \
  -eq 4 ] || { cat "$tmp/list" >&2; fail "an export has no description"; }
[ "$(nbdinfo --size "$(uri gamma)")" -eq $((16 << 20)) ] ||
    fail "gamma is not 16 MiB"
"${X[@]}" absent "$sock" "" || fail "the default export is served"
"${X[@]}" absent "$sock" delta || fail "an undeclared export is served"
grep -q 'no such export' "$tmp/pid.log" ||
    fail "the server did not say why it refused"

say "2. three exports under concurrent verified I/O"
declare -A vpid
for e in alpha beta gamma; do
    mkdir -p "$tmp/v-$e"
    conns=4 pages=1024
    [ "$e" = alpha ] || conns=2
    [ "$e" = gamma ] && pages=512
    start_verifier "$(uri "$e")" "$tmp/v-$e" --conns "$conns" \
        --region-pages "$pages" --seed "${#e}"
    vpid[$e]=$VERIFIER_PID
done
sleep 8
for e in alpha beta gamma; do
    VERIFIER_PID=${vpid[$e]}
    stop_verifier "$tmp/v-$e"
    [ "$VERIFIER_RC" -eq 0 ] || fail "$e: the verifier found errors"
    ops=$("$PYTHON" -c 'import json, sys
print(json.load(open(sys.argv[1]))["ops"])' "$tmp/v-$e/verifier.report")
    say "   $e: $ops verified operations, 0 mismatches"
    [ "$ops" -ge 100 ] || fail "$e: too few operations to mean anything"
done

say "3. a quota holds to the page"
"${X[@]}" quota "$sock" quota alpha || fail "the quota did not hold"
for e in alpha beta gamma; do
    "${X[@]}" write "$sock" "$e" 7 300 || fail "$e: writing failed"
done

say "4. a restart keeps every export's pages and the quota's count"
stop_nbdkit "$NBDKIT_PID"
start "${devs[@]}" admin=off "${decls[@]}"
grep -q 'clean shutdown' "$tmp/pid.log" || fail "no clean restart"
for e in alpha beta gamma; do
    "${X[@]}" verify "$sock" "$e" 7 300 || fail "$e: pages lost"
done
"${X[@]}" at-quota "$sock" quota || fail "the quota lost its count"

say "5. an export left undeclared is kept, not served"
stop_nbdkit "$NBDKIT_PID"
start "${devs[@]}" admin=off export=alpha,size=32M export=beta,size=32M
grep -q 'export: gamma: in the pool but not declared: not served' \
     "$tmp/pid.log" || fail "no notice for gamma"
"${X[@]}" absent "$sock" gamma || fail "gamma is served"
"${X[@]}" write "$sock" alpha 8 2000 || fail "alpha: writing failed"
stop_nbdkit "$NBDKIT_PID"
start "${devs[@]}" admin=off "${decls[@]}"
grep -q 'export: beta: quota now 25165824 bytes, as declared (the pool had none)' \
     "$tmp/pid.log" || fail "no notice of beta's quota coming back"
"${X[@]}" verify "$sock" gamma 7 300 || fail "gamma: pages lost"
"${X[@]}" verify "$sock" alpha 8 2000 || fail "alpha: pages lost"
stop_nbdkit "$NBDKIT_PID"
say "PASS"
