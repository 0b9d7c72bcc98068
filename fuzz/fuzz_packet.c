/*
 * fuzz_packet.c — packet reassembly as a server receives requests: the
 * first two input bytes choose the chunk sizes the bytes arrive in, the
 * rest is the wire. Uses the lending path (tds_recv_buf/tds_recv_ack) the
 * network layer uses. Every delivered message must lie inside the buffer
 * (ASan checks the reads).
 */
#include <string.h>

#include "tds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk_a = (size_t)data[0] + 1, chunk_b = (size_t)data[1] * 13 + 1;
    data += 2;
    size -= 2;
    tds_session_opts o = {.role = TDS_ROLE_SERVER, .max_message = 1 << 20};
    tds_session *s = tds_session_new(&o);
    if (!s)
        return 0;
    size_t off = 0;
    unsigned turn = 0;
    volatile uint8_t sink = 0;
    while (off < size) {
        uint8_t *buf;
        size_t want;
        if (tds_recv_buf(s, &buf, &want) != TDS_OK)
            break;
        if (want > 0) {
            size_t k = (turn++ & 1) ? chunk_a : chunk_b;
            if (k > want)
                k = want;
            if (k > size - off)
                k = size - off;
            memcpy(buf, data + off, k);
            off += k;
            if (tds_recv_ack(s, k) != TDS_OK)
                break;
        }
        tds_event ev;
        int rc;
        while ((rc = tds_next(s, &ev)) == 1) {
            if (ev.type == TDS_EV_MESSAGE && ev.u.message.len)
                sink ^= ev.u.message.data[0] ^ ev.u.message.data[ev.u.message.len - 1];
        }
        if (rc < 0)
            break;
    }
    (void)sink;
    tds_session_free(s);
    return 0;
}
