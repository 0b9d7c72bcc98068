/*
 * packet_tx.c — framing outgoing messages into packets of the negotiated
 * size, and the send queue the caller drains.
 *
 * Invariant: tx.out holds [sent, sealed) complete packets ready to write,
 * then (inside a message) the packet being filled, whose 8-byte header at
 * pkt_start is written only when the packet is sealed. A full packet is
 * sealed lazily, when the next byte arrives, so the last packet of a
 * message is never empty and gets EOM. tds__tx_commit_split() lets an
 * encoder write past the open packet's end and inserts the headers after.
 */
#include "encode_int.h"

static size_t sealed_end(const tds_session *s)
{
    return s->tx.in_msg ? s->tx.pkt_start : s->tx.out.len;
}

static int packet_start(tds_session *s)
{
    int rc = tds_buf_reserve(&s->tx.out, TDS_HEADER_SIZE);
    if (rc)
        return rc;
    s->tx.pkt_start = s->tx.out.len;
    s->tx.out.len += TDS_HEADER_SIZE;
    return TDS_OK;
}

static void packet_seal(tds_session *s, uint8_t extra_status)
{
    uint8_t *h = s->tx.out.data + s->tx.pkt_start;
    size_t len = s->tx.out.len - s->tx.pkt_start;
    h[0] = s->tx.type;
    h[1] = (uint8_t)(s->tx.status_bits | extra_status);
    tds_wbe16(h + 2, (uint16_t)len);
    h[4] = h[5] = 0; /* SPID */
    h[6] = s->tx.pkt_id++;
    h[7] = 0;        /* window, unused */
}

int tds_msg_begin(tds_session *s, uint8_t packet_type, uint8_t status_bits)
{
    if (s->error)
        return s->error;
    if (s->tx.in_msg)
        return TDS_E_STATE;
    s->tx.type = packet_type;
    s->tx.status_bits = (uint8_t)(status_bits & ~(TDS_ST_EOM | TDS_ST_IGNORE));
    s->tx.pkt_id = 1;
    int rc = packet_start(s);
    if (rc)
        return rc;
    s->tx.in_msg = true;
    return TDS_OK;
}

int tds_put_bytes(tds_session *s, const void *p, size_t n)
{
    if (!s->tx.in_msg)
        return TDS_E_STATE;
    const uint8_t *b = p;
    while (n) {
        size_t used = s->tx.out.len - s->tx.pkt_start;
        if (used == s->packet_size) {
            packet_seal(s, 0);
            int rc = packet_start(s);
            if (rc)
                return rc;
            used = TDS_HEADER_SIZE;
        }
        size_t room = s->packet_size - used;
        size_t k = n < room ? n : room;
        int rc = tds_buf_reserve(&s->tx.out, k);
        if (rc)
            return rc;
        memcpy(s->tx.out.data + s->tx.out.len, b, k);
        s->tx.out.len += k;
        b += k;
        n -= k;
    }
    return TDS_OK;
}

void tds__tx_commit_split(tds_session *s, size_t end)
{
    tds_tx *tx = &s->tx;
    while (end - tx->pkt_start > s->packet_size) {
        size_t cut = tx->pkt_start + s->packet_size;
        memmove(tx->out.data + cut + TDS_HEADER_SIZE, tx->out.data + cut, end - cut);
        tx->out.len = cut;
        packet_seal(s, 0);
        tx->pkt_start = cut;
        end += TDS_HEADER_SIZE;
    }
    tx->out.len = end;
}

int tds_msg_end(tds_session *s)
{
    if (!s->tx.in_msg)
        return TDS_E_STATE;
    packet_seal(s, TDS_ST_EOM);
    s->tx.in_msg = false;
    return TDS_OK;
}

int tds_msg_abort(tds_session *s)
{
    if (!s->tx.in_msg)
        return TDS_E_STATE;
    packet_seal(s, TDS_ST_EOM | TDS_ST_IGNORE);
    s->tx.in_msg = false;
    return TDS_OK;
}

void tds_send_buf(tds_session *s, const uint8_t **buf, size_t *len)
{
    *buf = s->tx.out.data + s->tx.sent;
    *len = sealed_end(s) - s->tx.sent;
}

void tds_send_ack(tds_session *s, size_t n)
{
    size_t avail = sealed_end(s) - s->tx.sent;
    if (n > avail)
        n = avail;
    /* A LOGIN7 in the queue: its bytes are written, now forget them. */
    if (s->tx.secret)
        tds__wipe(s->tx.out.data + s->tx.sent, n);
    s->tx.sent += n;
    if (s->tx.secret && s->tx.sent == s->tx.out.len)
        s->tx.secret = false;
    if (s->tx.sent == s->tx.out.len) {
        s->tx.sent = s->tx.out.len = 0;
    } else if (s->tx.sent > 65536 && s->tx.sent > s->tx.out.len / 2) {
        /* Keep the queue from creeping: move what is left to the front. */
        size_t left = s->tx.out.len - s->tx.sent;
        memmove(s->tx.out.data, s->tx.out.data + s->tx.sent, left);
        if (s->tx.in_msg)
            s->tx.pkt_start -= s->tx.sent;
        s->tx.out.len = left;
        s->tx.sent = 0;
    }
}

size_t tds_send_pending(const tds_session *s)
{
    return s->tx.out.len - s->tx.sent;
}
