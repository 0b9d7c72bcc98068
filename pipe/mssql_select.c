/*
 * mssql_select.c — the SQL text a SQL Server source sends to read its source: the SELECT of
 * a table source (column list minus --sql-exclude-columns, --columns as
 * CAST/AS, TOP (n), the incremental key's bounds as typed literals), the
 * :interval_start/:interval_end placeholders of a query: source (and its
 * --columns, through a derived table), and the cheap row-count estimate
 * behind the progress percentage.
 * Invariant: identifiers are [bracket]-quoted and values go through
 * pipe_sql_literal(); nothing from the user reaches the SQL unquoted except
 * checked numbers.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mssql_int.h"
#include "tds_ascii.h"

static void sel_fail(pipe_select *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sel_fail(pipe_select *l, int code, const char *fmt, ...)
{
    if (l->code)
        return;
    l->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, sizeof l->err, fmt, ap);
    va_end(ap);
}

static bool same_name(const char *a, const char *b) { return !tds_ascii_casecmp(a, b); }

static bool sel_excluded(const pipe_select *l, const char *name)
{
    for (size_t i = 0; i < l->o->nexclude; i++)
        if (same_name(l->o->exclude[i], name))
            return true;
    return false;
}

static const pipe_colspec *spec_for_source(const pipe_select *l, const char *col)
{
    for (size_t i = 0; i < l->nspecs; i++)
        if (same_name(l->specs[i].source, col))
            return &l->specs[i];
    return NULL;
}

/* Every excluded and --columns source column is a column of the table. */
static int check_names(pipe_select *l)
{
    const tdspipe_load_opts *o = l->o;
    const pipe_catalog *cat = l->cat;
    for (size_t i = 0; i < o->nexclude; i++)
        if (!pipe_name_in((const char *const *)cat->names.v, cat->names.n, o->exclude[i])) {
            sel_fail(l, TDSPIPE_E_USAGE, "--sql-exclude-columns: table has no column '%s'", o->exclude[i]);
            return -1;
        }
    for (size_t s = 0; s < l->nspecs; s++)
        if (!pipe_name_in((const char *const *)cat->names.v, cat->names.n, l->specs[s].source)) {
            sel_fail(l, TDSPIPE_E_USAGE, "--columns: table has no column '%s'", l->specs[s].source);
            return -1;
        }
    return 0;
}

/* The select list: the table's columns in order less excluded ones;
 * --columns as CAST/AS. Returns the number of columns put. */
static size_t put_columns(const pipe_select *l, pipe_sqlbuf *b)
{
    size_t any = 0;
    for (size_t c = 0; c < l->cat->names.n; c++) {
        const char *col = l->cat->names.v[c];
        if (sel_excluded(l, col))
            continue;
        if (any++)
            pipe_sqlbuf_put(b, ", ");
        const pipe_colspec *cs = spec_for_source(l, col);
        if (cs && cs->sqltype[0]) {
            pipe_sqlbuf_put(b, "CAST(");
            pipe_sqlbuf_ident(b, col);
            pipe_sqlbuf_put(b, " AS ");
            pipe_sqlbuf_put(b, cs->sqltype);
            pipe_sqlbuf_put(b, ") AS ");
            pipe_sqlbuf_ident(b, cs->name);
        } else if (cs && strcmp(cs->name, col)) {
            pipe_sqlbuf_ident(b, col);
            pipe_sqlbuf_put(b, " AS ");
            pipe_sqlbuf_ident(b, cs->name);
        } else {
            pipe_sqlbuf_ident(b, col);
        }
    }
    return any;
}

/* WHERE key >(=) lo AND key <= hi, the bounds as literals of the key's
 * catalog type; the end is included, as ingestr's SQL sources read
 * (pkg/source/mssql: key <= end). Returns 1 (put), 0 (no bound) or -1. */
int pipe_select_where(pipe_select *l, pipe_sqlbuf *b, const char *lo, bool lo_strict, const char *hi)
{
    if (!l->o->incremental_key || (!lo && !hi))
        return 0;
    const char *key = l->o->incremental_key;
    const pipe_catalog *cat = l->cat;
    const char *type = NULL;
    for (size_t c = 0; c < cat->names.n; c++)
        if (same_name(cat->names.v[c], key))
            type = cat->types.v[c];
    if (!type) {
        sel_fail(l, TDSPIPE_E_USAGE, "incremental key '%s' is not a column of the source table", key);
        return -1;
    }
    const char *bound[2] = {lo, hi};
    const char *op[2] = {lo_strict ? " > " : " >= ", " <= "};
    bool first = true;
    for (int k = 0; k < 2; k++) {
        if (!bound[k])
            continue;
        char why[300];
        char *lit = pipe_sql_literal(type, bound[k], why, sizeof why);
        if (!lit) {
            sel_fail(l, TDSPIPE_E_USAGE, "--interval-%s: %s", k ? "end" : "start", why);
            return -1;
        }
        pipe_sqlbuf_put(b, first ? " WHERE " : " AND ");
        first = false;
        pipe_sqlbuf_ident(b, key);
        pipe_sqlbuf_put(b, op[k]);
        pipe_sqlbuf_put(b, lit);
        free(lit);
    }
    return first ? 0 : 1;
}

/* SELECT [TOP (n)] cols FROM name [WHERE key >= lo AND key <= hi] */
int pipe_select_table(pipe_select *l, const pipe_mssql_name *n, const char *lo, bool lo_strict, const char *hi,
                      char **out)
{
    if (check_names(l))
        return -1;
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "SELECT ");
    if (l->o->sql_limit > 0) {
        char top[48];
        snprintf(top, sizeof top, "TOP (%lld) ", (long long)l->o->sql_limit);
        pipe_sqlbuf_put(&b, top);
    }
    if (!put_columns(l, &b)) {
        free(b.p);
        sel_fail(l, TDSPIPE_E_USAGE, "--sql-exclude-columns leaves no column to load");
        return -1;
    }
    char *qname = pipe_mssql_quoted(n);
    pipe_sqlbuf_put(&b, " FROM ");
    pipe_sqlbuf_put(&b, qname ? qname : "");
    free(qname);
    int nwhere = pipe_select_where(l, &b, lo, lo_strict, hi);
    if (nwhere < 0) {
        free(b.p);
        return -1;
    }
    if (l->extra) { /* a parallel read's window */
        pipe_sqlbuf_put(&b, nwhere ? " AND (" : " WHERE (");
        pipe_sqlbuf_put(&b, l->extra);
        pipe_sqlbuf_put(&b, ")");
    }
    if (b.oom) {
        free(b.p);
        sel_fail(l, TDSPIPE_E_LOAD, "out of memory");
        return -1;
    }
    *out = b.p;
    return 0;
}

/* query: sources: ":interval_start" / ":interval_end" placeholders become
 * N'…' literals (normalised when they are dates), as in ingestr. */
/* A bound for a query's placeholder: numbers bare; dates as
 * N'YYYY-MM-DD' (converts to every date type); times through CAST so a
 * datetime column compares without a string conversion error; anything
 * else as N'…'. NULL: out of memory. */
static char *placeholder_literal(const char *val)
{
    char norm[64], why[200];
    bool ht, ho;
    char *lit = NULL;
    if (val[0] && strspn(val, "0123456789-+.") == strlen(val) && strchr("0123456789-+", val[0]) &&
        !(strlen(val) >= 10 && val[4] == '-'))
        lit = pipe_sql_literal("decimal", val, why, sizeof why);
    else if (!pipe_datetime_norm(val, false, norm, sizeof norm, &ht, &ho))
        lit = pipe_sql_literal(!ht ? "nvarchar" : ho ? "datetimeoffset" : "datetime2", norm, why, sizeof why);
    return lit ? lit : pipe_sql_literal("nvarchar", val, why, sizeof why);
}

int pipe_select_query(pipe_select *l, const char *q, const char *lo, const char *hi, char **out)
{
    /* Bounds the query does not use would be silently ignored: fine for an
     * idempotent merge, wrong for append (duplicates) and delete+insert
     * (rows outside the deleted window). */
    bool has_lo = false, has_hi = false;
    for (const char *p = q; (p = strchr(p, ':')); p++) {
        has_lo |= !tds_ascii_ncasecmp(p, ":interval_start", 15);
        has_hi |= !tds_ascii_ncasecmp(p, ":interval_end", 13);
    }
    /* delete+insert resuming from the destination's MAX (no
     * --interval-start) with a query that has no placeholder: read it
     * whole, as ingestr does; the window is then the loaded rows' [MIN,
     * MAX] (load_schema.c gives the sink no bounds), so no row outside it
     * is deleted and every row read lands inside it. */
    if (l->strategy == SINK_DELETE_INSERT && lo && !l->o->interval_start && !has_lo)
        lo = NULL;
    if (l->strategy != SINK_MERGE && l->strategy != SINK_REPLACE && ((lo && !has_lo) || (hi && !has_hi))) {
        sel_fail(l, TDSPIPE_E_USAGE, "the query must use :interval_start/:interval_end to be read incrementally "
                                 "with %s (e.g. WHERE key >= :interval_start)", sink_strategy_name(l->strategy));
        return -1;
    }
    pipe_sqlbuf b = {0};
    const char *p = q;
    while (*p) {
        const char *ph = NULL, *val = NULL;
        size_t plen = 0;
        if (*p == ':' && !tds_ascii_ncasecmp(p, ":interval_start", 15)) {
            ph = p, plen = 15, val = lo;
        } else if (*p == ':' && !tds_ascii_ncasecmp(p, ":interval_end", 13)) {
            ph = p, plen = 13, val = hi;
        }
        if (ph && !isalnum((unsigned char)p[plen]) && p[plen] != '_') {
            if (!val) {
                free(b.p);
                sel_fail(l, TDSPIPE_E_USAGE, "the query uses %.*s but --%s is not set", (int)plen, ph,
                      plen == 15 ? "interval-start" : "interval-end");
                return -1;
            }
            char *lit = placeholder_literal(val);
            if (!lit) {
                free(b.p);
                sel_fail(l, TDSPIPE_E_LOAD, "out of memory");
                return -1;
            }
            pipe_sqlbuf_put(&b, lit);
            free(lit);
            p += plen;
            continue;
        }
        char ch[2] = {*p, 0};
        pipe_sqlbuf_put(&b, ch);
        p++;
    }
    if (b.oom || !b.p) {
        free(b.p);
        sel_fail(l, TDSPIPE_E_LOAD, "out of memory");
        return -1;
    }
    *out = b.p;
    return 0;
}

/* ------------------------------------------- --columns on a query */

typedef struct probe {
    pipe_catalog *cat;
    bool oom;
} probe;

static int probe_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    probe *pr = ud;
    if (pr->cat->names.n) /* a later result set */
        return NET_ROW_NEXT;
    for (uint16_t i = 0; i < ncols && !pr->oom; i++)
        pr->oom = pipe_list_add(&pr->cat->names, cols[i].name.ptr ? cols[i].name.ptr : "", cols[i].name.len) != 0;
    return NET_ROW_NEXT;
}

/* --columns on a query: source, as ingestr applies them to the query's
 * result columns. The query (placeholders already replaced) becomes a
 * derived table, its columns are learnt from a TOP (0) read of it, and the
 * outer SELECT lists them with the casts and renames put_columns writes
 * for a table: SELECT CAST([dt] AS date) AS [dt], … FROM (<query>) AS
 * [_tdspipe_q]. SQL Server converts, exactly as CAST in the query would;
 * a query SQL Server does not take as a derived table (ORDER BY without
 * TOP, WITH …, several statements) gets its error. */
int pipe_select_query_columns(pipe_select *l, net_client *cl, char **sql)
{
    pipe_catalog cat;
    memset(&cat, 0, sizeof cat);
    pipe_sqlbuf pb = {0};
    pipe_sqlbuf_put(&pb, "SELECT TOP (0) * FROM (");
    pipe_sqlbuf_put(&pb, *sql);
    pipe_sqlbuf_put(&pb, "\n) AS [_tdspipe_q]");
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.columns = probe_columns;
    probe pr = {&cat, false};
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = pb.oom ? NET_E_NOMEM : net_client_batch(cl, pb.p, &cb, &pr, &ne);
    free(pb.p);
    if (pr.oom || rc != NET_OK || !cat.names.n) {
        if (pr.oom || rc == NET_E_NOMEM)
            sel_fail(l, TDSPIPE_E_LOAD, "out of memory");
        else
            sel_fail(l, TDSPIPE_E_LOAD, "--columns with a query: reading the query's columns failed: %s",
                     rc != NET_OK ? (ne.message[0] ? ne.message : net_strerror(rc)) : "it returns no columns");
        pipe_catalog_free(&cat);
        return -1;
    }
    l->cat = &cat;
    pipe_sqlbuf b = {0};
    if (!check_names(l)) {
        pipe_sqlbuf_put(&b, "SELECT ");
        if (!put_columns(l, &b))
            sel_fail(l, TDSPIPE_E_USAGE, "--sql-exclude-columns leaves no column to load");
        pipe_sqlbuf_put(&b, " FROM (");
        pipe_sqlbuf_put(&b, *sql);
        pipe_sqlbuf_put(&b, "\n) AS [_tdspipe_q]");
        if (b.oom)
            sel_fail(l, TDSPIPE_E_LOAD, "out of memory");
    }
    l->cat = NULL;
    pipe_catalog_free(&cat);
    if (l->code) {
        free(b.p);
        return -1;
    }
    free(*sql);
    *sql = b.p;
    return 0;
}

/* ------------------------------------------------------- row count */

typedef struct row_sum {
    int64_t rows;
    size_t partitions;
} row_sum;

/* Adds up one row per partition (a partitioned table has several). */
static int count_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    row_sum *n = ud;
    if (ncols >= 1 && !(vals[0].flags & TDS_VF_NULL)) {
        int64_t v; /* row_count is bigint */
        if (tds_value_int(&cols[0], &vals[0], &v) == TDS_OK && v >= 0) {
            n->rows += v;
            n->partitions++;
        }
    }
    return NET_ROW_NEXT;
}

/* The partitions' row counts of the heap or clustered index (index_id 0
 * or 1: every row once), summed here rather than with SUM() so the answer
 * is the same whatever the server's aggregate support; -1 on an error or
 * when no partition is listed (no such table). */
static int64_t count_from(net_client *cl, const char *db, const char *lit, const char *view, const char *col)
{
    size_t len = strlen(lit) + (db ? strlen(db) : 0) + strlen(view) + 160;
    char *sql = malloc(len);
    if (!sql)
        return -1;
    snprintf(sql, len, "SELECT p.%s FROM %s%s%s p WHERE p.object_id = OBJECT_ID(%s) AND p.index_id < 2", col,
             db ? db : "", db ? "." : "", view, lit);
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.row = count_row;
    row_sum n = {0, 0};
    int rc = net_client_batch(cl, sql, &cb, &n, NULL);
    free(sql);
    return rc == NET_OK && n.partitions ? n.rows : -1;
}

/* Row count for the progress percentage, an estimate: the storage
 * engine's per-partition counts (no scan, no lock), which can lag a
 * moment behind running transactions. sys.dm_db_partition_stats is
 * SQL Server's documented way; it needs VIEW DATABASE STATE, so a login
 * without it falls back to sys.partitions (metadata visibility only).
 * -1 when neither answers or the table is not found. */
int64_t pipe_select_estimate(net_client *cl, const pipe_mssql_name *n)
{
    char *q = pipe_mssql_quoted(n);
    char *db = n->db ? pipe_mssql_quote_ident(n->db) : NULL;
    char why[8];
    /* the name goes inside N'…' (quotes doubled); a three-part name reads
     * that database's views */
    char *lit = q ? pipe_sql_literal("nvarchar", q, why, sizeof why) : NULL;
    int64_t rows = -1;
    if (lit && (!n->db || db)) {
        rows = count_from(cl, db, lit, "sys.dm_db_partition_stats", "row_count");
        if (rows < 0)
            rows = count_from(cl, db, lit, "sys.partitions", "rows");
    }
    free(lit);
    free(db);
    free(q);
    return rows;
}

