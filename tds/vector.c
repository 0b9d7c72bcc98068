/*
 * vector.c — SQL Server 2025's vector type (0xF5): the value header check
 * the row decoder runs, the accessor, float16 conversion, the canonical
 * JSON-array text, the encoder and the JSON-array parser (bulk load and
 * tdstestd take vectors as text).
 *
 * Wire facts (docs/types.md, with sources): TYPE_INFO is 0xF5, USHORT
 * max length (8 + n * element size), BYTE element type (0x00 float32,
 * 0x01 float16). A value is USHORTLEN-prefixed (0xFFFF = NULL): layout
 * format 0xA9, layout version 0x01, dimension count uint16 LE, element
 * type, 3 reserved bytes, then the elements little-endian.
 *
 * Invariants: nothing here allocates; every length is checked before a
 * byte is read; the text is JSON (NaN/Inf, which SQL Server refuses,
 * print as null rather than producing invalid JSON).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "value_int.h"

unsigned tds_vector_elem_size(uint8_t elem)
{
    return elem == TDS_VEC_FLOAT32 ? 4 : elem == TDS_VEC_FLOAT16 ? 2 : 0;
}

float tds_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);      /* Inf / NaN */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;                                   /* ±0 */
    } else {
        /* Subnormal: man * 2^-24, exact in a float. */
        float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t tds_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7FFFFFFFu;
    if (ax >= 0x7F800000u)                             /* Inf / NaN */
        return (uint16_t)(sign | 0x7C00 | (ax > 0x7F800000u ? 0x200 : 0));
    if (ax >= 0x477FF000u)                             /* rounds past 65504 */
        return (uint16_t)(sign | 0x7C00);
    if (ax < 0x38800000u) {                            /* half subnormal or 0 */
        float a;
        memcpy(&a, &ax, 4);
        float q = a * 16777216.0f;                     /* exact: a * 2^24 */
        uint32_t n = (uint32_t)q;
        float r = q - (float)n;
        if (r > 0.5f || (r == 0.5f && (n & 1)))
            n++;
        return (uint16_t)(sign | n);
    }
    uint32_t e = (ax >> 23) - 112, m = ax & 0x7FFFFF;
    uint32_t h = (e << 10) | (m >> 13), rest = m & 0x1FFF;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;                                            /* may carry into the exponent */
    return (uint16_t)(sign | h);
}

int tds_vector_check(const uint8_t *p, size_t len, uint8_t elem, uint16_t dims, size_t *bad_off)
{
    unsigned es = tds_vector_elem_size(elem);
    size_t dummy;
    if (!bad_off)
        bad_off = &dummy;
    *bad_off = 0;
    if (len < TDS_VECTOR_HEADER || !p || !es)
        return TDS_E_PROTO;
    if (p[0] != TDS_VECTOR_LAYOUT_FORMAT)
        return TDS_E_PROTO;
    *bad_off = 1;
    if (p[1] != TDS_VECTOR_LAYOUT_VERSION)
        return TDS_E_PROTO;
    *bad_off = 2;
    uint16_t n = tds_le16(p + 2);
    if (n == 0 || n != dims || len != TDS_VECTOR_HEADER + (size_t)n * es)
        return TDS_E_PROTO;
    *bad_off = 4;
    if (p[4] != elem)
        return TDS_E_PROTO;
    *bad_off = 0;
    return TDS_OK;
}

int tds_value_vector(const tds_column *c, const tds_value *v, tds_vector *out)
{
    if (!c || !v || !out)
        return TDS_E_ARG;
    if (c->kind != TDS_K_VECTOR || (v->flags & (TDS_VF_NULL | TDS_VF_STREAMED)))
        return TDS_E_TYPE;
    if (tds_vector_check(v->ptr, v->len, c->vector_elem, c->vector_dims, NULL))
        return TDS_E_PROTO;
    out->dims = c->vector_dims;
    out->elem = c->vector_elem;
    out->elem_size = (uint8_t)tds_vector_elem_size(c->vector_elem);
    out->data = v->ptr + TDS_VECTOR_HEADER;
    return TDS_OK;
}

float tds_vector_get(const tds_vector *vec, uint32_t i)
{
    if (vec->elem == TDS_VEC_FLOAT16)
        return tds_half_to_float(tds_le16(vec->data + 2 * (size_t)i));
    uint32_t u = tds_le32(vec->data + 4 * (size_t)i);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* "[e0,e1,…]": each element as tds__real_text prints it, NaN/Inf as null. */
int tds__vector_text(const tds_column *c, const tds_value *v, char *out, size_t cap,
                     size_t *out_len)
{
    tds_vector vec;
    int rc = tds_value_vector(c, v, &vec);
    if (rc)
        return rc;
    char num[TDS__SCALAR_TEXT_MAX];
    size_t o = 0;
    bool room = out && cap > 0;
#define PUT(src, n) do { if (room && o + (n) < cap) memcpy(out + o, (src), (n)); else room = false; o += (n); } while (0)
    PUT("[", 1);
    for (uint32_t i = 0; i < vec.dims; i++) {
        float f = tds_vector_get(&vec, i);
        size_t n = isfinite(f) ? tds__real_text(f, num) : (memcpy(num, "null", 5), 4);
        if (i)
            PUT(",", 1);
        PUT(num, n);
    }
    PUT("]", 1);
#undef PUT
    *out_len = o;
    if (!room)
        return TDS_E_SPACE;
    out[o] = '\0';
    return TDS_OK;
}

int tds_encode_vector(const tds_column *c, const float *vals, uint32_t n, uint8_t *out, size_t cap)
{
    if (!c || (!vals && n) || (!out && cap))
        return TDS_E_ARG;
    if (c->kind != TDS_K_VECTOR)
        return TDS_E_TYPE;
    unsigned es = tds_vector_elem_size(c->vector_elem);
    if (!es || n != c->vector_dims || n == 0)
        return TDS_E_RANGE;
    size_t need = TDS_VECTOR_HEADER + (size_t)n * es;
    if (cap < need)
        return TDS_E_SPACE;
    memset(out, 0, TDS_VECTOR_HEADER);
    out[0] = TDS_VECTOR_LAYOUT_FORMAT;
    out[1] = TDS_VECTOR_LAYOUT_VERSION;
    tds_wle16(out + 2, (uint16_t)n);
    out[4] = c->vector_elem;
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(vals[i]))
            return TDS_E_RANGE;
        uint8_t *q = out + TDS_VECTOR_HEADER + (size_t)i * es;
        if (es == 2) {
            uint16_t h = tds_float_to_half(vals[i]);
            if ((h & 0x7C00) == 0x7C00)
                return TDS_E_RANGE;
            tds_wle16(q, h);
        } else {
            uint32_t u;
            memcpy(&u, &vals[i], 4);
            tds_wle32(q, u);
        }
    }
    return (int)need;
}

static size_t skip_ws(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* One JSON number at s[i..len) into *f; returns the index after it or 0. */
static size_t parse_number(const char *s, size_t i, size_t len, float *f)
{
    char buf[64];
    size_t k = 0;
    while (i + k < len && k < sizeof buf - 1 && strchr("+-0123456789.eE", s[i + k]) && s[i + k])
        k++;
    if (k == 0 || k == sizeof buf - 1)
        return 0;
    memcpy(buf, s + i, k);
    buf[k] = '\0';
    if (!(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
        return 0;
    char *end;
    tds__locale_save saved = tds__c_numeric_begin();
    *f = strtof(buf, &end);
    tds__c_numeric_end(saved);
    if (end != buf + k || !isfinite(*f))
        return 0;
    return i + k;
}

int tds_vector_parse(const char *s, size_t len, float *out, uint32_t cap, uint32_t *n)
{
    if (!s || !n || (!out && cap))
        return TDS_E_ARG;
    *n = 0;
    size_t i = skip_ws(s, 0, len);
    if (i >= len || s[i] != '[')
        return TDS_E_ARG;
    i = skip_ws(s, i + 1, len);
    if (i < len && s[i] == ']')
        return skip_ws(s, i + 1, len) == len ? TDS_OK : TDS_E_ARG;
    for (;;) {
        float f;
        size_t j = parse_number(s, i, len, &f);
        if (!j)
            return TDS_E_ARG;
        if (*n == cap)
            return TDS_E_SPACE;
        out[(*n)++] = f;
        i = skip_ws(s, j, len);
        if (i < len && s[i] == ',') {
            i = skip_ws(s, i + 1, len);
            continue;
        }
        if (i < len && s[i] == ']')
            return skip_ws(s, i + 1, len) == len ? TDS_OK : TDS_E_ARG;
        return TDS_E_ARG;
    }
}
