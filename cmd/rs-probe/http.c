/* rs-probe: HTTP status line parser (fed bytes from the network). */
#include <string.h>

#include "http.h"

int
http_status(const char *buf, size_t len)
{
	const char *end;
	size_t n, i;
	int code = 0;

	end = memchr(buf, '\n', len);
	if (end == NULL)
		return len < HTTP_LINE_MAX ? 0 : -1;
	n = (size_t)(end - buf);
	/* "HTTP/" DIGIT "." DIGIT SP 3DIGIT (SP reason)? CR? LF */
	if (n < 12 || memcmp(buf, "HTTP/", 5) != 0 || buf[5] < '0' || buf[5] > '9' ||
	    buf[6] != '.' || buf[7] < '0' || buf[7] > '9' || buf[8] != ' ')
		return -1;
	for (i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		code = code * 10 + (buf[i] - '0');
	}
	if (n > 12 && buf[12] != ' ' && buf[12] != '\r')
		return -1;
	if (code < 100 || code > 599)
		return -1;
	return code;
}
