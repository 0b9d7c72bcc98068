/*
 * value_encode.c — value encoders: the exact inverse of the accessors in
 * value.c. Each writes the wire bytes of one value for the column's type,
 * without the length prefix (typeinfo.c adds that), and returns the byte
 * count.
 *
 * Invariants: the width of the N types comes from the column (INTN(4)
 * always gets 4 bytes), so a value written here is always a legal value
 * for its TYPE_INFO. Out-of-range input is TDS_E_RANGE, never truncated.
 * Decimal and date/time input is rounded to the column's scale exactly the
 * way tds_decimal_parse / tds_datetime_parse round. No allocation.
 */
#include <math.h>

#include "value_int.h"

/* The kind the column's values have: its own, or derived from the type. */
static int col_kind(const tds_column *c)
{
    if (!c)
        return TDS_E_ARG;
    if (c->kind != TDS_K_UNKNOWN)
        return c->kind;
    int k = tds__value_kind(c, c->max_len);
    return k < 0 ? TDS_E_TYPE : k;
}

static uint64_t as_u64(int64_t v) { return (uint64_t)v; } /* modular, well defined */

static int put_money(int kind, int64_t units, uint8_t *out, size_t cap)
{
    if (kind == TDS_K_SMALLMONEY) {
        if (units < INT32_MIN || units > INT32_MAX)
            return TDS_E_RANGE;
        if (cap < 4)
            return TDS_E_SPACE;
        tds_wle32(out, (uint32_t)as_u64(units));
        return 4;
    }
    if (cap < 8)
        return TDS_E_SPACE;
    uint64_t u = as_u64(units);
    tds_wle32(out, (uint32_t)(u >> 32)); /* high half first */
    tds_wle32(out + 4, (uint32_t)u);
    return 8;
}

int tds_encode_int(const tds_column *c, int64_t v, uint8_t *out, size_t cap)
{
    int k = col_kind(c);
    if (k < 0)
        return k;
    int64_t lo, hi;
    size_t n;
    switch (k) {
    case TDS_K_TINYINT: lo = 0; hi = 255; n = 1; break;
    case TDS_K_BIT: lo = 0; hi = 1; n = 1; break;
    case TDS_K_SMALLINT: lo = INT16_MIN; hi = INT16_MAX; n = 2; break;
    case TDS_K_INT: lo = INT32_MIN; hi = INT32_MAX; n = 4; break;
    case TDS_K_BIGINT: lo = INT64_MIN; hi = INT64_MAX; n = 8; break;
    case TDS_K_MONEY: case TDS_K_SMALLMONEY:
        if (v < INT64_MIN / 10000 || v > INT64_MAX / 10000)
            return TDS_E_RANGE;
        return put_money(k, v * 10000, out, cap);
    case TDS_K_DECIMAL: {
        tds_decimal d;
        memset(&d, 0, sizeof d);
        d.precision = 38;
        d.negative = v < 0;
        tds_wle64(d.magnitude, v < 0 ? (uint64_t)0 - as_u64(v) : (uint64_t)v);
        return tds_encode_decimal(c, &d, out, cap);
    }
    case TDS_K_REAL: case TDS_K_FLOAT:
        return tds_encode_float(c, (double)v, out, cap);
    default:
        return TDS_E_TYPE;
    }
    if (v < lo || v > hi)
        return TDS_E_RANGE;
    if (cap < n)
        return TDS_E_SPACE;
    uint64_t u = as_u64(v);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(u >> (8 * i));
    return (int)n;
}

/* NaN and infinities are TDS_E_RANGE: SQL Server rejects them in float
 * and real values ("not a valid instance of data type float"). */
int tds_encode_float(const tds_column *c, double v, uint8_t *out, size_t cap)
{
    int k = col_kind(c);
    if (k < 0)
        return k;
    if (k != TDS_K_REAL && k != TDS_K_FLOAT)
        return TDS_E_TYPE;
    if (!isfinite(v))
        return TDS_E_RANGE;
    if (k == TDS_K_REAL) {
        /* FLT_MAX plus half an ulp already rounds to infinity */
        if (fabs(v) >= 0x1.ffffffp+127)
            return TDS_E_RANGE;
        if (cap < 4)
            return TDS_E_SPACE;
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        tds_wle32(out, u);
        return 4;
    }
    if (cap < 8)
        return TDS_E_SPACE;
    uint64_t u;
    memcpy(&u, &v, 8);
    tds_wle64(out, u);
    return 8;
}

int tds_encode_decimal(const tds_column *c, const tds_decimal *d, uint8_t *out, size_t cap)
{
    int k = col_kind(c);
    if (k < 0)
        return k;
    if (!d)
        return TDS_E_ARG;
    if (k == TDS_K_MONEY || k == TDS_K_SMALLMONEY) {
        int64_t units;
        int rc = tds__decimal_to_money(d, &units);
        return rc ? rc : put_money(k, units, out, cap);
    }
    if (k != TDS_K_DECIMAL)
        return TDS_E_TYPE;
    tds_decimal r;
    int rc = tds__decimal_rescale(d, c->precision, c->scale, &r);
    if (rc)
        return rc;
    uint32_t mlen = (c->max_len == 5 || c->max_len == 9 || c->max_len == 13 || c->max_len == 17)
                  ? c->max_len - 1 : tds__decimal_mag_len(c->precision);
    for (uint32_t i = mlen; i < 16; i++)
        if (r.magnitude[i])
            return TDS_E_RANGE;
    if (cap < 1 + (size_t)mlen)
        return TDS_E_SPACE;
    out[0] = r.negative ? 0 : 1;
    memcpy(out + 1, r.magnitude, mlen);
    return (int)(1 + mlen);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int tds_encode_datetime(const tds_column *c, const tds_datetime *d, uint8_t *out, size_t cap)
{
    int k = col_kind(c);
    if (k < 0)
        return k;
    if (!d)
        return TDS_E_ARG;
    tds_datetime dt = *d;
    if (dt.kind == TDS_K_DATETIMEOFFSET && k != TDS_K_DATETIMEOFFSET) {
        /* Like CAST(datetimeoffset AS datetime2): keep the local time. */
        int64_t tpd = (int64_t)TDS__TICKS_PER_DAY;
        int64_t local = (int64_t)dt.days * tpd + (int64_t)(dt.ticks % TDS__TICKS_PER_DAY) +
                        (int64_t)dt.offset_min * 600000000;
        int64_t ld = local >= 0 ? local / tpd : -((-local + tpd - 1) / tpd);
        if (ld < INT32_MIN || ld > INT32_MAX)
            return TDS_E_RANGE;
        dt.days = (int32_t)ld;
        dt.ticks = (uint64_t)(local - ld * tpd);
        dt.offset_min = 0;
    } else if (dt.kind == TDS_K_TIME && k != TDS_K_TIME) {
        dt.days = TDS__DAYS_1900; /* CAST(time AS datetime2) is on 1900-01-01 */
    }
    if (k != TDS_K_DATETIMEOFFSET)
        dt.offset_min = 0;
    dt.kind = (uint8_t)k;
    switch (k) {
    case TDS_K_DATETIME: dt.scale = 3; break;
    case TDS_K_SMALLDATETIME: case TDS_K_DATE: dt.scale = 0; break;
    case TDS_K_TIME: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        if (c->scale > 7)
            return TDS_E_TYPE;
        dt.scale = c->scale;
        break;
    default:
        return TDS_E_TYPE;
    }
    tds__datetime_round(&dt);
    if (!tds__datetime_in_range(&dt))
        return TDS_E_RANGE;
    switch (k) {
    case TDS_K_DATETIME: {
        if (cap < 8)
            return TDS_E_SPACE;
        int32_t days = dt.days - TDS__DAYS_1900;
        tds_wle32(out, (uint32_t)as_u64(days));
        tds_wle32(out + 4, (uint32_t)((dt.ticks * 3 + 50000) / 100000));
        return 8;
    }
    case TDS_K_SMALLDATETIME:
        if (cap < 4)
            return TDS_E_SPACE;
        tds_wle16(out, (uint16_t)(dt.days - TDS__DAYS_1900));
        tds_wle16(out + 2, (uint16_t)(dt.ticks / 600000000));
        return 4;
    case TDS_K_DATE:
        if (cap < 3)
            return TDS_E_SPACE;
        put_le(out, (uint64_t)dt.days, 3);
        return 3;
    default: {
        static const uint64_t unit[8] = { 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1 };
        unsigned tl = tds__time_len(dt.scale);
        size_t n = tl + (k == TDS_K_TIME ? 0 : k == TDS_K_DATETIME2 ? 3 : 5);
        if (cap < n)
            return TDS_E_SPACE;
        put_le(out, dt.ticks / unit[dt.scale], tl);
        if (k != TDS_K_TIME)
            put_le(out + tl, (uint64_t)dt.days, 3);
        if (k == TDS_K_DATETIMEOFFSET)
            tds_wle16(out + tl + 3, (uint16_t)as_u64(dt.offset_min));
        return (int)n;
    }
    }
}

int tds_encode_guid(const tds_column *c, const uint8_t rfc[16], uint8_t *out, size_t cap)
{
    int k = col_kind(c);
    if (k < 0)
        return k;
    if (k != TDS_K_GUID)
        return TDS_E_TYPE;
    if (!rfc)
        return TDS_E_ARG;
    if (cap < 16)
        return TDS_E_SPACE;
    static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        out[i] = rfc[order[i]];
    return 16;
}
