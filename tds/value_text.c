/*
 * value_text.c — canonical text of any non-NULL value (tds_value_text) and
 * the GUID text form (tds_guid_parse).
 *
 * Text is what SQL Server prints (see tds.h); choices where it does not
 * say:
 *   - float/real: shortest text that reads back to the same bits, in C's
 *     %g form ("0.1", "1e+308", "-0", "5e-324"). NaN and infinities, which
 *     SQL Server never stores but the wire can carry, print as "NaN",
 *     "Infinity" and "-Infinity" (the encoders refuse them).
 *   - a decimal zero never prints a sign.
 * Numbers that need snprintf/strtod are formatted in the C locale
 * (c_locale.c switches the calling thread only), so the text is the same
 * whatever the program's LC_NUMERIC ("0.1", never "0,1").
 *
 * Invariants: no allocation; scalar kinds are formatted into a
 * TDS__SCALAR_TEXT_MAX stack buffer first, so a too-small caller buffer
 * gets TDS_E_SPACE with the exact needed length and no partial output
 * contract to worry about.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "value_int.h"

/* Number of decimal digits of u (1 for 0). */
static size_t u_digits(uint64_t u)
{
    static const uint64_t p10[20] = {
        1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
        100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
        10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
        100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull };
#if defined(__GNUC__) || defined(__clang__)
    /* log10 from the bit length (1233/4096 ~ log10(2)), then one compare */
    uint64_t x = u | 1;
    size_t t = (size_t)((64 - __builtin_clzll(x)) * 1233) >> 12;
    return t - (x < p10[t]) + 1;
#else
    size_t n = 1;
    while (n < 20 && u >= p10[n])
        n++;
    return n;
#endif
}

/* Two's complement value of the low `bits` bits of u, without
 * implementation-defined conversions. */
static int64_t signed_of(uint64_t u, int bits)
{
    if (bits < 64 && (u >> (bits - 1)) & 1)
        u |= ~(uint64_t)0 << bits;
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Writes exactly 8 digits of x (< 10^8) ending just before q. 32-bit
 * arithmetic, and the four pairs do not wait for each other. */
static char *put8(char *q, uint32_t x)
{
    uint32_t a = x / 10000, b = x % 10000;
    memcpy(q - 2, digit_pairs + 2 * (b % 100), 2);
    memcpy(q - 4, digit_pairs + 2 * (b / 100), 2);
    memcpy(q - 6, digit_pairs + 2 * (a % 100), 2);
    memcpy(q - 8, digit_pairs + 2 * (a / 100), 2);
    return q - 8;
}

/* Decimal text of v, written once from the least significant end: eight
 * digits at a time while the value is wide, then two per step from a
 * table (divisions by constants are multiplies). */
static size_t int_text(int64_t v, char *buf)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t o = v < 0 ? 1 : 0, n = o + u_digits(u);
    if (v < 0)
        buf[0] = '-';
    char *q = buf + n;
    *q = '\0';
    while (u >= 100000000) {
        uint64_t hi = u / 100000000;
        q = put8(q, (uint32_t)(u - hi * 100000000));
        u = hi;
    }
    uint32_t w = (uint32_t)u;
    while (w >= 100) {
        const char *d = digit_pairs + 2 * (w % 100);
        w /= 100;
        *--q = d[1];
        *--q = d[0];
    }
    if (w >= 10) {
        *--q = digit_pairs[2 * w + 1];
        *--q = digit_pairs[2 * w];
    } else {
        *--q = (char)('0' + w);
    }
    return n;
}

/* Text of n / 10^k (k >= 0) in plain notation: |n|'s digits with the
 * point k from the right, "0." and zeros in front when needed. */
static size_t scaled_text(int64_t n, int k, char *buf)
{
    /* |n| in decimal, then the point k digits from the right */
    char digits[24];
    size_t nd = int_text(n < 0 ? -n : n, digits), o = 0;
    if (n < 0)
        buf[o++] = '-';
    if ((size_t)k >= nd) { /* 0.00ddd */
        buf[o++] = '0';
        buf[o++] = '.';
        for (size_t z = nd; z < (size_t)k; z++)
            buf[o++] = '0';
        memcpy(buf + o, digits, nd);
        o += nd;
    } else {
        memcpy(buf + o, digits, nd - (size_t)k);
        o += nd - (size_t)k;
        if (k > 0) {
            buf[o++] = '.';
            memcpy(buf + o, digits + nd - (size_t)k, (size_t)k);
            o += (size_t)k;
        }
    }
    buf[o] = '\0';
    return o;
}

/* Most stored floats are short decimals (prices, halves, counts). When
 * v is exactly the double nearest to n / 10^k for a small k and fewer than
 * 15 digits, "%.15g" would print that decimal in plain notation, so write
 * it directly instead of going through printf and strtod (10x faster).
 * Returns 0 when v is not such a value. */
static size_t float_text_short_decimal(double v, char *buf)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    if (!(fabs(v) >= 1e-4 && fabs(v) < 1e14))
        return 0;
    for (int k = 0; k < 7; k++) {
        double t = v * p10[k];
        if (!(fabs(t) < 1e14))
            return 0;
        int64_t n = (int64_t)t;
        if ((double)n != t || (double)n / p10[k] != v)
            continue;
        /* v * 10^k can round onto an integer ending in 0 (293.21 * 1000):
         * the same decimal with fewer digits. */
        while (k > 0 && n % 10 == 0) {
            n /= 10;
            k--;
        }
        return scaled_text(n, k, buf);
    }
    return 0;
}

size_t tds__float_text(double v, char *buf)
{
    if (isnan(v)) {
        memcpy(buf, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        const char *s = v < 0 ? "-Infinity" : "Infinity";
        size_t n = strlen(s);
        memcpy(buf, s, n + 1);
        return n;
    }
    size_t fast = float_text_short_decimal(v, buf);
    if (fast)
        return fast;
    /* %.15g round-trips the shortest form for every normal double (15 =
     * DBL_DIG); subnormals carry fewer digits, so search from 1. */
    int prec = (v != 0 && fabs(v) < 2.2250738585072014e-308) ? 1 : 15;
    int n = 0;
    tds__locale_save saved = tds__c_numeric_begin();
    for (; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    tds__c_numeric_end(saved);
    return (size_t)n;
}

/* The float (real) counterpart: v is the float nearest to n / 10^k with at
 * most 6 significant digits and 1e-4 <= |v| < 1e6, which is exactly what
 * "%.6g" prints (the first precision tds__real_text tries), so write it
 * directly. Returns 0 otherwise. */
static size_t real_text_short_decimal(float f, char *buf)
{
    static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    double v = f;
    if (!(fabs(v) >= 1e-4 && fabs(v) < 1e6))
        return 0;
    for (int k = 0; k < 7; k++) {
        double t = v * p10[k];
        int64_t n = (int64_t)(t < 0 ? t - 0.5 : t + 0.5);
        if ((float)((double)n / p10[k]) != f)
            continue;
        while (k > 0 && n % 10 == 0) {
            n /= 10;
            k--;
        }
        if (u_digits((uint64_t)(n < 0 ? -n : n)) > 6)
            return 0;
        return scaled_text(n, k, buf);
    }
    return 0;
}

size_t tds__real_text(float v, char *buf)
{
    if (isnan(v) || isinf(v))
        return tds__float_text((double)v, buf);
    size_t fast = real_text_short_decimal(v, buf);
    if (fast)
        return fast;
    int prec = (v != 0 && fabsf(v) < 1.17549435e-38f) ? 1 : 6; /* FLT_DIG */
    int n = 0;
    tds__locale_save saved = tds__c_numeric_begin();
    for (; prec <= 9; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    tds__c_numeric_end(saved);
    return (size_t)n;
}

static const char hexu[] = "0123456789ABCDEF";

static size_t guid_text(const uint8_t g[16], char *buf)
{
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            buf[o++] = '-';
        buf[o++] = hexu[g[i] >> 4];
        buf[o++] = hexu[g[i] & 15];
    }
    buf[o] = '\0';
    return o;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* 8-4-4-4-12 hex digits, either case, optionally in braces. */
int tds_guid_parse(const char *s, size_t len, uint8_t rfc[16])
{
    if (!s || !rfc)
        return TDS_E_ARG;
    if (len == 38 && s[0] == '{' && s[37] == '}') {
        s++;
        len -= 2;
    }
    if (len != 36)
        return TDS_E_ARG;
    uint8_t g[16];
    size_t i = 0;
    for (int b = 0; b < 16; b++) {
        if (b == 4 || b == 6 || b == 8 || b == 10) {
            if (s[i++] != '-')
                return TDS_E_ARG;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return TDS_E_ARG;
        g[b] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    memcpy(rfc, g, 16);
    return TDS_OK;
}

static int emit(const char *text, size_t n, char *out, size_t cap, size_t *out_len)
{
    *out_len = n;
    if (!out || cap < n + 1)
        return TDS_E_SPACE;
    memcpy(out, text, n + 1);
    return TDS_OK;
}

static int hex_text(const tds_value *v, char *out, size_t cap, size_t *out_len)
{
    if ((uint64_t)v->len * 2 + 3 > (uint64_t)SIZE_MAX)
        return TDS_E_TOOBIG;
    size_t n = 2 + 2 * (size_t)v->len;
    *out_len = n;
    if (!out || cap < n + 1)
        return TDS_E_SPACE;
    out[0] = '0';
    out[1] = 'x';
    for (uint32_t i = 0; i < v->len; i++) {
        out[2 + 2 * i] = hexu[v->ptr[i] >> 4];
        out[3 + 2 * i] = hexu[v->ptr[i] & 15];
    }
    out[n] = '\0';
    return TDS_OK;
}

int tds_value_text(const tds_column *c, const tds_value *v, char *out,
                   size_t cap, size_t *out_len)
{
    return tds_value_text_cv(NULL, c, v, out, cap, out_len);
}

int tds_value_text_cv(tds_conv *cv, const tds_column *c, const tds_value *v, char *out,
                      size_t cap, size_t *out_len)
{
    size_t dummy;
    if (!out_len)
        out_len = &dummy;
    *out_len = 0;
    if (!c || !v)
        return TDS_E_ARG;
    if (v->flags & (TDS_VF_NULL | TDS_VF_STREAMED))
        return TDS_E_TYPE; /* streamed PLP: the bytes went by in chunks */
    if (v->len && !v->ptr)
        return TDS_E_ARG;
    int k = tds__value_kind(c, v->len);
    if (k < 0)
        return k;
    char buf[TDS__SCALAR_TEXT_MAX];
    /* Scalars are formatted straight into out when it has room for the
     * longest (the sinks always give it): no copy through buf. */
    char *dst = out && cap >= TDS__SCALAR_TEXT_MAX ? out : buf;
    size_t n;
    int rc;
    const uint8_t *p = v->ptr;
    switch (k) {
    case TDS_K_CHAR: case TDS_K_NCHAR: case TDS_K_XML: case TDS_K_JSON:
        return tds_value_utf8_cv(cv, c, v, out, cap, out_len);
    case TDS_K_VECTOR:
        return tds__vector_text(c, v, out, cap, out_len);
    case TDS_K_BINARY: case TDS_K_UDT:
        return hex_text(v, out, cap, out_len);
    case TDS_K_VARIANT: {
        tds_column ic;
        tds_value iv;
        rc = tds_value_variant(c, v, &ic, &iv);
        if (rc)
            return rc;
        return tds_value_text_cv(cv, &ic, &iv, out, cap, out_len); /* never a variant again */
    }
    /* The kind fixed the length: read the integer or float here rather
     * than asking tds_value_int/float to work the kind out again. */
    case TDS_K_TINYINT: n = int_text(p[0], dst); break;
    case TDS_K_BIT: n = int_text(p[0] != 0, dst); break;
    case TDS_K_SMALLINT: n = int_text(signed_of(tds_le16(p), 16), dst); break;
    case TDS_K_INT: n = int_text(signed_of(tds_le32(p), 32), dst); break;
    case TDS_K_BIGINT: n = int_text(signed_of(tds_le64(p), 64), dst); break;
    case TDS_K_REAL: {
        uint32_t u = tds_le32(p);
        float f;
        memcpy(&f, &u, 4);
        n = tds__real_text(f, dst);
        break;
    }
    case TDS_K_FLOAT: {
        uint64_t u = tds_le64(p);
        double d;
        memcpy(&d, &u, 8);
        n = tds__float_text(d, dst);
        break;
    }
    case TDS_K_MONEY: case TDS_K_SMALLMONEY: case TDS_K_DECIMAL: {
        tds_decimal d;
        if ((rc = tds_value_decimal(c, v, &d)))
            return rc;
        n = tds__decimal_text(&d, dst);
        break;
    }
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: case TDS_K_DATE: case TDS_K_TIME:
    case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET: {
        tds_datetime dt;
        if ((rc = tds_value_datetime(c, v, &dt)))
            return rc;
        n = tds__datetime_text(&dt, dst);
        break;
    }
    case TDS_K_GUID: {
        uint8_t g[16];
        if ((rc = tds_value_guid(c, v, g)))
            return rc;
        n = guid_text(g, dst);
        break;
    }
    default:
        return TDS_E_TYPE;
    }
    if (dst == out) {
        *out_len = n;
        return TDS_OK;
    }
    return emit(buf, n, out, cap, out_len);
}
