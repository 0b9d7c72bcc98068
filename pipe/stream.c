/*
 * stream.c — tdspipe_stream(): --stream for +ct and +cdc sources. The loop
 * polls; each poll is one incremental load (pipe_load_once: connect, read
 * the changes past the committed cursor, merge them and the new cursor in
 * one destination transaction). The destination's state is the only
 * truth: a poll that fails changes nothing, and the next one — after a
 * backoff, on a new connection — resumes from the committed cursor, so no
 * change is lost or applied twice whatever fails where.
 *
 * Between polls the loop waits on its own libuv loop, which also serves
 * --metrics-addr (metrics.c), in slices of at most 50 ms so a cancel is
 * seen at once when idle. A cancel during a poll lets the poll finish and
 * commit (the inner load never sees the flag), then returns TDSPIPE_OK.
 *
 * Restamp: a poll that reads nothing leaves the cursor where it is (no
 * write) unless restamp_ms passed since the cursor was last committed (a
 * quarter of the source's retention: CT's CHANGE_RETENTION, CDC's cleanup
 * job retention from sys.sp_cdc_help_jobs (cdc_retention.c); within
 * 5 s..5 min, 5 min when unknown);
 * then the cursor moves to the source's head (CT: the current version,
 * CDC: the captured maximum LSN), so it never falls out of retention
 * while the table is idle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net.h"
#include "pipe_int.h"
#include "stream_int.h"

#define STREAM_SLICE_MS 50
#define STREAM_RESTAMP_DEFAULT_MS (5u * 60u * 1000u)
#define STREAM_RESTAMP_MIN_MS 5000u

typedef struct stream {
    const tdspipe_load_opts *user;
    tdspipe_load_opts o;         /* the inner loads' options */
    uint32_t poll_ms, flush_ms, restamp_ms;
    bool restamp_fixed;          /* given by the caller, not from the retention */
    bool retention_warned;       /* said once that the retention is unreadable */
    uint64_t flush_records;
    unsigned max_failures;
    uv_loop_t loop;
    uv_timer_t tick;
    pipe_metrics *metrics;
    pipe_metrics_values v;
    double last_save;            /* monotonic time the cursor was last committed */
    char last_warning[700];
} stream;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool cancelled(const stream *st)
{
    return st->user->cancel && *st->user->cancel;
}

static void on_tick(uv_timer_t *t) { (void)t; }

/* Waits ms (serving /metrics) or until cancelled. */
static void wait_ms(stream *st, uint32_t ms)
{
    double end = mono_now() + ms / 1000.0;
    for (;;) {
        double left = (end - mono_now()) * 1000.0;
        if (left <= 0 || cancelled(st))
            return;
        /* The loop's clock stood still during the poll: a timer started
         * on the stale time is due at once, runs before the poll phase of
         * UV_RUN_ONCE, and the poll then blocks until a /metrics request. */
        uv_update_time(&st->loop);
        uv_timer_start(&st->tick, on_tick, left < STREAM_SLICE_MS ? (uint64_t)left + 1 : STREAM_SLICE_MS, 0);
        uv_run(&st->loop, UV_RUN_ONCE);
    }
}

/* The same warning every poll (snapshot isolation off, say) is shown once. */
static void on_warning(void *ud, const char *msg)
{
    stream *st = ud;
    if (!strcmp(msg, st->last_warning))
        return;
    snprintf(st->last_warning, sizeof st->last_warning, "%s", msg);
    if (st->user->warning)
        st->user->warning(st->user->warning_ud, msg);
}

/* head - cursor: decimal versions, or 20-hex-digit LSNs (saturated). */
static bool distance(const char *cursor, const char *head, uint64_t *out)
{
    if (!cursor[0] || !head[0])
        return false;
    size_t lc = strlen(cursor), lh = strlen(head);
    bool hex = lc == 20 && lh == 20;
    int base = hex ? 16 : 10;
    const char *c = cursor, *h = head;
    if (hex) {
        int hi = strncmp(cursor, head, 4);
        if (hi > 0)
            return *out = 0, true;
        if (hi < 0)
            return *out = UINT64_MAX, true;
        c += 4;
        h += 4;
    }
    char *e1, *e2;
    unsigned long long a = strtoull(c, &e1, base), b = strtoull(h, &e2, base);
    if (*e1 || *e2)
        return false;
    *out = b > a ? b - a : 0;
    return true;
}

/* What a poll saw, into the metrics and the caller's progress. */
static void account(stream *st, const pipe_load_out *out, double t0)
{
    double now = mono_now();
    st->v.polls++;
    if (out->committed) {
        st->v.rows += out->rows;
        st->v.last_commit_unix = unix_now();
        if (out->rows)
            st->v.batches++;
        if (out->cursor_saved) {
            if (!out->rows && out->cursor[0] && strcmp(out->cursor, out->head))
                st->v.restamps++;
            st->last_save = now;
        }
    }
    uint64_t d = 0;
    bool has = distance(out->cursor, out->head, &d);
    st->v.lag_distance = has ? d : 0;
    st->v.lag_seconds = out->rows ? now - t0 : 0;
    pipe_metrics_set(st->metrics, &st->v);
    const tdspipe_load_opts *u = st->user;
    if (!u->progress)
        return;
    tdspipe_progress p;
    memset(&p, 0, sizeof p);
    p.rows = st->v.rows;
    p.est_rows = -1;
    p.phase = "streaming";
    p.table = u->dest_table ? u->dest_table : u->source_table;
    p.has_lag = has;
    p.lag_distance = st->v.lag_distance;
    p.lag_seconds = st->v.lag_seconds;
    p.polls = st->v.polls;
    p.batches = st->v.batches;
    u->progress(u->progress_ud, &p);
}

/* Whether the URI sets its own query timeout. */
static bool uri_has_timeout(const char *uri)
{
    net_opts no;
    memset(&no, 0, sizeof no);
    char why[300];
    bool has = !net_opts_from_uri(&no, uri, why, sizeof why) && no.query_timeout_ms;
    net_opts_free(&no);
    return has;
}

/* A quarter of the retention, at most 5 minutes, at least 5 seconds. */
uint32_t pipe_stream_restamp_ms(int64_t retention_s)
{
    if (retention_s <= 0)
        return STREAM_RESTAMP_DEFAULT_MS;
    int64_t ms = retention_s > INT64_MAX / 1000 ? INT64_MAX / 4 : retention_s * 1000 / 4;
    return ms > STREAM_RESTAMP_DEFAULT_MS ? STREAM_RESTAMP_DEFAULT_MS
         : ms < STREAM_RESTAMP_MIN_MS     ? STREAM_RESTAMP_MIN_MS
                                          : (uint32_t)ms;
}

static void settings(stream *st, const tdspipe_load_opts *o, const tdspipe_stream_opts *so)
{
    st->user = o;
    st->o = *o;
    st->o.cancel = NULL; /* the poll in flight finishes and commits */
    st->o.progress = NULL;
    st->o.estimate_rows = false;
    /* the loop is the retry (backoff, then a poll on a new connection):
     * a load retrying inside would hide the fault and hold the poll */
    st->o.retries = TDSPIPE_NO_RETRIES;
    /* a connection that stops answering must not hold the stream forever:
     * 5 minutes without a byte from the server fails the poll (the URI's
     * or --query-timeout's own value wins) */
    if (!o->query_timeout_s && !uri_has_timeout(o->source_uri))
        st->o.query_timeout_s = 300;
    st->o.warning = on_warning;
    st->o.warning_ud = st;
    st->poll_ms = so && so->poll_ms ? so->poll_ms : 0;
    if (!st->poll_ms) {
        net_opts no;
        memset(&no, 0, sizeof no);
        char why[300];
        if (!net_opts_from_uri(&no, o->source_uri, why, sizeof why))
            st->poll_ms = no.poll_interval_ms;
        net_opts_free(&no);
    }
    if (!st->poll_ms)
        st->poll_ms = 1000;
    st->flush_ms = so && so->flush_interval_ms ? so->flush_interval_ms : 30000;
    st->flush_records = so && so->flush_records ? so->flush_records : 50000;
    st->restamp_fixed = so && so->restamp_ms;
    st->restamp_ms = st->restamp_fixed ? so->restamp_ms : STREAM_RESTAMP_DEFAULT_MS;
    if (st->restamp_ms < STREAM_RESTAMP_MIN_MS)
        st->restamp_ms = STREAM_RESTAMP_MIN_MS;
    st->max_failures = so && so->max_failures ? so->max_failures : 10;
}

static int check_source(const tdspipe_load_opts *o, tdspipe_error *err)
{
    const pipe_source_vtable *vt = o->source_uri ? pipe_source_find(o->source_uri) : NULL;
    if (!vt || (vt != &pipe_src_ct && vt != &pipe_src_cdc))
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "--stream reads Change Tracking or Change Data Capture sources "
                          "(mssql+ct://, mssql+cdc:// and their sqlserver/azuresql forms)");
    if (o->full_refresh)
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "--stream cannot be used with --full-refresh (run the full refresh once, then stream)");
    return 0;
}

/* The polls until cancelled or too many failures in a row. */
static int loop(stream *st, tdspipe_error *err)
{
    unsigned failures = 0;
    st->last_save = mono_now();
    while (!cancelled(st)) {
        double t0 = mono_now();
        bool restamp_due = (t0 - st->last_save) * 1000.0 >= st->restamp_ms;
        pipe_load_out out;
        tdspipe_error e;
        int rc = pipe_load_once(&st->o, !restamp_due, &out, &e);
        if (rc) {
            st->v.errors++;
            pipe_metrics_set(st->metrics, &st->v);
            if (rc == TDSPIPE_E_USAGE || !st->v.polls || ++failures >= st->max_failures) {
                if (err)
                    *err = e;
                return rc;
            }
            char w[800];
            snprintf(w, sizeof w, "warning: poll failed (%u in a row), retrying from the committed cursor: %s",
                     failures, e.message);
            on_warning(st, w);
            wait_ms(st, net_retry_delay_ms(failures, 500, 30000));
            st->v.reconnects++;
            continue;
        }
        failures = 0;
        if (!st->restamp_fixed && out.retention_s > 0)
            st->restamp_ms = pipe_stream_restamp_ms(out.retention_s);
        else if (!st->restamp_fixed && out.retention_s < 0 && !st->retention_warned) {
            st->retention_warned = true;
            on_warning(st, "warning: the source's retention could not be read (CDC: sys.sp_cdc_help_jobs needs "
                           "db_owner); the idle cursor is restamped every 5 minutes");
        }
        account(st, &out, t0);
        if (out.rows >= st->flush_records)
            continue; /* a full batch: more is likely waiting */
        double spent = (mono_now() - t0) * 1000.0;
        uint32_t every = st->poll_ms < st->flush_ms ? st->poll_ms : st->flush_ms;
        if (spent < every)
            wait_ms(st, every - (uint32_t)spent);
    }
    return TDSPIPE_OK;
}

int tdspipe_stream(const tdspipe_load_opts *o, const tdspipe_stream_opts *so, tdspipe_error *err)
{
    if (!o)
        return pipe__fail(err, TDSPIPE_E_USAGE, "no load options");
    int rc = check_source(o, err);
    if (rc)
        return rc;
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    settings(st, o, so);
    if (uv_loop_init(&st->loop)) {
        free(st);
        return pipe__fail(err, TDSPIPE_E_LOAD, "cannot make an event loop");
    }
    uv_timer_init(&st->loop, &st->tick);
    char why[400];
    if (so && so->metrics_addr && so->metrics_addr[0] &&
        pipe_metrics_start(&st->loop, so->metrics_addr, &st->metrics, why, sizeof why))
        rc = pipe__fail(err, TDSPIPE_E_USAGE, "%s", why);
    if (!rc)
        rc = loop(st, err);
    pipe_metrics_close(st->metrics);
    uv_close((uv_handle_t *)&st->tick, NULL);
    uv_run(&st->loop, UV_RUN_DEFAULT);
    uv_loop_close(&st->loop);
    pipe_metrics_free(st->metrics);
    free(st);
    if (!rc && err)
        memset(err, 0, sizeof *err);
    return rc;
}
