#!/usr/bin/env bash
# swapdrum: measure nbdkit's hang-up hazard (RHBZ#2173054).
#
#   bench/hangup-hazard.sh PLUGIN_SO [ROUNDS]
#
# For each thread model, start nbdkit with the swapdrum plugin behind
# --filter=delay (so that requests are still in flight), connect, queue
# 32 writes, and exit without an NBD disconnect; count the servers that
# died (process gone or a zombie).  On nbdkit < 1.33.10, parallel=true
# dies in a good share of the rounds; the default must never.
set -u
plugin=${1:?usage: $0 PLUGIN_SO [ROUNDS]}
rounds=${2:-10}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cat > "$dir/hangup.py" <<'PY'
import nbd, os, sys, time
h = nbd.NBD()
h.connect_unix(sys.argv[1])
buf = nbd.Buffer.from_bytearray(bytearray(4096))
for i in range(32):
    h.aio_pwrite(buf, i * 4096)
t = time.time()
while (h.aio_in_flight() > 0 and
       h.aio_get_direction() & nbd.AIO_DIRECTION_WRITE and
       time.time() - t < 1):
    h.poll(0)
time.sleep(0.005)
os._exit(0)
PY

# dead PID: true if the process is gone or a zombie.
dead () {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [ "$st" = Z ]
}

for mode in default parallel=true; do
  died=0
  for i in $(seq "$rounds"); do
    rm -f "$dir/sock" "$dir/dev"
    args=("$plugin" "$dir/dev,create=16M" wdelay=20ms)
    [ "$mode" = default ] || args+=("$mode")
    nbdkit -U "$dir/sock" -f --filter=delay "${args[@]}" 2>"$dir/log" &
    pid=$!
    for _ in $(seq 50); do [ -S "$dir/sock" ] && break; sleep 0.1; done
    /usr/bin/python3 "$dir/hangup.py" "$dir/sock"
    sleep 0.5
    dead "$pid" && died=$((died + 1))
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  echo "$(nbdkit --version) $mode: $died of $rounds servers died"
done
