/*
 * par_read.c — whether and how a SQL Server table source is read in
 * parallel (docs/parallel.md): the checks at open (before the destination
 * is touched), the column (--extract-partition-by, or the clustered key of
 * a large table), its bounds (MIN/MAX and whether NULLs exist, under the
 * incremental bounds), the windows (par_plan.c) as SELECTs, and the pool
 * (par_pool.c) that reads them into the engine.
 * Invariant: a window's SELECT is the sequential read's SELECT (same
 * columns, casts, incremental bounds) with the window's predicate ANDed,
 * so the windows together return exactly the sequential read's rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mssql_int.h"
#include "par_int.h"
#include "par_partfn.h"
#include "par_pool.h"
#include "tds_ascii.h"

static unsigned connections(const tdspipe_load_opts *o)
{
    return o->extract_parallelism ? o->extract_parallelism : PAR_DEFAULT_CONNECTIONS;
}

/* The catalog's DATA_TYPE of col, and its catalog spelling; NULL when the
 * table has no such column. */
static const char *column_type(const pipe_mssql *m, const char *col, const char **name)
{
    *name = NULL;
    for (size_t i = 0; i < m->cat.names.n; i++)
        if (!tds_ascii_casecmp(m->cat.names.v[i], col)) {
            *name = m->cat.names.v[i];
            return m->cat.types.v[i];
        }
    return NULL;
}

int pipe_par_check(const pipe_mssql *m, tdspipe_error *err)
{
    const tdspipe_load_opts *o = m->plan->o;
    par_interval iv;
    char why[300];
    if (par_interval_parse(o->extract_partition_interval, &iv, why, sizeof why))
        return pipe__fail(err, TDSPIPE_E_USAGE, "%s", why);
    if (!o->extract_partition_by) {
        if (!iv.is_auto)
            return pipe__fail(err, TDSPIPE_E_USAGE, "--extract-partition-interval needs --extract-partition-by");
        return 0;
    }
    if (m->name.is_query)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--extract-partition-by splits table sources only (a query: source is read over one connection)");
    if (o->sql_limit > 0 && o->slice_count > 1)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--sql-limit cannot be combined with --partition-count");
    if (o->sql_limit > 0)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--sql-limit cannot be combined with --extract-partition-by "
                                                "(the first N rows of parallel windows are no defined set)");
    const char *name, *type = column_type(m, o->extract_partition_by, &name);
    if (!type)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--extract-partition-by: the source table has no column '%s'",
                          o->extract_partition_by);
    par_bounds b = {.kind = par_kind_of(type), .has_range = true};
    if (b.kind == PAR_NONE)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--extract-partition-by: column '%s' is %s; it must be an integer, "
                          "date or datetime column", name, type);
    par_window *w;
    size_t n;
    if (par_plan(&b, &iv, 1, &w, &n, why, sizeof why)) /* the interval fits the column's kind */
        return pipe__fail(err, TDSPIPE_E_USAGE, "%s", why);
    free(w);
    return 0;
}

/* ------------------------------------------------------ one-row reads */

typedef struct bounds_read {
    par_kind kind;
    int nvals;          /* values read from the first row */
    bool null[2];
    int64_t v[2];
    bool bad;
} bounds_read;

static int bounds_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    bounds_read *r = ud;
    for (int i = 0; i < 2 && i < ncols && !r->nvals; i++) {
        if ((r->null[i] = (vals[i].flags & TDS_VF_NULL) != 0))
            continue;
        tds_datetime d;
        if (r->kind == PAR_INT)
            r->bad |= tds_value_int(&cols[i], &vals[i], &r->v[i]) != TDS_OK;
        else if (tds_value_datetime(&cols[i], &vals[i], &d) != TDS_OK)
            r->bad = true;
        else
            r->v[i] = r->kind == PAR_DATE ? d.days : (int64_t)d.days * PAR_TICKS_PER_DAY + (int64_t)d.ticks;
    }
    r->nvals = ncols < 2 ? ncols : 2;
    return NET_ROW_NEXT;
}

static int run_one(pipe_mssql *m, const char *sql, bounds_read *r, tdspipe_error *err)
{
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.row = bounds_row;
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = net_client_batch_retry(m->cl, sql, &cb, r, &ne);
    if (rc != NET_OK)
        return pipe__fail(err, TDSPIPE_E_LOAD, "reading the partition column's bounds failed: %s",
                          ne.message[0] ? ne.message : net_strerror(rc));
    if (r->bad)
        return pipe__fail(err, TDSPIPE_E_LOAD, "the partition column's bounds did not decode");
    return 0;
}

/* "SELECT head FROM table [WHERE incremental] [AND|WHERE tail]" */
static char *bounds_sql(pipe_mssql *m, const pipe_plan *p, const char *head, const char *tail)
{
    pipe_select sel;
    memset(&sel, 0, sizeof sel);
    sel.o = p->o;
    sel.cat = &m->cat;
    char *qname = pipe_mssql_quoted(&m->name);
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, head);
    pipe_sqlbuf_put(&b, " FROM ");
    pipe_sqlbuf_put(&b, qname ? qname : "");
    int w = pipe_select_where(&sel, &b, p->lo, p->lo_strict, p->hi);
    if (tail && w >= 0) {
        pipe_sqlbuf_put(&b, w ? " AND " : " WHERE ");
        pipe_sqlbuf_put(&b, tail);
    }
    free(qname);
    if (w < 0 || b.oom || !qname) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* MIN, MAX and whether a NULL exists, within the incremental bounds;
 * when the column is the incremental key and --interval-start and
 * --interval-end are both given, those (as ingestr plans its windows: no
 * query, and the same plan in every slice of a scaled-out run). */
static int read_bounds(pipe_mssql *m, const pipe_plan *p, const char *col, const char *qcol, par_bounds *b,
                       tdspipe_error *err)
{
    const tdspipe_load_opts *o = p->o;
    if (o->incremental_key && !tds_ascii_casecmp(o->incremental_key, col) && o->interval_start && o->interval_end &&
        p->lo == o->interval_start && p->hi == o->interval_end && !par_value_parse(b->kind, p->lo, &b->min) &&
        !par_value_parse(b->kind, p->hi, &b->max) && b->min <= b->max) {
        b->has_range = true; /* NULL keys are outside the interval */
        return 0;
    }
    char head[600], tail[300];
    snprintf(head, sizeof head, "SELECT MIN(%s), MAX(%s)", qcol, qcol);
    snprintf(tail, sizeof tail, "%s IS NULL", qcol);
    char *q1 = bounds_sql(m, p, head, NULL), *q2 = bounds_sql(m, p, "SELECT TOP (1) 1", tail);
    bounds_read r1 = {.kind = b->kind}, r2 = {.kind = PAR_INT};
    int rc = !q1 || !q2 ? pipe__fail(err, TDSPIPE_E_LOAD, "out of memory") : run_one(m, q1, &r1, err);
    if (!rc)
        rc = run_one(m, q2, &r2, err);
    free(q1);
    free(q2);
    if (rc)
        return rc;
    b->has_range = r1.nvals == 2 && !r1.null[0] && !r1.null[1];
    b->min = r1.v[0];
    b->max = r1.v[1];
    b->has_nulls = r2.nvals > 0;
    if (p->lo && o->incremental_key && !tds_ascii_casecmp(o->incremental_key, col) &&
        !par_value_parse(b->kind, p->lo, &b->anchor))
        b->has_anchor = true; /* windows aligned on the interval's start, as ingestr's */
    return 0;
}

/* ---------------------------------------------------- automatic split */

static int name_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    char *out = ud;
    size_t len = 0;
    if (ncols >= 1 && !out[0] && !(vals[0].flags & TDS_VF_NULL) &&
        tds_value_text(&cols[0], &vals[0], out, 256, &len) != TDS_OK)
        out[0] = '\0';
    return NET_ROW_NEXT;
}

/* The table's own partition function (par_partfn.c) when it is
 * partitioned (into more than one partition) on col (on any column: col
 * NULL) and no interval is asked for; pf is zeroed otherwise. */
static bool own_partitions(pipe_mssql *m, const char *col, par_partfn *pf)
{
    const char *iv = m->plan->o->extract_partition_interval;
    memset(pf, 0, sizeof *pf);
    if ((iv && *iv && tds_ascii_casecmp(iv, "auto")) || par_partfn_find(m, pf) != 1)
        return false;
    if (pf->nbounds && (!col || !tds_ascii_casecmp(col, pf->col)))
        return true;
    par_partfn_free(pf);
    return false;
}

/* The partitioning column of a partitioned table (pf filled), else the
 * first column of the clustered index, when the table has at least
 * extract_split_rows rows (any_size: whatever its size) and that column
 * can be split; "" otherwise. */
static void auto_column(pipe_mssql *m, const pipe_plan *p, bool any_size, char *out, par_partfn *pf)
{
    const tdspipe_load_opts *o = p->o;
    int64_t min_rows = o->extract_split_rows ? o->extract_split_rows : PAR_AUTO_SPLIT_ROWS;
    out[0] = '\0';
    memset(pf, 0, sizeof *pf);
    if (!any_size && (min_rows < 0 || pipe_select_estimate(m->cl, &m->name) < min_rows))
        return;
    if (own_partitions(m, NULL, pf)) {
        snprintf(out, 256, "%s", pf->col);
        return;
    }
    char *q = pipe_mssql_quoted(&m->name), *db = m->name.db ? pipe_mssql_quote_ident(m->name.db) : NULL;
    char why[8], *lit = q ? pipe_sql_literal("nvarchar", q, why, sizeof why) : NULL;
    size_t len = (lit ? strlen(lit) : 0) + (db ? 3 * strlen(db) : 0) + 400;
    char *sql = malloc(len);
    if (sql && lit && (!m->name.db || db)) {
        const char *pre = db ? db : "", *dot = db ? "." : "";
        snprintf(sql, len,
                 "SELECT c.name FROM %s%ssys.indexes i JOIN %s%ssys.index_columns ic ON i.object_id = ic.object_id "
                 "AND i.index_id = ic.index_id JOIN %s%ssys.columns c ON c.object_id = ic.object_id AND c.column_id = "
                 "ic.column_id WHERE i.object_id = OBJECT_ID(%s) AND i.index_id = 1 AND ic.key_ordinal = 1",
                 pre, dot, pre, dot, pre, dot, lit);
        net_result_cb cb;
        memset(&cb, 0, sizeof cb);
        cb.row = name_row;
        if (net_client_batch(m->cl, sql, &cb, out, NULL) != NET_OK)
            out[0] = '\0';
    }
    const char *name, *type = out[0] ? column_type(m, out, &name) : NULL;
    if (!type || par_kind_of(type) == PAR_NONE)
        out[0] = '\0';
    free(sql);
    free(lit);
    free(db);
    free(q);
}

/* ------------------------------------------------------------ the read */

static void jobs_free(par_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(jobs[i].sql);
        free(jobs[i].label);
    }
    free(jobs);
}

/* One SELECT per window. Returns 0 or an error code (err set). */
static int make_jobs(pipe_mssql *m, const pipe_plan *p, const par_window *w, size_t n, par_kind kind,
                     const char *qcol, par_job **out, tdspipe_error *err)
{
    par_job *jobs = calloc(n, sizeof *jobs);
    if (!jobs)
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    for (size_t i = 0; i < n; i++) {
        pipe_select sel = PIPE_SELECT_FOR(p, m);
        if (!(jobs[i].label = par_window_sql(&w[i], kind, qcol))) {
            jobs_free(jobs, n);
            return pipe__fail(err, TDSPIPE_E_LOAD, "a window bound is out of the column's range");
        }
        sel.extra = jobs[i].label;
        if (pipe_select_table(&sel, &m->name, p->lo, p->lo_strict, p->hi, &jobs[i].sql)) {
            jobs_free(jobs, n);
            return pipe__fail(err, sel.code, "%s", sel.err);
        }
    }
    *out = jobs;
    return 0;
}

/* A slice keeps the windows k with k mod count = index, in place; one
 * that keeps none reads a window of no row (the destination still gets
 * the columns). */
static int keep_slice(const tdspipe_load_opts *o, par_window *w, size_t *n, tdspipe_error *err)
{
    (void)err;
    size_t kept = 0;
    for (size_t k = 0; k < *n; k++)
        if (k % o->slice_count == o->slice_index)
            w[kept++] = w[k];
    if (!kept) {
        memset(&w[0], 0, sizeof w[0]);
        w[0].is_empty = true;
        kept = 1;
    }
    *n = kept;
    return 0;
}

/* The windows of col (of the table's partitions: pf non-NULL) and their read. */
static int read_windows(pipe_mssql *m, const pipe_plan *p, const char *col, const par_partfn *pf,
                        const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    const tdspipe_load_opts *o = p->o;
    const char *name, *type = column_type(m, col, &name);
    if (!type)
        return pipe__fail(err, TDSPIPE_E_USAGE, "the source table has no column '%s' to split on", col);
    par_bounds b = {.kind = par_kind_of(type)};
    par_interval iv;
    char why[300];
    char *qcol = pipe_mssql_quote_ident(name);
    if (!qcol)
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    int rc = par_interval_parse(o->extract_partition_interval, &iv, why, sizeof why)
                 ? pipe__fail(err, TDSPIPE_E_USAGE, "%s", why)
                 : pf ? 0 : read_bounds(m, p, col, qcol, &b, err);
    par_window *w = NULL;
    size_t n = 0;
    if (!rc && pf && par_partfn_windows(pf, o, p->lo, p->hi, connections(o), &w, &n))
        rc = pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    else if (!rc && !pf && par_plan(&b, &iv, connections(o), &w, &n, why, sizeof why))
        rc = pipe__fail(err, TDSPIPE_E_USAGE, "%s", why);
    if (!rc && o->slice_count > 1)
        rc = keep_slice(o, w, &n, err);
    par_job *jobs = NULL;
    if (!rc)
        rc = make_jobs(m, p, w, n, b.kind, qcol, &jobs, err);
    if (!rc)
        rc = par_pool_run(&m->no, connections(o), jobs, n, o->cancel, cb, ud, err);
    if (jobs)
        jobs_free(jobs, n);
    free(w);
    free(qcol);
    return rc;
}

int pipe_par_read(pipe_mssql *m, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    const tdspipe_load_opts *o = p->o;
    par_partfn pf;
    if (o->extract_partition_by) {
        bool own = own_partitions(m, o->extract_partition_by, &pf);
        int rc = read_windows(m, p, o->extract_partition_by, own ? &pf : NULL, cb, ud, err);
        par_partfn_free(&pf);
        return rc;
    }
    bool slice = o->slice_count > 1;
    if (!slice && (connections(o) <= 1 || m->name.is_query || o->sql_limit > 0))
        return PIPE_PAR_SEQUENTIAL;
    char col[256];
    auto_column(m, p, slice, col, &pf);
    if (!col[0] && slice)
        return pipe__fail(err, TDSPIPE_E_USAGE, "a slice (--partition-count) needs --extract-partition-by or a table "
                                                "whose clustered index starts with an integer or date column");
    if (!col[0])
        return PIPE_PAR_SEQUENTIAL;
    int rc = read_windows(m, p, col, pf.kind != PAR_NONE ? &pf : NULL, cb, ud, err);
    par_partfn_free(&pf);
    return rc;
}
