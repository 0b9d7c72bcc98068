/*
 * csv.c — RFC 4180 CSV: a header row, LF line ends (as ingestr's Go
 * encoding/csv writer, UseCRLF off; RFC 4180 readers take both), UTF-8, fields quoted
 * only when they contain a comma, a quote, CR or LF (or are empty strings,
 * or start/end with a space), quotes doubled. NULL is an empty unquoted
 * field, an empty string is "". Values are the engine's canonical text
 * (tds_value_text). ".gz" targets are gzip through zlib.
 *
 * Strategies: replace (a new file) and append (the old bytes, then the new
 * rows; a header only when the file was absent or empty). merge and
 * delete+insert are refused: a file has no keys.
 */
#include <stdlib.h>

#include "file_int.h"
#include "num_text.h"

typedef struct csv_sink {
    sink base;
    sink_file f;
    sink_schema sc;
    sink_buf field;
    bool *may_quote;   /* per column: its text can need quotes */
} csv_sink;

static int csv_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    csv_sink *c = sink__calloc(1, sizeof *c);
    if (!c)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    int rc = sink__file_init(&c->f, target, o, err, errcap);
    if (rc) {
        free(c);
        return rc;
    }
    *out = &c->base;
    return SINK_OK;
}

/* Bytes that force quoting anywhere in a field. */
static const bool special[256] = { [','] = true, ['"'] = true, ['\r'] = true, ['\n'] = true };

static bool needs_quotes(const char *p, size_t n)
{
    if (n == 0 || p[0] == ' ' || p[n - 1] == ' ')
        return true;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) /* eight bytes at a time, exact */
        if (sink__word_has_csv_special(sink__word_at(p + i)))
            return true;
    for (; i < n; i++)
        if (special[(unsigned char)p[i]])
            return true;
    return false;
}

static int put_field(sink_buf *b, const char *p, size_t n)
{
    if (!needs_quotes(p, n))
        return sink__buf_put(b, p, n);
    if (sink__buf_reserve(b, 2 * n + 2))
        return SINK_E_NOMEM;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            *o++ = '"';
        *o++ = p[i];
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return SINK_OK;
}

/* Kinds whose text can hold a comma, a quote, CR/LF, edge spaces or be
 * empty (json and vector texts are full of commas). */
static bool kind_may_quote(int kind)
{
    switch (kind) {
    case TDS_K_CHAR: case TDS_K_NCHAR: case TDS_K_XML: case TDS_K_VARIANT:
    case TDS_K_JSON: case TDS_K_VECTOR:
        return true;
    default:
        return false;
    }
}

static int csv_begin(sink *s, const sink_table *t)
{
    csv_sink *c = (csv_sink *)s;
    if (t->strategy != SINK_REPLACE && t->strategy != SINK_APPEND)
        return sink__fail(s, SINK_E_UNSUPPORTED, "csv destinations support replace and append, not %s",
                          sink_strategy_name(t->strategy));
    sink__schema_free(&c->sc);
    free(c->may_quote);
    c->may_quote = NULL;
    if (sink__schema_copy(&c->sc, t) || !(c->may_quote = sink__malloc(t->ncols + 1)))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < c->sc.ncols; i++)
        c->may_quote[i] = kind_may_quote(c->sc.cols[i].kind);
    int rc = sink__file_start(s, &c->f, t->strategy == SINK_APPEND);
    if (rc)
        return rc;
    if (c->f.had_data)
        return SINK_OK;
    for (size_t i = 0; i < c->sc.ncols; i++)
        if ((i && sink__buf_putc(&c->f.out, ',')) ||
            put_field(&c->f.out, c->sc.names[i], strlen(c->sc.names[i])))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
    if (sink__buf_putc(&c->f.out, '\n'))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    return SINK_OK;
}

static int csv_append(sink *s, const sink_batch *b)
{
    csv_sink *c = (csv_sink *)s;
    size_t nc = c->sc.ncols;
    sink_buf *out = &c->f.out;
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
        for (size_t i = 0; i < nc; i++) {
            /* room for the separator and any scalar's text (64) at once:
             * the value's own reserve then never grows the buffer */
            if (out->cap - out->len <= 80 && sink__buf_reserve(out, 80))
                return sink__fail(s, SINK_E_NOMEM, "out of memory");
            if (i)
                out->p[out->len++] = ',';
            if (row[i].flags & TDS_VF_NULL)
                continue;
            const tds_column *col = &c->sc.cols[i];
            size_t start = out->len, fast = sink__value_text_fast(col, &row[i], out->p + start);
            if (fast) { /* numbers: never need quotes */
                out->len += fast;
                continue;
            }
            int rc = sink__value_text(out, col, &row[i]);
            if (rc)
                return sink__fail(s, rc, "column %s: %s", c->sc.names[i],
                                  rc == SINK_E_NOMEM ? "out of memory" : "value cannot be decoded");
            if (!c->may_quote[i])
                continue; /* numbers, dates, GUIDs, hex: never empty, never a comma,
                           * quote, CR/LF or an edge space */
            /* text was written in place; quote it only when it must be */
            size_t n = out->len - start;
            if (!needs_quotes(out->p + start, n))
                continue;
            c->field.len = 0;
            if (sink__buf_put(&c->field, out->p + start, n))
                return sink__fail(s, SINK_E_NOMEM, "out of memory");
            out->len = start;
            if (put_field(out, c->field.p ? c->field.p : "", n))
                return sink__fail(s, SINK_E_NOMEM, "out of memory");
        }
        if (out->cap - out->len <= 1 && sink__buf_reserve(out, 1))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
        out->p[out->len++] = '\n';
        /* written out every 1 MB, so the buffer stays that small (and in
         * cache) however wide the rows and however big the batch */
        int rc = sink__file_flush(s, &c->f, 1u << 20);
        if (rc)
            return rc;
    }
    return SINK_OK;
}

static int csv_commit(sink *s) { return sink__file_commit(s, &((csv_sink *)s)->f); }
static void csv_abort(sink *s) { sink__file_abort(&((csv_sink *)s)->f); }

static void csv_close(sink *s)
{
    csv_sink *c = (csv_sink *)s;
    sink__file_free(&c->f);
    sink__schema_free(&c->sc);
    sink__buf_free(&c->field);
    free(c->may_quote);
    free(c);
}

const sink_vtable sink_csv_vtable = {
    .scheme = "csv",
    .open = csv_open,
    .begin = csv_begin,
    .append = csv_append,
    .commit = csv_commit,
    .abort = csv_abort,
    .close = csv_close,
};
