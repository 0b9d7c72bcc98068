/*
 * test_loaders.c — the run-time loaders of libpq (sink/pq_load.c) and
 * libduckdb (sink/duckdb_load.c) called from 8 threads at once: every
 * thread gets the same complete table, a failed load publishes nothing,
 * and a later call with a good path still loads. (A ThreadSanitizer build
 * of this file is what shows the old unlocked loaders racing.)
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "duckdb_int.h"
#include "pq_int.h"

#define NTHREADS 8

typedef struct race {
    pthread_barrier_t start;
    const char *path; /* NULL: the loader's default search */
    bool duckdb;
    const void *got[NTHREADS];
    char err[NTHREADS][256];
} race;

typedef struct slot {
    race *r;
    int i;
} slot;

static void *racer(void *arg)
{
    slot *s = arg;
    race *r = s->r;
    pthread_barrier_wait(&r->start);
    if (r->duckdb)
        r->got[s->i] = sink__ddb_load(r->path, r->err[s->i], sizeof r->err[s->i]);
    else
        r->got[s->i] = sink__pq_load(r->path, r->err[s->i], sizeof r->err[s->i]);
    return NULL;
}

/* Runs the loader on NTHREADS threads released together. */
static void run_race(race *r)
{
    pthread_t th[NTHREADS];
    slot sl[NTHREADS];
    cr_assert_eq(pthread_barrier_init(&r->start, NULL, NTHREADS), 0);
    for (int i = 0; i < NTHREADS; i++) {
        sl[i] = (slot){r, i};
        r->err[i][0] = '\0';
        cr_assert_eq(pthread_create(&th[i], NULL, racer, &sl[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&r->start);
}

/* Every slot of a loaded table is filled: the table is an array of
 * function pointers. */
static void assert_complete(const void *table, size_t size)
{
    const unsigned char *p = table;
    for (size_t off = 0; off + sizeof(void (*)(void)) <= size; off += sizeof(void (*)(void))) {
        void (*fn)(void);
        memcpy(&fn, p + off, sizeof fn);
        cr_assert_not_null(fn, "slot %zu of the table is empty", off / sizeof fn);
    }
}

static void assert_all_same(const race *r, size_t size)
{
    cr_assert_not_null(r->got[0], "%s", r->err[0]);
    for (int i = 1; i < NTHREADS; i++)
        cr_assert_eq(r->got[i], r->got[0], "thread %d got another table (%s)", i, r->err[i]);
    assert_complete(r->got[0], size);
}

Test(loaders, pq_failure_publishes_nothing_then_eight_threads_load)
{
    race *r = calloc(1, sizeof *r);
    r->path = "/nonexistent/libpq.so.5";
    run_race(r);
    for (int i = 0; i < NTHREADS; i++) {
        cr_assert_null(r->got[i]);
        cr_assert(strstr(r->err[i], "/nonexistent/libpq.so.5") != NULL, "%s", r->err[i]);
    }
    r->path = NULL;
    run_race(r);
    assert_all_same(r, sizeof(sink_pq_api));
    /* Once loaded, the table is what every later call gets. */
    char err[256];
    cr_assert_eq(sink__pq_load("/nonexistent/libpq.so.5", err, sizeof err), r->got[0]);
    free(r);
}

Test(loaders, duckdb_failure_publishes_nothing_then_eight_threads_load)
{
    race *r = calloc(1, sizeof *r);
    r->duckdb = true;
    r->path = "/nonexistent/libduckdb.so";
    run_race(r);
    for (int i = 0; i < NTHREADS; i++) {
        cr_assert_null(r->got[i]);
        cr_assert(strstr(r->err[i], "libduckdb.so") != NULL, "%s", r->err[i]);
    }
    r->path = NULL; /* $TDSPIPE_DUCKDB_LIB or the usual places */
    run_race(r);
    assert_all_same(r, sizeof(sink_ddb_api));
    const sink_ddb_api *d = r->got[0];
    cr_assert_not_null(d->duckdb_library_version());
    free(r);
}
