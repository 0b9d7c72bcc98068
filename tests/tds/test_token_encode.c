/*
 * test_token_encode.c — token encoders (token_encode.c) and TYPE_INFO /
 * value framing (typeinfo_put.c) against hand-computed bytes from MS-TDS
 * 2.2.7 and 2.2.5. Each test encodes into one REPLY message on a server
 * session and compares the payload (packet headers stripped) exactly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "encode_int.h"
#include "vectors.h"

static tds_session *srv(uint32_t psize)
{
    tds_session_opts o = {.role = TDS_ROLE_SERVER, .packet_size = psize};
    tds_session *s = tds_session_new(&o);
    cr_assert_not_null(s);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_REPLY, 0), TDS_OK);
    return s;
}

/* Ends the message and returns its payload with packet headers removed,
 * checking every header on the way. */
static uint8_t *payload(tds_session *s, size_t *len)
{
    cr_assert_eq(tds_msg_end(s), TDS_OK);
    const uint8_t *p;
    size_t n;
    tds_send_buf(s, &p, &n);
    uint8_t *out = malloc(n + 1);
    size_t o = 0, off = 0;
    uint8_t id = 1;
    while (off < n) {
        cr_assert_geq(n - off, 8);
        size_t plen = tds_be16(p + off + 2);
        cr_assert_geq(plen, 8);
        cr_assert_leq(plen, tds_packet_size(s));
        cr_assert_eq(p[off], TDS_PKT_REPLY);
        cr_assert_eq(p[off + 6], id++);
        bool last = off + plen == n;
        cr_assert_eq(p[off + 1], last ? TDS_ST_EOM : 0);
        memcpy(out + o, p + off + 8, plen - 8);
        o += plen - 8;
        off += plen;
    }
    tds_send_ack(s, n);
    *len = o;
    return out;
}

/* Compares the session's payload with hex and frees the session. */
static void expect_hex(tds_session *s, const char *hex)
{
    size_t n, wn;
    uint8_t *got = payload(s, &n);
    uint8_t *want = tv_hex(hex, &wn);
    if (n != wn || memcmp(got, want, n) != 0) {
        char buf[4096];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 4 < sizeof buf; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%02X ", got[i]);
        cr_assert_fail("payload mismatch (%zu vs %zu bytes): %s", n, wn, buf);
    }
    free(got);
    free(want);
    tds_session_free(s);
}

static tds_str S(const char *p) { return (tds_str){p, p ? strlen(p) : 0}; }

static tds_column col(uint8_t type, uint32_t max_len, uint8_t prec, uint8_t scale)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, max_len, prec, scale), TDS_OK, "type %02x", type);
    return c;
}

static tds_value raw(const void *p, uint32_t n) { return (tds_value){p, n, 0}; }
static tds_value utf8(const char *p) { return (tds_value){(const uint8_t *)p, (uint32_t)strlen(p), TDS_VF_UTF8}; }
static const tds_value NUL = {NULL, 0, TDS_VF_NULL};

/* ------------------------------------------------------------- simple */

Test(token_encode, requires_open_message)
{
    tds_session_opts o = {.role = TDS_ROLE_SERVER};
    tds_session *s = tds_session_new(&o);
    cr_assert_eq(tds_put_done(s, TDS_TOK_DONE, 0, 0, 0), TDS_E_STATE);
    cr_assert_eq(tds_put_returnstatus(s, 0), TDS_E_STATE);
    cr_assert_eq(tds_send_pending(s), 0);
    tds_session_free(s);
}

Test(token_encode, done_8_byte_count)
{
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_done(s, TDS_TOK_DONE, TDS_DONE_COUNT | TDS_DONE_MORE, 0xC1, 0x0000000100000002ull), TDS_OK);
    cr_assert_eq(tds_put_done(s, TDS_TOK_DONEPROC, TDS_DONE_FINAL, 0xE0, 0), TDS_OK);
    cr_assert_eq(tds_put_done(s, TDS_TOK_DONEINPROC, TDS_DONE_ATTN, 0, UINT64_MAX), TDS_OK);
    cr_assert_eq(tds_put_done(s, 0x42, 0, 0, 0), TDS_E_ARG);
    expect_hex(s, "FD 11 00 C1 00 02 00 00 00 01 00 00 00"
                  "FE 00 00 E0 00 00 00 00 00 00 00 00 00"
                  "FF 20 00 00 00 FF FF FF FF FF FF FF FF");
}

Test(token_encode, returnstatus)
{
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_returnstatus(s, -1), TDS_OK);
    cr_assert_eq(tds_put_returnstatus(s, 0x01020304), TDS_OK);
    expect_hex(s, "79 FF FF FF FF 79 04 03 02 01");
}

Test(token_encode, loginack)
{
    tds_session *s = srv(0);
    tds_loginack a = {.interface = 1, .tds_version = TDS_VERSION_74,
                      .prog_name = S("Microsoft SQL Server"), .major = 16, .minor = 0, .build = 4135};
    cr_assert_eq(tds_put_loginack(s, &a), TDS_OK);
    expect_hex(s, "AD 32 00 01 74 00 00 04 14"
                  "4D 00 69 00 63 00 72 00 6F 00 73 00 6F 00 66 00 74 00 20 00"
                  "53 00 51 00 4C 00 20 00 53 00 65 00 72 00 76 00 65 00 72 00"
                  "10 00 10 27");
}

/* ------------------------------------------------------------ ENVCHANGE */

Test(token_encode, envchange_string_types)
{
    static const uint8_t types[] = {TDS_ENV_DATABASE, TDS_ENV_LANGUAGE, TDS_ENV_CHARSET,
                                    TDS_ENV_SORT_LCID, TDS_ENV_SORT_FLAGS,
                                    TDS_ENV_MIRROR_PARTNER, TDS_ENV_USER_INSTANCE};
    for (size_t i = 0; i < sizeof types; i++) {
        tds_session *s = srv(0);
        tds_envchange e = {.type = types[i], .new_text = S("ab"), .old_text = S("c")};
        cr_assert_eq(tds_put_envchange(s, &e), TDS_OK);
        char hex[128];
        snprintf(hex, sizeof hex, "E3 09 00 %02X 02 61 00 62 00 01 63 00", types[i]);
        expect_hex(s, hex);
    }
}

Test(token_encode, envchange_database_and_packet_size_as_string)
{
    tds_session *s = srv(0);
    tds_envchange db = {.type = TDS_ENV_DATABASE, .new_text = S("master")};
    tds_envchange ps = {.type = TDS_ENV_PACKETSIZE, .new_text = S("4096"), .old_text = S("512")};
    cr_assert_eq(tds_put_envchange(s, &db), TDS_OK);
    cr_assert_eq(tds_put_envchange(s, &ps), TDS_OK);
    expect_hex(s, "E3 0F 00 01 06 6D 00 61 00 73 00 74 00 65 00 72 00 00"
                  "E3 11 00 04 04 34 00 30 00 39 00 36 00 03 35 00 31 00 32 00");
}

Test(token_encode, envchange_binary_types)
{
    static const uint8_t coll[5] = {0x09, 0x04, 0xD0, 0x00, 0x34};
    static const uint8_t tran[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    tds_session *s = srv(0);
    tds_envchange c = {.type = TDS_ENV_COLLATION, .new_raw = coll, .new_raw_len = 5};
    cr_assert_eq(tds_put_envchange(s, &c), TDS_OK);
    tds_envchange b = {.type = TDS_ENV_BEGIN_TRAN, .new_raw = tran, .new_raw_len = 8};
    cr_assert_eq(tds_put_envchange(s, &b), TDS_OK);
    static const uint8_t olds[] = {TDS_ENV_COMMIT_TRAN, TDS_ENV_ROLLBACK_TRAN, TDS_ENV_ENLIST_DTC,
                                   TDS_ENV_DEFECT_TRAN, TDS_ENV_TRAN_MANAGER_ADDR, TDS_ENV_TRAN_ENDED};
    for (size_t i = 0; i < sizeof olds; i++) {
        tds_envchange e = {.type = olds[i], .old_raw = tran, .old_raw_len = 8};
        cr_assert_eq(tds_put_envchange(s, &e), TDS_OK);
    }
    tds_envchange r = {.type = TDS_ENV_RESET_ACK};
    cr_assert_eq(tds_put_envchange(s, &r), TDS_OK);
    expect_hex(s, "E3 08 00 07 05 09 04 D0 00 34 00"
                  "E3 0B 00 08 08 01 02 03 04 05 06 07 08 00"
                  "E3 0B 00 09 00 08 01 02 03 04 05 06 07 08"
                  "E3 0B 00 0A 00 08 01 02 03 04 05 06 07 08"
                  "E3 0B 00 0B 00 08 01 02 03 04 05 06 07 08"
                  "E3 0B 00 0C 00 08 01 02 03 04 05 06 07 08"
                  "E3 0B 00 10 00 08 01 02 03 04 05 06 07 08"
                  "E3 0B 00 11 00 08 01 02 03 04 05 06 07 08"
                  "E3 03 00 12 00 00");
}

Test(token_encode, envchange_promote_and_routing)
{
    static const uint8_t dtc[3] = {0xAA, 0xBB, 0xCC};
    tds_session *s = srv(0);
    tds_envchange p = {.type = TDS_ENV_PROMOTE_TRAN, .new_raw = dtc, .new_raw_len = 3};
    cr_assert_eq(tds_put_envchange(s, &p), TDS_OK);
    tds_envchange r = {.type = TDS_ENV_ROUTING, .routing_port = 1433, .routing_server = S("srv")};
    cr_assert_eq(tds_put_envchange(s, &r), TDS_OK);
    expect_hex(s, "E3 09 00 0F 03 00 00 00 AA BB CC 00"
                  "E3 10 00 14 0B 00 00 99 05 03 00 73 00 72 00 76 00 00 00");
}

Test(token_encode, envchange_rejects_bad_input_untouched)
{
    tds_session *s = srv(0);
    tds_envchange bad = {.type = 14};
    cr_assert_eq(tds_put_envchange(s, &bad), TDS_E_ARG);
    tds_envchange enc = {.type = TDS_ENV_DATABASE, .new_text = S("\xff")};
    cr_assert_eq(tds_put_envchange(s, &enc), TDS_E_ENCODING);
    char big[300];
    memset(big, 'a', sizeof big);
    tds_envchange lng = {.type = TDS_ENV_DATABASE, .new_text = {big, sizeof big}};
    cr_assert_eq(tds_put_envchange(s, &lng), TDS_E_RANGE);
    uint8_t raw[256] = {0};
    tds_envchange rb = {.type = TDS_ENV_BEGIN_TRAN, .new_raw = raw, .new_raw_len = 256};
    cr_assert_eq(tds_put_envchange(s, &rb), TDS_E_ARG);
    cr_assert_eq(tds_put_returnstatus(s, 0), TDS_OK);
    expect_hex(s, "79 00 00 00 00");
}

/* -------------------------------------------------------- ERROR / INFO */

Test(token_encode, error_and_info_non_bmp)
{
    tds_session *s = srv(0);
    tds_server_msg m = {.number = 50000, .state = 1, .severity = 16,
                        .message = S("x\xF0\x9F\x98\x80"), .server = S("S"), .line = 7};
    cr_assert_eq(tds_put_error(s, &m), TDS_OK);
    m.severity = 0;
    m.procedure = S("p");
    cr_assert_eq(tds_put_info(s, &m), TDS_OK);
    expect_hex(s, "AA 16 00 50 C3 00 00 01 10 03 00 78 00 3D D8 00 DE 01 53 00 00 07 00 00 00"
                  "AB 18 00 50 C3 00 00 01 00 03 00 78 00 3D D8 00 DE 01 53 00 01 70 00 07 00 00 00");
}

Test(token_encode, error_long_message)
{
    /* A 3000-character message crosses the transcoder's piece size. */
    size_t n = 3000;
    char *txt = malloc(n);
    for (size_t i = 0; i < n; i++)
        txt[i] = (char)('a' + i % 26);
    tds_session *s = srv(512);
    tds_server_msg m = {.number = 1, .message = {txt, n}};
    cr_assert_eq(tds_put_error(s, &m), TDS_OK);
    size_t len;
    uint8_t *p = payload(s, &len);
    cr_assert_eq(len, 3 + 6 + 2 + 2 * n + 1 + 1 + 4);
    cr_assert_eq(tds_le16(p + 1), len - 3);
    cr_assert_eq(tds_le16(p + 9), n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(tds_le16(p + 11 + 2 * i), (uint16_t)txt[i]);
    free(p);
    free(txt);
    tds_session_free(s);
}

/* ------------------------------------------------------ FEATUREEXTACK */

Test(token_encode, featureextack)
{
    tds_session *s = srv(0);
    static const uint8_t one = 1;
    tds_feature_ack acks[2] = {{TDS_FEAT_UTF8_SUPPORT, &one, 1}, {TDS_FEAT_FEDAUTH, NULL, 0}};
    cr_assert_eq(tds_put_featureextack(s, acks, 2), TDS_OK);
    cr_assert_eq(tds_put_featureextack(s, NULL, 0), TDS_OK);
    tds_feature_ack bad = {TDS_FEAT_TERMINATOR, NULL, 0};
    cr_assert_eq(tds_put_featureextack(s, &bad, 1), TDS_E_ARG);
    expect_hex(s, "AE 0A 01 00 00 00 01 02 00 00 00 00 FF AE FF");
}

/* ------------------------------------------------------------ TYPE_INFO */

static void ti(tds_column c, const char *hex)
{
    tds_session *s = srv(0);
    cr_assert_eq(tds__typeinfo_put(s, &c), TDS_OK, "type %02x", c.type);
    expect_hex(s, hex);
}

Test(typeinfo_put, every_type)
{
    ti(col(TDS_T_INT4, 0, 0, 0), "38");
    ti(col(TDS_T_FLT8, 0, 0, 0), "3E");
    ti(col(TDS_T_BIT, 0, 0, 0), "32");
    ti(col(TDS_T_INTN, 1, 0, 0), "26 01");
    ti(col(TDS_T_INTN, 2, 0, 0), "26 02");
    ti(col(TDS_T_INTN, 4, 0, 0), "26 04");
    ti(col(TDS_T_INTN, 8, 0, 0), "26 08");
    ti(col(TDS_T_BITN, 1, 0, 0), "68 01");
    ti(col(TDS_T_FLTN, 8, 0, 0), "6D 08");
    ti(col(TDS_T_FLTN, 4, 0, 0), "6D 04");
    ti(col(TDS_T_MONEYN, 8, 0, 0), "6E 08");
    ti(col(TDS_T_DATETIMN, 8, 0, 0), "6F 08");
    ti(col(TDS_T_DECIMALN, 0, 18, 4), "6A 09 12 04");
    ti(col(TDS_T_NUMERICN, 0, 38, 10), "6C 11 26 0A");
    ti(col(TDS_T_NUMERICN, 17, 5, 0), "6C 11 05 00");
    ti(col(TDS_T_GUID, 16, 0, 0), "24 10");
    ti(col(TDS_T_DATEN, 0, 0, 0), "28");
    ti(col(TDS_T_TIMEN, 0, 0, 5), "29 05");
    ti(col(TDS_T_DATETIME2N, 0, 0, 7), "2A 07");
    ti(col(TDS_T_DATETIME2N, 0, 0, 0), "2A 00");
    ti(col(TDS_T_DATETIMEOFFSETN, 0, 0, 3), "2B 03");
    ti(col(TDS_T_NVARCHAR, 20, 0, 0), "E7 14 00 09 04 D0 00 34");
    ti(col(TDS_T_NVARCHAR, 0xFFFF, 0, 0), "E7 FF FF 09 04 D0 00 34");
    ti(col(TDS_T_NCHAR, 10, 0, 0), "EF 0A 00 09 04 D0 00 34");
    ti(col(TDS_T_BIGVARCHR, 8000, 0, 0), "A7 40 1F 09 04 D0 00 34");
    ti(col(TDS_T_BIGCHAR, 10, 0, 0), "AF 0A 00 09 04 D0 00 34");
    ti(col(TDS_T_BIGVARBIN, 100, 0, 0), "A5 64 00");
    ti(col(TDS_T_BIGVARBIN, 0xFFFF, 0, 0), "A5 FF FF");
    ti(col(TDS_T_BIGBINARY, 16, 0, 0), "AD 10 00");
    ti(col(TDS_T_TEXT, 0x7FFFFFFF, 0, 0), "23 FF FF FF 7F 09 04 D0 00 34");
    ti(col(TDS_T_NTEXT, 0x7FFFFFFE, 0, 0), "63 FE FF FF 7F 09 04 D0 00 34");
    ti(col(TDS_T_IMAGE, 0x7FFFFFFF, 0, 0), "22 FF FF FF 7F");
    ti(col(TDS_T_VARIANT, 0, 0, 0), "62 50 1F 00 00");
    ti(col(TDS_T_XML, 0, 0, 0), "F1 00");
    tds_column x = col(TDS_T_XML, 0, 0, 0);
    x.xml_db = S("d");
    x.xml_schema = S("s");
    x.xml_collection = S("c");
    ti(x, "F1 01 01 64 00 01 73 00 01 00 63 00");
    tds_column u = col(TDS_T_UDT, 0, 0, 0);
    u.udt_db = S("d");
    u.udt_schema = S("s");
    u.udt_type = S("t");
    u.udt_assembly = S("a");
    ti(u, "F0 FF FF 01 64 00 01 73 00 01 74 00 01 00 61 00");
}

Test(typeinfo_put, rejects_bad_metadata)
{
    tds_session *s = srv(0);
    tds_column c = col(TDS_T_DECIMALN, 0, 18, 4);
    c.precision = 0;
    cr_assert_eq(tds__typeinfo_put(s, &c), TDS_E_ARG);
    c = col(TDS_T_TIMEN, 0, 0, 7);
    c.scale = 8;
    cr_assert_eq(tds__typeinfo_put(s, &c), TDS_E_ARG);
    c.type = 0x99;
    cr_assert_eq(tds__typeinfo_put(s, &c), TDS_E_TYPE);
    expect_hex(s, "");
}

/* ------------------------------------------------------- value framing */

static void vp(tds_column c, tds_value v, const char *hex)
{
    tds_session *s = srv(0);
    cr_assert_eq(tds__value_put(s, &c, &v), TDS_OK, "type %02x", c.type);
    expect_hex(s, hex);
}

static void vp_err(tds_column c, tds_value v, int err)
{
    tds_session *s = srv(0);
    cr_assert_eq(tds__value_put(s, &c, &v), err, "type %02x", c.type);
    expect_hex(s, "");
}

Test(value_put, fixed_and_bytelen)
{
    static const uint8_t i4[4] = {4, 3, 2, 1}, i8[8] = {1, 2, 3, 4, 5, 6, 7, 8}, one = 1;
    vp(col(TDS_T_INT4, 0, 0, 0), raw(i4, 4), "04 03 02 01");
    vp_err(col(TDS_T_INT4, 0, 0, 0), NUL, TDS_E_ARG);
    vp_err(col(TDS_T_INT4, 0, 0, 0), raw(i8, 8), TDS_E_ARG);
    vp(col(TDS_T_INTN, 1, 0, 0), raw(&one, 1), "01 01");
    vp(col(TDS_T_INTN, 2, 0, 0), raw(i4, 2), "02 04 03");
    vp(col(TDS_T_INTN, 4, 0, 0), raw(i4, 4), "04 04 03 02 01");
    vp(col(TDS_T_INTN, 8, 0, 0), raw(i8, 8), "08 01 02 03 04 05 06 07 08");
    vp(col(TDS_T_INTN, 8, 0, 0), raw(i4, 4), "04 04 03 02 01"); /* N types: width per value */
    vp_err(col(TDS_T_INTN, 8, 0, 0), raw(i4, 3), TDS_E_ARG);
    vp_err(col(TDS_T_INTN, 4, 0, 0), raw(i8, 8), TDS_E_RANGE);
    vp(col(TDS_T_BITN, 1, 0, 0), raw(&one, 1), "01 01");
    vp(col(TDS_T_FLTN, 8, 0, 0), raw(i8, 8), "08 01 02 03 04 05 06 07 08");
    vp(col(TDS_T_FLTN, 4, 0, 0), raw(i4, 4), "04 04 03 02 01");
    static const uint8_t dec[9] = {1, 0x39, 0x30, 0, 0, 0, 0, 0, 0};
    vp(col(TDS_T_DECIMALN, 0, 18, 4), raw(dec, 9), "09 01 39 30 00 00 00 00 00 00");
    vp(col(TDS_T_NUMERICN, 0, 5, 0), raw(dec, 5), "05 01 39 30 00 00");
    static const uint8_t g[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    vp(col(TDS_T_GUID, 16, 0, 0), raw(g, 16), "10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F");
    vp(col(TDS_T_DATETIME2N, 0, 0, 7), raw(g, 8), "08 00 01 02 03 04 05 06 07");
    vp(col(TDS_T_DATETIME2N, 0, 0, 0), raw(g, 6), "06 00 01 02 03 04 05");
    vp_err(col(TDS_T_DATETIME2N, 0, 0, 7), raw(g, 6), TDS_E_ARG);
    vp(col(TDS_T_DATETIMEOFFSETN, 0, 0, 7), raw(g, 10), "0A 00 01 02 03 04 05 06 07 08 09");
    vp(col(TDS_T_DATETIMEOFFSETN, 0, 0, 2), raw(g, 8), "08 00 01 02 03 04 05 06 07");
    vp(col(TDS_T_DATEN, 0, 0, 0), raw(g, 3), "03 00 01 02");
    /* NULL of every BYTELEN type is a zero length. */
    static const uint8_t bl[] = {TDS_T_INTN, TDS_T_BITN, TDS_T_FLTN, TDS_T_GUID, TDS_T_DATEN,
                                 TDS_T_TIMEN, TDS_T_DATETIME2N, TDS_T_DATETIMEOFFSETN, TDS_T_MONEYN,
                                 TDS_T_DATETIMN};
    for (size_t i = 0; i < sizeof bl; i++)
        vp(col(bl[i], bl[i] == TDS_T_GUID ? 16 : bl[i] == TDS_T_BITN ? 1 : 8, 0, 0), NUL, "00");
    vp(col(TDS_T_DECIMALN, 0, 18, 4), NUL, "00");
    vp(col(TDS_T_NUMERICN, 0, 38, 0), NUL, "00");
}

Test(value_put, ushortlen)
{
    static const uint8_t ab[4] = {0x61, 0, 0x62, 0};
    tds_column nv = col(TDS_T_NVARCHAR, 20, 0, 0);
    vp(nv, raw(ab, 4), "04 00 61 00 62 00");
    vp(nv, raw(ab, 0), "00 00");
    vp(nv, NUL, "FF FF");
    vp(nv, utf8("\xC3\xA9"), "02 00 E9 00");
    vp(nv, utf8("x\xF0\x9F\x98\x80"), "06 00 78 00 3D D8 00 DE");
    vp_err(nv, raw(ab, 3), TDS_E_ARG);                       /* odd UTF-16 */
    vp_err(nv, utf8("abcdefghijk"), TDS_E_RANGE);            /* 22 > 20 bytes */
    vp_err(nv, utf8("\xC3"), TDS_E_ENCODING);
    tds_column vc = col(TDS_T_BIGVARCHR, 10, 0, 0);
    vp(vc, utf8("caf\xC3\xA9"), "04 00 63 61 66 E9");      /* cp1252 */
    vp_err(vc, utf8("\xE2\x98\x83"), TDS_E_ENCODING);      /* snowman: not in 1252 */
    tds_column vb = col(TDS_T_BIGVARBIN, 100, 0, 0);
    vp(vb, raw(ab, 3), "03 00 61 00 62");
    vp(vb, NUL, "FF FF");
    vp_err(vb, utf8("a"), TDS_E_TYPE);
    vp(col(TDS_T_BIGBINARY, 2, 0, 0), raw(ab, 2), "02 00 61 00");
    vp(col(TDS_T_NCHAR, 4, 0, 0), NUL, "FF FF");
}

Test(value_put, plp_null_empty_one_many_chunks)
{
    tds_column vb = col(TDS_T_BIGVARBIN, 0xFFFF, 0, 0);
    vp(vb, NUL, "FF FF FF FF FF FF FF FF");
    vp(vb, raw("", 0), "00 00 00 00 00 00 00 00 00 00 00 00");
    vp(vb, raw("ab", 2), "02 00 00 00 00 00 00 00 02 00 00 00 61 62 00 00 00 00");
    tds_column nv = col(TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    vp(nv, utf8(""), "00 00 00 00 00 00 00 00 00 00 00 00");
    vp(nv, utf8("a"), "02 00 00 00 00 00 00 00 02 00 00 00 61 00 00 00 00 00");
    vp(col(TDS_T_XML, 0, 0, 0), NUL, "FF FF FF FF FF FF FF FF");

    /* 20000 raw bytes: chunks of 8000, 8000, 4000. */
    size_t n = 20000;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 31);
    tds_session *s = srv(4096);
    tds_value v = raw(big, (uint32_t)n);
    cr_assert_eq(tds__value_put(s, &vb, &v), TDS_OK);
    size_t len;
    uint8_t *p = payload(s, &len);
    cr_assert_eq(len, 8 + 3 * 4 + n + 4);
    cr_assert_eq(tds_le64(p), n);
    size_t off = 8, got = 0;
    static const uint32_t want[] = {8000, 8000, 4000, 0};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(tds_le32(p + off), want[k]);
        off += 4;
        cr_assert_eq(memcmp(p + off, big + got, want[k]), 0);
        off += want[k];
        got += want[k];
    }
    free(p);
    tds_session_free(s);
    free(big);
}

Test(value_put, plp_utf8_many_chunks)
{
    /* 5000 characters, some outside the BMP: transcoded in pieces, each
     * piece one chunk of at most 8000 bytes, never splitting a pair. */
    size_t n = 0;
    char *txt = malloc(5000 * 4);
    for (size_t i = 0; i < 5000; i++) {
        if (i % 7 == 3) {
            memcpy(txt + n, "\xF0\x9F\x98\x80", 4);
            n += 4;
        } else {
            txt[n++] = (char)('a' + i % 26);
        }
    }
    int want16 = tds_utf8_to_utf16(txt, n, NULL, 0);
    uint8_t *ref = malloc((size_t)want16);
    tds_utf8_to_utf16(txt, n, ref, (size_t)want16);
    tds_column nv = col(TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    tds_session *s = srv(512);
    tds_value v = {(const uint8_t *)txt, (uint32_t)n, TDS_VF_UTF8};
    cr_assert_eq(tds__value_put(s, &nv, &v), TDS_OK);
    size_t len;
    uint8_t *p = payload(s, &len);
    cr_assert_eq(tds_le64(p), (uint64_t)want16);
    size_t off = 8, got = 0;
    int chunks = 0;
    for (;;) {
        uint32_t k = tds_le32(p + off);
        off += 4;
        if (!k)
            break;
        cr_assert_leq(k, 8000);
        cr_assert_eq(k % 2, 0);
        cr_assert_eq(memcmp(p + off, ref + got, k), 0);
        /* no chunk ends in the middle of a surrogate pair */
        uint16_t last = tds_le16(p + off + k - 2);
        cr_assert(!(last >= 0xD800 && last <= 0xDBFF));
        off += k;
        got += k;
        chunks++;
    }
    cr_assert_gt(chunks, 1);
    cr_assert_eq(got, (size_t)want16);
    cr_assert_eq(off, len);
    free(p);
    free(ref);
    free(txt);
    tds_session_free(s);
}

Test(value_put, text_ntext_image_and_variant)
{
    tds_column t = col(TDS_T_TEXT, 0x7FFFFFFF, 0, 0);
    vp(t, NUL, "00");
    vp(t, raw("ab", 2), "10 00000000000000000000000000000000 0000000000000000 02 00 00 00 61 62");
    tds_column nt = col(TDS_T_NTEXT, 0x7FFFFFFE, 0, 0);
    vp(nt, utf8("a"), "10 00000000000000000000000000000000 0000000000000000 02 00 00 00 61 00");
    vp(col(TDS_T_IMAGE, 0x7FFFFFFF, 0, 0), NUL, "00");
    tds_column v = col(TDS_T_VARIANT, 0, 0, 0);
    vp(v, NUL, "00 00 00 00");
    static const uint8_t iv[] = {0x38, 0x00, 0x2A, 0, 0, 0}; /* int 42 */
    vp(v, raw(iv, 6), "06 00 00 00 38 00 2A 00 00 00");
    vp_err(v, raw(iv, 1), TDS_E_ARG);
}

/* ------------------------------------------------------------ COLMETADATA */

Test(token_encode, colmetadata)
{
    tds_column c[3];
    c[0] = col(TDS_T_INTN, 4, 0, 0);
    c[0].name = S("id");
    c[1] = col(TDS_T_NVARCHAR, 20, 0, 0);
    c[1].name = S("n");
    c[1].user_type = 7;
    c[1].flags = TDS_COL_NULLABLE | TDS_COL_UPDATEABLE;
    c[2] = col(TDS_T_NTEXT, 0x7FFFFFFE, 0, 0);
    c[2].name = S("x");
    c[2].table = S("dbo.t");
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_colmetadata(s, c, 3), TDS_OK);
    cr_assert_eq(tds_put_colmetadata(s, NULL, 0), TDS_OK);
    expect_hex(s, "81 03 00"
                  "00 00 00 00 01 00 26 04 02 69 00 64 00"
                  "07 00 00 00 0D 00 E7 14 00 09 04 D0 00 34 01 6E 00"
                  "00 00 00 00 01 00 63 FE FF FF 7F 09 04 D0 00 34 02 03 00 64 00 62 00 6F 00 01 00 74 00 01 78 00"
                  "81 FF FF");
}

/* ------------------------------------------------------------------ rows */

Test(token_encode, row_fast_and_general_paths_agree)
{
    static const uint8_t i4[4] = {0x2A, 0, 0, 0}, one = 1;
    tds_column c[4];
    c[0] = col(TDS_T_INTN, 4, 0, 0);
    c[1] = col(TDS_T_NVARCHAR, 20, 0, 0);
    c[2] = col(TDS_T_BIT, 0, 0, 0);
    c[3] = col(TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    tds_value v[4] = {raw(i4, 4), NUL, raw(&one, 1), NUL};
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_row(s, c, v, 3), TDS_OK);                /* fast */
    cr_assert_eq(tds_put_row(s, c, v, 4), TDS_OK);                /* PLP: general */
    v[1] = utf8("a");
    cr_assert_eq(tds_put_row(s, c, v, 3), TDS_OK);                /* UTF-8: general */
    v[2] = NUL;
    cr_assert_eq(tds_put_row(s, c, v, 3), TDS_E_ARG);             /* NULL bit */
    expect_hex(s, "D1 04 2A 00 00 00 FF FF 01"
                  "D1 04 2A 00 00 00 FF FF 01 FF FF FF FF FF FF FF FF"
                  "D1 04 2A 00 00 00 02 00 61 00 01");
}

Test(token_encode, nbcrow_bitmap)
{
    tds_column c[10];
    tds_value v[10];
    static uint8_t b[10];
    for (int i = 0; i < 10; i++) {
        c[i] = col(TDS_T_INT1, 0, 0, 0);
        b[i] = (uint8_t)i;
        v[i] = (i == 0 || i == 3 || i == 9) ? NUL : raw(&b[i], 1);
    }
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_nbcrow(s, c, v, 10), TDS_OK);
    /* general path too: a UTF-8 value forces it */
    c[1] = col(TDS_T_NVARCHAR, 8, 0, 0);
    v[1] = utf8("z");
    cr_assert_eq(tds_put_nbcrow(s, c, v, 10), TDS_OK);
    expect_hex(s, "D2 09 02 01 02 04 05 06 07 08"
                  "D2 09 02 02 00 7A 00 02 04 05 06 07 08");
}

Test(token_encode, rows_split_across_512_byte_packets)
{
    static const uint8_t i8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t txt[6] = {'a', 0, 'b', 0, 'c', 0};
    tds_column c[2] = {col(TDS_T_INTN, 8, 0, 0), col(TDS_T_NVARCHAR, 40, 0, 0)};
    tds_value v[2] = {raw(i8, 8), raw(txt, 6)};
    tds_session *s = srv(512);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(tds_put_row(s, c, v, 2), TDS_OK);
    size_t len;
    uint8_t *p = payload(s, &len);
    static const uint8_t row[] = {0xD1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 6, 0, 'a', 0, 'b', 0, 'c', 0};
    cr_assert_eq(len, 200 * sizeof row);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(memcmp(p + i * sizeof row, row, sizeof row), 0, "row %d", i);
    free(p);
    tds_session_free(s);
}

Test(token_encode, returnvalue)
{
    static const uint8_t i4[4] = {0x2A, 0, 0, 0};
    tds_column c = col(TDS_T_INTN, 4, 0, 0);
    tds_value v = raw(i4, 4);
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_returnvalue(s, 1, "@p", TDS_PARAM_BYREF, &c, &v), TDS_OK);
    cr_assert_eq(tds_put_returnvalue(s, 2, NULL, 1, &c, &NUL), TDS_OK);
    expect_hex(s, "AC 01 00 02 40 00 70 00 01 00 00 00 00 01 00 26 04 04 2A 00 00 00"
                  "AC 02 00 00 01 00 00 00 00 01 00 26 04 00");
}

Test(token_encode, order_colinfo_tabname)
{
    static const uint16_t ord[2] = {1, 2};
    static const uint8_t data[3] = {1, 2, 3};
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_order(s, ord, 2), TDS_OK);
    cr_assert_eq(tds_put_colinfo(s, data, 3), TDS_OK);
    cr_assert_eq(tds_put_tabname(s, data, 3), TDS_OK);
    expect_hex(s, "A9 04 00 01 00 02 00 A5 03 00 01 02 03 A4 03 00 01 02 03");
}

Test(token_encode, plp_unknown_length)
{
    tds_session *s = srv(0);
    cr_assert_eq(tds_put_plp_begin(s, false), TDS_OK);
    cr_assert_eq(tds_put_plp_chunk(s, "abc", 3), TDS_OK);
    cr_assert_eq(tds_put_plp_chunk(s, "", 0), TDS_OK); /* skipped */
    cr_assert_eq(tds_put_plp_chunk(s, "d", 1), TDS_OK);
    cr_assert_eq(tds_put_plp_end(s), TDS_OK);
    cr_assert_eq(tds_put_plp_begin(s, true), TDS_OK);
    expect_hex(s, "FE FF FF FF FF FF FF FF 03 00 00 00 61 62 63 01 00 00 00 64 00 00 00 00"
                  "FF FF FF FF FF FF FF FF");
}

/* ------------------------------------- round trip through the decoder */

typedef struct rt_col {
    tds_column c;
    tds_value v[3]; /* the values of rows 1..3 */
} rt_col;

static void same_value(const tds_column *c, const tds_value *want, const tds_value *got, int col_i)
{
    cr_assert_eq(got->flags & TDS_VF_NULL, want->flags & TDS_VF_NULL, "col %d", col_i);
    if (want->flags & TDS_VF_NULL)
        return;
    const uint8_t *w = want->ptr;
    uint32_t wl = want->len;
    uint8_t buf[64];
    if (want->flags & TDS_VF_UTF8) {
        int n = tds_encode_text(c, (const char *)want->ptr, want->len, buf, sizeof buf);
        cr_assert_geq(n, 0);
        w = buf;
        wl = (uint32_t)n;
    }
    cr_assert_eq(got->len, wl, "col %d: len %u vs %u", col_i, got->len, wl);
    if (wl)
        cr_assert_eq(memcmp(got->ptr, w, wl), 0, "col %d", col_i);
}

Test(token_encode, roundtrip_through_token_decoder, .timeout = 20)
{
    static const uint8_t i4[4] = {0x2A, 0, 0, 0}, bit = 1, f8[8] = {0, 0, 0, 0, 0, 0, 0xF0, 0x3F},
                         dec[9] = {1, 0x39, 0x30, 0, 0, 0, 0, 0, 0}, dt2[8] = {1, 2, 3, 4, 5, 6, 7, 8},
                         dto[9] = {1, 2, 3, 4, 5, 6, 7, 0xC4, 0xFF},
                         g[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                         var[6] = {0x38, 0, 0x2A, 0, 0, 0};
    static uint8_t big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 13);
    rt_col rc[] = {
        {col(TDS_T_INT4, 0, 0, 0), {raw(i4, 4), raw(i4, 4), raw(i4, 4)}},
        {col(TDS_T_INTN, 4, 0, 0), {raw(i4, 4), NUL, raw(i4, 4)}},
        {col(TDS_T_BITN, 1, 0, 0), {raw(&bit, 1), NUL, raw(&bit, 1)}},
        {col(TDS_T_FLTN, 8, 0, 0), {raw(f8, 8), NUL, raw(f8, 8)}},
        {col(TDS_T_DECIMALN, 0, 18, 4), {raw(dec, 9), NUL, raw(dec, 9)}},
        {col(TDS_T_NVARCHAR, 40, 0, 0), {utf8("h\xC3\xA9llo \xF0\x9F\x98\x80"), NUL, utf8("")}},
        {col(TDS_T_NVARCHAR, 0xFFFF, 0, 0), {utf8("max"), NUL, utf8("")}},
        {col(TDS_T_BIGVARBIN, 0xFFFF, 0, 0), {raw(big, sizeof big), NUL, raw(big, 1)}},
        {col(TDS_T_BIGVARCHR, 10, 0, 0), {utf8("caf\xC3\xA9"), NUL, utf8("x")}},
        {col(TDS_T_DATETIME2N, 0, 0, 7), {raw(dt2, 8), NUL, raw(dt2, 8)}},
        {col(TDS_T_DATETIMEOFFSETN, 0, 0, 3), {raw(dto, 9), NUL, raw(dto, 9)}},
        {col(TDS_T_GUID, 16, 0, 0), {raw(g, 16), NUL, raw(g, 16)}},
        {col(TDS_T_NTEXT, 0x7FFFFFFE, 0, 0), {utf8("nt"), NUL, utf8("")}},
        {col(TDS_T_VARIANT, 0, 0, 0), {raw(var, 6), NUL, raw(var, 6)}},
    };
    enum { NC = sizeof rc / sizeof rc[0] };
    tds_column cols[NC];
    char names[NC][16];
    for (int i = 0; i < NC; i++) {
        cols[i] = rc[i].c;
        snprintf(names[i], sizeof names[i], "c%d", i);
        cols[i].name = S(names[i]);
        if (cols[i].type == TDS_T_NTEXT)
            cols[i].table = S("dbo.t");
    }
    tds_session *s = srv(512);
    tds_loginack la = {.interface = 1, .tds_version = TDS_VERSION_74, .prog_name = S("tdspipe"),
                       .major = 16, .minor = 1, .build = 4135};
    tds_envchange db = {.type = TDS_ENV_DATABASE, .new_text = S("tempdb"), .old_text = S("master")};
    tds_envchange rt = {.type = TDS_ENV_ROUTING, .routing_port = 11000, .routing_server = S("srv\\inst")};
    tds_server_msg m = {.number = 50000, .state = 2, .severity = 16, .message = S("x\xF0\x9F\x98\x80"),
                        .server = S("S"), .procedure = S("p"), .line = 9};
    cr_assert_eq(tds_put_loginack(s, &la), TDS_OK);
    cr_assert_eq(tds_put_envchange(s, &db), TDS_OK);
    cr_assert_eq(tds_put_envchange(s, &rt), TDS_OK);
    cr_assert_eq(tds_put_error(s, &m), TDS_OK);
    cr_assert_eq(tds_put_colmetadata(s, cols, NC), TDS_OK);
    for (int r = 0; r < 3; r++) {
        tds_value v[NC];
        for (int i = 0; i < NC; i++)
            v[i] = rc[i].v[r];
        cr_assert_eq(r == 1 ? tds_put_nbcrow(s, cols, v, NC) : tds_put_row(s, cols, v, NC), TDS_OK);
    }
    cr_assert_eq(tds_put_returnstatus(s, -6), TDS_OK);
    cr_assert_eq(tds_put_returnvalue(s, 3, "@out", 1, &cols[1], &rc[1].v[0]), TDS_OK);
    cr_assert_eq(tds_put_done(s, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 0x100000003ull), TDS_OK);
    cr_assert_eq(tds_msg_end(s), TDS_OK);
    const uint8_t *w;
    size_t wn;
    tds_send_buf(s, &w, &wn);

    tds_session *c = tds_session_new(NULL);
    cr_assert_not_null(c);
    size_t off = 0;
    int n = 0, row = 0, rcode;
    tds_event ev;
    for (;;) {
        while ((rcode = tds_next(c, &ev)) == 1) {
            cr_assert_lt(n, 64, "runaway decoder: event type %d", (int)ev.type);
            switch (n++) {
            case 0:
                cr_assert_eq(ev.type, TDS_EV_LOGINACK);
                cr_assert_eq(ev.u.loginack.tds_version, TDS_VERSION_74);
                cr_assert_str_eq(ev.u.loginack.prog_name.ptr, "tdspipe");
                cr_assert_eq(ev.u.loginack.build, 4135);
                cr_assert_eq(ev.u.loginack.minor, 1);
                break;
            case 1:
                cr_assert_eq(ev.type, TDS_EV_ENVCHANGE);
                cr_assert_str_eq(ev.u.env.new_text.ptr, "tempdb");
                cr_assert_str_eq(ev.u.env.old_text.ptr, "master");
                break;
            case 2:
                cr_assert_eq(ev.type, TDS_EV_ENVCHANGE);
                cr_assert_eq(ev.u.env.routing_port, 11000);
                cr_assert_str_eq(ev.u.env.routing_server.ptr, "srv\\inst");
                break;
            case 3:
                cr_assert_eq(ev.type, TDS_EV_ERROR);
                cr_assert_eq(ev.u.msg.number, 50000);
                cr_assert_eq(ev.u.msg.state, 2);
                cr_assert_eq(ev.u.msg.severity, 16);
                cr_assert_str_eq(ev.u.msg.message.ptr, "x\xF0\x9F\x98\x80");
                cr_assert_str_eq(ev.u.msg.procedure.ptr, "p");
                cr_assert_eq(ev.u.msg.line, 9);
                break;
            case 4:
                cr_assert_eq(ev.type, TDS_EV_COLMETADATA);
                cr_assert_eq(ev.u.colmeta.ncols, NC);
                for (int i = 0; i < NC; i++) {
                    const tds_column *d = &ev.u.colmeta.cols[i];
                    cr_assert_eq(d->type, cols[i].type, "col %d", i);
                    cr_assert_eq(d->kind, cols[i].kind, "col %d", i);
                    cr_assert_eq(d->max_len, cols[i].max_len, "col %d", i);
                    cr_assert_eq(d->precision, cols[i].precision, "col %d", i);
                    cr_assert_eq(d->scale, cols[i].scale, "col %d", i);
                    cr_assert_eq(d->is_plp, cols[i].is_plp, "col %d", i);
                    cr_assert_str_eq(d->name.ptr, names[i]);
                }
                break;
            case 5: case 6: case 7:
                cr_assert_eq(ev.type, TDS_EV_ROW);
                for (int i = 0; i < NC; i++)
                    same_value(&cols[i], &rc[i].v[row], &ev.u.row.values[i], i);
                row++;
                break;
            case 8:
                cr_assert_eq(ev.type, TDS_EV_RETURNSTATUS);
                cr_assert_eq(ev.u.return_status, -6);
                break;
            case 9:
                cr_assert_eq(ev.type, TDS_EV_RETURNVALUE);
                cr_assert_eq(ev.u.retval.ordinal, 3);
                cr_assert_str_eq(ev.u.retval.name.ptr, "@out");
                same_value(&cols[1], &rc[1].v[0], ev.u.retval.value, 1);
                break;
            case 10:
                cr_assert_eq(ev.type, TDS_EV_DONE);
                cr_assert_eq(ev.u.done.status, TDS_DONE_COUNT);
                cr_assert_eq(ev.u.done.curcmd, 0xC1);
                cr_assert_eq(ev.u.done.rowcount, 0x100000003ull);
                break;
            default:
                cr_assert_eq(ev.type, TDS_EV_MESSAGE_END);
            }
        }
        cr_assert_geq(rcode, 0, "decode failed after %d events: %s", n, tds_strerror(rcode));
        if (off == wn)
            break;
        ptrdiff_t took = tds_feed(c, w + off, wn - off);
        cr_assert_gt(took, 0, "feed at %zu/%zu after %d events", off, wn, n);
        off += (size_t)took;
    }
    cr_assert_geq(n, 11);
    tds_session_free(c);
    tds_session_free(s);
}
