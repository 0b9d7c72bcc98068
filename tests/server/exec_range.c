/*
 * exec_range.c — index ranges for streamed reads of generated tables: a
 * WHERE conjunct `col op literal` (op < <= > >= =) on a generated integer
 * column whose values rise with the row number (srv_gen_monotonic, and no
 * wrap within the table) limits the rows read to an index range, as a
 * seek on a clustered key would. The WHERE is still evaluated for every
 * row read, so the answer is the same; only rows that cannot match are
 * skipped. Parallel reads (docs/parallel.md) send one window per
 * connection, `key >= a AND key < b`: without this each window would scan
 * the whole table. Also: MIN/MAX of such columns over such a range need
 * only its first and last rows.
 */
#include "exec_select_int.h"

/* The column of a generated source whose value at row i is start + i *
 * step exactly for every row of the table (no wrap to the type's width). */
static bool exact_rising(const rs_src *s, int col)
{
    const srv_coldef *d = &s->t->cols[col];
    if (!srv_gen_monotonic(d))
        return false;
    __int128 lim;
    switch (d->col.kind) {
    case TDS_K_SMALLINT: lim = INT16_MAX; break;
    case TDS_K_INT: lim = INT32_MAX; break;
    case TDS_K_BIGINT: lim = INT64_MAX; break;
    default: return false;
    }
    uint64_t n = rs_src_count(s);
    __int128 last = (__int128)d->gen.start + (__int128)(n ? n - 1 : 0) * d->gen.step;
    return last <= lim && (__int128)d->gen.start >= -lim - 1;
}

/* The first row whose value is >= v (0..n). */
static uint64_t first_at_least(const srv_gen *g, __int128 v, uint64_t n)
{
    if (v <= g->start)
        return 0;
    __int128 i = (v - g->start + g->step - 1) / g->step;
    return i >= (__int128)n ? n : (uint64_t)i;
}

bool rs_stream_narrow(srv_rs *rs)
{
    if (rs->mode != M_STREAM || rs->reverse || rs->nsrc != 1 || !rs->src[0].t->generated)
        return false;
    const rs_src *s = &rs->src[0];
    uint64_t n = rs_src_count(s), lo = 0, hi = n;
    bool exact = true;
    for (int i = 0; i < rs->where->n; i++) {
        const sql_pred *p = &rs->where->p[i];
        bool range = p->op == P_LT || p->op == P_LE || p->op == P_GT || p->op == P_GE || p->op == P_EQ;
        if (!range || p->a->t != EX_COL || p->a->up || p->a->src || p->b->t != EX_LIT || p->b->lit.k != SV_INT ||
            !exact_rising(s, p->a->col)) {
            exact = false;
            continue;
        }
        const srv_gen *g = &s->t->cols[p->a->col].gen;
        __int128 v = p->b->lit.i;
        uint64_t ge = first_at_least(g, v, n), gt = first_at_least(g, v + 1, n);
        if (p->op == P_GE || p->op == P_EQ)
            lo = ge > lo ? ge : lo;
        if (p->op == P_GT)
            lo = gt > lo ? gt : lo;
        if (p->op == P_LT)
            hi = ge < hi ? ge : hi;
        if (p->op == P_LE || p->op == P_EQ)
            hi = gt < hi ? gt : hi;
    }
    rs->pos = lo;
    rs->end = hi > lo ? hi : lo;
    return exact;
}

bool rs_minmax_ends(const srv_rs *rs)
{
    for (int i = 0; i < rs->nout; i++) {
        const rs_out *o = &rs->outs[i];
        if (o->kind != OUT_AGG || (o->agg != 2 && o->agg != 3))
            return false;
        const sql_expr *a = o->e->args[0];
        if (a->t != EX_COL || a->up || a->src || !exact_rising(&rs->src[0], a->col))
            return false;
    }
    return rs->nout > 0;
}
