/* Diagnostics in the skalibs strerr shape; see err.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const char *err_prog = "nonstop";
int err_verbose;

void
err_init(const char *argv0)
{
	const char *p = strrchr(argv0, '/');

	err_prog = p ? p + 1 : argv0;
}

void
err_vlog(const char *level, const char *fmt, va_list ap)
{
	int e = errno;
	size_t n = strlen(fmt);
	char buf[1024];

	vsnprintf(buf, sizeof buf, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, "%s: %s%s %s\n", err_prog, level, buf, strerror(e));
	else
		fprintf(stderr, "%s: %s%s\n", err_prog, level, buf);
	errno = e;
}

void
err_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vlog("fatal: ", fmt, ap);
	va_end(ap);
	exit(code);
}

void
err_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vlog("warning: ", fmt, ap);
	va_end(ap);
}

void
err_info(const char *fmt, ...)
{
	va_list ap;

	if (err_verbose < 0)
		return;
	va_start(ap, fmt);
	err_vlog("info: ", fmt, ap);
	va_end(ap);
}

void
err_debug(const char *fmt, ...)
{
	va_list ap;

	if (err_verbose < 1)
		return;
	va_start(ap, fmt);
	err_vlog("debug: ", fmt, ap);
	va_end(ap);
}

void
err_check_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout))
		err_die(EXIT_TEMP, "unable to write to stdout:");
}
