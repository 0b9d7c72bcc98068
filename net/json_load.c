/*
 * json_load.c — loads cJSON (libcjson.so.1) on first use with dlopen, as
 * the PostgreSQL and DuckDB sinks load theirs, so tdspipe stays one file
 * that needs cJSON only for JSONL sources and Entra sign-in (Debian ships no
 * static libcjson). The load runs once (pthread_once): loads in several
 * threads may meet here, and the table is written before any of them reads
 * it. A fully static build (TDSPIPE_NO_DLOPEN) loads nothing.
 */
#include <pthread.h>
#include <stdbool.h>

#ifndef TDSPIPE_NO_DLOPEN
#include <dlfcn.h>
#endif

#include "json_load.h"

#ifndef TDSPIPE_NO_DLOPEN
static pthread_once_t cjson_once = PTHREAD_ONCE_INIT;
static net_json_api cjson; /* written once, under cjson_once */
static bool cjson_ok;

static void cjson_load(void)
{
    void *h = dlopen("libcjson.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libcjson.so", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    net_json_api a;
    *(void **)&a.parse = dlsym(h, "cJSON_ParseWithLengthOpts");
    *(void **)&a.del = dlsym(h, "cJSON_Delete");
    *(void **)&a.print = dlsym(h, "cJSON_PrintUnformatted");
    *(void **)&a.free_ = dlsym(h, "cJSON_free");
    if (!a.parse || !a.del || !a.print || !a.free_) {
        dlclose(h);
        return;
    }
    cjson = a;
    cjson_ok = true;
}
#endif

int net_json_load(const net_json_api **out)
{
    *out = NULL;
#ifdef TDSPIPE_NO_DLOPEN
    return NET_JSON_STATIC;
#else
    pthread_once(&cjson_once, cjson_load);
    if (!cjson_ok)
        return NET_JSON_MISSING;
    *out = &cjson;
    return NET_JSON_OK;
#endif
}
