/*
 * exec_window.c — ROW_NUMBER() OVER (PARTITION BY … ORDER BY …): sorts
 * the tuples of a result by (partition keys, order keys, position) and
 * numbers each partition from 1. Keys compare as everywhere else in
 * tdstestd (sv_cmp: text case-insensitively with trailing blanks ignored,
 * the default collation's rule, so 'a' and 'A ' share a partition; NULLs
 * equal each other and sort lowest, first in ASC as in SQL Server).
 *
 * Ties in ORDER BY are numbered in tuple order (SQL Server leaves them
 * unspecified; callers that care order by a unique key).
 */
#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "exec_select_int.h"

typedef struct win_sort {
    srv_val *keys;
    int nk;
    const bool *desc;
} win_sort;
static const win_sort *g_win;

static int key_cmp(size_t a, size_t b, int from, int to)
{
    for (int k = from; k < to; k++) {
        bool inc = false;
        int r = sv_cmp(&g_win->keys[a * (size_t)g_win->nk + (size_t)k], &g_win->keys[b * (size_t)g_win->nk + (size_t)k], &inc);
        if (r)
            return g_win->desc[k] ? -r : r;
    }
    return 0;
}

static int idx_cmp(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    int r = key_cmp(a, b, 0, g_win->nk);
    return r ? r : (a > b) - (a < b);
}

int window_row_number(size_t nt, int npart, int norder, const bool *desc,
                      int (*keys)(void *ctx, size_t i, srv_val *out), void *ctx, int64_t *rn)
{
    int nk = npart + norder;
    if (nk > SQL_WIN_MAX_KEYS)
        return -1;
    srv_val *kv = calloc(nt * (size_t)nk + 1, sizeof *kv);
    size_t *idx = malloc((nt + 1) * sizeof *idx);
    char *mem = NULL;
    size_t mlen = 0, mcap = 0;
    int rc = -1;
    if (!kv || !idx)
        goto out;
    for (size_t i = 0; i < nt; i++) {
        idx[i] = i;
        srv_val *v = &kv[i * (size_t)nk];
        if (keys(ctx, i, v) < 0)
            goto out;
        /* text and bytes live in the caller's buffers until the next
         * call: copy them, as offsets until the arena stops moving */
        for (int k = 0; k < nk; k++) {
            if (v[k].k != SV_STR && v[k].k != SV_BIN)
                continue;
            if (mlen + v[k].n + 1 > mcap) {
                mcap = (mlen + v[k].n + 1) * 2 + 4096;
                char *nm = realloc(mem, mcap);
                if (!nm)
                    goto out;
                mem = nm;
            }
            memcpy(mem + mlen, v[k].s, v[k].n);
            v[k].i = (int64_t)mlen;
            mlen += v[k].n;
        }
    }
    for (size_t i = 0; i < nt * (size_t)nk; i++)
        if (kv[i].k == SV_STR || kv[i].k == SV_BIN)
            kv[i].s = mem + kv[i].i;
    win_sort ws = { kv, nk, desc };
    g_win = &ws;
    qsort(idx, nt, sizeof *idx, idx_cmp);
    int64_t n = 0;
    for (size_t j = 0; j < nt; j++) {
        n = j && key_cmp(idx[j - 1], idx[j], 0, npart) == 0 ? n + 1 : 1;
        rn[idx[j]] = n;
    }
    g_win = NULL;
    rc = 0;
out:
    free(kv);
    free(idx);
    free(mem);
    return rc;
}

/* ------------------------------------------------ the result's side */

/* Window values of every listed tuple (exec_window.c numbers them). */
typedef struct win_ctx {
    srv_rs *rs;
    const sql_expr *e;
    char buf[SQL_WIN_MAX_KEYS][1024];
} win_ctx;

static int win_keys(void *ctx, size_t i, srv_val *out)
{
    win_ctx *w = ctx;
    srv_rs *rs = w->rs;
    for (int k = 0; k < rs->nsrc; k++)
        rs_src_load(rs, k, rs->list[i * (size_t)rs->nsrc + (size_t)k]);
    int n = 0;
    for (int q = 0; q < w->e->nwin_part; q++, n++)
        if (rs_eval(rs, w->e->win_part[q], &out[n], w->buf[n], sizeof w->buf[n]) < 0)
            return -1;
    for (int q = 0; q < w->e->nwin_order; q++, n++)
        if (rs_eval(rs, w->e->win_order[q].e, &out[n], w->buf[n], sizeof w->buf[n]) < 0)
            return -1;
    return 0;
}

int rs_windows(srv_rs *rs)
{
    rs->win = calloc((size_t)rs->nwin, sizeof *rs->win);
    if (!rs->win)
        return -1;
    for (int i = 0; i < rs->nout; i++) {
        const sql_expr *e = rs->outs[i].e;
        if (rs->outs[i].kind != OUT_EXPR || e->t != EX_WINDOW)
            continue;
        if (!(rs->win[e->col] = malloc((rs->nlist + 1) * sizeof **rs->win)))
            return -1;
        bool desc[SQL_WIN_MAX_KEYS] = { false };
        for (int q = 0; q < e->nwin_order; q++)
            desc[e->nwin_part + q] = e->win_order[q].desc;
        win_ctx *w = malloc(sizeof *w);
        if (!w)
            return -1;
        w->rs = rs;
        w->e = e;
        int rc = window_row_number(rs->nlist, e->nwin_part, e->nwin_order, desc, win_keys, w, rs->win[e->col]);
        free(w);
        if (rc < 0)
            return -1;
    }
    return 0;
}
