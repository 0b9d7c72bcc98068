/*
 * test_packet.c — packet framing (packet_tx.c) and reassembly by lending
 * (packet_rx.c), exercised through whole-message delivery so these tests
 * do not depend on the token decoder.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds_int.h"
#include "vectors.h"

static tds_session *server(void)
{
    tds_session_opts o = {.role = TDS_ROLE_SERVER};
    tds_session *s = tds_session_new(&o);
    cr_assert_not_null(s);
    return s;
}

static uint8_t *drain(tds_session *s, size_t *len)
{
    const uint8_t *p;
    tds_send_buf(s, &p, len);
    uint8_t *copy = malloc(*len + 1);
    memcpy(copy, p, *len);
    tds_send_ack(s, *len);
    return copy;
}

Test(packet, options_validated)
{
    tds_session_opts o = {.packet_size = 511};
    cr_assert_null(tds_session_new(&o));
    o.packet_size = 32768;
    cr_assert_null(tds_session_new(&o));
    o.packet_size = 512;
    tds_session *s = tds_session_new(&o);
    cr_assert_not_null(s);
    cr_assert_eq(tds_set_packet_size(s, 32767), TDS_OK);
    cr_assert_eq(tds_set_packet_size(s, 32768), TDS_E_ARG);
    cr_assert_eq(tds_packet_size(s), 32767);
    tds_session_free(s);
}

Test(packet, single_packet_header_exact)
{
    tds_session *s = tds_session_new(NULL);
    uint8_t payload[3] = {0xAA, 0xBB, 0xCC};
    cr_assert_eq(tds_send_message(s, TDS_PKT_SQL_BATCH, payload, 3), TDS_OK);
    size_t n;
    uint8_t *w = drain(s, &n);
    uint8_t want[] = {0x01, 0x01, 0x00, 0x0B, 0x00, 0x00, 0x01, 0x00, 0xAA, 0xBB, 0xCC};
    cr_assert_eq(n, sizeof want);
    cr_assert_arr_eq(w, want, sizeof want);
    free(w);
    tds_session_free(s);
}

Test(packet, split_at_packet_size_ids_and_eom)
{
    tds_session_opts o = {.packet_size = 512};
    tds_session *s = tds_session_new(&o);
    size_t plen = 504 * 2 + 10; /* two full packets and a short one */
    uint8_t *payload = malloc(plen);
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)(i * 7);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_RPC, TDS_ST_RESETCONNECTION), TDS_OK);
    /* In pieces of odd sizes to cross packet boundaries inside a put. */
    for (size_t off = 0; off < plen;) {
        size_t k = plen - off < 37 ? plen - off : 37;
        cr_assert_eq(tds_put_bytes(s, payload + off, k), TDS_OK);
        off += k;
    }
    /* Nothing is sendable until packets are sealed; two are full but the
     * second is sealed only once a third packet starts. */
    const uint8_t *p;
    size_t avail;
    tds_send_buf(s, &p, &avail);
    cr_assert_eq(avail, 1024);
    cr_assert_eq(tds_msg_end(s), TDS_OK);
    size_t n;
    uint8_t *w = drain(s, &n);
    cr_assert_eq(n, plen + 3 * 8);
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        uint16_t len = tds_be16(w + off + 2);
        cr_assert_eq(w[off], TDS_PKT_RPC);
        cr_assert_eq(w[off + 1], (i == 2 ? TDS_ST_EOM : 0) | TDS_ST_RESETCONNECTION);
        cr_assert_eq(w[off + 6], i + 1);
        cr_assert_eq(len, i < 2 ? 512 : 18);
        off += len;
    }
    free(w);
    free(payload);
    tds_session_free(s);
}

Test(packet, exact_multiple_has_no_empty_last_packet)
{
    tds_session_opts o = {.packet_size = 512};
    tds_session *s = tds_session_new(&o);
    uint8_t payload[504 * 2] = {0};
    cr_assert_eq(tds_send_message(s, TDS_PKT_SQL_BATCH, payload, sizeof payload), TDS_OK);
    size_t n;
    uint8_t *w = drain(s, &n);
    cr_assert_eq(n, 1024);
    cr_assert_eq(w[1], 0);
    cr_assert_eq(w[512 + 1], TDS_ST_EOM);
    free(w);
    tds_session_free(s);
}

Test(packet, empty_message_and_attention)
{
    tds_session *s = tds_session_new(NULL);
    cr_assert_eq(tds_send_message(s, TDS_PKT_ATTENTION, NULL, 0), TDS_OK);
    size_t n;
    uint8_t *w = drain(s, &n);
    uint8_t want[] = {0x06, 0x01, 0x00, 0x08, 0, 0, 1, 0};
    cr_assert_eq(n, 8);
    cr_assert_arr_eq(w, want, 8);
    free(w);
    tds_session_free(s);
}

Test(packet, abort_sets_ignore)
{
    tds_session *s = tds_session_new(NULL);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_SQL_BATCH, 0), TDS_OK);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_SQL_BATCH, 0), TDS_E_STATE);
    cr_assert_eq(tds_put_bytes(s, "ab", 2), TDS_OK);
    cr_assert_eq(tds_msg_abort(s), TDS_OK);
    size_t n;
    uint8_t *w = drain(s, &n);
    cr_assert_eq(w[1], TDS_ST_EOM | TDS_ST_IGNORE);
    /* The receiving side drops an ignored message without an event. */
    tds_session *srv = server();
    cr_assert_eq(tds_feed(srv, w, n), (ptrdiff_t)n);
    tds_event ev;
    cr_assert_eq(tds_next(srv, &ev), 0);
    cr_assert(tds_idle(srv));
    free(w);
    tds_session_free(srv);
    tds_session_free(s);
}

Test(packet, put_outside_message_is_state_error)
{
    tds_session *s = tds_session_new(NULL);
    cr_assert_eq(tds_put_bytes(s, "x", 1), TDS_E_STATE);
    cr_assert_eq(tds_msg_end(s), TDS_E_STATE);
    tds_session_free(s);
}

/* Sends a message from a client session at the given packet size and
 * returns the framed bytes. */
static uint8_t *frame(uint8_t type, const uint8_t *payload, size_t len, uint32_t psize, size_t *n)
{
    tds_session_opts o = {.packet_size = psize};
    tds_session *c = tds_session_new(&o);
    cr_assert_eq(tds_send_message(c, type, payload, len), TDS_OK);
    uint8_t *w = drain(c, n);
    tds_session_free(c);
    return w;
}

Test(packet, lending_asks_header_then_exact_payload)
{
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)i;
    size_t n;
    uint8_t *w = frame(TDS_PKT_SQL_BATCH, payload, sizeof payload, 512, &n);
    tds_session *s = server();
    size_t off = 0;
    int packets = 0;
    while (off < n) {
        uint8_t *buf;
        size_t want;
        cr_assert_eq(tds_recv_buf(s, &buf, &want), TDS_OK);
        cr_assert_eq(want, 8, "asks for exactly the header");
        memcpy(buf, w + off, 8);
        cr_assert_eq(tds_recv_ack(s, 8), TDS_OK);
        size_t plen = tds_be16(w + off + 2) - 8;
        off += 8;
        cr_assert_eq(tds_recv_buf(s, &buf, &want), TDS_OK);
        cr_assert_eq(want, plen, "asks for exactly the payload");
        memcpy(buf, w + off, plen);
        cr_assert_eq(tds_recv_ack(s, plen), TDS_OK);
        off += plen;
        packets++;
    }
    cr_assert_eq(packets, 2);
    tds_event ev;
    cr_assert_eq(tds_next(s, &ev), 1);
    cr_assert_eq(ev.type, TDS_EV_MESSAGE);
    cr_assert_eq(ev.u.message.type, TDS_PKT_SQL_BATCH);
    cr_assert_eq(ev.u.message.len, sizeof payload);
    cr_assert_arr_eq(ev.u.message.data, payload, sizeof payload);
    cr_assert_eq(tds_next(s, &ev), 0);
    free(w);
    tds_session_free(s);
}

Test(packet, complete_message_blocks_further_lending)
{
    uint8_t a[] = {1, 2, 3};
    size_t n;
    uint8_t *w = frame(TDS_PKT_SQL_BATCH, a, 3, 4096, &n);
    tds_session *s = server();
    cr_assert_eq(tds_feed(s, w, n), (ptrdiff_t)n);
    uint8_t *buf;
    size_t want;
    cr_assert_eq(tds_recv_buf(s, &buf, &want), TDS_OK);
    cr_assert_eq(want, 0, "nothing lent until the message is pulled");
    cr_assert_eq(tds_feed(s, w, n), 0);
    tds_event ev;
    cr_assert_eq(tds_next(s, &ev), 1);
    cr_assert_eq(tds_feed(s, w, n), (ptrdiff_t)n);
    cr_assert_eq(tds_next(s, &ev), 1);
    cr_assert_arr_eq(ev.u.message.data, a, 3);
    free(w);
    tds_session_free(s);
}

Test(packet, three_ways_reassembly)
{
    /* Two messages back to back, the first spanning three packets. */
    uint8_t big[1200];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i ^ 0x5A);
    size_t n1, n2;
    uint8_t *w1 = frame(TDS_PKT_RPC, big, sizeof big, 512, &n1);
    uint8_t *w2 = frame(TDS_PKT_ATTENTION, NULL, 0, 512, &n2);
    uint8_t *w = malloc(n1 + n2);
    memcpy(w, w1, n1);
    memcpy(w + n1, w2, n2);
    tds_session_opts o = {.role = TDS_ROLE_SERVER};
    char *t = tv_three_ways(&o, false, w, n1 + n2);
    cr_assert(strstr(t, "MESSAGE type=3 status=1 len=1200") != NULL, "%s", t);
    cr_assert(strstr(t, "MESSAGE type=6 status=1 len=0") != NULL, "%s", t);
    cr_assert(strstr(t, "ERROR") == NULL, "%s", t);
    free(t);
    free(w);
    free(w1);
    free(w2);
}

Test(packet, bad_headers_are_sticky_protocol_errors)
{
    static const uint8_t bad[][8] = {
        {0x55, 0x01, 0x00, 0x09, 0, 0, 1, 0}, /* unknown type */
        {0x01, 0x01, 0x00, 0x07, 0, 0, 1, 0}, /* length below the header */
        {0x01, 0x01, 0x80, 0x01, 0, 0, 1, 0}, /* length above 32768 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tds_session *s = server();
        ptrdiff_t r = tds_feed(s, bad[i], 8);
        cr_assert_eq(r, TDS_E_PROTO, "case %zu", i);
        cr_assert_eq(tds_session_error(s), TDS_E_PROTO);
        tds_event ev;
        cr_assert_eq(tds_next(s, &ev), TDS_E_PROTO, "sticky");
        tds_session_free(s);
    }
}

Test(packet, type_change_inside_message_is_protocol_error)
{
    uint8_t w[] = {0x01, 0x00, 0x00, 0x09, 0, 0, 1, 0, 0xAA,
                   0x03, 0x01, 0x00, 0x09, 0, 0, 2, 0, 0xBB};
    tds_session *s = server();
    ptrdiff_t r = tds_feed(s, w, 9);
    cr_assert_eq(r, 9);
    r = tds_feed(s, w + 9, 9);
    cr_assert_eq(r, TDS_E_PROTO);
    tds_session_free(s);
}

Test(packet, oversized_whole_message_rejected)
{
    tds_session_opts o = {.role = TDS_ROLE_SERVER, .max_message = 1000};
    tds_session *s = tds_session_new(&o);
    uint8_t payload[2000] = {0};
    size_t n;
    uint8_t *w = frame(TDS_PKT_SQL_BATCH, payload, sizeof payload, 512, &n);
    ptrdiff_t r = 0;
    size_t off = 0;
    while (off < n && r >= 0) {
        r = tds_feed(s, w + off, n - off);
        if (r > 0)
            off += (size_t)r;
    }
    cr_assert_eq(r, TDS_E_TOOBIG);
    free(w);
    tds_session_free(s);
}

Test(packet, client_expect_message_gets_prelogin_reply_whole)
{
    uint8_t reply[] = {0x00, 0x00, 0x06, 0x00, 0x06, 0xFF, 0x0F, 0x00, 0x07, 0xD0, 0x00, 0x00};
    size_t n;
    uint8_t *w = tv_packetize(TDS_PKT_REPLY, reply, sizeof reply, 4096, &n);
    tds_session *c = tds_session_new(NULL);
    tds_expect_message(c);
    cr_assert_eq(tds_feed(c, w, n), (ptrdiff_t)n);
    tds_event ev;
    cr_assert_eq(tds_next(c, &ev), 1);
    cr_assert_eq(ev.type, TDS_EV_MESSAGE);
    cr_assert_eq(ev.u.message.len, sizeof reply);
    free(w);
    tds_session_free(c);
}

Test(packet, send_queue_partial_acks)
{
    tds_session_opts o = {.packet_size = 512};
    tds_session *s = tds_session_new(&o);
    uint8_t payload[5000];
    memset(payload, 0x11, sizeof payload);
    cr_assert_eq(tds_send_message(s, TDS_PKT_SQL_BATCH, payload, sizeof payload), TDS_OK);
    size_t total = tds_send_pending(s);
    cr_assert_eq(total, 5000 + 10 * 8);
    const uint8_t *p;
    size_t len, got = 0;
    while (tds_send_pending(s)) {
        tds_send_buf(s, &p, &len);
        size_t k = len < 333 ? len : 333;
        got += k;
        tds_send_ack(s, k);
    }
    cr_assert_eq(got, total);
    tds_session_free(s);
}

/* Found by fuzz_packet: an empty message as the very first one (no receive
 * buffer allocated yet) must not do pointer arithmetic on NULL. */
Test(packet, empty_first_message_regression)
{
    uint8_t w[] = {0x0E, 0x01, 0x00, 0x08, 0x04, 0x53, 0x45, 0x00};
    tds_session *s = server();
    cr_assert_eq(tds_feed(s, w, sizeof w), (ptrdiff_t)sizeof w);
    tds_event ev;
    cr_assert_eq(tds_next(s, &ev), 1);
    cr_assert_eq(ev.type, TDS_EV_MESSAGE);
    cr_assert_eq(ev.u.message.type, TDS_PKT_TRANSACTION);
    cr_assert_eq(ev.u.message.len, 0);
    cr_assert_not_null(ev.u.message.data);
    tds_session_free(s);
}
