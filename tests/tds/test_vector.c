/*
 * test_vector.c — SQL Server 2025's json (0xF4) and vector (0xF5) types
 * in the engine (tds/vector.c, typeinfo.c, token_row.c, typeinfo_put.c):
 * COLMETADATA and ROW/NBCROW decoding replayed three ways, canonical
 * text, float16 exactness, header checks with the offending byte's
 * offset, NaN/Inf, maximum dimensions, and encode → decode round trips
 * through tds_put_colmetadata / tds_put_row / tds_put_rows.
 */
#include <math.h>

#include "token_build.h"

static const tds_session_opts client = {0};

#define PROTO "ERROR protocol error: malformed data from the peer\n"

/* Decodes b (one REPLY) whole; the sticky error and its payload offset. */
static int error_at(const tb *b, uint64_t *off)
{
    size_t len;
    uint8_t *wire = tb_wire(b, 4096, &len);
    tds_session *s = tds_session_new(NULL);
    size_t o = 0;
    int rc;
    tds_event ev;
    for (;;) {
        while ((rc = tds_next(s, &ev)) == 1)
            ;
        if (rc < 0 || o == len)
            break;
        ptrdiff_t took = tds_feed(s, wire + o, len - o);
        if (took <= 0)
            break;
        o += (size_t)took;
    }
    rc = tds_session_error(s);
    *off = tds_error_offset(s);
    tds_session_free(s);
    free(wire);
    return rc;
}

static char *run(const tb *b, size_t pkt)
{
    size_t len;
    uint8_t *wire = tb_wire(b, pkt, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    free(wire);
    return t;
}

static void vec_header(tb *b, uint16_t dims, uint8_t elem)
{
    tb_u8(b, 0xA9); tb_u8(b, 0x01); tb_u16(b, dims); tb_u8(b, elem);
    tb_u8(b, 0); tb_u8(b, 0); tb_u8(b, 0);
}

static void f32(tb *b, float f) { uint32_t u; memcpy(&u, &f, 4); tb_u32(b, u); }

/* json, vector(3), vector(2, float16). */
static void meta3(tb *b)
{
    tb_u8(b, TDS_TOK_COLMETADATA); tb_u16(b, 3);
    tb_col(b, 1, "F4", "j");
    tb_col(b, 1, "F5 14 00 00", "v");
    tb_col(b, 1, "F5 0C 00 01", "h");
}

Test(vector, decode_three_ways)
{
    static const char js[] = "{\"a\":[1,2],\"b\":\"\xC3\xA9\"}";
    tb b = {0};
    meta3(&b);
    tb_u8(&b, TDS_TOK_ROW);
    tb_u64(&b, sizeof js - 1); tb_u32(&b, sizeof js - 1); tb_put(&b, js, sizeof js - 1); tb_u32(&b, 0);
    tb_u16(&b, 20); vec_header(&b, 3, 0); f32(&b, 1.5f); f32(&b, -2.0f); f32(&b, 3.25f);
    tb_u16(&b, 12); vec_header(&b, 2, 1); tb_u16(&b, 0x3C00); tb_u16(&b, 0x3555);
    tb_u8(&b, TDS_TOK_NBCROW); tb_u8(&b, 0x07);
    tb_u8(&b, TDS_TOK_ROW);
    tb_u64(&b, ~0ull); tb_u16(&b, 0xFFFF); tb_u16(&b, 0xFFFF);
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 3);
    char *t = run(&b, 512);
    cr_assert_str_eq(t,
        "COLMETADATA n=3 [j type=0xf4 kind=24 len=65535 p=0 s=0 flags=0x1 cp=0] "
        "[v type=0xf5 kind=25 len=20 p=0 s=0 flags=0x1 cp=0] "
        "[h type=0xf5 kind=25 len=12 p=0 s=0 flags=0x1 cp=0]\n"
        "ROW {\"a\":[1,2],\"b\":\"\xC3\xA9\"} | [1.5,-2,3.25] | [1,0.33325195]\n"
        "ROW NULL | NULL | NULL\n"
        "ROW NULL | NULL | NULL\n"
        "DONE tok=0xfd status=0x10 cmd=193 rows=3\n"
        "END\n");
    free(t);
    free(b.p);
}

Test(vector, column_facts_and_accessor)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_VECTOR, 8 + 1998 * 4, 0, TDS_VEC_FLOAT32), TDS_OK);
    cr_assert_eq(c.kind, TDS_K_VECTOR);
    cr_assert_eq(c.vector_dims, 1998);
    cr_assert_eq(tds_column_init(&c, TDS_T_VECTOR, 8 + 3996 * 2, 0, TDS_VEC_FLOAT16), TDS_OK);
    cr_assert_eq(c.vector_dims, 3996);
    cr_assert_eq(c.vector_elem, TDS_VEC_FLOAT16);
    cr_assert_eq(tds_column_init(&c, TDS_T_VECTOR, 8 + 3, 0, TDS_VEC_FLOAT16), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_VECTOR, 8, 0, TDS_VEC_FLOAT32), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_VECTOR, 8002, 0, TDS_VEC_FLOAT16), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_VECTOR, 12, 0, 7), TDS_E_ARG);
    cr_assert_eq(tds_column_init(&c, TDS_T_JSON, 0, 0, 0), TDS_OK);
    cr_assert_eq(c.kind, TDS_K_JSON);
    cr_assert(c.is_plp);
}

/* Every binary16 value widens exactly and narrows back to itself; the
 * canonical text of each reads back (as a float) to the same value. */
Test(vector, float16_exact)
{
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = tds_half_to_float((uint16_t)h);
        if (isnan(f)) {
            cr_assert_eq((h & 0x7C00), 0x7C00);
            continue;
        }
        cr_assert_eq(tds_float_to_half(f), h, "half %04x", h);
    }
    cr_assert_eq(tds_half_to_float(0x7BFF), 65504.0f);
    cr_assert_eq(tds_half_to_float(0x0001), 5.9604644775390625e-8f);
    cr_assert_eq(tds_half_to_float(0x3555), 0.333251953125f);
    cr_assert_eq(tds_float_to_half(65519.0f), 0x7BFF);       /* rounds down to max */
    cr_assert_eq(tds_float_to_half(65520.0f), 0x7C00);       /* tie: rounds to Inf */
    cr_assert_eq(tds_float_to_half(1.0f + 0x1p-11f), 0x3C00); /* tie to even */
    cr_assert_eq(tds_float_to_half(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);
    cr_assert_eq(tds_float_to_half(0.1f), 0x2E66);
}

/* Max dimensions decode and print; the text parses back to the same floats. */
Test(vector, max_dims_text_round_trip)
{
    for (int e = 0; e < 2; e++) {
        uint16_t dims = e ? 3996 : 1998;
        tds_column c;
        cr_assert_eq(tds_column_init(&c, TDS_T_VECTOR, 8 + (uint32_t)dims * (e ? 2 : 4), 0, (uint8_t)e), TDS_OK);
        float *vals = malloc(dims * sizeof *vals);
        for (uint32_t i = 0; i < dims; i++)
            vals[i] = e ? tds_half_to_float((uint16_t)((i * 7919u) % 0x7BFF | ((i & 1) << 15)))
                        : (float)((double)(i + 1) * (i & 1 ? -0.001 : 1234.5678));
        uint8_t buf[8000];
        int n = tds_encode_vector(&c, vals, dims, buf, sizeof buf);
        cr_assert_eq(n, (int)c.max_len);
        tds_value v = { buf, (uint32_t)n, 0 };
        size_t need;
        cr_assert_eq(tds_value_text(&c, &v, NULL, 0, &need), TDS_E_SPACE);
        char *txt = malloc(need + 1);
        size_t len;
        cr_assert_eq(tds_value_text(&c, &v, txt, need + 1, &len), TDS_OK);
        cr_assert_eq(len, need);
        cr_assert_eq(txt[0], '[');
        float *back = malloc(dims * sizeof *back);
        uint32_t got;
        cr_assert_eq(tds_vector_parse(txt, len, back, dims, &got), TDS_OK);
        cr_assert_eq(got, dims);
        tds_vector vec;
        cr_assert_eq(tds_value_vector(&c, &v, &vec), TDS_OK);
        cr_assert_eq(vec.dims, dims);
        for (uint32_t i = 0; i < dims; i++) {
            cr_assert_eq(memcmp(&back[i], &vals[i], 4), 0, "elem %u", i);
            cr_assert_eq(tds_vector_get(&vec, i), vals[i]);
        }
        free(vals); free(back); free(txt);
    }
}

Test(vector, nan_inf)
{
    tds_column c;
    tds_column_init(&c, TDS_T_VECTOR, 8 + 12, 0, TDS_VEC_FLOAT32);
    float bad[3] = { 1, NAN, 2 };
    uint8_t buf[64];
    cr_assert_eq(tds_encode_vector(&c, bad, 3, buf, sizeof buf), TDS_E_RANGE);
    bad[1] = INFINITY;
    cr_assert_eq(tds_encode_vector(&c, bad, 3, buf, sizeof buf), TDS_E_RANGE);
    tds_column h;
    tds_column_init(&h, TDS_T_VECTOR, 8 + 2, 0, TDS_VEC_FLOAT16);
    float big = 70000.0f;
    cr_assert_eq(tds_encode_vector(&h, &big, 1, buf, sizeof buf), TDS_E_RANGE);
    /* From the wire they pass and print as null (JSON has no NaN). */
    float ok[3] = { 1, 0, 2 };
    cr_assert_eq(tds_encode_vector(&c, ok, 3, buf, sizeof buf), 20);
    uint32_t u = 0x7FC00000u; tds_wle32(buf + 12, u);
    tds_wle32(buf + 16, 0xFF800000u);
    tds_value v = { buf, 20, 0 };
    char txt[64];
    size_t len;
    cr_assert_eq(tds_value_text(&c, &v, txt, sizeof txt, &len), TDS_OK);
    cr_assert_str_eq(txt, "[1,null,null]");
    uint32_t n;
    float out[4];
    cr_assert_eq(tds_vector_parse("[1,null]", 8, out, 4, &n), TDS_E_ARG);
    cr_assert_eq(tds_vector_parse("[NaN]", 5, out, 4, &n), TDS_E_ARG);
    cr_assert_eq(tds_vector_parse("[1e39]", 6, out, 4, &n), TDS_E_ARG);
    cr_assert_eq(tds_vector_parse(" [ 1 , -2.5e1 ] ", 16, out, 4, &n), TDS_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(out[1], -25.0f);
    cr_assert_eq(tds_vector_parse("[1,2,3]", 7, out, 2, &n), TDS_E_SPACE);
    cr_assert_eq(tds_vector_parse("[1,]", 4, out, 4, &n), TDS_E_ARG);
    cr_assert_eq(tds_vector_parse("[]", 2, out, 4, &n), TDS_OK);
    cr_assert_eq(n, 0);
}

/* A malformed header is a protocol error at the offending byte of the
 * value (payload offsets). */
static void malformed_case(size_t byte, uint8_t val, size_t want_in_value)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 1);
    tb_col(&b, 1, "F5 14 00 00", "v");
    tb_u8(&b, TDS_TOK_ROW);
    size_t value_at = b.n + 2;
    tb_u16(&b, 20); vec_header(&b, 3, 0); f32(&b, 1); f32(&b, 2); f32(&b, 3);
    b.p[value_at + byte] = val;
    tb_done(&b, TDS_TOK_DONE, 0, 0xC1, 1);
    char *t = run(&b, 4096);
    cr_assert(strstr(t, PROTO) != NULL, "byte %zu: %s", byte, t);
    free(t);
    uint64_t off;
    cr_assert_eq(error_at(&b, &off), TDS_E_PROTO);
    cr_assert_eq(off, value_at + want_in_value, "byte %zu: offset %llu", byte, (unsigned long long)off);
    free(b.p);
}

Test(vector, malformed_headers_offsets)
{
    malformed_case(0, 0xAA, 0); /* layout format */
    malformed_case(1, 0x02, 1); /* layout version */
    malformed_case(2, 0x04, 2); /* dimension count != 3 */
    malformed_case(4, 0x01, 4); /* element type != column's */
    /* A length that disagrees with the column (and the header) */
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 1);
    tb_col(&b, 1, "F5 14 00 00", "v");
    tb_u8(&b, TDS_TOK_ROW);
    size_t value_at = b.n + 2;
    tb_u16(&b, 16); vec_header(&b, 2, 0); f32(&b, 1); f32(&b, 2);
    uint64_t off;
    cr_assert_eq(error_at(&b, &off), TDS_E_PROTO);
    cr_assert_eq(off, value_at + 2);
    free(b.p);
    /* TYPE_INFO: unknown element type; a length that is no whole element */
    static const char *bad[] = { "F5 14 00 07", "F5 0B 00 00", "F5 08 00 00", "F5 42 1F 01" };
    for (size_t i = 0; i < 4; i++) {
        tb m = {0};
        tb_u8(&m, TDS_TOK_COLMETADATA); tb_u16(&m, 1);
        tb_col(&m, 1, bad[i], "v");
        cr_assert_eq(error_at(&m, &off), TDS_E_PROTO, "%s", bad[i]);
        cr_assert(off >= 9 && off <= 12, "%s at %llu", bad[i], (unsigned long long)off);
        free(m.p);
    }
}

static tds_session *srv(void)
{
    tds_session_opts o = {.role = TDS_ROLE_SERVER, .packet_size = 4096};
    tds_session *s = tds_session_new(&o);
    cr_assert_not_null(s);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_REPLY, 0), TDS_OK);
    return s;
}

/* Payload of the session's message (packet headers dropped). */
static uint8_t *payload(tds_session *s, size_t *len)
{
    cr_assert_eq(tds_msg_end(s), TDS_OK);
    const uint8_t *p;
    size_t n;
    tds_send_buf(s, &p, &n);
    uint8_t *out = malloc(n);
    size_t o = 0;
    for (size_t off = 0; off < n;) {
        size_t plen = tds_be16(p + off + 2);
        memcpy(out + o, p + off + 8, plen - 8);
        o += plen - 8;
        off += plen;
    }
    tds_send_ack(s, n);
    *len = o;
    return out;
}

/* json + vectors put (binary and as JSON-array text) and decoded back. */
Test(vector, encode_round_trip)
{
    tds_column cols[3];
    tds_column_init(&cols[0], TDS_T_JSON, 0, 0, 0);
    tds_column_init(&cols[1], TDS_T_VECTOR, 20, 0, TDS_VEC_FLOAT32);
    tds_column_init(&cols[2], TDS_T_VECTOR, 12, 0, TDS_VEC_FLOAT16);
    cols[0].name = (tds_str){ "j", 1 };
    cols[1].name = (tds_str){ "v", 1 };
    cols[2].name = (tds_str){ "h", 1 };
    float f[3] = { 0.1f, -1e-7f, 3e38f };
    uint8_t vb[32];
    cr_assert_eq(tds_encode_vector(&cols[1], f, 3, vb, sizeof vb), 20);
    static const char js[] = "[{\"k\":null},true,\"\xE2\x82\xAC\"]";
    static const char htxt[] = "[0.5, -65504]";
    tds_value row[3] = {
        { (const uint8_t *)js, sizeof js - 1, TDS_VF_UTF8 },
        { vb, 20, 0 },
        { (const uint8_t *)htxt, sizeof htxt - 1, TDS_VF_UTF8 },
    };
    tds_session *s = srv();
    cr_assert_eq(tds_put_colmetadata(s, cols, 3), TDS_OK);
    cr_assert_eq(tds_put_row(s, cols, row, 3), TDS_OK);
    tds_row_plan *plan;
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_NBCROW, cols, 3, &plan), TDS_OK);
    cr_assert_eq(tds_put_rows(s, plan, row, 1, NULL), TDS_OK);
    tds_row_plan_free(plan);
    /* bad values: a row plan refuses them before a byte is written */
    tds_value badtxt = { (const uint8_t *)"[1,2,3]", 7, TDS_VF_UTF8 };
    tds_value r2[3] = { row[0], row[1], badtxt };
    uint8_t broken[20];
    memcpy(broken, vb, 20);
    broken[0] = 0;
    tds_value r3[3] = { row[0], { broken, 20, 0 }, row[2] };
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_ROW, cols, 3, &plan), TDS_OK);
    size_t done = 9;
    cr_assert_eq(tds_put_rows(s, plan, r2, 1, &done), TDS_E_RANGE);
    cr_assert_eq(done, 0);
    cr_assert_eq(tds_put_rows(s, plan, r3, 1, &done), TDS_E_ARG);
    tds_row_plan_free(plan);
    size_t n;
    uint8_t *p = payload(s, &n);
    tds_session_free(s);
    tb b = { p, n, n };
    tb_done(&b, TDS_TOK_DONE, 0, 0xC1, 2);
    char *t = run(&b, 512);
    cr_assert_str_eq(t,
        "COLMETADATA n=3 [j type=0xf4 kind=24 len=65535 p=0 s=0 flags=0x1 cp=0] "
        "[v type=0xf5 kind=25 len=20 p=0 s=0 flags=0x1 cp=0] "
        "[h type=0xf5 kind=25 len=12 p=0 s=0 flags=0x1 cp=0]\n"
        "ROW [{\"k\":null},true,\"\xE2\x82\xAC\"] | [0.1,-1e-07,3e+38] | [0.5,-65504]\n"
        "ROW [{\"k\":null},true,\"\xE2\x82\xAC\"] | [0.1,-1e-07,3e+38] | [0.5,-65504]\n"
        "DONE tok=0xfd status=0x0 cmd=193 rows=2\n"
        "END\n");
    free(t);
    free(b.p);
}

Test(vector, feature_ack_recorded)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_FEATUREEXTACK);
    tb_u8(&b, TDS_FEAT_JSONSUPPORT); tb_u32(&b, 1); tb_u8(&b, 1);
    tb_u8(&b, TDS_FEAT_VECTORSUPPORT); tb_u32(&b, 1); tb_u8(&b, 2);
    tb_u8(&b, 0xFF);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    tds_session *s = tds_session_new(NULL);
    tds_login7 l = {0};
    l.tds_version = TDS_VERSION_74;
    l.json_support = 1;
    l.vector_support = 2;
    cr_assert_eq(tds_send_login7(s, &l), TDS_OK);
    const uint8_t *out;
    size_t on;
    tds_send_buf(s, &out, &on);
    tds_send_ack(s, on);
    cr_assert_eq(tds_session_feature_ack(s, TDS_FEAT_JSONSUPPORT), 0);
    cr_assert_eq(tds_feed(s, wire, len), (ptrdiff_t)len);
    tds_event ev;
    cr_assert_eq(tds_next(s, &ev), 1);
    cr_assert_eq(ev.type, TDS_EV_FEATUREEXTACK);
    cr_assert_eq(tds_session_feature_ack(s, TDS_FEAT_JSONSUPPORT), 1);
    cr_assert_eq(tds_session_feature_ack(s, TDS_FEAT_VECTORSUPPORT), 2);
    cr_assert_eq(tds_session_feature_ack(s, TDS_FEAT_UTF8_SUPPORT), 0);
    tds_session_free(s);
    free(wire);
    free(b.p);
}

/* An ack must carry one version byte no higher than asked for; 0 means
 * the server does not support it (not an error, not acknowledged). */
static int ack_case(uint8_t json_ver, uint32_t len, uint8_t vec_ver, uint8_t *json_ack)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_FEATUREEXTACK);
    tb_u8(&b, TDS_FEAT_JSONSUPPORT); tb_u32(&b, len); for (uint32_t i = 0; i < len; i++) tb_u8(&b, json_ver);
    tb_u8(&b, TDS_FEAT_VECTORSUPPORT); tb_u32(&b, 1); tb_u8(&b, vec_ver);
    tb_u8(&b, 0xFF);
    size_t wl;
    uint8_t *wire = tb_wire(&b, 512, &wl);
    tds_session *s = tds_session_new(NULL);
    tds_login7 l = {0};
    l.tds_version = TDS_VERSION_74;
    l.json_support = 1;
    l.vector_support = 2;
    tds_send_login7(s, &l);
    const uint8_t *out;
    size_t on;
    tds_send_buf(s, &out, &on);
    tds_send_ack(s, on);
    tds_feed(s, wire, wl);
    tds_event ev;
    int rc = tds_next(s, &ev);
    *json_ack = tds_session_feature_ack(s, TDS_FEAT_JSONSUPPORT);
    tds_session_free(s);
    free(wire);
    free(b.p);
    return rc;
}

Test(vector, feature_ack_versions)
{
    uint8_t j;
    cr_assert_eq(ack_case(1, 1, 1, &j), 1);   /* vector 1 of 2 asked: fine */
    cr_assert_eq(j, 1);
    cr_assert_eq(ack_case(0, 1, 2, &j), 1);   /* json 0: not supported */
    cr_assert_eq(j, 0);
    cr_assert_eq(ack_case(2, 1, 2, &j), TDS_E_PROTO); /* json 2, asked 1 */
    cr_assert_eq(ack_case(1, 1, 3, &j), TDS_E_PROTO); /* vector 3, asked 2 */
    cr_assert_eq(ack_case(1, 2, 2, &j), TDS_E_PROTO); /* two bytes */
    cr_assert_eq(ack_case(1, 0, 2, &j), TDS_E_PROTO); /* none */
}
