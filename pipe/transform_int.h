/*
 * transform_int.h — ingestr's row transforms, --trim-whitespace and
 * --mask: the mask specs and their algorithms (mask.c), and the per-load
 * transform the load engine runs on each row when one was asked for
 * (transform.c). A load without either never reaches this code: the row
 * path tests one pointer. Not installed.
 */
#ifndef TDSPIPE_TRANSFORM_INT_H
#define TDSPIPE_TRANSFORM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "pipe.h"

/* ------------------------------------------------------------ mask.c */

typedef enum pipe_mask_alg {
    PIPE_MASK_SHA256,  /* "hash", "sha256": hex SHA-256 of the value's text */
    PIPE_MASK_MD5,     /* hex MD5 */
    PIPE_MASK_HMAC,    /* hex HMAC-SHA256 keyed with the param (required) */
    PIPE_MASK_REDACT,  /* "REDACTED" */
    PIPE_MASK_STARS,   /* one '*' per character */
    PIPE_MASK_FIXED,   /* the param, or "MASKED" without one */
    PIPE_MASK_PARTIAL, /* first and last N characters (param, default 2),
                          '*' between; all '*' when 2N or shorter */
} pipe_mask_alg;

/* One "column:algorithm[:param]" (ingestr's syntax: split at the first
 * two ':'; the algorithm's case does not matter). Strings are owned. */
typedef struct pipe_mask {
    char *column;
    pipe_mask_alg alg;
    char *param;       /* NULL when none was given */
    size_t chars;      /* partial: characters kept at each end */
    struct pipe_digest *dg; /* digests: OpenSSL's objects, fetched once (an
                               implicit fetch per value costs ~1 µs) */
} pipe_mask;

/* A growable byte buffer. */
typedef struct pipe_bytes {
    char *p;
    size_t len, cap;
} pipe_bytes;

/* Returns 0, or -1 with a one-line reason in why (never quoting the hmac
 * key): bad syntax, an unknown algorithm, an ingestr algorithm tdspipe
 * does not have, hmac without a key, out of memory. */
int pipe_mask_parse(const char *spec, pipe_mask *m, char *why, size_t cap);
void pipe_mask_free(pipe_mask *m);
/* The masked text of the UTF-8 text in[0..len) into out (replaced); a
 * digest's OpenSSL objects are made at the first call and kept in m.
 * Returns 0, or -1 when out of memory (or OpenSSL fails). */
int pipe_mask_apply(pipe_mask *m, const char *in, size_t len, pipe_bytes *out);

int pipe_bytes_reserve(pipe_bytes *b, size_t n);
void pipe_bytes_free(pipe_bytes *b);

/* ------------------------------------------------------- transform.c */

typedef struct pipe_xform pipe_xform;

/* The transform o asks for: *out NULL when neither trim_whitespace nor a
 * mask is given. Returns 0, or TDSPIPE_E_USAGE / TDSPIPE_E_LOAD with a
 * line in why. */
int pipe_xform_new(const tdspipe_load_opts *o, pipe_xform **out, char *why, size_t cap);
void pipe_xform_free(pipe_xform *x);
/* Binds the masks to the source's columns (by name, ASCII case-insensitive)
 * and gives the columns the destination is built from: a masked column
 * becomes nvarchar (its values are text), name and nullability kept.
 * *out lives as long as x. Returns 0, or TDSPIPE_E_USAGE (a mask names a
 * column the source does not have) / TDSPIPE_E_LOAD with a line in why. */
int pipe_xform_columns(pipe_xform *x, const tds_column *cols, size_t ncols, const tds_column **out, char *why,
                       size_t cap);
/* A chunk of a streamed (max) value of source column col: 1 when x keeps
 * it (the column is transformed, its value is handed whole with the row),
 * 0 when the caller passes it on, -1 out of memory. */
int pipe_xform_chunk(pipe_xform *x, size_t col, const uint8_t *data, size_t len);
/* The row with its transformed values; *out lives until the next call.
 * Returns 0, or TDSPIPE_E_LOAD with a line in why. */
int pipe_xform_row(pipe_xform *x, const tds_value *in, const tds_value **out, char *why, size_t cap);

/* Trims whitespace off both ends of a text value in place (a narrower
 * view): nchar (UTF-16LE) drops every Unicode space Go's unicode.IsSpace
 * knows, char (code-page) text ASCII whitespace only. */
void pipe_trim_value(const tds_column *c, tds_value *v);

#endif /* TDSPIPE_TRANSFORM_INT_H */
