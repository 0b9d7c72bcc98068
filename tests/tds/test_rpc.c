/*
 * test_rpc.c — SQL_BATCH, RPC and ATTENTION requests (rpc.c): the spec's
 * own example packets (MS-TDS 4.6, 4.8), sp_executesql by proc id,
 * packet splitting, and the server-side decoders: decode(encode(x)) == x
 * for every parameter type, every truncation and malformed length
 * rejected cleanly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "encode_int.h"
#include "vectors.h"

static tds_session *client(uint32_t psize)
{
    tds_session_opts o = {.packet_size = psize};
    tds_session *s = tds_session_new(&o);
    cr_assert_not_null(s);
    return s;
}

static uint8_t *drain(tds_session *s, size_t *len)
{
    const uint8_t *p;
    tds_send_buf(s, &p, len);
    uint8_t *copy = malloc(*len + 1);
    memcpy(copy, p, *len);
    tds_send_ack(s, *len);
    return copy;
}

/* Payload of a framed message (headers checked and removed). */
static uint8_t *unframe(const uint8_t *w, size_t n, uint8_t type, size_t *len)
{
    uint8_t *out = malloc(n + 1);
    size_t o = 0, off = 0;
    while (off < n) {
        size_t plen = tds_be16(w + off + 2);
        cr_assert_eq(w[off], type);
        cr_assert_eq(w[off + 1] & TDS_ST_EOM, off + plen == n ? TDS_ST_EOM : 0);
        memcpy(out + o, w + off + 8, plen - 8);
        o += plen - 8;
        off += plen;
    }
    *len = o;
    return out;
}

static void expect_wire(tds_session *s, const char *hex)
{
    size_t n, wn;
    uint8_t *got = drain(s, &n);
    uint8_t *want = tv_hex(hex, &wn);
    if (n != wn || memcmp(got, want, n)) {
        char buf[4096];
        size_t o = 0;
        for (size_t i = 0; i < n && o + 4 < sizeof buf; i++)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%02X ", got[i]);
        cr_assert_fail("wire mismatch (%zu vs %zu): %s", n, wn, buf);
    }
    free(got);
    free(want);
}

static tds_column col(uint8_t type, uint32_t max_len, uint8_t prec, uint8_t scale)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, max_len, prec, scale), TDS_OK, "type %02x", type);
    return c;
}

/* ------------------------------------------------------------ requests */

/* The spec's examples carry TransactionDescriptor bytes 00..00 01 and an
 * OutstandingRequestCount of 0; we always send a count of 1 (what SQL
 * Server clients send outside MARS), so the expected bytes are the spec's
 * with that one byte (payload offset 18) changed. The decoder takes the
 * spec's bytes unchanged. */
static const char SPEC_4_6[] =
    "01 01 00 5C 00 00 01 00 16 00 00 00 12 00 00 00"
    "02 00 00 00 00 00 00 00 00 01 00 00 00 00 0A 00"
    "73 00 65 00 6C 00 65 00 63 00 74 00 20 00 27 00"
    "66 00 6F 00 6F 00 27 00 20 00 61 00 73 00 20 00"
    "27 00 62 00 61 00 72 00 27 00 0A 00 20 00 20 00"
    "20 00 20 00 20 00 20 00 20 00 20 00";
static const char SPEC_4_8[] =
    "03 01 00 2F 00 00 01 00 16 00 00 00 12 00 00 00"
    "02 00 00 00 00 00 00 00 00 01 00 00 00 00 04 00"
    "66 00 6F 00 6F 00 33 00 00 00 00 02 26 02 00";
#define SPEC_TRAN 0x0100000000000000ull

static void expect_spec(tds_session *s, const char *spec)
{
    size_t n, wn;
    uint8_t *got = drain(s, &n);
    uint8_t *want = tv_hex(spec, &wn);
    cr_assert_eq(want[8 + 18], 0);
    want[8 + 18] = 1;
    cr_assert_eq(n, wn);
    cr_assert_arr_eq(got, want, n);
    free(got);
    free(want);
}

Test(rpc, sql_batch_spec_example_4_6)
{
    tds_session *s = client(0);
    s->transaction = SPEC_TRAN;
    const char *sql = "\nselect 'foo' as 'bar'\n        ";
    cr_assert_eq(tds_send_sql_batch(s, sql, strlen(sql)), TDS_OK);
    expect_spec(s, SPEC_4_6);
    tds_session_free(s);
    /* and the spec's own bytes decode */
    size_t n;
    uint8_t *w = tv_hex(SPEC_4_6, &n);
    char back[64];
    size_t bl;
    uint64_t tran;
    cr_assert_eq(tds_sql_batch_decode(w + 8, n - 8, back, sizeof back, &bl, &tran), TDS_OK);
    cr_assert_str_eq(back, sql);
    cr_assert_eq(tran, SPEC_TRAN);
    free(w);
}

Test(rpc, sql_batch_transaction_descriptor_and_bad_utf8)
{
    tds_session *s = client(0);
    s->transaction = 0x0102030405060708ull;
    cr_assert_eq(tds_send_sql_batch(s, "\xC3", 1), TDS_E_ENCODING);
    cr_assert_eq(tds_send_pending(s), 0);
    cr_assert_eq(tds_send_sql_batch(s, "x", 1), TDS_OK);
    expect_wire(s, "01 01 00 20 00 00 01 00 16 00 00 00 12 00 00 00 02 00"
                   "08 07 06 05 04 03 02 01 01 00 00 00 78 00");
    tds_session_free(s);
}

Test(rpc, sql_batch_split_at_512_byte_packets)
{
    tds_session *s = client(512);
    size_t n = 3000;
    char *sql = malloc(n);
    for (size_t i = 0; i < n; i++)
        sql[i] = (i % 100 == 50) ? '\n' : (char)('A' + i % 26);
    memcpy(sql + 1000, "\xE2\x82\xAC\xF0\x9F\x98\x80", 7); /* euro, emoji */
    cr_assert_eq(tds_send_sql_batch(s, sql, n), TDS_OK);
    size_t wn, plen;
    uint8_t *w = drain(s, &wn);
    size_t want16 = (size_t)tds_utf8_to_utf16(sql, n, NULL, 0);
    size_t total = 22 + want16;
    size_t npk = (total + 503) / 504;
    cr_assert_eq(wn, total + 8 * npk);
    for (size_t k = 0; k < npk; k++) {
        const uint8_t *h = w + k * 512;
        cr_assert_eq(h[0], TDS_PKT_SQL_BATCH);
        cr_assert_eq(h[6], (uint8_t)(k + 1));
        cr_assert_eq(tds_be16(h + 2), k + 1 < npk ? 512 : total - 504 * k + 8);
        cr_assert_eq(h[1], k + 1 < npk ? 0 : TDS_ST_EOM);
    }
    uint8_t *p = unframe(w, wn, TDS_PKT_SQL_BATCH, &plen);
    char *back = malloc(n + 1);
    size_t blen;
    uint64_t tran = 99;
    cr_assert_eq(tds_sql_batch_decode(p, plen, back, n + 1, &blen, &tran), TDS_OK);
    cr_assert_eq(blen, n);
    cr_assert_eq(memcmp(back, sql, n), 0);
    cr_assert_eq(back[n], '\0');
    cr_assert_eq(tran, 0);
    cr_assert_eq(tds_sql_batch_decode(p, plen, back, n, &blen, &tran), TDS_E_SPACE);
    free(back);
    free(p);
    free(w);
    free(sql);
    tds_session_free(s);
}

Test(rpc, rpc_spec_example_4_8)
{
    tds_session *s = client(0);
    s->transaction = SPEC_TRAN;
    tds_param p = {.status = TDS_PARAM_DEFAULT, .col = col(TDS_T_INTN, 2, 0, 0),
                   .value = {NULL, 0, TDS_VF_NULL}};
    tds_rpc r = {.proc_name = "foo3", .params = &p, .nparams = 1};
    cr_assert_eq(tds_send_rpc(s, &r), TDS_OK);
    expect_spec(s, SPEC_4_8);
    tds_session_free(s);
    size_t n;
    uint8_t *w = tv_hex(SPEC_4_8, &n);
    tds_rpc_decoded d;
    tds_param out[2];
    uint8_t scratch[32];
    cr_assert_eq(tds_rpc_decode(w + 8, n - 8, &d, out, 2, scratch, sizeof scratch), 1);
    cr_assert_str_eq(d.proc_name.ptr, "foo3");
    cr_assert_eq(d.transaction, SPEC_TRAN);
    cr_assert_null(out[0].name);
    cr_assert_eq(out[0].status, TDS_PARAM_DEFAULT);
    cr_assert_eq(out[0].col.type, TDS_T_INTN);
    cr_assert_eq(out[0].col.max_len, 2);
    cr_assert(out[0].value.flags & TDS_VF_NULL);
    free(w);
}

Test(rpc, sp_executesql_by_proc_id)
{
    tds_session *s = client(0);
    static const uint8_t v42[4] = {42, 0, 0, 0};
    const char *stmt = "select @p1", *decl = "@p1 int";
    tds_param p[3] = {
        {.col = col(TDS_T_NVARCHAR, 8000, 0, 0), .value = {(const uint8_t *)stmt, 10, TDS_VF_UTF8}},
        {.col = col(TDS_T_NVARCHAR, 8000, 0, 0), .value = {(const uint8_t *)decl, 7, TDS_VF_UTF8}},
        {.name = "@p1", .col = col(TDS_T_INTN, 4, 0, 0), .value = {v42, 4, 0}},
    };
    tds_rpc r = {.proc_id = TDS_PROC_SP_EXECUTESQL, .params = p, .nparams = 3};
    cr_assert_eq(tds_send_rpc(s, &r), TDS_OK);
    expect_wire(s, "03 01 00 6D 00 00 01 00"
                   "16 00 00 00 12 00 00 00 02 00 00 00 00 00 00 00 00 00 01 00 00 00"
                   "FF FF 0A 00 00 00"
                   "00 00 E7 40 1F 09 04 D0 00 34 14 00"
                   "73 00 65 00 6C 00 65 00 63 00 74 00 20 00 40 00 70 00 31 00"
                   "00 00 E7 40 1F 09 04 D0 00 34 0E 00"
                   "40 00 70 00 31 00 20 00 69 00 6E 00 74 00"
                   "03 40 00 70 00 31 00 00 26 04 04 2A 00 00 00");
    tds_session_free(s);
}

Test(rpc, max_param_is_one_plp_chunk)
{
    tds_session *s = client(0);
    tds_param p = {.name = "@s", .status = TDS_PARAM_BYREF, .col = col(TDS_T_NVARCHAR, 0xFFFF, 0, 0),
                   .value = {(const uint8_t *)"ab", 2, TDS_VF_UTF8}};
    tds_rpc r = {.proc_name = "p", .options = 2, .params = &p, .nparams = 1};
    cr_assert_eq(tds_send_rpc(s, &r), TDS_OK);
    expect_wire(s, "03 01 00 46 00 00 01 00"
                   "16 00 00 00 12 00 00 00 02 00 00 00 00 00 00 00 00 00 01 00 00 00"
                   "01 00 70 00 02 00"
                   "02 40 00 73 00 01 E7 FF FF 09 04 D0 00 34"
                   "04 00 00 00 00 00 00 00 04 00 00 00 61 00 62 00 00 00 00 00");
    tds_session_free(s);
}

Test(rpc, bad_rpc_arguments_send_nothing)
{
    tds_session *s = client(0);
    tds_param p = {.col = col(TDS_T_INT4, 0, 0, 0), .value = {NULL, 0, TDS_VF_NULL}};
    tds_rpc r = {.proc_id = 10, .params = &p, .nparams = 1};
    cr_assert_eq(tds_send_rpc(s, &r), TDS_E_ARG);
    r.proc_name = "\xff";
    cr_assert_eq(tds_send_rpc(s, &r), TDS_E_ENCODING);
    cr_assert_eq(tds_send_pending(s), 0);
    /* An error found mid-message abandons it with the IGNORE bit. */
    tds_param q = {.col = col(TDS_T_NVARCHAR, 4, 0, 0), .value = {(const uint8_t *)"toolong", 7, TDS_VF_UTF8}};
    tds_rpc r2 = {.proc_id = 10, .params = &q, .nparams = 1};
    cr_assert_eq(tds_send_rpc(s, &r2), TDS_E_RANGE);
    size_t n;
    uint8_t *w = drain(s, &n);
    cr_assert_gt(n, 8);
    cr_assert_eq(w[1], TDS_ST_EOM | TDS_ST_IGNORE);
    free(w);
    tds_session_free(s);
}

Test(rpc, attention)
{
    tds_session *s = client(0);
    cr_assert_eq(tds_send_attention(s), TDS_OK);
    expect_wire(s, "06 01 00 08 00 00 01 00");
    tds_session_free(s);
}

/* -------------------------------------------------- decode round trips */

/* Every parameter type the project needs, with a NULL of each. */
typedef struct sample {
    const char *name;
    tds_column col;
    tds_value val;
    const uint8_t *wire; /* expected bytes after decode (for UTF-8 input) */
    uint32_t wire_len;
} sample;

static uint8_t big[20000];
static uint8_t big16[2 * 9000];

static size_t make_samples(sample *out)
{
    static const uint8_t i1[1] = {200}, i2[2] = {0x34, 0x12}, i4[4] = {1, 2, 3, 4},
                         i8[8] = {1, 2, 3, 4, 5, 6, 7, 0x80}, bit[1] = {1},
                         f8[8] = {0, 0, 0, 0, 0, 0, 0xF0, 0x3F}, f4[4] = {0, 0, 0x80, 0x3F},
                         dec[9] = {0, 0x39, 0x30, 0, 0, 0, 0, 0, 0},
                         dec17[17] = {1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
                         dt2[8] = {1, 2, 3, 4, 5, 6, 7, 8},
                         dto[10] = {1, 2, 3, 4, 5, 6, 7, 8, 0xC4, 0xFF},
                         dto0[8] = {1, 2, 3, 4, 5, 6, 0x88, 0xFF},
                         guid[16] = {0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xFF},
                         bin[5] = {0, 1, 2, 0xFE, 0xFF};
    static const uint8_t ab16[4] = {'a', 0, 'b', 0};
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof big16 / 2; i++)
        tds_wle16(big16 + 2 * i, (uint16_t)(0x400 + i % 300));
    size_t n = 0;
#define ADD(nm, c, p, l, f) out[n++] = (sample){nm, c, {p, l, f}, NULL, 0}
#define ADDNULL(c) out[n++] = (sample){NULL, c, {NULL, 0, TDS_VF_NULL}, NULL, 0}
    ADD("@tiny", col(TDS_T_INTN, 1, 0, 0), i1, 1, 0);
    ADDNULL(col(TDS_T_INTN, 1, 0, 0));
    ADD("@small", col(TDS_T_INTN, 2, 0, 0), i2, 2, 0);
    ADDNULL(col(TDS_T_INTN, 2, 0, 0));
    ADD("@int", col(TDS_T_INTN, 4, 0, 0), i4, 4, 0);
    ADDNULL(col(TDS_T_INTN, 4, 0, 0));
    ADD("@big", col(TDS_T_INTN, 8, 0, 0), i8, 8, 0);
    ADDNULL(col(TDS_T_INTN, 8, 0, 0));
    ADD("@bit", col(TDS_T_BITN, 1, 0, 0), bit, 1, 0);
    ADDNULL(col(TDS_T_BITN, 1, 0, 0));
    ADD("@f8", col(TDS_T_FLTN, 8, 0, 0), f8, 8, 0);
    ADD("@f4", col(TDS_T_FLTN, 4, 0, 0), f4, 4, 0);
    ADDNULL(col(TDS_T_FLTN, 8, 0, 0));
    ADD("@dec", col(TDS_T_DECIMALN, 0, 18, 4), dec, 9, 0);
    ADD("@num", col(TDS_T_NUMERICN, 0, 38, 10), dec17, 17, 0);
    ADDNULL(col(TDS_T_DECIMALN, 0, 10, 2));
    ADDNULL(col(TDS_T_NUMERICN, 0, 38, 0));
    ADD("@nv", col(TDS_T_NVARCHAR, 100, 0, 0), ab16, 4, 0);
    ADD("@nvu", col(TDS_T_NVARCHAR, 100, 0, 0), (const uint8_t *)"\xC3\xA9\xF0\x9F\x98\x80", 6, TDS_VF_UTF8);
    ADD("@nve", col(TDS_T_NVARCHAR, 100, 0, 0), ab16, 0, 0);
    ADDNULL(col(TDS_T_NVARCHAR, 100, 0, 0));
    ADD("@nvmax", col(TDS_T_NVARCHAR, 0xFFFF, 0, 0), big16, sizeof big16, 0);
    ADD("@nvmaxu", col(TDS_T_NVARCHAR, 0xFFFF, 0, 0), (const uint8_t *)"max \xE2\x82\xAC", 7, TDS_VF_UTF8);
    ADD("@nvmax0", col(TDS_T_NVARCHAR, 0xFFFF, 0, 0), ab16, 0, 0);
    ADDNULL(col(TDS_T_NVARCHAR, 0xFFFF, 0, 0));
    ADD("@vc", col(TDS_T_BIGVARCHR, 20, 0, 0), (const uint8_t *)"caf\xC3\xA9", 5, TDS_VF_UTF8);
    ADD("@vb", col(TDS_T_BIGVARBIN, 8000, 0, 0), bin, 5, 0);
    ADDNULL(col(TDS_T_BIGVARBIN, 8000, 0, 0));
    ADD("@vbmax", col(TDS_T_BIGVARBIN, 0xFFFF, 0, 0), big, sizeof big, 0);
    ADD("@vbmax1", col(TDS_T_BIGVARBIN, 0xFFFF, 0, 0), bin, 1, 0);
    ADDNULL(col(TDS_T_BIGVARBIN, 0xFFFF, 0, 0));
    ADD("@dt2", col(TDS_T_DATETIME2N, 0, 0, 7), dt2, 8, 0);
    ADD("@dt20", col(TDS_T_DATETIME2N, 0, 0, 0), dt2, 6, 0);
    ADDNULL(col(TDS_T_DATETIME2N, 0, 0, 3));
    ADD("@dto", col(TDS_T_DATETIMEOFFSETN, 0, 0, 7), dto, 10, 0);
    ADD("@dto0", col(TDS_T_DATETIMEOFFSETN, 0, 0, 0), dto0, 8, 0);
    ADDNULL(col(TDS_T_DATETIMEOFFSETN, 0, 0, 7));
    ADD("@g", col(TDS_T_GUID, 16, 0, 0), guid, 16, 0);
    ADDNULL(col(TDS_T_GUID, 16, 0, 0));
    ADD("@date", col(TDS_T_DATEN, 0, 0, 0), dt2, 3, 0);
    ADD("@time", col(TDS_T_TIMEN, 0, 0, 4), dt2, 4, 0);
    ADD("@ntext", col(TDS_T_NTEXT, 0x3FFFFFFF, 0, 0), ab16, 4, 0);
    ADDNULL(col(TDS_T_IMAGE, 0x7FFFFFFF, 0, 0));
    ADD("@xml", col(TDS_T_XML, 0, 0, 0), (const uint8_t *)"<a/>", 4, TDS_VF_UTF8);
#undef ADD
#undef ADDNULL
    return n;
}

/* Encodes an RPC with params and returns its payload. */
static uint8_t *encode_rpc(const tds_rpc *r, uint32_t psize, size_t *len)
{
    tds_session *s = client(psize);
    cr_assert_eq(tds_send_rpc(s, r), TDS_OK);
    size_t wn;
    uint8_t *w = drain(s, &wn);
    uint8_t *p = unframe(w, wn, TDS_PKT_RPC, len);
    free(w);
    tds_session_free(s);
    return p;
}

static void check_same(const tds_param *want, const tds_param *got)
{
    if (want->name)
        cr_assert_str_eq(got->name, want->name);
    else
        cr_assert_null(got->name);
    cr_assert_eq(got->status, want->status);
    const tds_column *a = &want->col, *b = &got->col;
    cr_assert_eq(b->type, a->type, "%s", want->name);
    cr_assert_eq(b->kind, a->kind, "%s", want->name);
    cr_assert_eq(b->max_len, a->max_len, "%s", want->name);
    cr_assert_eq(b->precision, a->precision, "%s", want->name);
    cr_assert_eq(b->scale, a->scale, "%s", want->name);
    cr_assert_eq(b->is_plp, a->is_plp, "%s", want->name);
    cr_assert_eq(memcmp(b->collation.raw, a->collation.raw, 5), 0);
    cr_assert_eq(got->value.flags & TDS_VF_NULL, want->value.flags & TDS_VF_NULL, "%s", want->name);
    if (want->value.flags & TDS_VF_NULL)
        return;
    if (want->value.flags & TDS_VF_UTF8) {
        uint8_t buf[256];
        int n = tds_encode_text(a, (const char *)want->value.ptr, want->value.len, buf, sizeof buf);
        cr_assert_geq(n, 0);
        cr_assert_eq(got->value.len, (uint32_t)n, "%s", want->name);
        cr_assert_eq(memcmp(got->value.ptr, buf, (size_t)n), 0, "%s", want->name);
    } else {
        cr_assert_eq(got->value.len, want->value.len, "%s", want->name);
        if (want->value.len)
            cr_assert_eq(memcmp(got->value.ptr, want->value.ptr, want->value.len), 0, "%s", want->name);
    }
}

Test(rpc, decode_of_encode_every_param_type)
{
    sample smp[64];
    size_t n = make_samples(smp);
    tds_param in[64], out[64];
    for (size_t i = 0; i < n; i++)
        in[i] = (tds_param){.name = smp[i].name, .status = (uint8_t)(i % 3 == 1 ? TDS_PARAM_BYREF : 0),
                            .col = smp[i].col, .value = smp[i].val};
    tds_rpc r = {.proc_name = "dbo.\xC3\xA9t", .options = 1, .params = in, .nparams = n};
    size_t len;
    uint8_t *p = encode_rpc(&r, 4096, &len);
    static uint8_t scratch[1024];
    tds_rpc_decoded d;
    int rc = tds_rpc_decode(p, len, &d, out, 64, scratch, sizeof scratch);
    cr_assert_eq(rc, (int)n, "rc %d (%s)", rc, tds_strerror(rc));
    cr_assert_eq(d.proc_id, 0);
    cr_assert_str_eq(d.proc_name.ptr, "dbo.\xC3\xA9t");
    cr_assert_eq(d.options, 1);
    for (size_t i = 0; i < n; i++)
        check_same(&in[i], &out[i]);
    /* Single-chunk PLP values stay views into the input. */
    cr_assert(out[21].value.ptr >= p && out[21].value.ptr < p + len);
    /* Too few parameter slots or too little scratch: clean errors. */
    cr_assert_eq(tds_rpc_decode(p, len, &d, out, n - 1, scratch, sizeof scratch), TDS_E_SPACE);
    cr_assert_eq(tds_rpc_decode(p, len, &d, out, 64, scratch, 8), TDS_E_SPACE);
    free(p);
}

Test(rpc, decode_assembles_multi_chunk_plp)
{
    /* Hand-built: proc id 10, one varbinary(max) param in 3 chunks. */
    size_t len;
    uint8_t *p = tv_hex("16 00 00 00 12 00 00 00 02 00 0102030405060708 01 00 00 00"
                        "FF FF 0A 00 00 00"
                        "00 00 A5 FF FF 05 00 00 00 00 00 00 00"
                        "02 00 00 00 61 62 01 00 00 00 63 02 00 00 00 64 65 00 00 00 00"
                        "00 00 A5 FF FF FE FF FF FF FF FF FF FF 01 00 00 00 7A 00 00 00 00", &len);
    tds_rpc_decoded d;
    tds_param out[4];
    uint8_t scratch[16];
    cr_assert_eq(tds_rpc_decode(p, len, &d, out, 4, scratch, sizeof scratch), 2);
    cr_assert_eq(d.proc_id, 10);
    cr_assert_eq(d.transaction, 0x0807060504030201ull);
    cr_assert_eq(out[0].value.len, 5);
    cr_assert_eq(memcmp(out[0].value.ptr, "abcde", 5), 0);
    cr_assert(out[0].value.flags & TDS_VF_ASSEMBLED);
    cr_assert_eq(out[1].value.len, 1); /* unknown total length */
    cr_assert_eq(tds_rpc_decode(p, len, &d, out, 4, scratch, 4), TDS_E_SPACE);
    free(p);
}

/* Payload lengths at which the RPC ends cleanly (after each parameter). */
static bool is_boundary(const size_t *b, size_t nb, size_t cut)
{
    for (size_t i = 0; i < nb; i++)
        if (b[i] == cut)
            return true;
    return false;
}

Test(rpc, every_truncation_rejected)
{
    sample smp[64];
    size_t n = make_samples(smp);
    /* Keep it fast: drop the 20000-byte and 18000-byte values. */
    tds_param in[64];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (smp[i].val.len < 1000)
            in[k++] = (tds_param){.name = smp[i].name, .col = smp[i].col, .value = smp[i].val};
    size_t bounds[65];
    for (size_t j = 0; j <= k; j++) {
        tds_rpc r = {.proc_id = 10, .params = in, .nparams = j};
        free(encode_rpc(&r, 4096, &bounds[j]));
    }
    tds_rpc r = {.proc_id = 10, .params = in, .nparams = k};
    size_t len;
    uint8_t *p = encode_rpc(&r, 4096, &len);
    cr_assert_eq(len, bounds[k]);
    tds_param out[64];
    static uint8_t scratch[4096];
    tds_rpc_decoded d;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut + 1); /* exact size: ASan sees overreads */
        memcpy(copy, p, cut);
        int rc = tds_rpc_decode(copy, cut, &d, out, 64, scratch, sizeof scratch);
        if (is_boundary(bounds, k, cut)) {
            cr_assert_geq(rc, 0, "cut %zu", cut);
            cr_assert_lt((size_t)rc, k);
        } else {
            cr_assert_lt(rc, 0, "cut %zu accepted (%d)", cut, rc);
        }
        free(copy);
    }
    free(p);
}

Test(rpc, sql_batch_every_truncation)
{
    tds_session *s = client(0);
    cr_assert_eq(tds_send_sql_batch(s, "select 1", 8), TDS_OK);
    size_t wn, len;
    uint8_t *w = drain(s, &wn);
    uint8_t *p = unframe(w, wn, TDS_PKT_SQL_BATCH, &len);
    char sql[64];
    size_t sl;
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, p, cut);
        int rc = tds_sql_batch_decode(copy, cut, sql, sizeof sql, &sl, NULL);
        if (cut < 22 || (cut & 1))
            cr_assert_eq(rc, TDS_E_PROTO, "cut %zu", cut);
        else
            cr_assert_eq(rc, TDS_OK, "cut %zu", cut);
        free(copy);
    }
    free(p);
    free(w);
    tds_session_free(s);
}

static int dec_hex(const char *hex)
{
    size_t len;
    uint8_t *p = tv_hex(hex, &len);
    uint8_t *copy = malloc(len + 1);
    memcpy(copy, p, len);
    tds_rpc_decoded d;
    tds_param out[4];
    uint8_t scratch[64];
    int rc = tds_rpc_decode(copy, len, &d, out, 4, scratch, sizeof scratch);
    free(copy);
    free(p);
    return rc;
}

#define HDR "16 00 00 00 12 00 00 00 02 00 00 00 00 00 00 00 00 00 01 00 00 00 "
#define PROC "FF FF 0A 00 00 00 "

Test(rpc, malformed_inputs)
{
    cr_assert_eq(dec_hex(HDR PROC), 0);
    cr_assert_eq(dec_hex(HDR PROC "00 00 26 04 04 01 00 00 00"), 1);
    /* ALL_HEADERS */
    cr_assert_eq(dec_hex("03 00 00 00" PROC), TDS_E_PROTO);           /* total < 4 */
    cr_assert_eq(dec_hex("FF 00 00 00 12 00 00 00" PROC), TDS_E_PROTO); /* total > input */
    cr_assert_eq(dec_hex("04 00 00 00" PROC), TDS_E_PROTO);           /* no transaction header */
    cr_assert_eq(dec_hex("16 00 00 00 13 00 00 00 02 00 00 00 00 00 00 00 00 00 01 00 00 00" PROC), TDS_E_PROTO);
    cr_assert_eq(dec_hex("16 00 00 00 05 00 00 00 02 00 00 00 00 00 00 00 00 00 01 00 00 00" PROC), TDS_E_PROTO);
    cr_assert_eq(dec_hex("16 00 00 00 12 00 00 00 07 00 00 00 00 00 00 00 00 00 01 00 00 00" PROC), TDS_E_PROTO);
    cr_assert_eq(dec_hex("28 00 00 00 12 00 00 00 02 00 00 00 00 00 00 00 00 00 01 00 00 00"
                         "12 00 00 00 02 00 00 00 00 00 00 00 00 00 01 00 00 00" PROC), TDS_E_PROTO); /* twice */
    /* procedure */
    cr_assert_eq(dec_hex(HDR "00 00 00 00"), TDS_E_PROTO);            /* empty name */
    cr_assert_eq(dec_hex(HDR "05 00 61 00 00 00"), TDS_E_PROTO);      /* name longer than input */
    cr_assert_eq(dec_hex(HDR "FF FF 00 00 00 00"), TDS_E_PROTO);      /* proc id 0 */
    cr_assert_eq(dec_hex(HDR "01 00 00 D8 00 00"), TDS_E_ENCODING);   /* lone surrogate */
    /* parameters */
    cr_assert_eq(dec_hex(HDR PROC "00 00 99"), TDS_E_PROTO);          /* unknown type */
    cr_assert_eq(dec_hex(HDR PROC "00 00 24 04 00"), TDS_E_PROTO);    /* GUID length 4 */
    cr_assert_eq(dec_hex(HDR PROC "00 00 26 03 00"), TDS_E_PROTO);    /* INTN(3) */
    cr_assert_eq(dec_hex(HDR PROC "00 00 26 08 03 01 02 03"), TDS_E_PROTO); /* 3-byte int */
    cr_assert_eq(dec_hex(HDR PROC "00 00 26 04 08 01 02 03 04 05 06 07 08"), TDS_E_PROTO); /* > max */
    cr_assert_eq(dec_hex(HDR PROC "00 00 6A 11 27 00 00"), TDS_E_PROTO); /* precision 39 */
    cr_assert_eq(dec_hex(HDR PROC "00 00 6A 11 05 06 00"), TDS_E_PROTO); /* scale > precision */
    cr_assert_eq(dec_hex(HDR PROC "00 00 2A 08 00"), TDS_E_PROTO);    /* datetime2 scale 8 */
    cr_assert_eq(dec_hex(HDR PROC "00 00 2A 07 06 00 00 00 00 00 00"), TDS_E_PROTO); /* wrong size */
    cr_assert_eq(dec_hex(HDR PROC "00 00 E7 04 00 09 04 D0 00 34 06 00 61 00 62 00 63 00"), TDS_E_PROTO);
    cr_assert_eq(dec_hex(HDR PROC "00 00 E7 04 00 09 04 D0 00 34 03 00 61 00 62"), TDS_E_PROTO); /* odd */
    cr_assert_eq(dec_hex(HDR PROC "00 00 E7 41 1F 09 04 D0 00 34 00 00"), TDS_E_PROTO); /* > 8000 */
    cr_assert_eq(dec_hex(HDR PROC "00 00 EF FF FF 09 04 D0 00 34 00 00"), TDS_E_PROTO); /* nchar(max) */
    cr_assert_eq(dec_hex(HDR PROC "00 00 A5 FF FF 05 00 00 00 00 00 00 00 02 00 00 00 61 62 00 00 00 00"),
                 TDS_E_PROTO); /* total 5, got 2 */
    cr_assert_eq(dec_hex(HDR PROC "00 00 A5 FF FF 01 00 00 00 00 00 00 00 02 00 00 00 61 62 00 00 00 00"),
                 TDS_E_PROTO); /* chunk beyond total */
    cr_assert_eq(dec_hex(HDR PROC "00 00 A5 FF FF FF FF FF FF FF FF FF 7F 00 00 00 00"), TDS_E_PROTO);
    cr_assert_eq(dec_hex(HDR PROC "00 00 A5 FF FF FE FF FF FF FF FF FF FF FF FF FF FF 61"), TDS_E_PROTO);
    cr_assert_eq(dec_hex(HDR PROC "00 00 A5 FF FF FE FF FF FF FF FF FF FF 01 00 00 00 61"), TDS_E_PROTO); /* no end */
    cr_assert_eq(dec_hex(HDR PROC "00 08 26 04 00"), TDS_E_UNSUPPORTED); /* encrypted */
    cr_assert_eq(dec_hex(HDR PROC "00 00 26 04 00 FF"), 1);            /* trailing batch flag */
    cr_assert_eq(dec_hex(HDR PROC "00 00 26 04 00 FF FF FF 0A 00"), TDS_E_UNSUPPORTED);
    cr_assert_eq(dec_hex(HDR PROC "00 00 62 50 1F 00 00 01 00 00 00 38"), TDS_E_PROTO); /* variant len 1 */
    cr_assert_eq(dec_hex(HDR PROC "00 00 23 FF FF FF 7F 09 04 D0 00 34 05 00 00 00 61"), TDS_E_PROTO);
    cr_assert_eq(dec_hex(HDR PROC "00 00 F1 02"), TDS_E_PROTO);       /* xml schema flag */
    cr_assert_eq(dec_hex(HDR PROC "02 00"), TDS_E_PROTO);             /* name beyond input */
}
