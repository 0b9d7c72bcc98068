/*
 * token_meta.c — COLMETADATA (MS-TDS 2.2.7.4): Count, then per column
 * UserType(4) Flags(2) TYPE_INFO [TableName for text/ntext/image]
 * ColName(B_VARCHAR). Count 0xFFFF (NoMetaData) keeps the previous
 * metadata and reports it again.
 *
 * Invariants: columns are decoded one at a time and each finished column
 * is copied (strings into dec.meta), so rx.keep moves to the next column
 * and a COLMETADATA spanning many packets is never re-parsed: resuming
 * costs at most one column. A column is scanned completely before anything
 * is allocated, so retries on short input waste nothing. The arrays are
 * only marked usable (have_meta) once every column is in.
 */
#include "tds_int.h"

#define MAX_TABLE_PARTS 8

static int colmeta_event(tds_session *s, tds_event *ev)
{
    tds_tokdec *d = &s->dec;
    ev->type = TDS_EV_COLMETADATA;
    ev->token = TDS_TOK_COLMETADATA;
    ev->u.colmeta.ncols = d->ncols;
    ev->u.colmeta.cols = d->ncols ? d->cols : NULL;
    s->rx.keep = s->rx.pos;
    return 1;
}

int tds__tok_colmetadata(tds_session *s, tds_event *ev)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    size_t pos = rx->pos;
    if (rx->end - pos < 3)
        return tds__tok_short(s, pos + 1);
    uint16_t count = tds_le16(rx->buf + pos + 1);
    if (count == 0xFFFF) {
        rx->pos = pos + 3;
        return colmeta_event(s, ev);
    }
    if (count > TDS__MAX_COLS)
        return tds__fail(s, TDS_E_PROTO, pos + 1);
    if (tds__tok_reserve(s, count))
        return tds__fail(s, TDS_E_NOMEM, pos);
    if (!d->meta_init) {
        tds_arena_init(&d->meta, s->alloc, 0);
        d->meta_init = true;
    }
    tds_arena_reset(&d->meta);
    d->ncols = 0;
    d->have_meta = false;
    d->cm_total = count;
    d->cm_i = 0;
    d->state = TDS__TS_COLMETA;
    rx->pos = rx->keep = pos + 3;
    return tds__tok_colmeta_resume(s, ev);
}

/* Joins the table name's parts with '.' into the metadata arena. */
static int table_name(tds_arena *a, const uint8_t *const *p, const uint16_t *n, uint8_t parts,
                      tds_str *out)
{
    tds_str str[MAX_TABLE_PARTS];
    size_t total = 0;
    for (uint8_t i = 0; i < parts; i++) {
        if (tds__str16(a, p[i], n[i], &str[i]))
            return TDS_E_NOMEM;
        total += str[i].len + 1;
    }
    char *t = tds_arena_alloc(a, total + 1);
    if (!t)
        return TDS_E_NOMEM;
    size_t o = 0;
    for (uint8_t i = 0; i < parts; i++) {
        if (i)
            t[o++] = '.';
        memcpy(t + o, str[i].ptr, str[i].len);
        o += str[i].len;
    }
    t[o] = '\0';
    out->ptr = t;
    out->len = o;
    return TDS_OK;
}

/* Decodes column d->cm_i at rx.pos. Returns 1 when done, 0 when short,
 * or an error (recorded). */
static int colmeta_column(tds_session *s)
{
    tds_rx *rx = &s->rx;
    tds_tokdec *d = &s->dec;
    tds_column *c = &d->cols[d->cm_i];
    tds_rd rd;
    tds__tistr raw;
    uint32_t user_type;
    uint16_t flags;
    const uint8_t *tp[MAX_TABLE_PARTS], *name;
    uint16_t tn[MAX_TABLE_PARTS], name_n;
    uint8_t parts = 0;

    tds_rd_init(&rd, rx->buf + rx->pos, rx->end - rx->pos);
    rd.base = rx->buf;
    if (!tds_rd_u32(&rd, &user_type))
        return tds__tok_short(s, tds_rd_off(&rd));
    const uint8_t *flags_at = rd.p;
    if (!tds_rd_u16(&rd, &flags))
        return tds__tok_short(s, tds_rd_off(&rd));
    int rc = tds__typeinfo_scan(&rd, c, &raw);
    if (rc == TDS_E_TRUNCATED)
        return tds__tok_short(s, tds_rd_off(&rd));
    if (rc)
        return tds__fail(s, rc, tds_rd_off(&rd));
    if (flags & TDS_COL_ENCRYPTED) /* Always Encrypted: CryptoMetaData follows */
        return tds__fail(s, TDS_E_UNSUPPORTED, (size_t)(flags_at - rx->buf));
    if (c->type == TDS_T_TEXT || c->type == TDS_T_NTEXT || c->type == TDS_T_IMAGE) {
        const uint8_t *at = rd.p;
        if (!tds_rd_u8(&rd, &parts))
            return tds__tok_short(s, tds_rd_off(&rd));
        if (parts > MAX_TABLE_PARTS)
            return tds__fail(s, TDS_E_PROTO, (size_t)(at - rx->buf));
        for (uint8_t i = 0; i < parts; i++) {
            const uint8_t *part_at = rd.p;
            if (!tds_rd_u16(&rd, &tn[i]) || !tds_rd_bytes(&rd, (size_t)tn[i] * 2, &tp[i]))
                return tds__tok_short(s, (size_t)(part_at - rx->buf));
        }
    }
    uint8_t nlen;
    const uint8_t *name_at = rd.p;
    if (!tds_rd_u8(&rd, &nlen) || !tds_rd_bytes(&rd, (size_t)nlen * 2, &name))
        return tds__tok_short(s, (size_t)(name_at - rx->buf));
    name_n = nlen;

    /* Everything is here: materialise. */
    c->user_type = user_type;
    c->flags = flags;
    c->ordinal = d->cm_i;
    if (tds__typeinfo_strings(c, &raw, &d->meta) ||
        tds__str16(&d->meta, name, name_n, &c->name) ||
        (parts && table_name(&d->meta, tp, tn, parts, &c->table)))
        return tds__fail(s, TDS_E_NOMEM, rx->pos);
    tds__colx_init(c, &d->x[d->cm_i]);
    rx->pos = rx->keep = tds_rd_off(&rd);
    return 1;
}

int tds__tok_colmeta_resume(tds_session *s, tds_event *ev)
{
    tds_tokdec *d = &s->dec;
    while (d->cm_i < d->cm_total) {
        int rc = colmeta_column(s);
        if (rc <= 0)
            return rc;
        d->cm_i++;
    }
    d->ncols = d->cm_total;
    d->have_meta = true;
    d->state = TDS__TS_IDLE;
    return colmeta_event(s, ev);
}
