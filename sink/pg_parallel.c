/*
 * pg_parallel.c — PostgreSQL with several COPY connections into the stage
 * (`copy_writers=K`, K >= 2, in the destination URI; issue 16).
 *
 * The stage of a load with writers is a regular table that other sessions
 * can see: "_tdspipe_p<pid>_<table>" (pid: the main connection's backend),
 * created and committed by writer 0 before any row moves — UNLOGGED
 * unless it becomes the target (replace renames it; an UNLOGGED target
 * would lose its rows in a crash). The core's in-transaction stage is
 * dropped again and q->stage names ours, so the strategy (swap, merge,
 * INSERT … SELECT) runs unchanged on the main connection in its one
 * transaction, and drops the stage. Rows still arrive on one thread: the
 * caller encodes binary COPY into 1 MB buffers (postgres.c) and hands full
 * ones to a bounded queue; K writer threads, each with its own PGconn
 * (libpq is thread-safe per connection) and its own COPY transaction,
 * take whichever buffer is next. A full queue blocks the caller: memory
 * stays at (2K + K + 1) buffers whatever the table.
 *
 * Failure: the first writer error stops every writer (each ends its COPY
 * with an error, so the server discards it), the load fails with that one
 * line, and the drop (sink__pg_par_drop) rolls the main transaction back
 * and drops the stage: the target is as before. A stage left by a crash
 * (its backend pid no longer in pg_stat_activity) is dropped by the next
 * load into the same table. A schema this load creates is invisible to
 * the writers until the commit: such a load uses the main connection only.
 *
 * Library rule: the writer threads start with every signal blocked
 * (sink__thread_start), so signals still go to the application's threads.
 */
#ifndef SINK_FULLY_STATIC
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "pq_int.h"
#include "sql_int.h"

#define PAR_MAX 16
#define QCAP (2 * PAR_MAX)
#define FLUSH_AT (1u << 20)

typedef struct pg_par pg_par;

typedef struct pg_writer {
    pg_par *par;
    PGconn *conn;
    pthread_t th;
    bool started;
} pg_writer;

struct pg_par {
    const sink_pq_api *api;
    unsigned k, qcap;
    pg_writer w[PAR_MAX];
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    sink_buf queue[QCAP], spare[QCAP + PAR_MAX + 1];
    size_t qhead, qn, nspare;
    bool done, failed;
    char err[400];
    char *conninfo;     /* to drop the stage when the main connection is lost */
    sink_buf drop_sql;  /* DROP TABLE IF EXISTS <stage> */
    bool stage_live;    /* the stage may exist: drop it at the end */
};

#define pq (*par->api)

/* The first failure wins; every writer and the producer stop. */
static void par_fail(pg_par *par, const char *what, const char *msg)
{
    pthread_mutex_lock(&par->mu);
    if (!par->failed) {
        par->failed = true;
        snprintf(par->err, sizeof par->err, "%s: %s", what, msg && *msg ? msg : "failed");
        par->err[strcspn(par->err, "\r\n")] = '\0';
    }
    pthread_cond_broadcast(&par->not_empty);
    pthread_cond_broadcast(&par->not_full);
    pthread_mutex_unlock(&par->mu);
}

static int put_all(pg_par *par, PGconn *c, const char *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        int chunk = n - off > (1u << 30) ? (1 << 30) : (int)(n - off);
        if (pq.PQputCopyData(c, p + off, chunk) != 1)
            return -1;
        off += (size_t)chunk;
    }
    return 0;
}

/* Next full buffer, or false when the load is done or failed. */
static bool take(pg_par *par, sink_buf *out)
{
    pthread_mutex_lock(&par->mu);
    while (!par->qn && !par->done && !par->failed)
        pthread_cond_wait(&par->not_empty, &par->mu);
    bool got = par->qn && !par->failed;
    if (got) {
        *out = par->queue[par->qhead];
        par->qhead = (par->qhead + 1) % par->qcap;
        par->qn--;
        pthread_cond_signal(&par->not_full);
    }
    pthread_mutex_unlock(&par->mu);
    return got;
}

static void recycle(pg_par *par, sink_buf *b)
{
    b->len = 0;
    pthread_mutex_lock(&par->mu);
    if (par->nspare < sizeof par->spare / sizeof par->spare[0])
        par->spare[par->nspare++] = *b;
    else
        sink__buf_free(b);
    pthread_mutex_unlock(&par->mu);
}

/* Ends this writer's COPY: the trailer and its result, or an abort that
 * makes the server discard what it received. */
static void end_copy(pg_par *par, PGconn *c, bool ok)
{
    static const char trailer[2] = { '\xFF', '\xFF' };
    if (ok && put_all(par, c, trailer, 2))
        ok = false, par_fail(par, "copy", pq.PQerrorMessage(c));
    if (pq.PQputCopyEnd(c, ok ? NULL : "tdspipe: load aborted") != 1 && ok)
        ok = false, par_fail(par, "copy", pq.PQerrorMessage(c));
    PGresult *r;
    while ((r = pq.PQgetResult(c))) {
        if (ok && pq.PQresultStatus(r) != SINK_PGRES_COMMAND_OK)
            ok = false, par_fail(par, "copy", pq.PQresultErrorMessage(r));
        pq.PQclear(r);
    }
}

static void *writer_main(void *arg)
{
    pg_writer *w = arg;
    pg_par *par = w->par;
    sink_buf b;
    bool ok = true;
    while (ok && take(par, &b)) {
        if (put_all(par, w->conn, b.p, b.len)) {
            par_fail(par, "copy", pq.PQerrorMessage(w->conn));
            ok = false;
        }
        recycle(par, &b);
    }
    pthread_mutex_lock(&par->mu);
    ok = ok && !par->failed;
    pthread_mutex_unlock(&par->mu);
    end_copy(par, w->conn, ok);
    return NULL;
}

/* Hands *out to the writers once it holds FLUSH_AT bytes (always when
 * force), leaving an empty buffer in its place; waits while the queue is
 * full. Returns 0, or SINK_E_DEST when a writer failed. */
static int push(pg_par *par, sink_buf *out, bool force)
{
    if (!force && out->len < FLUSH_AT) {
        pthread_mutex_lock(&par->mu);
        bool failed = par->failed;
        pthread_mutex_unlock(&par->mu);
        return failed ? SINK_E_DEST : SINK_OK;
    }
    pthread_mutex_lock(&par->mu);
    while (par->qn == par->qcap && !par->failed)
        pthread_cond_wait(&par->not_full, &par->mu);
    if (!par->failed && out->len) {
        par->queue[(par->qhead + par->qn) % par->qcap] = *out;
        par->qn++;
        *out = par->nspare ? par->spare[--par->nspare] : (sink_buf){ 0 };
        pthread_cond_signal(&par->not_empty);
    }
    int rc = par->failed ? SINK_E_DEST : SINK_OK;
    pthread_mutex_unlock(&par->mu);
    return rc;
}

int sink__pg_par_send(pg_par *par, sink_buf *out, sql_sink *q)
{
    int rc = push(par, out, false);
    return rc ? sink__fail(&q->base, rc, "postgresql: %s", par->err) : SINK_OK;
}

/* Stops the writers (done: after the queue drains; else at once) and
 * waits for them. */
static void join_all(pg_par *par, bool done)
{
    pthread_mutex_lock(&par->mu);
    par->done = true;
    if (!done && !par->failed) {
        par->failed = true;
        snprintf(par->err, sizeof par->err, "load aborted");
    }
    pthread_cond_broadcast(&par->not_empty);
    pthread_cond_broadcast(&par->not_full);
    pthread_mutex_unlock(&par->mu);
    for (unsigned i = 0; i < par->k; i++) {
        if (par->w[i].started)
            pthread_join(par->w[i].th, NULL);
        par->w[i].started = false;
    }
}

int sink__pg_par_finish(pg_par *par, sink_buf *out, sql_sink *q)
{
    int rc = push(par, out, true);
    out->len = 0;
    join_all(par, rc == SINK_OK);
    if (par->failed)
        return sink__fail(&q->base, SINK_E_DEST, "postgresql: %s", par->err);
    return SINK_OK;
}

/* ---- connections and the stage ---- */

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs are not for users (postgres.c) */
}

/* libpq's messages span lines ("ERROR:  …\nDETAIL: …"): the first one */
static void first_line(char *dst, size_t cap, const char *msg)
{
    snprintf(dst, cap, "%s", msg ? msg : "");
    dst[strcspn(dst, "\r\n")] = '\0';
}

static int exec_on(pg_par *par, PGconn *c, const char *sql, const char *what, sql_sink *q)
{
    PGresult *r = pq.PQexec(c, sql);
    int st = r ? pq.PQresultStatus(r) : -1;
    int rc = SINK_OK;
    if (st != SINK_PGRES_COMMAND_OK && st != SINK_PGRES_TUPLES_OK && st != SINK_PGRES_COPY_IN) {
        char msg[400];
        first_line(msg, sizeof msg, r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(c));
        rc = sink__fail(&q->base, SINK_E_DEST, "postgresql: %s: %s", what, *msg ? msg : "failed");
    }
    pq.PQclear(r);
    return rc;
}

static PGconn *connect_one(pg_par *par, const char *conninfo, sql_sink *q)
{
    PGconn *c = pq.PQconnectdb(conninfo);
    if (!c || pq.PQstatus(c) != SINK_PQ_CONNECTION_OK) {
        char msg[400];
        first_line(msg, sizeof msg, c ? pq.PQerrorMessage(c) : "out of memory");
        sink__fail(&q->base, SINK_E_DEST, "postgresql: copy writer: cannot connect: %s", msg);
        if (c)
            pq.PQfinish(c);
        return NULL;
    }
    pq.PQsetNoticeProcessor(c, quiet, NULL);
    if (exec_on(par, c, "SET client_encoding = 'UTF8'", "copy writer setup", q)) {
        pq.PQfinish(c);
        return NULL;
    }
    return c;
}

/* One text value of a one-row query on c ($1, $2: args, NULL = SQL NULL);
 * NULL on error (message in q). */
static char *scalar(pg_par *par, PGconn *c, const char *sql, const char *a1, const char *a2, sql_sink *q)
{
    const char *v[2] = { a1, a2 };
    PGresult *r = pq.PQexecParams(c, sql, 2, NULL, v, NULL, NULL, 0);
    char *out = NULL;
    if (r && pq.PQresultStatus(r) == SINK_PGRES_TUPLES_OK) {
        const char *t = pq.PQntuples(r) == 1 && !pq.PQgetisnull(r, 0, 0) ? pq.PQgetvalue(r, 0, 0) : "";
        if (!(out = strdup(t)))
            sink__sql_nomem(q);
    } else {
        char msg[400];
        first_line(msg, sizeof msg, r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(c));
        sink__fail(&q->base, SINK_E_DEST, "postgresql: stage: %s", msg);
    }
    pq.PQclear(r);
    return out;
}

/* Stages of this table whose load's backend is gone (a crash) are
 * dropped; a running load's stage is left alone. $1 the load's schema
 * (NULL: the current one), $2 the table. Also says whether the schema is
 * visible to other sessions ('' when it is not: created by this load). */
static int drop_leftovers(pg_par *par, PGconn *c, sql_sink *q, bool *schema_seen)
{
    static const char find[] =
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = COALESCE($1, current_schema())) "
        "THEN NULL ELSE COALESCE((SELECT string_agg(format('DROP TABLE IF EXISTS %I.%I', n.nspname, c.relname), ';') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = COALESCE($1, current_schema()) AND c.relkind = 'r' "
        "AND c.relname ~ '^_tdspipe_p[0-9]+_' "
        "AND c.relname = left('_tdspipe_p' || substring(c.relname from '^_tdspipe_p([0-9]+)_') || '_' || $2, 63) "
        "AND substring(c.relname from '^_tdspipe_p([0-9]+)_')::int NOT IN "
        "(SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)), ';') END";
    char *drops = scalar(par, c, find, q->sc.schema, q->sc.table, q);
    if (!drops)
        return SINK_E_DEST;
    *schema_seen = *drops != '\0';
    int rc = *drops && strcmp(drops, ";") ? exec_on(par, c, drops, "drop a crashed load's stage", q) : SINK_OK;
    free(drops);
    return rc;
}

/* CREATE [UNLOGGED] TABLE "_tdspipe_p<pid>_<table>" on writer 0 (its own
 * transaction: committed, visible to every writer), then the core's
 * in-transaction stage goes and q->stage names ours. */
static int make_stage(pg_par *par, sql_sink *q, PGconn *main)
{
    PGresult *r = pq.PQexec(main, "SELECT pg_backend_pid()");
    char name[96];
    bool ok = r && pq.PQresultStatus(r) == SINK_PGRES_TUPLES_OK && pq.PQntuples(r) == 1;
    snprintf(name, sizeof name, "_tdspipe_p%s_", ok ? pq.PQgetvalue(r, 0, 0) : "0");
    pq.PQclear(r);
    if (!ok)
        return sink__fail(&q->base, SINK_E_DEST, "postgresql: stage: %s", "backend pid unknown");
    sink_buf full = { 0 }, b = { 0 };
    int e = sink__buf_puts(&full, name) || sink__buf_puts(&full, q->sc.table) || sink__buf_cstr(&full);
    /* replace renames the stage into the target: it must be logged */
    const char *head = q->sc.strategy == SINK_REPLACE ? "CREATE TABLE " : "CREATE UNLOGGED TABLE ";
    e |= e ? 0 : sink__sql_create(q, &b, head, full.p, q->with_ord, false) || sink__buf_cstr(&b);
    e |= e ? 0 : sink__buf_puts(&par->drop_sql, "DROP TABLE IF EXISTS ") ||
                 sink__sql_table(q, &par->drop_sql, full.p) || sink__buf_cstr(&par->drop_sql);
    int rc = e ? sink__sql_nomem(q) : exec_on(par, par->w[0].conn, b.p, "create stage", q);
    par->stage_live = rc == SINK_OK;
    b.len = 0;
    if (!rc && q->staged) {
        e = sink__buf_puts(&b, "DROP TABLE ") || sink__sql_table(q, &b, q->stage) || sink__buf_cstr(&b);
        rc = e ? sink__sql_nomem(q) : exec_on(par, main, b.p, "stage", q);
    }
    if (!rc) {
        /* an append into a table this load creates goes through our
         * stage too: the writers cannot see the new table */
        if (q->sc.strategy == SINK_APPEND)
            q->staged = q->staged_append = true;
        free(q->stage);
        q->stage = full.p;
        full.p = NULL;
    }
    sink__buf_free(&full);
    sink__buf_free(&b);
    return rc;
}

/* COPY stage FROM STDIN (FORMAT binary) and its header on every writer. */
static int start_copies(pg_par *par, sql_sink *q)
{
    static const char hdr[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    sink_buf b = { 0 };
    int e = sink__buf_puts(&b, "COPY ") || sink__sql_table(q, &b, q->stage);
    e |= sink__sql_bulk_cols(q, &b) || sink__buf_puts(&b, " FROM STDIN (FORMAT binary)") || sink__buf_cstr(&b);
    int rc = e ? sink__sql_nomem(q) : SINK_OK;
    for (unsigned i = 0; !rc && i < par->k; i++) {
        if (!(rc = exec_on(par, par->w[i].conn, b.p, "copy", q)) && put_all(par, par->w[i].conn, hdr, sizeof hdr))
            rc = sink__fail(&q->base, SINK_E_DEST, "postgresql: copy: cannot send");
    }
    sink__buf_free(&b);
    return rc;
}

/* The writer threads (sink__thread_start: every signal blocked in them). */
static int start_threads(pg_par *par, sql_sink *q)
{
    int rc = SINK_OK;
    for (unsigned i = 0; i < par->k && !rc; i++) {
        par->w[i].par = par;
        if (sink__thread_start(&par->w[i].th, writer_main, &par->w[i]))
            rc = sink__fail(&q->base, SINK_E_NOMEM, "postgresql: cannot start a copy writer");
        else
            par->w[i].started = true;
    }
    return rc;
}

static pg_par *par_new(const sink_pq_api *api, const char *conninfo, unsigned k)
{
    pg_par *par = sink__calloc(1, sizeof *par);
    if (!par)
        return NULL;
    par->api = api;
    par->k = k;
    par->qcap = 2 * k;
    if (!(par->conninfo = strdup(conninfo))) {
        free(par);
        return NULL;
    }
    pthread_mutex_init(&par->mu, NULL);
    pthread_cond_init(&par->not_empty, NULL);
    pthread_cond_init(&par->not_full, NULL);
    return par;
}

int sink__pg_par_open(pg_par **out, const sink_pq_api *api, const char *conninfo, unsigned k,
                      sql_sink *q, PGconn *main)
{
    pg_par *par = *out = par_new(api, conninfo, k);
    if (!par)
        return sink__sql_nomem(q);
    for (unsigned i = 0; i < k; i++)
        if (!(par->w[i].conn = connect_one(par, conninfo, q)))
            return SINK_E_DEST;
    bool schema_seen = false;
    int rc = drop_leftovers(par, par->w[0].conn, q, &schema_seen);
    if (rc)
        return rc;
    if (!schema_seen) {
        /* a schema this load creates is invisible to the writers until
         * the commit: one connection, as without copy_writers */
        sink__pg_par_free(out);
        return SINK_OK;
    }
    if ((rc = make_stage(par, q, main)) || (rc = start_copies(par, q)))
        return rc;
    return start_threads(par, q);
}

/* The writers stopped and closed (closing ends an unfinished COPY, which
 * the server then discards), everything freed. */
static void par_release(pg_par *par)
{
    join_all(par, false);
    for (unsigned i = 0; i < par->k; i++)
        if (par->w[i].conn)
            pq.PQfinish(par->w[i].conn);
    for (size_t i = 0; i < par->qn; i++)
        sink__buf_free(&par->queue[(par->qhead + i) % par->qcap]);
    for (size_t i = 0; i < par->nspare; i++)
        sink__buf_free(&par->spare[i]);
    sink__buf_free(&par->drop_sql);
    pthread_mutex_destroy(&par->mu);
    pthread_cond_destroy(&par->not_empty);
    pthread_cond_destroy(&par->not_full);
    free(par->conninfo);
    free(par);
}

void sink__pg_par_free(pg_par **pp)
{
    if (*pp)
        par_release(*pp);
    *pp = NULL;
}

/* Ends a load with writers that failed (or a sink that closes): the
 * writers stopped, the main transaction rolled back when still open, the
 * stage dropped (on the main connection, or a new one when that one is
 * lost). q->base.err is left as it is. */
void sink__pg_par_drop(pg_par **pp, sql_sink *q, PGconn *main)
{
    pg_par *par = *pp;
    if (!par)
        return;
    *pp = NULL;
    join_all(par, false);
    if (q->in_txn) {
        pq.PQclear(pq.PQexec(main, "ROLLBACK"));
        q->in_txn = false;
    }
    if (par->stage_live && par->drop_sql.p) {
        PGresult *r = pq.PQstatus(main) == SINK_PQ_CONNECTION_OK ? pq.PQexec(main, par->drop_sql.p) : NULL;
        bool ok = r && pq.PQresultStatus(r) == SINK_PGRES_COMMAND_OK;
        pq.PQclear(r);
        PGconn *c = ok ? NULL : pq.PQconnectdb(par->conninfo);
        if (c && pq.PQstatus(c) == SINK_PQ_CONNECTION_OK) {
            pq.PQsetNoticeProcessor(c, quiet, NULL);
            pq.PQclear(pq.PQexec(c, par->drop_sql.p));
        }
        if (c)
            pq.PQfinish(c);
    }
    par_release(par);
}

/* Takes "copy_writers=K" out of the URI's query (libpq would refuse it).
 * *k = 1 when absent. Returns 0 or SINK_E_URI with the message in err. */
int sink__pg_par_writers(char *uri, unsigned *k, char *err, size_t errcap)
{
    static const char key[] = "copy_writers=";
    *k = 1;
    char *qm = strchr(uri, '?');
    for (char *p = qm ? qm + 1 : NULL; p && *p;) {
        char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n < sizeof key - 1 || memcmp(p, key, sizeof key - 1)) {
            p = amp ? amp + 1 : NULL;
            continue;
        }
        char *end;
        unsigned long v = strtoul(p + sizeof key - 1, &end, 10);
        if (end != p + n || end == p + sizeof key - 1 || v < 1 || v > PAR_MAX)
            return sink__errf(err, errcap, SINK_E_URI, "postgresql: copy_writers must be 1 to %d", PAR_MAX);
        *k = (unsigned)v;
        /* cut "copy_writers=K" and one separator next to it */
        char *from = amp ? amp + 1 : p + n, *to = amp ? p : p - 1;
        memmove(to, from, strlen(from) + 1);
        p = to == p ? p : NULL;
    }
    return SINK_OK;
}

#else
typedef int sink__pg_parallel_unused; /* no empty translation unit */
#endif /* SINK_FULLY_STATIC */
