/* lb-watch internals shared by its files: options and the event log. */
#ifndef LB_WATCH_H
#define LB_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "role.h"

extern const char *opt_dp, *opt_key, *opt_creds, *statedir, *hb_state;
extern long watch_ms, timeout_ms, holddown_ms, probe_ms;
extern unsigned opt_port, opt_fall, opt_rise;
extern int opt_n, opt_q;

void make_statedir(void);
/* One event line (ending in a newline): stdout, our log, the agent's log. */
void emit(const char *line, size_t len);
/* The prober's state folder. */
void probe_dir(char *out, size_t size);
/* This host's ha-beat state word from -H, or "" when unknown. */
void hb_state_read(char *out, size_t size);
/* Milliseconds: CLOCK_MONOTONIC, CLOCK_REALTIME. */
int64_t mono_ms(void);
int64_t wall_ms(void);
/* lc-role and rs-probe: $LC_ROLE/$RS_PROBE, beside us, or on PATH. */
const char *tool_path(const char *env, const char *name);

/* watch.c: judge the master, hear the others; runs until a signal. */
int watch(const struct role *r);
/* 1 while a judge's demotion holds this host out of the master role. */
int demoted(char *why, size_t size);

/* follow.c: rs-probe | lc-role follow while this host balances. */
void follow_start(const struct role *r, const char *rolefile);
void follow_stop(void);

#endif
