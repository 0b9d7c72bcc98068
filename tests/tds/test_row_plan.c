/*
 * test_row_plan.c — row plans (row_plan.c): tds_put_rows must produce
 * exactly the bytes of tds_put_row / tds_put_nbcrow called once per row,
 * for every type, NULLs, UTF-8 text, PLP values, rows straddling 512-byte
 * packets, and must reject the values tds_put_row rejects, with the same
 * error and without a byte of the bad row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "encode_int.h"

static tds_session *srv(uint32_t psize)
{
    tds_session_opts o = {.role = TDS_ROLE_SERVER, .packet_size = psize};
    tds_session *s = tds_session_new(&o);
    cr_assert_not_null(s);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_REPLY, 0), TDS_OK);
    return s;
}

static tds_column col(uint8_t type, uint32_t max_len, uint8_t prec, uint8_t scale)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, max_len, prec, scale), TDS_OK, "type %02x", type);
    return c;
}

/* Every type the engine frames; general-path types last. */
static size_t all_columns(tds_column *c, bool general)
{
    size_t n = 0;
    c[n++] = col(TDS_T_INT1, 0, 0, 0);
    c[n++] = col(TDS_T_BIT, 0, 0, 0);
    c[n++] = col(TDS_T_INT2, 0, 0, 0);
    c[n++] = col(TDS_T_INT4, 0, 0, 0);
    c[n++] = col(TDS_T_INT8, 0, 0, 0);
    c[n++] = col(TDS_T_FLT4, 0, 0, 0);
    c[n++] = col(TDS_T_FLT8, 0, 0, 0);
    c[n++] = col(TDS_T_MONEY, 0, 0, 0);
    c[n++] = col(TDS_T_MONEY4, 0, 0, 0);
    c[n++] = col(TDS_T_DATETIME, 0, 0, 0);
    c[n++] = col(TDS_T_DATETIM4, 0, 0, 0);
    c[n++] = col(TDS_T_INTN, 1, 0, 0);
    c[n++] = col(TDS_T_INTN, 2, 0, 0);
    c[n++] = col(TDS_T_INTN, 4, 0, 0);
    c[n++] = col(TDS_T_INTN, 8, 0, 0);
    c[n++] = col(TDS_T_BITN, 1, 0, 0);
    c[n++] = col(TDS_T_FLTN, 4, 0, 0);
    c[n++] = col(TDS_T_FLTN, 8, 0, 0);
    c[n++] = col(TDS_T_MONEYN, 4, 0, 0);
    c[n++] = col(TDS_T_MONEYN, 8, 0, 0);
    c[n++] = col(TDS_T_DATETIMN, 4, 0, 0);
    c[n++] = col(TDS_T_DATETIMN, 8, 0, 0);
    c[n++] = col(TDS_T_DECIMALN, 0, 10, 2);
    c[n++] = col(TDS_T_NUMERICN, 0, 38, 5);
    c[n++] = col(TDS_T_DATEN, 0, 0, 0);
    c[n++] = col(TDS_T_TIMEN, 0, 0, 7);
    c[n++] = col(TDS_T_TIMEN, 0, 0, 2);
    c[n++] = col(TDS_T_DATETIME2N, 0, 0, 3);
    c[n++] = col(TDS_T_DATETIMEOFFSETN, 0, 0, 7);
    c[n++] = col(TDS_T_GUID, 16, 0, 0);
    c[n++] = col(TDS_T_VARCHAR, 30, 0, 0);
    c[n++] = col(TDS_T_VARBINARY, 20, 0, 0);
    c[n++] = col(TDS_T_BIGVARCHR, 50, 0, 0);
    c[n++] = col(TDS_T_BIGCHAR, 10, 0, 0);
    c[n++] = col(TDS_T_NVARCHAR, 40, 0, 0);
    c[n++] = col(TDS_T_NCHAR, 10, 0, 0);
    c[n++] = col(TDS_T_BIGVARBIN, 30, 0, 0);
    c[n++] = col(TDS_T_BIGBINARY, 8, 0, 0);
    c[n++] = col(TDS_T_NVARCHAR, 700, 0, 0); /* rows longer than a 512-byte packet */
    if (!general)
        return n;
    c[n++] = col(TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    c[n++] = col(TDS_T_BIGVARBIN, 0xFFFF, 0, 0);
    c[n++] = col(TDS_T_BIGVARCHR, 0xFFFF, 0, 0);
    c[n++] = col(TDS_T_XML, 0, 0, 0);
    c[n++] = col(TDS_T_TEXT, 0x7FFFFFFF, 0, 0);
    c[n++] = col(TDS_T_NTEXT, 0x7FFFFFFF, 0, 0);
    c[n++] = col(TDS_T_IMAGE, 0x7FFFFFFF, 0, 0);
    c[n++] = col(TDS_T_VARIANT, 8016, 0, 0);
    return n;
}

static uint32_t rng_state;
static uint32_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

static const char *const texts[] = {"", "a", "hello", "caf\xC3\xA9", "\xF0\x9F\x98\x80 emoji",
                                    "0123456789012345678"};

/* A value for c into buf (cap bytes): NULL, raw wire bytes or UTF-8 text,
 * or (bad) something tds_put_row may refuse. NULLs of fixed types (only
 * NBCROW carries them) when nulls_fixed. */
static tds_value make_value(const tds_column *c, uint8_t *buf, bool bad, bool nulls_fixed)
{
    tds_value v = {buf, 0, 0};
    unsigned r = rnd() % 16;
    if (bad) {
        switch (r % 5) {
        case 0: return (tds_value){NULL, 5, 0};
        case 1: return (tds_value){buf, 300, 0};
        case 2: return (tds_value){(const uint8_t *)"\xC3(", 2, TDS_VF_UTF8};
        case 3: return (tds_value){buf, 1, 0};
        default: return (tds_value){NULL, 0, TDS_VF_NULL};
        }
    }
    uint32_t fixed;
    if (r == 0 && (nulls_fixed || tds__value_class(c, &fixed) != TDS__VC_FIXED))
        return (tds_value){NULL, 0, TDS_VF_NULL};
    bool text = c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML;
    if (text && r < 6) {
        const char *t = texts[rnd() % (sizeof texts / sizeof *texts)];
        if (c->kind == TDS_K_XML)
            t = "<r/>";
        return (tds_value){(const uint8_t *)t, (uint32_t)strlen(t), TDS_VF_UTF8};
    }
    int64_t x = (int64_t)(rnd() % 200) - 100;
    int n = -1;
    switch (c->kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT:
        n = tds_encode_int(c, c->kind == TDS_K_TINYINT || c->kind == TDS_K_BIT ? (x & 1) : x, buf, 64);
        break;
    case TDS_K_REAL: case TDS_K_FLOAT:
        n = tds_encode_float(c, (double)x / 4, buf, 64);
        break;
    case TDS_K_SMALLMONEY: case TDS_K_MONEY: case TDS_K_DECIMAL: {
        tds_decimal d;
        cr_assert_eq(tds_decimal_parse("-12.5", 5, 10, 2, &d), TDS_OK);
        n = tds_encode_decimal(c, &d, buf, 64);
        break;
    }
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: case TDS_K_DATE: case TDS_K_TIME:
    case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET: {
        tds_datetime d = {.days = 737000 + (int32_t)x, .ticks = 36000000000ULL, .offset_min = 60,
                          .scale = c->scale, .kind = c->kind};
        n = tds_encode_datetime(c, &d, buf, 64);
        break;
    }
    case TDS_K_GUID: {
        uint8_t g[16];
        for (int k = 0; k < 16; k++)
            g[k] = (uint8_t)(x + k);
        n = tds_encode_guid(c, g, buf, 64);
        break;
    }
    case TDS_K_VARIANT:
        buf[0] = TDS_T_INT4;
        buf[1] = 0;
        tds_wle32(buf + 2, (uint32_t)x);
        n = 6;
        break;
    default: { /* char, nchar, binary, xml, raw */
        uint32_t max = c->is_plp || c->max_len > 20000 ? (rnd() % 4 == 0 ? 20000 : 600) : c->max_len;
        uint32_t len = rnd() % (max + 1);
        if (c->type == TDS_T_BIGCHAR || c->type == TDS_T_BIGBINARY || c->type == TDS_T_NCHAR)
            len = c->max_len;
        if (c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML)
            len &= ~1u;
        if (len == 0 && (c->type == TDS_T_VARCHAR || c->type == TDS_T_VARBINARY))
            len = 1;
        for (uint32_t k = 0; k < len; k++)
            buf[k] = (c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML) && (k & 1) ? 0 : (uint8_t)('a' + (k + (uint32_t)x) % 26);
        if (c->kind == TDS_K_XML && len >= 2) {
            buf[0] = 'x';
        }
        n = (int)len;
        break;
    }
    }
    cr_assert_geq(n, 0, "encoding a value of type %02x", c->type);
    v.len = (uint32_t)n;
    return v;
}

/* Buffer bytes per value of c: (max) and text values reach 20000 bytes. */
static size_t vbuf(const tds_column *c)
{
    return c->is_plp || c->max_len > 8000 ? 20480 : 1024;
}

/* nrows rows of cols through tds_put_rows in random batches and through
 * tds_put_row one by one; the framed bytes must be equal. bad_every > 0
 * injects bad values. */
static void compare(const tds_column *cols, uint16_t n, uint8_t token, uint32_t psize, size_t nrows,
                    unsigned bad_every, uint32_t seed)
{
    rng_state = seed;
    size_t stride = 0;
    for (uint16_t c = 0; c < n; c++)
        stride += vbuf(&cols[c]);
    tds_value *vals = calloc(nrows * n + 1, sizeof *vals);
    uint8_t *bufs = calloc(nrows * stride + 1, 1);
    int *want = calloc(nrows + 1, sizeof *want);
    cr_assert(vals && bufs && want);
    tds_session *ref = srv(psize), *got = srv(psize), *scratch = srv(psize);
    for (size_t r = 0; r < nrows; r++) {
        bool bad = bad_every && rnd() % bad_every == 0;
        uint16_t badcol = n ? (uint16_t)(rnd() % n) : 0;
        uint8_t *b = bufs + r * stride;
        for (uint16_t c = 0; c < n; c++) {
            vals[r * n + c] = make_value(&cols[c], b, bad && c == badcol, token == TDS_TOK_NBCROW);
            b += vbuf(&cols[c]);
        }
        /* what tds_put_row says, on a scratch session */
        want[r] = token == TDS_TOK_ROW ? tds_put_row(scratch, cols, vals + r * n, n)
                                       : tds_put_nbcrow(scratch, cols, vals + r * n, n);
        if (want[r]) {
            tds_msg_abort(scratch);
            tds_send_ack(scratch, tds_send_pending(scratch));
            cr_assert_eq(tds_msg_begin(scratch, TDS_PKT_REPLY, 0), TDS_OK);
        } else {
            int rc = token == TDS_TOK_ROW ? tds_put_row(ref, cols, vals + r * n, n)
                                          : tds_put_nbcrow(ref, cols, vals + r * n, n);
            cr_assert_eq(rc, TDS_OK);
        }
        if (tds_send_pending(scratch) > 100000)
            tds_send_ack(scratch, tds_send_pending(scratch));
    }
    size_t rejected = 0;
    for (size_t r = 0; r < nrows; r++)
        rejected += want[r] != TDS_OK;
    if (bad_every)
        cr_assert_gt(rejected, 0);
    else
        cr_assert_lt(rejected, nrows / 2 + 1, "%zu of %zu rows rejected", rejected, nrows);
    tds_row_plan *p;
    cr_assert_eq(tds_row_plan_new(got, token, cols, n, &p), TDS_OK);
    cr_assert_eq(tds_row_plan_ncols(p), n);
    size_t r = 0;
    while (r < nrows) {
        size_t k = 1 + rnd() % 40;
        if (k > nrows - r)
            k = nrows - r;
        size_t nput = 99999;
        int rc = tds_put_rows(got, p, vals + r * n, k, &nput);
        if (rc == TDS_OK) {
            cr_assert_eq(nput, k);
            for (size_t j = r; j < r + k; j++)
                cr_assert_eq(want[j], TDS_OK, "row %zu accepted, tds_put_row says %d", j, want[j]);
            r += k;
            continue;
        }
        cr_assert_lt(nput, k);
        for (size_t j = r; j < r + nput; j++)
            cr_assert_eq(want[j], TDS_OK, "row %zu", j);
        cr_assert_eq(rc, want[r + nput], "row %zu: %d, tds_put_row %d", r + nput, rc, want[r + nput]);
        r += nput + 1;
    }
    tds_row_plan_free(p);
    cr_assert_eq(tds_msg_end(ref), TDS_OK);
    cr_assert_eq(tds_msg_end(got), TDS_OK);
    const uint8_t *a, *b;
    size_t an, bn;
    tds_send_buf(ref, &a, &an);
    tds_send_buf(got, &b, &bn);
    cr_assert_eq(an, bn, "lengths %zu vs %zu", an, bn);
    for (size_t i = 0; i < an; i++)
        cr_assert_eq(a[i], b[i], "byte %zu of %zu differs", i, an);
    tds_session_free(ref);
    tds_session_free(got);
    tds_session_free(scratch);
    free(vals);
    free(bufs);
    free(want);
}

Test(row_plan, every_type_alone_rows_and_nbcrows, .timeout = 60)
{
    tds_column c[64];
    size_t n = all_columns(c, true);
    for (size_t i = 0; i < n; i++) {
        compare(&c[i], 1, TDS_TOK_ROW, 512, 300, 0, (uint32_t)i);
        compare(&c[i], 1, TDS_TOK_NBCROW, 512, 300, 0, (uint32_t)i + 100);
        compare(&c[i], 1, TDS_TOK_ROW, 4096, 100, 5, (uint32_t)i + 200);
    }
}

Test(row_plan, fast_columns_straddle_512_byte_packets, .timeout = 60)
{
    tds_column c[64];
    uint16_t n = (uint16_t)all_columns(c, false);
    compare(c, n, TDS_TOK_ROW, 512, 400, 0, 1);
    compare(c, n, TDS_TOK_NBCROW, 512, 400, 0, 2);
    compare(c, 4, TDS_TOK_ROW, 512, 3000, 0, 3);
    compare(c + 10, 6, TDS_TOK_NBCROW, 512, 3000, 0, 4);
    compare(c, n, TDS_TOK_ROW, 32767, 400, 0, 5);
}

Test(row_plan, general_columns_plp_text_variant, .timeout = 60)
{
    tds_column c[64];
    uint16_t n = (uint16_t)all_columns(c, true);
    compare(c, n, TDS_TOK_ROW, 512, 60, 0, 6);
    compare(c, n, TDS_TOK_NBCROW, 4096, 60, 0, 7);
}

Test(row_plan, bad_values_rejected_without_bytes, .timeout = 60)
{
    tds_column c[64];
    uint16_t n = (uint16_t)all_columns(c, false);
    compare(c, n, TDS_TOK_ROW, 512, 400, 4, 8);
    compare(c, n, TDS_TOK_NBCROW, 512, 400, 4, 9);
    n = (uint16_t)all_columns(c, true);
    compare(c, n, TDS_TOK_ROW, 512, 100, 3, 10);
}

Test(row_plan, narrow_table_exact_bytes)
{
    tds_column c[4] = {col(TDS_T_INTN, 4, 0, 0), col(TDS_T_INTN, 8, 0, 0), col(TDS_T_NVARCHAR, 64, 0, 0),
                       col(TDS_T_FLTN, 8, 0, 0)};
    static const uint8_t i4[4] = {1, 0, 0, 0}, i8[8] = {2, 0, 0, 0, 0, 0, 0, 0}, f8[8] = {0};
    tds_value v[8] = {{i4, 4, 0}, {i8, 8, 0}, {(const uint8_t *)"ab", 2, TDS_VF_UTF8}, {f8, 8, 0},
                      {i4, 4, 0}, {NULL, 0, TDS_VF_NULL}, {(const uint8_t *)"c\0", 2, 0}, {NULL, 0, TDS_VF_NULL}};
    tds_session *s = srv(512);
    tds_row_plan *p;
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_ROW, c, 4, &p), TDS_OK);
    size_t nput;
    cr_assert_eq(tds_put_rows(s, p, v, 2, &nput), TDS_OK);
    cr_assert_eq(nput, 2);
    cr_assert_eq(tds_msg_end(s), TDS_OK);
    const uint8_t *b;
    size_t len;
    tds_send_buf(s, &b, &len);
    static const uint8_t want[] = {
        0x04, 0x01, 0x00, 0x32, 0x00, 0x00, 0x01, 0x00,
        0xD1, 4, 1, 0, 0, 0, 8, 2, 0, 0, 0, 0, 0, 0, 0, 4, 0, 'a', 0, 'b', 0, 8, 0, 0, 0, 0, 0, 0, 0, 0,
        0xD1, 4, 1, 0, 0, 0, 0, 2, 0, 'c', 0, 0};
    cr_assert_eq(len, sizeof want);
    cr_assert_eq(memcmp(b, want, len), 0);
    tds_row_plan_free(p);
    tds_session_free(s);
}

/* UTF-8 text into a Japanese_CI_AS varchar (code page 932, iconv): the
 * session opens its own converter on first use, keeps it for every later
 * row, and closes it when freed (ASan's leak check); nothing is cached
 * process-wide. Fast path (varchar(20)) and general path (varchar(max)). */
Test(row_plan, double_byte_text_uses_the_sessions_converter)
{
    static const uint8_t japanese[5] = {0x11, 0x04, 0xD0, 0x00, 0x00};
    tds_column c[2] = {col(TDS_T_BIGVARCHR, 20, 0, 0), col(TDS_T_BIGVARCHR, 0xFFFF, 0, 0)};
    for (int i = 0; i < 2; i++) {
        tds_collation_parse(japanese, &c[i].collation);
        memcpy(c[i].collation.raw, japanese, 5);
    }
    tds_value v[2] = {{(const uint8_t *)"\xE6\x97\xA5\xE6\x9C\xAC", 6, TDS_VF_UTF8},
                      {(const uint8_t *)"a\xE6\x97\xA5", 4, TDS_VF_UTF8}};
    tds_session *s = srv(4096);
    cr_assert_null(s->conv.cd[0][1], "opened before any text");
    tds_row_plan *p;
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_ROW, c, 2, &p), TDS_OK);
    size_t nput;
    cr_assert_eq(tds_put_rows(s, p, v, 1, &nput), TDS_OK);
    void *kept = s->conv.cd[0][1];
    cr_assert_not_null(kept, "the session did not keep its UTF-8 -> 932 converter");
    cr_assert_eq(tds_put_rows(s, p, v, 1, &nput), TDS_OK);
    cr_assert_eq(s->conv.cd[0][1], kept, "a second converter was opened");
    cr_assert_eq(tds_msg_end(s), TDS_OK);
    const uint8_t *b;
    size_t len;
    tds_send_buf(s, &b, &len);
    static const uint8_t jp[4] = {0x93, 0xFA, 0x96, 0x7B}; /* 日本 in 932 */
    size_t hits = 0;
    for (size_t i = 0; i + 4 <= len; i++)
        hits += memcmp(b + i, jp, 4) == 0;
    cr_assert_eq(hits, 2, "932 bytes of the short column, once per row");
    tds_row_plan_free(p);
    tds_session_free(s);
}

Test(row_plan, arguments_and_state)
{
    tds_column c = col(TDS_T_INTN, 4, 0, 0);
    tds_row_plan *p = (tds_row_plan *)&c;
    tds_session_opts o = {.role = TDS_ROLE_SERVER};
    tds_session *s = tds_session_new(&o);
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_DONE, &c, 1, &p), TDS_E_ARG);
    cr_assert_null(p);
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_ROW, NULL, 1, &p), TDS_E_ARG);
    cr_assert_eq(tds_row_plan_new(NULL, TDS_TOK_ROW, &c, 1, &p), TDS_E_ARG);
    tds_column bad = c;
    bad.type = 0x01;
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_ROW, &bad, 1, &p), TDS_E_TYPE);
    cr_assert_null(p);
    cr_assert_eq(tds_row_plan_new(s, TDS_TOK_ROW, &c, 1, &p), TDS_OK);
    static const uint8_t i4[4] = {1, 2, 3, 4};
    tds_value v = {i4, 4, 0};
    size_t nput = 7;
    cr_assert_eq(tds_put_rows(s, p, &v, 1, &nput), TDS_E_STATE); /* no message open */
    cr_assert_eq(nput, 0);
    cr_assert_eq(tds_send_pending(s), 0);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_REPLY, 0), TDS_OK);
    cr_assert_eq(tds_put_rows(s, p, NULL, 1, NULL), TDS_E_ARG);
    cr_assert_eq(tds_put_rows(s, p, NULL, 0, NULL), TDS_OK);
    cr_assert_eq(tds_put_rows(s, NULL, &v, 1, NULL), TDS_E_ARG);
    /* the plan outlives the session it was made with */
    tds_session_free(s);
    tds_session *s2 = tds_session_new(&o);
    cr_assert_eq(tds_msg_begin(s2, TDS_PKT_REPLY, 0), TDS_OK);
    cr_assert_eq(tds_put_rows(s2, p, &v, 1, NULL), TDS_OK);
    tds_row_plan_free(p);
    tds_row_plan_free(NULL);
    tds_session_free(s2);
}
