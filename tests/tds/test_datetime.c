/*
 * test_datetime.c — calendar math and every date/time type (datetime.c,
 * value.c, value_encode.c): range ends, every time scale 0..7 with its
 * byte length, datetimeoffset with ±14:00 and date-crossing offsets,
 * SQL Server's 1/300 s rounding, parse forms, hostile wire values, and
 * randomised encode→decode→text→parse round trips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"

static tds_column tcol(uint8_t type, uint8_t scale)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, type == TDS_T_DATETIMN ? 8 : 0, 0, scale), TDS_OK);
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

static const char *text_of(const tds_column *c, const uint8_t *b, size_t n)
{
    static char t[64];
    size_t tl;
    tds_value v = { b, (uint32_t)n, 0 };
    int rc = tds_value_text(c, &v, t, sizeof t, &tl);
    cr_assert_eq(rc, TDS_OK, "text rc %d", rc);
    cr_assert_eq(tl, strlen(t));
    return t;
}

static void dt_eq(const tds_datetime *a, const tds_datetime *b, const char *what)
{
    cr_assert_eq(a->days, b->days, "%s: days %d vs %d", what, a->days, b->days);
    cr_assert_eq(a->ticks, b->ticks, "%s: ticks %llu vs %llu", what,
                 (unsigned long long)a->ticks, (unsigned long long)b->ticks);
    cr_assert_eq(a->offset_min, b->offset_min, "%s: offset", what);
    cr_assert_eq(a->scale, b->scale, "%s: scale", what);
    cr_assert_eq(a->kind, b->kind, "%s: kind", what);
}

/* wire hex ↔ text both ways: decode+text, parse+encode, and the struct
 * from the wire equals the struct from the text. */
static void both_ways(uint8_t type, uint8_t scale, const char *hex, const char *text)
{
    tds_column c = tcol(type, scale);
    uint8_t w[16], o[16];
    size_t n = unhex(hex, w);
    cr_assert_str_eq(text_of(&c, w, n), text, "wire %s", hex);
    tds_datetime from_wire, from_text;
    tds_value v = { w, (uint32_t)n, 0 };
    cr_assert_eq(tds_value_datetime(&c, &v, &from_wire), TDS_OK);
    int rc = tds_datetime_parse(text, strlen(text), c.kind, scale, &from_text);
    cr_assert_eq(rc, TDS_OK, "parse %s: %d", text, rc);
    dt_eq(&from_wire, &from_text, text);
    rc = tds_encode_datetime(&c, &from_text, o, sizeof o);
    cr_assert_eq(rc, (int)n, "encode %s: %d", text, rc);
    cr_assert_arr_eq(o, w, n, "encode %s", text);
}

Test(calendar, days_and_dates)
{
    tds_datetime d;
    cr_assert_eq(tds_datetime_parse("0001-01-01", 10, TDS_K_DATE, 0, &d), TDS_OK);
    cr_assert_eq(d.days, 0);
    cr_assert_eq(tds_datetime_parse("1900-01-01", 10, TDS_K_DATE, 0, &d), TDS_OK);
    cr_assert_eq(d.days, 693595);
    cr_assert_eq(tds_datetime_parse("1970-01-01", 10, TDS_K_DATE, 0, &d), TDS_OK);
    cr_assert_eq(d.days, 719162);
    cr_assert_eq(tds_datetime_parse("9999-12-31", 10, TDS_K_DATE, 0, &d), TDS_OK);
    cr_assert_eq(d.days, 3652058);
    cr_assert_eq(tds_datetime_parse("2000-02-29", 10, TDS_K_DATE, 0, &d), TDS_OK);
    cr_assert_eq(tds_datetime_parse("2100-02-29", 10, TDS_K_DATE, 0, &d), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("2021-02-29", 10, TDS_K_DATE, 0, &d), TDS_E_ARG);
    /* every day of 1600..2400 round-trips through text */
    tds_column c = tcol(TDS_T_DATEN, 0);
    int32_t start = 0, prev = -1;
    cr_assert_eq(tds_datetime_parse("1600-01-01", 10, TDS_K_DATE, 0, &d), TDS_OK);
    start = d.days;
    for (int32_t day = start; day < start + 292000; day++) {
        uint8_t w[3] = { (uint8_t)day, (uint8_t)(day >> 8), (uint8_t)(day >> 16) };
        const char *t = text_of(&c, w, 3);
        cr_assert_eq(tds_datetime_parse(t, strlen(t), TDS_K_DATE, 0, &d), TDS_OK, "%s", t);
        cr_assert_eq(d.days, day, "%s", t);
        cr_assert_gt(d.days, prev);
        prev = d.days;
    }
}

Test(datetime, range_ends_and_ms_rounding)
{
    both_ways(TDS_T_DATETIME, 0, "462EFFFF 00000000", "1753-01-01 00:00:00.000");
    both_ways(TDS_T_DATETIME, 0, "7F242D00 FF818B01", "9999-12-31 23:59:59.997");
    both_ways(TDS_T_DATETIME, 0, "00000000 00000000", "1900-01-01 00:00:00.000");
    both_ways(TDS_T_DATETIME, 0, "00000000 01000000", "1900-01-01 00:00:00.003");
    both_ways(TDS_T_DATETIME, 0, "00000000 02000000", "1900-01-01 00:00:00.007");
    both_ways(TDS_T_DATETIME, 0, "00000000 03000000", "1900-01-01 00:00:00.010");
    both_ways(TDS_T_DATETIME, 0, "FFFFFFFF 2C010000", "1899-12-31 00:00:01.000");
    /* 2019-06-15 is day 43629 after 1900-01-01; 13:45:30.123 is 14859037/300 s */
    both_ways(TDS_T_DATETIMN, 0, "6DAA0000 1DBBE200", "2019-06-15 13:45:30.123");
    tds_column c = tcol(TDS_T_DATETIME, 0);
    uint8_t w[8];
    unhex("00000000 01000000", w);
    tds_value v = { w, 8, 0 };
    tds_datetime d;
    cr_assert_eq(tds_value_datetime(&c, &v, &d), TDS_OK);
    cr_assert_eq(d.ticks, 33333); /* 1/300 s to the nearest 100 ns */
    cr_assert_eq(d.days, 693595);
    cr_assert_eq(d.scale, 3);
    unhex("00000000 02000000", w);
    cr_assert_eq(tds_value_datetime(&c, &v, &d), TDS_OK);
    cr_assert_eq(d.ticks, 66667);
    /* text rounds like SQL Server: .002 → .003, .999 → next second */
    cr_assert_eq(tds_datetime_parse("2000-01-01 00:00:00.002", 23, TDS_K_DATETIME, 0, &d), TDS_OK);
    cr_assert_eq(d.ticks, 33333);
    cr_assert_eq(tds_datetime_parse("2000-01-01 23:59:59.999", 23, TDS_K_DATETIME, 0, &d), TDS_OK);
    cr_assert_eq(d.ticks, 0);
    cr_assert_eq(tds_datetime_parse("2000-01-02", 10, TDS_K_DATE, 0, &d), TDS_OK);
    int32_t jan2 = d.days;
    cr_assert_eq(tds_datetime_parse("2000-01-01 23:59:59.999", 23, TDS_K_DATETIME, 0, &d), TDS_OK);
    cr_assert_eq(d.days, jan2);
    cr_assert_eq(tds_datetime_parse("9999-12-31 23:59:59.999", 23, TDS_K_DATETIME, 0, &d), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("1752-12-31 23:59:59.997", 23, TDS_K_DATETIME, 0, &d), TDS_E_ARG);
    /* time-only text is on 1900-01-01, as in SQL Server */
    cr_assert_eq(tds_datetime_parse("10:00:00", 8, TDS_K_DATETIME, 0, &d), TDS_OK);
    cr_assert_eq(d.days, 693595);
}

Test(datetime, smalldatetime_range)
{
    both_ways(TDS_T_DATETIM4, 0, "0000 0000", "1900-01-01 00:00:00");
    both_ways(TDS_T_DATETIM4, 0, "FFFF 9F05", "2079-06-06 23:59:00");
    /* a DATETIMN(8) column carrying a 4-byte value is read by its length */
    tds_column n8 = tcol(TDS_T_DATETIMN, 0);
    cr_assert_str_eq(text_of(&n8, (const uint8_t *)"\x01\x00\x3C\x00", 4), "1900-01-02 01:00:00");
    tds_datetime d;
    uint8_t o[8];
    tds_column c = tcol(TDS_T_DATETIM4, 0);
    cr_assert_eq(tds_datetime_parse("2000-01-01 10:29:30", 19, TDS_K_SMALLDATETIME, 0, &d), TDS_OK);
    cr_assert_eq(tds_encode_datetime(&c, &d, o, sizeof o), 4);
    cr_assert_str_eq(text_of(&c, o, 4), "2000-01-01 10:30:00");
    cr_assert_eq(tds_datetime_parse("2000-01-01 10:29:29.998", 23, TDS_K_SMALLDATETIME, 0, &d), TDS_OK);
    cr_assert_eq(tds_encode_datetime(&c, &d, o, sizeof o), 4);
    cr_assert_str_eq(text_of(&c, o, 4), "2000-01-01 10:29:00");
    cr_assert_eq(tds_datetime_parse("2079-06-06 23:59:30", 19, TDS_K_SMALLDATETIME, 0, &d), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("1899-12-31 23:59:00", 19, TDS_K_SMALLDATETIME, 0, &d), TDS_E_ARG);
    /* a datetime value out of smalldatetime's range does not encode */
    cr_assert_eq(tds_datetime_parse("1800-01-01 00:00:00", 19, TDS_K_DATETIME2, 0, &d), TDS_OK);
    cr_assert_eq(tds_encode_datetime(&c, &d, o, sizeof o), TDS_E_RANGE);
}

Test(datetime, date_range)
{
    both_ways(TDS_T_DATEN, 0, "000000", "0001-01-01");
    both_ways(TDS_T_DATEN, 0, "DAB937", "9999-12-31");
    both_ways(TDS_T_DATEN, 0, "233F0B", "2019-01-01");
}

/* hh:mm:ss at scale n: units of 10^-n s, little-endian in 3/4/5 bytes */
static void time_hex(uint64_t units, unsigned len, char *hex)
{
    for (unsigned i = 0; i < len; i++)
        sprintf(hex + 2 * i, "%02X", (unsigned)(units >> (8 * i)) & 0xFF);
}

Test(datetime, time_datetime2_dto_every_scale)
{
    static const uint64_t p10[8] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000 };
    for (uint8_t s = 0; s <= 7; s++) {
        unsigned tl = s <= 2 ? 3 : s <= 4 ? 4 : 5;
        tds_column c = tcol(TDS_T_TIMEN, s);
        cr_assert_eq(c.max_len, tl);
        char hex[64], text[64], nines[8] = "9999999";
        nines[s] = 0;
        /* the last instant of the day, the first, and 12:34:56.1234567 truncated */
        uint64_t last = 86400 * p10[s] - 1;
        time_hex(last, tl, hex);
        snprintf(text, sizeof text, "23:59:59%s%s", s ? "." : "", nines);
        both_ways(TDS_T_TIMEN, s, hex, text);
        time_hex(0, tl, hex);
        snprintf(text, sizeof text, "00:00:00%s%.*s", s ? "." : "", s, "0000000");
        both_ways(TDS_T_TIMEN, s, hex, text);
        uint64_t mid = (12 * 3600 + 34 * 60 + 56) * p10[s] + 1234567 / p10[7 - s];
        time_hex(mid, tl, hex);
        snprintf(text, sizeof text, "12:34:56%s%.*s", s ? "." : "", s, "1234567");
        both_ways(TDS_T_TIMEN, s, hex, text);

        /* datetime2: time then 3-byte date */
        time_hex(last, tl, hex);
        strcat(hex, "DAB937");
        snprintf(text, sizeof text, "9999-12-31 23:59:59%s%s", s ? "." : "", nines);
        both_ways(TDS_T_DATETIME2N, s, hex, text);
        time_hex(0, tl, hex);
        strcat(hex, "000000");
        snprintf(text, sizeof text, "0001-01-01 00:00:00%s%.*s", s ? "." : "", s, "0000000");
        both_ways(TDS_T_DATETIME2N, s, hex, text);

        /* datetimeoffset: UTC time, date, then signed minutes. Local
         * 2020-06-15 10:30:00 -14:00 is UTC 2020-06-16 00:30:00. */
        time_hex(1800 * p10[s], tl, hex);
        strcat(hex, "37410B B8FC");
        snprintf(text, sizeof text, "2020-06-15 10:30:00%s%.*s -14:00", s ? "." : "", s, "0000000");
        both_ways(TDS_T_DATETIMEOFFSETN, s, hex, text);
        /* local 2020-06-16 14:30 +14:00 is the same instant */
        time_hex(1800 * p10[s], tl, hex);
        strcat(hex, "37410B 4803");
        snprintf(text, sizeof text, "2020-06-16 14:30:00%s%.*s +14:00", s ? "." : "", s, "0000000");
        both_ways(TDS_T_DATETIMEOFFSETN, s, hex, text);
        cr_assert_eq(tcol(TDS_T_DATETIMEOFFSETN, s).max_len, tl + 5);
        cr_assert_eq(tcol(TDS_T_DATETIME2N, s).max_len, tl + 3);
    }
}

Test(datetime, offsets_cross_dates)
{
    tds_datetime d;
    const char *t = "2020-01-01 01:00:00.0000000 +05:00";
    cr_assert_eq(tds_datetime_parse(t, strlen(t), TDS_K_DATETIMEOFFSET, 7, &d), TDS_OK);
    tds_datetime ref;
    cr_assert_eq(tds_datetime_parse("2019-12-31 20:00:00", 19, TDS_K_DATETIME2, 7, &ref), TDS_OK);
    cr_assert_eq(d.days, ref.days);  /* UTC is the previous day */
    cr_assert_eq(d.ticks, ref.ticks);
    cr_assert_eq(d.offset_min, 300);
    /* UTC 0001-01-01 00:00 at -01:00 is local year 0 */
    both_ways(TDS_T_DATETIMEOFFSETN, 0, "000000 000000 C4FF", "0000-12-31 23:00:00 -01:00");
    /* UTC 9999-12-31 23:00 at +14:00 is local year 10000 */
    both_ways(TDS_T_DATETIMEOFFSETN, 0, "704301 DAB937 4803", "10000-01-01 13:00:00 +14:00");
    /* the same local text but a UTC before 0001-01-01 is out of range */
    cr_assert_eq(tds_datetime_parse("0001-01-01 00:00:00 +01:00", 26, TDS_K_DATETIMEOFFSET, 0, &d), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("2020-01-01 00:00:00 +14:01", 26, TDS_K_DATETIMEOFFSET, 0, &d), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("2020-01-01 00:00:00 -15:00", 26, TDS_K_DATETIMEOFFSET, 0, &d), TDS_E_ARG);
    /* half-hour and 45-minute offsets */
    both_ways(TDS_T_DATETIMEOFFSETN, 0, "000000 37410B 4A01", "2020-06-16 05:30:00 +05:30");
    both_ways(TDS_T_DATETIMEOFFSETN, 0, "000000 37410B 1FFF", "2020-06-15 20:15:00 -03:45");
    /* a dto encoded into datetime2 keeps its local time (CAST semantics) */
    t = "2020-01-01 01:00:00 +05:00";
    cr_assert_eq(tds_datetime_parse(t, strlen(t), TDS_K_DATETIMEOFFSET, 0, &d), TDS_OK);
    tds_column c2 = tcol(TDS_T_DATETIME2N, 0);
    uint8_t o[16];
    int n = tds_encode_datetime(&c2, &d, o, sizeof o);
    cr_assert_eq(n, 6);
    cr_assert_str_eq(text_of(&c2, o, (size_t)n), "2020-01-01 01:00:00");
}

Test(datetime, parse_forms)
{
    tds_datetime a, b;
    cr_assert_eq(tds_datetime_parse("2020-05-06T07:08:09.5Z", 22, TDS_K_DATETIMEOFFSET, 3, &a), TDS_OK);
    cr_assert_eq(tds_datetime_parse("2020-05-06 07:08:09.500 +00:00", 30, TDS_K_DATETIMEOFFSET, 3, &b), TDS_OK);
    dt_eq(&a, &b, "Z");
    cr_assert_eq(tds_datetime_parse("2020-05-06T09:38:09.5+02:30", 27, TDS_K_DATETIMEOFFSET, 3, &b), TDS_OK);
    cr_assert_eq(b.offset_min, 150);
    b.offset_min = 0; /* the same instant */
    dt_eq(&a, &b, "+02:30");
    /* an offset on a datetime2 is dropped, the local time kept (SQL Server's CAST) */
    cr_assert_eq(tds_datetime_parse("2020-05-06T07:08:09+02:00", 25, TDS_K_DATETIME2, 0, &a), TDS_OK);
    cr_assert_eq(tds_datetime_parse("2020-05-06 07:08:09", 19, TDS_K_DATETIME2, 0, &b), TDS_OK);
    dt_eq(&a, &b, "dt2 offset");
    /* date only is midnight; minutes without seconds */
    cr_assert_eq(tds_datetime_parse("2020-05-06", 10, TDS_K_DATETIME2, 7, &a), TDS_OK);
    cr_assert_eq(a.ticks, 0);
    cr_assert_eq(tds_datetime_parse("2020-05-06 07:08", 16, TDS_K_DATETIME2, 7, &a), TDS_OK);
    cr_assert_eq(a.ticks, (7 * 3600 + 8 * 60) * 10000000ull);
    /* more than 7 fraction digits round at 100 ns */
    cr_assert_eq(tds_datetime_parse("00:00:00.00000005", 17, TDS_K_TIME, 7, &a), TDS_OK);
    cr_assert_eq(a.ticks, 1);
    /* rounding to the scale carries; time wraps at midnight */
    cr_assert_eq(tds_datetime_parse("23:59:59.5", 10, TDS_K_TIME, 0, &a), TDS_OK);
    cr_assert_eq(a.ticks, 0);
    cr_assert_eq(tds_datetime_parse("2000-01-01 23:59:59.5", 21, TDS_K_DATETIME2, 0, &a), TDS_OK);
    cr_assert_eq(tds_datetime_parse("2000-01-02", 10, TDS_K_DATETIME2, 0, &b), TDS_OK);
    dt_eq(&a, &b, "carry");
    cr_assert_eq(tds_datetime_parse("9999-12-31 23:59:59.9999999", 27, TDS_K_DATETIME2, 6, &a), TDS_E_ARG);
    const char *bad[] = {
        "", "2020-13-01", "2020-00-10", "2020-01-00", "2020-01-32", "2020-1-01", "20-01-01",
        "2020-01-01 24:00:00", "2020-01-01 10:60", "2020-01-01 10:00:60", "2020-01-01 10:00:00.",
        "2020-01-01 10:00:00 +5:00", "2020-01-01 10:00:00 +05", "2020-01-01 10:00:00 x",
        "2020-01-01x", "2020-01-01 ", "10", "10:0", "2020/01/01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(tds_datetime_parse(bad[i], strlen(bad[i]), TDS_K_DATETIME2, 7, &a), TDS_E_ARG, "%s", bad[i]);
    cr_assert_eq(tds_datetime_parse("10:00:00", 8, TDS_K_DATE, 0, &a), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("2020-01-01", 10, TDS_K_TIME, 0, &a), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("10:00:00", 8, TDS_K_TIME, 8, &a), TDS_E_ARG);
    cr_assert_eq(tds_datetime_parse("10:00:00", 8, TDS_K_INT, 0, &a), TDS_E_ARG);
}

Test(datetime, hostile_wire_values)
{
    struct { uint8_t type; uint8_t scale; const char *hex; } bad[] = {
        { TDS_T_DATETIME, 0, "00000000 00BA8B01" },  /* 1/300 s count of a full day */
        { TDS_T_DATETIME, 0, "80242D00 00000000" },  /* 10000-01-01 */
        { TDS_T_DATETIME, 0, "452EFFFF 00000000" },  /* 1752-12-31 */
        { TDS_T_DATETIM4, 0, "0000 A005" },          /* minute 1440 */
        { TDS_T_DATEN, 0, "DBB937" },                /* 10000-01-01 */
        { TDS_T_DATEN, 0, "FFFFFF" },
        { TDS_T_TIMEN, 7, "00C0692AC9" },            /* 864000000000: midnight */
        { TDS_T_TIMEN, 0, "805101" },                /* 86400 s */
        { TDS_T_DATETIME2N, 0, "000000 DBB937" },
        { TDS_T_DATETIMEOFFSETN, 0, "000000 000000 4903" }, /* +14:01 */
        { TDS_T_DATETIMEOFFSETN, 0, "000000 000000 B7FC" }, /* -14:01 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tds_column c = tcol(bad[i].type, bad[i].scale);
        uint8_t w[16];
        size_t n = unhex(bad[i].hex, w);
        tds_value v = { w, (uint32_t)n, 0 };
        tds_datetime d;
        char t[64];
        size_t tl;
        cr_assert_eq(tds_value_datetime(&c, &v, &d), TDS_E_PROTO, "case %zu", i);
        cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_E_PROTO, "case %zu", i);
    }
    /* too small an output buffer reports the length */
    tds_column c = tcol(TDS_T_DATETIMEOFFSETN, 7);
    uint8_t w[10];
    size_t n = unhex("0000000000 37410B B8FC", w);
    tds_value v = { w, (uint32_t)n, 0 };
    char t[64];
    size_t tl;
    cr_assert_eq(tds_value_text(&c, &v, t, 34, &tl), TDS_E_SPACE);
    cr_assert_eq(tl, 34);
    cr_assert_eq(tds_value_text(&c, &v, t, 35, &tl), TDS_OK);
    cr_assert_str_eq(t, "2020-06-15 10:00:00.0000000 -14:00");
    uint8_t o[16];
    tds_datetime d;
    cr_assert_eq(tds_value_datetime(&c, &v, &d), TDS_OK);
    cr_assert_eq(tds_encode_datetime(&c, &d, o, 9), TDS_E_SPACE);
    tds_column g;
    cr_assert_eq(tds_column_init(&g, TDS_T_GUID, 16, 0, 0), TDS_OK);
    cr_assert_eq(tds_encode_datetime(&g, &d, o, sizeof o), TDS_E_TYPE);
}

static uint64_t rng = 0xD1B54A32D192ED03ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

Test(datetime, random_round_trips)
{
    struct { uint8_t type; tds_kind kind; int32_t lo, hi; } k[] = {
        { TDS_T_DATETIME, TDS_K_DATETIME, 639905, 3652058 },
        { TDS_T_DATETIM4, TDS_K_SMALLDATETIME, 693595, 693595 + 65534 },
        { TDS_T_DATEN, TDS_K_DATE, 0, 3652058 },
        { TDS_T_TIMEN, TDS_K_TIME, 0, 0 },
        { TDS_T_DATETIME2N, TDS_K_DATETIME2, 0, 3652057 },
        { TDS_T_DATETIMEOFFSETN, TDS_K_DATETIMEOFFSET, 1, 3652057 },
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        for (int it = 0; it < 4000; it++) {
            uint8_t scale = (uint8_t)(rnd() % 8);
            tds_column c;
            cr_assert_eq(tds_column_init(&c, k[i].type, 0, 0, scale), TDS_OK);
            tds_datetime d;
            memset(&d, 0, sizeof d);
            d.kind = (uint8_t)k[i].kind;
            d.scale = scale;
            d.days = k[i].lo + (int32_t)(rnd() % (uint64_t)(k[i].hi - k[i].lo + 1));
            d.ticks = rnd() % 864000000000ull;
            if (k[i].kind == TDS_K_DATETIMEOFFSET)
                d.offset_min = (int16_t)((int)(rnd() % 1681) - 840);
            uint8_t w[16], w2[16];
            int n = tds_encode_datetime(&c, &d, w, sizeof w);
            cr_assert_gt(n, 0, "kind %zu: %d", i, n);
            cr_assert_eq((uint32_t)n, c.max_len);
            tds_value v = { w, (uint32_t)n, 0 };
            tds_datetime back, parsed;
            cr_assert_eq(tds_value_datetime(&c, &v, &back), TDS_OK);
            char t[64];
            size_t tl;
            cr_assert_eq(tds_value_text(&c, &v, t, sizeof t, &tl), TDS_OK);
            cr_assert_eq(tds_datetime_parse(t, tl, (tds_kind)c.kind, c.scale, &parsed), TDS_OK, "%s", t);
            dt_eq(&back, &parsed, t);
            cr_assert_eq(tds_encode_datetime(&c, &parsed, w2, sizeof w2), n);
            cr_assert_arr_eq(w2, w, (size_t)n, "%s", t);
        }
    }
}
