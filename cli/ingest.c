/*
 * ingest.c — one `tdspipe ingest` run, in this order: check everything that
 * needs no connection (URIs, names, --columns); connect to SQL Server and
 * read the catalog (a missing table fails before the destination is
 * touched); open the destination and read its incremental cursor; send
 * the SELECT (select.c); begin the sink at the first COLMETADATA and stream
 * rows into it in --page-size batches; commit.
 *
 * Strategies go to the sink as they are (sink/sink.h: replace swaps a
 * staging table in at commit, merge upserts on the key, delete+insert
 * deletes the key window). The incremental cursor is the destination's own
 * MAX(key), read before the load and moved only by the load's commit, so it
 * never passes uncommitted data. Any failure aborts the sink: the
 * destination stays exactly as it was (a database file this run created is
 * removed), and the exit code is 1 (2 for a usage problem found only once
 * the catalog or the result's columns are known).
 *
 * Change Tracking sources (+ct schemes) swap the SELECT and the cursor for
 * ct.c's: cli_ct_prepare after the destination opens, cli_ct_read instead
 * of the batch (rows through ct_rows.c's adapter), cli_ct_save before the
 * commit.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"

#define LOADED_AT "_ingestr_loaded_at"

typedef struct load {
    const cli_opts *o;
    cli_naming naming;
    sink *sk;
    sink_rows *rows;
    cli_progress *prog;
    const cli_catalog *cat;     /* NULL for query sources */
    cli_colspec *specs;
    size_t nspecs;
    const char *dest_table;
    sink_strategy strategy;
    bool ct, cdc;               /* Change Tracking source; its merge (sink_table.cdc) */
    /* schema of the load, built at the first COLMETADATA */
    bool begun, second_result;
    size_t nsrc;                /* columns in the result */
    size_t *map;                /* kept result column per output column */
    bool *keep;                 /* per result column: loaded */
    size_t nkept;
    tds_column *cols;           /* nkept (+1 for the load timestamp) */
    char **names;
    size_t ncols;
    tds_value *rowbuf;
    tds_value loaded_at;
    uint8_t loaded_at_bytes[16];
    const char *lo_text, *hi_text; /* delete+insert window (interval flags) */
    tds_value win[2];
    uint8_t win_bytes[2][64];
    /* limits and outcome */
    int64_t limit;
    uint64_t seen;
    bool limit_hit;
    int fail;                   /* exit code once failed */
    char err[700];
} load;

static void failf(load *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void failf(load *l, int code, const char *fmt, ...)
{
    if (l->fail)
        return;
    l->fail = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->err, sizeof l->err, fmt, ap);
    va_end(ap);
}

static bool same_name(const char *a, const char *b) { return !strcasecmp(a, b); }

static bool excluded(const load *l, const char *name)
{
    for (size_t i = 0; i < l->o->exclude.n; i++)
        if (same_name(l->o->exclude.v[i], name))
            return true;
    return false;
}

/* Index of the output column for a user-given column name: by result
 * name, else through a --columns rename of that source column. -1 if none. */
static int out_index(const load *l, const char *name)
{
    for (size_t i = 0; i < l->nkept; i++)
        if (same_name(l->cols[i].name.ptr, name))
            return (int)i;
    for (size_t s = 0; s < l->nspecs; s++)
        if (same_name(l->specs[s].source, name))
            for (size_t i = 0; i < l->nkept; i++)
                if (same_name(l->cols[i].name.ptr, l->specs[s].name))
                    return (int)i;
    return -1;
}

/* The current time as a datetimeoffset(6) value in UTC. */
static int encode_now(load *l, tds_column *c)
{
    if (tds_column_init(c, TDS_T_DATETIMEOFFSETN, 0, 0, 6) != TDS_OK)
        return -1;
    c->flags &= (uint16_t)~TDS_COL_NULLABLE; /* as ingestr: timestamptz, microseconds, NOT NULL */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t secs = (int64_t)ts.tv_sec;
    int64_t day = secs / 86400, sod = secs % 86400;
    tds_datetime d;
    memset(&d, 0, sizeof d);
    d.days = (int32_t)(day + 719162); /* 0001-01-01 → 1970-01-01 */
    d.ticks = (uint64_t)sod * 10000000u + (uint64_t)(ts.tv_nsec / 1000) * 10u;
    d.offset_min = 0;
    d.scale = 6;
    d.kind = TDS_K_DATETIMEOFFSET;
    int n = tds_encode_datetime(c, &d, l->loaded_at_bytes, sizeof l->loaded_at_bytes);
    if (n < 0)
        return -1;
    l->loaded_at.ptr = l->loaded_at_bytes;
    l->loaded_at.len = (uint32_t)n;
    l->loaded_at.flags = 0;
    return 0;
}

/* A bound given as text into a value of the key column's type. */
static int encode_bound(const tds_column *c, const char *text, uint8_t *buf, size_t cap, tds_value *v)
{
    int n = -1;
    memset(v, 0, sizeof *v);
    switch (c->kind) {
    case TDS_K_TINYINT:
    case TDS_K_SMALLINT:
    case TDS_K_INT:
    case TDS_K_BIGINT: {
        char *end;
        long long x = strtoll(text, &end, 10);
        if (*end)
            return -1;
        n = tds_encode_int(c, x, buf, cap);
        break;
    }
    case TDS_K_REAL:
    case TDS_K_FLOAT: {
        char *end;
        double x = strtod(text, &end);
        if (*end)
            return -1;
        n = tds_encode_float(c, x, buf, cap);
        break;
    }
    case TDS_K_DECIMAL:
    case TDS_K_MONEY:
    case TDS_K_SMALLMONEY: {
        tds_decimal d;
        if (tds_decimal_parse(text, strlen(text), c->precision ? c->precision : 19, c->kind == TDS_K_DECIMAL ? c->scale : 4, &d))
            return -1;
        n = tds_encode_decimal(c, &d, buf, cap);
        break;
    }
    case TDS_K_DATE:
    case TDS_K_DATETIME:
    case TDS_K_SMALLDATETIME:
    case TDS_K_DATETIME2:
    case TDS_K_DATETIMEOFFSET: {
        char norm[64];
        bool ht, ho;
        bool dto = c->kind == TDS_K_DATETIMEOFFSET;
        if (cli_datetime_norm(text, !dto, norm, sizeof norm, &ht, &ho))
            return -1;
        if (c->kind == TDS_K_DATE)
            norm[10] = '\0';
        else if (!ht)
            strcat(norm, " 00:00:00.0000000");
        if (dto && !ho)
            strcat(norm, " +00:00");
        tds_datetime d;
        if (tds_datetime_parse(norm, strlen(norm), (tds_kind)c->kind, c->scale, &d))
            return -1;
        n = tds_encode_datetime(c, &d, buf, cap);
        break;
    }
    case TDS_K_CHAR:
    case TDS_K_NCHAR:
        n = tds_encode_text(c, text, strlen(text), buf, cap);
        break;
    default:
        return -1;
    }
    if (n < 0)
        return -1;
    v->ptr = buf;
    v->len = (uint32_t)n;
    return 0;
}

static int on_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    load *l = ud;
    if (l->begun) {
        l->second_result = true;
        return NET_ROW_NEXT; /* later result sets are read and dropped */
    }
    const cli_opts *o = l->o;
    l->nsrc = ncols;
    l->map = calloc(ncols + 1u, sizeof *l->map);
    l->keep = calloc(ncols + 1u, sizeof *l->keep);
    l->cols = calloc(ncols + 1u, sizeof *l->cols);
    l->names = calloc(ncols + 1u, sizeof *l->names);
    l->rowbuf = calloc(ncols + 1u, sizeof *l->rowbuf);
    if (!l->map || !l->keep || !l->cols || !l->names || !l->rowbuf) {
        failf(l, CLI_EXIT_LOAD, "out of memory");
        return NET_ROW_ABORT;
    }
    for (size_t i = 0; i < o->exclude.n; i++) {
        bool found = false;
        for (uint16_t c = 0; c < ncols; c++)
            found |= same_name(cols[c].name.ptr, o->exclude.v[i]);
        if (!found && !l->cat) {
            failf(l, CLI_EXIT_USAGE, "--sql-exclude-columns: the query has no column '%s'", o->exclude.v[i]);
            return NET_ROW_ABORT;
        }
    }
    for (uint16_t c = 0; c < ncols; c++) {
        if (excluded(l, cols[c].name.ptr))
            continue;
        l->keep[c] = true;
        if (!cols[c].name.len) {
            failf(l, CLI_EXIT_USAGE, "result column %u has no name (give it one with AS)", (unsigned)c + 1);
            return NET_ROW_ABORT;
        }
        l->map[l->nkept] = c;
        l->cols[l->nkept] = cols[c];
        /* snake_case would drop the leading '_' of the _cdc_ columns */
        bool cdc_col = l->ct && !strncmp(cols[c].name.ptr, "_cdc_", 5);
        l->names[l->nkept] = cdc_col ? strdup(cols[c].name.ptr) : cli_name_apply(l->naming, cols[c].name.ptr);
        if (!l->names[l->nkept]) {
            failf(l, CLI_EXIT_LOAD, "out of memory");
            return NET_ROW_ABORT;
        }
        l->nkept++;
    }
    if (!l->nkept) {
        failf(l, CLI_EXIT_USAGE, "no columns left to load");
        return NET_ROW_ABORT;
    }
    for (size_t i = 0; i < l->nkept; i++)
        for (size_t j = 0; j < i; j++)
            if (same_name(l->names[i], l->names[j])) {
                failf(l, CLI_EXIT_USAGE, "two columns are both named '%s' in the destination", l->names[i]);
                return NET_ROW_ABORT;
            }
    l->ncols = l->nkept;
    if (!o->no_load_timestamp) {
        if (encode_now(l, &l->cols[l->ncols])) {
            failf(l, CLI_EXIT_LOAD, "cannot encode the load timestamp");
            return NET_ROW_ABORT;
        }
        l->names[l->ncols] = strdup(LOADED_AT);
        if (!l->names[l->ncols]) {
            failf(l, CLI_EXIT_LOAD, "out of memory");
            return NET_ROW_ABORT;
        }
        l->rowbuf[l->ncols] = l->loaded_at;
        l->ncols++;
    }

    sink_table t;
    memset(&t, 0, sizeof t);
    t.name = l->dest_table;
    t.cols = l->cols;
    t.names = (const char *const *)l->names;
    t.ncols = l->ncols;
    t.strategy = l->strategy;
    t.cdc = l->cdc;
    t.incremental_key = -1;
    size_t pk[64];
    const cli_list *pkl = o->primary_keys.n ? &o->primary_keys : l->cat ? &l->cat->pk : NULL;
    if (pkl && pkl->n > 64) {
        failf(l, CLI_EXIT_USAGE, "too many primary key columns");
        return NET_ROW_ABORT;
    }
    for (size_t i = 0; pkl && i < pkl->n; i++) {
        int k = out_index(l, pkl->v[i]);
        if (k < 0 && (pkl == &o->primary_keys || l->strategy == SINK_MERGE)) {
            failf(l, CLI_EXIT_USAGE, "primary key column '%s' is not among the loaded columns", pkl->v[i]);
            return NET_ROW_ABORT;
        }
        if (k < 0) { /* the table's key was excluded: load without a key */
            t.npk = 0;
            break;
        }
        pk[t.npk++] = (size_t)k;
    }
    t.pk = t.npk ? pk : NULL;
    if (o->incremental_key) {
        int k = out_index(l, o->incremental_key);
        if (k < 0) {
            failf(l, CLI_EXIT_USAGE, "incremental key '%s' is not among the loaded columns", o->incremental_key);
            return NET_ROW_ABORT;
        }
        t.incremental_key = k;
        const char *bt[2] = {l->lo_text, l->hi_text};
        for (int b = 0; b < 2; b++) {
            if (!bt[b])
                continue;
            if (encode_bound(&l->cols[k], bt[b], l->win_bytes[b], sizeof l->win_bytes[b], &l->win[b])) {
                failf(l, CLI_EXIT_USAGE, "--interval-%s '%s' does not fit the incremental key's type",
                      b ? "end" : "start", bt[b]);
                return NET_ROW_ABORT;
            }
        }
        if (l->strategy == SINK_DELETE_INSERT) {
            t.window_lo = l->lo_text ? &l->win[0] : NULL;
            t.window_hi = l->hi_text ? &l->win[1] : NULL;
        }
    }
    int rc = sink_begin(l->sk, &t);
    if (rc) {
        failf(l, rc == SINK_E_UNSUPPORTED ? CLI_EXIT_USAGE : CLI_EXIT_LOAD, "%s", sink_errmsg(l->sk));
        return NET_ROW_ABORT;
    }
    l->rows = sink_rows_new(l->ncols);
    if (!l->rows) {
        failf(l, CLI_EXIT_LOAD, "out of memory");
        return NET_ROW_ABORT;
    }
    l->begun = true;
    return NET_ROW_NEXT;
}

static int flush(load *l)
{
    if (!l->rows || !sink_rows_count(l->rows))
        return 0;
    sink_batch b = sink_rows_batch(l->rows);
    int rc = sink_append(l->sk, &b);
    if (rc) {
        failf(l, CLI_EXIT_LOAD, "%s", sink_errmsg(l->sk));
        return -1;
    }
    sink_rows_reset(l->rows);
    return 0;
}

static int on_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    load *l = ud;
    (void)cols;
    if (l->second_result || !l->begun)
        return NET_ROW_NEXT;
    if (l->limit >= 0 && l->seen >= (uint64_t)l->limit) {
        l->limit_hit = true;
        return NET_ROW_ABORT;
    }
    if (ncols != l->nsrc) {
        failf(l, CLI_EXIT_LOAD, "row with %u columns in a result of %zu", (unsigned)ncols, l->nsrc);
        return NET_ROW_ABORT;
    }
    size_t bytes = 0; /* streamed (max) values: on_plp's chunks, counted there */
    for (size_t i = 0; i < l->nkept; i++) {
        l->rowbuf[i] = vals[l->map[i]];
        bytes += l->rowbuf[i].len;
    }
    int rc = sink_rows_add(l->rows, l->rowbuf);
    if (rc) {
        failf(l, CLI_EXIT_LOAD, "cannot buffer a row: %s", sink_strerror(rc));
        return NET_ROW_ABORT;
    }
    l->seen++;
    cli_progress_rows(l->prog, 1, bytes);
    if (sink_rows_count(l->rows) >= l->o->page_size && flush(l))
        return NET_ROW_ABORT;
    return NET_ROW_NEXT;
}

/* A chunk of a (max) value of the row being decoded (the engine sends a
 * value's chunks before the ROW event); len 0 ends the value. */
static int on_plp(void *ud, uint16_t col, const uint8_t *data, size_t len)
{
    load *l = ud;
    if (l->second_result || !l->begun || col >= l->nsrc || !l->keep[col] || !len)
        return NET_ROW_NEXT;
    for (size_t i = 0; i < l->nkept; i++) {
        if (l->map[i] != col)
            continue;
        int rc = sink_rows_chunk(l->rows, i, data, len); /* the row takes it */
        if (rc) {
            failf(l, CLI_EXIT_LOAD, rc == SINK_E_VALUE ? "a value of result column %u is over 4 GiB"
                                                        : "out of memory for a (max) value of result column %u",
                  (unsigned)col + 1);
            return NET_ROW_ABORT;
        }
    }
    cli_progress_rows(l->prog, 0, len);
    return NET_ROW_NEXT;
}

static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

/* sqlite:// and duckdb:// open (and so create) their file at sink_open. A
 * failed run must leave no trace: the path of a database file that does not
 * exist yet (the sinks' SQLAlchemy rule: "///rel", "////abs", "//rel"), or
 * NULL. */
static char *dest_new_file(const char *uri)
{
    const char *sep = strstr(uri, "://");
    if (!sep || (strncasecmp(uri, "sqlite://", 9) && strncasecmp(uri, "duckdb://", 9)))
        return NULL;
    const char *p = sep + 3;
    if (*p == '/')
        p++;
    size_t n = strcspn(p, "?#");
    if (!n)
        return NULL;
    char *path = strndup(p, n);
    if (path && access(path, F_OK) == 0) {
        free(path);
        return NULL;
    }
    return path;
}

static void remove_new_file(const char *path)
{
    static const char *const sidecars[] = {"", ".wal", "-journal", "-wal", "-shm", NULL};
    for (size_t i = 0; sidecars[i]; i++) {
        char buf[4096];
        if ((size_t)snprintf(buf, sizeof buf, "%s%s", path, sidecars[i]) < sizeof buf)
            unlink(buf);
    }
}

static char *default_dest_table(const cli_source_name *n, cli_naming naming)
{
    char *s = cli_name_apply(naming, n->schema), *t = cli_name_apply(naming, n->table);
    char *o = NULL;
    if (s && t) {
        size_t len = strlen(s) + strlen(t) + 2;
        o = malloc(len);
        if (o)
            snprintf(o, len, "%s.%s", s, t);
    }
    free(s);
    free(t);
    return o;
}

int cli_ingest(const cli_opts *o)
{
    char err[700] = "";
    int code = CLI_EXIT_OK;
    net_opts no;
    memset(&no, 0, sizeof no);
    bool ct = false;
    sink_options so;
    cli_source_name sn;
    memset(&sn, 0, sizeof sn);
    cli_catalog cat;
    memset(&cat, 0, sizeof cat);
    load l;
    memset(&l, 0, sizeof l);
    l.o = o;
    l.limit = -1;
    net_client *cl = NULL;
    char *sql = NULL, *dest_table = NULL, *new_file = NULL;
    char maxbuf[256];
    cli_ct ctr; /* Change Tracking sources: ct.c */
    memset(&ctr, 0, sizeof ctr);

    /* ---- everything that can be checked without a connection */
    bool file_src = cli_source_file_is(o->source_uri); /* CSV/JSONL: no SQL Server to read */
    if (!file_src && (code = cli_uri_mssql(o->source_uri, &no, &ct, err, sizeof err)))
        goto out;
    /* Flags win over the URI's parameters. */
    if (o->query_timeout_s > 0)
        no.query_timeout_ms = (uint32_t)(o->query_timeout_s * 1000);
    if (o->retries >= 0)
        no.retries = (unsigned)o->retries;
    else if (no.retries == 0)
        no.retries = 3; /* transient Azure faults are routine; --retries 0 turns this off */
    cli_secrets_register(no.password);
    cli_secrets_register(no.access_token);
    cli_secrets_register_uri(o->source_uri); /* the percent-encoded spelling too */
    if ((code = cli_uri_dest(o->dest_uri, &so, err, sizeof err)))
        goto out;
    cli_secrets_register_uri(o->dest_uri);
    if ((code = cli_source_name_parse(o->source_table, &sn, err, sizeof err)))
        goto out;
    if (ct && (code = cli_ct_check_flags(o, &sn, err, sizeof err)))
        goto out;
    if (sn.is_query && !o->dest_table) {
        snprintf(err, sizeof err, "--dest-table is required with a query: source");
        code = CLI_EXIT_USAGE;
        goto out;
    }
    l.nspecs = o->columns.n;
    if (l.nspecs) {
        if (sn.is_query && !file_src) {
            snprintf(err, sizeof err, "--columns needs a table source (cast in the query instead)");
            code = CLI_EXIT_USAGE;
            goto out;
        }
        l.specs = calloc(l.nspecs, sizeof *l.specs);
        if (!l.specs) {
            snprintf(err, sizeof err, "out of memory");
            code = CLI_EXIT_LOAD;
            goto out;
        }
        for (size_t i = 0; i < l.nspecs; i++)
            if (cli_colspec_parse(o->columns.v[i], &l.specs[i], err, sizeof err)) {
                code = CLI_EXIT_USAGE;
                goto out;
            }
    }
    l.naming = o->naming == CLI_NAMING_AUTO ? CLI_NAMING_SNAKE : o->naming;
    l.strategy = o->full_refresh ? SINK_REPLACE : ct ? SINK_MERGE : o->strategy;
    dest_table = o->dest_table ? strdup(o->dest_table) : default_dest_table(&sn, l.naming);
    if (!dest_table) {
        snprintf(err, sizeof err, "out of memory");
        code = CLI_EXIT_LOAD;
        goto out;
    }
    l.dest_table = dest_table;

    /* ---- source. (max) values stream in chunks (on_plp), so no value is
     * bounded by the engine's 64 MiB row buffer. */
    no.stream_plp = true;
    net_error ne;
    memset(&ne, 0, sizeof ne);
    if (!file_src)
        cl = net_client_open(&no, &ne);
    if (!cl && !file_src) {
        snprintf(err, sizeof err, "cannot connect to SQL Server: %s", ne.message[0] ? ne.message : net_strerror(ne.code));
        code = CLI_EXIT_LOAD;
        goto out;
    }
    if (cl)
        net_client_cancel_flag(cl, NULL); /* TODO(issue 12): tdspipe_load_opts.cancel */
    cli_select sel;
    memset(&sel, 0, sizeof sel);
    sel.o = o;
    sel.specs = l.specs;
    sel.nspecs = l.nspecs;
    sel.strategy = l.strategy;
    if (!sn.is_query && !file_src) {
        if ((code = cli_catalog_read(cl, &sn, &cat, err, sizeof err)))
            goto out;
        l.cat = sel.cat = &cat;
        if (!ct && l.strategy == SINK_MERGE && !o->primary_keys.n && !cat.pk.n) {
            snprintf(err, sizeof err, "merge needs a primary key: the table has none, give --primary-key");
            code = CLI_EXIT_USAGE;
            goto out;
        }
    }

    /* ---- destination */
    new_file = dest_new_file(o->dest_uri);
    sink *sk = NULL;
    int src = sink_open(o->dest_uri, &so, &sk, err, sizeof err);
    if (src) {
        code = src == SINK_E_URI ? CLI_EXIT_USAGE : CLI_EXIT_LOAD;
        if (!err[0])
            snprintf(err, sizeof err, "cannot open the destination: %s", sink_strerror(src));
        goto out;
    }
    l.sk = sk;
    if (ct) {
        if ((code = cli_ct_prepare(&ctr, cl, sk, o, &sn, &cat, l.specs, l.nspecs, dest_table, err, sizeof err)))
            goto out;
        l.strategy = ctr.strategy;
        l.ct = true;
        l.cdc = ctr.cdc;
    }

    /* ---- incremental bounds: flags, else the destination's maximum */
    const char *lo = o->interval_start, *hi = o->interval_end;
    bool lo_strict = false;
    if (o->incremental_key && !lo && !o->full_refresh && l.strategy != SINK_REPLACE) {
        bool found = false;
        const char *kdest = o->incremental_key; /* renamed by --columns? */
        for (size_t i = 0; i < l.nspecs; i++)
            if (!strcasecmp(l.specs[i].source, o->incremental_key))
                kdest = l.specs[i].name;
        char *kname = cli_name_apply(l.naming, kdest);
        int rc = kname ? sink_max_value(sk, dest_table, kname, maxbuf, sizeof maxbuf, &found) : SINK_E_NOMEM;
        free(kname);
        if (rc == SINK_OK && found) {
            lo = maxbuf;
            /* append would duplicate rows at the maximum: read past it;
             * merge and delete+insert re-read it safely */
            lo_strict = l.strategy == SINK_APPEND;
        } else if (rc != SINK_OK && rc != SINK_E_UNSUPPORTED) {
            snprintf(err, sizeof err, "reading the incremental state: %s", sink_errmsg(sk));
            code = CLI_EXIT_LOAD;
            goto out;
        }
    }
    if (l.strategy == SINK_DELETE_INSERT) {
        l.lo_text = o->interval_start;
        l.hi_text = o->interval_end;
    }

    if (file_src) {
        /* the whole file is read; its rows are not filtered by the cursor */
    } else if (ct) {
        /* the SELECT is ct.c's, sent by cli_ct_read */
    } else if (!sn.is_query) {
        if (cli_select_table(&sel, &sn, lo, lo_strict, hi, &sql)) {
            code = sel.code;
            snprintf(err, sizeof err, "%s", sel.err);
            goto out;
        }
    } else {
        l.limit = o->sql_limit;
        if (cli_select_query(&sel, sn.query, lo, hi, &sql)) {
            code = sel.code;
            snprintf(err, sizeof err, "%s", sel.err);
            goto out;
        }
    }

    int64_t known = o->sql_limit;
    if (cl && !sn.is_query && !lo && !hi && (!ct || ctr.snapshot) && o->progress == CLI_PROGRESS_INTERACTIVE &&
        isatty(STDERR_FILENO)) {
        int64_t est = cli_select_estimate(cl, &sn);
        if (est >= 0 && (known < 0 || est < known))
            known = est;
    }
    l.prog = cli_progress_new(o->progress, dest_table, known);
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.columns = on_columns;
    cb.row = on_row;
    cb.plp = on_plp;
    memset(&ne, 0, sizeof ne);
    int rc = file_src ? cli_source_file_run(o->source_uri, l.specs, l.nspecs, &cb, &l, &ne)
           : ct     ? cli_ct_read(&ctr, cl, &cb, &l, &ne)
                    : net_client_batch(cl, sql, &cb, &l, &ne);
    bool ok = rc == NET_OK || (rc == NET_E_CANCELLED && l.limit_hit);
    if (!l.fail && !ok) {
        failf(&l, CLI_EXIT_LOAD, "%s%s", file_src ? "" : "reading from SQL Server failed: ",
              ne.message[0] ? ne.message : net_strerror(rc));
    }
    if (!l.fail && !l.begun)
        failf(&l, CLI_EXIT_LOAD, "the source returned no result set");
    if (!l.fail && !flush(&l)) {
        cli_progress_phase(l.prog, "committing");
        if (ct && cli_ct_save(&ctr, sk))
            failf(&l, CLI_EXIT_LOAD, "%s", sink_errmsg(sk));
        else if (sink_commit(sk))
            failf(&l, CLI_EXIT_LOAD, "%s", sink_errmsg(sk));
    }
    if (l.fail) {
        sink_abort(sk);
        code = l.fail;
        snprintf(err, sizeof err, "%s", l.err);
    }
    cli_progress_end(l.prog, !l.fail);
    l.prog = NULL;

out:
    if (code && err[0]) {
        one_line(err);
        cli_err("%s", err);
    }
    free(sql);
    if (cl)
        net_client_close(cl);
    sink_close(l.sk);
    if (code && new_file)
        remove_new_file(new_file);
    free(new_file);
    sink_rows_free(l.rows);
    if (l.names)
        for (size_t i = 0; i <= l.nsrc; i++)
            free(l.names[i]);
    free(l.names);
    free(l.cols);
    free(l.map);
    free(l.keep);
    free(l.rowbuf);
    free(l.specs);
    free(dest_table);
    cli_ct_free(&ctr);
    cli_catalog_free(&cat);
    cli_source_name_free(&sn);
    cli_secrets_forget();
    net_opts_free(&no);
    return code;
}
