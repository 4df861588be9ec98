/* rs-probe: the HTTP status line of a probe response. */
#ifndef RS_PROBE_HTTP_H
#define RS_PROBE_HTTP_H

#include <stddef.h>

/*
 * Parse the status line at the start of buf[0..len): "HTTP/1.x NNN ...\r\n".
 * Returns the status code (100-599), 0 if more bytes are needed (no line
 * end yet and len < max line), or -1 if this is not an HTTP status line.
 */
int http_status(const char *buf, size_t len);

#define HTTP_LINE_MAX 256

#endif
