/*
 * exec_where.c — search conditions of WHERE and ON in SQL Server's
 * three-valued logic: a comparison with NULL is unknown, NOT unknown is
 * unknown, AND is false if any part is false, OR true if any part is
 * true; WHERE keeps a row only when the whole condition is true.
 * [NOT] EXISTS goes to exec_sub.c with the outer row current.
 */
#include <stdio.h>

#include "exec_select_int.h"

enum { W_FALSE, W_TRUE, W_UNKNOWN };

static int where3(srv_rs *rs, const sql_where *w);

/* Predicates without a comparison: W_* or -1. */
static int pred_logic(srv_rs *rs, const sql_pred *p)
{
    if (p->op == P_NOT) {
        int r = where3(rs, &p->sub[0]);
        return r < 0 ? -1 : r == W_UNKNOWN ? W_UNKNOWN : r == W_TRUE ? W_FALSE : W_TRUE;
    }
    if (p->op == P_EXISTS) {
        int r = sub_exists(rs->cur, p, rs, &rs->sub_cache, &rs->err, rs->errmsg, sizeof rs->errmsg);
        return r < 0 ? -1 : r ? W_TRUE : W_FALSE;
    }
    int res = W_FALSE; /* P_OR */
    for (int j = 0; j < p->nsub && res != W_TRUE; j++) {
        int r = where3(rs, &p->sub[j]);
        if (r < 0)
            return -1;
        if (r != W_FALSE)
            res = r;
    }
    return res;
}

/* Three-valued AND of w's predicates: W_* or -1 (error in rs). */
static int where3(srv_rs *rs, const sql_where *w)
{
    int res = W_TRUE;
    for (int i = 0; i < w->n; i++) {
        const sql_pred *p = &w->p[i];
        if (p->op == P_OR || p->op == P_NOT || p->op == P_EXISTS) {
            int r = pred_logic(rs, p);
            if (r < 0 || r == W_FALSE)
                return r;
            if (r == W_UNKNOWN)
                res = W_UNKNOWN;
            continue;
        }
        srv_val a, b, c;
        char ba[2048], bb[2048], bc[2048];
        if (rs_eval(rs, p->a, &a, ba, sizeof ba) < 0)
            return -1;
        bool inc = false, ok;
        switch (p->op) {
        case P_ISNULL: ok = a.k == SV_NULL; break;
        case P_NOTNULL: ok = a.k != SV_NULL; break;
        case P_BETWEEN:
            if (rs_eval(rs, p->b, &b, bb, sizeof bb) < 0 || rs_eval(rs, p->c, &c, bc, sizeof bc) < 0)
                return -1;
            if (a.k == SV_NULL || b.k == SV_NULL || c.k == SV_NULL) {
                res = W_UNKNOWN;
                continue;
            }
            ok = sv_cmp(&a, &b, &inc) >= 0 && !inc && sv_cmp(&a, &c, &inc) <= 0 && !inc;
            break;
        default: {
            if (rs_eval(rs, p->b, &b, bb, sizeof bb) < 0)
                return -1;
            if (a.k == SV_NULL || b.k == SV_NULL) {
                res = W_UNKNOWN;
                continue;
            }
            int r = sv_cmp(&a, &b, &inc);
            if (inc) {
                char t[128];
                const srv_val *sv = a.k == SV_STR ? &a : &b;
                sv_text(sv, t, sizeof t);
                rs->err = 245;
                snprintf(rs->errmsg, sizeof rs->errmsg, "Conversion failed when converting the nvarchar value '%s' to data type int.", t);
                return -1;
            }
            ok = p->op == P_EQ ? r == 0 : p->op == P_NE ? r != 0 : p->op == P_LT ? r < 0
               : p->op == P_LE ? r <= 0 : p->op == P_GT ? r > 0 : r >= 0;
        }
        }
        if (!ok)
            return W_FALSE;
    }
    return res;
}

/* 1 true, 0 false/unknown, -1 error. */
int rs_where(srv_rs *rs, const sql_where *w)
{
    int r = where3(rs, w);
    return r < 0 ? -1 : r == W_TRUE;
}
