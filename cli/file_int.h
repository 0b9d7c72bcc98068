/*
 * file_int.h — what the file sources (CSV and JSONL) share: a field as
 * read from the file, column type inference from a sample, types from
 * --columns, and the conversion of a field into a value of its column
 * (file_types.c); one JSONL line into fields (jsonl_parse.c). The reader
 * that drives them is source_file.c.
 */
#ifndef TDSPIPE_FILE_INT_H
#define TDSPIPE_FILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tds.h"

/* A field: text as in the file (UTF-8), with what JSON said it was. */
typedef enum cli_fv_kind {
    CLI_FV_NULL = 0,   /* CSV: an empty unquoted field; JSON: null or absent */
    CLI_FV_STRING,     /* CSV fields: numbers, booleans, dates or text */
    CLI_FV_TEXT,       /* JSON strings: dates or text, never numbers */
    CLI_FV_INT,        /* JSON integers (exact up to 2^53) */
    CLI_FV_FLOAT,      /* other JSON numbers */
    CLI_FV_BOOL,       /* JSON true/false: text "true"/"false" */
    CLI_FV_JSON,       /* JSON objects and arrays: their compact text */
} cli_fv_kind;

typedef struct cli_fv {
    const char *p;
    size_t len;
    uint8_t kind;
} cli_fv;

/* Inference: every sampled field of a column goes through add; the
 * column type is then the narrowest that holds them all: bigint, float,
 * bit (true/false), date, datetime2(7), datetimeoffset(7) (every
 * timestamp has an offset or Z), else nvarchar(max). */
typedef struct cli_infer {
    bool seen;                    /* a non-NULL field */
    bool is_int, is_float, is_bool, is_date, is_ts, is_tstz, is_json;
} cli_infer;

void cli_infer_init(cli_infer *f);
void cli_infer_add(cli_infer *f, const cli_fv *v);
/* The column (name not set; nullable). */
int cli_infer_column(const cli_infer *f, tds_column *out);
/* A SQL Server type name as cli_colspec_parse writes it ("bigint",
 * "decimal(38,9)", "nvarchar(max)", "datetime2(7)", …). Returns 0 or -1. */
int cli_file_column(const char *sqltype, tds_column *out);

/* Bytes a field may take once encoded (the output buffer for encode). */
static inline size_t cli_fv_bound(const cli_fv *v) { return 2 * v->len + 64; }
/* Encodes v as a value of c into out (cap >= cli_fv_bound). Returns 0
 * with *n bytes (and *null for NULL), or -1 with a reason in why. */
int cli_fv_encode(const tds_column *c, const cli_fv *v, uint8_t *out, size_t cap, size_t *n, bool *null,
                  char *why, size_t whycap);

/* jsonl_parse.c: one line holding a JSON object. fn gets each member
 * (key, field) in order; its non-zero return stops the walk and is
 * returned. A line that is not an object gives -1 with a reason. */
typedef int (*cli_jsonl_fn)(void *ud, const char *key, const cli_fv *v);
int cli_jsonl_record(const char *line, size_t len, cli_jsonl_fn fn, void *ud, char *why, size_t whycap);

#endif
