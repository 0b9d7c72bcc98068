/*
 * session.c — a session's lifetime, options and the environment the client
 * picks up from ENVCHANGE, plus the whole-message senders (PRELOGIN,
 * LOGIN7) that need session state.
 */
#include <stdlib.h>

#include "tds_int.h"

#define DEFAULT_MAX_MESSAGE (64u << 20)
#define DEFAULT_MAX_ROW (64u << 20)

tds_session *tds_session_new(const tds_session_opts *opts)
{
    tds_session_opts zero = {0};
    if (!opts)
        opts = &zero;
    if (opts->role != TDS_ROLE_CLIENT && opts->role != TDS_ROLE_SERVER)
        return NULL;
    uint32_t psize = opts->packet_size ? opts->packet_size : TDS_PACKET_DEFAULT;
    if (psize < TDS_PACKET_MIN || psize > TDS_PACKET_MAX)
        return NULL;
    const tds_alloc *a = opts->alloc ? opts->alloc : &tds__default_alloc;
    tds_session *s = tds__malloc(a, sizeof *s);
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->alloc_copy = *a;
    s->alloc = &s->alloc_copy;
    s->role = opts->role;
    s->packet_size = psize;
    s->max_message = opts->max_message ? opts->max_message : DEFAULT_MAX_MESSAGE;
    s->max_row = opts->max_row ? opts->max_row : DEFAULT_MAX_ROW;
    s->stream_plp = opts->stream_plp;
    s->tx.out.alloc = s->alloc;
    tds_arena_init(&s->arena, s->alloc, 0);
    return s;
}

void tds_session_free(tds_session *s)
{
    if (!s)
        return;
    tds__tokens_free(s);
    tds__conv_close(&s->conv);
    tds_arena_free(&s->arena);
    tds__free(s->alloc, s->rx.buf);
    if (s->tx.secret)
        tds__wipe(s->tx.out.data, s->tx.out.cap);
    tds_buf_free(&s->tx.out);
    tds_alloc a = s->alloc_copy;
    tds__free(&a, s);
}

int tds_set_packet_size(tds_session *s, uint32_t size)
{
    if (size < TDS_PACKET_MIN || size > TDS_PACKET_MAX)
        return TDS_E_ARG;
    s->packet_size = size;
    return TDS_OK;
}

uint32_t tds_packet_size(const tds_session *s) { return s->packet_size; }
uint64_t tds_transaction(const tds_session *s) { return s->transaction; }
const char *tds_database(const tds_session *s) { return s->database; }
const tds_collation *tds_session_collation(const tds_session *s) { return &s->collation; }

void tds_expect_message(tds_session *s) { s->rx.whole_next = true; }

int tds_send_message(tds_session *s, uint8_t packet_type, const uint8_t *payload, size_t len)
{
    int rc = tds_msg_begin(s, packet_type, 0);
    if (rc)
        return rc;
    rc = tds_put_bytes(s, payload, len);
    if (rc)
        return rc;
    return tds_msg_end(s);
}

int tds_send_prelogin(tds_session *s, const tds_prelogin *p)
{
    if (s->error)
        return s->error;
    uint8_t buf[512];
    int n = tds_prelogin_encode(p, buf, sizeof buf);
    if (n < 0)
        return n;
    bool client = s->role == TDS_ROLE_CLIENT;
    int rc = tds_send_message(s, client ? TDS_PKT_PRELOGIN : TDS_PKT_REPLY, buf, (size_t)n);
    /* The PRELOGIN reply is option data, not a token stream. */
    if (rc == TDS_OK && client)
        tds_expect_message(s);
    return rc;
}

int tds_send_login7(tds_session *s, const tds_login7 *l)
{
    if (s->error)
        return s->error;
    uint8_t small[4096];
    uint8_t *buf = small;
    size_t cap = sizeof small;
    int n = tds_login7_encode(l, buf, cap);
    if (n == TDS_E_SPACE) {
        /* A long access token: the encoder bounds every field, so this
         * size always suffices. */
        cap = 1u << 20;
        buf = tds__malloc(s->alloc, cap);
        if (!buf)
            return TDS_E_NOMEM;
        n = tds_login7_encode(l, buf, cap);
    }
    int rc = n < 0 ? n : tds_send_message(s, TDS_PKT_LOGIN7, buf, (size_t)n);
    /* The password and token are secrets: leave them nowhere once sent. */
    if (rc == TDS_OK)
        s->tx.secret = true;
    tds__wipe(buf, buf == small ? sizeof small : cap);
    if (buf != small)
        tds__free(s->alloc, buf);
    if (rc == TDS_OK) {
        s->features_requested = 0;
        if (l->fedauth)
            s->features_requested |= 1u << TDS_FEAT_FEDAUTH;
        if (l->utf8_support)
            s->features_requested |= 1u << TDS_FEAT_UTF8_SUPPORT;
        if (l->json_support)
            s->features_requested |= 1u << TDS_FEAT_JSONSUPPORT;
        if (l->vector_support)
            s->features_requested |= 1u << TDS_FEAT_VECTORSUPPORT;
        s->json_requested = l->json_support;
        s->vector_requested = l->vector_support;
    }
    return rc;
}
