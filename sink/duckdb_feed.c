/*
 * duckdb_feed.c — DuckDB pulls our rows (duckdb_feed.h): the table
 * function tdspipe_feed(), a bounded queue of data chunks between the
 * load's thread (producer) and the thread running the statement
 * (consumer), and that thread's life.
 *
 * The scan hands DuckDB our chunk's vectors by reference
 * (duckdb_vector_reference_vector: no copy; the buffers live as long as
 * DuckDB holds them), then destroys our chunk. It asks for one thread by
 * default, so the rows keep their order (a Parquet file, a table's
 * insertion order); with threads=N (sink__ddb_feed_set_threads) N of
 * DuckDB's threads call the scan at once, each popping whole chunks
 * under the mutex, and the order is DuckDB's.
 */
#ifndef SINK_FULLY_STATIC
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "duckdb_feed.h"
#include "sink_int.h"

struct ddb_feed {
    const sink_ddb_api *api;
    pthread_mutex_t mu;
    pthread_cond_t changed;        /* queue, eof, cancel or done moved */
    sink_ddb_handle q[SINK_DDB_FEED_DEPTH];
    size_t head, n;                /* ring of chunks waiting */
    bool eof, cancel, done, running;
    int status;                    /* the statement's, once done */
    char err[400];
    pthread_t th;
    sink_ddb_handle conn;
    char *sql;
    size_t ncols;
    char *const *names;
    const sink_ddb_handle *types;
    unsigned threads;              /* DuckDB threads that may pull at once */
};

#define ddb (*f->api)

/* The callbacks get DuckDB's info handles only: the function table is
 * the one the process loaded (sink__ddb_load publishes it once). */
static const sink_ddb_api *api_of_process(void)
{
    return sink__ddb_load(NULL, NULL, 0);
}

/* ------------------------------------------------- the table function */

static void feed_bind(sink_ddb_handle info)
{
    ddb_feed *f = api_of_process()->duckdb_bind_get_extra_info(info);
    char name[32];
    for (size_t i = 0; i < f->ncols; i++) {
        snprintf(name, sizeof name, "c%zu", i);
        ddb.duckdb_bind_add_result_column(info, f->names ? f->names[i] : name, f->types[i]);
    }
}

static void feed_init(sink_ddb_handle info)
{
    const sink_ddb_api *api = api_of_process();
    const ddb_feed *f = api->duckdb_init_get_extra_info(info);
    api->duckdb_init_set_max_threads(info, f->threads); /* 1: one reader, the rows' order */
}

/* The next chunk, or none at the end; an error when the load gave up. */
static void feed_scan(sink_ddb_handle info, sink_ddb_handle out)
{
    ddb_feed *f = api_of_process()->duckdb_function_get_extra_info(info);
    pthread_mutex_lock(&f->mu);
    while (!f->n && !f->eof && !f->cancel)
        pthread_cond_wait(&f->changed, &f->mu);
    if (f->cancel) {
        pthread_mutex_unlock(&f->mu);
        ddb.duckdb_function_set_error(info, "tdspipe: the load was stopped");
        return;
    }
    sink_ddb_handle c = NULL;
    if (f->n) {
        c = f->q[f->head];
        f->head = (f->head + 1) % SINK_DDB_FEED_DEPTH;
        f->n--;
        pthread_cond_broadcast(&f->changed);
    }
    pthread_mutex_unlock(&f->mu);
    if (!c) {
        ddb.duckdb_data_chunk_set_size(out, 0);
        return;
    }
    for (size_t i = 0; i < f->ncols; i++)
        ddb.duckdb_vector_reference_vector(ddb.duckdb_data_chunk_get_vector(out, i),
                                           ddb.duckdb_data_chunk_get_vector(c, i));
    ddb.duckdb_data_chunk_set_size(out, ddb.duckdb_data_chunk_get_size(c));
    ddb.duckdb_destroy_data_chunk(&c);
}

/* ------------------------------------------------------ the statement */

static void *feed_thread(void *arg)
{
    ddb_feed *f = arg;
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb.duckdb_query(f->conn, f->sql, &r);
    pthread_mutex_lock(&f->mu);
    if (st != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_result_error(&r);
        snprintf(f->err, sizeof f->err, "%s", m ? m : "failed");
        char *nl = strpbrk(f->err, "\r\n");
        if (nl)
            *nl = '\0';
    }
    f->status = st == SINK_DDB_SUCCESS ? 0 : -1;
    f->done = true;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    ddb.duckdb_destroy_result(&r);
    return NULL;
}

ddb_feed *sink__ddb_feed_new(const sink_ddb_api *api, sink_ddb_handle conn, char *err, size_t errcap)
{
    ddb_feed *f = sink__calloc(1, sizeof *f);
    if (!f) {
        sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
        return NULL;
    }
    f->api = api;
    f->threads = 1;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->changed, NULL);
    sink_ddb_handle tf = ddb.duckdb_create_table_function();
    ddb.duckdb_table_function_set_name(tf, "tdspipe_feed");
    ddb.duckdb_table_function_set_extra_info(tf, f, NULL);
    ddb.duckdb_table_function_set_bind(tf, feed_bind);
    ddb.duckdb_table_function_set_init(tf, feed_init);
    ddb.duckdb_table_function_set_function(tf, feed_scan);
    int st = ddb.duckdb_register_table_function(conn, tf);
    ddb.duckdb_destroy_table_function(&tf);
    if (st != SINK_DDB_SUCCESS) {
        sink__errf(err, errcap, SINK_E_DEST, "duckdb: cannot register the feed function");
        sink__ddb_feed_free(f);
        return NULL;
    }
    return f;
}

void sink__ddb_feed_free(ddb_feed *f)
{
    if (!f)
        return;
    sink__ddb_feed_cancel(f);
    free(f->sql);
    pthread_cond_destroy(&f->changed);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

bool sink__ddb_feed_running(const ddb_feed *f) { return f && f->running; }

void sink__ddb_feed_set_threads(ddb_feed *f, unsigned n) { f->threads = n ? n : 1; }

int sink__ddb_feed_start(ddb_feed *f, sink_ddb_handle conn, const char *sql, size_t ncols,
                         char *const *names, const sink_ddb_handle *types, char *err, size_t errcap)
{
    if (f->running)
        return sink__errf(err, errcap, SINK_E_ARG, "duckdb: a feed is already running");
    free(f->sql);
    if (!(f->sql = sink__strdup(sql)))
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    f->conn = conn;
    f->ncols = ncols;
    f->names = names;
    f->types = types;
    f->head = f->n = 0;
    f->eof = f->cancel = f->done = false;
    f->status = 0;
    f->err[0] = '\0';
    if (sink__thread_start(&f->th, feed_thread, f))
        return sink__errf(err, errcap, SINK_E_NOMEM, "duckdb: cannot start a thread");
    f->running = true;
    return SINK_OK;
}

int sink__ddb_feed_push(ddb_feed *f, sink_ddb_handle chunk)
{
    pthread_mutex_lock(&f->mu);
    while (f->n == SINK_DDB_FEED_DEPTH && !f->done)
        pthread_cond_wait(&f->changed, &f->mu);
    bool done = f->done;
    if (!done) {
        f->q[(f->head + f->n) % SINK_DDB_FEED_DEPTH] = chunk;
        f->n++;
        pthread_cond_broadcast(&f->changed);
    }
    pthread_mutex_unlock(&f->mu);
    if (done)
        ddb.duckdb_destroy_data_chunk(&chunk);
    return done ? -1 : 0;
}

/* Joins the thread; chunks DuckDB never took are destroyed. */
static int feed_join(ddb_feed *f)
{
    pthread_join(f->th, NULL);
    f->running = false;
    while (f->n) {
        ddb.duckdb_destroy_data_chunk(&f->q[f->head]);
        f->head = (f->head + 1) % SINK_DDB_FEED_DEPTH;
        f->n--;
    }
    free(f->sql);
    f->sql = NULL;
    return f->status;
}

int sink__ddb_feed_finish(ddb_feed *f, char *err, size_t errcap)
{
    if (!f->running)
        return sink__errf(err, errcap, SINK_E_ARG, "duckdb: no feed is running");
    pthread_mutex_lock(&f->mu);
    f->eof = true;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    if (feed_join(f))
        return sink__errf(err, errcap, SINK_E_DEST, "duckdb: %s", f->err);
    return SINK_OK;
}

void sink__ddb_feed_cancel(ddb_feed *f)
{
    if (!f || !f->running)
        return;
    pthread_mutex_lock(&f->mu);
    f->cancel = true;
    pthread_cond_broadcast(&f->changed);
    pthread_mutex_unlock(&f->mu);
    (void)feed_join(f);
}

#else
typedef int sink__ddb_feed_unused; /* no empty translation unit */
#endif /* SINK_FULLY_STATIC */
