/*
 * test_token_types.c — COLMETADATA and row values for every data type:
 * TYPE_INFO forms (collations, text table names, UDT_INFO, XML_INFO),
 * edge and NULL values, PLP values of 0, 1 and many chunks (a chunk
 * boundary splitting a UTF-16 surrogate pair), NULL PLP followed by more
 * columns, sql_variant, and the complete-buffer helpers
 * tds__typeinfo_decode / tds__value_decode used by RPC decoding. Every
 * stream is replayed three ways.
 */
#include "token_build.h"

static const tds_session_opts client = {0};

typedef struct tcase {
    const char *typeinfo;  /* TYPE_INFO hex */
    const char *value;     /* value hex, with its length prefix */
    const char *null;      /* the NULL value's hex, or NULL if not nullable */
    const char *text;      /* expected canonical text */
} tcase;

#define COLL "09 04 D0 00 34"

static const tcase cases[] = {
    { "30", "FF", NULL, "255" },
    { "32", "01", NULL, "1" },
    { "34", "00 80", NULL, "-32768" },
    { "38", "FF FF FF 7F", NULL, "2147483647" },
    { "7F", "00 00 00 00 00 00 00 80", NULL, "-9223372036854775808" },
    { "3B", "00 00 C0 3F", NULL, "1.5" },
    { "3E", "00 00 00 00 00 00 F8 BF", NULL, "-1.5" },
    { "3C", "00 00 00 00 39 30 00 00", NULL, "1.2345" },
    { "7A", "C7 CF FF FF", NULL, "-1.2345" },
    { "3D", "00 00 00 00 00 00 00 00", NULL, "1900-01-01 00:00:00.000" },
    { "3A", "00 00 00 00", NULL, "1900-01-01 00:00:00" },
    { "1F", "", NULL, "NULL" },
    { "26 01", "01 07", "00", "7" },
    { "26 02", "02 FF FF", "00", "-1" },
    { "26 04", "04 00 00 00 80", "00", "-2147483648" },
    { "26 08", "08 FF FF FF FF FF FF FF 7F", "00", "9223372036854775807" },
    { "68 01", "01 01", "00", "1" },
    { "6D 04", "04 00 00 20 41", "00", "10" },
    { "6D 08", "08 00 00 00 00 00 00 24 40", "00", "10" },
    { "6E 04", "04 10 27 00 00", "00", "1.0000" },
    { "6E 08", "08 00 00 00 00 10 27 00 00", "00", "1.0000" },
    { "6F 04", "04 00 00 00 00", "00", "1900-01-01 00:00:00" },
    { "6F 08", "08 00 00 00 00 00 00 00 00", "00", "1900-01-01 00:00:00.000" },
    { "24 10", "10 33 22 11 00 55 44 77 66 88 99 AA BB CC DD EE FF", "00",
      "00112233-4455-6677-8899-AABBCCDDEEFF" },
    { "6A 11 26 02", "11 01 39 30 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "00", "123.45" },
    { "6C 05 09 00", "05 00 01 00 00 00", "00", "-1" },
    { "6A 09 12 04", "09 01 01 00 00 00 00 00 00 00", "00", "0.0001" },
    { "28", "03 00 00 00", "00", "0001-01-01" },
    { "28", "03 DA B9 37", "00", "9999-12-31" },
    { "29 07", "05 FF BF 69 2A C9", "00", "23:59:59.9999999" },
    { "29 00", "03 00 00 00", "00", "00:00:00" },
    { "2A 03", "07 00 00 00 00 00 00 00", "00", "0001-01-01 00:00:00.000" },
    { "2B 00", "08 00 00 00 00 00 00 3C 00", "00", "0001-01-01 01:00:00 +01:00" },
    { "AF 05 00 " COLL, "05 00 61 62 63 20 20", "FF FF", "abc  " },
    { "A7 0A 00 " COLL, "03 00 61 62 63", "FF FF", "abc" },
    { "A7 0A 00 " COLL, "00 00", "FF FF", "" },
    { "AD 04 00", "04 00 DE AD BE EF", "FF FF", "0xDEADBEEF" },
    { "A5 10 00", "02 00 00 FF", "FF FF", "0x00FF" },
    { "EF 04 00 " COLL, "04 00 61 00 62 00", "FF FF", "ab" },
    { "E7 14 00 " COLL, "04 00 3D D8 00 DE", "FF FF", "\xf0\x9f\x98\x80" },
    { "27 0A", "03 61 62 63", "00", "abc" },
    { "2F 03", "03 61 62 63", "00", "abc" },
    { "25 04", "02 01 02", "00", "0x0102" },
    { "2D 02", "02 01 02", "00", "0x0102" },
    /* sql_variant: int 42, nvarchar(10) 'hi' */
    { "62 50 1F 00 00", "06 00 00 00 38 00 2A 00 00 00", "00 00 00 00", "42" },
    { "62 50 1F 00 00", "0D 00 00 00 E7 07 " COLL " 0A 00 68 00 69 00", "00 00 00 00", "hi" },
    /* (max) and PLP types */
    { "A7 FF FF " COLL, "03 00 00 00 00 00 00 00 03 00 00 00 61 62 63 00 00 00 00",
      "FF FF FF FF FF FF FF FF", "abc" },
    { "A5 FF FF", "00 00 00 00 00 00 00 00 00 00 00 00", "FF FF FF FF FF FF FF FF", "0x" },
    { "E7 FF FF " COLL, "FE FF FF FF FF FF FF FF 02 00 00 00 61 00 02 00 00 00 62 00 00 00 00 00",
      "FF FF FF FF FF FF FF FF", "ab" },
    { "F1 00", "04 00 00 00 00 00 00 00 04 00 00 00 3C 00 61 00 00 00 00 00",
      "FF FF FF FF FF FF FF FF", "<a" },
};

/* One result set: the column, a row with the value, a row with NULL. */
static void one_type(const tcase *tc)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 2);
    tb_col(&b, 1, tc->typeinfo, "v");
    tb_col(&b, 0, "38", "k");
    tb_u8(&b, TDS_TOK_ROW); tb_hex(&b, tc->value); tb_u32(&b, 1);
    if (tc->null) {
        tb_u8(&b, TDS_TOK_ROW); tb_hex(&b, tc->null); tb_u32(&b, 2);
    }
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, tc->null ? 2 : 1);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    char expect[256];
    snprintf(expect, sizeof expect, "\nROW %s | 1\n%s", tc->text, tc->null ? "ROW NULL | 2\n" : "");
    cr_assert_not_null(strstr(t, expect), "type %s: %s", tc->typeinfo, t);
    cr_assert_null(strstr(t, "ERROR"), "type %s: %s", tc->typeinfo, t);
    free(t);
    free(wire);
    free(b.p);
}

Test(token_types, every_type_value_and_null)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        one_type(&cases[i]);
}

/* Metadata fields the transcript does not show. */
static void colmeta_fields(tds_session *s, const tds_event *ev, int i, void *ud);

static int decode(const tds_session_opts *opts, const uint8_t *wire, size_t len,
                  void (*cb)(tds_session *, const tds_event *, int, void *), void *ud)
{
    tds_session *s = tds_session_new(opts);
    size_t off = 0;
    int n = 0, rc;
    tds_event ev;
    for (;;) {
        while ((rc = tds_next(s, &ev)) == 1)
            cb(s, &ev, n++, ud);
        cr_assert_geq(rc, 0, "%s", tds_strerror(rc));
        if (off == len)
            break;
        ptrdiff_t took = tds_feed(s, wire + off, len - off);
        cr_assert_gt(took, 0);
        off += (size_t)took;
    }
    tds_session_free(s);
    return n;
}

static void colmeta_fields(tds_session *s, const tds_event *ev, int i, void *ud)
{
    (void)s; (void)ud;
    if (i == 0) {
        cr_assert_eq(ev->type, TDS_EV_COLMETADATA);
        cr_assert_eq(ev->u.colmeta.ncols, 6);
        const tds_column *c = ev->u.colmeta.cols;
        /* text with a 3-part table name, Cyrillic collation */
        cr_assert_eq(c[0].type, TDS_T_TEXT);
        cr_assert_eq(c[0].kind, TDS_K_CHAR);
        cr_assert_str_eq(c[0].table.ptr, "db.dbo.t");
        cr_assert_eq(c[0].collation.codepage, 1251);
        cr_assert_eq(c[0].max_len, 0x7FFFFFFF);
        cr_assert_str_eq(c[1].table.ptr, "t");
        cr_assert_eq(c[1].kind, TDS_K_NCHAR);
        cr_assert_eq(c[2].kind, TDS_K_BINARY);
        /* UDT */
        cr_assert_eq(c[3].type, TDS_T_UDT);
        cr_assert(c[3].is_plp);
        cr_assert_str_eq(c[3].udt_db.ptr, "db");
        cr_assert_str_eq(c[3].udt_schema.ptr, "sys");
        cr_assert_str_eq(c[3].udt_type.ptr, "geometry");
        cr_assert_str_eq(c[3].udt_assembly.ptr, "Microsoft.SqlServer.Types");
        /* XML with a schema collection */
        cr_assert_eq(c[4].kind, TDS_K_XML);
        cr_assert_str_eq(c[4].xml_db.ptr, "db");
        cr_assert_str_eq(c[4].xml_schema.ptr, "dbo");
        cr_assert_str_eq(c[4].xml_collection.ptr, "coll");
        cr_assert_str_eq(c[5].name.ptr, "\xc3\xa9t\xc3\xa9");
        cr_assert_eq(c[5].user_type, 80);
        cr_assert_eq(c[5].flags, TDS_COL_NULLABLE | TDS_COL_IDENTITY);
        cr_assert_eq(c[5].ordinal, 5);
    }
    if (i == 1) {
        cr_assert_eq(ev->type, TDS_EV_ROW);
        const tds_value *v = ev->u.row.values;
        cr_assert_eq(v[0].len, 3);
        cr_assert_eq(memcmp(v[0].ptr, "\xc0\xc1\xc2", 3), 0);
        cr_assert(v[1].flags & TDS_VF_NULL);
        cr_assert_eq(v[2].len, 0);
        cr_assert(!(v[2].flags & TDS_VF_NULL));
        cr_assert_eq(v[3].len, 2);
        cr_assert(v[4].flags & TDS_VF_NULL);
        int64_t x;
        cr_assert_eq(tds_value_int(&ev->u.row.cols[5], &v[5], &x), TDS_OK);
        cr_assert_eq(x, 5);
    }
}

static void rich_metadata(tb *b)
{
    tb_u8(b, TDS_TOK_COLMETADATA); tb_u16(b, 6);
    /* text, collation Cyrillic_General_CI_AS (LCID 0x419), 3-part table */
    tb_u32(b, 0); tb_u16(b, 1);
    tb_hex(b, "23 FF FF FF 7F 19 04 D0 00 00");
    tb_u8(b, 3); tb_usvarchar(b, "db"); tb_usvarchar(b, "dbo"); tb_usvarchar(b, "t");
    tb_bvarchar(b, "tx");
    /* ntext, 1-part table */
    tb_u32(b, 0); tb_u16(b, 1);
    tb_hex(b, "63 FE FF FF 7F " COLL);
    tb_u8(b, 1); tb_usvarchar(b, "t");
    tb_bvarchar(b, "nt");
    /* image */
    tb_u32(b, 0); tb_u16(b, 1);
    tb_hex(b, "22 FF FF FF 7F");
    tb_u8(b, 1); tb_usvarchar(b, "t");
    tb_bvarchar(b, "im");
    /* UDT */
    tb_u32(b, 0); tb_u16(b, 1);
    tb_hex(b, "F0 FF FF");
    tb_bvarchar(b, "db"); tb_bvarchar(b, "sys"); tb_bvarchar(b, "geometry");
    tb_usvarchar(b, "Microsoft.SqlServer.Types");
    tb_bvarchar(b, "g");
    /* XML with schema */
    tb_u32(b, 0); tb_u16(b, 1);
    tb_hex(b, "F1 01"); tb_bvarchar(b, "db"); tb_bvarchar(b, "dbo"); tb_usvarchar(b, "coll");
    tb_bvarchar(b, "x");
    /* int identity, user type 80, name with non-ASCII */
    tb_u32(b, 80); tb_u16(b, TDS_COL_NULLABLE | TDS_COL_IDENTITY);
    tb_hex(b, "38");
    tb_hex(b, "03 E9 00 74 00 E9 00");
    /* row: text 3 bytes, ntext NULL, image empty, udt 2 bytes, xml NULL, 5 */
    tb_u8(b, TDS_TOK_ROW);
    tb_u8(b, 16); for (int i = 0; i < 16; i++) tb_u8(b, (uint8_t)i);
    tb_hex(b, "01 02 03 04 05 06 07 08"); tb_u32(b, 3); tb_hex(b, "C0 C1 C2");
    tb_u8(b, 0);
    tb_u8(b, 16); for (int i = 0; i < 16; i++) tb_u8(b, 0);
    tb_hex(b, "00 00 00 00 00 00 00 00"); tb_u32(b, 0);
    tb_u64(b, 2); tb_u32(b, 2); tb_hex(b, "AB CD"); tb_u32(b, 0);
    tb_u64(b, TDS__PLP_NULL);
    tb_u32(b, 5);
    tb_done(b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 1);
}

Test(token_types, text_udt_xml_metadata)
{
    tb b = {0};
    rich_metadata(&b);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_not_null(strstr(t, "\nROW \xd0\x90\xd0\x91\xd0\x92 | NULL | 0x | 0xABCD | NULL | 5\n"), "%s", t);
    free(t);
    cr_assert_eq(decode(&client, wire, len, colmeta_fields, NULL), 4);
    free(wire);
    free(b.p);
}

/* ------------------------------------------------------------ PLP cases */

/* nvarchar(max) values in many chunk shapes, then an int. */
Test(token_types, plp_chunk_shapes)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 3);
    tb_col(&b, 1, "E7 FF FF " COLL, "a");
    tb_col(&b, 1, "E7 FF FF " COLL, "b");
    tb_col(&b, 1, "38", "n");
    /* 0 chunks (empty), then NULL followed by more columns */
    tb_u8(&b, TDS_TOK_ROW); tb_u64(&b, 0); tb_u32(&b, 0); tb_u64(&b, TDS__PLP_NULL); tb_u32(&b, 1);
    /* NULL first, then one chunk */
    tb_u8(&b, TDS_TOK_ROW); tb_u64(&b, TDS__PLP_NULL);
    tb_u64(&b, 4); tb_u32(&b, 4); tb_u16s(&b, "hi"); tb_u32(&b, 0); tb_u32(&b, 2);
    /* U+1F600 split between two chunks (high surrogate | low surrogate),
     * unknown length; then 300 one-byte... chunks of 2 bytes */
    tb_u8(&b, TDS_TOK_ROW);
    tb_u64(&b, TDS__PLP_UNKNOWN);
    tb_u32(&b, 4); tb_hex(&b, "61 00 3D D8"); tb_u32(&b, 4); tb_hex(&b, "00 DE 62 00"); tb_u32(&b, 0);
    tb_u64(&b, 600);
    for (int i = 0; i < 300; i++) { tb_u32(&b, 2); tb_u16s(&b, "z"); }
    tb_u32(&b, 0);
    tb_u32(&b, 3);
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 3);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    char zs[301];
    memset(zs, 'z', 300);
    zs[300] = 0;
    char expect[700];
    snprintf(expect, sizeof expect,
             "ROW  | NULL | 1\nROW NULL | hi | 2\nROW a\xf0\x9f\x98\x80" "b | %s | 3\nDONE", zs);
    cr_assert_not_null(strstr(t, expect), "%s", t);
    free(t);
    free(wire);
    free(b.p);
}

/* ------------------------------------------- complete-buffer helpers */

Test(token_types, typeinfo_and_value_decode)
{
    tds_arena a;
    tds_arena_init(&a, NULL, 0);
    size_t n;
    uint8_t *buf = tv_hex("E7 FF FF " COLL
                          "FE FF FF FF FF FF FF FF 02 00 00 00 61 00 04 00 00 00 62 00 63 00 00 00 00 00",
                          &n);
    tds_rd rd;
    tds_rd_init(&rd, buf, n);
    tds_column c;
    cr_assert_eq(tds__typeinfo_decode(&rd, &c, &a), TDS_OK);
    cr_assert_eq(c.type, TDS_T_NVARCHAR);
    cr_assert(c.is_plp);
    cr_assert_eq(c.collation.codepage, 1252);
    tds_value v;
    cr_assert_eq(tds__value_decode(&rd, &c, &v, &a), TDS_OK);
    cr_assert_eq(v.len, 6);
    cr_assert_eq(memcmp(v.ptr, "a\0b\0c\0", 6), 0);
    cr_assert(v.flags & TDS_VF_ASSEMBLED);
    cr_assert_eq(tds_rd_left(&rd), 0);
    /* every truncation is TDS_E_TRUNCATED, never a read past the end */
    for (size_t k = 0; k < n; k++) {
        tds_rd_init(&rd, buf, k);
        int rc = tds__typeinfo_decode(&rd, &c, &a);
        if (rc == TDS_OK)
            rc = tds__value_decode(&rd, &c, &v, &a);
        cr_assert_eq(rc, TDS_E_TRUNCATED, "at %zu", k);
    }
    free(buf);
    /* a PLP whose chunks exceed its total */
    buf = tv_hex("A5 FF FF 02 00 00 00 00 00 00 00 03 00 00 00 01 02 03 00 00 00 00", &n);
    tds_rd_init(&rd, buf, n);
    cr_assert_eq(tds__typeinfo_decode(&rd, &c, &a), TDS_OK);
    cr_assert_eq(tds__value_decode(&rd, &c, &v, &a), TDS_E_PROTO);
    free(buf);
    /* unknown type id */
    buf = tv_hex("99 00", &n);
    tds_rd_init(&rd, buf, n);
    cr_assert_eq(tds__typeinfo_decode(&rd, &c, &a), TDS_E_PROTO);
    free(buf);
    tds_arena_free(&a);
}
