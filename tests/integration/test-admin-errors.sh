#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Bad input on the real admin socket: every bad request gets one clear
# error reply (ok false, the expected errno, one line of text), the
# connection stays usable, and the pool does not change (the stats
# that no I/O changes are compared before and after each case), while
# verifier.py keeps 4 NBD connections doing verified I/O throughout.
# The cases:
#   * malformed JSON of many kinds, unknown commands and members,
#     missing members, members of the wrong type (raw socket clients:
#     adminclient.py);
#   * lines of 65536 bytes (the limit: served), 65537 bytes and 1 MiB
#     (refused with EINVAL, the connection stays usable; the 1 MiB line
#     is an "off" that must not run);
#   * paths that do not exist (ENOENT), the same file under another
#     name (a symlink, a hard link, "..", "//" and "./" spellings:
#     EBUSY), removing or changing what is not in the pool (ENOENT),
#     priorities and maxactive out of range (EINVAL), with swapdrumctl
#     and raw JSON; a refused "on ... create" creates no file;
#   * an unprivileged user (nobody, through setpriv; the socket is
#     admin-mode=0666 in a directory that nobody may enter): every
#     command that changes the pool gets EPERM, the read-only ones
#     work;
#   * a client that connects and sends nothing, one that sends half a
#     line, one that sends requests and never reads the replies, and
#     one that hangs up before its reply: the others are still served;
#   * 200 clients connected at once, each with a request: each gets its
#     own reply.
#
# Relative paths in requests are the server's: it resolves them
# against its own working directory, which is not the client's
# (swapdrumctl makes its paths absolute for that reason; nbdkit -f
# keeps the directory it was started in, a daemonized nbdkit runs in
# /).  The server runs in $tmp/srv; raw clients run in $tmp/elsewhere, which has no
# file "a": a raw {"cmd":"on","path":"./a"} must find the server's
# $tmp/srv/a (already in the pool: EBUSY), and "./missing" must be
# ENOENT even though $tmp/elsewhere/missing exists.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl

srv=$tmp/srv pub=$tmp/pub elsewhere=$tmp/elsewhere
mkdir "$srv" "$pub" "$elsewhere"
A=$srv/a B=$srv/b
sock=$tmp/nbd.sock
export SWAPDRUM_ADMIN=$pub/admin.sock
# nobody reaches the socket: $tmp traversable, $pub readable.
chmod 0711 "$tmp"
chmod 0755 "$pub"


# shape: the part of `swapdrumctl --json -l` that I/O does not change.
shape ()
{
    ctl --json -l | "$PYTHON" -c 'import json, sys
for d in json.load(sys.stdin)["devices"]:
    print(d["path"], d["kind"], d["priority"], d["maxactive"],
          ",".join(d["flags"]), d["size"], d["pages"], d["drumoffset"])'
}

# unchanged WHAT: the pool's shape is still that of the start.
unchanged ()
{
    shape > "$tmp/shape.now" || fail "$1: swapdrumctl --json -l failed"
    diff -u "$tmp/shape0" "$tmp/shape.now" || fail "$1: the pool changed"
}

# ctl_fails WHAT STATUS ERRNO ARGS...: swapdrumctl ARGS exits STATUS
# with one line on stderr holding ERRNO (a regexp), and changes
# nothing.
ctl_fails ()
{
    local what=$1 status=$2 re=$3 rc=0
    shift 3
    ctl "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
    if [ $rc -ne "$status" ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] ||
           ! grep -Eq "^swapdrumctl: .*$re" "$tmp/err"; then
        echo "  exit $rc; stdout: $(cat "$tmp/out")"
        echo "  stderr: $(cat "$tmp/err")"
        fail "$what: expected exit $status and one line matching /$re/"
    fi
    unchanged "$what"
    say "ok: $what: $(cat "$tmp/err")"
}

# ---------------------------------------------------------------------
say "server in $srv: A (16M, priority 0) + B (16M, priority 5), admin-mode=0666"
cd "$srv"
start_nbdkit "$sock" "$tmp/nbdkit.pid" \
    "$A,create=16M" "$B,create=16M,priority=5" size=8M \
    admin="$SWAPDRUM_ADMIN" admin-mode=0666
[ "$(stat -c %a "$SWAPDRUM_ADMIN")" = 666 ] ||
    fail "admin socket mode $(stat -c %a "$SWAPDRUM_ADMIN"), expected 666"
cd "$tmp"
truncate -s 4M "$srv/spare"           # a file that is not in the pool
: > "$elsewhere/missing"              # exists here, not in $srv
ln -s a "$srv/link-to-a"
ln "$A" "$srv/hardlink-to-a"

say "verifier: 4 connections x 512 pages"
start_verifier "$sock" "$tmp" --conns 4 --region-pages 512 --prefill 0.5 \
    --seed 33
t_start=$EPOCHREALTIME

shape > "$tmp/shape0" || fail "swapdrumctl --json -l failed"
[ "$(wc -l < "$tmp/shape0")" -eq 2 ] || fail "expected 2 devices"
sed 's/^/    | /' "$tmp/shape0"

# ---------------------------------------------------------------------
say "raw requests (from $elsewhere)"
cat > "$tmp/raw.py" <<'EOF'
import json, os, sys
from adminclient import *

path, srv = sys.argv[1:3]
A, B = srv + "/a", srv + "/b"
base = pool_shape(path)
c = Client(path)
n = 0

def check(what, reply, errno_name, creates=None):
    """reply must be an errno_name error; the connection still works;
    the pool has not changed; the file `creates` was not created."""
    global n
    if not is_error(reply, errno_name):
        print("FAIL: %s: expected an %s error reply, got %r"
              % (what, errno_name, reply))
        sys.exit(1)
    r = c.request({"cmd": "nswap", "id": "after"})
    if r != {"ok": True, "nswap": 2, "id": "after"}:
        print("FAIL: %s: the connection is not usable after it: %r"
              % (what, r))
        sys.exit(1)
    if pool_shape(path) != base:
        print("FAIL: %s: the pool changed" % what)
        sys.exit(1)
    if creates and os.path.exists(creates):
        print("FAIL: %s: created %s" % (what, creates))
        sys.exit(1)
    n += 1
    print("  ok: %s: %s: %s" % (what, errno_name, reply["error"]))

def raw(what, line, errno_name="EINVAL"):
    c.send_line(line)
    check(what, c.recv(), errno_name)

def req(what, obj, errno_name, creates=None):
    obj = dict(obj, id=what)
    r = c.request(obj)
    if r.get("id") != what:
        print("FAIL: %s: reply without the request's id: %r" % (what, r))
        sys.exit(1)
    check(what, r, errno_name, creates)

# Malformed.
raw("not JSON", b"hello")
raw("truncated JSON", b'{"cmd": "stats"')
raw("truncated string", b'{"cmd": "sta')
raw("trailing comma", b'{"cmd": "stats",}')
raw("single quotes", b"{'cmd': 'stats'}")
raw("an array", b'["stats"]')
raw("a string", b'"stats"')
raw("a number", b"42")
raw("null", b"null")
raw("two objects on a line", b'{"cmd": "nswap"} {"cmd": "nswap"}')
raw("text after the object", b'{"cmd": "nswap"} x')
raw("invalid UTF-8", b'{"cmd": "nswap", "id": "\xff\xfe"}')
raw("a NUL byte", b'{"cmd": "ns\x00wap"}')
raw("an empty line", b"")
raw("a blank line", b"   \t ")
raw("a bare CR", b"\r")
raw("nested 10000 deep",
    b'{"cmd": "nswap", "id": ' + b"[" * 10000 + b"]" * 10000 + b"}")
raw("NaN", b'{"cmd": "ctl", "path": "%s", "priority": NaN}' % A.encode())
# Commands and members.
req("no cmd", {}, "EINVAL")
req("cmd not a string", {"cmd": 5}, "EINVAL")
req("cmd null", {"cmd": None}, "EINVAL")
req("unknown command", {"cmd": "format"}, "EINVAL")
req("command in capitals", {"cmd": "STATS"}, "EINVAL")
req("empty command", {"cmd": ""}, "EINVAL")
req("unknown member of stats", {"cmd": "stats", "verbose": True}, "EINVAL")
req("unknown member of off", {"cmd": "off", "path": A, "force": True},
    "EINVAL")
req("unknown member of on", {"cmd": "on", "path": srv + "/new1",
                             "create": "1M", "prio": 1}, "EINVAL",
    srv + "/new1")
# Missing members and wrong types.
req("on without path", {"cmd": "on"}, "EINVAL")
req("off without path", {"cmd": "off"}, "EINVAL")
req("ctl without path", {"cmd": "ctl", "priority": 1}, "EINVAL")
req("ctl without priority", {"cmd": "ctl", "path": A}, "EINVAL")
req("path a number", {"cmd": "off", "path": 5}, "EINVAL")
req("path null", {"cmd": "off", "path": None}, "EINVAL")
req("path a list", {"cmd": "on", "path": [A]}, "EINVAL")
req("path empty", {"cmd": "on", "path": ""}, "EINVAL")
req("path with a NUL", {"cmd": "off", "path": A + "\u0000x"}, "EINVAL")
req("priority a string", {"cmd": "ctl", "path": A, "priority": "1"},
    "EINVAL")
req("priority a float", {"cmd": "ctl", "path": A, "priority": 1.5},
    "EINVAL")
req("priority true", {"cmd": "ctl", "path": A, "priority": True}, "EINVAL")
req("create not a size", {"cmd": "on", "path": srv + "/new2",
                          "create": "lots"}, "EINVAL", srv + "/new2")
req("create 0", {"cmd": "on", "path": srv + "/new3", "create": 0},
    "EINVAL", srv + "/new3")
req("create negative", {"cmd": "on", "path": srv + "/new4", "create": -4096},
    "EINVAL", srv + "/new4")
req("create a list", {"cmd": "on", "path": srv + "/new5", "create": [1]},
    "EINVAL", srv + "/new5")
# Out of range.
req("ctl priority 1000001", {"cmd": "ctl", "path": A,
                             "priority": 1000001}, "EINVAL")
req("ctl priority -1000001", {"cmd": "ctl", "path": A,
                              "priority": -1000001}, "EINVAL")
req("ctl priority 2^64", {"cmd": "ctl", "path": A,
                          "priority": 2 ** 64}, "EINVAL")
req("on priority 2000000", {"cmd": "on", "path": srv + "/new6",
                            "create": "1M", "priority": 2000000},
    "EINVAL", srv + "/new6")
req("on maxactive 0", {"cmd": "on", "path": srv + "/new7", "create": "1M",
                       "maxactive": 0}, "EINVAL", srv + "/new7")
req("on maxactive 1025", {"cmd": "on", "path": srv + "/new8",
                          "create": "1M", "maxactive": 1025},
    "EINVAL", srv + "/new8")
# Paths.
req("on a path that does not exist", {"cmd": "on", "path": srv + "/nope"},
    "ENOENT", srv + "/nope")
req("on in a directory that does not exist",
    {"cmd": "on", "path": srv + "/nodir/x", "create": "1M"}, "ENOENT")
req("on ./missing (exists in the client's cwd only)",
    {"cmd": "on", "path": "./missing"}, "ENOENT", srv + "/missing")
req("on A again", {"cmd": "on", "path": A}, "EBUSY")
req("on B again, with create", {"cmd": "on", "path": B, "create": "1M"},
    "EBUSY")
req("on ./a (the server's a: its cwd is %s)" % srv,
    {"cmd": "on", "path": "./a"}, "EBUSY")
req("on a (relative)", {"cmd": "on", "path": "a"}, "EBUSY")
req("on a symlink to A", {"cmd": "on", "path": srv + "/link-to-a"}, "EBUSY")
req("on a hard link to A", {"cmd": "on", "path": srv + "/hardlink-to-a"},
    "EBUSY")
req("on A spelled with ..", {"cmd": "on",
                             "path": srv + "/../srv/./a"}, "EBUSY")
req("on A spelled with //", {"cmd": "on",
                             "path": srv.replace("/", "//") + "//a"},
    "EBUSY")
req("off a path that does not exist", {"cmd": "off", "path": srv + "/nope"},
    "ENOENT")
req("off a file not in the pool", {"cmd": "off", "path": srv + "/spare"},
    "ENOENT")
req("off ./missing", {"cmd": "off", "path": "./missing"}, "ENOENT")
req("ctl a file not in the pool", {"cmd": "ctl", "path": srv + "/spare",
                                   "priority": 1}, "ENOENT")
req("ctl a path that does not exist", {"cmd": "ctl", "path": srv + "/nope",
                                       "priority": 1}, "ENOENT")
# Long lines.
def padded(total):
    head = b'{"cmd": "nswap", "id": "'
    return head + b"x" * (total - len(head) - 2) + b'"}'
line = padded(65536)
assert len(line) == 65536
c.send_line(line)
r = c.recv()
if r.get("ok") is not True or r.get("id") != "x" * (65536 - 26):
    print("FAIL: a 65536-byte request (the limit) was not served: %.200r" % r)
    sys.exit(1)
print("  ok: a 65536-byte request is served")
raw("a 65537-byte line", padded(65537))
big = b'{"cmd": "off", "path": "%s", "id": "%s"}' % (
    A.encode(), b"y" * (1 << 20))
raw("a 1 MiB line (an off of A)", big)
raw("1 MiB of bytes that are no JSON", bytes(range(1, 256)).replace(
    b"\n", b"") * 4200)
# Several requests in one write: replies in order, ids kept.
c.send_raw(b'{"cmd":"nswap","id":1}\n{"cmd":"bogus","id":2}\n'
           b'{"cmd":"nswap","id":3}\nnot json\n{"cmd":"version","id":5}\n')
got = [c.recv() for _ in range(5)]
want = [(True, 1), (False, 2), (True, 3), (False, None), (True, 5)]
if [(r["ok"], r.get("id")) for r in got] != want:
    print("FAIL: pipelined requests: %r" % got)
    sys.exit(1)
print("  ok: 5 pipelined requests, 2 bad: 5 replies in order")
c.close()
print("%d bad requests refused, the pool unchanged" % n)
EOF
( cd "$elsewhere" &&
  timeout 120 "$PYTHON" "$tmp/raw.py" "$SWAPDRUM_ADMIN" "$srv" ) > "$tmp/raw.out" ||
    { cat "$tmp/raw.out"; fail "raw requests"; }
cat "$tmp/raw.out"
unchanged "raw requests"

# ---------------------------------------------------------------------
say "swapdrumctl"
ctl_fails "-a a missing file" 1 "ENOENT" -a "$srv/nope"
[ ! -e "$srv/nope" ] || fail "-a created $srv/nope"
ctl_fails "-a a symlink to A" 1 "EBUSY" -a "$srv/link-to-a"
ctl_fails "-a a hard link to A" 1 "EBUSY" -a "$srv/hardlink-to-a"
ctl_fails "-a ./srv/a (relative: made absolute by swapdrumctl)" 1 "EBUSY" -a ./srv/a
ctl_fails "-a -o create=1M A" 1 "EBUSY" -a -o create=1M "$A"
ctl_fails "-d a file not in the pool" 1 "ENOENT" -d "$srv/spare"
ctl_fails "-d a missing file" 1 "ENOENT" -d "$srv/nope"
ctl_fails "-c a file not in the pool" 1 "ENOENT" -c -p 1 "$srv/spare"
ctl_fails "-c -p 1000001 (refused before sending)" 2 "" -c -p 1000001 "$A"
ctl_fails "-a -p -1000001 (refused before sending)" 2 "" \
    -a -p -1000001 -o create=1M "$srv/new9"
[ ! -e "$srv/new9" ] || fail "-a created $srv/new9"

# ---------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    say "as nobody (uid 65534)"
    cp "$SWAPDRUMCTL" "$pub/swapdrumctl"
    cp "$SRCDIR/adminclient.py" "$pub/"
    chmod 0755 "$pub/swapdrumctl"
    chmod 0644 "$pub/adminclient.py"
    as_nobody () {
        timeout 120 setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
    }
    nobody_fails ()
    {
        local what=$1 rc=0
        shift
        as_nobody "$pub/swapdrumctl" "$@" > "$tmp/out" 2> "$tmp/err" ||
            rc=$?
        if [ $rc -ne 1 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] ||
               ! grep -q '^swapdrumctl: .*(EPERM)$' "$tmp/err"; then
            echo "  exit $rc; stdout: $(cat "$tmp/out")"
            echo "  stderr: $(cat "$tmp/err")"
            fail "nobody: $what: expected exit 1 and EPERM"
        fi
        unchanged "nobody: $what"
        say "ok: nobody: $what: $(cat "$tmp/err")"
    }
    nobody_fails "-a -o create=1M" -a -o create=1M "$pub/new"
    [ ! -e "$pub/new" ] || fail "nobody: -a created $pub/new"
    nobody_fails "-a A" -a "$A"
    nobody_fails "-d A" -d "$A"
    nobody_fails "-d a file not in the pool" -d "$srv/spare"
    nobody_fails "-c -p 3 A" -c -p 3 "$A"
    as_nobody "$pub/swapdrumctl" -l > "$tmp/out" ||
        fail "nobody: swapdrumctl -l failed"
    grep -q "^$A " "$tmp/out" && grep -q "^$B " "$tmp/out" ||
        fail "nobody: swapdrumctl -l: $(cat "$tmp/out")"
    as_nobody "$pub/swapdrumctl" -s > "$tmp/out" ||
        fail "nobody: swapdrumctl -s failed"
    grep -q "^total: $(( 2 * 4 * $(dev_pages $((16 << 20))) )) 1K-blocks allocated, " "$tmp/out" ||
        fail "nobody: swapdrumctl -s: $(cat "$tmp/out")"
    say "ok: nobody: swapdrumctl -l and -s work"
    ( cd "$pub" && as_nobody env PYTHONPATH="$pub" PYTHONDONTWRITEBYTECODE=1 \
          "$PYTHON" - "$SWAPDRUM_ADMIN" "$A" "$srv" ) <<'EOF' ||
import sys
from adminclient import *
path, A, srv = sys.argv[1:4]
c = Client(path)
for obj in ({"cmd": "on", "path": srv + "/new", "create": "1M"},
            {"cmd": "off", "path": A},
            {"cmd": "ctl", "path": A, "priority": 9},
            {"cmd": "ctl", "path": A, "priority": 99999999},
            {"cmd": "off", "path": "/nonexistent"}):
    r = c.request(obj)
    assert is_error(r, "EPERM"), (obj, r)
    print("  ok: nobody: %s: EPERM: %s" % (obj["cmd"], r["error"]))
for cmd in ("version", "nswap", "stats", "summary"):
    r = c.request({"cmd": cmd})
    assert r["ok"] is True, r
print("  ok: nobody: version, nswap, stats and summary answered")
EOF
        fail "nobody: raw requests"
    unchanged "nobody: raw requests"
else
    say "not root (or no setpriv): the checks as nobody are skipped"
fi

# ---------------------------------------------------------------------
say "idle, slow and rude clients; 200 clients at once"
t_crowd0=$EPOCHREALTIME
( cd "$elsewhere" &&
  timeout 120 "$PYTHON" - "$SWAPDRUM_ADMIN" "$A" ) > "$tmp/crowd.out" <<'EOF' ||
import selectors, socket, sys, time
from adminclient import *
path, A = sys.argv[1:3]

idle = Client(path)                      # connects, sends nothing
half = Client(path)                      # half a request, never finished
half.send_raw(b'{"cmd": "sta')
# Sends requests, never reads a reply: the server must not block on it.
deaf = Client(path)
deaf.sock.setblocking(False)
sent = 0
try:
    for i in range(20000):
        deaf.sock.send(b'{"cmd": "stats"}\n')
        sent += 1
except BlockingIOError:
    pass
# Hangs up before its reply.
for cmd in ("stats", "off"):
    rude = Client(path)
    rude.send_raw(b'{"cmd": "%s", "path": "/nonexistent"}\n' % cmd.encode()
                  if cmd == "off" else b'{"cmd": "stats"}\n' * 100)
    rude.close()
print("  %d requests sent by a client that reads nothing" % sent)
r = request(path, {"cmd": "nswap"}, timeout=10)
assert r == {"ok": True, "nswap": 2}, r
print("  ok: another client is served meanwhile")

# 200 clients at once: all connected before any request, then one
# request each (read-only ones, bad ones, and no-op ctls), then every
# reply collected.
N = 200
prio = {d["path"]: d["priority"]
        for d in request(path, {"cmd": "stats"})["devices"]}
clients = [Client(path) for _ in range(N)]
want = {}
for i, c in enumerate(clients):
    k = i % 5
    if k == 0:
        obj = {"cmd": "stats"}
    elif k == 1:
        obj = {"cmd": "nswap"}
    elif k == 2:
        obj = {"cmd": "summary"}
    elif k == 3:
        obj = {"cmd": "no-such-command"}
    else:
        obj = {"cmd": "ctl", "path": A, "priority": prio[A]}
    obj["id"] = i
    want[i] = k
    c.send(obj)
t0 = time.monotonic()
sel = selectors.DefaultSelector()
for i, c in enumerate(clients):
    c.sock.setblocking(False)
    sel.register(c.sock, selectors.EVENT_READ, i)
replies = {}
while len(replies) < N and time.monotonic() - t0 < 30:
    for key, _ in sel.select(timeout=1):
        i = key.data
        c = clients[i]
        try:
            data = c.sock.recv(1 << 20)
        except BlockingIOError:
            continue
        if not data:
            print("FAIL: client %d: connection closed without a reply" % i)
            sys.exit(1)
        c.buf += data
        if b"\n" in c.buf:
            line, c.buf = c.buf.split(b"\n", 1)
            replies[i] = json.loads(line)
            sel.unregister(c.sock)
dt = time.monotonic() - t0
if len(replies) < N:
    print("FAIL: %d of %d clients got no reply in 30 s: %s" %
          (N - len(replies), N, sorted(set(range(N)) - set(replies))[:20]))
    sys.exit(1)
for i, r in replies.items():
    k = want[i]
    assert r.get("id") == i, (i, r)
    if k == 3:
        assert is_error(r, "EINVAL"), (i, r)
    else:
        assert r.get("ok") is True, (i, r)
    if k == 0:
        assert len(r["devices"]) == 2, r
    if k == 1:
        assert r["nswap"] == 2, r
for c in clients:
    c.close()
print("  ok: %d clients at once: %d replies, each with its id, in %.2f s"
      % (N, N, dt))

# The idle and half clients got nothing and are still connected; the
# deaf one still has its replies coming.
assert not idle.pending(0.2), "the idle client got something"
assert not half.pending(0.2), "the half-line client got something"
half.send_raw(b'ts"}\n')
r = half.recv()
assert r.get("ok") is True and "devices" in r, r
print("  ok: the idle client got nothing; the half line, finished, "
      "is served")
deaf.close()
idle.close()
r = request(path, {"cmd": "nswap"}, timeout=10)
assert r == {"ok": True, "nswap": 2}, r
EOF
    { cat "$tmp/crowd.out"; fail "clients"; }
t_crowd1=$EPOCHREALTIME
cat "$tmp/crowd.out"
unchanged "clients"
ctl -s > "$tmp/out" || fail "swapdrumctl -s after the clients"

# ---------------------------------------------------------------------
stop_verifier "$tmp"
t_end=$EPOCHREALTIME
"$PYTHON" - "$tmp/verifier.report" "$t_start" "$t_end" "$t_crowd0" "$t_crowd1" <<'EOF' ||
import json, sys
from verifier import ops_between
r = json.load(open(sys.argv[1]))
t = [float(x) for x in sys.argv[2:]]
during = ops_between(r, t[0], t[1])
crowd = ops_between(r, t[2], t[3])
print("test-admin-errors: verifier: %d ops (%d while the bad requests were "
      "sent, %d during the client tests), %d mismatches, %d I/O errors, "
      "max latency %.3f s; final read-back of %d pages: %d wrong"
      % (r["ops"], during, crowd, r["mismatches"], r["errors"],
         r["max_latency"], r["final_pages_checked"], r["final_mismatches"]))
assert r["mismatches"] == 0 and r["errors"] == 0 and not r["crashed"]
assert r["final_mismatches"] == 0 and r["final_pages_checked"] == 2048
assert during > 200 and crowd > 0
EOF
    fail "verifier results"
[ "$VERIFIER_RC" -eq 0 ] || fail "the verifier exited with status $VERIFIER_RC"
unchanged "the end"
check_alive "$NBDKIT_PID" nbdkit
say "PASS"
