/*
 * typeinfo.c — TYPE_INFO (MS-TDS 2.2.5.6) and value framing (2.2.5.2) over
 * complete buffers: used by COLMETADATA/RETURNVALUE decoding and by RPC
 * request decoding.
 *
 * Invariants: TYPE_INFO is scanned first without allocating (strings are
 * kept as raw UTF-16 spans), so a caller that retries on a short buffer
 * wastes nothing; only a complete scan is materialised. Every length is
 * checked against what remains before a byte is read; on error the reader
 * is left at the offending field.
 */
#include "tds_int.h"

/* B_VARCHAR / US_VARCHAR: a length in UTF-16 code units, then the data. */
static int rd_varchar(tds_rd *rd, size_t lsize, const uint8_t **p, uint16_t *n)
{
    const uint8_t *start = rd->p;
    uint16_t len;
    if (lsize == 1) {
        uint8_t b;
        if (!tds_rd_u8(rd, &b))
            return TDS_E_TRUNCATED;
        len = b;
    } else if (!tds_rd_u16(rd, &len)) {
        return TDS_E_TRUNCATED;
    }
    if (!tds_rd_bytes(rd, (size_t)len * 2, p)) {
        rd->p = start;
        return TDS_E_TRUNCATED;
    }
    *n = len;
    return TDS_OK;
}

int tds__typeinfo_scan(tds_rd *rd, tds_column *c, tds__tistr *raw)
{
    const uint8_t *start = rd->p, *f;
    uint8_t t, b = 0, prec = 0, scale = 0, coll[5] = {0};
    uint16_t u16;
    uint32_t max_len = 0;
    bool has_coll = false;
    int rc;

    memset(raw, 0, sizeof *raw);
    if (!tds_rd_u8(rd, &t))
        return TDS_E_TRUNCATED;
    f = rd->p;
    switch (t) {
    case TDS_T_NULL: case TDS_T_INT1: case TDS_T_BIT: case TDS_T_INT2: case TDS_T_INT4:
    case TDS_T_DATETIM4: case TDS_T_FLT4: case TDS_T_MONEY: case TDS_T_DATETIME:
    case TDS_T_FLT8: case TDS_T_MONEY4: case TDS_T_INT8:
    case TDS_T_DATEN:
        break;
    case TDS_T_GUID: case TDS_T_INTN: case TDS_T_BITN: case TDS_T_FLTN: case TDS_T_MONEYN:
    case TDS_T_DATETIMN: case TDS_T_CHAR: case TDS_T_VARCHAR: case TDS_T_BINARY:
    case TDS_T_VARBINARY:
        if (!tds_rd_u8(rd, &b))
            goto trunc;
        max_len = b;
        break;
    case TDS_T_DECIMAL: case TDS_T_NUMERIC: case TDS_T_DECIMALN: case TDS_T_NUMERICN:
        if (tds_rd_left(rd) < 3)
            goto trunc;
        tds_rd_u8(rd, &b);
        max_len = b;
        tds_rd_u8(rd, &prec);
        tds_rd_u8(rd, &scale);
        break;
    case TDS_T_TIMEN: case TDS_T_DATETIME2N: case TDS_T_DATETIMEOFFSETN:
        if (!tds_rd_u8(rd, &scale))
            goto trunc;
        if (scale > 7)
            goto proto;
        break;
    case TDS_T_BIGVARBIN: case TDS_T_BIGBINARY: case TDS_T_BIGVARCHR: case TDS_T_BIGCHAR:
    case TDS_T_NVARCHAR: case TDS_T_NCHAR:
        if (!tds_rd_u16(rd, &u16))
            goto trunc;
        max_len = u16;
        if (max_len == 0xFFFF ? (t == TDS_T_BIGBINARY || t == TDS_T_BIGCHAR || t == TDS_T_NCHAR)
                              : max_len > 8000)
            goto proto;
        has_coll = t == TDS_T_BIGVARCHR || t == TDS_T_BIGCHAR || t == TDS_T_NVARCHAR || t == TDS_T_NCHAR;
        break;
    case TDS_T_TEXT: case TDS_T_NTEXT: case TDS_T_IMAGE: case TDS_T_VARIANT:
        if (!tds_rd_u32(rd, &max_len))
            goto trunc;
        if (max_len > 0x7FFFFFFFu || (t == TDS_T_VARIANT && (max_len < 2 || max_len > 8016)))
            goto proto;
        has_coll = t == TDS_T_TEXT || t == TDS_T_NTEXT;
        break;
    case TDS_T_XML:
        if (!tds_rd_u8(rd, &b))
            goto trunc;
        if (b > 1)
            goto proto;
        if (b == 1) {
            if ((rc = rd_varchar(rd, 1, &raw->p[0], &raw->n[0])) ||
                (rc = rd_varchar(rd, 1, &raw->p[1], &raw->n[1])) ||
                (rc = rd_varchar(rd, 2, &raw->p[2], &raw->n[2])))
                return rc;
        }
        max_len = 0xFFFF;
        break;
    case TDS_T_JSON: /* PLP UTF-8: nothing follows the type byte */
        max_len = 0xFFFF;
        break;
    case TDS_T_VECTOR: /* USHORT max length, BYTE element type */
        if (!tds_rd_u16(rd, &u16))
            goto trunc;
        max_len = u16;
        if (!tds_rd_u8(rd, &scale))
            goto trunc;
        if (!tds_vector_elem_size(scale)) {
            rd->p = f + 2;
            return TDS_E_PROTO;
        }
        break;
    case TDS_T_UDT:
        if (!tds_rd_u16(rd, &u16))
            goto trunc;
        max_len = u16;
        if ((rc = rd_varchar(rd, 1, &raw->p[0], &raw->n[0])) ||
            (rc = rd_varchar(rd, 1, &raw->p[1], &raw->n[1])) ||
            (rc = rd_varchar(rd, 1, &raw->p[2], &raw->n[2])) ||
            (rc = rd_varchar(rd, 2, &raw->p[3], &raw->n[3])))
            return rc;
        break;
    default:
        rd->p = start;
        return TDS_E_PROTO;
    }
    if (has_coll) {
        const uint8_t *cp;
        if (!tds_rd_bytes(rd, 5, &cp))
            return TDS_E_TRUNCATED;
        memcpy(coll, cp, 5);
    }
    if (tds_column_init(c, t, max_len, prec, scale) != TDS_OK)
        goto proto;
    c->max_len = t == TDS_T_XML ? 0xFFFF : c->max_len;
    if (t == TDS_T_UDT || t == TDS_T_TEXT || t == TDS_T_NTEXT || t == TDS_T_IMAGE ||
        t == TDS_T_VARIANT || t == TDS_T_DECIMAL || t == TDS_T_NUMERIC ||
        t == TDS_T_DECIMALN || t == TDS_T_NUMERICN)
        c->max_len = max_len;
    if (has_coll)
        tds_collation_parse(coll, &c->collation);
    return TDS_OK;
trunc:
    rd->p = f;
    return TDS_E_TRUNCATED;
proto:
    rd->p = f;
    return TDS_E_PROTO;
}

int tds__str16(tds_arena *a, const uint8_t *p, size_t n, tds_str *out)
{
    char *s = tds_arena_alloc(a, n * 3 + 1);
    if (!s)
        return TDS_E_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = tds_le16(p + 2 * i);
        if (u >= 0xD800 && u < 0xDC00 && i + 1 < n) {
            uint32_t lo = tds_le16(p + 2 * i + 2);
            if (lo >= 0xDC00 && lo < 0xE000) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                i++;
            } else {
                u = 0xFFFD;
            }
        } else if (u >= 0xD800 && u < 0xE000) {
            u = 0xFFFD;
        }
        if (u < 0x80) {
            s[o++] = (char)u;
        } else if (u < 0x800) {
            s[o++] = (char)(0xC0 | (u >> 6));
            s[o++] = (char)(0x80 | (u & 0x3F));
        } else if (u < 0x10000) {
            s[o++] = (char)(0xE0 | (u >> 12));
            s[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
            s[o++] = (char)(0x80 | (u & 0x3F));
        } else {
            s[o++] = (char)(0xF0 | (u >> 18));
            s[o++] = (char)(0x80 | ((u >> 12) & 0x3F));
            s[o++] = (char)(0x80 | ((u >> 6) & 0x3F));
            s[o++] = (char)(0x80 | (u & 0x3F));
        }
    }
    s[o] = '\0';
    out->ptr = s;
    out->len = o;
    return TDS_OK;
}

int tds__typeinfo_strings(tds_column *c, const tds__tistr *raw, tds_arena *a)
{
    int rc = TDS_OK;
    if (c->type == TDS_T_UDT) {
        tds_str *dst[4] = { &c->udt_db, &c->udt_schema, &c->udt_type, &c->udt_assembly };
        for (int i = 0; i < 4 && !rc; i++)
            rc = tds__str16(a, raw->p[i], raw->n[i], dst[i]);
    } else if (c->type == TDS_T_XML && raw->p[0]) {
        tds_str *dst[3] = { &c->xml_db, &c->xml_schema, &c->xml_collection };
        for (int i = 0; i < 3 && !rc; i++)
            rc = tds__str16(a, raw->p[i], raw->n[i], dst[i]);
    }
    return rc;
}

int tds__typeinfo_decode(tds_rd *rd, tds_column *c, tds_arena *arena)
{
    tds__tistr raw;
    int rc = tds__typeinfo_scan(rd, c, &raw);
    if (rc)
        return rc;
    return tds__typeinfo_strings(c, &raw, arena);
}

void tds__colx_init(const tds_column *c, tds__colx *x)
{
    memset(x, 0, sizeof *x);
    x->maxlen = c->max_len;
    if (c->is_plp) {
        x->cls = TDS__CL_PLP;
        return;
    }
    switch (c->type) {
    case TDS_T_NULL:
        x->cls = TDS__CL_NULL;
        return;
    case TDS_T_INT1: case TDS_T_BIT: case TDS_T_INT2: case TDS_T_INT4: case TDS_T_DATETIM4:
    case TDS_T_FLT4: case TDS_T_MONEY: case TDS_T_DATETIME: case TDS_T_FLT8: case TDS_T_MONEY4:
    case TDS_T_INT8:
        x->cls = TDS__CL_FIXED;
        return;
    case TDS_T_CHAR: case TDS_T_VARCHAR: case TDS_T_BINARY: case TDS_T_VARBINARY:
        x->cls = TDS__CL_BYTE;
        x->anylen = true;
        return;
    case TDS_T_BIGVARBIN: case TDS_T_BIGBINARY: case TDS_T_BIGVARCHR: case TDS_T_BIGCHAR:
    case TDS_T_NVARCHAR: case TDS_T_NCHAR:
        x->cls = TDS__CL_USHORT;
        x->anylen = true;
        x->even = c->kind == TDS_K_NCHAR;
        return;
    case TDS_T_TEXT: case TDS_T_NTEXT: case TDS_T_IMAGE:
        x->cls = TDS__CL_LONG;
        x->even = c->type == TDS_T_NTEXT;
        return;
    case TDS_T_VARIANT:
        x->cls = TDS__CL_VARIANT;
        return;
    case TDS_T_VECTOR:
        x->cls = TDS__CL_USHORT;
        x->anylen = true;
        x->vec = true;
        x->vec_elem = c->vector_elem;
        x->vec_dims = c->vector_dims;
        return;
    default:
        /* GUID, the N types, decimal, date/time: 1-byte length, and only
         * the lengths column.c accepts for the type. */
        x->cls = TDS__CL_BYTE;
        for (uint32_t len = 1; len < 32 && len <= c->max_len; len++)
            if (tds__value_check(c, len) == TDS_OK)
                x->lenmask |= 1u << len;
        return;
    }
}

/* Walks a PLP value: total length, chunks, terminator. *used = bytes of
 * the whole value, *sum = data bytes, *nchunks = data chunks. */
static int plp_span(const uint8_t *p, size_t avail, size_t *used, uint64_t *sum, size_t *nchunks)
{
    if (avail < 8) { *used = 8; return TDS_E_TRUNCATED; }
    uint64_t total = tds_le64(p);
    *sum = 0;
    *nchunks = 0;
    if (total == TDS__PLP_NULL) { *used = 8; return TDS_OK; }
    size_t off = 8;
    for (;;) {
        if (avail - off < 4) { *used = off + 4; return TDS_E_TRUNCATED; }
        uint32_t n = tds_le32(p + off);
        if (n == 0) {
            if (total != TDS__PLP_UNKNOWN && *sum != total) { *used = off; return TDS_E_PROTO; }
            *used = off + 4;
            return TDS_OK;
        }
        if ((total != TDS__PLP_UNKNOWN && n > total - *sum) || n > 0x7FFFFFFFu) {
            *used = off;
            return TDS_E_PROTO;
        }
        if (avail - off - 4 < n) { *used = off + 4 + n; return TDS_E_TRUNCATED; }
        off += 4 + (size_t)n;
        *sum += n;
        (*nchunks)++;
    }
}

int tds__value_span(const tds__colx *x, const uint8_t *p, size_t avail, size_t *used)
{
    if (x->cls == TDS__CL_PLP) {
        uint64_t sum;
        size_t nchunks;
        return plp_span(p, avail, used, &sum, &nchunks);
    }
    tds_value v;
    return tds__frame(x, p, avail, &v, used);
}

int tds__value_decode(tds_rd *rd, const tds_column *c, tds_value *v, tds_arena *arena)
{
    tds__colx x;
    size_t used;
    tds__colx_init(c, &x);
    if (x.cls != TDS__CL_PLP) {
        int rc = tds__frame(&x, rd->p, tds_rd_left(rd), v, &used);
        if (rc == TDS_E_PROTO)
            rd->p += used;
        else if (rc == TDS_OK)
            rd->p += used;
        return rc;
    }
    uint64_t sum;
    size_t nchunks;
    int rc = plp_span(rd->p, tds_rd_left(rd), &used, &sum, &nchunks);
    if (rc) {
        if (rc == TDS_E_PROTO)
            rd->p += used;
        return rc;
    }
    const uint8_t *p = rd->p;
    rd->p += used;
    if (tds_le64(p) == TDS__PLP_NULL) {
        v->ptr = NULL; v->len = 0; v->flags = TDS_VF_NULL;
        return TDS_OK;
    }
    if (sum > 0xFFFFFFFFu)
        return TDS_E_TOOBIG;
    if (nchunks <= 1) {
        /* Zero or one chunk: the bytes are already contiguous. */
        v->ptr = p + 12;
        v->len = (uint32_t)sum;
        v->flags = 0;
        return TDS_OK;
    }
    uint8_t *dst = tds_arena_alloc(arena, (size_t)sum);
    if (!dst)
        return TDS_E_NOMEM;
    size_t off = 8, o = 0;
    for (;;) {
        uint32_t n = tds_le32(p + off);
        if (n == 0)
            break;
        memcpy(dst + o, p + off + 4, n);
        o += n;
        off += 4 + (size_t)n;
    }
    v->ptr = dst;
    v->len = (uint32_t)sum;
    v->flags = TDS_VF_ASSEMBLED;
    return TDS_OK;
}
