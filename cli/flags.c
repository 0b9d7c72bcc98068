/*
 * flags.c — the flags of `tdspipe ingest` (ingestr's set, see
 * ../shared/spec/ingestr-compat.md) from argv and from the environment.
 *
 * Owns: the flag table, `--flag value` and `--flag=value`, repeatable
 * flags (also comma-separated), environment forms X and INGESTR_X (X
 * first, as ingestr's click does; the command line wins over both), value
 * checks. Every bad usage is one line in err and CLI_EXIT_USAGE.
 * Invariant: error messages never quote a URI (it may hold a password).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_int.h"
#include "pipe_int.h" /* pipe_colspec_parse: --columns checked as it is read */
#include "transform_int.h" /* pipe_mask_parse: --mask too */
#include "par_int.h" /* par_interval_parse: --extract-partition-interval too */

typedef enum flag_kind { F_STR, F_LIST, F_BOOL } flag_kind;

/* What tdspipe does with one of ingestr's flags (docs/cli.md lists them). */
typedef enum flag_status {
    S_DONE = 0, /* implemented with ingestr's meaning */
    S_REFUSED,  /* given (true, non-empty): exit 2 with the reason */
    S_NOOP,     /* ingestr v1 itself ignores it: accepted, one warning line */
} flag_status;

typedef enum flag_id {
    FL_SOURCE_URI, FL_DEST_URI, FL_SOURCE_TABLE, FL_DEST_TABLE, FL_STRATEGY,
    FL_INCR_KEY, FL_INTERVAL_START, FL_INTERVAL_END, FL_PRIMARY_KEY, FL_FULL_REFRESH,
    FL_SQL_LIMIT, FL_SQL_EXCLUDE, FL_COLUMNS, FL_PAGE_SIZE, FL_PARALLELISM, FL_SPLIT_ROWS,
    FL_SLICE_INDEX, FL_SLICE_COUNT, FL_RUN_ID, FL_FINALIZE,
    FL_PROGRESS, FL_SCHEMA_NAMING, FL_NO_LOAD_TS, FL_YES, FL_QUERY_TIMEOUT, FL_RETRIES,
    FL_CT_EXPIRED, FL_CDC_EXPIRED, FL_HELP,
    FL_SCHEMA_CONTRACT, FL_TRIM, FL_MASK, FL_INCR_PREDICATE,
    /* refused or no-ops: the reason is in the table */
    FL_PARTITION_BY, FL_CLUSTER_BY, FL_LOADER_FILE_SIZE, FL_LOADER_FILE_FORMAT,
    FL_EXTRACT_PARTITION_BY, FL_EXTRACT_PARTITION_INTERVAL, FL_DISABLE_PRESTAGING, FL_SQL_BACKEND,
    FL_NO_INFERENCE, FL_PIPELINES_DIR, FL_STAGING_BUCKET, FL_STAGING_DATASET, FL_DEBUG, FL_STREAM,
    FL_FLUSH_INTERVAL, FL_FLUSH_RECORDS, FL_METRICS_ADDR, FL_QUERY_ANNOTATIONS,
    FL__COUNT
} flag_id;

typedef struct flag_def {
    flag_id id;
    const char *name;     /* without "--" */
    const char *env;      /* X; INGESTR_X is derived; "INGESTR_…": that name
                             only (as ingestr reads it); NULL: none */
    flag_kind kind;
    const char *help;
    flag_status status;
    const char *why;      /* S_REFUSED / S_NOOP: the reason, for the one line */
} flag_def;

static const flag_def flags[] = {
    {FL_SOURCE_URI, "source-uri", "SOURCE_URI", F_STR, "source URI: mssql://user:password@host:1433/db?… (required)", S_DONE, NULL},
    {FL_DEST_URI, "dest-uri", "DESTINATION_URI", F_STR, "destination URI: duckdb:///x.duckdb, postgresql://…, sqlite:///x.db, csv://x.csv[.gz], jsonl://x.jsonl[.gz] (ndjson://) (required)", S_DONE, NULL},
    {FL_SOURCE_TABLE, "source-table", "SOURCE_TABLE", F_STR, "schema.table, [bracketed], db.schema.table, or query:SELECT … (required)", S_DONE, NULL},
    {FL_DEST_TABLE, "dest-table", "DESTINATION_TABLE", F_STR, "destination table (default: the source table)", S_DONE, NULL},
    {FL_STRATEGY, "incremental-strategy", "INCREMENTAL_STRATEGY", F_STR, "replace | append | merge | delete+insert (default replace)", S_DONE, NULL},
    {FL_INCR_KEY, "incremental-key", "INCREMENTAL_KEY", F_STR, "column for incremental loads", S_DONE, NULL},
    {FL_INTERVAL_START, "interval-start", "INTERVAL_START", F_STR, "lower bound (inclusive) of the incremental key: date, datetime, RFC 3339, number", S_DONE, NULL},
    {FL_INTERVAL_END, "interval-end", "INTERVAL_END", F_STR, "upper bound (exclusive) of the incremental key", S_DONE, NULL},
    {FL_PRIMARY_KEY, "primary-key", "PRIMARY_KEY", F_LIST, "merge key column (repeatable; default: the source table's key)", S_DONE, NULL},
    {FL_FULL_REFRESH, "full-refresh", "FULL_REFRESH", F_BOOL, "ignore incremental state and reload everything (as replace)", S_DONE, NULL},
    {FL_SQL_LIMIT, "sql-limit", "SQL_LIMIT", F_STR, "read at most N rows (TOP N)", S_DONE, NULL},
    {FL_SQL_EXCLUDE, "sql-exclude-columns", "SQL_EXCLUDE_COLUMNS", F_LIST, "columns not to load (repeatable)", S_DONE, NULL},
    {FL_COLUMNS, "columns", "COLUMNS", F_LIST, "name:type, name:type:source (rename), name::source; comma-separated or repeated. Types: bigint int smallint tinyint float double decimal(p,s) string text varchar(n) boolean date time timestamp timestamp_ntz json uuid binary, or SQL Server types", S_DONE, NULL},
    {FL_PAGE_SIZE, "page-size", "PAGE_SIZE", F_STR, "rows per batch handed to the destination (default 25000)", S_DONE, NULL},
    {FL_PARALLELISM, "extract-parallelism", "EXTRACT_PARALLELISM", F_STR, "connections reading a SQL Server table's windows at once (default 5; 1: one connection, no automatic split); docs/parallel.md", S_DONE, NULL},
    {FL_EXTRACT_PARTITION_BY, "extract-partition-by", "EXTRACT_PARTITION_BY", F_STR, "read a SQL Server table in windows of this integer, date or datetime column (bounds: --interval-start/--interval-end on it, else its MIN/MAX; NULLs in a window of their own)", S_DONE, NULL},
    {FL_EXTRACT_PARTITION_INTERVAL, "extract-partition-interval", "EXTRACT_PARTITION_INTERVAL", F_STR, "window width: auto (4 windows per connection), a whole-number step, or a duration such as 6h, 7d, 1w (default auto)", S_DONE, NULL},
    {FL_SLICE_INDEX, "partition-index", "PARTITION_INDEX", F_STR, "scale-out: this process's slice, 0..count-1 (default: JOB_COMPLETION_INDEX of a Kubernetes Indexed Job); docs/scale-out.md", S_DONE, NULL},
    {FL_SLICE_COUNT, "partition-count", "PARTITION_COUNT", F_STR, "scale-out: the number of slices (processes) of the run", S_DONE, NULL},
    {FL_RUN_ID, "run-id", "RUN_ID", F_STR, "scale-out: the run's id, the same in every slice and at --finalize (letters, digits, . _ -)", S_DONE, NULL},
    {FL_FINALIZE, "finalize", "FINALIZE", F_STR, "scale-out: complete run RUN_ID once every slice committed (needs --dest-uri and --partition-count)", S_DONE, NULL},
    {FL_SPLIT_ROWS, "extract-split-rows", "EXTRACT_SPLIT_ROWS", F_STR, "without --extract-partition-by, a table of at least N rows whose clustered index starts with an integer or date column is read in windows of it (default 5000000; 0: never)", S_DONE, NULL},
    {FL_PROGRESS, "progress", "PROGRESS", F_STR, "interactive | log | json (default interactive), on stderr", S_DONE, NULL},
    {FL_SCHEMA_NAMING, "schema-naming", "SCHEMA_NAMING", F_STR, "auto | direct | snake_case (default auto = snake_case)", S_DONE, NULL},
    {FL_NO_LOAD_TS, "no-load-timestamp", "NO_LOAD_TIMESTAMP", F_BOOL, "do not add the _ingestr_loaded_at column", S_DONE, NULL},
    {FL_YES, "yes", "SKIP_CONFIRMATION", F_BOOL, "accepted (tdspipe never prompts); also -y", S_DONE, NULL},
    {FL_QUERY_TIMEOUT, "query-timeout", "QUERY_TIMEOUT", F_STR, "seconds without data from SQL Server before the query is cancelled (default: none; URI 'query timeout')", S_DONE, NULL},
    {FL_RETRIES, "retries", "RETRIES", F_STR, "extra attempts on transient faults (4060, 40197, 40501, 40613, 49918-49920, resets during login), with exponential backoff; never once rows were loaded (default 3)", S_DONE, NULL},
    {FL_CT_EXPIRED, "ct-expired", "CT_EXPIRED", F_STR, "Change Tracking sources whose cursor is older than the server keeps: fail (default) | resnapshot (reload the table from a fresh snapshot)", S_DONE, NULL},
    {FL_CDC_EXPIRED, "cdc-expired", "CDC_EXPIRED", F_STR, "Change Data Capture sources whose cursor is older than the capture instance keeps (cleanup ran): fail (default) | resnapshot (reload the table from a fresh snapshot)", S_DONE, NULL},
    {FL_HELP, "help", NULL, F_BOOL, "this help; also -h", S_DONE, NULL},
    {FL_SCHEMA_CONTRACT, "schema-contract", "SCHEMA_CONTRACT", F_STR, "evolve | freeze | discard_row | discard_value: what a load does when the source's columns differ from the destination table's (default evolve)", S_DONE, NULL},
    {FL_TRIM, "trim-whitespace", "TRIM_WHITESPACE", F_BOOL, "remove leading and trailing whitespace from every text value (NULLs stay NULL)", S_DONE, NULL},
    {FL_MASK, "mask", "MASK", F_LIST, "column:algorithm[:param], repeatable: hash|sha256, md5, hmac:KEY (hex digests), redact, stars, fixed[:VALUE], partial[:N]; the column is loaded as text", S_DONE, NULL},
    {FL_INCR_PREDICATE, "incremental-predicate", "INCREMENTAL_PREDICATE", F_STR, "merge only: SQL ANDed to the destination's join condition, ON target.key = source.key AND (V); aliases target (the table) and source (the latest staged row per key); trusted, passed as is", S_DONE, NULL},
    {FL_PARTITION_BY, "partition-by", "PARTITION_BY", F_STR, "not supported", S_REFUSED,
     "not supported: table partitioning exists in ingestr's cloud warehouses only, none of tdspipe's destinations"},
    {FL_CLUSTER_BY, "cluster-by", "CLUSTER_BY", F_STR, "not supported", S_REFUSED,
     "not supported: clustering exists in ingestr's cloud warehouses only, none of tdspipe's destinations"},
    {FL_LOADER_FILE_SIZE, "loader-file-size", "LOADER_FILE_SIZE", F_STR, "not supported", S_REFUSED,
     "not supported: tdspipe writes straight to the destination, with no load files to split (use --page-size for the batch size)"},
    {FL_LOADER_FILE_FORMAT, "loader-file-format", "LOADER_FILE_FORMAT", F_STR, "not supported", S_REFUSED,
     "not supported: tdspipe writes straight to the destination, with no load files (choose a file destination by its URI: csv://, jsonl://)"},
    {FL_DISABLE_PRESTAGING, "disable-prestaging", "INGESTR_DISABLE_PRESTAGING", F_BOOL, "not supported", S_REFUSED,
     "not supported: tdspipe has no load-file staging to disable"},
    {FL_SQL_BACKEND, "sql-backend", "SQL_BACKEND", F_LIST, "accepted, no effect (as in ingestr v1)", S_NOOP,
     "has no effect (ingestr v1 accepts and ignores it too)"},
    {FL_NO_INFERENCE, "no-inference", "NO_INFERENCE", F_BOOL, "not supported", S_REFUSED,
     "not supported yet: file sources always infer their types (declare columns with --columns name:type)"},
    {FL_PIPELINES_DIR, "pipelines-dir", "PIPELINES_DIR", F_STR, "accepted, no effect (as in ingestr v1)", S_NOOP,
     "has no effect (ingestr v1 accepts and ignores it too; tdspipe keeps its state in the destination)"},
    {FL_STAGING_BUCKET, "staging-bucket", "STAGING_BUCKET", F_STR, "not supported", S_REFUSED,
     "not supported: a gs:// or s3:// staging bucket serves ingestr's cloud warehouses only"},
    {FL_STAGING_DATASET, "staging-dataset", "STAGING_DATASET", F_STR, "not supported", S_REFUSED,
     "not supported yet: tdspipe stages in the destination table's own schema"},
    {FL_DEBUG, "debug", "DEBUG", F_BOOL, "not supported", S_REFUSED,
     "not supported yet: tdspipe has no debug log (use --progress log)"},
    {FL_STREAM, "stream", "INGESTR_STREAM", F_BOOL, "keep polling a +ct/+cdc source and commit its changes as they come (until SIGINT/SIGTERM: the batch in flight is committed, exit 0)", S_DONE, NULL},
    {FL_FLUSH_INTERVAL, "flush-interval", "INGESTR_FLUSH_INTERVAL", F_STR, "--stream: longest a read change waits for its commit, a duration (500ms, 30s, 1m; default 30s)", S_DONE, NULL},
    {FL_FLUSH_RECORDS, "flush-records", "INGESTR_FLUSH_RECORDS", F_STR, "--stream: a poll that commits this many rows polls again at once (default 50000)", S_DONE, NULL},
    {FL_METRICS_ADDR, "metrics-addr", "INGESTR_METRICS_ADDR", F_STR, "--stream: serve Prometheus text at http://HOST:PORT/metrics (numeric HOST or localhost)", S_DONE, NULL},
    {FL_QUERY_ANNOTATIONS, "query-annotations", "INGESTR_QUERY_ANNOTATIONS", F_STR, "not supported", S_REFUSED,
     "not supported: tdspipe does not annotate destination queries"},
};

#define NFLAGS (sizeof flags / sizeof flags[0])

int cli_list_add(cli_list *l, const char *s, size_t len)
{
    return pipe_list_add(l, s, len);
}

int cli_list_add_csv(cli_list *l, const char *s)
{
    /* split on commas outside parentheses: decimal(10,2) stays whole */
    while (*s) {
        const char *e = s;
        int depth = 0;
        for (; *e && (*e != ',' || depth > 0); e++)
            depth += *e == '(' ? 1 : *e == ')' ? -1 : 0;
        const char *a = s, *b = e;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a && cli_list_add(l, a, (size_t)(b - a)))
            return -1;
        if (!*e)
            break;
        s = e + 1;
    }
    return 0;
}

void cli_list_free(cli_list *l)
{
    pipe_list_free(l);
}

void cli_opts_free(cli_opts *o)
{
    if (!o)
        return;
    char **secrets[] = {&o->source_uri, &o->dest_uri};
    for (size_t i = 0; i < 2; i++)
        if (*secrets[i]) {
            net_wipe(*secrets[i], strlen(*secrets[i]));
            free(*secrets[i]);
        }
    free(o->source_table);
    free(o->dest_table);
    free(o->incremental_key);
    free(o->interval_start);
    free(o->interval_end);
    free(o->incremental_predicate);
    free(o->metrics_addr);
    free(o->extract_partition_by);
    free(o->extract_partition_interval);
    free(o->run_id);
    free(o->finalize);
    cli_list_free(&o->primary_keys);
    cli_list_free(&o->exclude);
    cli_list_free(&o->columns);
    for (size_t i = 0; i < o->masks.n; i++) /* an hmac key is a secret */
        net_wipe(o->masks.v[i], strlen(o->masks.v[i]));
    cli_list_free(&o->masks);
    cli_list_free(&o->notes);
    memset(o, 0, sizeof *o);
}

static int usage(char *err, size_t cap, const char *fmt, const char *a, const char *b)
{
    snprintf(err, cap, fmt, a, b);
    return CLI_EXIT_USAGE;
}

static int parse_count(const char *v, int64_t min, int64_t max, int64_t *out)
{
    if (!v || !*v)
        return -1;
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    long long x = strtoll(v, NULL, 10);
    if (errno || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

static int set_str(char **field, const char *v)
{
    char *c = strdup(v);
    if (!c)
        return -1;
    if (*field) {
        net_wipe(*field, strlen(*field));
        free(*field);
    }
    *field = c;
    return 0;
}

#define OOM(err, cap) usage(err, cap, "out of memory%s%s", "", "")

/* Text flags: names, URIs, bounds. */
static int apply_str(cli_opts *o, const flag_def *f, const char *v, const char *from, char *err, size_t cap)
{
    char **field = NULL;
    const char *empty = "%s: empty value%s";
    switch (f->id) {
    case FL_SOURCE_URI: field = &o->source_uri; empty = NULL; break;
    case FL_DEST_URI: field = &o->dest_uri; empty = NULL; break;
    case FL_SOURCE_TABLE: field = &o->source_table; empty = "%s: empty table name%s"; break;
    case FL_DEST_TABLE: field = &o->dest_table; empty = "%s: empty table name%s"; break;
    case FL_INCR_KEY: field = &o->incremental_key; empty = "%s: empty column name%s"; break;
    case FL_INTERVAL_START: field = &o->interval_start; break;
    case FL_INCR_PREDICATE: field = &o->incremental_predicate; empty = NULL; break; /* "": none */
    case FL_METRICS_ADDR: field = &o->metrics_addr; empty = "%s: expected HOST:PORT%s"; break;
    case FL_EXTRACT_PARTITION_BY: field = &o->extract_partition_by; empty = "%s: empty column name%s"; break;
    case FL_RUN_ID: field = &o->run_id; empty = "%s: empty run id%s"; break;
    case FL_FINALIZE: field = &o->finalize; empty = "%s: expected the run id%s"; break;
    case FL_EXTRACT_PARTITION_INTERVAL: {
        par_interval iv;
        char why[300];
        if (par_interval_parse(v, &iv, why, sizeof why))
            return usage(err, cap, "%s%s", why, "");
        field = &o->extract_partition_interval;
        break;
    }
    default: field = &o->interval_end; break;
    }
    if (empty && !*v)
        return usage(err, cap, empty, from, "");
    return set_str(field, v) ? OOM(err, cap) : 0;
}

/* Repeatable flags, also comma-separated; --columns entries are checked
 * as they are read. */
static int apply_list(cli_opts *o, const flag_def *f, const char *v, const char *from, char *err, size_t cap)
{
    cli_list *l = f->id == FL_PRIMARY_KEY ? &o->primary_keys : f->id == FL_SQL_EXCLUDE ? &o->exclude
                : f->id == FL_MASK ? &o->masks : &o->columns;
    size_t before = l->n;
    if (cli_list_add_csv(l, v))
        return OOM(err, cap);
    if (l->n == before)
        return usage(err, cap, "%s: empty value%s", from, "");
    for (size_t i = before; f->id == FL_COLUMNS && i < l->n; i++) {
        pipe_colspec cs;
        char why[200];
        if (pipe_colspec_parse(l->v[i], &cs, why, sizeof why))
            return usage(err, cap, "%s: %s", from, why);
    }
    for (size_t i = before; f->id == FL_MASK && i < l->n; i++) {
        pipe_mask m;
        char why[300];
        int bad = pipe_mask_parse(l->v[i], &m, why, sizeof why);
        pipe_mask_free(&m);
        if (bad)
            return usage(err, cap, "%s: %s", from, why);
    }
    return 0;
}

static int apply_bool(cli_opts *o, const flag_def *f, const char *v, const char *from, char *err, size_t cap)
{
    int b = net_parse_bool(v);
    if (b < 0)
        return usage(err, cap, "%s: expected true or false, got '%s'", from, v);
    bool *field = f->id == FL_FULL_REFRESH ? &o->full_refresh : f->id == FL_NO_LOAD_TS ? &o->no_load_timestamp
                : f->id == FL_YES ? &o->yes : f->id == FL_TRIM ? &o->trim_whitespace
                : f->id == FL_STREAM ? &o->stream : &o->help;
    *field = b;
    return 0;
}

/* A Go duration as ingestr takes it ("500ms", "30s", "1m30s"; a bare
 * number is seconds), from 1 ms to 24 h. 0 or -1. */
static int parse_duration_ms(const char *v, int64_t *out)
{
    char *end;
    double total = 0;
    if (!*v)
        return -1;
    while (*v) {
        if (!isdigit((unsigned char)*v) && *v != '.')
            return -1;
        double n = strtod(v, &end);
        if (end == v)
            return -1;
        v = end;
        double unit = 1000; /* bare: seconds */
        if (!strncmp(v, "ms", 2)) unit = 1, v += 2;
        else if (!strncmp(v, "us", 2)) unit = 0.001, v += 2;
        else if (!strncmp(v, "ns", 2)) unit = 0.000001, v += 2;
        else if (*v == 's') unit = 1000, v++;
        else if (*v == 'm') unit = 60000, v++;
        else if (*v == 'h') unit = 3600000, v++;
        else if (*v) return -1;
        total += n * unit;
    }
    if (total < 1 || total > 86400000)
        return -1;
    *out = (int64_t)total;
    return 0;
}

/* Whole numbers within each flag's range. */
static int apply_count(cli_opts *o, const flag_def *f, const char *v, const char *from, char *err, size_t cap)
{
    int64_t x;
    switch (f->id) {
    case FL_SQL_LIMIT:
        if (parse_count(v, 1, INT64_MAX, &x))
            return usage(err, cap, "%s: expected a positive whole number, got '%s'", from, v);
        o->sql_limit = x;
        return 0;
    case FL_PAGE_SIZE:
        if (parse_count(v, 1, 100000000, &x))
            return usage(err, cap, "%s: expected a whole number from 1 to 100000000, got '%s'", from, v);
        o->page_size = (size_t)x;
        return 0;
    case FL_QUERY_TIMEOUT:
        if (parse_count(v, 1, 86400 * 7, &x))
            return usage(err, cap, "%s: expected seconds from 1 to 604800, got '%s'", from, v);
        o->query_timeout_s = x;
        return 0;
    case FL_RETRIES:
        if (parse_count(v, 0, 100, &x))
            return usage(err, cap, "%s: expected a whole number from 0 to 100, got '%s'", from, v);
        o->retries = (int)x;
        return 0;
    case FL_FLUSH_RECORDS:
        if (parse_count(v, 1, 1000000000, &x))
            return usage(err, cap, "%s: expected a whole number from 1 to 1000000000, got '%s'", from, v);
        o->flush_records = (uint64_t)x;
        return 0;
    case FL_FLUSH_INTERVAL:
        if (parse_duration_ms(v, &x))
            return usage(err, cap, "%s: expected a duration such as 500ms, 30s or 1m, got '%s'", from, v);
        o->flush_interval_ms = (uint32_t)x;
        return 0;
    case FL_SLICE_INDEX:
    case FL_SLICE_COUNT:
        if (parse_count(v, f->id == FL_SLICE_INDEX ? 0 : 1, 100000, &x))
            return usage(err, cap, "%s: expected a whole number up to 100000, got '%s'", from, v);
        *(f->id == FL_SLICE_INDEX ? &o->slice_index : &o->slice_count) = (unsigned)x;
        if (f->id == FL_SLICE_INDEX)
            o->slice_index_given = true;
        return 0;
    case FL_SPLIT_ROWS:
        if (parse_count(v, 0, INT64_MAX, &x))
            return usage(err, cap, "%s: expected a whole number of rows (0: never), got '%s'", from, v);
        o->extract_split_rows = x ? x : -1;
        return 0;
    default: /* FL_PARALLELISM */
        if (parse_count(v, 1, 1024, &x))
            return usage(err, cap, "%s: expected a whole number from 1 to 1024, got '%s'", from, v);
        o->parallelism = (unsigned)x;
        return 0;
    }
}

/* One of a flag's words. */
static int apply_choice(cli_opts *o, const flag_def *f, const char *v, const char *from, char *err, size_t cap)
{
    switch (f->id) {
    case FL_STRATEGY:
        if (!strcmp(v, "scd2"))
            return usage(err, cap, "%s: strategy 'scd2' is not supported yet%s", from, "");
        if (sink_strategy_parse(v, &o->strategy))
            return usage(err, cap, "%s: unknown strategy '%s' (use replace, append, merge or delete+insert)", from, v);
        o->strategy_given = true;
        return 0;
    case FL_PROGRESS:
        if (!strcmp(v, "interactive"))
            o->progress = CLI_PROGRESS_INTERACTIVE;
        else if (!strcmp(v, "log"))
            o->progress = CLI_PROGRESS_LOG;
        else if (!strcmp(v, "json"))
            o->progress = CLI_PROGRESS_JSON;
        else
            return usage(err, cap, "%s: unknown progress mode '%s' (use interactive, log or json)", from, v);
        return 0;
    case FL_SCHEMA_CONTRACT: {
        static const char *const modes[] = {"evolve", "freeze", "discard_row", "discard_value"};
        for (int m = 0; m < 4; m++)
            if (!strcmp(v, modes[m])) {
                o->schema_contract = (tdspipe_contract)m; /* the enum's order */
                return 0;
            }
        return usage(err, cap, "%s: unknown schema contract '%s' (use evolve, freeze, discard_row or discard_value)",
                     from, v);
    }
    case FL_CT_EXPIRED:
    case FL_CDC_EXPIRED:
        if (strcmp(v, "fail") && strcmp(v, "resnapshot"))
            return usage(err, cap, "%s: expected fail or resnapshot, got '%s'", from, v);
        *(f->id == FL_CT_EXPIRED ? &o->ct_resnapshot : &o->cdc_resnapshot) = !strcmp(v, "resnapshot");
        return 0;
    default: /* FL_SCHEMA_NAMING */
        if (!strcmp(v, "auto") || !strcmp(v, "default"))
            o->naming = CLI_NAMING_AUTO;
        else if (!strcmp(v, "direct"))
            o->naming = CLI_NAMING_DIRECT;
        else if (!strcmp(v, "snake_case"))
            o->naming = CLI_NAMING_SNAKE;
        else
            return usage(err, cap, "%s: unknown naming '%s' (use auto, direct or snake_case)", from, v);
        return 0;
    }
}

/* ingestr's flags tdspipe does not implement: a value that asks for
 * nothing (false, empty) is accepted; anything else is refused with the
 * reason, or (what ingestr v1 itself ignores) noted for stderr. */
static int apply_other(cli_opts *o, const flag_def *f, const char *v, const char *from, char *err, size_t cap)
{
    if (f->kind == F_BOOL) {
        int b = net_parse_bool(v);
        if (b < 0)
            return usage(err, cap, "%s: expected true or false, got '%s'", from, v);
        if (!b)
            return 0;
    } else if (!*v) {
        return 0;
    }
    char line[400];
    bool env = strncmp(from, "--", 2) != 0;
    snprintf(line, sizeof line, "%s%s%s%s: %s", from, env ? " (--" : "", env ? f->name : "", env ? ")" : "", f->why);
    if (f->status == S_REFUSED)
        return usage(err, cap, "%s%s", line, "");
    for (size_t i = 0; i < o->notes.n; i++)
        if (!strcmp(o->notes.v[i], line))
            return 0;
    return cli_list_add(&o->notes, line, strlen(line)) ? OOM(err, cap) : 0;
}

/* Is the source a Change Tracking / Change Data Capture one (mssql+ct://,
 * …+cdc://)? Only the scheme is read, never the rest of the URI. */
static bool change_source(const char *uri)
{
    const char *end = strstr(uri, "://"), *plus = end ? memchr(uri, '+', (size_t)(end - uri)) : NULL;
    if (!plus)
        return false;
    size_t n = (size_t)(end - plus);
    return (n == 3 && !strncasecmp(plus, "+ct", 3)) || (n == 4 && !strncasecmp(plus, "+cdc", 4));
}

/* --incremental-predicate goes into the destination's merge join
 * condition: as in ingestr, merge only and never with --full-refresh;
 * a +ct/+cdc source's merge is its own (versions decide, not a join). */
static int check_predicate(const cli_opts *o, char *err, size_t cap)
{
    if (!o->incremental_predicate || !*o->incremental_predicate)
        return 0;
    if (o->strategy != SINK_MERGE && !change_source(o->source_uri))
        return usage(err, cap, "--incremental-predicate needs --incremental-strategy merge%s%s", "", "");
    if (o->full_refresh)
        return usage(err, cap, "--incremental-predicate cannot be combined with --full-refresh%s%s", "", "");
    if (change_source(o->source_uri))
        return usage(err, cap, "--incremental-predicate is not supported with a +ct/+cdc source%s%s", "", "");
    return 0;
}

/* Applies one value; from names the flag or variable (for messages). */
static int apply(cli_opts *o, const flag_def *f, const char *v, const char *from, char *err, size_t cap)
{
    if (f->status != S_DONE)
        return apply_other(o, f, v, from, err, cap);
    switch (f->id) {
    case FL_SOURCE_URI:
    case FL_DEST_URI:
    case FL_SOURCE_TABLE:
    case FL_DEST_TABLE:
    case FL_INCR_KEY:
    case FL_INTERVAL_START:
    case FL_INTERVAL_END:
    case FL_INCR_PREDICATE:
    case FL_METRICS_ADDR:
    case FL_EXTRACT_PARTITION_BY:
    case FL_EXTRACT_PARTITION_INTERVAL:
    case FL_RUN_ID:
    case FL_FINALIZE:
        return apply_str(o, f, v, from, err, cap);
    case FL_PRIMARY_KEY:
    case FL_SQL_EXCLUDE:
    case FL_COLUMNS:
    case FL_MASK:
        return apply_list(o, f, v, from, err, cap);
    case FL_FULL_REFRESH:
    case FL_NO_LOAD_TS:
    case FL_YES:
    case FL_HELP:
    case FL_TRIM:
    case FL_STREAM:
        return apply_bool(o, f, v, from, err, cap);
    case FL_SQL_LIMIT:
    case FL_PAGE_SIZE:
    case FL_QUERY_TIMEOUT:
    case FL_RETRIES:
    case FL_PARALLELISM:
    case FL_SPLIT_ROWS:
    case FL_SLICE_INDEX:
    case FL_SLICE_COUNT:
    case FL_FLUSH_RECORDS:
    case FL_FLUSH_INTERVAL:
        return apply_count(o, f, v, from, err, cap);
    case FL_STRATEGY:
    case FL_PROGRESS:
    case FL_CT_EXPIRED:
    case FL_CDC_EXPIRED:
    case FL_SCHEMA_NAMING:
    case FL_SCHEMA_CONTRACT:
        return apply_choice(o, f, v, from, err, cap);
    default: /* the others are not S_DONE */
        break;
    }
    return usage(err, cap, "internal error%s%s", "", "");
}

static const flag_def *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (strlen(flags[i].name) == len && !strncmp(flags[i].name, name, len))
            return &flags[i];
    return NULL;
}

/* The environment value for f: X first, then INGESTR_X. */
static const char *env_value(const flag_def *f, const char **name_out)
{
    static char names[FL__COUNT][2][48];
    if (!f->env)
        return NULL;
    /* an env already spelled INGESTR_X is read under that name only */
    bool only = !strncmp(f->env, "INGESTR_", 8);
    snprintf(names[f->id][0], sizeof names[0][0], "%s", f->env);
    snprintf(names[f->id][1], sizeof names[0][1], "INGESTR_%s", f->env);
    for (int k = 0; k < (only ? 1 : 2); k++) {
        const char *v = getenv(names[f->id][k]);
        if (!v)
            continue;
        /* --columns is INGESTR_COLUMNS only, as in ingestr: a shell's
         * COLUMNS is the terminal width. */
        if (f->id == FL_COLUMNS && k == 0)
            continue;
        *name_out = names[f->id][k];
        return v;
    }
    return NULL;
}

/* The environment for what the command line did not set. */
static int apply_env(cli_opts *o, const bool *seen, char *err, size_t errcap)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        const flag_def *f = &flags[i];
        if (seen[f->id])
            continue;
        const char *ename = NULL;
        const char *v = env_value(f, &ename);
        if (!v && (f->id == FL_DEST_URI || f->id == FL_DEST_TABLE)) {
            /* DEST_URI / INGESTR_DEST_URI are accepted too */
            static const char *const alt[2][2] = {{"DEST_URI", "INGESTR_DEST_URI"}, {"DEST_TABLE", "INGESTR_DEST_TABLE"}};
            int k = f->id == FL_DEST_URI ? 0 : 1;
            for (int j = 0; j < 2 && !v; j++)
                if ((v = getenv(alt[k][j])))
                    ename = alt[k][j];
        }
        if (!v)
            continue;
        char from[96];
        snprintf(from, sizeof from, "environment variable %s", ename);
        int rc = apply(o, f, v, from, err, errcap);
        if (rc)
            return rc;
    }
    return 0;
}

int cli_flags_parse(cli_opts *o, int argc, char **argv, int first, char *err, size_t errcap)
{
    bool seen[FL__COUNT] = {false};
    memset(o, 0, sizeof *o);
    o->sql_limit = -1;
    o->page_size = 25000;
    o->query_timeout_s = -1;
    o->retries = -1;
    o->parallelism = 5;
    err[0] = '\0';

    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h")) {
            o->help = true;
            continue;
        }
        if (!strcmp(a, "-y")) {
            o->yes = true;
            continue;
        }
        if (strncmp(a, "--", 2) || !a[2]) {
            /* never echo an argument that may be a URI */
            if (strstr(a, "://") || strchr(a, '@'))
                snprintf(err, errcap, "unexpected argument (flags start with --; see tdspipe ingest --help)");
            else
                snprintf(err, errcap, "unexpected argument '%.100s' (flags start with --; see tdspipe ingest --help)", a);
            return CLI_EXIT_USAGE;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const flag_def *f = find_flag(name, nlen);
        if (!f) {
            snprintf(err, errcap, "unknown flag '--%.*s' (see tdspipe ingest --help)", (int)(nlen > 60 ? 60 : nlen), name);
            return CLI_EXIT_USAGE;
        }
        char from[64];
        snprintf(from, sizeof from, "--%s", f->name);
        const char *v;
        if (f->kind == F_BOOL) {
            v = eq ? eq + 1 : "true";
        } else if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc)
                return usage(err, errcap, "%s needs a value%s", from, "");
            v = argv[++i];
        }
        if (f->kind == F_STR && seen[f->id] && f->id != FL_HELP)
            return usage(err, errcap, "%s given twice%s", from, "");
        seen[f->id] = true;
        int rc = apply(o, f, v, from, err, errcap);
        if (rc)
            return rc;
    }
    if (o->help)
        return 0;
    int rc = apply_env(o, seen, err, errcap);
    if (rc)
        return rc;
    const char *job_index = getenv("JOB_COMPLETION_INDEX"); /* a Kubernetes Indexed Job's pod */
    if (!o->slice_index_given && o->slice_count > 1 && job_index) {
        int64_t x;
        if (parse_count(job_index, 0, 100000, &x))
            return usage(err, errcap, "environment variable JOB_COMPLETION_INDEX: expected a whole number, got '%s'%s", job_index, "");
        o->slice_index = (unsigned)x;
    }
    if (o->finalize) /* completing a run reads no source */
        return o->dest_uri ? 0 : usage(err, errcap, "--dest-uri is required%s%s", "", "");
    if (!o->source_uri)
        return usage(err, errcap, "--source-uri is required%s%s", "", "");
    if (!o->dest_uri)
        return usage(err, errcap, "--dest-uri is required%s%s", "", "");
    if (!o->source_table)
        return usage(err, errcap, "--source-table is required%s%s", "", "");
    if ((o->interval_start || o->interval_end) && !o->incremental_key && !(o->source_table && !strncmp(o->source_table, "query:", 6)))
        return usage(err, errcap, "--interval-start/--interval-end need --incremental-key%s%s", "", "");
    if (o->strategy == SINK_DELETE_INSERT && !o->incremental_key && !o->full_refresh)
        return usage(err, errcap, "delete+insert needs --incremental-key%s%s", "", "");
    return check_predicate(o, err, errcap);
}

void cli_flags_help(FILE *f)
{
    fprintf(f, "usage: tdspipe ingest --source-uri URI --source-table NAME --dest-uri URI [flags]\n\n"
               "Copies a SQL Server table or query into a destination (ingestr-compatible).\n\nflags:\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        char left[64];
        if (flags[i].status != S_DONE)
            continue;
        snprintf(left, sizeof left, "--%s%s", flags[i].name, flags[i].kind == F_BOOL ? "" : " V");
        fprintf(f, "  %-28s %s\n", left, flags[i].help);
    }
    for (int st = S_NOOP; st >= S_REFUSED; st--) {
        fprintf(f, st == S_NOOP ? "\ningestr flags accepted with no effect (ingestr v1 ignores them too):\n "
                                : "\ningestr flags tdspipe refuses (exit 2, the reason on one line; see docs/cli.md):\n ");
        for (size_t i = 0, col = 1; i < NFLAGS; i++)
            if (flags[i].status == (flag_status)st) {
                size_t w = strlen(flags[i].name) + 3;
                if (col + w > 78) {
                    fprintf(f, "\n ");
                    col = 1;
                }
                fprintf(f, " --%s", flags[i].name);
                col += w;
            }
        fputc('\n', f);
    }
    fprintf(f, "\nEach flag can also come from the environment as X or INGESTR_X (e.g. SOURCE_URI,\n"
               "INGESTR_SOURCE_URI, DESTINATION_URI, INCREMENTAL_STRATEGY); the command line wins.\n"
               "Exit status: 0 loaded, 1 the load failed (destination unchanged), 2 bad usage.\n");
}
