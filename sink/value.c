/*
 * value.c — helpers every backend shares: the growable buffer, the owned
 * schema copy, value → canonical text / JSON / base64, and sink_rows (the
 * batch accumulator).
 *
 * Text forms are the engine's canonical text (tds_value_text): one source
 * of truth for CSV, JSONL strings and the text fallbacks of the SQL sinks.
 * Invariants: the buffer grows geometrically, so formatting a row costs no
 * allocation once the buffer has reached its working size.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "num_text.h"
#include "sink_int.h"

/* ------------------------------------------------------------ memory */

/* atomic: sinks on several threads may allocate at once */
static _Atomic long fail_at, count;

static bool alloc_ok(void)
{
    long c = ++count, f = fail_at;
    return !f || c < f;
}

long sink__alloc_fail_after(long n)
{
    long c = count;
    count = 0;
    fail_at = n;
    return c;
}

void *sink__malloc(size_t n) { return alloc_ok() ? malloc(n) : NULL; }
void *sink__calloc(size_t n, size_t size) { return alloc_ok() ? calloc(n, size) : NULL; }
void *sink__realloc(void *p, size_t n) { return alloc_ok() ? realloc(p, n) : NULL; }

char *sink__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = sink__malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ------------------------------------------------------------ buffer */

int sink__buf_reserve(sink_buf *b, size_t n)
{
    if (b->cap - b->len > n)
        return SINK_OK;
    size_t want = b->len + n + 1;
    if (want < b->len)
        return SINK_E_NOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want) {
        if (cap > SIZE_MAX / 2)
            return SINK_E_NOMEM;
        cap *= 2;
    }
    char *p = sink__realloc(b->p, cap);
    if (!p)
        return SINK_E_NOMEM;
    b->p = p;
    b->cap = cap;
    return SINK_OK;
}

int sink__buf_put(sink_buf *b, const void *p, size_t n)
{
    if (sink__buf_reserve(b, n))
        return SINK_E_NOMEM;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return SINK_OK;
}

int sink__buf_putc(sink_buf *b, char ch)
{
    if (b->cap - b->len <= 1 && sink__buf_reserve(b, 1))
        return SINK_E_NOMEM;
    b->p[b->len++] = ch;
    return SINK_OK;
}

int sink__buf_printf(sink_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sink__buf_reserve(b, (size_t)n + 1))
        return SINK_E_NOMEM;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SINK_OK;
}

int sink__buf_cstr(sink_buf *b)
{
    if (sink__buf_reserve(b, 1))
        return SINK_E_NOMEM;
    b->p[b->len] = '\0';
    return SINK_OK;
}

void sink__buf_free(sink_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------ schema */

static char *dupn(const char *s, size_t n)
{
    char *p = sink__malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void sink__schema_free(sink_schema *d)
{
    for (int i = 0; i < 2; i++)
        free((void *)d->win[i].ptr);
    if (d->names)
        for (size_t i = 0; i < d->ncols; i++)
            free(d->names[i]);
    free(d->names);
    free(d->cols);
    free(d->pk);
    free(d->full);
    free(d->schema);
    free(d->table);
    free(d->merge_pred);
    memset(d, 0, sizeof *d);
}

int sink__schema_copy(sink_schema *d, const sink_table *t)
{
    memset(d, 0, sizeof *d);
    d->ncols = t->ncols;
    d->npk = t->npk;
    d->incr = t->incremental_key;
    d->strategy = t->strategy;
    d->cdc = t->cdc;
    d->cdc_images = t->cdc_images;
    d->contract = t->contract;
    d->full = dupn(t->name, strlen(t->name));
    const char *dot = strrchr(t->name, '.');
    if (dot) {
        d->schema = dupn(t->name, (size_t)(dot - t->name));
        d->table = dupn(dot + 1, strlen(dot + 1));
    } else {
        d->table = dupn(t->name, strlen(t->name));
    }
    d->cols = sink__malloc(t->ncols * sizeof *d->cols);
    d->names = sink__calloc(t->ncols, sizeof *d->names);
    d->pk = sink__malloc((t->npk ? t->npk : 1) * sizeof *d->pk);
    if (t->merge_predicate && *t->merge_predicate)
        d->merge_pred = dupn(t->merge_predicate, strlen(t->merge_predicate));
    if (!d->full || !d->table || (dot && !d->schema) || !d->cols || !d->names || !d->pk ||
        (t->merge_predicate && *t->merge_predicate && !d->merge_pred))
        goto nomem;
    memcpy(d->cols, t->cols, t->ncols * sizeof *d->cols);
    if (t->npk)
        memcpy(d->pk, t->pk, t->npk * sizeof *d->pk);
    for (size_t i = 0; i < t->ncols; i++) {
        const char *n = t->names && t->names[i] ? t->names[i] : t->cols[i].name.ptr;
        size_t len = t->names && t->names[i] ? strlen(n) : t->cols[i].name.len;
        if (!n) {
            n = "";
            len = 0;
        }
        if (!(d->names[i] = dupn(n, len)))
            goto nomem;
        /* Views into the session's strings die with it: keep none. */
        memset(&d->cols[i].name, 0, sizeof d->cols[i].name);
        memset(&d->cols[i].table, 0, sizeof d->cols[i].table);
        memset(&d->cols[i].udt_db, 0, 4 * sizeof(tds_str));
        memset(&d->cols[i].xml_db, 0, 3 * sizeof(tds_str));
    }
    const tds_value *w[2] = { t->window_lo, t->window_hi };
    for (int i = 0; i < 2; i++) {
        if (!w[i] || (w[i]->flags & TDS_VF_NULL))
            continue;
        uint8_t *p = sink__malloc(w[i]->len ? w[i]->len : 1);
        if (!p)
            goto nomem;
        if (w[i]->len)
            memcpy(p, w[i]->ptr, w[i]->len);
        d->win[i] = (tds_value){ p, w[i]->len, 0 };
        d->has_win[i] = true;
    }
    return SINK_OK;
nomem:
    sink__schema_free(d);
    return SINK_E_NOMEM;
}

/* ----------------------------------------------------- value formats */

/* Calls a tds text function into the buffer's free space, growing once
 * when it says how much it needs. */
static int text_into(sink_buf *b, const tds_column *c, const tds_value *v,
                     int (*fn)(const tds_column *, const tds_value *, char *, size_t, size_t *))
{
    if (v->flags & TDS_VF_STREAMED)
        return SINK_E_VALUE;
    if (b->cap - b->len <= 64 && sink__buf_reserve(b, 64))
        return SINK_E_NOMEM;
    size_t n = 0;
    int rc = fn(c, v, b->p + b->len, b->cap - b->len, &n);
    if (rc == TDS_E_SPACE) {
        if (sink__buf_reserve(b, n + 1))
            return SINK_E_NOMEM;
        rc = fn(c, v, b->p + b->len, b->cap - b->len, &n);
    }
    if (rc)
        return rc == TDS_E_NOMEM ? SINK_E_NOMEM : SINK_E_VALUE;
    b->len += n;
    return SINK_OK;
}

int sink__value_text(sink_buf *b, const tds_column *c, const tds_value *v)
{
    /* integers and floats are written here (num_text.h), the rest and
     * whatever the fast path declines by the engine */
    if (b->cap - b->len <= SINK__INT_TEXT_ROOM && sink__buf_reserve(b, SINK__INT_TEXT_ROOM))
        return SINK_E_NOMEM;
    size_t n = sink__value_text_fast(c, v, b->p + b->len);
    if (n) {
        b->len += n;
        return SINK_OK;
    }
    /* text kinds: what the engine's text does for them, without its
     * dispatch */
    if (c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML)
        return text_into(b, c, v, tds_value_utf8);
    return text_into(b, c, v, tds_value_text);
}

int sink__value_utf8(sink_buf *b, const tds_column *c, const tds_value *v)
{
    return text_into(b, c, v, tds_value_utf8);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sink__base64(sink_buf *b, const uint8_t *p, size_t n)
{
    if (sink__buf_reserve(b, (n + 2) / 3 * 4))
        return SINK_E_NOMEM;
    char *o = b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[x >> 18];
        *o++ = b64[x >> 12 & 63];
        *o++ = b64[x >> 6 & 63];
        *o++ = b64[x & 63];
    }
    if (i < n) {
        uint32_t x = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64[x >> 18];
        *o++ = b64[x >> 12 & 63];
        *o++ = i + 1 < n ? b64[x >> 6 & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->p);
    return SINK_OK;
}

int sink__json_string(sink_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (n > (SIZE_MAX - 2) / 6 || sink__buf_reserve(b, n * 6 + 2))
        return SINK_E_NOMEM;
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            *o++ = (char)ch;
            continue;
        }
        *o++ = '\\';
        switch (ch) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    return SINK_OK;
}

/* Kinds whose canonical text never holds a quote, a backslash or a
 * control byte: their JSON string needs no scan. */
static bool text_is_plain(int kind)
{
    switch (kind) {
    case TDS_K_DECIMAL: case TDS_K_MONEY: case TDS_K_SMALLMONEY: case TDS_K_GUID:
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: case TDS_K_DATE: case TDS_K_TIME:
    case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        return true;
    default:
        return false;
    }
}

/* The value's text as a JSON string: written in place between quotes,
 * and escaped through scratch only when it holds a byte that must be. */
static int json_text_string(sink_buf *b, const tds_column *c, const tds_value *v, sink_buf *scratch)
{
    size_t start = b->len;
    if (sink__buf_putc(b, '"'))
        return SINK_E_NOMEM;
    int rc = sink__value_text(b, c, v);
    if (rc) {
        b->len = start;
        return rc;
    }
    size_t n = b->len - start - 1;
    if (text_is_plain(c->kind) || sink__json_plain(b->p + start + 1, n))
        return sink__buf_putc(b, '"');
    scratch->len = 0;
    if (sink__buf_put(scratch, b->p + start + 1, n))
        return SINK_E_NOMEM;
    b->len = start;
    return sink__json_string(b, scratch->p, n);
}

/* float/real: the canonical text is a JSON number except for NaN and the
 * infinities ("NaN", "Infinity", "-Infinity"), which JSON cannot spell. */
static int json_float(sink_buf *b, const tds_column *c, const tds_value *v)
{
    size_t start = b->len;
    int rc = sink__value_text(b, c, v);
    if (rc)
        return rc;
    const char *t = b->p + start;
    if (t[0] == 'N' || t[0] == 'I' || (t[0] == '-' && t[1] == 'I')) {
        b->len = start;
        return sink__buf_put(b, "null", 4);
    }
    return SINK_OK;
}

/* json (SQL Server 2025): its UTF-8 text is a JSON value and is embedded
 * as one. Line breaks can only be whitespace between tokens (JSON strings
 * hold them escaped), so they become spaces: the row stays one line. */
static int json_embedded(sink_buf *b, const tds_column *c, const tds_value *v)
{
    size_t start = b->len;
    int rc = sink__value_text(b, c, v);
    if (rc)
        return rc;
    bool blank = true;
    for (size_t i = start; i < b->len; i++) {
        char ch = b->p[i];
        if (ch == '\n' || ch == '\r')
            b->p[i] = ch = ' ';
        if (ch != ' ' && ch != '\t')
            blank = false;
    }
    if (!blank)
        return SINK_OK;
    b->len = start; /* no value at all: null keeps the line JSON */
    return sink__buf_put(b, "null", 4);
}

int sink__value_json(sink_buf *b, const tds_column *c, const tds_value *v, sink_buf *scratch)
{
    if (v->flags & TDS_VF_NULL)
        return sink__buf_put(b, "null", 4);
    if (v->flags & TDS_VF_STREAMED)
        return SINK_E_VALUE;
    switch (c->kind) {
    case TDS_K_BIT: {
        int64_t i;
        if (tds_value_int(c, v, &i))
            return SINK_E_VALUE;
        return i ? sink__buf_put(b, "true", 4) : sink__buf_put(b, "false", 5);
    }
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT:
        return sink__value_text(b, c, v);
    case TDS_K_REAL: case TDS_K_FLOAT:
        return json_float(b, c, v);
    case TDS_K_BINARY: case TDS_K_UDT:
        return sink__buf_putc(b, '"') || sink__base64(b, v->ptr, v->len) || sink__buf_putc(b, '"')
                   ? SINK_E_NOMEM : SINK_OK;
    case TDS_K_JSON:
        return json_embedded(b, c, v);
    case TDS_K_VECTOR: /* the engine's text is a JSON array of numbers */
        return sink__value_text(b, c, v);
    case TDS_K_VARIANT: {
        /* the value inside decides: a number stays a number */
        tds_column ic;
        tds_value iv;
        if (tds_value_variant(c, v, &ic, &iv))
            return SINK_E_VALUE;
        return sink__value_json(b, &ic, &iv, scratch); /* never a variant again */
    }
    default:
        /* decimals (exact, as strings), dates, GUIDs, text */
        return json_text_string(b, c, v, scratch);
    }
}

/* ------------------------------------------------------------ rows */

typedef struct rows_block {
    struct rows_block *next;
    size_t used, cap;
    uint8_t data[];
} rows_block;

struct sink_rows {
    size_t ncols;
    tds_value *vals;
    size_t nrows, cap_rows;
    rows_block *head, *cur;
    sink_buf *pend;  /* per column: chunks of the next row's streamed value */
};

sink_rows *sink_rows_new(size_t ncols)
{
    if (!ncols)
        return NULL;
    sink_rows *r = sink__calloc(1, sizeof *r);
    if (r)
        r->ncols = ncols;
    return r;
}

void sink_rows_free(sink_rows *r)
{
    if (!r)
        return;
    for (rows_block *b = r->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(r->vals);
    if (r->pend)
        for (size_t c = 0; c < r->ncols; c++)
            sink__buf_free(&r->pend[c]);
    free(r->pend);
    free(r);
}

/* Slow path of rows_alloc: the next kept block, or a new one. */
static uint8_t *rows_alloc_block(sink_rows *r, size_t n)
{
    for (;;) {
        if (r->cur && r->cur->cap - r->cur->used >= n) {
            uint8_t *p = r->cur->data + r->cur->used;
            r->cur->used += n;
            return p;
        }
        if (r->cur && r->cur->next) { /* reuse blocks kept by reset */
            r->cur = r->cur->next;
            r->cur->used = 0;
            continue;
        }
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        rows_block *b = sink__malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = NULL;
        b->used = 0;
        b->cap = cap;
        if (r->cur) {
            r->cur->next = b;
        } else {
            r->head = b;
        }
        r->cur = b;
    }
}

static void pend_clear(sink_rows *r)
{
    if (r->pend)
        for (size_t c = 0; c < r->ncols; c++)
            r->pend[c].len = 0;
}

static inline uint8_t *rows_alloc(sink_rows *r, size_t n)
{
    rows_block *b = r->cur;
    if (b && b->cap - b->used >= n) {
        uint8_t *p = b->data + b->used;
        b->used += n;
        return p;
    }
    return rows_alloc_block(r, n);
}

/* memcpy for the short values most columns hold, without a libc call:
 * two overlapping loads and stores cover 1..32 bytes, never outside
 * either buffer. */
static inline void copy_value(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n > 16) {
        uint64_t a[2], b[2];
        memcpy(a, s, 16);
        memcpy(b, s + n - 16, 16);
        memcpy(d, a, 16);
        memcpy(d + n - 16, b, 16);
    } else if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

static int rows_put(sink_rows *r, const tds_value *row)
{
    if (r->nrows == r->cap_rows) {
        size_t nc = r->cap_rows ? r->cap_rows * 2 : 1024;
        tds_value *v = sink__realloc(r->vals, nc * r->ncols * sizeof *v);
        if (!v)
            return SINK_E_NOMEM;
        r->vals = v;
        r->cap_rows = nc;
    }
    if (!r->cur && r->head)
        r->cur = r->head;
    /* One allocation for the whole row: its values sit side by side,
     * streamed values taking the chunks given before the row.
     * (ncols in a local: stores through dst could alias *r.) */
    const size_t nc = r->ncols;
    size_t total = 0;
    for (size_t c = 0; c < nc; c++) {
        const sink_buf *pb = r->pend ? &r->pend[c] : NULL;
        if (row[c].flags & TDS_VF_STREAMED)
            total += pb ? pb->len : 0;
        else if (pb && pb->len)
            return SINK_E_ARG; /* chunks for a value the row does not stream */
        else
            total += row[c].len;
    }
    uint8_t *p = NULL;
    if (total && !(p = rows_alloc(r, total)))
        return SINK_E_NOMEM;
    tds_value *dst = r->vals + r->nrows * nc;
    for (size_t c = 0; c < nc; c++) {
        tds_value v = row[c];
        if (v.flags & TDS_VF_STREAMED) {
            const sink_buf *pb = r->pend ? &r->pend[c] : NULL;
            size_t len = pb ? pb->len : 0;
            v = (tds_value){ NULL, (uint32_t)len, (uint8_t)(v.flags & ~TDS_VF_STREAMED) };
            if (len) {
                memcpy(p, pb->p, len);
                v.ptr = p;
                p += len;
            }
        } else if (v.len) {
            copy_value(p, v.ptr, v.len);
            v.ptr = p;
            p += v.len;
        }
        dst[c] = v;
    }
    r->nrows++;
    return SINK_OK;
}

int sink_rows_add(sink_rows *r, const tds_value *row)
{
    if (!r || !row)
        return SINK_E_ARG;
    int rc = rows_put(r, row);
    pend_clear(r); /* the chunks belonged to this row, kept or not */
    return rc;
}

int sink_rows_chunk(sink_rows *r, size_t col, const uint8_t *data, size_t len)
{
    if (!r || col >= r->ncols || (len && !data))
        return SINK_E_ARG;
    if (!len)
        return SINK_OK; /* the end of a value: the row that follows takes it */
    if (!r->pend && !(r->pend = sink__calloc(r->ncols, sizeof *r->pend)))
        return SINK_E_NOMEM;
    if (r->pend[col].len + len > UINT32_MAX)
        return SINK_E_VALUE;
    return sink__buf_put(&r->pend[col], data, len);
}

size_t sink_rows_count(const sink_rows *r) { return r ? r->nrows : 0; }

sink_batch sink_rows_batch(const sink_rows *r)
{
    sink_batch b = { r ? r->vals : NULL, sink_rows_count(r) };
    return b;
}

void sink_rows_reset(sink_rows *r)
{
    if (!r)
        return;
    r->nrows = 0; /* chunks of a row not added yet stay */
    r->cur = r->head;
    if (r->cur)
        r->cur->used = 0;
}
