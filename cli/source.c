/*
 * source.c — what `ingest` reads from SQL Server: --source-table names
 * (schema.table, [bracketed], "quoted", three-part, query:…), the catalog
 * facts of a table (columns and primary key, with the catalog query
 * shapes tests/server/README.md documents — plain INFORMATION_SCHEMA that
 * SQL Server answers too), --columns specs, SQL literals for incremental
 * bounds, destination naming (--schema-naming), and cli_sqlbuf, the text
 * buffer select.c and ct.c build their SQL in.
 * Invariant: every identifier that reaches SQL text is [bracket]-quoted,
 * every string N'…'-quoted with quotes doubled.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_int.h"

/* ------------------------------------------------------------ names */

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

int cli_source_name_parse(const char *s, cli_source_name *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    while (isspace((unsigned char)*s))
        s++;
    if (!strncasecmp(s, "query:", 6)) {
        const char *q = s + 6;
        while (isspace((unsigned char)*q))
            q++;
        if (!*q) {
            snprintf(err, cap, "--source-table: query: without SQL");
            return CLI_EXIT_USAGE;
        }
        out->is_query = true;
        out->query = strdup(q);
        return out->query ? 0 : CLI_EXIT_USAGE;
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
    return CLI_EXIT_USAGE;
}

void cli_source_name_free(cli_source_name *n)
{
    free(n->query);
    free(n->db);
    free(n->schema);
    free(n->table);
    memset(n, 0, sizeof *n);
}

char *cli_quote_ident(const char *s)
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

void cli_sqlbuf_put(cli_sqlbuf *b, const char *s)
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

void cli_sqlbuf_ident(cli_sqlbuf *b, const char *s)
{
    char *q = cli_quote_ident(s);
    if (!q)
        b->oom = true;
    else
        cli_sqlbuf_put(b, q);
    free(q);
}

char *cli_source_quoted(const cli_source_name *n)
{
    char *d = n->db ? cli_quote_ident(n->db) : NULL;
    char *s = cli_quote_ident(n->schema);
    char *t = cli_quote_ident(n->table);
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
static char *quote_str(const char *s)
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

/* -------------------------------------------------------- --columns */

static const struct {
    const char *name;
    const char *sql;
} col_types[] = {
    {"bigint", "bigint"}, {"int", "int"}, {"integer", "int"}, {"smallint", "smallint"},
    {"tinyint", "tinyint"}, {"float", "float"}, {"double", "float"}, {"real", "real"},
    {"decimal", "decimal(38,9)"}, {"numeric", "decimal(38,9)"}, {"wei", "decimal(38,0)"},
    {"string", "nvarchar(max)"}, {"text", "nvarchar(max)"}, {"json", "nvarchar(max)"},
    {"complex", "nvarchar(max)"}, {"varchar", "nvarchar(max)"}, {"nvarchar", "nvarchar(max)"},
    {"bool", "bit"}, {"boolean", "bit"}, {"bit", "bit"}, {"date", "date"}, {"time", "time(7)"},
    {"timestamp", "datetimeoffset(7)"}, {"timestamptz", "datetimeoffset(7)"},
    {"timestamp_ntz", "datetime2(7)"}, {"datetime", "datetime2(7)"}, {"datetime2", "datetime2(7)"},
    {"datetimeoffset", "datetimeoffset(7)"}, {"uuid", "uniqueidentifier"},
    {"uniqueidentifier", "uniqueidentifier"}, {"binary", "varbinary(max)"},
    {"varbinary", "varbinary(max)"}, {"money", "money"},
};

/* "name(args)" with args digits[,digits] or max, for types that take them. */
static int sized_type(const char *t, char *out, size_t cap)
{
    static const char *const sized[] = {"decimal", "numeric", "varchar", "nvarchar", "char", "nchar",
                                        "varbinary", "binary", "datetime2", "datetimeoffset", "time", "float", NULL};
    const char *lp = strchr(t, '(');
    if (!lp || t[strlen(t) - 1] != ')')
        return -1;
    size_t bn = (size_t)(lp - t);
    char base[32];
    if (bn == 0 || bn >= sizeof base)
        return -1;
    for (size_t i = 0; i < bn; i++)
        base[i] = (char)tolower((unsigned char)t[i]);
    base[bn] = '\0';
    bool ok = false;
    for (size_t i = 0; sized[i]; i++)
        ok |= !strcmp(base, sized[i]);
    if (!ok)
        return -1;
    const char *a = lp + 1;
    size_t an = strlen(a) - 1;
    char args[32];
    size_t k = 0;
    for (size_t i = 0; i < an; i++)
        if (!isspace((unsigned char)a[i])) {
            if (k + 1 >= sizeof args)
                return -1;
            args[k++] = a[i];
        }
    args[k] = '\0';
    an = k;
    if (an == 0)
        return -1;
    bool is_max = !strcasecmp(args, "max");
    if (is_max && strcmp(base, "varchar") && strcmp(base, "nvarchar") && strcmp(base, "varbinary"))
        return -1;
    if (!is_max) {
        int commas = 0;
        for (char *p = args; *p; p++) {
            if (*p == ',')
                commas++;
            else if (!isdigit((unsigned char)*p))
                return -1;
        }
        if (commas > 1 || (commas && strcmp(base, "decimal") && strcmp(base, "numeric")) || args[0] == ',' ||
            args[an - 1] == ',')
            return -1;
        long v = strtol(args, NULL, 10);
        if (v <= 0 && strcmp(base, "datetime2") && strcmp(base, "datetimeoffset") && strcmp(base, "time"))
            return -1;
    }
    /* ingestr's varchar(n) is text: keep it Unicode */
    int w = !strcmp(base, "varchar") ? snprintf(out, cap, "nvarchar(%.31s)", args)
                                     : snprintf(out, cap, "%.31s(%.31s)", base, args);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}

static int column_type(const char *t, char *out, size_t cap)
{
    for (size_t i = 0; i < sizeof col_types / sizeof col_types[0]; i++)
        if (!strcasecmp(t, col_types[i].name)) {
            snprintf(out, cap, "%s", col_types[i].sql);
            return 0;
        }
    return sized_type(t, out, cap);
}

int cli_colspec_parse(const char *s, cli_colspec *out, char *why, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *c1 = strchr(s, ':');
    if (!c1 || c1 == s) {
        snprintf(why, cap, "'%.100s' is not name:type", s);
        return -1;
    }
    const char *c2 = strchr(c1 + 1, ':');
    size_t nn = (size_t)(c1 - s);
    if (nn >= sizeof out->name) {
        snprintf(why, cap, "column name too long");
        return -1;
    }
    memcpy(out->name, s, nn);
    char type[64];
    size_t tn = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
    if (tn >= sizeof type) {
        snprintf(why, cap, "unknown column type in '%.100s'", s);
        return -1;
    }
    memcpy(type, c1 + 1, tn);
    type[tn] = '\0';
    if (c2) {
        if (!c2[1] || strlen(c2 + 1) >= sizeof out->source) {
            snprintf(why, cap, "'%.100s': empty source column after the second ':'", s);
            return -1;
        }
        snprintf(out->source, sizeof out->source, "%s", c2 + 1);
    } else {
        snprintf(out->source, sizeof out->source, "%s", out->name);
    }
    if (!tn) {
        if (!c2) {
            snprintf(why, cap, "'%.100s' has no type", s);
            return -1;
        }
        return 0; /* rename only */
    }
    if (column_type(type, out->sqltype, sizeof out->sqltype)) {
        snprintf(why, cap,
                 "unknown column type '%.40s' for '%.100s' (use bigint, int, smallint, tinyint, float, double, "
                 "decimal(p,s), string, text, varchar(n), boolean, date, time, timestamp, timestamp_ntz, json, "
                 "uuid, binary or a SQL Server type)",
                 type, out->name);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------- catalog */

typedef struct cat_read {
    cli_list *a, *b;
    int ncols;
    int fail;
} cat_read;

static int cat_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    cat_read *r = ud;
    cli_list *dst[2] = {r->a, r->b};
    for (int i = 0; i < 2 && i < ncols; i++) {
        if (!dst[i])
            continue;
        char buf[1024];
        size_t len = 0;
        if (vals[i].flags & TDS_VF_NULL) {
            buf[0] = '\0';
        } else if (tds_value_text(&cols[i], &vals[i], buf, sizeof buf, &len) != TDS_OK) {
            r->fail = 1;
            return NET_ROW_ABORT;
        }
        if (cli_list_add(dst[i], buf, len)) {
            r->fail = 1;
            return NET_ROW_ABORT;
        }
    }
    return NET_ROW_NEXT;
}

static int run_list(net_client *cl, const char *sql, cli_list *a, cli_list *b, char *err, size_t cap)
{
    cat_read r = {a, b, 0, 0};
    net_result_cb cb = {0};
    cb.row = cat_row;
    net_error e;
    memset(&e, 0, sizeof e);
    /* transient faults (Azure failovers…) are retried per the URI's retries: no
     * row has reached the destination yet */
    int rc = net_client_batch_retry(cl, sql, &cb, &r, &e);
    if (r.fail) {
        snprintf(err, cap, "cannot read the catalog: a name did not decode");
        return CLI_EXIT_LOAD;
    }
    if (rc != NET_OK) {
        snprintf(err, cap, "reading the catalog: %s", e.message[0] ? e.message : net_strerror(rc));
        return CLI_EXIT_LOAD;
    }
    return 0;
}

int cli_catalog_read(net_client *cl, const cli_source_name *n, cli_catalog *cat, char *err, size_t cap)
{
    memset(cat, 0, sizeof *cat);
    char *qs = quote_str(n->schema), *qt = quote_str(n->table);
    char *qd = n->db ? cli_quote_ident(n->db) : NULL;
    int rc = CLI_EXIT_LOAD;
    char *sql = NULL;
    if (!qs || !qt || (n->db && !qd)) {
        snprintf(err, cap, "out of memory");
        goto out;
    }
    size_t len = 2048 + strlen(qs) * 2 + strlen(qt) * 2 + (qd ? strlen(qd) * 3 : 0);
    sql = malloc(len);
    if (!sql) {
        snprintf(err, cap, "out of memory");
        goto out;
    }
    const char *pre = qd ? qd : "", *dot = qd ? "." : "";
    snprintf(sql, len,
             "SELECT COLUMN_NAME, DATA_TYPE FROM %s%sINFORMATION_SCHEMA.COLUMNS "
             "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
             pre, dot, qs, qt);
    if ((rc = run_list(cl, sql, &cat->names, &cat->types, err, cap)))
        goto out;
    if (!cat->names.n) {
        snprintf(err, cap, "source table %s%s%s.%s does not exist (or has no columns you may read)",
                 n->db ? n->db : "", n->db ? "." : "", n->schema, n->table);
        rc = CLI_EXIT_LOAD;
        goto out;
    }
    snprintf(sql, len,
             "SELECT kcu.COLUMN_NAME FROM %s%sINFORMATION_SCHEMA.TABLE_CONSTRAINTS tc "
             "JOIN %s%sINFORMATION_SCHEMA.KEY_COLUMN_USAGE kcu ON tc.CONSTRAINT_NAME = kcu.CONSTRAINT_NAME "
             "AND tc.TABLE_SCHEMA = kcu.TABLE_SCHEMA AND tc.TABLE_NAME = kcu.TABLE_NAME "
             "WHERE tc.CONSTRAINT_TYPE = 'PRIMARY KEY' AND tc.TABLE_SCHEMA = %s AND tc.TABLE_NAME = %s "
             "ORDER BY kcu.ORDINAL_POSITION",
             pre, dot, pre, dot, qs, qt);
    rc = run_list(cl, sql, &cat->pk, NULL, err, cap);
out:
    free(sql);
    free(qs);
    free(qt);
    free(qd);
    return rc;
}

void cli_catalog_free(cli_catalog *c)
{
    cli_list_free(&c->names);
    cli_list_free(&c->types);
    cli_list_free(&c->pk);
}

/* ------------------------------------------------------ literals */

static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* days since 1970-01-01 (H. Hinnant's civil algorithm) */
static long days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int cli_datetime_norm(const char *in, bool to_utc, char *out, size_t cap, bool *has_time, bool *has_offset)
{
    size_t n = strlen(in);
    *has_time = *has_offset = false;
    if (n < 10 || in[4] != '-' || in[7] != '-')
        return -1;
    int y = digits(in, 4), mo = digits(in + 5, 2), d = digits(in + 8, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    int h = 0, mi = 0, s = 0, off = 0;
    char frac[8] = "0000000";
    const char *p = in + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        *has_time = true;
        if (strlen(p) < 5 || p[2] != ':')
            return -1;
        h = digits(p, 2);
        mi = digits(p + 3, 2);
        p += 5;
        if (*p == ':') {
            s = digits(p + 1, 2);
            p += 3;
            if (*p == '.') {
                p++;
                int k = 0;
                while (isdigit((unsigned char)*p)) {
                    if (k < 7)
                        frac[k++] = *p;
                    p++;
                }
                if (!k)
                    return -1;
            }
        }
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
            return -1;
        while (*p == ' ')
            p++;
        if (*p == 'Z' || *p == 'z') {
            *has_offset = true;
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1;
            p++;
            int oh = digits(p, 2), om;
            if (oh < 0)
                return -1;
            p += 2;
            if (*p == ':')
                p++;
            om = *p ? digits(p, 2) : 0;
            if (*p)
                p += 2;
            if (om < 0 || oh > 14 || om > 59)
                return -1;
            off = sign * (oh * 60 + om);
            *has_offset = true;
        }
    }
    if (*p)
        return -1;
    long yy = y;
    if (*has_offset && to_utc && off) {
        long mins = days_from_civil(y, mo, d) * 1440 + h * 60 + mi - off;
        long day = mins >= 0 ? mins / 1440 : -((-mins + 1439) / 1440);
        long rem = mins - day * 1440;
        civil_from_days(day, &yy, &mo, &d);
        h = (int)(rem / 60);
        mi = (int)(rem % 60);
    }
    if (!*has_time)
        snprintf(out, cap, "%04ld-%02d-%02d", yy, mo, d);
    else if (*has_offset && !to_utc)
        snprintf(out, cap, "%04ld-%02d-%02d %02d:%02d:%02d.%s %c%02d:%02d", yy, mo, d, h, mi, s, frac,
                 off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
    else
        snprintf(out, cap, "%04ld-%02d-%02d %02d:%02d:%02d.%s", yy, mo, d, h, mi, s, frac);
    return 0;
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

char *cli_sql_literal(const char *data_type, const char *text, char *err, size_t cap)
{
    static const char *const ints[] = {"tinyint", "smallint", "int", "bigint", "bit", NULL};
    static const char *const nums[] = {"decimal", "numeric", "money", "smallmoney", "float", "real", NULL};
    for (size_t i = 0; ints[i]; i++)
        if (!strcasecmp(data_type, ints[i])) {
            if (!is_number(text, false)) {
                snprintf(err, cap, "'%.60s' is not a whole number (the incremental key is %s)", text, data_type);
                return NULL;
            }
            return strdup(text);
        }
    for (size_t i = 0; nums[i]; i++)
        if (!strcasecmp(data_type, nums[i])) {
            if (!is_number(text, true)) {
                snprintf(err, cap, "'%.60s' is not a number (the incremental key is %s)", text, data_type);
                return NULL;
            }
            return strdup(text);
        }
    const char *cast = NULL;
    bool to_utc = true;
    if (!strcasecmp(data_type, "date"))
        cast = "date";
    else if (!strcasecmp(data_type, "datetime") || !strcasecmp(data_type, "datetime2") ||
             !strcasecmp(data_type, "smalldatetime"))
        cast = "datetime2(7)";
    else if (!strcasecmp(data_type, "datetimeoffset")) {
        cast = "datetimeoffset(7)";
        to_utc = false;
    }
    if (cast) {
        char norm[64];
        bool ht, ho;
        if (cli_datetime_norm(text, to_utc, norm, sizeof norm, &ht, &ho)) {
            snprintf(err, cap, "'%.60s' is not a date, datetime or RFC 3339 time (the incremental key is %s)", text,
                     data_type);
            return NULL;
        }
        if (!to_utc && ht && !ho) /* naive bound on a datetimeoffset key: UTC */
            strcat(norm, " +00:00");
        if (!strcmp(cast, "date") && ht)
            norm[10] = '\0';
        char *q = quote_str(norm);
        if (!q)
            return NULL;
        size_t len = strlen(q) + 32;
        char *o = malloc(len);
        if (o)
            snprintf(o, len, "CAST(%s AS %s)", q, cast);
        free(q);
        return o;
    }
    return quote_str(text);
}

/* ----------------------------------------------------------- naming */

char *cli_name_apply(cli_naming mode, const char *name)
{
    if (mode == CLI_NAMING_DIRECT)
        return strdup(name);
    /* snake_case as ingestr/dlt spell it: camelCase split, non-alphanumerics
     * to '_', runs collapsed, lower case, a leading digit prefixed by '_'. */
    size_t n = strlen(name);
    char *o = malloc(n * 2 + 2);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isalnum(c) || c >= 0x80) {
            bool up = isupper(c);
            if (up && k && o[k - 1] != '_') {
                unsigned char prev = (unsigned char)name[i - 1];
                unsigned char next = i + 1 < n ? (unsigned char)name[i + 1] : 0;
                if (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next)))
                    o[k++] = '_';
            }
            o[k++] = (char)(c < 0x80 ? tolower(c) : c);
        } else if (k && o[k - 1] != '_') {
            o[k++] = '_';
        }
    }
    while (k && o[k - 1] == '_')
        k--;
    o[k] = '\0';
    if (!k) {
        free(o);
        return strdup("_");
    }
    if (isdigit((unsigned char)o[0])) {
        memmove(o + 1, o, k + 1);
        o[0] = '_';
    }
    return o;
}
