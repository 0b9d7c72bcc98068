/*
 * test_evolve.c — schema evolution (sink/sql_evolve.c) in each SQL
 * destination: DuckDB, PostgreSQL (TDSPIPE_PG_URI from
 * tests/sink/pg_server.sh; skipped without it), SQLite and SQL Server
 * (build/tdstestd, started here). A v1 table (id int key, n int,
 * s varchar(10), d decimal(10,2)) is loaded, then v2 rows with an extra
 * column and wider types (n bigint, s varchar(50), d decimal(18,2)) under
 * each contract; the table is read back through the destination's own
 * client: columns, types and values.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "duckdb_int.h"
#include "net.h"
#include "pq_int.h"
#include "readback.h"
#include "rows.h"

#define NUL "\xe2\x88\x85"

/* ------------------------------------------------------------ tables */

typedef struct tbl {
    tds_column cols[5];
    const char *names[5];
    size_t ncols, nrows;
    size_t pk[1];
    tds_value vals[5 * 8];
    uint8_t arena[5 * 8 * 128];
} tbl;

/* v1 (wide false): id int, n int, s varchar(10), d decimal(10,2);
 * v2 (wide true): n bigint, s varchar(50), d decimal(18,2), extra nvarchar(20) */
static void tbl_init(tbl *t, bool wide, bool extra)
{
    memset(t, 0, sizeof *t);
    cr_assert_eq(tds_column_init(&t->cols[0], TDS_T_INTN, 4, 0, 0), TDS_OK);
    t->cols[0].flags = 0;
    cr_assert_eq(tds_column_init(&t->cols[1], TDS_T_INTN, wide ? 8 : 4, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&t->cols[2], TDS_T_BIGVARCHR, wide ? 50 : 10, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&t->cols[3], TDS_T_DECIMALN, 17, wide ? 18 : 10, 2), TDS_OK);
    cr_assert_eq(tds_column_init(&t->cols[4], TDS_T_NVARCHAR, 40, 0, 0), TDS_OK);
    static const char *const names[] = { "id", "n", "s", "d", "extra" };
    memcpy(t->names, names, sizeof names);
    t->ncols = extra ? 5 : 4;
}

/* A row of texts (NULL: NULL) in the table's types. */
static void tbl_row(tbl *t, const char *const *v)
{
    size_t r = t->nrows++;
    for (size_t c = 0; c < t->ncols; c++) {
        tds_value *o = &t->vals[r * t->ncols + c];
        uint8_t *p = t->arena + (r * t->ncols + c) * 128;
        const tds_column *col = &t->cols[c];
        int k;
        if (!v[c]) {
            *o = (tds_value){ NULL, 0, TDS_VF_NULL };
            continue;
        }
        if (col->kind == TDS_K_DECIMAL) {
            tds_decimal d;
            cr_assert_eq(tds_decimal_parse(v[c], strlen(v[c]), col->precision, col->scale, &d), TDS_OK);
            k = tds_encode_decimal(col, &d, p, 128);
        } else if (col->kind == TDS_K_INT || col->kind == TDS_K_BIGINT) {
            k = tds_encode_int(col, strtoll(v[c], NULL, 10), p, 128);
        } else {
            k = tds_encode_text(col, v[c], strlen(v[c]), p, 128);
        }
        cr_assert_geq(k, 0, "%s", v[c]);
        *o = (tds_value){ p, (uint32_t)k, 0 };
    }
}

static sink_table tbl_sink(const tbl *t, sink_strategy st, sink_contract k)
{
    sink_table s = { .name = "ev", .cols = t->cols, .names = t->names, .ncols = t->ncols, .pk = t->pk,
                     .npk = 1, .incremental_key = 0, .strategy = st, .contract = k };
    return s;
}

static void v1(tbl *t)
{
    tbl_init(t, false, false);
    tbl_row(t, (const char *const[]){ "1", "10", "abc", "1.50" });
    tbl_row(t, (const char *const[]){ "2", "20", "de", "2.25" });
}

static void v2(tbl *t)
{
    tbl_init(t, true, true);
    tbl_row(t, (const char *const[]){ "3", "3000000000", "a string longer than ten", "12345678901.25", "x" });
    tbl_row(t, (const char *const[]){ "4", "40", "fits", "4.00", NULL });
    tbl_row(t, (const char *const[]){ "5", "50", "ok", "5.50", "y" });
}

/* ------------------------------------------------------ destinations */

typedef struct dest {
    char uri[600];
    char **(*query)(const char *sql, size_t *n);
    const char *types_sql; /* "name type" per column, in order */
    const char *rows_sql;  /* SELECT * FROM ev ORDER BY id */
    const char *const *types_v1, *const *types_evolved;
    bool loose;            /* SQLite: no type widens, no value is checked */
    bool str_bounded;      /* s stays varchar(10): a long string does not fit */
} dest;

static dest D;

static void free_rows(char **rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
}

static void expect(const char *sql, const char *const *want, size_t nwant)
{
    size_t n;
    char **got = D.query(sql, &n);
    rows_eq(got, n, want, nwant, sql);
    free_rows(got, n);
}

static char *join(char *s, size_t *len, size_t *cap, const char *v, bool first)
{
    size_t k = strlen(v);
    while (*len + k + 2 > *cap)
        s = realloc(s, *cap *= 2);
    if (!first)
        s[(*len)++] = '|';
    memcpy(s + *len, v, k + 1);
    *len += k;
    return s;
}

/* SQLite */
static char sq_path[1024];

static char **sq_query(const char *sql, size_t *n)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(sq_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    char **rows = calloc(64, sizeof *rows);
    *n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && *n < 63) {
        size_t cap = 64, len = 0;
        char *s = malloc(cap);
        s[0] = '\0';
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            s = join(s, &len, &cap, v ? v : NUL, !c);
        }
        rows[(*n)++] = s;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

static const char *const sq_t1[] = { "id INTEGER", "n INTEGER", "s TEXT", "d TEXT" };
static const char *const sq_t2[] = { "id INTEGER", "n INTEGER", "s TEXT", "d TEXT", "extra TEXT" };

static void sq_setup(void)
{
    snprintf(sq_path, sizeof sq_path, "%s", tmp_path("evolve.db"));
    D = (dest){ .query = sq_query, .types_sql = "SELECT name || ' ' || type FROM pragma_table_info('ev')",
                .rows_sql = "SELECT * FROM ev ORDER BY id", .types_v1 = sq_t1, .types_evolved = sq_t2,
                .loose = true };
    snprintf(D.uri, sizeof D.uri, "sqlite:///%s", sq_path);
}

/* DuckDB */
static const sink_ddb_api *ddb;
static char dd_path[1024];

static char **dd_query(const char *sql, size_t *n)
{
    sink_ddb_handle db = NULL, conn = NULL;
    char *oe = NULL;
    cr_assert_eq(ddb->duckdb_open_ext(dd_path, &db, NULL, &oe), SINK_DDB_SUCCESS, "%s", oe ? oe : "");
    cr_assert_eq(ddb->duckdb_connect(db, &conn), SINK_DDB_SUCCESS);
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(ddb->duckdb_query(conn, sql, &r), SINK_DDB_SUCCESS, "%s: %s", sql, ddb->duckdb_result_error(&r));
    *n = (size_t)ddb->duckdb_row_count(&r);
    size_t nc = (size_t)ddb->duckdb_column_count(&r);
    char **rows = calloc(*n + 1, sizeof *rows);
    for (size_t i = 0; i < *n; i++) {
        size_t cap = 64, len = 0;
        char *s = malloc(cap);
        s[0] = '\0';
        for (size_t c = 0; c < nc; c++) {
            char *v = ddb->duckdb_value_varchar(&r, c, i);
            s = join(s, &len, &cap, v ? v : NUL, !c);
            if (v)
                ddb->duckdb_free(v);
        }
        rows[i] = s;
    }
    ddb->duckdb_destroy_result(&r);
    ddb->duckdb_disconnect(&conn);
    ddb->duckdb_close(&db);
    return rows;
}

static const char *const dd_t1[] = { "id INTEGER", "n INTEGER", "s VARCHAR", "d DECIMAL(10,2)" };
static const char *const dd_t2[] = { "id INTEGER", "n BIGINT", "s VARCHAR", "d DECIMAL(18,2)", "extra VARCHAR" };

static void dd_setup(void)
{
    char err[512];
    ddb = sink__ddb_load(NULL, err, sizeof err);
    cr_assert_not_null(ddb, "%s", err);
    snprintf(dd_path, sizeof dd_path, "%s", tmp_path("evolve.duckdb"));
    D = (dest){ .query = dd_query,
                .types_sql = "SELECT column_name || ' ' || data_type FROM information_schema.columns "
                             "WHERE table_name = 'ev' ORDER BY ordinal_position",
                .rows_sql = "SELECT * FROM ev ORDER BY id", .types_v1 = dd_t1, .types_evolved = dd_t2 };
    snprintf(D.uri, sizeof D.uri, "duckdb:///%s", dd_path);
}

/* PostgreSQL */
static const sink_pq_api *pq;
static PGconn *pgc;

static char **pg_query(const char *sql, size_t *n)
{
    PGresult *r = pq->PQexec(pgc, sql);
    cr_assert_eq(pq->PQresultStatus(r), SINK_PGRES_TUPLES_OK, "%s: %s", sql, pq->PQresultErrorMessage(r));
    *n = (size_t)pq->PQntuples(r);
    char **rows = calloc(*n + 1, sizeof *rows);
    for (size_t i = 0; i < *n; i++) {
        size_t cap = 64, len = 0;
        char *s = malloc(cap);
        s[0] = '\0';
        for (int c = 0; c < pq->PQnfields(r); c++)
            s = join(s, &len, &cap, pq->PQgetisnull(r, (int)i, c) ? NUL : pq->PQgetvalue(r, (int)i, c), !c);
        rows[i] = s;
    }
    pq->PQclear(r);
    return rows;
}

static void pg_run(const char *sql)
{
    PGresult *r = pq->PQexec(pgc, sql);
    cr_assert_eq(pq->PQresultStatus(r), SINK_PGRES_COMMAND_OK, "%s: %s", sql, pq->PQresultErrorMessage(r));
    pq->PQclear(r);
}

static const char *const pg_t1[] = { "id integer", "n integer", "s character varying(10)", "d numeric(10,2)" };
static const char *const pg_t2[] = { "id integer", "n bigint", "s character varying(50)", "d numeric(18,2)",
                                      "extra character varying(20)" };

static void pg_setup(void)
{
    const char *u = getenv("TDSPIPE_PG_URI");
    if (!u || !*u)
        cr_skip_test("TDSPIPE_PG_URI is not set (tests/sink/pg_server.sh sets it)");
    char err[256];
    pq = sink__pq_load(NULL, err, sizeof err);
    cr_assert_not_null(pq, "%s", err);
    pgc = pq->PQconnectdb(u);
    cr_assert_eq(pq->PQstatus(pgc), SINK_PQ_CONNECTION_OK, "%s", pq->PQerrorMessage(pgc));
    pg_run("SET client_min_messages = warning; DROP TABLE IF EXISTS ev; DROP TABLE IF EXISTS pv");
    D = (dest){ .query = pg_query,
                .types_sql = "SELECT attname || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute "
                             "WHERE attrelid = 'ev'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                .rows_sql = "SELECT * FROM ev ORDER BY id", .types_v1 = pg_t1, .types_evolved = pg_t2,
                .str_bounded = true };
    snprintf(D.uri, sizeof D.uri, "%s", u);
}

static void pg_teardown(void)
{
    if (pgc)
        pq->PQfinish(pgc);
    pgc = NULL;
}

/* SQL Server (tdstestd) */
static pid_t srv_pid;
static char ms_base[600];

static void ms_start(void)
{
    char bin[512], scen[512];
    snprintf(bin, sizeof bin, "%s/../tdstestd", SINK_TEST_TMP);
    mkdir(SINK_TEST_TMP, 0755);
    if (access(bin, X_OK))
        cr_skip_test("build/tdstestd is not built");
    snprintf(scen, sizeof scen, "%s/evolve-%d.json", SINK_TEST_TMP, (int)getpid());
    FILE *f = fopen(scen, "w");
    cr_assert_not_null(f);
    fputs("{\"logins\": [{\"user\": \"sa\", \"password\": \"Passw0rd!\", \"database\": \"ev\"}],"
          " \"databases\": [{\"name\": \"ev\", \"tables\": []}]}", f);
    fclose(f);
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    srv_pid = fork();
    cr_assert_geq(srv_pid, 0);
    if (srv_pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        if (!freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(bin, bin, "--scenario", scen, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[64] = "";
    int port = 0;
    if (fgets(line, sizeof line, in))
        sscanf(line, "port %d", &port);
    fclose(in);
    cr_assert_gt(port, 0, "tdstestd did not start");
    snprintf(ms_base, sizeof ms_base, "mssql://sa:Passw0rd%%21@127.0.0.1:%d/ev?encrypt=disable", port);
}

typedef struct ms_rd {
    char **rows;
    size_t n;
} ms_rd;

static int ms_row(void *ud, const tds_column *c, uint16_t n, const tds_value *v)
{
    ms_rd *r = ud;
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    s[0] = '\0';
    for (uint16_t i = 0; i < n; i++) {
        char t[256] = NUL;
        size_t l;
        if (!(v[i].flags & TDS_VF_NULL))
            cr_assert_eq(tds_value_text(&c[i], &v[i], t, sizeof t, &l), TDS_OK);
        s = join(s, &len, &cap, t, !i);
    }
    r->rows = realloc(r->rows, (r->n + 2) * sizeof *r->rows);
    r->rows[r->n++] = s;
    return NET_ROW_NEXT;
}

static char **ms_query(const char *sql, size_t *n)
{
    net_opts o;
    memset(&o, 0, sizeof o);
    char err[256];
    cr_assert_eq(net_opts_from_uri(&o, ms_base, err, sizeof err), NET_OK, "%s", err);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    ms_rd r = { calloc(1, sizeof(char *)), 0 };
    net_result_cb cb = { .row = ms_row };
    cr_assert_eq(net_client_batch(cl, sql, &cb, &r, &e), NET_OK, "%s: %s", sql, e.message);
    net_client_close(cl);
    net_opts_free(&o);
    *n = r.n;
    return r.rows;
}

/* name|type|length|precision|scale */
static const char *const ms_t1[] = { "id|int|" NUL "|10|0", "n|int|" NUL "|10|0", "s|varchar|10|" NUL "|" NUL,
                                     "d|decimal|" NUL "|10|2" };
static const char *const ms_t2[] = { "id|int|" NUL "|10|0", "n|bigint|" NUL "|19|0", "s|varchar|50|" NUL "|" NUL,
                                     "d|decimal|" NUL "|18|2", "extra|nvarchar|20|" NUL "|" NUL };

static void ms_setup(void)
{
    ms_start();
    D = (dest){ .query = ms_query,
                .types_sql = "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
                             "NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = N'ev' "
                             "ORDER BY ORDINAL_POSITION",
                .rows_sql = "SELECT * FROM ev ORDER BY id", .types_v1 = ms_t1, .types_evolved = ms_t2,
                .str_bounded = true };
    snprintf(D.uri, sizeof D.uri, "%s", ms_base);
}

static void ms_stop(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
        srv_pid = 0;
    }
}

/* ----------------------------------------------------------- checks */

static const char *const rows_v1[] = { "1|10|abc|1.50", "2|20|de|2.25" };
static const char *const rows_evolved[] = {
    "1|10|abc|1.50|" NUL, "2|20|de|2.25|" NUL, "3|3000000000|a string longer than ten|12345678901.25|x",
    "4|40|fits|4.00|" NUL, "5|50|ok|5.50|y",
};

static void load_v1(void)
{
    tbl t;
    v1(&t);
    sink_table st = tbl_sink(&t, SINK_REPLACE, SINK_EVOLVE);
    char msg[512];
    cr_assert_eq(load(D.uri, &st, t.vals, t.nrows, 8, msg, sizeof msg), 0, "%s", msg);
    expect(D.types_sql, D.types_v1, 4);
    expect(D.rows_sql, rows_v1, 2);
}

/* v2's rows under contract k and strategy st; returns the sink_err */
static int load_v2(sink_strategy st, sink_contract k, char *msg, size_t cap)
{
    tbl t;
    v2(&t);
    sink_table s = tbl_sink(&t, st, k);
    return load(D.uri, &s, t.vals, t.nrows, 2, msg, cap);
}

static void check_evolve(sink_strategy st)
{
    load_v1();
    char msg[512];
    cr_assert_eq(load_v2(st, SINK_EVOLVE, msg, sizeof msg), 0, "%s", msg);
    expect(D.types_sql, D.types_evolved, 5);
    expect(D.rows_sql, rows_evolved, 5);
}

static void check_freeze(void)
{
    load_v1();
    char msg[512];
    cr_assert_eq(load_v2(SINK_APPEND, SINK_FREEZE, msg, sizeof msg), SINK_E_SCHEMA, "%s", msg);
    cr_assert(strstr(msg, "frozen") && strstr(msg, "new columns: extra"), "%s", msg);
    cr_assert(!strchr(msg, '\n'), "one line: %s", msg);
    if (!D.loose)
        cr_assert(strstr(msg, "wider types: n (") && strstr(msg, "d ("), "%s", msg);
    if (D.str_bounded)
        cr_assert(strstr(msg, "s (varchar(10)") || strstr(msg, "s (character varying(10)"), "%s", msg);
    /* nothing changed: the same columns, types and rows */
    expect(D.types_sql, D.types_v1, 4);
    expect(D.rows_sql, rows_v1, 2);
    /* replace is refused too: the table it would replace is frozen */
    cr_assert_eq(load_v2(SINK_REPLACE, SINK_FREEZE, msg, sizeof msg), SINK_E_SCHEMA, "%s", msg);
    expect(D.rows_sql, rows_v1, 2);
}

static void check_discard(sink_contract k)
{
    load_v1();
    char msg[512];
    cr_assert_eq(load_v2(SINK_APPEND, k, msg, sizeof msg), 0, "%s", msg);
    expect(D.types_sql, D.types_v1, 4); /* no column added, none widened */
    /* row 3 does not fit n int, d decimal(10,2) (and s varchar(10) where
     * lengths hold; SQLite checks nothing); rows 3 and 5 have a value in
     * the new column */
    const char *r3 = D.loose ? "3|3000000000|a string longer than ten|12345678901.25"
                   : D.str_bounded ? "3|" NUL "|" NUL "|" NUL
                                   : "3|" NUL "|a string longer than ten|" NUL;
    if (k == SINK_DISCARD_VALUE) {
        const char *want[] = { "1|10|abc|1.50", "2|20|de|2.25", r3, "4|40|fits|4.00", "5|50|ok|5.50" };
        expect(D.rows_sql, want, 5);
    } else {
        /* row 3 also has a value in the new column */
        const char *want[] = { "1|10|abc|1.50", "2|20|de|2.25", "4|40|fits|4.00" };
        expect(D.rows_sql, want, 3);
    }
}

/* replace under discard_value: the fresh table has the old table's
 * columns only, and the values that fit them */
static void check_replace_discard(void)
{
    load_v1();
    char msg[512];
    cr_assert_eq(load_v2(SINK_REPLACE, SINK_DISCARD_VALUE, msg, sizeof msg), 0, "%s", msg);
    const char *r3 = D.loose ? "3|3000000000|a string longer than ten|12345678901.25"
                   : D.str_bounded ? "3|" NUL "|" NUL "|" NUL
                                   : "3|" NUL "|a string longer than ten|" NUL;
    const char *want[] = { r3, "4|40|fits|4.00", "5|50|ok|5.50" };
    expect(D.rows_sql, want, 3);
}

/* replace under evolve: the new table is the load's, whatever was there */
static void check_replace_evolve(void)
{
    load_v1();
    char msg[512];
    cr_assert_eq(load_v2(SINK_REPLACE, SINK_EVOLVE, msg, sizeof msg), 0, "%s", msg);
    expect(D.rows_sql, rows_evolved + 2, 3);
}

/* Every kind of rows.h loaded twice: the second load under freeze finds
 * no difference (the catalog's spelling of each type reads back as the
 * type the sink made), so nothing is refused or altered. */
static void check_same_schema(void)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "edge", SINK_REPLACE);
    char msg[512];
    cr_assert_eq(load(D.uri, &t, rs.vals, 3, 8, msg, sizeof msg), 0, "%s", msg);
    t.strategy = SINK_APPEND;
    t.contract = SINK_FREEZE;
    int rc = load(D.uri, &t, rs.vals, 0, 8, msg, sizeof msg);
    rows_free(&rs);
    cr_assert_eq(rc, 0, "%s", msg);
}

#define SUITE(s, init_, fini_)                                                       \
    TestSuite(s, .init = init_, .fini = fini_);                                       \
    Test(s, evolve_append) { check_evolve(SINK_APPEND); }                             \
    Test(s, evolve_merge) { check_evolve(SINK_MERGE); }                               \
    Test(s, evolve_delete_insert) { check_evolve(SINK_DELETE_INSERT); }               \
    Test(s, freeze_names_columns_and_changes_nothing) { check_freeze(); }             \
    Test(s, discard_row) { check_discard(SINK_DISCARD_ROW); }                         \
    Test(s, discard_value) { check_discard(SINK_DISCARD_VALUE); }                     \
    Test(s, replace_discard_value) { check_replace_discard(); }                       \
    Test(s, replace_evolve) { check_replace_evolve(); }                               \
    Test(s, same_schema_is_no_change) { check_same_schema(); }

static void nothing(void) {}

SUITE(evolve_sqlite, sq_setup, nothing)
SUITE(evolve_duckdb, dd_setup, nothing)
SUITE(evolve_postgres, pg_setup, pg_teardown)
SUITE(evolve_mssql, ms_setup, ms_stop)

/* ------------------------------------------------------ single cases */

/* A table someone else made with varchar(10): a source varchar(50) widens
 * it to varchar(50), a source varchar(max) to text (unbounded). */
Test(evolve_postgres, varchar_widens_in_its_family)
{
    pg_run("CREATE TABLE ev (id integer PRIMARY KEY, n integer, s varchar(10), d numeric(10,2))");
    tbl t;
    tbl_init(&t, false, false);
    cr_assert_eq(tds_column_init(&t.cols[2], TDS_T_BIGVARCHR, 50, 0, 0), TDS_OK);
    tbl_row(&t, (const char *const[]){ "1", "1", "twenty characters ok", "1.00" });
    sink_table st = tbl_sink(&t, SINK_APPEND, SINK_EVOLVE);
    char msg[512];
    cr_assert_eq(load(D.uri, &st, t.vals, t.nrows, 8, msg, sizeof msg), 0, "%s", msg);
    static const char *const w1[] = { "id integer", "n integer", "s character varying(50)", "d numeric(10,2)" };
    expect(D.types_sql, w1, 4);
    cr_assert_eq(tds_column_init(&t.cols[2], TDS_T_BIGVARCHR, 0xFFFF, 0, 0), TDS_OK);
    cr_assert_eq(load(D.uri, &st, t.vals, 0, 8, msg, sizeof msg), 0, "%s", msg);
    static const char *const w2[] = { "id integer", "n integer", "s text", "d numeric(10,2)" };
    expect(D.types_sql, w2, 4);
}

/* No decimal holds 38 digits of which 10 after the point and 36 before:
 * evolve fails in one line and the table stays as it was. */
Test(evolve_duckdb, decimal_beyond_38_digits_is_refused)
{
    tbl t;
    tbl_init(&t, false, false);
    cr_assert_eq(tds_column_init(&t.cols[3], TDS_T_DECIMALN, 17, 38, 2), TDS_OK);
    tbl_row(&t, (const char *const[]){ "1", "1", "a", "1.00" });
    sink_table st = tbl_sink(&t, SINK_APPEND, SINK_EVOLVE);
    char msg[512];
    cr_assert_eq(load(D.uri, &st, t.vals, t.nrows, 8, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(tds_column_init(&t.cols[3], TDS_T_DECIMALN, 17, 38, 10), TDS_OK);
    cr_assert_eq(load(D.uri, &st, t.vals, 0, 8, msg, sizeof msg), SINK_E_SCHEMA, "%s", msg);
    cr_assert(strstr(msg, "column d: DECIMAL(38,2) cannot be widened to hold DECIMAL(38,10)"), "%s", msg);
    static const char *const want[] = { "id INTEGER", "n INTEGER", "s VARCHAR", "d DECIMAL(38,2)" };
    expect(D.types_sql, want, 4);
}

/* The merge key cannot be discarded: it is new to the table. */
Test(evolve_sqlite, discard_refuses_a_new_key)
{
    load_v1();
    tbl t;
    v2(&t);
    t.names[4] = "extra";
    sink_table st = tbl_sink(&t, SINK_MERGE, SINK_DISCARD_VALUE);
    size_t pk[1] = { 4 };
    st.pk = pk;
    char msg[512];
    cr_assert_eq(load(D.uri, &st, t.vals, t.nrows, 8, msg, sizeof msg), SINK_E_SCHEMA, "%s", msg);
    cr_assert(strstr(msg, "column extra is not in table ev"), "%s", msg);
    expect(D.rows_sql, rows_v1, 2);
}

/* SQL Server cannot alter a key column (5074): one line, and a freeze of
 * the same load names it without touching anything. */
Test(evolve_mssql, key_column_cannot_widen)
{
    load_v1();
    tbl t;
    v1(&t);
    cr_assert_eq(tds_column_init(&t.cols[0], TDS_T_INTN, 8, 0, 0), TDS_OK);
    t.cols[0].flags = 0;
    sink_table st = tbl_sink(&t, SINK_APPEND, SINK_FREEZE);
    char msg[512];
    cr_assert_eq(load(D.uri, &st, t.vals, 0, 8, msg, sizeof msg), SINK_E_SCHEMA, "%s", msg);
    cr_assert(strstr(msg, "wider types: id (int -> bigint)"), "%s", msg);
    st.contract = SINK_EVOLVE;
    cr_assert_eq(load(D.uri, &st, t.vals, 0, 8, msg, sizeof msg), SINK_E_DEST, "%s", msg);
    cr_assert(strstr(msg, "is dependent on column 'id'") && !strchr(msg, '\n'), "%s", msg);
    expect(D.types_sql, D.types_v1, 4);
    expect(D.rows_sql, rows_v1, 2);
}
