/*
 * sql_evolve.c — schema evolution of every SQL destination, written once:
 * the load's columns are compared with an existing target's (the
 * dialect's `columns` hook gives name, type text and nullability), and
 * the load's contract (sink_table.contract, ingestr's --schema-contract)
 * says what happens to the differences. Two kinds of difference count:
 *
 *   new column    the load has a column the target lacks
 *   wider type    same family, the load's is wider: an integer of more
 *                 bits, a longer (or unbounded) string, a decimal with
 *                 more integer digits or more scale
 *
 * Anything else (a narrower type, another family) is not a schema change
 * here: the destination converts the values or refuses them, as it does
 * without a contract. Per contract:
 *
 *   evolve         ALTER TABLE ADD the new columns (nullable) and ALTER
 *                  COLUMN the wider types, in the load's transaction; a
 *                  destination that cannot alter a type fails in one line
 *   freeze         fails before anything is written, naming every column
 *   discard_row    new columns are not loaded, and a row with a non-NULL
 *                  value in one is skipped; so is a row whose value does
 *                  not fit a column that stayed narrower
 *   discard_value  new columns are not loaded; a value that does not fit
 *                  a column that stayed narrower is loaded as NULL
 *
 * replace writes a fresh table: evolve needs nothing, the others compare
 * with the table being replaced (docs/schema-evolution.md). The filter of
 * the discard contracts (struct sql_filter) projects each batch into
 * views of the caller's values before the bulk channel sees it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sql_int.h"
#include "tds_ascii.h"

enum { TC_OTHER, TC_INT, TC_DEC, TC_STR };

/* A type's family and size, from its text ("character varying(10)",
 * "DECIMAL(18,2)", "nvarchar(max) COLLATE Latin1_General_CI_AS"). */
typedef struct tclass {
    int cls;
    unsigned bits;          /* TC_INT */
    bool uns;               /* TC_INT: unsigned (SQL Server tinyint, UTINYINT) */
    long len;               /* TC_STR: characters, -1 unbounded */
    unsigned prec, scale;   /* TC_DEC: prec 0 unbounded (PostgreSQL numeric) */
    char base[48];          /* lower-case name without (…) */
    char suffix[96];        /* " COLLATE …" as written, or "" */
} tclass;

struct sql_filter {
    size_t src_ncols;   /* values per row from the caller */
    size_t *keep;       /* per loaded column: its index in the caller's row */
    size_t nkeep;
    bool *gate;         /* per caller column: a value here skips the row */
    tclass *fit;        /* per loaded column: the target's narrower type, or TC_OTHER */
    bool drop_rows;     /* discard_row: a misfit skips the row, else it becomes NULL */
    tds_value *vals;
    size_t cap;
    sink_buf text;
};

/* An existing column, pointing into the hook's text. */
typedef struct ecol {
    const char *name, *type;
    bool nullable;
} ecol;

/* ------------------------------------------------------------ types */

static const struct { const char *n; unsigned bits; } int_names[] = {
    { "tinyint", 8 }, { "utinyint", 8 }, { "smallint", 16 }, { "int2", 16 }, { "int", 32 },
    { "integer", 32 }, { "int4", 32 }, { "mediumint", 32 }, { "bigint", 64 }, { "int8", 64 },
    { "hugeint", 128 },
};
static const char *const str_names[] = { "varchar", "nvarchar", "character varying", "text", "ntext",
                                         "string", "char", "nchar", "character", "bpchar", NULL };

static bool fixed_char(const char *base)
{
    return !strcmp(base, "char") || !strcmp(base, "nchar") || !strcmp(base, "character") || !strcmp(base, "bpchar");
}

/* (a[, b]) after the name; "max" is -1 */
static int type_args(const char *par, long *a, long *b)
{
    int n = 0;
    if (!par)
        return 0;
    const char *p = par + 1;
    for (; n < 2; n++) {
        while (*p == ' ')
            p++;
        if (!tds_ascii_ncasecmp(p, "max", 3)) {
            *(n ? b : a) = -1;
            p += 3;
        } else {
            char *e;
            *(n ? b : a) = strtol(p, &e, 10);
            if (e == p)
                return n;
            p = e;
        }
        while (*p == ' ')
            p++;
        if (*p != ',')
            return n + 1;
        p++;
    }
    return n;
}

static void classify_base(tclass *t, const char *par, bool tsql)
{
    long a = 0, b = 0;
    int nargs = type_args(par, &a, &b);
    for (size_t i = 0; i < sizeof int_names / sizeof int_names[0]; i++)
        if (!strcmp(t->base, int_names[i].n)) {
            t->cls = TC_INT;
            t->bits = int_names[i].bits;
            t->uns = !strcmp(t->base, "utinyint") || (tsql && !strcmp(t->base, "tinyint"));
            return;
        }
    if (!strcmp(t->base, "decimal") || !strcmp(t->base, "numeric") || !strcmp(t->base, "dec")) {
        t->cls = TC_DEC;
        t->prec = nargs ? (unsigned)a : tsql ? 18 : 0;
        t->scale = nargs > 1 ? (unsigned)b : 0;
        return;
    }
    for (int i = 0; str_names[i]; i++)
        if (!strcmp(t->base, str_names[i])) {
            t->cls = TC_STR;
            bool blob = !strcmp(t->base, "text") || !strcmp(t->base, "ntext"); /* their length is a limit */
            t->len = nargs && !blob ? a : fixed_char(t->base) ? 1 : -1;
            return;
        }
}

static void classify(const char *text, bool tsql, tclass *t)
{
    memset(t, 0, sizeof *t);
    size_t n = strlen(text), end = n;
    for (size_t i = 0; i + 9 <= n; i++)
        if (!tds_ascii_ncasecmp(text + i, " collate ", 9)) {
            snprintf(t->suffix, sizeof t->suffix, "%s", text + i);
            end = i;
            break;
        }
    const char *par = memchr(text, '(', end);
    size_t bend = par ? (size_t)(par - text) : end;
    while (bend && text[bend - 1] == ' ')
        bend--;
    if (bend >= sizeof t->base)
        return;
    for (size_t i = 0; i < bend; i++)
        t->base[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
    t->base[bend] = '\0';
    classify_base(t, par, tsql);
}

/* The type the target's column e must become to hold the load's s (into
 * out), "" when it holds it already, or NULL when no type of its family
 * can. */
static const char *wider(const sql_sink *q, const tclass *e, const tclass *s, const char *stext, char *out,
                         size_t cap)
{
    out[0] = '\0';
    if (e->cls != s->cls || q->d->loose_types)
        return out;
    if (e->cls == TC_INT && s->bits > e->bits)
        snprintf(out, cap, "%s", stext);
    else if (e->cls == TC_STR && e->len >= 0 && (s->len < 0 || s->len > e->len)) {
        if (s->len >= 0)
            snprintf(out, cap, "%s(%ld)%s", e->base, s->len, e->suffix);
        else if (q->d->str_max)
            snprintf(out, cap, "%s%s%s", e->base, q->d->str_max, e->suffix);
        else
            snprintf(out, cap, "%s", stext);
    } else if (e->cls == TC_DEC && e->prec && s->prec) {
        unsigned ei = e->prec - (e->scale < e->prec ? e->scale : e->prec); /* integer digits */
        unsigned si = s->prec - (s->scale < s->prec ? s->scale : s->prec);
        unsigned ip = ei > si ? ei : si, sc = e->scale > s->scale ? e->scale : s->scale;
        if (ip + sc == e->prec && sc == e->scale)
            return out;
        if (ip + sc > 38)
            return NULL;
        snprintf(out, cap, "%s(%u,%u)", e->base, ip + sc, sc);
    }
    return out;
}

/* A source string's declared length in characters (-1: unbounded). The
 * dialect's type text may not say it (PostgreSQL's strings are text). */
static long source_len(const tds_column *c)
{
    bool max = c->is_plp || c->max_len == 0xFFFF || c->type == TDS_T_TEXT || c->type == TDS_T_NTEXT;
    if (max || (c->kind != TDS_K_CHAR && c->kind != TDS_K_NCHAR))
        return -1;
    return c->kind == TDS_K_NCHAR ? (long)c->max_len / 2 : (long)c->max_len;
}

/* ------------------------------------------------------------ target */

/* "name\ttype\tnullable" lines into cols (pointing into text, which is
 * cut up). Returns how many. */
static size_t parse_cols(char *text, ecol *cols, size_t cap)
{
    size_t n = 0;
    for (char *p = text; p && *p && n < cap;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        char *t1 = strchr(p, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (t1) {
            *t1 = '\0';
            if (t2)
                *t2 = '\0';
            cols[n++] = (ecol){ p, t1 + 1, !t2 || t2[1] != '0' };
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static const ecol *find_col(const sql_sink *q, const ecol *cols, size_t n, const char *name)
{
    for (size_t j = 0; j < n; j++)
        if (q->d->nocase ? !tds_ascii_casecmp(cols[j].name, name) : !strcmp(cols[j].name, name))
            return &cols[j];
    return NULL;
}

/* What the load's columns meet in the target. */
typedef struct diff {
    const ecol **match;   /* per load column: the target's, or NULL (new) */
    tclass *etype;        /* per load column: the target column's type */
    char (*widen)[128];   /* per load column: the wider type, or "" */
    size_t nnew, nwide;
    const char *cannot;   /* a column no type of its family can widen to hold */
} diff;

static void compare(const sql_sink *q, const ecol *cols, size_t n, diff *df)
{
    /* T-SQL's tinyint is unsigned and its bare decimal is (18,0) */
    bool tsql = q->d->quote[0] == '[';
    for (size_t i = 0; i < q->sc.ncols; i++) {
        const ecol *e = find_col(q, cols, n, q->sc.names[i]);
        df->match[i] = e;
        if (!e) {
            df->nnew++;
            continue;
        }
        char tmp[128];
        const char *stext = q->d->type(&q->sc.cols[i], false, tmp, sizeof tmp);
        tclass s;
        classify(e->type, tsql, &df->etype[i]);
        classify(stext, tsql, &s);
        if (s.cls == TC_STR)
            s.len = source_len(&q->sc.cols[i]);
        if (!wider(q, &df->etype[i], &s, stext, df->widen[i], sizeof df->widen[i])) {
            /* no type of the family holds both: named by freeze, refused
             * by evolve, values checked by the discard contracts */
            if (!df->cannot)
                df->cannot = q->sc.names[i];
            snprintf(df->widen[i], sizeof df->widen[i], "%s", stext);
        }
        df->nwide += df->widen[i][0] != '\0';
    }
}

/* ------------------------------------------------------------ evolve */

#define ID(n) sink__sql_ident(q, b, (n))

static int alter_statements(const sql_sink *q, const diff *df, sink_buf *b)
{
    int rc = 0;
    for (size_t i = 0; i < q->sc.ncols; i++) {
        bool add = !df->match[i], wide = df->widen[i][0] != '\0';
        if (!add && !wide)
            continue;
        char tmp[128];
        rc |= sink__buf_puts(b, "ALTER TABLE ");
        rc |= sink__sql_table(q, b, q->sc.table);
        if (add) {
            rc |= sink__buf_puts(b, q->d->add_column) || ID(q->sc.names[i]) || sink__buf_putc(b, ' ');
            rc |= sink__buf_puts(b, q->d->type(&q->sc.cols[i], false, tmp, sizeof tmp));
            rc |= sink__buf_puts(b, q->d->null_word);
        } else {
            rc |= sink__buf_puts(b, " ALTER COLUMN ") || ID(q->sc.names[i]);
            rc |= sink__buf_puts(b, q->d->alter_type) || sink__buf_puts(b, df->widen[i]);
            if (q->d->alter_null)
                rc |= sink__buf_puts(b, df->match[i]->nullable ? " NULL" : " NOT NULL");
        }
        rc |= sink__buf_puts(b, ";\n");
    }
    return rc ? SINK_E_NOMEM : SINK_OK;
}

static int evolve(sql_sink *q, const diff *df)
{
    if (q->sc.strategy == SINK_REPLACE || (!df->nnew && !df->nwide))
        return SINK_OK; /* replace: the stage has the load's columns and types */
    for (size_t i = 0; df->cannot && i < q->sc.ncols; i++)
        if (q->sc.names[i] == df->cannot)
            return sink__fail(&q->base, SINK_E_SCHEMA, "%s: column %s: %s cannot be widened to hold %s",
                              q->d->name, df->cannot, df->match[i]->type, df->widen[i]);
    if (df->nwide && !q->d->alter_type) {
        for (size_t i = 0; i < q->sc.ncols; i++)
            if (df->widen[i][0])
                return sink__fail(&q->base, SINK_E_SCHEMA, "%s: column %s: cannot change its type from %s to %s",
                                  q->d->name, q->sc.names[i], df->match[i]->type, df->widen[i]);
    }
    sink_buf *b = &q->sql;
    b->len = 0;
    if (alter_statements(q, df, b) || sink__buf_cstr(b))
        return sink__sql_nomem(q);
    return q->d->exec(q, b->p, "schema evolution");
}

/* freeze: one line naming every new column and every wider type */
static int freeze(sql_sink *q, const diff *df)
{
    if (!df->nnew && !df->nwide)
        return SINK_OK;
    sink_buf m = { 0 };
    int e = 0;
    for (int pass = 0; pass < 2; pass++) {
        bool first = true;
        for (size_t i = 0; i < q->sc.ncols; i++) {
            bool hit = pass ? df->match[i] && df->widen[i][0] : !df->match[i];
            if (!hit)
                continue;
            if (first)
                e |= sink__buf_puts(&m, pass ? (df->nnew ? "; wider types: " : "wider types: ") : "new columns: ");
            else
                e |= sink__buf_puts(&m, ", ");
            first = false;
            e |= sink__buf_puts(&m, q->sc.names[i]);
            if (pass)
                e |= sink__buf_printf(&m, " (%s -> %s)", df->match[i]->type, df->widen[i]);
        }
    }
    int rc = e || sink__buf_cstr(&m)
                 ? sink__sql_nomem(q)
                 : sink__fail(&q->base, SINK_E_SCHEMA, "%s: table %s is frozen (--schema-contract freeze): %s",
                              q->d->name, q->sc.full, m.p);
    sink__buf_free(&m);
    return rc;
}

/* ------------------------------------------------------------ discard */

void sink__sql_filter_free(sql_sink *q)
{
    struct sql_filter *f = q->filter;
    if (!f)
        return;
    free(f->keep);
    free(f->gate);
    free(f->fit);
    free(f->vals);
    sink__buf_free(&f->text);
    free(f);
    q->filter = NULL;
}

/* A key the load needs cannot be discarded. */
static int needed(sql_sink *q, size_t i)
{
    if (!sink__sql_in_pk(&q->sc, i) && q->sc.incr != (int)i && !(q->sc.cdc && !strncmp(q->sc.names[i], "_cdc_", 5)))
        return SINK_OK;
    return sink__fail(&q->base, SINK_E_SCHEMA,
                      "%s: column %s is not in table %s and the load needs it (key); --schema-contract %s cannot drop it",
                      q->d->name, q->sc.names[i], q->sc.full,
                      q->sc.contract == SINK_DISCARD_ROW ? "discard_row" : "discard_value");
}

/* The schema without the dropped columns: names, types, key indices. */
static void compact(sql_sink *q, const struct sql_filter *f)
{
    sink_schema *sc = &q->sc;
    size_t o = 0;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (o < f->nkeep && f->keep[o] == i) {
            sc->cols[o] = sc->cols[i];
            sc->names[o] = sc->names[i];
            for (size_t k = 0; k < sc->npk; k++)
                if (sc->pk[k] == i)
                    sc->pk[k] = o;
            if (sc->incr == (int)i)
                sc->incr = (int)o;
            o++;
        } else {
            free(sc->names[i]);
        }
    }
    for (size_t i = o; i < sc->ncols; i++)
        sc->names[i] = NULL; /* moved or freed */
    sc->ncols = o;
}

static int discard(sql_sink *q, const diff *df)
{
    bool misfit = false;
    for (size_t i = 0; i < q->sc.ncols; i++)
        misfit |= df->match[i] && df->widen[i][0];
    if (!df->nnew && !misfit)
        return SINK_OK;
    for (size_t i = 0; i < q->sc.ncols; i++)
        if (!df->match[i] && needed(q, i))
            return SINK_E_SCHEMA;
    struct sql_filter *f = sink__calloc(1, sizeof *f);
    if (!f)
        return sink__sql_nomem(q);
    q->filter = f;
    f->src_ncols = q->sc.ncols;
    f->drop_rows = q->sc.contract == SINK_DISCARD_ROW;
    f->keep = sink__calloc(q->sc.ncols, sizeof *f->keep);
    f->gate = sink__calloc(q->sc.ncols, sizeof *f->gate);
    f->fit = sink__calloc(q->sc.ncols, sizeof *f->fit);
    if (!f->keep || !f->gate || !f->fit)
        return sink__sql_nomem(q);
    for (size_t i = 0; i < q->sc.ncols; i++) {
        if (!df->match[i]) {
            f->gate[i] = f->drop_rows;
            continue;
        }
        if (df->widen[i][0])
            f->fit[f->nkeep] = df->etype[i];
        f->keep[f->nkeep++] = i;
    }
    compact(q, f);
    return SINK_OK;
}

/* ------------------------------------------------------------ entry */

int sink__sql_evolve(sql_sink *q)
{
    sink_contract k = q->sc.contract;
    if (k == SINK_EVOLVE && q->sc.strategy == SINK_REPLACE)
        return SINK_OK;
    sink_buf text = { 0 };
    int rc = q->d->columns(q, &text);
    size_t n = 0, cap = 1;
    for (const char *p = text.p; p && *p; p++)
        cap += *p == '\n';
    ecol *cols = sink__calloc(cap, sizeof *cols);
    diff df = { .match = sink__calloc(q->sc.ncols, sizeof *df.match),
                .etype = sink__calloc(q->sc.ncols, sizeof *df.etype),
                .widen = sink__calloc(q->sc.ncols, sizeof *df.widen) };
    if (!rc && (!cols || !df.match || !df.etype || !df.widen))
        rc = sink__sql_nomem(q);
    if (!rc) {
        n = parse_cols(text.p, cols, cap);
        compare(q, cols, n, &df);
    }
    if (!rc)
        rc = k == SINK_EVOLVE ? evolve(q, &df) : k == SINK_FREEZE ? freeze(q, &df) : discard(q, &df);
    free(df.match);
    free(df.etype);
    free(df.widen);
    free(cols);
    sink__buf_free(&text);
    return rc;
}

/* Does the non-NULL value v of c fit the target's type t? */
static bool fits(struct sql_filter *f, const tds_column *c, const tds_value *v, const tclass *t)
{
    if (t->cls == TC_INT) {
        int64_t x;
        if (tds_value_int(c, v, &x))
            return true; /* not an integer here: the destination decides */
        if (t->bits >= 64)
            return true;
        int64_t lo = t->uns ? 0 : -((int64_t)1 << (t->bits - 1));
        int64_t hi = t->uns ? ((int64_t)1 << t->bits) - 1 : ((int64_t)1 << (t->bits - 1)) - 1;
        return x >= lo && x <= hi;
    }
    f->text.len = 0;
    if (sink__value_text(&f->text, c, v))
        return true;
    const unsigned char *p = (const unsigned char *)f->text.p, *end = p + f->text.len;
    if (t->cls == TC_STR) {
        long chars = 0;
        for (; p < end; p++)
            chars += (*p & 0xC0) != 0x80;
        return t->len < 0 || chars <= t->len;
    }
    if (t->cls == TC_DEC && t->prec) {
        if (p < end && (*p == '-' || *p == '+'))
            p++;
        while (p < end && *p == '0')
            p++;
        unsigned digits = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            digits++;
        return digits <= t->prec - (t->scale < t->prec ? t->scale : t->prec);
    }
    return true;
}

/* One row of the caller's into out (f->nkeep views); false: skip it. */
static bool filter_row(sql_sink *q, const tds_value *row, tds_value *out)
{
    struct sql_filter *f = q->filter;
    for (size_t i = 0; i < f->src_ncols; i++)
        if (f->gate[i] && !sink__is_null(&row[i]))
            return false;
    for (size_t o = 0; o < f->nkeep; o++) {
        out[o] = row[f->keep[o]];
        if (f->fit[o].cls == TC_OTHER || sink__is_null(&out[o]) || fits(f, &q->sc.cols[o], &out[o], &f->fit[o]))
            continue;
        if (f->drop_rows)
            return false;
        out[o] = (tds_value){ .flags = TDS_VF_NULL };
    }
    return true;
}

int sink__sql_filter(sql_sink *q, const sink_batch *b, sink_batch *out)
{
    struct sql_filter *f = q->filter;
    if (!f) {
        *out = *b;
        return SINK_OK;
    }
    size_t need = b->nrows * f->nkeep;
    if (need > f->cap) {
        tds_value *v = sink__realloc(f->vals, need * sizeof *v);
        if (!v)
            return sink__sql_nomem(q);
        f->vals = v;
        f->cap = need;
    }
    size_t kept = 0;
    for (size_t r = 0; r < b->nrows; r++)
        if (filter_row(q, b->values + r * f->src_ncols, f->vals + kept * f->nkeep))
            kept++;
    *out = (sink_batch){ .values = f->vals, .nrows = kept };
    return SINK_OK;
}
