/*
 * fuzz_token.c — the token-stream decoder exactly as the client drives it.
 * Input: three parameter bytes, then a bare token stream. The parameters
 * choose the packet size the stream is framed in (512..4607), the size of
 * the pieces the framed bytes arrive in through the lending path
 * (tds_recv_buf/tds_recv_ack), and the session: stream_plp, a small
 * max_row, server role (BULK), requested features. Every value of every
 * event is read end to end (ASan checks the views) and rendered as text.
 */
#include <stdlib.h>
#include <string.h>

#include "tds.h"

static volatile uint8_t sink;

static void touch(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sink ^= p[i];
}

static void use_event(const tds_event *ev)
{
    char text[64];
    size_t tl;
    switch (ev->type) {
    case TDS_EV_ROW:
        for (uint16_t i = 0; i < ev->u.row.ncols; i++) {
            const tds_value *v = &ev->u.row.values[i];
            const tds_column *c = &ev->u.row.cols[i];
            touch((const uint8_t *)c->name.ptr, c->name.len);
            if (v->flags & (TDS_VF_NULL | TDS_VF_STREAMED))
                continue;
            touch(v->ptr, v->len);
            tds_value_text(c, v, text, sizeof text, &tl);
        }
        break;
    case TDS_EV_RETURNVALUE:
        if (!(ev->u.retval.value->flags & TDS_VF_NULL)) {
            touch(ev->u.retval.value->ptr, ev->u.retval.value->len);
            tds_value_text(ev->u.retval.col, ev->u.retval.value, text, sizeof text, &tl);
        }
        break;
    case TDS_EV_PLP_CHUNK: touch(ev->u.plp.data, ev->u.plp.len); break;
    case TDS_EV_INFO: case TDS_EV_ERROR:
        touch((const uint8_t *)ev->u.msg.message.ptr, ev->u.msg.message.len + 1);
        break;
    case TDS_EV_ENVCHANGE:
        touch(ev->u.env.new_raw, ev->u.env.new_raw_len);
        touch((const uint8_t *)ev->u.env.new_text.ptr, ev->u.env.new_text.len);
        break;
    case TDS_EV_COLINFO: case TDS_EV_TABNAME: case TDS_EV_FEDAUTHINFO:
        touch(ev->u.raw.data, ev->u.raw.len);
        break;
    case TDS_EV_FEATUREEXTACK:
        for (size_t i = 0; i < ev->u.features.n; i++)
            touch(ev->u.features.acks[i].data, ev->u.features.acks[i].len);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t pkt = 512 + (size_t)data[0] * 16;
    size_t chunk = (size_t)data[1] + 1;
    uint8_t flags = data[2];
    data += 3;
    size -= 3;
    if (size > (1u << 20))
        return 0;

    /* Frame the stream as the server would. */
    size_t per = pkt - 8, npk = size ? (size + per - 1) / per : 1;
    uint8_t *wire = malloc(size + npk * 8);
    size_t wlen = 0, off = 0;
    for (size_t i = 0; i < npk; i++) {
        size_t n = size - off < per ? size - off : per;
        uint8_t *h = wire + wlen;
        h[0] = (flags & 4) ? TDS_PKT_BULK : TDS_PKT_REPLY;
        h[1] = i == npk - 1 ? TDS_ST_EOM : 0;
        h[2] = (uint8_t)((n + 8) >> 8);
        h[3] = (uint8_t)(n + 8);
        h[4] = h[5] = h[7] = 0;
        h[6] = (uint8_t)(i + 1);
        if (n)
            memcpy(h + 8, data + off, n);
        wlen += 8 + n;
        off += n;
    }

    tds_session_opts o = {
        .role = (flags & 4) ? TDS_ROLE_SERVER : TDS_ROLE_CLIENT,
        .stream_plp = flags & 1,
        .max_row = (flags & 2) ? 4096 : 1u << 22,
        .max_message = 1u << 22,
    };
    tds_session *s = tds_session_new(&o);
    if (!s) {
        free(wire);
        return 0;
    }
    off = 0;
    for (;;) {
        tds_event ev;
        int rc;
        while ((rc = tds_next(s, &ev)) == 1)
            use_event(&ev);
        if (rc < 0 || off == wlen)
            break;
        uint8_t *buf;
        size_t want;
        if (tds_recv_buf(s, &buf, &want) != TDS_OK || want == 0)
            break;
        size_t k = want < chunk ? want : chunk;
        if (k > wlen - off)
            k = wlen - off;
        memcpy(buf, wire + off, k);
        off += k;
        if (tds_recv_ack(s, k) != TDS_OK)
            break;
    }
    tds_session_free(s);
    free(wire);
    return 0;
}
