/*
 * exec_cdc_query.c — reading CDC: the query functions
 * cdc.fn_cdc_get_all_changes_<instance> and cdc.fn_cdc_get_net_changes_
 * <instance> (as temporary tables for FROM), with SQL Server's check of
 * the LSN range (error 313 "An insufficient number of arguments …" when
 * the range is not inside the instance's timeline [min_lsn, max_lsn] or
 * from > to, as the generated functions raise it).
 *
 * Rows come out in the change table's order: __$start_lsn, then __$seqval,
 * update-old before update-new. Net changes fold each row identifier's
 * changes in the range: inserted then deleted gives nothing; ends deleted
 * gives 1; did not exist before gives 2, else 4 (5 for "all with merge").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"

#define FAILV(num, ...) do { *err = (num); snprintf(msg, cap, __VA_ARGS__); return NULL; } while (0)

enum { F_ALL, F_ALL_UPDATE_OLD, F_NET_ALL, F_NET_MASK, F_NET_MERGE };

/* The instance a function name names: kind 0 all changes, 1 net. */
static cdc_inst *tvf_inst(srv_conn *c, const sql_tref *r, int *kind)
{
    static const char all[] = "fn_cdc_get_all_changes_", net[] = "fn_cdc_get_net_changes_";
    const char *f = r->parts[2];
    srv_database *d = r->parts[0][0] ? srv_db_find(c->db, r->parts[0]) : c->cur;
    if (!d || !d->cdc || !srv_ieq(r->parts[1], "cdc"))
        return NULL;
    if (strlen(f) > sizeof all - 1 && srv_ieqn(f, sizeof all - 1, all))
        *kind = 0;
    else if (strlen(f) > sizeof net - 1 && srv_ieqn(f, sizeof net - 1, net))
        *kind = 1;
    else
        return NULL;
    cdc_inst *ci = cdc_inst_find(d->cdc, f + sizeof all - 1);
    return ci && (*kind == 0 || ci->net) ? ci : NULL;
}

static int filter_option(const srv_val *v, int kind)
{
    char t[64];
    if (v->k != SV_STR || v->n >= sizeof t)
        return -1;
    size_t b = 0, e = v->n;
    while (b < e && v->s[b] == ' ')
        b++;
    while (e > b && v->s[e - 1] == ' ')
        e--;
    snprintf(t, sizeof t, "%.*s", (int)(e - b), v->s + b);
    if (kind == 0)
        return srv_ieq(t, "all") ? F_ALL : srv_ieq(t, "all update old") ? F_ALL_UPDATE_OLD : -1;
    return srv_ieq(t, "all") ? F_NET_ALL : srv_ieq(t, "all with mask") ? F_NET_MASK : srv_ieq(t, "all with merge") ? F_NET_MERGE : -1;
}

/* fn_cdc_check_parameters: the range must lie inside [min_lsn, max_lsn]. */
static bool range_ok(const cdc_inst *ci, const srv_val *from, const srv_val *to, uint8_t *lo, uint8_t *hi)
{
    if (from->k != SV_BIN || to->k != SV_BIN || from->n != CDC_LSN_LEN || to->n != CDC_LSN_LEN)
        return false;
    memcpy(lo, from->s, CDC_LSN_LEN);
    memcpy(hi, to->s, CDC_LSN_LEN);
    uint8_t min[CDC_LSN_LEN], max[CDC_LSN_LEN];
    cdc_lsn(ci->start_pos, min);
    uint64_t mp = cdc_max_pos(ci->src->dbp ? ci->src->dbp->cdc : NULL);
    if (!mp)
        return false;
    cdc_lsn(mp, max);
    return memcmp(lo, min, CDC_LSN_LEN) >= 0 && memcmp(hi, max, CDC_LSN_LEN) <= 0 && memcmp(lo, hi, CDC_LSN_LEN) <= 0;
}

static srv_table *result_table(const cdc_inst *ci, const char *fname, bool net)
{
    int n = ci->ncols + (net ? 3 : 4), k = 0;
    srv_coldef *defs = calloc((size_t)n, sizeof *defs);
    if (!defs)
        return NULL;
    cdc_coldef(&defs[k++], "__$start_lsn", "binary(10)", false);
    if (!net)
        cdc_coldef(&defs[k++], "__$seqval", "binary(10)", false);
    cdc_coldef(&defs[k++], "__$operation", "int", false);
    cdc_coldef(&defs[k++], "__$update_mask", "varbinary(128)", true);
    for (int i = 0; i < ci->ncols; i++)
        defs[k + i] = ci->ct->cols[5 + i];
    srv_table *t = srv_table_new("cdc", fname, defs, (uint16_t)n);
    free(defs);
    return t;
}

static bool in_range(const tds_value *v, const uint8_t *lo, const uint8_t *hi)
{
    return memcmp(v[0].ptr, lo, CDC_LSN_LEN) >= 0 && memcmp(v[0].ptr, hi, CDC_LSN_LEN) <= 0;
}

static int op_of(const tds_value *v)
{
    int32_t op;
    memcpy(&op, v[3].ptr, 4);
    return op;
}

static int put_row(srv_table *r, const cdc_inst *ci, const tds_value *ctv, bool net, int op, const tds_value *mask)
{
    tds_value v[SRV_MAX_COLS];
    uint8_t opb[4];
    int32_t o = op;
    memcpy(opb, &o, 4);
    int k = 0;
    v[k++] = ctv[0];
    if (!net)
        v[k++] = ctv[2];
    v[k++] = (tds_value){ .ptr = opb, .len = 4 };
    v[k++] = mask ? *mask : (tds_value){ .flags = TDS_VF_NULL };
    for (int i = 0; i < ci->ncols; i++)
        v[k++] = ctv[5 + i];
    uint64_t off = srv_table_heap_put(r, v);
    return off == UINT64_MAX ? -1 : srv_table_append(r, off);
}

/* The first change-table row with __$start_lsn >= lo: rows are in
 * __$start_lsn order (capture appends in commit order, cleanup removes a
 * prefix), so a window is read without walking the rows before it. */
static size_t first_row(const cdc_inst *ci, const uint8_t *lo)
{
    size_t a = 0, b = ci->ct->nrows;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        /* __$start_lsn is the first column (never NULL): after its length */
        const uint8_t *p = ci->ct->heap + ci->ct->rows[m] + 4;
        if (memcmp(p, lo, CDC_LSN_LEN) < 0)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

static int all_changes(srv_table *r, const cdc_inst *ci, int opt, const uint8_t *lo, const uint8_t *hi)
{
    tds_value v[SRV_MAX_COLS];
    for (size_t i = first_row(ci, lo); i < ci->ct->nrows; i++) {
        srv_table_row(ci->ct, ci->ct->rows[i], v);
        if (!in_range(v, lo, hi))
            break;
        if (opt == F_ALL && op_of(v) == CDC_OP_UPDATE_OLD)
            continue;
        if (put_row(r, ci, v, false, op_of(v), &v[4]) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ net changes */

typedef struct fold_key {
    size_t first, last;         /* change-table row positions */
    uint8_t mask[128];
    size_t masklen;
    bool any_update;
} fold_key;

/* Orders two change rows by row identifier (the key columns' bytes; the
 * order itself means nothing, equal keys end up together). */
static int key_cmp(const cdc_inst *ci, const tds_value *a, const tds_value *b)
{
    for (int q = 0; q < ci->nkey; q++) {
        int k = 0;
        while (k < ci->ncols && ci->cols[k] != ci->key[q])
            k++;
        const tds_value *x = &a[5 + k], *y = &b[5 + k];
        bool xn = x->flags & TDS_VF_NULL, yn = y->flags & TDS_VF_NULL;
        if (xn || yn) {
            if (xn != yn)
                return xn ? -1 : 1;
            continue;
        }
        if (x->len != y->len)
            return x->len < y->len ? -1 : 1;
        int c = x->len ? memcmp(x->ptr, y->ptr, x->len) : 0;
        if (c)
            return c;
    }
    return 0;
}

static const cdc_inst *g_fold; /* qsort has no context argument in C11 */

static int row_key_cmp(const void *pa, const void *pb)
{
    size_t ra = *(const size_t *)pa, rb = *(const size_t *)pb;
    tds_value a[SRV_MAX_COLS], b[SRV_MAX_COLS];
    srv_table_row(g_fold->ct, g_fold->ct->rows[ra], a);
    srv_table_row(g_fold->ct, g_fold->ct->rows[rb], b);
    int c = key_cmp(g_fold, a, b);
    return c ? c : ra < rb ? -1 : ra > rb; /* then change order */
}

/* Groups the in-range rows (update-old rows aside) by row identifier:
 * sorted by key, then by position, each run of one key is one group. */
static size_t fold_net_group(const cdc_inst *ci, const uint8_t *lo, const uint8_t *hi, fold_key *keys, size_t *rows)
{
    size_t nk = 0, nr = 0;
    tds_value v[SRV_MAX_COLS], w[SRV_MAX_COLS];
    for (size_t i = first_row(ci, lo); i < ci->ct->nrows; i++) {
        srv_table_row(ci->ct, ci->ct->rows[i], v);
        if (!in_range(v, lo, hi))
            break;
        if (op_of(v) != CDC_OP_UPDATE_OLD)
            rows[nr++] = i;
    }
    g_fold = ci;
    qsort(rows, nr, sizeof *rows, row_key_cmp);
    g_fold = NULL;
    for (size_t j = 0; j < nr; j++) {
        srv_table_row(ci->ct, ci->ct->rows[rows[j]], v);
        bool new_key = j == 0;
        if (!new_key) {
            srv_table_row(ci->ct, ci->ct->rows[rows[j - 1]], w);
            new_key = key_cmp(ci, v, w) != 0;
        }
        if (new_key) {
            memset(&keys[nk], 0, sizeof keys[nk]);
            keys[nk++].first = rows[j];
        }
        fold_key *fk = &keys[nk - 1];
        fk->last = rows[j];
        if (op_of(v) == CDC_OP_UPDATE_NEW && !(v[4].flags & TDS_VF_NULL)) {
            fk->any_update = true;
            fk->masklen = v[4].len;
            for (uint32_t b = 0; b < v[4].len && b < sizeof fk->mask; b++)
                fk->mask[b] |= v[4].ptr[b];
        }
    }
    return nk;
}

static int fold_cmp_last(const void *a, const void *b)
{
    const fold_key *x = a, *y = b;
    return x->last < y->last ? -1 : x->last > y->last;
}

static int fold_net_changes(srv_table *r, const cdc_inst *ci, int opt, const uint8_t *lo, const uint8_t *hi)
{
    size_t n = ci->ct->nrows + 1;
    fold_key *keys = malloc(n * sizeof *keys);
    size_t *rows = malloc(n * sizeof *rows);
    int rc = keys && rows ? 0 : -1;
    size_t nk = rc ? 0 : fold_net_group(ci, lo, hi, keys, rows);
    qsort(keys, nk, sizeof *keys, fold_cmp_last);
    for (size_t k = 0; k < nk && !rc; k++) {
        tds_value first[SRV_MAX_COLS], last[SRV_MAX_COLS];
        srv_table_row(ci->ct, ci->ct->rows[keys[k].first], first);
        srv_table_row(ci->ct, ci->ct->rows[keys[k].last], last);
        bool existed = op_of(first) != CDC_OP_INSERT, gone = op_of(last) == CDC_OP_DELETE;
        if (!existed && gone)
            continue;
        int op = gone ? CDC_OP_DELETE : opt == F_NET_MERGE ? 5 : existed ? CDC_OP_UPDATE_NEW : CDC_OP_INSERT;
        tds_value m = { .flags = TDS_VF_NULL };
        if (opt == F_NET_MASK) {
            /* an update: the columns any update in the range changed;
             * otherwise (and deleted then inserted again) every column */
            uint8_t *mk = keys[k].mask;
            if (op != CDC_OP_UPDATE_NEW || !keys[k].any_update) {
                keys[k].masklen = ((size_t)ci->ncols + 7) / 8;
                memset(mk, 0, sizeof keys[k].mask);
                for (int b = 0; b < ci->ncols; b++)
                    mk[keys[k].masklen - 1 - (size_t)b / 8] |= (uint8_t)(1u << (b % 8));
            }
            m = (tds_value){ .ptr = mk, .len = (uint32_t)keys[k].masklen };
        }
        rc = put_row(r, ci, last, true, op, opt == F_NET_MASK ? &m : NULL);
    }
    free(keys);
    free(rows);
    return rc;
}

srv_table *srv_cdc_tvf(srv_cursor *cur, const sql_tref *r, int32_t *err, char *msg, size_t cap)
{
    int kind = 0;
    cdc_inst *ci = tvf_inst(cur->c, r, &kind);
    if (!ci)
        FAILV(208, "Invalid object name '%s%s%s'.", r->parts[1], r->parts[1][0] ? "." : "", r->parts[2]);
    if (r->ntvf < 3)
        FAILV(313, "An insufficient number of arguments were supplied for the procedure or function cdc.%s.", r->parts[2]);
    if (r->ntvf > 3)
        FAILV(8144, "Procedure or function cdc.%s has too many arguments specified.", r->parts[2]);
    srv_val a[3];
    char buf[3][256];
    for (int i = 0; i < 3; i++)
        if (eval_const(cur, r->tvf_args[i], &a[i], buf[i], sizeof buf[i], err, msg, cap) < 0)
            return NULL;
    if (a[0].k == SV_STR || a[1].k == SV_STR)
        FAILV(257, "Implicit conversion from data type nvarchar to binary is not allowed. Use the CONVERT function to run this query.");
    uint8_t lo[CDC_LSN_LEN], hi[CDC_LSN_LEN];
    int opt = filter_option(&a[2], kind);
    if (opt < 0 || !range_ok(ci, &a[0], &a[1], lo, hi))
        FAILV(313, "An insufficient number of arguments were supplied for the procedure or function cdc.fn_cdc_get_%s_changes_ ... .",
              kind ? "net" : "all");
    srv_table *t = result_table(ci, r->parts[2], kind == 1);
    if (!t || (kind ? fold_net_changes(t, ci, opt, lo, hi) : all_changes(t, ci, opt, lo, hi)) < 0) {
        srv_table_unref(t);
        FAILV(701, "There is insufficient system memory to run this query.");
    }
    return t;
}
