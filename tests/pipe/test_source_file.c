/* test_source_file.c — the file sources (pipe/src_file.c and the
 * pipe/file_*.c, csv_parse.c, jsonl_parse.c they use): CSV records in any
 * pieces, type inference and conversion, JSONL members, whole files
 * (plain and gzip) through the source vtable (open, describe, read into
 * pipe_rows_cb, close), numbers under a decimal-comma locale, and the
 * cJSON loader from several threads at once. */
#include <criterion/criterion.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "csv_parse.h"
#include "file_int.h"
#include "pipe_int.h"

/* ------------------------------------------------------------ CSV */

typedef struct recs {
    char out[4096]; /* records as "f1|f2|…\n", NULL fields as ∅, quoted as "…" */
    size_t n;
} recs;

static int collect(void *ud, char **f, const size_t *lens, const bool *quoted, size_t n, uint64_t line)
{
    recs *r = ud;
    (void)line;
    for (size_t i = 0; i < n; i++) {
        char part[512];
        snprintf(part, sizeof part, "%s%s%.*s%s", i ? "|" : "", quoted[i] ? "\"" : "", (int)lens[i], f[i],
                 quoted[i] ? "\"" : "");
        strcat(r->out, part);
    }
    strcat(r->out, "\n");
    r->n++;
    return 0;
}

/* Parses in, fed in pieces of `step` bytes. Returns the rc. */
static int parse(const char *in, size_t step, recs *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    pipe_csv *c = pipe_csv_new(',', 1 << 20, 1000, collect, r);
    cr_assert_not_null(c);
    size_t n = strlen(in);
    int rc = 0;
    for (size_t off = 0; off < n && !rc; off += step)
        rc = pipe_csv_feed(c, in + off, n - off < step ? n - off : step);
    if (!rc)
        rc = pipe_csv_finish(c);
    snprintf(err, cap, "%s", pipe_csv_error(c));
    pipe_csv_free(c);
    return rc;
}

static void csv_is(const char *in, const char *want)
{
    for (size_t step = 1; step <= 7; step += 3) {
        recs r;
        char err[200];
        cr_assert_eq(parse(in, step, &r, err, sizeof err), 0, "[%s] step %zu: %s", in, step, err);
        cr_expect_str_eq(r.out, want, "[%s] step %zu", in, step);
    }
}

Test(csv, records)
{
    csv_is("a,b\n1,2\n", "a|b\n1|2\n");
    csv_is("a,b\r\n1,2\r\n", "a|b\n1|2\n");
    csv_is("a,b\n1,2", "a|b\n1|2\n");                    /* no final newline */
    csv_is("a,b\n\n1,2\n\n", "a|b\n1|2\n");              /* blank lines */
    csv_is("a,b\n,\n", "a|b\n|\n");                       /* two empty fields */
    csv_is("a,b\n1,\n", "a|b\n1|\n");
    csv_is("x\n\"\"\n", "x\n\"\"\n");                     /* quoted empty */
    csv_is("x\n\"a,b\"\n", "x\n\"a,b\"\n");
    csv_is("x\n\"say \"\"hi\"\"\"\n", "x\n\"say \"hi\"\"\n");
    csv_is("x\n\"two\nlines\"\n", "x\n\"two\nlines\"\n");
    csv_is("x\n\"crlf\r\ninside\"\r\n", "x\n\"crlf\r\ninside\"\n");
    csv_is("\xEF\xBB\xBFid\n1\n", "id\n1\n");             /* BOM */
    csv_is("\xEFx\n", "\xEFx\n");                         /* not a BOM */
    csv_is("a,b,\n", "a|b|\n");                           /* trailing empty */
    csv_is("ü,ß\n", "ü|ß\n");
}

Test(csv, errors)
{
    static const struct { const char *in, *msg; } bad[] = {
        {"x\n\"open\n", "not closed"},
        {"x\nab\"c\n", "quote inside"},
        {"x\n\"a\"b\n", "after a closing quote"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        recs r;
        char err[200];
        cr_expect_eq(parse(bad[i].in, 1, &r, err, sizeof err), PIPE_CSV_BAD, "%s", bad[i].in);
        cr_expect(strstr(err, bad[i].msg) != NULL, "%s: %s", bad[i].in, err);
        cr_expect(strstr(err, "line 2") != NULL, "%s: %s", bad[i].in, err);
    }
}

Test(csv, limits)
{
    recs r;
    memset(&r, 0, sizeof r);
    pipe_csv *c = pipe_csv_new(',', 64, 4, collect, &r);
    char big[200];
    memset(big, 'a', sizeof big);
    cr_expect_eq(pipe_csv_feed(c, big, sizeof big), PIPE_CSV_BAD);
    cr_expect(strstr(pipe_csv_error(c), "too long") != NULL);
    pipe_csv_free(c);
    c = pipe_csv_new(',', 1 << 20, 4, collect, &r);
    cr_expect_eq(pipe_csv_feed(c, "a,b,c,d,e\n", 10), PIPE_CSV_BAD);
    cr_expect(strstr(pipe_csv_error(c), "too many fields") != NULL);
    pipe_csv_free(c);
}

/* ------------------------------------------------------ inference */

static uint8_t infer_kind(const char *const *vals, int json)
{
    pipe_infer f;
    pipe_infer_init(&f);
    for (size_t i = 0; vals[i]; i++) {
        pipe_fv v = {vals[i], strlen(vals[i]), (uint8_t)(json ? PIPE_FV_TEXT : PIPE_FV_STRING)};
        if (!*vals[i])
            v.kind = PIPE_FV_NULL;
        pipe_infer_add(&f, &v);
    }
    tds_column c;
    cr_assert_eq(pipe_infer_column(&f, &c), 0);
    cr_expect(c.flags & TDS_COL_NULLABLE);
    return c.kind;
}

Test(types, inference)
{
    cr_expect_eq(infer_kind((const char *[]){"1", "-2", "", "9223372036854775807", NULL}, 0), TDS_K_BIGINT);
    cr_expect_eq(infer_kind((const char *[]){"1", "2.5", "1e3", NULL}, 0), TDS_K_FLOAT);
    cr_expect_eq(infer_kind((const char *[]){"9223372036854775808", NULL}, 0), TDS_K_FLOAT);
    cr_expect_eq(infer_kind((const char *[]){"true", "False", "", NULL}, 0), TDS_K_BIT);
    cr_expect_eq(infer_kind((const char *[]){"0", "1", NULL}, 0), TDS_K_BIGINT);
    cr_expect_eq(infer_kind((const char *[]){"2024-01-02", "", NULL}, 0), TDS_K_DATE);
    cr_expect_eq(infer_kind((const char *[]){"2024-01-02", "2024-01-02 10:00:00", NULL}, 0), TDS_K_DATETIME2);
    cr_expect_eq(infer_kind((const char *[]){"2024-01-02T10:00:00Z", "2024-01-02 10:00+02:00", NULL}, 0),
                 TDS_K_DATETIMEOFFSET);
    cr_expect_eq(infer_kind((const char *[]){"2024-01-02T10:00:00Z", "2024-01-02T10:00:00", NULL}, 0),
                 TDS_K_DATETIME2);
    cr_expect_eq(infer_kind((const char *[]){"1", "x", NULL}, 0), TDS_K_NCHAR);
    cr_expect_eq(infer_kind((const char *[]){"nan", NULL}, 0), TDS_K_NCHAR);
    cr_expect_eq(infer_kind((const char *[]){"", "", NULL}, 0), TDS_K_NCHAR); /* all NULL */
    cr_expect_eq(infer_kind((const char *[]){"123", NULL}, 1), TDS_K_NCHAR); /* a JSON string */
    cr_expect_eq(infer_kind((const char *[]){"2024-01-02", NULL}, 1), TDS_K_DATE);
}

/* encode text as sqltype and give back the canonical text */
static void enc(const char *sqltype, const char *text, const char *want)
{
    tds_column c;
    cr_assert_eq(pipe_file_column(sqltype, &c), 0, "%s", sqltype);
    pipe_fv v = {text, strlen(text), PIPE_FV_STRING};
    uint8_t buf[512];
    size_t n;
    bool null;
    char why[200];
    int rc = pipe_fv_encode(&c, &v, buf, sizeof buf, &n, &null, why, sizeof why);
    if (!want) {
        cr_expect_eq(rc, -1, "%s '%s' accepted", sqltype, text);
        cr_expect(why[0]);
        return;
    }
    cr_assert_eq(rc, 0, "%s '%s': %s", sqltype, text, why);
    tds_value tv = {buf, (uint32_t)n, 0};
    char out[256];
    size_t ol;
    cr_assert_eq(tds_value_text(&c, &tv, out, sizeof out, &ol), TDS_OK);
    cr_expect_str_eq(out, want, "%s '%s'", sqltype, text);
}

Test(types, encode)
{
    enc("bigint", "-42", "-42");
    enc("tinyint", "255", "255");
    enc("tinyint", "256", NULL);
    enc("int", "1.5", NULL);
    enc("bit", "YES", "1");
    enc("bit", "maybe", NULL);
    enc("float", "0.1", "0.1");
    enc("decimal(10,2)", "12.345", "12.35"); /* rounded, as CAST does */
    enc("decimal(4,2)", "123.4", NULL);
    enc("decimal(10,2)", "-12.34", "-12.34");
    enc("money", "1.5", "1.5000");
    enc("date", "2024-02-29", "2024-02-29");
    enc("date", "2024-02-30", NULL);
    enc("datetime2(7)", "2024-01-02T03:04:05.1234567", "2024-01-02 03:04:05.1234567");
    enc("datetime2(7)", "2024-01-02T03:04:05+01:00", "2024-01-02 02:04:05.0000000"); /* to UTC */
    enc("datetimeoffset(7)", "2024-01-02T03:04:05-05:30", "2024-01-02 03:04:05.0000000 -05:30");
    enc("datetimeoffset(7)", "2024-01-02", "2024-01-02 00:00:00.0000000 +00:00");
    enc("time(7)", "12:34:56.5", "12:34:56.5000000");
    enc("uniqueidentifier", "6F9619FF-8B86-D011-B42D-00C04FC964FF", "6F9619FF-8B86-D011-B42D-00C04FC964FF");
    enc("uniqueidentifier", "nope", NULL);
    enc("nvarchar(max)", "ünï", "ünï");
    enc("nvarchar(2)", "abc", NULL);
    enc("nvarchar(max)", "\xff", NULL);
    enc("varbinary(max)", "0xDEADbeef", "0xDEADBEEF");
    enc("varbinary(max)", "abc", NULL);
}

/* ----------------------------------------------------------- JSONL */

static int members(void *ud, const char *key, const pipe_fv *v)
{
    char *o = ud;
    char part[256];
    snprintf(part, sizeof part, "%s=%d:%.*s;", key, v->kind, (int)v->len, v->p ? v->p : "");
    strcat(o, part);
    return 0;
}

Test(jsonl, members)
{
    char out[1024] = "", why[200];
    const char *line = "{\"a\": 1, \"b\": 2.5, \"c\": \"x\", \"d\": null, \"e\": true, \"f\": [1, {\"g\": 2}],"
                       " \"h\": 9007199254740993}";
    cr_assert_eq(pipe_jsonl_record(line, strlen(line), members, out, why, sizeof why), 0, "%s", why);
    char want[512];
    snprintf(want, sizeof want, "a=%d:1;b=%d:2.5;c=%d:x;d=%d:;e=%d:true;f=%d:[1,{\"g\":2}];h=%d:9007199254740992;",
             PIPE_FV_INT, PIPE_FV_FLOAT, PIPE_FV_TEXT, PIPE_FV_NULL, PIPE_FV_BOOL, PIPE_FV_JSON, PIPE_FV_FLOAT);
    cr_expect_str_eq(out, want);
    static const char *const bad[] = {"[1,2]", "{\"a\":", "{} x", "\"s\"", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        out[0] = '\0';
        cr_expect_eq(pipe_jsonl_record(bad[i], strlen(bad[i]), members, out, why, sizeof why), -1, "%s", bad[i]);
    }
}

/* ------------------------------------------------- whole files */

typedef struct sink_text {
    char cols[512];
    char rows[4096];
    int abort_after;
    int nrows;
    tds_column c[16];      /* the columns, kept for the rows */
    char names[16][64];
    size_t ncols;
    double f[16][2];       /* [column][row]: floats of the first two rows (locale test) */
} sink_text;

static int t_cols(void *ud, const tds_column *c, size_t n)
{
    sink_text *t = ud;
    cr_assert_leq(n, 16);
    for (size_t i = 0; i < n; i++) {
        char part[128];
        snprintf(part, sizeof part, "%s%.*s:%d", i ? "," : "", (int)c[i].name.len, c[i].name.ptr, c[i].kind);
        strcat(t->cols, part);
        t->c[i] = c[i];
        snprintf(t->names[i], sizeof t->names[i], "%.*s", (int)c[i].name.len, c[i].name.ptr);
        t->c[i].name.ptr = t->names[i]; /* the source's view dies with it */
    }
    t->ncols = n;
    return PIPE_NEXT;
}

static int t_row(void *ud, const tds_value *v)
{
    sink_text *t = ud;
    for (size_t i = 0; i < t->ncols; i++) {
        char val[256] = "NULL";
        size_t l;
        if (!(v[i].flags & TDS_VF_NULL))
            cr_assert_eq(tds_value_text(&t->c[i], &v[i], val, sizeof val, &l), TDS_OK);
        if (!(v[i].flags & TDS_VF_NULL) && (t->c[i].kind == TDS_K_FLOAT || t->c[i].kind == TDS_K_REAL) &&
            t->nrows < 2)
            cr_assert_eq(tds_value_float(&t->c[i], &v[i], &t->f[i][t->nrows]), TDS_OK);
        strcat(t->rows, i ? "," : "");
        strcat(t->rows, val);
    }
    strcat(t->rows, "\n");
    return ++t->nrows == t->abort_after ? PIPE_STOP : PIPE_NEXT;
}

static char *write_file(const char *name, const char *text, bool gz)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/tdspipe-test-%d-%s", (int)getpid(), name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        gzwrite(g, text, (unsigned)strlen(text));
        gzclose(g);
    } else {
        FILE *f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static const pipe_source_vtable *vt_of(const char *scheme)
{
    return !strcmp(scheme, "csv") ? &pipe_src_csv : &pipe_src_jsonl;
}

/* open, read, close through the vtable as the load engine drives it.
 * *stage: where it ended ("open" when open failed, else "read"). */
static int run_uri(const char *uri, const pipe_colspec *specs, size_t ns, sink_text *t, tdspipe_error *err,
                   const char **stage)
{
    tdspipe_load_opts o = {.source_uri = uri, .source_table = "file"};
    pipe_plan p = {.o = &o, .specs = specs, .nspecs = ns, .limit = -1, .est_rows = -1};
    const pipe_source_vtable *vt = pipe_source_find(uri);
    cr_assert(vt == &pipe_src_csv || vt == &pipe_src_jsonl, "%s", uri);
    memset(err, 0, sizeof *err);
    pipe_source *s = NULL;
    *stage = "open";
    int rc = vt->open(&p, &s, err);
    if (rc)
        return rc;
    cr_assert_not_null(s);
    *stage = "read";
    pipe_rows_cb cb = {.columns = t_cols, .row = t_row};
    rc = vt->read(s, &p, &cb, t, err);
    vt->close(s);
    return rc;
}

static int run_file(const char *scheme, const char *path, const pipe_colspec *specs, size_t ns, sink_text *t,
                    tdspipe_error *err, const char **stage)
{
    char uri[300];
    snprintf(uri, sizeof uri, "%s://%s", scheme, path);
    cr_assert(vt_of(scheme)->accepts(uri), "%s", uri);
    return run_uri(uri, specs, ns, t, err, stage);
}

/* ingestr's rule for file sources: everything after "scheme://" is the
 * path ("csv:///tmp/x" absolute, "csv://x" relative), percent-decoded,
 * the query dropped; ndjson:// reads JSONL; a CSV's ?encoding= may name
 * UTF-8 only (anything else is a usage error, never a misread). */
Test(file, uri_path_rule)
{
    char abs[256], uri[400];
    snprintf(abs, sizeof abs, "%s", write_file("sp ace.csv", "id\n7\n", false));
    char *sp = strchr(abs, ' ');
    snprintf(uri, sizeof uri, "csv://%.*s%%20%s?encoding=UTF-8&other=x", (int)(sp - abs), abs, sp + 1);
    sink_text t = {0};
    tdspipe_error err;
    const char *stage;
    cr_assert_eq(run_uri(uri, NULL, 0, &t, &err, &stage), TDSPIPE_OK, "%s: %s", uri, err.message);
    cr_expect_str_eq(t.rows, "7\n");
    snprintf(uri, sizeof uri, "csv://%s?encoding=windows-1252", abs);
    cr_assert_eq(run_uri(uri, NULL, 0, &t, &err, &stage), TDSPIPE_E_USAGE);
    cr_expect_str_eq(err.message, "csv source: encoding 'windows-1252' is not supported (files are read as UTF-8)");
    unlink(abs);

    char *j = write_file("n.jsonl", "{\"a\": 1}\n", false);
    cr_assert_eq(chdir("/tmp"), 0);
    snprintf(uri, sizeof uri, "ndjson://%s", j + strlen("/tmp/")); /* relative to /tmp */
    memset(&t, 0, sizeof t);
    cr_assert_eq(run_uri(uri, NULL, 0, &t, &err, &stage), TDSPIPE_OK, "%s: %s", uri, err.message);
    cr_expect_str_eq(t.rows, "1\n");
    snprintf(uri, sizeof uri, "jsonl:///%s", j + strlen("/tmp/")); /* absolute: /NAME, which is not there */
    cr_assert_eq(run_uri(uri, NULL, 0, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect_str_eq(stage, "open");
    unlink(j);
    cr_assert_eq(run_uri("csv:///", NULL, 0, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect(strstr(err.message, "names a directory"), "%s", err.message);
}

Test(file, accepts_schemes)
{
    cr_expect(pipe_src_csv.accepts("csv://a.csv"));
    cr_expect(pipe_src_csv.accepts("CSV:///a.csv.gz"));
    cr_expect(pipe_src_jsonl.accepts("jsonl://a.jsonl"));
    cr_expect(pipe_src_jsonl.accepts("JSONL:///tmp/a.jsonl.gz"));
    cr_expect(!pipe_src_csv.accepts("jsonl://a.jsonl"));
    cr_expect(!pipe_src_jsonl.accepts("csv://a.csv"));
    cr_expect(pipe_src_jsonl.accepts("ndjson://a.jsonl"));
    cr_expect(pipe_src_jsonl.accepts("NDJSON:///tmp/a.jsonl"));
    cr_expect(!pipe_src_csv.accepts("ndjson://a.jsonl"));
    cr_expect(!pipe_src_csv.accepts("mssql://sa@h/db"));
    cr_expect(!pipe_src_csv.accepts(NULL));
    cr_expect_str_eq(pipe_src_csv.name, "csv");
    cr_expect_str_eq(pipe_src_jsonl.name, "jsonl");
    /* file sources keep no cursor */
    cr_expect_null(pipe_src_csv.cursor_read);
    cr_expect_null(pipe_src_csv.cursor_save);
    cr_expect_null(pipe_src_jsonl.cursor_read);
    cr_expect_null(pipe_src_jsonl.cursor_save);
}

Test(file, describe_no_key_and_source_table_name)
{
    char *path = write_file("desc.csv", "a\n1\n", false);
    char uri[300];
    snprintf(uri, sizeof uri, "csv://%s", path);
    static const struct { const char *table, *schema, *name; } cases[] = {
        {"people", "dbo", "people"}, {"sales.orders", "sales", "orders"}, {"query:SELECT 1", NULL, NULL}, {NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tdspipe_load_opts o = {.source_uri = uri, .source_table = cases[i].table};
        pipe_plan p = {.o = &o, .limit = -1};
        pipe_source *s = NULL;
        tdspipe_error err = {0};
        cr_assert_eq(pipe_src_csv.open(&p, &s, &err), TDSPIPE_OK, "%s", err.message);
        pipe_desc d;
        memset(&d, 0xAB, sizeof d);
        cr_assert_eq(pipe_src_csv.describe(s, &d, &err), TDSPIPE_OK);
        cr_expect_eq(d.npk, 0);
        cr_expect(!d.has_catalog);
        if (cases[i].schema) {
            cr_expect_str_eq(d.schema, cases[i].schema);
            cr_expect_str_eq(d.table, cases[i].name);
        } else {
            cr_expect_null(d.table, "%s", cases[i].table ? cases[i].table : "(none)");
        }
        pipe_src_csv.close(s);
    }
    unlink(path);
}

Test(file, csv_plain_and_gzip)
{
    const char *text = "id,name,when\n1,a,2024-01-01\n2,,2024-01-02\n3,\"\",\n";
    for (int gz = 0; gz < 2; gz++) {
        char *p = write_file(gz ? "a.csv.gz" : "a.csv", text, gz);
        sink_text t = {0};
        tdspipe_error err;
        const char *stage;
        cr_assert_eq(run_file("csv", p, NULL, 0, &t, &err, &stage), TDSPIPE_OK, "%s", err.message);
        char want_cols[64];
        snprintf(want_cols, sizeof want_cols, "id:%d,name:%d,when:%d", TDS_K_BIGINT, TDS_K_NCHAR, TDS_K_DATE);
        cr_expect_str_eq(t.cols, want_cols);
        cr_expect_str_eq(t.rows, "1,a,2024-01-01\n2,NULL,2024-01-02\n3,,NULL\n");
        unlink(p);
    }
}

Test(file, columns_override_and_rename)
{
    char *p = write_file("b.csv", "id,v\n1,10\n2,x\n", false);
    pipe_colspec sp;
    char why[200];
    cr_assert_eq(pipe_colspec_parse("value:string:v", &sp, why, sizeof why), 0);
    sink_text t = {0};
    tdspipe_error err;
    const char *stage;
    cr_assert_eq(run_file("csv", p, &sp, 1, &t, &err, &stage), TDSPIPE_OK, "%s", err.message);
    char want_cols[64];
    snprintf(want_cols, sizeof want_cols, "id:%d,value:%d", TDS_K_BIGINT, TDS_K_NCHAR);
    cr_expect_str_eq(t.cols, want_cols);
    cr_expect_str_eq(t.rows, "1,10\n2,x\n");
    /* a spec naming no column of the file fails the read */
    cr_assert_eq(pipe_colspec_parse("nope:int", &sp, why, sizeof why), 0);
    memset(&t, 0, sizeof t);
    cr_expect_eq(run_file("csv", p, &sp, 1, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect(strstr(err.message, "has no column 'nope'"), "%s", err.message);
    cr_expect_eq(t.nrows, 0);
    unlink(p);
}

Test(file, errors_name_line_and_column)
{
    /* past the sample an integer column meets text */
    char text[40000] = "id\n";
    for (int i = 0; i < 1000; i++)
        sprintf(text + strlen(text), "%d\n", i);
    strcat(text, "oops\n");
    char *p = write_file("c.csv", text, false);
    sink_text t = {0};
    tdspipe_error err;
    const char *stage;
    cr_expect_eq(run_file("csv", p, NULL, 0, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect_str_eq(stage, "read");
    cr_expect(strstr(err.message, "line 1002") && strstr(err.message, "'id'") && strstr(err.message, "--columns"),
              "%s", err.message);
    cr_expect_eq(err.code, TDSPIPE_E_LOAD);
    cr_expect_eq(t.nrows, 1000);
    unlink(p);
    p = write_file("d.csv", "a,b\n1,2,3\n", false);
    memset(&t, 0, sizeof t);
    cr_expect_eq(run_file("csv", p, NULL, 0, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect(strstr(err.message, "3 fields, the header has 2"), "%s", err.message);
    unlink(p);
    p = write_file("e.csv", "a,a\n1,2\n", false);
    cr_expect_eq(run_file("csv", p, NULL, 0, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect(strstr(err.message, "two columns are named 'a'"), "%s", err.message);
    unlink(p);
    /* a missing file fails at open: before the destination is touched */
    cr_expect_eq(run_file("csv", "/nonexistent/x.csv", NULL, 0, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect_str_eq(stage, "open");
    cr_expect(strstr(err.message, "cannot open"), "%s", err.message);
    /* so does a --columns type no file text converts to */
    p = write_file("e2.csv", "a\n1\n", false);
    pipe_colspec sp = {.name = "a", .source = "a", .sqltype = "xml"};
    cr_expect_eq(run_file("csv", p, &sp, 1, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect_str_eq(stage, "open");
    cr_expect(strstr(err.message, "cannot be read from a file"), "%s", err.message);
    unlink(p);
}

Test(file, abort_stops_reading)
{
    char *p = write_file("f.csv", "a\n1\n2\n3\n", false);
    sink_text t = {.abort_after = 2};
    tdspipe_error err;
    const char *stage;
    cr_expect_eq(run_file("csv", p, NULL, 0, &t, &err, &stage), PIPE_STOPPED);
    cr_expect_eq(t.nrows, 2);
    unlink(p);
}

Test(file, jsonl_keys_in_order_and_late_keys)
{
    char *p = write_file("g.jsonl", "{\"id\": 1, \"n\": \"x\"}\n\n{\"id\": 2, \"extra\": [1], \"n\": null}\n", true);
    sink_text t = {0};
    tdspipe_error err;
    const char *stage;
    cr_assert_eq(run_file("jsonl", p, NULL, 0, &t, &err, &stage), TDSPIPE_OK, "%s", err.message);
    char want_cols[64];
    snprintf(want_cols, sizeof want_cols, "id:%d,n:%d,extra:%d", TDS_K_BIGINT, TDS_K_NCHAR, TDS_K_NCHAR);
    cr_expect_str_eq(t.cols, want_cols);
    cr_expect_str_eq(t.rows, "1,x,NULL\n2,NULL,[1]\n");
    unlink(p);
    p = write_file("h.jsonl", "{\"id\": 1}\n[2]\n", false);
    memset(&t, 0, sizeof t);
    cr_expect_eq(run_file("jsonl", p, NULL, 0, &t, &err, &stage), TDSPIPE_E_LOAD);
    cr_expect(strstr(err.message, "line 2") && strstr(err.message, "not a JSON object"), "%s", err.message);
    unlink(p);
}

/* ------------------------------------- numbers under a decimal comma */

/* The process's LC_NUMERIC set to a decimal-comma locale, as a program
 * embedding the library may do; skipped only when no such locale is
 * installed (scripts/deps.sh makes de_DE.UTF-8). */
static void decimal_comma_locale(void)
{
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") && !setlocale(LC_NUMERIC, "de_DE.utf8"))
        cr_skip_test("no de_DE.UTF-8 locale (localedef -i de_DE -f UTF-8 de_DE.UTF-8)");
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 1.5);
    cr_assert_str_eq(probe, "1,5", "the locale has a decimal comma");
}

static void floats_are(const char *scheme, const char *name, const char *text)
{
    char *p = write_file(name, text, false);
    sink_text t = {0};
    tdspipe_error err;
    const char *stage;
    cr_assert_eq(run_file(scheme, p, NULL, 0, &t, &err, &stage), TDSPIPE_OK, "%s: %s", scheme, err.message);
    char want_cols[64];
    snprintf(want_cols, sizeof want_cols, "a:%d,b:%d", TDS_K_FLOAT, TDS_K_FLOAT);
    cr_expect_str_eq(t.cols, want_cols, "%s: 1.5 and 2.25e3 are floats", scheme);
    cr_expect_eq(t.nrows, 2);
    cr_expect_eq(t.f[0][0], 1.5, "%s", scheme);     /* column a, row 1 */
    cr_expect_eq(t.f[0][1], 2.25e3, "%s", scheme);  /* column a, row 2 */
    cr_expect_eq(t.f[1][0], 0.1, "%s", scheme);
    cr_expect_eq(t.f[1][1], -7.125, "%s", scheme);
    unlink(p);
}

Test(locale, decimal_comma_does_not_change_numbers)
{
    decimal_comma_locale();
    floats_are("csv", "l.csv", "a,b\n1.5,0.1\n2.25e3,-7.125\n");
    floats_are("jsonl", "l.jsonl", "{\"a\": 1.5, \"b\": 0.1}\n{\"a\": 2.25e3, \"b\": -7.125}\n");
    /* the JSON number text itself: a point, never a comma */
    char out[256] = "", why[200];
    const char *line = "{\"x\": 2.5, \"y\": 1e-7}";
    cr_assert_eq(pipe_jsonl_record(line, strlen(line), members, out, why, sizeof why), 0, "%s", why);
    char want[128];
    snprintf(want, sizeof want, "x=%d:2.5;y=%d:1e-07;", PIPE_FV_FLOAT, PIPE_FV_FLOAT);
    cr_expect_str_eq(out, want);
    enc("float", "0.1", "0.1");
    enc("float", "2.25e3", "2250");
    setlocale(LC_NUMERIC, "C");
}

/* ------------------------------------------ cJSON loaded from threads */

static void *parse_lines(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        char out[1024] = "", why[200];
        const char *line = "{\"a\": 1, \"b\": 2.5, \"c\": \"x\"}";
        if (pipe_jsonl_record(line, strlen(line), members, out, why, sizeof why))
            return (void *)1;
        char want[128];
        snprintf(want, sizeof want, "a=%d:1;b=%d:2.5;c=%d:x;", PIPE_FV_INT, PIPE_FV_FLOAT, PIPE_FV_TEXT);
        if (strcmp(out, want))
            return (void *)2;
    }
    return NULL;
}

/* The first parses race the loader (pthread_once): every thread must see
 * the whole table of functions. (--jobs runs each test in its own
 * process, so this one is the first use of cJSON in its process.) */
Test(jsonl, loader_from_several_threads)
{
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, parse_lines, NULL), 0);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_expect_null(r, "thread %d: %p", i, r);
    }
}
