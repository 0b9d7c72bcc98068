/*
 * test_csv_text.c — the text sinks' own formatters and fast paths
 * (sink/num_text.h, num_text.c, value.c, csv.c, jsonl.c, file_write.c):
 * integer and double text byte for byte against printf and the engine's
 * canonical text (tds_value_text) over edge and random values, the
 * word-at-a-time quote/escape scans at every byte position, json/vector
 * values in CSV and JSONL, and big loads through the background writer,
 * including a write error that must surface and leave the old file alone.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "num_text.h"
#include "rows.h"
#include "sink_int.h"

/* xorshift64*: the same sequence on every run */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void check_u64(uint64_t u)
{
    char got[SINK__INT_TEXT_ROOM], want[32];
    size_t n = sink__u64_text(u, got);
    snprintf(want, sizeof want, "%" PRIu64, u);
    cr_assert(n == strlen(want) && memcmp(got, want, n) == 0, "%s: got %.*s", want, (int)n, got);
}

static void check_i64(int64_t v)
{
    char got[SINK__INT_TEXT_ROOM], want[32];
    size_t n = sink__i64_text(v, got);
    snprintf(want, sizeof want, "%" PRId64, v);
    cr_assert(n == strlen(want) && memcmp(got, want, n) == 0, "%s: got %.*s", want, (int)n, got);
}

Test(num_text, integers_match_printf)
{
    static const int64_t edges[] = { 0, 1, -1, 9, -9, 10, -10, 99, 100, INT32_MAX, INT32_MIN,
                                     (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1, INT64_MAX, INT64_MIN,
                                     INT64_MIN + 1, 99999999, 100000000, -99999999, -100000000 };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check_i64(edges[i]);
    check_u64(UINT64_MAX);
    /* every power of ten and its neighbours: each digit count, each block split */
    for (uint64_t p = 1, k = 0; k < 20; k++, p *= 10) {
        check_u64(p);
        check_u64(p - 1);
        check_u64(p + 1);
        if (p <= (uint64_t)INT64_MAX) {
            check_i64(-(int64_t)p);
            check_i64(-(int64_t)p + 1);
        }
    }
    for (int i = 0; i < 200000; i++) {
        uint64_t u = rnd() >> (rnd() % 64); /* every magnitude */
        check_u64(u);
        check_i64((int64_t)u);
        check_i64(-(int64_t)(u >> 1));
    }
}

/* The 8-digit word splits 4|4, then 2|2, then 1|1 in lanes that never
 * carry into each other: every value of each 4-digit lane with the other
 * lane at its extremes covers it. */
Test(num_text, eight_digit_lanes_exhaustive)
{
    for (uint32_t a = 0; a < 10000; a++) {
        uint32_t xs[4] = { a * 10000, a * 10000 + 9999, a, 99990000 + a };
        for (int j = 0; j < 4; j++) {
            char got[8], want[16];
            sink__put8(got, xs[j]);
            snprintf(want, sizeof want, "%08" PRIu32, xs[j]);
            cr_assert(memcmp(got, want, 8) == 0, "%s: got %.8s", want, got);
            check_u64(xs[j]);
        }
    }
}

/* ------------------------------------------- the engine's exact text */

static void engine_text(const tds_column *c, const tds_value *v, char *out, size_t cap)
{
    size_t n;
    cr_assert_eq(tds_value_text(c, v, out, cap, &n), TDS_OK);
}

/* Fast text, when the sink writes the value itself, and sink__value_text
 * always, are the engine's text. Returns whether the fast path took it. */
static bool same_as_engine(const tds_column *c, const tds_value *v)
{
    char want[128], fast[SINK__INT_TEXT_ROOM];
    engine_text(c, v, want, sizeof want);
    size_t n = sink__value_text_fast(c, v, fast);
    if (n)
        cr_assert(n == strlen(want) && memcmp(fast, want, n) == 0, "engine %s, fast %.*s", want, (int)n, fast);
    sink_buf b = { 0 };
    cr_assert_eq(sink__value_text(&b, c, v), SINK_OK);
    cr_assert(b.len == strlen(want) && memcmp(b.p, want, b.len) == 0, "engine %s, sink %.*s", want, (int)b.len, b.p);
    sink__buf_free(&b);
    return n != 0;
}

static bool int_same(uint8_t type, uint32_t len, int64_t x)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, len, 0, 0), TDS_OK);
    uint8_t raw[8];
    int n = tds_encode_int(&c, x, raw, sizeof raw);
    if (n < 0)
        return false; /* out of the type's range */
    tds_value v = { raw, (uint32_t)n, 0 };
    cr_assert(same_as_engine(&c, &v), "type %#x value %" PRId64 " not taken by the fast path", type, x);
    return true;
}

Test(num_text, integer_columns_match_engine)
{
    static const int64_t edges[] = { 0, 1, -1, 127, 128, 255, 256, -128, -129, 32767, -32768, 32768,
                                     INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN };
    static const struct { uint8_t type; uint32_t len; } cols[] = {
        { TDS_T_INTN, 1 }, { TDS_T_INTN, 2 }, { TDS_T_INTN, 4 }, { TDS_T_INTN, 8 },
        { TDS_T_INT1, 1 }, { TDS_T_INT2, 2 }, { TDS_T_INT4, 4 }, { TDS_T_INT8, 8 },
    };
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
        for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
            int_same(cols[k].type, cols[k].len, edges[i]);
        for (int i = 0; i < 20000; i++)
            int_same(cols[k].type, cols[k].len, (int64_t)(rnd() >> (rnd() % 64)) * ((i & 1) ? -1 : 1));
    }
    /* bit: any non-zero byte is 1 */
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_BITN, 1, 0, 0), TDS_OK);
    for (int b = 0; b < 256; b++) {
        uint8_t raw = (uint8_t)b;
        tds_value v = { &raw, 1, 0 };
        cr_assert(same_as_engine(&c, &v));
    }
    /* a length the kind does not have goes to the engine, which refuses it */
    uint8_t raw[8] = { 0 };
    cr_assert_eq(tds_column_init(&c, TDS_T_INT4, 4, 0, 0), TDS_OK);
    tds_value bad = { raw, 3, 0 };
    cr_assert_eq(sink__value_text_fast(&c, &bad, (char[SINK__INT_TEXT_ROOM]){ 0 }), 0);
    sink_buf b = { 0 };
    cr_assert_eq(sink__value_text(&b, &c, &bad), SINK_E_VALUE);
    tds_value null = { NULL, 0, TDS_VF_NULL };
    cr_assert_eq(sink__value_text_fast(&c, &null, (char[SINK__INT_TEXT_ROOM]){ 0 }), 0);
    sink__buf_free(&b);
}

static bool float_same(double d)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_FLTN, 8, 0, 0), TDS_OK);
    uint64_t u;
    memcpy(&u, &d, 8);
    uint8_t raw[8];
    for (int k = 0; k < 8; k++) /* raw bytes: the encoders refuse NaN and infinities */
        raw[k] = (uint8_t)(u >> (8 * k));
    tds_value v = { raw, 8, 0 };
    return same_as_engine(&c, &v);
}

Test(num_text, float_columns_match_engine)
{
    /* not short decimals: the engine writes them */
    static const double engine_only[] = { 0.0, -0.0, 1e14, -1e14, 9.99e-5, 1e300, 5e-324,
                                          0.1 + 0.2, 1.0 / 3, M_PI };
    for (size_t i = 0; i < sizeof engine_only / sizeof engine_only[0]; i++)
        cr_assert_not(float_same(engine_only[i]), "%.17g", engine_only[i]);
    cr_assert_not(float_same(NAN));
    cr_assert_not(float_same(INFINITY));
    cr_assert_not(float_same(-INFINITY));
    /* short decimals at the edges of the rule */
    static const double fast[] = { 1, -1, 0.25, 1e-4, -1e-4, 0.000125, 99999999999999.0, 123.456,
                                   293.21, 0.0025, 1.5, 249999.75, 1e13, 0.1, 0.3 };
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++)
        cr_assert(float_same(fast[i]), "%.17g", fast[i]);
    float_same(nextafter(1e-4, 0));
    float_same(nextafter(1e14, 0));
    float_same(nextafter(1e14, 1e15));
    /* n / 10^k for random n and k (most are short), and random bits */
    static const double p10[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8 };
    int taken = 0;
    for (int i = 0; i < 300000; i++) {
        int64_t n = (int64_t)(rnd() >> (11 + rnd() % 50)) * ((i & 1) ? -1 : 1);
        taken += float_same((double)n / p10[rnd() % 9]);
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, 8);
        float_same(d);
    }
    cr_assert_gt(taken, 100000, "the fast path took only %d", taken);
}

/* Dates at the ends of their ranges and 100 ns times go through the
 * engine: the sink's text is its text. */
Test(num_text, dates_and_times_match_engine)
{
    static const struct { uint8_t type; uint8_t scale; tds_kind kind; const char *text; } cases[] = {
        { TDS_T_DATEN, 0, TDS_K_DATE, "0001-01-01" },
        { TDS_T_DATEN, 0, TDS_K_DATE, "9999-12-31" },
        { TDS_T_TIMEN, 7, TDS_K_TIME, "00:00:00.0000001" },
        { TDS_T_TIMEN, 7, TDS_K_TIME, "23:59:59.9999999" },
        { TDS_T_DATETIME2N, 7, TDS_K_DATETIME2, "0001-01-01 00:00:00.0000000" },
        { TDS_T_DATETIME2N, 7, TDS_K_DATETIME2, "9999-12-31 23:59:59.9999999" },
        { TDS_T_DATETIMEOFFSETN, 7, TDS_K_DATETIMEOFFSET, "0001-01-01 14:00:00.0000000 +14:00" },
        { TDS_T_DATETIMEOFFSETN, 7, TDS_K_DATETIMEOFFSET, "9999-12-31 09:59:59.9999999 -14:00" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tds_column c;
        cr_assert_eq(tds_column_init(&c, cases[i].type, 0, 0, cases[i].scale), TDS_OK);
        tds_datetime dt;
        cr_assert_eq(tds_datetime_parse(cases[i].text, strlen(cases[i].text), cases[i].kind, cases[i].scale, &dt),
                     TDS_OK, "%s", cases[i].text);
        uint8_t raw[16];
        int n = tds_encode_datetime(&c, &dt, raw, sizeof raw);
        cr_assert_gt(n, 0);
        tds_value v = { raw, (uint32_t)n, 0 };
        same_as_engine(&c, &v);
        sink_buf b = { 0 };
        cr_assert_eq(sink__value_text(&b, &c, &v), SINK_OK);
        cr_assert(b.len == strlen(cases[i].text) && memcmp(b.p, cases[i].text, b.len) == 0, "%.*s",
                  (int)b.len, b.p);
        sink__buf_free(&b);
    }
}

/* ------------------------------------------ files: quoting, escaping */

/* One nvarchar column t, rows of the given UTF-8 texts (NULL: NULL). */
typedef struct text_table {
    tds_column col;
    const char *name;
    tds_value *vals;
    uint8_t *arena;
} text_table;

static sink_table text_table_build(text_table *t, const char *const *texts, size_t n)
{
    cr_assert_eq(tds_column_init(&t->col, TDS_T_NVARCHAR, 8000, 0, 0), TDS_OK);
    t->name = "t";
    t->vals = calloc(n, sizeof *t->vals);
    t->arena = malloc(n * 256);
    for (size_t i = 0; i < n; i++) {
        if (!texts[i]) {
            t->vals[i] = (tds_value){ NULL, 0, TDS_VF_NULL };
            continue;
        }
        int k = tds_encode_text(&t->col, texts[i], strlen(texts[i]), t->arena + i * 256, 256);
        cr_assert_geq(k, 0, "%s", texts[i]);
        t->vals[i] = (tds_value){ t->arena + i * 256, (uint32_t)k, 0 };
    }
    return (sink_table){ .name = "t", .cols = &t->col, .names = &t->name, .ncols = 1, .incremental_key = -1 };
}

static void text_table_free(text_table *t)
{
    free(t->vals);
    free(t->arena);
}

static char *load_text(const char *scheme, const char *file, const sink_table *t, const tds_value *vals,
                       size_t n)
{
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path(file));
    snprintf(uri, sizeof uri, "%s://%s", scheme, path);
    cr_assert_eq(load(uri, t, vals, n, n, msg, sizeof msg), 0, "%s", msg);
    size_t len;
    char *got = read_file(path, false, &len);
    unlink(path);
    return got;
}

/* Each special byte at every position of texts 1..24 bytes long (the
 * word scan's whole words, its tail and both edges), and plain texts. */
Test(csv, quoting_at_every_position)
{
    static const char specials[] = { ',', '"', '\r', '\n', 'x' };
    enum { MAXLEN = 24, N = 5 * MAXLEN * MAXLEN };
    char *texts[N];
    size_t n = 0;
    sink_buf want = { 0 };
    sink__buf_put(&want, "t\n", 2);
    for (size_t s = 0; s < sizeof specials; s++)
        for (size_t len = 1; len <= MAXLEN; len++)
            for (size_t at = 0; at < len; at++) {
                char *x = malloc(len + 1);
                for (size_t i = 0; i < len; i++)
                    x[i] = (char)('a' + i % 26);
                x[at] = specials[s];
                x[len] = '\0';
                texts[n++] = x;
                if (specials[s] == 'x') {
                    sink__buf_put(&want, x, len);
                } else {
                    sink__buf_putc(&want, '"');
                    for (size_t i = 0; i < len; i++) {
                        if (x[i] == '"')
                            sink__buf_putc(&want, '"');
                        sink__buf_putc(&want, x[i]);
                    }
                    sink__buf_putc(&want, '"');
                }
                sink__buf_putc(&want, '\n');
            }
    text_table tt;
    sink_table t = text_table_build(&tt, (const char *const *)texts, n);
    char *got = load_text("csv", "q.csv", &t, tt.vals, n);
    sink__buf_cstr(&want);
    cr_assert_str_eq(got, want.p);
    free(got);
    text_table_free(&tt);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    sink__buf_free(&want);
}

Test(jsonl, escapes_at_every_position)
{
    static const char specials[] = { '"', '\\', '\x01', '\x1f', '\t', '\x7f', 'x' };
    enum { MAXLEN = 24, N = 7 * MAXLEN * MAXLEN };
    char *texts[N];
    size_t n = 0;
    sink_buf want = { 0 };
    for (size_t s = 0; s < sizeof specials; s++)
        for (size_t len = 1; len <= MAXLEN; len++)
            for (size_t at = 0; at < len; at++) {
                char *x = malloc(len + 1);
                for (size_t i = 0; i < len; i++)
                    x[i] = (char)('a' + i % 26);
                x[at] = specials[s];
                x[len] = '\0';
                texts[n++] = x;
                sink__buf_put(&want, "{\"t\":", 5);
                sink__json_string(&want, x, len); /* the reference escaper */
                sink__buf_put(&want, "}\n", 2);
            }
    text_table tt;
    sink_table t = text_table_build(&tt, (const char *const *)texts, n);
    char *got = load_text("jsonl", "e.jsonl", &t, tt.vals, n);
    sink__buf_cstr(&want);
    cr_assert_str_eq(got, want.p);
    cr_assert_not_null(strstr(got, "{\"t\":\"a\\u0001c\"}\n"));
    cr_assert_not_null(strstr(got, "{\"t\":\"\\\"b\"}\n"));
    free(got);
    text_table_free(&tt);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    sink__buf_free(&want);
}

/* --------------------------------------------------- json and vector */

/* Two columns: j json, v vector(3) float32; rows: an object spread over
 * lines, an array, NULLs. */
Test(jsonl, json_embedded_and_vector_as_array)
{
    tds_column c[2];
    cr_assert_eq(tds_column_init(&c[0], TDS_T_JSON, 0, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&c[1], TDS_T_VECTOR, TDS_VECTOR_HEADER + 3 * 4, 0, TDS_VEC_FLOAT32), TDS_OK);
    const char *names[2] = { "j", "v" };
    static const char j0[] = "{\"a\": [1, 2],\r\n \"s\": \"x,\\\"y\\\"\\n\"}";
    static const char j1[] = "[true,null]";
    uint8_t v0[64], v1[64];
    float f0[3] = { 1.5f, -2, 0.25f }, f1[3] = { 0, 3e38f, -1e-7f };
    int n0 = tds_encode_vector(&c[1], f0, 3, v0, sizeof v0), n1 = tds_encode_vector(&c[1], f1, 3, v1, sizeof v1);
    cr_assert(n0 > 0 && n1 > 0);
    tds_value vals[6] = {
        { (const uint8_t *)j0, sizeof j0 - 1, 0 }, { v0, (uint32_t)n0, 0 },
        { (const uint8_t *)j1, sizeof j1 - 1, 0 }, { v1, (uint32_t)n1, 0 },
        { NULL, 0, TDS_VF_NULL }, { NULL, 0, TDS_VF_NULL },
    };
    sink_table t = { .name = "t", .cols = c, .names = names, .ncols = 2, .incremental_key = -1 };
    char *got = load_text("jsonl", "jv.jsonl", &t, vals, 3);
    cr_assert_str_eq(got, "{\"j\":{\"a\": [1, 2],   \"s\": \"x,\\\"y\\\"\\n\"},\"v\":[1.5,-2,0.25]}\n"
                          "{\"j\":[true,null],\"v\":[0,3e+38,-1e-07]}\n"
                          "{\"j\":null,\"v\":null}\n");
    free(got);
    /* CSV: both texts are full of commas and quotes: quoted */
    got = load_text("csv", "jv.csv", &t, vals, 3);
    cr_assert_str_eq(got, "j,v\n"
                          "\"{\"\"a\"\": [1, 2],\r\n \"\"s\"\": \"\"x,\\\"\"y\\\"\"\\n\"\"}\",\"[1.5,-2,0.25]\"\n"
                          "\"[true,null]\",\"[0,3e+38,-1e-07]\"\n"
                          ",\n");
    free(got);
}

/* ------------------------------------------- the background writer */

enum { BIG_ROWS = 150000 }; /* about 3 MB of CSV: several 1 MB writes */

static void big_rows(kv_table *kv, int **ids, char ***texts)
{
    *ids = malloc(BIG_ROWS * sizeof **ids);
    *texts = malloc(BIG_ROWS * sizeof **texts);
    for (int i = 0; i < BIG_ROWS; i++) {
        (*ids)[i] = i * 7 - 500000;
        char buf[32];
        snprintf(buf, sizeof buf, i % 97 ? "row %d, text" : "", i);
        (*texts)[i] = i % 101 ? strdup(buf) : NULL;
    }
    kv_build(kv, *ids, (const char *const *)*texts, BIG_ROWS);
}

static void big_free(kv_table *kv, int *ids, char **texts)
{
    kv_free(kv);
    for (int i = 0; i < BIG_ROWS; i++)
        free(texts[i]);
    free(texts);
    free(ids);
}

static char *big_expected(bool csv, const int *ids, char *const *texts)
{
    sink_buf b = { 0 };
    if (csv)
        sink__buf_put(&b, "id,v\n", 5);
    for (int i = 0; i < BIG_ROWS; i++) {
        const char *t = texts[i];
        if (csv)
            sink__buf_printf(&b, "%d,%s%s%s\n", ids[i], t ? "\"" : "", t ? t : "", t ? "\"" : "");
        else if (t)
            sink__buf_printf(&b, "{\"id\":%d,\"v\":\"%s\"}\n", ids[i], t);
        else
            sink__buf_printf(&b, "{\"id\":%d,\"v\":null}\n", ids[i]);
    }
    sink__buf_cstr(&b);
    return b.p;
}

static void check_big(const char *scheme, const char *file, bool gz)
{
    kv_table kv;
    int *ids;
    char **texts;
    big_rows(&kv, &ids, &texts);
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path(file));
    snprintf(uri, sizeof uri, "%s://%s", scheme, path);
    sink_table t = kv_sink_table(&kv, "t", SINK_REPLACE);
    cr_assert_eq(load(uri, &t, kv.vals, BIG_ROWS, 25000, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, gz, &n), *want = big_expected(strcmp(scheme, "csv") == 0, ids, texts);
    cr_assert_eq(n, strlen(want));
    cr_assert(memcmp(got, want, n) == 0);
    free(got);
    free(want);
    unlink(path);
    big_free(&kv, ids, texts);
}

Test(file, big_csv_through_writer) { check_big("csv", "big.csv", false); }
Test(file, big_csv_gzip_through_writer) { check_big("csv", "big.csv.gz", true); }
Test(file, big_jsonl_through_writer) { check_big("jsonl", "big.jsonl", false); }

static bool temp_left(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    bool found = false;
    for (struct dirent *e; (e = readdir(d));)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp-"))
            found = true;
    closedir(d);
    return found;
}

/* A write that fails on the writer thread (the file size limit: EFBIG)
 * fails the load with the file's name and the reason, and the old file
 * stays as it was with no temp file beside it. */
Test(file, writer_error_fails_the_load)
{
    char path[1024], uri[1200], msg[512];
    snprintf(path, sizeof path, "%s", tmp_path("limit.csv"));
    snprintf(uri, sizeof uri, "csv://%s", path);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("old\n", f);
    fclose(f);
    kv_table kv;
    int *ids;
    char **texts;
    big_rows(&kv, &ids, &texts);
    signal(SIGXFSZ, SIG_IGN); /* this test process only: write(2) says EFBIG */
    struct rlimit lim = { 1500000, 1500000 };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    sink_table t = kv_sink_table(&kv, "t", SINK_REPLACE);
    int rc = load(uri, &t, kv.vals, BIG_ROWS, 25000, msg, sizeof msg);
    cr_assert_eq(rc, SINK_E_IO, "rc %d: %s", rc, msg);
    cr_assert_not_null(strstr(msg, "cannot write"), "%s", msg);
    cr_assert_not_null(strstr(msg, strerror(EFBIG)), "%s", msg);
    size_t n;
    char *got = read_file(path, false, &n);
    cr_assert_str_eq(got, "old\n");
    free(got);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    cr_assert_not(temp_left(dir, slash + 1), "a temp file was left in %s", dir);
    big_free(&kv, ids, texts);
}
