/*
 * sql_keys.c — whether a merge's staged keys repeat: a hash set of the key
 * values' bytes, filled per appended batch. Only for dialects with a MERGE
 * statement (sink_dialect.merge_stmt), which may run it only when every
 * key is distinct; a collision of two hashes counts as a repeat (the
 * general merge is then used, still right).
 */
#include <stdlib.h>

#include "sql_int.h"

static int grow(sql_sink *q)
{
    size_t cap = q->keys_cap ? q->keys_cap * 2 : 1024;
    uint64_t *k = sink__calloc(cap, sizeof *k);
    if (!k)
        return SINK_E_NOMEM;
    for (size_t i = 0; i < q->keys_cap; i++)
        if (q->keys[i])
            for (size_t j = q->keys[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                if (!k[j]) {
                    k[j] = q->keys[i];
                    break;
                }
    free(q->keys);
    q->keys = k;
    q->keys_cap = cap;
    return SINK_OK;
}

/* FNV-1a over each key value's NULL flag, length and bytes */
static uint64_t key_hash(const sql_sink *q, const tds_value *row)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < q->sc.npk; k++) {
        const tds_value *v = &row[q->sc.pk[k]];
        uint8_t hdr[5] = {(uint8_t)(v->flags & TDS_VF_NULL), (uint8_t)v->len, (uint8_t)(v->len >> 8),
                          (uint8_t)(v->len >> 16), (uint8_t)(v->len >> 24)};
        for (int i = 0; i < 5; i++)
            h = (h ^ hdr[i]) * 1099511628211ull;
        for (uint32_t i = 0; v->ptr && i < v->len; i++)
            h = (h ^ v->ptr[i]) * 1099511628211ull;
    }
    return h ? h : 1;
}

int sink__sql_note_keys(sql_sink *q, const sink_batch *b)
{
    for (size_t r = 0; r < b->nrows && !q->dup_keys; r++) {
        if (q->keys_n * 2 >= q->keys_cap && grow(q))
            return SINK_E_NOMEM;
        uint64_t h = key_hash(q, b->values + r * q->sc.ncols);
        for (size_t j = h & (q->keys_cap - 1);; j = (j + 1) & (q->keys_cap - 1)) {
            if (!q->keys[j]) {
                q->keys[j] = h;
                q->keys_n++;
                break;
            }
            if (q->keys[j] == h) {
                q->dup_keys = true;
                break;
            }
        }
    }
    return SINK_OK;
}
