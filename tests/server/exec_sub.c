/*
 * exec_sub.c — subqueries: a derived table "(SELECT …) AS a" or a common
 * table expression reference is run into a temporary table the outer
 * query reads like any other source (each reference runs the query once,
 * as SQL Server evaluates a CTE per reference); EXISTS (SELECT …) opens
 * the subquery inside the outer query's current row (correlated names
 * bind outward, exec_select.c) and stops at its first row.
 *
 * The temporary table belongs to no database; its reference is dropped
 * with the result set that reads it.
 *
 * A correlated EXISTS over one source whose WHERE is inner = outer
 * equalities (qualified names) plus predicates on the inner source alone
 * — the shape of every EXISTS the mssql sink sends — is answered without
 * running the subquery per outer row: at the first outer row the inner
 * rows that pass the inner-only predicates are read once (the statement's
 * snapshot), their key values sorted with sv_cmp, and each outer row is a
 * binary search with the same comparison, so the answer is the one the
 * row-by-row run gives (a NULL key never matches). Anything else runs the
 * subquery per outer row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

srv_table *sub_table(srv_cursor *cur, const sql_select *sel, const char *name, int32_t *err, char *msg, size_t cap)
{
    srv_rs *rs = srv_rs_open(cur, sel, err, msg, cap);
    if (!rs)
        return NULL;
    srv_table *t = NULL;
    const tds_value *vals;
    const srv_coldef *defs;
    int n = srv_rs_defs(rs, &defs);
    for (int i = 0; i < n && n > 0; i++) {
        /* SQL Server names every column of a derived table, once */
        if (!defs[i].name[0]) {
            *err = 8155;
            snprintf(msg, cap, "No column name was specified for column %d of '%s'.", i + 1, name);
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (srv_ieq(defs[i].name, defs[j].name)) {
                *err = 8156;
                snprintf(msg, cap, "The column '%s' was specified multiple times for '%s'.", defs[i].name, name);
                goto out;
            }
    }
    if (n <= 0 || !(t = srv_table_new("dbo", name, defs, (uint16_t)n)))
        goto oom;
    for (;;) {
        int r = srv_rs_next(rs);
        if (r > 0 && srv_rs_project(rs, &vals, &defs) < 0)
            r = -1;
        if (r < 0) {
            srv_rs_error(rs, err, msg, cap);
            srv_table_unref(t);
            t = NULL;
            goto out;
        }
        if (!r)
            break;
        uint64_t off = srv_table_heap_put(t, vals);
        if (off == UINT64_MAX || srv_table_append(t, off) < 0)
            goto oom;
    }
    goto out;
oom:
    if (t)
        srv_table_unref(t);
    t = NULL;
    *err = 701;
    snprintf(msg, cap, "There is insufficient system memory to run this query.");
out:
    srv_rs_free(rs);
    return t;
}

typedef struct sub_cache {
    const sql_pred *pred;
    struct sub_cache *next;
    bool fast;
    int nk;
    sql_expr *outer[SRV_MAX_PK];   /* probe side (outer columns or literals) */
    srv_val *keys;                 /* n rows * nk, sorted */
    size_t n;
    char *mem;
} sub_cache;

void sub_cache_free(void *cache)
{
    for (sub_cache *c = cache, *next; c; c = next) {
        next = c->next;
        free(c->keys);
        free(c->mem);
        free(c);
    }
}

static const char *src_name(const sql_tref *r) { return r->alias[0] ? r->alias : r->parts[2]; }

/* 1 inner column, 2 outer column, 3 literal, 0 anything else */
static int side(const sql_expr *e, const char *inner)
{
    if (e && e->t == EX_LIT)
        return 3;
    if (!e || e->t != EX_COL || e->nparts < 2)
        return 0;
    return srv_ieq(e->parts[e->nparts - 2], inner) ? 1 : 2;
}

static int g_nk;
static int keys_cmp(const srv_val *a, const srv_val *b, bool *inc)
{
    for (int k = 0; k < g_nk; k++) {
        int r = sv_cmp(&a[k], &b[k], inc);
        if (r)
            return r;
    }
    return 0;
}
static const srv_val *g_keys;
static int idx_cmp(const void *x, const void *y)
{
    bool inc = false;
    return keys_cmp(&g_keys[*(const size_t *)x * (size_t)g_nk], &g_keys[*(const size_t *)y * (size_t)g_nk], &inc);
}

/* Sets c->fast and reads the inner keys when the subquery has the shape. */
static int cache_build(srv_cursor *cur, const sql_select *sel, sub_cache *c, int32_t *err, char *msg, size_t cap)
{
    if (sel->nfrom != 1 || sel->from[0].changetable || sel->top || !sel->where.n || sel->where.n > 32)
        return 0;
    const char *inner = src_name(&sel->from[0]);
    sql_item items[SRV_MAX_PK];
    sql_pred only[32];
    int nonly = 0;
    for (int i = 0; i < sel->where.n; i++) {
        const sql_pred *p = &sel->where.p[i];
        int sa = side(p->a, inner), sb = side(p->b, inner);
        if (p->op == P_EQ && (sa == 1) != (sb == 1) && sa && sb) {
            if (c->nk == SRV_MAX_PK)
                return 0;
            items[c->nk] = (sql_item){ .e = sa == 1 ? p->a : p->b };
            c->outer[c->nk++] = sa == 1 ? p->b : p->a;
            continue;
        }
        int sc = p->c ? side(p->c, inner) : 3;
        if (p->op > P_FALSE || !(sa & 1) || (p->b && !(sb & 1)) || !(sc & 1))
            return 0; /* OR/NOT/EXISTS, or an outer column elsewhere */
        only[nonly++] = *p;
    }
    if (!c->nk)
        return 0;
    sql_select b = { .items = items, .nitems = c->nk, .from = sel->from, .nfrom = 1, .where = { only, nonly } };
    srv_rs *rs = srv_rs_open(cur, &b, err, msg, cap);
    if (!rs)
        return -1;
    size_t cap_rows = 0, mlen = 0, mcap = 0;
    int rc = 0;
    for (;;) {
        int r = srv_rs_next(rs);
        if (r < 0) {
            srv_rs_error(rs, err, msg, cap);
            rc = -1;
        }
        if (r <= 0)
            break;
        if (c->n == cap_rows) {
            cap_rows = cap_rows ? cap_rows * 2 : 256;
            srv_val *nk = realloc(c->keys, cap_rows * (size_t)c->nk * sizeof *nk);
            if (!nk) {
                rc = -2;
                break;
            }
            c->keys = nk;
        }
        srv_val *v = &c->keys[c->n * (size_t)c->nk];
        bool null = false;
        for (int k = 0; k < c->nk && !rc; k++) {
            char buf[4096];
            if (srv_rs_eval(rs, items[k].e, &v[k], buf, sizeof buf) < 0) {
                srv_rs_error(rs, err, msg, cap);
                rc = -1;
                break;
            }
            null |= v[k].k == SV_NULL;
            if (v[k].k == SV_STR || v[k].k == SV_BIN) {
                if (mlen + v[k].n + 1 > mcap) {
                    mcap = (mlen + v[k].n + 1) * 2 + 4096;
                    char *nm = realloc(c->mem, mcap);
                    if (!nm) {
                        rc = -2;
                        break;
                    }
                    c->mem = nm;
                }
                memcpy(c->mem + mlen, v[k].s, v[k].n);
                v[k].i = (int64_t)mlen; /* an offset until the arena stops moving */
                mlen += v[k].n;
            }
        }
        if (rc)
            break;
        if (!null) /* inner = NULL is never true */
            c->n++;
    }
    srv_rs_free(rs);
    size_t *idx = rc ? NULL : malloc((c->n + 1) * sizeof *idx);
    srv_val *sorted = rc ? NULL : malloc((c->n * (size_t)c->nk + 1) * sizeof *sorted);
    if (!rc && (!idx || !sorted))
        rc = -2;
    if (rc) {
        free(idx);
        free(sorted);
        if (rc == -2) {
            *err = 701;
            snprintf(msg, cap, "There is insufficient system memory to run this query.");
        }
        return -1;
    }
    for (size_t i = 0; i < c->n * (size_t)c->nk; i++)
        if (c->keys[i].k == SV_STR || c->keys[i].k == SV_BIN)
            c->keys[i].s = c->mem + c->keys[i].i;
    for (size_t i = 0; i < c->n; i++)
        idx[i] = i;
    g_nk = c->nk;
    g_keys = c->keys;
    qsort(idx, c->n, sizeof *idx, idx_cmp);
    for (size_t i = 0; i < c->n; i++)
        memcpy(&sorted[i * (size_t)c->nk], &c->keys[idx[i] * (size_t)c->nk], (size_t)c->nk * sizeof *sorted);
    free(idx);
    free(c->keys);
    c->keys = sorted;
    c->fast = true;
    return 0;
}

static int probe(srv_rs *parent, sub_cache *c, int32_t *err, char *msg, size_t cap)
{
    srv_val pk[SRV_MAX_PK];
    char bufs[SRV_MAX_PK][1024];
    for (int k = 0; k < c->nk; k++) {
        if (srv_rs_eval(parent, c->outer[k], &pk[k], bufs[k], sizeof bufs[k]) < 0) {
            srv_rs_error(parent, err, msg, cap);
            return -1;
        }
        if (pk[k].k == SV_NULL)
            return 0;
    }
    size_t lo = 0, hi = c->n;
    g_nk = c->nk;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bool inc = false;
        int r = keys_cmp(pk, &c->keys[mid * (size_t)c->nk], &inc);
        if (inc) {
            char t[128];
            sv_text(&pk[0], t, sizeof t);
            *err = 245;
            snprintf(msg, cap, "Conversion failed when converting the value '%s' for comparison.", t);
            return -1;
        }
        if (!r)
            return 1;
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

int sub_exists(srv_cursor *cur, const sql_pred *p, srv_rs *parent, void **cache, int32_t *err, char *msg, size_t cap)
{
    sub_cache *c = *cache;
    while (c && c->pred != p)
        c = c->next;
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) {
            *err = 701;
            snprintf(msg, cap, "There is insufficient system memory to run this query.");
            return -1;
        }
        c->pred = p;
        c->next = *cache;
        *cache = c;
        if (cache_build(cur, p->query, c, err, msg, cap) < 0)
            return -1;
    }
    if (c->fast)
        return probe(parent, c, err, msg, cap);
    srv_rs *rs = srv_rs_open_in(cur, p->query, parent, err, msg, cap);
    if (!rs)
        return -1;
    int r = srv_rs_next(rs);
    if (r < 0)
        srv_rs_error(rs, err, msg, cap);
    srv_rs_free(rs);
    return r < 0 ? -1 : r > 0;
}
