#!/usr/bin/env bash
# nonstop demo (make demo): part 1, ha-group.sh, a three-node ha-beat
# failover group; part 2, cluster.sh, a whole load cluster built from the
# directory with a balancer failover; part 3, chat.sh, a live chat session
# that survives the master's death (non-stop TCP). Each part cleans up after itself, also
# when interrupted. Run as root from the top of the tree after make.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "demo: fatal: run as root (network namespaces)" >&2; exit 100; }
child=
# shellcheck disable=SC2317 # called by the trap
stop() {
	[ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null
	exit 111
}
trap stop INT TERM
# A part runs in the background so that a signal here reaches it as SIGTERM.
part() {
	"$@" &
	child=$!
	wait "$child"
	local rc=$?
	child=
	return "$rc"
}
rc=0
start=$SECONDS
part "$here/ha-group.sh" || rc=$?
echo
part "$here/cluster.sh" || rc=$?
echo
part "$here/chat.sh" || rc=$?
echo "== demo finished in $((SECONDS - start)) s, exit $rc"
exit "$rc"
