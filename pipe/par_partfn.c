/*
 * par_partfn.c — the windows of a parallel read taken from the source
 * table's own partition function (docs/parallel.md, "Partitioned
 * tables"): the catalog read (sys.indexes → sys.partition_schemes →
 * sys.partition_functions, sys.index_columns partition_ordinal = 1 for
 * the column, sys.partition_range_values for the boundaries) and the
 * planner that turns boundaries into closed-open windows.
 * SQL Server's rule (CREATE PARTITION FUNCTION): with RANGE LEFT a
 * boundary belongs to the partition on its left (col <= b), with RANGE
 * RIGHT to the one on its right (col >= b); NULL sorts lowest, so it is
 * in the leftmost partition (or the second when RANGE RIGHT has a NULL
 * boundary — a NULL boundary is left out here, which merges the empty
 * first partition into the next: the windows stay exact).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mssql_int.h"
#include "par_partfn.h"
#include "tds_ascii.h"

/* ------------------------------------------------------------ planner */

/* The closed-open partitions of f as [lo, hi) pairs (open ends are
 * marked by the caller: the first and last). RANGE LEFT's b is "< b + 1";
 * a RANGE LEFT boundary at the kind's largest value (INT64_MAX,
 * 9999-12-31…) leaves the partition above it empty, so it is not made.
 * Returns the partition count. */
static size_t partitions(const par_partfn *f, int64_t *lo, int64_t *hi)
{
    int64_t top = f->kind == PAR_INT ? INT64_MAX : f->kind == PAR_DATE ? 3652058 /* 9999-12-31 */
                                                                     : 3652059 * PAR_TICKS_PER_DAY - 1;
    size_t np = f->nbounds + 1;
    if (!f->range_right && f->nbounds && f->bounds[f->nbounds - 1] >= top)
        np--;
    for (size_t i = 0; i < np; i++) {
        lo[i] = i ? hi[i - 1] : INT64_MIN;
        hi[i] = i + 1 < np ? (f->range_right ? f->bounds[i] : f->bounds[i] + 1) : INT64_MAX;
    }
    return np;
}

int par_partfn_plan(const par_partfn *f, const par_limits *lim, unsigned connections, par_window **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = f->nbounds + 1;
    int64_t *lo = malloc(cap * sizeof *lo), *hi = malloc(cap * sizeof *hi);
    par_window *w = calloc(cap, sizeof *w);
    if (!lo || !hi || !w) {
        free(lo), free(hi), free(w);
        return -1;
    }
    size_t np = partitions(f, lo, hi), first = 0, last = np - 1;
    /* partitions wholly outside the limits: a prefix and a suffix */
    while (lim && lim->has_lo && first < last && hi[first] <= lim->lo)
        first++;
    while (lim && lim->has_hi && last > first && lo[last] > lim->hi)
        last--;
    size_t kept = last - first + 1;
    size_t target = (size_t)(connections ? connections : 1) * PAR_WINDOWS_PER_CONNECTION;
    size_t nw = kept < target ? kept : target;
    for (size_t g = 0; g < nw; g++) {
        size_t a = first + g * kept / nw, b = first + (g + 1) * kept / nw - 1;
        w[g].lo = lo[a];
        w[g].hi = hi[b];
        w[g].open_lo = g == 0;
        w[g].open_hi = g + 1 == nw;
        w[g].or_null = g == 0;
    }
    free(lo);
    free(hi);
    *out = w;
    *n = nw;
    return 0;
}

int par_partfn_windows(const par_partfn *f, const tdspipe_load_opts *o, const char *lo, const char *hi,
                       unsigned connections, par_window **out, size_t *n)
{
    par_limits lim;
    memset(&lim, 0, sizeof lim);
    if (o->incremental_key && !tds_ascii_casecmp(o->incremental_key, f->col)) {
        lim.has_lo = lo && !par_value_parse(f->kind, lo, &lim.lo);
        lim.has_hi = hi && !par_value_parse(f->kind, hi, &lim.hi);
        if (lim.has_hi && f->kind != PAR_INT && f->kind != PAR_DATE)
            lim.hi = lim.hi < INT64_MAX - PAR_TICKS_PER_DAY ? lim.hi + PAR_TICKS_PER_DAY : INT64_MAX; /* time zones */
        if (lim.has_lo && f->kind != PAR_INT && f->kind != PAR_DATE)
            lim.lo = lim.lo > INT64_MIN + PAR_TICKS_PER_DAY ? lim.lo - PAR_TICKS_PER_DAY : INT64_MIN;
    }
    return par_partfn_plan(f, &lim, connections, out, n);
}

void par_partfn_free(par_partfn *f)
{
    free(f->bounds);
    memset(f, 0, sizeof *f);
}

/* ------------------------------------------------------------ catalog */

typedef struct fn_read {
    char col[256];
    int64_t function_id;
    int64_t on_right;
    int rows;
    bool bad;
} fn_read;

static int fn_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    fn_read *r = ud;
    size_t len = 0;
    if (ncols < 3 || r->rows++)
        return NET_ROW_NEXT;
    for (int i = 0; i < 3; i++)
        r->bad |= (vals[i].flags & TDS_VF_NULL) != 0;
    if (r->bad || tds_value_text(&cols[0], &vals[0], r->col, sizeof r->col, &len) != TDS_OK ||
        tds_value_int(&cols[1], &vals[1], &r->function_id) != TDS_OK ||
        tds_value_int(&cols[2], &vals[2], &r->on_right) != TDS_OK)
        r->bad = true;
    return NET_ROW_NEXT;
}

typedef struct bounds_read {
    par_partfn *f;
    size_t cap;
    bool bad;
} bounds_read;

/* A boundary (sql_variant) as the key value of f->kind, as par_read.c
 * reads MIN/MAX: integers as they are, dates as days, times as ticks. */
static int boundary_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    bounds_read *r = ud;
    tds_column ic;
    tds_value iv;
    tds_datetime d;
    int64_t v;
    if (ncols < 2 || (vals[1].flags & TDS_VF_NULL))
        return NET_ROW_NEXT; /* a NULL boundary: see the note at the top */
    if (tds_value_variant(&cols[1], &vals[1], &ic, &iv) != TDS_OK || (iv.flags & TDS_VF_NULL)) {
        r->bad = true;
        return NET_ROW_ABORT;
    }
    if (r->f->kind == PAR_INT)
        r->bad |= tds_value_int(&ic, &iv, &v) != TDS_OK;
    else if (tds_value_datetime(&ic, &iv, &d) != TDS_OK)
        r->bad = true;
    else
        v = r->f->kind == PAR_DATE ? d.days : (int64_t)d.days * PAR_TICKS_PER_DAY + (int64_t)d.ticks;
    if (r->bad)
        return NET_ROW_ABORT;
    if (r->f->nbounds == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        int64_t *b = realloc(r->f->bounds, cap * sizeof *b);
        if (!b) {
            r->bad = true;
            return NET_ROW_ABORT;
        }
        r->f->bounds = b;
        r->cap = cap;
    }
    if (r->f->nbounds && v <= r->f->bounds[r->f->nbounds - 1]) {
        r->bad = true; /* boundary_id order is ascending value order */
        return NET_ROW_ABORT;
    }
    r->f->bounds[r->f->nbounds++] = v;
    return NET_ROW_NEXT;
}

static int run(pipe_mssql *m, const char *sql, int (*row)(void *, const tds_column *, uint16_t, const tds_value *),
               void *ud)
{
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.row = row;
    return net_client_batch(m->cl, sql, &cb, ud, NULL) == NET_OK ? 0 : -1;
}

/* The partitioning column, function id and RANGE side of m's table. */
static int find_function(pipe_mssql *m, const char *pre, const char *dot, const char *lit, fn_read *r)
{
    size_t len = strlen(lit) + 8 * strlen(pre) + 900;
    char *sql = malloc(len);
    if (!sql)
        return -1;
    snprintf(sql, len,
             "SELECT c.name, pf.function_id, pf.boundary_value_on_right FROM %s%ssys.indexes i "
             "JOIN %s%ssys.partition_schemes ps ON ps.data_space_id = i.data_space_id "
             "JOIN %s%ssys.partition_functions pf ON pf.function_id = ps.function_id "
             "JOIN %s%ssys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id "
             "AND ic.partition_ordinal = 1 "
             "JOIN %s%ssys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id "
             "WHERE i.object_id = OBJECT_ID(%s) AND i.index_id <= 1",
             pre, dot, pre, dot, pre, dot, pre, dot, pre, dot, lit);
    int rc = run(m, sql, fn_row, r);
    free(sql);
    return rc || r->bad || r->rows != 1 ? -1 : 0;
}

static int read_boundaries(pipe_mssql *m, const char *pre, const char *dot, int64_t function_id, par_partfn *f)
{
    size_t len = strlen(pre) + 300;
    char *sql = malloc(len);
    if (!sql)
        return -1;
    snprintf(sql, len,
             "SELECT prv.boundary_id, prv.value FROM %s%ssys.partition_range_values prv "
             "WHERE prv.function_id = %lld ORDER BY prv.boundary_id",
             pre, dot, (long long)function_id);
    bounds_read r = {.f = f};
    int rc = run(m, sql, boundary_row, &r);
    free(sql);
    return rc || r.bad ? -1 : 0;
}

int par_partfn_find(pipe_mssql *m, par_partfn *f)
{
    memset(f, 0, sizeof *f);
    if (m->name.is_query)
        return 0;
    char *q = pipe_mssql_quoted(&m->name), *db = m->name.db ? pipe_mssql_quote_ident(m->name.db) : NULL;
    char why[8], *lit = q ? pipe_sql_literal("nvarchar", q, why, sizeof why) : NULL;
    fn_read r;
    memset(&r, 0, sizeof r);
    int found = 0;
    if (lit && (!m->name.db || db) && !find_function(m, db ? db : "", db ? "." : "", lit, &r)) {
        for (size_t i = 0; i < m->cat.names.n; i++)
            if (!tds_ascii_casecmp(m->cat.names.v[i], r.col)) {
                snprintf(f->col, sizeof f->col, "%s", m->cat.names.v[i]);
                f->kind = par_kind_of(m->cat.types.v[i]);
            }
        f->range_right = r.on_right != 0;
        found = f->kind != PAR_NONE && !read_boundaries(m, db ? db : "", db ? "." : "", r.function_id, f);
    }
    if (!found)
        par_partfn_free(f);
    free(lit);
    free(db);
    free(q);
    return found;
}
