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
    bool *fast;        /* per column: a number the sink writes itself */
} jsonl_sink;

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
    free(j->fast);
    j->fast = NULL;
    if (sink__buf_reserve(&j->keys, 16) || !(j->fast = sink__malloc(j->sc.ncols + 1)))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < j->sc.ncols; i++) {
        int k = j->sc.cols[i].kind; /* bit is true/false, not its digit */
        j->fast[i] = k == TDS_K_TINYINT || k == TDS_K_SMALLINT || k == TDS_K_INT || k == TDS_K_BIGINT ||
                     k == TDS_K_FLOAT;
    }
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
            size_t fast = j->fast[i] ? sink__value_text_fast(&j->sc.cols[i], &row[i], out->p + out->len) : 0;
            if (fast) { /* a number, as its canonical text */
                out->len += fast;
                continue;
            }
            int rc = sink__value_json(out, &j->sc.cols[i], &row[i], &j->scratch);
            if (rc)
                return sink__fail(s, rc, "column %s: %s", j->sc.names[i],
                                  rc == SINK_E_NOMEM ? "out of memory" : "value cannot be decoded");
        }
        if (sink__buf_put(out, "}\n", 2))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
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
    free(j->fast);
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
