/*
 * mssql_parallel.c — the SQL Server sink's parallel bulk writers
 * (bulk_writers=K on the destination URI, docs/mssql-destination.md).
 *
 * Rows reach the sink on one thread as views valid only during the call:
 * each batch's wire values (ord column and json/vector text already made
 * by mssql_bulk.c) are copied into a job (a sink_rows buffer plus its
 * INSERT BULK text) and queued. Writer threads, started one at a time
 * only when a job waits and every started writer is busy (a one-batch
 * load uses one connection), each own a blocking net_client and send
 * INSERT BULK … WITH (TABLOCK) + one BulkLoadBCP message per job into a
 * heap stage. At most 2K jobs exist, so memory stays at about two batches
 * per writer and a slow server holds the producer back.
 *
 * The stage cannot be made inside the load's transaction (the writers'
 * sessions would wait for its locks), so writer 1's session drops and
 * creates "_tdspipe_bulk_<table>" (no key, no index: several TABLOCK
 * bulk loads into one heap share a BU lock and run at once) and commits
 * it; the load's own session keeps the transaction: the core's strategy
 * statements read the stage and drop or rename it in that transaction.
 * replace with a key becomes: DROP the target, CREATE it with its key,
 * INSERT … SELECT the stage (a heap cannot be renamed into a keyed table).
 *
 * Failure: the first writer error stops every writer (each finishes or
 * fails its current message), the load fails with that one line, the
 * abort rolls the transaction back and drops the stage: the destination is
 * as it was. Cancellation (sink_options.cancel) is watched by the
 * producer, which cancels the writers' clients (net_client_cancel):
 * writer threads never read the application's flag. Writer threads start
 * with every signal blocked (their own mask only), so signals stay with
 * the application's threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mssql_int.h"
#include "tds_ascii.h"

#define MS_PAR_MAX 64

typedef struct ms_job {
    sink_rows *rows;
    sink_buf sql;          /* INSERT BULK stage (…) WITH (TABLOCK, ROWS_PER_BATCH = n) */
    struct ms_job *next;
} ms_job;

typedef struct ms_writer {
    struct ms_par *par;
    unsigned no;           /* 1-based, for messages */
    pthread_t th;
    bool started;
    net_client *cl;
    tds_row_plan *plan;
} ms_writer;

typedef struct ms_par {
    pthread_mutex_t mu;
    pthread_cond_t work, freed;
    ms_job *jobs;          /* 2K of them */
    ms_job *free_list, *head, *tail;
    unsigned k, started, idle, busy;
    bool closing, failed;
    char err[400];
    net_opts wo;           /* the sink's options without its cancel flag: a
                              writer's client is cancelled by the producer
                              (net_client_cancel), never by reading the
                              application's signal flag from another thread */
    const tds_column *wcols;
    uint16_t nw;
    ms_writer w[MS_PAR_MAX];
} ms_par;

/* ------------------------------------------------------------ the URI */

int sink__ms_par_uri(char *uri, unsigned *k, char *err, size_t cap)
{
    static const char key[] = "bulk_writers=";
    *k = 1;
    char *q = strchr(uri, '?');
    if (!q)
        return SINK_OK;
    for (char *p = q + 1; *p;) {
        char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (tds_ascii_ncasecmp(p, key, sizeof key - 1)) {
            p = end ? end + 1 : p + len;
            continue;
        }
        char *e = NULL;
        unsigned long v = strtoul(p + sizeof key - 1, &e, 10);
        if (e != p + len || e == p + sizeof key - 1 || v < 1 || v > MS_PAR_MAX)
            return sink__errf(err, cap, SINK_E_URI, "bulk_writers must be a number from 1 to %d", MS_PAR_MAX);
        *k = (unsigned)v;
        if (!end) { /* the last one: cut it with its '?' or '&' */
            p[-1] = '\0';
            break;
        }
        memmove(p, end + 1, strlen(end + 1) + 1); /* the rest moves over it */
    }
    return SINK_OK;
}

/* ------------------------------------------------------------ writers */

/* Under p->mu: the first failure is kept; every writer's running
 * request is cancelled (net_client_cancel is thread-safe), the others
 * see p->failed before their next job. */
static void set_failed(ms_par *p, const char *fmt, const char *what, const char *msg)
{
    if (!p->failed)
        snprintf(p->err, sizeof p->err, fmt, what, msg);
    p->failed = true;
    for (unsigned i = 0; i < p->k; i++)
        if (p->w[i].cl)
            net_client_cancel(p->w[i].cl);
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->freed);
}

/* One job: INSERT BULK, then the BulkLoadBCP message. A failure inside
 * the message closes the connection (the server rolls that batch back). */
static int send_job(ms_writer *w, ms_job *j, net_error *ne)
{
    ms_par *p = w->par;
    net_result_cb none = {0};
    if (!w->cl) {
        net_client *cl = net_client_open(&p->wo, ne);
        if (!cl)
            return ne->code ? ne->code : NET_E_IO;
        pthread_mutex_lock(&p->mu); /* the producer may cancel it from now on */
        w->cl = cl;
        pthread_mutex_unlock(&p->mu);
    }
    if (net_client_batch(w->cl, j->sql.p, &none, NULL, ne))
        return ne->code;
    net_bulk *bk = net_bulk_begin(w->cl, p->wcols, p->nw, ne);
    if (!bk)
        return ne->code;
    sink_batch b = sink_rows_batch(j->rows);
    if (sink__ms_put_rows(p->wcols, &w->plan, bk, b.values, b.nrows, p->nw, ne)) {
        net_bulk_abort(bk);
        return ne->code ? ne->code : NET_E_IO;
    }
    uint64_t rows = 0;
    return net_bulk_end(bk, &rows, ne);
}

static void *writer_main(void *arg)
{
    ms_writer *w = arg;
    ms_par *p = w->par;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->closing && !p->failed) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->idle--;
        }
        if (p->failed || !p->head)
            break;
        ms_job *j = p->head;
        if (!(p->head = j->next))
            p->tail = NULL;
        p->busy++;
        pthread_mutex_unlock(&p->mu);
        net_error ne;
        memset(&ne, 0, sizeof ne);
        int rc = send_job(w, j, &ne);
        pthread_mutex_lock(&p->mu);
        p->busy--;
        j->next = p->free_list;
        p->free_list = j;
        pthread_cond_broadcast(&p->freed);
        if (rc) {
            char what[32];
            snprintf(what, sizeof what, "bulk writer %u", w->no);
            set_failed(p, "mssql: %s: %s", what, ne.message[0] ? ne.message : net_strerror(rc));
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Under p->mu. */
static int start_writer(ms_par *p)
{
    ms_writer *w = &p->w[p->started];
    if (sink__thread_start(&w->th, writer_main, w))
        return SINK_E_NOMEM;
    w->started = true;
    p->started++;
    return SINK_OK;
}

/* Every writer stopped (stop: without sending what is queued), joined,
 * disconnected; p freed. */
static void par_end(ms_par *p, bool stop)
{
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    if (stop)
        set_failed(p, "%s%s", "mssql: the load was abandoned", "");
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->k; i++) /* all joined first: a running writer's failure cancels every client */
        if (p->w[i].started)
            pthread_join(p->w[i].th, NULL);
    for (unsigned i = 0; i < p->k; i++) {
        ms_writer *w = &p->w[i];
        if (w->cl)
            net_client_close(w->cl);
        tds_row_plan_free(w->plan);
    }
    for (unsigned i = 0; i < 2 * p->k; i++) {
        sink_rows_free(p->jobs[i].rows);
        sink__buf_free(&p->jobs[i].sql);
    }
    free(p->jobs);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static ms_par *par_new(ms_sink *m)
{
    ms_par *p = sink__calloc(1, sizeof *p);
    unsigned k = m->bulk_writers;
    if (!p || !(p->jobs = sink__calloc(2 * k, sizeof *p->jobs))) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->k = k;
    for (unsigned i = 0; i < 2 * k; i++) {
        p->jobs[i].next = p->free_list;
        p->free_list = &p->jobs[i];
    }
    for (unsigned i = 0; i < k; i++) {
        p->w[i].par = p;
        p->w[i].no = i + 1;
    }
    p->wo = m->no;
    p->wo.cancel_flag = NULL;
    p->wcols = m->wcols;
    p->nw = (uint16_t)(m->q.sc.ncols + m->q.with_ord);
    return p;
}

/* ------------------------------------------------------------ the stage */

typedef struct found_req {
    bool found;
} found_req;

static int found_row(void *ud, const tds_column *c, uint16_t n, const tds_value *v)
{
    (void)c;
    ((found_req *)ud)->found = n && !(v[0].flags & TDS_VF_NULL);
    return NET_ROW_NEXT;
}

static int side_batch(ms_sink *m, net_client *cl, const char *sql, const char *what, bool *found)
{
    found_req f = {false};
    net_result_cb cb = {.row = found_row};
    net_error ne;
    memset(&ne, 0, sizeof ne);
    if (net_client_batch(cl, sql, &cb, &f, &ne))
        return sink__fail(&m->q.base, SINK_E_DEST, "mssql: bulk writer 1: %s: %s", what,
                          ne.message[0] ? ne.message : net_strerror(ne.code));
    if (found)
        *found = f.found;
    return SINK_OK;
}

/* Is the load's schema committed (visible to another session)? */
static int schema_visible(ms_sink *m, net_client *cl, bool *yes)
{
    sql_sink *q = &m->q;
    sink_buf b = {0};
    *yes = true;
    if (!q->sc.schema)
        return SINK_OK;
    int e = sink__buf_puts(&b, "SELECT SCHEMA_ID(N") || sink__sql_string(&b, q->sc.schema, strlen(q->sc.schema)) ||
            sink__buf_putc(&b, ')') || sink__buf_cstr(&b);
    int rc = e ? sink__sql_nomem(q) : side_batch(m, cl, b.p, "schema lookup", yes);
    sink__buf_free(&b);
    return rc;
}

/* The core's stage (made in the transaction) gives way to the heap
 * stage, made and committed on cl. */
static int make_stage(ms_sink *m, net_client *cl)
{
    sql_sink *q = &m->q;
    sink_buf *b = &q->sql;
    b->len = 0;
    if (q->staged && (sink__buf_puts(b, "DROP TABLE ") || sink__sql_table(q, b, q->stage) || sink__buf_cstr(b)))
        return sink__sql_nomem(q);
    if (q->staged && sink__ms_run(m, b->p, "drop stage"))
        return SINK_E_DEST;
    static const char pre[] = "_tdspipe_bulk_";
    size_t n = strlen(q->sc.table);
    char *name = sink__malloc(sizeof pre + n);
    if (!name)
        return sink__sql_nomem(q);
    memcpy(name, pre, sizeof pre - 1);
    memcpy(name + sizeof pre - 1, q->sc.table, n + 1);
    free(q->stage);
    q->stage = name;
    q->staged = true;
    q->staged_append |= q->sc.strategy == SINK_APPEND; /* INSERT … SELECT at commit */
    b->len = 0;
    int e = sink__buf_puts(b, "SET XACT_ABORT ON; SET NOCOUNT ON; DROP TABLE IF EXISTS ");
    e |= sink__sql_table(q, b, q->stage) || sink__buf_puts(b, ";\n");
    e |= sink__sql_create(q, b, "CREATE TABLE ", q->stage, q->with_ord, false) || sink__buf_cstr(b);
    if (e)
        return sink__sql_nomem(q);
    m->par_stage = true;
    return side_batch(m, cl, b->p, "create stage", NULL);
}

/* Writer 1's connection, opened here; its session makes the stage. */
int sink__ms_par_open(ms_sink *m)
{
    ms_par *p = par_new(m);
    if (!p)
        return sink__sql_nomem(&m->q);
    net_error ne;
    memset(&ne, 0, sizeof ne);
    net_client *cl = net_client_open(&p->wo, &ne);
    if (!cl) {
        par_end(p, true);
        return sink__fail(&m->q.base, SINK_E_DEST, "mssql: bulk writer 1: cannot connect: %s",
                          ne.message[0] ? ne.message : net_strerror(ne.code));
    }
    p->w[0].cl = cl; /* closed by par_end */
    bool visible = true;
    int rc = schema_visible(m, cl, &visible);
    if (!rc && visible)
        rc = make_stage(m, cl);
    if (rc || !visible) { /* !visible: a schema this load creates, one connection */
        par_end(p, true);
        return rc;
    }
    m->par = p;
    return SINK_OK;
}

/* ------------------------------------------------------------ the load */

static bool cancelled(const ms_sink *m)
{
    return m->no.cancel_flag && *m->no.cancel_flag;
}

/* Under p->mu: waits up to 100 ms for a writer's news; the program's
 * cancel flag (SIGINT) stops the writers. */
static void wait_freed(ms_sink *m, ms_par *p)
{
    if (cancelled(m)) {
        set_failed(p, "mssql: %s%s", "the load was cancelled", "");
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->freed, &p->mu, &ts);
}

/* A free job, waiting while every job is queued or being sent. */
static ms_job *take_free(ms_sink *m, ms_par *p)
{
    ms_job *j = NULL;
    pthread_mutex_lock(&p->mu);
    while (!p->failed && !(j = p->free_list))
        wait_freed(m, p);
    if (j && !p->failed)
        p->free_list = j->next;
    else
        j = NULL;
    pthread_mutex_unlock(&p->mu);
    return j;
}

static int par_failed(ms_sink *m)
{
    ms_par *p = m->par;
    pthread_mutex_lock(&p->mu);
    char msg[sizeof p->err];
    memcpy(msg, p->err, sizeof msg);
    pthread_mutex_unlock(&p->mu);
    return sink__fail(&m->q.base, SINK_E_DEST, "%s", msg[0] ? msg : "mssql: a bulk writer failed");
}

static int fill_job(ms_sink *m, ms_job *j, const tds_value *vals, size_t nrows)
{
    ms_par *p = m->par;
    if (!j->rows && !(j->rows = sink_rows_new(p->nw)))
        return SINK_E_NOMEM;
    sink_rows_reset(j->rows);
    for (size_t r = 0; r < nrows; r++)
        if (sink_rows_add(j->rows, vals + r * p->nw))
            return SINK_E_NOMEM;
    j->sql.len = 0;
    if (sink__ms_insert_bulk(&m->q, &j->sql, m->q.stage, nrows) || sink__buf_cstr(&j->sql))
        return SINK_E_NOMEM;
    return SINK_OK;
}

int sink__ms_par_rows(ms_sink *m, const tds_value *vals, size_t nrows)
{
    ms_par *p = m->par;
    ms_job *j = take_free(m, p);
    if (!j)
        return par_failed(m);
    int rc = fill_job(m, j, vals, nrows);
    pthread_mutex_lock(&p->mu);
    if (rc) { /* back to the free list */
        j->next = p->free_list;
        p->free_list = j;
    } else {
        j->next = NULL;
        if (p->tail)
            p->tail->next = j;
        else
            p->head = j;
        p->tail = j;
        /* a new writer only when this job would otherwise wait */
        if (!p->idle && p->started < p->k && start_writer(p))
            rc = p->started ? SINK_OK : SINK_E_NOMEM;
        pthread_cond_signal(&p->work);
    }
    pthread_mutex_unlock(&p->mu);
    return rc ? sink__fail(&m->q.base, rc, "mssql: bulk writers: out of memory or threads") : SINK_OK;
}

/* replace with a key: the heap stage is copied into a keyed target */
static int keyed_replace(ms_sink *m)
{
    sql_sink *q = &m->q;
    if (q->sc.strategy != SINK_REPLACE || !q->sc.npk)
        return SINK_OK;
    sink_buf *b = &q->sql;
    b->len = 0;
    int e = sink__buf_puts(b, "DROP TABLE IF EXISTS ") || sink__sql_table(q, b, q->sc.table) || sink__buf_puts(b, ";\n");
    e |= sink__sql_create(q, b, "CREATE TABLE ", q->sc.table, false, true) || sink__buf_cstr(b);
    if (e)
        return sink__sql_nomem(q);
    int rc = sink__ms_run(m, b->p, "replace");
    if (!rc) { /* the core then runs INSERT … SELECT the stage; DROP it */
        q->sc.strategy = SINK_APPEND;
        q->staged_append = true;
        q->target_new = true; /* WITH (TABLOCK): minimally logged into the empty table */
    }
    return rc;
}

int sink__ms_par_close(ms_sink *m)
{
    ms_par *p = m->par;
    pthread_mutex_lock(&p->mu);
    p->closing = true;
    pthread_cond_broadcast(&p->work);
    while ((p->head || p->busy) && !p->failed)
        wait_freed(m, p);
    bool failed = p->failed;
    pthread_mutex_unlock(&p->mu);
    int rc = failed ? par_failed(m) : SINK_OK;
    par_end(p, failed);
    m->par = NULL;
    return rc ? rc : keyed_replace(m);
}

void sink__ms_par_drop(ms_sink *m)
{
    if (m->par) {
        par_end(m->par, true);
        m->par = NULL;
    }
    if (!m->par_stage)
        return;
    sql_sink *q = &m->q;
    char keep[sizeof q->base.err];
    memcpy(keep, q->base.err, sizeof keep);
    if (q->in_txn) /* first: the transaction may hold the stage's locks */
        sink__ms_run(m, q->d->rollback_sql, "rollback");
    q->in_txn = false;
    sink_buf *b = &q->sql;
    b->len = 0;
    if (!sink__buf_puts(b, "DROP TABLE IF EXISTS ") && !sink__sql_table(q, b, q->stage) && !sink__buf_cstr(b))
        sink__ms_run(m, b->p, "drop stage");
    memcpy(q->base.err, keep, sizeof keep);
    m->par_stage = false;
}
