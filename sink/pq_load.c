/*
 * pq_load.c — loads libpq at run time (dlopen, default "libpq.so.5") and
 * fills the function table of pq_int.h, once per process. The binary
 * neither links libpq nor needs its header; a missing library is a clear
 * error at sink_open, not a failure to start.
 *
 * Thread-safe: several threads may open sinks at once. A mutex guards the
 * one published table; a failed load publishes nothing, so a later call
 * (perhaps with another path) tries again.
 */
#ifndef SINK_FULLY_STATIC
#include <dlfcn.h>
#include <pthread.h>

#include "pq_int.h"
#include "sink_int.h"

/* ----------------------------------------------------------- loader */

static pthread_mutex_t pq_lock = PTHREAD_MUTEX_INITIALIZER;
static sink_pq_api pq_api; /* written once, under pq_lock, then read-only */
static bool pq_loaded;

/* Opens path and fills *pq. Returns false with err filled. */
static bool load(const char *path, sink_pq_api *pq, char *err, size_t errcap)
{
    if (!path)
        path = "libpq.so.5";
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        sink__errf(err, errcap, SINK_E_LIB,
                   "postgresql destination needs %s (apt-get install libpq5): %s", path, dlerror());
        return false;
    }
#define LOAD(name)                                                                      \
    do {                                                                                \
        *(void **)&pq->name = dlsym(h, #name);                                          \
        if (!pq->name) {                                                                \
            sink__errf(err, errcap, SINK_E_LIB, "%s has no %s", path, #name);          \
            dlclose(h);                                                                 \
            return false;                                                               \
        }                                                                               \
    } while (0)
    LOAD(PQconnectdb);
    LOAD(PQstatus);
    LOAD(PQerrorMessage);
    LOAD(PQfinish);
    LOAD(PQexec);
    LOAD(PQexecParams);
    LOAD(PQresultStatus);
    LOAD(PQresultErrorMessage);
    LOAD(PQclear);
    LOAD(PQntuples);
    LOAD(PQnfields);
    LOAD(PQgetvalue);
    LOAD(PQgetlength);
    LOAD(PQgetisnull);
    LOAD(PQputCopyData);
    LOAD(PQputCopyEnd);
    LOAD(PQgetResult);
    LOAD(PQsetNoticeProcessor);
#undef LOAD
    return true; /* the handle stays open for the process's life */
}

const sink_pq_api *sink__pq_load(const char *path, char *err, size_t errcap)
{
    pthread_mutex_lock(&pq_lock);
    if (!pq_loaded) {
        sink_pq_api fresh;
        if (load(path, &fresh, err, errcap)) {
            pq_api = fresh;
            pq_loaded = true;
        }
    }
    bool ok = pq_loaded;
    pthread_mutex_unlock(&pq_lock);
    return ok ? &pq_api : NULL;
}

#else
typedef int sink__pq_load_unused; /* no empty translation unit */
#endif /* SINK_FULLY_STATIC */
