/*
 * csv_parse.c — a streaming CSV record parser (RFC 4180 plus what real
 * files hold): fields separated by a delimiter, records by LF or CRLF,
 * fields in double quotes may hold delimiters, quotes ("" is one quote)
 * and line breaks; a UTF-8 byte order mark at the start is skipped; blank
 * lines are skipped. Bytes arrive in any pieces (pipe_csv_feed); each
 * complete record goes to a callback with NUL-terminated fields, and
 * whether each was quoted (so "" and an empty field differ: the file
 * source reads the latter as NULL). One handler per parser state.
 *
 * Untrusted input (fuzz/fuzz_csv.c): a record is bounded by max_record
 * bytes and max_fields fields; a stray quote is an error naming the line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_parse.h"

enum { S_START, S_UNQUOTED, S_QUOTED, S_AFTER_QUOTE };

struct pipe_csv {
    char delim;
    size_t max_record, max_fields;
    pipe_csv_record_fn cb;
    void *ud;
    int state;
    bool bom_checked;
    uint8_t bom_seen;           /* BOM bytes matched so far */
    char *buf;                  /* the record's field bytes, each NUL-ended */
    size_t len, cap;
    size_t *off;                /* field starts in buf */
    bool *quoted;
    char **fields;              /* handed to the callback: views into buf */
    size_t *lens;
    size_t nf, fcap;
    uint64_t line;              /* 1-based line of the record being read */
    uint64_t rec_line;
    char err[160];
};

static const uint8_t bom[3] = {0xEF, 0xBB, 0xBF};

pipe_csv *pipe_csv_new(char delim, size_t max_record, size_t max_fields, pipe_csv_record_fn cb, void *ud)
{
    pipe_csv *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->delim = delim;
    c->max_record = max_record;
    c->max_fields = max_fields;
    c->cb = cb;
    c->ud = ud;
    c->line = c->rec_line = 1;
    return c;
}

void pipe_csv_free(pipe_csv *c)
{
    if (!c)
        return;
    free(c->buf);
    free(c->off);
    free(c->quoted);
    free(c->fields);
    free(c->lens);
    free(c);
}

const char *pipe_csv_error(const pipe_csv *c) { return c->err; }
uint64_t pipe_csv_line(const pipe_csv *c) { return c->rec_line; }

static int fail(pipe_csv *c, const char *what)
{
    snprintf(c->err, sizeof c->err, "line %llu: %s", (unsigned long long)c->rec_line, what);
    return PIPE_CSV_BAD;
}

static int put(pipe_csv *c, char ch)
{
    if (c->len + 1 >= c->cap) {
        if (c->len + 2 > c->max_record)
            return fail(c, "record too long");
        size_t cap = c->cap ? c->cap * 2 : 4096;
        if (cap > c->max_record)
            cap = c->max_record;
        char *p = realloc(c->buf, cap);
        if (!p)
            return fail(c, "out of memory");
        c->buf = p;
        c->cap = cap;
    }
    c->buf[c->len++] = ch;
    return 0;
}

/* Room for one more field in the per-field arrays. */
static int grow_fields(pipe_csv *c)
{
    size_t cap = c->fcap ? c->fcap * 2 : 64;
    size_t *o = realloc(c->off, cap * sizeof *o);
    if (o)
        c->off = o;
    bool *q = realloc(c->quoted, cap * sizeof *q);
    if (q)
        c->quoted = q;
    char **f = realloc(c->fields, cap * sizeof *f);
    if (f)
        c->fields = f;
    size_t *l = realloc(c->lens, cap * sizeof *l);
    if (l)
        c->lens = l;
    if (!o || !q || !f || !l)
        return fail(c, "out of memory");
    c->fcap = cap;
    return 0;
}

static int field_begin(pipe_csv *c, bool quoted)
{
    if (c->nf >= c->max_fields)
        return fail(c, "too many fields");
    if (c->nf == c->fcap && grow_fields(c))
        return PIPE_CSV_BAD;
    c->off[c->nf] = c->len;
    c->quoted[c->nf] = quoted;
    c->nf++;
    return 0;
}

static int field_end(pipe_csv *c) { return put(c, '\0'); }

static int record_end(pipe_csv *c)
{
    int rc = 0;
    /* a blank line is one empty unquoted field: skipped */
    bool blank = c->nf == 1 && !c->quoted[0] && c->buf[c->off[0]] == '\0';
    if (!blank) {
        for (size_t i = 0; i < c->nf; i++) {
            c->fields[i] = c->buf + c->off[i];
            c->lens[i] = (i + 1 < c->nf ? c->off[i + 1] : c->len) - c->off[i] - 1;
        }
        rc = c->cb(c->ud, c->fields, c->lens, c->quoted, c->nf, c->rec_line);
    }
    c->len = 0;
    c->nf = 0;
    c->rec_line = c->line;
    return rc;
}

/* An empty field then, at a line break, the record's end. */
static int empty_field(pipe_csv *c, bool record)
{
    int rc = field_begin(c, false);
    if (!rc)
        rc = field_end(c);
    if (!rc && record)
        rc = record_end(c);
    return rc;
}

static int on_start(pipe_csv *c, char ch)
{
    if (ch == '"') {
        c->state = S_QUOTED;
        return field_begin(c, true);
    }
    if (ch == c->delim || ch == '\n')
        return empty_field(c, ch == '\n');
    if (ch == '\r')
        return 0; /* CR before LF: the line ending's, not data */
    c->state = S_UNQUOTED;
    int rc = field_begin(c, false);
    return rc ? rc : put(c, ch);
}

/* A CR just before the LF that ends an unquoted field is the line ending's. */
static void drop_cr(pipe_csv *c)
{
    if (c->len > c->off[c->nf - 1] && c->buf[c->len - 1] == '\r')
        c->len--;
}

static int on_unquoted(pipe_csv *c, char ch)
{
    if (ch == c->delim) {
        c->state = S_START;
        return field_end(c);
    }
    if (ch == '\n') {
        drop_cr(c);
        c->state = S_START;
        int rc = field_end(c);
        return rc ? rc : record_end(c);
    }
    if (ch == '"')
        return fail(c, "a quote inside an unquoted field");
    return put(c, ch);
}

static int on_quoted(pipe_csv *c, char ch)
{
    if (ch == '"') {
        c->state = S_AFTER_QUOTE;
        return 0;
    }
    return put(c, ch);
}

static int on_after_quote(pipe_csv *c, char ch)
{
    if (ch == '"') {
        c->state = S_QUOTED;
        return put(c, '"');
    }
    if (ch == c->delim) {
        c->state = S_START;
        return field_end(c);
    }
    if (ch == '\n') {
        c->state = S_START;
        int rc = field_end(c);
        return rc ? rc : record_end(c);
    }
    return ch == '\r' ? 0 : fail(c, "text after a closing quote");
}

static int on_char(pipe_csv *c, char ch)
{
    if (ch == '\n')
        c->line++;
    switch (c->state) {
    case S_START:
        return on_start(c, ch);
    case S_UNQUOTED:
        return on_unquoted(c, ch);
    case S_QUOTED:
        return on_quoted(c, ch);
    default:
        return on_after_quote(c, ch);
    }
}

/* The first bytes: a BOM is skipped; a partial one was data after all.
 * Returns 1 when ch was consumed as part of the BOM. */
static int check_bom(pipe_csv *c, char ch, int *rc)
{
    if ((uint8_t)ch == bom[c->bom_seen]) {
        if (++c->bom_seen == 3)
            c->bom_checked = true;
        return 1;
    }
    c->bom_checked = true;
    for (uint8_t k = 0; k < c->bom_seen && !*rc; k++)
        *rc = on_char(c, (char)bom[k]);
    return 0;
}

int pipe_csv_feed(pipe_csv *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = 0;
        if (!c->bom_checked && check_bom(c, p[i], &rc))
            continue;
        if (!rc)
            rc = on_char(c, p[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int pipe_csv_finish(pipe_csv *c)
{
    int rc = 0;
    if (!c->bom_checked && c->bom_seen) {
        c->bom_checked = true;
        /* the whole input was a partial BOM: data */
        uint8_t k = c->bom_seen;
        c->bom_seen = 0;
        if ((rc = pipe_csv_feed(c, (const char *)bom, k)))
            return rc;
    }
    switch (c->state) {
    case S_QUOTED:
        return fail(c, "a quoted field is not closed at the end of the file");
    case S_UNQUOTED:
        drop_cr(c);
        /* fall through */
    case S_AFTER_QUOTE:
        rc = field_end(c);
        if (!rc)
            rc = record_end(c);
        break;
    default:
        if (c->nf) /* "a,b," then EOF: the empty last field */
            rc = empty_field(c, true);
        break;
    }
    c->state = S_START;
    return rc;
}
