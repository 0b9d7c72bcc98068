/*
 * cli_int.h — what the files of the `tdspipe` command share: parsed flags
 * (flags.c), URIs (uri.c), source names and SQL (source.c), the load
 * (ingest.c), progress (progress.c) and secret scrubbing (secrets.c).
 *
 * Exit codes (the ingestr contract): CLI_EXIT_OK 0, CLI_EXIT_LOAD 1 (a load
 * that failed: the destination is left as it was), CLI_EXIT_USAGE 2 (bad
 * flags, values or URIs; one line on stderr). Messages never hold a
 * password or an access token.
 */
#ifndef TDSPIPE_CLI_INT_H
#define TDSPIPE_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net.h"
#include "sink.h"
#include "tds.h"

#define CLI_VERSION "0.1.0"

enum { CLI_EXIT_OK = 0, CLI_EXIT_LOAD = 1, CLI_EXIT_USAGE = 2 };

typedef enum cli_progress_mode { CLI_PROGRESS_INTERACTIVE = 0, CLI_PROGRESS_LOG, CLI_PROGRESS_JSON } cli_progress_mode;
typedef enum cli_naming { CLI_NAMING_AUTO = 0, CLI_NAMING_DIRECT, CLI_NAMING_SNAKE } cli_naming;

/* A list of strings owned by the list (repeatable flags). */
typedef struct cli_list {
    char **v;
    size_t n, cap;
} cli_list;

int cli_list_add(cli_list *l, const char *s, size_t len);
/* Adds each comma-separated, trimmed, non-empty item of s. */
int cli_list_add_csv(cli_list *l, const char *s);
void cli_list_free(cli_list *l);

/* Everything `ingest` accepts. Strings are owned (copies). */
typedef struct cli_opts {
    char *source_uri, *dest_uri, *source_table, *dest_table;
    sink_strategy strategy;
    bool strategy_given;
    char *incremental_key, *interval_start, *interval_end;
    cli_list primary_keys, exclude, columns;
    bool full_refresh;
    int64_t sql_limit;            /* -1: none */
    size_t page_size;             /* rows per sink batch */
    unsigned parallelism;         /* accepted; one connection is used */
    int64_t query_timeout_s;      /* -1: as the URI says (default none) */
    int retries;                  /* transient-fault retries; -1: the URI's, else 3 */
    cli_progress_mode progress;
    cli_naming naming;
    bool no_load_timestamp;
    bool ct_resnapshot;           /* --ct-expired=resnapshot */
    bool yes;
    bool help;
} cli_opts;

/* flags.c: parses argv[first..argc) of `ingest` and the environment
 * (X, then INGESTR_X; the command line wins). Returns 0, or CLI_EXIT_USAGE
 * with a one-line reason in err. */
int cli_flags_parse(cli_opts *o, int argc, char **argv, int first, char *err, size_t errcap);
void cli_opts_free(cli_opts *o);
void cli_flags_help(FILE *f);

/* uri.c: a SQL Server source/destination URI into net options (net's
 * net_opts_from_uri after RFC 3986 checks, or uriparser when its static
 * archive exists; percent-escapes decoded; query parameters per the
 * contract). *ct is set for the +ct schemes. Returns 0 or CLI_EXIT_USAGE
 * with a reason (never quoting the password). */
int cli_uri_mssql(const char *uri, net_opts *o, bool *ct, char *err, size_t errcap);
/* True when the URI's scheme is one of the SQL Server family (with or
 * without +ct). */
bool cli_uri_is_mssql(const char *uri);
/* Checks a destination URI: a scheme we can write (duckdb, postgresql,
 * postgres, sqlite, csv, jsonl, discard), well formed; so is zeroed (the
 * sinks read their own settings). Returns 0 or CLI_EXIT_USAGE. */
int cli_uri_dest(const char *uri, sink_options *so, char *err, size_t errcap);

/* secrets.c: overwrites the password/token of every URI in argv (and in
 * SOURCE_URI/DEST_URI environment strings) with '*', in place. Call after
 * the URIs were copied. */
void cli_secrets_scrub_argv(int argc, char **argv);
/* Overwrites the password part of one URI string in place. */
void cli_secrets_scrub_uri(char *uri);
/* Replaces, in place, any occurrence of secret in msg by "***". */
void cli_secrets_redact(char *msg, const char *secret);
/* Remembers a secret (borrowed pointer, NULL ignored) that cli_err() must
 * never print; _uri takes the password out of a URI (a wiped copy). */
void cli_secrets_register(const char *secret);
void cli_secrets_register_uri(const char *uri);
/* Redacts every registered secret from msg. */
void cli_secrets_redact_all(char *msg);
/* Forgets (and wipes the copies of) the registered secrets. */
void cli_secrets_forget(void);

/* source.c: --source-table forms. */
typedef struct cli_source_name {
    bool is_query;
    char *query;              /* the SQL after "query:" */
    char *db, *schema, *table;/* unquoted; db NULL when two-part */
} cli_source_name;

int cli_source_name_parse(const char *s, cli_source_name *out, char *err, size_t errcap);
void cli_source_name_free(cli_source_name *n);
/* "[db].[schema].[table]" (brackets doubled inside). */
char *cli_source_quoted(const cli_source_name *n);
/* ident quoted with [ ] into a malloc'd string. */
char *cli_quote_ident(const char *s);
/* SQL text built piece by piece (select.c, ct.c). A failed allocation
 * sets oom and makes later puts no-ops, so a builder checks once at the
 * end; p is NUL-terminated (NULL before the first put), the caller frees. */
typedef struct cli_sqlbuf {
    char *p;
    size_t len, cap;
    bool oom;
} cli_sqlbuf;
void cli_sqlbuf_put(cli_sqlbuf *b, const char *s);
/* s quoted with [ ] (cli_quote_ident) */
void cli_sqlbuf_ident(cli_sqlbuf *b, const char *s);
/* One --columns entry: "name:type" (type override), "name:type:source"
 * (rename + type), "name::source" (rename only). Types are ingestr's
 * (bigint int smallint tinyint float double decimal(p,s) string text
 * varchar(n) boolean date timestamp timestamp_ntz json uuid binary, plus
 * time, wei) or SQL Server type names; sqltype is the SQL Server type used
 * in CAST. Returns 0 or -1 with a reason in why. */
typedef struct cli_colspec {
    char name[512];
    char source[512];        /* the source column (= name when not renamed) */
    char sqltype[64];        /* "" when only renamed */
} cli_colspec;
int cli_colspec_parse(const char *s, cli_colspec *out, char *why, size_t cap);

/* source_file.c: CSV/JSONL files (csv:///path.csv[.gz], jsonl:///…) as
 * sources. True for those schemes. */
bool cli_source_file_is(const char *uri);
/* Reads the file into cb (columns once, then each row) with ud, as
 * net_client_batch would. Returns NET_OK, NET_E_CANCELLED (a callback
 * aborted), or NET_E_ARG/NET_E_IO/NET_E_NOMEM with ne->message naming
 * the file, line and column. specs: --columns (types, renames). */
int cli_source_file_run(const char *uri, const cli_colspec *specs, size_t nspecs, const net_result_cb *cb,
                        void *ud, net_error *ne);

/* Catalog facts of a table source. */
typedef struct cli_catalog {
    cli_list names, types;   /* COLUMN_NAME, DATA_TYPE in ordinal order */
    cli_list pk;             /* primary key columns in key order */
} cli_catalog;

/* Reads the columns and primary key of n from the catalog. Returns 0,
 * CLI_EXIT_LOAD with err (server error, or the table does not exist). */
int cli_catalog_read(net_client *cl, const cli_source_name *n, cli_catalog *cat, char *err, size_t errcap);
void cli_catalog_free(cli_catalog *c);

/* A value of the incremental key's type as SQL text for a WHERE clause:
 * numbers checked and bare, dates/times through CAST, text quoted N'…'.
 * data_type is the catalog's DATA_TYPE. Returns a malloc'd string or NULL
 * (bad value: a reason in err). */
char *cli_sql_literal(const char *data_type, const char *text, char *err, size_t errcap);

/* Normalises a date, datetime or RFC 3339 text to "YYYY-MM-DD[ HH:MM:SS.fffffff][ +HH:MM]"
 * (to_utc: apply the offset and drop it). Returns 0 or -1. */
int cli_datetime_norm(const char *in, bool to_utc, char *out, size_t cap, bool *has_time, bool *has_offset);

/* naming: a column name in the destination's naming style into a malloc'd
 * string. */
char *cli_name_apply(cli_naming n, const char *name);

/* select.c: the SQL that reads the source. Each returns 0, or -1 with
 * sel->code (CLI_EXIT_USAGE/CLI_EXIT_LOAD) and sel->err set. */
typedef struct cli_select {
    const cli_opts *o;
    const cli_catalog *cat;       /* table sources */
    const cli_colspec *specs;     /* parsed --columns */
    size_t nspecs;
    sink_strategy strategy;
    int code;
    char err[700];
} cli_select;
/* SELECT [TOP (n)] cols FROM name [WHERE key >(=) lo AND key < hi]. */
int cli_select_table(cli_select *sel, const cli_source_name *n, const char *lo, bool lo_strict, const char *hi,
                     char **out);
/* A query: source with :interval_start/:interval_end replaced; refuses
 * bounds the query ignores when that would duplicate or lose rows. */
int cli_select_query(cli_select *sel, const char *q, const char *lo, const char *hi, char **out);
/* Rows of a table from sys.partitions (no scan), or -1. */
int64_t cli_select_estimate(net_client *cl, const cli_source_name *n);

/* progress.c */
typedef struct cli_progress cli_progress;
cli_progress *cli_progress_new(cli_progress_mode mode, const char *table, int64_t known_rows);
void cli_progress_rows(cli_progress *p, size_t rows, size_t bytes);
void cli_progress_phase(cli_progress *p, const char *phase);
/* Final line (ok or failed) and free. NULL is fine. */
void cli_progress_end(cli_progress *p, bool ok);
/* Monotonic seconds. */
double cli_now(void);

/* ct.c / ct_rows.c: Change Tracking sources (the +ct schemes; the contract
 * is docs/change-tracking.md). The cursor is the last synchronised version,
 * kept in the destination's state table under cli_ct.state_name. */
typedef struct cli_ct {
    /* set by cli_ct_prepare */
    sink_strategy strategy;       /* merge (cdc), or replace for --full-refresh / resnapshot */
    bool cdc;                     /* sink_table.cdc */
    bool snapshot;                /* this run reads the whole table */
    bool snap_iso;                /* SNAPSHOT isolation allowed (else SERIALIZABLE) */
    bool have_cursor;
    uint64_t cursor;
    char state_name[1200];
    char *qname;                  /* [db].[schema].[table] */
    char *db;                     /* database of the table (its own USE) */
    char *select;                 /* the data SELECT (version bound added by cli_ct_read) */
    const cli_catalog *cat;
    /* set by cli_ct_read */
    uint64_t version;             /* CHANGE_TRACKING_CURRENT_VERSION() of the read */
    /* result adapter (ct_rows.c) */
    net_result_cb inner;
    void *inner_ud;
    size_t prefix;                /* leading columns that are not loaded (version, operation) */
    size_t nin, nout;
    tds_column *cols;
    tds_value *vals;
    bool *is_key;                 /* per selected table column: read from CHANGETABLE's key */
    size_t nsel;
    char *order;                  /* the changes read's ORDER BY */
    uint8_t lsn[64], del[1], op[4], now[16];
    size_t now_len;
    bool begun;
    int fail;
    char err[700];
} cli_ct;

/* The checks that need no connection: strategy (merge unless
 * --full-refresh), --sql-limit, --incremental-key and intervals, query
 * sources, excluded _cdc_* columns. Returns 0 or CLI_EXIT_USAGE. */
int cli_ct_check_flags(const cli_opts *o, const cli_source_name *n, char *err, size_t cap);
/* The server's checks (tracking on for the database and the table, a
 * primary key, no excluded key column), the cursor (state table, else
 * MAX(_cdc_lsn)), its validity, and the mode of this run. cat is the
 * table's catalog; dest_table the destination table's name. Returns 0,
 * CLI_EXIT_USAGE or CLI_EXIT_LOAD with a reason in err. */
int cli_ct_prepare(cli_ct *ct, net_client *cl, sink *sk, const cli_opts *o, const cli_source_name *n,
                   const cli_catalog *cat, const cli_colspec *specs, size_t nspecs, const char *dest_table,
                   char *err, size_t cap);
/* Reads in one transaction (SNAPSHOT, else SERIALIZABLE): the current
 * version, then the rows (snapshot or net changes up to that version), fed
 * to cb as the loaded result with _cdc_lsn, _cdc_deleted, _cdc_synced_at
 * and _cdc_op appended. Returns a NET_ code; on a Change Tracking problem
 * NET_E_SERVER with the reason in ne->message. */
int cli_ct_read(cli_ct *ct, net_client *cl, const net_result_cb *cb, void *ud, net_error *ne);
/* Records the new cursor in the load (between begin and commit). Returns
 * 0 or a sink_err. */
int cli_ct_save(cli_ct *ct, sink *sk);
void cli_ct_free(cli_ct *ct);
/* ct_rows.c: the result adapter's callbacks (ud: the cli_ct). */
extern const net_result_cb cli_ct_rows_cb;

/* ingest.c */
int cli_ingest(const cli_opts *o);

/* main.c: writes "tdspipe: <msg>" as one line to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* TDSPIPE_CLI_INT_H */
