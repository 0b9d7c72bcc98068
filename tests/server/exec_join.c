/*
 * exec_join.c — a sorted key index for equality joins: the rows of a
 * joined source sorted by the values of its ON-clause key columns
 * (sv_cmp, ties in row order), so each outer row finds its matches by
 * binary search instead of a scan of the source. Matches come back in the
 * source's row order, exactly the rows (and the order) a nested loop
 * gives; rows with a NULL key are left out (= NULL is never true).
 * exec_select.c decides when to use it and re-checks the whole ON clause
 * on every match.
 */
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

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
