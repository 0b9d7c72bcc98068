/*
 * bulk.c — the BulkLoadBCP message ([MS-TDS] 2.2.6.1, packet type 0x07)
 * on a blocking client: COLMETADATA, ROW tokens, DONE, streamed to the
 * server while it is built, then the server's reply.
 *
 * Owns: net_bulk_* (see net.h) and the framing of bulk rows: ROW tokens
 * through a row plan (net_bulk_rows), or value by value with (max) values
 * as PLP of unknown length in 8,000-byte chunks (net_bulk_rows_values), so
 * callers never write wire bytes. The message is one request of the async
 * core (state NS_BUSY from the first byte), so a server that closes the
 * connection or answers early (an error) ends it through the usual
 * complete() path and the next call reports it.
 *
 * Memory: rows are put in slices; whenever the engine holds more than
 * BULK_FLUSH bytes of sealed packets they go to the socket, and while the
 * socket has more than BULK_HIGH_WATER bytes unwritten the loop runs until
 * it drains (back-pressure), so a load of any size holds a bounded buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define BULK_FLUSH (256u * 1024u)
#define BULK_HIGH_WATER (1024u * 1024u)
#define BULK_SLICE 256u /* rows per tds_put_rows call between flush checks */
#define BULK_PLP_CHUNK 8000u /* bytes per PLP chunk of a (max) value */

struct net_bulk {
    net_client *cl;
    net_conn *c;
    const tds_column *cols; /* as given to begin (borrowed) */
    uint16_t ncols;
    bool done;          /* the request completed (early: an error or a close) */
    net_error err;      /* its outcome */
    uint64_t rowcount;  /* the DONE count of the reply */
    bool have_count;
};

static void b_done(void *ud, uint8_t token, uint16_t status, uint64_t rowcount)
{
    net_bulk *b = ud;
    (void)token;
    if (status & TDS_DONE_COUNT) {
        b->rowcount = rowcount;
        b->have_count = true;
    }
}

static void b_complete(void *ud, const net_error *err)
{
    net_bulk *b = ud;
    b->done = true;
    uv_stop(b->c->loop); /* its loop runs UV_RUN_ONCE until done: see net/blocking.c finish() */
    if (err)
        b->err = *err;
    else
        net__error_clear(&b->err);
}

static const net_result_cb bulk_cb = {.done = b_done, .complete = b_complete};

static void copy_err(net_error *dst, const net_error *src)
{
    if (dst)
        *dst = *src;
}

/* The failure that ended the message early, as one line. */
static int early_end(net_bulk *b, net_error *err)
{
    if (b->err.code == NET_OK)
        net__fail(&b->err, NET_E_PROTO, "the server answered the bulk load before it was complete");
    copy_err(err, &b->err);
    return b->err.code;
}

net_bulk *net_bulk_begin(net_client *cl, const tds_column *cols, uint16_t ncols, net_error *err)
{
    net_error e;
    net_conn *c = cl ? net_client_conn(cl) : NULL;
    if (!c || c->closing || c->state != NS_READY || !c->s) {
        net__fail(&e, NET_E_STATE, "the connection cannot start a bulk load now");
        copy_err(err, &e);
        return NULL;
    }
    if (!ncols || !cols) {
        net__fail(&e, NET_E_ARG, "a bulk load needs columns");
        copy_err(err, &e);
        return NULL;
    }
    net_bulk *b = calloc(1, sizeof *b);
    if (!b) {
        net__fail(&e, NET_E_NOMEM, "out of memory");
        copy_err(err, &e);
        return NULL;
    }
    b->cl = cl;
    b->c = c;
    b->cols = cols;
    b->ncols = ncols;
    int rc = tds_msg_begin(c->s, TDS_PKT_BULK, 0);
    if (!rc && (rc = tds_put_colmetadata(c->s, cols, ncols)))
        tds_msg_abort(c->s);
    if (rc) {
        net__fail(&e, rc == TDS_E_NOMEM ? NET_E_NOMEM : NET_E_ARG, "cannot describe the bulk columns: %s",
                  tds_strerror(rc));
        copy_err(err, &e);
        /* the engine holds a half-begun message: this connection is done */
        net__fail_now(c, &e);
        free(b);
        return NULL;
    }
    /* A request of the async core from now on (request.c's fields). */
    c->cb_copy = bulk_cb;
    c->cb = &c->cb_copy;
    c->cb_ud = b;
    c->paused = c->cancel_sent = c->cancel_by_timeout = c->aborted_by_cb = false;
    c->attn_seen = c->reply_ended = false;
    c->rows = 0;
    net__error_clear(&c->req_err);
    c->state = NS_BUSY;
    return b;
}

int net_bulk_plan(net_bulk *b, tds_row_plan **out, net_error *err)
{
    int t = tds_row_plan_new(b->c->s, TDS_TOK_ROW, b->cols, b->ncols, out);
    if (!t)
        return NET_OK;
    net_error e;
    net__fail(&e, t == TDS_E_NOMEM ? NET_E_NOMEM : NET_E_ARG, "a column type cannot be bulk loaded: %s",
              tds_strerror(t));
    copy_err(err, &e);
    return e.code;
}

tds_session *net_bulk_session(net_bulk *b)
{
    return b && !b->done && b->c->state == NS_BUSY ? b->c->s : NULL;
}

size_t net_bulk_pending(const net_bulk *b)
{
    return b->done ? 0 : tds_send_pending(b->c->s);
}

/* Sends sealed packets once enough are queued and waits while the socket
 * is behind. */
static int bulk_flush(net_bulk *b, net_error *err)
{
    net_conn *c = b->c;
    if (b->done)
        return early_end(b, err);
    if (tds_send_pending(c->s) >= BULK_FLUSH) {
        if (net__flush(c)) {
            net_error e = c->last_err;
            net__fail_now(c, &e);
            return early_end(b, err);
        }
    }
    while (!b->done && c->tcp && net_tcp_write_pending(c->tcp) > BULK_HIGH_WATER)
        uv_run(c->loop, UV_RUN_ONCE);
    if (b->done)
        return early_end(b, err);
    return NET_OK;
}

int net_bulk_rows(net_bulk *b, const tds_row_plan *p, const tds_value *vals, size_t nrows, size_t *nput,
                  net_error *err)
{
    size_t done = 0;
    uint16_t nc = tds_row_plan_ncols(p);
    int rc = NET_OK;
    while (done < nrows) {
        if ((rc = bulk_flush(b, err)))
            break;
        size_t k = nrows - done < BULK_SLICE ? nrows - done : BULK_SLICE, put = 0;
        int t = tds_put_rows(b->c->s, p, vals + done * nc, k, &put);
        done += put;
        if (t) {
            net_error e;
            rc = net__fail(&e, t == TDS_E_NOMEM ? NET_E_NOMEM : NET_E_ARG, "%s", tds_strerror(t));
            copy_err(err, &e);
            break;
        }
    }
    if (nput)
        *nput = done;
    return rc;
}

/* One value of a (max) column: PLP of unknown total length, in chunks
 * ([MS-TDS] 2.2.5.2.3), the form a streamed value takes. */
static int put_plp(tds_session *s, const tds_value *v)
{
    if (v->flags & TDS_VF_NULL)
        return tds_put_plp_begin(s, true);
    int rc = tds_put_plp_begin(s, false);
    for (uint32_t off = 0; !rc && off < v->len; off += BULK_PLP_CHUNK)
        rc = tds_put_plp_chunk(s, v->ptr + off, v->len - off < BULK_PLP_CHUNK ? v->len - off : BULK_PLP_CHUNK);
    return rc ? rc : tds_put_plp_end(s);
}

/* One ROW token, value by value. */
static int put_row_values(net_bulk *b, const tds_value *row, size_t r, net_error *err)
{
    tds_session *s = b->c->s;
    uint8_t tok = TDS_TOK_ROW;
    int rc = tds_put_bytes(s, &tok, 1);
    uint16_t c = 0;
    for (; c < b->ncols && !rc; c++)
        rc = b->cols[c].is_plp ? put_plp(s, &row[c]) : tds_put_value(s, &b->cols[c], &row[c]);
    if (!rc)
        return NET_OK;
    const tds_str *name = &b->cols[c - 1].name;
    net_error e;
    net__fail(&e, rc == TDS_E_NOMEM ? NET_E_NOMEM : NET_E_ARG, "row %zu, column %.*s: %s", r + 1,
              name->ptr ? (int)name->len : 1, name->ptr ? name->ptr : "?", tds_strerror(rc));
    copy_err(err, &e);
    return e.code;
}

int net_bulk_rows_values(net_bulk *b, const tds_value *vals, size_t nrows, size_t *nput, net_error *err)
{
    size_t r = 0;
    int rc = NET_OK;
    for (; r < nrows; r++) {
        if ((rc = bulk_flush(b, err)) || (rc = put_row_values(b, vals + r * b->ncols, r, err)))
            break;
    }
    if (nput)
        *nput = r;
    return rc;
}

int net_bulk_end(net_bulk *b, uint64_t *rows, net_error *err)
{
    net_conn *c = b->c;
    int rc = NET_OK;
    if (b->done) {
        rc = early_end(b, err);
        free(b);
        return rc;
    }
    int t = tds_put_done(c->s, TDS_TOK_DONE, TDS_DONE_FINAL, 0, 0);
    if (!t)
        t = tds_msg_end(c->s);
    if (t) {
        net_error e;
        net__fail(&e, NET_E_NOMEM, "cannot end the bulk load: %s", tds_strerror(t));
        net__fail_now(c, &e);
    } else if (net__flush(c)) {
        net_error e = c->last_err;
        net__fail_now(c, &e);
    } else {
        net__query_timer_restart(c);
        net__pump(c);
    }
    while (!b->done)
        uv_run(c->loop, UV_RUN_ONCE);
    rc = b->err.code;
    copy_err(err, &b->err);
    if (rows)
        *rows = b->have_count ? b->rowcount : 0;
    free(b);
    return rc;
}

void net_bulk_abort(net_bulk *b)
{
    if (!b)
        return;
    net_conn *c = b->c;
    if (!b->done) {
        /* A half-sent BulkLoadBCP cannot be taken back reliably (servers
         * differ on the IGNORE bit for bulk data): the connection is
         * closed, and the server rolls back the session's transaction. */
        net_error e;
        net__fail(&e, NET_E_CANCELLED, "the bulk load was abandoned and the connection closed");
        net__fail_now(c, &e);
        while (!b->done)
            uv_run(c->loop, UV_RUN_ONCE);
    }
    free(b);
}
