/*
 * test_load.c — tdspipe_load() as an embedder calls it (pipe/load*.c):
 * a table from build/tdstestd into a CSV file, usage errors before any
 * connection, cancellation through opts.cancel, progress reported at most
 * every 1024 rows, and passwords redacted from the message.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pipe.h"

static char uri[256];

static th_server start(const char *name, unsigned long rows, const char *extra)
{
    th_server s;
    cr_assert(th_start(&s, th_scenario_default(name, rows, extra), NULL), "tdstestd did not start");
    snprintf(uri, sizeof uri, "mssql://sa:Secret%%231@127.0.0.1:%d/sales?encrypt=disable", s.port);
    return s;
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s.%d", NET_TEST_TMP, name, (int)getpid());
    th_scenario("mkdir", "{}"); /* makes NET_TEST_TMP */
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

typedef struct seen {
    int calls, reading, done;
    uint64_t last_rows;
    bool rows_jump_ok;
    char table[64];
} seen;

static void on_progress(void *ud, const tdspipe_progress *p)
{
    seen *s = ud;
    s->calls++;
    s->reading += !strcmp(p->phase, "reading");
    s->done += !strcmp(p->phase, "done");
    if (p->rows < s->last_rows)
        s->rows_jump_ok = false;
    s->last_rows = p->rows;
    snprintf(s->table, sizeof s->table, "%s", p->table);
}

Test(load, table_into_csv)
{
    th_server srv = start("load", 5000, "");
    char path[512], dest[600];
    tmp_path(path, sizeof path, "narrow.csv");
    unlink(path);
    snprintf(dest, sizeof dest, "csv://%s", path);
    seen sn = {.rows_jump_ok = true};
    tdspipe_load_opts o = {0};
    o.source_uri = uri;
    o.source_table = "narrow";
    o.dest_uri = dest;
    o.no_load_timestamp = true;
    o.progress = on_progress;
    o.progress_ud = &sn;
    tdspipe_error err;
    cr_assert_eq(tdspipe_load(&o, &err), TDSPIPE_OK, "%s", err.message);
    th_stop(&srv);
    char *csv = slurp(path);
    cr_assert_not_null(csv);
    cr_assert_eq(strncmp(csv, "id,big,name,score\n1,1,name-1,0.25\n", 34), 0, "%.60s", csv);
    size_t lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 5001, "%zu lines", lines);
    free(csv);
    unlink(path);
    /* "dbo.narrow" named as snake_case; reports every 1024 rows at most,
     * plus the phases, never per row */
    cr_assert_str_eq(sn.table, "dbo.narrow");
    cr_assert_eq(sn.done, 1);
    cr_assert_eq(sn.last_rows, 5000);
    cr_assert(sn.rows_jump_ok);
    cr_assert(sn.calls >= 3 && sn.calls <= 5000 / 1024 + 4, "%d progress calls", sn.calls);
}

Test(load, usage_errors_before_connecting)
{
    /* port 1: nothing listens, so only checks made before connecting
     * can give these answers */
    static const struct {
        const char *src, *table, *dest, *want;
    } cases[] = {
        {"mssql://sa:Secret%231@127.0.0.1:1/sales", "a.b.c.d", "csv://x.csv", "at most three name parts"},
        {"mysql://sa:Secret%231@h/db", "t", "csv://x.csv", "unsupported source scheme 'mysql'"},
        {"mssql://sa:Secret%231@127.0.0.1:1/sales", "t", "bigquery://p/d", "unsupported destination scheme"},
        {"mssql://sa:Secret #1@127.0.0.1:1/sales", "t", "csv://x.csv", "malformed source URI"},
        {"mssql://sa:Secret%231@127.0.0.1:1/sales/x", "t", "csv://x.csv", "just the database name"},
        {"mssql://sa:Secret%231@127.0.0.1:1/sales", "query:SELECT 1", "csv://x.csv", "--dest-table is required"},
        {"mssql+ct://sa:Secret%231@127.0.0.1:1/sales", "t", "sqlite:///x.db", "needs --full-refresh"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tdspipe_load_opts o = {0};
        o.source_uri = cases[i].src;
        o.source_table = cases[i].table;
        o.dest_uri = cases[i].dest;
        if (i == 6) {
            o.strategy = SINK_APPEND;
            o.strategy_given = true;
        }
        tdspipe_error err;
        cr_expect_eq(tdspipe_load(&o, &err), TDSPIPE_E_USAGE, "case %zu: %s", i, err.message);
        cr_expect_eq(err.code, TDSPIPE_E_USAGE);
        cr_expect(strstr(err.message, cases[i].want), "case %zu: %s", i, err.message);
        cr_expect_null(strstr(err.message, "Secret"), "case %zu: %s", i, err.message);
    }
    cr_assert_eq(tdspipe_load(NULL, NULL), TDSPIPE_E_USAGE);
    tdspipe_load_opts none = {0};
    cr_assert_eq(tdspipe_load(&none, NULL), TDSPIPE_E_USAGE);
}

/* What a sink refuses at open (no file path) is a usage error too, and
 * the source's password never reaches a message even when the server
 * quotes text that holds it (here: the table name). */
Test(load, sink_refusals_and_redaction)
{
    th_server srv = start("redact", 10, "");
    tdspipe_load_opts o = {0};
    o.source_uri = uri;
    o.source_table = "narrow";
    o.dest_uri = "csv:///";
    tdspipe_error err;
    cr_expect_eq(tdspipe_load(&o, &err), TDSPIPE_E_USAGE, "%s", err.message);
    o.dest_uri = "discard://";
    o.source_table = "dbo.[Secret#1 table]";
    cr_expect_eq(tdspipe_load(&o, &err), TDSPIPE_E_LOAD, "%s", err.message);
    cr_expect(strstr(err.message, "does not exist"), "%s", err.message);
    cr_expect_null(strstr(err.message, "Secret#1"), "%s", err.message);
    cr_expect(strstr(err.message, "***"), "%s", err.message);
    th_stop(&srv);
}

static volatile sig_atomic_t cancel_flag;

static void *cancel_later(void *arg)
{
    (void)arg;
    usleep(300 * 1000);
    cancel_flag = 1;
    return NULL;
}

/* A stalled read ends within moments of *cancel becoming non-zero (the
 * caller's own signal handler would set it); the destination is as it
 * was. */
Test(load, cancel_flag_stops_a_stalled_read)
{
    th_server srv = start("cancel", 100000, "\"faults\": {\"stall_after_rows\": 500},");
    char path[512], dest[600];
    tmp_path(path, sizeof path, "cancel.csv");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("before\n", f);
    fclose(f);
    snprintf(dest, sizeof dest, "csv://%s", path);
    tdspipe_load_opts o = {0};
    o.source_uri = uri;
    o.source_table = "narrow";
    o.dest_uri = dest;
    o.page_size = 100;
    o.cancel = &cancel_flag;
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, NULL);
    uint64_t t0 = th_now_ms();
    tdspipe_error err;
    cr_assert_eq(tdspipe_load(&o, &err), TDSPIPE_E_LOAD, "%s", err.message);
    uint64_t took = th_now_ms() - t0;
    pthread_join(t, NULL);
    th_stop(&srv);
    cr_assert(took < 5000, "took %llu ms", (unsigned long long)took);
    cr_assert(strstr(err.message, "cancel"), "%s", err.message);
    char *csv = slurp(path);
    cr_assert_str_eq(csv, "before\n");
    free(csv);
    unlink(path);
}

/* Sources that never block (files) are cancelled by the engine itself:
 * it looks at the flag with its progress, every 1024 rows. */
Test(load, cancel_flag_stops_a_file_source)
{
    char path[512], src[600];
    tmp_path(path, sizeof path, "rows.csv");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("id,name\n", f);
    for (int i = 0; i < 5000; i++)
        fprintf(f, "%d,n%d\n", i, i);
    fclose(f);
    snprintf(src, sizeof src, "csv://%s", path);
    static volatile sig_atomic_t already = 1;
    tdspipe_load_opts o = {0};
    o.source_uri = src;
    o.source_table = "rows";
    o.dest_uri = "discard://";
    o.cancel = &already;
    tdspipe_error err;
    cr_assert_eq(tdspipe_load(&o, &err), TDSPIPE_E_LOAD, "%s", err.message);
    cr_assert(strstr(err.message, "cancelled"), "%s", err.message);
    o.cancel = NULL;
    cr_assert_eq(tdspipe_load(&o, &err), TDSPIPE_OK, "%s", err.message);
    unlink(path);
}

typedef struct job {
    char path[512], dest[600];
    int rc;
    tdspipe_error err;
} job;

static void *load_job(void *arg)
{
    job *j = arg;
    tdspipe_load_opts o = {0};
    o.source_uri = uri;
    o.source_table = "narrow";
    o.dest_uri = j->dest;
    o.page_size = 64;
    j->rc = tdspipe_load(&o, &j->err);
    return NULL;
}

/* Loads in different threads share nothing: four at once, each complete. */
Test(load, loads_in_threads)
{
    th_server srv = start("threads", 2000, "");
    job jobs[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "thread%d.csv", i);
        char path[512];
        tmp_path(path, sizeof path, name);
        unlink(path);
        snprintf(jobs[i].path, sizeof jobs[i].path, "%s", path);
        snprintf(jobs[i].dest, sizeof jobs[i].dest, "csv://%s", path);
        cr_assert_eq(pthread_create(&t[i], NULL, load_job, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    th_stop(&srv);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(jobs[i].rc, TDSPIPE_OK, "load %d: %s", i, jobs[i].err.message);
        char *csv = slurp(jobs[i].path);
        size_t lines = 0;
        for (char *c = csv; c && *c; c++)
            lines += *c == '\n';
        cr_expect_eq(lines, 2001, "load %d: %zu lines", i, lines);
        free(csv);
        unlink(jobs[i].path);
    }
}
