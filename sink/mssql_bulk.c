/*
 * mssql_bulk.c — the rows of a load into SQL Server: per appended batch an
 * INSERT BULK statement and one BulkLoadBCP message (net_bulk_*), values
 * encoded from the source's views by a row plan, or value by value with
 * (max) values as PLP of unknown length in chunks; the _tdspipe_ord column
 * of a merge's stage; the hashes of the staged keys (duplicates decide the
 * merge statement).
 */
#include <stdio.h>
#include <stdlib.h>

#include "mssql_int.h"

static int bulk_fail(ms_sink *m, net_bulk *bk, const net_error *ne, const char *what)
{
    if (bk)
        net_bulk_abort(bk);
    /* the connection is gone with its transaction */
    net_client_close(m->cl);
    m->cl = NULL;
    m->in_txn = false;
    return sink__fail(&m->base, ne->code == NET_E_ARG ? SINK_E_VALUE : SINK_E_DEST, "mssql: %s: %s", what,
                      ne->message[0] ? ne->message : net_strerror(ne->code));
}

/* The batch's values, with the _tdspipe_ord column after each row. */
static const tds_value *with_ord(ms_sink *m, const sink_batch *b)
{
    size_t nc = m->sc.ncols, nw = nc + 1;
    if (b->nrows > m->wide_cap) {
        free(m->wide);
        free(m->ords);
        m->wide = sink__malloc(b->nrows * nw * sizeof *m->wide);
        m->ords = sink__malloc(b->nrows * 8);
        m->wide_cap = m->wide && m->ords ? b->nrows : 0;
        if (!m->wide_cap)
            return NULL;
    }
    for (size_t r = 0; r < b->nrows; r++) {
        memcpy(m->wide + r * nw, b->values + r * nc, nc * sizeof *m->wide);
        uint8_t *o = m->ords + r * 8;
        uint64_t x = (uint64_t)m->ord++;
        for (int k = 0; k < 8; k++)
            o[k] = (uint8_t)(x >> (8 * k));
        m->wide[r * nw + nc] = (tds_value){.ptr = o, .len = 8, .flags = 0};
    }
    return m->wide;
}

/* Records the keys of a merge batch; sets dup_keys when one repeats (or
 * two hashes collide: the general statement is then used, still right). */
static int note_keys(ms_sink *m, const sink_batch *b)
{
    for (size_t r = 0; r < b->nrows && !m->dup_keys; r++) {
        if (m->keys_n * 2 >= m->keys_cap) {
            size_t cap = m->keys_cap ? m->keys_cap * 2 : 1024;
            uint64_t *k = sink__calloc(cap, sizeof *k);
            if (!k)
                return SINK_E_NOMEM;
            for (size_t i = 0; i < m->keys_cap; i++)
                if (m->keys[i])
                    for (size_t j = m->keys[i] & (cap - 1);; j = (j + 1) & (cap - 1))
                        if (!k[j]) {
                            k[j] = m->keys[i];
                            break;
                        }
            free(m->keys);
            m->keys = k;
            m->keys_cap = cap;
        }
        uint64_t h = 1469598103934665603ull;
        for (size_t k = 0; k < m->sc.npk; k++) {
            const tds_value *v = &b->values[r * m->sc.ncols + m->sc.pk[k]];
            uint8_t hdr[5] = {(uint8_t)(v->flags & TDS_VF_NULL), (uint8_t)v->len, (uint8_t)(v->len >> 8),
                              (uint8_t)(v->len >> 16), (uint8_t)(v->len >> 24)};
            for (int i = 0; i < 5; i++)
                h = (h ^ hdr[i]) * 1099511628211ull;
            for (uint32_t i = 0; v->ptr && i < v->len; i++)
                h = (h ^ v->ptr[i]) * 1099511628211ull;
        }
        if (!h)
            h = 1;
        for (size_t j = h & (m->keys_cap - 1);; j = (j + 1) & (m->keys_cap - 1)) {
            if (!m->keys[j]) {
                m->keys[j] = h;
                m->keys_n++;
                break;
            }
            if (m->keys[j] == h) {
                m->dup_keys = true;
                break;
            }
        }
    }
    return SINK_OK;
}

/* Rows with (max) columns: each PLP value goes out with an unknown total
 * length, in chunks ([MS-TDS] 2.2.5.2.3), the form a streamed value takes;
 * the other values are framed as in any ROW. A value the column cannot
 * take leaves a partial row: the caller closes the connection. */
#define MS_PLP_CHUNK 8000u
static int put_rows_plp(ms_sink *m, net_bulk *bk, const tds_value *vals, size_t nrows, uint16_t nw,
                        size_t *nput, net_error *ne)
{
    for (size_t r = 0; r < nrows; r++) {
        *nput = r;
        tds_session *ts = net_bulk_session(bk);
        if (!ts)
            return net_bulk_flush(bk, ne);
        uint8_t tok = TDS_TOK_ROW;
        int rc = tds_put_bytes(ts, &tok, 1);
        for (uint16_t c = 0; c < nw && !rc; c++) {
            const tds_column *col = &m->wcols[c];
            const tds_value *v = &vals[r * nw + c];
            if (!col->is_plp) {
                rc = tds_put_value(ts, col, v);
            } else if (v->flags & TDS_VF_NULL) {
                rc = tds_put_plp_begin(ts, true);
            } else {
                rc = tds_put_plp_begin(ts, false);
                for (uint32_t off = 0; !rc && off < v->len; off += MS_PLP_CHUNK)
                    rc = tds_put_plp_chunk(ts, v->ptr + off, v->len - off < MS_PLP_CHUNK ? v->len - off : MS_PLP_CHUNK);
                if (!rc)
                    rc = tds_put_plp_end(ts);
            }
            if (rc) {
                ne->code = rc == TDS_E_NOMEM ? NET_E_NOMEM : NET_E_ARG;
                snprintf(ne->message, sizeof ne->message, "row %zu of the batch, column %s: %s", r + 1,
                         c < m->sc.ncols ? m->sc.names[c] : SINK__ORD, tds_strerror(rc));
                return ne->code;
            }
        }
        if (net_bulk_flush(bk, ne))
            return ne->code;
    }
    *nput = nrows;
    return NET_OK;
}

static bool has_plp(const ms_sink *m, uint16_t nw)
{
    for (uint16_t c = 0; c < nw; c++)
        if (m->wcols[c].is_plp)
            return true;
    return false;
}

int sink__ms_append(sink *s, const sink_batch *b)
{
    ms_sink *m = (ms_sink *)s;
    if (!m->cl || !m->in_txn)
        return sink__fail(s, SINK_E_DEST, "mssql: the connection was lost during the load");
    sink_buf *q = &m->sql;
    q->len = 0;
    if (sink__ms_insert_bulk(q, &m->sc, m->staged ? m->stage : m->sc.table, m->with_ord, b->nrows) ||
        sink__buf_cstr(q))
        return sink__ms_nomem(m);
    int rc = sink__ms_run(m, q->p, "insert bulk");
    if (rc)
        return rc;
    const tds_value *vals = b->values;
    if (m->sc.strategy == SINK_MERGE && !m->cdc && note_keys(m, b))
        return sink__ms_nomem(m);
    if (m->with_ord && !(vals = with_ord(m, b)))
        return sink__ms_nomem(m);
    uint16_t nw = (uint16_t)(m->sc.ncols + (m->with_ord ? 1 : 0));
    net_error ne;
    memset(&ne, 0, sizeof ne);
    net_bulk *bk = net_bulk_begin(m->cl, m->wcols, nw, &ne);
    if (!bk)
        return bulk_fail(m, NULL, &ne, "bulk load");
    size_t put = 0;
    if (has_plp(m, nw)) {
        if (put_rows_plp(m, bk, vals, b->nrows, nw, &put, &ne))
            return bulk_fail(m, bk, &ne, "bulk load");
    } else {
        if (!m->plan && tds_row_plan_new(net_bulk_session(bk), TDS_TOK_ROW, m->wcols, nw, &m->plan)) {
            ne.code = NET_E_ARG;
            snprintf(ne.message, sizeof ne.message, "a column type cannot be bulk loaded");
            return bulk_fail(m, bk, &ne, "bulk load");
        }
        if (net_bulk_rows(bk, m->plan, vals, b->nrows, &put, &ne)) {
            if (ne.code == NET_E_ARG) { /* the plan refused row put: say which */
                char msg[300];
                snprintf(msg, sizeof msg, "row %zu of the batch: a value does not fit its column (%s)", put + 1,
                         ne.message);
                snprintf(ne.message, sizeof ne.message, "%s", msg);
            }
            return bulk_fail(m, bk, &ne, "bulk load");
        }
    }
    uint64_t rows = 0;
    if ((rc = net_bulk_end(bk, &rows, &ne))) {
        /* the server refused the rows: its message, one line */
        if (!net_conn_is_open(net_client_conn(m->cl)))
            return bulk_fail(m, NULL, &ne, "bulk load");
        return sink__fail(s, SINK_E_DEST, "mssql: bulk load: %s", ne.message[0] ? ne.message : net_strerror(rc));
    }
    return SINK_OK;
}
