/*
 * pipe_int.h — the seam between the load engine (pipe/load*.c) and its
 * sources (pipe/src_*.c), not installed.
 *
 * A load, as the engine drives it:
 *
 *   vt = pipe_source_find(o->source_uri)
 *   vt->open(plan, &src, err)            flags and URI checked, connected;
 *                                        no rows read, destination untouched
 *   vt->describe(src, &desc, err)        primary key, default target name
 *   sink_open(dest)
 *   vt->cursor_read(src, sink, plan, err) the source's cursor in the
 *                                        destination; may set the plan's
 *                                        strategy, bounds and estimate
 *   vt->read(src, plan, &cb, ud, err)    columns, then rows (pipe.h);
 *                                        the engine projects, names, adds
 *                                        _ingestr_loaded_at, batches
 *   vt->cursor_save(src, sink, err)      between the last append and commit
 *   sink_commit / sink_abort
 *   vt->close(src)
 *
 * Every function returns TDSPIPE_OK, TDSPIPE_E_LOAD or TDSPIPE_E_USAGE
 * (read: also PIPE_STOPPED) and fills err with one line (no secret; the
 * engine also redacts the URIs' passwords from whatever comes back).
 * Optional members may be NULL (describe, cursor_read, cursor_save,
 * estimate).
 *
 * Rows: a source calls cb->columns once (its first result; later result
 * sets are the source's to drop), then chunk/row. When a callback returns
 * PIPE_STOP the source stops and read returns PIPE_STOPPED; the engine
 * knows why (a --sql-limit reached, or its own error already in err).
 */
#ifndef TDSPIPE_PIPE_INT_H
#define TDSPIPE_PIPE_INT_H

#include <stdarg.h>

#include "pipe.h"

/* One --columns entry: "name:type" (type override), "name:type:source"
 * (rename + type), "name::source" (rename only). sqltype is the SQL
 * Server type ("" when only renamed). */
typedef struct pipe_colspec {
    char name[512];
    char source[512];        /* the source column (= name when not renamed) */
    char sqltype[64];
} pipe_colspec;

/* Parses one --columns entry (ingestr's types or SQL Server type names).
 * Returns 0 or -1 with a reason in why. */
int pipe_colspec_parse(const char *s, pipe_colspec *out, char *why, size_t cap);

/* What the engine and a source agree on. The engine fills it from the
 * options before open; cursor_read may change strategy, cdc, lo/hi,
 * est_rows. */
typedef struct pipe_plan {
    const tdspipe_load_opts *o;
    const pipe_colspec *specs;    /* parsed o->columns */
    size_t nspecs;
    tdspipe_naming naming;        /* resolved: never AUTO */
    sink_strategy strategy;       /* full_refresh → replace; else o->strategy */
    bool cdc;                     /* sink_table.cdc (Change Tracking merge) */
    bool cdc_images;              /* sink_table.cdc_images (deletes carry the row) */
    bool keep_cdc_names;          /* "_cdc_*" columns keep their names */
    const char *dest_table;       /* resolved target (after describe) */
    /* incremental read: key > lo (lo_strict) or >= lo, key < hi; text */
    const char *lo, *hi;
    bool lo_strict;
    char lo_buf[256];             /* storage for a lo read from the destination */
    int64_t limit;                /* -1: none; the engine stops after that many rows */
    int64_t est_rows;             /* -1: unknown */
} pipe_plan;

/* What a source knows before reading. Pointers stay valid until close. */
typedef struct pipe_desc {
    const char *const *pk;        /* its primary key columns, in key order */
    size_t npk;
    const char *schema, *table;   /* for the default target "schema.table"
                                     (NULL: the caller must give dest_table) */
    bool has_catalog;             /* columns known from a catalog (table
                                     sources): excluded names are checked
                                     against the result instead otherwise */
} pipe_desc;

struct pipe_source_vtable {
    const char *name;                          /* "mssql", "mssql+ct", "csv", "jsonl" */
    bool (*accepts)(const char *uri);
    int (*open)(const pipe_plan *p, pipe_source **out, tdspipe_error *err);
    int (*describe)(pipe_source *s, pipe_desc *d, tdspipe_error *err);
    int (*cursor_read)(pipe_source *s, sink *dest, pipe_plan *p, tdspipe_error *err);
    int (*read)(pipe_source *s, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err);
    int (*cursor_save)(pipe_source *s, sink *dest, tdspipe_error *err);
    void (*close)(pipe_source *s);
    /* Rows the read will return, for progress percentages (asked only
     * when o->estimate_rows, after the bounds are known); -1 unknown. */
    int64_t (*estimate)(pipe_source *s, const pipe_plan *p);
    /* Streaming (optional, after read): the cursor the run started from
     * and the source's head it read up to, as text (versions in decimal,
     * LSNs in hex; cursor "" when the run was a snapshot). */
    void (*position)(pipe_source *s, char *cursor, char *head, size_t cap);
    /* Streaming (optional, after cursor_read): how long the source keeps
     * changes (CT's CHANGE_RETENTION, CDC's cleanup retention), in
     * seconds; 0 unknown, -1 could not be read. */
    int64_t (*retention_s)(pipe_source *s);
};

/* load.c: one load as tdspipe_load() does it, telling the stream loop
 * (stream.c) what the run saw. hold_idle: a changes run that read no row
 * leaves the cursor as it is (no state write; stream.c restamps it on its
 * own schedule). */
typedef struct pipe_load_out {
    uint64_t rows;                /* rows read and committed */
    bool committed;
    bool cursor_saved;
    char cursor[64], head[64];    /* vtable position(); "" unknown */
    int64_t retention_s;          /* vtable retention_s(); 0 unknown, -1 unreadable */
} pipe_load_out;
int pipe_load_once(const tdspipe_load_opts *o, bool hold_idle, pipe_load_out *out, tdspipe_error *err);

/* The sources (pipe/src_*.c), listed by pipe/registry.c. */
extern const pipe_source_vtable pipe_src_mssql;
extern const pipe_source_vtable pipe_src_ct;
extern const pipe_source_vtable pipe_src_cdc;

/* pipe/cdc_multi.c: a +cdc run over several tables (--source-table
 * dbo.a,dbo.b): true when o lists several; then one load per table, each
 * with its own transaction and cursor, every failed table named in err
 * (the first failure's code). */
bool pipe_cdc_multi(const tdspipe_load_opts *o);
int pipe_cdc_load_tables(const tdspipe_load_opts *o, tdspipe_error *err);
extern const pipe_source_vtable pipe_src_csv;
extern const pipe_source_vtable pipe_src_jsonl;

/* Sets err (may be NULL) to code and the formatted one-line message;
 * returns code. */
int pipe__fail(tdspipe_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Hands a one-line warning to o->warning (dropped when NULL). */
void pipe__warn(const tdspipe_load_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --------------------------------------------- helpers sources share */

/* A list of owned strings. */
typedef struct pipe_list {
    char **v;
    size_t n, cap;
} pipe_list;
int pipe_list_add(pipe_list *l, const char *s, size_t len);
void pipe_list_free(pipe_list *l);
/* True when name is in v[0..n) (case-insensitive, as SQL Server's
 * default collation compares names). */
bool pipe_name_in(const char *const *v, size_t n, const char *name);

/* A column name in the destination's naming style, malloc'd (NULL: out
 * of memory). naming is never TDSPIPE_NAMING_AUTO here. */
char *pipe_name_apply(tdspipe_naming naming, const char *name);

/* datetime.c: n decimal digits at p as a number, -1 on a non-digit. */
int pipe_digits(const char *p, int n);
/* Days since 1970-01-01 of a civil date and back (Howard Hinnant's
 * algorithm), for any year. */
long pipe_days_from_civil(long y, int m, int d);
void pipe_civil_from_days(long z, long *y, int *m, int *d);
/* Normalises a date, datetime or RFC 3339 text to "YYYY-MM-DD[
 * HH:MM:SS.fffffff][ +HH:MM]" (to_utc: apply the offset and drop it).
 * Returns 0 or -1. */
int pipe_datetime_norm(const char *in, bool to_utc, char *out, size_t cap, bool *has_time, bool *has_offset);

/* file_num.c: strtod and snprintf as in the "C" locale, whatever
 * LC_NUMERIC the process or thread has (a program embedding the library
 * may use a decimal comma). Thread-safe; the locale object is made once. */
double pipe__strtod_c(const char *s, char **end);
int pipe__snprintf_c(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* TDSPIPE_PIPE_INT_H */
