/*
 * Diagnostics and exit codes shared by every tool.
 * Messages go to stderr as "tool: fatal: text" / "tool: warning: text";
 * a format ending in ':' gets ": strerror(errno)" appended.
 */
#ifndef NONSTOP_ERR_H
#define NONSTOP_ERR_H

#include <stdarg.h>

#define EXIT_OK   0	/* success */
#define EXIT_NO   1	/* a negative answer: a server is down, not master */
#define EXIT_BAD  100	/* usage, bad input or configuration: permanent */
#define EXIT_TEMP 111	/* temporary system failure: retry */

extern const char *err_prog;	/* set by err_init() */
extern int err_verbose;		/* -v count, -1 for -q: err_debug needs >= 1, err_info >= 0 */

void err_init(const char *argv0);
void err_die(int code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
void err_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void err_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void err_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void err_vlog(const char *level, const char *fmt, va_list ap);
/* Flush stdout and die with EXIT_TEMP if any write to it failed. */
void err_check_stdout(void);

#endif
