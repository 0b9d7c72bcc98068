/*
 * exec_dml.c — INSERT … VALUES, INSERT … SELECT, UPDATE, DELETE, TRUNCATE
 * and MERGE on stored tables, statement atomicity, primary-key checks
 * (2627), NOT NULL checks (515), Change Tracking records, Change Data
 * Capture records (cdc.h: committed with the statement or transaction,
 * forgotten with it), and transaction undo (BEGIN/COMMIT/ROLLBACK restore
 * a table's row list and CT log).
 *
 * Invariants: a statement either applies completely or leaves the table as
 * it was (the row list and CT log length are saved before it starts; the
 * heap only grows, so restoring them is enough). Generated tables are
 * materialised on their first write (up to 1,000,000 rows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.h"
#include "query_int.h"

#define MAX_MATERIALIZE 1000000u

/* ------------------------------------------------------------ undo */

typedef struct stmt_save {
    uint64_t *rows;
    size_t nrows, nct;
    uint64_t version;
    size_t cdc_mark;        /* the connection's CDC changes before the statement */
} stmt_save;

static int save(srv_table *t, stmt_save *sv)
{
    sv->nrows = t->nrows;
    sv->nct = t->nct;
    sv->version = t->dbp ? t->dbp->ct_version : 0;
    sv->rows = malloc((t->nrows + 1) * sizeof *sv->rows);
    if (!sv->rows)
        return -1;
    if (t->nrows)
        memcpy(sv->rows, t->rows, t->nrows * sizeof *t->rows);
    return 0;
}

static void restore(srv_conn *c, srv_table *t, stmt_save *sv)
{
    if (sv->nrows)
        memcpy(t->rows, sv->rows, sv->nrows * sizeof *t->rows);
    t->nrows = sv->nrows;
    t->nct = sv->nct;
    t->idx_dirty = true;
    if (t->dbp && !c->trancount)
        t->dbp->ct_version = sv->version;
    srv_cdc_undo(c, sv->cdc_mark);
    free(sv->rows);
    sv->rows = NULL;
}

int tran_touch(srv_conn *c, srv_table *t)
{
    if (!c->trancount || t->undo_saved)
        return 0;
    srv_table **nt = realloc(c->tran_tables, (c->ntran_tables + 1) * sizeof *nt);
    if (!nt)
        return -1;
    c->tran_tables = nt;
    t->undo_rows = malloc((t->nrows + 1) * sizeof *t->undo_rows);
    if (!t->undo_rows)
        return -1;
    if (t->nrows)
        memcpy(t->undo_rows, t->rows, t->nrows * sizeof *t->rows);
    t->undo_nrows = t->nrows;
    t->undo_nct = t->nct;
    t->undo_saved = true;
    srv_table_ref(t);
    c->tran_tables[c->ntran_tables++] = t;
    return 0;
}

static void tran_end(srv_conn *c, bool rollback)
{
    for (size_t i = 0; i < c->ntran_tables; i++) {
        srv_table *t = c->tran_tables[i];
        if (rollback) {
            if (t->cap_rows < t->undo_nrows) {
                uint64_t *r = realloc(t->rows, (t->undo_nrows + 1) * sizeof *r);
                if (r) {
                    t->rows = r;
                    t->cap_rows = t->undo_nrows + 1;
                }
            }
            if (t->cap_rows >= t->undo_nrows) {
                if (t->undo_nrows)
                    memcpy(t->rows, t->undo_rows, t->undo_nrows * sizeof *t->rows);
                t->nrows = t->undo_nrows;
            }
            t->nct = t->undo_nct;
            t->idx_dirty = true;
        }
        free(t->undo_rows);
        t->undo_rows = NULL;
        t->undo_saved = false;
        srv_table_unref(t);
    }
    if (rollback && c->tran_version)
        c->cur->ct_version = c->tran_saved_version;
    if (rollback)
        srv_cdc_rollback(c);
    else
        srv_cdc_commit(c);
    c->ntran_tables = 0;
    c->tran_version = 0;
}

void tran_commit(srv_conn *c) { tran_end(c, false); }
void tran_rollback(srv_conn *c) { tran_end(c, true); }

/* ------------------------------------------------------------ helpers */

static srv_table *target(srv_cursor *cur, tds_session *s, const sql_tref *r)
{
    bool temp;
    srv_table *t = resolve_table(cur, r, NULL, &temp);
    if (!t || temp) {
        char nm[400];
        snprintf(nm, sizeof nm, "%s%s%s", r->parts[1][0] ? r->parts[1] : "", r->parts[1][0] ? "." : "", r->parts[2]);
        if (t)
            srv_table_unref(t);
        srv_err_object(cur, s, nm);
        return NULL;
    }
    if (t->generated) {
        if (t->gen_rows > MAX_MATERIALIZE || srv_table_materialize(t) < 0) {
            srv_put_error(cur, s, 50000, 16, 1, "tdstestd: generated table '%s' has too many rows to modify.", t->name);
            srv_table_unref(t);
            return NULL;
        }
    }
    return t;
}

static void conv_error(srv_cursor *cur, tds_session *s, srv_table *t, int rc)
{
    int col = rc <= -100000 ? (-rc) / 100000 - 1 : 0;
    int num = rc <= -100000 ? (-rc) % 100000 : -rc;
    srv_err_convert(cur, s, num, &t->cols[col < t->ncols ? col : 0], t->name);
}

/* Appends a row (already in the heap) with a PK check. Returns 0, or -1
 * with error 2627 written. */
static int add_row(srv_cursor *cur, tds_session *s, srv_table *t, uint64_t off)
{
    if (t->npk) {
        tds_value all[SRV_MAX_COLS], kv[SRV_MAX_PK];
        srv_table_row(t, off, all);
        for (int k = 0; k < t->npk; k++)
            kv[k] = all[t->pk[k]];
        if (srv_table_pk_find(t, kv) != UINT64_MAX) {
            char key[512];
            srv_table_key_text(t, all, key, sizeof key);
            srv_put_error(cur, s, 2627, 14, 1,
                          "Violation of PRIMARY KEY constraint '%s'. Cannot insert duplicate key in object '%s.%s'. The duplicate key value is (%s).",
                          t->pk_name, t->schema, t->name, key);
            return -1;
        }
    }
    if (srv_table_append(t, off) < 0) {
        srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
        return -1;
    }
    tds_value all[SRV_MAX_COLS];
    srv_table_row(t, off, all);
    if (srv_cdc_record(cur->c, t, CDC_OP_INSERT, UINT64_MAX, off) < 0)
        return -1;
    return ct_record(cur->c, t, all, 'I');
}

/* Row of srv_vals for t from a column list (NULL elsewhere). */
static int map_cols(srv_cursor *cur, tds_session *s, srv_table *t, char (*cols)[SRV_NAME_MAX], int ncols, int *map)
{
    if (!ncols) {
        for (int i = 0; i < t->ncols; i++)
            map[i] = i;
        return t->ncols;
    }
    for (int i = 0; i < ncols; i++) {
        map[i] = srv_table_colno(t, cols[i]);
        if (map[i] < 0) {
            srv_err_column(cur, s, cols[i]);
            return -1;
        }
    }
    return ncols;
}

static int finish_stmt(srv_cursor *cur, tds_session *s, srv_table *t, stmt_save *sv, int rc, uint16_t curcmd, uint64_t n)
{
    if (rc < 0) {
        restore(cur->c, t, sv);
        srv_table_unref(t);
        return -1;
    }
    free(sv->rows);
    t->idx_dirty = true;
    if (!cur->c->trancount)
        srv_cdc_commit(cur->c); /* an autocommit statement */
    cur->c->rowcount = (int64_t)n;
    srv_table_unref(t);
    srv_put_done(cur, s, cur->c->nocount ? 0 : TDS_DONE_COUNT, curcmd, n);
    return 0;
}

/* ------------------------------------------------------------ INSERT */

static int insert_values(srv_cursor *cur, tds_session *s, const sql_stmt *st, srv_table *t, stmt_save *sv)
{
    int map[SRV_MAX_COLS];
    int n = map_cols(cur, s, t, st->cols, st->ncols, map);
    if (n < 0)
        return finish_stmt(cur, s, t, sv, -1, 0, 0);
    if (n != st->nvalcols) {
        srv_put_error(cur, s, n < st->nvalcols ? 110 : 109, 15, 1,
                      n < st->nvalcols ? "There are fewer columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement."
                                       : "There are more columns in the INSERT statement than values specified in the VALUES clause. The number of values in the VALUES clause must match the number of columns specified in the INSERT statement.");
        return finish_stmt(cur, s, t, sv, -1, 0, 0);
    }
    int rc = 0;
    for (int r = 0; r < st->nvalrows && !rc; r++) {
        srv_val vals[SRV_MAX_COLS];
        char bufs[16][1024];
        for (int c = 0; c < t->ncols; c++)
            vals[c] = sv_null();
        for (int c = 0; c < n && !rc; c++) {
            int32_t err;
            char msg[512];
            char *buf = c < 16 ? bufs[c] : cur->scratch;
            if (eval_const(cur, st->vals[r * n + c], &vals[map[c]], buf, 1024, &err, msg, sizeof msg) < 0) {
                srv_put_error(cur, s, err, 16, 1, "%s", msg);
                rc = -1;
            }
        }
        uint64_t off;
        if (!rc) {
            int e = srv_table_insert_vals(t, vals, &off);
            if (e < 0) {
                conv_error(cur, s, t, e);
                rc = -1;
            } else {
                rc = add_row(cur, s, t, off);
            }
        }
    }
    return finish_stmt(cur, s, t, sv, rc, 0xC3, (uint64_t)st->nvalrows);
}

static int insert_select(srv_cursor *cur, tds_session *s, const sql_stmt *st, srv_table *t, stmt_save *sv)
{
    int map[SRV_MAX_COLS];
    int n = map_cols(cur, s, t, st->cols, st->ncols, map);
    if (n < 0)
        return finish_stmt(cur, s, t, sv, -1, 0, 0);
    int32_t err;
    char msg[512];
    srv_rs *rs = srv_rs_open(cur, &st->sel, &err, msg, sizeof msg);
    if (!rs) {
        srv_put_error(cur, s, err, 16, 1, "%s", msg);
        return finish_stmt(cur, s, t, sv, -1, 0, 0);
    }
    int rc = 0;
    uint64_t count = 0;
    /* rows are listed after the SELECT has run: the statement reads the
     * table as it was (a NOT EXISTS over the target must not see rows
     * this INSERT adds, as in SQL Server) */
    uint64_t *offs = NULL;
    size_t noffs = 0, capoffs = 0;
    for (;;) {
        int r = srv_rs_next(rs);
        const tds_value *in;
        const srv_coldef *defs;
        int m = r > 0 ? srv_rs_project(rs, &in, &defs) : 0;
        if (r < 0 || m < 0) {
            srv_rs_error(rs, &err, msg, sizeof msg);
            srv_put_error(cur, s, err, 16, 1, "%s", msg);
            rc = -1;
            break;
        }
        if (!r)
            break;
        if (m != n) {
            srv_put_error(cur, s, 121, 15, 1, "The select list for the INSERT statement contains %s items than the insert list. The number of SELECT values must match the number of INSERT columns.", m < n ? "fewer" : "more");
            rc = -1;
            break;
        }
        srv_val vals[SRV_MAX_COLS];
        size_t need = 0;
        for (int c = 0; c < n; c++)
            need += (size_t)in[c].len * 2 + 64;
        char *mem = malloc(need);
        if (!mem) {
            rc = -1;
            break;
        }
        for (int c = 0; c < t->ncols; c++)
            vals[c] = sv_null();
        size_t used = 0;
        for (int c = 0; c < n; c++) {
            size_t cap = (size_t)in[c].len * 2 + 64;
            sv_from_wire(&defs[c].col, in[c].ptr, (in[c].flags & TDS_VF_NULL) ? SRV_NULL_LEN : in[c].len,
                         &vals[map[c]], mem + used, cap);
            used += cap;
        }
        uint64_t off;
        int e = srv_table_insert_vals(t, vals, &off);
        free(mem);
        if (e < 0) {
            conv_error(cur, s, t, e);
            rc = -1;
            break;
        }
        if (noffs == capoffs) {
            size_t nc = capoffs ? capoffs * 2 : 256;
            uint64_t *no = realloc(offs, nc * sizeof *no);
            if (!no) {
                srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
                rc = -1;
                break;
            }
            offs = no;
            capoffs = nc;
        }
        offs[noffs++] = off;
    }
    srv_rs_free(rs);
    for (size_t i = 0; !rc && i < noffs; i++)
        if ((rc = add_row(cur, s, t, offs[i])) == 0)
            count++;
    free(offs);
    return finish_stmt(cur, s, t, sv, rc, 0xC3, count);
}

/* ------------------------------------------------------------ UPDATE / DELETE */

/* Position of heap offset off in t->rows (hash built once per statement). */
typedef struct pos_map {
    uint64_t *k;
    size_t *v;
    size_t cap;
} pos_map;

static int pm_build(pos_map *pm, const srv_table *t)
{
    pm->cap = 64;
    while (pm->cap < t->nrows * 2 + 2)
        pm->cap *= 2;
    pm->k = calloc(pm->cap, sizeof *pm->k);
    pm->v = calloc(pm->cap, sizeof *pm->v);
    if (!pm->k || !pm->v)
        return -1;
    for (size_t i = 0; i < t->nrows; i++) {
        size_t h = (size_t)((t->rows[i] + 1) * 0x9E3779B97F4A7C15ULL) & (pm->cap - 1);
        while (pm->k[h])
            h = (h + 1) & (pm->cap - 1);
        pm->k[h] = t->rows[i] + 1;
        pm->v[h] = i;
    }
    return 0;
}

static size_t pm_get(const pos_map *pm, uint64_t off)
{
    size_t h = (size_t)((off + 1) * 0x9E3779B97F4A7C15ULL) & (pm->cap - 1);
    while (pm->k[h]) {
        if (pm->k[h] == off + 1)
            return pm->v[h];
        h = (h + 1) & (pm->cap - 1);
    }
    return SIZE_MAX;
}

static void pm_free(pos_map *pm)
{
    free(pm->k);
    free(pm->v);
}

static bool key_changed(const srv_table *t, const tds_value *a, const tds_value *b)
{
    for (int k = 0; k < t->npk; k++) {
        const tds_value *x = &a[t->pk[k]], *y = &b[t->pk[k]];
        if (x->len != y->len || (x->flags & TDS_VF_NULL) != (y->flags & TDS_VF_NULL) ||
            (x->len && memcmp(x->ptr, y->ptr, x->len)))
            return true;
    }
    return false;
}

/* Scratch one expression of the current tuple may need: a conversion of
 * its largest source value (UTF-16 to UTF-8 or to text at most doubles
 * it) plus slack; at least the 8 KiB the small cases always had. */
static size_t expr_scratch(const srv_rs *rs, int nsrc)
{
    size_t most = 0;
    for (int k = 0; k < nsrc; k++) {
        const srv_table *st = srv_rs_src_table(rs, k);
        const tds_value *v = srv_rs_src_vals(rs, k);
        for (int c = 0; st && v && c < st->ncols; c++)
            if (!(v[c].flags & TDS_VF_NULL) && v[c].len > most)
                most = v[c].len;
    }
    size_t need = 2 * most + 256;
    return need < 8192 ? 8192 : need;
}

/* Builds the updated row of the current tuple (target is source tk). */
static int update_row(srv_cursor *cur, tds_session *s, srv_rs *rs, int tk, srv_table *t, const sql_assign *set,
                      int nset, pos_map *pm)
{
    uint64_t off = srv_rs_ref(rs, tk);
    tds_value vals[SRV_MAX_COLS];
    memcpy(vals, srv_rs_src_vals(rs, tk), t->ncols * sizeof *vals);
    tds_value old[SRV_MAX_COLS];
    srv_table_row(t, off, old);
    size_t per = expr_scratch(rs, tk + 1), memcap = 65536 + (size_t)nset * per;
    uint8_t *mem = malloc(memcap);
    char *buf = malloc(per);
    if (!mem || !buf) {
        free(mem);
        free(buf);
        return -1;
    }
    size_t used = 0;
    int rc = 0;
    for (int i = 0; i < nset && !rc; i++) {
        int c = srv_table_colno(t, set[i].col);
        if (c < 0) {
            srv_err_column(cur, s, set[i].col);
            rc = -1;
            break;
        }
        srv_val v;
        if (srv_rs_eval(rs, set[i].e, &v, buf, per) < 0) {
            int32_t err;
            char msg[512];
            srv_rs_error(rs, &err, msg, sizeof msg);
            srv_put_error(cur, s, err, 16, 1, "%s", msg);
            rc = -1;
            break;
        }
        int64_t n = sv_to_wire(&t->cols[c], &v, mem + used, memcap - used);
        if (n == (int64_t)SRV_NULL_LEN) {
            if (!t->cols[c].nullable) {
                srv_put_error(cur, s, 515, 16, 2,
                              "Cannot insert the value NULL into column '%s', table '%s'; column does not allow nulls. UPDATE fails.",
                              t->cols[c].name, t->name);
                rc = -1;
            }
            vals[c].ptr = NULL;
            vals[c].len = 0;
            vals[c].flags = TDS_VF_NULL;
        } else if (n < 0) {
            conv_error(cur, s, t, -(int)(-n + 100000 * (c + 1)));
            rc = -1;
        } else {
            vals[c].ptr = mem + used;
            vals[c].len = (uint32_t)n;
            vals[c].flags = 0;
            used += (size_t)n;
        }
    }
    if (!rc) {
        uint64_t noff = srv_table_heap_put(t, vals);
        size_t pos = pm_get(pm, off);
        if (noff == UINT64_MAX || pos == SIZE_MAX) {
            rc = -1;
        } else {
            t->rows[pos] = noff;
            tds_value nv[SRV_MAX_COLS];
            srv_table_row(t, noff, nv);
            srv_table_row(t, off, old);
            if (t->npk && key_changed(t, old, nv)) {
                /* a key update is a delete and an insert (CT and CDC) */
                rc = ct_record(cur->c, t, old, 'D');
                if (!rc)
                    rc = ct_record(cur->c, t, nv, 'I');
                if (!rc)
                    rc = srv_cdc_record(cur->c, t, CDC_OP_DELETE, off, UINT64_MAX);
                if (!rc)
                    rc = srv_cdc_record(cur->c, t, CDC_OP_INSERT, UINT64_MAX, noff);
            } else {
                rc = ct_record(cur->c, t, nv, 'U');
                if (!rc)
                    rc = srv_cdc_record(cur->c, t, CDC_OP_UPDATE_NEW, off, noff);
            }
        }
    }
    free(mem);
    free(buf);
    return rc;
}

static int check_unique(srv_cursor *cur, tds_session *s, srv_table *t)
{
    if (!t->npk)
        return 0;
    size_t n = t->nrows;
    t->nrows = 0;
    t->idx_dirty = false;
    free(t->idx);
    t->idx = NULL;
    t->idx_cap = 0;
    srv_table_reindex(t);
    int rc = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t off = t->rows[i];
        tds_value all[SRV_MAX_COLS], kv[SRV_MAX_PK];
        srv_table_row(t, off, all);
        for (int k = 0; k < t->npk; k++)
            kv[k] = all[t->pk[k]];
        if (srv_table_pk_find(t, kv) != UINT64_MAX) {
            char key[512];
            srv_table_key_text(t, all, key, sizeof key);
            srv_put_error(cur, s, 2627, 14, 1,
                          "Violation of PRIMARY KEY constraint '%s'. Cannot insert duplicate key in object '%s.%s'. The duplicate key value is (%s).",
                          t->pk_name, t->schema, t->name, key);
            rc = -1;
            break;
        }
        srv_table_append(t, off);
    }
    t->nrows = n;
    t->idx_dirty = true;
    return rc;
}

static sql_select scan_select(const sql_tref *target_ref, const sql_where *w, sql_tref *from, sql_item *item, sql_expr *star)
{
    memset(star, 0, sizeof *star);
    star->t = EX_STAR;
    item->e = star;
    item->alias[0] = 0;
    *from = *target_ref;
    from->join = 0;
    sql_select sel = { .items = item, .nitems = 1, .from = from, .nfrom = 1 };
    if (w)
        sel.where = *w;
    return sel;
}

/* The FROM source an UPDATE … FROM names as its target: its alias, or
 * its table name when it has none. -1 when none does. */
static int from_target(const sql_stmt *st)
{
    const sql_tref *tg = &st->target;
    if (tg->parts[0][0] || tg->parts[1][0])
        return -1;
    for (int k = 0; k < st->sel.nfrom; k++) {
        const sql_tref *r = &st->sel.from[k];
        if (r->alias[0] ? srv_ieq(r->alias, tg->parts[2]) : srv_ieq(r->parts[2], tg->parts[2]))
            return k;
    }
    return -1;
}

static int update_delete(srv_cursor *cur, tds_session *s, const sql_stmt *st, srv_table *t, stmt_save *sv)
{
    sql_tref from;
    sql_item item;
    sql_expr star;
    sql_select sel = scan_select(&st->target, &st->where, &from, &item, &star);
    int tk = 0;
    if (st->sel.nfrom) {
        /* UPDATE a SET … FROM t AS a JOIN …: a join, then source tk */
        sel.from = st->sel.from;
        sel.nfrom = st->sel.nfrom;
        tk = from_target(st);
    }
    int32_t err;
    char msg[512];
    srv_rs *rs = srv_rs_open(cur, &sel, &err, msg, sizeof msg);
    if (!rs) {
        srv_put_error(cur, s, err, 16, 1, "%s", msg);
        return finish_stmt(cur, s, t, sv, -1, 0, 0);
    }
    pos_map pm = { 0 };
    int rc = pm_build(&pm, t);
    uint64_t count = 0;
    bool *del = st->t == ST_DELETE ? calloc(t->nrows + 1, 1) : NULL;
    if (st->t == ST_DELETE && !del)
        rc = -1;
    /* a row several joined rows match is updated (and counted) once */
    bool *seen = st->sel.nfrom ? calloc(t->nrows + 1, 1) : NULL;
    if (st->sel.nfrom && !seen)
        rc = -1;
    while (!rc) {
        int r = srv_rs_next(rs);
        if (r < 0) {
            srv_rs_error(rs, &err, msg, sizeof msg);
            srv_put_error(cur, s, err, 16, 1, "%s", msg);
            rc = -1;
        }
        if (r <= 0)
            break;
        if (seen) {
            size_t pos = pm_get(&pm, srv_rs_ref(rs, tk));
            if (pos == SIZE_MAX || seen[pos])
                continue;
            seen[pos] = true;
        }
        count++;
        if (st->t == ST_UPDATE) {
            rc = update_row(cur, s, rs, tk, t, st->set, st->nset, &pm);
        } else {
            size_t pos = pm_get(&pm, srv_rs_ref(rs, 0));
            if (pos != SIZE_MAX)
                del[pos] = true;
            rc = ct_record(cur->c, t, srv_rs_src_vals(rs, 0), 'D');
            if (!rc)
                rc = srv_cdc_record(cur->c, t, CDC_OP_DELETE, srv_rs_ref(rs, 0), UINT64_MAX);
        }
    }
    if (!rc && del) {
        size_t o = 0;
        for (size_t i = 0; i < t->nrows; i++)
            if (!del[i])
                t->rows[o++] = t->rows[i];
        t->nrows = o;
    }
    if (!rc && st->t == ST_UPDATE)
        rc = check_unique(cur, s, t);
    free(del);
    free(seen);
    pm_free(&pm);
    srv_rs_free(rs);
    return finish_stmt(cur, s, t, sv, rc, st->t == ST_UPDATE ? 0xC5 : 0xC4, count);
}

/* ------------------------------------------------------------ MERGE */

static int merge_stmt(srv_cursor *cur, tds_session *s, const sql_stmt *st, srv_table *t, stmt_save *sv)
{
    sql_tref from[2];
    static sql_expr star = { .t = EX_STAR };
    sql_item item = { .e = &star };
    from[0] = st->sel.from[0];
    from[0].join = 0;
    from[1] = st->target;
    from[1].join = 2;
    from[1].on = st->merge_on;
    sql_select sel = { .items = &item, .nitems = 1, .from = from, .nfrom = 2 };
    int32_t err;
    char msg[512];
    srv_rs *rs = srv_rs_open(cur, &sel, &err, msg, sizeof msg);
    if (!rs) {
        srv_put_error(cur, s, err, 16, 1, "%s", msg);
        return finish_stmt(cur, s, t, sv, -1, 0, 0);
    }
    pos_map pm = { 0 };
    int rc = pm_build(&pm, t);
    size_t n0 = t->nrows;
    bool *matched = calloc(n0 + 1, 1);
    uint64_t count = 0;
    if (!matched)
        rc = -1;
    int map[SRV_MAX_COLS];
    if (!rc && st->merge_notmatched && map_cols(cur, s, t, st->merge_ins_cols, st->nmerge_ins, map) < 0)
        rc = -1;
    while (!rc) {
        int r = srv_rs_next(rs);
        if (r < 0) {
            srv_rs_error(rs, &err, msg, sizeof msg);
            srv_put_error(cur, s, err, 16, 1, "%s", msg);
            rc = -1;
        }
        if (r <= 0)
            break;
        uint64_t toff = srv_rs_ref(rs, 1);
        if (toff != UINT64_MAX) {
            size_t pos = pm_get(&pm, toff);
            if (pos != SIZE_MAX) {
                if (matched[pos]) {
                    srv_put_error(cur, s, 8672, 16, 1,
                                  "The MERGE statement attempted to UPDATE or DELETE the same row more than once. This happens when a target row matches more than one source row. A MERGE statement cannot UPDATE/DELETE the same row of the target table multiple times. Refine the ON clause to ensure a target row matches at most one source row, or use the GROUP BY clause to group the source rows.");
                    rc = -1;
                    break;
                }
                matched[pos] = true;
            }
            if (st->merge_matched) {
                rc = update_row(cur, s, rs, 1, t, st->set, st->nset, &pm);
                count++;
            }
        } else if (st->merge_notmatched) {
            srv_val vals[SRV_MAX_COLS];
            /* each value keeps its own scratch until the row is stored */
            size_t per = expr_scratch(rs, 2);
            char *bufs = malloc((size_t)(st->nmerge_ins ? st->nmerge_ins : 1) * per);
            if (!bufs) {
                rc = -1;
                break;
            }
            for (int c = 0; c < t->ncols; c++)
                vals[c] = sv_null();
            for (int c = 0; c < st->nmerge_ins && !rc; c++)
                if (srv_rs_eval(rs, st->merge_ins_vals[c], &vals[map[c]], bufs + (size_t)c * per, per) < 0) {
                    srv_rs_error(rs, &err, msg, sizeof msg);
                    srv_put_error(cur, s, err, 16, 1, "%s", msg);
                    rc = -1;
                }
            uint64_t off;
            if (!rc) {
                int e = srv_table_insert_vals(t, vals, &off);
                if (e < 0) {
                    conv_error(cur, s, t, e);
                    rc = -1;
                } else if (srv_table_append(t, off) < 0) {
                    rc = -1;
                } else {
                    tds_value all[SRV_MAX_COLS];
                    srv_table_row(t, off, all);
                    rc = ct_record(cur->c, t, all, 'I');
                    if (!rc)
                        rc = srv_cdc_record(cur->c, t, CDC_OP_INSERT, UINT64_MAX, off);
                    count++;
                }
            }
            free(bufs);
        }
    }
    if (!rc && st->merge_delete_notmatched_src) {
        size_t o = 0;
        for (size_t i = 0; i < t->nrows; i++) {
            if (i < n0 && !matched[i]) {
                tds_value all[SRV_MAX_COLS];
                srv_table_row(t, t->rows[i], all);
                ct_record(cur->c, t, all, 'D');
                srv_cdc_record(cur->c, t, CDC_OP_DELETE, t->rows[i], UINT64_MAX);
                count++;
                continue;
            }
            t->rows[o++] = t->rows[i];
        }
        t->nrows = o;
    }
    if (!rc)
        rc = check_unique(cur, s, t);
    free(matched);
    pm_free(&pm);
    srv_rs_free(rs);
    return finish_stmt(cur, s, t, sv, rc, 0x117, count);
}

/* ------------------------------------------------------------ entry */

int exec_dml(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    srv_conn *c = cur->c;
    if (c->fmtonly) {
        srv_put_done(cur, s, 0, 0, 0);
        return 0;
    }
    const sql_tref *tref = &st->target;
    if (st->t == ST_UPDATE && st->sel.nfrom) {
        int k = from_target(st);
        if (k < 0 || st->sel.from[k].sub) {
            char nm[400];
            snprintf(nm, sizeof nm, "%s%s%s", st->target.parts[1][0] ? st->target.parts[1] : "", st->target.parts[1][0] ? "." : "", st->target.parts[2]);
            if (k >= 0)
                srv_put_error(cur, s, 4421, 16, 1, "Derived table '%s' is not updatable because a column of the derived table is derived or constant.", nm);
            else
                srv_put_error(cur, s, 50000, 16, 1, "tdstestd: the target of UPDATE … FROM must be one of the FROM sources ('%s' is not).", nm);
            return -1;
        }
        tref = &st->sel.from[k];
    }
    srv_table *t = target(cur, s, tref);
    if (!t)
        return -2;
    if (tran_touch(c, t) < 0) {
        srv_table_unref(t);
        return -1;
    }
    c->stmt_version = 0;
    stmt_save sv;
    if (save(t, &sv) < 0) {
        srv_table_unref(t);
        return -1;
    }
    sv.cdc_mark = srv_cdc_mark(c);
    switch (st->t) {
    case ST_INSERT:
        return insert_values(cur, s, st, t, &sv);
    case ST_INSERT_SELECT:
        return insert_select(cur, s, st, t, &sv);
    case ST_UPDATE: case ST_DELETE:
        return update_delete(cur, s, st, t, &sv);
    case ST_MERGE:
        return merge_stmt(cur, s, st, t, &sv);
    case ST_TRUNCATE:
        if (srv_cdc_tracked(t)) {
            srv_put_error(cur, s, 4711, 16, 1, "Cannot truncate table '%s' because it is published for replication or enabled for Change Data Capture.",
                          t->name);
            free(sv.rows);
            srv_table_unref(t);
            return -1;
        }
        srv_table_clear(t);
        ct_truncate(cur->c, t);
        free(sv.rows);
        srv_table_unref(t);
        srv_put_done(cur, s, 0, 0, 0);
        return 0;
    default:
        free(sv.rows);
        srv_table_unref(t);
        return -1;
    }
}
