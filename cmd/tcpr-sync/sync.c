/* tcpr-sync's network side. XXX not written yet. */
#include "err.h"
#include "sync.h"

int
sync_send(const struct sync_opts *o, int check)
{
	err_die(EXIT_BAD, "send: not in this version");
}

int
sync_recv(const struct sync_opts *o, int check)
{
	err_die(EXIT_BAD, "recv: not in this version");
}
