/*
 * decimal.c — exact 128-bit decimals: text, parsing, rescaling and the
 * money (scale 4) conversions.
 *
 * Invariants: values never pass through a double. The magnitude is a
 * little-endian 128-bit unsigned integer held here as four 32-bit limbs,
 * so the code is portable C11 (no __int128). A zero value is never
 * negative once it leaves this file. Rounding, where digits are dropped,
 * is half away from zero, as SQL Server rounds decimal conversions.
 */
#include "value_int.h"

typedef struct { uint32_t w[4]; } u128; /* w[0] least significant */

static u128 u128_load(const uint8_t mag[16])
{
    u128 a;
    for (int i = 0; i < 4; i++)
        a.w[i] = tds_le32(mag + 4 * i);
    return a;
}

static void u128_store(const u128 *a, uint8_t mag[16])
{
    for (int i = 0; i < 4; i++)
        tds_wle32(mag + 4 * i, a->w[i]);
}

/* a = a * m + add; returns false on overflow past 128 bits. */
static bool u128_muladd(u128 *a, uint32_t m, uint32_t add)
{
    uint64_t carry = add;
    for (int i = 0; i < 4; i++) {
        uint64_t t = (uint64_t)a->w[i] * m + carry;
        a->w[i] = (uint32_t)t;
        carry = t >> 32;
    }
    return carry == 0;
}

/* a = a / d; returns the remainder. */
static uint32_t u128_divmod(u128 *a, uint32_t d)
{
    uint64_t r = 0;
    for (int i = 3; i >= 0; i--) {
        uint64_t t = (r << 32) | a->w[i];
        a->w[i] = (uint32_t)(t / d);
        r = t % d;
    }
    return (uint32_t)r;
}

static bool u128_is_zero(const u128 *a)
{
    return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

static int u128_cmp(const u128 *a, const u128 *b)
{
    for (int i = 3; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

static u128 u128_pow10(unsigned n) /* n <= 38 */
{
    u128 p = { { 1, 0, 0, 0 } };
    for (unsigned i = 0; i < n; i++)
        u128_muladd(&p, 10, 0);
    return p;
}

bool tds__decimal_is_zero(const uint8_t mag[16])
{
    u128 a = u128_load(mag);
    return u128_is_zero(&a);
}

bool tds__decimal_fits(const uint8_t mag[16], unsigned digits)
{
    if (digits > 38)
        digits = 38;
    u128 a = u128_load(mag), p = u128_pow10(digits);
    return u128_cmp(&a, &p) < 0;
}

size_t tds__decimal_text(const tds_decimal *d, char *buf)
{
    /* Digits least significant first, nine at a time. */
    char rev[48];
    size_t n = 0;
    u128 a = u128_load(d->magnitude);
    do {
        uint32_t r = u128_divmod(&a, 1000000000u);
        for (int i = 0; i < 9; i++) {
            rev[n++] = (char)('0' + r % 10);
            r /= 10;
        }
    } while (!u128_is_zero(&a));
    while (n > 1 && rev[n - 1] == '0')
        n--;
    unsigned scale = d->scale > 38 ? 38 : d->scale;
    while (n < (size_t)scale + 1) /* at least one digit before the point */
        rev[n++] = '0';
    size_t o = 0;
    if (d->negative && !tds__decimal_is_zero(d->magnitude))
        buf[o++] = '-';
    for (size_t i = n; i-- > 0;) {
        buf[o++] = rev[i];
        if (i == scale && scale > 0)
            buf[o++] = '.';
    }
    buf[o] = '\0';
    return o;
}

void tds__decimal_from_money(int64_t units, uint8_t precision, tds_decimal *out)
{
    memset(out, 0, sizeof *out);
    out->precision = precision;
    out->scale = 4;
    out->negative = units < 0;
    uint64_t m = units < 0 ? (uint64_t)0 - (uint64_t)units : (uint64_t)units;
    tds_wle64(out->magnitude, m);
}

/* Rescale magnitude a from scale `from` to `to`; false on overflow. */
static bool rescale(u128 *a, unsigned from, unsigned to)
{
    for (; from < to; from++)
        if (!u128_muladd(a, 10, 0))
            return false;
    if (from > to) {
        uint32_t last = 0;
        for (; from > to; from--)
            last = u128_divmod(a, 10);
        if (last >= 5 && !u128_muladd(a, 1, 1))
            return false;
    }
    return true;
}

int tds__decimal_rescale(const tds_decimal *d, uint8_t precision, uint8_t scale, tds_decimal *out)
{
    if (precision < 1 || precision > 38 || scale > precision || d->scale > 38)
        return TDS_E_RANGE;
    u128 a = u128_load(d->magnitude);
    if (!rescale(&a, d->scale, scale))
        return TDS_E_RANGE;
    u128 p = u128_pow10(precision);
    if (u128_cmp(&a, &p) >= 0)
        return TDS_E_RANGE;
    tds_decimal r;
    memset(&r, 0, sizeof r);
    r.precision = precision;
    r.scale = scale;
    r.negative = d->negative && !u128_is_zero(&a);
    u128_store(&a, r.magnitude);
    *out = r;
    return TDS_OK;
}

int tds__decimal_to_money(const tds_decimal *d, int64_t *units)
{
    if (d->scale > 38)
        return TDS_E_RANGE;
    u128 a = u128_load(d->magnitude);
    if (!rescale(&a, d->scale, 4) || a.w[2] || a.w[3])
        return TDS_E_RANGE;
    uint64_t m = (uint64_t)a.w[0] | ((uint64_t)a.w[1] << 32);
    if (d->negative) {
        if (m > (uint64_t)INT64_MAX + 1)
            return TDS_E_RANGE;
        *units = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > (uint64_t)INT64_MAX)
            return TDS_E_RANGE;
        *units = (int64_t)m;
    }
    return TDS_OK;
}

/* Accepts [+-]digits[.digits] (".5" and "5." too). More fraction digits
 * than `scale` are rounded half away from zero; more integer digits than
 * precision - scale allow are an error. */
int tds_decimal_parse(const char *s, size_t len, uint8_t precision, uint8_t scale, tds_decimal *out)
{
    if (!s || !out || precision < 1 || precision > 38 || scale > precision)
        return TDS_E_ARG;
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    u128 a = { { 0, 0, 0, 0 } };
    unsigned int_digits = 0, frac_digits = 0, seen = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        seen++;
        if (int_digits || s[i] != '0') {
            if (++int_digits > (unsigned)(precision - scale))
                return TDS_E_ARG; /* also keeps the total within 38 digits */
            u128_muladd(&a, 10, (uint32_t)(s[i] - '0'));
        }
        i++;
    }
    bool round_up = false;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            seen++;
            if (frac_digits < scale)
                u128_muladd(&a, 10, (uint32_t)(s[i] - '0'));
            else if (frac_digits == scale)
                round_up = s[i] >= '5';
            frac_digits++;
            i++;
        }
    }
    if (i != len || seen == 0)
        return TDS_E_ARG;
    for (unsigned f = frac_digits; f < scale; f++)
        u128_muladd(&a, 10, 0);
    if (round_up)
        u128_muladd(&a, 1, 1);
    u128 p = u128_pow10(precision);
    if (u128_cmp(&a, &p) >= 0)
        return TDS_E_ARG;
    memset(out, 0, sizeof *out);
    out->precision = precision;
    out->scale = scale;
    out->negative = neg && !u128_is_zero(&a);
    u128_store(&a, out->magnitude);
    return TDS_OK;
}
