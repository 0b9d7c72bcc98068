/*
 * sql_parse.c — recursive-descent parser for the statement shapes listed in
 * README.md ("Statements understood"). Produces sql_stmt trees; anything
 * else is error 102 "Incorrect syntax near '…'." (156 for keywords), as
 * SQL Server reports it, and the batch is not run.
 *
 * Invariants: every node is allocated with sql_alloc() and freed with the
 * batch; identifiers are compared case-insensitively; a [bracketed] or
 * "quoted" identifier is never a keyword.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query_int.h"
#include "sql_parse_int.h"


static const char *reserved[] = {
    "select", "from", "where", "order", "by", "group", "having", "join", "inner", "left", "right",
    "outer", "full", "cross", "on", "and", "or", "not", "null", "is", "between", "as", "top",
    "insert", "into", "values", "update", "set", "delete", "create", "drop", "table", "exec",
    "execute", "begin", "commit", "rollback", "tran", "transaction", "use", "union", "merge",
    "using", "when", "matched", "then", "truncate", "alter", "with", "primary", "key",
    "constraint", "desc", "asc", "distinct", "if", "exists", "declare", "schema", "bulk",
    "option", "database", "go", "case", "end", "else", "like", "in", "collate", NULL,
};

void *sql_alloc(sql_batch *b, size_t n)
{
    if (b->nallocs == b->cap_allocs) {
        size_t cap = b->cap_allocs ? b->cap_allocs * 2 : 32;
        void **a = realloc(b->allocs, cap * sizeof *a);
        if (!a)
            return NULL;
        b->allocs = a;
        b->cap_allocs = cap;
    }
    void *p = calloc(1, n ? n : 1);
    if (p)
        b->allocs[b->nallocs++] = p;
    return p;
}

void sql_batch_free(sql_batch *b)
{
    for (size_t i = 0; i < b->nallocs; i++)
        free(b->allocs[i]);
    free(b->allocs);
    free(b->toks);
    free(b->textmem);
    memset(b, 0, sizeof *b);
}

bool is_reserved(const sql_tok *k)
{
    if (k->t != TK_IDENT)
        return false;
    for (int i = 0; reserved[i]; i++)
        if (srv_ieqn(k->text, k->tlen, reserved[i]))
            return true;
    return false;
}

sql_tok *cur(P *p) { return &p->t[p->i]; }

void sql_fail(P *p)
{
    if (p->failed)
        return;
    p->failed = true;
    sql_tok *k = cur(p);
    if (k->t == TK_EOF && p->i > 0)
        k = &p->t[p->i - 1];
    if (is_reserved(k)) {
        p->err->number = 156;
        snprintf(p->err->msg, sizeof p->err->msg, "Incorrect syntax near the keyword '%.*s'.", (int)k->tlen, k->text);
    } else {
        p->err->number = 102;
        snprintf(p->err->msg, sizeof p->err->msg, "Incorrect syntax near '%.*s'.",
                 (int)(k->t == TK_EOF ? 0 : k->n > 100 ? 100 : k->n), k->p);
    }
}

bool kw(P *p, const char *w)
{
    sql_tok *k = cur(p);
    return k->t == TK_IDENT && srv_ieqn(k->text, k->tlen, w);
}

bool accept_kw(P *p, const char *w)
{
    if (kw(p, w)) {
        p->i++;
        return true;
    }
    return false;
}

bool expect_kw(P *p, const char *w)
{
    if (accept_kw(p, w))
        return true;
    sql_fail(p);
    return false;
}

bool op(P *p, const char *o)
{
    sql_tok *k = cur(p);
    return k->t == TK_OP && k->n == strlen(o) && memcmp(k->p, o, k->n) == 0;
}

bool accept_op(P *p, const char *o)
{
    if (op(p, o)) {
        p->i++;
        return true;
    }
    return false;
}

bool expect_op(P *p, const char *o)
{
    if (accept_op(p, o))
        return true;
    sql_fail(p);
    return false;
}

bool is_name(P *p) { return cur(p)->t == TK_QIDENT || (cur(p)->t == TK_IDENT && !is_reserved(cur(p))); }

/* Any identifier (keywords allowed, e.g. column named "key"). */
bool name_any(P *p, char *out)
{
    sql_tok *k = cur(p);
    if (k->t != TK_IDENT && k->t != TK_QIDENT) {
        sql_fail(p);
        return false;
    }
    snprintf(out, SRV_NAME_MAX, "%.*s", (int)k->tlen, k->text);
    p->i++;
    return true;
}

bool name(P *p, char *out)
{
    if (!is_name(p)) {
        sql_fail(p);
        return false;
    }
    return name_any(p, out);
}

/* ------------------------------------------------------------ exprs */


sql_expr *new_expr(P *p, expr_type t)
{
    sql_expr *e = sql_alloc(p->b, sizeof *e);
    if (!e) {
        sql_fail(p);
        return NULL;
    }
    e->t = t;
    e->src = -1;
    e->col = -1;
    return e;
}

/* A type spec: name [(n|max[, n])] [COLLATE x]; written as text for
 * srv_type_parse. */
static bool type_spec(P *p, srv_coldef *d)
{
    char text[SRV_NAME_MAX + 64]; /* a name, "(", two numbers of at most 20 digits, ",", ")" */
    char nm[SRV_NAME_MAX];
    if (!name_any(p, nm))
        return false;
    size_t o = (size_t)snprintf(text, sizeof text, "%s", nm);
    if (o >= sizeof text - 2) { /* no type has so long a name (snprintf's count would run past text) */
        p->i--;
        sql_fail(p);
        return false;
    }
    if (accept_op(p, "(")) {
        o += (size_t)snprintf(text + o, sizeof text - o, "(");
        for (int k = 0; k < 2; k++) {
            sql_tok *t = cur(p);
            /* vector(n, float16|float32): the second argument is a name */
            bool base = k == 1 && t->t == TK_IDENT && (srv_ieqn(t->text, t->tlen, "float16") ||
                                                       srv_ieqn(t->text, t->tlen, "float32"));
            if ((t->t != TK_NUM && !base && !(t->t == TK_IDENT && srv_ieqn(t->text, t->tlen, "max"))) ||
                t->tlen > 20) {
                sql_fail(p);
                return false;
            }
            o += (size_t)snprintf(text + o, sizeof text - o, "%s%.*s", k ? "," : "", (int)t->tlen, t->text);
            p->i++;
            if (!accept_op(p, ","))
                break;
        }
        if (!expect_op(p, ")"))
            return false;
        snprintf(text + o, sizeof text - o, ")");
    }
    if (accept_kw(p, "collate")) {
        char coll[SRV_NAME_MAX];
        if (!name_any(p, coll))
            return false;
    }
    if (srv_type_parse(text, d) < 0) {
        p->i--;
        sql_fail(p);
        return false;
    }
    return true;
}

static sql_expr *primary(P *p);

/* A number: float with an exponent, decimal with a point (float beyond
 * 38 digits), else bigint (float beyond its range). */
static sql_expr *number_literal(P *p, const sql_tok *k)
{
    sql_expr *e = new_expr(p, EX_LIT);
    if (!e)
        return NULL;
    p->i++;
    if (memchr(k->p, 'e', k->n) || memchr(k->p, 'E', k->n)) {
        e->lit.k = SV_FLOAT;
        e->lit.f = strtod(k->text, NULL);
    } else if (memchr(k->p, '.', k->n)) {
        size_t digits = 0, scale = 0;
        bool frac = false;
        for (size_t q = 0; q < k->n; q++) {
            if (k->p[q] == '.') frac = true;
            else { digits++; if (frac) scale++; }
        }
        if (digits > 38 || tds_decimal_parse(k->text, k->tlen, (uint8_t)(digits ? digits : 1), (uint8_t)scale, &e->lit.d) != TDS_OK) {
            e->lit.k = SV_FLOAT;
            e->lit.f = strtod(k->text, NULL);
        } else {
            e->lit.k = SV_DEC;
        }
    } else {
        char *end;
        unsigned long long u = strtoull(k->text, &end, 10);
        if (u > INT64_MAX) {
            e->lit.k = SV_FLOAT;
            e->lit.f = strtod(k->text, NULL);
        } else {
            e->lit.k = SV_INT;
            e->lit.i = (int64_t)u;
        }
    }
    return e;
}

/* 0x…: the bytes, in the statement's arena. */
static sql_expr *hex_literal(P *p, const sql_tok *k)
{
    sql_expr *e = new_expr(p, EX_LIT);
    if (!e)
        return NULL;
    size_t nb = (k->n - 2) / 2;
    uint8_t *bytes = sql_alloc(p->b, nb + 1);
    if (!bytes)
        return NULL;
    for (size_t q = 0; q < nb; q++) {
        char hx[3] = { k->p[2 + 2 * q], k->p[3 + 2 * q], 0 };
        bytes[q] = (uint8_t)strtoul(hx, NULL, 16);
    }
    e->lit.k = SV_BIN;
    e->lit.s = (const char *)bytes;
    e->lit.n = nb;
    p->i++;
    return e;
}

/* CAST(e AS type) and CONVERT(type, e[, style]); the caller saw the
 * keyword and its "(". */
static sql_expr *cast_or_convert(P *p)
{
    bool is_cast = kw(p, "cast");
    p->i += 2;
    sql_expr *e = new_expr(p, EX_CAST);
    if (!e)
        return NULL;
    if (is_cast) {
        if (!(e->args[0] = expr(p)) || !expect_kw(p, "as") || !type_spec(p, &e->cast) || !expect_op(p, ")"))
            return NULL;
    } else {
        if (!type_spec(p, &e->cast) || !expect_op(p, ",") || !(e->args[0] = expr(p)))
            return NULL;
        if (accept_op(p, ",") && !primary(p)) /* the style, ignored */
            return NULL;
        if (!expect_op(p, ")"))
            return NULL;
    }
    e->nargs = 1;
    return e;
}

/* The arguments of a function call (at its "("), then its OVER clause. */
static sql_expr *call_args(P *p, sql_expr *e)
{
    p->i++;
    e->t = EX_FUNC;
    if (accept_op(p, "*")) {
        e->star_arg = true;
    } else if (!op(p, ")")) {
        do {
            if (e->nargs >= 4) {
                sql_fail(p);
                return NULL;
            }
            if (!(e->args[e->nargs++] = expr(p)))
                return NULL;
        } while (accept_op(p, ","));
    }
    if (!expect_op(p, ")"))
        return NULL;
    return !kw(p, "over") || over_clause(p, e) ? e : NULL;
}

/* A column reference (one to three parts, or alias.*), or a function call
 * with its OVER clause. */
static sql_expr *name_or_call(P *p, const sql_tok *k)
{
    sql_expr *e;
    if (is_reserved(k) && !(p->t[p->i + 1].t == TK_OP && p->t[p->i + 1].p[0] == '(' && srv_ieqn(k->text, k->tlen, "left"))) {
        sql_fail(p);
        return NULL;
    }
    e = new_expr(p, EX_COL);
    if (!e)
        return NULL;
    name_any(p, e->parts[0]);
    e->nparts = 1;
    if (k->t == TK_IDENT && op(p, "("))
        return call_args(p, e);
    while (accept_op(p, ".")) {
        if (e->nparts >= 3) {
            sql_fail(p);
            return NULL;
        }
        if (op(p, "*")) {
            p->i++;
            e->t = EX_STAR;
            return e;
        }
        if (!name_any(p, e->parts[e->nparts]))
            return NULL;
        e->nparts++;
        if (e->nparts == 2 && op(p, "(")) {
            /* schema.function(…): the name in parts[0], the schema in parts[1] */
            char schema[SRV_NAME_MAX];
            memcpy(schema, e->parts[0], SRV_NAME_MAX);
            memcpy(e->parts[0], e->parts[1], SRV_NAME_MAX);
            memcpy(e->parts[1], schema, SRV_NAME_MAX);
            e->nparts = 1;
            return call_args(p, e);
        }
    }
    return e;
}

static sql_expr *primary(P *p)
{
    sql_tok *k = cur(p);
    sql_expr *e;
    if (accept_op(p, "(")) {
        if (kw(p, "select")) {
            sql_fail(p); /* subqueries are not supported */
            return NULL;
        }
        e = expr(p);
        return expect_op(p, ")") ? e : NULL;
    }
    if (accept_op(p, "-")) {
        e = new_expr(p, EX_NEG);
        if (e) {
            e->args[0] = expr(p); /* nesting counted */
            e->nargs = 1;
        }
        return e && e->args[0] ? e : NULL;
    }
    if (k->t == TK_NUM)
        return number_literal(p, k);
    if (k->t == TK_STR) {
        e = new_expr(p, EX_LIT);
        if (!e)
            return NULL;
        e->lit = sv_str(k->text, k->tlen);
        e->lit.i = k->unicode; /* remembered for the result type */
        p->i++;
        return e;
    }
    if (k->t == TK_BIN)
        return hex_literal(p, k);
    if (k->t == TK_VAR) {
        bool sys = k->n > 1 && k->p[1] == '@';
        e = new_expr(p, sys ? EX_SYSVAR : EX_VAR);
        if (!e)
            return NULL;
        snprintf(e->parts[0], SRV_NAME_MAX, "%.*s", (int)k->tlen, k->text);
        e->nparts = 1;
        p->i++;
        return e;
    }
    if (accept_kw(p, "null")) {
        e = new_expr(p, EX_LIT);
        return e;
    }
    if ((kw(p, "cast") || kw(p, "convert")) && p->t[p->i + 1].t == TK_OP && p->t[p->i + 1].p[0] == '(')
        return cast_or_convert(p);
    if (k->t == TK_IDENT || k->t == TK_QIDENT)
        return name_or_call(p, k);
    if (accept_op(p, "*"))
        return new_expr(p, EX_STAR);
    sql_fail(p);
    return NULL;
}

sql_expr *expr(P *p)
{
    if (p->failed)
        return NULL;
    sql_expr *e = nest(p) ? primary(p) : NULL;
    p->depth--;
    if (e && (op(p, "+") || op(p, "-") || op(p, "/") || op(p, "%") || op(p, "|") || op(p, "&"))) {
        sql_fail(p); /* arithmetic is not part of the subset */
        return NULL;
    }
    return e;
}

/* ------------------------------------------------------------ table refs */

bool tname(P *p, sql_tref *r)
{
    char parts[3][SRV_NAME_MAX];
    int n = 0;
    memset(parts, 0, sizeof parts);
    for (;;) {
        if (n >= 3) {
            sql_fail(p);
            return false;
        }
        if (op(p, ".")) {
            n++; /* db..table */
        } else {
            if (!(n == 0 ? name(p, parts[n]) : name_any(p, parts[n])))
                return false;
            n++;
        }
        if (!accept_op(p, "."))
            break;
    }
    memset(r->parts, 0, sizeof r->parts);
    for (int q = 0; q < n; q++)
        memcpy(r->parts[3 - n + q], parts[q], SRV_NAME_MAX);
    return true;
}

bool alias(P *p, char *out)
{
    if (accept_kw(p, "as"))
        return name(p, out);
    if (is_name(p))
        return name(p, out);
    return true;
}

bool table_hints(P *p)
{
    if (kw(p, "with") && p->t[p->i + 1].t == TK_OP && p->t[p->i + 1].p[0] == '(') {
        p->i += 2;
        int depth = 1;
        while (depth && cur(p)->t != TK_EOF) {
            if (op(p, "(")) depth++;
            if (op(p, ")")) depth--;
            p->i++;
        }
        if (depth) {
            sql_fail(p);
            return false;
        }
    }
    return true;
}

static bool tref(P *p, sql_tref *r)
{
    if (kw(p, "changetable")) {
        p->i++;
        r->changetable = true;
        if (!expect_op(p, "(") || !expect_kw(p, "changes") || !tname(p, r) || !expect_op(p, ",") ||
            !(r->ct_since = expr(p)) || !expect_op(p, ")"))
            return false;
        return alias(p, r->alias);
    }
    if (accept_op(p, "(")) {
        /* derived table: the alias is required */
        if (!(r->sub = subquery(p)))
            return false;
        accept_kw(p, "as");
        return name(p, r->alias);
    }
    if (!tname(p, r))
        return false;
    if (accept_op(p, "(")) {
        /* a table-valued function: schema.name(args) */
        r->tvf = true;
        if (!op(p, ")")) {
            do {
                if (r->ntvf >= 4) {
                    sql_fail(p);
                    return false;
                }
                if (!(r->tvf_args[r->ntvf++] = expr(p)))
                    return false;
            } while (accept_op(p, ","));
        }
        if (!expect_op(p, ")"))
            return false;
        return alias(p, r->alias);
    }
    cte_bind(p, r);
    if (!alias(p, r->alias))
        return false;
    return table_hints(p);
}

/* ------------------------------------------------------------ SELECT */

/* FROM t [AS a] [[INNER | LEFT [OUTER]] JOIN u [AS b] ON cond] … */
static bool from_list(P *p, sql_select *s)
{
    s->from = sql_alloc(p->b, 8 * sizeof *s->from);
    if (!s->from || !tref(p, &s->from[0]))
        return false;
    s->nfrom = 1;
    for (;;) {
        int join = 0;
        if (accept_kw(p, "left")) {
            accept_kw(p, "outer");
            join = 2;
        } else if (accept_kw(p, "inner")) {
            join = 1;
        } else if (kw(p, "join")) {
            join = 1;
        } else if (op(p, ",") || kw(p, "cross") || kw(p, "right") || kw(p, "full")) {
            sql_fail(p);
            return false;
        }
        if (!join)
            break;
        if (!expect_kw(p, "join"))
            return false;
        if (s->nfrom >= 8) {
            sql_fail(p);
            return false;
        }
        sql_tref *r = &s->from[s->nfrom++];
        r->join = join;
        if (!tref(p, r) || !expect_kw(p, "on") || !cond(p, &r->on))
            return false;
    }
    return true;
}

bool select_body(P *p, sql_select *s)
{
    accept_kw(p, "all");
    if (accept_kw(p, "distinct")) {
        p->i--;
        sql_fail(p);
        return false;
    }
    if (accept_kw(p, "top")) {
        bool paren = accept_op(p, "(");
        if (!(s->top = expr(p)))
            return false;
        if (paren && !expect_op(p, ")"))
            return false;
        if (kw(p, "percent") || kw(p, "with")) {
            sql_fail(p);
            return false;
        }
    }
    int cap = 8;
    s->items = sql_alloc(p->b, (size_t)cap * sizeof *s->items);
    do {
        if (s->nitems == cap) {
            sql_item *ni = sql_alloc(p->b, (size_t)cap * 2 * sizeof *ni);
            if (!ni)
                return false;
            memcpy(ni, s->items, (size_t)cap * sizeof *ni);
            s->items = ni;
            cap *= 2;
        }
        sql_item *it = &s->items[s->nitems++];
        /* alias = expr */
        if (is_name(p) && p->t[p->i + 1].t == TK_OP && p->t[p->i + 1].n == 1 && p->t[p->i + 1].p[0] == '=') {
            name(p, it->alias);
            p->i++;
        }
        if (!(it->e = expr(p)))
            return false;
        if (!it->alias[0] && it->e->t != EX_STAR && !alias(p, it->alias))
            return false;
    } while (accept_op(p, ","));
    if (accept_kw(p, "into")) {
        p->i--;
        sql_fail(p);
        return false;
    }
    if (accept_kw(p, "from") && !from_list(p, s))
        return false;
    if (accept_kw(p, "where") && !cond(p, &s->where))
        return false;
    if (kw(p, "group") || kw(p, "having") || kw(p, "union")) {
        sql_fail(p);
        return false;
    }
    if (accept_kw(p, "order")) {
        if (!expect_kw(p, "by"))
            return false;
        s->order = sql_alloc(p->b, 16 * sizeof *s->order);
        do {
            if (s->norder >= 16) {
                sql_fail(p);
                return false;
            }
            sql_order *o = &s->order[s->norder++];
            if (!(o->e = expr(p)))
                return false;
            if (accept_kw(p, "desc"))
                o->desc = true;
            else
                accept_kw(p, "asc");
        } while (accept_op(p, ","));
    }
    if (accept_kw(p, "option")) {
        p->i--;
        if (!table_hints(p))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------ statements */

static bool name_list(P *p, char (**out)[SRV_NAME_MAX], int *n)
{
    int cap = 16;
    *out = sql_alloc(p->b, (size_t)cap * SRV_NAME_MAX);
    *n = 0;
    if (!expect_op(p, "("))
        return false;
    do {
        if (*n == cap) {
            char(*nn)[SRV_NAME_MAX] = sql_alloc(p->b, (size_t)cap * 2 * SRV_NAME_MAX);
            if (!nn)
                return false;
            memcpy(nn, *out, (size_t)cap * SRV_NAME_MAX);
            *out = nn;
            cap *= 2;
        }
        if (!name_any(p, (*out)[(*n)++]))
            return false;
    } while (accept_op(p, ","));
    return expect_op(p, ")");
}

static bool expr_list(P *p, sql_expr ***out, int *n)
{
    int cap = 16;
    *out = sql_alloc(p->b, (size_t)cap * sizeof **out);
    *n = 0;
    if (!expect_op(p, "("))
        return false;
    do {
        if (*n == cap) {
            sql_expr **ne = sql_alloc(p->b, (size_t)cap * 2 * sizeof *ne);
            if (!ne)
                return false;
            memcpy(ne, *out, (size_t)cap * sizeof *ne);
            *out = ne;
            cap *= 2;
        }
        if (!((*out)[(*n)++] = expr(p)))
            return false;
    } while (accept_op(p, ","));
    return expect_op(p, ")");
}

static bool set_list(P *p, sql_stmt *st)
{
    int cap = 16;
    if (st->set) { /* a second SET list (MERGE with two WHEN MATCHED) is outside the subset */
        sql_fail(p);
        return false;
    }
    st->set = sql_alloc(p->b, (size_t)cap * sizeof *st->set);
    if (!st->set) {
        sql_fail(p);
        return false;
    }
    do {
        if (st->nset == cap) {
            sql_assign *na = sql_alloc(p->b, (size_t)cap * 2 * sizeof *na);
            if (!na)
                return false;
            memcpy(na, st->set, (size_t)cap * sizeof *na);
            st->set = na;
            cap *= 2;
        }
        sql_assign *a = &st->set[st->nset++];
        if (!name_any(p, a->col))
            return false;
        if (accept_op(p, ".") && !name_any(p, a->col))
            return false;
        if (!expect_op(p, "=") || !(a->e = expr(p)))
            return false;
    } while (accept_op(p, ","));
    return true;
}

static bool st_insert(P *p, sql_stmt *st)
{
    if (accept_kw(p, "bulk")) {
        st->t = ST_INSERT_BULK;
        if (!tname(p, &st->target) || !expect_op(p, "("))
            return false;
        int cap = 16;
        st->defs = sql_alloc(p->b, (size_t)cap * sizeof *st->defs);
        do {
            if (st->ndefs == cap) {
                srv_coldef *nd = sql_alloc(p->b, (size_t)cap * 2 * sizeof *nd);
                if (!nd)
                    return false;
                memcpy(nd, st->defs, (size_t)cap * sizeof *nd);
                st->defs = nd;
                cap *= 2;
            }
            srv_coldef *d = &st->defs[st->ndefs++];
            if (!name_any(p, d->name) || !type_spec(p, d))
                return false;
            accept_kw(p, "not");
            accept_kw(p, "null");
        } while (accept_op(p, ","));
        return expect_op(p, ")") && table_hints(p);
    }
    accept_kw(p, "into");
    if (!tname(p, &st->target) || !table_hints(p)) /* INSERT [INTO] t [WITH (hints)] [(cols)] */
        return false;
    if (op(p, "(") && !name_list(p, &st->cols, &st->ncols))
        return false;
    if (accept_kw(p, "select")) {
        st->t = ST_INSERT_SELECT;
        return select_body(p, &st->sel);
    }
    st->t = ST_INSERT;
    if (!expect_kw(p, "values"))
        return false;
    int cap = 16;
    st->vals = sql_alloc(p->b, (size_t)cap * sizeof *st->vals);
    do {
        sql_expr **row;
        int n;
        if (!expr_list(p, &row, &n))
            return false;
        if (st->nvalrows && n != st->nvalcols) {
            sql_fail(p);
            return false;
        }
        st->nvalcols = n;
        if ((st->nvalrows + 1) * n > cap) {
            while ((st->nvalrows + 1) * n > cap)
                cap *= 2;
            sql_expr **nv = sql_alloc(p->b, (size_t)cap * sizeof *nv);
            if (!nv)
                return false;
            memcpy(nv, st->vals, (size_t)(st->nvalrows * n) * sizeof *nv);
            st->vals = nv;
        }
        memcpy(st->vals + st->nvalrows * n, row, (size_t)n * sizeof *row);
        st->nvalrows++;
    } while (accept_op(p, ","));
    return true;
}

static bool st_create(P *p, sql_stmt *st)
{
    if (accept_kw(p, "schema")) {
        st->t = ST_CREATE_SCHEMA;
        if (!name(p, st->word))
            return false;
        if (accept_kw(p, "authorization") && !name(p, st->word2))
            return false;
        return true;
    }
    if (!expect_kw(p, "table") || !tname(p, &st->target) || !expect_op(p, "("))
        return false;
    st->t = ST_CREATE_TABLE;
    int cap = 16;
    st->defs = sql_alloc(p->b, (size_t)cap * sizeof *st->defs);
    do {
        if (kw(p, "constraint") || kw(p, "primary")) {
            if (accept_kw(p, "constraint") && !name(p, st->pk_name))
                return false;
            if (!expect_kw(p, "primary") || !expect_kw(p, "key"))
                return false;
            if (!accept_kw(p, "clustered"))
                accept_kw(p, "nonclustered");
            char(*cols)[SRV_NAME_MAX];
            int n;
            if (!expect_op(p, "(") )
                return false;
            p->i--;
            /* allow "col ASC" inside the key list */
            cols = sql_alloc(p->b, SRV_MAX_PK * SRV_NAME_MAX);
            n = 0;
            p->i++;
            do {
                if (n >= SRV_MAX_PK || !name_any(p, cols[n++]))
                    return false;
                if (!accept_kw(p, "asc"))
                    accept_kw(p, "desc");
            } while (accept_op(p, ","));
            if (!expect_op(p, ")"))
                return false;
            for (int q = 0; q < n; q++)
                memcpy(st->pk_cols[q], cols[q], SRV_NAME_MAX);
            st->npk = n;
            continue;
        }
        if (st->ndefs == cap) {
            srv_coldef *nd = sql_alloc(p->b, (size_t)cap * 2 * sizeof *nd);
            if (!nd)
                return false;
            memcpy(nd, st->defs, (size_t)cap * sizeof *nd);
            st->defs = nd;
            cap *= 2;
        }
        srv_coldef *d = &st->defs[st->ndefs++];
        if (!name_any(p, d->name) || !type_spec(p, d))
            return false;
        srv_gen_defaults(d);
        d->nullable = true;
        for (;;) {
            if (accept_kw(p, "not")) {
                if (!expect_kw(p, "null"))
                    return false;
                d->nullable = false;
            } else if (accept_kw(p, "null")) {
                d->nullable = true;
            } else if (accept_kw(p, "primary")) {
                if (!expect_kw(p, "key") || st->npk)
                    return false;
                if (!accept_kw(p, "clustered"))
                    accept_kw(p, "nonclustered");
                memcpy(st->pk_cols[0], d->name, SRV_NAME_MAX);
                st->npk = 1;
            } else if (accept_kw(p, "identity")) {
                sql_fail(p);
                return false;
            } else {
                break;
            }
        }
    } while (accept_op(p, ","));
    return expect_op(p, ")");
}

static bool st_exec(P *p, sql_stmt *st)
{
    st->t = ST_EXEC;
    if (cur(p)->t == TK_VAR) {
        sql_fail(p); /* EXEC @ret = proc */
        return false;
    }
    sql_tref r;
    memset(&r, 0, sizeof r);
    if (!tname(p, &r))
        return false;
    memcpy(st->word, r.parts[2], SRV_NAME_MAX);
    int cap = 16;
    st->args = sql_alloc(p->b, (size_t)cap * sizeof *st->args);
    st->argnames = sql_alloc(p->b, (size_t)cap * SRV_NAME_MAX);
    if (cur(p)->t == TK_EOF || op(p, ";") || (cur(p)->t == TK_IDENT && is_reserved(cur(p))))
        return true;
    do {
        if (st->nargs == cap) {
            sql_fail(p);
            return false;
        }
        sql_tok *k = cur(p);
        if (k->t == TK_VAR && p->t[p->i + 1].t == TK_OP && p->t[p->i + 1].p[0] == '=') {
            snprintf(st->argnames[st->nargs], SRV_NAME_MAX, "%.*s", (int)k->tlen, k->text);
            p->i += 2;
        }
        if (!(st->args[st->nargs++] = expr(p)))
            return false;
        accept_kw(p, "output");
    } while (accept_op(p, ","));
    return true;
}

static bool st_merge(P *p, sql_stmt *st)
{
    st->t = ST_MERGE;
    accept_kw(p, "into");
    if (!tname(p, &st->target) || !alias(p, st->target.alias) || !expect_kw(p, "using"))
        return false;
    st->sel.from = sql_alloc(p->b, sizeof *st->sel.from);
    st->sel.nfrom = 1;
    if (!tname(p, &st->sel.from[0]) || !alias(p, st->sel.from[0].alias))
        return false;
    if (!expect_kw(p, "on") || !cond(p, &st->merge_on))
        return false;
    while (accept_kw(p, "when")) {
        bool notm = accept_kw(p, "not");
        if (!expect_kw(p, "matched"))
            return false;
        bool by_source = false;
        if (notm && accept_kw(p, "by")) {
            if (accept_kw(p, "source"))
                by_source = true;
            else if (!expect_kw(p, "target"))
                return false;
        }
        if (!expect_kw(p, "then"))
            return false;
        if (!notm) {
            if (!expect_kw(p, "update") || !expect_kw(p, "set") || !set_list(p, st))
                return false;
            st->merge_matched = true;
        } else if (by_source) {
            if (!expect_kw(p, "delete"))
                return false;
            st->merge_delete_notmatched_src = true;
        } else {
            if (!expect_kw(p, "insert") || !name_list(p, &st->merge_ins_cols, &st->nmerge_ins))
                return false;
            int n;
            if (!expect_kw(p, "values") || !expr_list(p, &st->merge_ins_vals, &n))
                return false;
            if (n != st->nmerge_ins) {
                sql_fail(p);
                return false;
            }
            st->merge_notmatched = true;
        }
    }
    return true;
}

/* ALTER TABLE t ADD c type [NULL|NOT NULL][, …] and ALTER TABLE t ALTER
 * COLUMN c type [NULL|NOT NULL]: st->defs, st->word2 "add" or "alter"
 * (exec_ddl.c runs them). */
static bool alter_columns(P *p, sql_stmt *st, bool add)
{
    snprintf(st->word2, sizeof st->word2, "%s", add ? "add" : "alter");
    if (!add && !expect_kw(p, "column"))
        return false;
    int cap = 16;
    if (!(st->defs = sql_alloc(p->b, (size_t)cap * sizeof *st->defs)))
        return false;
    do {
        if (st->ndefs == cap) {
            srv_coldef *nd = sql_alloc(p->b, (size_t)cap * 2 * sizeof *nd);
            if (!nd)
                return false;
            memcpy(nd, st->defs, (size_t)cap * sizeof *nd);
            st->defs = nd;
            cap *= 2;
        }
        srv_coldef *d = &st->defs[st->ndefs++];
        if (!name_any(p, d->name) || !type_spec(p, d))
            return false;
        srv_gen_defaults(d);
        d->nullable = true;
        if (accept_kw(p, "not")) {
            if (!expect_kw(p, "null"))
                return false;
            d->nullable = false;
        } else {
            accept_kw(p, "null");
        }
    } while (add && accept_op(p, ","));
    return true;
}

static bool st_alter(P *p, sql_stmt *st)
{
    if (accept_kw(p, "database")) {
        st->t = ST_ALTER_DB;
        if (!name_any(p, st->word) || !expect_kw(p, "set") || !name_any(p, st->word2))
            return false;
        accept_op(p, "=");
        if (accept_kw(p, "on"))
            st->flag = true;
        else if (!accept_kw(p, "off")) {
            sql_fail(p);
            return false;
        }
        if (accept_op(p, "(")) {
            int depth = 1;
            while (depth && cur(p)->t != TK_EOF) {
                if (op(p, "(")) depth++;
                if (op(p, ")")) depth--;
                if (cur(p)->t == TK_IDENT && srv_ieqn(cur(p)->text, cur(p)->tlen, "change_retention") &&
                    p->t[p->i + 2].t == TK_NUM)
                    snprintf(st->pk_name, sizeof st->pk_name, "%.*s", (int)p->t[p->i + 2].tlen, p->t[p->i + 2].text);
                p->i++;
            }
        }
        if (accept_kw(p, "with")) {
            char w[SRV_NAME_MAX];
            if (!name_any(p, w))
                return false;
        }
        return true;
    }
    if (!expect_kw(p, "table") || !tname(p, &st->target))
        return false;
    st->t = ST_ALTER_TABLE_CT;
    if (accept_kw(p, "add"))
        return alter_columns(p, st, true);
    if (accept_kw(p, "alter"))
        return alter_columns(p, st, false);
    if (accept_kw(p, "enable"))
        st->flag = true;
    else if (!expect_kw(p, "disable"))
        return false;
    if (!expect_kw(p, "change_tracking"))
        return false;
    if (accept_kw(p, "with")) {
        if (!expect_op(p, "(") || !expect_kw(p, "track_columns_updated") || !expect_op(p, "="))
            return false;
        st->npk = accept_kw(p, "on") ? 1 : (expect_kw(p, "off"), 0);
        if (!expect_op(p, ")"))
            return false;
    }
    return true;
}

static bool st_set(P *p, sql_stmt *st)
{
    st->t = ST_SET;
    if (cur(p)->t == TK_VAR) {
        sql_fail(p);
        return false;
    }
    if (accept_kw(p, "transaction")) {
        if (!expect_kw(p, "isolation") || !expect_kw(p, "level"))
            return false;
        snprintf(st->word, sizeof st->word, "isolation");
        size_t o = 0;
        while (cur(p)->t == TK_IDENT && !is_reserved(cur(p)) && o < 60) {
            o += (size_t)snprintf(st->word2 + o, sizeof st->word2 - o, "%s%.*s", o ? " " : "", (int)cur(p)->tlen, cur(p)->text);
            p->i++;
        }
        return o > 0;
    }
    if (!name_any(p, st->word))
        return false;
    while (accept_op(p, ",")) {
        char more[SRV_NAME_MAX];
        if (!name_any(p, more))
            return false;
    }
    sql_tok *k = cur(p);
    if (k->t == TK_IDENT || k->t == TK_NUM || k->t == TK_STR || k->t == TK_QIDENT) {
        snprintf(st->word2, sizeof st->word2, "%.*s", (int)k->tlen, k->text);
        st->flag = srv_ieqn(k->text, k->tlen, "on");
        p->i++;
        return true;
    }
    if (accept_op(p, "-") && cur(p)->t == TK_NUM) {
        p->i++;
        return true;
    }
    sql_fail(p);
    return false;
}

static bool statement(P *p, sql_stmt *st)
{
    if (accept_kw(p, "with")) {
        /* the CTEs are in scope for this statement only */
        if (!with_clause(p))
            return false;
        if (!kw(p, "select") && !kw(p, "insert") && !kw(p, "update") && !kw(p, "delete") && !kw(p, "merge")) {
            sql_fail(p);
            return false;
        }
        bool ok = statement(p, st) && cte_not_target(p, st);
        p->ncte = 0;
        return ok;
    }
    if (accept_kw(p, "select")) {
        st->t = ST_SELECT;
        return select_body(p, &st->sel);
    }
    if (accept_kw(p, "set"))
        return st_set(p, st);
    if (accept_kw(p, "use")) {
        st->t = ST_USE;
        return name_any(p, st->word);
    }
    if (accept_kw(p, "begin")) {
        st->t = ST_BEGIN;
        if (!accept_kw(p, "tran") && !expect_kw(p, "transaction"))
            return false;
        if (is_name(p))
            p->i++;
        return true;
    }
    if (accept_kw(p, "commit") || accept_kw(p, "rollback")) {
        st->t = srv_ieqn(p->t[p->i - 1].text, p->t[p->i - 1].tlen, "commit") ? ST_COMMIT : ST_ROLLBACK;
        if (accept_kw(p, "tran") || accept_kw(p, "transaction") || accept_kw(p, "work"))
            if (is_name(p))
                p->i++;
        return true;
    }
    if (accept_kw(p, "insert"))
        return st_insert(p, st);
    if (accept_kw(p, "update")) {
        st->t = ST_UPDATE;
        if (!tname(p, &st->target) || !table_hints(p) || !expect_kw(p, "set") || !set_list(p, st))
            return false;
        /* UPDATE a SET … FROM t AS a JOIN …: the target is one of the
         * FROM sources (exec_dml.c) */
        if (accept_kw(p, "from") && !from_list(p, &st->sel))
            return false;
        return !accept_kw(p, "where") || cond(p, &st->where);
    }
    if (accept_kw(p, "delete")) {
        st->t = ST_DELETE;
        accept_kw(p, "from");
        if (!tname(p, &st->target) || !table_hints(p))
            return false;
        if (kw(p, "from")) {
            sql_fail(p);
            return false;
        }
        return !accept_kw(p, "where") || cond(p, &st->where);
    }
    if (accept_kw(p, "truncate")) {
        st->t = ST_TRUNCATE;
        return expect_kw(p, "table") && tname(p, &st->target);
    }
    if (accept_kw(p, "create"))
        return st_create(p, st);
    if (accept_kw(p, "drop")) {
        st->t = ST_DROP_TABLE;
        if (!expect_kw(p, "table"))
            return false;
        if (accept_kw(p, "if")) {
            if (!expect_kw(p, "exists"))
                return false;
            st->flag = true;
        }
        return tname(p, &st->target);
    }
    if (accept_kw(p, "exec") || accept_kw(p, "execute"))
        return st_exec(p, st);
    if (accept_kw(p, "merge"))
        return st_merge(p, st);
    if (accept_kw(p, "alter"))
        return st_alter(p, st);
    sql_fail(p);
    return false;
}

int sql_parse(const char *sql, size_t len, sql_batch *b, sql_perr *err)
{
    memset(b, 0, sizeof *b);
    size_t eoff = 0;
    int n = sql_lex(sql, len, &b->toks, &b->textmem, &eoff);
    if (n < 0) {
        err->number = 105;
        snprintf(err->msg, sizeof err->msg, "Unclosed quotation mark after the character string '%.*s'.",
                 (int)(len - eoff > 100 ? 100 : len - eoff), sql + eoff);
        return -1;
    }
    P p = { .t = b->toks, .n = n, .b = b, .err = err };
    int cap = 8;
    b->stmts = sql_alloc(b, (size_t)cap * sizeof *b->stmts);
    while (!p.failed) {
        while (accept_op(&p, ";"))
            ;
        if (cur(&p)->t == TK_EOF)
            break;
        if (kw(&p, "go") ) {
            p.i++;
            continue;
        }
        if (b->n == cap) {
            sql_stmt *ns = sql_alloc(b, (size_t)cap * 2 * sizeof *ns);
            if (!ns)
                return -1;
            memcpy(ns, b->stmts, (size_t)cap * sizeof *ns);
            b->stmts = ns;
            cap *= 2;
        }
        sql_stmt *st = &b->stmts[b->n++];
        st->off = cur(&p)->off;
        if (!statement(&p, st))
            break;
        st->end = cur(&p)->off;
        /* the next token must start a statement or end the batch */
        if (!p.failed && cur(&p)->t != TK_EOF && !op(&p, ";") && cur(&p)->t != TK_IDENT)
            sql_fail(&p);
    }
    if (p.failed) {
        if (!err->number) {
            err->number = 102;
            snprintf(err->msg, sizeof err->msg, "Incorrect syntax near '%s'.", "");
        }
        return -1;
    }
    return 0;
}
