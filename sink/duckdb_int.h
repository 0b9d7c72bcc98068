/*
 * duckdb_int.h — the DuckDB C API functions the DuckDB sink uses, loaded at
 * run time from libduckdb.so (no duckdb.h at build time). Handles are
 * declared as what the C API makes them: pointers to opaque structs, passed
 * as void *. duckdb_result follows duckdb.h's layout (six pointer-sized
 * fields, filled by duckdb_query). Tests reuse this loader to read back.
 */
#ifndef TDSPIPE_DUCKDB_INT_H
#define TDSPIPE_DUCKDB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t sink_ddb_idx;
typedef void *sink_ddb_handle; /* duckdb_database, _connection, _appender, … */

typedef struct sink_ddb_result {
    sink_ddb_idx deprecated_column_count;
    sink_ddb_idx deprecated_row_count;
    sink_ddb_idx deprecated_rows_changed;
    void *deprecated_columns;
    char *deprecated_error_message;
    void *internal_data;
} sink_ddb_result;

typedef struct sink_ddb_hugeint { uint64_t lower; int64_t upper; } sink_ddb_hugeint;

enum { SINK_DDB_SUCCESS = 0, SINK_DDB_ERROR = 1 };

typedef struct sink_ddb_api {
    int (*duckdb_open_ext)(const char *path, sink_ddb_handle *db, void *config, char **err);
    void (*duckdb_close)(sink_ddb_handle *db);
    int (*duckdb_connect)(sink_ddb_handle db, sink_ddb_handle *conn);
    void (*duckdb_disconnect)(sink_ddb_handle *conn);
    int (*duckdb_query)(sink_ddb_handle conn, const char *sql, sink_ddb_result *res);
    void (*duckdb_destroy_result)(sink_ddb_result *res);
    const char *(*duckdb_result_error)(sink_ddb_result *res);
    sink_ddb_idx (*duckdb_row_count)(sink_ddb_result *res);
    sink_ddb_idx (*duckdb_column_count)(sink_ddb_result *res);
    char *(*duckdb_value_varchar)(sink_ddb_result *res, sink_ddb_idx col, sink_ddb_idx row);
    void (*duckdb_free)(void *p);
    const char *(*duckdb_library_version)(void);
    int (*duckdb_appender_create)(sink_ddb_handle conn, const char *schema, const char *table,
                                  sink_ddb_handle *app);
    const char *(*duckdb_appender_error)(sink_ddb_handle app);
    int (*duckdb_appender_flush)(sink_ddb_handle app);
    int (*duckdb_appender_close)(sink_ddb_handle app);
    int (*duckdb_appender_destroy)(sink_ddb_handle *app);
    sink_ddb_idx (*duckdb_appender_column_count)(sink_ddb_handle app);
    sink_ddb_handle (*duckdb_appender_column_type)(sink_ddb_handle app, sink_ddb_idx col);
    int (*duckdb_append_data_chunk)(sink_ddb_handle app, sink_ddb_handle chunk);
    void (*duckdb_destroy_logical_type)(sink_ddb_handle *type);
    sink_ddb_handle (*duckdb_create_data_chunk)(sink_ddb_handle *types, sink_ddb_idx n);
    void (*duckdb_destroy_data_chunk)(sink_ddb_handle *chunk);
    void (*duckdb_data_chunk_reset)(sink_ddb_handle chunk);
    void (*duckdb_data_chunk_set_size)(sink_ddb_handle chunk, sink_ddb_idx size);
    sink_ddb_handle (*duckdb_data_chunk_get_vector)(sink_ddb_handle chunk, sink_ddb_idx col);
    void *(*duckdb_vector_get_data)(sink_ddb_handle vec);
    void (*duckdb_vector_ensure_validity_writable)(sink_ddb_handle vec);
    uint64_t *(*duckdb_vector_get_validity)(sink_ddb_handle vec);
    void (*duckdb_validity_set_row_invalid)(uint64_t *validity, sink_ddb_idx row);
    void (*duckdb_vector_assign_string_element_len)(sink_ddb_handle vec, sink_ddb_idx idx,
                                                    const char *s, sink_ddb_idx len);
    sink_ddb_idx (*duckdb_vector_size)(void);
    /* no UTF-8 check: our text is UTF-8 by construction (tds_value_text) */
    void (*duckdb_unsafe_vector_assign_string_element_len)(sink_ddb_handle vec, sink_ddb_idx idx,
                                                           const char *s, sink_ddb_idx len);
    /* a table function that hands DuckDB our chunks (duckdb_feed.c) */
    sink_ddb_handle (*duckdb_create_table_function)(void);
    void (*duckdb_destroy_table_function)(sink_ddb_handle *tf);
    void (*duckdb_table_function_set_name)(sink_ddb_handle tf, const char *name);
    void (*duckdb_table_function_set_extra_info)(sink_ddb_handle tf, void *extra, void (*destroy)(void *));
    void (*duckdb_table_function_set_bind)(sink_ddb_handle tf, void (*bind)(sink_ddb_handle info));
    void (*duckdb_table_function_set_init)(sink_ddb_handle tf, void (*init)(sink_ddb_handle info));
    void (*duckdb_table_function_set_function)(sink_ddb_handle tf,
                                               void (*fn)(sink_ddb_handle info, sink_ddb_handle out));
    int (*duckdb_register_table_function)(sink_ddb_handle conn, sink_ddb_handle tf);
    void *(*duckdb_bind_get_extra_info)(sink_ddb_handle info);
    void (*duckdb_bind_add_result_column)(sink_ddb_handle info, const char *name, sink_ddb_handle type);
    void (*duckdb_bind_set_error)(sink_ddb_handle info, const char *msg);
    void (*duckdb_init_set_max_threads)(sink_ddb_handle info, sink_ddb_idx n);
    void *(*duckdb_init_get_extra_info)(sink_ddb_handle info);
    void *(*duckdb_function_get_extra_info)(sink_ddb_handle info);
    void (*duckdb_function_set_error)(sink_ddb_handle info, const char *msg);
    void (*duckdb_vector_reference_vector)(sink_ddb_handle to, sink_ddb_handle from);
    sink_ddb_idx (*duckdb_data_chunk_get_size)(sink_ddb_handle chunk);
    /* FLOAT[n] (vector columns, ddb_types2025.c): the elements' vector */
    sink_ddb_handle (*duckdb_array_vector_get_child)(sink_ddb_handle vec);
} sink_ddb_api;

/* Loads libduckdb once: path, else $TDSPIPE_DUCKDB_LIB, else
 * "libduckdb.so" on the loader path, /usr/local/lib, /usr/lib, then
 * ~/.cache/tdspipe/duckdb (where scripts/get_duckdb.sh puts it). Returns
 * the table, or NULL with a one-line reason in err. */
const sink_ddb_api *sink__ddb_load(const char *path, char *err, size_t errcap);

#endif
