/*
 * test_value_text.c — canonical text of every kind (value_text.c), as SQL
 * Server prints it, plus the documented choices for float specials and
 * the TDS_E_SPACE contract.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"

static tds_column col(uint8_t type, uint32_t len, uint8_t p, uint8_t s)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, len, p, s), TDS_OK);
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

static void expect(uint8_t type, uint32_t len, uint8_t p, uint8_t s, const char *hex, const char *want)
{
    tds_column c = col(type, len, p, s);
    uint8_t b[256];
    size_t n = unhex(hex, b);
    tds_value v = { b, (uint32_t)n, 0 };
    char t[512];
    size_t tl = 0;
    int rc = tds_value_text(&c, &v, t, sizeof t, &tl);
    cr_assert_eq(rc, TDS_OK, "type 0x%02X %s: rc %d", type, hex, rc);
    cr_assert_str_eq(t, want, "type 0x%02X %s", type, hex);
    cr_assert_eq(tl, strlen(want));
    /* exactly enough room works; one byte less reports the length */
    size_t need = strlen(want);
    cr_assert_eq(tds_value_text(&c, &v, t, need + 1, &tl), TDS_OK);
    cr_assert_eq(tds_value_text(&c, &v, t, need, &tl), TDS_E_SPACE);
    cr_assert_eq(tl, need);
    cr_assert_eq(tds_value_text(&c, &v, NULL, 0, &tl), TDS_E_SPACE);
    cr_assert_eq(tl, need);
}

static void expect_double(double d, const char *want)
{
    uint8_t b[8];
    uint64_t u;
    memcpy(&u, &d, 8);
    char hex[17];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(u >> (8 * i));
        sprintf(hex + 2 * i, "%02X", b[i]);
    }
    expect(TDS_T_FLT8, 0, 0, 0, hex, want);
}

static void expect_real(float f, const char *want)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    char hex[9];
    for (int i = 0; i < 4; i++)
        sprintf(hex + 2 * i, "%02X", (unsigned)(u >> (8 * i)) & 0xFF);
    expect(TDS_T_FLT4, 0, 0, 0, hex, want);
}

Test(value_text, integers_and_bit)
{
    expect(TDS_T_INT1, 0, 0, 0, "00", "0");
    expect(TDS_T_INT1, 0, 0, 0, "FF", "255");
    expect(TDS_T_INT2, 0, 0, 0, "0080", "-32768");
    expect(TDS_T_INT2, 0, 0, 0, "FF7F", "32767");
    expect(TDS_T_INT4, 0, 0, 0, "00000080", "-2147483648");
    expect(TDS_T_INT4, 0, 0, 0, "FFFFFF7F", "2147483647");
    expect(TDS_T_INT8, 0, 0, 0, "0000000000000080", "-9223372036854775808");
    expect(TDS_T_INT8, 0, 0, 0, "FFFFFFFFFFFFFF7F", "9223372036854775807");
    expect(TDS_T_INTN, 4, 0, 0, "FEFFFFFF", "-2");
    expect(TDS_T_BIT, 0, 0, 0, "00", "0");
    expect(TDS_T_BITN, 1, 0, 0, "01", "1");
}

Test(value_text, money_and_decimal)
{
    expect(TDS_T_MONEY, 0, 0, 0, "FFFFFF7F FFFFFFFF", "922337203685477.5807");
    expect(TDS_T_MONEY, 0, 0, 0, "00000080 00000000", "-922337203685477.5808");
    expect(TDS_T_MONEYN, 8, 0, 0, "FFFFFFFF FFFFFFFF", "-0.0001");
    expect(TDS_T_MONEYN, 8, 0, 0, "00000000 00000000", "0.0000");
    expect(TDS_T_MONEY4, 0, 0, 0, "FFFFFF7F", "214748.3647");
    expect(TDS_T_MONEY4, 0, 0, 0, "00000080", "-214748.3648");
    expect(TDS_T_MONEYN, 4, 0, 0, "88130000", "0.5000");
    expect(TDS_T_DECIMALN, 0, 5, 2, "01 39300000", "123.45");
    expect(TDS_T_DECIMALN, 0, 5, 2, "00 39300000", "-123.45");
    expect(TDS_T_NUMERICN, 0, 3, 2, "01 32000000", "0.50");
    expect(TDS_T_NUMERICN, 0, 3, 3, "00 05000000", "-0.005");
    expect(TDS_T_DECIMALN, 0, 38, 0, "01 FFFFFFFF3F228A097AC4865AA84C3B4B",
           "99999999999999999999999999999999999999");
    expect(TDS_T_DECIMALN, 0, 38, 38, "00 FFFFFFFF3F228A097AC4865AA84C3B4B",
           "-0.99999999999999999999999999999999999999");
    expect(TDS_T_DECIMALN, 0, 38, 10, "01 00000000000000000000000000000000", "0.0000000000");
}

Test(value_text, float_shortest_and_specials)
{
    expect_double(0.0, "0");
    expect_double(-0.0, "-0");
    expect_double(1.0, "1");
    expect_double(0.1, "0.1");
    expect_double(-123.456, "-123.456");
    expect_double(1e308, "1e+308");
    expect_double(1.7976931348623157e308, "1.7976931348623157e+308");
    expect_double(2.2250738585072014e-308, "2.2250738585072014e-308");
    expect_double(4.9406564584124654e-324, "5e-324");   /* smallest denormal */
    expect_double(1.5e-320, "1.5e-320");
    expect_double(0.30000000000000004, "0.30000000000000004");
    expect_double(123456789012345678.0, "1.2345678901234568e+17");
    /* documented choice: the wire can carry these though SQL Server never stores them */
    expect_double(NAN, "NaN");
    expect_double(INFINITY, "Infinity");
    expect_double(-INFINITY, "-Infinity");
    expect_real(0.1f, "0.1");
    expect_real(-0.0f, "-0");
    expect_real(3.4028234663852886e38f, "3.4028235e+38");
    expect_real(1.17549435e-38f, "1.1754944e-38");
    expect_real(1.4e-45f, "1e-45");
    expect_real(16777216.0f, "16777216");
    expect_real(0.3f, "0.3");
    expect_real(1.1f, "1.1");
}

Test(value_text, dates_and_times)
{
    expect(TDS_T_DATETIME, 0, 0, 0, "462EFFFF 00000000", "1753-01-01 00:00:00.000");
    expect(TDS_T_DATETIME, 0, 0, 0, "7F242D00 FF818B01", "9999-12-31 23:59:59.997");
    expect(TDS_T_DATETIM4, 0, 0, 0, "FFFF 9F05", "2079-06-06 23:59:00");
    expect(TDS_T_DATEN, 0, 0, 0, "DAB937", "9999-12-31");
    expect(TDS_T_TIMEN, 0, 0, 0, "7F5101", "23:59:59");
    expect(TDS_T_TIMEN, 0, 0, 3, "FF5B2605", "23:59:59.999");
    expect(TDS_T_TIMEN, 0, 0, 7, "FFBF692AC9", "23:59:59.9999999");
    expect(TDS_T_DATETIME2N, 0, 0, 1, "000000 000000", "0001-01-01 00:00:00.0");
    expect(TDS_T_DATETIMEOFFSETN, 0, 0, 0, "000000 37410B B8FC", "2020-06-15 10:00:00 -14:00");
    expect(TDS_T_DATETIMEOFFSETN, 0, 0, 0, "000000 37410B 0000", "2020-06-16 00:00:00 +00:00");
}

Test(value_text, guid_binary_udt_text)
{
    expect(TDS_T_GUID, 16, 0, 0, "FF19966F868B11D0B42D00C04FC964FF", "6F9619FF-8B86-D011-B42D-00C04FC964FF");
    expect(TDS_T_GUID, 16, 0, 0, "00000000000000000000000000000000", "00000000-0000-0000-0000-000000000000");
    expect(TDS_T_BIGVARBIN, 8000, 0, 0, "", "0x");
    expect(TDS_T_BIGVARBIN, 8000, 0, 0, "00ff10ab", "0x00FF10AB");
    expect(TDS_T_BIGBINARY, 2, 0, 0, "CAFE", "0xCAFE");
    expect(TDS_T_IMAGE, 0x7FFFFFFF, 0, 0, "01", "0x01");
    expect(TDS_T_UDT, 0, 0, 0, "E6100000010C", "0xE6100000010C");
    /* char types go through the column's code page, nchar/xml from UTF-16LE */
    expect(TDS_T_BIGVARCHR, 100, 0, 0, "48 C3 A9", "H\xC3\x83\xC2\xA9");
    expect(TDS_T_BIGVARCHR, 100, 0, 0, "E9", "\xC3\xA9");
    expect(TDS_T_NVARCHAR, 100, 0, 0, "4800E900", "H\xC3\xA9");
    expect(TDS_T_NVARCHAR, 0xFFFF, 0, 0, "3DD800DE", "\xF0\x9F\x98\x80");
    expect(TDS_T_XML, 0, 0, 0, "3C00610020002F003E00", "<a />");
    expect(TDS_T_NVARCHAR, 100, 0, 0, "", "");
    /* a lone surrogate is an encoding error, not replaced */
    tds_column c = col(TDS_T_NVARCHAR, 100, 0, 0);
    uint8_t b[2] = { 0x00, 0xD8 };
    tds_value v = { b, 2, 0 };
    char t[16];
    size_t tl;
    cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_E_ENCODING);
}

/* int_text counts digits from the bit length: every power of ten, one
 * either side, both signs, against printf; short decimals of floats too. */
Test(value_text, integers_at_every_digit_count)
{
    tds_column c = col(TDS_T_INT8, 0, 0, 0);
    for (int e = 0; e <= 18; e++) {
        int64_t p = 1;
        for (int i = 0; i < e; i++)
            p *= 10;
        for (int64_t d = -1; d <= 1; d++) {
            for (int sign = -1; sign <= 1; sign += 2) {
                int64_t x = sign * (p + d);
                uint8_t b[8];
                uint64_t u = (uint64_t)x;
                for (int i = 0; i < 8; i++)
                    b[i] = (uint8_t)(u >> (8 * i));
                tds_value v = { b, 8, 0 };
                char t[64], want[32];
                size_t tl = 0;
                snprintf(want, sizeof want, "%lld", (long long)x);
                cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_OK);
                cr_assert_str_eq(t, want);
                cr_assert_eq(tl, strlen(want));
            }
        }
    }
    expect_double(0.25, "0.25");
    expect_double(-0.0625, "-0.0625");
    expect_double(0.001, "0.001");
    expect_double(1234567.75, "1234567.75");
    expect_double(-3, "-3");
    expect_double(100, "100");
}
