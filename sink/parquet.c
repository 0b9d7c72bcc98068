/*
 * parquet.c — parquet://PATH: Parquet files written by libduckdb's own
 * Parquet writer while the rows stream (docs/parquet.md).
 *
 * A private in-memory DuckDB database runs one statement per file,
 *   COPY (SELECT * FROM tdspipe_feed()) TO 'tmp' (FORMAT parquet, …)
 * on a thread of its own; the rows reach it as data chunks through
 * tdspipe_feed() (duckdb_feed.c), written by the DuckDB sink's column
 * writer (duckdb_append.c), so every type is DuckDB's type for it and
 * DuckDB maps that to Parquet. Memory stays flat: a few chunks queue, and
 * the writer holds one row group at a time.
 *
 * The file is "<dest>.tmp-XXXXXX" beside the destination until the commit
 * renames it (a failed load leaves no file and an earlier one unchanged);
 * missing directories are made first, and removed again by a failed load.
 * replace writes PATH and then removes PATH's parts; append writes PATH
 * when it is absent, else the next part "<stem>.part-NNNN.parquet".
 *
 * datetime2(7) is TIMESTAMP_NS while its values fit (1677-09-21 …
 * 2262-04-11). A value outside cannot be undone in a file being written:
 * the file so far is finished as segment 1, the column becomes TIMESTAMP
 * (µs) for the rest, and the commit copies the segments into one file,
 * rounding segment 1's nanoseconds half up to µs (the DuckDB sink's rule).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "duckdb_sink.h"
#include "parquet_int.h"
#include "sql_int.h"

#ifdef SINK_FULLY_STATIC
SINK_UNAVAILABLE_VTABLE(sink_parquet_vtable, "parquet", NULL, "Parquet");
#else

typedef struct pq_sink {
    sink base;
    const sink_ddb_api *api;
    sink_ddb_handle db, conn;
    ddb_feed *feed;
    ddb_cols w;
    sink_schema sc;
    pq_target t;
    char *dest;          /* this load's file: the path, or an append's part */
    char *made;          /* directories this load made (removed unless it commits) */
    size_t made_top;
    char **seg;          /* temp files of this load; the last one is being written */
    uint8_t *seg_forms;  /* nseg × ncols: the column forms of each */
    size_t nseg;
    sink_buf sql;
} pq_sink;

#define ddb (*p->api)

static int pq_run(pq_sink *p, const char *sql, const char *what)
{
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb.duckdb_query(p->conn, sql, &r);
    if (st != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_result_error(&r);
        sink__fail(&p->base, SINK_E_DEST, "parquet: %s: %.300s", what, m ? m : "failed");
        char *nl = strpbrk(p->base.err, "\r\n");
        if (nl)
            *nl = '\0';
    }
    ddb.duckdb_destroy_result(&r);
    return st == SINK_DDB_SUCCESS ? SINK_OK : SINK_E_DEST;
}

static int nomem(pq_sink *p) { return sink__fail(&p->base, SINK_E_NOMEM, "out of memory"); }

/* A row group is built in memory: it also ends at this size, so wide rows
 * keep the memory flat (DuckDB's default allows 122,880 rows × 1 KB). */
#define PQ_GROUP_BYTES "16MB"

/* " (FORMAT parquet, COMPRESSION …, ROW_GROUP_SIZE …, USE_TMP_FILE false)":
 * DuckDB writes straight into our temp file; the rename is ours. */
static int copy_options(pq_sink *p, sink_buf *b)
{
    int e = sink__buf_printf(b, " (FORMAT parquet, COMPRESSION %s", p->t.compression);
    if (p->t.row_group_size)
        e |= sink__buf_printf(b, ", ROW_GROUP_SIZE %ld", p->t.row_group_size);
    return e | sink__buf_puts(b, ", ROW_GROUP_SIZE_BYTES '" PQ_GROUP_BYTES "', USE_TMP_FILE false)");
}

/* A new temp file and the COPY that fills it from the feed. */
static int start_segment(pq_sink *p)
{
    char err[420];
    size_t nc = p->sc.ncols;
    char **seg = sink__realloc(p->seg, (p->nseg + 1) * sizeof *seg);
    uint8_t *forms = seg ? sink__realloc(p->seg_forms, (p->nseg + 1) * (nc + 1)) : NULL;
    if (seg)
        p->seg = seg;
    if (forms)
        p->seg_forms = forms;
    if (!seg || !forms)
        return nomem(p);
    if (!(p->seg[p->nseg] = sink__pq_temp(p->dest, err, sizeof err)))
        return sink__fail(&p->base, SINK_E_IO, "%s", err);
    memcpy(p->seg_forms + p->nseg * (nc + 1), p->w.form, nc);
    const char *tmp = p->seg[p->nseg++];
    sink_buf *b = &p->sql;
    b->len = 0;
    int e = sink__buf_puts(b, "COPY (SELECT * FROM tdspipe_feed()) TO ") || sink__sql_string(b, tmp, strlen(tmp)) ||
            copy_options(p, b) || sink__buf_cstr(b);
    if (e)
        return nomem(p);
    int rc = sink__ddb_cols_types(&p->w, p->conn, NULL, "cols", err, sizeof err);
    if (!rc)
        rc = sink__ddb_feed_start(p->feed, p->conn, b->p, nc, p->sc.names, p->w.types, err, sizeof err);
    if (rc)
        return sink__fail(&p->base, rc, "parquet: %s", err);
    return sink__ddb_cols_chunk(&p->w) ? nomem(p) : SINK_OK;
}

/* The rows so far into the file, which the COPY then finishes. */
static int finish_segment(pq_sink *p)
{
    char err[420];
    sink_ddb_handle c = sink__ddb_cols_take(&p->w);
    if (c)
        (void)sink__ddb_feed_push(p->feed, c); /* a failure shows in finish */
    if (sink__ddb_feed_finish(p->feed, err, sizeof err))
        return sink__fail(&p->base, SINK_E_DEST, "parquet: %s", err);
    return SINK_OK;
}

/* A datetime2(7) value outside TIMESTAMP_NS: column i is TIMESTAMP (µs)
 * from here on, in a new segment. */
static int widen_column(pq_sink *p, size_t i)
{
    int rc = finish_segment(p);
    if (rc)
        return rc;
    char sql[96];
    snprintf(sql, sizeof sql, "ALTER TABLE cols ALTER c%zu SET DATA TYPE TIMESTAMP", i);
    if ((rc = pq_run(p, sql, "widen a datetime2(7) column")))
        return rc;
    p->w.form[i] = DDB_F_TS_US;
    return start_segment(p);
}

static void drop_segments(pq_sink *p)
{
    sink__ddb_feed_cancel(p->feed);
    sink_ddb_handle c = p->w.api ? sink__ddb_cols_take(&p->w) : NULL;
    if (c)
        ddb.duckdb_destroy_data_chunk(&c);
    for (size_t i = 0; i < p->nseg; i++) {
        unlink(p->seg[i]);
        free(p->seg[i]);
    }
    free(p->seg);
    free(p->seg_forms);
    sink__remove_dirs(p->made, p->made_top);
    p->made = NULL;
    p->seg = NULL;
    p->seg_forms = NULL;
    p->nseg = 0;
}

/* "CREATE OR REPLACE TABLE cols (c0 TYPE, …)": the load's DuckDB types,
 * which the feed reads back as logical types. */
static int make_types(pq_sink *p)
{
    sink_buf *b = &p->sql;
    b->len = 0;
    int e = sink__buf_puts(b, "CREATE OR REPLACE TABLE cols (");
    for (size_t i = 0; i < p->sc.ncols; i++) {
        char tmp[64];
        e |= sink__buf_printf(b, "%sc%zu %s", i ? ", " : "", i,
                              sink__ddb_type(&p->sc.cols[i], false, tmp, sizeof tmp));
    }
    if (e || sink__buf_puts(b, ")") || sink__buf_cstr(b))
        return nomem(p);
    return pq_run(p, b->p, "column types");
}

static int pq_begin(sink *s, const sink_table *t)
{
    pq_sink *p = (pq_sink *)s;
    if (t->strategy != SINK_REPLACE && t->strategy != SINK_APPEND)
        return sink__fail(s, SINK_E_UNSUPPORTED, "parquet destinations support replace and append, not %s",
                          sink_strategy_name(t->strategy));
    drop_segments(p);
    sink__schema_free(&p->sc);
    free(p->dest);
    p->dest = NULL;
    if (sink__schema_copy(&p->sc, t) || sink__ddb_cols_init(&p->w, p->api, p->sc.cols, p->sc.ncols, false))
        return nomem(p);
    int rc = make_types(p);
    if (rc)
        return rc;
    p->dest = t->strategy == SINK_APPEND ? sink__pq_part_name(p->t.path) : sink__strdup(p->t.path);
    if (!p->dest)
        return nomem(p);
    char err[420];
    if ((rc = sink__make_dirs(p->dest, &p->made, &p->made_top, err, sizeof err)))
        return sink__fail(s, rc, "%s", err);
    return start_segment(p);
}

static int pq_append(sink *s, const sink_batch *b)
{
    pq_sink *p = (pq_sink *)s;
    size_t nc = p->sc.ncols;
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
        size_t i;
        int rc;
        while ((rc = sink__ddb_cols_row(&p->w, row, &i)) == SINK_E_UNSUPPORTED) /* outside TIMESTAMP_NS */
            if ((rc = widen_column(p, i)))
                return rc;
        if (rc)
            return sink__fail(s, rc, "column %s: %s", p->sc.names[i],
                              rc == SINK_E_NOMEM ? "out of memory" : "value cannot be decoded");
        if (++p->w.rows == p->w.cap) {
            if (sink__ddb_feed_push(p->feed, sink__ddb_cols_take(&p->w)))
                return finish_segment(p) ? SINK_E_DEST : sink__fail(s, SINK_E_DEST, "parquet: the writer stopped");
            if (sink__ddb_cols_chunk(&p->w))
                return nomem(p);
        }
    }
    return SINK_OK;
}

/* "name" with its quotes doubled, NUL-terminated. */
static int quote_ident(sink_buf *b, const char *name)
{
    int e = sink__buf_putc(b, '"');
    for (const char *c = name; *c && !e; c++)
        e = *c == '"' ? sink__buf_puts(b, "\"\"") : sink__buf_putc(b, *c);
    return e || sink__buf_putc(b, '"') || sink__buf_cstr(b);
}

/* Segments written before a widening: one file, their rows in order, the
 * widened columns rounded to µs where a segment holds ns. */
static int merge_segments(pq_sink *p, char **out)
{
    char err[420];
    if (!(*out = sink__pq_temp(p->dest, err, sizeof err)))
        return sink__fail(&p->base, SINK_E_IO, "%s", err);
    size_t nc = p->sc.ncols;
    sink_buf *b = &p->sql, id = { 0 };
    b->len = 0;
    int e = sink__buf_puts(b, "COPY (");
    for (size_t k = 0; k < p->nseg && !e; k++) {
        e |= sink__buf_puts(b, k ? " UNION ALL SELECT " : "SELECT ");
        for (size_t i = 0; i < nc && !e; i++) {
            id.len = 0;
            e |= quote_ident(&id, p->sc.names[i]);
            bool round = p->w.form[i] == DDB_F_TS_US && p->seg_forms[k * (nc + 1) + i] == DDB_F_TS_NS;
            e |= sink__buf_puts(b, i ? ", " : "");
            e |= round ? sink__ddb_ns_to_us(b, id.p) || sink__buf_puts(b, " AS ") : 0;
            e |= sink__buf_puts(b, id.p);
        }
        e |= sink__buf_puts(b, " FROM read_parquet(") || sink__sql_string(b, p->seg[k], strlen(p->seg[k])) ||
             sink__buf_putc(b, ')');
    }
    e |= sink__buf_puts(b, ") TO ") || sink__sql_string(b, *out, strlen(*out)) || copy_options(p, b) ||
         sink__buf_cstr(b);
    sink__buf_free(&id);
    if (e)
        return nomem(p);
    return pq_run(p, b->p, "join the file's segments");
}

static int pq_commit(sink *s)
{
    pq_sink *p = (pq_sink *)s;
    int rc = finish_segment(p);
    char *merged = NULL, err[420];
    if (!rc && p->nseg > 1)
        rc = merge_segments(p, &merged);
    const char *done = merged ? merged : p->seg[p->nseg - 1];
    if (!rc && (rc = sink__pq_publish(done, p->dest, err, sizeof err)))
        sink__fail(s, rc, "%s", err);
    if (merged && rc)
        unlink(merged);
    free(merged);
    if (!rc && p->nseg == 1) { /* published: nothing to remove */
        free(p->seg[0]);
        p->nseg = 0;
    }
    if (!rc) { /* the directories stay with the file */
        free(p->made);
        p->made = NULL;
    }
    drop_segments(p);
    if (!rc && p->sc.strategy == SINK_REPLACE)
        sink__pq_remove_parts(p->t.path);
    return rc;
}

static void pq_abort(sink *s)
{
    drop_segments((pq_sink *)s);
}

static void pq_close(sink *s)
{
    pq_sink *p = (pq_sink *)s;
    drop_segments(p);
    sink__ddb_cols_free(&p->w);
    if (p->conn)
        ddb.duckdb_disconnect(&p->conn);
    if (p->db)
        ddb.duckdb_close(&p->db);
    sink__ddb_feed_free(p->feed); /* after the close: the function points to it */
    sink__schema_free(&p->sc);
    sink__pq_target_free(&p->t);
    sink__buf_free(&p->sql);
    free(p->dest);
    free(p);
}

/* DuckDB's share of memory stays small: one thread, no spilling into a
 * .tmp directory of the working directory. One thread and one reader
 * (tdspipe_feed() asks for one) keep the rows in order without DuckDB's
 * order-preserving mode, which would refuse ROW_GROUP_SIZE_BYTES. */
static const char pq_setup[] = "SET threads = 1; SET memory_limit = '256MB'; SET temp_directory = ''; "
                               "SET preserve_insertion_order = false";

/* threads=N: N DuckDB threads encode row groups at once (rows in no
 * promised order); each holds its own row group, so the pool grows with N. */
static int pq_threads_setup(pq_sink *p)
{
    char set[96];
    snprintf(set, sizeof set, "SET threads = %u; SET memory_limit = '%uMB'", p->t.threads, 256 * p->t.threads);
    return pq_run(p, set, "setup");
}

static int pq_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    const sink_ddb_api *api = sink__ddb_load(o->duckdb_lib, err, errcap);
    if (!api)
        return SINK_E_LIB;
    pq_sink *p = sink__calloc(1, sizeof *p);
    if (!p)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    p->api = api;
    int rc = sink__pq_target(target, &p->t, err, errcap);
    char *oe = NULL;
    if (!rc && ddb.duckdb_open_ext(":memory:", &p->db, NULL, &oe) != SINK_DDB_SUCCESS)
        rc = sink__errf(err, errcap, SINK_E_DEST, "parquet: cannot start DuckDB: %.200s", oe ? oe : "failed");
    if (oe)
        ddb.duckdb_free(oe);
    if (!rc && ddb.duckdb_connect(p->db, &p->conn) != SINK_DDB_SUCCESS)
        rc = sink__errf(err, errcap, SINK_E_DEST, "parquet: cannot connect to DuckDB");
    if (!rc && pq_run(p, pq_setup, "setup"))
        rc = sink__errf(err, errcap, SINK_E_DEST, "%s", p->base.err);
    if (!rc && p->t.threads > 1 && pq_threads_setup(p))
        rc = sink__errf(err, errcap, SINK_E_DEST, "%s", p->base.err);
    if (!rc && !(p->feed = sink__ddb_feed_new(api, p->conn, err, errcap)))
        rc = SINK_E_DEST;
    if (!rc)
        sink__ddb_feed_set_threads(p->feed, p->t.threads);
    if (rc) {
        pq_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return SINK_OK;
}

const sink_vtable sink_parquet_vtable = {
    .scheme = "parquet", .open = pq_open, .begin = pq_begin, .append = pq_append,
    .commit = pq_commit, .abort = pq_abort, .close = pq_close,
};
#endif /* SINK_FULLY_STATIC */
