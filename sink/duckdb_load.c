/*
 * duckdb_load.c — loads libduckdb.so at run time and fills the function
 * table of duckdb_int.h, once per process: the path given, else
 * $TDSPIPE_DUCKDB_LIB, else the loader path, /usr/local/lib, /usr/lib,
 * then ~/.cache/tdspipe/duckdb (where scripts/get_duckdb.sh puts it).
 *
 * Thread-safe: several threads may open sinks at once. A mutex guards the
 * one published table; a failed load publishes nothing, so a later call
 * (perhaps with another path) tries again.
 */
#ifndef SINK_FULLY_STATIC
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "duckdb_int.h"
#include "sink_int.h"

/* ----------------------------------------------------------- loader */

static pthread_mutex_t ddb_lock = PTHREAD_MUTEX_INITIALIZER;
static sink_ddb_api ddb_api; /* written once, under ddb_lock, then read-only */
static bool ddb_loaded;

static void *try_open(const char *path, char *why, size_t cap)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h && why && !why[0])
        snprintf(why, cap, "%s", dlerror());
    return h;
}

/* Finds and opens the library, fills *ddb. Returns false with err filled. */
static bool load(const char *path, sink_ddb_api *ddb, char *err, size_t errcap)
{
    char why[256] = "", home[512];
    void *h = NULL;
    const char *env = getenv("TDSPIPE_DUCKDB_LIB");
    if (path) {
        h = try_open(path, why, sizeof why);
    } else if (env && *env) {
        h = try_open(path = env, why, sizeof why);
    } else {
        static const char *const places[] = { "libduckdb.so", "/usr/local/lib/libduckdb.so",
                                              "/usr/lib/libduckdb.so", NULL };
        for (size_t i = 0; !h && places[i]; i++)
            h = try_open(path = places[i], why, sizeof why);
        const char *hd = getenv("HOME");
        if (!h && hd) {
            snprintf(home, sizeof home, "%s/.cache/tdspipe/duckdb/libduckdb.so", hd);
            h = try_open(path = home, NULL, 0);
        }
    }
    if (!h) {
        sink__errf(err, errcap, SINK_E_LIB,
                   "duckdb destination needs libduckdb.so: set TDSPIPE_DUCKDB_LIB or run scripts/get_duckdb.sh (%s)",
                   why);
        return false;
    }
#define LOAD(name)                                                             \
    do {                                                                       \
        *(void **)&ddb->name = dlsym(h, #name);                                \
        if (!ddb->name) {                                                      \
            sink__errf(err, errcap, SINK_E_LIB, "%s has no %s (too old?)",    \
                       path, #name);                                           \
            dlclose(h);                                                        \
            return false;                                                      \
        }                                                                      \
    } while (0)
    LOAD(duckdb_open_ext);
    LOAD(duckdb_close);
    LOAD(duckdb_connect);
    LOAD(duckdb_disconnect);
    LOAD(duckdb_query);
    LOAD(duckdb_destroy_result);
    LOAD(duckdb_result_error);
    LOAD(duckdb_row_count);
    LOAD(duckdb_column_count);
    LOAD(duckdb_value_varchar);
    LOAD(duckdb_free);
    LOAD(duckdb_library_version);
    LOAD(duckdb_appender_create);
    LOAD(duckdb_appender_error);
    LOAD(duckdb_appender_flush);
    LOAD(duckdb_appender_close);
    LOAD(duckdb_appender_destroy);
    LOAD(duckdb_appender_column_count);
    LOAD(duckdb_appender_column_type);
    LOAD(duckdb_append_data_chunk);
    LOAD(duckdb_destroy_logical_type);
    LOAD(duckdb_create_data_chunk);
    LOAD(duckdb_destroy_data_chunk);
    LOAD(duckdb_data_chunk_reset);
    LOAD(duckdb_data_chunk_set_size);
    LOAD(duckdb_data_chunk_get_vector);
    LOAD(duckdb_vector_get_data);
    LOAD(duckdb_vector_ensure_validity_writable);
    LOAD(duckdb_vector_get_validity);
    LOAD(duckdb_array_vector_get_child);
    LOAD(duckdb_validity_set_row_invalid);
    LOAD(duckdb_vector_assign_string_element_len);
    LOAD(duckdb_vector_size);
    LOAD(duckdb_unsafe_vector_assign_string_element_len);
    LOAD(duckdb_create_table_function);
    LOAD(duckdb_destroy_table_function);
    LOAD(duckdb_table_function_set_name);
    LOAD(duckdb_table_function_set_extra_info);
    LOAD(duckdb_table_function_set_bind);
    LOAD(duckdb_table_function_set_init);
    LOAD(duckdb_table_function_set_function);
    LOAD(duckdb_register_table_function);
    LOAD(duckdb_bind_get_extra_info);
    LOAD(duckdb_bind_add_result_column);
    LOAD(duckdb_bind_set_error);
    LOAD(duckdb_init_set_max_threads);
    LOAD(duckdb_init_get_extra_info);
    LOAD(duckdb_function_get_extra_info);
    LOAD(duckdb_function_set_error);
    LOAD(duckdb_vector_reference_vector);
    LOAD(duckdb_data_chunk_get_size);
#undef LOAD
    return true; /* stays loaded for the process's life */
}

const sink_ddb_api *sink__ddb_load(const char *path, char *err, size_t errcap)
{
    pthread_mutex_lock(&ddb_lock);
    if (!ddb_loaded) {
        sink_ddb_api fresh;
        if (load(path, &fresh, err, errcap)) {
            ddb_api = fresh;
            ddb_loaded = true;
        }
    }
    bool ok = ddb_loaded;
    pthread_mutex_unlock(&ddb_lock);
    return ok ? &ddb_api : NULL;
}

#else
typedef int sink__ddb_load_unused; /* no empty translation unit */
#endif /* SINK_FULLY_STATIC */
