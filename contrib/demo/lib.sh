# Shared by the demo's parts (sourced): namespaces on one bridge, their
# sweep, a bounded wait, and the HTTP client whose log makes the timeline.
# The caller sets P (this run's namespace prefix) and work (its folder).

# demo_lan HOST ADDR [HOST ADDR ...]: a bridge in ${P}sw and, per host, a
# namespace $P$HOST whose eth0 (ADDR/24) hangs on switch port p$HOST.
demo_lan() {
	ip netns add "${P}sw"
	ip -n "${P}sw" link add br0 type bridge
	ip -n "${P}sw" link set br0 up
	while [ $# -ge 2 ]; do
		ip netns add "$P$1"
		ip -n "$P$1" link set lo up
		ip -n "${P}sw" link add "p$1" type veth peer name eth0 netns "$P$1"
		ip -n "${P}sw" link set "p$1" master br0 up
		ip -n "$P$1" addr add "$2/24" dev eth0
		ip -n "$P$1" link set eth0 up
		shift 2
	done
}

# demo_sweep: kill every process in this run's namespaces, then delete them.
demo_sweep() {
	local ns pid
	disown -a 2>/dev/null
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P"); do
		for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns"
	done
}

# wait_for SECONDS CMD...: poll every 50 ms until CMD succeeds, bounded.
wait_for() {
	local n=$(($1 * 20)) k
	shift
	for ((k = 0; k < n; k++)); do "$@" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# demo_client: write $work/client.py. Run as: python3 client.py LOG STOP
# TIMEOUT. It makes a new connection to 192.0.2.100:80 every 20 ms (for at
# most 200 s, or until the file STOP exists) and logs "time body", or
# "time - Error" when there was no answer within TIMEOUT seconds.
demo_client() {
	cat >"$work/client.py" <<'PY'
import os, socket, sys, time
out, stop, limit = open(sys.argv[1], "w", buffering=1), sys.argv[2], float(sys.argv[3])
end = time.time() + 200
while time.time() < end and not os.path.exists(stop):
    t = time.time()
    try:
        s = socket.create_connection(("192.0.2.100", 80), timeout=limit)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        body = data.split(b"\r\n\r\n", 1)[-1].strip().decode() or "?"
    except (OSError, UnicodeDecodeError) as e:
        body = "- " + type(e).__name__
    out.write("%.6f %s\n" % (t, body))
    time.sleep(max(0, 0.02 - (time.time() - t)))
PY
}
