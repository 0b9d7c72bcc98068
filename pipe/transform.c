/*
 * transform.c — --trim-whitespace and --mask in the load's row path.
 *
 * Built once the source hands its columns: which source columns are
 * trimmed (text: char and nchar kinds) and which masked (the last mask
 * naming a column wins, as in ingestr), and the columns the destination is
 * built from (a masked column becomes nvarchar). Per row, a touched value
 * is trimmed first (a narrower view, no copy) then masked: its canonical
 * UTF-8 text (tds_value_text) through the algorithm, encoded as UTF-16LE
 * into a per-row buffer. sink_rows_add copies a row's bytes, so that
 * buffer only has to live until the row is added. A streamed (max) value
 * of a touched column is collected here and handed whole with its row.
 * NULLs stay NULL. Untouched columns pass as they came.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tds_ascii.h"
#include "transform_int.h"

struct pipe_xform {
    bool trim;
    pipe_mask *masks;
    size_t nmasks;
    size_t ncols;
    int *mask_of;          /* per source column: index into masks, or -1 */
    bool *trim_col;        /* per source column: a text column to trim */
    bool *touched;         /* trim_col or masked */
    pipe_bytes *pend;      /* per source column: a streamed value's chunks */
    tds_column *src;       /* the source's columns (types of the values in) */
    tds_column *cols;      /* the columns handed on */
    tds_value *vals;       /* the row handed on */
    size_t *off;           /* per column: offset of its bytes in out, or SIZE_MAX */
    pipe_bytes text, masked, out;
};

int pipe_xform_new(const tdspipe_load_opts *o, pipe_xform **out, char *why, size_t cap)
{
    *out = NULL;
    if (!o->trim_whitespace && !o->nmasks)
        return 0;
    pipe_xform *x = calloc(1, sizeof *x);
    if (!x || (o->nmasks && !(x->masks = calloc(o->nmasks, sizeof *x->masks)))) {
        free(x);
        snprintf(why, cap, "out of memory");
        return TDSPIPE_E_LOAD;
    }
    x->trim = o->trim_whitespace;
    for (; x->nmasks < o->nmasks; x->nmasks++) {
        char reason[300];
        if (pipe_mask_parse(o->masks[x->nmasks], &x->masks[x->nmasks], reason, sizeof reason)) {
            snprintf(why, cap, "--mask: %s", reason);
            pipe_xform_free(x);
            return strcmp(reason, "out of memory") ? TDSPIPE_E_USAGE : TDSPIPE_E_LOAD;
        }
    }
    *out = x;
    return 0;
}

void pipe_xform_free(pipe_xform *x)
{
    if (!x)
        return;
    for (size_t i = 0; i < x->nmasks; i++)
        pipe_mask_free(&x->masks[i]);
    for (size_t i = 0; x->pend && i < x->ncols; i++)
        pipe_bytes_free(&x->pend[i]);
    free(x->masks);
    free(x->mask_of);
    free(x->trim_col);
    free(x->touched);
    free(x->pend);
    free(x->src);
    free(x->cols);
    free(x->vals);
    free(x->off);
    pipe_bytes_free(&x->text);
    pipe_bytes_free(&x->masked);
    pipe_bytes_free(&x->out);
    free(x);
}

static bool is_text(const tds_column *c) { return c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR; }

/* nvarchar for a masked column: the digests' exact width, else (max). */
static int retype(tds_column *c, const pipe_mask *m)
{
    tds_column keep = *c;
    uint32_t chars = m->alg == PIPE_MASK_MD5 ? 32 : m->alg <= PIPE_MASK_HMAC ? 64 : m->alg == PIPE_MASK_REDACT ? 8 : 0;
    if (tds_column_init(c, TDS_T_NVARCHAR, chars ? 2 * chars : 0xFFFF, 0, 0) != TDS_OK)
        return -1;
    c->name = keep.name;
    c->ordinal = keep.ordinal;
    c->flags = (uint16_t)((c->flags & ~TDS_COL_NULLABLE) | (keep.flags & TDS_COL_NULLABLE));
    return 0;
}

static int alloc_columns(pipe_xform *x, size_t n)
{
    x->ncols = n;
    x->mask_of = malloc((n + 1) * sizeof *x->mask_of);
    x->trim_col = calloc(n + 1, sizeof *x->trim_col);
    x->touched = calloc(n + 1, sizeof *x->touched);
    x->pend = calloc(n + 1, sizeof *x->pend);
    x->src = calloc(n + 1, sizeof *x->src);
    x->cols = calloc(n + 1, sizeof *x->cols);
    x->vals = calloc(n + 1, sizeof *x->vals);
    x->off = calloc(n + 1, sizeof *x->off);
    return x->mask_of && x->trim_col && x->touched && x->pend && x->src && x->cols && x->vals && x->off ? 0 : -1;
}

int pipe_xform_columns(pipe_xform *x, const tds_column *cols, size_t ncols, const tds_column **out, char *why,
                       size_t cap)
{
    if (!x->cols && alloc_columns(x, ncols)) {
        snprintf(why, cap, "out of memory");
        return TDSPIPE_E_LOAD;
    }
    memcpy(x->src, cols, ncols * sizeof *cols);
    memcpy(x->cols, cols, ncols * sizeof *cols);
    for (size_t c = 0; c < ncols; c++) {
        x->mask_of[c] = -1;
        x->trim_col[c] = x->trim && is_text(&cols[c]);
    }
    for (size_t m = 0; m < x->nmasks; m++) {
        bool found = false;
        for (size_t c = 0; c < ncols; c++)
            if (cols[c].name.ptr && !tds_ascii_casecmp(cols[c].name.ptr, x->masks[m].column)) {
                x->mask_of[c] = (int)m;
                found = true;
            }
        if (!found) {
            snprintf(why, cap, "--mask: the source has no column '%.128s'", x->masks[m].column);
            return TDSPIPE_E_USAGE;
        }
    }
    for (size_t c = 0; c < ncols; c++) {
        x->touched[c] = x->trim_col[c] || x->mask_of[c] >= 0;
        if (x->mask_of[c] >= 0 && retype(&x->cols[c], &x->masks[x->mask_of[c]])) {
            snprintf(why, cap, "cannot build the masked column '%.128s'", x->masks[x->mask_of[c]].column);
            return TDSPIPE_E_LOAD;
        }
    }
    *out = x->cols;
    return 0;
}

int pipe_xform_chunk(pipe_xform *x, size_t col, const uint8_t *data, size_t len)
{
    if (!x->cols || col >= x->ncols || !x->touched[col])
        return 0;
    pipe_bytes *b = &x->pend[col];
    if (pipe_bytes_reserve(b, len))
        return -1;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 1;
}

/* The canonical text of v (source column c) into x->text. */
static int value_text(pipe_xform *x, const tds_column *c, const tds_value *v)
{
    for (;;) {
        size_t n = 0;
        if (pipe_bytes_reserve(&x->text, 64))
            return -1;
        int rc = tds_value_text(c, v, x->text.p, x->text.cap, &n);
        if (rc == TDS_OK) {
            x->text.len = n;
            return 0;
        }
        if (rc != TDS_E_SPACE || n + 1 <= x->text.cap || pipe_bytes_reserve(&x->text, n + 1))
            return -1;
    }
}

/* Masks value c (already trimmed) into x->out; its offset in x->off[c]. */
static int mask_value(pipe_xform *x, size_t c, const tds_column *src, tds_value *v, char *why, size_t cap)
{
    pipe_mask *m = &x->masks[x->mask_of[c]];
    if (value_text(x, src, v)) {
        snprintf(why, cap, "--mask: cannot read a value of column '%.128s' as text", m->column);
        return -1;
    }
    if (pipe_mask_apply(m, x->text.p, x->text.len, &x->masked) || pipe_bytes_reserve(&x->out, 2 * x->masked.len)) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    int n = tds_encode_text(&x->cols[c], x->masked.p, x->masked.len, (uint8_t *)x->out.p + x->out.len,
                            x->out.cap - x->out.len);
    if (n < 0) {
        snprintf(why, cap, "--mask: cannot encode a masked value of column '%.128s'", m->column);
        return -1;
    }
    x->off[c] = x->out.len;
    x->out.len += (size_t)n;
    *v = (tds_value){NULL, (uint32_t)n, 0};
    return 0;
}

int pipe_xform_row(pipe_xform *x, const tds_value *in, const tds_value **out, char *why, size_t cap)
{
    x->out.len = 0;
    int rc = 0;
    for (size_t c = 0; c < x->ncols; c++) {
        tds_value v = in[c];
        x->off[c] = SIZE_MAX;
        if (x->touched[c] && !(v.flags & TDS_VF_NULL)) {
            if (v.flags & TDS_VF_STREAMED)
                v = (tds_value){(const uint8_t *)x->pend[c].p, (uint32_t)x->pend[c].len,
                                (uint8_t)(v.flags & ~TDS_VF_STREAMED)};
            if (x->trim_col[c])
                pipe_trim_value(&x->src[c], &v);
            if (x->mask_of[c] >= 0 && !rc)
                rc = mask_value(x, c, &x->src[c], &v, why, cap);
        }
        x->vals[c] = v;
    }
    /* pointers last: x->out may have moved while the row was masked */
    for (size_t c = 0; c < x->ncols; c++) {
        if (x->off[c] != SIZE_MAX)
            x->vals[c].ptr = (const uint8_t *)x->out.p + x->off[c];
        x->pend[c].len = 0;
    }
    *out = x->vals;
    return rc ? TDSPIPE_E_LOAD : 0;
}
