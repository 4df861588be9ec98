#!/usr/bin/env bash
# tcpr-sync benchmark: updates per second through send -> recv (store on
# tmpfs-or-disk under $TMPDIR), both with -R (real-time priority), lag from
# an update's arrival at the sender to the backup's acknowledgement (the
# store written) p50/p99, bytes on the wire per update, and the stored
# state checked against the generator's. Targets from issue 3: lag p99 <= 1 ms at 10,000
# updates/s, <= 40 bytes per update.
# usage: test/bench/tcpr-sync.sh [sessions [updates_per_s [seconds]]]  (root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$(dirname "$here")")
BIN=${NONSTOP_BIN:-$top/build/bin}
S=${1:-1000} RATE=${2:-10000} SECS=${3:-5}
P=ts$$
tmp=$(mktemp -d)
cleanup() {
	for pid in $(ip netns pids $P 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
	sleep 0.2
	for pid in $(ip netns pids $P 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del $P 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add $P
ip -n $P link set lo up
head -c 32 /dev/urandom >"$tmp/key"; chmod 600 "$tmp/key"
mkdir "$tmp/store"

# the generator: S full records, then RATE sync records a second spread
# over the sessions, paced in 1 ms steps
cat >"$tmp/gen.py" <<'PY'
import socket, struct, sys, time
S, rate, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
out = sys.stdout.buffer
off = [0] * S
for i in range(S):
    la = socket.inet_pton(socket.AF_INET, '192.0.2.100').ljust(16, b'\0')
    pa = socket.inet_pton(socket.AF_INET, '192.0.2.1').ljust(16, b'\0')
    out.write(struct.pack('>BBHIBBBBHHHH16s16sIIQQQIIII', 1, 1, 100, i + 1,
        4, 7, 7, 7, 1448, 7, 10000 + i, 0, la, pa, 1000 + i, 2000 + i,
        0, 0, 0, 1, 0, 65536, 65536))
out.flush()
time.sleep(0.5)
per_ms = max(1, rate // 1000)
t0 = time.monotonic(); n = 0; k = 0
while time.monotonic() - t0 < secs:
    buf = bytearray()
    for _ in range(per_ms):
        off[k] += 100
        buf += struct.pack('>BBHIQQQIHBB', 1, 2, 40, k + 1, off[k], off[k], off[k],
            1 + n, 64, 0, 0)
        k = (k + 1) % S; n += 1
    out.write(buf); out.flush()
    t = t0 + n / rate
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
print(n, file=sys.stderr)
with open(sys.argv[4], 'w') as f:
    for i in range(S):
        f.write('%d %d\n' % (i + 1, off[i]))
PY

ip netns exec $P "$BIN/tcpr-sync" -R -q -k "$tmp/key" -s "$tmp/store" recv 127.0.0.1:7001 &
sleep 0.5
ip netns exec $P sh -c "python3 '$tmp/gen.py' $S $RATE $SECS '$tmp/want' 2>'$tmp/n' | '$BIN/tcpr-sync' -R -t 50 -k '$tmp/key' send 127.0.0.1:7001" 2>"$tmp/send.err" || { echo "send failed:"; cat "$tmp/send.err"; } >&2
n=$(cat "$tmp/n")
line=$(grep -o "datagrams=.*" "$tmp/send.err") || { cat "$tmp/send.err" "$tmp/n" >&2; exit 1; }
echo "sessions=$S updates=$n rate=$RATE/s seconds=$SECS"
echo "$line"
dg=$(echo "$line" | sed 's/datagrams=\([0-9]*\).*/\1/')
awk -v n="$n" -v s="$S" -v dg="$dg" -v l="$line" 'BEGIN {
	split(l, f, /[ =]/)
	for (i = 1; i in f; i += 2) v[f[i]] = f[i + 1]
	bytes = v["bytes_per_record"] * v["records"]
	printf "bytes_per_update=%.1f (target <= 40; all updates incl. the %d full records, IP+UDP headers counted)\n", bytes / (n + s), s
	printf "lag_p99_us=%d (target <= 1000) lag_p50_us=%d\n", v["lag_us_p99"], v["lag_us_p50"]
	printf "coalescing: %.1f updates per datagram, %d records shipped for %d updates (state, not log)\n", (n + s) / dg, v["records"], n + s
}'
"$BIN/tcpr-sync" -s "$tmp/store" list >"$tmp/list"
wc -l <"$tmp/list" | sed "s/^/stored_sessions=/"
# every session's stored offsets are the last ones sent
sed -n 's/.* sid=\([0-9]*\) .* rcv=\([0-9]*\) snd_una=\([0-9]*\) snd_nxt=\([0-9]*\) .*/\1 \2 \3 \4/p' "$tmp/list" |
awk 'NR == FNR { want[$1] = $2; next } { if ($2 != want[$1] || $3 != want[$1] || $4 != want[$1]) bad++; n++ }
	END { printf "stored_state=%s (%d sessions checked against the generator)\n", bad || n == 0 ? "WRONG" : "exact", n; exit bad > 0 }' "$tmp/want" -
