/*
 * rows.h — the test table every sink test loads: one column of every
 * tds_kind the sinks map, rows of edge values built with the engine's own
 * encoders (tds_encode_*), and helpers to open, load and read files.
 */
#ifndef TDSPIPE_TEST_ROWS_H
#define TDSPIPE_TEST_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"

enum {
    C_ID, C_TI, C_SI, C_BI, C_BT, C_R, C_F, C_SM, C_M, C_D38, C_D5, C_D18,
    C_DATE, C_TM, C_TM3, C_DTM, C_SDT, C_DT2, C_DT23, C_DTO, C_G, C_VC, C_NC,
    C_NVM, C_VBM, C_X, NCOLS
};

/* Rows: 0 typical, 1 minima, 2 maxima, 3 NULLs (id only), 4 large values. */
#define NROWS 5

typedef struct rowset {
    tds_column cols[NCOLS];
    const char *names[NCOLS];
    tds_value vals[NROWS * NCOLS];
    size_t pk[1];
    uint8_t *arena;
    size_t used, cap;
    char *big_text;      /* row 4's nvarchar(max), UTF-8 */
    size_t big_text_len;
    uint8_t *big_bin;    /* row 4's varbinary(max) */
    size_t big_bin_len;
} rowset;

/* Builds the table and rows (aborts the test on any engine error). */
void rows_build(rowset *rs);
void rows_free(rowset *rs);
/* The sink_table for rs with a name and strategy (pk = id, incremental
 * key = id). */
sink_table rows_table(const rowset *rs, const char *name, sink_strategy st);

/* A one-column-or-more tiny table for strategy tests: id int, v nvarchar,
 * with rows given as (id, text or NULL). */
typedef struct kv_table {
    tds_column cols[2];
    const char *names[2];
    size_t pk[1];
    tds_value *vals;
    uint8_t *arena;
    size_t n;
    uint8_t bound[2][8];
    tds_value bv[2];
} kv_table;
void kv_build(kv_table *t, const int *ids, const char *const *texts, size_t n);
void kv_free(kv_table *t);
sink_table kv_sink_table(const kv_table *t, const char *name, sink_strategy st);
/* Sets a delete+insert window [lo, hi) on the id column (a side < 0 is
 * left open). */
void kv_window(kv_table *k, sink_table *t, int lo, int hi);

/* Loads rows 0–2 of the test table into `table` (replace), then runs an
 * empty delete+insert keyed on column key_col (a date/time column) with
 * the window [lo, hi) given as text (NULL = open). */
void rows_window_load(const char *uri, const char *table, int key_col, const char *lo, const char *hi);

/* Opens uri, begins, appends batches of `per` rows, commits. Returns the
 * first failing sink_err (and leaves the message in msg). */
int load(const char *uri, const sink_table *t, const tds_value *vals, size_t nrows,
         size_t per, char *msg, size_t msgcap);
/* Same but aborts (no commit) after `batches` batches. */
int load_abort(const char *uri, const sink_table *t, const tds_value *vals, size_t nrows,
               size_t per, size_t batches);

/* Change Tracking merge (sink_table.cdc): table id int (key), v nvarchar
 * NULL, _cdc_lsn nvarchar(20) (the version zero-padded), _cdc_deleted bit,
 * stamp int NOT NULL (a column such as the load timestamp). */
typedef struct cdc_row {
    int id;
    const char *v;      /* NULL: NULL */
    unsigned lsn;
    bool del;
    int stamp;
} cdc_row;
/* Loads rows (two per batch) by cdc merge; asserts success. */
void cdc_load(const char *uri, const char *table, const cdc_row *rows, size_t n);
/* One text per row, "id|v|lsn|deleted|stamp" ('-' for NULL v), by id. */
#define CDC_SELECT(table)                                                                        \
    "SELECT CAST(id AS VARCHAR) || '|' || COALESCE(v, '-') || '|' || "                            \
    "CAST(CAST(_cdc_lsn AS BIGINT) AS VARCHAR) || '|' || CASE WHEN _cdc_deleted THEN '1' ELSE '0' END " \
    "|| '|' || CAST(stamp AS VARCHAR) FROM " table " ORDER BY id"
/* Asserts that the destination's CDC_SELECT gives want[0..n). */
typedef void (*cdc_check_fn)(const char *const *want, size_t n);
/* The shared cdc rule sequence (see rows.c): three loads into table, each
 * followed by check() with the rows the destination must then hold. */
void cdc_sequence(const char *uri, const char *table, cdc_check_fn check);

/* A fresh path under SINK_TEST_TMP ("<tmp>/<pid>-<name>"), removed first. */
const char *tmp_path(const char *name);
/* Reads a file (gunzip when gz). Caller frees. */
char *read_file(const char *path, bool gz, size_t *len);

#endif
