/*
 * fuzz_prelogin.c — tds_prelogin_decode on arbitrary payloads, as both
 * sides call it on a received PRELOGIN. Whatever decodes must encode again
 * and decode to the same struct (the encoding is canonical, so it is also
 * a fixed point: encoding the second decode gives the same bytes).
 */
#include <stdlib.h>
#include <string.h>

#include "tds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tds_prelogin a, b;
    if (tds_prelogin_decode(data, size, &a) != TDS_OK)
        return 0;
    uint8_t enc[512], enc2[512];
    int n = tds_prelogin_encode(&a, enc, sizeof enc);
    if (n <= 0)
        abort();
    if (tds_prelogin_decode(enc, (size_t)n, &b) != TDS_OK)
        abort();
    if (memcmp(&a, &b, sizeof a) != 0)
        abort();
    int n2 = tds_prelogin_encode(&b, enc2, sizeof enc2);
    if (n2 != n || memcmp(enc, enc2, (size_t)n) != 0)
        abort();
    return 0;
}
