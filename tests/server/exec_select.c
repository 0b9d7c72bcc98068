/*
 * exec_select.c — SELECT: name resolution (user tables, catalog views,
 * CHANGETABLE, derived tables and CTEs via exec_sub.c), binding (outer
 * names of correlated subqueries included), joins, ORDER BY, TOP,
 * COUNT/MIN/MAX, and the streaming result set (srv_rs) that writes
 * COLMETADATA, ROWs and the DONE into the session a budget at a time.
 * Conditions are exec_where.c's, window functions exec_window.c's, the
 * equality-join index exec_join.c's (the srv_rs internals they share:
 * exec_select_int.h).
 *
 * Modes: STREAM walks one source row by row (a generated table is never
 * materialised; ORDER BY on a monotonic generated column streams too);
 * LIST holds tuples of row references (joins, sorts) built up front; ONE
 * is a single precomputed row (no FROM, aggregates).
 *
 * Invariants: one values array per source and one output array per result
 * set, reused for every row; generated values land in a per-source buffer
 * reused for every row. Stored rows are addressed by heap offset and the
 * tables are referenced, so DML in the same connection cannot free them
 * under a streaming result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.h"
#include "exec_select_int.h"

/* ------------------------------------------------------------ sources */

void rs_src_load(srv_rs *rs, int k, uint64_t r)
{
    rs_src *s = &rs->src[k];
    srv_table *t = s->t;
    rs->curref[k] = r;
    if (r == NULL_ROW) {
        for (uint16_t c = 0; c < t->ncols; c++) {
            s->vals[c].ptr = NULL;
            s->vals[c].len = 0;
            s->vals[c].flags = TDS_VF_NULL;
        }
        return;
    }
    if (!t->generated) {
        srv_table_row(t, r, s->vals);
        return;
    }
    srv_genplan_row(s->plans, t->ncols, s->need, r, s->genbuf, s->genoff, s->vals);
}

static int src_init(srv_rs *rs, int k, srv_table *t, const sql_tref *ref, bool user)
{
    rs_src *s = &rs->src[k];
    s->t = t;
    s->ref = ref;
    s->user = user;
    s->vals = calloc(t->ncols + 1u, sizeof *s->vals);
    s->need = calloc(t->ncols + 1u, sizeof *s->need);
    if (!s->vals || !s->need)
        return -1;
    if (t->generated) {
        s->genoff = calloc(t->ncols + 1u, sizeof *s->genoff);
        if (!s->genoff)
            return -1;
        for (uint16_t c = 0; c < t->ncols; c++)
            s->genoff[c + 1] = s->genoff[c] + srv_gen_cap(&t->cols[c]);
        s->genbuf = malloc(s->genoff[t->ncols] + 1);
        s->plans = malloc((t->ncols + 1u) * sizeof *s->plans);
        if (!s->genbuf || !s->plans)
            return -1;
        for (uint16_t c = 0; c < t->ncols; c++)
            srv_genplan_init(&s->plans[c], &t->cols[c]);
    } else {
        s->nsnap = t->nrows;
        s->snap = malloc((t->nrows + 1) * sizeof *s->snap);
        if (!s->snap)
            return -1;
        if (t->nrows) /* an empty table may have no row list at all */
            memcpy(s->snap, t->rows, t->nrows * sizeof *s->snap);
    }
    return 0;
}

uint64_t rs_src_count(const rs_src *s) { return s->t->generated ? s->t->gen_rows : s->nsnap; }
uint64_t rs_src_ref(const rs_src *s, uint64_t i) { return s->t->generated ? i : s->snap[i]; }

void srv_rs_free(srv_rs *rs)
{
    if (!rs)
        return;
    for (int k = 0; k < rs->nsrc; k++) {
        rs_src *s = &rs->src[k];
        free(s->vals);
        free(s->need);
        free(s->genoff);
        free(s->genbuf);
        free(s->plans);
        free(s->snap);
        keyidx_free(s->kidx);
        srv_table_unref(s->t);
    }
    for (int i = 0; i < rs->nout; i++)
        free(rs->outs[i].accbuf);
    srv_t25_free(rs->t25);
    free(rs->odefs);
    free(rs->ocols);
    free(rs->ovals);
    free(rs->outs);
    sub_cache_free(rs->sub_cache);
    for (int i = 0; rs->win && i < rs->nwin; i++)
        free(rs->win[i]);
    free(rs->win);
    free(rs->list);
    free(rs->obuf);
    free(rs->onebuf);
    tds_row_plan_free(rs->plan);
    free(rs->bvals);
    free(rs->bbuf);
    free(rs->boff);
    free(rs);
}

/* ------------------------------------------------------------ resolve */

static void display_name(const sql_tref *r, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    int first = r->parts[0][0] ? 0 : r->parts[1][0] ? 1 : 2;
    for (int i = first; i < 3; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i > first ? "." : "", r->parts[i]);
}

srv_database *resolve_db(srv_cursor *cur, const sql_tref *r)
{
    return r->parts[0][0] ? srv_db_find(cur->c->db, r->parts[0]) : cur->c->cur;
}

srv_table *resolve_table(srv_cursor *cur, const sql_tref *r, srv_database **dbout, bool *temp)
{
    srv_database *d = resolve_db(cur, r);
    *temp = false;
    if (dbout)
        *dbout = d;
    if (!d)
        return NULL;
    const char *schema = r->parts[1][0] ? r->parts[1] : "dbo";
    if (srv_ieq(schema, "sys") || srv_ieq(schema, "information_schema")) {
        srv_table *t = catalog_table(cur->c, d, schema, r->parts[2]);
        if (srv_ieq(schema, "sys"))
            t = srv_cdc_catalog_fix(cur->c, d, r->parts[2], t);
        *temp = t != NULL;
        return t;
    }
    if (srv_ieq(schema, "cdc")) {
        srv_table *v = srv_cdc_view(cur->c, d, r->parts[2]);
        if (v) {
            *temp = true;
            return v;
        }
    }
    srv_table *t = srv_table_find(d, schema, r->parts[2]);
    if (t)
        srv_table_ref(t);
    return t;
}

/* ------------------------------------------------------------ binding */

static bool src_named(const rs_src *s, const char *qual)
{
    return s->ref->alias[0] ? srv_ieq(s->ref->alias, qual) : srv_ieq(s->t->name, qual);
}

/* Column col (qualifier qual or NULL) among rs's sources: 1 found (k, c),
 * 0 not found, -1 ambiguous. */
static int lookup(const srv_rs *rs, const char *qual, const char *col, int *k_out, int *c_out)
{
    int found = -1, fc = -1;
    for (int k = 0; k < rs->nsrc; k++) {
        if (qual && !src_named(&rs->src[k], qual))
            continue;
        int c = srv_table_colno(rs->src[k].t, col);
        if (c < 0)
            continue;
        if (found >= 0)
            return -1;
        found = k;
        fc = c;
    }
    *k_out = found;
    *c_out = fc;
    return found >= 0;
}

static int bind(srv_rs *rs, sql_expr *e)
{
    if (!e)
        return 0;
    if (e->t == EX_WINDOW) {
        for (int i = 0; i < e->nwin_part; i++)
            if (bind(rs, e->win_part[i]) < 0)
                return -1;
        for (int i = 0; i < e->nwin_order; i++)
            if (bind(rs, e->win_order[i].e) < 0)
                return -1;
        return 0;
    }
    if (e->t == EX_COL) {
        const char *col = e->parts[e->nparts - 1];
        const char *qual = e->nparts >= 2 ? e->parts[e->nparts - 2] : NULL;
        int found = -1, fc = -1;
        e->up = 0;
        /* the innermost query that has the name binds it: a qualifier
         * naming a source of this query stops the search here */
        for (srv_rs *q = rs; q; q = q->parent, e->up++) {
            int r = lookup(q, qual, col, &found, &fc);
            if (r < 0) {
                rs->err = 209;
                snprintf(rs->errmsg, sizeof rs->errmsg, "Ambiguous column name '%s'.", col);
                return -1;
            }
            bool named = false;
            for (int k = 0; qual && k < q->nsrc; k++)
                named |= src_named(&q->src[k], qual);
            if (r > 0 || named)
                break;
        }
        if (found >= 0) {
            srv_rs *q = rs;
            for (int u = 0; u < e->up; u++)
                q = q->parent;
            q->src[found].need[fc] = true;
            e->src = found;
            e->col = fc;
            return 0;
        }
        e->up = 0;
        if (found < 0) {
            if (qual) {
                bool known = false;
                for (int k = 0; k < rs->nsrc; k++)
                    if (rs->src[k].ref->alias[0] ? srv_ieq(rs->src[k].ref->alias, qual) : srv_ieq(rs->src[k].t->name, qual))
                        known = true;
                if (!known) {
                    rs->err = 4104;
                    snprintf(rs->errmsg, sizeof rs->errmsg, "The multi-part identifier \"%s.%s\" could not be bound.", qual, col);
                    return -1;
                }
            }
            rs->err = 207;
            snprintf(rs->errmsg, sizeof rs->errmsg, "Invalid column name '%s'.", col);
            return -1;
        }
        e->src = found;
        e->col = fc;
        rs->src[found].need[fc] = true;
        return 0;
    }
    for (int i = 0; i < e->nargs; i++)
        if (bind(rs, e->args[i]) < 0)
            return -1;
    return 0;
}

/* EXISTS subqueries are bound when they are opened (per outer row). */
static int bind_where(srv_rs *rs, const sql_where *w)
{
    for (int i = 0; i < w->n; i++) {
        if (bind(rs, w->p[i].a) < 0 || bind(rs, w->p[i].b) < 0 || bind(rs, w->p[i].c) < 0)
            return -1;
        for (int j = 0; j < w->p[i].nsub; j++)
            if (bind_where(rs, &w->p[i].sub[j]) < 0)
                return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ eval */

static int col_eval(void *ctx, const sql_expr *e, srv_val *out, char *buf, size_t cap)
{
    srv_rs *rs = ctx;
    for (int u = 0; u < e->up; u++)
        rs = rs->parent;
    const rs_src *s = &rs->src[e->src];
    const tds_value *v = &s->vals[e->col];
    return sv_from_wire(&s->t->cols[e->col].col, v->ptr, (v->flags & TDS_VF_NULL) ? SRV_NULL_LEN : v->len, out, buf, cap);
}

int rs_eval(srv_rs *rs, const sql_expr *e, srv_val *out, char *buf, size_t cap)
{
    if (e->t == EX_COL)
        return col_eval(rs, e, out, buf, cap);
    if (e->t == EX_WINDOW) {
        /* listed tuple pos - 1 is the current one */
        *out = sv_int(rs->win[e->col][rs->pos - 1]);
        return 0;
    }
    rs->cur->col_eval = col_eval;
    rs->cur->col_ctx = rs;
    int rc = eval_const(rs->cur, e, out, buf, cap, &rs->err, rs->errmsg, sizeof rs->errmsg);
    rs->cur->col_eval = NULL;
    return rc;
}

/* ------------------------------------------------------------ tuples */

typedef struct tup_vec {
    uint64_t *v;
    size_t n, cap;           /* n counts uint64s */
} tup_vec;

static int tv_push(tup_vec *tv, const uint64_t *t, int n)
{
    if (tv->n + (size_t)n > tv->cap) {
        size_t cap = tv->cap ? tv->cap * 2 : 1024;
        while (cap < tv->n + (size_t)n)
            cap *= 2;
        uint64_t *nv = realloc(tv->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        tv->v = nv;
        tv->cap = cap;
    }
    memcpy(tv->v + tv->n, t, (size_t)n * sizeof *t);
    tv->n += (size_t)n;
    return 0;
}

/* Joins sources k.. onto tuple t (sources < k loaded). */
static int join_rec(srv_rs *rs, uint64_t *t, int k, tup_vec *out)
{
    if (k == rs->nsrc) {
        int w = rs_where(rs, rs->where);
        if (w < 0)
            return -1;
        return w ? tv_push(out, t, rs->nsrc) : 0;
    }
    rs_src *s = &rs->src[k];
    bool matched = false;
    if (s->pk_join) {
        tds_value kv[SRV_MAX_PK];
        uint8_t kb[SRV_MAX_PK][512];
        bool nullkey = false;
        for (int q = 0; q < s->t->npk; q++) {
            srv_val v;
            char buf[1024];
            if (rs_eval(rs, s->pk_other[q], &v, buf, sizeof buf) < 0)
                return -1;
            int64_t n = sv_to_wire(&s->t->cols[s->t->pk[q]], &v, kb[q], sizeof kb[q]);
            if (n < 0 || n == (int64_t)SRV_NULL_LEN) {
                nullkey = true;
                break;
            }
            kv[q].ptr = kb[q];
            kv[q].len = (uint32_t)n;
            kv[q].flags = 0;
        }
        uint64_t off = nullkey ? UINT64_MAX : srv_table_pk_find(s->t, kv);
        if (off != UINT64_MAX) {
            rs_src_load(rs, k, off);
            int on = rs_where(rs, &s->ref->on);
            if (on < 0)
                return -1;
            if (on) {
                matched = true;
                t[k] = off;
                if (join_rec(rs, t, k + 1, out) < 0)
                    return -1;
            }
        }
    } else if (s->nek) {
        size_t lo, hi;
        if (rs_ek_range(rs, k, &lo, &hi) < 0)
            return -1;
        for (size_t j = lo; j < hi; j++) {
            uint64_t r = rs_src_ref(s, keyidx_row(s->kidx, j));
            rs_src_load(rs, k, r);
            int on = rs_where(rs, &s->ref->on); /* every condition, the keys' too */
            if (on < 0)
                return -1;
            if (!on)
                continue;
            matched = true;
            t[k] = r;
            if (join_rec(rs, t, k + 1, out) < 0)
                return -1;
        }
    } else {
        uint64_t n = rs_src_count(s);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t r = rs_src_ref(s, i);
            rs_src_load(rs, k, r);
            int on = k == 0 ? 1 : rs_where(rs, &s->ref->on);
            if (on < 0)
                return -1;
            if (!on)
                continue;
            matched = true;
            t[k] = r;
            if (join_rec(rs, t, k + 1, out) < 0)
                return -1;
        }
    }
    if (!matched && s->ref->join == 2) {
        t[k] = NULL_ROW;
        rs_src_load(rs, k, NULL_ROW);
        return join_rec(rs, t, k + 1, out);
    }
    return 0;
}

/* Sorting: keys evaluated once per tuple. */
typedef struct sort_ctx {
    srv_val *keys;
    int nk;
    const sql_order *order;
} sort_ctx;
static sort_ctx *g_sort;

static int sort_cmp(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    for (int k = 0; k < g_sort->nk; k++) {
        bool inc;
        int r = sv_cmp(&g_sort->keys[a * (size_t)g_sort->nk + (size_t)k], &g_sort->keys[b * (size_t)g_sort->nk + (size_t)k], &inc);
        if (r)
            return g_sort->order[k].desc ? -r : r;
    }
    return a < b ? -1 : a > b;
}

static int sort_list(srv_rs *rs, const sql_select *sel, tup_vec *tv)
{
    size_t nt = tv->n / (size_t)rs->nsrc;
    int nk = sel->norder;
    srv_val *keys = calloc(nt * (size_t)nk + 1, sizeof *keys);
    size_t *idx = malloc((nt + 1) * sizeof *idx);
    char *mem = NULL;
    size_t mlen = 0, mcap = 0;
    int rc = -1;
    if (!keys || !idx)
        goto out;
    for (size_t i = 0; i < nt; i++) {
        idx[i] = i;
        for (int k = 0; k < rs->nsrc; k++)
            rs_src_load(rs, k, tv->v[i * (size_t)rs->nsrc + (size_t)k]);
        for (int k = 0; k < nk; k++) {
            char buf[4096];
            srv_val *v = &keys[i * (size_t)nk + (size_t)k];
            if (rs_eval(rs, sel->order[k].e, v, buf, sizeof buf) < 0)
                goto out;
            if (v->k == SV_STR || v->k == SV_BIN) {
                if (mlen + v->n + 1 > mcap) {
                    mcap = (mlen + v->n + 1) * 2 + 4096;
                    char *nm = realloc(mem, mcap);
                    if (!nm)
                        goto out;
                    mem = nm;
                }
                memcpy(mem + mlen, v->s, v->n);
                v->i = (int64_t)mlen; /* offset until mem stops moving */
                mlen += v->n;
            }
        }
    }
    for (size_t i = 0; i < nt * (size_t)nk; i++)
        if (keys[i].k == SV_STR || keys[i].k == SV_BIN)
            keys[i].s = mem + keys[i].i;
    sort_ctx ctx = { keys, nk, sel->order };
    g_sort = &ctx;
    qsort(idx, nt, sizeof *idx, sort_cmp);
    g_sort = NULL;
    uint64_t *sorted = malloc((tv->n + 1) * sizeof *sorted);
    if (!sorted)
        goto out;
    for (size_t i = 0; i < nt; i++)
        memcpy(sorted + i * (size_t)rs->nsrc, tv->v + idx[i] * (size_t)rs->nsrc, (size_t)rs->nsrc * sizeof *sorted);
    free(tv->v);
    tv->v = sorted;
    rc = 0;
out:
    free(keys);
    free(idx);
    free(mem);
    return rc;
}

/* Next row into the sources: 1 row, 0 end, -1 error. */
static int next_tuple(srv_rs *rs)
{
    if (rs->mode == M_LIST) {
        if (rs->pos >= rs->nlist)
            return 0;
        for (int k = 0; k < rs->nsrc; k++)
            rs_src_load(rs, k, rs->list[rs->pos * (uint64_t)rs->nsrc + (uint64_t)k]);
        rs->pos++;
        return 1;
    }
    if (rs->mode == M_ONE)
        return rs->pos++ == 0;
    rs_src *s = &rs->src[0];
    while (rs->pos < rs->end) {
        uint64_t i = rs->reverse ? rs->end - 1 - rs->pos : rs->pos;
        rs->pos++;
        rs_src_load(rs, 0, rs_src_ref(s, i));
        int w = rs->where->n ? rs_where(rs, rs->where) : 1;
        if (w < 0)
            return -1;
        if (w)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ build */

static const char *agg_name(const sql_expr *e)
{
    if (e->t != EX_FUNC)
        return NULL;
    static const char *names[] = { "count", "count_big", "min", "max", NULL };
    for (int i = 0; names[i]; i++)
        if (srv_ieq(e->parts[0], names[i]))
            return names[i];
    return NULL;
}

static int put_rs_error(srv_cursor *cur, tds_session *s, srv_rs *rs)
{
    uint8_t cls = rs->err == 102 || rs->err == 137 || rs->err == 156 ? 15 : 16;
    srv_put_error(cur, s, rs->err, cls, 1, "%s", rs->errmsg);
    srv_rs_free(rs);
    return -2;
}

static int aggregate(srv_rs *rs)
{
    for (;;) {
        int r = next_tuple(rs);
        if (r < 0)
            return -1;
        if (!r)
            break;
        for (int i = 0; i < rs->nout; i++) {
            rs_out *o = &rs->outs[i];
            if (o->kind != OUT_AGG)
                continue;
            if (o->agg == 1) {
                if (o->e->star_arg) {
                    o->count++;
                } else {
                    srv_val v;
                    char buf[4096];
                    if (rs_eval(rs, o->e->args[0], &v, buf, sizeof buf) < 0)
                        return -1;
                    o->count += v.k != SV_NULL;
                }
                continue;
            }
            const sql_expr *a = o->e->args[0];
            if (a->t != EX_COL)
                continue;
            const tds_value *tv = &rs->src[a->src].vals[a->col];
            if (tv->flags & TDS_VF_NULL)
                continue;
            srv_val v, cur;
            char b1[4096], b2[4096];
            const tds_column *col = &rs->src[a->src].t->cols[a->col].col;
            sv_from_wire(col, tv->ptr, tv->len, &v, b1, sizeof b1);
            bool take = !o->acc_set;
            if (!take) {
                bool inc;
                sv_from_wire(col, o->accbuf + 4, *(uint32_t *)o->accbuf, &cur, b2, sizeof b2);
                int r2 = sv_cmp(&v, &cur, &inc);
                take = o->agg == 2 ? r2 < 0 : r2 > 0;
            }
            if (take) {
                uint8_t *nb = realloc(o->accbuf, tv->len + 4);
                if (!nb)
                    return -1;
                o->accbuf = nb;
                memcpy(nb, &tv->len, 4);
                memcpy(nb + 4, tv->ptr, tv->len);
                o->acc_set = true;
            }
        }
    }
    return 0;
}

/* An `alias.*` or `*` item names source s. */
static bool star_names(const rs_src *s, const sql_expr *e)
{
    return !e->nparts || (s->ref->alias[0] ? srv_ieq(s->ref->alias, e->parts[0])
                                           : srv_ieq(s->t->name, e->parts[e->nparts - 1]));
}

/* Output columns the select list makes (stars expanded). */
static int count_outputs(const srv_rs *rs, const sql_select *sel)
{
    int n = 0;
    for (int i = 0; i < sel->nitems; i++) {
        const sql_expr *e = sel->items[i].e;
        if (e->t == EX_STAR) {
            for (int k = 0; k < rs->nsrc; k++)
                if (star_names(&rs->src[k], e))
                    n += rs->src[k].t->ncols;
        } else {
            n++;
        }
    }
    return n;
}

/* A star's columns from outs[*o] on; advances *o. */
static void expand_star(srv_rs *rs, const sql_expr *e, int *o, bool *has_col)
{
    for (int k = 0; k < rs->nsrc; k++) {
        rs_src *s = &rs->src[k];
        if (!star_names(s, e))
            continue;
        for (uint16_t c = 0; c < s->t->ncols; c++, (*o)++) {
            rs->odefs[*o] = s->t->cols[c];
            rs->outs[*o].kind = OUT_COL;
            rs->outs[*o].agg = k * 65536 + c; /* source and column */
            s->need[c] = true;
            *has_col = true;
            if (s->ref->join == 2)
                rs->odefs[*o].col.flags |= TDS_COL_NULLABLE;
        }
    }
}

/* COUNT/COUNT_BIG/MIN/MAX (agg names which): out accumulates, d is the
 * result's type. Returns 0 or -1 with the error in rs. */
static int output_aggregate(srv_rs *rs, sql_expr *e, const char *agg, rs_out *out, srv_coldef *d)
{
    out->kind = OUT_AGG;
    out->agg = agg[0] == 'c' ? 1 : agg[1] == 'i' ? 2 : 3;
    if (out->agg == 1 && !e->star_arg && e->nargs != 1) {
        rs->err = 174;
        snprintf(rs->errmsg, sizeof rs->errmsg, "The %s function requires 1 argument(s).", e->parts[0]);
        return -1;
    }
    if (out->agg != 1 && (e->nargs != 1 || e->star_arg)) {
        rs->err = 174;
        snprintf(rs->errmsg, sizeof rs->errmsg, "The %s function requires 1 argument(s).", e->parts[0]);
        return -1;
    }
    if (!e->star_arg && bind(rs, e->args[0]) < 0)
        return -1;
    if (out->agg == 1) {
        srv_val z = sv_int(0);
        expr_coldef(e, &z, d);
    } else if (e->args[0]->t == EX_COL) {
        *d = rs->src[e->args[0]->src].t->cols[e->args[0]->col];
        d->col.flags |= TDS_COL_NULLABLE;
        d->name[0] = 0;
    } else {
        rs->err = 8117;
        snprintf(rs->errmsg, sizeof rs->errmsg, "tdstestd: MIN/MAX take a column.");
        return -1;
    }
    return 0;
}

/* Any other expression: a constant is encoded once (OUT_CONST), one that
 * reads the row is evaluated per row (OUT_EXPR). Returns 0 or -1. */
static int output_expression(srv_rs *rs, sql_expr *e, rs_out *out, srv_coldef *d, bool *has_col)
{
    if (bind(rs, e) < 0)
        return -1;
    srv_val v = sv_null();
    char buf[1024];
    bool rowdep = false;
    for (int a = 0; a < e->nargs; a++)
        rowdep |= e->args[a]->t == EX_COL;
    if (!rowdep) {
        if (eval_const(rs->cur, e, &v, buf, sizeof buf, &rs->err, rs->errmsg, sizeof rs->errmsg) < 0)
            return -1;
        out->kind = OUT_CONST;
        expr_coldef(e, &v, d);
        uint8_t *wire = malloc(v.k == SV_STR || v.k == SV_BIN ? v.n * 4 + 64 : 64);
        if (!wire)
            return -1;
        int64_t len = sv_to_wire(d, &v, wire, v.k == SV_STR || v.k == SV_BIN ? v.n * 4 + 64 : 64);
        if (len < 0 && len != (int64_t)SRV_NULL_LEN) {
            free(wire);
            rs->err = 245;
            snprintf(rs->errmsg, sizeof rs->errmsg, "Conversion failed.");
            return -1;
        }
        out->accbuf = wire;
        out->count = (uint64_t)len;
    } else {
        out->kind = OUT_EXPR;
        expr_coldef(e, &v, d);
        if (e->t == EX_FUNC && e->nargs && e->args[0]->t == EX_COL && d->col.kind == TDS_K_UNKNOWN)
            *d = rs->src[e->args[0]->src].t->cols[e->args[0]->col];
        if (e->t == EX_FUNC && (srv_ieq(e->parts[0], "isnull") || srv_ieq(e->parts[0], "coalesce")) && e->args[0]->t == EX_COL)
            *d = rs->src[e->args[0]->src].t->cols[e->args[0]->col];
        *has_col = true;
    }
    return 0;
}

/* One select-list item that is not a star into outs[o]/odefs[o]. Returns
 * 0 or -1 with the error in rs. */
static int output_item(srv_rs *rs, sql_expr *e, rs_out *out, srv_coldef *d, bool *has_agg, bool *has_col)
{
    out->e = e;
    const char *agg = agg_name(e);
    if (agg) {
        *has_agg = true;
        return output_aggregate(rs, e, agg, out, d);
    }
    if (e->t == EX_WINDOW) {
        if (bind(rs, e) < 0)
            return -1;
        out->kind = OUT_EXPR;
        e->col = rs->nwin++;
        if (srv_type_parse("bigint", d) < 0)
            return -1;
        d->nullable = false;
        d->col.flags &= (uint16_t)~TDS_COL_NULLABLE;
        *has_col = true;
    } else if (e->t == EX_COL && (bind(rs, e) < 0 || e->up)) {
        if (e->up == 0)
            return -1;
        /* an outer query's column in a subquery's select list */
        srv_rs *q = rs;
        for (int u = 0; u < e->up; u++)
            q = q->parent;
        out->kind = OUT_EXPR;
        *d = q->src[e->src].t->cols[e->col];
        d->col.flags |= TDS_COL_NULLABLE;
    } else if (e->t == EX_COL) {
        out->kind = OUT_COL;
        out->agg = e->src * 65536 + e->col;
        *d = rs->src[e->src].t->cols[e->col];
        if (rs->src[e->src].ref->join == 2)
            d->col.flags |= TDS_COL_NULLABLE;
        *has_col = true;
    } else {
        return output_expression(rs, e, out, d, has_col);
    }
    return 0;
}

static int setup_outputs(srv_rs *rs, const sql_select *sel, bool *has_agg)
{
    int n = count_outputs(rs, sel);
    if (n == 0) {
        rs->err = rs->nsrc ? 4104 : 263;
        snprintf(rs->errmsg, sizeof rs->errmsg, rs->nsrc ? "The multi-part identifier could not be bound." : "Must specify table to select from.");
        return -1;
    }
    rs->nout = n;
    rs->odefs = calloc((size_t)n, sizeof *rs->odefs);
    rs->ocols = calloc((size_t)n, sizeof *rs->ocols);
    rs->ovals = calloc((size_t)n, sizeof *rs->ovals);
    rs->outs = calloc((size_t)n, sizeof *rs->outs);
    if (!rs->odefs || !rs->ocols || !rs->ovals || !rs->outs)
        return -1;
    int o = 0;
    *has_agg = false;
    bool has_col = false;
    for (int i = 0; i < sel->nitems; i++) {
        sql_expr *e = sel->items[i].e;
        if (e->t == EX_STAR) {
            expand_star(rs, e, &o, &has_col);
            continue;
        }
        rs_out *out = &rs->outs[o];
        srv_coldef *d = &rs->odefs[o];
        if (output_item(rs, e, out, d, has_agg, &has_col) < 0)
            return -1;
        if (sel->items[i].alias[0])
            snprintf(d->name, sizeof d->name, "%s", sel->items[i].alias);
        else if (e->t != EX_COL && !(out->kind == OUT_EXPR && e->t == EX_COL))
            d->name[0] = 0;
        o++;
    }
    if (*has_agg && has_col) {
        rs->err = 8120;
        snprintf(rs->errmsg, sizeof rs->errmsg,
                 "Column is invalid in the select list because it is not contained in either an aggregate function or the GROUP BY clause.");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        srv_coldef_fix(&rs->odefs[i]);
        rs->ocols[i] = rs->odefs[i].col;
        rs->ocols[i].ordinal = (uint16_t)i;
    }
    return 0;
}

/* Open FROM sources. Returns 0 or an error already in rs. */
/* A catalog view: sys.x or INFORMATION_SCHEMA.x (a table's own name). */
static bool catalog_ref(const sql_tref *r)
{
    return !r->sub && !r->tvf && !r->changetable &&
           (srv_ieq(r->parts[1], "sys") || srv_ieq(r->parts[1], "information_schema"));
}

static int open_sources(srv_cursor *cur, srv_rs *rs, const sql_select *sel)
{
    rs->catalog = sel->nfrom > 0;
    for (int k = 0; k < sel->nfrom; k++) {
        const sql_tref *r = &sel->from[k];
        rs->catalog &= catalog_ref(r);
        bool temp = r->sub != NULL || r->tvf;
        srv_table *t = r->sub ? sub_table(cur, r->sub, r->alias[0] ? r->alias : r->parts[2], &rs->err, rs->errmsg, sizeof rs->errmsg)
                       : r->tvf ? srv_cdc_tvf(cur, r, &rs->err, rs->errmsg, sizeof rs->errmsg)
                              : resolve_table(cur, r, NULL, &temp);
        if (!t && (r->sub || r->tvf))
            return -1;
        if (!t) {
            rs->err = 208;
            char nm[400];
            display_name(r, nm, sizeof nm);
            snprintf(rs->errmsg, sizeof rs->errmsg, "Invalid object name '%s'.", nm);
            return -1;
        }
        if (r->changetable) {
            srv_val since;
            char buf[256];
            if (temp || eval_const(cur, r->ct_since, &since, buf, sizeof buf, &rs->err, rs->errmsg, sizeof rs->errmsg) < 0) {
                srv_table_unref(t);
                if (!rs->err) {
                    rs->err = 22105;
                    snprintf(rs->errmsg, sizeof rs->errmsg, "Change tracking is not enabled on table '%s'.", r->parts[2]);
                }
                return -1;
            }
            int64_t v = since.k == SV_INT ? since.i : since.k == SV_NULL ? -1 : 0;
            srv_table *ct = ct_changes(cur->c, t, v, &rs->err, rs->errmsg, sizeof rs->errmsg);
            srv_table_unref(t);
            if (!ct)
                return -1;
            t = ct;
            temp = true;
        }
        if (src_init(rs, rs->nsrc, t, r, !temp) < 0) {
            srv_table_unref(t);
            rs->err = 701;
            snprintf(rs->errmsg, sizeof rs->errmsg, "There is insufficient system memory to run this query.");
            return -1;
        }
        rs->nsrc++;
    }
    return 0;
}

/* Detects "JOIN t ON t.pk = <earlier source expr> [AND …]" covering t's PK. */
static void detect_pk_join(srv_rs *rs, int k)
{
    rs_src *s = &rs->src[k];
    if (s->t->generated || !s->t->npk)
        return;
    int found = 0;
    for (int q = 0; q < s->t->npk; q++) {
        s->pk_other[q] = NULL;
        for (int i = 0; i < s->ref->on.n; i++) {
            const sql_pred *p = &s->ref->on.p[i];
            if (p->op != P_EQ)
                continue;
            const sql_expr *mine = NULL, *other = NULL;
            if (p->a->t == EX_COL && !p->a->up && p->a->src == k && p->a->col == s->t->pk[q]) { mine = p->a; other = p->b; }
            else if (p->b->t == EX_COL && !p->b->up && p->b->src == k && p->b->col == s->t->pk[q]) { mine = p->b; other = p->a; }
            if (mine && !(other->t == EX_COL && !other->up && other->src >= k)) {
                s->pk_other[q] = other;
                break;
            }
        }
        found += s->pk_other[q] != NULL;
    }
    s->pk_join = found == s->t->npk;
}

static int rs_build(srv_cursor *cur, const sql_select *sel, srv_rs *rs);
static int project(srv_rs *rs);

static int put_build_error(srv_cursor *cur, tds_session *s, srv_rs *rs)
{
    return put_rs_error(cur, s, rs);
}

int exec_select(srv_cursor *cur, tds_session *s, const sql_select *sel)
{
    srv_rs *rs = calloc(1, sizeof *rs);
    if (!rs)
        return -1;
    if (rs_build(cur, sel, rs) < 0)
        return put_build_error(cur, s, rs);
    cur->rs = rs;
    return 1;
}

srv_rs *srv_rs_open(srv_cursor *cur, const sql_select *sel, int32_t *err, char *msg, size_t cap)
{
    return srv_rs_open_in(cur, sel, NULL, err, msg, cap);
}

srv_rs *srv_rs_open_in(srv_cursor *cur, const sql_select *sel, srv_rs *parent, int32_t *err, char *msg, size_t cap)
{
    srv_rs *rs = calloc(1, sizeof *rs);
    if (!rs) {
        *err = 701;
        snprintf(msg, cap, "There is insufficient system memory to run this query.");
        return NULL;
    }
    rs->parent = parent;
    if (rs_build(cur, sel, rs) < 0) {
        *err = rs->err ? rs->err : 701;
        snprintf(msg, cap, "%s", rs->errmsg);
        srv_rs_free(rs);
        return NULL;
    }
    rs->top = rs->top; /* TOP applies through srv_rs_next */
    return rs;
}

int srv_rs_next(srv_rs *rs)
{
    if (rs->top >= 0 && rs->emitted >= (uint64_t)rs->top)
        return 0;
    int r = next_tuple(rs);
    if (r > 0)
        rs->emitted++;
    return r;
}

uint64_t srv_rs_ref(const srv_rs *rs, int k) { return rs->curref[k]; }
const tds_value *srv_rs_src_vals(const srv_rs *rs, int k) { return rs->src[k].vals; }
srv_table *srv_rs_src_table(const srv_rs *rs, int k) { return rs->src[k].t; }

int srv_rs_eval(srv_rs *rs, sql_expr *e, srv_val *out, char *buf, size_t cap)
{
    if (bind(rs, e) < 0)
        return -1;
    return rs_eval(rs, e, out, buf, cap);
}

int srv_rs_project(srv_rs *rs, const tds_value **vals, const srv_coldef **defs)
{
    if (project(rs) < 0)
        return -1;
    *vals = rs->ovals;
    *defs = rs->odefs;
    return rs->nout;
}

int srv_rs_defs(const srv_rs *rs, const srv_coldef **defs)
{
    *defs = rs->odefs;
    return rs->nout;
}

void srv_rs_error(const srv_rs *rs, int32_t *err, char *msg, size_t cap)
{
    *err = rs->err ? rs->err : 50000;
    snprintf(msg, cap, "%s", rs->errmsg);
}

/* ORDER BY keys: a select-list alias or ordinal naming a column becomes
 * that column; then every key is bound. Returns 0 or -1. */
static int bind_order(srv_rs *rs, const sql_select *sel)
{
    for (int k = 0; k < sel->norder; k++) {
        sql_expr *e = sel->order[k].e;
        if (e->t == EX_COL && e->nparts == 1) {
            bool aliased = false;
            for (int i = 0; i < sel->nitems; i++)
                if (srv_ieq(sel->items[i].alias, e->parts[0]) && sel->items[i].e->t == EX_COL) {
                    *e = *sel->items[i].e;
                    aliased = true;
                }
            (void)aliased;
        }
        if (e->t == EX_LIT && e->lit.k == SV_INT && e->lit.i >= 1 && e->lit.i <= sel->nitems &&
            sel->items[e->lit.i - 1].e->t == EX_COL)
            *e = *sel->items[e->lit.i - 1].e;
        if (bind(rs, e) < 0)
            return -1;
    }
    return 0;
}

/* TOP (n) into rs->top. Returns 0 or -1 with the error in rs. */
static int eval_top(srv_cursor *cur, srv_rs *rs, const sql_select *sel)
{
    srv_val v;
    char buf[64];
    if (eval_const(cur, sel->top, &v, buf, sizeof buf, &rs->err, rs->errmsg, sizeof rs->errmsg) < 0)
        return -1;
    if (v.k == SV_FLOAT) v = sv_int((int64_t)v.f);
    if (v.k != SV_INT || v.i < 0) {
        rs->err = 1014;
        snprintf(rs->errmsg, sizeof rs->errmsg, "The number of rows provided for a TOP or FETCH clauses row count parameter must be an integer.");
        return -1;
    }
    rs->top = v.i;
    return 0;
}

/* How rows are produced: one row (no FROM, or aggregates), a stream over
 * a generated or stored table, or a collected (joined, sorted) list.
 * Returns 0 or -1 with the error in rs. */
static int choose_mode(srv_rs *rs, const sql_select *sel, bool has_agg)
{
    bool exact = false;
    if (rs->nsrc == 0) {
        rs->mode = M_ONE;
        if (has_agg) {
            for (int i = 0; i < rs->nout; i++)
                rs->outs[i].count = 1;
        }
    } else if (rs->fmtonly) {
        rs->mode = M_LIST;
    } else {
        bool stream = rs->nsrc == 1 && !rs->nwin;
        if (stream && sel->norder) {
            const sql_expr *oe = sel->order[0].e;
            rs_src *s0 = &rs->src[0];
            stream = sel->norder == 1 && s0->t->generated && oe->t == EX_COL && srv_gen_monotonic(&s0->t->cols[oe->col]);
            rs->reverse = stream && sel->order[0].desc;
        }
        if (stream) {
            rs->mode = M_STREAM;
            rs->end = rs_src_count(&rs->src[0]);
            exact = rs_stream_narrow(rs); /* exec_range.c: a seek on a rising key */
            rs->where_exact = exact && !has_agg; /* every row of the range matches */
        } else {
            tup_vec tv = { 0 };
            uint64_t t[MAX_SRC];
            if (join_rec(rs, t, 0, &tv) < 0 || (sel->norder && sort_list(rs, sel, &tv) < 0)) {
                free(tv.v);
                if (!rs->err) {
                    rs->err = 701;
                    snprintf(rs->errmsg, sizeof rs->errmsg, "There is insufficient system memory to run this query.");
                }
                return -1;
            }
            rs->mode = M_LIST;
            rs->list = tv.v;
            rs->nlist = tv.n / (size_t)rs->nsrc;
            if (rs->nwin && rs_windows(rs) < 0)
                return -1;
        }
        if (has_agg) {
            bool fast = rs->mode == M_STREAM && !sel->where.n;
            for (int i = 0; i < rs->nout && fast; i++)
                fast = rs->outs[i].agg == 1 && rs->outs[i].e->star_arg;
            uint64_t lo = rs->pos, hi = rs->end;
            if (fast) {
                for (int i = 0; i < rs->nout; i++)
                    rs->outs[i].count = rs->end;
            } else if (exact && hi > lo + 2 && rs_minmax_ends(rs)) { /* MIN/MAX: the range's ends */
                rs->end = lo + 1;
                if (aggregate(rs) < 0)
                    return -1;
                rs->pos = hi - 1;
                rs->end = hi;
                if (aggregate(rs) < 0)
                    return -1;
            } else if (aggregate(rs) < 0) {
                return -1;
            }
            rs->mode = M_ONE;
            rs->pos = 0;
        }
    }
    return 0;
}

/* Aggregates' results as wire values (length-prefixed in accbuf): counts
 * encoded in the output type, MIN/MAX of no rows as NULL. */
static int encode_aggregates(srv_rs *rs)
{
    for (int i = 0; i < rs->nout; i++) {
        rs_out *o = &rs->outs[i];
        if (o->agg == 1) {
            uint8_t *b = malloc(64);
            if (!b)
                return -1;
            int64_t n = 0;
            srv_val v = sv_int((int64_t)o->count);
            n = sv_to_wire(&rs->odefs[i], &v, b, 64);
            if (n < 0) {
                free(b);
                rs->err = 8115;
                snprintf(rs->errmsg, sizeof rs->errmsg, "Arithmetic overflow error converting expression to data type int.");
                return -1;
            }
            free(o->accbuf);
            o->accbuf = malloc(12);
            if (!o->accbuf) {
                free(b);
                return -1;
            }
            uint32_t len = (uint32_t)n;
            memcpy(o->accbuf, &len, 4);
            memcpy(o->accbuf + 4, b, (size_t)n);
            free(b);
        } else if (!o->acc_set) {
            free(o->accbuf);
            o->accbuf = malloc(4);
            if (!o->accbuf)
                return -1;
            uint32_t len = SRV_NULL_LEN;
            memcpy(o->accbuf, &len, 4);
        }
    }
    return 0;
}

static int rs_build(srv_cursor *cur, const sql_select *sel, srv_rs *rs)
{
    srv_conn *c = cur->c;
    rs->cur = cur;
    rs->where = &sel->where;
    rs->top = -1;
    if (open_sources(cur, rs, sel) < 0)
        return -1;
    for (int k = 0; k < rs->nsrc; k++)
        if (rs->src[k].user && c->isolation == 1 && c->trancount > 0 && !c->cur->snapshot_isolation) {
            rs->err = 3952;
            snprintf(rs->errmsg, sizeof rs->errmsg,
                     "Snapshot isolation transaction failed accessing database '%s' because snapshot isolation is not allowed in this database. Use ALTER DATABASE to allow snapshot isolation.",
                     c->cur->name);
            return -1;
        }
    bool has_agg;
    if (setup_outputs(rs, sel, &has_agg) < 0)
        return -1;
    if (bind_where(rs, &sel->where) < 0)
        return -1;
    for (int k = 1; k < rs->nsrc; k++) {
        if (bind_where(rs, &rs->src[k].ref->on) < 0)
            return -1;
        detect_pk_join(rs, k);
        rs_detect_eq_join(rs, k);
    }
    if (bind_order(rs, sel) < 0)
        return -1;
    if (sel->top && eval_top(cur, rs, sel) < 0)
        return -1;
    rs->fmtonly = c->fmtonly;
    if (choose_mode(rs, sel, has_agg) < 0)
        return -1;
    if (has_agg && encode_aggregates(rs) < 0)
        return -1;
    if (rs->fmtonly)
        rs->top = 0;
    rs->direct = rs->nsrc == 1 && rs->nout == rs->src[0].t->ncols && !has_agg;
    for (int i = 0; i < rs->nout && rs->direct; i++)
        rs->direct = rs->outs[i].kind == OUT_COL && rs->outs[i].agg == i;
    return 0;
}

int srv_rs_from_table(srv_cursor *cur, tds_session *s, srv_table *t)
{
    (void)s;
    srv_rs *rs = calloc(1, sizeof *rs);
    static const sql_where none = { 0 };
    static sql_tref ref;
    static sql_expr star = { .t = EX_STAR };
    static sql_item item = { .e = &star };
    if (!rs)
        return -1;
    rs->cur = cur;
    rs->where = &none;
    rs->top = -1;
    srv_table_ref(t);
    if (src_init(rs, 0, t, &ref, false) < 0) {
        srv_table_unref(t);
        srv_rs_free(rs);
        return -1;
    }
    rs->nsrc = 1;
    sql_select sel = { .items = &item, .nitems = 1 };
    bool agg;
    if (setup_outputs(rs, &sel, &agg) < 0) {
        srv_rs_free(rs);
        return -1;
    }
    rs->mode = M_STREAM;
    rs->end = rs_src_count(&rs->src[0]);
    rs->fmtonly = cur->c->fmtonly;
    if (rs->fmtonly)
        rs->top = 0;
    cur->rs = rs;
    return 1;
}

/* ------------------------------------------------------------ stream */

static int project(srv_rs *rs)
{
    size_t used = 0;
    for (int i = 0; i < rs->nout; i++) {
        rs_out *o = &rs->outs[i];
        tds_value *v = &rs->ovals[i];
        switch (o->kind) {
        case OUT_COL:
            *v = rs->src[o->agg >> 16].vals[o->agg & 0xFFFF];
            break;
        case OUT_CONST:
            v->ptr = o->accbuf;
            v->len = o->count == SRV_NULL_LEN ? 0 : (uint32_t)o->count;
            v->flags = o->count == SRV_NULL_LEN ? TDS_VF_NULL : 0;
            break;
        case OUT_AGG: {
            uint32_t len;
            memcpy(&len, o->accbuf, 4);
            v->ptr = o->accbuf + 4;
            v->len = len == SRV_NULL_LEN ? 0 : len;
            v->flags = len == SRV_NULL_LEN ? TDS_VF_NULL : 0;
            break;
        }
        case OUT_EXPR: {
            srv_val val;
            char buf[4096];
            if (rs_eval(rs, o->e, &val, buf, sizeof buf) < 0)
                return -1;
            size_t need = used + (val.k == SV_STR || val.k == SV_BIN ? val.n * 4 : 0) + 128;
            if (need > rs->obuf_cap) {
                /* values already placed point into obuf: recompute after growing */
                uint8_t *nb = realloc(rs->obuf, need * 2);
                if (!nb)
                    return -1;
                rs->obuf = nb;
                rs->obuf_cap = need * 2;
                return project(rs);
            }
            int64_t n = sv_to_wire(&rs->odefs[i], &val, rs->obuf + used, rs->obuf_cap - used);
            if (n == (int64_t)SRV_NULL_LEN) {
                v->ptr = NULL;
                v->len = 0;
                v->flags = TDS_VF_NULL;
            } else if (n < 0) {
                rs->err = 245;
                snprintf(rs->errmsg, sizeof rs->errmsg, "Conversion failed when converting a value to data type %s.", rs->odefs[i].type_name);
                return -1;
            } else {
                v->ptr = rs->obuf + used;
                v->len = (uint32_t)n;
                v->flags = 0;
                used += (size_t)n;
            }
            break;
        }
        }
    }
    return 0;
}

/* The row plan and batch buffers of the streaming hot path. Generated
 * values of a row are packed at tight per-column caps (8-byte aligned),
 * so a batch of narrow rows stays in L1; at most 64 rows and 64 KiB. */
static int stream_setup(srv_rs *rs, tds_session *s)
{
    rs_src *s0 = &rs->src[0];
    size_t stride = 0;
    if (s0->t->generated) {
        uint16_t n = s0->t->ncols;
        rs->boff = calloc(n + 1u, sizeof *rs->boff);
        if (!rs->boff)
            return -1;
        for (uint16_t c = 0; c < n; c++)
            rs->boff[c + 1] = rs->boff[c] + ((srv_genplan_cap(&s0->plans[c]) + 7) & ~(size_t)7);
        stride = rs->boff[n];
    }
    size_t b = stride ? (64u * 1024u) / stride : 64;
    rs->batch = b < 1 ? 1 : b > 64 ? 64 : (unsigned)b;
    rs->bstride = stride;
    if (tds_row_plan_new(s, TDS_TOK_ROW, rs->ocols, (uint16_t)rs->nout, &rs->plan) < 0)
        return -1;
    rs->bvals = calloc((size_t)rs->batch * (size_t)rs->nout + 1, sizeof *rs->bvals);
    rs->bbuf = stride ? malloc(rs->batch * stride) : NULL;
    return !rs->bvals || (stride && !rs->bbuf) ? -1 : 0;
}

int srv_rs_step(srv_cursor *cur, tds_session *s, size_t budget)
{
    srv_rs *rs = cur->rs;
    srv_conn *c = cur->c;
    size_t start = tds_send_pending(s);
    if (!rs->meta_sent) {
        if (srv_t25_prepare(rs, c) < 0 ||
            tds_put_colmetadata(s, rs->ocols, (uint16_t)rs->nout) < 0)
            return SRV_CLOSE;
        rs->meta_sent = true;
    }
    const srv_faults *f = &c->faults;
    if (rs->mode == M_STREAM && (!rs->where->n || rs->where_exact) && rs->direct && !f->close_after_rows &&
        !f->stall_after_rows && !f->error_after_rows && !f->malformed_after_rows &&
        !srv_t25_active(rs)) {
        /* The streaming hot path: one source, every column in order, no
         * filter, no faults: make a batch of rows (generated values into
         * one buffer per row, stored rows as views into the heap) and
         * encode the batch with one row plan. */
        rs_src *s0 = &rs->src[0];
        uint64_t stop = rs->end;
        if (rs->top >= 0 && rs->pos + ((uint64_t)rs->top - rs->emitted) < stop)
            stop = rs->pos + ((uint64_t)rs->top - rs->emitted);
        if (rs->pos < stop && !rs->plan && stream_setup(rs, s) < 0)
            return SRV_CLOSE;
        uint16_t nout = (uint16_t)rs->nout;
        srv_table *t = s0->t;
        while (rs->pos < stop) {
            uint64_t k = stop - rs->pos < rs->batch ? stop - rs->pos : rs->batch;
            /* stay close to the budget: as many rows as fit what is left
             * (at 5/4 of the last batch's row size), plus one */
            size_t before = tds_send_pending(s), used = before - start;
            uint64_t fit = rs->row_bytes ? (budget > used ? budget - used : 0) / (rs->row_bytes + rs->row_bytes / 4) + 1 : 1;
            if (fit < k)
                k = fit;
            for (uint64_t j = 0; j < k; j++) {
                uint64_t i = rs->reverse ? rs->end - 1 - (rs->pos + j) : rs->pos + j;
                tds_value *v = rs->bvals + j * nout;
                if (t->generated)
                    srv_genplan_row(s0->plans, nout, s0->need, i, rs->bbuf + j * rs->bstride, rs->boff, v);
                else
                    srv_table_row(t, s0->snap[i], v);
            }
            if (tds_put_rows(s, rs->plan, rs->bvals, (size_t)k, NULL) < 0)
                return SRV_CLOSE;
            rs->row_bytes = (tds_send_pending(s) - before + (size_t)k - 1) / (size_t)k;
            rs->pos += k;
            rs->emitted += k;
            cur->rows_sent += k;
            if (tds_send_pending(s) - start >= budget)
                return SRV_MORE;
        }
    }
    for (;;) {
        if (rs->top >= 0 && rs->emitted >= (uint64_t)rs->top)
            break;
        int r = next_tuple(rs);
        if (r < 0 || (r > 0 && project(rs) < 0)) {
            srv_put_error(cur, s, rs->err, 16, 1, "%s", rs->errmsg);
            cur->aborted = true;
            srv_put_done(cur, s, TDS_DONE_ERROR, 0xC1, 0);
            return SRV_DONE;
        }
        if (!r)
            break;
        /* faults strike a reply's data, not a client's catalog lookups */
        uint64_t n = rs->catalog ? 0 : cur->rows_sent;
        if (f->close_after_rows && n >= f->close_after_rows)
            return SRV_CLOSE;
        if (f->stall_after_rows && n >= f->stall_after_rows)
            return SRV_STALL;
        if (f->error_after_rows && n >= f->error_after_rows) {
            srv_put_error(cur, s, 50000, 16, 1, "tdstestd: injected error after %llu rows", (unsigned long long)n);
            cur->aborted = true;
            srv_put_done(cur, s, TDS_DONE_ERROR | (c->nocount ? 0 : TDS_DONE_COUNT), 0xC1, rs->emitted);
            return SRV_DONE;
        }
        if (f->malformed_after_rows && n >= f->malformed_after_rows) {
            static const uint8_t junk[8] = { 0x01, 0xEE, 0xBA, 0xAD, 0xF0, 0x0D, 0x00, 0x00 };
            tds_put_bytes(s, junk, sizeof junk);
            cur->aborted = true;
            return SRV_DONE;
        }
        if (srv_t25_row(rs, rs->ovals) < 0 ||
            tds_put_row(s, rs->ocols, rs->ovals, (uint16_t)rs->nout) < 0)
            return SRV_CLOSE;
        rs->emitted++;
        cur->rows_sent++;
        if (tds_send_pending(s) - start >= budget)
            return SRV_MORE;
    }
    c->rowcount = (int64_t)rs->emitted;
    srv_put_done(cur, s, c->nocount ? 0 : TDS_DONE_COUNT, 0xC1, rs->emitted);
    return SRV_DONE;
}
