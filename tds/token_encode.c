/*
 * token_encode.c — token encoders (tds_put_*) for servers and bulk load
 * (MS-TDS 2.2.7). Each writes one token into the message opened with
 * tds_msg_begin(); packet splitting is packet_tx.c's job.
 *
 * Invariants: tokens with a length field are measured before the first
 * byte is written, so an argument error (a text too long for its prefix,
 * invalid UTF-8) leaves the message untouched. tds_put_row is the test
 * server's hot path: a row of fixed-size and short values is measured,
 * then written with one reservation and plain stores; no allocation per
 * row. All strings are UTF-8 in, UTF-16LE on the wire.
 */
#include "encode_int.h"
#include "value_int.h"

/* Bytes a B_VARCHAR (lenbytes 1) or US_VARCHAR (2) of the UTF-8 text takes,
 * or a negative error (TDS_E_ENCODING, TDS_E_RANGE). */
static long varchar_size(const char *p, size_t len, int lenbytes)
{
    if (!p && len)
        return TDS_E_ARG;
    int n = tds_utf8_to_utf16(p, len, NULL, 0);
    if (n < 0)
        return n;
    if ((size_t)n / 2 > (lenbytes == 1 ? 0xFFu : 0xFFFFu))
        return TDS_E_RANGE;
    return lenbytes + n;
}

static inline int put_str(tds_session *s, const tds_str *t, int lenbytes)
{
    return tds__put_utf16(s, t->ptr, t->ptr ? t->len : 0, lenbytes);
}

static inline long str_size(const tds_str *t, int lenbytes)
{
    return varchar_size(t->ptr, t->ptr ? t->len : 0, lenbytes);
}

static int check_open(tds_session *s)
{
    if (!s)
        return TDS_E_ARG;
    if (s->error)
        return s->error;
    return s->tx.in_msg ? TDS_OK : TDS_E_STATE;
}

/* Token byte plus a 2-byte length. */
static int put_head(tds_session *s, uint8_t token, size_t len)
{
    if (len > 0xFFFF)
        return TDS_E_RANGE;
    uint8_t b[3] = { token };
    tds_wle16(b + 1, (uint16_t)len);
    return tds__put(s, b, 3);
}

int tds_put_loginack(tds_session *s, const tds_loginack *a)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (!a)
        return TDS_E_ARG;
    long name = str_size(&a->prog_name, 1);
    if (name < 0)
        return (int)name;
    if ((rc = put_head(s, TDS_TOK_LOGINACK, 1 + 4 + (size_t)name + 4)))
        return rc;
    uint8_t b[5] = { a->interface };
    tds_wbe32(b + 1, a->tds_version); /* 74 00 00 04 for TDS 7.4 */
    if ((rc = tds__put(s, b, 5)) || (rc = put_str(s, &a->prog_name, 1)))
        return rc;
    uint8_t v[4] = { a->major, a->minor };
    tds_wbe16(v + 2, a->build);
    return tds__put(s, v, 4);
}

/* How an ENVCHANGE type spells its values. */
enum env_form { ENV_STRING, ENV_BYTES, ENV_PROMOTE, ENV_ROUTING };

static int env_form(uint8_t type)
{
    switch (type) {
    case TDS_ENV_DATABASE: case TDS_ENV_LANGUAGE: case TDS_ENV_CHARSET:
    case TDS_ENV_PACKETSIZE: case TDS_ENV_SORT_LCID: case TDS_ENV_SORT_FLAGS:
    case TDS_ENV_MIRROR_PARTNER: case TDS_ENV_USER_INSTANCE:
        return ENV_STRING;
    case TDS_ENV_COLLATION: case TDS_ENV_BEGIN_TRAN: case TDS_ENV_COMMIT_TRAN:
    case TDS_ENV_ROLLBACK_TRAN: case TDS_ENV_ENLIST_DTC: case TDS_ENV_DEFECT_TRAN:
    case TDS_ENV_TRAN_MANAGER_ADDR: case TDS_ENV_TRAN_ENDED: case TDS_ENV_RESET_ACK:
        return ENV_BYTES;
    case TDS_ENV_PROMOTE_TRAN:
        return ENV_PROMOTE;
    case TDS_ENV_ROUTING:
        return ENV_ROUTING;
    default:
        return TDS_E_ARG;
    }
}

int tds_put_envchange(tds_session *s, const tds_envchange *e)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (!e)
        return TDS_E_ARG;
    int form = env_form(e->type);
    if (form < 0)
        return form;
    size_t len = 1;
    long a = 0, b = 0;
    switch (form) {
    case ENV_STRING:
        if ((a = str_size(&e->new_text, 1)) < 0)
            return (int)a;
        if ((b = str_size(&e->old_text, 1)) < 0)
            return (int)b;
        len += (size_t)a + (size_t)b;
        break;
    case ENV_BYTES:
        if (e->new_raw_len > 255 || e->old_raw_len > 255 ||
            (e->new_raw_len && !e->new_raw) || (e->old_raw_len && !e->old_raw))
            return TDS_E_ARG;
        len += 2 + e->new_raw_len + e->old_raw_len;
        break;
    case ENV_PROMOTE: /* NewValue L_VARBYTE, OldValue 0x00 */
        if (e->new_raw_len > 0xFFFF || (e->new_raw_len && !e->new_raw))
            return TDS_E_ARG;
        len += 4 + e->new_raw_len + 1;
        break;
    case ENV_ROUTING: /* US_VARBYTE: protocol, port, US_VARCHAR server; old: 2-byte 0 */
        if ((a = str_size(&e->routing_server, 2)) < 0)
            return (int)a;
        if (3 + (size_t)a > 0xFFFF)
            return TDS_E_RANGE;
        len += 2 + 3 + (size_t)a + 2;
        break;
    }
    if ((rc = put_head(s, TDS_TOK_ENVCHANGE, len)) || (rc = tds__put_u8(s, e->type)))
        return rc;
    uint8_t h[8];
    switch (form) {
    case ENV_STRING:
        if ((rc = put_str(s, &e->new_text, 1)))
            return rc;
        return put_str(s, &e->old_text, 1);
    case ENV_BYTES:
        if ((rc = tds__put_u8(s, (uint8_t)e->new_raw_len)) ||
            (rc = tds__put(s, e->new_raw, e->new_raw_len)) ||
            (rc = tds__put_u8(s, (uint8_t)e->old_raw_len)))
            return rc;
        return tds__put(s, e->old_raw, e->old_raw_len);
    case ENV_PROMOTE:
        if ((rc = tds__put_u32(s, (uint32_t)e->new_raw_len)) ||
            (rc = tds__put(s, e->new_raw, e->new_raw_len)))
            return rc;
        return tds__put_u8(s, 0);
    default: /* ENV_ROUTING */
        tds_wle16(h, (uint16_t)(3 + a));
        h[2] = 0; /* protocol: TCP */
        tds_wle16(h + 3, e->routing_port);
        if ((rc = tds__put(s, h, 5)) || (rc = put_str(s, &e->routing_server, 2)))
            return rc;
        return tds__put_u16(s, 0);
    }
}

static int put_msg(tds_session *s, uint8_t token, const tds_server_msg *m)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (!m)
        return TDS_E_ARG;
    long a = str_size(&m->message, 2), b = str_size(&m->server, 1), c = str_size(&m->procedure, 1);
    if (a < 0)
        return (int)a;
    if (b < 0)
        return (int)b;
    if (c < 0)
        return (int)c;
    if ((rc = put_head(s, token, 4 + 1 + 1 + (size_t)(a + b + c) + 4)))
        return rc;
    uint8_t h[6];
    tds_wle32(h, (uint32_t)m->number);
    h[4] = m->state;
    h[5] = m->severity;
    if ((rc = tds__put(s, h, 6)) || (rc = put_str(s, &m->message, 2)) ||
        (rc = put_str(s, &m->server, 1)) || (rc = put_str(s, &m->procedure, 1)))
        return rc;
    return tds__put_u32(s, (uint32_t)m->line);
}

int tds_put_info(tds_session *s, const tds_server_msg *m) { return put_msg(s, TDS_TOK_INFO, m); }
int tds_put_error(tds_session *s, const tds_server_msg *m) { return put_msg(s, TDS_TOK_ERROR, m); }

int tds_put_featureextack(tds_session *s, const tds_feature_ack *acks, size_t n)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (n && !acks)
        return TDS_E_ARG;
    for (size_t i = 0; i < n; i++)
        if (acks[i].id == TDS_FEAT_TERMINATOR || (acks[i].len && !acks[i].data))
            return TDS_E_ARG;
    if ((rc = tds__put_u8(s, TDS_TOK_FEATUREEXTACK)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        uint8_t h[5] = { acks[i].id };
        tds_wle32(h + 1, acks[i].len);
        if ((rc = tds__put(s, h, 5)) || (rc = tds__put(s, acks[i].data, acks[i].len)))
            return rc;
    }
    return tds__put_u8(s, TDS_FEAT_TERMINATOR);
}

int tds_put_done(tds_session *s, uint8_t token, uint16_t status, uint16_t curcmd, uint64_t rowcount)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (token != TDS_TOK_DONE && token != TDS_TOK_DONEPROC && token != TDS_TOK_DONEINPROC)
        return TDS_E_ARG;
    uint8_t b[13] = { token };
    tds_wle16(b + 1, status);
    tds_wle16(b + 3, curcmd);
    tds_wle64(b + 5, rowcount);
    return tds__put(s, b, sizeof b);
}

int tds_put_returnstatus(tds_session *s, int32_t status)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    uint8_t b[5] = { TDS_TOK_RETURNSTATUS };
    tds_wle32(b + 1, (uint32_t)status);
    return tds__put(s, b, sizeof b);
}

static bool is_text_type(uint8_t t)
{
    return t == TDS_T_TEXT || t == TDS_T_NTEXT || t == TDS_T_IMAGE;
}

/* TableName of a text/ntext/image column: NumParts, then each dot-separated
 * part as US_VARCHAR ("" gives no parts). */
static int put_table_name(tds_session *s, const tds_str *t)
{
    const char *p = t->ptr ? t->ptr : "";
    size_t len = t->ptr ? t->len : 0;
    unsigned parts = 0;
    for (size_t i = 0; len && i <= len; i++)
        if (i == len || p[i] == '.')
            parts++;
    if (parts > 255)
        return TDS_E_ARG;
    int rc = tds__put_u8(s, (uint8_t)parts);
    for (size_t i = 0, start = 0; !rc && len && i <= len; i++) {
        if (i == len || p[i] == '.') {
            rc = tds__put_utf16(s, p + start, i - start, 2);
            start = i + 1;
        }
    }
    return rc;
}

/* UserType, Flags, TYPE_INFO: the part COLMETADATA and RETURNVALUE share. */
static int put_col_type(tds_session *s, const tds_column *c)
{
    uint8_t b[6];
    tds_wle32(b, c->user_type);
    tds_wle16(b + 4, c->flags);
    int rc = tds__put(s, b, 6);
    return rc ? rc : tds__typeinfo_put(s, c);
}

int tds_put_colmetadata(tds_session *s, const tds_column *cols, uint16_t n)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (n && !cols)
        return TDS_E_ARG;
    /* Check every name first so an error leaves the message untouched. */
    for (uint16_t i = 0; i < n; i++) {
        uint32_t fixed;
        if (tds__value_class(&cols[i], &fixed) < 0)
            return TDS_E_TYPE;
        long k = str_size(&cols[i].name, 1);
        if (k < 0)
            return (int)k;
    }
    uint8_t b[3] = { TDS_TOK_COLMETADATA };
    tds_wle16(b + 1, n ? n : 0xFFFF); /* 0xFFFF: no metadata */
    if ((rc = tds__put(s, b, 3)))
        return rc;
    for (uint16_t i = 0; i < n; i++) {
        const tds_column *c = &cols[i];
        if ((rc = put_col_type(s, c)))
            return rc;
        if (is_text_type(c->type) && (rc = put_table_name(s, &c->table)))
            return rc;
        if ((rc = put_str(s, &c->name, 1)))
            return rc;
    }
    return TDS_OK;
}

/* Bytes a plain value takes with its prefix in the fast path, or 0 when it
 * needs the general path (PLP, text, UTF-8, NULL of a fixed type, or a
 * length the general path would reject). */
static size_t fast_size(const tds_column *c, const tds_value *v)
{
    uint32_t fixed;
    if (v->flags & TDS_VF_UTF8 && !(v->flags & TDS_VF_NULL))
        return 0;
    bool null = v->flags & TDS_VF_NULL;
    switch (tds__value_class(c, &fixed)) {
    case TDS__VC_FIXED:
        return !null && fixed && v->len == fixed && v->ptr ? fixed : 0;
    case TDS__VC_BYTE:
        if (null)
            return 1;
        if (v->len == 0 || v->len > 255 || (c->max_len && v->len > c->max_len) || !v->ptr ||
            tds__value_check(c, v->len) != TDS_OK)
            return 0;
        return 1 + (size_t)v->len;
    case TDS__VC_USHORT:
        if (null)
            return 2;
        if (v->len > c->max_len || v->len >= 0xFFFF || (v->len && !v->ptr) ||
            ((c->kind == TDS_K_NCHAR) && (v->len & 1)))
            return 0;
        return 2 + (size_t)v->len;
    default:
        return 0;
    }
}

/* Writes a value measured by fast_size at d; returns the bytes written. */
static size_t fast_write(uint8_t *d, const tds_column *c, const tds_value *v)
{
    uint32_t fixed;
    bool null = v->flags & TDS_VF_NULL;
    switch (tds__value_class(c, &fixed)) {
    case TDS__VC_FIXED:
        memcpy(d, v->ptr, fixed);
        return fixed;
    case TDS__VC_BYTE:
        d[0] = null ? 0 : (uint8_t)v->len;
        if (null)
            return 1;
        memcpy(d + 1, v->ptr, v->len);
        return 1 + (size_t)v->len;
    default: /* USHORT */
        tds_wle16(d, null ? 0xFFFF : (uint16_t)v->len);
        if (null)
            return 2;
        if (v->len)
            memcpy(d + 2, v->ptr, v->len);
        return 2 + (size_t)v->len;
    }
}

static int put_row_any(tds_session *s, uint8_t token, const tds_column *cols,
                       const tds_value *vals, uint16_t n)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (n && (!cols || !vals))
        return TDS_E_ARG;
    bool nbc = token == TDS_TOK_NBCROW;
    size_t nbm = nbc ? ((size_t)n + 7) / 8 : 0;

    /* Fast path: measure; if every value is plain and the row fits the
     * open packet, write it in place. */
    size_t total = 1 + nbm;
    uint16_t i;
    for (i = 0; i < n; i++) {
        if (nbc && (vals[i].flags & TDS_VF_NULL))
            continue;
        size_t k = fast_size(&cols[i], &vals[i]);
        if (!k)
            break;
        total += k;
    }
    uint8_t *d;
    if (i == n && (d = tds__put_reserve(s, total)) != NULL) {
        uint8_t *p = d;
        *p++ = token;
        if (nbc) {
            memset(p, 0, nbm);
            for (i = 0; i < n; i++)
                if (vals[i].flags & TDS_VF_NULL)
                    p[i >> 3] |= (uint8_t)(1u << (i & 7));
            p += nbm;
        }
        for (i = 0; i < n; i++) {
            if (nbc && (vals[i].flags & TDS_VF_NULL))
                continue;
            p += fast_write(p, &cols[i], &vals[i]);
        }
        tds__put_commit(s, (size_t)(p - d));
        return TDS_OK;
    }

    /* General path. Framing errors are found before the first byte;
     * later ones (text not encodable) leave a partial row, and the caller
     * abandons the message. */
    for (i = 0; i < n; i++) {
        uint32_t fixed;
        int cls = tds__value_class(&cols[i], &fixed);
        if (cls < 0)
            return cls;
        if (cls == TDS__VC_FIXED && (vals[i].flags & TDS_VF_NULL) && !nbc)
            return TDS_E_ARG;
    }
    /* The bitmap for up to 1024 columns on the stack. */
    uint8_t bm[128 + 1];
    bm[0] = token;
    if (nbc) {
        if (nbm > 128)
            return TDS_E_ARG;
        memset(bm + 1, 0, nbm);
        for (i = 0; i < n; i++)
            if (vals[i].flags & TDS_VF_NULL)
                bm[1 + (i >> 3)] |= (uint8_t)(1u << (i & 7));
    }
    if ((rc = tds__put(s, bm, 1 + nbm)))
        return rc;
    for (i = 0; i < n; i++) {
        if (nbc && (vals[i].flags & TDS_VF_NULL))
            continue;
        if ((rc = tds__value_put(s, &cols[i], &vals[i])))
            return rc;
    }
    return TDS_OK;
}

int tds_put_row(tds_session *s, const tds_column *cols, const tds_value *vals, uint16_t n)
{
    return put_row_any(s, TDS_TOK_ROW, cols, vals, n);
}

int tds_put_nbcrow(tds_session *s, const tds_column *cols, const tds_value *vals, uint16_t n)
{
    return put_row_any(s, TDS_TOK_NBCROW, cols, vals, n);
}

int tds_put_value(tds_session *s, const tds_column *c, const tds_value *v)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (!c || !v)
        return TDS_E_ARG;
    return tds__value_put(s, c, v);
}

int tds_put_returnvalue(tds_session *s, uint16_t ordinal, const char *name, uint8_t status,
                        const tds_column *col, const tds_value *val)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (!col || !val)
        return TDS_E_ARG;
    size_t nlen = tds__strlen0(name);
    long k = varchar_size(name, nlen, 1);
    if (k < 0)
        return (int)k;
    uint8_t b[3] = { TDS_TOK_RETURNVALUE };
    tds_wle16(b + 1, ordinal);
    if ((rc = tds__put(s, b, 3)) || (rc = tds__put_utf16(s, name, nlen, 1)) ||
        (rc = tds__put_u8(s, status)) || (rc = put_col_type(s, col)))
        return rc;
    return tds__value_put(s, col, val);
}

int tds_put_order(tds_session *s, const uint16_t *cols, uint16_t n)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if ((n && !cols) || n > 0x7FFF)
        return TDS_E_ARG;
    if ((rc = put_head(s, TDS_TOK_ORDER, (size_t)n * 2)))
        return rc;
    for (uint16_t i = 0; i < n && !rc; i++)
        rc = tds__put_u16(s, cols[i]);
    return rc;
}

static int put_raw_token(tds_session *s, uint8_t token, const uint8_t *data, uint16_t len)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (len && !data)
        return TDS_E_ARG;
    if ((rc = put_head(s, token, len)))
        return rc;
    return tds__put(s, data, len);
}

int tds_put_colinfo(tds_session *s, const uint8_t *data, uint16_t len)
{
    return put_raw_token(s, TDS_TOK_COLINFO, data, len);
}

int tds_put_tabname(tds_session *s, const uint8_t *data, uint16_t len)
{
    return put_raw_token(s, TDS_TOK_TABNAME, data, len);
}

/* PLP of unknown length: 0xFFFFFFFFFFFFFFFE, chunks, a zero terminator.
 * After tds_put_plp_begin(s, true) (NULL) the value is complete: call
 * neither chunk nor end. */
int tds_put_plp_begin(tds_session *s, bool null)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    return tds__put_u64(s, null ? UINT64_MAX : UINT64_MAX - 1);
}

int tds_put_plp_chunk(tds_session *s, const void *p, uint32_t n)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    if (n == 0)
        return TDS_OK; /* a zero-length chunk would end the value */
    if (!p)
        return TDS_E_ARG;
    uint8_t b[4];
    tds_wle32(b, n);
    uint8_t *d = tds__put_reserve(s, 4 + (size_t)n);
    if (d) {
        memcpy(d, b, 4);
        memcpy(d + 4, p, n);
        tds__put_commit(s, 4 + (size_t)n);
        return TDS_OK;
    }
    rc = tds_put_bytes(s, b, 4);
    return rc ? rc : tds_put_bytes(s, p, n);
}

int tds_put_plp_end(tds_session *s)
{
    int rc = check_open(s);
    if (rc)
        return rc;
    return tds__put_u32(s, 0);
}
