/*
 * value.c — typed accessors over value views (MS-TDS 2.2.5.5 data type
 * dependent data streams): integers, floats, money/decimal, every date and
 * time type, GUID and sql_variant.
 *
 * Invariants: the view's bytes come from the peer. Every accessor first
 * asks tds__value_kind() whether the length is possible for the column's
 * type (TDS_E_PROTO if not) and then reads only that many bytes, through
 * the tds_le* helpers. Values outside the type's documented range (a date
 * past 9999-12-31, a time past midnight, a decimal of 39 digits) are
 * TDS_E_PROTO too: SQL Server never sends them. No allocation.
 */
#include <stdlib.h>

#include "value_int.h"

/* Two's complement reinterpretation without implementation-defined
 * conversions. */
static int64_t as_i64(uint64_t u)
{
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}
static int32_t as_i32(uint32_t u) { return (int32_t)as_i64(u & 0x80000000u ? u | ~(uint64_t)0xFFFFFFFF : u); }
static int16_t as_i16(uint16_t u) { return (int16_t)as_i64(u & 0x8000u ? u | ~(uint64_t)0xFFFF : u); }

/* 100 ns ticks per unit of a time(n) value. */
static const uint64_t time_unit[8] = { 10000000, 1000000, 100000, 10000, 1000, 100, 10, 1 };

/* Kind of a non-NULL value, or a negative error. */
static int kind_of(const tds_column *c, const tds_value *v)
{
    if (!c || !v)
        return TDS_E_ARG;
    if (v->flags & (TDS_VF_NULL | TDS_VF_STREAMED))
        return TDS_E_TYPE;
    if (v->len && !v->ptr)
        return TDS_E_ARG;
    return tds__value_kind(c, v->len);
}

int tds_value_int(const tds_column *c, const tds_value *v, int64_t *out)
{
    int k = kind_of(c, v);
    if (k < 0)
        return k;
    const uint8_t *p = v->ptr;
    switch (k) {
    case TDS_K_TINYINT: *out = p[0]; break;
    case TDS_K_BIT: *out = p[0] != 0; break;
    case TDS_K_SMALLINT: *out = as_i16(tds_le16(p)); break;
    case TDS_K_INT: *out = as_i32(tds_le32(p)); break;
    case TDS_K_BIGINT: *out = as_i64(tds_le64(p)); break;
    default: return TDS_E_TYPE;
    }
    return TDS_OK;
}

/* money: high 32 bits first, then the low 32 (MS-TDS 2.2.5.5.1.3). */
static int64_t money_units(const uint8_t *p, uint32_t len)
{
    if (len == 4)
        return as_i32(tds_le32(p));
    return as_i64(((uint64_t)tds_le32(p) << 32) | tds_le32(p + 4));
}

static int decimal_of(const tds_column *c, const tds_value *v, int k, tds_decimal *out)
{
    const uint8_t *p = v->ptr;
    if (k == TDS_K_MONEY || k == TDS_K_SMALLMONEY) {
        tds__decimal_from_money(money_units(p, v->len), k == TDS_K_MONEY ? 19 : 10, out);
        return TDS_OK;
    }
    if (k != TDS_K_DECIMAL)
        return TDS_E_TYPE;
    if (c->precision < 1 || c->precision > 38 || c->scale > c->precision)
        return TDS_E_PROTO;
    if (p[0] > 1)
        return TDS_E_PROTO;
    tds_decimal d;
    memset(&d, 0, sizeof d);
    d.precision = c->precision;
    d.scale = c->scale;
    memcpy(d.magnitude, p + 1, v->len - 1);
    if (!tds__decimal_fits(d.magnitude, 38))
        return TDS_E_PROTO;
    d.negative = p[0] == 0 && !tds__decimal_is_zero(d.magnitude);
    *out = d;
    return TDS_OK;
}

int tds_value_decimal(const tds_column *c, const tds_value *v, tds_decimal *out)
{
    int k = kind_of(c, v);
    if (k < 0)
        return k;
    return decimal_of(c, v, k, out);
}

int tds_value_float(const tds_column *c, const tds_value *v, double *out)
{
    int k = kind_of(c, v);
    if (k < 0)
        return k;
    const uint8_t *p = v->ptr;
    switch (k) {
    case TDS_K_REAL: {
        uint32_t u = tds_le32(p);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
        return TDS_OK;
    }
    case TDS_K_FLOAT: {
        uint64_t u = tds_le64(p);
        memcpy(out, &u, 8);
        return TDS_OK;
    }
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT: {
        int64_t i;
        int rc = tds_value_int(c, v, &i);
        if (rc == TDS_OK)
            *out = (double)i;
        return rc;
    }
    case TDS_K_MONEY: case TDS_K_SMALLMONEY: case TDS_K_DECIMAL: {
        /* Exact decimal text, then the C library's correctly rounded
         * conversion: never via a lossy double division. */
        tds_decimal d;
        int rc = decimal_of(c, v, k, &d);
        if (rc)
            return rc;
        char buf[TDS__SCALAR_TEXT_MAX];
        tds__decimal_text(&d, buf);
        tds__locale_save saved = tds__c_numeric_begin(); /* '.' whatever LC_NUMERIC says */
        *out = strtod(buf, NULL);
        tds__c_numeric_end(saved);
        return TDS_OK;
    }
    default:
        return TDS_E_TYPE;
    }
}

static uint64_t le_n(const uint8_t *p, uint32_t n)
{
    uint64_t r = 0;
    for (uint32_t i = n; i-- > 0;)
        r = (r << 8) | p[i];
    return r;
}

int tds_value_datetime(const tds_column *c, const tds_value *v, tds_datetime *out)
{
    int k = kind_of(c, v);
    if (k < 0)
        return k;
    const uint8_t *p = v->ptr;
    tds_datetime dt;
    memset(&dt, 0, sizeof dt);
    dt.kind = (uint8_t)k;
    switch (k) {
    case TDS_K_DATETIME: {
        int32_t days = as_i32(tds_le32(p));
        uint32_t t300 = tds_le32(p + 4);
        if (days < -53690 || days > 2958463 || t300 >= 300u * 86400)
            return TDS_E_PROTO;
        dt.days = days + TDS__DAYS_1900;
        dt.ticks = ((uint64_t)t300 * 100000 + 1) / 3; /* 1/300 s to 100 ns, nearest */
        dt.scale = 3;
        break;
    }
    case TDS_K_SMALLDATETIME: {
        uint32_t min = tds_le16(p + 2);
        if (min >= 1440)
            return TDS_E_PROTO;
        dt.days = TDS__DAYS_1900 + tds_le16(p);
        dt.ticks = (uint64_t)min * 600000000;
        break;
    }
    case TDS_K_DATE:
        dt.days = (int32_t)le_n(p, 3);
        break;
    case TDS_K_TIME: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET: {
        uint32_t tl = tds__time_len(c->scale);
        uint64_t units = le_n(p, tl);
        if (units >= TDS__TICKS_PER_DAY / time_unit[c->scale])
            return TDS_E_PROTO; /* at or past midnight */
        dt.scale = c->scale;
        dt.ticks = units * time_unit[c->scale];
        if (k != TDS_K_TIME)
            dt.days = (int32_t)le_n(p + tl, 3);
        if (k == TDS_K_DATETIMEOFFSET) {
            int off = as_i16(tds_le16(p + tl + 3));
            if (off < -840 || off > 840)
                return TDS_E_PROTO;
            dt.offset_min = (int16_t)off;
        }
        break;
    }
    default:
        return TDS_E_TYPE;
    }
    if (dt.days > TDS__DAYS_MAX)
        return TDS_E_PROTO;
    *out = dt;
    return TDS_OK;
}

int tds_value_guid(const tds_column *c, const tds_value *v, uint8_t out[16])
{
    int k = kind_of(c, v);
    if (k < 0)
        return k;
    if (k != TDS_K_GUID)
        return TDS_E_TYPE;
    const uint8_t *p = v->ptr;
    static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        out[i] = p[order[i]];
    return TDS_OK;
}

/* sql_variant (MS-TDS 2.2.5.5.4): BaseType, PropBytes, properties, data. */
int tds_value_variant(const tds_column *c, const tds_value *v,
                      tds_column *inner_col, tds_value *inner_val)
{
    int k = kind_of(c, v);
    if (k < 0)
        return k;
    if (k != TDS_K_VARIANT || !inner_col || !inner_val)
        return k != TDS_K_VARIANT ? TDS_E_TYPE : TDS_E_ARG;
    const uint8_t *p = v->ptr;
    uint8_t base = p[0], nprop = p[1];
    if ((uint32_t)nprop > v->len - 2)
        return TDS_E_PROTO;
    const uint8_t *prop = p + 2;
    uint32_t data_len = v->len - 2 - nprop;
    uint8_t want;   /* property bytes the base type must carry */
    uint32_t max_len = 0;
    uint8_t prec = 0, scale = 0;
    switch (base) {
    case TDS_T_INT1: case TDS_T_INT2: case TDS_T_INT4: case TDS_T_INT8: case TDS_T_BIT:
    case TDS_T_FLT4: case TDS_T_FLT8: case TDS_T_MONEY: case TDS_T_MONEY4:
    case TDS_T_DATETIME: case TDS_T_DATETIM4: case TDS_T_GUID: case TDS_T_DATEN:
        want = 0;
        break;
    case TDS_T_DECIMALN: case TDS_T_NUMERICN:
        want = 2;
        break;
    case TDS_T_TIMEN: case TDS_T_DATETIME2N: case TDS_T_DATETIMEOFFSETN:
        want = 1;
        break;
    case TDS_T_BIGVARBIN: case TDS_T_BIGBINARY:
        want = 2;
        break;
    case TDS_T_BIGVARCHR: case TDS_T_BIGCHAR: case TDS_T_NVARCHAR: case TDS_T_NCHAR:
        want = 7;
        break;
    default:
        return TDS_E_PROTO; /* no variant of text, xml, variant, (max)… */
    }
    if (nprop != want)
        return TDS_E_PROTO;
    switch (base) {
    case TDS_T_DECIMALN: case TDS_T_NUMERICN:
        prec = prop[0];
        scale = prop[1];
        max_len = data_len;
        break;
    case TDS_T_TIMEN: case TDS_T_DATETIME2N: case TDS_T_DATETIMEOFFSETN:
        scale = prop[0];
        break;
    case TDS_T_BIGVARBIN: case TDS_T_BIGBINARY:
        max_len = tds_le16(prop);
        break;
    case TDS_T_BIGVARCHR: case TDS_T_BIGCHAR: case TDS_T_NVARCHAR: case TDS_T_NCHAR:
        max_len = tds_le16(prop + 5);
        break;
    default:
        break;
    }
    if (max_len == 0xFFFF)
        return TDS_E_PROTO; /* (max) types cannot be in a variant */
    tds_column ic;
    if (tds_column_init(&ic, base, max_len, prec, scale) != TDS_OK)
        return TDS_E_PROTO;
    if (want == 7)
        tds_collation_parse(prop, &ic.collation);
    int ik = tds__value_kind(&ic, data_len);
    if (ik < 0)
        return TDS_E_PROTO;
    ic.ordinal = c->ordinal;
    ic.name = c->name;
    *inner_col = ic;
    inner_val->ptr = p + 2 + nprop;
    inner_val->len = data_len;
    inner_val->flags = v->flags & TDS_VF_ASSEMBLED;
    return TDS_OK;
}
