/*
 * exec_cdc.c — the core of the Change Data Capture emulation: LSNs, a
 * connection's uncommitted changes, the database's log of committed
 * transactions, and the capture scan that turns them into change-table
 * rows and cdc.lsn_time_mapping entries (cdc.h describes the model).
 *
 * Invariants: x->log is in commit order (commit positions increase); a
 * change's seq is below its transaction's commit position; a change table
 * only grows at a scan, in commit order, so __$start_lsn never decreases
 * along its row list (cleanup removes a prefix).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_int.h"

/* ------------------------------------------------------------ LSNs */

void cdc_lsn(uint64_t pos, uint8_t out[CDC_LSN_LEN])
{
    /* (0x2A << 48) + pos * 16, big-endian: "0000002A" as the virtual log
     * file, then block and slot; positions stay far below 2^44 */
    uint64_t v = ((uint64_t)0x2A << 48) + (pos << 4);
    out[0] = out[1] = 0;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(v >> (56 - 8 * i));
}

uint64_t cdc_lsn_pos(const uint8_t lsn[CDC_LSN_LEN])
{
    if (lsn[0] || lsn[1])
        return UINT64_MAX >> 4;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | lsn[2 + i];
    uint64_t base = (uint64_t)0x2A << 48;
    return v < base ? 0 : (v - base) >> 4;
}

int64_t cdc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

srv_val cdc_time_val(int64_t us)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tmv;
    localtime_r(&t, &tmv);
    srv_val v = { .k = SV_DT };
    int64_t y = tmv.tm_year + 1900;
    unsigned m = (unsigned)tmv.tm_mon + 1, d = (unsigned)tmv.tm_mday;
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    uint64_t yoe = (uint64_t)(yy - era * 400);
    uint64_t doy = (153 * (uint64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    v.dt.days = (int32_t)(era * 146097 + (int64_t)doe - 306);
    v.dt.ticks = ((uint64_t)tmv.tm_hour * 3600 + (uint64_t)tmv.tm_min * 60 + (uint64_t)tmv.tm_sec) * 10000000ULL +
                 (uint64_t)(us % 1000000) * 10;
    v.dt.kind = TDS_K_DATETIME2;
    v.dt.scale = 7;
    return v;
}

/* ------------------------------------------------------------ state */

srv_cdc_db *cdc_db_get(srv_database *d, bool create)
{
    if (!d)
        return NULL;
    if (!d->cdc && create) {
        d->cdc = calloc(1, sizeof *d->cdc);
        if (d->cdc) {
            d->cdc->pos = 0x1000; /* a database's log does not start empty */
            d->cdc->next_tran = 0x0000000000A00000ULL;
        }
    }
    return d->cdc;
}

cdc_inst *cdc_inst_find(const srv_cdc_db *x, const char *name)
{
    for (size_t i = 0; x && i < x->ninst; i++)
        if (srv_ieq(x->inst[i]->name, name))
            return x->inst[i];
    return NULL;
}

bool srv_cdc_tracked(const srv_table *t)
{
    const srv_cdc_db *x = t->dbp ? t->dbp->cdc : NULL;
    for (size_t i = 0; x && x->enabled && i < x->ninst; i++)
        if (x->inst[i]->src == t)
            return true;
    return false;
}

uint64_t cdc_max_pos(const srv_cdc_db *x)
{
    if (!x || !x->ltm || !x->ltm->nrows)
        return 0;
    /* rows are appended in start_lsn order: the last one is the maximum */
    tds_value v[4];
    srv_table_row(x->ltm, x->ltm->rows[x->ltm->nrows - 1], v);
    return v[0].len == CDC_LSN_LEN ? cdc_lsn_pos(v[0].ptr) : 0;
}

/* ------------------------------------------------------------ recording */

/* A row image: the heap row at off copied out, in the heap's format. */
static uint8_t *image_copy(const srv_table *t, uint64_t off)
{
    if (off == UINT64_MAX)
        return NULL;
    tds_value v[SRV_MAX_COLS];
    srv_table_row(t, off, v);
    size_t need = 0;
    for (uint16_t i = 0; i < t->ncols; i++)
        need += 4 + ((v[i].flags & TDS_VF_NULL) ? 0 : v[i].len);
    uint8_t *img = malloc(need ? need : 1);
    if (img)
        memcpy(img, t->heap + off, need);
    return img;
}

/* Views of an image of n columns into v (columns past n are NULL). */
static void image_row(const uint8_t *p, uint16_t n, tds_value *v, uint16_t want)
{
    for (uint16_t i = 0; i < want; i++) {
        uint32_t len = SRV_NULL_LEN;
        if (p && i < n) {
            memcpy(&len, p, 4);
            p += 4;
        }
        v[i] = len == SRV_NULL_LEN ? (tds_value){ .flags = TDS_VF_NULL } : (tds_value){ .ptr = p, .len = len };
        if (len != SRV_NULL_LEN)
            p += len;
    }
}

void cdc_change_free(cdc_change *ch)
{
    free(ch->img[0]);
    free(ch->img[1]);
    ch->img[0] = ch->img[1] = NULL;
    srv_table_unref(ch->t);
    ch->t = NULL;
}

int srv_cdc_record(srv_conn *c, srv_table *t, int op, uint64_t old_off, uint64_t new_off)
{
    if (!srv_cdc_tracked(t))
        return 0;
    srv_cdc_db *x = t->dbp->cdc;
    if (!c->cdc_tx && !(c->cdc_tx = calloc(1, sizeof *c->cdc_tx)))
        return -1;
    cdc_tx *tx = c->cdc_tx;
    if (tx->n == tx->cap) {
        size_t cap = tx->cap ? tx->cap * 2 : 16;
        cdc_change *n = realloc(tx->ch, cap * sizeof *n);
        if (!n)
            return -1;
        tx->ch = n;
        tx->cap = cap;
    }
    cdc_change *ch = &tx->ch[tx->n];
    ch->img[0] = image_copy(t, old_off);
    ch->img[1] = image_copy(t, new_off);
    if ((old_off != UINT64_MAX && !ch->img[0]) || (new_off != UINT64_MAX && !ch->img[1])) {
        free(ch->img[0]);
        free(ch->img[1]);
        return -1;
    }
    tx->n++;
    srv_table_ref(t);
    ch->t = t;
    ch->op = op;
    ch->ncols = t->ncols;
    ch->seq = ++x->pos;
    ch->command_id = (uint32_t)tx->n;
    if (tx->n == 1)
        tx->begin_us = cdc_now_us();
    return 0;
}

size_t srv_cdc_mark(const srv_conn *c) { return c->cdc_tx ? c->cdc_tx->n : 0; }

void srv_cdc_undo(srv_conn *c, size_t mark)
{
    cdc_tx *tx = c->cdc_tx;
    while (tx && tx->n > mark)
        cdc_change_free(&tx->ch[--tx->n]);
}

void srv_cdc_rollback(srv_conn *c) { srv_cdc_undo(c, 0); }

static int log_append(srv_cdc_db *x, cdc_commit *cm)
{
    if (x->nlog == x->caplog) {
        size_t cap = x->caplog ? x->caplog * 2 : 16;
        cdc_commit *n = realloc(x->log, cap * sizeof *n);
        if (!n)
            return -1;
        x->log = n;
        x->caplog = cap;
    }
    x->log[x->nlog++] = *cm;
    return 0;
}

/* The changes of tx that belong to database d, as one committed
 * transaction of d's log. */
static void commit_db(cdc_tx *tx, srv_database *d, bool *done)
{
    srv_cdc_db *x = d->cdc;
    cdc_commit cm = { 0 };
    cm.ch = malloc(tx->n * sizeof *cm.ch);
    for (size_t i = 0; i < tx->n; i++) {
        if (done[i] || tx->ch[i].t->dbp != d)
            continue;
        done[i] = true;
        if (cm.ch)
            cm.ch[cm.n++] = tx->ch[i];
        else
            cdc_change_free(&tx->ch[i]);
    }
    cm.pos = ++x->pos;
    cm.begin_us = tx->begin_us;
    cm.end_us = cdc_now_us();
    cm.tran_id = ++x->next_tran;
    if (!cm.ch || log_append(x, &cm) < 0) {
        for (size_t i = 0; i < cm.n; i++)
            cdc_change_free(&cm.ch[i]);
        free(cm.ch);
        return;
    }
    if (x->immediate)
        cdc_scan(d);
}

void srv_cdc_commit(srv_conn *c)
{
    cdc_tx *tx = c->cdc_tx;
    if (!tx || !tx->n)
        return;
    bool *done = calloc(tx->n, sizeof *done);
    if (!done) {
        srv_cdc_rollback(c);
        return;
    }
    for (size_t i = 0; i < tx->n; i++) {
        srv_database *d = tx->ch[i].t->dbp;
        if (done[i])
            continue;
        if (!d || !d->cdc) { /* the table was dropped meanwhile */
            done[i] = true;
            cdc_change_free(&tx->ch[i]);
            continue;
        }
        commit_db(tx, d, done);
    }
    free(done);
    tx->n = 0;
}

void srv_cdc_conn_free(srv_conn *c)
{
    if (!c->cdc_tx)
        return;
    srv_cdc_rollback(c);
    free(c->cdc_tx->ch);
    free(c->cdc_tx);
    c->cdc_tx = NULL;
}

/* ------------------------------------------------------------ capture */

static bool is_lob_text(const srv_coldef *d)
{
    return d->col.type == TDS_T_TEXT || d->col.type == TDS_T_NTEXT || d->col.type == TDS_T_IMAGE;
}

static bool same_val(const tds_value *a, const tds_value *b)
{
    bool an = a->flags & TDS_VF_NULL, bn = b->flags & TDS_VF_NULL;
    if (an || bn)
        return an == bn;
    return a->len == b->len && (!a->len || memcmp(a->ptr, b->ptr, a->len) == 0);
}

/* One change-table row: image img (source row views), op, mask. */
static int ct_put(cdc_inst *ci, const uint8_t *lsn, const uint8_t *seq, int op, const uint8_t *mask,
                  size_t masklen, const tds_value *img, const bool *changed, uint32_t cmd)
{
    tds_value v[SRV_MAX_COLS];
    uint8_t opb[4] = { (uint8_t)op, 0, 0, 0 }, cmdb[4];
    memcpy(cmdb, &cmd, 4);
    memset(v, 0, sizeof v);
    v[0] = (tds_value){ .ptr = lsn, .len = CDC_LSN_LEN };
    v[1].flags = TDS_VF_NULL;
    v[2] = (tds_value){ .ptr = seq, .len = CDC_LSN_LEN };
    v[3] = (tds_value){ .ptr = opb, .len = 4 };
    v[4] = (tds_value){ .ptr = mask, .len = (uint32_t)masklen };
    for (int k = 0; k < ci->ncols; k++) {
        const srv_coldef *d = &ci->src->cols[ci->cols[k]];
        v[5 + k] = img[ci->cols[k]];
        /* documented: text/ntext/image are NULL in delete and update-old
         * rows; (max) types are NULL in update-old rows unless changed */
        if ((is_lob_text(d) && (op == CDC_OP_DELETE || op == CDC_OP_UPDATE_OLD)) ||
            (d->max_length == -1 && op == CDC_OP_UPDATE_OLD && !changed[k]))
            v[5 + k] = (tds_value){ .flags = TDS_VF_NULL };
        /* ALTER COLUMN changed the source type after enabling: the change
         * table keeps its type (not emulated), so no bytes of another type */
        const tds_column *cc = &ci->ct->cols[5 + k].col;
        if (d->col.type != cc->type || d->col.max_len != cc->max_len || d->col.scale != cc->scale)
            v[5 + k] = (tds_value){ .flags = TDS_VF_NULL };
    }
    v[5 + ci->ncols] = (tds_value){ .ptr = cmdb, .len = 4 };
    uint64_t off = srv_table_heap_put(ci->ct, v);
    if (off == UINT64_MAX || srv_table_append(ci->ct, off) < 0)
        return -1;
    ci->ct->idx_dirty = true;
    return 0;
}

static int capture_change(cdc_inst *ci, const cdc_commit *cm, const cdc_change *ch)
{
    uint8_t lsn[CDC_LSN_LEN], seq[CDC_LSN_LEN], mask[128];
    bool changed[SRV_MAX_COLS];
    size_t masklen = ((size_t)ci->ncols + 7) / 8;
    tds_value oldv[SRV_MAX_COLS], newv[SRV_MAX_COLS];
    cdc_lsn(cm->pos, lsn);
    cdc_lsn(ch->seq, seq);
    /* columns the images lack (added since) are NULL */
    image_row(ch->img[0], ch->ncols, oldv, ci->src->ncols);
    image_row(ch->img[1], ch->ncols, newv, ci->src->ncols);
    memset(mask, 0, sizeof mask);
    for (int k = 0; k < ci->ncols; k++) {
        changed[k] = ch->op != CDC_OP_UPDATE_NEW || !same_val(&oldv[ci->cols[k]], &newv[ci->cols[k]]);
        if (changed[k]) /* bit k (column ordinal k + 1) counted from the last byte */
            mask[masklen - 1 - (size_t)k / 8] |= (uint8_t)(1u << (k % 8));
    }
    if (ch->op == CDC_OP_DELETE)
        return ct_put(ci, lsn, seq, CDC_OP_DELETE, mask, masklen, oldv, changed, ch->command_id);
    if (ch->op == CDC_OP_INSERT)
        return ct_put(ci, lsn, seq, CDC_OP_INSERT, mask, masklen, newv, changed, ch->command_id);
    if (ct_put(ci, lsn, seq, CDC_OP_UPDATE_OLD, mask, masklen, oldv, changed, ch->command_id) < 0)
        return -1;
    return ct_put(ci, lsn, seq, CDC_OP_UPDATE_NEW, mask, masklen, newv, changed, ch->command_id);
}

/* A cdc.lsn_time_mapping row; tran_id 0 writes the all-zero id the
 * capture process uses for its scan-progress entries. */
static int ltm_put(srv_cdc_db *x, uint64_t pos, int64_t begin_us, int64_t end_us, uint64_t tran_id)
{
    uint8_t lsn[CDC_LSN_LEN], tid[10], tb[2][64];
    srv_val tv[2] = { cdc_time_val(begin_us), cdc_time_val(end_us) };
    tds_value v[4];
    memset(v, 0, sizeof v);
    memset(tid, 0, sizeof tid);
    for (int i = 0; i < 8; i++)
        tid[2 + i] = (uint8_t)(tran_id >> (56 - 8 * i));
    cdc_lsn(pos, lsn);
    for (int i = 0; i < 2; i++) {
        int64_t n = sv_to_wire(&x->ltm->cols[1 + i], &tv[i], tb[i], sizeof tb[i]);
        v[1 + i] = n < 0 ? (tds_value){ .flags = TDS_VF_NULL } : (tds_value){ .ptr = tb[i], .len = (uint32_t)n };
    }
    v[0] = (tds_value){ .ptr = lsn, .len = CDC_LSN_LEN };
    v[3] = (tds_value){ .ptr = tid, .len = 10 };
    uint64_t off = srv_table_heap_put(x->ltm, v);
    return off == UINT64_MAX ? -1 : srv_table_append(x->ltm, off);
}

static int capture_commit(srv_cdc_db *x, srv_database *d, cdc_commit *cm)
{
    size_t rows = 0;
    int rc = 0;
    for (size_t i = 0; i < cm->n && !rc; i++) {
        const cdc_change *ch = &cm->ch[i];
        for (size_t k = 0; k < x->ninst && !rc; k++) {
            cdc_inst *ci = x->inst[k];
            if (ci->src != ch->t || ch->t->dbp != d || cm->pos <= ci->enable_pos)
                continue;
            rc = capture_change(ci, cm, ch);
            rows++;
        }
    }
    if (!rc && rows)
        rc = ltm_put(x, cm->pos, cm->begin_us, cm->end_us, cm->tran_id);
    return rc;
}

int cdc_scan(srv_database *d)
{
    srv_cdc_db *x = cdc_db_get(d, false);
    if (!x || !x->enabled || !x->ltm)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < x->nlog; i++) {
        cdc_commit *cm = &x->log[i];
        if (!rc)
            rc = capture_commit(x, d, cm);
        for (size_t k = 0; k < cm->n; k++)
            cdc_change_free(&cm->ch[k]);
        free(cm->ch);
    }
    x->nlog = 0;
    /* the scan read the log to its end: record how far, so
     * sys.fn_cdc_get_max_lsn moves on even when nothing was captured */
    if (!rc && x->ninst && x->pos > cdc_max_pos(x)) {
        int64_t now = cdc_now_us();
        rc = ltm_put(x, x->pos, now, now, 0);
    }
    return rc;
}
