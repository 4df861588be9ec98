#!/usr/bin/env bash
# nonstop demo, part 3: a live chat session that survives the master's
# death. The master h2 runs the chat room (contrib/tcpr/tcpr-chatd, on
# libtcpr) on the virtual IP; tcpr-capture | tcpr-sync send keep the
# backup h3's session store (tcpr-sync recv) up to date. Alice and Bob
# chat from h1. The master crashes mid-conversation, Alice writes into
# the outage; h3 restores the sessions (tcpr-restore), runs the room on
# them and takes the address: the conversation goes on, on the same
# connections. Run as root from the top of the tree after `make`.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${NONSTOP_BIN:-$top/build/bin}
[ "$(id -u)" -eq 0 ] || { echo "demo: fatal: run as root (network namespaces)" >&2; exit 100; }

P=nsdemo$$
work=$(mktemp -d /tmp/nonstop-demo.XXXXXX)
# shellcheck source=contrib/demo/lib.sh
. "$top/contrib/demo/lib.sh"
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	demo_sweep
	if [ -n "${DEMO_KEEP:-}" ]; then echo "demo: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 111' INT TERM

echo "== part 3: a live chat session survives the master's death (tcpr-capture, tcpr-sync, tcpr-restore, libtcpr)"
for t in tcpr-capture tcpr-sync tcpr-restore tcpr-chatd garp-send; do
	[ -x "$bin/$t" ] || { echo "   SKIPPED: $t not built"; exit 0; }
done
command -v iptables >/dev/null || { echo "   SKIPPED: iptables not installed"; exit 0; }

VIP=192.0.2.100
demo_lan h1 192.0.2.1 h2 192.0.2.2 h3 192.0.2.3
ip -n "${P}h2" addr add $VIP/24 dev eth0
head -c 32 /dev/urandom >"$work/key"
chmod 600 "$work/key"
mkdir -p "$work/store"
t0=$EPOCHREALTIME
mark() { echo "$EPOCHREALTIME [op]    $*" >>"$work/log"; }
# hx HOST CMD...: in the background on HOST, stderr to $work/HOST.err
hx() { local h=$1; shift; ip netns exec "$P$h" "$@" </dev/null >/dev/null 2>>"$work/$h.err" 3>&- & disown; }

hx h3 "$bin/tcpr-sync" -k "$work/key" -s "$work/store" recv 7001
hx h2 "$bin/tcpr-chatd" $VIP 5555
if ! wait_for 5 grep -q "receiving" "$work/h3.err" || ! wait_for 5 grep -q "ready" "$work/h2.err"; then
	echo "demo: fatal: the pair did not start" >&2
	cat "$work"/*.err >&2
	exit 111
fi
hx h2 sh -c "\"$bin/tcpr-capture\" -p 5555 | \"$bin/tcpr-sync\" -t 20 -k \"$work/key\" send 192.0.2.3:7001"
wait_for 5 grep -q "capturing" "$work/h2.err" || { echo "demo: fatal: no capture" >&2; exit 111; }
echo "   h2 (master) runs the chat room tcpr-chatd on $VIP:5555 and records its sessions"
echo "   to h3 (backup) with tcpr-capture | tcpr-sync; Alice and Bob chat from h1"
echo

# The members: one process, two ordinary TCP connections; a transcript.
cat >"$work/chat.py" <<'PY'
import os, socket, sys, time
vip, d = sys.argv[1], sys.argv[2]
log = open(os.path.join(d, 'log'), 'a', buffering=1)
def note(s):
    log.write('%.6f %s\n' % (time.time(), s))
m = {}
for who in ('alice', 'bob'):
    m[who] = socket.create_connection((vip, 5555), timeout=20)
port = {w: m[w].getsockname()[1] for w in m}
buf = {w: b'' for w in m}
wrote = {}
def say(who, text):
    wrote[text] = time.time()
    m[who].sendall(('%s: %s\n' % (who, text)).encode())
    note('[%-5s] > %s' % (who, text))
def hear(who):
    while b'\n' not in buf[who]:
        b = m[who].recv(4096)
        if not b:
            raise EOFError('%s: connection closed' % who)
        buf[who] += b
    line, buf[who] = buf[who].split(b'\n', 1)
    line = line.decode()
    text = line.split(': ', 1)[1]
    note('[%-5s] < %s   (%.0f ms after it was written)' % (who, line, (time.time() - wrote[text]) * 1000))
    return line
def wait_file(name):
    for _ in range(2000):
        if os.path.exists(os.path.join(d, name)):
            return
        time.sleep(0.01)
    raise TimeoutError('no ' + name)
try:
    lines = 0
    say('alice', 'hello Bob'); assert hear('bob') == 'alice: hello Bob'
    say('bob', 'hi Alice, all well on your side?'); assert hear('alice') == 'bob: hi Alice, all well on your side?'
    say('alice', 'yes; the server is on 192.0.2.100'); assert hear('bob') == 'alice: yes; the server is on 192.0.2.100'
    open(os.path.join(d, 'crash'), 'w').close()
    wait_file('crashed')
    say('alice', 'did the server just die? (written into the outage)')
    assert hear('bob') == 'alice: did the server just die? (written into the outage)'
    say('bob', 'it did, and here we are: same connection, nothing lost')
    assert hear('alice') == 'bob: it did, and here we are: same connection, nothing lost'
    same = all(m[w].getsockname()[1] == port[w] for w in m)
    print('ok: 5 lines, each delivered once and in order; alice and bob kept their connections '
          '(local ports %d and %d), no reset, no reconnect' % (port['alice'], port['bob']), flush=True)
except Exception as e:
    print('fail: %s: %s' % (type(e).__name__, e), flush=True)
    sys.exit(1)
PY
ip netns exec "${P}h1" python3 "$work/chat.py" $VIP "$work" >"$work/chat.out" 2>&1 3>&- &
chat=$!
wait_for 20 test -e "$work/crash" || { echo "demo: fatal: the chat did not start: $(cat "$work/chat.out")" >&2; exit 111; }
# shellcheck disable=SC2317 # called by wait_for
stored() { [ "$("$bin/tcpr-sync" -s "$work/store" list 2>/dev/null | wc -l)" -eq 2 ]; }
wait_for 5 stored || echo "demo: warning: the backup's store does not hold both sessions" >&2
sleep 0.3	# the last sync of the conversation so far

mark "CRASH: cut h2's cable and kill -9 every process on it"
ip -n "${P}sw" link set ph2 down
for pid in $(ip netns pids "${P}h2"); do kill -9 "$pid" 2>/dev/null; done
touch "$work/crashed"
mark "h3 takes over: tcpr-restore -s store tcpr-chatd $VIP 5555; then the address and a gratuitous ARP"
ip netns pids "${P}h3" | xargs -r kill 2>/dev/null	# the store is complete: stop receiving
: >"$work/h3.err"
hx h3 "$bin/tcpr-restore" -s "$work/store" "$bin/tcpr-chatd" $VIP 5555
wait_for 10 grep -q "ready" "$work/h3.err" || { echo "demo: fatal: no restore: $(cat "$work/h3.err")" >&2; exit 111; }
ip -n "${P}h3" addr add $VIP/24 dev eth0
ip netns exec "${P}h3" "$bin/garp-send" -c 2 -i eth0 $VIP >/dev/null 2>&1
sed -n 's/.*\(restored [0-9]* sessions in [0-9]* us\).*/\1/p; s/^tcpr-chatd: \(ready, .*\)/tcpr-chatd \1/p' "$work/h3.err" |
	while IFS= read -r l; do echo "$EPOCHREALTIME [h3]    $l" >>"$work/log"; done
mark "h3 holds $VIP and serves the room"
wait "$chat"
rc=$?

echo "== transcript ([alice]/[bob] > what a member wrote, < what it read; [op] the operator; [h3] the new master)"
sort -n "$work/log" | awk -v t0="$t0" '{ t = $1; sub(/^[^ ]* /, ""); printf "%8.3f s  %s\n", t - t0, $0 }'
echo
echo "== chat: $(cat "$work/chat.out")"
echo "   (Alice's line written into the outage reached Bob when her kernel resent it;"
echo "    test/bench/tcpr-firstbyte.sh measures that at 1000 sessions)"
exit "$rc"
