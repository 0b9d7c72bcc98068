/*
 * rows.c — builds the sink tests' table with the engine's encoders and
 * offers load/readback helpers shared by every tests/sink/test_*.c.
 */
#include "rows.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static uint8_t *take(rowset *rs, size_t n)
{
    if (rs->used + n > rs->cap) {
        cr_assert_fail("arena too small");
    }
    uint8_t *p = rs->arena + rs->used;
    rs->used += n;
    return p;
}

static void col(rowset *rs, int i, const char *name, uint8_t type, uint32_t len, uint8_t p, uint8_t s)
{
    int rc = tds_column_init(&rs->cols[i], type, len, p, s);
    cr_assert_eq(rc, TDS_OK, "column %s: %d", name, rc);
    rs->names[i] = name;
}

static void set(rowset *rs, int r, int c, const uint8_t *p, int n)
{
    cr_assert_geq(n, 0, "encode row %d col %s: %d", r, rs->names[c], n);
    tds_value *v = &rs->vals[r * NCOLS + c];
    v->ptr = p;
    v->len = (uint32_t)n;
    v->flags = 0;
}

static void v_int(rowset *rs, int r, int c, int64_t x)
{
    uint8_t *o = take(rs, 8);
    set(rs, r, c, o, tds_encode_int(&rs->cols[c], x, o, 8));
}

static void v_float(rowset *rs, int r, int c, double x)
{
    uint8_t *o = take(rs, 8);
    set(rs, r, c, o, tds_encode_float(&rs->cols[c], x, o, 8));
}

static void v_dec(rowset *rs, int r, int c, const char *text)
{
    tds_decimal d;
    const tds_column *k = &rs->cols[c];
    cr_assert_eq(tds_decimal_parse(text, strlen(text), k->precision, k->scale, &d), TDS_OK, "%s", text);
    uint8_t *o = take(rs, 17);
    set(rs, r, c, o, tds_encode_decimal(k, &d, o, 17));
}

static void v_dt(rowset *rs, int r, int c, const char *text)
{
    tds_datetime d;
    const tds_column *k = &rs->cols[c];
    cr_assert_eq(tds_datetime_parse(text, strlen(text), (tds_kind)k->kind, k->scale, &d), TDS_OK, "%s", text);
    uint8_t *o = take(rs, 10);
    set(rs, r, c, o, tds_encode_datetime(k, &d, o, 10));
}

static void v_guid(rowset *rs, int r, int c, const char *text)
{
    uint8_t g[16];
    cr_assert_eq(tds_guid_parse(text, strlen(text), g), TDS_OK);
    uint8_t *o = take(rs, 16);
    set(rs, r, c, o, tds_encode_guid(&rs->cols[c], g, o, 16));
}

static void v_text(rowset *rs, int r, int c, const char *utf8, size_t n)
{
    size_t cap = n * 2 + 16;
    uint8_t *o = take(rs, cap);
    set(rs, r, c, o, tds_encode_text(&rs->cols[c], utf8, n, o, cap));
}

static void v_bin(rowset *rs, int r, int c, const void *p, size_t n)
{
    uint8_t *o = take(rs, n ? n : 1);
    memcpy(o, p, n);
    set(rs, r, c, o, (int)n);
}

void rows_build(rowset *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->cap = 4u << 20;
    rs->arena = malloc(rs->cap);
    cr_assert_not_null(rs->arena);
    col(rs, C_ID, "id", TDS_T_INTN, 4, 0, 0);
    rs->cols[C_ID].flags = 0; /* NOT NULL */
    col(rs, C_TI, "ti", TDS_T_INTN, 1, 0, 0);
    col(rs, C_SI, "si", TDS_T_INTN, 2, 0, 0);
    col(rs, C_BI, "bi", TDS_T_INTN, 8, 0, 0);
    col(rs, C_BT, "bt", TDS_T_BITN, 1, 0, 0);
    col(rs, C_R, "r", TDS_T_FLTN, 4, 0, 0);
    col(rs, C_F, "f", TDS_T_FLTN, 8, 0, 0);
    col(rs, C_SM, "sm", TDS_T_MONEYN, 4, 0, 0);
    col(rs, C_M, "m", TDS_T_MONEYN, 8, 0, 0);
    col(rs, C_D38, "d38", TDS_T_DECIMALN, 0, 38, 10);
    col(rs, C_D5, "d5", TDS_T_DECIMALN, 0, 5, 2);
    col(rs, C_D18, "d18", TDS_T_NUMERICN, 0, 18, 0);
    col(rs, C_DATE, "dt", TDS_T_DATEN, 3, 0, 0);
    col(rs, C_TM, "tm", TDS_T_TIMEN, 0, 0, 7);
    col(rs, C_TM3, "tm3", TDS_T_TIMEN, 0, 0, 3);
    col(rs, C_DTM, "dtm", TDS_T_DATETIMN, 8, 0, 0);
    col(rs, C_SDT, "sdt", TDS_T_DATETIMN, 4, 0, 0);
    col(rs, C_DT2, "dt2", TDS_T_DATETIME2N, 0, 0, 7);
    col(rs, C_DT23, "dt23", TDS_T_DATETIME2N, 0, 0, 3);
    col(rs, C_DTO, "dto", TDS_T_DATETIMEOFFSETN, 0, 0, 7);
    col(rs, C_G, "g", TDS_T_GUID, 16, 0, 0);
    col(rs, C_VC, "vc", TDS_T_BIGVARCHR, 50, 0, 0);
    col(rs, C_NC, "nc", TDS_T_NCHAR, 20, 0, 0);
    col(rs, C_NVM, "nvm", TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    col(rs, C_VBM, "vbm", TDS_T_BIGVARBIN, 0xFFFF, 0, 0);
    col(rs, C_X, "x", TDS_T_XML, 0xFFFF, 0, 0);
    rs->pk[0] = C_ID;

    /* row 0: ordinary values, text that needs quoting and escaping */
    v_int(rs, 0, C_ID, 1);
    v_int(rs, 0, C_TI, 42);
    v_int(rs, 0, C_SI, -1234);
    v_int(rs, 0, C_BI, 1234567890123LL);
    v_int(rs, 0, C_BT, 1);
    v_float(rs, 0, C_R, 0.1f);
    v_float(rs, 0, C_F, 0.1);
    v_dec(rs, 0, C_SM, "12.5");
    v_dec(rs, 0, C_M, "-1234.5678");
    v_dec(rs, 0, C_D38, "3.1415926535");
    v_dec(rs, 0, C_D5, "-1.50");
    v_dec(rs, 0, C_D18, "0");
    v_dt(rs, 0, C_DATE, "2024-02-29");
    v_dt(rs, 0, C_TM, "13:14:15.1234567");
    v_dt(rs, 0, C_TM3, "13:14:15.123");
    v_dt(rs, 0, C_DTM, "2024-01-02 03:04:05.997");
    v_dt(rs, 0, C_SDT, "2024-01-02 03:04:00");
    v_dt(rs, 0, C_DT2, "2024-01-02 03:04:05.1234567");
    v_dt(rs, 0, C_DT23, "2024-01-02 03:04:05.123");
    v_dt(rs, 0, C_DTO, "2024-01-02 03:04:05.1234567 -05:30");
    v_guid(rs, 0, C_G, "6F9619FF-8B86-D011-B42D-00C04FC964FF");
    static const char vc0[] = "a,b \"q\"\r\nline2";
    v_text(rs, 0, C_VC, vc0, strlen(vc0));
    v_text(rs, 0, C_NC, "caf\xc3\xa9      ", 11); /* nchar(10): padded */
    static const char nv0[] = "tab\there \\ \xf0\x9f\x98\x80 \xe4\xb8\xad\x01";
    v_text(rs, 0, C_NVM, nv0, strlen(nv0));
    static const uint8_t b0[] = { 0x00, 0xFF, 0x10, 0x80 };
    v_bin(rs, 0, C_VBM, b0, sizeof b0);
    static const char x0[] = "<a b=\"1\">x</a>";
    v_text(rs, 0, C_X, x0, strlen(x0));

    /* row 1: minima */
    v_int(rs, 1, C_ID, 2);
    v_int(rs, 1, C_TI, 0);
    v_int(rs, 1, C_SI, INT16_MIN);
    v_int(rs, 1, C_BI, INT64_MIN);
    v_int(rs, 1, C_BT, 0);
    v_float(rs, 1, C_R, -3.4028234663852886e38);
    v_float(rs, 1, C_F, -1.7976931348623157e308);
    v_dec(rs, 1, C_SM, "-214748.3648");
    v_dec(rs, 1, C_M, "-922337203685477.5808");
    v_dec(rs, 1, C_D38, "-9999999999999999999999999999.9999999999");
    v_dec(rs, 1, C_D5, "-999.99");
    v_dec(rs, 1, C_D18, "-999999999999999999");
    v_dt(rs, 1, C_DATE, "0001-01-01");
    v_dt(rs, 1, C_TM, "00:00:00.0000000");
    v_dt(rs, 1, C_TM3, "00:00:00.000");
    v_dt(rs, 1, C_DTM, "1753-01-01 00:00:00.000");
    v_dt(rs, 1, C_SDT, "1900-01-01 00:00:00");
    v_dt(rs, 1, C_DT2, "1677-09-22 00:00:00.0000001");
    v_dt(rs, 1, C_DT23, "0001-01-01 00:00:00.000");
    v_dt(rs, 1, C_DTO, "0001-01-01 14:00:00.0000000 +14:00");
    v_guid(rs, 1, C_G, "00000000-0000-0000-0000-000000000000");
    v_text(rs, 1, C_VC, "", 0);
    v_text(rs, 1, C_NC, "          ", 10);
    v_text(rs, 1, C_NVM, "", 0);
    v_bin(rs, 1, C_VBM, "", 0);
    v_text(rs, 1, C_X, "", 0);

    /* row 2: maxima */
    v_int(rs, 2, C_ID, 3);
    v_int(rs, 2, C_TI, 255);
    v_int(rs, 2, C_SI, INT16_MAX);
    v_int(rs, 2, C_BI, INT64_MAX);
    v_int(rs, 2, C_BT, 1);
    v_float(rs, 2, C_R, 1.401298464324817e-45);
    v_float(rs, 2, C_F, 4.9406564584124654e-324);
    v_dec(rs, 2, C_SM, "214748.3647");
    v_dec(rs, 2, C_M, "922337203685477.5807");
    v_dec(rs, 2, C_D38, "9999999999999999999999999999.9999999999");
    v_dec(rs, 2, C_D5, "999.99");
    v_dec(rs, 2, C_D18, "999999999999999999");
    v_dt(rs, 2, C_DATE, "9999-12-31");
    v_dt(rs, 2, C_TM, "23:59:59.9999999");
    v_dt(rs, 2, C_TM3, "23:59:59.999");
    v_dt(rs, 2, C_DTM, "9999-12-31 23:59:59.997");
    v_dt(rs, 2, C_SDT, "2079-06-06 23:59:00");
    v_dt(rs, 2, C_DT2, "2262-04-10 23:59:59.9999999");
    v_dt(rs, 2, C_DT23, "9999-12-31 23:59:59.999");
    v_dt(rs, 2, C_DTO, "9999-12-31 09:59:59.9999999 -14:00");
    v_guid(rs, 2, C_G, "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF");
    v_text(rs, 2, C_VC, " lead", 5);
    v_text(rs, 2, C_NC, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 20);
    v_text(rs, 2, C_NVM, "\"", 1);
    static const uint8_t b2[] = { 0xDE, 0xAD, 0xBE };
    v_bin(rs, 2, C_VBM, b2, sizeof b2);
    v_text(rs, 2, C_X, "<r/>", 4);

    /* row 3: NULLs */
    v_int(rs, 3, C_ID, 4);
    for (int c = 1; c < NCOLS; c++)
        rs->vals[3 * NCOLS + c] = (tds_value){ NULL, 0, TDS_VF_NULL };

    /* row 4: large (max) values; the rest copies row 0 */
    for (int c = 0; c < NCOLS; c++)
        rs->vals[4 * NCOLS + c] = rs->vals[c];
    v_int(rs, 4, C_ID, 5);
    rs->big_text_len = 300000;
    rs->big_text = malloc(rs->big_text_len);
    for (size_t i = 0; i < rs->big_text_len; i += 6) /* "ab" + U+1F600 */
        memcpy(rs->big_text + i, "ab\xf0\x9f\x98\x80", 6);
    v_text(rs, 4, C_NVM, rs->big_text, rs->big_text_len);
    rs->big_bin_len = 100000;
    rs->big_bin = malloc(rs->big_bin_len);
    for (size_t i = 0; i < rs->big_bin_len; i++)
        rs->big_bin[i] = (uint8_t)(i * 7 + 3);
    v_bin(rs, 4, C_VBM, rs->big_bin, rs->big_bin_len);
}

void rows_free(rowset *rs)
{
    free(rs->arena);
    free(rs->big_text);
    free(rs->big_bin);
}

sink_table rows_table(const rowset *rs, const char *name, sink_strategy st)
{
    sink_table t = { .name = name, .cols = rs->cols, .names = rs->names, .ncols = NCOLS,
                     .pk = rs->pk, .npk = 1, .incremental_key = C_ID, .strategy = st };
    return t;
}

void kv_build(kv_table *t, const int *ids, const char *const *texts, size_t n)
{
    memset(t, 0, sizeof *t);
    cr_assert_eq(tds_column_init(&t->cols[0], TDS_T_INTN, 4, 0, 0), TDS_OK);
    t->cols[0].flags = 0;
    cr_assert_eq(tds_column_init(&t->cols[1], TDS_T_NVARCHAR, 200, 0, 0), TDS_OK);
    t->names[0] = "id";
    t->names[1] = "v";
    t->n = n;
    t->vals = calloc(n * 2 + 1, sizeof *t->vals);
    t->arena = malloc(n * 512 + 1);
    uint8_t *o = t->arena;
    for (size_t i = 0; i < n; i++) {
        int k = tds_encode_int(&t->cols[0], ids[i], o, 8);
        cr_assert_eq(k, 4);
        t->vals[2 * i] = (tds_value){ o, 4, 0 };
        o += 8;
        if (!texts[i]) {
            t->vals[2 * i + 1] = (tds_value){ NULL, 0, TDS_VF_NULL };
            continue;
        }
        k = tds_encode_text(&t->cols[1], texts[i], strlen(texts[i]), o, 400);
        cr_assert_geq(k, 0);
        t->vals[2 * i + 1] = (tds_value){ o, (uint32_t)k, 0 };
        o += 400;
    }
}

void kv_free(kv_table *t)
{
    free(t->vals);
    free(t->arena);
}

sink_table kv_sink_table(const kv_table *t, const char *name, sink_strategy st)
{
    sink_table s = { .name = name, .cols = t->cols, .names = t->names, .ncols = 2,
                     .pk = t->pk, .npk = 1, .incremental_key = 0, .strategy = st };
    return s;
}

int load(const char *uri, const sink_table *t, const tds_value *vals, size_t nrows,
         size_t per, char *msg, size_t msgcap)
{
    sink *s = NULL;
    char err[512];
    int rc = sink_open(uri, NULL, &s, err, sizeof err);
    if (rc) {
        snprintf(msg, msgcap, "%s", err);
        return rc;
    }
    rc = sink_begin(s, t);
    for (size_t r = 0; !rc && r < nrows; r += per) {
        sink_batch b = { vals + r * t->ncols, nrows - r < per ? nrows - r : per };
        rc = sink_append(s, &b);
    }
    if (!rc)
        rc = sink_commit(s);
    if (rc)
        snprintf(msg, msgcap, "%s", sink_errmsg(s));
    else if (msgcap)
        msg[0] = '\0';
    sink_close(s);
    return rc;
}

int load_abort(const char *uri, const sink_table *t, const tds_value *vals, size_t nrows,
               size_t per, size_t batches)
{
    sink *s = NULL;
    char err[512];
    int rc = sink_open(uri, NULL, &s, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    rc = sink_begin(s, t);
    cr_assert_eq(rc, 0, "%s", sink_errmsg(s));
    for (size_t r = 0, k = 0; k < batches && r < nrows; r += per, k++) {
        sink_batch b = { vals + r * t->ncols, nrows - r < per ? nrows - r : per };
        rc = sink_append(s, &b);
        cr_assert_eq(rc, 0, "%s", sink_errmsg(s));
    }
    sink_abort(s);
    sink_close(s);
    return 0;
}

const char *tmp_path(const char *name)
{
    static char buf[1024];
    mkdir(SINK_TEST_TMP, 0777);
    snprintf(buf, sizeof buf, "%s/%ld-%s", SINK_TEST_TMP, (long)getpid(), name);
    unlink(buf);
    return buf;
}

char *read_file(const char *path, bool gz, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap + 1);
    if (gz) {
        gzFile f = gzopen(path, "rb");
        cr_assert_not_null(f, "gzopen %s", path);
        int r;
        while ((r = gzread(f, p + n, (unsigned)(cap - n))) > 0) {
            n += (size_t)r;
            if (n == cap)
                p = realloc(p, (cap *= 2) + 1);
        }
        cr_assert_geq(r, 0, "gzread");
        gzclose(f);
    } else {
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
        size_t r;
        while ((r = fread(p + n, 1, cap - n, f)) > 0) {
            n += r;
            if (n == cap)
                p = realloc(p, (cap *= 2) + 1);
        }
        fclose(f);
    }
    p[n] = '\0';
    *len = n;
    return p;
}

void kv_window(kv_table *k, sink_table *t, int lo, int hi)
{
    int b[2] = { lo, hi };
    for (int i = 0; i < 2; i++) {
        if (b[i] < 0)
            continue;
        cr_assert_eq(tds_encode_int(&k->cols[0], b[i], k->bound[i], 8), 4);
        k->bv[i] = (tds_value){ k->bound[i], 4, 0 };
    }
    t->window_lo = lo < 0 ? NULL : &k->bv[0];
    t->window_hi = hi < 0 ? NULL : &k->bv[1];
}

void rows_window_load(const char *uri, const char *table, int key_col, const char *lo, const char *hi)
{
    rowset rs;
    rows_build(&rs);
    char msg[512];
    sink_table t = rows_table(&rs, table, SINK_REPLACE);
    cr_assert_eq(load(uri, &t, rs.vals, 3, 3, msg, sizeof msg), 0, "%s", msg);
    const tds_column *kc = &rs.cols[key_col];
    const char *txt[2] = { lo, hi };
    uint8_t raw[2][16];
    tds_value v[2];
    for (int i = 0; i < 2; i++) {
        if (!txt[i])
            continue;
        tds_datetime d;
        cr_assert_eq(tds_datetime_parse(txt[i], strlen(txt[i]), (tds_kind)kc->kind, kc->scale, &d), TDS_OK, "%s", txt[i]);
        int n = tds_encode_datetime(kc, &d, raw[i], sizeof raw[i]);
        cr_assert_gt(n, 0);
        v[i] = (tds_value){ raw[i], (uint32_t)n, 0 };
    }
    t = rows_table(&rs, table, SINK_DELETE_INSERT);
    t.incremental_key = key_col;
    t.window_lo = lo ? &v[0] : NULL;
    t.window_hi = hi ? &v[1] : NULL;
    cr_assert_eq(load(uri, &t, rs.vals, 0, 1, msg, sizeof msg), 0, "%s", msg);
    rows_free(&rs);
}

/* ------------------------------------------------- Change Tracking merge */

void cdc_load(const char *uri, const char *table, const cdc_row *rows, size_t n)
{
    tds_column cols[5];
    const char *names[5] = { "id", "v", "_cdc_lsn", "_cdc_deleted", "stamp" };
    cr_assert_eq(tds_column_init(&cols[0], TDS_T_INTN, 4, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&cols[1], TDS_T_NVARCHAR, 40, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&cols[2], TDS_T_NVARCHAR, 40, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&cols[3], TDS_T_BITN, 1, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&cols[4], TDS_T_INTN, 4, 0, 0), TDS_OK);
    cols[0].flags = cols[2].flags = cols[3].flags = cols[4].flags = 0; /* NOT NULL */
    tds_value *vals = calloc(n * 5 + 1, sizeof *vals);
    uint8_t *arena = malloc(n * 128 + 1), *o = arena;
    for (size_t i = 0; i < n; i++) {
        tds_value *v = vals + 5 * i;
        int k = tds_encode_int(&cols[0], rows[i].id, o, 8);
        v[0] = (tds_value){ o, (uint32_t)k, 0 };
        o += 8;
        if (rows[i].v) {
            k = tds_encode_text(&cols[1], rows[i].v, strlen(rows[i].v), o, 40);
            cr_assert_geq(k, 0);
            v[1] = (tds_value){ o, (uint32_t)k, 0 };
            o += 40;
        } else {
            v[1] = (tds_value){ NULL, 0, TDS_VF_NULL };
        }
        char lsn[24];
        snprintf(lsn, sizeof lsn, "%020u", rows[i].lsn);
        k = tds_encode_text(&cols[2], lsn, 20, o, 40);
        cr_assert_eq(k, 40);
        v[2] = (tds_value){ o, 40, 0 };
        o += 40;
        k = tds_encode_int(&cols[3], rows[i].del, o, 8);
        v[3] = (tds_value){ o, (uint32_t)k, 0 };
        o += 8;
        k = tds_encode_int(&cols[4], rows[i].stamp, o, 8);
        v[4] = (tds_value){ o, (uint32_t)k, 0 };
        o += 8;
    }
    size_t pk[1] = { 0 };
    sink_table t;
    memset(&t, 0, sizeof t);
    t.name = table;
    t.cols = cols;
    t.names = names;
    t.ncols = 5;
    t.pk = pk;
    t.npk = 1;
    t.incremental_key = -1;
    t.strategy = SINK_MERGE;
    t.cdc = true;
    char msg[512] = "";
    int rc = load(uri, &t, vals, n, 2, msg, sizeof msg);
    free(vals);
    free(arena);
    cr_assert_eq(rc, 0, "cdc load: %s", msg);
}

/* The rules of sink.h's cdc merge, in three loads:
 *   1: three rows at version 5;
 *   2: key 1 older (4) → ignored; key 2 deleted at the same version 5 →
 *      the delete wins and only _cdc_* change (v and stamp stay); key 3
 *      updated and deleted at version 7 in one load → the delete wins;
 *      key 4 twice (8 then 9) → 9 wins; key 5 deleted, never seen → a
 *      tombstone (v NULL, the NOT NULL stamp as staged);
 *   3: key 2 re-sent as a non-delete at version 5 → the delete stays; key
 *      3 newer (8) → replaced; key 5 newer (10) → the tombstone becomes a
 *      row. */
void cdc_sequence(const char *uri, const char *table, cdc_check_fn check)
{
    static const cdc_row l1[] = { { 1, "a", 5, false, 1 }, { 2, "b", 5, false, 1 }, { 3, "c", 5, false, 1 } };
    static const cdc_row l2[] = { { 1, "old", 4, false, 2 }, { 2, NULL, 5, true, 2 }, { 3, "c7", 7, false, 2 },
                                  { 4, "x", 8, false, 2 },   { 3, NULL, 7, true, 2 }, { 4, "y", 9, false, 2 },
                                  { 5, NULL, 6, true, 2 } };
    static const cdc_row l3[] = { { 2, "b2", 5, false, 3 }, { 3, "c8", 8, false, 3 }, { 5, "e", 10, false, 3 } };
    static const char *const after1[] = { "1|a|5|0|1", "2|b|5|0|1", "3|c|5|0|1" };
    static const char *const after2[] = { "1|a|5|0|1", "2|b|5|1|1", "3|c|7|1|1", "4|y|9|0|2", "5|-|6|1|2" };
    static const char *const after3[] = { "1|a|5|0|1", "2|b|5|1|1", "3|c8|8|0|3", "4|y|9|0|2", "5|e|10|0|3" };
    cdc_load(uri, table, l1, 3);
    check(after1, 3);
    cdc_load(uri, table, l2, 7);
    check(after2, 5);
    cdc_load(uri, table, l3, 3);
    check(after3, 5);
}
