/*
 * jsonl.c — JSON Lines: one object per row, keys in column order, "\n"
 * after each. Integers and floats are JSON numbers (NaN and ±Infinity,
 * which JSON cannot spell, become null), decimals and money are strings
 * (exact, with the column's scale), bit is true/false, binary is base64,
 * dates/times/GUIDs/text are strings in the engine's canonical text, NULL
 * is null; json (SQL Server 2025) is embedded as the JSON value it holds
 * (line breaks between its tokens become spaces) and vector as a JSON array
 * of numbers. ".gz" targets are gzip through zlib.
 *
 * Strategies: replace and append, as for CSV. jsonl:// and ndjson:// are
 * one destination.
 */
#include <stdlib.h>

#include "file_int.h"
#include "num_text.h"

typedef struct jsonl_sink {
    sink base;
    sink_file f;
    sink_schema sc;
    sink_buf keys;     /* "{\"a\":" ",\"b\":" … back to back */
    size_t *key_off;   /* ncols + 1 offsets into keys */
    sink_buf scratch;
    uint8_t *form;     /* per column: J_NUMBER, J_TEXT or J_OTHER */
} jsonl_sink;

/* How a column's values are written: numbers as their text (num_text.h),
 * text kinds transcoded straight between quotes, the rest by
 * sink__value_json. */
enum { J_OTHER, J_NUMBER, J_TEXT };

static uint8_t form_of(int kind)
{
    switch (kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_FLOAT:
        return J_NUMBER; /* not bit: true/false, not its digit */
    case TDS_K_CHAR: case TDS_K_NCHAR: case TDS_K_XML:
        return J_TEXT;
    default:
        return J_OTHER;
    }
}

static int jsonl_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    jsonl_sink *j = sink__calloc(1, sizeof *j);
    if (!j)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    int rc = sink__file_init(&j->f, target, o, err, errcap);
    if (rc) {
        free(j);
        return rc;
    }
    *out = &j->base;
    return SINK_OK;
}

static int jsonl_begin(sink *s, const sink_table *t)
{
    jsonl_sink *j = (jsonl_sink *)s;
    if (t->strategy != SINK_REPLACE && t->strategy != SINK_APPEND)
        return sink__fail(s, SINK_E_UNSUPPORTED, "jsonl destinations support replace and append, not %s",
                          sink_strategy_name(t->strategy));
    sink__schema_free(&j->sc);
    free(j->key_off);
    j->key_off = NULL;
    j->keys.len = 0;
    if (sink__schema_copy(&j->sc, t) || !(j->key_off = sink__malloc((t->ncols + 1) * sizeof *j->key_off)))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < j->sc.ncols; i++) {
        j->key_off[i] = j->keys.len;
        if (sink__buf_putc(&j->keys, i ? ',' : '{') ||
            sink__json_string(&j->keys, j->sc.names[i], strlen(j->sc.names[i])) ||
            sink__buf_putc(&j->keys, ':'))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
    }
    j->key_off[j->sc.ncols] = j->keys.len;
    /* keys are copied 16 bytes at a time: slack behind the last one */
    free(j->form);
    j->form = NULL;
    if (sink__buf_reserve(&j->keys, 16) || !(j->form = sink__malloc(j->sc.ncols + 1)))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < j->sc.ncols; i++)
        j->form[i] = form_of(j->sc.cols[i].kind);
    return sink__file_start(s, &j->f, t->strategy == SINK_APPEND);
}

static int jsonl_append(sink *s, const sink_batch *b)
{
    jsonl_sink *j = (jsonl_sink *)s;
    size_t nc = j->sc.ncols;
    sink_buf *out = &j->f.out;
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
        for (size_t i = 0; i < nc; i++) {
            /* the key, with room for a scalar's text behind it at once */
            size_t kn = j->key_off[i + 1] - j->key_off[i];
            if (out->cap - out->len <= kn + 64 && sink__buf_reserve(out, kn + 64))
                return sink__fail(s, SINK_E_NOMEM, "out of memory");
            const char *key = j->keys.p + j->key_off[i];
            for (size_t o = 0; o < kn; o += 16)
                memcpy(out->p + out->len + o, key + o, 16);
            out->len += kn;
            const tds_column *c = &j->sc.cols[i];
            const tds_value *v = &row[i];
            if (j->form[i] == J_NUMBER) {
                size_t n = sink__value_text_fast(c, v, out->p + out->len);
                out->len += n;
                if (n) /* else NULL, or a double the engine writes */
                    continue;
            } else if (j->form[i] == J_TEXT && !(v->flags & TDS_VF_NULL)) {
                size_t at = out->len;
                out->p[out->len++] = '"';
                if (!sink__value_utf8(out, c, v) && sink__json_plain(out->p + at + 1, out->len - at - 1) &&
                    !sink__buf_putc(out, '"'))
                    continue;
                out->len = at; /* to be escaped (or an error): the general way */
            }
            int rc = sink__value_json(out, c, v, &j->scratch);
            if (rc)
                return sink__fail(s, rc, "column %s: %s", j->sc.names[i],
                                  rc == SINK_E_NOMEM ? "out of memory" : "value cannot be decoded");
        }
        if (out->cap - out->len <= 2 && sink__buf_reserve(out, 2))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
        out->p[out->len++] = '}';
        out->p[out->len++] = '\n';
        /* written out every 1 MB, so the buffer stays that small (and in
         * cache) however wide the rows and however big the batch */
        int rc = sink__file_flush(s, &j->f, 1u << 20);
        if (rc)
            return rc;
    }
    return SINK_OK;
}

static int jsonl_commit(sink *s) { return sink__file_commit(s, &((jsonl_sink *)s)->f); }
static void jsonl_abort(sink *s) { sink__file_abort(&((jsonl_sink *)s)->f); }

static void jsonl_close(sink *s)
{
    jsonl_sink *j = (jsonl_sink *)s;
    sink__file_free(&j->f);
    sink__schema_free(&j->sc);
    sink__buf_free(&j->keys);
    sink__buf_free(&j->scratch);
    free(j->key_off);
    free(j->form);
    free(j);
}

const sink_vtable sink_jsonl_vtable = {
    .scheme = "jsonl",
    .alias = "ndjson", /* ingestr's second name */
    .open = jsonl_open,
    .begin = jsonl_begin,
    .append = jsonl_append,
    .commit = jsonl_commit,
    .abort = jsonl_abort,
    .close = jsonl_close,
};
