/*
 * mssql.c — SQL Server (and Azure SQL) as a destination, through net/ and
 * bulk load: INSERT BULK, then a BulkLoadBCP message per appended batch
 * (COLMETADATA + ROW tokens + DONE) encoded straight from the source's
 * value views by a row plan — no text round trip, never row-by-row
 * INSERTs.
 *
 * One transaction per load (BEGIN at sink_begin, COMMIT at sink_commit,
 * XACT_ABORT ON), so a rejected load (constraint, truncation, permission)
 * or a dropped connection leaves the target as it was:
 *   append         bulk into the target (created with a primary key when
 *                  keys are known and it is missing)
 *   replace        bulk into "_tdspipe_stage_<t>", then DROP the target and
 *                  sp_rename the stage, in the transaction
 *   merge          stage with _tdspipe_ord, then sink/sql.c's DELETE of the
 *                  staged keys + INSERT of the latest row per key (or the
 *                  Change Tracking merge, mssql_sql.c)
 *   delete+insert  stage, DELETE the key window, INSERT the stage
 * Pending sink_state_set values go into _tdspipe_state in the same
 * transaction. After a failure inside a bulk message the connection is
 * closed (the server rolls back); the next load reconnects.
 *
 * URIs: mssql://, sqlserver:// (one vtable), azuresql://, azure-sql://
 * (another), all parsed by net_opts_from_uri: every TLS mode, access-token
 * login, named instances.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mssql_int.h"
#include "net.h"

typedef struct ms_sink {
    sink base;
    net_opts no;
    net_client *cl;
    sink_schema sc;
    sink_buf sql;
    char *stage;
    bool in_txn;
    bool staged;
    bool with_ord;
    bool cdc;            /* Change Tracking merge */
    tds_column *wcols;   /* bulk description (ncols + ord) */
    tds_row_plan *plan;
    tds_value *wide;     /* a batch with the ord column added */
    size_t wide_cap;
    uint8_t *ords;       /* ord values' bytes */
    int64_t ord;
    /* merge: hashes of the staged keys, to know whether a key repeats */
    uint64_t *keys;
    size_t keys_cap, keys_n;
    bool dup_keys;
} ms_sink;

/* --------------------------------------------------------- requests */

typedef struct ms_req {
    char *out;
    size_t cap;
    bool got_row;
    bool found;
    int rc;
    sink_buf *lits;     /* every column of the first row as T-SQL literals,
                           each ending with '\n' ("NULL" for NULL) */
} ms_req;

static int r_row(void *ud, const tds_column *cols, uint16_t n, const tds_value *v)
{
    ms_req *q = ud;
    if (q->got_row || (!q->out && !q->lits) || !n)
        return NET_ROW_NEXT;
    q->got_row = true;
    for (uint16_t i = 0; q->lits && i < n && !q->rc; i++) {
        int e = v[i].flags & TDS_VF_NULL ? sink__buf_puts(q->lits, "NULL") : sink__ms_literal(q->lits, &cols[i], &v[i]);
        if (e || sink__buf_putc(q->lits, '\n'))
            q->rc = e ? e : SINK_E_NOMEM;
    }
    if (v[0].flags & TDS_VF_NULL)
        return NET_ROW_NEXT;
    size_t len = 0;
    if (!q->out)
        return NET_ROW_NEXT;
    int rc = tds_value_text(&cols[0], &v[0], q->out, q->cap, &len);
    if (rc == TDS_E_SPACE)
        q->rc = SINK_E_ARG;
    else if (rc)
        q->rc = SINK_E_VALUE;
    else
        q->found = true;
    return NET_ROW_NEXT;
}

static int ms_connect(ms_sink *m, char *err, size_t errcap);

/* Runs a batch; a server error becomes "mssql: what: <message>". With out,
 * the first column of the first row comes back as text. */
static int run_l(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found,
                 sink_buf *lits)
{
    if (!m->cl) {
        char e[400];
        if (ms_connect(m, e, sizeof e))
            return sink__fail(&m->base, SINK_E_DEST, "%s", e);
    }
    ms_req q = {.out = out, .cap = cap, .lits = lits};
    if (out && cap)
        out[0] = '\0';
    net_result_cb cb = {.row = r_row};
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = net_client_batch(m->cl, sql, &cb, &q, &ne);
    if (rc) {
        if (!net_conn_is_open(net_client_conn(m->cl))) {
            net_client_close(m->cl);
            m->cl = NULL;
            m->in_txn = false;
        }
        return sink__fail(&m->base, SINK_E_DEST, "mssql: %s: %s", what,
                          ne.message[0] ? ne.message : net_strerror(rc));
    }
    if (q.rc)
        return sink__fail(&m->base, q.rc, "mssql: %s: value does not fit", what);
    if (found)
        *found = q.found;
    return SINK_OK;
}

static int run_q(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found)
{
    return run_l(m, sql, what, out, cap, found, NULL);
}

static int run(ms_sink *m, const char *sql, const char *what) { return run_q(m, sql, what, NULL, 0, NULL); }

static int ms_connect(ms_sink *m, char *err, size_t errcap)
{
    net_error ne;
    memset(&ne, 0, sizeof ne);
    m->cl = net_client_open(&m->no, &ne);
    if (!m->cl)
        return sink__errf(err, errcap, SINK_E_DEST, "mssql: cannot connect: %s",
                          ne.message[0] ? ne.message : net_strerror(ne.code));
    net_client_cancel_on_signals(m->cl, true);
    /* Double-quoted identifiers (sink/sql.c, sink_max_value); any error
     * rolls the whole transaction back. */
    if (run(m, "SET QUOTED_IDENTIFIER ON; SET ANSI_NULLS ON; SET XACT_ABORT ON; SET NOCOUNT ON", "session setup")) {
        sink__errf(err, errcap, SINK_E_DEST, "%s", m->base.err);
        if (m->cl)
            net_client_close(m->cl);
        m->cl = NULL;
        return SINK_E_DEST;
    }
    return SINK_OK;
}

static int open_scheme(const char *scheme, const char *target, sink **out, char *err, size_t errcap)
{
    ms_sink *m = sink__calloc(1, sizeof *m);
    size_t n = strlen(scheme) + 3 + strlen(target) + 1;
    char *uri = sink__malloc(n);
    if (!m || !uri) {
        free(m);
        free(uri);
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    }
    snprintf(uri, n, "%s://%s", scheme, target);
    char e[400] = "";
    int rc = net_opts_from_uri(&m->no, uri, e, sizeof e);
    net_wipe(uri, n);
    free(uri);
    if (rc) {
        net_opts_free(&m->no);
        free(m);
        return sink__errf(err, errcap, SINK_E_URI, "mssql destination: %s", e);
    }
    m->no.stream_plp = false; /* lookups read whole values */
    if ((rc = ms_connect(m, err, errcap))) {
        net_opts_free(&m->no);
        free(m);
        return rc;
    }
    *out = &m->base;
    return SINK_OK;
}

static int ms_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    (void)o;
    return open_scheme("mssql", target, out, err, errcap);
}

static int az_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    (void)o;
    return open_scheme("azuresql", target, out, err, errcap);
}

/* ------------------------------------------------------------ load */

static void load_free(ms_sink *m)
{
    tds_row_plan_free(m->plan);
    m->plan = NULL;
    free(m->wcols);
    m->wcols = NULL;
    free(m->wide);
    m->wide = NULL;
    m->wide_cap = 0;
    free(m->ords);
    m->ords = NULL;
    free(m->keys);
    m->keys = NULL;
    m->keys_cap = m->keys_n = 0;
    m->dup_keys = false;
}

static int nomem(ms_sink *m) { return sink__fail(&m->base, SINK_E_NOMEM, "out of memory"); }

/* N'[schema].[t]' for OBJECT_ID */
static int object_literal(ms_sink *m, sink_buf *b, const char *t)
{
    sink_buf q = {0};
    int rc = 0;
    if (m->sc.schema)
        rc |= sink__ms_ident(&q, m->sc.schema) || sink__buf_putc(&q, '.');
    rc |= sink__ms_ident(&q, t);
    rc |= sink__buf_putc(b, 'N');
    rc |= sink__sql_string(b, q.p, q.len);
    sink__buf_free(&q);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

static int table_exists(ms_sink *m, const char *t, bool *exists)
{
    sink_buf b = {0};
    char out[32];
    int rc = sink__buf_puts(&b, "SELECT OBJECT_ID(") || object_literal(m, &b, t) ||
             sink__buf_puts(&b, ", N'U')") || sink__buf_cstr(&b);
    rc = rc ? nomem(m) : run_q(m, b.p, "table lookup", out, sizeof out, exists);
    sink__buf_free(&b);
    return rc;
}

static int qname(sink_buf *b, const ms_sink *m, const char *t) { return sink__sql_qname(b, m->sc.schema, t); }

static int ms_begin(sink *s, const sink_table *t)
{
    ms_sink *m = (ms_sink *)s;
    sink__schema_free(&m->sc);
    free(m->stage);
    m->stage = NULL;
    load_free(m);
    m->ord = 0;
    if (sink__schema_copy(&m->sc, t))
        return nomem(m);
    size_t n = strlen(m->sc.table);
    if (!(m->stage = sink__malloc(sizeof SINK__STAGE_PREFIX + n)))
        return nomem(m);
    memcpy(m->stage, SINK__STAGE_PREFIX, sizeof SINK__STAGE_PREFIX - 1);
    memcpy(m->stage + sizeof SINK__STAGE_PREFIX - 1, m->sc.table, n + 1);
    m->staged = t->strategy != SINK_APPEND;
    m->with_ord = t->strategy == SINK_MERGE;
    m->cdc = t->cdc && t->strategy == SINK_MERGE;
    if (t->cdc && t->strategy == SINK_MERGE) {
        bool lsn = false, del = false;
        for (size_t i = 0; i < m->sc.ncols; i++) {
            lsn |= !strcmp(m->sc.names[i], "_cdc_lsn");
            del |= !strcmp(m->sc.names[i], "_cdc_deleted");
        }
        if (!lsn || !del)
            return sink__fail(s, SINK_E_ARG, "a Change Tracking merge needs the _cdc_lsn and _cdc_deleted columns");
    }

    /* the bulk description: the sink's names, the target for text types */
    size_t nw = m->sc.ncols + (m->with_ord ? 1 : 0);
    if (!(m->wcols = sink__calloc(nw, sizeof *m->wcols)))
        return nomem(m);
    for (size_t i = 0; i < m->sc.ncols; i++)
        if (sink__ms_wire_col(&m->wcols[i], &m->sc.cols[i], m->sc.names[i], m->sc.full))
            return sink__fail(s, SINK_E_UNSUPPORTED, "column %s: type not supported by bulk load", m->sc.names[i]);
    if (m->with_ord) {
        tds_column *o = &m->wcols[m->sc.ncols];
        tds_column_init(o, TDS_T_INTN, 8, 0, 0);
        o->flags = TDS_COL_UPDATEABLE;
        o->name.ptr = SINK__ORD;
        o->name.len = strlen(SINK__ORD);
    }

    int rc = run(m, "BEGIN TRANSACTION", "begin");
    if (rc)
        return rc;
    m->in_txn = true;
    sink_buf *b = &m->sql;
    char out[64];
    if (m->sc.schema) {
        bool found = false;
        b->len = 0;
        if (sink__buf_puts(b, "SELECT SCHEMA_ID(N") || sink__sql_string(b, m->sc.schema, strlen(m->sc.schema)) ||
            sink__buf_putc(b, ')') || sink__buf_cstr(b))
            return nomem(m);
        if ((rc = run_q(m, b->p, "schema lookup", out, sizeof out, &found)))
            return rc;
        if (!found) {
            b->len = 0;
            if (sink__buf_puts(b, "CREATE SCHEMA ") || sink__ms_ident(b, m->sc.schema) || sink__buf_cstr(b))
                return nomem(m);
            if ((rc = run(m, b->p, "create schema")))
                return rc;
        }
    }
    bool exists = false;
    if (t->strategy != SINK_REPLACE && (rc = table_exists(m, m->sc.table, &exists)))
        return rc;
    b->len = 0;
    int e = 0;
    if (t->strategy != SINK_REPLACE && !exists) {
        e |= sink__ms_create(b, &m->sc, m->sc.table, false, true);
        e |= sink__buf_puts(b, ";\n");
    }
    if (m->staged) {
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= qname(b, m, m->stage);
        e |= sink__buf_puts(b, ";\n");
        /* replace: the stage becomes the target, key and all */
        e |= sink__ms_create(b, &m->sc, m->stage, m->with_ord, t->strategy == SINK_REPLACE);
    }
    if (e || sink__buf_cstr(b))
        return nomem(m);
    if (b->len && (rc = run(m, b->p, "create table")))
        return rc;
    return SINK_OK;
}

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

static int ms_append(sink *s, const sink_batch *b)
{
    ms_sink *m = (ms_sink *)s;
    if (!m->cl || !m->in_txn)
        return sink__fail(s, SINK_E_DEST, "mssql: the connection was lost during the load");
    sink_buf *q = &m->sql;
    q->len = 0;
    if (sink__ms_insert_bulk(q, &m->sc, m->staged ? m->stage : m->sc.table, m->with_ord, b->nrows) ||
        sink__buf_cstr(q))
        return nomem(m);
    int rc = run(m, q->p, "insert bulk");
    if (rc)
        return rc;
    const tds_value *vals = b->values;
    if (m->sc.strategy == SINK_MERGE && !m->cdc && note_keys(m, b))
        return nomem(m);
    if (m->with_ord && !(vals = with_ord(m, b)))
        return nomem(m);
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

static int ensure_state_table(ms_sink *m)
{
    bool exists = false;
    char out[32];
    int rc = run_q(m, "SELECT OBJECT_ID(N'[" SINK__STATE_TABLE "]', N'U')", "state lookup", out, sizeof out, &exists);
    if (rc || exists)
        return rc;
    return run(m, "CREATE TABLE [" SINK__STATE_TABLE "] ([name] nvarchar(450) NOT NULL PRIMARY KEY, "
                  "[value] nvarchar(max) NOT NULL)", "create state table");
}

static bool text_key(const sink_schema *sc)
{
    for (size_t k = 0; k < sc->npk; k++) {
        int kind = sc->cols[sc->pk[k]].kind;
        if (kind == TDS_K_CHAR || kind == TDS_K_NCHAR || kind == TDS_K_XML || kind == TDS_K_VARIANT)
            return true;
    }
    return false;
}

/* delete+insert without the caller's bounds: the window is the stage's
 * [MIN, MAX] of the key, read first and spelled as literals, so every
 * statement stays a plain one (no scalar subqueries). */
static int window_from_stage(ms_sink *m, sink_buf *b)
{
    const char *k = m->sc.names[m->sc.incr];
    sink_buf q = {0}, lits = {0};
    int e = sink__buf_puts(&q, "SELECT MIN(");
    e |= sink__ms_ident(&q, k);
    e |= sink__buf_puts(&q, "), MAX(");
    e |= sink__ms_ident(&q, k);
    e |= sink__buf_puts(&q, ") FROM ");
    e |= qname(&q, m, m->stage);
    e |= sink__buf_cstr(&q);
    int rc = e ? nomem(m) : run_l(m, q.p, "key window", NULL, 0, NULL, &lits);
    sink__buf_free(&q);
    if (!rc && (e = sink__buf_cstr(&lits)))
        rc = nomem(m);
    char *nl = !rc && lits.p ? strchr(lits.p, '\n') : NULL;
    if (nl && strncmp(lits.p, "NULL\n", 5)) { /* an empty stage deletes nothing */
        *nl = '\0';
        char *hi = nl + 1, *end = strchr(hi, '\n');
        if (end)
            *end = '\0';
        e = sink__buf_puts(b, "DELETE FROM ");
        e |= qname(b, m, m->sc.table);
        e |= sink__buf_puts(b, " WHERE ");
        e |= sink__ms_ident(b, k);
        e |= sink__buf_puts(b, " >= ");
        e |= sink__buf_puts(b, lits.p);
        e |= sink__buf_puts(b, " AND ");
        e |= sink__ms_ident(b, k);
        e |= sink__buf_puts(b, " <= ");
        e |= sink__buf_puts(b, hi);
        e |= sink__buf_puts(b, ";\n");
    }
    sink__buf_free(&lits);
    if (rc)
        return rc;
    if (e || sink__sql_append_stage(b, &m->sc, m->stage))
        return nomem(m);
    return SINK_OK;
}

static int ms_commit(sink *s)
{
    ms_sink *m = (ms_sink *)s;
    if (!m->cl || !m->in_txn)
        return sink__fail(s, SINK_E_DEST, "mssql: the connection was lost during the load");
    sink_buf *b = &m->sql;
    b->len = 0;
    int e = 0, rc;
    switch (m->sc.strategy) {
    case SINK_REPLACE: {
        sink_buf full = {0};
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= qname(b, m, m->sc.table);
        e |= sink__buf_puts(b, ";\nEXEC sp_rename N");
        if (m->sc.schema)
            e |= sink__ms_ident(&full, m->sc.schema) || sink__buf_putc(&full, '.');
        e |= sink__ms_ident(&full, m->stage);
        e |= sink__sql_string(b, full.p, full.len);
        e |= sink__buf_puts(b, ", N");
        e |= sink__sql_string(b, m->sc.table, strlen(m->sc.table));
        sink__buf_free(&full);
        break;
    }
    case SINK_APPEND:
        break;
    case SINK_MERGE:
        /* one MERGE when every staged key is distinct and compares
         * bytewise (no text key a collation might fold); else the
         * latest row per key by ROW_NUMBER (sink/sql.c) */
        if (m->cdc)
            e |= sink__ms_cdc_merge(b, &m->sc, m->stage);
        else if (!m->dup_keys && !text_key(&m->sc))
            e |= sink__ms_merge_unique(b, &m->sc, m->stage);
        else
            e |= sink__sql_merge(b, &m->sc, m->stage);
        break;
    case SINK_DELETE_INSERT:
        if (!m->sc.has_win[0] && !m->sc.has_win[1]) {
            if ((rc = window_from_stage(m, b)))
                return rc;
            break;
        }
        if ((rc = sink__sql_delete_insert(b, &m->sc, m->stage, sink__ms_literal)))
            return sink__fail(s, rc, rc == SINK_E_NOMEM ? "out of memory" : "mssql: delete+insert bound not representable");
        break;
    }
    if (e || sink__buf_cstr(b))
        return nomem(m);
    if (b->len && (rc = run(m, b->p, "commit")))
        return rc;
    if (m->base.pending.len) {
        b->len = 0;
        if ((rc = ensure_state_table(m)))
            return rc;
        if (sink__ms_state(b, &m->base) || sink__buf_cstr(b))
            return nomem(m);
        if ((rc = run(m, b->p, "state")))
            return rc;
    }
    if ((rc = run(m, "COMMIT TRANSACTION", "commit")))
        return rc;
    m->in_txn = false;
    return SINK_OK;
}

static void ms_abort(sink *s)
{
    ms_sink *m = (ms_sink *)s;
    if (m->cl && m->in_txn) {
        char keep[sizeof m->base.err];
        memcpy(keep, m->base.err, sizeof keep);
        /* XACT_ABORT may have rolled back already: 3903 is fine */
        run(m, "ROLLBACK TRANSACTION", "rollback");
        memcpy(m->base.err, keep, sizeof keep);
    }
    m->in_txn = false;
    load_free(m);
}

static void ms_close(sink *s)
{
    ms_sink *m = (ms_sink *)s;
    if (m->cl)
        net_client_close(m->cl);
    sink__schema_free(&m->sc);
    sink__buf_free(&m->sql);
    free(m->stage);
    load_free(m);
    net_opts_free(&m->no);
    free(m);
}

static int ms_lookup(sink *s, const char *table, const char *expr, const char *where, char *out, size_t cap,
                     bool *found)
{
    ms_sink *m = (ms_sink *)s;
    *found = false;
    /* "schema.table" or "table" */
    const char *dot = strrchr(table, '.');
    sink_buf q = {0}, b = {0};
    int rc = 0;
    if (dot) {
        char *sch = strndup(table, (size_t)(dot - table));
        if (!sch)
            return nomem(m);
        rc |= sink__ms_ident(&q, sch) || sink__buf_putc(&q, '.');
        free(sch);
    }
    rc |= sink__ms_ident(&q, dot ? dot + 1 : table);
    rc |= sink__buf_puts(&b, "SELECT OBJECT_ID(N");
    rc |= sink__sql_string(&b, q.p, q.len);
    rc |= sink__buf_puts(&b, ", N'U')");
    if (rc || sink__buf_cstr(&b) || sink__buf_cstr(&q)) {
        sink__buf_free(&q);
        sink__buf_free(&b);
        return nomem(m);
    }
    char id[32];
    bool exists = false;
    rc = run_q(m, b.p, "table lookup", id, sizeof id, &exists);
    if (!rc && exists) {
        b.len = 0;
        int e = sink__buf_puts(&b, "SELECT TOP 1 ");
        e |= sink__buf_puts(&b, expr);
        e |= sink__buf_puts(&b, " FROM ");
        e |= sink__buf_put(&b, q.p, q.len);
        if (where) {
            e |= sink__buf_puts(&b, " WHERE ");
            e |= sink__buf_puts(&b, where);
        }
        if (e || sink__buf_cstr(&b))
            rc = nomem(m);
        else
            rc = run_q(m, b.p, "lookup", out, cap, found);
    }
    sink__buf_free(&q);
    sink__buf_free(&b);
    return rc;
}

const sink_vtable sink_mssql_vtable = {.scheme = "mssql", .alias = "sqlserver", .open = ms_open,
                                       .begin = ms_begin, .append = ms_append, .commit = ms_commit,
                                       .abort = ms_abort, .close = ms_close, .lookup = ms_lookup};
const sink_vtable sink_azuresql_vtable = {.scheme = "azuresql", .alias = "azure-sql", .open = az_open,
                                          .begin = ms_begin, .append = ms_append, .commit = ms_commit,
                                          .abort = ms_abort, .close = ms_close, .lookup = ms_lookup};
