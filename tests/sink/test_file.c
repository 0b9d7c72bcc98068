/*
 * test_file.c — CSV and JSONL sinks (sink/csv.c, sink/jsonl.c, sink/file.c):
 * exact bytes for every type and edge row (RFC 4180 quoting, NULL vs "",
 * JSON escapes, base64, numbers), gzip readable by zlib, append, large
 * values, and failures that must leave the old file untouched.
 */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rows.h"

/* Rows 0–3 exactly as the sinks must write them. */
static const char csv_expected[] =
"id,ti,si,bi,bt,r,f,sm,m,d38,d5,d18,dt,tm,tm3,dtm,sdt,dt2,dt23,dto,g,vc,nc,nvm,vbm,x\n"
    "1,42,-1234,1234567890123,1,0.1,0.1,12.5000,-1234.5678,3.1415926535,-1.50,0,2024-02-29,13:14:15.1234567,13:14:15.123,2024-01-02 03:04:05.997,2024-01-02 03:04:00,2024-01-02 03:04:05.1234567,2024-01-02 03:04:05.123,2024-01-02 03:04:05.1234567 -05:30,6F9619FF-8B86-D011-B42D-00C04FC964FF,\"a,b \"\"q\"\"\r\n"
    "line2\",\"caf\xc3""\xa9""      \",tab\there \\ \xf0""\x9f""\x98""\x80"" \xe4""\xb8""\xad""\x01"",0x00FF1080,\"<a b=\"\"1\"\">x</a>\"\n"
    "2,0,-32768,-9223372036854775808,0,-3.4028235e+38,-1.7976931348623157e+308,-214748.3648,-922337203685477.5808,-9999999999999999999999999999.9999999999,-999.99,-999999999999999999,0001-01-01,00:00:00.0000000,00:00:00.000,1753-01-01 00:00:00.000,1900-01-01 00:00:00,1677-09-22 00:00:00.0000001,0001-01-01 00:00:00.000,0001-01-01 14:00:00.0000000 +14:00,00000000-0000-0000-0000-000000000000,\"\",\"          \",\"\",0x,\"\"\n"
    "3,255,32767,9223372036854775807,1,1e-45,5e-324,214748.3647,922337203685477.5807,9999999999999999999999999999.9999999999,999.99,999999999999999999,9999-12-31,23:59:59.9999999,23:59:59.999,9999-12-31 23:59:59.997,2079-06-06 23:59:00,2262-04-10 23:59:59.9999999,9999-12-31 23:59:59.999,9999-12-31 09:59:59.9999999 -14:00,FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF,\" lead\",\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80"",\"\"\"\",0xDEADBE,<r/>\n"
    "4,,,,,,,,,,,,,,,,,,,,,,,,,\n"
    "";

static const char jsonl_expected[] =
"{\"id\":1,\"ti\":42,\"si\":-1234,\"bi\":1234567890123,\"bt\":true,\"r\":0.1,\"f\":0.1,\"sm\":\"12.5000\",\"m\":\"-1234.5678\",\"d38\":\"3.1415926535\",\"d5\":\"-1.50\",\"d18\":\"0\",\"dt\":\"2024-02-29\",\"tm\":\"13:14:15.1234567\",\"tm3\":\"13:14:15.123\",\"dtm\":\"2024-01-02 03:04:05.997\",\"sdt\":\"2024-01-02 03:04:00\",\"dt2\":\"2024-01-02 03:04:05.1234567\",\"dt23\":\"2024-01-02 03:04:05.123\",\"dto\":\"2024-01-02 03:04:05.1234567 -05:30\",\"g\":\"6F9619FF-8B86-D011-B42D-00C04FC964FF\",\"vc\":\"a,b \\\"q\\\"\\r\\nline2\",\"nc\":\"caf\xc3""\xa9""      \",\"nvm\":\"tab\\there \\\\ \xf0""\x9f""\x98""\x80"" \xe4""\xb8""\xad""\\u0001\",\"vbm\":\"AP8QgA==\",\"x\":\"<a b=\\\"1\\\">x</a>\"}\n"
    "{\"id\":2,\"ti\":0,\"si\":-32768,\"bi\":-9223372036854775808,\"bt\":false,\"r\":-3.4028235e+38,\"f\":-1.7976931348623157e+308,\"sm\":\"-214748.3648\",\"m\":\"-922337203685477.5808\",\"d38\":\"-9999999999999999999999999999.9999999999\",\"d5\":\"-999.99\",\"d18\":\"-999999999999999999\",\"dt\":\"0001-01-01\",\"tm\":\"00:00:00.0000000\",\"tm3\":\"00:00:00.000\",\"dtm\":\"1753-01-01 00:00:00.000\",\"sdt\":\"1900-01-01 00:00:00\",\"dt2\":\"1677-09-22 00:00:00.0000001\",\"dt23\":\"0001-01-01 00:00:00.000\",\"dto\":\"0001-01-01 14:00:00.0000000 +14:00\",\"g\":\"00000000-0000-0000-0000-000000000000\",\"vc\":\"\",\"nc\":\"          \",\"nvm\":\"\",\"vbm\":\"\",\"x\":\"\"}\n"
    "{\"id\":3,\"ti\":255,\"si\":32767,\"bi\":9223372036854775807,\"bt\":true,\"r\":1e-45,\"f\":5e-324,\"sm\":\"214748.3647\",\"m\":\"922337203685477.5807\",\"d38\":\"9999999999999999999999999999.9999999999\",\"d5\":\"999.99\",\"d18\":\"999999999999999999\",\"dt\":\"9999-12-31\",\"tm\":\"23:59:59.9999999\",\"tm3\":\"23:59:59.999\",\"dtm\":\"9999-12-31 23:59:59.997\",\"sdt\":\"2079-06-06 23:59:00\",\"dt2\":\"2262-04-10 23:59:59.9999999\",\"dt23\":\"9999-12-31 23:59:59.999\",\"dto\":\"9999-12-31 09:59:59.9999999 -14:00\",\"g\":\"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF\",\"vc\":\" lead\",\"nc\":\"\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\",\"nvm\":\"\\\"\",\"vbm\":\"3q2+\",\"x\":\"<r/>\"}\n"
    "{\"id\":4,\"ti\":null,\"si\":null,\"bi\":null,\"bt\":null,\"r\":null,\"f\":null,\"sm\":null,\"m\":null,\"d38\":null,\"d5\":null,\"d18\":null,\"dt\":null,\"tm\":null,\"tm3\":null,\"dtm\":null,\"sdt\":null,\"dt2\":null,\"dt23\":null,\"dto\":null,\"g\":null,\"vc\":null,\"nc\":null,\"nvm\":null,\"vbm\":null,\"x\":null}\n"
    "";

static void uri_of(char *uri, size_t cap, const char *scheme, const char *path)
{
    snprintf(uri, cap, "%s://%s", scheme, path);
}

static void check_load(const char *scheme, const char *file, bool gz, const char *expected, size_t per)
{
    rowset rs;
    rows_build(&rs);
    char uri[1200], msg[512];
    const char *p = tmp_path(file);
    char path[1024];
    snprintf(path, sizeof path, "%s", p);
    uri_of(uri, sizeof uri, scheme, path);
    sink_table t = rows_table(&rs, "dbo.t", SINK_REPLACE);
    cr_assert_eq(load(uri, &t, rs.vals, 4, per, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, gz, &n);
    cr_assert_eq(n, strlen(expected), "length %zu, want %zu:\n%s", n, strlen(expected), got);
    cr_assert(memcmp(got, expected, n) == 0, "got:\n%s", got);
    free(got);
    unlink(path);
    rows_free(&rs);
}

Test(csv, every_type_exact) { check_load("csv", "a.csv", false, csv_expected, 4); }
Test(csv, one_row_batches) { check_load("csv", "b.csv", false, csv_expected, 1); }
Test(csv, gzip_readable_by_zlib) { check_load("csv", "c.csv.gz", true, csv_expected, 3); }
Test(jsonl, every_type_exact) { check_load("jsonl", "a.jsonl", false, jsonl_expected, 4); }
Test(jsonl, gzip_readable_by_zlib) { check_load("jsonl", "b.jsonl.gz", true, jsonl_expected, 2); }

/* Row 4: 300 000-byte text with non-BMP characters and 100 000 bytes of
 * binary survive whole (hex in CSV, base64 in JSONL). */
Test(csv, large_max_values)
{
    rowset rs;
    rows_build(&rs);
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path("big.csv"));
    uri_of(uri, sizeof uri, "csv", path);
    sink_table t = rows_table(&rs, "t", SINK_REPLACE);
    cr_assert_eq(load(uri, &t, rs.vals + 4 * NCOLS, 1, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, false, &n);
    cr_assert_not_null(memmem(got, n, rs.big_text, rs.big_text_len), "big text missing");
    char *hex = malloc(2 * rs.big_bin_len + 3);
    hex[0] = '0';
    hex[1] = 'x';
    for (size_t i = 0; i < rs.big_bin_len; i++)
        sprintf(hex + 2 + 2 * i, "%02X", rs.big_bin[i]);
    cr_assert_not_null(memmem(got, n, hex, 2 * rs.big_bin_len + 2), "big binary missing");
    free(hex);
    free(got);
    rows_free(&rs);
}

static char *b64(const uint8_t *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc((n + 2) / 3 * 4 + 1), *q = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *q++ = a[x >> 18];
        *q++ = a[x >> 12 & 63];
        *q++ = i + 1 < n ? a[x >> 6 & 63] : '=';
        *q++ = i + 2 < n ? a[x & 63] : '=';
    }
    *q = '\0';
    return o;
}

Test(jsonl, large_max_values_and_base64)
{
    rowset rs;
    rows_build(&rs);
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path("big.jsonl"));
    uri_of(uri, sizeof uri, "jsonl", path);
    sink_table t = rows_table(&rs, "t", SINK_REPLACE);
    cr_assert_eq(load(uri, &t, rs.vals + 4 * NCOLS, 1, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, false, &n);
    cr_assert_not_null(memmem(got, n, rs.big_text, rs.big_text_len));
    char *want = b64(rs.big_bin, rs.big_bin_len);
    cr_assert_not_null(memmem(got, n, want, strlen(want)));
    /* base64 edge lengths: 1, 2 and 3 bytes */
    char *e1 = b64((const uint8_t *)"\xde", 1), *e2 = b64((const uint8_t *)"\xde\xad", 2);
    cr_assert_str_eq(e1, "3g==");
    cr_assert_str_eq(e2, "3q0=");
    free(e1);
    free(e2);
    free(want);
    free(got);
    rows_free(&rs);
}

/* JSON: NaN and infinities become null; control characters \u00XX. */
Test(jsonl, non_finite_floats_are_null)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_FLTN, 8, 0, 0), TDS_OK);
    const char *names[1] = { "f" };
    double vals[4] = { 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0, -0.0 };
    uint8_t raw[4][8];
    tds_value v[4];
    for (int i = 0; i < 4; i++) {
        uint64_t u;
        memcpy(&u, &vals[i], 8); /* the encoders refuse non-finite values */
        for (int k = 0; k < 8; k++)
            raw[i][k] = (uint8_t)(u >> (8 * k));
        v[i] = (tds_value){ raw[i], 8, 0 };
    }
    sink_table t = { .name = "t", .cols = &c, .names = names, .ncols = 1, .incremental_key = -1 };
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path("nan.jsonl"));
    uri_of(uri, sizeof uri, "jsonl", path);
    cr_assert_eq(load(uri, &t, v, 4, 4, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, false, &n);
    cr_assert_str_eq(got, "{\"f\":null}\n{\"f\":null}\n{\"f\":null}\n{\"f\":-0}\n");
    free(got);
    snprintf(path, sizeof path, "%s", tmp_path("nan.csv"));
    uri_of(uri, sizeof uri, "csv", path);
    cr_assert_eq(load(uri, &t, v, 4, 4, msg, sizeof msg), 0, "%s", msg);
    got = read_file(path, false, &n);
    cr_assert_str_eq(got, "f\nInfinity\n-Infinity\nNaN\n-0\n");
    free(got);
}

static void check_append(const char *scheme, const char *file, bool gz)
{
    int ids1[] = { 1, 2 }, ids2[] = { 3 };
    const char *tx1[] = { "a", NULL }, *tx2[] = { "" };
    kv_table a, b;
    kv_build(&a, ids1, tx1, 2);
    kv_build(&b, ids2, tx2, 1);
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path(file));
    uri_of(uri, sizeof uri, scheme, path);
    sink_table ta = kv_sink_table(&a, "t", SINK_REPLACE), tb = kv_sink_table(&b, "t", SINK_APPEND);
    cr_assert_eq(load(uri, &ta, a.vals, 2, 2, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(load(uri, &tb, b.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, gz, &n);
    if (strcmp(scheme, "csv") == 0)
        cr_assert_str_eq(got, "id,v\n1,a\n2,\n3,\"\"\n");
    else
        cr_assert_str_eq(got, "{\"id\":1,\"v\":\"a\"}\n{\"id\":2,\"v\":null}\n{\"id\":3,\"v\":\"\"}\n");
    free(got);
    /* append into a missing file writes the header */
    unlink(path);
    cr_assert_eq(load(uri, &tb, b.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    got = read_file(path, gz, &n);
    if (strcmp(scheme, "csv") == 0)
        cr_assert_str_eq(got, "id,v\n3,\"\"\n");
    free(got);
    kv_free(&a);
    kv_free(&b);
}

Test(csv, append_keeps_old_rows_and_one_header) { check_append("csv", "ap.csv", false); }
Test(csv, append_gzip_members) { check_append("csv", "ap.csv.gz", true); }
Test(jsonl, append_keeps_old_rows) { check_append("jsonl", "ap.jsonl", false); }

/* An abort after some batches, and a value that cannot be decoded in the
 * middle of a load, leave the previous file exactly as it was and no temp
 * file behind. */
static void check_failure_keeps_old(const char *scheme, const char *file)
{
    int ids[] = { 1, 2, 3, 4 };
    const char *tx[] = { "one", "two", "three", "four" };
    kv_table k;
    kv_build(&k, ids, tx, 4);
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path(file));
    uri_of(uri, sizeof uri, scheme, path);
    sink_table t = kv_sink_table(&k, "t", SINK_REPLACE);
    cr_assert_eq(load(uri, &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n0, n1;
    char *before = read_file(path, false, &n0);

    load_abort(uri, &t, k.vals, 4, 1, 3);
    char *after = read_file(path, false, &n1);
    cr_assert_eq(n0, n1);
    cr_assert(memcmp(before, after, n0) == 0);
    free(after);
    sink_table tapp = kv_sink_table(&k, "t", SINK_APPEND);
    load_abort(uri, &tapp, k.vals, 4, 1, 3);
    after = read_file(path, false, &n1);
    cr_assert_eq(n0, n1);
    cr_assert(memcmp(before, after, n0) == 0);
    free(after);

    /* invalid UTF-16 (a lone surrogate) in row 3 */
    static const uint8_t bad[] = { 0x00, 0xD8 };
    k.vals[2 * 2 + 1] = (tds_value){ bad, 2, 0 };
    sink_table ta = kv_sink_table(&k, "t", SINK_APPEND);
    int rc = load(uri, &ta, k.vals, 4, 1, msg, sizeof msg);
    cr_assert_eq(rc, SINK_E_VALUE, "rc %d", rc);
    cr_assert(strstr(msg, "column v") != NULL, "%s", msg);
    after = read_file(path, false, &n1);
    cr_assert_eq(n0, n1);
    cr_assert(memcmp(before, after, n0) == 0);
    free(after);
    free(before);

    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s.tmp-* >/dev/null 2>&1", path);
    cr_assert_neq(system(cmd), 0, "a temp file was left behind");
    kv_free(&k);
}

Test(csv, failure_leaves_old_file) { check_failure_keeps_old("csv", "f.csv"); }
Test(jsonl, failure_leaves_old_file) { check_failure_keeps_old("jsonl", "f.jsonl"); }

Test(csv, merge_and_delete_insert_refused)
{
    int ids[] = { 1 };
    const char *tx[] = { "x" };
    kv_table k;
    kv_build(&k, ids, tx, 1);
    char uri[1200], msg[512];
    uri_of(uri, sizeof uri, "csv", tmp_path("m.csv"));
    sink_table t = kv_sink_table(&k, "t", SINK_MERGE);
    cr_assert_eq(load(uri, &t, k.vals, 1, 1, msg, sizeof msg), SINK_E_UNSUPPORTED);
    cr_assert(strstr(msg, "merge") != NULL, "%s", msg);
    t.strategy = SINK_DELETE_INSERT;
    cr_assert_eq(load(uri, &t, k.vals, 1, 1, msg, sizeof msg), SINK_E_UNSUPPORTED);
    kv_free(&k);
}

Test(csv, unwritable_directory_is_one_line_error)
{
    int ids[] = { 1 };
    const char *tx[] = { "x" };
    kv_table k;
    kv_build(&k, ids, tx, 1);
    char msg[512], uri[1200], file[1024];
    sink_table t = kv_sink_table(&k, "t", SINK_REPLACE);
    /* missing directories are made (below), so: one under a plain file */
    snprintf(file, sizeof file, "%s", tmp_path("plain"));
    FILE *fp = fopen(file, "w");
    cr_assert_not_null(fp);
    fclose(fp);
    snprintf(uri, sizeof uri, "csv://%s/nonexistent-dir/x.csv", file);
    int rc = load(uri, &t, k.vals, 1, 1, msg, sizeof msg);
    cr_assert_eq(rc, SINK_E_IO);
    cr_assert(strstr(msg, "/nonexistent-dir/x.csv") != NULL && !strchr(msg, '\n'), "%s", msg);
    unlink(file);
    kv_free(&k);
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* As ingestr (os.MkdirAll): a target's missing directories are made; a
 * load that fails (abort, or a bad value) removes the ones it made and
 * keeps those that were there. */
static void check_makes_dirs(const char *scheme, const char *ext)
{
    int ids[] = { 1, 2, 3 };
    const char *tx[] = { "one", "two", "three" };
    kv_table k;
    kv_build(&k, ids, tx, 3);
    char base[1024], uri[1200], path[1200], sub[1200], msg[512], cmd[1200];
    snprintf(base, sizeof base, "%s-%s", tmp_path("mk"), ext);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/a//b/out.%s", base, ext);
    uri_of(uri, sizeof uri, scheme, path);
    sink_table t = kv_sink_table(&k, "t", SINK_REPLACE);
    load_abort(uri, &t, k.vals, 3, 1, 2);
    cr_assert(!is_dir(base), "an aborted load left %s", base);
    cr_assert_eq(mkdir(base, 0777), 0);
    sink_table ta = kv_sink_table(&k, "t", SINK_APPEND);
    load_abort(uri, &ta, k.vals, 3, 1, 2);
    snprintf(sub, sizeof sub, "%s/a", base);
    cr_assert(is_dir(base) && !is_dir(sub), "the load's own directories only are removed");
    static const uint8_t bad[] = { 0x00, 0xD8 }; /* a lone surrogate in row 2 */
    tds_value keep = k.vals[1 * 2 + 1];
    k.vals[1 * 2 + 1] = (tds_value){ bad, 2, 0 };
    cr_assert_eq(load(uri, &t, k.vals, 3, 1, msg, sizeof msg), SINK_E_VALUE, "%s", msg);
    cr_assert(is_dir(base) && !is_dir(sub), "a failed load removes its directories");
    k.vals[1 * 2 + 1] = keep;
    cr_assert_eq(load(uri, &t, k.vals, 3, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, false, &n);
    cr_assert_not_null(got, "%s was not written", path);
    cr_assert(n > 0);
    free(got);
    cr_assert_eq(system(cmd), 0);
    kv_free(&k);
}

Test(csv, missing_directories_are_made) { check_makes_dirs("csv", "csv"); }
Test(jsonl, missing_directories_are_made) { check_makes_dirs("jsonl", "jsonl"); }

Test(csv, max_value_unsupported)
{
    sink *s;
    char err[256], out[64];
    bool found = true;
    cr_assert_eq(sink_open("csv://x.csv", NULL, &s, err, sizeof err), 0);
    cr_assert_eq(sink_max_value(s, "t", "id", out, sizeof out, &found), SINK_E_UNSUPPORTED);
    cr_assert(!found);
    cr_assert_eq(sink_state_get(s, "cursor", out, sizeof out, &found), SINK_E_UNSUPPORTED);
    sink_close(s);
}

/* sql_variant: CSV gets the inner value's text; JSON follows the inner
 * kind (a number stays a number, binary is base64). */
Test(jsonl, variant_follows_inner_kind)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, TDS_T_VARIANT, 8016, 0, 0), TDS_OK);
    const char *names[1] = { "v" };
    /* base type, property count, properties, data (MS-TDS sql_variant) */
    static const uint8_t i4[] = { TDS_T_INT4, 0, 0x2A, 0, 0, 0 };
    static const uint8_t bin[] = { TDS_T_BIGVARBIN, 2, 0x10, 0x00, 0xDE, 0xAD };
    static const uint8_t nv[] = { TDS_T_NVARCHAR, 7, 0x09, 0x04, 0xD0, 0x00, 0x34, 0x10, 0x00, 'h', 0, 'i', 0 };
    tds_value v[4] = { { i4, sizeof i4, 0 }, { bin, sizeof bin, 0 }, { nv, sizeof nv, 0 }, { NULL, 0, TDS_VF_NULL } };
    sink_table t = { .name = "t", .cols = &c, .names = names, .ncols = 1, .incremental_key = -1 };
    char uri[1200], msg[512], path[1024];
    snprintf(path, sizeof path, "%s", tmp_path("var.jsonl"));
    uri_of(uri, sizeof uri, "jsonl", path);
    cr_assert_eq(load(uri, &t, v, 4, 4, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, false, &n);
    cr_assert_str_eq(got, "{\"v\":42}\n{\"v\":\"3q0=\"}\n{\"v\":\"hi\"}\n{\"v\":null}\n");
    free(got);
    snprintf(path, sizeof path, "%s", tmp_path("var.csv"));
    uri_of(uri, sizeof uri, "csv", path);
    cr_assert_eq(load(uri, &t, v, 4, 4, msg, sizeof msg), 0, "%s", msg);
    got = read_file(path, false, &n);
    cr_assert_str_eq(got, "v\n42\n0xDEAD\nhi\n\n");
    free(got);
}

/* ingestr's path rule for file URIs (its csv destination's parseCSVPath
 * and csv source's extractFilePath): everything after "scheme://" up to
 * '?', percent-decoded; one broken escape leaves the text as written. */
Test(file_uri, path_rule)
{
    static const struct { const char *uri, *path; } ok[] = {
        {"csv:///tmp/out.csv", "/tmp/out.csv"},
        {"csv://out.csv", "out.csv"},
        {"csv://dir/out.csv.gz", "dir/out.csv.gz"},
        {"jsonl:///tmp/my%20file.jsonl", "/tmp/my file.jsonl"},
        {"ndjson://a.jsonl?compression=none", "a.jsonl"},
        {"csv:///tmp/file.csv?encoding=windows-1252", "/tmp/file.csv"},
        {"parquet:///data/x.parquet", "/data/x.parquet"},
        {"csv://100%.csv", "100%.csv"},
        {"csv://a%2Fb%zz.csv", "a%2Fb%zz.csv"},
        {"csv:////tmp/x.csv", "//tmp/x.csv"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *p = NULL, err[200];
        cr_assert_eq(sink_file_path(ok[i].uri, &p, err, sizeof err), 0, "%s: %s", ok[i].uri, err);
        cr_expect_str_eq(p, ok[i].path, "%s", ok[i].uri);
        free(p);
    }
    static const char *const bad[] = {"csv://", "csv://?x=1", "csv:///", "csv://dir/", "csv://a%00b", "out.csv"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = (char *)1, err[200] = "";
        cr_expect_eq(sink_file_path(bad[i], &p, err, sizeof err), SINK_E_URI, "%s", bad[i]);
        cr_expect_null(p, "%s", bad[i]);
        cr_expect(err[0] && !strchr(err, '\n'), "%s: '%s'", bad[i], err);
    }
}

/* A destination URI lands where the rule says: percent-decoded name,
 * query dropped, ".gz" (before the query) still meaning gzip. */
Test(file_uri, load_lands_at_decoded_path)
{
    int ids[] = { 1 };
    const char *tx[] = { "x" };
    kv_table k;
    kv_build(&k, ids, tx, 1);
    sink_table t = kv_sink_table(&k, "t", SINK_REPLACE);
    char uri[1200], path[1024], msg[512];
    snprintf(path, sizeof path, "%s", tmp_path("sp ace.csv.gz")); /* (tmp_path unlinks) */
    snprintf(uri, sizeof uri, "csv://%s?ignored=1", tmp_path("sp%20ace.csv.gz"));
    cr_assert_eq(load(uri, &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n;
    char *got = read_file(path, true, &n);
    cr_assert_str_eq(got, "id,v\n1,x\n");
    free(got);
    unlink(path);
    kv_free(&k);
}

/* sqlite:// and duckdb://: the file a load opens (the CLI removes it when
 * a first load fails) */
Test(db_file, sqlalchemy_rule)
{
    static const struct { const char *uri, *file; } cases[] = {
        {"duckdb:///rel.duckdb", "rel.duckdb"},
        {"duckdb:////abs/x.duckdb?threads=2", "/abs/x.duckdb"},
        {"DUCKDB:///a%20b%3F.duckdb", "a b?.duckdb"},
        {"duckdb:///e#f.duckdb", "e#f.duckdb"},
        {"sqlite:///rel.db", "rel.db"},
        {"sqlite:////abs/x.db?mode=rw", "/abs/x.db"},
        {"sqlite:///a%20b.db", "a%20b.db"}, /* SQLite's path as written */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *f = sink_db_file(cases[i].uri);
        cr_expect(f && !strcmp(f, cases[i].file), "%s: %s", cases[i].uri, f ? f : "(null)");
        free(f);
    }
    static const char *none[] = {"duckdb:///", "duckdb:///?threads=2", "duckdb:///a%00", "csv:///x.csv", "postgresql://h/db"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        char *f = sink_db_file(none[i]);
        cr_expect_null(f, "%s: %s", none[i], f ? f : "");
        free(f);
    }
}
