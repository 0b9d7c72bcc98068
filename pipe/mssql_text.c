/*
 * mssql_text.c — SQL Server text the SQL Server sources build: source
 * table names (schema.table, [bracketed], "quoted", three-part, query:…),
 * [identifier] and N'string' quoting, the pipe_sqlbuf builder, and typed
 * literals for incremental bounds.
 * Invariant: every identifier that reaches SQL text is [bracket]-quoted,
 * every string N'…'-quoted with quotes doubled, numbers checked.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mssql_int.h"
#include "tds_ascii.h"


/* One name part at *p: [..]] ..], "..""..", or bare up to '.'. */
static char *part(const char **pp, char *err, size_t cap)
{
    const char *p = *pp;
    char *out = malloc(strlen(p) + 1);
    size_t n = 0;
    if (!out)
        return NULL;
    if (*p == '[' || *p == '"') {
        char close = *p == '[' ? ']' : '"';
        p++;
        for (;;) {
            if (!*p) {
                snprintf(err, cap, "--source-table: unclosed %c in the table name", close == ']' ? '[' : '"');
                free(out);
                return NULL;
            }
            if (*p == close) {
                if (p[1] == close) {
                    out[n++] = close;
                    p += 2;
                    continue;
                }
                p++;
                break;
            }
            out[n++] = *p++;
        }
        if (*p && *p != '.') {
            snprintf(err, cap, "--source-table: unexpected text after a quoted name");
            free(out);
            return NULL;
        }
    } else {
        while (*p && *p != '.')
            out[n++] = *p++;
        while (n && isspace((unsigned char)out[n - 1]))
            n--;
    }
    out[n] = '\0';
    *pp = p;
    return out;
}

int pipe_mssql_name_parse(const char *s, pipe_mssql_name *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*s))
        s++;
    if (!tds_ascii_ncasecmp(s, "query:", 6)) {
        const char *q = s + 6;
        while (isspace((unsigned char)*q))
            q++;
        if (!*q) {
            snprintf(err, cap, "--source-table: query: without SQL");
            return TDSPIPE_E_USAGE;
        }
        out->is_query = true;
        out->query = strdup(q);
        return out->query ? 0 : TDSPIPE_E_USAGE;
    }
    char *parts[4] = {0};
    int np = 0;
    const char *p = s;
    for (;;) {
        if (np == 3) {
            snprintf(err, cap, "--source-table: at most three name parts (db.schema.table)");
            goto bad;
        }
        parts[np] = part(&p, err, cap);
        if (!parts[np])
            goto bad;
        np++;
        if (*p != '.')
            break;
        p++;
    }
    if (!*parts[np - 1]) {
        snprintf(err, cap, "--source-table: empty table name");
        goto bad;
    }
    if (np == 1) {
        out->schema = strdup("dbo");
        out->table = parts[0];
    } else if (np == 2) {
        if (!*parts[0]) {
            snprintf(err, cap, "--source-table: empty schema name");
            goto bad;
        }
        out->schema = parts[0];
        out->table = parts[1];
    } else {
        if (!*parts[0]) {
            snprintf(err, cap, "--source-table: empty database name");
            goto bad;
        }
        out->db = parts[0];
        if (*parts[1]) {
            out->schema = parts[1];
        } else { /* db..table */
            free(parts[1]);
            out->schema = strdup("dbo");
        }
        out->table = parts[2];
    }
    return 0;
bad:
    for (int i = 0; i < np; i++)
        free(parts[i]);
    return TDSPIPE_E_USAGE;
}

void pipe_mssql_name_free(pipe_mssql_name *n)
{
    free(n->query);
    free(n->db);
    free(n->schema);
    free(n->table);
    memset(n, 0, sizeof *n);
}

char *pipe_mssql_quote_ident(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == ']' ? 2 : 1;
    char *o = malloc(n + 1), *w = o;
    if (!o)
        return NULL;
    *w++ = '[';
    for (const char *p = s; *p; p++) {
        *w++ = *p;
        if (*p == ']')
            *w++ = ']';
    }
    *w++ = ']';
    *w = '\0';
    return o;
}

void pipe_sqlbuf_put(pipe_sqlbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

void pipe_sqlbuf_ident(pipe_sqlbuf *b, const char *s)
{
    char *q = pipe_mssql_quote_ident(s);
    if (!q)
        b->oom = true;
    else
        pipe_sqlbuf_put(b, q);
    free(q);
}

char *pipe_mssql_quoted(const pipe_mssql_name *n)
{
    char *d = n->db ? pipe_mssql_quote_ident(n->db) : NULL;
    char *s = pipe_mssql_quote_ident(n->schema);
    char *t = pipe_mssql_quote_ident(n->table);
    char *o = NULL;
    if (s && t && (!n->db || d)) {
        size_t len = strlen(s) + strlen(t) + (d ? strlen(d) + 1 : 0) + 2;
        o = malloc(len);
        if (o)
            snprintf(o, len, "%s%s%s.%s", d ? d : "", d ? "." : "", s, t);
    }
    free(d);
    free(s);
    free(t);
    return o;
}

/* N'…' with quotes doubled. */
char *pipe_mssql_quote_str(const char *s)
{
    size_t n = 3;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 2 : 1;
    char *o = malloc(n + 1), *w = o;
    if (!o)
        return NULL;
    *w++ = 'N';
    *w++ = '\'';
    for (const char *p = s; *p; p++) {
        *w++ = *p;
        if (*p == '\'')
            *w++ = '\'';
    }
    *w++ = '\'';
    *w = '\0';
    return o;
}

static bool is_number(const char *s, bool allow_frac)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    int nd = 0, dots = 0;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p))
            nd++;
        else if (*p == '.' && allow_frac && !dots)
            dots++;
        else if ((*p == 'e' || *p == 'E') && allow_frac && nd) {
            p++;
            if (*p == '-' || *p == '+')
                p++;
            if (!*p)
                return false;
            for (; *p; p++)
                if (!isdigit((unsigned char)*p))
                    return false;
            return true;
        } else
            return false;
    }
    return nd > 0;
}

char *pipe_sql_literal(const char *data_type, const char *text, char *err, size_t cap)
{
    static const char *const ints[] = {"tinyint", "smallint", "int", "bigint", "bit", NULL};
    static const char *const nums[] = {"decimal", "numeric", "money", "smallmoney", "float", "real", NULL};
    for (size_t i = 0; ints[i]; i++)
        if (!tds_ascii_casecmp(data_type, ints[i])) {
            if (!is_number(text, false)) {
                snprintf(err, cap, "'%.60s' is not a whole number (the incremental key is %s)", text, data_type);
                return NULL;
            }
            return strdup(text);
        }
    for (size_t i = 0; nums[i]; i++)
        if (!tds_ascii_casecmp(data_type, nums[i])) {
            if (!is_number(text, true)) {
                snprintf(err, cap, "'%.60s' is not a number (the incremental key is %s)", text, data_type);
                return NULL;
            }
            return strdup(text);
        }
    const char *cast = NULL;
    bool to_utc = true;
    if (!tds_ascii_casecmp(data_type, "date"))
        cast = "date";
    else if (!tds_ascii_casecmp(data_type, "datetime") || !tds_ascii_casecmp(data_type, "datetime2") ||
             !tds_ascii_casecmp(data_type, "smalldatetime"))
        cast = "datetime2(7)";
    else if (!tds_ascii_casecmp(data_type, "datetimeoffset")) {
        cast = "datetimeoffset(7)";
        to_utc = false;
    }
    if (cast) {
        char norm[64];
        bool ht, ho;
        if (pipe_datetime_norm(text, to_utc, norm, sizeof norm, &ht, &ho)) {
            snprintf(err, cap, "'%.60s' is not a date, datetime or RFC 3339 time (the incremental key is %s)", text,
                     data_type);
            return NULL;
        }
        if (!to_utc && ht && !ho) /* naive bound on a datetimeoffset key: UTC */
            strcat(norm, " +00:00");
        if (!strcmp(cast, "date") && ht)
            norm[10] = '\0';
        char *q = pipe_mssql_quote_str(norm);
        if (!q)
            return NULL;
        size_t len = strlen(q) + 32;
        char *o = malloc(len);
        if (o)
            snprintf(o, len, "CAST(%s AS %s)", q, cast);
        free(q);
        return o;
    }
    return pipe_mssql_quote_str(text);
}
