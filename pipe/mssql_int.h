/*
 * mssql_int.h — what the SQL Server sources share (pipe/src_mssql.c, the
 * table or query source, and pipe/src_ct*.c, Change Tracking): source
 * names, SQL text, the catalog, the SELECT, the connection and the result
 * adapter from net's callbacks to the engine's pipe_rows_cb. Not
 * installed.
 */
#ifndef TDSPIPE_MSSQL_INT_H
#define TDSPIPE_MSSQL_INT_H

#include "net.h"
#include "pipe_int.h"

/* ------------------------------------------------ mssql_text.c */

/* --source-table forms. */
typedef struct pipe_mssql_name {
    bool is_query;
    char *query;               /* the SQL after "query:" */
    char *db, *schema, *table; /* unquoted; db NULL when two-part */
} pipe_mssql_name;

/* Returns 0 or TDSPIPE_E_USAGE with a reason in err. */
int pipe_mssql_name_parse(const char *s, pipe_mssql_name *out, char *err, size_t errcap);
void pipe_mssql_name_free(pipe_mssql_name *n);
/* "[db].[schema].[table]" (brackets doubled inside), malloc'd. */
char *pipe_mssql_quoted(const pipe_mssql_name *n);
/* ident quoted with [ ], malloc'd. */
char *pipe_mssql_quote_ident(const char *s);
/* N'…' with quotes doubled, malloc'd. */
char *pipe_mssql_quote_str(const char *s);

/* SQL text built piece by piece. A failed allocation sets oom and makes
 * later puts no-ops, so a builder checks once at the end; p is
 * NUL-terminated (NULL before the first put), the caller frees. */
typedef struct pipe_sqlbuf {
    char *p;
    size_t len, cap;
    bool oom;
} pipe_sqlbuf;
void pipe_sqlbuf_put(pipe_sqlbuf *b, const char *s);
void pipe_sqlbuf_ident(pipe_sqlbuf *b, const char *s);

/* A value of the incremental key's type as SQL text for a WHERE clause:
 * numbers checked and bare, dates/times through CAST, text quoted N'…'.
 * data_type is the catalog's DATA_TYPE. Returns a malloc'd string or NULL
 * (bad value: a reason in err). */
char *pipe_sql_literal(const char *data_type, const char *text, char *err, size_t errcap);

/* ---------------------------------------------- mssql_catalog.c */

typedef struct pipe_catalog {
    pipe_list names, types; /* COLUMN_NAME, DATA_TYPE in ordinal order */
    pipe_list pk;           /* primary key columns in key order */
} pipe_catalog;

/* Returns 0, or TDSPIPE_E_LOAD with err (server error, or no such table). */
int pipe_catalog_read(net_client *cl, const pipe_mssql_name *n, pipe_catalog *cat, char *err, size_t errcap);
void pipe_catalog_free(pipe_catalog *c);

/* ----------------------------------------------- mssql_select.c */

/* The SQL that reads a table or query source. Each returns 0, or -1 with
 * sel->code (TDSPIPE_E_USAGE/TDSPIPE_E_LOAD) and sel->err set. */
typedef struct pipe_select {
    const tdspipe_load_opts *o;
    const pipe_catalog *cat;   /* table sources */
    const pipe_colspec *specs; /* parsed --columns */
    size_t nspecs;
    sink_strategy strategy;
    const char *extra;         /* table sources: a predicate ANDed to the
                                  bounds (a parallel read's window); NULL none */
    int code;
    char err[700];
} pipe_select;
/* A pipe_select for m's table under plan p (options, catalog, --columns,
 * strategy), nothing else set. */
#define PIPE_SELECT_FOR(p, m) \
    ((pipe_select){.o = (p)->o, .cat = &(m)->cat, .specs = (p)->specs, .nspecs = (p)->nspecs, \
                   .strategy = (p)->strategy})
/* " WHERE key >(=) lo AND key <= hi" of the incremental bounds into b:
 * 1 when put, 0 when there is no bound, -1 (sel->err) on a bad bound. */
int pipe_select_where(pipe_select *sel, pipe_sqlbuf *b, const char *lo, bool lo_strict, const char *hi);
/* SELECT [TOP (n)] cols FROM name [WHERE key >(=) lo AND key <= hi]
 * [AND (extra)]. */
int pipe_select_table(pipe_select *sel, const pipe_mssql_name *n, const char *lo, bool lo_strict, const char *hi,
                      char **out);
/* A query: source with :interval_start/:interval_end replaced; refuses
 * bounds the query ignores when that would duplicate or lose rows. */
int pipe_select_query(pipe_select *sel, const char *q, const char *lo, const char *hi, char **out);
/* --columns on a query: *sql (pipe_select_query's) wrapped as a derived
 * table under the casts and renames, its columns read from the server
 * first (a TOP (0) read). */
int pipe_select_query_columns(pipe_select *sel, net_client *cl, char **sql);
/* Rows of a table from sys.partitions (no scan), or -1. */
int64_t pipe_select_estimate(net_client *cl, const pipe_mssql_name *n);

/* ------------------------------------------------- mssql_conn.c */

/* True for mssql://, sqlserver://, azuresql://, azure-sql:// (ct: with
 * "+ct" instead). */
bool pipe_mssql_scheme(const char *uri, bool ct);
/* A SQL Server source URI into o (net_opts_from_uri: the one parser of
 * SQL Server URIs), the load's flags over the URI's settings (query
 * timeout, retries). Returns 0 or TDSPIPE_E_USAGE. */
int pipe_mssql_opts(const tdspipe_load_opts *lo, net_opts *o, tdspipe_error *err);
/* Connects (streamed (max) values, the load's cancel flag). Returns 0 or
 * TDSPIPE_E_LOAD. */
int pipe_mssql_connect(const tdspipe_load_opts *lo, net_opts *o, net_client **out, tdspipe_error *err);

/* ------------------------------------------------- src_mssql.c */

typedef struct pipe_ct pipe_ct;

/* One SQL Server source (both vtables). */
typedef struct pipe_mssql {
    const pipe_plan *plan;
    net_opts no;
    net_client *cl;
    pipe_mssql_name name;
    pipe_catalog cat;          /* table sources */
    pipe_ct *ct;               /* Change Tracking state, NULL otherwise */
    /* the result adapter (net → pipe_rows_cb) */
    const pipe_rows_cb *cb;
    void *ud;
    bool begun, dropping, stopped;
} pipe_mssql;

/* Opens a SQL Server source: URI, name, the checks that need no server
 * (Change Tracking's when ct), connection, catalog of a table. */
int pipe_mssql_open(const pipe_plan *p, bool ct, pipe_mssql **out, tdspipe_error *err);
int pipe_mssql_describe(pipe_source *s, pipe_desc *d, tdspipe_error *err);
void pipe_mssql_close(pipe_source *s);
/* net's callbacks feeding m->cb (ud: the pipe_mssql). */
extern const net_result_cb pipe_mssql_rows;
/* What they do, for ct_rows.c too: the first result set to m->cb (later
 * ones dropped); a PIPE_STOP sets m->stopped and returns NET_ROW_ABORT,
 * which cancels the request. */
int pipe_mssql_columns(pipe_mssql *m, const tds_column *cols, size_t ncols);
int pipe_mssql_row(pipe_mssql *m, const tds_value *vals);
int pipe_mssql_chunk(pipe_mssql *m, size_t col, const uint8_t *data, size_t len);
/* A net result code of a read into the source's answer: PIPE_STOPPED
 * when the engine stopped it, else TDSPIPE_E_LOAD with "reading from SQL
 * Server failed: …". */
int pipe_mssql_read_result(pipe_mssql *m, int rc, const net_error *ne, tdspipe_error *err);

/* ---------------------------------------------------- par_read.c */

/* The parallel-read flags a table or query source can be checked for at
 * open (interval, column, its type, --sql-limit): 0 or TDSPIPE_E_USAGE. */
int pipe_par_check(const pipe_mssql *m, tdspipe_error *err);
/* Reads a table source in windows over several connections when asked
 * (--extract-partition-by) or when automatic (a large table with a
 * clustered key that splits); returns PIPE_PAR_SEQUENTIAL when the read
 * is left to one connection, else as a source's read. */
#define PIPE_PAR_SEQUENTIAL 4
int pipe_par_read(pipe_mssql *m, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err);

#endif /* TDSPIPE_MSSQL_INT_H */
