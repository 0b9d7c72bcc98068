/*
 * sql_parse_sub.c — the parser's nested parts: search conditions (AND,
 * OR, NOT, parentheses, [NOT] EXISTS (subquery), comparisons, IS NULL,
 * BETWEEN), subqueries, WITH common table expressions and the OVER
 * clause of ROW_NUMBER(). The statements are sql_parse.c's.
 *
 * Precedence as SQL Server's: NOT binds tighter than AND, AND tighter
 * than OR. An OR becomes one P_OR predicate holding its AND-lists, so a
 * condition without OR keeps the flat AND-list the executors know.
 */
#include <stdio.h>
#include <string.h>

#include "sql_parse_int.h"

static bool pred(P *p, sql_where *w);

bool nest(P *p)
{
    if (++p->depth <= SQL_MAX_DEPTH)
        return true;
    if (!p->failed) {
        p->failed = true;
        p->err->number = 191;
        snprintf(p->err->msg, sizeof p->err->msg,
                 "Some part of your SQL statement is nested too deeply. Rewrite the query or break it up into smaller queries.");
    }
    return false;
}

static bool add_pred(P *p, sql_where *w, sql_pred pr)
{
    sql_pred *np = sql_alloc(p->b, (size_t)(w->n + 1) * sizeof *np);
    if (!np) {
        sql_fail(p);
        return false;
    }
    if (w->n)
        memcpy(np, w->p, (size_t)w->n * sizeof *np);
    np[w->n++] = pr;
    w->p = np;
    return true;
}

static bool and_list(P *p, sql_where *w)
{
    do {
        if (!pred(p, w))
            return false;
    } while (accept_kw(p, "and"));
    return true;
}

bool cond(P *p, sql_where *w)
{
    sql_where first = { 0 };
    if (!and_list(p, &first))
        return false;
    if (!kw(p, "or")) {
        for (int q = 0; q < first.n; q++)
            if (!add_pred(p, w, first.p[q]))
                return false;
        return true;
    }
    sql_pred pr = { .op = P_OR };
    int cap = 4;
    pr.sub = sql_alloc(p->b, (size_t)cap * sizeof *pr.sub);
    if (!pr.sub) {
        sql_fail(p);
        return false;
    }
    pr.sub[pr.nsub++] = first;
    while (accept_kw(p, "or")) {
        if (pr.nsub == cap) {
            sql_where *ns = sql_alloc(p->b, (size_t)cap * 2 * sizeof *ns);
            if (!ns) {
                sql_fail(p);
                return false;
            }
            memcpy(ns, pr.sub, (size_t)cap * sizeof *ns);
            pr.sub = ns;
            cap *= 2;
        }
        sql_where *alt = &pr.sub[pr.nsub++];
        memset(alt, 0, sizeof *alt);
        if (!and_list(p, alt))
            return false;
    }
    return add_pred(p, w, pr);
}

static sql_select *subquery_in(P *p);

sql_select *subquery(P *p)
{
    sql_select *s = nest(p) ? subquery_in(p) : NULL;
    p->depth--;
    return s;
}

static sql_select *subquery_in(P *p)
{
    sql_select *s = sql_alloc(p->b, sizeof *s);
    if (!s) {
        sql_fail(p);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    if (!expect_kw(p, "select") || !select_body(p, s) || !expect_op(p, ")"))
        return NULL;
    return s;
}

static bool pred_in(P *p, sql_where *w);

static bool pred(P *p, sql_where *w)
{
    bool ok = nest(p) && pred_in(p, w);
    p->depth--;
    return ok;
}

static bool pred_in(P *p, sql_where *w)
{
    if (accept_kw(p, "not")) {
        sql_pred pr = { .op = P_NOT, .nsub = 1 };
        if (!(pr.sub = sql_alloc(p->b, sizeof *pr.sub))) {
            sql_fail(p);
            return false;
        }
        memset(pr.sub, 0, sizeof *pr.sub);
        return pred(p, pr.sub) && add_pred(p, w, pr);
    }
    if (accept_kw(p, "exists")) {
        sql_pred pr = { .op = P_EXISTS };
        return expect_op(p, "(") && (pr.query = subquery(p)) && add_pred(p, w, pr);
    }
    if (op(p, "(") && !(p->t[p->i + 1].t == TK_IDENT && srv_ieqn(p->t[p->i + 1].text, p->t[p->i + 1].tlen, "select"))) {
        /* "(a = 1 OR b = 2)" is one predicate; "(expr) op …" backtracks */
        int save = p->i;
        p->i++;
        sql_where inner = { 0 };
        bool failed_before = p->failed;
        if (!failed_before && cond(p, &inner) && accept_op(p, ")")) {
            for (int q = 0; q < inner.n; q++)
                if (!add_pred(p, w, inner.p[q]))
                    return false;
            return true;
        }
        if (p->failed && !failed_before) {
            p->failed = false;
            p->i = save;
        }
    }
    sql_pred pr = { 0 };
    pr.a = expr(p);
    if (!pr.a)
        return false;
    bool neg = false;
    if (accept_kw(p, "is")) {
        pr.op = accept_kw(p, "not") ? P_NOTNULL : P_ISNULL;
        if (!expect_kw(p, "null"))
            return false;
    } else if ((neg = accept_kw(p, "not")) || kw(p, "between")) {
        pr.op = P_BETWEEN;
        if (!expect_kw(p, "between") || !(pr.b = expr(p)) || !expect_kw(p, "and") || !(pr.c = expr(p)))
            return false;
    } else {
        static const struct { const char *o; pred_op op; } ops[] = {
            { "=", P_EQ }, { "<>", P_NE }, { "!=", P_NE }, { "<=", P_LE }, { ">=", P_GE },
            { "<", P_LT }, { ">", P_GT }, { "!<", P_GE }, { "!>", P_LE },
        };
        bool found = false;
        for (size_t q = 0; q < sizeof ops / sizeof ops[0] && !found; q++)
            if (accept_op(p, ops[q].o)) {
                pr.op = ops[q].op;
                found = true;
            }
        if (!found) {
            sql_fail(p);
            return false;
        }
        if (!(pr.b = expr(p)))
            return false;
    }
    if (!neg)
        return add_pred(p, w, pr);
    sql_pred np = { .op = P_NOT, .nsub = 1 };
    if (!(np.sub = sql_alloc(p->b, sizeof *np.sub))) {
        sql_fail(p);
        return false;
    }
    memset(np.sub, 0, sizeof *np.sub);
    return add_pred(p, np.sub, pr) && add_pred(p, w, np);
}

bool over_clause(P *p, sql_expr *e)
{
    if (!srv_ieq(e->parts[0], "row_number") || e->nargs || e->star_arg) {
        sql_fail(p); /* the only window function of the subset */
        return false;
    }
    if (!expect_kw(p, "over") || !expect_op(p, "("))
        return false;
    e->t = EX_WINDOW;
    if (accept_kw(p, "partition")) {
        if (!expect_kw(p, "by"))
            return false;
        e->win_part = sql_alloc(p->b, SRV_MAX_PK * sizeof *e->win_part);
        if (!e->win_part) {
            sql_fail(p);
            return false;
        }
        do {
            if (e->nwin_part >= SRV_MAX_PK) {
                sql_fail(p);
                return false;
            }
            if (!(e->win_part[e->nwin_part++] = expr(p)))
                return false;
        } while (accept_op(p, ","));
    }
    /* ROW_NUMBER needs its ORDER BY (error 4112 otherwise) */
    if (!kw(p, "order")) {
        p->failed = true;
        p->err->number = 4112;
        snprintf(p->err->msg, sizeof p->err->msg, "The function 'ROW_NUMBER' must have an OVER clause with ORDER BY.");
        return false;
    }
    p->i++;
    if (!expect_kw(p, "by"))
        return false;
    e->win_order = sql_alloc(p->b, 16 * sizeof *e->win_order);
    if (!e->win_order) {
        sql_fail(p);
        return false;
    }
    do {
        if (e->nwin_order >= 16) {
            sql_fail(p);
            return false;
        }
        sql_order *o = &e->win_order[e->nwin_order++];
        memset(o, 0, sizeof *o);
        if (!(o->e = expr(p)))
            return false;
        if (accept_kw(p, "desc"))
            o->desc = true;
        else
            accept_kw(p, "asc");
    } while (accept_op(p, ","));
    return expect_op(p, ")");
}

bool with_clause(P *p)
{
    p->ncte = 0;
    do {
        if (p->ncte >= SQL_MAX_CTE) {
            sql_fail(p);
            return false;
        }
        char nm[SRV_NAME_MAX];
        if (!name(p, nm))
            return false;
        if (op(p, "(")) {
            sql_fail(p); /* column lists of CTEs are not part of the subset */
            return false;
        }
        for (int i = 0; i < p->ncte; i++)
            if (srv_ieq(p->cte[i].name, nm)) {
                p->failed = true;
                p->err->number = 239;
                snprintf(p->err->msg, sizeof p->err->msg, "Duplicate common table expression name '%s' was specified.", nm);
                return false;
            }
        if (!expect_kw(p, "as") || !expect_op(p, "("))
            return false;
        /* a CTE sees the ones before it, not itself */
        sql_select *s = subquery(p);
        if (!s)
            return false;
        snprintf(p->cte[p->ncte].name, SRV_NAME_MAX, "%s", nm);
        p->cte[p->ncte++].sel = s;
    } while (accept_op(p, ","));
    return true;
}

void cte_bind(P *p, sql_tref *r)
{
    if (r->parts[0][0] || r->parts[1][0] || r->changetable)
        return;
    for (int i = p->ncte - 1; i >= 0; i--)
        if (srv_ieq(p->cte[i].name, r->parts[2])) {
            r->sub = p->cte[i].sel;
            return;
        }
}

bool cte_not_target(P *p, const sql_stmt *st)
{
    const sql_tref *r = &st->target;
    if (st->t != ST_INSERT && st->t != ST_INSERT_SELECT && st->t != ST_UPDATE && st->t != ST_DELETE && st->t != ST_MERGE)
        return true;
    if (r->parts[0][0] || r->parts[1][0])
        return true;
    /* UPDATE a … FROM x AS a: a names a FROM source (a CTE source is 4421 when run) */
    for (int k = 0; st->t == ST_UPDATE && k < st->sel.nfrom; k++) {
        const sql_tref *f = &st->sel.from[k];
        if (f->alias[0] ? srv_ieq(f->alias, r->parts[2]) : srv_ieq(f->parts[2], r->parts[2]))
            return true;
    }
    for (int i = 0; i < p->ncte; i++)
        if (srv_ieq(p->cte[i].name, r->parts[2])) {
            p->failed = true;
            p->err->number = 4406;
            snprintf(p->err->msg, sizeof p->err->msg,
                     "Update or insert of view or function '%s' failed because it contains a derived or constant field.",
                     r->parts[2]);
            return false;
        }
    return true;
}
