/*
 * Cheaper SNMPv3 USM crypto for rs-probe (see usmfast.c): net-snmp's
 * own scapi entry points, redefined with per-key precomputed state.
 */
#ifndef RS_PROBE_USMFAST_H
#define RS_PROBE_USMFAST_H

/*
 * Check the fast paths against net-snmp's own functions on random data
 * and turn on those that agree (all of them unless disable is set).
 * Call after snmp_lib_init(). Returns the number of fast paths on.
 */
int usmfast_init(int disable);
/* Forget every cached key (wiped). */
void usmfast_flush(void);
/* Calls served by a fast path and by net-snmp's own code, for -v. */
void usmfast_counts(unsigned long long *fast, unsigned long long *slow);

#endif
