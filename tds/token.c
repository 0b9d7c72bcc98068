/*
 * token.c — the token-stream dispatcher: one handler per token byte, plus
 * the helpers every handler shares (short input, event completion,
 * length-prefixed bodies, column arrays).
 *
 * Contract (see tds_int.h): bytes are read from rx.buf[pos, end). A token
 * that is not all here leaves rx.pos at its start (or, for COLMETADATA and
 * rows, at the first unfinished column with the progress kept in s->dec)
 * and sets rx.keep to the first byte still needed; when the message is
 * complete a short token is TDS_E_PROTO at the field that runs past the
 * end. s->arena is reset when a token starts, never when one resumes.
 */
#include "tds_int.h"

/* Unknown bytes are TDS_E_PROTO; valid TDS we do not speak is
 * TDS_E_UNSUPPORTED. */
static const tds__tok_fn handlers[256] = {
    [TDS_TOK_COLMETADATA] = tds__tok_colmetadata,
    [TDS_TOK_ROW] = tds__tok_row,
    [TDS_TOK_NBCROW] = tds__tok_row,
    [TDS_TOK_DONE] = tds__tok_done,
    [TDS_TOK_DONEPROC] = tds__tok_done,
    [TDS_TOK_DONEINPROC] = tds__tok_done,
    [TDS_TOK_RETURNSTATUS] = tds__tok_returnstatus,
    [TDS_TOK_RETURNVALUE] = tds__tok_returnvalue,
    [TDS_TOK_ORDER] = tds__tok_order,
    [TDS_TOK_COLINFO] = tds__tok_colinfo,
    [TDS_TOK_TABNAME] = tds__tok_tabname,
    [TDS_TOK_ERROR] = tds__tok_message,
    [TDS_TOK_INFO] = tds__tok_message,
    [TDS_TOK_ENVCHANGE] = tds__tok_envchange,
    [TDS_TOK_LOGINACK] = tds__tok_loginack,
    [TDS_TOK_FEATUREEXTACK] = tds__tok_featureextack,
    [TDS_TOK_FEDAUTHINFO] = tds__tok_fedauthinfo,
    [TDS_TOK_SSPI] = tds__tok_unsupported,
    [TDS_TOK_ALTMETADATA] = tds__tok_unsupported,
    [TDS_TOK_ALTROW] = tds__tok_unsupported,
    [TDS_TOK_OFFSET] = tds__tok_unsupported,
    [TDS_TOK_SESSIONSTATE] = tds__tok_unsupported,
    [TDS_TOK_DATACLASSIFICATION] = tds__tok_unsupported,
};

/* A server decodes only bulk-load data (MS-TDS 2.2.6.1). */
static bool server_token(uint8_t tok)
{
    return tok == TDS_TOK_COLMETADATA || tok == TDS_TOK_ROW || tok == TDS_TOK_NBCROW ||
           tok == TDS_TOK_DONE;
}

int tds__tokens_next(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    switch (s->dec.state) {
    case TDS__TS_ROW:
        return tds__tok_row_resume(s, ev);
    case TDS__TS_COLMETA:
        return tds__tok_colmeta_resume(s, ev);
    default:
        break;
    }
    if (rx->pos >= rx->end) {
        rx->keep = rx->pos;
        return 0;
    }
    uint8_t tok = rx->buf[rx->pos];
    tds__tok_fn fn = handlers[tok];
    if (!fn || (s->role == TDS_ROLE_SERVER && !server_token(tok)))
        return tds__fail(s, TDS_E_PROTO, rx->pos);
    if (s->arena.used_total)
        tds_arena_reset(&s->arena);
    return fn(s, ev);
}

bool tds__tokens_at_boundary(const tds_session *s)
{
    return s->dec.state == TDS__TS_IDLE;
}

void tds__tokens_message_start(tds_session *s)
{
    s->dec.state = TDS__TS_IDLE;
}

void tds__tokens_free(tds_session *s)
{
    tds_tokdec *d = &s->dec;
    tds__free(s->alloc, d->cols);
    tds__free(s->alloc, d->values);
    tds__free(s->alloc, d->x);
    tds__free(s->alloc, d->voff);
    tds__free(s->alloc, d->nbc);
    if (d->meta_init)
        tds_arena_free(&d->meta);
    memset(d, 0, sizeof *d);
}

int tds__tok_short(tds_session *s, size_t at)
{
    if (s->rx.msg_complete)
        return tds__fail(s, TDS_E_PROTO, at);
    s->rx.keep = s->rx.pos;
    return 0;
}

int tds__tok_event(tds_session *s, tds_event *ev, tds_event_type type, size_t end)
{
    ev->type = type;
    ev->token = s->rx.buf[s->rx.pos];
    s->rx.pos = s->rx.keep = end;
    return 1;
}

int tds__tok_body(tds_session *s, size_t lsize, size_t max, tds_rd *rd)
{
    tds_rx *rx = &s->rx;
    size_t pos = rx->pos, avail = rx->end - pos;
    if (avail < 1 + lsize)
        return tds__tok_short(s, pos + 1);
    size_t len = lsize == 2 ? tds_le16(rx->buf + pos + 1) : tds_le32(rx->buf + pos + 1);
    if (len > max)
        return tds__fail(s, TDS_E_TOOBIG, pos + 1);
    if (avail - 1 - lsize < len)
        return tds__tok_short(s, pos + 1);
    tds_rd_init(rd, rx->buf + pos + 1 + lsize, len);
    rd->base = rx->buf;
    return 1;
}

int tds__tok_unsupported(tds_session *s, tds_event *ev)
{
    (void)ev;
    return tds__fail(s, TDS_E_UNSUPPORTED, s->rx.pos);
}

/* Grows an array to n elements of size sz (capacity only grows). */
static int grow(tds_session *s, void **p, size_t n, size_t sz)
{
    void *q = tds__realloc(s->alloc, *p, n * sz);
    if (!q)
        return TDS_E_NOMEM;
    *p = q;
    return TDS_OK;
}

int tds__tok_reserve(tds_session *s, uint16_t n)
{
    tds_tokdec *d = &s->dec;
    if (n <= d->cap_cols && d->cols)
        return TDS_OK;
    size_t want = n < 16 ? 16 : n;
    if (grow(s, (void **)&d->cols, want, sizeof *d->cols) ||
        grow(s, (void **)&d->values, want, sizeof *d->values) ||
        grow(s, (void **)&d->x, want, sizeof *d->x) ||
        grow(s, (void **)&d->voff, want, sizeof *d->voff) ||
        grow(s, (void **)&d->nbc, (want + 7) / 8, 1))
        return TDS_E_NOMEM;
    d->cap_cols = (uint16_t)want;
    return TDS_OK;
}
