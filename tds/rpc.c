/*
 * rpc.c — client requests SQL_BATCH (MS-TDS 2.2.6.7), RPC (2.2.6.6) and
 * ATTENTION (2.2.1.7), and the server-side decoders of the first two.
 *
 * Invariants: senders validate what they can before tds_msg_begin(); an
 * error after the first byte abandons the message with tds_msg_abort()
 * (IGNORE bit), so the peer never sees half a request as a request. The
 * decoders parse attacker-controlled bytes: every length is checked
 * against what remains (tds_rd) and against the declared type before use;
 * truncation and inconsistent lengths are TDS_E_PROTO. Decoded views point
 * into the input, except names and multi-chunk PLP values, which go into
 * the caller's scratch buffer. No allocation.
 */
#include "encode_int.h"
#include "value_int.h"

#define ALL_HEADERS_LEN 22 /* TotalLength + one transaction descriptor header */

enum { HDR_QUERY_NOTIFY = 1, HDR_TRANSACTION = 2, HDR_TRACE_ACTIVITY = 3 };
enum { RPC_BATCH_FLAG = 0xFF, RPC_NOEXEC_FLAG = 0xFE, RPC_PROC_ID_SWITCH = 0xFFFF };
enum { PARAM_ENCRYPTED = 0x08 };

/* ---------------------------------------------------------------- send */

static int put_all_headers(tds_session *s)
{
    uint8_t h[ALL_HEADERS_LEN];
    tds_wle32(h, ALL_HEADERS_LEN);
    tds_wle32(h + 4, 18);
    tds_wle16(h + 8, HDR_TRANSACTION);
    tds_wle64(h + 10, s->transaction);
    tds_wle32(h + 18, 1); /* outstanding request count */
    return tds__put(s, h, sizeof h);
}

/* Ends the message, or abandons it (IGNORE) when rc is an error. */
static int finish(tds_session *s, int rc)
{
    if (rc) {
        tds_msg_abort(s);
        return rc;
    }
    return tds_msg_end(s);
}

int tds_send_sql_batch(tds_session *s, const char *sql, size_t len)
{
    if (!s || (!sql && len))
        return TDS_E_ARG;
    if (s->error)
        return s->error;
    int n = tds_utf8_to_utf16(sql, len, NULL, 0); /* validate before sending */
    if (n < 0)
        return n;
    int rc = tds_msg_begin(s, TDS_PKT_SQL_BATCH, 0);
    if (rc)
        return rc;
    rc = put_all_headers(s);
    if (!rc)
        rc = tds__put_utf16(s, sql, len, 0);
    return finish(s, rc);
}

int tds_send_attention(tds_session *s)
{
    if (!s)
        return TDS_E_ARG;
    if (s->error)
        return s->error;
    int rc = tds_msg_begin(s, TDS_PKT_ATTENTION, 0);
    return rc ? rc : tds_msg_end(s);
}

static int check_param(const tds_param *p)
{
    size_t nlen = tds__strlen0(p->name);
    int units = tds_utf8_utf16_units(p->name, nlen);
    if (units < 0)
        return units;
    if (units > 255)
        return TDS_E_RANGE;
    uint32_t fixed;
    int cls = tds__value_class(&p->col, &fixed);
    if (cls < 0)
        return cls;
    if ((p->value.flags & TDS_VF_NULL) && cls == TDS__VC_FIXED)
        return TDS_E_ARG; /* fixed types have no NULL: use the N type */
    return TDS_OK;
}

int tds_send_rpc(tds_session *s, const tds_rpc *r)
{
    if (!s || !r || (r->nparams && !r->params))
        return TDS_E_ARG;
    if (s->error)
        return s->error;
    size_t plen = tds__strlen0(r->proc_name);
    if (r->proc_name) {
        int units = tds_utf8_utf16_units(r->proc_name, plen);
        if (units < 0)
            return units;
        if (units == 0 || units >= 0xFFFF)
            return TDS_E_ARG;
    }
    for (size_t i = 0; i < r->nparams; i++) {
        int rc = check_param(&r->params[i]);
        if (rc)
            return rc;
    }
    int rc = tds_msg_begin(s, TDS_PKT_RPC, 0);
    if (rc)
        return rc;
    rc = put_all_headers(s);
    if (!rc) {
        if (r->proc_name) {
            rc = tds__put_utf16(s, r->proc_name, plen, 2);
        } else {
            uint8_t b[4];
            tds_wle16(b, RPC_PROC_ID_SWITCH);
            tds_wle16(b + 2, r->proc_id);
            rc = tds__put(s, b, 4);
        }
    }
    if (!rc)
        rc = tds__put_u16(s, r->options);
    /* (max) values as one PLP chunk; text types as LONGLEN. */
    static const tds__vput opts = { UINT32_MAX, true };
    for (size_t i = 0; i < r->nparams && !rc; i++) {
        const tds_param *p = &r->params[i];
        rc = tds__put_utf16(s, p->name, tds__strlen0(p->name), 1);
        if (!rc)
            rc = tds__put_u8(s, p->status);
        if (!rc)
            rc = tds__typeinfo_put(s, &p->col);
        if (!rc)
            rc = tds__value_put_ex(s, &p->col, &p->value, &opts);
    }
    return finish(s, rc);
}

/* -------------------------------------------------------------- decode */

/* ALL_HEADERS: TotalLength, then headers that exactly fill it; the
 * transaction descriptor header is required and appears once. */
static int headers_decode(tds_rd *r, uint64_t *tran)
{
    uint32_t total;
    if (!tds_rd_u32(r, &total) || total < 4 || total - 4 > tds_rd_left(r))
        return TDS_E_PROTO;
    tds_rd h;
    tds_rd_init(&h, r->p, total - 4);
    r->p += total - 4;
    unsigned seen = 0;
    while (tds_rd_left(&h)) {
        uint32_t hl;
        uint16_t type;
        const uint8_t *data;
        if (!tds_rd_u32(&h, &hl) || hl < 6 || !tds_rd_u16(&h, &type) ||
            !tds_rd_bytes(&h, hl - 6, &data))
            return TDS_E_PROTO;
        if (type < HDR_QUERY_NOTIFY || type > HDR_TRACE_ACTIVITY || (seen & (1u << type)))
            return TDS_E_PROTO;
        seen |= 1u << type;
        if (type == HDR_TRANSACTION) {
            if (hl != 18)
                return TDS_E_PROTO;
            *tran = tds_le64(data);
        }
    }
    return (seen & (1u << HDR_TRANSACTION)) ? TDS_OK : TDS_E_PROTO;
}

int tds_sql_batch_decode(const uint8_t *in, size_t len, char *sql, size_t cap,
                         size_t *sql_len, uint64_t *transaction)
{
    if ((!in && len) || !sql || cap == 0)
        return TDS_E_ARG;
    tds_rd r;
    tds_rd_init(&r, in, len);
    uint64_t tran = 0;
    int rc = headers_decode(&r, &tran);
    if (rc)
        return rc;
    size_t n = tds_rd_left(&r);
    if (n & 1)
        return TDS_E_PROTO;
    int m = tds_utf16_to_utf8(r.p, n, sql, cap - 1);
    if (m < 0)
        return m;
    sql[m] = '\0';
    if (sql_len)
        *sql_len = (size_t)m;
    if (transaction)
        *transaction = tran;
    return TDS_OK;
}

/* The caller's scratch buffer, filled front to back. */
typedef struct scratch {
    uint8_t *p;
    size_t cap;
    size_t used;
} scratch;

static uint8_t *scratch_take(scratch *sc, size_t n)
{
    if (n > sc->cap - sc->used)
        return NULL;
    uint8_t *p = sc->p + sc->used;
    sc->used += n;
    return p;
}

/* nunits UTF-16 code units at the reader as a NUL-terminated UTF-8 string
 * in scratch. */
static int read_text(tds_rd *r, size_t nunits, scratch *sc, tds_str *out)
{
    const uint8_t *p;
    if (!tds_rd_bytes(r, nunits * 2, &p))
        return TDS_E_PROTO;
    int n = tds_utf16_to_utf8(p, nunits * 2, NULL, 0);
    if (n < 0)
        return n;
    char *d = (char *)scratch_take(sc, (size_t)n + 1);
    if (!d)
        return TDS_E_SPACE;
    tds_utf16_to_utf8(p, nunits * 2, d, (size_t)n);
    d[n] = '\0';
    out->ptr = d;
    out->len = (size_t)n;
    return TDS_OK;
}

static int read_bvarchar(tds_rd *r, scratch *sc, tds_str *out)
{
    uint8_t n;
    return tds_rd_u8(r, &n) ? read_text(r, n, sc, out) : TDS_E_PROTO;
}

static int read_usvarchar(tds_rd *r, scratch *sc, tds_str *out)
{
    uint16_t n;
    return tds_rd_u16(r, &n) ? read_text(r, n, sc, out) : TDS_E_PROTO;
}

static bool has_collation(uint8_t t)
{
    return t == TDS_T_BIGCHAR || t == TDS_T_BIGVARCHR || t == TDS_T_TEXT ||
           t == TDS_T_NTEXT || t == TDS_T_NCHAR || t == TDS_T_NVARCHAR;
}

/* TYPE_INFO of a parameter into c (tds_column_init does the per-type
 * validation of lengths, precision and scale). */
static int typeinfo_decode(tds_rd *r, tds_column *c, scratch *sc)
{
    uint8_t t, b1 = 0, prec = 0, scale = 0;
    uint16_t u16;
    uint32_t len = 0;
    bool exact = false; /* the declared length must be the type's */
    if (!tds_rd_u8(r, &t))
        return TDS_E_PROTO;
    tds_column probe = { .type = t };
    uint32_t fixed;
    int cls = tds__value_class(&probe, &fixed);
    if (cls < 0)
        return TDS_E_PROTO;
    switch (t) {
    case TDS_T_DATEN:
        break;
    case TDS_T_TIMEN: case TDS_T_DATETIME2N: case TDS_T_DATETIMEOFFSETN:
        if (!tds_rd_u8(r, &scale))
            return TDS_E_PROTO;
        break;
    case TDS_T_DECIMAL: case TDS_T_NUMERIC: case TDS_T_DECIMALN: case TDS_T_NUMERICN:
        if (!tds_rd_u8(r, &b1) || !tds_rd_u8(r, &prec) || !tds_rd_u8(r, &scale))
            return TDS_E_PROTO;
        len = b1;
        break;
    case TDS_T_XML: {
        uint8_t present;
        if (!tds_rd_u8(r, &present) || present > 1)
            return TDS_E_PROTO;
        if (tds_column_init(c, t, 0, 0, 0))
            return TDS_E_PROTO;
        if (!present)
            return TDS_OK;
        int rc;
        if ((rc = read_bvarchar(r, sc, &c->xml_db)) || (rc = read_bvarchar(r, sc, &c->xml_schema)))
            return rc;
        return read_usvarchar(r, sc, &c->xml_collection);
    }
    case TDS_T_UDT: {
        if (!tds_rd_u16(r, &u16) || tds_column_init(c, t, u16, 0, 0))
            return TDS_E_PROTO;
        int rc;
        if ((rc = read_bvarchar(r, sc, &c->udt_db)) || (rc = read_bvarchar(r, sc, &c->udt_schema)) ||
            (rc = read_bvarchar(r, sc, &c->udt_type)))
            return rc;
        return read_usvarchar(r, sc, &c->udt_assembly);
    }
    default:
        if (cls == TDS__VC_BYTE) {
            if (!tds_rd_u8(r, &b1))
                return TDS_E_PROTO;
            len = b1;
            exact = true;
        } else if (cls == TDS__VC_USHORT || cls == TDS__VC_PLP) {
            if (!tds_rd_u16(r, &u16))
                return TDS_E_PROTO;
            len = u16;
            if (len > 8000 && !(len == 0xFFFF && (t == TDS_T_BIGVARBIN || t == TDS_T_BIGVARCHR ||
                                                   t == TDS_T_NVARCHAR)))
                return TDS_E_PROTO;
        } else if (cls == TDS__VC_TEXT || cls == TDS__VC_LONG) {
            if (!tds_rd_u32(r, &len))
                return TDS_E_PROTO;
        }
        break;
    }
    if (tds_column_init(c, t, len, prec, scale) != TDS_OK)
        return TDS_E_PROTO;
    if (exact && c->max_len != len)
        return TDS_E_PROTO; /* e.g. GUID declared with length 4 */
    if (has_collation(t)) {
        const uint8_t *raw;
        if (!tds_rd_bytes(r, 5, &raw))
            return TDS_E_PROTO;
        tds_collation_parse(raw, &c->collation);
    }
    return TDS_OK;
}

/* PLP_BODY: chunks until the terminator. One chunk stays a view into the
 * input; more are assembled into scratch. */
static int plp_decode(tds_rd *r, uint64_t total, tds_value *v, scratch *sc)
{
    bool known = total != UINT64_MAX - 1;
    if (known && total > tds_rd_left(r))
        return TDS_E_PROTO;
    const uint8_t *first = NULL;
    uint32_t first_len = 0;
    uint8_t *dst = NULL;
    size_t got = 0;
    int nchunks = 0;
    for (;;) {
        uint32_t k;
        const uint8_t *p;
        if (!tds_rd_u32(r, &k))
            return TDS_E_PROTO;
        if (k == 0)
            break;
        if (!tds_rd_bytes(r, k, &p) || (known && k > total - got) || k > UINT32_MAX - got)
            return TDS_E_PROTO;
        if (nchunks == 0) {
            first = p;
            first_len = k;
        } else {
            if (nchunks == 1) {
                /* Second chunk: start assembling. Nothing else takes
                 * scratch meanwhile, so the pieces are contiguous. */
                if (!(dst = scratch_take(sc, first_len)))
                    return TDS_E_SPACE;
                memcpy(dst, first, first_len);
            }
            uint8_t *d = scratch_take(sc, k);
            if (!d)
                return TDS_E_SPACE;
            memcpy(d, p, k);
        }
        got += k;
        nchunks++;
    }
    if (known && got != total)
        return TDS_E_PROTO;
    v->ptr = nchunks > 1 ? dst : first ? first : r->p; /* empty: any non-NULL */
    v->len = (uint32_t)got;
    v->flags = nchunks > 1 ? TDS_VF_ASSEMBLED : 0;
    return TDS_OK;
}

static int value_decode(tds_rd *r, const tds_column *c, tds_value *v, scratch *sc)
{
    uint32_t fixed, len;
    int cls = tds__value_class(c, &fixed);
    memset(v, 0, sizeof *v);
    uint8_t u8;
    uint16_t u16;
    uint64_t u64;
    switch (cls) {
    case TDS__VC_FIXED:
        if (c->type == TDS_T_NULL) {
            v->flags = TDS_VF_NULL;
            return TDS_OK;
        }
        len = fixed;
        break;
    case TDS__VC_BYTE:
        if (!tds_rd_u8(r, &u8))
            return TDS_E_PROTO;
        if (u8 == 0) {
            v->flags = TDS_VF_NULL;
            return TDS_OK;
        }
        len = u8;
        if (len > c->max_len)
            return TDS_E_PROTO;
        break;
    case TDS__VC_USHORT:
        if (!tds_rd_u16(r, &u16))
            return TDS_E_PROTO;
        if (u16 == 0xFFFF) {
            v->flags = TDS_VF_NULL;
            return TDS_OK;
        }
        len = u16;
        if (len > c->max_len)
            return TDS_E_PROTO;
        break;
    case TDS__VC_PLP: {
        if (!tds_rd_u64(r, &u64))
            return TDS_E_PROTO;
        if (u64 == UINT64_MAX) {
            v->flags = TDS_VF_NULL;
            return TDS_OK;
        }
        int rc = plp_decode(r, u64, v, sc);
        if (rc)
            return rc;
        return tds__value_check(c, v->len) ? TDS_E_PROTO : TDS_OK;
    }
    case TDS__VC_TEXT: /* LONGLEN in parameters */
        if (!tds_rd_u32(r, &len))
            return TDS_E_PROTO;
        if (len == UINT32_MAX) {
            v->flags = TDS_VF_NULL;
            return TDS_OK;
        }
        break;
    case TDS__VC_LONG:
        if (!tds_rd_u32(r, &len))
            return TDS_E_PROTO;
        if (len == 0) {
            v->flags = TDS_VF_NULL;
            return TDS_OK;
        }
        break;
    default:
        return TDS_E_PROTO;
    }
    if (!tds_rd_bytes(r, len, &v->ptr) || tds__value_check(c, len) != TDS_OK)
        return TDS_E_PROTO;
    v->len = len;
    return TDS_OK;
}

static int param_decode(tds_rd *r, tds_param *p, scratch *sc)
{
    memset(p, 0, sizeof *p);
    tds_str name = {0};
    int rc = read_bvarchar(r, sc, &name);
    if (rc)
        return rc;
    p->name = name.len ? name.ptr : NULL;
    if (!tds_rd_u8(r, &p->status))
        return TDS_E_PROTO;
    if (p->status & PARAM_ENCRYPTED)
        return TDS_E_UNSUPPORTED;
    if ((rc = typeinfo_decode(r, &p->col, sc)))
        return rc;
    return value_decode(r, &p->col, &p->value, sc);
}

int tds_rpc_decode(const uint8_t *in, size_t len, tds_rpc_decoded *out,
                   tds_param *params, size_t max, uint8_t *scratch_buf, size_t scap)
{
    if ((!in && len) || !out || (max && !params) || (scap && !scratch_buf))
        return TDS_E_ARG;
    memset(out, 0, sizeof *out);
    scratch sc = { scratch_buf, scap, 0 };
    tds_rd r;
    tds_rd_init(&r, in, len);
    int rc = headers_decode(&r, &out->transaction);
    if (rc)
        return rc;
    uint16_t nl;
    if (!tds_rd_u16(&r, &nl))
        return TDS_E_PROTO;
    if (nl == RPC_PROC_ID_SWITCH) {
        if (!tds_rd_u16(&r, &out->proc_id) || out->proc_id == 0)
            return TDS_E_PROTO;
    } else {
        if (nl == 0)
            return TDS_E_PROTO;
        if ((rc = read_text(&r, nl, &sc, &out->proc_name)))
            return rc;
    }
    if (!tds_rd_u16(&r, &out->options))
        return TDS_E_PROTO;
    size_t n = 0;
    while (tds_rd_left(&r)) {
        uint8_t first = *r.p;
        if (first == RPC_BATCH_FLAG || first == RPC_NOEXEC_FLAG) {
            /* A trailing batch flag is harmless; a second RPC we do not
             * decode. */
            if (first == RPC_BATCH_FLAG && tds_rd_left(&r) == 1)
                break;
            return TDS_E_UNSUPPORTED;
        }
        if (n == max)
            return TDS_E_SPACE;
        if ((rc = param_decode(&r, &params[n], &sc)))
            return rc;
        n++;
    }
    if (n > INT32_MAX)
        return TDS_E_TOOBIG;
    return (int)n;
}
