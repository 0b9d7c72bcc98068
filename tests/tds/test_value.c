/*
 * test_value.c — typed accessors (value.c), encoders (value_encode.c) and
 * column building (column.c): every integer type at its limits, money,
 * float specials, GUID byte order, sql_variant, and the length checks that
 * stand between attacker-controlled bytes and the readers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"

static tds_column col(uint8_t type, uint32_t len, uint8_t prec, uint8_t scale)
{
    tds_column c;
    int rc = tds_column_init(&c, type, len, prec, scale);
    cr_assert_eq(rc, TDS_OK, "column_init(0x%02X, %u, %u, %u) = %d", type, len, prec, scale, rc);
    return c;
}

static tds_value view(const uint8_t *p, uint32_t n)
{
    tds_value v = { p, n, 0 };
    return v;
}

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    int hi = -1;
    for (; *h; h++) {
        int c = (unsigned char)*h, d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else continue;
        if (hi < 0) hi = d;
        else { out[n++] = (uint8_t)(hi << 4 | d); hi = -1; }
    }
    return n;
}

static const char *text_of(const tds_column *c, const uint8_t *p, uint32_t n)
{
    static char buf[256];
    size_t len;
    tds_value v = view(p, n);
    int rc = tds_value_text(c, &v, buf, sizeof buf, &len);
    cr_assert_eq(rc, TDS_OK, "text rc %d", rc);
    cr_assert_eq(strlen(buf), len);
    return buf;
}

static int64_t get_int(const tds_column *c, const char *hex)
{
    uint8_t b[16];
    size_t n = unhex(hex, b);
    tds_value v = view(b, (uint32_t)n);
    int64_t i = 0;
    int rc = tds_value_int(c, &v, &i);
    cr_assert_eq(rc, TDS_OK, "int rc %d for %s", rc, hex);
    return i;
}

/* encode then compare with the expected wire hex */
static void expect_enc_int(const tds_column *c, int64_t v, const char *hex)
{
    uint8_t want[16], got[16];
    size_t n = unhex(hex, want);
    int rc = tds_encode_int(c, v, got, sizeof got);
    cr_assert_eq(rc, (int)n, "encode %lld: rc %d want %zu", (long long)v, rc, n);
    cr_assert_arr_eq(got, want, n);
}

/* ------------------------------------------------------------- integers */

Test(value_int, limits_of_every_type)
{
    tds_column c = col(TDS_T_INT1, 0, 0, 0);
    cr_assert_eq(get_int(&c, "00"), 0);
    cr_assert_eq(get_int(&c, "FF"), 255); /* tinyint is unsigned */
    c = col(TDS_T_INT2, 0, 0, 0);
    cr_assert_eq(get_int(&c, "0080"), INT16_MIN);
    cr_assert_eq(get_int(&c, "FF7F"), INT16_MAX);
    cr_assert_eq(get_int(&c, "FFFF"), -1);
    c = col(TDS_T_INT4, 0, 0, 0);
    cr_assert_eq(get_int(&c, "00000080"), INT32_MIN);
    cr_assert_eq(get_int(&c, "FFFFFF7F"), INT32_MAX);
    cr_assert_eq(get_int(&c, "01020304"), 0x04030201);
    c = col(TDS_T_INT8, 0, 0, 0);
    cr_assert_eq(get_int(&c, "0000000000000080"), INT64_MIN);
    cr_assert_eq(get_int(&c, "FFFFFFFFFFFFFF7F"), INT64_MAX);
    c = col(TDS_T_BIT, 0, 0, 0);
    cr_assert_eq(get_int(&c, "00"), 0);
    cr_assert_eq(get_int(&c, "01"), 1);
}

Test(value_int, intn_is_read_by_value_length)
{
    tds_column c = col(TDS_T_INTN, 8, 0, 0);
    cr_assert_eq(c.kind, TDS_K_BIGINT);
    cr_assert_eq(get_int(&c, "FF"), 255);
    cr_assert_eq(get_int(&c, "FEFF"), -2);
    cr_assert_eq(get_int(&c, "00000080"), INT32_MIN);
    cr_assert_eq(get_int(&c, "0000000000000080"), INT64_MIN);
    uint8_t b[3] = { 1, 2, 3 };
    tds_value v = view(b, 3);
    int64_t i;
    cr_assert_eq(tds_value_int(&c, &v, &i), TDS_E_PROTO);
    c = col(TDS_T_BITN, 1, 0, 0);
    cr_assert_eq(get_int(&c, "01"), 1);
}

Test(value_int, encode_limits_and_range)
{
    tds_column c = col(TDS_T_INT1, 0, 0, 0);
    expect_enc_int(&c, 0, "00");
    expect_enc_int(&c, 255, "FF");
    uint8_t o[16];
    cr_assert_eq(tds_encode_int(&c, -1, o, 16), TDS_E_RANGE);
    cr_assert_eq(tds_encode_int(&c, 256, o, 16), TDS_E_RANGE);
    c = col(TDS_T_INT2, 0, 0, 0);
    expect_enc_int(&c, INT16_MIN, "0080");
    expect_enc_int(&c, INT16_MAX, "FF7F");
    cr_assert_eq(tds_encode_int(&c, 32768, o, 16), TDS_E_RANGE);
    c = col(TDS_T_INTN, 4, 0, 0);
    expect_enc_int(&c, INT32_MIN, "00000080");
    expect_enc_int(&c, INT32_MAX, "FFFFFF7F");
    expect_enc_int(&c, 1, "01000000");
    cr_assert_eq(tds_encode_int(&c, (int64_t)INT32_MAX + 1, o, 16), TDS_E_RANGE);
    cr_assert_eq(tds_encode_int(&c, (int64_t)INT32_MIN - 1, o, 16), TDS_E_RANGE);
    cr_assert_eq(tds_encode_int(&c, 1, o, 3), TDS_E_SPACE);
    c = col(TDS_T_INT8, 0, 0, 0);
    expect_enc_int(&c, INT64_MIN, "0000000000000080");
    expect_enc_int(&c, INT64_MAX, "FFFFFFFFFFFFFF7F");
    c = col(TDS_T_BITN, 1, 0, 0);
    expect_enc_int(&c, 1, "01");
    cr_assert_eq(tds_encode_int(&c, 2, o, 16), TDS_E_RANGE);
    /* into money and decimal columns */
    c = col(TDS_T_MONEYN, 8, 0, 0);
    expect_enc_int(&c, 1, "00000000 10270000");
    c = col(TDS_T_DECIMALN, 0, 5, 2);
    expect_enc_int(&c, -12, "00 B0040000");
    cr_assert_eq(tds_encode_int(&c, 1000, o, 16), TDS_E_RANGE);
    c = col(TDS_T_FLT4, 0, 0, 0);
    cr_assert_eq(tds_encode_int(&c, 1, o, 16), 4);
    c = col(TDS_T_GUID, 0, 0, 0);
    cr_assert_eq(tds_encode_int(&c, 1, o, 16), TDS_E_TYPE);
}

Test(value_int, wrong_kind_null_and_lengths)
{
    uint8_t b[32] = { 0 };
    tds_value v = view(b, 4);
    int64_t i;
    double d;
    tds_decimal dec;
    tds_datetime dt;
    uint8_t g[16];
    tds_column f = col(TDS_T_FLT4, 0, 0, 0);
    cr_assert_eq(tds_value_int(&f, &v, &i), TDS_E_TYPE);
    tds_column c = col(TDS_T_INT4, 0, 0, 0);
    cr_assert_eq(tds_value_guid(&c, &v, g), TDS_E_TYPE);
    cr_assert_eq(tds_value_datetime(&c, &v, &dt), TDS_E_TYPE);
    cr_assert_eq(tds_value_decimal(&c, &v, &dec), TDS_E_TYPE);
    tds_value null = { NULL, 0, TDS_VF_NULL };
    cr_assert_eq(tds_value_int(&c, &null, &i), TDS_E_TYPE);
    char t[8];
    size_t tl;
    cr_assert_eq(tds_value_text(&c, &null, t, sizeof t, &tl), TDS_E_TYPE);
    /* impossible lengths are protocol errors, never reads */
    struct { uint8_t type; uint32_t maxlen; uint8_t p, s; uint32_t len; } bad[] = {
        { TDS_T_INT4, 0, 0, 0, 3 }, { TDS_T_INT4, 0, 0, 0, 5 }, { TDS_T_INT1, 0, 0, 0, 0 },
        { TDS_T_INT8, 0, 0, 0, 4 }, { TDS_T_INTN, 4, 0, 0, 3 }, { TDS_T_INTN, 4, 0, 0, 16 },
        { TDS_T_FLTN, 8, 0, 0, 2 }, { TDS_T_MONEYN, 8, 0, 0, 6 }, { TDS_T_DATETIMN, 8, 0, 0, 5 },
        { TDS_T_DECIMALN, 5, 9, 0, 6 }, { TDS_T_DECIMALN, 17, 38, 0, 18 }, { TDS_T_DECIMALN, 17, 38, 0, 1 },
        { TDS_T_DATEN, 3, 0, 0, 4 }, { TDS_T_TIMEN, 5, 0, 7, 4 }, { TDS_T_TIMEN, 3, 0, 0, 5 },
        { TDS_T_DATETIME2N, 8, 0, 7, 7 }, { TDS_T_DATETIMEOFFSETN, 10, 0, 7, 8 }, { TDS_T_GUID, 16, 0, 0, 15 },
        { TDS_T_NVARCHAR, 100, 0, 0, 3 }, { TDS_T_VARIANT, 0, 0, 0, 1 }, { TDS_T_BIT, 0, 0, 0, 2 },
        { TDS_T_DATETIME, 0, 0, 0, 4 }, { TDS_T_DATETIM4, 0, 0, 0, 8 }, { TDS_T_MONEY4, 0, 0, 0, 8 },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        tds_column bc = col(bad[k].type, bad[k].maxlen, bad[k].p, bad[k].s);
        tds_value bv = view(b, bad[k].len);
        cr_assert_eq(tds_value_text(&bc, &bv, t, sizeof t, &tl), TDS_E_PROTO, "case %zu", k);
        cr_assert_eq(tds_value_int(&bc, &bv, &i), TDS_E_PROTO, "case %zu", k);
        cr_assert_eq(tds_value_float(&bc, &bv, &d), TDS_E_PROTO, "case %zu", k);
        cr_assert_eq(tds_value_datetime(&bc, &bv, &dt), TDS_E_PROTO, "case %zu", k);
    }
}

/* ----------------------------------------------------------------- money */

static void expect_money(uint8_t type, uint32_t len, const char *hex, bool neg, uint64_t mag)
{
    tds_column c = col(type, len, 0, 0);
    uint8_t b[16];
    size_t n = unhex(hex, b);
    tds_value v = view(b, (uint32_t)n);
    tds_decimal d;
    cr_assert_eq(tds_value_decimal(&c, &v, &d), TDS_OK);
    cr_assert_eq(d.scale, 4);
    cr_assert_eq(d.negative, neg);
    uint64_t m = 0;
    for (int i = 7; i >= 0; i--)
        m = m << 8 | d.magnitude[i];
    cr_assert_eq(m, mag);
    for (int i = 8; i < 16; i++)
        cr_assert_eq(d.magnitude[i], 0);
    /* and back */
    uint8_t o[16];
    cr_assert_eq(tds_encode_decimal(&c, &d, o, sizeof o), (int)n);
    cr_assert_arr_eq(o, b, n);
}

Test(value_money, limits_and_halves_order)
{
    /* money is the high 32 bits first, then the low 32 */
    expect_money(TDS_T_MONEY, 0, "FFFFFF7F FFFFFFFF", false, 0x7FFFFFFFFFFFFFFFull);
    expect_money(TDS_T_MONEY, 0, "00000080 00000000", true, 0x8000000000000000ull);
    expect_money(TDS_T_MONEY, 0, "00000000 10270000", false, 10000);
    expect_money(TDS_T_MONEY, 0, "01000000 00000000", false, 1ull << 32);
    expect_money(TDS_T_MONEYN, 8, "FFFFFFFF FFFFFFFF", true, 1);
    expect_money(TDS_T_MONEY4, 0, "FFFFFF7F", false, 2147483647);
    expect_money(TDS_T_MONEY4, 0, "00000080", true, 2147483648u);
    expect_money(TDS_T_MONEYN, 4, "FFFFFFFF", true, 1);
    tds_column c = col(TDS_T_MONEY, 0, 0, 0);
    cr_assert_str_eq(text_of(&c, (const uint8_t *)"\xFF\xFF\xFF\x7F\xFF\xFF\xFF\xFF", 8), "922337203685477.5807");
    cr_assert_str_eq(text_of(&c, (const uint8_t *)"\x00\x00\x00\x80\x00\x00\x00\x00", 8), "-922337203685477.5808");
    double d;
    uint8_t b[8];
    unhex("00000000 10270000", b);
    tds_value v = view(b, 8);
    cr_assert_eq(tds_value_float(&c, &v, &d), TDS_OK);
    cr_assert_eq(d, 1.0);
}

Test(value_money, encode_range)
{
    tds_column c = col(TDS_T_MONEY4, 0, 0, 0);
    tds_decimal d;
    uint8_t o[16];
    cr_assert_eq(tds_decimal_parse("214748.3648", 11, 38, 4, &d), TDS_OK);
    cr_assert_eq(tds_encode_decimal(&c, &d, o, sizeof o), TDS_E_RANGE);
    cr_assert_eq(tds_decimal_parse("-214748.3648", 12, 38, 4, &d), TDS_OK);
    cr_assert_eq(tds_encode_decimal(&c, &d, o, sizeof o), 4);
    cr_assert_arr_eq(o, "\x00\x00\x00\x80", 4);
    c = col(TDS_T_MONEY, 0, 0, 0);
    cr_assert_eq(tds_decimal_parse("922337203685477.5808", 20, 38, 4, &d), TDS_OK);
    cr_assert_eq(tds_encode_decimal(&c, &d, o, sizeof o), TDS_E_RANGE);
    cr_assert_eq(tds_decimal_parse("-922337203685477.5808", 21, 38, 4, &d), TDS_OK);
    cr_assert_eq(tds_encode_decimal(&c, &d, o, sizeof o), 8);
    /* more decimals than money keeps are rounded half away from zero */
    cr_assert_eq(tds_decimal_parse("-0.00005", 8, 38, 5, &d), TDS_OK);
    cr_assert_eq(tds_encode_decimal(&c, &d, o, sizeof o), 8);
    cr_assert_str_eq(text_of(&c, o, 8), "-0.0001");
    cr_assert_eq(tds_encode_decimal(&c, &d, o, 7), TDS_E_SPACE);
}

/* ----------------------------------------------------------------- float */

static uint64_t bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

Test(value_float, wire_bytes_and_specials)
{
    tds_column c8 = col(TDS_T_FLT8, 0, 0, 0), c4 = col(TDS_T_FLT4, 0, 0, 0);
    uint8_t o[8];
    cr_assert_eq(tds_encode_float(&c8, 1.5, o, 8), 8);
    cr_assert_arr_eq(o, "\x00\x00\x00\x00\x00\x00\xF8\x3F", 8);
    cr_assert_eq(tds_encode_float(&c4, 1.5, o, 8), 4);
    cr_assert_arr_eq(o, "\x00\x00\xC0\x3F", 4);
    double vals[] = { 0.0, -0.0, 1e308, -1e308, 4.9406564584124654e-324, 2.2250738585072014e-308,
                      0.1, 1.7976931348623157e308, -123.456 };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        cr_assert_eq(tds_encode_float(&c8, vals[i], o, 8), 8);
        tds_value v = view(o, 8);
        double d;
        cr_assert_eq(tds_value_float(&c8, &v, &d), TDS_OK);
        cr_assert_eq(bits(d), bits(vals[i]), "value %zu", i);
    }
    /* NaN and infinities: SQL Server refuses them, so do the encoders */
    cr_assert_eq(tds_encode_float(&c8, NAN, o, 8), TDS_E_RANGE);
    cr_assert_eq(tds_encode_float(&c8, INFINITY, o, 8), TDS_E_RANGE);
    cr_assert_eq(tds_encode_float(&c4, -INFINITY, o, 8), TDS_E_RANGE);
    cr_assert_eq(tds_encode_float(&c4, 1e39, o, 8), TDS_E_RANGE);
    cr_assert_eq(tds_encode_float(&c4, 3.4028234663852886e38, o, 8), 4);
    cr_assert_eq(tds_encode_float(&c8, 1.0, o, 7), TDS_E_SPACE);
    /* …but a NaN from the wire still decodes */
    tds_value v = view((const uint8_t *)"\x00\x00\x00\x00\x00\x00\xF8\x7F", 8);
    double d;
    cr_assert_eq(tds_value_float(&c8, &v, &d), TDS_OK);
    cr_assert(isnan(d));
    tds_column n = col(TDS_T_FLTN, 8, 0, 0);
    cr_assert_eq(n.kind, TDS_K_FLOAT);
    v = view((const uint8_t *)"\x00\x00\xC0\x3F", 4); /* FLTN(8) column, 4-byte value */
    cr_assert_eq(tds_value_float(&n, &v, &d), TDS_OK);
    cr_assert_eq(d, 1.5);
}

/* ------------------------------------------------------------------ guid */

Test(value_guid, sql_server_byte_order)
{
    tds_column c = col(TDS_T_GUID, 16, 0, 0);
    uint8_t wire[16], rfc[16], want[16], o[16];
    unhex("FF19966F868B11D0B42D00C04FC964FF", wire);
    unhex("6F9619FF8B86D011B42D00C04FC964FF", want);
    tds_value v = view(wire, 16);
    cr_assert_eq(tds_value_guid(&c, &v, rfc), TDS_OK);
    cr_assert_arr_eq(rfc, want, 16);
    cr_assert_str_eq(text_of(&c, wire, 16), "6F9619FF-8B86-D011-B42D-00C04FC964FF");
    cr_assert_eq(tds_encode_guid(&c, rfc, o, 16), 16);
    cr_assert_arr_eq(o, wire, 16);
    cr_assert_eq(tds_encode_guid(&c, rfc, o, 15), TDS_E_SPACE);
    uint8_t p[16];
    cr_assert_eq(tds_guid_parse("6f9619ff-8b86-d011-b42d-00c04fc964ff", 36, p), TDS_OK);
    cr_assert_arr_eq(p, want, 16);
    cr_assert_eq(tds_guid_parse("{6F9619FF-8B86-D011-B42D-00C04FC964FF}", 38, p), TDS_OK);
    cr_assert_eq(tds_guid_parse("6F9619FF-8B86-D011-B42D-00C04FC964F", 35, p), TDS_E_ARG);
    cr_assert_eq(tds_guid_parse("6F9619FF+8B86-D011-B42D-00C04FC964FF", 36, p), TDS_E_ARG);
    cr_assert_eq(tds_guid_parse("6F9619FF-8B86-D011-B42D-00C04FC964FG", 36, p), TDS_E_ARG);
}

/* --------------------------------------------------------------- variant */

static void variant(const char *hex, tds_column *ic, tds_value *iv, uint8_t *buf)
{
    tds_column c = col(TDS_T_VARIANT, 8016, 0, 0);
    size_t n = unhex(hex, buf);
    tds_value v = view(buf, (uint32_t)n);
    int rc = tds_value_variant(&c, &v, ic, iv);
    cr_assert_eq(rc, TDS_OK, "variant %s: %d", hex, rc);
}

static const char *variant_text(const char *hex)
{
    static uint8_t buf[256];
    static char out[256];
    tds_column c = col(TDS_T_VARIANT, 8016, 0, 0);
    size_t n = unhex(hex, buf), len;
    tds_value v = view(buf, (uint32_t)n);
    int rc = tds_value_text(&c, &v, out, sizeof out, &len);
    cr_assert_eq(rc, TDS_OK, "variant text %s: %d", hex, rc);
    return out;
}

Test(value_variant, int_decimal_nvarchar_datetime2)
{
    uint8_t buf[256];
    tds_column ic;
    tds_value iv;
    int64_t i;
    variant("38 00 2A000000", &ic, &iv, buf);
    cr_assert_eq(ic.type, TDS_T_INT4);
    cr_assert_eq(ic.kind, TDS_K_INT);
    cr_assert_eq(tds_value_int(&ic, &iv, &i), TDS_OK);
    cr_assert_eq(i, 42);
    cr_assert_str_eq(variant_text("38 00 D6FFFFFF"), "-42");

    /* decimal(8,2) 46279.10 = 4627910 = 0x469DC6 */
    variant("6A 02 08 02 01 C69D4600", &ic, &iv, buf);
    cr_assert_eq(ic.kind, TDS_K_DECIMAL);
    cr_assert_eq(ic.precision, 8);
    cr_assert_eq(ic.scale, 2);
    cr_assert_str_eq(variant_text("6A 02 08 02 01 C69D4600"), "46279.10");
    cr_assert_str_eq(variant_text("6C 02 08 02 00 C69D4600"), "-46279.10");

    /* nvarchar: collation(5) + max length(2), then UTF-16LE */
    variant("E7 07 0904D00034 1400 480069002100", &ic, &iv, buf);
    cr_assert_eq(ic.kind, TDS_K_NCHAR);
    cr_assert_eq(ic.max_len, 20);
    cr_assert_arr_eq(ic.collation.raw, "\x09\x04\xD0\x00\x34", 5);
    cr_assert_eq(iv.len, 6);
    cr_assert_str_eq(variant_text("E7 07 0904D00034 1400 480069002100"), "Hi!");

    /* datetime2(7): scale property, then 5-byte time + 3-byte date */
    variant("2A 01 07 0000000000 233F0B", &ic, &iv, buf);
    cr_assert_eq(ic.kind, TDS_K_DATETIME2);
    cr_assert_eq(ic.scale, 7);
    tds_datetime dt;
    cr_assert_eq(tds_value_datetime(&ic, &iv, &dt), TDS_OK);
    cr_assert_str_eq(variant_text("2A 01 07 0000000000 233F0B"), "2019-01-01 00:00:00.0000000");
    cr_assert_str_eq(variant_text("2A 01 00 000000 233F0B"), "2019-01-01 00:00:00");
    cr_assert_str_eq(variant_text("A5 02 0800 DEADBEEF"), "0xDEADBEEF");
    cr_assert_str_eq(variant_text("24 00 FF19966F868B11D0B42D00C04FC964FF"), "6F9619FF-8B86-D011-B42D-00C04FC964FF");
}

Test(value_variant, malformed)
{
    const char *bad[] = {
        "38",                       /* shorter than base type + prop length */
        "38 01 00 2A000000",        /* int carries no properties */
        "38 00 2A0000",             /* int of 3 bytes */
        "6A 01 08 01C69D4600",      /* decimal needs precision and scale */
        "6A 02 27 00 01 01000000",  /* precision 39 */
        "6A 02 08 09 01 01000000",  /* scale > precision */
        "E7 05 0904D00034 4100",    /* nvarchar needs 7 property bytes */
        "E7 07 0904D00034 1400 41", /* odd UTF-16 */
        "A5 02 FFFF 00",            /* (max) cannot be in a variant */
        "62 00 00",                 /* variant in a variant */
        "23 00 41",                 /* text in a variant */
        "2A 01 08 0000000000 233F0B", /* scale 8 */
        "2A 01 07 000000 233F0B",   /* datetime2(7) with a 3-byte time */
        "38 09 2A000000",           /* property length past the end */
    };
    tds_column c = col(TDS_T_VARIANT, 8016, 0, 0), ic;
    tds_value iv;
    uint8_t buf[64];
    char t[64];
    size_t tl;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        size_t n = unhex(bad[k], buf);
        tds_value v = view(buf, (uint32_t)n);
        cr_assert_eq(tds_value_variant(&c, &v, &ic, &iv), TDS_E_PROTO, "case %zu", k);
        cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_E_PROTO, "case %zu", k);
    }
    tds_column i4 = col(TDS_T_INT4, 0, 0, 0);
    tds_value v = view(buf, 4);
    cr_assert_eq(tds_value_variant(&i4, &v, &ic, &iv), TDS_E_TYPE);
}

/* ---------------------------------------------------------------- column */

Test(column, init_kinds_lengths_plp_collation)
{
    struct { uint8_t type; uint32_t len; uint8_t p, s; uint8_t kind; uint32_t max_len; bool plp; } t[] = {
        { TDS_T_INT1, 0, 0, 0, TDS_K_TINYINT, 1, false },
        { TDS_T_INT2, 0, 0, 0, TDS_K_SMALLINT, 2, false },
        { TDS_T_INT4, 0, 0, 0, TDS_K_INT, 4, false },
        { TDS_T_INT8, 0, 0, 0, TDS_K_BIGINT, 8, false },
        { TDS_T_INTN, 1, 0, 0, TDS_K_TINYINT, 1, false },
        { TDS_T_INTN, 2, 0, 0, TDS_K_SMALLINT, 2, false },
        { TDS_T_INTN, 4, 0, 0, TDS_K_INT, 4, false },
        { TDS_T_INTN, 8, 0, 0, TDS_K_BIGINT, 8, false },
        { TDS_T_BIT, 0, 0, 0, TDS_K_BIT, 1, false },
        { TDS_T_BITN, 1, 0, 0, TDS_K_BIT, 1, false },
        { TDS_T_FLT4, 0, 0, 0, TDS_K_REAL, 4, false },
        { TDS_T_FLT8, 0, 0, 0, TDS_K_FLOAT, 8, false },
        { TDS_T_FLTN, 4, 0, 0, TDS_K_REAL, 4, false },
        { TDS_T_MONEY, 0, 0, 0, TDS_K_MONEY, 8, false },
        { TDS_T_MONEY4, 0, 0, 0, TDS_K_SMALLMONEY, 4, false },
        { TDS_T_MONEYN, 4, 0, 0, TDS_K_SMALLMONEY, 4, false },
        { TDS_T_DATETIME, 0, 0, 0, TDS_K_DATETIME, 8, false },
        { TDS_T_DATETIM4, 0, 0, 0, TDS_K_SMALLDATETIME, 4, false },
        { TDS_T_DATETIMN, 8, 0, 0, TDS_K_DATETIME, 8, false },
        { TDS_T_DECIMALN, 0, 9, 2, TDS_K_DECIMAL, 5, false },
        { TDS_T_DECIMALN, 0, 10, 2, TDS_K_DECIMAL, 9, false },
        { TDS_T_NUMERICN, 0, 28, 2, TDS_K_DECIMAL, 13, false },
        { TDS_T_NUMERICN, 0, 38, 38, TDS_K_DECIMAL, 17, false },
        { TDS_T_DECIMALN, 17, 5, 0, TDS_K_DECIMAL, 17, false },
        { TDS_T_DATEN, 0, 0, 0, TDS_K_DATE, 3, false },
        { TDS_T_TIMEN, 0, 0, 0, TDS_K_TIME, 3, false },
        { TDS_T_TIMEN, 0, 0, 4, TDS_K_TIME, 4, false },
        { TDS_T_TIMEN, 0, 0, 7, TDS_K_TIME, 5, false },
        { TDS_T_DATETIME2N, 0, 0, 7, TDS_K_DATETIME2, 8, false },
        { TDS_T_DATETIMEOFFSETN, 0, 0, 2, TDS_K_DATETIMEOFFSET, 8, false },
        { TDS_T_GUID, 16, 0, 0, TDS_K_GUID, 16, false },
        { TDS_T_BIGVARCHR, 8000, 0, 0, TDS_K_CHAR, 8000, false },
        { TDS_T_BIGVARCHR, 0xFFFF, 0, 0, TDS_K_CHAR, 0xFFFF, true },
        { TDS_T_NVARCHAR, 0xFFFF, 0, 0, TDS_K_NCHAR, 0xFFFF, true },
        { TDS_T_NCHAR, 20, 0, 0, TDS_K_NCHAR, 20, false },
        { TDS_T_BIGVARBIN, 0xFFFF, 0, 0, TDS_K_BINARY, 0xFFFF, true },
        { TDS_T_BIGBINARY, 16, 0, 0, TDS_K_BINARY, 16, false },
        { TDS_T_IMAGE, 0x7FFFFFFF, 0, 0, TDS_K_BINARY, 0x7FFFFFFF, false },
        { TDS_T_TEXT, 0x7FFFFFFF, 0, 0, TDS_K_CHAR, 0x7FFFFFFF, false },
        { TDS_T_NTEXT, 0x7FFFFFFE, 0, 0, TDS_K_NCHAR, 0x7FFFFFFE, false },
        { TDS_T_XML, 0, 0, 0, TDS_K_XML, 0xFFFF, true },
        { TDS_T_UDT, 0, 0, 0, TDS_K_UDT, 0xFFFF, true },
        { TDS_T_VARIANT, 0, 0, 0, TDS_K_VARIANT, 8016, false },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        tds_column c = col(t[i].type, t[i].len, t[i].p, t[i].s);
        cr_assert_eq(c.type, t[i].type, "case %zu", i);
        cr_assert_eq(c.kind, t[i].kind, "case %zu", i);
        cr_assert_eq(c.max_len, t[i].max_len, "case %zu: %u", i, c.max_len);
        cr_assert_eq(c.is_plp, t[i].plp, "case %zu", i);
    }
    tds_column c = col(TDS_T_NVARCHAR, 200, 0, 0);
    cr_assert_arr_eq(c.collation.raw, "\x09\x04\xD0\x00\x34", 5);
    cr_assert_eq(c.collation.codepage, 1252);
    cr_assert_eq(c.collation.lcid, 0x409);
    cr_assert_eq(c.collation.sort_id, 52);
    c = col(TDS_T_MONEY, 0, 0, 0);
    cr_assert_eq(c.scale, 4);
    c = col(TDS_T_DECIMALN, 0, 18, 4);
    cr_assert_eq(c.precision, 18);
    cr_assert_eq(c.scale, 4);
}

Test(column, init_rejects_bad_arguments)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_DECIMALN, 0, 0, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_DECIMALN, 0, 39, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_DECIMALN, 0, 5, 6), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_DECIMALN, 18, 5, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_DECIMALN, 1, 5, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_TIMEN, 0, 0, 8), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_DATETIME2N, 0, 0, 8), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_INTN, 3, 0, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_FLTN, 2, 0, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_MONEYN, 2, 0, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, 0x99, 4, 0, 0), TDS_E_ARG);
    cr_assert_eq(tds_column_init(NULL, TDS_T_INT4, 0, 0, 0), TDS_E_ARG);
}

/* ------------------------------------------------- randomised round trips */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

Test(value_roundtrip, ints_floats_guids)
{
    struct { uint8_t type; int64_t lo, hi; } ints[] = {
        { TDS_T_INT1, 0, 255 }, { TDS_T_INT2, INT16_MIN, INT16_MAX },
        { TDS_T_INT4, INT32_MIN, INT32_MAX }, { TDS_T_INT8, INT64_MIN, INT64_MAX },
    };
    char t[64];
    size_t tl;
    uint8_t o[16];
    for (size_t k = 0; k < 4; k++) {
        tds_column c = col(ints[k].type, 0, 0, 0);
        for (int i = 0; i < 2000; i++) {
            uint64_t span = (uint64_t)ints[k].hi - (uint64_t)ints[k].lo;
            uint64_t r = span == UINT64_MAX ? rnd() : rnd() % (span + 1);
            int64_t v = (int64_t)((uint64_t)ints[k].lo + r);
            int n = tds_encode_int(&c, v, o, sizeof o);
            cr_assert_gt(n, 0);
            tds_value tv = view(o, (uint32_t)n);
            int64_t back;
            cr_assert_eq(tds_value_int(&c, &tv, &back), TDS_OK);
            cr_assert_eq(back, v);
            cr_assert_eq(tds_value_text(&c, &tv, t, sizeof t, &tl), TDS_OK);
            cr_assert_eq(strtoll(t, NULL, 10), v, "%s", t);
        }
    }
    tds_column c8 = col(TDS_T_FLT8, 0, 0, 0), c4 = col(TDS_T_FLT4, 0, 0, 0);
    for (int i = 0; i < 5000; i++) {
        uint64_t u = rnd();
        double d;
        memcpy(&d, &u, 8);
        if (!isfinite(d))
            continue;
        cr_assert_eq(tds_encode_float(&c8, d, o, sizeof o), 8);
        tds_value tv = view(o, 8);
        double back;
        cr_assert_eq(tds_value_float(&c8, &tv, &back), TDS_OK);
        cr_assert_eq(bits(back), bits(d));
        cr_assert_eq(tds_value_text(&c8, &tv, t, sizeof t, &tl), TDS_OK);
        cr_assert_eq(bits(strtod(t, NULL)), bits(d), "%s", t);
        uint32_t u4 = (uint32_t)u;
        float f;
        memcpy(&f, &u4, 4);
        if (!isfinite(f))
            continue;
        cr_assert_eq(tds_encode_float(&c4, f, o, sizeof o), 4);
        tv = view(o, 4);
        cr_assert_eq(tds_value_text(&c4, &tv, t, sizeof t, &tl), TDS_OK);
        float fb = strtof(t, NULL);
        cr_assert_eq(memcmp(&fb, &f, 4), 0, "%s", t);
    }
    tds_column g = col(TDS_T_GUID, 16, 0, 0);
    for (int i = 0; i < 500; i++) {
        uint8_t rfc[16], back[16], p[16];
        for (int j = 0; j < 16; j++)
            rfc[j] = (uint8_t)rnd();
        cr_assert_eq(tds_encode_guid(&g, rfc, o, 16), 16);
        tds_value tv = view(o, 16);
        cr_assert_eq(tds_value_guid(&g, &tv, back), TDS_OK);
        cr_assert_arr_eq(back, rfc, 16);
        cr_assert_eq(tds_value_text(&g, &tv, t, sizeof t, &tl), TDS_OK);
        cr_assert_eq(tl, 36);
        cr_assert_eq(tds_guid_parse(t, tl, p), TDS_OK);
        cr_assert_arr_eq(p, rfc, 16);
    }
}

/* FreeTDS's bulk load declares numeric(5,2) with a 4-byte length and sends
 * sign + 3-byte magnitudes; SQL Server uses 5/9/13/17. Both decode. */
Test(value, decimal_short_magnitude_from_freetds)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_NUMERICN, 4, 5, 2), TDS_OK);
    uint8_t v[4] = {0x00, 0x39, 0x30, 0x00}; /* -123.45 = -12345 / 100 */
    tds_value val = {v, 4, 0};
    char text[32];
    size_t n;
    cr_assert_eq(tds_value_text(&c, &val, text, sizeof text, &n), TDS_OK);
    cr_assert_str_eq(text, "-123.45");
    tds_value one = {v, 1, 0};
    cr_assert_eq(tds_value_text(&c, &one, text, sizeof text, &n), TDS_E_PROTO);
    cr_assert_eq(tds_column_init(&c, TDS_T_NUMERICN, 18, 5, 2), TDS_E_ARG);
}
