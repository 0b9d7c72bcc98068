/*
 * pq_load.c — loads libpq at run time (dlopen, default "libpq.so.5") and
 * fills the function table of pq_int.h, once per process. The binary
 * neither links libpq nor needs its header; a missing library is a clear
 * error at sink_open, not a failure to start.
 */
#ifndef SINK_FULLY_STATIC
#include <dlfcn.h>

#include "pq_int.h"
#include "sink_int.h"

/* ----------------------------------------------------------- loader */

static sink_pq_api pq;
static bool pq_loaded;

const sink_pq_api *sink__pq_load(const char *path, char *err, size_t errcap)
{
    if (pq_loaded)
        return &pq;
    if (!path)
        path = "libpq.so.5";
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        sink__errf(err, errcap, SINK_E_LIB,
                   "postgresql destination needs %s (apt-get install libpq5): %s", path, dlerror());
        return NULL;
    }
#define LOAD(name)                                                                      \
    do {                                                                                \
        *(void **)&pq.name = dlsym(h, #name);                                           \
        if (!pq.name) {                                                                 \
            sink__errf(err, errcap, SINK_E_LIB, "%s has no %s", path, #name);          \
            dlclose(h);                                                                 \
            return NULL;                                                                \
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
    pq_loaded = true; /* the handle stays open for the process's life */
    return &pq;
}

#else
typedef int sink__pq_load_unused; /* no empty translation unit */
#endif /* SINK_FULLY_STATIC */
