/*
 * mssql_bulk.c — the SQL Server sink's bulk channel: per appended batch an
 * INSERT BULK statement and one BulkLoadBCP message (net_bulk_*), values
 * encoded from the source's views by a row plan, or value by value when a
 * column is (max) (net_bulk_rows_values sends those as PLP chunks); the
 * _tdspipe_ord column of a merge's stage. The wire framing is net/'s: no
 * byte of a ROW token is written here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mssql_int.h"

void sink__ms_bulk_drop(sql_sink *q)
{
    ms_sink *m = (ms_sink *)q;
    sink__ms_par_drop(m);
    tds_row_plan_free(m->plan);
    m->plan = NULL;
    free(m->wcols);
    m->wcols = NULL;
    free(m->wide);
    m->wide = NULL;
    m->wide_cap = 0;
    free(m->ords);
    m->ords = NULL;
    free(m->tv);
    m->tv = NULL;
    m->tv_cap = 0;
    sink__buf_free(&m->tvtext);
}

/* The bulk description: the sink's names, the target for text types. */
int sink__ms_bulk_open(sql_sink *q, const char *table)
{
    ms_sink *m = (ms_sink *)q;
    (void)table; /* each batch names it in its INSERT BULK */
    sink__ms_bulk_drop(q);
    size_t nw = q->sc.ncols + q->with_ord;
    if (!(m->wcols = sink__calloc(nw, sizeof *m->wcols)))
        return sink__sql_nomem(q);
    for (size_t i = 0; i < q->sc.ncols; i++)
        if (sink__ms_wire_col(&m->wcols[i], &q->sc.cols[i], q->sc.names[i], q->sc.full))
            return sink__fail(&q->base, SINK_E_UNSUPPORTED, "column %s: type not supported by bulk load",
                              q->sc.names[i]);
    if (q->with_ord) {
        tds_column *o = &m->wcols[q->sc.ncols];
        tds_column_init(o, TDS_T_INTN, 8, 0, 0);
        o->flags = 0;
        o->name.ptr = SINK__ORD;
        o->name.len = strlen(SINK__ORD);
    }
    return m->bulk_writers > 1 ? sink__ms_par_open(m) : SINK_OK;
}

static int bulk_fail(ms_sink *m, net_bulk *bk, const net_error *ne, const char *what)
{
    if (bk)
        net_bulk_abort(bk);
    /* the connection is gone with its transaction */
    net_client_close(m->cl);
    m->cl = NULL;
    m->q.in_txn = false;
    return sink__fail(&m->q.base, ne->code == NET_E_ARG ? SINK_E_VALUE : SINK_E_DEST, "mssql: %s: %s", what,
                      ne->message[0] ? ne->message : net_strerror(ne->code));
}

/* The batch's values, with the _tdspipe_ord column after each row. */
static const tds_value *with_ord(ms_sink *m, const sink_batch *b)
{
    size_t nc = m->q.sc.ncols, nw = nc + 1;
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
        uint64_t x = (uint64_t)m->q.ord++;
        for (int k = 0; k < 8; k++)
            o[k] = (uint8_t)(x >> (8 * k));
        m->wide[r * nw + nc] = (tds_value){.ptr = o, .len = 8, .flags = 0};
    }
    return m->wide;
}

/* json/vector columns travel as text (sink__ms_wire_col): json's UTF-8
 * transcoded to UTF-16 for nvarchar(max), a vector printed as its JSON
 * array (ASCII) for varchar(max) — bytes as the wire takes them, since
 * (max) values go out as raw PLP chunks. vals unchanged when the table
 * has neither. */
static const tds_value *as_text(ms_sink *m, const tds_value *vals, size_t nrows, uint16_t nw)
{
    size_t nc = m->q.sc.ncols;
    bool any = false;
    for (size_t c = 0; c < nc; c++) {
        int k = sink__ms_t25_src(m, c)->kind;
        any |= k == TDS_K_JSON || k == TDS_K_VECTOR;
    }
    if (!any)
        return vals;
    if (nrows * nw > m->tv_cap) {
        free(m->tv);
        m->tv_cap = 0;
        if (!(m->tv = sink__malloc(nrows * nw * sizeof *m->tv)))
            return NULL;
        m->tv_cap = nrows * nw;
    }
    memcpy(m->tv, vals, nrows * nw * sizeof *m->tv);
    m->tvtext.len = 0;
    for (int pass = 0; pass < 2; pass++) /* texts first (the buffer moves), then the views */
        for (size_t r = 0, off = 0; r < nrows; r++)
            for (size_t c = 0; c < nc; c++) {
                tds_value *v = &m->tv[r * nw + c];
                const tds_column *src = sink__ms_t25_src(m, c);
                bool j = src->kind == TDS_K_JSON;
                if ((!j && src->kind != TDS_K_VECTOR) || (v->flags & TDS_VF_NULL))
                    continue;
                if (!pass) {
                    size_t at = m->tvtext.len;
                    int n = j ? tds_utf8_to_utf16((const char *)v->ptr, v->len, NULL, 0) : 0;
                    if (n < 0 || (j ? sink__buf_reserve(&m->tvtext, (size_t)n)
                                    : sink__value_text(&m->tvtext, src, v)))
                        return NULL;
                    if (j)
                        m->tvtext.len += (size_t)tds_utf8_to_utf16((const char *)v->ptr, v->len,
                                                                   (uint8_t *)m->tvtext.p + at, (size_t)n);
                    v->len = (uint32_t)(m->tvtext.len - at);
                } else {
                    v->ptr = (const uint8_t *)m->tvtext.p + off;
                    off += v->len;
                }
            }
    return m->tv;
}

static bool has_plp(const tds_column *wcols, uint16_t nw)
{
    for (uint16_t c = 0; c < nw; c++)
        if (wcols[c].is_plp)
            return true;
    return false;
}

/* The rows of one bulk message: through the plan, or value by value when
 * a column is (max). A value the column cannot take leaves a partial
 * message: the caller closes the connection. (Also the writers' of
 * mssql_parallel.c, each with its own plan.) */
int sink__ms_put_rows(const tds_column *wcols, tds_row_plan **plan, net_bulk *bk, const tds_value *vals,
                      size_t nrows, uint16_t nw, net_error *ne)
{
    size_t put = 0;
    if (has_plp(wcols, nw))
        return net_bulk_rows_values(bk, vals, nrows, &put, ne);
    if (!*plan && net_bulk_plan(bk, plan, ne))
        return ne->code;
    if (!net_bulk_rows(bk, *plan, vals, nrows, &put, ne))
        return NET_OK;
    if (ne->code == NET_E_ARG) { /* the plan refused row put: say which */
        char msg[300];
        snprintf(msg, sizeof msg, "row %zu of the batch: a value does not fit its column (%s)", put + 1,
                 ne->message);
        snprintf(ne->message, sizeof ne->message, "%s", msg);
    }
    return ne->code;
}

int sink__ms_bulk_values(ms_sink *m, const sink_batch *b, const tds_value **out)
{
    const tds_value *vals = b->values;
    if (m->q.with_ord && !(vals = with_ord(m, b)))
        return sink__sql_nomem(&m->q);
    uint16_t nw = (uint16_t)(m->q.sc.ncols + m->q.with_ord);
    if (!(*out = as_text(m, vals, b->nrows, nw)))
        return sink__fail(&m->q.base, SINK_E_VALUE, "mssql: a json or vector value cannot be written as text");
    return SINK_OK;
}

int sink__ms_bulk_rows(sql_sink *q, const sink_batch *b)
{
    ms_sink *m = (ms_sink *)q;
    const tds_value *vals;
    int rc = sink__ms_bulk_values(m, b, &vals);
    if (rc)
        return rc;
    if (m->par) /* the writers' turn (mssql_parallel.c) */
        return sink__ms_par_rows(m, vals, b->nrows);
    sink_buf *s = &q->sql;
    s->len = 0;
    if (sink__ms_insert_bulk(q, s, q->staged ? q->stage : q->sc.table, b->nrows) || sink__buf_cstr(s))
        return sink__sql_nomem(q);
    if ((rc = sink__ms_run(m, s->p, "insert bulk")))
        return rc;
    uint16_t nw = (uint16_t)(q->sc.ncols + q->with_ord);
    net_error ne;
    memset(&ne, 0, sizeof ne);
    net_bulk *bk = net_bulk_begin(m->cl, m->wcols, nw, &ne);
    if (!bk)
        return bulk_fail(m, NULL, &ne, "bulk load");
    if (sink__ms_put_rows(m->wcols, &m->plan, bk, vals, b->nrows, nw, &ne))
        return bulk_fail(m, bk, &ne, "bulk load");
    uint64_t rows = 0;
    if ((rc = net_bulk_end(bk, &rows, &ne))) {
        /* the server refused the rows: its message, one line */
        if (!net_conn_is_open(net_client_conn(m->cl)))
            return bulk_fail(m, NULL, &ne, "bulk load");
        return sink__fail(&q->base, SINK_E_DEST, "mssql: bulk load: %s", ne.message[0] ? ne.message : net_strerror(rc));
    }
    return SINK_OK;
}
