/*
 * exec_ct.c — Change Tracking emulation. Each tracked change appends
 * (version, operation, primary-key bytes) to the table's log; the
 * database's version counter advances once per autocommit statement (or
 * once per transaction) that changes a tracked table.
 *
 * CHANGETABLE(CHANGES t, v) folds the log entries with version > v per key
 * into one row, as SQL Server does:
 *   SYS_CHANGE_VERSION           the key's last change
 *   SYS_CHANGE_CREATION_VERSION  the insert's version when the first change
 *                                after v is an insert (else NULL)
 *   SYS_CHANGE_OPERATION         'D' if the last change is a delete (also
 *                                insert-then-delete), else 'I' if the first
 *                                change after v is an insert, else 'U'
 *   SYS_CHANGE_COLUMNS, SYS_CHANGE_CONTEXT  NULL
 *   then the primary-key columns.
 * Rows come out ordered by key bytes. Entries below the cleanup watermark
 * (tdstestd_ct_cleanup) are gone, as after SQL Server's auto cleanup;
 * TRUNCATE TABLE drops the whole log and moves the minimum valid version
 * to its own version (ct_truncate).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

int64_t ct_min_valid(const srv_table *t)
{
    uint64_t v = t->ct_begin_version;
    if (t->dbp && t->dbp->ct_min_valid > v)
        v = t->dbp->ct_min_valid;
    return (int64_t)v;
}

static uint64_t stmt_version(srv_conn *c, srv_database *d)
{
    if (c->trancount) {
        if (!c->tran_version)
            c->tran_version = ++d->ct_version;
        return c->tran_version;
    }
    if (!c->stmt_version)
        c->stmt_version = ++d->ct_version;
    return c->stmt_version;
}

int ct_record(srv_conn *c, srv_table *t, const tds_value *vals, char op)
{
    srv_database *d = t->dbp;
    if (!t->ct_enabled || !d || !d->ct_enabled || !t->npk)
        return 0;
    size_t need = 0;
    for (int k = 0; k < t->npk; k++)
        need += 4 + vals[t->pk[k]].len;
    if (t->ct_keys_len + need > t->ct_keys_cap) {
        size_t cap = t->ct_keys_cap ? t->ct_keys_cap * 2 : 4096;
        while (cap < t->ct_keys_len + need)
            cap *= 2;
        uint8_t *nk = realloc(t->ct_keys, cap);
        if (!nk)
            return -1;
        t->ct_keys = nk;
        t->ct_keys_cap = cap;
    }
    if (t->nct == t->cap_ct) {
        size_t cap = t->cap_ct ? t->cap_ct * 2 : 64;
        srv_ct_entry *ne = realloc(t->ct, cap * sizeof *ne);
        if (!ne)
            return -1;
        t->ct = ne;
        t->cap_ct = cap;
    }
    srv_ct_entry *e = &t->ct[t->nct++];
    e->version = stmt_version(c, d);
    e->op = op;
    e->key_off = t->ct_keys_len;
    e->key_len = (uint32_t)need;
    uint8_t *p = t->ct_keys + t->ct_keys_len;
    for (int k = 0; k < t->npk; k++) {
        const tds_value *v = &vals[t->pk[k]];
        uint32_t len = (v->flags & TDS_VF_NULL) ? SRV_NULL_LEN : v->len;
        memcpy(p, &len, 4);
        p += 4;
        if (len != SRV_NULL_LEN && len) {
            memcpy(p, v->ptr, len);
            p += len;
        }
    }
    t->ct_keys_len += need;
    return 0;
}

void ct_truncate(srv_conn *c, srv_table *t)
{
    if (!t->ct_enabled || !t->dbp || !t->dbp->ct_enabled)
        return;
    /* SQL Server: truncation removes the table's change tracking
     * information and CHANGE_TRACKING_MIN_VALID_VERSION moves past it, so
     * every client re-initialises */
    t->nct = 0;
    t->ct_keys_len = 0;
    t->ct_begin_version = stmt_version(c, t->dbp);
}

static const srv_table *g_t;

static int entry_cmp(const void *a, const void *b)
{
    const srv_ct_entry *x = &g_t->ct[*(const size_t *)a], *y = &g_t->ct[*(const size_t *)b];
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int r = memcmp(g_t->ct_keys + x->key_off, g_t->ct_keys + y->key_off, n);
    if (r)
        return r;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

srv_table *ct_changes(srv_conn *c, srv_table *t, int64_t since, int32_t *err, char *msg, size_t cap)
{
    if (!t->ct_enabled || !t->dbp || !t->dbp->ct_enabled) {
        *err = 22105;
        snprintf(msg, cap, "Change tracking is not enabled on table '%s.%s'.", t->schema, t->name);
        return NULL;
    }
    (void)c;
    srv_coldef defs[5 + SRV_MAX_PK];
    static const char *names[5] = { "SYS_CHANGE_VERSION", "SYS_CHANGE_CREATION_VERSION", "SYS_CHANGE_OPERATION",
                                    "SYS_CHANGE_COLUMNS", "SYS_CHANGE_CONTEXT" };
    static const char *types[5] = { "bigint", "bigint", "nchar(1)", "varbinary(4100)", "varbinary(128)" };
    for (int i = 0; i < 5; i++) {
        memset(&defs[i], 0, sizeof defs[i]);
        srv_type_parse(types[i], &defs[i]);
        snprintf(defs[i].name, sizeof defs[i].name, "%s", names[i]);
        defs[i].nullable = i != 0 && i != 2;
        if (!defs[i].nullable)
            defs[i].col.flags &= (uint16_t)~TDS_COL_NULLABLE;
    }
    for (int k = 0; k < t->npk; k++)
        defs[5 + k] = t->cols[t->pk[k]];
    uint16_t n = (uint16_t)(5 + t->npk);
    srv_table *r = srv_table_new("sys", "CHANGETABLE", defs, n);
    size_t *idx = malloc((t->nct + 1) * sizeof *idx);
    if (!r || !idx) {
        free(idx);
        srv_table_unref(r);
        *err = 701;
        snprintf(msg, cap, "There is insufficient system memory to run this query.");
        return NULL;
    }
    size_t m = 0;
    for (size_t i = 0; i < t->nct; i++)
        if (since < 0 || t->ct[i].version > (uint64_t)since)
            idx[m++] = i;
    g_t = t;
    qsort(idx, m, sizeof *idx, entry_cmp);
    g_t = NULL;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        const srv_ct_entry *first = &t->ct[idx[i]];
        while (j + 1 < m && t->ct[idx[j + 1]].key_len == first->key_len &&
               memcmp(t->ct_keys + t->ct[idx[j + 1]].key_off, t->ct_keys + first->key_off, first->key_len) == 0)
            j++;
        const srv_ct_entry *last = &t->ct[idx[j]];
        char op = last->op == 'D' ? 'D' : first->op == 'I' ? 'I' : 'U';
        tds_value vals[5 + SRV_MAX_PK];
        uint8_t ver[8], cver[8], opb[2] = { (uint8_t)op, 0 };
        for (int b = 0; b < 8; b++) {
            ver[b] = (uint8_t)(last->version >> (8 * b));
            cver[b] = (uint8_t)(first->version >> (8 * b));
        }
        memset(vals, 0, sizeof vals);
        vals[0].ptr = ver;
        vals[0].len = 8;
        if (op == 'I') {
            vals[1].ptr = cver;
            vals[1].len = 8;
        } else {
            vals[1].flags = TDS_VF_NULL;
        }
        vals[2].ptr = opb;
        vals[2].len = 2;
        vals[3].flags = TDS_VF_NULL;
        vals[4].flags = TDS_VF_NULL;
        const uint8_t *p = t->ct_keys + last->key_off;
        for (int k = 0; k < t->npk; k++) {
            uint32_t len;
            memcpy(&len, p, 4);
            p += 4;
            if (len == SRV_NULL_LEN) {
                vals[5 + k].flags = TDS_VF_NULL;
            } else {
                vals[5 + k].ptr = p;
                vals[5 + k].len = len;
                p += len;
            }
        }
        uint64_t off = srv_table_heap_put(r, vals);
        if (off == UINT64_MAX || srv_table_append(r, off) < 0)
            break;
        i = j + 1;
    }
    free(idx);
    return r;
}
