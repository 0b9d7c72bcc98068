/*
 * file_int.h — what the file sources (CSV and JSONL, src_file.c) share:
 *
 *   - a field as read from the file (pipe_fv), column type inference from
 *     a sample, types from --columns, and the conversion of a field into
 *     a value of its column (file_types.c);
 *   - numbers in the C locale whatever the process's (file_num.c);
 *   - one JSONL line into fields (jsonl_parse.c, cJSON loaded at run time);
 *   - the state of one file being read (file_src), which the readers
 *     (file_csv.c, file_jsonl.c) fill record by record and file_sample.c
 *     turns into columns (after the sample) and rows for the load engine.
 */
#ifndef TDSPIPE_FILE_INT_H
#define TDSPIPE_FILE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "pipe_int.h"
#include "tds.h"

/* A field: text as in the file (UTF-8), with what JSON said it was. */
typedef enum pipe_fv_kind {
    PIPE_FV_NULL = 0,   /* CSV: an empty unquoted field; JSON: null or absent */
    PIPE_FV_STRING,     /* CSV fields: numbers, booleans, dates or text */
    PIPE_FV_TEXT,       /* JSON strings: dates or text, never numbers */
    PIPE_FV_INT,        /* JSON integers (exact up to 2^53) */
    PIPE_FV_FLOAT,      /* other JSON numbers */
    PIPE_FV_BOOL,       /* JSON true/false: text "true"/"false" */
    PIPE_FV_JSON,       /* JSON objects and arrays: their compact text */
} pipe_fv_kind;

typedef struct pipe_fv {
    const char *p;
    size_t len;
    uint8_t kind;
} pipe_fv;

/* Inference: every sampled field of a column goes through add; the
 * column type is then the narrowest that holds them all: bigint, float,
 * bit (true/false), date, datetime2(7), datetimeoffset(7) (every
 * timestamp has an offset or Z), else nvarchar(max). */
typedef struct pipe_infer {
    bool seen;                    /* a non-NULL field */
    bool is_int, is_float, is_bool, is_date, is_ts, is_tstz, is_json;
} pipe_infer;

void pipe_infer_init(pipe_infer *f);
void pipe_infer_add(pipe_infer *f, const pipe_fv *v);
/* The column (name not set; nullable). Returns 0 or -1. */
int pipe_infer_column(const pipe_infer *f, tds_column *out);
/* A SQL Server type name as pipe_colspec_parse writes it ("bigint",
 * "decimal(38,9)", "nvarchar(max)", "datetime2(7)", …). Returns 0 or -1
 * (not a type a file's text can be read as). */
int pipe_file_column(const char *sqltype, tds_column *out);

/* Bytes a field may take once encoded (the output buffer for encode). */
static inline size_t pipe_fv_bound(const pipe_fv *v) { return 2 * v->len + 64; }
/* Encodes v as a value of c into out (cap >= pipe_fv_bound). Returns 0
 * with *n bytes (and *null for NULL), or -1 with a reason in why. */
int pipe_fv_encode(const tds_column *c, const pipe_fv *v, uint8_t *out, size_t cap, size_t *n, bool *null,
                   char *why, size_t whycap);

/* jsonl_parse.c: one line holding a JSON object. fn gets each member
 * (key, field) in order; its non-zero return stops the walk and is
 * returned. A line that is not an object gives -1 with a reason; so does
 * a missing libcjson. Thread-safe (cJSON is loaded once). */
typedef int (*pipe_jsonl_fn)(void *ud, const char *key, const pipe_fv *v);
int pipe_jsonl_record(const char *line, size_t len, pipe_jsonl_fn fn, void *ud, char *why, size_t whycap);

/* ------------------------------------------------ one file being read */

#define PIPE_FILE_SAMPLE 1000            /* records held to infer types */
#define PIPE_FILE_MAX_RECORD (256u << 20) /* bytes of one record or line */
#define PIPE_FILE_MAX_COLS 4096
#define PIPE_FILE_READ_BUF (1u << 16)

typedef struct file_rec {
    pipe_fv *v;       /* n fields (text in the same block); later columns NULL */
    size_t n;
    uint64_t line;
} file_rec;

/* The reader's outcome, kept until read() returns. */
enum { FILE_OK = 0, FILE_FAILED = 1, FILE_STOPPED = 2 };

typedef struct file_src {
    bool jsonl;
    char *path;                  /* as given in the URI (messages name it) */
    gzFile gz;
    char *buf;                   /* PIPE_FILE_READ_BUF bytes for gzread */
    const pipe_colspec *specs;   /* --columns (the plan's) */
    size_t nspecs;
    const pipe_rows_cb *cb;
    void *ud;
    bool read_done;              /* read() runs once */
    /* columns */
    char **names;                /* as in the file */
    size_t ncols, capcols;
    tds_column *cols;
    char **outnames;             /* after --columns renames */
    pipe_infer *inf;
    size_t ninf;
    bool started;                /* columns sent */
    /* the sample */
    file_rec *sample;
    size_t nsample;
    /* one row being converted */
    pipe_fv *row;                /* ncols */
    uint8_t *arena;
    size_t arena_cap;
    tds_value *vals;
    size_t *voff;
    uint64_t line;
    int outcome;                 /* FILE_OK, FILE_FAILED, FILE_STOPPED */
    char msg[600];
} file_src;

/* Records the first failure (later ones keep it); returns -1. */
int file_fail(file_src *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define FILE_NOMEM(f) file_fail((f), "out of memory")

/* file_sample.c: column names as the reader finds them, then each record
 * of ncols fields (JSONL: already placed by column). The first
 * PIPE_FILE_SAMPLE records are held to infer the types; then columns and
 * rows go to the callbacks. file_end sends what is still held. Each
 * returns 0, or -1 with the outcome set. */
int file_add_name(file_src *f, const char *name, size_t n);
int file_find_name(const file_src *f, const char *name, size_t hint);
int file_record(file_src *f, const pipe_fv *row);
int file_end(file_src *f);
/* Frees the columns, sample and row buffers. */
void file_free_columns(file_src *f);

/* file_csv.c, file_jsonl.c: the whole file through file_record. 0 or -1. */
int file_read_csv(file_src *f);
int file_read_jsonl(file_src *f);
/* Fills f->buf from the file: bytes read, 0 at the end, -1 with the
 * outcome set on a read error. */
int file_fill(file_src *f);

#endif
