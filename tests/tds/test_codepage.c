/*
 * test_codepage.c — collations (tds_collation_parse/_codepage) and text
 * conversion (tds_value_utf8, tds_encode_text, tds__encode_text_len and
 * their tds_conv forms) for tds/codepage.c. Every single-byte code page is checked byte by byte
 * against glibc's own converter, an independent source for the tables.
 */
#include <criterion/criterion.h>
#include <iconv.h>
#include <pthread.h>
#include <stdio.h>

#include "codepage_int.h"

/* ---------------------------------------------------------------- helpers */

static tds_column char_col(const uint8_t raw[5])
{
    tds_column c;
    memset(&c, 0, sizeof c);
    c.type = TDS_T_BIGVARCHR;
    c.kind = TDS_K_CHAR;
    c.max_len = 8000;
    tds_collation_parse(raw, &c.collation);
    return c;
}

/* A char column whose collation is a SortId-0 collation of language lang
 * (or the UTF-8 Latin1_General_100_CI_AS_SC_UTF8 for 65001). */
static tds_column cp_col(uint16_t cp)
{
    static const struct { uint16_t cp; uint8_t raw[5]; } m[] = {
        { 437, { 0x09, 0x04, 0xD0, 0x00, 32 } },   /* SQL_Latin1_General_CP437_CI_AS */
        { 850, { 0x09, 0x04, 0xD0, 0x00, 42 } },   /* SQL_Latin1_General_CP850_CI_AS */
        { 874, { 0x1E, 0x04, 0xD0, 0x00, 0x00 } }, /* Thai_CI_AS */
        { 932, { 0x11, 0x04, 0xD0, 0x00, 0x00 } }, /* Japanese_CI_AS */
        { 936, { 0x04, 0x08, 0xD0, 0x00, 0x00 } }, /* Chinese_PRC_CI_AS */
        { 949, { 0x12, 0x04, 0xD0, 0x00, 0x00 } }, /* Korean_Wansung_CI_AS */
        { 950, { 0x04, 0x04, 0xD0, 0x00, 0x00 } }, /* Chinese_Taiwan_Stroke_CI_AS */
        { 1250, { 0x05, 0x04, 0xD0, 0x00, 0x00 } }, /* Czech_CI_AS */
        { 1251, { 0x19, 0x04, 0xD0, 0x00, 0x00 } }, /* Cyrillic_General_CI_AS */
        { 1252, { 0x09, 0x04, 0xD0, 0x00, 0x34 } }, /* SQL_Latin1_General_CP1_CI_AS */
        { 1253, { 0x08, 0x04, 0xD0, 0x00, 0x00 } }, /* Greek_CI_AS */
        { 1254, { 0x1F, 0x04, 0xD0, 0x00, 0x00 } }, /* Turkish_CI_AS */
        { 1255, { 0x0D, 0x04, 0xD0, 0x00, 0x00 } }, /* Hebrew_CI_AS */
        { 1256, { 0x01, 0x04, 0xD0, 0x00, 0x00 } }, /* Arabic_CI_AS */
        { 1257, { 0x25, 0x04, 0xD0, 0x00, 0x00 } }, /* Estonian_CI_AS */
        { 1258, { 0x2A, 0x04, 0xD0, 0x00, 0x00 } }, /* Vietnamese_CI_AS */
        { 65001, { 0x09, 0x04, 0xD0, 0x14, 0x00 } }, /* Latin1_General_100_CI_AS_SC_UTF8 */
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (m[i].cp == cp) {
            tds_column c = char_col(m[i].raw);
            cr_assert_eq(c.collation.codepage, cp);
            return c;
        }
    cr_assert_fail("no collation for code page %u", cp);
    tds_column z = { 0 };
    return z;
}

static tds_column kind_col(uint8_t type, tds_kind kind)
{
    tds_column c;
    memset(&c, 0, sizeof c);
    c.type = type;
    c.kind = (uint8_t)kind;
    c.max_len = 8000;
    return c;
}

static tds_value view(const void *p, size_t n)
{
    tds_value v = { (const uint8_t *)p, (uint32_t)n, 0 };
    return v;
}

/* Decodes and asserts the exact UTF-8 (expected NUL-free here). */
static void expect_utf8(const tds_column *c, const void *in, size_t n,
                        const char *want, size_t want_len)
{
    char out[256];
    size_t len = 99;
    tds_value v = view(in, n);
    int rc = tds_value_utf8(c, &v, out, sizeof out, &len);
    cr_assert_eq(rc, TDS_OK, "rc %d (%s)", rc, tds_strerror(rc));
    cr_assert_eq(len, want_len, "len %zu want %zu", len, want_len);
    cr_assert_arr_eq(out, want, want_len);
    cr_assert_eq(out[len], '\0');
    /* the same through a tds_conv, twice (opened, then reused) */
    tds_conv *cv = tds_conv_new();
    cr_assert_not_null(cv);
    for (int i = 0; i < 2; i++) {
        memset(out, 0, sizeof out);
        cr_assert_eq(tds_value_utf8_cv(cv, c, &v, out, sizeof out, &len), TDS_OK);
        cr_assert_eq(len, want_len);
        cr_assert_arr_eq(out, want, want_len);
    }
    tds_conv_free(cv);
}

static void expect_encode(const tds_column *c, const char *utf8, size_t n,
                          const void *want, size_t want_len)
{
    uint8_t out[256];
    int rc = tds_encode_text(c, utf8, n, out, sizeof out);
    cr_assert_eq(rc, (int)want_len, "rc %d (%s) want %zu", rc, tds_strerror(rc), want_len);
    cr_assert_arr_eq(out, want, want_len);
    cr_assert_eq(tds__encode_text_len(NULL, c, utf8, n), (int)want_len);
    tds_conv *cv = tds_conv_new();
    cr_assert_not_null(cv);
    for (int i = 0; i < 2; i++) {
        memset(out, 0, sizeof out);
        cr_assert_eq(tds_encode_text_cv(cv, c, utf8, n, out, sizeof out), (int)want_len);
        cr_assert_arr_eq(out, want, want_len);
        cr_assert_eq(tds__encode_text_len(cv, c, utf8, n), (int)want_len);
    }
    tds_conv_free(cv);
}

static int decode_rc(const tds_column *c, const void *in, size_t n)
{
    char out[256];
    size_t len;
    tds_value v = view(in, n);
    return tds_value_utf8(c, &v, out, sizeof out, &len);
}

#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------ collation */

Test(collation, sql_latin1_general_cp1_ci_as)
{
    static const uint8_t raw[5] = { 0x09, 0x04, 0xD0, 0x00, 0x34 };
    tds_collation c;
    tds_collation_parse(raw, &c);
    cr_assert_arr_eq(c.raw, raw, 5);
    cr_assert_eq(c.lcid, 0x0409u);
    cr_assert_eq(c.flags, TDS_COLL_IGNORE_CASE | TDS_COLL_IGNORE_KANA | TDS_COLL_IGNORE_WIDTH);
    cr_assert_eq(c.version, 0);
    cr_assert_eq(c.sort_id, 52);
    cr_assert_eq(c.codepage, 1252);
    cr_assert_eq(tds_collation_codepage(raw), 1252);
}

Test(collation, windows_collations_by_lcid)
{
    static const struct { uint8_t raw[5]; uint32_t lcid; uint16_t cp; } t[] = {
        { { 0x09, 0x04, 0xD0, 0x00, 0x00 }, 0x0409, 1252 },  /* Latin1_General_CI_AS */
        { { 0x09, 0x04, 0xD0, 0x10, 0x00 }, 0x0409, 1252 },  /* Latin1_General_100_CI_AS */
        { { 0x19, 0x04, 0xD0, 0x00, 0x00 }, 0x0419, 1251 },  /* Cyrillic_General_CI_AS */
        { { 0x11, 0x04, 0xD0, 0x00, 0x00 }, 0x0411, 932 },   /* Japanese_CI_AS */
        { { 0x04, 0x08, 0xD0, 0x00, 0x00 }, 0x0804, 936 },   /* Chinese_PRC_CI_AS */
        { { 0x12, 0x04, 0xD0, 0x00, 0x00 }, 0x0412, 949 },   /* Korean_Wansung_CI_AS */
        { { 0x04, 0x04, 0xD0, 0x00, 0x00 }, 0x0404, 950 },   /* Chinese_Taiwan_Stroke_CI_AS */
        { { 0x05, 0x04, 0xD0, 0x00, 0x00 }, 0x0405, 1250 },  /* Czech_CI_AS */
        { { 0x08, 0x04, 0xD0, 0x00, 0x00 }, 0x0408, 1253 },  /* Greek_CI_AS */
        { { 0x1F, 0x04, 0xD0, 0x00, 0x00 }, 0x041F, 1254 },  /* Turkish_CI_AS */
        { { 0x0D, 0x04, 0xD0, 0x00, 0x00 }, 0x040D, 1255 },  /* Hebrew_CI_AS */
        { { 0x01, 0x04, 0xD0, 0x00, 0x00 }, 0x0401, 1256 },  /* Arabic_CI_AS */
        { { 0x25, 0x04, 0xD0, 0x00, 0x00 }, 0x0425, 1257 },  /* Estonian_CI_AS */
        { { 0x2A, 0x04, 0xD0, 0x00, 0x00 }, 0x042A, 1258 },  /* Vietnamese_CI_AS */
        { { 0x1E, 0x04, 0xD0, 0x00, 0x00 }, 0x041E, 874 },   /* Thai_CI_AS */
        { { 0x0A, 0x0C, 0xD0, 0x00, 0x00 }, 0x0C0A, 1252 },  /* Modern_Spanish_CI_AS */
        { { 0x07, 0x04, 0xD1, 0x00, 0x00 }, 0x10407, 1252 }, /* German_PhoneBook_CI_AS */
        { { 0x04, 0x08, 0xD2, 0x00, 0x00 }, 0x20804, 936 },  /* Chinese_PRC_Stroke_CI_AS */
        { { 0x39, 0x04, 0xD0, 0x00, 0x00 }, 0x0439, 0 },     /* Indic_General: Unicode-only */
        { { 0x00, 0x00, 0x00, 0x00, 0x00 }, 0, 0 },          /* raw collation */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        tds_collation c;
        tds_collation_parse(t[i].raw, &c);
        cr_assert_eq(c.lcid, t[i].lcid, "case %zu: lcid %#x", i, c.lcid);
        cr_assert_eq(c.sort_id, 0);
        cr_assert_eq(c.codepage, t[i].cp, "case %zu: cp %u", i, c.codepage);
    }
}

Test(collation, sql_collations_by_sort_id)
{
    static const struct { uint8_t sort; uint16_t cp; } t[] = {
        { 30, 437 }, { 32, 437 }, { 34, 437 },
        { 40, 850 }, { 42, 850 }, { 49, 850 }, { 55, 850 }, { 61, 850 },
        { 50, 1252 }, { 51, 1252 }, { 52, 1252 }, { 53, 1252 }, { 54, 1252 },
        { 183, 1252 }, { 186, 1252 },
        { 80, 1250 }, { 82, 1250 }, { 96, 1250 },
        { 104, 1251 }, { 106, 1251 }, { 108, 1251 },
        { 112, 1253 }, { 114, 1253 }, { 124, 1253 },
        { 128, 1254 }, { 130, 1254 },
        { 136, 1255 }, { 138, 1255 },
        { 144, 1256 }, { 146, 1256 },
        { 152, 1257 }, { 154, 1257 }, { 160, 1257 },
        { 192, 932 }, { 198, 936 }, { 194, 949 }, { 196, 950 }, { 204, 874 },
        { 1, 0 }, { 36, 0 }, { 255, 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        /* The LCID of a SQL collation does not decide its code page: a
         * Cyrillic LCID with SortId 52 is still 1252. */
        uint8_t raw[5] = { 0x19, 0x04, 0xD0, 0x00, t[i].sort };
        cr_assert_eq(tds_collation_codepage(raw), t[i].cp, "sort id %u", t[i].sort);
    }
}

Test(collation, flags_version_and_utf8)
{
    /* Latin1_General_100_CI_AS_SC_UTF8: version 1, fUTF8 (bit 26). */
    static const uint8_t utf8[5] = { 0x09, 0x04, 0xD0, 0x14, 0x00 };
    tds_collation c;
    tds_collation_parse(utf8, &c);
    cr_assert_eq(c.lcid, 0x0409u);
    cr_assert_eq(c.version, 1);
    cr_assert(c.flags & TDS_COLL_UTF8);
    cr_assert_eq(c.codepage, 65001);
    /* UTF-8 wins over a SortId too. */
    static const uint8_t utf8_sort[5] = { 0x09, 0x04, 0xD0, 0x04, 0x34 };
    cr_assert_eq(tds_collation_codepage(utf8_sort), 65001);

    /* Latin1_General_BIN: only fBinary; Latin1_General_100_BIN2: fBinary2. */
    static const uint8_t bin[5] = { 0x09, 0x04, 0x00, 0x01, 0x00 };
    tds_collation_parse(bin, &c);
    cr_assert_eq(c.flags, TDS_COLL_BINARY);
    static const uint8_t bin2[5] = { 0x09, 0x04, 0x00, 0x12, 0x00 };
    tds_collation_parse(bin2, &c);
    cr_assert_eq(c.flags, TDS_COLL_BINARY2);
    cr_assert_eq(c.version, 1);
    /* Latin1_General_CS_AI: ignore-accent (bit 21) + kana + width. */
    static const uint8_t csai[5] = { 0x09, 0x04, 0xE0, 0x00, 0x00 };
    tds_collation_parse(csai, &c);
    cr_assert_eq(c.flags, TDS_COLL_IGNORE_ACCENT | TDS_COLL_IGNORE_KANA | TDS_COLL_IGNORE_WIDTH);
    /* Every bit of the top byte: reserved bit and version 0xF. */
    static const uint8_t top[5] = { 0xFF, 0xFF, 0xFF, 0xFB, 0x00 };
    tds_collation_parse(top, &c);
    cr_assert_eq(c.lcid, 0xFFFFFu);
    cr_assert_eq(c.flags, 0xBF);
    cr_assert_eq(c.version, 0x0F);
}

Test(collation, tables_are_sorted_and_consistent)
{
    for (size_t i = 1; i < tds__lang_cp_count; i++)
        cr_assert_lt(tds__lang_cps[i - 1].lang, tds__lang_cps[i].lang);
    cr_assert_eq(tds__sbcs_count, 12);
    for (size_t k = 0; k < tds__sbcs_count; k++) {
        const tds__sbcs *t = &tds__sbcs_tables[k];
        size_t defined = 0;
        for (int i = 0; i < 128; i++)
            defined += t->hi[i] != TDS__CP_UNDEF;
        cr_assert_eq(t->nrev, defined, "cp %u", t->codepage);
        for (size_t i = 0; i < t->nrev; i++) {
            if (i)
                cr_assert_lt(t->rev[i - 1].uni, t->rev[i].uni);
            cr_assert_eq(t->hi[t->rev[i].byte - 0x80], t->rev[i].uni);
        }
        for (size_t i = 1; i < t->ncomp; i++)
            cr_assert_lt(t->comp[i - 1].uni, t->comp[i].uni);
    }
}

/* --------------------------------------------------- single-byte pages */

static const char *glibc_name(uint16_t cp)
{
    switch (cp) {
    case 437: return "IBM437";
    case 850: return "IBM850";
    case 874: return "CP874";
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "CP%u", cp);
        return buf;
    }
    }
}

/* Every byte, one at a time: defined bytes decode to what glibc says and
 * encode back to themselves; undefined bytes are TDS_E_ENCODING (glibc
 * rejects them too). Then all defined bytes in one value, both ways. */
static void roundtrip_page(uint16_t cp, int want_undefined)
{
    tds_column c = cp_col(cp);
    iconv_t cd = iconv_open("UTF-8", glibc_name(cp));
    cr_assert_neq(cd, (iconv_t)-1, "glibc has no %s", glibc_name(cp));
    uint8_t all[256];
    size_t nall = 0;
    int undefined = 0;
    char ref_all[1024];
    size_t ref_all_len = 0;
    for (int b = 0; b < 256; b++) {
        uint8_t in = (uint8_t)b;
        char ref[8];
        char *ip = (char *)&in, *op = ref;
        size_t il = 1, ol = sizeof ref;
        iconv(cd, NULL, NULL, NULL, NULL);
        size_t r = iconv(cd, &ip, &il, &op, &ol);
        /* glibc's 1255 and 1258 hold a base letter back for composition. */
        if (r != (size_t)-1)
            r = iconv(cd, NULL, NULL, &op, &ol);
        char out[8];
        size_t len = 0;
        tds_value v = view(&in, 1);
        int rc = tds_value_utf8(&c, &v, out, sizeof out, &len);
        if (r == (size_t)-1) {
            cr_assert_eq(rc, TDS_E_ENCODING, "cp %u byte %#x: rc %d", cp, b, rc);
            cr_assert_geq(b, 0x80);
            undefined++;
            continue;
        }
        size_t rlen = (size_t)(op - ref);
        cr_assert_eq(rc, TDS_OK, "cp %u byte %#x: rc %d", cp, b, rc);
        cr_assert_eq(len, rlen, "cp %u byte %#x", cp, b);
        cr_assert_arr_eq(out, ref, rlen, "cp %u byte %#x", cp, b);
        uint8_t back[4];
        cr_assert_eq(tds_encode_text(&c, out, len, back, sizeof back), 1, "cp %u byte %#x", cp, b);
        cr_assert_eq(back[0], b);
        all[nall++] = in;
        memcpy(ref_all + ref_all_len, ref, rlen);
        ref_all_len += rlen;
    }
    iconv_close(cd);
    cr_assert_eq(undefined, want_undefined, "cp %u: %d undefined bytes", cp, undefined);

    char out[1024];
    size_t len = 0;
    tds_value v = view(all, nall);
    cr_assert_eq(tds_value_utf8(&c, &v, out, sizeof out, &len), TDS_OK);
    cr_assert_eq(len, ref_all_len);
    cr_assert_arr_eq(out, ref_all, len);
    uint8_t back[256];
    cr_assert_eq(tds_encode_text(&c, out, len, back, sizeof back), (int)nall);
    cr_assert_arr_eq(back, all, nall);
    cr_assert_eq(tds__encode_text_len(NULL, &c, out, len), (int)nall);
}

Test(sbcs, roundtrip_437) { roundtrip_page(437, 0); }
Test(sbcs, roundtrip_850) { roundtrip_page(850, 0); }
Test(sbcs, roundtrip_874) { roundtrip_page(874, 31); }
Test(sbcs, roundtrip_1250) { roundtrip_page(1250, 5); }
Test(sbcs, roundtrip_1251) { roundtrip_page(1251, 1); }
Test(sbcs, roundtrip_1252) { roundtrip_page(1252, 5); }
Test(sbcs, roundtrip_1253) { roundtrip_page(1253, 17); }
Test(sbcs, roundtrip_1254) { roundtrip_page(1254, 7); }
Test(sbcs, roundtrip_1255) { roundtrip_page(1255, 23); }
Test(sbcs, roundtrip_1256) { roundtrip_page(1256, 0); }
Test(sbcs, roundtrip_1257) { roundtrip_page(1257, 12); }
Test(sbcs, roundtrip_1258) { roundtrip_page(1258, 9); }

Test(sbcs, cp1252_bytes)
{
    tds_column c = cp_col(1252);
    expect_utf8(&c, "\x80", 1, S("\xE2\x82\xAC"));                 /* € */
    expect_utf8(&c, "caf\xE9 \x80" "5", 7, S("caf\xC3\xA9 \xE2\x82\xAC" "5"));
    expect_utf8(&c, "\x9F\xFF", 2, S("\xC5\xB8\xC3\xBF"));        /* Ÿÿ */
    expect_encode(&c, S("\xE2\x82\xAC"), "\x80", 1);
    expect_encode(&c, S("na\xC3\xAFve \xE2\x80\x93 ok"), "na\xEFve \x96 ok", 10);
    /* Undefined bytes are errors, not U+0081 or '?'. */
    static const uint8_t undef[] = { 0x81, 0x8D, 0x8F, 0x90, 0x9D };
    for (size_t i = 0; i < sizeof undef; i++) {
        uint8_t in[3] = { 'a', undef[i], 'b' };
        cr_assert_eq(decode_rc(&c, in, 3), TDS_E_ENCODING, "byte %#x", undef[i]);
    }
    /* U+0081 and characters outside the page cannot be encoded. */
    cr_assert_eq(tds_encode_text(&c, S("\xC2\x81"), (uint8_t[8]){0}, 8), TDS_E_ENCODING);
    cr_assert_eq(tds_encode_text(&c, S("x\xD0\x96"), (uint8_t[8]){0}, 8), TDS_E_ENCODING);
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xE6\x97\xA5")), TDS_E_ENCODING);
}

Test(sbcs, cp1251_cyrillic)
{
    tds_column c = cp_col(1251);
    /* "Привет, мир" */
    static const uint8_t w[] = { 0xCF, 0xF0, 0xE8, 0xE2, 0xE5, 0xF2, ',', ' ', 0xEC, 0xE8, 0xF0 };
    static const char u[] = "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBC\xD0\xB8\xD1\x80";
    expect_utf8(&c, w, sizeof w, u, sizeof u - 1);
    expect_encode(&c, u, sizeof u - 1, w, sizeof w);
    expect_utf8(&c, "\xA8\xB8", 2, S("\xD0\x81\xD1\x91"));         /* Ёё */
    expect_utf8(&c, "\x88", 1, S("\xE2\x82\xAC"));                 /* € is 0x88 here */
    cr_assert_eq(decode_rc(&c, "\x98", 1), TDS_E_ENCODING);
}

Test(sbcs, cp874_thai)
{
    tds_column c = cp_col(874);
    /* "สวัสดี" */
    static const uint8_t w[] = { 0xCA, 0xC7, 0xD1, 0xCA, 0xB4, 0xD5 };
    static const char u[] = "\xE0\xB8\xAA\xE0\xB8\xA7\xE0\xB8\xB1\xE0\xB8\xAA\xE0\xB8\x94\xE0\xB8\xB5";
    expect_utf8(&c, w, sizeof w, u, sizeof u - 1);
    expect_encode(&c, u, sizeof u - 1, w, sizeof w);
    expect_utf8(&c, "\x80", 1, S("\xE2\x82\xAC"));
    cr_assert_eq(decode_rc(&c, "\xDB", 1), TDS_E_ENCODING);
}

Test(sbcs, cp1258_vietnamese_combining_marks)
{
    tds_column c = cp_col(1258);
    /* "Tiê" + U+0301 (0xEC) "ng Vi" "ê" + U+0323 (0xF2) "t": "Tiếng Việt" as
     * 1258 spells it, base letters plus combining marks. */
    static const uint8_t w[] = { 'T', 'i', 0xEA, 0xEC, 'n', 'g', ' ', 'V', 'i', 0xEA, 0xF2, 't' };
    static const char u[] = "Ti\xC3\xAA\xCC\x81ng Vi\xC3\xAA\xCC\xA3t";
    expect_utf8(&c, w, sizeof w, u, sizeof u - 1);
    expect_encode(&c, u, sizeof u - 1, w, sizeof w);
    /* The same text precomposed (NFC: U+1EBF, U+1EC7) encodes the same way. */
    expect_encode(&c, S("Ti\xE1\xBA\xBFng Vi\xE1\xBB\x87t"), w, sizeof w);
    /* Every Vietnamese letter of U+1EA0..U+1EF9 can be stored. */
    for (uint32_t cp = 0x1EA0; cp <= 0x1EF9; cp++) {
        char s[3] = { (char)(0xE0 | (cp >> 12)), (char)(0x80 | ((cp >> 6) & 0x3F)),
                      (char)(0x80 | (cp & 0x3F)) };
        int n = tds__encode_text_len(NULL, &c, s, 3);
        cr_assert(n == 2 || n == 3, "U+%04X: %d", cp, n);
    }
    /* Combining marks themselves are bytes of 1258. */
    expect_utf8(&c, "\xCC\xD2\xDE\xEC\xF2", 5, S("\xCC\x80\xCC\x89\xCC\x83\xCC\x81\xCC\xA3"));
    /* Composed letters 1258 has as one byte stay one byte: Ă. */
    expect_encode(&c, S("\xC4\x82"), "\xC3", 1);
}

Test(sbcs, oem_pages_and_others)
{
    tds_column c437 = cp_col(437), c850 = cp_col(850);
    expect_utf8(&c437, "\xB0\xE1", 2, S("\xE2\x96\x91\xC3\x9F"));   /* ░ß */
    expect_utf8(&c850, "\x9B\xD5", 2, S("\xC3\xB8\xC4\xB1"));       /* øı */
    expect_encode(&c850, S("\xC3\xB8"), "\x9B", 1);
    tds_column c1253 = cp_col(1253);
    expect_utf8(&c1253, "\xE1\xE2\xE3", 3, S("\xCE\xB1\xCE\xB2\xCE\xB3")); /* αβγ */
    tds_column c1255 = cp_col(1255);
    expect_utf8(&c1255, "\xF9\xEC\xE5\xED", 4, S("\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D")); /* שלום */
    tds_column c1256 = cp_col(1256);
    expect_utf8(&c1256, "\xC7", 1, S("\xD8\xA7"));                  /* ا */
    tds_column c1254 = cp_col(1254);
    expect_encode(&c1254, S("\xC4\xB1\xC5\x9F"), "\xFD\xFE", 2);     /* ış */
    tds_column c1250 = cp_col(1250);
    expect_encode(&c1250, S("\xC5\x99"), "\xF8", 1);                /* ř */
    tds_column c1257 = cp_col(1257);
    expect_encode(&c1257, S("\xC5\xA1"), "\xF0", 1);                /* š */
}

Test(sbcs, zeroed_collation_is_1252)
{
    tds_column c = kind_col(TDS_T_BIGVARCHR, TDS_K_CHAR);
    expect_utf8(&c, "\x80", 1, S("\xE2\x82\xAC"));
    expect_encode(&c, S("\xE2\x82\xAC"), "\x80", 1);
}

Test(sbcs, unknown_code_page)
{
    static const uint8_t raw[5] = { 0x09, 0x04, 0xD0, 0x00, 0x01 }; /* SortId 1 */
    tds_column c = char_col(raw);
    cr_assert_eq(c.collation.codepage, 0);
    expect_utf8(&c, "plain", 5, S("plain"));        /* ASCII is common to all */
    cr_assert_eq(decode_rc(&c, "\xE9", 1), TDS_E_UNSUPPORTED);
    expect_encode(&c, S("plain"), "plain", 5);
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xC3\xA9")), TDS_E_UNSUPPORTED);
}

Test(sbcs, long_ascii_runs_and_embedded_nul)
{
    tds_column c = cp_col(1252);
    char in[300], want[400];
    size_t wl = 0;
    for (int i = 0; i < 300; i++) {
        in[i] = (i % 37 == 36) ? (char)0xE9 : (char)('a' + i % 26);
        if (i == 5)
            in[i] = '\0';
        if ((uint8_t)in[i] == 0xE9) {
            want[wl++] = (char)0xC3;
            want[wl++] = (char)0xA9;
        } else {
            want[wl++] = in[i];
        }
    }
    char out[512];
    size_t len;
    tds_value v = view(in, sizeof in);
    cr_assert_eq(tds_value_utf8(&c, &v, out, sizeof out, &len), TDS_OK);
    cr_assert_eq(len, wl);
    cr_assert_arr_eq(out, want, wl);
    uint8_t back[300];
    cr_assert_eq(tds_encode_text(&c, out, len, back, sizeof back), 300);
    cr_assert_arr_eq(back, in, 300);
}

/* ------------------------------------------------- double-byte pages */

Test(dbcs, cp932_japanese)
{
    tds_column c = cp_col(932);
    /* "日本語 あア ｱ" */
    static const uint8_t w[] = { 0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA, ' ', 0x82, 0xA0,
                                 0x83, 0x41, ' ', 0xB1 };
    static const char u[] = "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xE3\x81\x82\xE3\x82\xA2 \xEF\xBD\xB1";
    expect_utf8(&c, w, sizeof w, u, sizeof u - 1);
    expect_encode(&c, u, sizeof u - 1, w, sizeof w);
    /* 0x5C is the backslash in Microsoft's 932. */
    expect_utf8(&c, "\x5C", 1, S("\\"));
    /* A lead byte cut off at the end, an invalid trail, an unmapped byte. */
    cr_assert_eq(decode_rc(&c, "\x93\xFA\x96", 3), TDS_E_ENCODING);
    cr_assert_eq(decode_rc(&c, "\x82\x20", 2), TDS_E_ENCODING);
    cr_assert_eq(decode_rc(&c, "\xA0", 1), TDS_E_ENCODING);
    /* Characters 932 lacks. */
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xF0\x9F\x98\x80")), TDS_E_ENCODING);
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xD0\x96\xC4\x8D")), TDS_E_ENCODING);
    /* Invalid UTF-8 is caught before iconv. */
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xE6\x97")), TDS_E_ENCODING);
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xED\xA0\x80")), TDS_E_ENCODING);
}

Test(dbcs, cp936_949_950)
{
    tds_column c936 = cp_col(936), c949 = cp_col(949), c950 = cp_col(950);
    /* 你好 */
    expect_utf8(&c936, "\xC4\xE3\xBA\xC3", 4, S("\xE4\xBD\xA0\xE5\xA5\xBD"));
    expect_encode(&c936, S("\xE4\xBD\xA0\xE5\xA5\xBD"), "\xC4\xE3\xBA\xC3", 4);
    /* 한국어 */
    expect_utf8(&c949, "\xC7\xD1\xB1\xB9\xBE\xEE", 6, S("\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"));
    expect_encode(&c949, S("\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4"), "\xC7\xD1\xB1\xB9\xBE\xEE", 6);
    /* 中文 */
    expect_utf8(&c950, "\xA4\xA4\xA4\xE5", 4, S("\xE4\xB8\xAD\xE6\x96\x87"));
    expect_encode(&c950, S("\xE4\xB8\xAD\xE6\x96\x87"), "\xA4\xA4\xA4\xE5", 4);
    cr_assert_eq(decode_rc(&c950, "\xA4", 1), TDS_E_ENCODING);
}

/* Each thread has its own tds_conv (as each session has), and also uses
 * the plain functions (a private converter per call). */
static void *dbcs_worker(void *arg)
{
    (void)arg;
    tds_column c = cp_col(932);
    tds_conv *cv = tds_conv_new();
    if (!cv)
        return (void *)1;
    void *bad = NULL;
    for (int i = 0; i < 500 && !bad; i++) {
        tds_conv *use = i % 2 ? cv : NULL;
        char out[32];
        size_t len;
        tds_value v = view("\x93\xFA\x96\x7B", 4);
        if (tds_value_utf8_cv(use, &c, &v, out, sizeof out, &len) != TDS_OK || len != 6 ||
            memcmp(out, "\xE6\x97\xA5\xE6\x9C\xAC", 6) != 0)
            bad = (void *)1;
        uint8_t back[8];
        if (!bad && (tds_encode_text_cv(use, &c, out, len, back, sizeof back) != 4 ||
                     memcmp(back, "\x93\xFA\x96\x7B", 4)))
            bad = (void *)1;
    }
    tds_conv_free(cv);
    return bad;
}

Test(dbcs, concurrent_use_of_cached_converters)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, dbcs_worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        cr_assert_null(r);
    }
}

/* A kept converter starts every call from its initial state: an error
 * (a cut-off character) leaves nothing behind for the next call. */
Test(dbcs, kept_converter_after_an_error)
{
    tds_column c = cp_col(932);
    tds_conv *cv = tds_conv_new();
    cr_assert_not_null(cv);
    char out[32];
    size_t len;
    tds_value cut = view("\x93", 1);
    cr_assert_eq(tds_value_utf8_cv(cv, &c, &cut, out, sizeof out, &len), TDS_E_ENCODING);
    tds_value ok = view("\x93\xFA\x96\x7B", 4);
    cr_assert_eq(tds_value_utf8_cv(cv, &c, &ok, out, sizeof out, &len), TDS_OK);
    cr_assert_eq(len, 6);
    cr_assert_arr_eq(out, "\xE6\x97\xA5\xE6\x9C\xAC", 6);
    cr_assert_eq(tds_encode_text_cv(cv, &c, S("\xE6\x97"), (uint8_t *)out, sizeof out), TDS_E_ENCODING);
    cr_assert_eq(tds_encode_text_cv(cv, &c, S("\xE6\x97\xA5"), (uint8_t *)out, sizeof out), 2);
    /* tds_value_text through the same tds_conv */
    cr_assert_eq(tds_value_text_cv(cv, &c, &ok, out, sizeof out, &len), TDS_OK);
    cr_assert_eq(len, 6);
    tds_conv_free(cv);
    tds_conv_free(NULL);
}

/* ------------------------------------------------------------ UTF-8 */

Test(utf8, collation_copies_valid_text)
{
    tds_column c = cp_col(65001);
    static const char u[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF0\x90\x8D\x88z"; /* aé€😀𐍈z */
    expect_utf8(&c, u, sizeof u - 1, u, sizeof u - 1);
    expect_encode(&c, u, sizeof u - 1, u, sizeof u - 1);
    static const char *bad[] = {
        "\xC0\xAF",           /* overlong '/' */
        "\xED\xA0\x80",       /* surrogate */
        "\xF0\x9F\x98",       /* cut off */
        "\xF4\x90\x80\x80",   /* above U+10FFFF */
        "\x80",               /* stray continuation */
        "\xFF",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(decode_rc(&c, bad[i], strlen(bad[i])), TDS_E_ENCODING, "case %zu", i);
        cr_assert_eq(tds__encode_text_len(NULL, &c, bad[i], strlen(bad[i])), TDS_E_ENCODING, "case %zu", i);
    }
}

Test(utf8, utf8_flagged_view)
{
    tds_column c = cp_col(1251);
    tds_value v = { (const uint8_t *)"\xE2\x82\xAC", 3, TDS_VF_UTF8 };
    char out[8];
    size_t len;
    cr_assert_eq(tds_value_utf8(&c, &v, out, sizeof out, &len), TDS_OK);
    cr_assert_eq(len, 3);
    cr_assert_str_eq(out, "\xE2\x82\xAC");
}

/* ------------------------------------------------------------ nchar/xml */

Test(nchar, utf16_with_surrogate_pairs)
{
    tds_column c = kind_col(TDS_T_NVARCHAR, TDS_K_NCHAR);
    /* "A€😀" */
    static const uint8_t w[] = { 'A', 0, 0xAC, 0x20, 0x3D, 0xD8, 0x00, 0xDE };
    expect_utf8(&c, w, sizeof w, S("A\xE2\x82\xAC\xF0\x9F\x98\x80"));
    expect_encode(&c, S("A\xE2\x82\xAC\xF0\x9F\x98\x80"), w, sizeof w);
    /* Lone surrogates, a reversed pair, odd byte count. */
    cr_assert_eq(decode_rc(&c, "\x3D\xD8", 2), TDS_E_ENCODING);
    cr_assert_eq(decode_rc(&c, "\x00\xDE\x3D\xD8", 4), TDS_E_ENCODING);
    cr_assert_eq(decode_rc(&c, "A\0B", 3), TDS_E_ENCODING);
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xED\xA0\xBD")), TDS_E_ENCODING);
    cr_assert_eq(tds__encode_text_len(NULL, &c, S("\xF0\x9F\x98\x80")), 4);
}

Test(nchar, xml_is_utf16)
{
    tds_column c = kind_col(TDS_T_XML, TDS_K_XML);
    static const uint8_t w[] = { '<', 0, 'a', 0, '>', 0, 0xE9, 0, '<', 0, '/', 0, 'a', 0, '>', 0 };
    expect_utf8(&c, w, sizeof w, S("<a>\xC3\xA9</a>"));
    expect_encode(&c, S("<a>\xC3\xA9</a>"), w, sizeof w);
}

/* ------------------------------------------------- sizes and errors */

/* For every cap from 0 to need + 1: TDS_E_SPACE with *out_len = need
 * below need + 1, success (NUL-terminated) from there, never a write past
 * cap. */
static void check_caps(const tds_column *c, const void *in, size_t n, size_t need)
{
    char ref[256];
    size_t rl;
    tds_value v = view(in, n);
    cr_assert_eq(tds_value_utf8(c, &v, ref, sizeof ref, &rl), TDS_OK);
    cr_assert_eq(rl, need);
    size_t len = 77;
    cr_assert_eq(tds_value_utf8(c, &v, NULL, 0, &len), TDS_E_SPACE);
    cr_assert_eq(len, need);
    for (size_t cap = 0; cap <= need + 1; cap++) {
        char *out = malloc(cap ? cap : 1); /* ASan catches a write past cap */
        len = 77;
        int rc = tds_value_utf8(c, &v, out, cap, &len);
        cr_assert_eq(len, need, "cap %zu", cap);
        if (cap <= need) {
            cr_assert_eq(rc, TDS_E_SPACE, "cap %zu rc %d", cap, rc);
        } else {
            cr_assert_eq(rc, TDS_OK, "cap %zu", cap);
            cr_assert_arr_eq(out, ref, need + 1);
        }
        free(out);
    }
}

static void check_encode_caps(const tds_column *c, const char *utf8, size_t n, int need)
{
    for (size_t cap = 0; cap <= (size_t)need; cap++) {
        uint8_t *out = malloc(cap ? cap : 1);
        int rc = tds_encode_text(c, utf8, n, out, cap);
        cr_assert_eq(rc, cap < (size_t)need ? TDS_E_SPACE : need, "cap %zu rc %d", cap, rc);
        free(out);
    }
    cr_assert_eq(tds_encode_text(c, utf8, n, NULL, 0), need ? TDS_E_SPACE : 0);
}

Test(sizes, space_reports_needed_length)
{
    tds_column c1252 = cp_col(1252), c932 = cp_col(932), c8 = cp_col(65001);
    tds_column nc = kind_col(TDS_T_NVARCHAR, TDS_K_NCHAR);
    check_caps(&c1252, "ab\x80\xE9xyz", 7, 10);
    check_caps(&c1252, "", 0, 0);
    check_caps(&c932, "\x93\xFA\x96\x7B" "abc\x82\xA0", 9, 12);
    check_caps(&c8, "\xF0\x9F\x98\x80!", 5, 5);
    check_caps(&nc, "\x3D\xD8\x00\xDE" "A\0", 6, 5);
    /* 1000 € signs: longer than iconv's scratch and than a small buffer. */
    static uint8_t many[1000];
    memset(many, 0x80, sizeof many);
    size_t len;
    tds_value v = view(many, sizeof many);
    char small[10];
    cr_assert_eq(tds_value_utf8(&c1252, &v, small, sizeof small, &len), TDS_E_SPACE);
    cr_assert_eq(len, 3000);
    static uint8_t kanji[1000];
    for (size_t i = 0; i < sizeof kanji; i += 2)
        memcpy(kanji + i, "\x93\xFA", 2);
    v = view(kanji, sizeof kanji);
    cr_assert_eq(tds_value_utf8(&c932, &v, small, sizeof small, &len), TDS_E_SPACE);
    cr_assert_eq(len, 1500);

    check_encode_caps(&c1252, S("a\xE2\x82\xAC" "b"), 3);
    check_encode_caps(&c932, S("\xE6\x97\xA5\xE6\x9C\xAC" "x"), 5);
    check_encode_caps(&c8, S("\xF0\x9F\x98\x80"), 4);
    check_encode_caps(&nc, S("\xF0\x9F\x98\x80" "a"), 6);
    check_encode_caps(&c1252, "", 0, 0);
}

Test(sizes, encoding_error_wins_over_space)
{
    tds_column c1252 = cp_col(1252), c932 = cp_col(932);
    tds_column nc = kind_col(TDS_T_NVARCHAR, TDS_K_NCHAR);
    char out[2];
    size_t len;
    tds_value v = view("abcdef\x81", 7);
    cr_assert_eq(tds_value_utf8(&c1252, &v, out, sizeof out, &len), TDS_E_ENCODING);
    v = view("\x93\xFA\x93\xFA\x93", 5);
    cr_assert_eq(tds_value_utf8(&c932, &v, out, sizeof out, &len), TDS_E_ENCODING);
    v = view("a\0b\0\x3D\xD8", 6);
    cr_assert_eq(tds_value_utf8(&nc, &v, out, sizeof out, &len), TDS_E_ENCODING);
    uint8_t b[2];
    cr_assert_eq(tds_encode_text(&c1252, S("abcdef\xE6\x97\xA5"), b, sizeof b), TDS_E_ENCODING);
    cr_assert_eq(tds_encode_text(&nc, S("abcdef\xFF"), b, sizeof b), TDS_E_ENCODING);
}

Test(errors, wrong_kinds_and_nulls)
{
    tds_column ic = kind_col(TDS_T_INT4, TDS_K_INT);
    tds_column bc = kind_col(TDS_T_BIGVARBIN, TDS_K_BINARY);
    tds_column cc = cp_col(1252);
    char out[8];
    size_t len;
    tds_value v = view("abc", 3);
    cr_assert_eq(tds_value_utf8(&ic, &v, out, sizeof out, &len), TDS_E_TYPE);
    cr_assert_eq(tds_value_utf8(&bc, &v, out, sizeof out, &len), TDS_E_TYPE);
    cr_assert_eq(tds_encode_text(&ic, "1", 1, (uint8_t *)out, sizeof out), TDS_E_TYPE);
    cr_assert_eq(tds__encode_text_len(NULL, &bc, "1", 1), TDS_E_TYPE);
    tds_value nul = { NULL, 0, TDS_VF_NULL };
    cr_assert_eq(tds_value_utf8(&cc, &nul, out, sizeof out, &len), TDS_E_TYPE);
    cr_assert_eq(tds_value_utf8(&cc, &v, NULL, 8, &len), TDS_E_ARG);
    cr_assert_eq(tds_value_utf8(&cc, &v, out, sizeof out, NULL), TDS_E_ARG);
    /* A column whose kind was left unset is judged by its wire type. */
    tds_column raw_nc = kind_col(TDS_T_NVARCHAR, TDS_K_UNKNOWN);
    tds_column raw_int = kind_col(TDS_T_INT4, TDS_K_UNKNOWN);
    tds_value w16 = view("h\0i\0", 4);
    cr_assert_eq(tds_value_utf8(&raw_nc, &w16, out, sizeof out, &len), TDS_OK);
    cr_assert_str_eq(out, "hi");
    cr_assert_eq(tds_value_utf8(&raw_int, &w16, out, sizeof out, &len), TDS_E_TYPE);
    cr_assert_eq(tds__encode_text_len(NULL, &raw_nc, "hi", 2), 4);
    /* An empty value is an empty string. */
    tds_value empty = { NULL, 0, 0 };
    cr_assert_eq(tds_value_utf8(&cc, &empty, out, sizeof out, &len), TDS_OK);
    cr_assert_eq(len, 0);
    cr_assert_eq(out[0], '\0');
}

/* The four-units-at-a-time ASCII path of tds_utf16_to_utf8: a non-ASCII
 * character at every position of a 12-character string, every output
 * capacity from 0 up, against a one-unit-at-a-time reference. */
Test(utf16, ascii_blocks_and_capacity)
{
    for (int pos = -1; pos < 12; pos++) {
        uint8_t in[24];
        char want[32];
        size_t wn = 0;
        for (int i = 0; i < 12; i++) {
            uint16_t u = i == pos ? 0x00E9 : (uint16_t)('a' + i);
            in[2 * i] = (uint8_t)u;
            in[2 * i + 1] = (uint8_t)(u >> 8);
            if (u < 0x80) {
                want[wn++] = (char)u;
            } else {
                want[wn++] = (char)(0xC0 | (u >> 6));
                want[wn++] = (char)(0x80 | (u & 0x3F));
            }
        }
        cr_assert_eq(tds_utf16_to_utf8(in, sizeof in, NULL, 0), (int)wn);
        for (size_t cap = 0; cap <= wn + 2; cap++) {
            char out[32];
            int n = tds_utf16_to_utf8(in, sizeof in, out, cap);
            if (cap < wn) {
                cr_assert_eq(n, TDS_E_SPACE, "pos %d cap %zu", pos, cap);
            } else {
                cr_assert_eq(n, (int)wn, "pos %d cap %zu", pos, cap);
                cr_assert_eq(memcmp(out, want, wn), 0, "pos %d", pos);
            }
        }
    }
}
