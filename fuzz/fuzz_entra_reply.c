/*
 * fuzz_entra_reply.c — identity-provider replies (net/entra/entra_reply.c)
 * as the token endpoint, a managed-identity endpoint or az would send
 * them. The first byte picks the HTTP status; the rest is the body (not
 * NUL-terminated). A success must yield a non-empty token; a failure one
 * line and no token.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entra_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 401, 0, 429, 503, 302, 404};
    if (size < 1)
        return 0;
    long status = statuses[data[0] & 7];
    entra_token t;
    net_error e;
    memset(&e, 0, sizeof e);
    int rc = entra_reply_parse((const char *)data + 1, size - 1, status, 1700000000, &t, &e);
    if (rc == NET_OK) {
        if (!t.access_token || !*t.access_token)
            abort();
    } else if (t.access_token || !e.message[0] || strchr(e.message, '\n') || strchr(e.message, '\r')) {
        abort();
    }
    entra_token_clear(&t);
    return 0;
}
