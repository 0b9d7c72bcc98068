/*
 * blocking.c — a small blocking wrapper over the async core: a private
 * uv loop per client, run until each call is done.
 *
 * Owns: net_client_* (open with retries, batch/RPC to completion, batch
 * with retries that never repeat an attempt whose rows reached the
 * caller, cancel from other threads through uv_async, or from a flag the
 * caller's own signal handler sets: the library installs no signal
 * handler).
 *
 * The flag is checked by a timer that runs only while a call waits (open,
 * request, retry wait), fires at once and then every 100 ms, and is
 * unreferenced: it never keeps a loop alive, and a call that completes
 * returns at once (uv_stop), not at the next tick.
 * NET_ROW_PAUSE means nothing here (the loop would never resume), so it is
 * treated as NET_ROW_NEXT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

struct net_client {
    uv_loop_t loop;
    net_conn *c;
    uv_async_t async;       /* net_client_cancel from anywhere */
    uv_timer_t cancel_poll;  /* checks *cancel_flag while a call waits */
    const volatile sig_atomic_t *cancel_flag;
    bool cancelled;          /* the flag was seen during this call */
    bool done;
    bool closed;
    net_error err;
    /* the running request */
    const net_result_cb *user;
    void *user_ud;
    uint64_t rows;
};

static void run_until(net_client *cl, bool *flag)
{
    while (!*flag)
        uv_run(&cl->loop, UV_RUN_ONCE);
}

/* Sets a flag run_until waits for. uv_stop: the flag may be set by a timer
 * callback at the start of a UV_RUN_ONCE iteration, which would then block
 * in its poll on an idle socket forever. */
static void finish(net_client *cl, bool *flag)
{
    *flag = true;
    uv_stop(&cl->loop);
}

static void on_open(net_conn *c, const net_error *err, void *ud)
{
    (void)c;
    net_client *cl = ud;
    if (err)
        cl->err = *err;
    else
        net__error_clear(&cl->err);
    finish(cl, &cl->done);
}

static void on_async(uv_async_t *a)
{
    net_client *cl = a->data;
    if (cl->c)
        net_conn_cancel(cl->c);
}

#define CANCEL_POLL_MS 100

/* Cancels what is waiting: a request (ATTENTION), an open, or a retry
 * wait (run loops end at uv_stop and see cl->cancelled). */
static void on_cancel_poll(uv_timer_t *t)
{
    net_client *cl = t->data;
    if (!cl->cancel_flag || !*cl->cancel_flag)
        return;
    uv_timer_stop(t);
    cl->cancelled = true;
    if (cl->c)
        net_conn_cancel(cl->c);
    uv_stop(&cl->loop);
}

/* Watches the flag for the length of one call. */
static void watch_begin(net_client *cl)
{
    cl->cancelled = false;
    if (cl->cancel_flag)
        uv_timer_start(&cl->cancel_poll, on_cancel_poll, 0, CANCEL_POLL_MS);
}

static void watch_end(net_client *cl)
{
    uv_timer_stop(&cl->cancel_poll);
}

static void on_closed(net_conn *c, void *ud)
{
    (void)c;
    net_client *cl = ud;
    cl->closed = true;
}

/* Opens cl->c from opts; returns 0 or the error code (in cl->err). */
static int client_connect(net_client *cl, const net_opts *o)
{
    cl->c = net_conn_new(&cl->loop, o, &cl->err);
    if (!cl->c)
        return cl->err.code;
    cl->done = false;
    watch_begin(cl);
    net_conn_open(cl->c, on_open, cl);
    run_until(cl, &cl->done);
    watch_end(cl);
    if (cl->err.code) {
        cl->closed = false;
        net_conn_close(cl->c, on_closed, cl);
        run_until(cl, &cl->closed);
        cl->c = NULL;
    }
    return cl->err.code;
}

net_client *net_client_open(const net_opts *o, net_error *err)
{
    net_client *cl = calloc(1, sizeof *cl);
    if (!cl) {
        net__fail(err, NET_E_NOMEM, "out of memory");
        return NULL;
    }
    if (uv_loop_init(&cl->loop)) {
        free(cl);
        net__fail(err, NET_E_NOMEM, "cannot create an event loop");
        return NULL;
    }
    uv_async_init(&cl->loop, &cl->async, on_async);
    cl->async.data = cl;
    uv_timer_init(&cl->loop, &cl->cancel_poll);
    uv_unref((uv_handle_t *)&cl->cancel_poll);
    cl->cancel_poll.data = cl;
    cl->cancel_flag = o ? o->cancel_flag : NULL;
    if (client_connect(cl, o)) {
        if (err)
            *err = cl->err;
        net_client_close(cl);
        return NULL;
    }
    return cl;
}

/* ------------------------------------------------------------- requests */

static int w_columns(void *ud, const tds_column *cols, uint16_t n)
{
    net_client *cl = ud;
    return cl->user->columns ? cl->user->columns(cl->user_ud, cols, n) : NET_ROW_NEXT;
}

static int w_row(void *ud, const tds_column *cols, uint16_t n, const tds_value *v)
{
    net_client *cl = ud;
    cl->rows++;
    int r = cl->user->row ? cl->user->row(cl->user_ud, cols, n, v) : NET_ROW_NEXT;
    return r == NET_ROW_PAUSE ? NET_ROW_NEXT : r;
}

static int w_plp(void *ud, uint16_t col, const uint8_t *d, size_t n)
{
    net_client *cl = ud;
    return cl->user->plp ? cl->user->plp(cl->user_ud, col, d, n) : NET_ROW_NEXT;
}

static void w_done(void *ud, uint8_t token, uint16_t status, uint64_t rowcount)
{
    net_client *cl = ud;
    if (cl->user->done)
        cl->user->done(cl->user_ud, token, status, rowcount);
}

static void w_message(void *ud, const tds_server_msg *m, bool is_error)
{
    net_client *cl = ud;
    if (cl->user->message)
        cl->user->message(cl->user_ud, m, is_error);
}

static void w_retstatus(void *ud, int32_t s)
{
    net_client *cl = ud;
    if (cl->user->return_status)
        cl->user->return_status(cl->user_ud, s);
}

static void w_retval(void *ud, const tds_column *col, const char *name, const tds_value *v)
{
    net_client *cl = ud;
    if (cl->user->return_value)
        cl->user->return_value(cl->user_ud, col, name, v);
}

static void w_complete(void *ud, const net_error *err)
{
    net_client *cl = ud;
    if (err)
        cl->err = *err;
    else
        net__error_clear(&cl->err);
    finish(cl, &cl->done);
    if (cl->user->complete)
        cl->user->complete(cl->user_ud, err);
}

static const net_result_cb wrap = {w_columns, w_row, w_plp, w_done, w_message, w_retstatus, w_retval, w_complete};

static int run_request(net_client *cl, const char *sql, const tds_rpc *r, const net_result_cb *cb,
                       void *ud, net_error *err)
{
    static const net_result_cb none = {0};
    if (!cl->c) {
        net__fail(&cl->err, NET_E_STATE, "not connected%s%s", cl->err.message[0] ? ": " : "",
                  cl->err.message);
        if (err)
            *err = cl->err;
        return cl->err.code;
    }
    cl->user = cb ? cb : &none;
    cl->user_ud = ud;
    cl->rows = 0;
    cl->done = false;
    net__error_clear(&cl->err);
    watch_begin(cl);
    int rc = sql ? net_conn_batch(cl->c, sql, strlen(sql), &wrap, cl) : net_conn_rpc(cl->c, r, &wrap, cl);
    if (rc) {
        net__fail(&cl->err, rc, "%s", rc == NET_E_STATE && cl->c->last_err.code
                                          ? cl->c->last_err.message
                                          : "the connection cannot take a request now");
        cl->done = true;
    }
    run_until(cl, &cl->done);
    watch_end(cl);
    if (err)
        *err = cl->err;
    return cl->err.code;
}

int net_client_batch(net_client *cl, const char *sql, const net_result_cb *cb, void *ud, net_error *err)
{
    return run_request(cl, sql, NULL, cb, ud, err);
}

int net_client_rpc(net_client *cl, const tds_rpc *r, const net_result_cb *cb, void *ud, net_error *err)
{
    return run_request(cl, NULL, r, cb, ud, err);
}

static void on_sleep(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void t_closed(uv_handle_t *h)
{
    (void)h;
}

/* Waits ms on the loop. Returns false when the cancel flag ended it. */
static bool sleep_ms(net_client *cl, uint32_t ms)
{
    uv_timer_t t;
    bool fired = false;
    uv_timer_init(&cl->loop, &t);
    t.data = &fired;
    uv_timer_start(&t, on_sleep, ms, 0);
    watch_begin(cl);
    while (!fired && !cl->cancelled)
        uv_run(&cl->loop, UV_RUN_ONCE);
    watch_end(cl);
    uv_close((uv_handle_t *)&t, t_closed);
    uv_run(&cl->loop, UV_RUN_NOWAIT);
    return !cl->cancelled;
}

/* Reopens after a dead connection, with the options the old one kept. */
static int reconnect(net_client *cl)
{
    net_conn *old = cl->c;
    net_opts o = old->o;
    o.host = old->o.host;
    o.port = old->o.port;
    int rc = client_connect(cl, &o);
    net_conn *fresh = cl->c;
    cl->closed = false;
    net_conn_close(old, on_closed, cl);
    run_until(cl, &cl->closed);
    cl->c = fresh;
    return rc;
}

int net_client_batch_retry(net_client *cl, const char *sql, const net_result_cb *cb, void *ud, net_error *err)
{
    unsigned retries = cl->c ? cl->c->o.retries : 0;
    for (unsigned attempt = 1;; attempt++) {
        int rc = run_request(cl, sql, NULL, cb, ud, err);
        if (rc == NET_OK)
            return rc;
        /* Never repeat work whose rows a sink has already seen. */
        if (cl->rows > 0 || attempt > retries)
            return rc;
        net_error e = cl->err;
        bool dropped = rc == NET_E_CLOSED || rc == NET_E_IO;
        if (!net_error_transient(&e) && !dropped)
            return rc;
        if (!sleep_ms(cl, net__retry_wait(&cl->c->o, attempt))) {
            net__fail(&cl->err, NET_E_CANCELLED, "cancelled while waiting to retry (%s)", e.message);
            if (err)
                *err = cl->err;
            return cl->err.code;
        }
        if (!net_conn_is_open(cl->c) && reconnect(cl)) {
            if (err)
                *err = cl->err;
            return cl->err.code;
        }
    }
}

void net_client_cancel_flag(net_client *cl, const volatile sig_atomic_t *flag)
{
    cl->cancel_flag = flag;
}

void net_client_cancel(net_client *cl)
{
    uv_async_send(&cl->async);
}

net_conn *net_client_conn(net_client *cl) { return cl->c; }

static void h_closed(uv_handle_t *h)
{
    (void)h;
}

void net_client_close(net_client *cl)
{
    if (!cl)
        return;
    if (cl->c) {
        cl->closed = false;
        net_conn_close(cl->c, on_closed, cl);
        run_until(cl, &cl->closed);
        cl->c = NULL;
    }
    uv_close((uv_handle_t *)&cl->async, h_closed);
    uv_close((uv_handle_t *)&cl->cancel_poll, h_closed);
    uv_run(&cl->loop, UV_RUN_DEFAULT);
    uv_loop_close(&cl->loop);
    net_wipe(cl, sizeof *cl);
    free(cl);
}
