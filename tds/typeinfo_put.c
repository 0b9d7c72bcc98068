/*
 * typeinfo_put.c — writes TYPE_INFO and length-prefixed values into the
 * message being sent (the encoding half of MS-TDS 2.2.5.6 / 2.2.5.2; the
 * decoding half is typeinfo.c). Shared by the token encoders and RPC.
 *
 * Invariants: a value is checked against its column (NULL allowed by the
 * framing, length against the declared size) before its prefix is
 * written. TDS_VF_UTF8 text is measured first (tds__encode_text_len), then
 * transcoded straight into the message in pieces through a stack buffer:
 * no allocation. PLP values have a known length; chunks never exceed the
 * caller's chunk size.
 */
#include "encode_int.h"
#include "value_int.h"

/* UTF-8 input per transcoding piece. Every wire encoding we produce takes
 * at most 2 bytes per input byte (UTF-16: 1→2, 2→2, 3→2, 4→4; code pages
 * at most 3 bytes for a 2-byte sequence), so a piece fits PIECE_OUT. */
#define PIECE_IN 1024
#define PIECE_OUT (2 * PIECE_IN)

/* End of the next piece of [off, len): at most PIECE_IN bytes, cut before a
 * UTF-8 continuation byte so no character is split (invalid input is cut
 * anywhere; the transcoder reports it). */
static size_t piece_end(const uint8_t *p, size_t off, size_t len)
{
    if (len - off <= PIECE_IN)
        return len;
    size_t e = off + PIECE_IN;
    size_t min = e - 3;
    while (e > min && (p[e] & 0xC0) == 0x80)
        e--;
    return e;
}

int tds__value_class(const tds_column *c, uint32_t *fixed)
{
    *fixed = 0;
    switch (c->type) {
    case TDS_T_NULL: return TDS__VC_FIXED;
    case TDS_T_INT1: case TDS_T_BIT: *fixed = 1; return TDS__VC_FIXED;
    case TDS_T_INT2: *fixed = 2; return TDS__VC_FIXED;
    case TDS_T_INT4: case TDS_T_DATETIM4: case TDS_T_FLT4: case TDS_T_MONEY4:
        *fixed = 4; return TDS__VC_FIXED;
    case TDS_T_INT8: case TDS_T_MONEY: case TDS_T_DATETIME: case TDS_T_FLT8:
        *fixed = 8; return TDS__VC_FIXED;
    case TDS_T_GUID: case TDS_T_INTN: case TDS_T_DECIMAL: case TDS_T_NUMERIC:
    case TDS_T_BITN: case TDS_T_DECIMALN: case TDS_T_NUMERICN: case TDS_T_FLTN:
    case TDS_T_MONEYN: case TDS_T_DATETIMN: case TDS_T_CHAR: case TDS_T_VARCHAR:
    case TDS_T_BINARY: case TDS_T_VARBINARY: case TDS_T_DATEN: case TDS_T_TIMEN:
    case TDS_T_DATETIME2N: case TDS_T_DATETIMEOFFSETN:
        return TDS__VC_BYTE;
    case TDS_T_BIGVARBIN: case TDS_T_BIGVARCHR: case TDS_T_NVARCHAR: case TDS_T_UDT:
        return c->is_plp || c->max_len == 0xFFFF ? TDS__VC_PLP : TDS__VC_USHORT;
    case TDS_T_BIGBINARY: case TDS_T_BIGCHAR: case TDS_T_NCHAR:
        return TDS__VC_USHORT;
    case TDS_T_XML: case TDS_T_JSON: return TDS__VC_PLP;
    case TDS_T_VECTOR: return TDS__VC_USHORT;
    case TDS_T_TEXT: case TDS_T_NTEXT: case TDS_T_IMAGE: return TDS__VC_TEXT;
    case TDS_T_VARIANT: return TDS__VC_LONG;
    default: return TDS_E_TYPE;
    }
}

int tds__put_utf16(tds_session *s, const char *utf8, size_t len, int lenbytes)
{
    if (!utf8 && len)
        return TDS_E_ARG;
    uint8_t out[PIECE_OUT + 2];
    if (lenbytes) {
        int n = tds_utf8_to_utf16(utf8, len, NULL, 0);
        if (n < 0)
            return n;
        size_t units = (size_t)n / 2;
        if (units > (lenbytes == 1 ? 0xFFu : 0xFFFFu))
            return TDS_E_RANGE;
        /* Short strings (names, messages): prefix and text in one put. */
        if (len <= PIECE_IN) {
            size_t k = 0;
            if (lenbytes == 1)
                out[k++] = (uint8_t)units;
            else {
                tds_wle16(out, (uint16_t)units);
                k = 2;
            }
            int m = tds_utf8_to_utf16(utf8, len, out + k, PIECE_OUT);
            if (m < 0)
                return m;
            return tds__put(s, out, k + (size_t)m);
        }
        int rc = lenbytes == 1 ? tds__put_u8(s, (uint8_t)units) : tds__put_u16(s, (uint16_t)units);
        if (rc)
            return rc;
    }
    const uint8_t *p = (const uint8_t *)utf8;
    for (size_t off = 0; off < len;) {
        size_t e = piece_end(p, off, len);
        int m = tds_utf8_to_utf16(utf8 + off, e - off, out, PIECE_OUT);
        if (m < 0)
            return m;
        int rc = tds__put(s, out, (size_t)m);
        if (rc)
            return rc;
        off = e;
    }
    return TDS_OK;
}

/* Transcodes UTF-8 into c's wire encoding straight into the message; with
 * chunked, each piece becomes a PLP chunk. Checks the bytes written equal
 * `expect` (what tds__encode_text_len said). */
static int put_text(tds_session *s, const tds_column *c, const char *utf8, size_t len,
                    uint32_t expect, bool chunked)
{
    uint8_t out[4 + PIECE_OUT];
    const uint8_t *p = (const uint8_t *)utf8;
    size_t total = 0;
    size_t hdr = chunked ? 4 : 0;
    for (size_t off = 0; off < len;) {
        size_t e = piece_end(p, off, len);
        int m = tds_encode_text_cv(&s->conv, c, utf8 + off, e - off, out + hdr, PIECE_OUT);
        if (m < 0)
            return m == TDS_E_SPACE ? TDS_E_ENCODING : m;
        off = e;
        if (m == 0)
            continue; /* a zero chunk would end the PLP value */
        if (chunked)
            tds_wle32(out, (uint32_t)m);
        int rc = tds__put(s, out, hdr + (size_t)m);
        if (rc)
            return rc;
        total += (size_t)m;
    }
    return total == expect ? TDS_OK : TDS_E_ENCODING;
}

static bool is_text_kind(const tds_column *c)
{
    return c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML ||
           c->kind == TDS_K_JSON;
}

/* A non-NULL vector value's wire bytes into out (TDS_VECTOR_MAX_BYTES):
 * JSON-array text (TDS_VF_UTF8) is parsed and encoded, bytes are checked.
 * Returns the length; TDS_E_RANGE for NaN/Inf or a wrong element count,
 * TDS_E_ARG for text that is no array of numbers or a malformed header. */
static int vector_bytes(const tds_column *c, const tds_value *v, uint8_t *out)
{
    if (!(v->flags & TDS_VF_UTF8)) {
        if (tds_vector_check(v->ptr, v->len, c->vector_elem, c->vector_dims, NULL))
            return TDS_E_ARG;
        memcpy(out, v->ptr, v->len);
        return (int)v->len;
    }
    float vals[TDS_VECTOR_MAX_BYTES / 2];
    uint32_t n;
    int rc = tds_vector_parse((const char *)v->ptr, v->len, vals, TDS_VECTOR_MAX_BYTES / 2, &n);
    if (rc)
        return rc == TDS_E_SPACE ? TDS_E_RANGE : rc;
    int len = tds_encode_vector(c, vals, n, out, TDS_VECTOR_MAX_BYTES);
    return len == TDS_E_SPACE ? TDS_E_RANGE : len;
}

static int put_vector(tds_session *s, const tds_column *c, const tds_value *v)
{
    uint8_t out[2 + TDS_VECTOR_MAX_BYTES];
    int len = vector_bytes(c, v, out + 2);
    if (len < 0)
        return len;
    tds_wle16(out, (uint16_t)len);
    return tds__put(s, out, 2 + (size_t)len);
}

/* Prefix (n bytes in pfx) plus raw data, one reservation when it fits. */
static int put_prefixed(tds_session *s, const uint8_t *pfx, size_t n, const uint8_t *data, size_t len)
{
    uint8_t *d = tds__put_reserve(s, n + len);
    if (d) {
        memcpy(d, pfx, n);
        if (len)
            memcpy(d + n, data, len);
        tds__put_commit(s, n + len);
        return TDS_OK;
    }
    int rc = tds_put_bytes(s, pfx, n);
    return rc ? rc : tds_put_bytes(s, data, len);
}

static int put_plp(tds_session *s, const tds_column *c, const tds_value *v, uint32_t len,
                   bool utf8, uint32_t chunk)
{
    uint8_t b[12];
    tds_wle64(b, len);
    if (len == 0) {
        tds_wle32(b + 8, 0);
        return tds__put(s, b, 12);
    }
    if (chunk == 0)
        chunk = 8000;
    if (len <= chunk) {
        /* One chunk: total, chunk length, data, terminator. */
        tds_wle32(b + 8, len);
        int rc;
        if (utf8) {
            rc = tds__put(s, b, 12);
            if (!rc)
                rc = put_text(s, c, (const char *)v->ptr, v->len, len, false);
        } else {
            rc = put_prefixed(s, b, 12, v->ptr, len);
        }
        return rc ? rc : tds__put_u32(s, 0);
    }
    int rc = tds__put(s, b, 8);
    if (rc)
        return rc;
    if (utf8) {
        rc = put_text(s, c, (const char *)v->ptr, v->len, len, true);
    } else {
        for (uint32_t off = 0; off < len && !rc;) {
            uint32_t k = len - off < chunk ? len - off : chunk;
            tds_wle32(b, k);
            rc = put_prefixed(s, b, 4, v->ptr + off, k);
            off += k;
        }
    }
    return rc ? rc : tds__put_u32(s, 0);
}

int tds__value_measure(tds_conv *cv, const tds_column *c, const tds_value *v, uint32_t *fixed,
                       bool *null, uint32_t *len)
{
    int cls = tds__value_class(c, fixed);
    if (cls < 0)
        return cls;
    *null = (v->flags & TDS_VF_NULL) != 0;
    *len = 0;
    if (*null)
        return cls;
    if (c->kind == TDS_K_VECTOR) {
        /* Checked (text parsed) here too: callers measure a whole row
         * before writing its first byte. */
        uint8_t tmp[TDS_VECTOR_MAX_BYTES];
        int n = vector_bytes(c, v, tmp);
        if (n < 0)
            return n;
        *len = (uint32_t)n;
    } else if (v->flags & TDS_VF_UTF8) {
        if (!is_text_kind(c))
            return TDS_E_TYPE;
        int n = tds__encode_text_len(cv, c, (const char *)v->ptr, v->len);
        if (n < 0)
            return n;
        *len = (uint32_t)n;
    } else {
        *len = v->len;
        if (*len && !v->ptr)
            return TDS_E_ARG;
    }
    return cls;
}

int tds__value_put_ex(tds_session *s, const tds_column *c, const tds_value *v,
                      const tds__vput *o)
{
    if (!s || !c || !v)
        return TDS_E_ARG;
    uint32_t fixed, len;
    bool null;
    int cls = tds__value_measure(&s->conv, c, v, &fixed, &null, &len);
    if (cls < 0)
        return cls;
    bool utf8 = !null && (v->flags & TDS_VF_UTF8);
    uint8_t b[16];
    switch (cls) {
    case TDS__VC_FIXED:
        if (null || len != fixed || c->type == TDS_T_NULL)
            return TDS_E_ARG;
        return tds__put(s, v->ptr, len);
    case TDS__VC_BYTE:
        if (null)
            return tds__put_u8(s, 0);
        if (len == 0)
            return TDS_E_ARG; /* would read back as NULL */
        if (len > 255 || (c->max_len && len > c->max_len))
            return TDS_E_RANGE;
        if (!utf8 && tds__value_check(c, len) != TDS_OK)
            return TDS_E_ARG;
        b[0] = (uint8_t)len;
        if (utf8) {
            int rc = tds__put(s, b, 1);
            return rc ? rc : put_text(s, c, (const char *)v->ptr, v->len, len, false);
        }
        return put_prefixed(s, b, 1, v->ptr, len);
    case TDS__VC_USHORT:
        if (null)
            return tds__put_u16(s, 0xFFFF);
        if (c->kind == TDS_K_VECTOR)
            return put_vector(s, c, v);
        if (len > c->max_len || len >= 0xFFFF)
            return TDS_E_RANGE;
        if (!utf8 && tds__value_check(c, len) != TDS_OK)
            return TDS_E_ARG;
        tds_wle16(b, (uint16_t)len);
        if (utf8) {
            int rc = tds__put(s, b, 2);
            return rc ? rc : put_text(s, c, (const char *)v->ptr, v->len, len, false);
        }
        return put_prefixed(s, b, 2, v->ptr, len);
    case TDS__VC_PLP:
        if (null)
            return tds__put_u64(s, UINT64_MAX);
        if (!utf8 && tds__value_check(c, len) != TDS_OK)
            return TDS_E_ARG;
        return put_plp(s, c, v, len, utf8, o->plp_chunk);
    case TDS__VC_TEXT: {
        size_t n;
        if (o->text_longlen) {
            if (null)
                return tds__put_u32(s, UINT32_MAX);
            tds_wle32(b, len);
            n = 4;
        } else {
            if (null)
                return tds__put_u8(s, 0);
            /* TextPointer (B_VARBYTE, 16 bytes) and Timestamp: dummies, the
             * value is never updated through them. */
            uint8_t t[1 + 16 + 8 + 4] = {16};
            tds_wle32(t + 25, len);
            if (!utf8 && tds__value_check(c, len) != TDS_OK)
                return TDS_E_ARG;
            if (utf8) {
                int rc = tds__put(s, t, sizeof t);
                return rc ? rc : put_text(s, c, (const char *)v->ptr, v->len, len, false);
            }
            return put_prefixed(s, t, sizeof t, v->ptr, len);
        }
        if (!utf8 && tds__value_check(c, len) != TDS_OK)
            return TDS_E_ARG;
        if (utf8) {
            int rc = tds__put(s, b, n);
            return rc ? rc : put_text(s, c, (const char *)v->ptr, v->len, len, false);
        }
        return put_prefixed(s, b, n, v->ptr, len);
    }
    case TDS__VC_LONG:
        if (null)
            return tds__put_u32(s, 0);
        if (utf8 || len < 2 || len > 8016)
            return TDS_E_ARG;
        tds_wle32(b, len);
        return put_prefixed(s, b, 4, v->ptr, len);
    default:
        return TDS_E_TYPE;
    }
}

int tds__value_put(tds_session *s, const tds_column *c, const tds_value *v)
{
    static const tds__vput rows = { 8000, false };
    return tds__value_put_ex(s, c, v, &rows);
}

/* ------------------------------------------------------------ TYPE_INFO */

static bool has_collation(uint8_t type)
{
    return type == TDS_T_BIGCHAR || type == TDS_T_BIGVARCHR || type == TDS_T_TEXT ||
           type == TDS_T_NTEXT || type == TDS_T_NCHAR || type == TDS_T_NVARCHAR;
}

static int put_bvarchar(tds_session *s, const tds_str *t)
{
    return tds__put_utf16(s, t->ptr, t->ptr ? t->len : 0, 1);
}

static int put_usvarchar(tds_session *s, const tds_str *t)
{
    return tds__put_utf16(s, t->ptr, t->ptr ? t->len : 0, 2);
}

static int put_xml_info(tds_session *s, const tds_column *c)
{
    bool schema = c->xml_db.len || c->xml_schema.len || c->xml_collection.len;
    uint8_t b[2] = { TDS_T_XML, schema ? 1 : 0 };
    int rc = tds__put(s, b, 2);
    if (rc || !schema)
        return rc;
    if ((rc = put_bvarchar(s, &c->xml_db)) || (rc = put_bvarchar(s, &c->xml_schema)))
        return rc;
    return put_usvarchar(s, &c->xml_collection);
}

static int put_udt_info(tds_session *s, const tds_column *c)
{
    uint8_t b[3] = { TDS_T_UDT };
    tds_wle16(b + 1, c->is_plp || c->max_len > 0xFFFF ? 0xFFFF : (uint16_t)c->max_len);
    int rc = tds__put(s, b, 3);
    if (rc || (rc = put_bvarchar(s, &c->udt_db)) || (rc = put_bvarchar(s, &c->udt_schema)) ||
        (rc = put_bvarchar(s, &c->udt_type)))
        return rc;
    return put_usvarchar(s, &c->udt_assembly);
}

int tds__typeinfo_put(tds_session *s, const tds_column *c)
{
    if (!s || !c)
        return TDS_E_ARG;
    uint32_t fixed;
    int cls = tds__value_class(c, &fixed);
    if (cls < 0)
        return cls;
    uint8_t b[16];
    size_t n = 0;
    b[n++] = c->type;
    switch (c->type) {
    case TDS_T_XML:
        return put_xml_info(s, c);
    case TDS_T_UDT:
        return put_udt_info(s, c);
    case TDS_T_JSON: /* the type byte alone */
        break;
    case TDS_T_VECTOR:
        if (!tds_vector_elem_size(c->vector_elem) || c->max_len <= TDS_VECTOR_HEADER ||
            c->max_len > TDS_VECTOR_MAX_BYTES)
            return TDS_E_ARG;
        tds_wle16(b + n, (uint16_t)c->max_len);
        n += 2;
        b[n++] = c->vector_elem;
        break;
    case TDS_T_DATEN:
        break;
    case TDS_T_TIMEN: case TDS_T_DATETIME2N: case TDS_T_DATETIMEOFFSETN:
        if (c->scale > 7)
            return TDS_E_ARG;
        b[n++] = c->scale;
        break;
    case TDS_T_DECIMAL: case TDS_T_NUMERIC: case TDS_T_DECIMALN: case TDS_T_NUMERICN:
        if (c->precision < 1 || c->precision > 38 || c->scale > c->precision)
            return TDS_E_ARG;
        b[n++] = (uint8_t)(c->max_len ? c->max_len : 17);
        b[n++] = c->precision;
        b[n++] = c->scale;
        break;
    default:
        switch (cls) {
        case TDS__VC_FIXED:
            break;
        case TDS__VC_BYTE:
            if (c->max_len > 255)
                return TDS_E_ARG;
            b[n++] = (uint8_t)c->max_len;
            break;
        case TDS__VC_USHORT: case TDS__VC_PLP:
            if (cls == TDS__VC_USHORT && c->max_len >= 0xFFFF)
                return TDS_E_ARG;
            tds_wle16(b + n, cls == TDS__VC_PLP ? 0xFFFF : (uint16_t)c->max_len);
            n += 2;
            break;
        default: /* TEXT, LONG */
            tds_wle32(b + n, c->max_len);
            n += 4;
            break;
        }
        if (has_collation(c->type)) {
            memcpy(b + n, c->collation.raw, 5);
            n += 5;
        }
    }
    return tds__put(s, b, n);
}
