/*
 * test_decimal.c — 128-bit exact decimals (decimal.c) through the wire
 * format: precision 1..38 at full magnitude, signs, zero, scale 0 and 38,
 * rounding on parse and encode, and randomised text→wire→text round trips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"

static tds_column dcol(uint8_t p, uint8_t s)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_DECIMALN, 0, p, s), TDS_OK);
    return c;
}

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *h; h++) {
        int c = (unsigned char)*h, d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else continue;
        if (hi < 0) hi = d;
        else { out[n++] = (uint8_t)(hi << 4 | d); hi = -1; }
    }
    return n;
}

/* text → parse → encode (compare wire if given) → decode → text */
static void round_trip(const char *s, uint8_t p, uint8_t sc, const char *want_text, const char *want_hex)
{
    tds_column c = dcol(p, sc);
    tds_decimal d, back;
    cr_assert_eq(tds_decimal_parse(s, strlen(s), p, sc, &d), TDS_OK, "parse %s (%u,%u)", s, p, sc);
    uint8_t o[17];
    int n = tds_encode_decimal(&c, &d, o, sizeof o);
    cr_assert_eq(n, (int)c.max_len, "encode %s: %d", s, n);
    if (want_hex) {
        uint8_t w[17];
        size_t wn = unhex(want_hex, w);
        cr_assert_eq((size_t)n, wn);
        cr_assert_arr_eq(o, w, wn, "wire of %s", s);
    }
    tds_value v = { o, (uint32_t)n, 0 };
    cr_assert_eq(tds_value_decimal(&c, &v, &back), TDS_OK);
    cr_assert_eq(back.precision, p);
    cr_assert_eq(back.scale, sc);
    cr_assert_eq(back.negative, d.negative);
    cr_assert_arr_eq(back.magnitude, d.magnitude, 16);
    char t[64];
    size_t tl;
    cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_OK);
    cr_assert_str_eq(t, want_text ? want_text : s);
    cr_assert_eq(tl, strlen(t));
}

Test(decimal, known_wire_values)
{
    round_trip("99999999999999999999999999999999999999", 38, 0, NULL,
               "01 FFFFFFFF3F228A097AC4865AA84C3B4B");
    round_trip("-99999999999999999999999999999999999999", 38, 0, NULL,
               "00 FFFFFFFF3F228A097AC4865AA84C3B4B");
    round_trip("123.45", 5, 2, NULL, "01 39300000");
    round_trip("-1.00", 3, 2, NULL, "00 64000000");
    round_trip("0.50", 3, 2, NULL, "01 32000000");
    round_trip("999999999", 9, 0, NULL, "01 FFC99A3B");
    round_trip("9999999999", 10, 0, NULL, "01 FFE30B5402000000");
    round_trip("0.00000000000000000000000000000000000001", 38, 38, NULL,
               "01 01000000000000000000000000000000");
    round_trip("0.99999999999999999999999999999999999999", 38, 38, NULL,
               "01 FFFFFFFF3F228A097AC4865AA84C3B4B");
}

Test(decimal, every_precision_at_max_magnitude)
{
    char s[64], t[64];
    for (uint8_t p = 1; p <= 38; p++) {
        uint8_t scales[3] = { 0, (uint8_t)(p / 2), p };
        for (int k = 0; k < 3; k++) {
            uint8_t sc = scales[k];
            for (int neg = 0; neg < 2; neg++) {
                size_t o = 0;
                if (neg) s[o++] = '-';
                if (sc == p) s[o++] = '0';
                for (uint8_t i = 0; i < p; i++) {
                    if (sc && i == p - sc) s[o++] = '.';
                    s[o++] = '9';
                }
                s[o] = 0;
                round_trip(s, p, sc, NULL, NULL);
                /* one more integer digit does not fit */
                tds_decimal d;
                snprintf(t, sizeof t, "%s1%s", neg ? "-" : "", s + neg);
                if (sc < p)
                    cr_assert_eq(tds_decimal_parse(t, strlen(t), p, sc, &d), TDS_E_ARG, "%s", t);
            }
        }
        /* 10^p in a precision-p column is out of range on encode */
        tds_decimal big;
        char ten[48] = "1";
        for (uint8_t i = 0; i < p; i++) strcat(ten, "0");
        if (p < 38) {
            cr_assert_eq(tds_decimal_parse(ten, strlen(ten), 38, 0, &big), TDS_OK);
        } else { /* 10^38 has 39 digits: build it by hand */
            memset(&big, 0, sizeof big);
            big.precision = 38;
            unhex("00000000 40228A09 7AC4865A A84C3B4B", big.magnitude);
        }
        tds_column c = dcol(p, 0);
        uint8_t o[17];
        cr_assert_eq(tds_encode_decimal(&c, &big, o, sizeof o), TDS_E_RANGE, "p=%u", p);
        cr_assert_eq(c.max_len, p <= 9 ? 5u : p <= 19 ? 9u : p <= 28 ? 13u : 17u);
    }
}

Test(decimal, zero_and_sign)
{
    round_trip("0", 1, 0, NULL, "01 00000000");
    round_trip("0.00", 5, 2, NULL, "01 00000000");
    round_trip("-0.00", 5, 2, "0.00", "01 00000000"); /* no negative zero */
    round_trip("0.0000000000000000000000000000000000000", 38, 37, NULL, NULL);
    /* a negative zero from the wire prints without a sign */
    tds_column c = dcol(5, 2);
    uint8_t b[5] = { 0, 0, 0, 0, 0 };
    tds_value v = { b, 5, 0 };
    char t[32];
    size_t tl;
    cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_OK);
    cr_assert_str_eq(t, "0.00");
    tds_decimal d;
    cr_assert_eq(tds_value_decimal(&c, &v, &d), TDS_OK);
    cr_assert(!d.negative);
}

Test(decimal, parse_forms_and_rounding)
{
    round_trip("+1.5", 3, 2, "1.50", NULL);
    round_trip(".5", 3, 2, "0.50", NULL);
    round_trip("5.", 3, 2, "5.00", NULL);
    round_trip("007.10", 3, 2, "7.10", NULL);
    round_trip("1.235", 4, 2, "1.24", NULL);
    round_trip("-1.235", 4, 2, "-1.24", NULL);
    round_trip("1.2349999", 4, 2, "1.23", NULL);
    round_trip("0.004", 3, 2, "0.00", NULL);
    round_trip("-0.005", 3, 2, "-0.01", NULL);
    const char *bad[] = { "", "-", "+", ".", "1.2.3", "1e5", " 1", "1 ", "--1", "0x10", "1,5", "9.995" };
    tds_decimal d;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(tds_decimal_parse(bad[i], strlen(bad[i]), 3, 2, &d), TDS_E_ARG, "%s", bad[i]);
    cr_assert_eq(tds_decimal_parse("1", 1, 0, 0, &d), TDS_E_ARG);
    cr_assert_eq(tds_decimal_parse("1", 1, 39, 0, &d), TDS_E_ARG);
    cr_assert_eq(tds_decimal_parse("1", 1, 5, 6, &d), TDS_E_ARG);
}

Test(decimal, encode_rescales_to_column)
{
    tds_decimal d;
    uint8_t o[17];
    char t[64];
    size_t tl;
    cr_assert_eq(tds_decimal_parse("12.3456", 7, 10, 4, &d), TDS_OK);
    tds_column c = dcol(10, 2);
    int n = tds_encode_decimal(&c, &d, o, sizeof o);
    cr_assert_eq(n, 9);
    tds_value v = { o, (uint32_t)n, 0 };
    cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_OK);
    cr_assert_str_eq(t, "12.35");
    c = dcol(12, 6);
    n = tds_encode_decimal(&c, &d, o, sizeof o);
    v.len = (uint32_t)n;
    cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_OK);
    cr_assert_str_eq(t, "12.345600");
    c = dcol(5, 4); /* 12.3456 needs 6 digits */
    cr_assert_eq(tds_encode_decimal(&c, &d, o, sizeof o), TDS_E_RANGE);
    c = dcol(10, 2);
    cr_assert_eq(tds_encode_decimal(&c, &d, o, 8), TDS_E_SPACE);
    /* an explicit 17-byte max_len keeps 16 magnitude bytes for small precisions */
    tds_column c17;
    cr_assert_eq(tds_column_init(&c17, TDS_T_NUMERICN, 17, 5, 2), TDS_OK);
    cr_assert_eq(tds_decimal_parse("-1.5", 4, 5, 2, &d), TDS_OK);
    cr_assert_eq(tds_encode_decimal(&c17, &d, o, sizeof o), 17);
    v.len = 17;
    cr_assert_eq(tds_value_text(&c17, &v, t, sizeof t, &tl), TDS_OK);
    cr_assert_str_eq(t, "-1.50");
}

Test(decimal, hostile_wire_values)
{
    tds_column c = dcol(38, 0);
    uint8_t b[17];
    tds_decimal d;
    char t[64];
    size_t tl;
    /* 10^38 needs 39 digits */
    unhex("01 00000000 40228A09 7AC4865A A84C3B4B", b);
    tds_value v = { b, 17, 0 };
    cr_assert_eq(tds_value_decimal(&c, &v, &d), TDS_E_PROTO);
    cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_E_PROTO);
    memset(b, 0xFF, 17);
    b[0] = 1;
    cr_assert_eq(tds_value_decimal(&c, &v, &d), TDS_E_PROTO);
    /* sign byte must be 0 or 1 */
    unhex("02 01000000", b);
    v.len = 5;
    cr_assert_eq(tds_value_decimal(&c, &v, &d), TDS_E_PROTO);
    /* a column whose metadata claims scale > precision */
    tds_column bad = dcol(5, 2);
    bad.scale = 9;
    unhex("01 01000000", b);
    cr_assert_eq(tds_value_decimal(&bad, &v, &d), TDS_E_PROTO);
    /* small buffers report the needed length */
    unhex("00 FFFFFFFF3F228A097AC4865AA84C3B4B", b);
    v.len = 17;
    cr_assert_eq(tds_value_text(&c, &v, t, 39, &tl), TDS_E_SPACE);
    cr_assert_eq(tl, 39);
    cr_assert_eq(tds_value_text(&c, &v, t, 40, &tl), TDS_OK);
    /* as a double */
    double f;
    cr_assert_eq(tds_value_float(&c, &v, &f), TDS_OK);
    cr_assert_eq(f, -1e38);
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(decimal, random_round_trips)
{
    char s[64];
    for (int it = 0; it < 20000; it++) {
        uint8_t p = (uint8_t)(1 + rnd() % 38);
        uint8_t sc = (uint8_t)(rnd() % (p + 1u));
        unsigned ndig = 1 + (unsigned)(rnd() % p); /* significant digits */
        size_t o = 0;
        bool neg = rnd() & 1;
        char dig[40];
        for (unsigned i = 0; i < p; i++)
            dig[i] = i < p - ndig ? '0' : (char)('0' + rnd() % 10);
        /* canonical: strip leading zeros of the integer part, keep one */
        unsigned ip = p - sc, first = 0;
        while (first + 1 < ip && dig[first] == '0')
            first++;
        bool zero = true;
        for (unsigned i = 0; i < p; i++)
            if (dig[i] != '0') zero = false;
        if (neg && !zero)
            s[o++] = '-';
        if (ip == 0)
            s[o++] = '0';
        for (unsigned i = ip ? first : 0; i < p; i++) {
            if (i == ip)
                s[o++] = '.';
            s[o++] = dig[i];
        }
        s[o] = 0;
        round_trip(s, p, sc, NULL, NULL);
    }
}
