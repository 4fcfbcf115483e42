#!/usr/bin/env bash
# swapdrum
# Copyright (C) 2026 the swapdrum authors
# SPDX-License-Identifier: BSD-3-Clause
#
# Remote swap devices over TLS (nbds+unix:// URIs), against two nbdkit
# memory remotes that require TLS, with keys made here:
#   PSK:   --tls-psk=FILE; the URI names the user (swapdrum@) and the
#          key file (tls-psk-file=);
#   X.509: --tls-certificates=DIR --tls-verify-peer, a CA, a server and
#          a client certificate made with certtool (skipped, with a
#          message, if certtool is missing); the URI names the client's
#          directory (tls-certificates=).
# Checks:
#   * a start naming the PSK remote with a wrong key fails with one
#     clear error line (TLS failed, wrong key...) and leaves nothing:
#     not the local file it was to create, not its admin socket, not a
#     byte on the remote;
#   * the pool put on the PSK remote: 64 pages written through the
#     export are on the remote (read directly, with the key) and read
#     back; the X.509 remote added with swapdrumctl -a at priority -1
#     takes the next 64; swapdrumctl -d of it moves them back to the
#     PSK remote, and the whole export reads back;
#   * swapdrumctl -a with a wrong PSK key, a wrong user, or client
#     certificates of another CA fails (exit 1, one line, EACCES or
#     EINVAL) and the pool does not change;
#   * the same remote named again is refused with EBUSY: its parameters
#     in another order, a copy of its key file, its socket path or key
#     file spelled with "//" or "/./".
#
# libnbd (1.14) checks the server's certificate against a host name
# only over TCP: over a unix socket, only the server's --tls-verify-peer
# turns a wrong client certificate away, which is what this test uses.

set -euo pipefail
source "${SRCDIR:-$(dirname "$0")}/functions.sh"
source "$SRCDIR/remote-functions.sh"

requires_plugin
requires_python_nbd
requires_swapdrumctl
nbdkit --dump-config 2>/dev/null | grep -qx 'tls=yes' ||
    skip "nbdkit was built without TLS"
"$PYTHON" -c 'import nbd, sys; sys.exit(not nbd.NBD().supports_tls())' ||
    skip "libnbd was built without TLS"

sock=$tmp/nbd.sock
local_file=$tmp/local

# ---- keys ----------------------------------------------------------------

hexkey () { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
echo "swapdrum:$(hexkey)" > "$tmp/keys.psk"
echo "swapdrum:$(hexkey)" > "$tmp/wrong.psk"
cp "$tmp/keys.psk" "$tmp/copy.psk"
chmod 0600 "$tmp"/*.psk

have_x509=
if command -v certtool >/dev/null 2>&1; then
    # ECDSA keys: a few milliseconds each, where RSA takes seconds.
    pki=$tmp/pki
    mkdir -p "$pki/ca" "$pki/server" "$pki/client" "$pki/other"
    key () { certtool --generate-privkey --key-type=ecdsa --outfile "$1" \
                 >/dev/null 2>&1; }
    cert ()                     # cert OUT KEY TEMPLATE [CA-CERT CA-KEY]
    {
        if [ $# -eq 3 ]; then
            certtool --generate-self-signed --load-privkey "$2" \
                --template "$3" --outfile "$1" >/dev/null 2>&1
        else
            certtool --generate-certificate --load-privkey "$2" \
                --load-ca-certificate "$4" --load-ca-privkey "$5" \
                --template "$3" --outfile "$1" >/dev/null 2>&1
        fi
    }
    printf 'cn = swapdrum test CA\nca\ncert_signing_key\nexpiration_days = 2\n' \
        > "$pki/ca.info"
    printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n' \
        > "$pki/server.info"
    printf 'cn = swapdrum\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n' \
        > "$pki/client.info"
    key "$pki/ca/key.pem"
    cert "$pki/ca/ca-cert.pem" "$pki/ca/key.pem" "$pki/ca.info"
    for who in server client; do
        key "$pki/$who/$who-key.pem"
        cert "$pki/$who/$who-cert.pem" "$pki/$who/$who-key.pem" \
            "$pki/$who.info" "$pki/ca/ca-cert.pem" "$pki/ca/key.pem"
        cp "$pki/ca/ca-cert.pem" "$pki/$who/"
    done
    # Another CA, and a client certificate of its own.
    key "$pki/other/key.pem"
    cert "$pki/other/ca-cert.pem" "$pki/other/key.pem" "$pki/ca.info"
    key "$pki/other/client-key.pem"
    cert "$pki/other/client-cert.pem" "$pki/other/client-key.pem" \
        "$pki/client.info" "$pki/other/ca-cert.pem" "$pki/other/key.pem"
    [ -s "$pki/server/server-cert.pem" ] && [ -s "$pki/other/client-cert.pem" ] ||
        fail "certtool did not make the certificates"
    have_x509=yes
else
    say "certtool (gnutls-bin) is missing: the X.509 cases are skipped"
fi

# ---- the remotes ---------------------------------------------------------

start_remote_nbdkit psk "$tmp/psk.sock" --tls=require \
    --tls-psk="$tmp/keys.psk" memory 1M
psk_uri () { echo "nbds+unix://${2-swapdrum}@/?socket=$tmp/psk.sock&tls-psk-file=$1"; }
PSK=$(psk_uri "$tmp/keys.psk")
if [ -n "$have_x509" ]; then
    start_remote_nbdkit x509 "$tmp/x509.sock" --tls=require \
        --tls-certificates="$pki/server" --tls-verify-peer memory 1M
    x509_uri () { echo "nbds+unix:///?socket=$tmp/x509.sock&tls-certificates=$1"; }
    X509=$(x509_uri "$pki/client")
fi

cat > "$tmp/tls.py" <<'EOF'
import sys
import nbd
from nbdcheck import *

def remote(uri):
    h = nbd.NBD()
    h.set_uri_allow_local_file(True)
    h.connect_uri(uri)
    return h

def pattern_pages(h, seed):
    """Export offsets of the pages of pattern `seed` found on h."""
    found = set()
    buf = read(h, 0, h.get_size())
    for off in range(0, len(buf), PAGE):
        tag = parse_sector(buf[off:off + SECTOR])
        if tag and tag[0] == seed:
            found.add(tag[1])
    return found

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "write":                      # write SOCK SEED FIRST NPAGES
    h = connect(args[0])
    write_pattern(h, int(args[1]), int(args[2]) * PAGE, int(args[3]) * PAGE)
    h.flush()
elif cmd == "check":                    # check SOCK SEED FIRST NPAGES
    h = connect(args[0])
    check_pattern(h, int(args[1]), int(args[2]) * PAGE, int(args[3]) * PAGE)
elif cmd == "on-remote":                # on-remote URI SEED FIRST NPAGES
    seed, first, n = (int(a) for a in args[1:4])
    want = set(range(first * PAGE, (first + n) * PAGE, PAGE))
    got = pattern_pages(remote(args[0]), seed)
    if got != want:
        fail("%s: pages of pattern %d: %d of %d expected there, %d others"
             % (args[0], seed, len(got & want), n, len(got - want)))
elif cmd == "blank":                    # blank URI: the remote is all zeros
    h = remote(args[0])
    if any(read(h, 0, h.get_size())):
        fail("%s: not all zeros" % args[0])
EOF
tls () { "$PYTHON" "$tmp/tls.py" "$@"; }

# ---- a start with a wrong key changes nothing ----------------------------

say "a start with a wrong PSK key"
rc=0
nbdkit -U - "$PLUGIN" \
    "$local_file,create=$(page_file_size 16)" "$(psk_uri "$tmp/wrong.psk")" \
    --run true > "$tmp/bad.err" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "nbdkit started with a wrong key"
[ "$(wc -l < "$tmp/bad.err")" -eq 1 ] &&
    grep -qF "nbdkit: error: swap: $(psk_uri "$tmp/wrong.psk"): connect: TLS failed (wrong key, username or certificates?): " \
        "$tmp/bad.err" ||
    { cat "$tmp/bad.err"; fail "not one clear error line at start"; }
say "ok: $(cat "$tmp/bad.err")"
[ ! -e "$local_file" ] || fail "the failed start left $local_file"
[ ! -e "$SWAPDRUM_ADMIN" ] || fail "the failed start left its admin socket"
tls blank "$PSK"

# ---- pages go to the TLS remotes and come back ---------------------------

say "a pool on the PSK remote"
start_nbdkit "$sock" "$tmp/swapdrum.pid" "$PSK"
stats "$tmp/s.json"
[ "$(dev "$tmp/s.json" "$PSK" kind)" = nbd ] &&
    [ "$(dev "$tmp/s.json" "$PSK" flags)" = "INUSE,ENABLE" ] ||
    fail "the PSK remote: $(cat "$tmp/s.json")"
tls write "$sock" 1 0 64
tls check "$sock" 1 0 64
tls on-remote "$PSK" 1 0 64
stats "$tmp/s.json"
[ "$(dev "$tmp/s.json" "$PSK" used)" = 64 ] ||
    fail "the PSK remote holds $(dev "$tmp/s.json" "$PSK" used) pages, not 64"
say "ok: 64 pages on the PSK remote, read back"

if [ -n "$have_x509" ]; then
    say "the X.509 remote, added live at priority -1"
    ctl -a -p -1 "$X509" || fail "swapdrumctl -a of the X.509 remote failed"
    tls write "$sock" 2 64 64
    tls on-remote "$X509" 2 64 64
    tls on-remote "$PSK" 1 0 64
    tls check "$sock" 1 0 64
    tls check "$sock" 2 64 64
    say "ok: the next 64 pages on the X.509 remote, read back"
fi

# ---- refused additions change nothing -------------------------------------

# shape: the pool as `swapdrumctl --json -l` shows it, less I/O counters.
shape () { "$PYTHON" -c 'import adminclient, json, sys
print(json.dumps(adminclient.pool_shape(sys.argv[1])))' "$SWAPDRUM_ADMIN"; }
before=$(shape)

# refused WHAT ERRNO TEXT URI: swapdrumctl -a URI fails with one line
# holding TEXT and ending in (ERRNO) (ERRNO: an extended regex), and the
# pool stays as it was.
refused ()
{
    local what=$1 errno=$2 text=$3 uri=$4 rc=0
    ctl -a "$uri" > "$tmp/out" 2> "$tmp/err" || rc=$?
    if [ $rc -ne 1 ] || [ "$(wc -l < "$tmp/err")" -ne 1 ] ||
           ! grep -qF "$text" "$tmp/err" ||
           ! grep -qE "\\(($errno)\\)\$" "$tmp/err"; then
        echo "  exit $rc; stdout: $(cat "$tmp/out")"
        echo "  stderr: $(cat "$tmp/err")"
        fail "$what: expected exit 1, one line with '$text' and ($errno)"
    fi
    [ "$(shape)" = "$before" ] || fail "$what: the pool changed"
    say "ok: $what: $(cat "$tmp/err")"
}

tls_failed="connect: TLS failed (wrong key, username or certificates?): "
refused "a wrong PSK key" EACCES "$tls_failed" "$(psk_uri "$tmp/wrong.psk")"
refused "a user the key file does not have" "E[A-Z]+" \
    "username nobody was not found in PSK file" \
    "$(psk_uri "$tmp/keys.psk" nobody)"
busy="already in the pool as $PSK"
refused "the PSK remote, parameters swapped" EBUSY "$busy" \
    "nbds+unix://swapdrum@/?tls-psk-file=$tmp/keys.psk&socket=$tmp/psk.sock"
refused "the PSK remote with a copy of its key" EBUSY "$busy" \
    "$(psk_uri "$tmp/copy.psk")"
refused "the PSK remote, its socket spelled //" EBUSY "$busy" \
    "nbds+unix://swapdrum@/?socket=$tmp//psk.sock&tls-psk-file=$tmp/keys.psk"
refused "the PSK remote, its key spelled /./" EBUSY "$busy" \
    "$(psk_uri "$tmp/./keys.psk")"
if [ -n "$have_x509" ]; then
    refused "client certificates of another CA" EACCES "$tls_failed" \
        "$(x509_uri "$pki/other")"
    refused "the X.509 remote, its certificates spelled /./" EBUSY \
        "already in the pool as $X509" "$(x509_uri "$pki/./client")"
fi
tls check "$sock" 1 0 64

# ---- swap-off of a TLS remote ---------------------------------------------

if [ -n "$have_x509" ]; then
    say "swap-off of the X.509 remote"
    ctl -d "$X509" || fail "swapdrumctl -d of the X.509 remote failed"
    stats "$tmp/s.json"
    [ "$(dev "$tmp/s.json" "$X509" path)" = absent ] ||
        fail "the X.509 remote is still in the pool"
    tls on-remote "$PSK" 2 64 64
    tls check "$sock" 1 0 64
    tls check "$sock" 2 64 64
    say "ok: its pages moved to the PSK remote, and read back"
fi

stop_nbdkit "$NBDKIT_PID"
if grep -Ei "assert|abort|segmentation" "$tmp/swapdrum.pid.log"; then
    fail "the server log shows a crash (above)"
fi
say "PASS"
