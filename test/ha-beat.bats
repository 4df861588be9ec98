#!/usr/bin/env bats
# ha-beat's command line and configuration: checks, refusals, exit codes.
# Group behaviour is in test/scenario/ha-failover.bats.

load lib/common

setup() {
	T=$BATS_TEST_TMPDIR
	make_key "$T/key" >/dev/null
	cat >"$T/ok.conf" <<-EOF
	# a good configuration
	group web
	interface eth0
	port 7400
	interval 5
	dead 3
	key $T/key
	node a 192.0.2.1 priority 100
	node b 192.0.2.2 priority 90
	node c 192.0.2.3 priority 80
	self a
	vip 192.0.2.100/24 2001:db8::100/64
	preempt yes
	lease 2
	announce 0 20 200
	hook master /bin/true "an argument with spaces"
	EOF
}

# bad DIRECTIVE...: the good config with the given lines appended.
bad() {
	cp "$T/ok.conf" "$T/bad.conf"
	printf '%s\n' "$@" >>"$T/bad.conf"
}

@test "-n accepts a good configuration" {
	run -0 $HA_BEAT -n -f "$T/ok.conf"
	[ "$output" = "ha-beat: configuration OK" ]
}

@test "-V prints the version" {
	run -0 $HA_BEAT -V
	[[ "$output" == "ha-beat "[0-9]* ]]
}

@test "usage errors exit 100 with a one-line usage" {
	run -100 $HA_BEAT
	[[ "$output" == "usage: ha-beat "* ]]
	run -100 $HA_BEAT -f "$T/ok.conf" extra
	run -100 $HA_BEAT -x -f "$T/ok.conf"
}

@test "a missing key file is refused: heartbeats are never unauthenticated" {
	sed '/^key /d' "$T/ok.conf" >"$T/bad.conf"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"no key: heartbeats must be authenticated"* ]]
	sed "s|^key .*|key $T/nonexistent|" "$T/ok.conf" >"$T/bad.conf"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"unable to read key $T/nonexistent: No such file"* ]]
}

@test "a key others can read, or a short one, is refused" {
	chmod 644 "$T/key"
	run -100 $HA_BEAT -n -f "$T/ok.conf"
	[[ "$output" == *"key file is accessible to others"* ]]
	printf 'short' >"$T/key"; chmod 600 "$T/key"
	run -100 $HA_BEAT -n -f "$T/ok.conf"
	[[ "$output" == *"key shorter than 16 bytes"* ]]
}

@test "bad configurations exit 100 naming the file, line and rule" {
	bad "frobnicate yes"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "ha-beat: fatal: $T/bad.conf:17: unknown directive 'frobnicate'" ]]

	bad "node d 192.0.2.999 priority 10"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"bad node address '192.0.2.999'"* ]]

	bad "node a 192.0.2.9 priority 10"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"node 'a' named twice"* ]]

	bad "node d 192.0.2.1 priority 10"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"shares an address"* ]]

	bad "interval 0"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"interval takes milliseconds"* ]]

	bad "interval 1000" "lease 1"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"lease must be at least twice interval x dead"* ]]

	bad "preempt maybe"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"preempt takes yes or no"* ]]

	bad "hook master relative/path"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"hook program must be an absolute path"* ]]

	bad "hook promote /bin/true"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"hook state must be master, backup, fault or stop"* ]]

	bad "witness 192.0.2.254"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"witness is for two-node groups"* ]]

	bad 'vip "unterminated'
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"unterminated quote"* ]]

	bad "announce 200 20"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"announce delays must be ascending"* ]]
}

@test "self must be a node of the group; -N overrides the file" {
	run -100 $HA_BEAT -n -f "$T/ok.conf" -N zz
	[[ "$output" == *"self 'zz' is not a node of the group"* ]]
	run -0 $HA_BEAT -n -f "$T/ok.conf" -N c
	sed '/^self /d' "$T/ok.conf" >"$T/bad.conf"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"no self"* ]]
}

@test "a group of one node, or of nine, is refused" {
	grep -v '^node [bc]' "$T/ok.conf" >"$T/bad.conf"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"a group needs 2 to 8 nodes"* ]]
	cp "$T/ok.conf" "$T/bad.conf"
	for i in 4 5 6 7 8 9; do echo "node n$i 192.0.2.$i priority $i" >>"$T/bad.conf"; done
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"more than 8 nodes"* ]]
}

@test "a missing configuration file is a clear error" {
	run -100 $HA_BEAT -n -f "$T/none.conf"
	[[ "$output" == *"unable to open $T/none.conf: No such file or directory"* ]]
}

@test "a bad configuration changes nothing on the host" {
	need_root
	topo_lan 1
	bad "node d 192.0.2.1 priority 10"
	run -100 hx 1 $HA_BEAT -f "$T/bad.conf" -s "$T/state"
	[ ! -e "$T/state/state" ]
	run -0 hx 1 ip -o addr show dev eth0
	[[ "$output" != *192.0.2.100* ]]
	topo_teardown
}

@test "a nonexistent interface exits 100" {
	need_root
	topo_lan 1
	sed 's/^interface eth0/interface nosuch0/' "$T/ok.conf" >"$T/bad.conf"
	run -100 hx 1 $HA_BEAT -f "$T/bad.conf"
	[[ "$output" == *"no interface nosuch0"* ]]
	topo_teardown
}

teardown() {
	topo_teardown
}

@test "the heartbeat parser survives fuzzing" {
	command -v clang >/dev/null || skip "clang not installed"
	[ -n "$(find /usr/lib/llvm-*/lib/clang -name 'libclang_rt.fuzzer-x86_64.a' 2>/dev/null | head -n 1)" ] ||
		skip "clang's libFuzzer runtime (libclang-rt-14-dev) not installed"
	run -0 make -s -C "$NONSTOP_TOP" fuzz-hb_decode FUZZ_OUT="$T/fuzz"
	mkdir -p "$T/corpus"
	run -0 "$T/fuzz/hb_decode" -runs=30000 -max_len=256 "$T/corpus" "$NONSTOP_TOP/test/fuzz/corpus/hb_decode"
	[[ "$output" == *"Done 30000 runs"* ]]
}

@test "check lines are validated" {
	bad "check every 5 fall 2 rise 2 /bin/true"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"check every takes milliseconds from 10"* ]]
	bad "check every 100 fall 2 /bin/true"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"check takes: every MS [timeout MS] fall N rise N PROGRAM"* ]]
	bad "check every 100 timeout 5 fall 2 rise 2 /bin/true"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"check timeout takes milliseconds from 10"* ]]
	bad "check every 100 timeout 500 fall 2 /bin/true"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"check takes: every MS [timeout MS] fall N rise N PROGRAM"* ]]
	bad "check every 100 timeout 500 fall 2 rise 2 /bin/true"
	run -0 $HA_BEAT -n -f "$T/bad.conf"
	bad "check every 100 fall 2 rise 2 true"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"check program must be an absolute path"* ]]
	bad "check every 100 fall 2 rise 2 /bin/true --flag"
	run -0 $HA_BEAT -n -f "$T/bad.conf"
}

@test "quorum and hold are validated" {
	bad "quorum 4"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"quorum 4 is more than the group's 3 nodes"* ]]
	bad "quorum 0"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"quorum takes a count of nodes from 1 to 8"* ]]
	bad "hold 1s"
	run -100 $HA_BEAT -n -f "$T/bad.conf"
	[[ "$output" == *"hold takes milliseconds"* ]]
	bad "quorum 2" "hold 500"
	run -0 $HA_BEAT -n -f "$T/bad.conf"
}
