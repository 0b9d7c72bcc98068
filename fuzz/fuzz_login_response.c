/*
 * fuzz_login_response.c — a client receiving its login response: the
 * input is the raw wire (packet headers included, so framing is fuzzed
 * too) after one parameter byte that chooses the features the client
 * asked for in LOGIN7 (FEATUREEXTACK checks them) and the piece size the
 * bytes arrive in. Afterwards the session's environment must be sane.
 */
#include <stdlib.h>
#include <string.h>

#include "tds_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t p = data[0];
    data++;
    size--;
    tds_session *s = tds_session_new(NULL);
    if (!s)
        return 0;
    /* What tds_send_login7() records for FEDAUTH / UTF8_SUPPORT. */
    s->features_requested = ((p & 1) ? 1u << TDS_FEAT_FEDAUTH : 0) |
                            ((p & 2) ? 1u << TDS_FEAT_UTF8_SUPPORT : 0);
    size_t chunk = (size_t)(p >> 2) * 37 + 1, off = 0;
    volatile size_t sink = 0;
    for (;;) {
        tds_event ev;
        int rc;
        while ((rc = tds_next(s, &ev)) == 1) {
            if (ev.type == TDS_EV_LOGINACK)
                sink += ev.u.loginack.prog_name.len;
            if (ev.type == TDS_EV_ENVCHANGE)
                sink += ev.u.env.new_text.len + ev.u.env.old_raw_len;
        }
        if (rc < 0 || off == size)
            break;
        ptrdiff_t took = tds_feed(s, data + off, size - off < chunk ? size - off : chunk);
        if (took <= 0)
            break;
        off += (size_t)took;
    }
    (void)sink;
    if (tds_packet_size(s) < TDS_PACKET_MIN || tds_packet_size(s) > TDS_PACKET_MAX)
        abort();
    if (strlen(tds_database(s)) >= sizeof s->database)
        abort();
    tds_session_free(s);
    return 0;
}
