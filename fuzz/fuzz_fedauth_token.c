/*
 * fuzz_fedauth_token.c — tds_fedauth_token_decode on arbitrary FEDAUTH_TOKEN
 * payloads (packet type 0x08), as tdstestd calls it during an Entra login.
 * Whatever decodes is sent again by the client encoder
 * (tds_send_fedauth_token) and must decode to the same token and nonce.
 */
#include <stdlib.h>
#include <string.h>

#include "tds.h"

static char tok1[1 << 17], tok2[1 << 17];
static uint8_t payload[1 << 17];

/* The payload of the packets in wire (headers dropped). */
static size_t unframe(const uint8_t *wire, size_t n)
{
    size_t o = 0, out = 0;
    while (o + 8 <= n) {
        size_t plen = (size_t)wire[o + 2] << 8 | wire[o + 3];
        if (wire[o] != TDS_PKT_FEDAUTH_TOKEN || plen < 8 || o + plen > n ||
            out + plen - 8 > sizeof payload)
            abort();
        memcpy(payload + out, wire + o + 8, plen - 8);
        out += plen - 8;
        o += plen;
    }
    if (o != n)
        abort();
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool has1, has2;
    uint8_t n1[32], n2[32];
    /* A small buffer now and then walks the TDS_E_SPACE path. */
    size_t cap = size && (data[size - 1] & 7) == 0 ? data[0] + 1u : sizeof tok1;
    int rc = tds_fedauth_token_decode(data, size, tok1, cap, &has1, n1);
    if (rc == TDS_E_SPACE && cap < sizeof tok1)
        rc = tds_fedauth_token_decode(data, size, tok1, sizeof tok1, &has1, n1);
    if (rc != TDS_OK)
        return 0;
    tds_session *s = tds_session_new(NULL);
    if (!s)
        return 0;
    if (tds_send_fedauth_token(s, tok1, has1 ? n1 : NULL) != TDS_OK)
        abort();
    const uint8_t *p;
    size_t n;
    tds_send_buf(s, &p, &n);
    size_t pl = unframe(p, n);
    if (tds_fedauth_token_decode(payload, pl, tok2, sizeof tok2, &has2, n2) != TDS_OK)
        abort();
    if (strcmp(tok1, tok2) != 0 || has1 != has2 || (has1 && memcmp(n1, n2, 32) != 0))
        abort();
    tds_session_free(s);
    return 0;
}
