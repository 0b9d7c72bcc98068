/*
 * request.c — requests on an open connection: SQL batch and RPC streamed
 * into the caller's callbacks, pause/resume (back-pressure), cancel by
 * ATTENTION with its own timeout, and the query timeout.
 *
 * Invariants: complete() runs exactly once per accepted request, after
 * which the connection is READY (or DEAD when the transport failed).
 * After ATTENTION nothing reaches the caller's callbacks: everything up to
 * the DONE with DONE_ATTN (and the end of its message) is discarded.
 * The query timer runs only while we wait for the server: it is restarted
 * by every read and stopped while the consumer has paused.
 */
#include <string.h>

#include "net_int.h"

static void on_query_timeout(uv_timer_t *t);

void net__query_timer_restart(net_conn *c)
{
    if (c->state == NS_BUSY && !c->cancel_sent && !c->paused && c->o.query_timeout_ms)
        uv_timer_start(&c->req_timer, on_query_timeout, c->o.query_timeout_ms, 0);
}

static void on_cancel_timeout(uv_timer_t *t);

static void send_attention(net_conn *c)
{
    if (c->state != NS_BUSY || c->cancel_sent)
        return;
    c->cancel_sent = true;
    c->paused = false;
    net_error err;
    int rc = tds_send_attention(c->s);
    if (rc) {
        net__fail(&err, NET_E_NOMEM, "cannot queue the cancel request: %s", tds_strerror(rc));
        net__fail_now(c, &err);
        return;
    }
    if (net__flush(c)) {
        err = c->last_err;
        net__fail_now(c, &err);
        return;
    }
    uint32_t to = c->o.cancel_timeout_ms ? c->o.cancel_timeout_ms : NET_DEFAULT_CANCEL_TIMEOUT_MS;
    uv_timer_start(&c->req_timer, on_cancel_timeout, to, 0);
}

static void on_cancel_timeout(uv_timer_t *t)
{
    net_conn *c = t->data;
    if (c->state != NS_BUSY)
        return;
    net_error err;
    net__fail(&err, NET_E_TIMEOUT,
              "%s:%u did not acknowledge the cancel within %u ms; the connection was closed", c->host,
              (unsigned)c->port,
              (unsigned)(c->o.cancel_timeout_ms ? c->o.cancel_timeout_ms : NET_DEFAULT_CANCEL_TIMEOUT_MS));
    net__fail_now(c, &err);
}

static void on_query_timeout(uv_timer_t *t)
{
    net_conn *c = t->data;
    if (c->state != NS_BUSY || c->cancel_sent)
        return;
    c->cancel_by_timeout = true;
    send_attention(c);
    net__pump(c);
}

void net__request_finish(net_conn *c, const net_error *err)
{
    uv_timer_stop(&c->req_timer);
    if (c->state == NS_BUSY)
        c->state = NS_READY;
    c->paused = false;
    net_result_cb cb = c->cb_copy;
    void *ud = c->cb_ud;
    c->cb = NULL;
    memset(&c->cb_copy, 0, sizeof c->cb_copy);
    if (cb.complete)
        cb.complete(ud, err);
}

void net__request_event(net_conn *c, const tds_event *ev)
{
    const net_result_cb *cb = &c->cb_copy;
    if (c->cancel_sent) {
        /* Discard until the DONE with DONE_ATTN, then its message's end. */
        if (ev->type == TDS_EV_DONE && (ev->u.done.status & TDS_DONE_ATTN))
            c->attn_seen = true;
        if (ev->type == TDS_EV_MESSAGE_END && c->attn_seen) {
            net_error err;
            if (c->cancel_by_timeout)
                net__fail(&err, NET_E_TIMEOUT, "the query timed out after %u ms without data from the server and was cancelled",
                          (unsigned)c->o.query_timeout_ms);
            else if (c->aborted_by_cb)
                net__fail(&err, NET_E_CANCELLED, "the request was aborted by its consumer");
            else
                net__fail(&err, NET_E_CANCELLED, "the request was cancelled");
            net__request_finish(c, &err);
        }
        return;
    }
    int r;
    switch (ev->type) {
    case TDS_EV_COLMETADATA:
        if (cb->columns && cb->columns(c->cb_ud, ev->u.colmeta.cols, ev->u.colmeta.ncols) < 0) {
            c->aborted_by_cb = true;
            send_attention(c);
        }
        break;
    case TDS_EV_ROW:
        c->rows++;
        r = cb->row ? cb->row(c->cb_ud, ev->u.row.cols, ev->u.row.ncols, ev->u.row.values) : NET_ROW_NEXT;
        if (r == NET_ROW_PAUSE && !c->cancel_sent) {
            c->paused = true;
            uv_timer_stop(&c->req_timer);
        } else if (r < 0) {
            c->aborted_by_cb = true;
            send_attention(c);
        }
        break;
    case TDS_EV_PLP_CHUNK:
        if (cb->plp && cb->plp(c->cb_ud, ev->u.plp.col, ev->u.plp.data, ev->u.plp.len) < 0) {
            c->aborted_by_cb = true;
            send_attention(c);
        }
        break;
    case TDS_EV_DONE:
        if (cb->done)
            cb->done(c->cb_ud, ev->token, ev->u.done.status, ev->u.done.rowcount);
        break;
    case TDS_EV_ERROR:
        if (ev->u.msg.severity > 10 && c->req_err.code == NET_OK)
            net__server_error(&c->req_err, NET_E_SERVER, &ev->u.msg);
        if (cb->message)
            cb->message(c->cb_ud, &ev->u.msg, true);
        break;
    case TDS_EV_INFO:
        if (cb->message)
            cb->message(c->cb_ud, &ev->u.msg, false);
        break;
    case TDS_EV_RETURNSTATUS:
        if (cb->return_status)
            cb->return_status(c->cb_ud, ev->u.return_status);
        break;
    case TDS_EV_RETURNVALUE:
        if (cb->return_value)
            cb->return_value(c->cb_ud, ev->u.retval.col, ev->u.retval.name.ptr, ev->u.retval.value);
        break;
    case TDS_EV_MESSAGE_END:
        net__request_finish(c, c->req_err.code ? &c->req_err : NULL);
        break;
    default:
        break;
    }
}

static int request_begin(net_conn *c, const net_result_cb *cb, void *ud)
{
    if (!c || c->closing || c->state != NS_READY || !c->s)
        return NET_E_STATE;
    c->cb_copy = cb ? *cb : (net_result_cb){0};
    c->cb = &c->cb_copy;
    c->cb_ud = ud;
    c->paused = c->cancel_sent = c->cancel_by_timeout = c->aborted_by_cb = false;
    c->attn_seen = c->reply_ended = false;
    c->rows = 0;
    net__error_clear(&c->req_err);
    return NET_OK;
}

static int request_sent(net_conn *c, int rc)
{
    if (rc) {
        c->cb = NULL;
        return rc == TDS_E_NOMEM ? NET_E_NOMEM : NET_E_ARG;
    }
    c->state = NS_BUSY;
    rc = net__flush(c);
    if (rc) {
        net_error err = c->last_err;
        net__fail_now(c, &err);
        return NET_OK; /* complete() has reported it */
    }
    net__query_timer_restart(c);
    net__pump(c);
    return NET_OK;
}

int net_conn_batch(net_conn *c, const char *sql, size_t len, const net_result_cb *cb, void *ud)
{
    int rc = request_begin(c, cb, ud);
    if (rc)
        return rc;
    return request_sent(c, tds_send_sql_batch(c->s, sql, len));
}

int net_conn_rpc(net_conn *c, const tds_rpc *r, const net_result_cb *cb, void *ud)
{
    int rc = request_begin(c, cb, ud);
    if (rc)
        return rc;
    return request_sent(c, tds_send_rpc(c->s, r));
}

void net_conn_resume(net_conn *c)
{
    if (!c || !c->paused || c->closing)
        return;
    c->paused = false;
    net__query_timer_restart(c);
    net__pump(c);
}

void net_conn_cancel(net_conn *c)
{
    if (c && !c->closing && c->open_cb) {
        net__open_cancel(c);
        return;
    }
    if (!c || c->closing || c->state != NS_BUSY || c->cancel_sent)
        return;
    send_attention(c);
    net__pump(c);
}
