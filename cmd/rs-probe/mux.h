/*
 * One UDP socket per address family for all of rs-probe's SNMP
 * sessions (see mux.c): requests go out in batches (sendmmsg), answers
 * come in in batches (recvmmsg) and are handed to the session whose
 * agent sent them.
 */
#ifndef RS_PROBE_MUX_H
#define RS_PROBE_MUX_H

#include <sys/socket.h>

/* Open the shared sockets (IPv6 optional). 0, or -1 with errno. */
int mux_init(void);
/* The shared sockets, to wait on (-1: none). */
int mux_fd4(void);
int mux_fd6(void);
/*
 * Move an open net-snmp single session onto the shared socket of its
 * family; its agent is at sa. Returns a slot (>= 0), or -1 with errno
 * (the session then keeps its own socket).
 */
int mux_adopt(void *sess, const struct sockaddr *sa, socklen_t salen);
/* Forget every session (call after closing them, before adopting anew). */
void mux_reset(void);
/* The session whose requests the next net-snmp call sends. */
void mux_use(int slot);
/* Send what waits in the batch. Returns the datagrams dropped. */
unsigned mux_flush(void);
/*
 * Read everything waiting on fd and let each answer's session process
 * it (its callbacks run); answers from unknown addresses are dropped.
 * Flushes the batch afterwards (resends after reports).
 */
void mux_read(int fd);

#endif
