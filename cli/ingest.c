/*
 * ingest.c — one `tdspipe ingest` run: the flags into tdspipe_load_opts,
 * the library's progress reports into progress.c's lines and its warnings
 * onto stderr, one call to tdspipe_load(), its error printed as the one
 * line the exit code goes with; --stream calls tdspipe_stream() instead
 * and prints one progress line per poll; --finalize calls
 * tdspipe_finalize(). Everything else (URIs, sources, the load
 * engine, secrets in messages) is the library's (pipe/pipe.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_int.h"

typedef struct run {
    cli_progress_mode mode;
    cli_progress *prog;
    uint64_t rows, bytes; /* reported so far */
} run;

/* The library reports totals at most every 1024 rows and at each phase;
 * progress.c counts increments and draws. */
static void on_progress(void *ud, const tdspipe_progress *p)
{
    run *r = ud;
    if (!r->prog)
        r->prog = cli_progress_new(r->mode, p->table, p->est_rows);
    cli_progress_rows(r->prog, (size_t)(p->rows - r->rows), (size_t)(p->bytes - r->bytes));
    r->rows = p->rows;
    r->bytes = p->bytes;
    if (p->windows)
        cli_progress_window(r->prog, p);
    if (!strcmp(p->phase, "committing")) {
        cli_progress_phase(r->prog, "committing");
    } else if (!strcmp(p->phase, "done") || !strcmp(p->phase, "failed")) {
        cli_progress_end(r->prog, p->phase[0] == 'd');
        r->prog = NULL;
        r->rows = r->bytes = 0; /* a run over several tables: the next load counts from 0 */
    }
}

static void on_warning(void *ud, const char *msg)
{
    (void)ud;
    cli_err("%s", msg);
}

static tdspipe_naming naming(cli_naming n)
{
    return n == CLI_NAMING_DIRECT ? TDSPIPE_NAMING_DIRECT : n == CLI_NAMING_SNAKE ? TDSPIPE_NAMING_SNAKE
                                                                                  : TDSPIPE_NAMING_AUTO;
}

static void fill(tdspipe_load_opts *lo, const cli_opts *o)
{
    lo->source_uri = o->source_uri;
    lo->source_table = o->source_table;
    lo->dest_uri = o->dest_uri;
    lo->dest_table = o->dest_table;
    lo->strategy = o->strategy;
    lo->strategy_given = o->strategy_given;
    lo->full_refresh = o->full_refresh;
    lo->incremental_key = o->incremental_key;
    lo->interval_start = o->interval_start;
    lo->interval_end = o->interval_end;
    lo->primary_keys = (const char *const *)o->primary_keys.v;
    lo->nprimary_keys = o->primary_keys.n;
    lo->exclude = (const char *const *)o->exclude.v;
    lo->nexclude = o->exclude.n;
    lo->columns = (const char *const *)o->columns.v;
    lo->ncolumns = o->columns.n;
    lo->sql_limit = o->sql_limit > 0 ? o->sql_limit : 0;
    lo->page_size = o->page_size;
    lo->query_timeout_s = o->query_timeout_s > 0 ? o->query_timeout_s : 0;
    /* flags: -1 the URI's (else 3), 0 none */
    lo->retries = o->retries < 0 ? 0 : o->retries == 0 ? TDSPIPE_NO_RETRIES : o->retries;
    lo->naming = naming(o->naming);
    lo->no_load_timestamp = o->no_load_timestamp;
    lo->ct_resnapshot = o->ct_resnapshot;
    lo->cdc_resnapshot = o->cdc_resnapshot;
    lo->schema_contract = o->schema_contract;
    lo->trim_whitespace = o->trim_whitespace;
    lo->incremental_predicate = o->incremental_predicate;
    lo->masks = (const char *const *)o->masks.v;
    lo->nmasks = o->masks.n;
    lo->extract_parallelism = o->parallelism;
    lo->extract_partition_by = o->extract_partition_by;
    lo->extract_partition_interval = o->extract_partition_interval;
    lo->extract_split_rows = o->extract_split_rows;
    lo->slice_index = o->slice_index;
    lo->slice_count = o->slice_count;
    lo->run_id = o->run_id;
    /* the percentage costs a catalog query: only where it is shown (a
     * live line, log lines, json's est_rows/percent/eta_s) */
    lo->estimate_rows = o->progress != CLI_PROGRESS_INTERACTIVE || isatty(STDERR_FILENO);
}

static void on_stream_progress(void *ud, const tdspipe_progress *p)
{
    run *r = ud;
    if (!strcmp(p->phase, "streaming"))
        cli_progress_stream(r->mode, p);
}

/* --stream: polls until SIGINT/SIGTERM (the batch in flight is committed,
 * exit 0). TDSPIPE_RESTAMP_INTERVAL (a duration, at least 5s) overrides
 * how often an idle cursor is re-committed (default 5 minutes). */
static int stream(const cli_opts *o, tdspipe_load_opts *lo, run *r)
{
    tdspipe_stream_opts so;
    memset(&so, 0, sizeof so);
    so.flush_interval_ms = o->flush_interval_ms;
    so.flush_records = o->flush_records;
    so.metrics_addr = o->metrics_addr;
    const char *re = getenv("TDSPIPE_RESTAMP_INTERVAL");
    if (re && *re) {
        char *end;
        double s = strtod(re, &end);
        double unit = !strcmp(end, "ms") ? 0.001 : !strcmp(end, "m") ? 60 : 1;
        if (s > 0)
            so.restamp_ms = (uint32_t)(s * unit * 1000);
    }
    lo->progress = on_stream_progress;
    lo->progress_ud = r;
    lo->estimate_rows = false;
    tdspipe_error err;
    int rc = tdspipe_stream(lo, &so, &err);
    if (rc)
        cli_err("%s", err.message);
    return rc;
}

int cli_ingest(const cli_opts *o, const volatile sig_atomic_t *cancel)
{
    run r = {o->progress, NULL, 0, 0};
    for (size_t i = 0; i < o->notes.n; i++) /* flags accepted with no effect */
        cli_err("%s", o->notes.v[i]);
    tdspipe_load_opts lo;
    memset(&lo, 0, sizeof lo);
    fill(&lo, o);
    lo.cancel = cancel;
    lo.progress = on_progress;
    lo.progress_ud = &r;
    lo.warning = on_warning;
    if (o->stream)
        return stream(o, &lo, &r);
    tdspipe_error err;
    if (o->finalize) { /* scale-out: complete a run whose slices committed */
        int frc = tdspipe_finalize(&lo, o->finalize, &err);
        if (frc)
            cli_err("%s", err.message);
        else
            fprintf(stderr, "run %s: %u slices committed, finalized\n", o->finalize, o->slice_count);
        return frc;
    }
    int rc = tdspipe_load(&lo, &err);
    if (r.prog) /* the library always ends with "done" or "failed" */
        cli_progress_end(r.prog, rc == TDSPIPE_OK);
    if (rc)
        cli_err("%s", err.message);
    return rc;
}
