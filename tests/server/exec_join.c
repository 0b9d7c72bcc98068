/*
 * exec_join.c — a sorted key index for equality joins: the rows of a
 * joined source sorted by the values of its ON-clause key columns
 * (sv_cmp, ties in row order), so each outer row finds its matches by
 * binary search instead of a scan of the source. Matches come back in the
 * source's row order, exactly the rows (and the order) a nested loop
 * gives; rows with a NULL key are left out (= NULL is never true).
 * rs_detect_eq_join (below) picks the ON clause's equalities between the
 * source and earlier sources (or literals); join_rec in exec_select.c
 * re-checks the whole ON clause on every match.
 */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "exec_select_int.h"

struct srv_keyidx {
    int nk;
    size_t n;                /* rows indexed */
    size_t *row;             /* row numbers, sorted by key then number */
    srv_val *keys;           /* by row number: nk values */
    char *mem;
};

static const srv_keyidx *g_x;

static int cmp_keys(const srv_val *a, const srv_val *b, int nk, bool *inc)
{
    for (int k = 0; k < nk; k++) {
        int r = sv_cmp(&a[k], &b[k], inc);
        if (r)
            return r;
    }
    return 0;
}

static int row_cmp(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    bool inc = false;
    int r = cmp_keys(&g_x->keys[a * (size_t)g_x->nk], &g_x->keys[b * (size_t)g_x->nk], g_x->nk, &inc);
    return r ? r : (a > b) - (a < b);
}

srv_keyidx *keyidx_build(size_t n, int nk, int (*keys)(void *ctx, size_t i, srv_val *out), void *ctx)
{
    srv_keyidx *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->nk = nk;
    x->keys = calloc(n * (size_t)nk + 1, sizeof *x->keys);
    x->row = malloc((n + 1) * sizeof *x->row);
    size_t mlen = 0, mcap = 0;
    if (!x->keys || !x->row)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        srv_val *v = &x->keys[i * (size_t)nk];
        if (keys(ctx, i, v) < 0)
            goto fail;
        bool null = false;
        for (int k = 0; k < nk; k++) {
            null |= v[k].k == SV_NULL;
            if (v[k].k != SV_STR && v[k].k != SV_BIN)
                continue;
            if (mlen + v[k].n + 1 > mcap) {
                mcap = (mlen + v[k].n + 1) * 2 + 4096;
                char *nm = realloc(x->mem, mcap);
                if (!nm)
                    goto fail;
                x->mem = nm;
            }
            memcpy(x->mem + mlen, v[k].s, v[k].n);
            v[k].i = (int64_t)mlen; /* an offset until the arena stops moving */
            mlen += v[k].n;
        }
        if (!null)
            x->row[x->n++] = i;
    }
    for (size_t i = 0; i < n * (size_t)nk; i++)
        if (x->keys[i].k == SV_STR || x->keys[i].k == SV_BIN)
            x->keys[i].s = x->mem + x->keys[i].i;
    g_x = x;
    qsort(x->row, x->n, sizeof *x->row, row_cmp);
    g_x = NULL;
    return x;
fail:
    keyidx_free(x);
    return NULL;
}

/* First position whose key is >= probe (upper: > probe). */
static size_t bound(const srv_keyidx *x, const srv_val *probe, bool upper, bool *inc)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = cmp_keys(probe, &x->keys[x->row[mid] * (size_t)x->nk], x->nk, inc);
        if (upper ? r >= 0 : r > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int keyidx_range(const srv_keyidx *x, const srv_val *probe, size_t *lo, size_t *hi, bool *inc)
{
    *inc = false;
    *lo = *hi = 0;
    for (int k = 0; k < x->nk; k++)
        if (probe[k].k == SV_NULL)
            return 0;
    *lo = bound(x, probe, false, inc);
    *hi = bound(x, probe, true, inc);
    return *inc ? -1 : 0;
}

size_t keyidx_row(const srv_keyidx *x, size_t j) { return x->row[j]; }

void keyidx_free(srv_keyidx *x)
{
    if (!x)
        return;
    free(x->row);
    free(x->keys);
    free(x->mem);
    free(x);
}

/* ------------------------------------------------ the join's side */

/* Else: "JOIN t ON t.c = <earlier source column or literal> [AND …]" for
 * any columns of a stored t uses a sorted key index. */
void rs_detect_eq_join(srv_rs *rs, int k)
{
    rs_src *s = &rs->src[k];
    if (s->pk_join || s->t->generated)
        return;
    for (int i = 0; i < s->ref->on.n && s->nek < SRV_MAX_PK; i++) {
        sql_pred *p = &s->ref->on.p[i];
        if (p->op != P_EQ)
            continue;
        sql_expr *mine = NULL, *other = NULL;
        if (p->a->t == EX_COL && !p->a->up && p->a->src == k) { mine = p->a; other = p->b; }
        else if (p->b->t == EX_COL && !p->b->up && p->b->src == k) { mine = p->b; other = p->a; }
        if (mine && (other->t == EX_LIT || (other->t == EX_COL && (other->up || other->src < k)))) {
            s->ek_mine[s->nek] = mine;
            s->ek_other[s->nek++] = other;
        }
    }
}

typedef struct ek_ctx {
    srv_rs *rs;
    int k;
    char buf[SRV_MAX_PK][1024];
} ek_ctx;

static int ek_keys(void *ctx, size_t i, srv_val *out)
{
    ek_ctx *c = ctx;
    rs_src *s = &c->rs->src[c->k];
    rs_src_load(c->rs, c->k, rs_src_ref(s, i));
    for (int q = 0; q < s->nek; q++)
        if (rs_eval(c->rs, s->ek_mine[q], &out[q], c->buf[q], sizeof c->buf[q]) < 0)
            return -1;
    return 0;
}

/* Positions [lo, hi) of source k's rows whose keys equal the probe (the
 * earlier sources' current row). 0 or -1 (error in rs). */
int rs_ek_range(srv_rs *rs, int k, size_t *lo, size_t *hi)
{
    rs_src *s = &rs->src[k];
    if (!s->kidx) {
        ek_ctx *c = malloc(sizeof *c);
        if (c) {
            c->rs = rs;
            c->k = k;
            s->kidx = keyidx_build(rs_src_count(s), s->nek, ek_keys, c);
            free(c);
        }
        if (!s->kidx) {
            if (!rs->err) {
                rs->err = 701;
                snprintf(rs->errmsg, sizeof rs->errmsg, "There is insufficient system memory to run this query.");
            }
            return -1;
        }
    }
    srv_val probe[SRV_MAX_PK];
    char buf[SRV_MAX_PK][1024];
    for (int q = 0; q < s->nek; q++)
        if (rs_eval(rs, s->ek_other[q], &probe[q], buf[q], sizeof buf[q]) < 0)
            return -1;
    bool inc;
    if (keyidx_range(s->kidx, probe, lo, hi, &inc) < 0) {
        rs->err = 245;
        snprintf(rs->errmsg, sizeof rs->errmsg, "Conversion failed when comparing the join columns' values.");
        return -1;
    }
    return 0;
}
