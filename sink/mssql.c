/*
 * mssql.c — SQL Server (and Azure SQL) as a SQL dialect of the core
 * (sql_core.c), through net/: this file connects, runs batches, looks
 * tables up, and fills the dialect table; the rows go by bulk load
 * (mssql_bulk.c): INSERT BULK, then a BulkLoadBCP message per appended
 * batch encoded straight from the source's value views — no text round
 * trip, never row-by-row INSERTs.
 *
 * One transaction per load (BEGIN TRANSACTION … COMMIT TRANSACTION,
 * XACT_ABORT ON), so a rejected load (constraint, truncation, permission)
 * or a dropped connection leaves the target as it was. T-SQL's spelling:
 * [bracketed] names, N'…' strings, CREATE TABLE without IF NOT EXISTS
 * (the core creates only what is missing), replace renames the stage with
 * sp_rename, a merge of distinct non-text keys is one MERGE statement, the
 * Change Tracking merge is mssql_sql.c's, and the delete+insert window is
 * read from the stage first (no scalar subqueries). Schema evolution
 * (sql_evolve.c) reads INFORMATION_SCHEMA.COLUMNS and runs ALTER TABLE …
 * ADD [c] type NULL and ALTER TABLE … ALTER COLUMN [c] type NULL|NOT NULL
 * (the collation and nullability the column had); column names compare
 * case-insensitively, as under SQL Server's default collations.
 * After a failure inside a bulk message the connection is closed (the
 * server rolls back); the next load reconnects.
 *
 * URIs: mssql://, sqlserver:// (one vtable), azuresql://, azure-sql://
 * (another), all parsed by net_opts_from_uri: every TLS mode, access-token
 * login, named instances. A running request is cancelled once
 * sink_options.cancel is set (net_opts.cancel_flag; login included).
 */
#include <stdio.h>
#include <stdlib.h>

#include "mssql_int.h"
#include "tds_ascii.h"

/* --------------------------------------------------------- requests */

typedef struct ms_req {
    char *out;
    size_t cap;
    bool got_row;
    bool found;
    int rc;
    sink_buf *lits;     /* every column of the first row as T-SQL literals,
                           each ending with '\n' ("NULL" for NULL) */
} ms_req;

static int r_row(void *ud, const tds_column *cols, uint16_t n, const tds_value *v)
{
    ms_req *q = ud;
    if (q->got_row || (!q->out && !q->lits) || !n)
        return NET_ROW_NEXT;
    q->got_row = true;
    for (uint16_t i = 0; q->lits && i < n && !q->rc; i++) {
        int e = v[i].flags & TDS_VF_NULL ? sink__buf_puts(q->lits, "NULL") : sink__ms_literal(q->lits, &cols[i], &v[i]);
        if (e || sink__buf_putc(q->lits, '\n'))
            q->rc = e ? e : SINK_E_NOMEM;
    }
    if (v[0].flags & TDS_VF_NULL)
        return NET_ROW_NEXT;
    size_t len = 0;
    if (!q->out)
        return NET_ROW_NEXT;
    int rc = tds_value_text(&cols[0], &v[0], q->out, q->cap, &len);
    if (rc == TDS_E_SPACE)
        q->rc = SINK_E_ARG;
    else if (rc)
        q->rc = SINK_E_VALUE;
    else
        q->found = true;
    return NET_ROW_NEXT;
}

static int ms_connect(ms_sink *m, char *err, size_t errcap);

/* Runs a batch with cb's callbacks; a server error becomes
 * "mssql: what: <message>". */
static int ms_batch(ms_sink *m, const char *sql, const char *what, const net_result_cb *cb, void *ud)
{
    if (!m->cl) {
        char e[400];
        if (ms_connect(m, e, sizeof e))
            return sink__fail(&m->q.base, SINK_E_DEST, "%s", e);
    }
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = net_client_batch(m->cl, sql, cb, ud, &ne);
    if (rc) {
        if (!net_conn_is_open(net_client_conn(m->cl))) {
            net_client_close(m->cl);
            m->cl = NULL;
            m->q.in_txn = false;
        }
        return sink__fail(&m->q.base, SINK_E_DEST, "mssql: %s: %s", what,
                          ne.message[0] ? ne.message : net_strerror(rc));
    }
    return SINK_OK;
}

/* Runs a batch; with out, the first column of the first row comes back
 * as text. */
int sink__ms_run_l(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found,
                 sink_buf *lits)
{
    ms_req q = {.out = out, .cap = cap, .lits = lits};
    if (out && cap)
        out[0] = '\0';
    net_result_cb cb = {.row = r_row};
    int rc = ms_batch(m, sql, what, &cb, &q);
    if (rc)
        return rc;
    if (q.rc)
        return sink__fail(&m->q.base, q.rc, "mssql: %s: value does not fit", what);
    if (found)
        *found = q.found;
    return SINK_OK;
}

int sink__ms_run_q(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found)
{
    return sink__ms_run_l(m, sql, what, out, cap, found, NULL);
}

int sink__ms_run(ms_sink *m, const char *sql, const char *what)
{
    return sink__ms_run_q(m, sql, what, NULL, 0, NULL);
}

static int ms_connect(ms_sink *m, char *err, size_t errcap)
{
    net_error ne;
    memset(&ne, 0, sizeof ne);
    m->cl = net_client_open(&m->no, &ne);
    if (!m->cl)
        return sink__errf(err, errcap, SINK_E_DEST, "mssql: cannot connect: %s",
                          ne.message[0] ? ne.message : net_strerror(ne.code));
    /* Double-quoted identifiers (sink_max_value, sink_state_get); any
     * error rolls the whole transaction back. */
    if (sink__ms_run(m, "SET QUOTED_IDENTIFIER ON; SET ANSI_NULLS ON; SET XACT_ABORT ON; SET NOCOUNT ON", "session setup")) {
        sink__errf(err, errcap, SINK_E_DEST, "%s", m->q.base.err);
        if (m->cl)
            net_client_close(m->cl);
        m->cl = NULL;
        return SINK_E_DEST;
    }
    return SINK_OK;
}

static const sink_dialect ms_dialect;

static int open_scheme(const char *scheme, const char *target, const sink_options *o, sink **out, char *err,
                       size_t errcap)
{
    ms_sink *m = sink__calloc(1, sizeof *m);
    size_t n = strlen(scheme) + 3 + strlen(target) + 1;
    char *uri = sink__malloc(n);
    if (!m || !uri) {
        free(m);
        free(uri);
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    }
    snprintf(uri, n, "%s://%s", scheme, target);
    char e[400] = "";
    int rc = sink__ms_par_uri(uri, &m->bulk_writers, e, sizeof e); /* bulk_writers=K is ours */
    rc = rc ? rc : net_opts_from_uri(&m->no, uri, e, sizeof e);
    net_wipe(uri, n);
    free(uri);
    if (rc) {
        net_opts_free(&m->no);
        free(m);
        return sink__errf(err, errcap, SINK_E_URI, "mssql destination: %s", e);
    }
    m->no.stream_plp = false; /* lookups read whole values */
    m->q.d = &ms_dialect;
    /* the program's flag (sink_options.cancel): logins and requests stop
     * within 100 ms of it; no signal handler of ours */
    m->no.cancel_flag = o->cancel;
    if ((rc = ms_connect(m, err, errcap))) {
        net_opts_free(&m->no);
        free(m);
        return rc;
    }
    *out = &m->q.base;
    return SINK_OK;
}

static int ms_exec(sql_sink *q, const char *sql, const char *what)
{
    /* a load's first statement: json/vector columns fit to the target first */
    if (sql == q->d->begin_sql && sink__ms_t25_adapt((ms_sink *)q))
        return SINK_E_DEST;
    int rc = sink__ms_run((ms_sink *)q, sql, what);
    if (!rc && sql == q->d->commit_sql) /* a parallel load's stage is gone with it */
        ((ms_sink *)q)->par_stage = false;
    return rc;
}

static int ms_row_literals(sql_sink *q, const char *sql, const char *what, sink_buf *lits)
{
    return sink__ms_run_l((ms_sink *)q, sql, what, NULL, 0, NULL, lits);
}

static int ms_exists(sql_sink *q, const char *schema, const char *table, bool *exists)
{
    sink_buf b = {0};
    char out[32];
    int rc = sink__buf_puts(&b, "SELECT OBJECT_ID(") || sink__ms_object_literal(q, &b, schema, table) ||
             sink__buf_puts(&b, ", N'U')") || sink__buf_cstr(&b);
    rc = rc ? sink__sql_nomem(q) : sink__ms_run_q((ms_sink *)q, b.p, "table lookup", out, sizeof out, exists);
    sink__buf_free(&b);
    return rc;
}

static int ms_schema_exists(sql_sink *q, const char *schema, bool *found)
{
    sink_buf *b = &q->sql;
    char out[64];
    b->len = 0;
    if (sink__buf_puts(b, "SELECT SCHEMA_ID(N") || sink__sql_string(b, schema, strlen(schema)) ||
        sink__buf_putc(b, ')') || sink__buf_cstr(b))
        return sink__sql_nomem(q);
    return sink__ms_run_q((ms_sink *)q, b->p, "schema lookup", out, sizeof out, found);
}

/* One INFORMATION_SCHEMA.COLUMNS row as "name\ttype\tnullable": the type
 * with its length, precision and scale, and the collation of a string so
 * that ALTER COLUMN keeps it. */
typedef struct ms_cols {
    sink_buf *out;
    int rc;
} ms_cols;

static void col_text(const tds_column *c, const tds_value *v, char *t, size_t cap)
{
    size_t l;
    t[0] = '\0';
    if (!(v->flags & TDS_VF_NULL) && tds_value_text(c, v, t, cap, &l))
        t[0] = '\0';
}

/* a length in the type's name: char, varchar, nchar, nvarchar, binary,
 * varbinary (not text, ntext, image or xml, whose length is implied) */
static bool sized(const char *type)
{
    static const char *const names[] = { "char", "varchar", "nchar", "nvarchar", "binary", "varbinary", NULL };
    for (int i = 0; names[i]; i++)
        if (!tds_ascii_casecmp(type, names[i]))
            return true;
    return false;
}

static int cols_row(void *ud, const tds_column *c, uint16_t n, const tds_value *v)
{
    ms_cols *mc = ud;
    char f[7][160];
    if (n < 7 || mc->rc)
        return NET_ROW_NEXT;
    for (int i = 0; i < 7; i++)
        col_text(&c[i], &v[i], f[i], sizeof f[i]);
    sink_buf *b = mc->out;
    int e = sink__buf_printf(b, "%s\t%s", f[0], f[1]);
    if (f[2][0] && sized(f[1]))
        e |= strcmp(f[2], "-1") ? sink__buf_printf(b, "(%s)", f[2]) : sink__buf_puts(b, "(max)");
    else if (!tds_ascii_casecmp(f[1], "decimal") || !tds_ascii_casecmp(f[1], "numeric"))
        e |= sink__buf_printf(b, "(%s,%s)", f[3], f[4]);
    if (f[6][0])
        e |= sink__buf_printf(b, " COLLATE %s", f[6]);
    e |= sink__buf_printf(b, "\t%s\n", tds_ascii_casecmp(f[5], "NO") ? "1" : "0");
    if (e)
        mc->rc = SINK_E_NOMEM;
    return NET_ROW_NEXT;
}

/* The table's columns in order, one cols_row line each. */
static int ms_columns(sql_sink *q, sink_buf *out)
{
    sink_buf *b = &q->sql;
    const char *schema = q->sc.schema ? q->sc.schema : "dbo";
    ms_cols mc = {.out = out};
    net_result_cb cb = {.row = cols_row};
    b->len = 0;
    int e = sink__buf_puts(b, "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
                              "NUMERIC_SCALE, IS_NULLABLE, COLLATION_NAME FROM INFORMATION_SCHEMA.COLUMNS "
                              "WHERE TABLE_SCHEMA = N");
    e |= sink__sql_string(b, schema, strlen(schema)) || sink__buf_puts(b, " AND TABLE_NAME = N");
    e |= sink__sql_string(b, q->sc.table, strlen(q->sc.table));
    e |= sink__buf_puts(b, " ORDER BY ORDINAL_POSITION");
    if (e || sink__buf_cstr(b))
        return sink__sql_nomem(q);
    int rc = ms_batch((ms_sink *)q, b->p, "column lookup", &cb, &mc);
    if (!rc && (mc.rc || sink__buf_cstr(out)))
        rc = sink__sql_nomem(q);
    return rc;
}

static int ms_value(sql_sink *q, const char *expr, const char *from, const char *where,
                    char *out, size_t cap, bool *found)
{
    sink_buf *b = &q->sql;
    b->len = 0;
    if (sink__buf_puts(b, "SELECT TOP 1 ") || sink__buf_puts(b, expr) || sink__buf_puts(b, " FROM ") ||
        sink__buf_puts(b, from) || (where && (sink__buf_puts(b, " WHERE ") || sink__buf_puts(b, where))) ||
        sink__buf_cstr(b))
        return sink__sql_nomem(q);
    return sink__ms_run_q((ms_sink *)q, b->p, "lookup", out, cap, found);
}

static const char *ms_type(const tds_column *c, bool key, char *tmp, size_t cap)
{
    return sink__ms_type(c, key, true, tmp, cap);
}

static int ms_bulk_close(sql_sink *q)
{
    /* every batch ended its own bulk message; parallel writers are waited for */
    ms_sink *m = (ms_sink *)q;
    return m->par ? sink__ms_par_close(m) : SINK_OK;
}

static void ms_free(sql_sink *q)
{
    ms_sink *m = (ms_sink *)q;
    if (m->cl)
        net_client_close(m->cl);
    sink__ms_bulk_drop(q);
    free(m->t25_src);
    net_opts_free(&m->no);
}

static const sink_dialect ms_dialect = {
    .name = "mssql",
    .quote = "[]",
    .str_prefix = "N",
    .begin_sql = "BEGIN TRANSACTION",
    .commit_sql = "COMMIT TRANSACTION",
    .rollback_sql = "ROLLBACK TRANSACTION",
    .create_schema = "CREATE SCHEMA ",
    .create_target = "CREATE TABLE ",
    .null_word = " NULL",
    .ord_type = "bigint NOT NULL",
    .stage_prefix = SINK__STAGE_PREFIX,
    .state_create = "CREATE TABLE [" SINK__STATE_TABLE "] ([name] nvarchar(450) NOT NULL PRIMARY KEY, "
                    "[value] nvarchar(max) NOT NULL)",
    .new_target_hint = " WITH (TABLOCK)",
    .nocase = true,
    .target_pk = true,
    .merge_stmt = true,
    .add_column = " ADD ",
    .alter_type = " ",
    .alter_null = true,
    .str_max = "(max)",
    .type = ms_type,
    .literal = sink__ms_literal,
    .exec = ms_exec,
    .exists = ms_exists,
    .schema_exists = ms_schema_exists,
    .columns = ms_columns,
    .rename = sink__ms_rename,
    .merge_cdc = sink__ms_cdc_merge,
    .row_literals = ms_row_literals,
    .value = ms_value,
    .bulk_open = sink__ms_bulk_open,
    .bulk_rows = sink__ms_bulk_rows,
    .bulk_close = ms_bulk_close,
    .bulk_drop = sink__ms_bulk_drop,
    .free = ms_free,
};

static int ms_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    return open_scheme("mssql", target, o, out, err, errcap);
}

static int az_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    return open_scheme("azuresql", target, o, out, err, errcap);
}

const sink_vtable sink_mssql_vtable = SINK_SQL_VTABLE("mssql", "sqlserver", ms_open);
const sink_vtable sink_azuresql_vtable = SINK_SQL_VTABLE("azuresql", "azure-sql", az_open);
