/*
 * packet_rx.c — receiving by lending, packet reassembly and event dispatch.
 *
 * The session lends exactly the rest of the 8-byte header (into rx.hdr),
 * then exactly the rest of the payload (into rx.buf after the bytes already
 * there), so payloads of one message are contiguous in rx.buf and packet
 * headers never sit in the middle of a row. rx.buf is compacted — bytes
 * before rx.keep dropped — only here, in tds_recv_buf(), which is why event
 * views stay valid until then.
 *
 * Whole messages (PRELOGIN reply, requests on a server) are delivered as one
 * TDS_EV_MESSAGE once their EOM packet is in; token-stream messages go
 * through the token decoder as bytes arrive.
 */
#include "tds_int.h"

#define RX_INITIAL_CAP (2u * (TDS_PACKET_MAX + 1))

static bool known_packet_type(uint8_t t)
{
    switch (t) {
    case TDS_PKT_SQL_BATCH: case TDS_PKT_PRE_TDS7_LOGIN: case TDS_PKT_RPC:
    case TDS_PKT_REPLY: case TDS_PKT_ATTENTION: case TDS_PKT_BULK:
    case TDS_PKT_FEDAUTH_TOKEN: case TDS_PKT_TRANSACTION: case TDS_PKT_LOGIN7:
    case TDS_PKT_SSPI: case TDS_PKT_PRELOGIN:
        return true;
    default:
        return false;
    }
}

/* A complete message is waiting to be pulled: lend nothing until it is. */
static bool message_pending(const tds_session *s)
{
    return s->rx.msg_active && s->rx.msg_complete;
}

/* Makes room for `need` more payload bytes at rx.end: drops what the
 * decoder no longer needs, grows only if that is not enough. */
static int rx_make_room(tds_session *s, size_t need)
{
    tds_rx *rx = &s->rx;
    if (rx->cap - rx->end >= need)
        return TDS_OK;
    size_t keep = rx->keep;
    if (rx->whole_cur && rx->msg_start < keep)
        keep = rx->msg_start;
    if (keep > 0) {
        memmove(rx->buf, rx->buf + keep, rx->end - keep);
        rx->end -= keep;
        rx->pos -= keep;
        rx->keep -= keep;
        rx->msg_start = rx->msg_start >= keep ? rx->msg_start - keep : 0;
        rx->base_off += keep;
    }
    if (rx->cap - rx->end >= need)
        return TDS_OK;
    size_t limit = (s->max_message > s->max_row ? s->max_message : s->max_row) + 2u * TDS_PACKET_MAX;
    size_t want = rx->cap ? rx->cap : RX_INITIAL_CAP;
    while (want - rx->end < need)
        want *= 2;
    if (want > limit) {
        if (rx->end + need > limit)
            return tds__fail(s, TDS_E_TOOBIG, rx->end);
        want = limit;
    }
    uint8_t *nb = tds__realloc(s->alloc, rx->buf, want);
    if (!nb)
        return tds__fail(s, TDS_E_NOMEM, rx->end);
    rx->buf = nb;
    rx->cap = want;
    return TDS_OK;
}

int tds_recv_buf(tds_session *s, uint8_t **buf, size_t *len)
{
    tds_rx *rx = &s->rx;
    *buf = NULL;
    *len = 0;
    if (s->error)
        return s->error;
    if (message_pending(s))
        return TDS_OK;
    if (!rx->in_payload) {
        *buf = rx->hdr + rx->hdr_have;
        *len = TDS_HEADER_SIZE - rx->hdr_have;
        return TDS_OK;
    }
    int rc = rx_make_room(s, rx->payload_left);
    if (rc)
        return rc;
    *buf = rx->buf + rx->end;
    *len = rx->payload_left;
    return TDS_OK;
}

static int header_complete(tds_session *s)
{
    tds_rx *rx = &s->rx;
    uint8_t type = rx->hdr[0], status = rx->hdr[1];
    uint16_t len = tds_be16(rx->hdr + 2);
    if (!known_packet_type(type))
        return tds__fail(s, TDS_E_PROTO, rx->end);
    if (len < TDS_HEADER_SIZE || len > TDS_PACKET_MAX + 1)
        return tds__fail(s, TDS_E_PROTO, rx->end);
    /* Decoders do arithmetic on rx.buf even for an empty payload (found by
     * fuzz_packet: an empty first message), so it exists from the first
     * header on. */
    if (!rx->buf) {
        int rc = rx_make_room(s, 1);
        if (rc)
            return rc;
    }
    if (!rx->msg_active) {
        rx->msg_active = true;
        rx->msg_complete = false;
        rx->msg_type = type;
        rx->msg_start = rx->end;
        rx->whole_cur = rx->whole_next ||
                        (s->role == TDS_ROLE_SERVER && type != TDS_PKT_BULK);
        rx->whole_next = false;
        if (rx->whole_cur) {
            rx->keep = rx->end;
        } else {
            tds__tokens_message_start(s);
        }
    } else if (type != rx->msg_type) {
        return tds__fail(s, TDS_E_PROTO, rx->end);
    }
    rx->msg_status = status;
    rx->payload_left = len - TDS_HEADER_SIZE;
    rx->in_payload = true;
    rx->hdr_have = 0;
    return TDS_OK;
}

static void payload_complete(tds_session *s)
{
    tds_rx *rx = &s->rx;
    rx->in_payload = false;
    if (rx->msg_status & TDS_ST_EOM)
        rx->msg_complete = true;
}

int tds_recv_ack(tds_session *s, size_t n)
{
    tds_rx *rx = &s->rx;
    if (s->error)
        return s->error;
    if (n == 0)
        return TDS_OK;
    if (message_pending(s))
        return TDS_E_STATE;
    if (!rx->in_payload) {
        if (n > TDS_HEADER_SIZE - rx->hdr_have)
            return TDS_E_ARG;
        rx->hdr_have += n;
        if (rx->hdr_have < TDS_HEADER_SIZE)
            return TDS_OK;
        int rc = header_complete(s);
        if (rc)
            return rc;
        if (rx->payload_left == 0)
            payload_complete(s);
        return TDS_OK;
    }
    if (n > rx->payload_left)
        return TDS_E_ARG;
    rx->end += n;
    rx->payload_left -= n;
    if (rx->whole_cur && rx->end - rx->msg_start > s->max_message)
        return tds__fail(s, TDS_E_TOOBIG, rx->end);
    if (rx->payload_left == 0)
        payload_complete(s);
    return TDS_OK;
}

ptrdiff_t tds_feed(tds_session *s, const uint8_t *in, size_t len)
{
    size_t took = 0;
    while (took < len) {
        uint8_t *buf;
        size_t want;
        int rc = tds_recv_buf(s, &buf, &want);
        if (rc)
            return rc;
        if (want == 0)
            break;
        size_t k = len - took < want ? len - took : want;
        memcpy(buf, in + took, k);
        rc = tds_recv_ack(s, k);
        if (rc)
            return rc;
        took += k;
        /* Stop at the end of each packet so events can be pulled. */
        if (!s->rx.in_payload && s->rx.hdr_have == 0)
            break;
    }
    return (ptrdiff_t)took;
}

static void message_finish(tds_session *s)
{
    tds_rx *rx = &s->rx;
    rx->msg_active = false;
    rx->msg_complete = false;
    rx->whole_cur = false;
}

int tds_next(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    if (s->error)
        return s->error;
    if (!rx->msg_active)
        return 0;
    if (rx->whole_cur) {
        if (!rx->msg_complete) {
            rx->keep = rx->msg_start;
            return 0;
        }
        bool ignored = rx->msg_status & TDS_ST_IGNORE;
        memset(ev, 0, sizeof *ev);
        ev->type = TDS_EV_MESSAGE;
        ev->u.message.type = rx->msg_type;
        ev->u.message.status = rx->msg_status;
        ev->u.message.data = rx->buf + rx->msg_start;
        ev->u.message.len = rx->end - rx->msg_start;
        rx->pos = rx->keep = rx->end;
        message_finish(s);
        /* A message the sender abandoned (IGNORE) is dropped unseen. */
        return ignored ? 0 : 1;
    }
    int rc = tds__tokens_next(s, ev);
    if (rc != 0)
        return rc < 0 ? tds__fail(s, rc, rx->pos) : rc;
    if (!rx->msg_complete)
        return 0;
    if (rx->pos == rx->end && tds__tokens_at_boundary(s)) {
        memset(ev, 0, sizeof *ev);
        ev->type = TDS_EV_MESSAGE_END;
        rx->keep = rx->pos;
        message_finish(s);
        return 1;
    }
    /* The message ended inside a token. */
    return tds__fail(s, TDS_E_PROTO, rx->end);
}

bool tds_idle(const tds_session *s)
{
    return !s->rx.msg_active && s->rx.hdr_have == 0 && !s->rx.in_payload;
}
