/*
 * fuzz_metrics_http.c — the --metrics-addr request parser
 * (pipe/metrics_http.c): any bytes, whole and as every prefix the server
 * may have read so far; a complete head's method and path then make a
 * response, which must fit and be a valid HTTP status line.
 */
#include <stdint.h>
#include <string.h>

#include "stream_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char method[16], path[256], out[4096];
    const char *buf = (const char *)data;
    pipe_metrics_values v;
    memset(&v, 0, sizeof v);
    v.rows = size;
    for (size_t len = size > 64 ? size - 64 : 0; len <= size; len++) {
        int rc = pipe_metrics_http_parse(buf, len, method, sizeof method, path, sizeof path);
        if (rc > (int)len)
            __builtin_trap();
        if (rc > 0 || rc < 0) {
            size_t n = pipe_metrics_response(&v, rc > 0 ? method : "", rc > 0 ? path : "", rc < 0, out, sizeof out);
            if (n >= sizeof out || memcmp(out, "HTTP/1.1 ", 9))
                __builtin_trap();
        }
    }
    return 0;
}
