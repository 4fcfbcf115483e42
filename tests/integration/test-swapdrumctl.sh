#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# swapdrumctl against fake-admin.py, a stand-in for the plugin's admin
# socket: listings and their units, --json, the requests -a, -d, -c,
# -A and -U send (the fake server logs them), dry runs, and that every
# failure exits non-zero with one clear line on stderr (1 for a failed
# command, 2 for a usage error).

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

: "${SWAPDRUMCTL:=$BUILDDIR/swapdrumctl}"
[ -x "$SWAPDRUMCTL" ] || fail "SWAPDRUMCTL=$SWAPDRUMCTL: not built"
[ -x "$PYTHON" ] || skip "$PYTHON not found"

sock=$tmp/admin.sock
log=$tmp/requests.log
out=$tmp/out
err=$tmp/err
FAKE_PID=

# start_fake: a fresh fake server (the two-device pool) and an empty
# request log.
start_fake ()
{
    local i
    [ -z "$FAKE_PID" ] || stop_nbdkit "$FAKE_PID"
    rm -f "$sock"
    : > "$log"
    "$PYTHON" "$SRCDIR/fake-admin.py" "$sock" "$log" 2>"$tmp/fake.err" &
    FAKE_PID=$!
    cleanup_fn stop_nbdkit "$FAKE_PID"
    for (( i = 0; i < 100; i++ )); do
        [ -S "$sock" ] && return 0
        kill -0 "$FAKE_PID" 2>/dev/null ||
            { cat "$tmp/fake.err" >&2; fail "fake-admin.py exited"; }
        sleep 0.1
    done
    fail "fake-admin.py did not create $sock"
}

# ctl ARGS...: run swapdrumctl on the fake server; stdout in $out,
# stderr in $err, exit status in $rc.
ctl ()
{
    rc=0
    "$SWAPDRUMCTL" -S "$sock" "$@" >"$out" 2>"$err" || rc=$?
}

show ()
{
    echo "  exit status $rc; stdout:"; sed 's/^/    | /' "$out"
    echo "  stderr:"; sed 's/^/    | /' "$err"
}

# ok DESCRIPTION ARGS...: swapdrumctl ARGS succeeds, nothing on stderr.
ok ()
{
    local what=$1
    shift
    ctl "$@"
    if [ $rc -ne 0 ] || [ -s "$err" ]; then
        show
        fail "$what: expected success"
    fi
}

# fails DESCRIPTION STATUS MESSAGE ARGS...: swapdrumctl ARGS exits with
# STATUS and prints exactly MESSAGE, one line, on stderr.
fails ()
{
    local what=$1 status=$2 message=$3
    shift 3
    ctl "$@"
    if [ $rc -ne "$status" ] || [ "$(wc -l < "$err")" -ne 1 ] ||
           [ "$(cat "$err")" != "$message" ]; then
        show
        fail "$what: expected exit $status and: $message"
    fi
    say "ok: $what: $message"
}

# usage_error DESCRIPTION REGEXP ARGS...: exit 2, one stderr line
# matching REGEXP, nothing sent to the server.
usage_error ()
{
    local what=$1 re=$2 before
    shift 2
    before=$(wc -l < "$log")
    ctl "$@"
    if [ $rc -ne 2 ] || [ "$(wc -l < "$err")" -ne 1 ] ||
           ! grep -Eq "^swapdrumctl: $re" "$err"; then
        show
        fail "usage error: $what: expected exit 2 and /$re/"
    fi
    [ "$(wc -l < "$log")" -eq "$before" ] ||
        fail "usage error: $what: a request was sent"
    say "ok: usage: $what: $(cat "$err")"
}

# same_output DESCRIPTION: $out is exactly stdin.
same_output ()
{
    if ! diff -u - "$out" > "$tmp/diff"; then
        cat "$tmp/diff"
        fail "$1: unexpected output"
    fi
}

# requests_are JSON...: the log holds exactly these requests (compared
# as JSON values), in this order.
requests_are ()
{
    "$PYTHON" - "$log" "$@" <<'EOF' || fail "unexpected requests"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(w) for w in sys.argv[2:]]
if got != want:
    print("  requests sent:", *map(json.dumps, got), sep="\n    ")
    print("  expected:", *map(json.dumps, want), sep="\n    ")
    sys.exit(1)
EOF
}

# json_lines N: $out is N lines, each a JSON object.
json_lines ()
{
    "$PYTHON" - "$out" "$1" <<'EOF' || fail "--json output"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == int(sys.argv[2]), f"{len(lines)} lines"
for l in lines:
    assert isinstance(json.loads(l), dict), l
EOF
}

# ---------------------------------------------------------------------
say "listings"
start_fake

ok "-l" -l
same_output "-l" <<'EOF'
Devices in priority order: lower priority numbers are preferred.
Device          1K-blocks  Used    Avail  Capacity  Priority  Kind  Flags         Bad
/srv/fast.swap     524284  4800   519484        1%         0  file  INUSE,ENABLE    0
/srv/slow.swap     524284     0   524284        0%         5  file  INUSE,ENABLE    0
Total             1048568  4800  1043768        0%                                  0

Export  State   1K-blocks  Quota  Reserve  Used  Tiers  Conns  Reads  Writes  Errors  Read-p99  Write-p99  Host
""      served     104856      -        -     0  all        0      0       0       0         -          -  -
EOF
cp "$out" "$tmp/default"
ok "-l -k" -l -k
diff -u "$tmp/default" "$out" || fail "-l -k differs from -l"
BLOCKSIZE=1K ok "BLOCKSIZE=1K -l" -l
diff -u "$tmp/default" "$out" || fail "BLOCKSIZE=1K -l differs from -l"

ok "-l -m" -l -m
same_output "-l -m" <<'EOF'
Devices in priority order: lower priority numbers are preferred.
Device          1M-blocks  Used  Avail  Capacity  Priority  Kind  Flags         Bad
/srv/fast.swap        511     4    507        1%         0  file  INUSE,ENABLE    0
/srv/slow.swap        511     0    511        0%         5  file  INUSE,ENABLE    0
Total                1023     4   1019        0%                                  0

Export  State   1M-blocks  Quota  Reserve  Used  Tiers  Conns  Reads  Writes  Errors  Read-p99  Write-p99  Host
""      served        102      -        -     0  all        0      0       0       0         -          -  -
EOF
ok "-l -g" -l -g
grep -q '^Device  *1G-blocks  *Used' "$out" || fail "-l -g: no 1G-blocks header"
grep -q '^Total  *0  *0  *0  *0%  *0$' "$out" || fail "-l -g: Total row"
ok "-lh" -lh
same_output "-lh" <<'EOF'
Devices in priority order: lower priority numbers are preferred.
Device          Size  Used  Avail  Capacity  Priority  Kind  Flags         Bad
/srv/fast.swap  512M  4.7M   507M        1%         0  file  INUSE,ENABLE   0B
/srv/slow.swap  512M    0B   512M        0%         5  file  INUSE,ENABLE   0B
Total           1.0G  4.7M  1019M        0%                                 0B

Export  State   Size  Quota  Reserve  Used  Tiers  Conns  Reads  Writes  Errors  Read-p99  Write-p99  Host
""      served  102M      -        -    0B  all        0      0       0       0         -          -  -
EOF
BLOCKSIZE=512 ok "BLOCKSIZE=512 -l" -l
grep -q '^/srv/fast.swap  *1048568  *9600  *1038968  *1%' "$out" ||
    { show; fail "BLOCKSIZE=512 -l: 512-byte blocks"; }
grep -q '^Device  *512-blocks ' "$out" || fail "BLOCKSIZE=512: header"
say "ok: -l, -k, -m, -g, -h, BLOCKSIZE"

ok "-s" -s
same_output "-s" <<'EOF'
total: 1048568 1K-blocks allocated, 4800 used, 1043768 available
export "": served, 0 used
EOF
ok "-s -m" -s -m
same_output "-s -m" <<'EOF'
total: 1023 1M-blocks allocated, 4 used, 1019 available
export "": served, 0 used
EOF
ok "-s -g" -s -g
same_output "-s -g" <<'EOF'
total: 0 1G-blocks allocated, 0 used, 0 available
export "": served, 0 used
EOF
ok "-sh" -s -h
same_output "-sh" <<'EOF'
total: 1.0G allocated, 4.7M used, 1019M available
export "": served, 0B used
EOF
say "ok: -s in every unit"

ok "-l --json" -l --json
json_lines 1
"$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and [d["path"] for d in r["devices"]] == \
    ["/srv/fast.swap", "/srv/slow.swap"], r
assert [x["name"] for x in r["exports"]] == [""], r
' "$out" || fail "-l --json: not the stats reply with the exports"
ok "-s --json" -s --json
json_lines 1
x='{"cmd":"exports"}'
requests_are '{"cmd":"stats"}' "$x" '{"cmd":"stats"}' "$x" \
    '{"cmd":"stats"}' "$x" '{"cmd":"stats"}' "$x" '{"cmd":"stats"}' "$x" \
    '{"cmd":"stats"}' "$x" '{"cmd":"stats"}' "$x" \
    '{"cmd":"summary"}' "$x" '{"cmd":"summary"}' "$x" \
    '{"cmd":"summary"}' "$x" '{"cmd":"summary"}' "$x" \
    '{"cmd":"stats"}' "$x" '{"cmd":"summary"}' "$x"
say "ok: --json prints the replies, with the exports"

SWAPDRUM_ADMIN=$sock "$SWAPDRUMCTL" -s > "$out" || fail "SWAPDRUM_ADMIN"
grep -q '^total: ' "$out" || fail "SWAPDRUM_ADMIN: no summary"
say "ok: SWAPDRUM_ADMIN names the socket"

# ---------------------------------------------------------------------
say "-a, -c, -d"
start_fake

ok "-a" -a -p 3 -o maxactive=16,create=256M /srv/new.swap
[ ! -s "$out" ] || fail "-a printed something"
ok "-c" -c -p -1 /srv/new.swap
( cd "$tmp" && "$SWAPDRUMCTL" -S "$sock" -a rel.swap ) ||
    fail "-a of a relative path"
requests_are \
    '{"cmd":"on","path":"/srv/new.swap","priority":3,"maxactive":16,"create":268435456}' \
    '{"cmd":"ctl","path":"/srv/new.swap","priority":-1}' \
    "{\"cmd\":\"on\",\"path\":\"$tmp/rel.swap\"}"
ok "-l after -a, -c" -l
awk '/^$/ { exit } NR > 2 && $1 != "Total" { print $1, $6 }' "$out" > "$tmp/order"
diff -u - "$tmp/order" <<EOF || fail "-l after -a and -c: order"
/srv/new.swap -1
/srv/fast.swap 0
$tmp/rel.swap 0
/srv/slow.swap 5
EOF
say "ok: -a and -c send on and ctl; -l follows"

: > "$log"
ok "-d" -d /srv/fast.swap
same_output "-d" <<< "removed /srv/fast.swap (1200 pages moved)"
requests_are '{"cmd":"off","path":"/srv/fast.swap"}'
ok "-d --json" -d --json /srv/new.swap
json_lines 4
grep -q '"progress"' "$out" || fail "-d --json: no progress line"
tail -n 1 "$out" | grep -q '"moved": *1200' || fail "-d --json: reply"
say "ok: -d sends off and prints one line; --json the progress too"

if command -v script >/dev/null 2>&1; then
    start_fake
    # script(1) gives swapdrumctl a terminal: the bar is drawn there.
    script -qec "$SWAPDRUMCTL -S $sock -d /srv/fast.swap" /dev/null \
        > "$tmp/tty" 2>&1 || fail "-d on a terminal"
    grep -q 'moving pages \[#*\] 100% 1200/1200' "$tmp/tty" ||
        { cat -v "$tmp/tty"; fail "-d on a terminal: no progress bar"; }
    grep -q 'removed /srv/fast.swap (1200 pages moved)' "$tmp/tty" ||
        fail "-d on a terminal: no final line"
    say "ok: -d draws a progress bar on a terminal"
fi
ctl -d /srv/slow.swap
grep -q 'moving' "$out" "$err" && fail "progress bar drawn, not on a terminal"
ok "-l with one device" -l
grep -q '^Total' "$out" && fail "-l: a Total row for one device"
say "ok: no Total row for one device"

# ---------------------------------------------------------------------
say "errors"
start_fake

fails "-d of an unknown path" 1 \
    "swapdrumctl: off: /srv/a.swap: not in the pool (ENOENT)" \
    -d /srv/a.swap
[ ! -s "$out" ] || fail "-d of an unknown path: output on stdout"
fails "-c of an unknown path" 1 \
    "swapdrumctl: ctl: /srv/a.swap: not in the pool (ENOENT)" \
    -c -p 1 /srv/a.swap
fails "-a of a device in the pool" 1 \
    "swapdrumctl: swap: /srv/fast.swap: already in the pool (EBUSY)" \
    -a /srv/fast.swap
ok "-d of the empty device" -d /srv/slow.swap
fails "-d of the last device" 1 \
    "swapdrumctl: off: /srv/fast.swap: the other devices cannot hold its 1200 pages (ENOSPC)" \
    -d /srv/fast.swap

fails "no such socket" 1 \
    "swapdrumctl: $tmp/none.sock: connect: No such file or directory" \
    -S "$tmp/none.sock" -l
# A socket file nobody listens on.
"$PYTHON" -c 'import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/dead.sock"
fails "connection refused" 1 \
    "swapdrumctl: $tmp/dead.sock: connect: Connection refused" \
    -S "$tmp/dead.sock" -l
# A server that hangs up without replying.
"$PYTHON" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()
c, _ = s.accept(); c.recv(100); c.close()' "$tmp/rude.sock" &
rude=$!
for (( i = 0; i < 100; i++ )); do
    [ -S "$tmp/rude.sock" ] && break
    sleep 0.1
done
fails "hang-up" 1 \
    "swapdrumctl: $tmp/rude.sock: the server closed the connection without replying" \
    -S "$tmp/rude.sock" -s
wait "$rude"

# The default socket, where none is listening.
if [ "$(id -u)" -eq 0 ]; then
    default=/run/swapdrum/admin.sock
else
    default=$tmp/xdg/swapdrum/admin.sock
fi
if [ ! -e "$default" ]; then
    rc=0
    env -u SWAPDRUM_ADMIN XDG_RUNTIME_DIR="$tmp/xdg" "$SWAPDRUMCTL" -l \
        2>"$err" || rc=$?
    [ $rc -eq 1 ] && [ "$(cat "$err")" = \
        "swapdrumctl: $default: connect: No such file or directory" ] ||
        { show; fail "default socket"; }
    say "ok: default socket $default"
fi
if [ "$(id -u)" -ne 0 ] && [ ! -e "/tmp/swapdrum-$(id -u)/admin.sock" ]; then
    rc=0
    env -u SWAPDRUM_ADMIN -u XDG_RUNTIME_DIR "$SWAPDRUMCTL" -l 2>"$err" ||
        rc=$?
    grep -qx "swapdrumctl: /tmp/swapdrum-$(id -u)/admin.sock: connect: .*" \
        "$err" || { show; fail "default socket without XDG_RUNTIME_DIR"; }
fi

# ---------------------------------------------------------------------
say "-A and -U"
start_fake

conf=$tmp/swapdrum.conf
cat > "$conf" <<'EOF'
# the pool
/srv/fast.swap
/srv/slow.swap   priority=7          # was 5
	/srv/new.swap  priority=2 maxactive=16 create=256M

EOF
ok "-A -n" -A -n -f "$conf"
same_output "-A -n" <<'EOF'
would change the priority of /srv/slow.swap from 5 to 7
would add /srv/new.swap at priority 2
EOF
requests_are '{"cmd":"stats"}'
ok "-A -n --json" -A -n --json -f "$conf"
json_lines 3
grep -q '^{"dry_run":{"cmd":"on","path":"/srv/new.swap"' "$out" ||
    fail "-A -n --json: no dry_run on"
say "ok: -A -n sends nothing but stats"

: > "$log"
ok "-A" -A -f "$conf"
same_output "-A" <<'EOF'
changing the priority of /srv/slow.swap from 5 to 7
adding /srv/new.swap at priority 2
EOF
requests_are '{"cmd":"stats"}' \
    '{"cmd":"ctl","path":"/srv/slow.swap","priority":7}' \
    '{"cmd":"on","path":"/srv/new.swap","priority":2,"maxactive":16,"create":268435456}'
: > "$log"
ok "-A again" -A -f "$conf"
[ ! -s "$out" ] || fail "-A again: something to do"
requests_are '{"cmd":"stats"}'
say "ok: -A adds and sets priorities, then has nothing to do"

echo /srv/other.swap > "$tmp/other.conf"
: > "$log"
ok "-A -p" -A -p 4 -f "$tmp/other.conf"
requests_are '{"cmd":"stats"}' \
    '{"cmd":"on","path":"/srv/other.swap","priority":4}'

: > "$log"
ok "-U -n" -U -n -f "$conf"
same_output "-U -n" <<'EOF'
would remove /srv/fast.swap
would remove /srv/slow.swap
would remove /srv/new.swap
EOF
requests_are '{"cmd":"stats"}'
: > "$log"
ok "-U" -U -f "$conf"
same_output "-U" <<'EOF'
removed /srv/fast.swap (1200 pages moved)
removed /srv/slow.swap (0 pages moved)
removed /srv/new.swap (1200 pages moved)
EOF
requests_are '{"cmd":"stats"}' \
    '{"cmd":"off","path":"/srv/fast.swap"}' \
    '{"cmd":"off","path":"/srv/slow.swap"}' \
    '{"cmd":"off","path":"/srv/new.swap"}'
say "ok: -U removes the listed devices"

# -U goes on after a refused request and fails at the end: other.swap,
# now holding every page, cannot be removed as new.swap has one page.
printf '/srv/other.swap\n/srv/new.swap create=8K\n' > "$tmp/u.conf"
ok "-A" -A -f "$tmp/u.conf"
fails "-U of the last device" 1 \
    "swapdrumctl: off: /srv/other.swap: the other devices cannot hold its 1200 pages (ENOSPC)" \
    -U -f "$tmp/u.conf"
ok "-U left the others" -l
grep -q '^/srv/new.swap' "$out" && fail "-U stopped at the first failure"
grep -q '^/srv/other.swap' "$out" || fail "-U removed the refused device"

# Config files that cannot be parsed: file:line, nothing sent.
bad ()
{
    local what=$1 message=$2 before
    printf "$3" > "$tmp/bad.conf"
    before=$(wc -l < "$log")
    fails "config: $what" 1 "swapdrumctl: $tmp/bad.conf:$message" \
        -A -f "$tmp/bad.conf"
    [ "$(wc -l < "$log")" -eq "$before" ] ||
        fail "config: $what: a request was sent"
}
bad "bad number" "2: priority: high: not a number" \
    '/srv/a.swap\n/srv/b.swap priority=high\n'
bad "unknown option" "1: unknown option color (priority, maxactive, create, timeout or direct)" \
    '/srv/a.swap color=red\n'
bad "not key=value" "3: option fast has no value" \
    '\n# x\n/srv/a.swap fast\n'
bad "relative path" "1: a.swap: not an absolute path" 'a.swap\n'
bad "listed twice" "2: /srv/a.swap: listed twice (first at line 1)" \
    '/srv/a.swap\n/srv/a.swap priority=1\n'
bad "out of range" "1: maxactive: 0: out of range (1 to 1024)" \
    '/srv/a.swap maxactive=0\n'
bad "bad size" "1: create: 1X: not a size (suffix b, K, M, G, T or P)" \
    '/srv/a.swap create=1X\n'
printf '# nothing\n\n' > "$tmp/empty.conf"
fails "empty config" 1 "swapdrumctl: $tmp/empty.conf: no devices listed" \
    -A -f "$tmp/empty.conf"
fails "missing config" 1 \
    "swapdrumctl: $tmp/nofile: No such file or directory" \
    -U -f "$tmp/nofile"

# ---------------------------------------------------------------------
say "usage"

usage_error "unknown option" "unknown option -x" -x
usage_error "unknown long option" "unknown option --bogus" --bogus
usage_error "missing argument" "option -p needs an argument" -a /x -p
usage_error "no command" "no command" -k
usage_error "two commands" "-l and -d cannot be used together" -l -d /x
usage_error "-c without -p" "-c needs -p PRIORITY" -c /x
usage_error "-a without path" "PATH missing" -a
usage_error "-d with two paths" "one PATH only" -d /x /y
usage_error "-l with a path" "unexpected operand" -l /x
usage_error "bad -p" "-p: x: not a number" -a -p x /x
usage_error "-p out of range" "-p: 2000000: out of range" -c -p 2000000 /x
usage_error "bad -o" "-o: unknown option color" -a -o color=red /x
usage_error "-o with -d" "-o goes with -a, or -c -e" -d -o maxactive=2 /x
usage_error "-n with -l" "-f and -n go with -A or -U" -l -n
usage_error "-k with -a" "-k, -m, -g and -h go with -l or -s" -a -k /x
usage_error "-p with -U" "-p goes with -a, -c or -A" -U -p 1
usage_error "-Z with two exports" "one EXPORT only" -Z a b
usage_error "-Z with -p" "-p goes with -a, -c or -A" -Z -p 1 a
usage_error "-e with -s" "-e goes with -a, -d, -c or -l" -s -e
usage_error "-c -e without -o" "-c -e needs -o OPTIONS" -c -e x
usage_error "-e with -p" "-p goes with devices, not -e" -c -e -p 1 -o quota=1G x
usage_error "-a -e without a spec" "NAME,size=SIZE missing" -a -e
usage_error "-d -e with two names" "one export only" -d -e a b
usage_error "-F without -e" "-F goes with -d -e" -d -F /x
usage_error "-a -e with -o" "-a -e takes its options in NAME,size=SIZE" \
    -a -e -o quota=1M a,size=1M

ok "-V" -V
grep -Eq '^swapdrumctl [0-9]+\.[0-9]+\.[0-9]+ \(admin protocol 1\)$' "$out" ||
    fail "-V: $(cat "$out")"
ok "--help" --help
grep -q -- '-A \[-n\]' "$out" || fail "--help: no usage"
say "ok: -V and --help"

say "PASS"
