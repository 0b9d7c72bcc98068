/*
 * csv_parse.c — a streaming CSV record parser (RFC 4180 plus what real
 * files hold): fields separated by a delimiter, records by LF or CRLF,
 * fields in double quotes may hold delimiters, quotes ("" is one quote)
 * and line breaks; a UTF-8 byte order mark at the start is skipped; blank
 * lines are skipped. Bytes arrive in any pieces (cli_csv_feed); each
 * complete record goes to a callback with NUL-terminated fields, and
 * whether each was quoted (so "" and an empty field differ: the file
 * source reads the latter as NULL).
 *
 * Untrusted input (fuzz/fuzz_csv.c): a record is bounded by max_record
 * bytes and max_fields fields; a stray quote is an error naming the line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_parse.h"

enum { S_START, S_UNQUOTED, S_QUOTED, S_AFTER_QUOTE };

struct cli_csv {
    char delim;
    size_t max_record, max_fields;
    cli_csv_record_fn cb;
    void *ud;
    int state;
    bool bom_checked;
    uint8_t bom_seen;           /* BOM bytes matched so far */
    char *buf;                  /* the record's field bytes, each NUL-ended */
    size_t len, cap;
    size_t *off;                /* field starts in buf */
    bool *quoted;
    size_t nf, fcap;
    uint64_t line;              /* 1-based line of the record being read */
    uint64_t rec_line;
    char err[160];
};

cli_csv *cli_csv_new(char delim, size_t max_record, size_t max_fields, cli_csv_record_fn cb, void *ud)
{
    cli_csv *c = calloc(1, sizeof *c);
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

void cli_csv_free(cli_csv *c)
{
    if (!c)
        return;
    free(c->buf);
    free(c->off);
    free(c->quoted);
    free(c);
}

const char *cli_csv_error(const cli_csv *c) { return c->err; }
uint64_t cli_csv_line(const cli_csv *c) { return c->rec_line; }

static int fail(cli_csv *c, const char *what)
{
    snprintf(c->err, sizeof c->err, "line %llu: %s", (unsigned long long)c->rec_line, what);
    return CLI_CSV_BAD;
}

static int put(cli_csv *c, char ch)
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

static int field_begin(cli_csv *c, bool quoted)
{
    if (c->nf >= c->max_fields)
        return fail(c, "too many fields");
    if (c->nf == c->fcap) {
        size_t cap = c->fcap ? c->fcap * 2 : 64;
        size_t *o = realloc(c->off, cap * sizeof *o);
        if (!o)
            return fail(c, "out of memory");
        c->off = o;
        bool *q = realloc(c->quoted, cap * sizeof *q);
        if (!q)
            return fail(c, "out of memory");
        c->quoted = q;
        c->fcap = cap;
    }
    c->off[c->nf] = c->len;
    c->quoted[c->nf] = quoted;
    c->nf++;
    return 0;
}

static int field_end(cli_csv *c) { return put(c, '\0'); }

static int record_end(cli_csv *c)
{
    int rc = 0;
    /* a blank line is one empty unquoted field: skipped */
    bool blank = c->nf == 1 && !c->quoted[0] && c->buf[c->off[0]] == '\0';
    if (!blank) {
        char **f = malloc(c->nf * sizeof *f);
        size_t *lens = malloc(c->nf * sizeof *lens);
        if (!f || !lens) {
            free(f);
            free(lens);
            return fail(c, "out of memory");
        }
        for (size_t i = 0; i < c->nf; i++) {
            f[i] = c->buf + c->off[i];
            lens[i] = (i + 1 < c->nf ? c->off[i + 1] : c->len) - c->off[i] - 1;
        }
        rc = c->cb(c->ud, f, lens, c->quoted, c->nf, c->rec_line);
        free(f);
        free(lens);
    }
    c->len = 0;
    c->nf = 0;
    c->rec_line = c->line;
    return rc;
}

int cli_csv_feed(cli_csv *c, const char *p, size_t n)
{
    static const uint8_t bom[3] = {0xEF, 0xBB, 0xBF};
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        int rc = 0;
        if (!c->bom_checked) {
            if ((uint8_t)ch == bom[c->bom_seen]) {
                if (++c->bom_seen == 3)
                    c->bom_checked = true;
                continue;
            }
            c->bom_checked = true;
            /* a partial BOM was data after all */
            for (uint8_t k = 0; k < c->bom_seen && !rc; k++) {
                if (c->state == S_START && (rc = field_begin(c, false)))
                    return rc;
                c->state = S_UNQUOTED;
                rc = put(c, (char)bom[k]);
            }
            if (rc)
                return rc;
        }
        if (ch == '\n')
            c->line++;
        switch (c->state) {
        case S_START:
            if (ch == '"') {
                rc = field_begin(c, true);
                c->state = S_QUOTED;
            } else if (ch == c->delim) {
                rc = field_begin(c, false);
                if (!rc)
                    rc = field_end(c);
            } else if (ch == '\n') {
                rc = field_begin(c, false);
                if (!rc)
                    rc = field_end(c);
                if (!rc)
                    rc = record_end(c);
            } else if (ch == '\r') {
                /* CR before LF: the line ending's, not data */
            } else {
                rc = field_begin(c, false);
                if (!rc)
                    rc = put(c, ch);
                c->state = S_UNQUOTED;
            }
            break;
        case S_UNQUOTED:
            if (ch == c->delim) {
                rc = field_end(c);
                c->state = S_START;
            } else if (ch == '\n') {
                if (c->len > c->off[c->nf - 1] && c->buf[c->len - 1] == '\r')
                    c->len--;
                rc = field_end(c);
                if (!rc)
                    rc = record_end(c);
                c->state = S_START;
            } else if (ch == '"') {
                rc = fail(c, "a quote inside an unquoted field");
            } else {
                rc = put(c, ch);
            }
            break;
        case S_QUOTED:
            if (ch == '"')
                c->state = S_AFTER_QUOTE;
            else
                rc = put(c, ch);
            break;
        case S_AFTER_QUOTE:
            if (ch == '"') {
                rc = put(c, '"');
                c->state = S_QUOTED;
            } else if (ch == c->delim) {
                rc = field_end(c);
                c->state = S_START;
            } else if (ch == '\n') {
                rc = field_end(c);
                if (!rc)
                    rc = record_end(c);
                c->state = S_START;
            } else if (ch != '\r') {
                rc = fail(c, "text after a closing quote");
            }
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int cli_csv_finish(cli_csv *c)
{
    int rc = 0;
    if (!c->bom_checked && c->bom_seen) {
        c->bom_checked = true;
        /* the whole input was a partial BOM: data */
        static const char bom[3] = {(char)0xEF, (char)0xBB, (char)0xBF};
        uint8_t k = c->bom_seen;
        c->bom_seen = 0;
        if ((rc = cli_csv_feed(c, bom, k)))
            return rc;
    }
    switch (c->state) {
    case S_QUOTED:
        return fail(c, "a quoted field is not closed at the end of the file");
    case S_UNQUOTED:
        if (c->len > c->off[c->nf - 1] && c->buf[c->len - 1] == '\r')
            c->len--;
        /* fall through */
    case S_AFTER_QUOTE:
        rc = field_end(c);
        if (!rc)
            rc = record_end(c);
        break;
    default:
        if (c->nf) { /* "a,b," then EOF: the empty last field */
            if (!(rc = field_begin(c, false)) && !(rc = field_end(c)))
                rc = record_end(c);
        }
        break;
    }
    c->state = S_START;
    return rc;
}
