/*
 * table.c — table storage. Stored rows are blobs in an append-only heap
 * (per column: u32 LE length, 0xFFFFFFFF for NULL, then wire bytes); the
 * row list holds heap offsets in insertion order; a primary-key hash
 * index (open addressing, slot = heap offset + 1) answers duplicate checks
 * and CHANGETABLE joins. Generated tables store nothing (generate.c).
 *
 * Invariants: heap offsets never move (the heap only grows; DELETE and
 * UPDATE edit the row list), so cursors and the undo log can keep them.
 * The index is rebuilt lazily when idx_dirty is set (delete, update,
 * rollback, truncate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

srv_table *srv_table_new(const char *schema, const char *name, const srv_coldef *cols, uint16_t n)
{
    srv_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->refs = 1;
    snprintf(t->schema, sizeof t->schema, "%s", schema);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->cols = calloc(n ? n : 1, sizeof *t->cols);
    if (!t->cols) {
        free(t);
        return NULL;
    }
    memcpy(t->cols, cols, n * sizeof *cols);
    t->ncols = n;
    for (uint16_t i = 0; i < n; i++) {
        srv_coldef_fix(&t->cols[i]);
        t->cols[i].col.ordinal = i;
        if (t->cols[i].col.type == TDS_T_TEXT || t->cols[i].col.type == TDS_T_NTEXT ||
            t->cols[i].col.type == TDS_T_IMAGE) {
            t->cols[i].col.table.ptr = t->name;
            t->cols[i].col.table.len = strlen(t->name);
        }
    }
    return t;
}

void srv_table_ref(srv_table *t) { t->refs++; }

void srv_table_unref(srv_table *t)
{
    if (!t || --t->refs > 0)
        return;
    free(t->cols);
    free(t->heap);
    free(t->rows);
    free(t->idx);
    free(t->ct);
    free(t->ct_keys);
    free(t->undo_rows);
    srv_partfn_free(t->partfn);
    free(t);
}

int srv_table_colno(const srv_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (srv_ieq(t->cols[i].name, name))
            return i;
    return -1;
}

void srv_table_row(const srv_table *t, uint64_t off, tds_value *vals)
{
    const uint8_t *p = t->heap + off;
    for (uint16_t i = 0; i < t->ncols; i++) {
        uint32_t len;
        memcpy(&len, p, 4); /* host order is little-endian on every target we build */
        p += 4;
        if (len == SRV_NULL_LEN) {
            vals[i].ptr = NULL;
            vals[i].len = 0;
            vals[i].flags = TDS_VF_NULL;
        } else {
            vals[i].ptr = p;
            vals[i].len = len;
            vals[i].flags = 0;
            p += len;
        }
    }
}

static int heap_reserve(srv_table *t, size_t n)
{
    if (t->heap_len + n <= t->heap_cap)
        return 0;
    size_t cap = t->heap_cap ? t->heap_cap : 4096;
    while (cap < t->heap_len + n)
        cap *= 2;
    uint8_t *h = realloc(t->heap, cap);
    if (!h)
        return -1;
    t->heap = h;
    t->heap_cap = cap;
    return 0;
}

uint64_t srv_table_heap_put(srv_table *t, const tds_value *vals)
{
    size_t need = 0;
    for (uint16_t i = 0; i < t->ncols; i++)
        need += 4 + ((vals[i].flags & TDS_VF_NULL) ? 0 : vals[i].len);
    /* views may point into this heap (UPDATE copies unchanged columns):
     * remember them as offsets across a move */
    uint8_t *old = t->heap;
    size_t old_len = t->heap_len;
    if (heap_reserve(t, need) < 0)
        return UINT64_MAX;
    uint64_t off = t->heap_len;
    uint8_t *p = t->heap + off;
    for (uint16_t i = 0; i < t->ncols; i++) {
        uint32_t len = (vals[i].flags & TDS_VF_NULL) ? SRV_NULL_LEN : vals[i].len;
        memcpy(p, &len, 4);
        p += 4;
        if (len != SRV_NULL_LEN) {
            const uint8_t *src = vals[i].ptr;
            if (old && src >= old && src < old + old_len)
                src = t->heap + (src - old);
            if (len)
                memcpy(p, src, len);
            p += len;
        }
    }
    t->heap_len += need;
    return off;
}

/* ------------------------------------------------------------ PK index */

static uint64_t pk_hash(const srv_table *t, const tds_value *kv)
{
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < t->npk; k++) {
        const tds_value *v = &kv[k];
        uint32_t len = (v->flags & TDS_VF_NULL) ? SRV_NULL_LEN : v->len;
        for (int b = 0; b < 4; b++)
            h = (h ^ ((len >> (8 * b)) & 0xFF)) * 1099511628211ULL;
        if (len != SRV_NULL_LEN)
            for (uint32_t b = 0; b < len; b++)
                h = (h ^ v->ptr[b]) * 1099511628211ULL;
    }
    return h;
}

static void row_key(const srv_table *t, uint64_t off, tds_value *kv)
{
    tds_value all[SRV_MAX_COLS];
    srv_table_row(t, off, all);
    for (int k = 0; k < t->npk; k++)
        kv[k] = all[t->pk[k]];
}

static bool key_eq(const srv_table *t, const tds_value *a, const tds_value *b)
{
    for (int k = 0; k < t->npk; k++) {
        bool an = a[k].flags & TDS_VF_NULL, bn = b[k].flags & TDS_VF_NULL;
        if (an != bn || a[k].len != b[k].len || (a[k].len && memcmp(a[k].ptr, b[k].ptr, a[k].len)))
            return false;
    }
    return true;
}

static int idx_insert(srv_table *t, uint64_t off)
{
    if ((t->nrows + 1) * 2 > t->idx_cap) {
        size_t cap = t->idx_cap ? t->idx_cap * 2 : 1024;
        while (cap < (t->nrows + 1) * 2)
            cap *= 2;
        uint64_t *ni = calloc(cap, sizeof *ni);
        if (!ni)
            return -1;
        free(t->idx);
        t->idx = ni;
        t->idx_cap = cap;
        t->idx_dirty = true; /* rebuild everything into the bigger table */
        return 1;
    }
    tds_value kv[SRV_MAX_PK];
    row_key(t, off, kv);
    size_t m = t->idx_cap - 1;
    size_t s = (size_t)pk_hash(t, kv) & m;
    while (t->idx[s])
        s = (s + 1) & m;
    t->idx[s] = off + 1;
    return 0;
}

int srv_table_reindex(srv_table *t)
{
    if (!t->npk)
        return 0;
    size_t cap = 1024;
    while (cap < (t->nrows + 1) * 2)
        cap *= 2;
    if (cap != t->idx_cap) {
        uint64_t *ni = calloc(cap, sizeof *ni);
        if (!ni)
            return -1;
        free(t->idx);
        t->idx = ni;
        t->idx_cap = cap;
    } else {
        memset(t->idx, 0, cap * sizeof *t->idx);
    }
    t->idx_dirty = false;
    size_t m = cap - 1;
    for (size_t r = 0; r < t->nrows; r++) {
        tds_value kv[SRV_MAX_PK];
        row_key(t, t->rows[r], kv);
        size_t s = (size_t)pk_hash(t, kv) & m;
        while (t->idx[s])
            s = (s + 1) & m;
        t->idx[s] = t->rows[r] + 1;
    }
    return 0;
}

uint64_t srv_table_pk_find(srv_table *t, const tds_value *keyvals)
{
    if (!t->npk || !t->nrows)
        return UINT64_MAX;
    if ((t->idx_dirty || !t->idx) && srv_table_reindex(t) < 0)
        return UINT64_MAX;
    size_t m = t->idx_cap - 1;
    size_t s = (size_t)pk_hash(t, keyvals) & m;
    while (t->idx[s]) {
        tds_value kv[SRV_MAX_PK];
        row_key(t, t->idx[s] - 1, kv);
        if (key_eq(t, kv, keyvals))
            return t->idx[s] - 1;
        s = (s + 1) & m;
    }
    return UINT64_MAX;
}

int srv_table_append(srv_table *t, uint64_t off)
{
    if (t->nrows == t->cap_rows) {
        size_t cap = t->cap_rows ? t->cap_rows * 2 : 64;
        uint64_t *r = realloc(t->rows, cap * sizeof *r);
        if (!r)
            return -1;
        t->rows = r;
        t->cap_rows = cap;
    }
    if (t->npk && !t->idx_dirty && t->idx) {
        if (idx_insert(t, off) < 0)
            return -1;
    } else if (t->npk) {
        t->idx_dirty = true;
    }
    t->rows[t->nrows++] = off;
    return 0;
}

void srv_table_clear(srv_table *t)
{
    t->nrows = 0;
    t->idx_dirty = true;
}

void srv_table_key_text(const srv_table *t, const tds_value *vals, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    for (int k = 0; k < t->npk && o + 4 < cap; k++) {
        const srv_coldef *d = &t->cols[t->pk[k]];
        const tds_value *v = &vals[t->pk[k]];
        srv_val sv;
        char scratch[256], txt[300];
        if (sv_from_wire(&d->col, v->ptr, (v->flags & TDS_VF_NULL) ? SRV_NULL_LEN : v->len, &sv,
                         scratch, sizeof scratch) < 0)
            snprintf(txt, sizeof txt, "?");
        else
            sv_text(&sv, txt, sizeof txt);
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", k ? ", " : "", txt);
    }
}

int srv_table_materialize(srv_table *t)
{
    if (!t->generated)
        return 0;
    size_t cap = 0;
    for (uint16_t c = 0; c < t->ncols; c++)
        cap += srv_gen_cap(&t->cols[c]);
    uint8_t *buf = malloc(cap);
    tds_value *vals = calloc(t->ncols ? t->ncols : 1, sizeof *vals);
    if (!buf || !vals) {
        free(buf);
        free(vals);
        return -1;
    }
    t->generated = false;
    for (uint64_t i = 0; i < t->gen_rows; i++) {
        size_t o = 0;
        for (uint16_t c = 0; c < t->ncols; c++) {
            uint32_t len = srv_gen_value(&t->cols[c], c, i, buf + o, srv_gen_cap(&t->cols[c]));
            vals[c].ptr = buf + o;
            vals[c].len = len == SRV_NULL_LEN ? 0 : len;
            vals[c].flags = len == SRV_NULL_LEN ? TDS_VF_NULL : 0;
            o += srv_gen_cap(&t->cols[c]);
        }
        uint64_t off = srv_table_heap_put(t, vals);
        if (off == UINT64_MAX || srv_table_append(t, off) < 0) {
            free(buf);
            free(vals);
            return -1;
        }
    }
    free(buf);
    free(vals);
    return 0;
}

int srv_table_insert_vals(srv_table *t, const srv_val *in, uint64_t *off_out)
{
    size_t cap = 0;
    for (uint16_t c = 0; c < t->ncols; c++) {
        size_t need = 64;
        if (in[c].k == SV_STR || in[c].k == SV_BIN)
            need += in[c].n * 4;
        cap += need;
    }
    uint8_t *buf = malloc(cap);
    tds_value *vals = calloc(t->ncols ? t->ncols : 1, sizeof *vals);
    if (!buf || !vals) {
        free(buf);
        free(vals);
        return -1;
    }
    size_t o = 0;
    int rc = 0;
    for (uint16_t c = 0; c < t->ncols && !rc; c++) {
        size_t need = 64 + ((in[c].k == SV_STR || in[c].k == SV_BIN) ? in[c].n * 4 : 0);
        int64_t n = sv_to_wire(&t->cols[c], &in[c], buf + o, need);
        if (n < 0 && n != (int64_t)SRV_NULL_LEN) {
            rc = -(int)(-n + 100000 * (c + 1)); /* number and column for the caller */
            break;
        }
        if (n == (int64_t)SRV_NULL_LEN) {
            if (!t->cols[c].nullable) {
                rc = -(515 + 100000 * (c + 1));
                break;
            }
            vals[c].flags = TDS_VF_NULL;
        } else {
            vals[c].ptr = buf + o;
            vals[c].len = (uint32_t)n;
            o += (size_t)n;
        }
    }
    if (!rc) {
        uint64_t off = srv_table_heap_put(t, vals);
        if (off == UINT64_MAX)
            rc = -1;
        else
            *off_out = off;
    }
    free(buf);
    free(vals);
    return rc;
}
