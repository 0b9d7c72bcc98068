/*
 * par_pool.c — the connections of a parallel read: N net_conn on one
 * libuv loop run by the calling thread, the windows a work queue (a
 * connection that finishes a window takes the next, so a slow window does
 * not hold the others idle), every row handed to the engine's callbacks
 * on this thread as it is decoded (views into that connection's receive
 * buffer: zero-copy up to the engine's batch, as a sequential read).
 *
 * Batches: each connection is a lane of the engine (pipe_rows_cb.lane),
 * so the destination gets whole batches of one connection's rows — runs
 * of one window in key order, which columnar destinations compress and
 * index far better than rows interleaved one by one.
 *
 * Back-pressure: the engine's callbacks run inside a connection's read
 * callback, so while the sink writes a batch no socket is read at all and
 * TCP pushes back on every server session; nothing is queued here but the
 * chunks of one (max) value per connection (below).
 *
 * Streamed (max) values come as chunks before their row; chunks of two
 * connections must not interleave in the engine's row buffer, so each
 * connection keeps its row's chunks and hands them over just before the
 * row (one copy, only for streamed values).
 *
 * Retries: a window that fails with a transient server fault before its
 * first row is sent again on its connection after the URI's backoff, up
 * to its retries (as net_client_batch_retry does for a sequential read).
 *
 * Failure: the first failure (a window's error, a lost connection, the
 * engine stopping, the caller's cancel flag) is recorded, and a zero-delay
 * timer closes every connection from outside their callbacks; the read
 * then returns it and the engine aborts the sink (destination unchanged).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "par_pool.h"

typedef enum pc_state { PC_OPENING, PC_IDLE, PC_BUSY, PC_CLOSING } pc_state;

typedef struct par_pool par_pool;

typedef struct par_conn {
    par_pool *pool;
    net_conn *c;
    pc_state state;
    size_t job;             /* the window being read */
    bool got_columns;       /* this request's first result set seen */
    bool dropping;          /* a later result set of the request */
    uint64_t rows;          /* of the window being read */
    uint8_t *chunks;        /* [size_t col][size_t len][bytes]… of the row being decoded */
    size_t clen, ccap;
    uv_timer_t retry;       /* the wait before a window is sent again */
    bool retry_init;
    unsigned attempts;      /* retries of the window being read */
} par_conn;

struct par_pool {
    uv_loop_t loop;
    uv_timer_t tick;        /* the cancel flag every 100 ms */
    uv_timer_t stopper;     /* closes every connection after a failure */
    par_conn *conns;
    unsigned n, live;
    const par_job *jobs;
    size_t njobs, next, done;
    unsigned running;
    const volatile sig_atomic_t *cancel;
    const net_opts *no;     /* retries of transient faults */
    const pipe_rows_cb *cb;
    void *ud;
    bool begun;             /* the engine has the columns */
    unsigned lane;          /* the connection the engine's rows come from now */
    uint16_t ncols;
    uint8_t *types;         /* the first result's column types, to check the others */
    bool failed, stopped;
    tdspipe_error err;
};

static void close_all(par_pool *p);

static void on_stopper(uv_timer_t *t) { close_all(t->data); }

/* Records the first failure and schedules the close of every connection
 * (never from inside a connection's own callback). engine_stopped: a
 * callback of the engine said PIPE_STOP (its reason is its own). */
static void pool_fail(par_pool *p, bool engine_stopped, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pool_fail(par_pool *p, bool engine_stopped, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->stopped = engine_stopped;
    p->err.code = TDSPIPE_E_LOAD;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err.message, sizeof p->err.message, fmt, ap);
    va_end(ap);
    uv_timer_start(&p->stopper, on_stopper, 0, 0);
}

static void report(par_pool *p, size_t job, const char *event, uint64_t rows)
{
    if (!p->cb->window)
        return;
    pipe_window_report w = {p->jobs[job].label, event, rows, (uint32_t)p->njobs, (uint32_t)p->done, p->running};
    p->cb->window(p->ud, &w);
}

/* ------------------------------------------------------- results */

static int on_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    par_conn *pc = ud;
    par_pool *p = pc->pool;
    if (p->failed)
        return NET_ROW_ABORT;
    if (pc->got_columns) { /* later result sets are dropped, as a sequential read does */
        pc->dropping = true;
        return NET_ROW_NEXT;
    }
    pc->got_columns = true;
    if (p->begun) { /* the same SELECT: the same columns, else something is wrong */
        bool same = ncols == p->ncols;
        for (uint16_t i = 0; same && i < ncols; i++)
            same = cols[i].type == p->types[i];
        if (!same)
            pool_fail(p, false, "window %s returned other columns than the first window", p->jobs[pc->job].label);
        return same ? NET_ROW_NEXT : NET_ROW_ABORT;
    }
    p->begun = true;
    p->ncols = ncols;
    if (!(p->types = malloc(ncols ? ncols : 1))) {
        pool_fail(p, false, "out of memory");
        return NET_ROW_ABORT;
    }
    for (uint16_t i = 0; i < ncols; i++)
        p->types[i] = cols[i].type;
    if (p->cb->columns(p->ud, cols, ncols) != PIPE_NEXT) {
        pool_fail(p, true, "the source stopped reading");
        return NET_ROW_ABORT;
    }
    return NET_ROW_NEXT;
}

static int on_plp(void *ud, uint16_t col, const uint8_t *data, size_t len)
{
    par_conn *pc = ud;
    if (pc->pool->failed)
        return NET_ROW_ABORT;
    if (pc->dropping)
        return NET_ROW_NEXT;
    size_t need = pc->clen + 2 * sizeof(size_t) + len;
    if (need > pc->ccap) {
        size_t cap = pc->ccap ? pc->ccap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *b = realloc(pc->chunks, cap);
        if (!b) {
            pool_fail(pc->pool, false, "out of memory for a (max) value");
            return NET_ROW_ABORT;
        }
        pc->chunks = b;
        pc->ccap = cap;
    }
    size_t hdr[2] = {col, len};
    memcpy(pc->chunks + pc->clen, hdr, sizeof hdr);
    if (len)
        memcpy(pc->chunks + pc->clen + sizeof hdr, data, len);
    pc->clen = need;
    return NET_ROW_NEXT;
}

/* The row's buffered chunks into the engine. PIPE_NEXT or PIPE_STOP. */
static int replay_chunks(par_conn *pc)
{
    par_pool *p = pc->pool;
    size_t off = 0;
    int rc = PIPE_NEXT;
    while (rc == PIPE_NEXT && off < pc->clen) {
        size_t hdr[2];
        memcpy(hdr, pc->chunks + off, sizeof hdr);
        rc = p->cb->chunk(p->ud, hdr[0], pc->chunks + off + sizeof hdr, hdr[1]);
        off += sizeof hdr + hdr[1];
    }
    pc->clen = 0;
    return rc;
}

static int on_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    (void)cols;
    (void)ncols;
    par_conn *pc = ud;
    par_pool *p = pc->pool;
    if (p->failed)
        return NET_ROW_ABORT;
    if (pc->dropping || !p->begun)
        return NET_ROW_NEXT;
    unsigned lane = (unsigned)(pc - p->conns);
    bool stop = false;
    if (lane != p->lane && p->cb->lane) { /* each connection's rows batch apart (runs of one window) */
        stop = p->cb->lane(p->ud, lane) != PIPE_NEXT;
        p->lane = lane;
    }
    if (stop || (pc->clen && replay_chunks(pc) != PIPE_NEXT) || p->cb->row(p->ud, vals) != PIPE_NEXT) {
        pool_fail(p, true, "the source stopped reading");
        return NET_ROW_ABORT;
    }
    pc->rows++;
    return NET_ROW_NEXT;
}

static void start_next(par_conn *pc);
static void send_job(par_conn *pc);

static void on_retry(uv_timer_t *t)
{
    par_conn *pc = t->data;
    if (!pc->pool->failed && pc->state == PC_IDLE)
        send_job(pc);
}

/* A transient fault (Azure's 40501, 40613…: net_error_transient) before
 * the window gave a row: the same window again on the same connection
 * after the usual backoff, up to the URI's retries. */
static bool retry_window(par_conn *pc, const net_error *e)
{
    par_pool *p = pc->pool;
    if (e->code != NET_E_SERVER || !net_error_transient(e) || pc->rows || pc->attempts >= p->no->retries ||
        !net_conn_is_open(pc->c))
        return false;
    pc->attempts++;
    uv_timer_start(&pc->retry, on_retry, net_retry_delay_ms(pc->attempts, p->no->retry_base_ms, p->no->retry_max_ms), 0);
    return true;
}

static void on_complete(void *ud, const net_error *e)
{
    par_conn *pc = ud;
    par_pool *p = pc->pool;
    if (pc->state != PC_BUSY)
        return; /* closed by close_all */
    pc->state = PC_IDLE;
    p->running--;
    if (p->failed)
        return;
    if (e && e->code != NET_OK && retry_window(pc, e))
        return;
    if (e && e->code != NET_OK) {
        char why[600];
        snprintf(why, sizeof why, "%s", e->message[0] ? e->message : net_strerror(e->code));
        pool_fail(p, false, "reading window %s from SQL Server failed: %s", p->jobs[pc->job].label, why);
        return;
    }
    p->done++;
    report(p, pc->job, "done", pc->rows);
    start_next(pc);
}

static const net_result_cb rows_cb = {
    .columns = on_columns,
    .row = on_row,
    .plp = on_plp,
    .complete = on_complete,
};

/* ------------------------------------------------- connections */

static void on_closed(net_conn *c, void *ud)
{
    (void)c;
    par_pool *p = ((par_conn *)ud)->pool;
    if (--p->live == 0) { /* the loop ends once the timers are closed too */
        uv_close((uv_handle_t *)&p->tick, NULL);
        uv_close((uv_handle_t *)&p->stopper, NULL);
    }
}

static void conn_close(par_conn *pc)
{
    if (pc->state == PC_CLOSING)
        return;
    if (pc->retry_init) {
        uv_close((uv_handle_t *)&pc->retry, NULL);
        pc->retry_init = false;
    }
    if (!pc->c) { /* never made */
        pc->state = PC_CLOSING;
        return;
    }
    if (pc->state == PC_BUSY)
        pc->pool->running--;
    pc->state = PC_CLOSING;
    net_conn_close(pc->c, on_closed, pc);
}

static void close_all(par_pool *p)
{
    for (unsigned i = 0; i < p->n; i++)
        conn_close(&p->conns[i]);
}

/* The next window into pc, or pc closes when none is left. */
static void start_next(par_conn *pc)
{
    par_pool *p = pc->pool;
    if (p->failed || p->next >= p->njobs) {
        conn_close(pc);
        return;
    }
    pc->job = p->next++;
    pc->attempts = 0;
    report(p, pc->job, "start", 0);
    send_job(pc);
}

/* pc's window (again, after a transient fault). */
static void send_job(par_conn *pc)
{
    par_pool *p = pc->pool;
    pc->rows = 0;
    pc->got_columns = pc->dropping = false;
    pc->clen = 0;
    const char *sql = p->jobs[pc->job].sql;
    pc->state = PC_BUSY;
    p->running++;
    int rc = net_conn_batch(pc->c, sql, strlen(sql), &rows_cb, pc);
    if (rc != NET_OK) {
        pc->state = PC_IDLE;
        p->running--;
        pool_fail(p, false, "cannot send the query of window %s: %s", p->jobs[pc->job].label, net_strerror(rc));
    }
}

static void on_open(net_conn *c, const net_error *e, void *ud)
{
    (void)c;
    par_conn *pc = ud;
    par_pool *p = pc->pool;
    if (pc->state != PC_OPENING)
        return;
    pc->state = PC_IDLE;
    if (e && e->code != NET_OK) {
        pool_fail(p, false, "cannot connect to SQL Server: %s", e->message[0] ? e->message : net_strerror(e->code));
        return;
    }
    start_next(pc);
}

static void on_tick(uv_timer_t *t)
{
    par_pool *p = t->data;
    if (p->cancel && *p->cancel)
        pool_fail(p, false, "the load was cancelled");
}

static int pool_start(par_pool *p, const net_opts *no)
{
    for (unsigned i = 0; i < p->n; i++) {
        par_conn *pc = &p->conns[i];
        pc->pool = p;
        uv_timer_init(&p->loop, &pc->retry);
        pc->retry.data = pc;
        pc->retry_init = true;
        net_error ne;
        memset(&ne, 0, sizeof ne);
        pc->c = net_conn_new(&p->loop, no, &ne);
        if (!pc->c) {
            pool_fail(p, false, "cannot connect to SQL Server: %s", ne.message[0] ? ne.message : net_strerror(ne.code));
            return -1;
        }
        p->live++;
        pc->state = PC_OPENING;
        if (net_conn_open(pc->c, on_open, pc) != NET_OK) {
            pool_fail(p, false, "cannot connect to SQL Server");
            return -1;
        }
    }
    return 0;
}

int par_pool_run(const net_opts *no, unsigned nconn, const par_job *jobs, size_t njobs,
                 const volatile sig_atomic_t *cancel, const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    par_pool p;
    memset(&p, 0, sizeof p);
    p.n = nconn < njobs ? nconn : (unsigned)njobs;
    p.jobs = jobs;
    p.njobs = njobs;
    p.cancel = cancel;
    p.no = no;
    p.cb = cb;
    p.ud = ud;
    if (!p.n || !(p.conns = calloc(p.n, sizeof *p.conns)))
        return pipe__fail(err, TDSPIPE_E_LOAD, p.n ? "out of memory" : "a parallel read without a window");
    if (uv_loop_init(&p.loop)) {
        free(p.conns);
        return pipe__fail(err, TDSPIPE_E_LOAD, "cannot start an event loop");
    }
    uv_timer_init(&p.loop, &p.tick);
    uv_timer_init(&p.loop, &p.stopper);
    p.tick.data = p.stopper.data = &p;
    uv_timer_start(&p.tick, on_tick, 100, 100);
    if (pool_start(&p, no) && !p.live) { /* nothing to wait for */
        uv_close((uv_handle_t *)&p.tick, NULL);
        uv_close((uv_handle_t *)&p.stopper, NULL);
        for (unsigned i = 0; i < p.n; i++)
            if (p.conns[i].retry_init)
                uv_close((uv_handle_t *)&p.conns[i].retry, NULL);
    }
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    for (unsigned i = 0; i < p.n; i++)
        free(p.conns[i].chunks);
    free(p.conns);
    free(p.types);
    if (p.failed && p.stopped)
        return PIPE_STOPPED; /* the engine knows why */
    if (p.failed) {
        if (err)
            *err = p.err;
        return TDSPIPE_E_LOAD;
    }
    return TDSPIPE_OK;
}
