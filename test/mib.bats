#!/usr/bin/env bats
# NONSTOP-MIB: lint-clean under smilint -l 6 and loadable by net-snmp,
# against the small stand-ins of the IETF base modules in test/mibs.

load lib/common

setup() {
	MIB=$NONSTOP_TOP/mib/NONSTOP-MIB.txt
	export SMIPATH=$NONSTOP_TOP/test/mibs:/usr/share/snmp/mibs
	export MIBDIRS=$NONSTOP_TOP/mib:$NONSTOP_TOP/test/mibs:/usr/share/snmp/mibs
	export MIBS=NONSTOP-MIB
	export SNMP_PERSISTENT_DIR=$BATS_TEST_TMPDIR/snmp
	export SNMPCONFPATH=$BATS_TEST_TMPDIR/snmp
	mkdir -p "$SNMP_PERSISTENT_DIR/cert_indexes"
}

@test "smilint -l 6 finds nothing to say (it always exits 0)" {
	command -v smilint >/dev/null || skip "smilint (smitools) not installed"
	run -0 smilint -l 6 -s -m "$MIB"
	[ -z "$output" ]
}

@test "smilint does catch a broken copy (the check is not vacuous)" {
	command -v smilint >/dev/null || skip "smilint (smitools) not installed"
	sed '/nsHostLoad OBJECT-TYPE/,/::=/{/DESCRIPTION/d}' "$MIB" >"$BATS_TEST_TMPDIR/NONSTOP-MIB.txt"
	run -0 smilint -l 6 -s -m "$BATS_TEST_TMPDIR/NONSTOP-MIB.txt"
	[ -n "$output" ]
}

@test "the module says it lives under netSnmpPlaypen until a PEN exists" {
	grep -q '::= { netSnmpPlaypen ' "$MIB"
	grep -q 'No Private Enterprise Number' "$MIB"
}

@test "snmptranslate resolves names and OIDs both ways" {
	run -0 snmptranslate -On NONSTOP-MIB::nsRsWeight
	[ "$output" = .1.3.6.1.4.1.8072.9999.9999.6678.1.2.2.1.6 ]
	run -0 snmptranslate .1.3.6.1.4.1.8072.9999.9999.6678.1.3.1.1.5
	[ "$output" = NONSTOP-MIB::nsSvcCurrentConns ]
	run -0 snmptranslate -Tp NONSTOP-MIB::nonstopMIB
	[[ $output == *nsEventTable* ]]
	[[ $output != *"Cannot"* ]]
}

@test "every OBJECT-TYPE and NOTIFICATION-TYPE has a DESCRIPTION" {
	run -0 awk '
		/ (OBJECT-TYPE|NOTIFICATION-TYPE)$/ { name = $1; open = 1 }
		open && /DESCRIPTION/ { open = 0 }
		open && /::=/ { print name; bad = 1; open = 0 }
		END { exit bad }' "$MIB"
}
