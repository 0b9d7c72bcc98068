/*
 * pg_copy.c — PostgreSQL's binary COPY form of each value (the field's
 * int32 length, then the type's binary send form, big-endian), for the
 * types postgres.c declares. From PostgreSQL's "COPY" reference, "Binary
 * Format", and each type's send function:
 *   int2/int4/int8, float4/float8: big-endian; boolean: 1 byte;
 *   numeric: int16 ndigits, int16 weight, uint16 sign (0x4000 negative),
 *     uint16 dscale, then ndigits base-10000 int16 digits;
 *   date: int32 days since 2000-01-01; time: int64 µs since midnight;
 *   timestamp(tz): int64 µs since 2000-01-01 (UTC for timestamptz);
 *   uuid: 16 bytes; bytea/text: the bytes (text as UTF-8, the client
 *   encoding postgres.c sets).
 * Invariant: appends to the caller's buffer only; no allocation beyond its
 * growth.
 */
#ifndef SINK_FULLY_STATIC
#include "pq_int.h"
#include "sink_int.h"

void sink__pg_be16(uint8_t *o, uint16_t v)
{
    o[0] = (uint8_t)(v >> 8);
    o[1] = (uint8_t)v;
}
void sink__pg_be32(uint8_t *o, uint32_t v)
{
    o[0] = (uint8_t)(v >> 24); o[1] = (uint8_t)(v >> 16); o[2] = (uint8_t)(v >> 8); o[3] = (uint8_t)v;
}
void sink__pg_be64(uint8_t *o, uint64_t v)
{
    sink__pg_be32(o, (uint32_t)(v >> 32));
    sink__pg_be32(o + 4, (uint32_t)v);
}

/* Appends a field (length + bytes) of n bytes and returns where the bytes
 * go, or NULL when out of memory. */
uint8_t *sink__pg_field(sink_buf *b, size_t n)
{
    if (sink__buf_reserve(b, 4 + n))
        return NULL;
    uint8_t *o = (uint8_t *)b->p + b->len;
    sink__pg_be32(o, (uint32_t)n);
    b->len += 4 + n;
    return o + 4;
}

/* numeric from canonical decimal text "-123.4500" (scale digits after the
 * point): base-10000 groups aligned on the decimal point. */
static int numeric(sink_buf *b, const char *t, size_t n, unsigned scale)
{
    bool neg = n && t[0] == '-';
    if (neg) {
        t++;
        n--;
    }
    const char *dot = memchr(t, '.', n);
    size_t li = dot ? (size_t)(dot - t) : n, lf = dot ? n - li - 1 : 0;
    const char *f = dot ? dot + 1 : t + n;
    uint16_t g[24];
    size_t ig = (li + 3) / 4, fg = (lf + 3) / 4, ng = 0;
    if (ig + fg > 24)
        return SINK_E_VALUE;
    size_t pad = ig * 4 - li;
    for (size_t k = 0; k < ig; k++) {
        unsigned v = 0;
        for (size_t d = 0; d < 4; d++) {
            size_t pos = k * 4 + d;
            v = v * 10 + (pos < pad ? 0u : (unsigned)(t[pos - pad] - '0'));
        }
        g[ng++] = (uint16_t)v;
    }
    for (size_t k = 0; k < fg; k++) {
        unsigned v = 0;
        for (size_t d = 0; d < 4; d++) {
            size_t pos = k * 4 + d;
            v = v * 10 + (pos < lf ? (unsigned)(f[pos] - '0') : 0u);
        }
        g[ng++] = (uint16_t)v;
    }
    int weight = (int)ig - 1;
    size_t first = 0;
    while (first < ng && g[first] == 0) {
        first++;
        weight--;
    }
    while (ng > first && g[ng - 1] == 0)
        ng--;
    size_t nd = ng - first;
    if (nd == 0) {
        weight = 0;
        neg = false;
    }
    uint8_t *o = sink__pg_field(b, 8 + 2 * nd);
    if (!o)
        return SINK_E_NOMEM;
    sink__pg_be16(o, (uint16_t)nd);
    sink__pg_be16(o + 2, (uint16_t)(int16_t)weight);
    sink__pg_be16(o + 4, neg ? 0x4000 : 0);
    sink__pg_be16(o + 6, (uint16_t)scale);
    for (size_t k = 0; k < nd; k++)
        sink__pg_be16(o + 8 + 2 * k, g[first + k]);
    return SINK_OK;
}

/* integers and bit: int2/int4/int8, bool */
static inline int put_int(sink_buf *b, const tds_column *c, const tds_value *v)
{
    int64_t x;
    if (tds_value_int(c, v, &x))
        return SINK_E_VALUE;
    size_t w = c->kind == TDS_K_BIT ? 1 : c->kind == TDS_K_INT ? 4 : c->kind == TDS_K_BIGINT ? 8 : 2;
    uint8_t *o = sink__pg_field(b, w);
    if (!o)
        return SINK_E_NOMEM;
    if (w == 1) o[0] = x != 0;
    else if (w == 2) sink__pg_be16(o, (uint16_t)x);
    else if (w == 4) sink__pg_be32(o, (uint32_t)x);
    else sink__pg_be64(o, (uint64_t)x);
    return SINK_OK;
}

/* float4 / float8: the IEEE bits */
static inline int put_float(sink_buf *b, const tds_column *c, const tds_value *v)
{
    double d;
    if (tds_value_float(c, v, &d))
        return SINK_E_VALUE;
    uint8_t *o = sink__pg_field(b, c->kind == TDS_K_REAL ? 4 : 8);
    if (!o)
        return SINK_E_NOMEM;
    if (c->kind == TDS_K_REAL) {
        float fl = (float)d;
        uint32_t u;
        memcpy(&u, &fl, 4);
        sink__pg_be32(o, u);
    } else {
        uint64_t u;
        memcpy(&u, &d, 8);
        sink__pg_be64(o, u);
    }
    return SINK_OK;
}

/* date: days since 2000-01-01; time: µs; timestamp(tz): µs since 2000 */
static inline int put_datetime(sink_buf *b, const tds_column *c, const tds_value *v)
{
    tds_datetime dt;
    if (tds_value_datetime(c, v, &dt))
        return SINK_E_VALUE;
    uint8_t *o = sink__pg_field(b, c->kind == TDS_K_DATE ? 4 : 8);
    if (!o)
        return SINK_E_NOMEM;
    if (c->kind == TDS_K_DATE) {
        sink__pg_be32(o, (uint32_t)(dt.days - SINK__DAYS_2000));
        return SINK_OK;
    }
    int64_t us = c->kind == TDS_K_TIME ? (int64_t)((dt.ticks + 5) / 10)
               : sink__dt_unix_us(&dt) - (int64_t)(SINK__DAYS_2000 - SINK__DAYS_1970) * SINK__US_PER_DAY;
    sink__pg_be64(o, (uint64_t)us);
    return SINK_OK;
}

/* jsonb: version byte 1, then the JSON text. */
static int put_jsonb(sink_buf *b, const tds_column *c, const tds_value *v)
{
    if (sink__buf_reserve(b, 5))
        return SINK_E_NOMEM;
    size_t at = b->len;
    b->len += 5;
    int rc = sink__value_text(b, c, v);
    if (rc)
        return rc;
    if (memchr(b->p + at + 5, '\0', b->len - at - 5))
        return SINK_E_VALUE;
    sink__pg_be32((uint8_t *)b->p + at, (uint32_t)(b->len - at - 4));
    b->p[at + 4] = 1;
    return SINK_OK;
}

/* real[] (vector; float16 widened exactly): ndim 1, no NULLs, element
 * oid 700 (float4), dims, lower bound 1, then per element length 4 and
 * the float big-endian. */
static int put_real_array(sink_buf *b, const tds_column *c, const tds_value *v)
{
    tds_vector vec;
    if (tds_value_vector(c, v, &vec))
        return SINK_E_VALUE;
    uint8_t *o = sink__pg_field(b, 20 + (size_t)vec.dims * 8);
    if (!o)
        return SINK_E_NOMEM;
    sink__pg_be32(o, 1);
    sink__pg_be32(o + 4, 0);
    sink__pg_be32(o + 8, 700);
    sink__pg_be32(o + 12, vec.dims);
    sink__pg_be32(o + 16, 1);
    o += 20;
    for (uint32_t i = 0; i < vec.dims; i++, o += 8) {
        float f = tds_vector_get(&vec, i);
        uint32_t u;
        memcpy(&u, &f, 4);
        sink__pg_be32(o, 4);
        sink__pg_be32(o + 4, u);
    }
    return SINK_OK;
}

/* text: reserve the length, transcode straight into the buffer */
static inline int put_text(sink_buf *b, const tds_column *c, const tds_value *v)
{
    if (sink__buf_reserve(b, 4))
        return SINK_E_NOMEM;
    size_t at = b->len;
    b->len += 4;
    int rc = sink__value_text(b, c, v);
    if (rc)
        return rc;
    if (memchr(b->p + at + 4, '\0', b->len - at - 4))
        return SINK_E_VALUE; /* PostgreSQL text cannot hold U+0000 */
    sink__pg_be32((uint8_t *)b->p + at, (uint32_t)(b->len - at - 4));
    return SINK_OK;
}

int sink__pg_copy_value(sink_buf *b, sink_buf *text, const tds_column *c, const tds_value *v)
{
    uint8_t *o;
    if (v->flags & TDS_VF_NULL) {
        if (sink__buf_reserve(b, 4))
            return SINK_E_NOMEM;
        sink__pg_be32((uint8_t *)b->p + b->len, 0xFFFFFFFFu);
        b->len += 4;
        return SINK_OK;
    }
    if (v->flags & TDS_VF_STREAMED)
        return SINK_E_VALUE;
    switch (c->kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT:
        return put_int(b, c, v);
    case TDS_K_REAL: case TDS_K_FLOAT:
        return put_float(b, c, v);
    case TDS_K_SMALLMONEY: case TDS_K_MONEY: case TDS_K_DECIMAL: {
        text->len = 0;
        int rc = sink__value_text(text, c, v);
        if (rc)
            return rc;
        return numeric(b, text->p, text->len, c->kind == TDS_K_DECIMAL ? c->scale : 4);
    }
    case TDS_K_DATE: case TDS_K_TIME: case TDS_K_SMALLDATETIME: case TDS_K_DATETIME:
    case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        return put_datetime(b, c, v);
    case TDS_K_GUID: {
        uint8_t g[16];
        if (tds_value_guid(c, v, g))
            return SINK_E_VALUE;
        if (!(o = sink__pg_field(b, 16)))
            return SINK_E_NOMEM;
        memcpy(o, g, 16);
        return SINK_OK;
    }
    case TDS_K_JSON:
        return put_jsonb(b, c, v);
    case TDS_K_VECTOR:
        return put_real_array(b, c, v);
    case TDS_K_BINARY: case TDS_K_UDT:
        if (!(o = sink__pg_field(b, v->len)))
            return SINK_E_NOMEM;
        if (v->len)
            memcpy(o, v->ptr, v->len);
        return SINK_OK;
    default:
        return put_text(b, c, v);
    }
}

#else
typedef int sink__pg_copy_unused; /* no empty translation unit */
#endif /* SINK_FULLY_STATIC */
