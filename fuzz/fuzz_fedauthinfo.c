/*
 * fuzz_fedauthinfo.c — tds_fedauthinfo_decode on arbitrary FEDAUTHINFO
 * token data, as the client calls it on a TDS_EV_FEDAUTHINFO event during
 * an Entra login. Whatever decodes is written again by the server encoder
 * (tds_put_fedauthinfo) and must decode to the same STS URL and SPN.
 */
#include <stdlib.h>
#include <string.h>

#include "tds.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tds_fedauthinfo a, b;
    if (tds_fedauthinfo_decode(data, size, &a) != TDS_OK)
        return 0;
    tds_session_opts so = {.role = TDS_ROLE_SERVER, .packet_size = 32767};
    tds_session *s = tds_session_new(&so);
    if (!s)
        return 0;
    if (tds_msg_begin(s, TDS_PKT_REPLY, 0) != TDS_OK ||
        tds_put_fedauthinfo(s, a.sts_url, a.spn) != TDS_OK || tds_msg_end(s) != TDS_OK)
        abort();
    const uint8_t *p;
    size_t n;
    tds_send_buf(s, &p, &n);
    /* one packet: header, token byte, TokenLength, data */
    if (n < 13 || p[8] != TDS_TOK_FEDAUTHINFO || le32(p + 9) != n - 13)
        abort();
    if (tds_fedauthinfo_decode(p + 13, n - 13, &b) != TDS_OK)
        abort();
    if (strcmp(a.sts_url, b.sts_url) != 0 || strcmp(a.spn, b.spn) != 0)
        abort();
    tds_session_free(s);
    return 0;
}
