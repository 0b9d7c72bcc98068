/*
 * server.c — tdstestd's libuv loop: listeners, connections, and each
 * connection's state machine PRELOGIN → [TLS] → LOGIN7 → login reply →
 * requests, with the query half's cursors stepped under back-pressure.
 *
 * Owns: accepting (plain TDS 7.x listener and the TDS 8.0 strict one),
 * reading (plain bytes go straight into the engine's lent buffer; TLS
 * ciphertext goes into conn->raw, then through OpenSSL into the lent
 * buffer), event dispatch, cursor stepping, closing and freeing.
 *
 * Invariants:
 *  - The socket is read only while no event is held. An event that cannot
 *    be handled yet (a request arriving while a cursor still runs) is held
 *    with reading stopped, so its views (into the engine's receive buffer)
 *    stay valid until it is handled.
 *  - A cursor is stepped only while fewer than NET_HIGH_WATER bytes are in
 *    flight; a completed uv_write resumes it.
 *  - A connection is freed only after both its uv handles (tcp, drip
 *    timer) have closed; until then every callback checks c->closing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

/* ---------------------------------------------------------------- logging */

void net_log(const net_conn *c, const char *fmt, ...)
{
    if (c && c->srv->cfg->verbose <= 0)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c)
        fprintf(stderr, "tdstestd: conn %llu: %s\n", (unsigned long long)c->id, buf);
    else
        fprintf(stderr, "tdstestd: %s\n", buf);
}

/* ------------------------------------------------------- closing, freeing */

static void conn_release_request(net_conn *c)
{
    free(c->req_copy);
    free(c->req_scratch);
    free(c->req_params);
    c->req_copy = NULL;
    c->req_scratch = NULL;
    c->req_params = NULL;
}

static void conn_free(net_conn *c)
{
    net_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    if (c->cur)
        srv_cursor_free(c->cur);
    conn_release_request(c);
    if (c->qc)
        srv_conn_free(c->qc);
    tds_session_free(c->s);
    net_tls_free(c->tls);
    net_faults_free(c);
    free(c->raw);
    free(c);
}

static void handle_closed(uv_handle_t *h)
{
    net_conn *c = h->data;
    if (--c->handles == 0)
        conn_free(c);
}

void net_conn_close(net_conn *c)
{
    if (c->closing)
        return;
    net_log(c, "closing");
    c->closing = true;
    c->state = NC_CLOSING;
    uv_timer_stop(&c->faults.timer);
    uv_close((uv_handle_t *)&c->faults.timer, handle_closed);
    uv_close((uv_handle_t *)&c->tcp, handle_closed);
}

static void conn_read_stop(net_conn *c)
{
    if (c->reading && !c->closing)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

void net_conn_close_after_flush(net_conn *c)
{
    if (c->closing)
        return;
    net_conn_flush(c);
    if (c->closing)
        return;
    c->state = NC_CLOSING;
    conn_read_stop(c);
    if (c->inflight == 0)
        net_conn_close(c);
}

/* ------------------------------------------------------------------ send */

static void tls_flush_out(net_conn *c)
{
    uint8_t tmp[16384 + 512];
    size_t n;
    while (!c->closing && (n = net_tls_out(c->tls, tmp, sizeof tmp)) > 0)
        net_wire_write(c, tmp, n);
}

void net_conn_flush(net_conn *c)
{
    while (!c->closing) {
        const uint8_t *p;
        size_t n;
        tds_send_buf(c->s, &p, &n);
        if (n == 0)
            break;
        if (c->tls_wire) {
            if (net_tls_write(c->tls, p, n) < 0) {
                net_conn_close(c);
                return;
            }
            tds_send_ack(c->s, n);
            tls_flush_out(c);
        } else {
            net_wire_write(c, p, n);
            tds_send_ack(c->s, n);
        }
    }
}

/* ---------------------------------------------------------------- cursors */

static void conn_events(net_conn *c);
static void conn_pump_tls(net_conn *c);
static void conn_read_start(net_conn *c);
static void conn_dispatch(net_conn *c, tds_event *ev);

static void cursor_finish(net_conn *c)
{
    srv_cursor_free(c->cur);
    c->cur = NULL;
    conn_release_request(c);
}

/* Handles a held event, then goes back to reading. */
static void conn_resume(net_conn *c)
{
    if (c->closing || c->cur)
        return;
    if (c->held) {
        tds_event ev = c->held_ev;
        c->held = false;
        conn_dispatch(c, &ev);
        if (c->closing || c->held || c->cur)
            return;
        conn_events(c);
        if (c->closing || c->held)
            return;
    }
    if (c->tls_wire)
        conn_pump_tls(c);
    if (!c->closing && !c->held && c->state != NC_CLOSING)
        conn_read_start(c);
}

static void conn_step(net_conn *c)
{
    if (c->stepping)
        return;
    c->stepping = true;
    while (c->cur && !c->closing) {
        if (c->faults.stalled || c->inflight >= NET_HIGH_WATER)
            break; /* net_conn_write_done resumes */
        int r = srv_cursor_step(c->cur, c->s, NET_STEP_BUDGET);
        net_conn_flush(c);
        if (c->closing)
            break;
        if (r == SRV_MORE)
            continue;
        cursor_finish(c);
        if (r < 0) {
            net_log(c, "cursor failed: %s", tds_strerror(r));
            net_conn_close(c);
            break;
        }
        if (r == SRV_CLOSE) {
            net_log(c, "fault: close after this reply");
            net_conn_close_after_flush(c);
            break;
        }
        if (r == SRV_STALL) {
            net_log(c, "fault: stall");
            c->faults.stalled = true;
        }
        net_faults_poll(c);
        c->stepping = false;
        conn_resume(c); /* may start the next cursor */
        if (c->stepping)
            return;
        c->stepping = true;
    }
    c->stepping = false;
}

static void conn_start_cursor(net_conn *c, srv_cursor *cur)
{
    if (!cur) {
        net_log(c, "out of memory starting a reply");
        net_conn_close(c);
        return;
    }
    c->cur = cur;
    net_faults_poll(c);
    conn_step(c);
}

void net_conn_write_done(net_conn *c, size_t n)
{
    c->inflight -= n <= c->inflight ? n : c->inflight;
    if (c->closing)
        return;
    if ((c->faults.close_pending || c->state == NC_CLOSING)) {
        if (c->inflight == 0)
            net_conn_close(c);
        return;
    }
    if (c->cur && !c->stepping && c->inflight < NET_HIGH_WATER)
        conn_step(c);
}

/* --------------------------------------------------------------- requests */

static uint8_t *copy_payload(net_conn *c, const uint8_t *p, size_t n)
{
    free(c->req_copy);
    c->req_copy = malloc(n ? n : 1);
    if (c->req_copy)
        memcpy(c->req_copy, p, n);
    return c->req_copy;
}

static void req_batch(net_conn *c, const uint8_t *p, size_t n)
{
    uint8_t *in = copy_payload(c, p, n);
    size_t cap = n / 2 * 3 + 16;
    char *sql = malloc(cap);
    c->req_scratch = sql;
    if (!in || !sql) {
        net_conn_close(c);
        return;
    }
    size_t sql_len = 0;
    uint64_t tran = 0;
    int r = tds_sql_batch_decode(in, n, sql, cap, &sql_len, &tran);
    if (r < 0) {
        net_log(c, "bad SQL_BATCH: %s", tds_strerror(r));
        net_conn_close(c);
        return;
    }
    net_log(c, "batch: %.*s", (int)(sql_len > 200 ? 200 : sql_len), sql);
    conn_start_cursor(c, srv_exec_batch(c->qc, sql, sql_len));
}

static void req_rpc(net_conn *c, const uint8_t *p, size_t n)
{
    uint8_t *in = copy_payload(c, p, n);
    size_t max = 2048;
    size_t scap = n * 2 + 4096;
    tds_param *params = calloc(max, sizeof *params);
    uint8_t *scratch = malloc(scap);
    c->req_params = params;
    c->req_scratch = scratch;
    if (!in || !params || !scratch) {
        net_conn_close(c);
        return;
    }
    tds_rpc_decoded rpc;
    memset(&rpc, 0, sizeof rpc);
    int np = tds_rpc_decode(in, n, &rpc, params, max, scratch, scap);
    if (np < 0) {
        net_log(c, "bad RPC: %s", tds_strerror(np));
        net_conn_close(c);
        return;
    }
    net_log(c, "rpc: id %u name %s, %d params", rpc.proc_id,
            rpc.proc_name.ptr ? rpc.proc_name.ptr : "-", np);
    conn_start_cursor(c, srv_exec_rpc(c->qc, &rpc, params, (size_t)np));
}

static void req_attention(net_conn *c)
{
    net_log(c, "attention");
    if (c->cur) {
        srv_cursor_cancel(c->cur);
        conn_step(c);
        return;
    }
    /* The reply had ended already: acknowledge on a message of its own. */
    if (tds_msg_begin(c->s, TDS_PKT_REPLY, 0) < 0 ||
        tds_put_done(c->s, TDS_TOK_DONE, TDS_DONE_ATTN, 0, 0) < 0 ||
        tds_msg_end(c->s) < 0) {
        net_conn_close(c);
        return;
    }
    net_conn_flush(c);
}

/* Transaction manager request (MS-TDS 2.2.6.9): BEGIN, COMMIT, ROLLBACK,
 * SAVE; answered with the ENVCHANGE SQL Server sends. pytds uses it when
 * autocommit is off. */
enum { TM_GET_DTC = 0, TM_PROPAGATE = 1, TM_BEGIN = 5, TM_PROMOTE = 6,
       TM_COMMIT = 7, TM_ROLLBACK = 8, TM_SAVE = 9 };

static int tm_env(net_conn *c, uint8_t type, uint64_t new_d, uint64_t old_d)
{
    uint8_t nb[8], ob[8];
    tds_envchange e;
    memset(&e, 0, sizeof e);
    e.type = type;
    for (int i = 0; i < 8; i++) {
        nb[i] = (uint8_t)(new_d >> (8 * i));
        ob[i] = (uint8_t)(old_d >> (8 * i));
    }
    if (new_d) {
        e.new_raw = nb;
        e.new_raw_len = 8;
    }
    if (old_d) {
        e.old_raw = ob;
        e.old_raw_len = 8;
    }
    return tds_put_envchange(c->s, &e);
}

static void req_tranmgr(net_conn *c, const uint8_t *p, size_t n)
{
    if (n < 6) {
        net_conn_close(c);
        return;
    }
    uint32_t hl = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                  ((uint32_t)p[3] << 24);
    if (hl < 4 || hl + 2 > n) {
        net_conn_close(c);
        return;
    }
    const uint8_t *q = p + hl;
    size_t left = n - hl;
    uint16_t type = (uint16_t)(q[0] | (q[1] << 8));
    q += 2;
    left -= 2;
    int r = tds_msg_begin(c->s, TDS_PKT_REPLY, 0);
    uint64_t old = c->tran;
    switch (type) {
    case TM_BEGIN:
        c->tran = ++c->tran_seq | 0x0100000000000000ull;
        if (r == 0)
            r = tm_env(c, TDS_ENV_BEGIN_TRAN, c->tran, 0);
        break;
    case TM_COMMIT:
    case TM_ROLLBACK: {
        /* name (B_VARCHAR), then fBeginXact */
        size_t namelen = left ? (size_t)q[0] * 2 : 0;
        bool begin = left > 1 + namelen && q[1 + namelen] != 0;
        if (r == 0 && old)
            r = tm_env(c, type == TM_COMMIT ? TDS_ENV_COMMIT_TRAN : TDS_ENV_ROLLBACK_TRAN, 0, old);
        c->tran = 0;
        if (begin) {
            c->tran = ++c->tran_seq | 0x0100000000000000ull;
            if (r == 0)
                r = tm_env(c, TDS_ENV_BEGIN_TRAN, c->tran, 0);
        }
        break;
    }
    case TM_SAVE:
        break;
    default: {
        tds_server_msg m;
        memset(&m, 0, sizeof m);
        m.number = 40000;
        m.state = 1;
        m.severity = 16;
        m.message.ptr = "Transaction manager request not supported by tdstestd.";
        m.message.len = strlen(m.message.ptr);
        m.server.ptr = c->srv->settings.server_name;
        m.server.len = m.server.ptr ? strlen(m.server.ptr) : 0;
        if (r == 0)
            r = tds_put_error(c->s, &m);
        if (r == 0)
            r = tds_put_done(c->s, TDS_TOK_DONE, TDS_DONE_ERROR, 0, 0);
        if (r == 0)
            r = tds_msg_end(c->s);
        if (r < 0)
            net_conn_close(c);
        else
            net_conn_flush(c);
        return;
    }
    }
    if (r == 0)
        r = tds_put_done(c->s, TDS_TOK_DONE, 0, 0, 0);
    if (r == 0)
        r = tds_msg_end(c->s);
    if (r < 0) {
        net_log(c, "transaction reply: %s", tds_strerror(r));
        net_conn_close(c);
        return;
    }
    net_log(c, "transaction request %u", type);
    net_conn_flush(c);
}

/* ---------------------------------------------------------------- bulk */

static void bulk_end(net_conn *c)
{
    c->bulk_active = false;
    c->bulk_failed = false;
    conn_start_cursor(c, srv_bulk_end(c->qc));
}

/* ------------------------------------------------------------ dispatching */

static void tls7_handshake_msg(net_conn *c, const uint8_t *p, size_t n)
{
    if (net_tls_feed(c->tls, p, n) < 0) {
        net_conn_close(c);
        return;
    }
    int r = net_tls_handshake(c->tls);
    size_t pend = net_tls_out_pending(c->tls);
    if (pend > 0) {
        uint8_t *out = malloc(pend);
        if (!out) {
            net_conn_close(c);
            return;
        }
        size_t got = net_tls_out(c->tls, out, pend);
        /* One PRELOGIN message per client message: pytds and tedious read
         * exactly one reply per handshake flight. */
        int e = tds_send_message(c->s, TDS_PKT_PRELOGIN, out, got);
        free(out);
        if (e < 0) {
            net_conn_close(c);
            return;
        }
        net_conn_flush(c);
    }
    if (r < 0) {
        net_log(c, "TLS handshake (in PRELOGIN) failed");
        net_conn_close_after_flush(c);
        return;
    }
    if (r == 1) {
        net_log(c, "TLS %s up (%s)", net_tls_version(c->tls),
                c->enc == NET_ENC_LOGIN_ONLY ? "login only" : "full");
        c->tls_wire = true;
        c->state = NC_LOGIN;
    }
}

static void on_message(net_conn *c, tds_event *ev)
{
    uint8_t type = ev->u.message.type;
    const uint8_t *p = ev->u.message.data;
    size_t n = ev->u.message.len;

    switch (c->state) {
    case NC_PRELOGIN:
        if (type != TDS_PKT_PRELOGIN) {
            net_log(c, "expected PRELOGIN, got packet type 0x%02x", type);
            net_conn_close(c);
            return;
        }
        if (net_prelogin_handle(c, p, n) < 0)
            net_conn_close_after_flush(c);
        return;
    case NC_TLS_HS:
        if (type != TDS_PKT_PRELOGIN) {
            net_log(c, "expected TLS in PRELOGIN, got packet type 0x%02x", type);
            net_conn_close(c);
            return;
        }
        tls7_handshake_msg(c, p, n);
        return;
    case NC_LOGIN:
        if (type != TDS_PKT_LOGIN7) {
            net_log(c, "expected LOGIN7, got packet type 0x%02x", type);
            net_conn_close(c);
            return;
        }
        if (c->enc == NET_ENC_LOGIN_ONLY)
            c->tls_wire = false; /* the reply and all after it are plain */
        if (net_login7_handle(c, p, n) < 0)
            net_conn_close_after_flush(c);
        return;
    case NC_READY:
        break;
    default:
        return;
    }

    if (type == TDS_PKT_ATTENTION) {
        req_attention(c);
        return;
    }
    if (c->cur) { /* a request while the reply still runs: park it */
        c->held = true;
        c->held_ev = *ev;
        conn_read_stop(c);
        return;
    }
    switch (type) {
    case TDS_PKT_SQL_BATCH:
        req_batch(c, p, n);
        break;
    case TDS_PKT_RPC:
        req_rpc(c, p, n);
        break;
    case TDS_PKT_TRANSACTION:
        req_tranmgr(c, p, n);
        break;
    default:
        net_log(c, "unexpected packet type 0x%02x after login", type);
        net_conn_close(c);
        break;
    }
}

static void conn_dispatch(net_conn *c, tds_event *ev)
{
    if (ev->type == TDS_EV_MESSAGE) {
        on_message(c, ev);
        return;
    }
    if (c->state != NC_READY) {
        net_log(c, "token event %d before login", ev->type);
        net_conn_close(c);
        return;
    }
    /* Token events come only from BULK messages. */
    if (c->cur && (ev->type == TDS_EV_COLMETADATA || !c->bulk_active)) {
        c->held = true;
        c->held_ev = *ev;
        conn_read_stop(c);
        return;
    }
    int r = 0;
    switch (ev->type) {
    case TDS_EV_COLMETADATA:
        c->bulk_active = true;
        c->bulk_failed = false;
        r = srv_bulk_columns(c->qc, ev->u.colmeta.cols, ev->u.colmeta.ncols);
        break;
    case TDS_EV_ROW:
        if (c->bulk_active && !c->bulk_failed)
            r = srv_bulk_row(c->qc, ev->u.row.cols, ev->u.row.values, ev->u.row.ncols);
        break;
    case TDS_EV_DONE:
    case TDS_EV_MESSAGE_END:
        /* FreeTDS ends the BULK message right after its last ROW; the
         * specified form has a DONE token first. Accept both, end once. */
        if (c->bulk_active)
            bulk_end(c);
        break;
    default:
        net_log(c, "ignoring token event %d", ev->type);
        break;
    }
    if (r < 0) {
        /* srv_bulk_end reports the rejection; keep draining the rows. */
        net_log(c, "bulk load rejected: %d", r);
        c->bulk_failed = true;
    }
}

static void conn_events(net_conn *c)
{
    tds_event ev;
    while (!c->held && !c->closing && c->state != NC_CLOSING) {
        int r = tds_next(c->s, &ev);
        if (r == 0)
            break;
        if (r < 0) {
            net_log(c, "protocol error: %s at offset %llu", tds_strerror(r),
                    (unsigned long long)tds_error_offset(c->s));
            net_conn_close(c);
            break;
        }
        conn_dispatch(c, &ev);
    }
}

/* ---------------------------------------------------------------- reading */

static void conn_pump_tls(net_conn *c)
{
    while (c->tls_wire && !c->held && !c->closing && c->state != NC_CLOSING) {
        uint8_t *p;
        size_t n;
        if (tds_recv_buf(c->s, &p, &n) != TDS_OK || n == 0) {
            net_conn_close(c);
            return;
        }
        int r = net_tls_read(c->tls, p, n);
        tls_flush_out(c);
        if (r < 0) {
            net_log(c, "TLS closed or failed");
            net_conn_close(c);
            return;
        }
        if (r == 0)
            return;
        if (tds_recv_ack(c->s, (size_t)r) != TDS_OK) {
            net_log(c, "bad packet: %s", tds_strerror(tds_session_error(c->s)));
            net_conn_close(c);
            return;
        }
        conn_events(c);
    }
}

static void tls_input(net_conn *c, const uint8_t *p, size_t n)
{
    if (net_tls_feed(c->tls, p, n) < 0) {
        net_conn_close(c);
        return;
    }
    if (!net_tls_done(c->tls)) { /* strict: TLS first on the raw socket */
        int r = net_tls_handshake(c->tls);
        tls_flush_out(c);
        if (r < 0) {
            net_log(c, "strict TLS handshake failed");
            net_conn_close_after_flush(c);
            return;
        }
        if (r == 0)
            return;
        net_log(c, "strict TLS %s up, ALPN \"%s\"", net_tls_version(c->tls),
                net_tls_alpn(c->tls));
        c->state = NC_PRELOGIN;
    }
    conn_pump_tls(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    net_conn *c = h->data;
    if (c->tls_wire) {
        *b = uv_buf_init((char *)c->raw, NET_RAW_BUF);
        return;
    }
    uint8_t *p;
    size_t n;
    if (tds_recv_buf(c->s, &p, &n) != TDS_OK || n == 0) {
        *b = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    *b = uv_buf_init((char *)p, (unsigned)n);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    net_conn *c = st->data;
    if (c->closing)
        return;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_ENOBUFS)
            net_log(c, "engine refused to lend a buffer: %s",
                    tds_strerror(tds_session_error(c->s)));
        else if (nread != UV_EOF)
            net_log(c, "read: %s", uv_strerror((int)nread));
        else
            net_log(c, "peer closed");
        net_conn_close(c);
        return;
    }
    if (c->tls_wire) {
        tls_input(c, (const uint8_t *)b->base, (size_t)nread);
        return;
    }
    if (tds_recv_ack(c->s, (size_t)nread) != TDS_OK) {
        net_log(c, "bad packet: %s", tds_strerror(tds_session_error(c->s)));
        net_conn_close(c);
        return;
    }
    conn_events(c);
}

static void conn_read_start(net_conn *c)
{
    if (c->reading || c->closing)
        return;
    int r = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (r < 0) {
        net_log(c, "uv_read_start: %s", uv_strerror(r));
        net_conn_close(c);
        return;
    }
    c->reading = true;
}

/* -------------------------------------------------------------- listening */

static void on_connection(uv_stream_t *l, int status)
{
    net_server *srv = l->data;
    if (status < 0 || srv->stopping)
        return;
    net_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = srv;
    c->id = ++srv->next_id;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    net_faults_init(c);
    c->handles = 2;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        net_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    tds_session_opts o;
    memset(&o, 0, sizeof o);
    o.role = TDS_ROLE_SERVER;
    c->s = tds_session_new(&o);
    c->raw = malloc(NET_RAW_BUF);
    c->packet_size = TDS_PACKET_DEFAULT;
    c->strict_listener = (l == (uv_stream_t *)&srv->strict_tcp);
    if (!c->s || !c->raw) {
        net_conn_close(c);
        return;
    }
    if (c->strict_listener) {
        c->tls = net_tls_new(srv->tls, true);
        if (!c->tls) {
            net_conn_close(c);
            return;
        }
        c->tls_wire = true;
        c->enc = NET_ENC_STRICT;
        c->state = NC_TLS_STRICT;
    } else {
        c->state = NC_PRELOGIN;
    }
    net_log(c, "accepted on the %s listener", c->strict_listener ? "strict" : "TDS 7.x");
    conn_read_start(c);
}

int net_server_init(net_server *srv, uv_loop_t *loop, const net_config *cfg,
                    srv_db *db, char *err, size_t errcap)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = cfg;
    srv->db = db;
    const srv_settings *st = srv_db_settings(db);
    if (st)
        srv->settings = *st;
    if (!srv->settings.server_name)
        srv->settings.server_name = "tdstestd";
    if (!srv->settings.version)
        srv->settings.version = 0x10000FA0u; /* 16.0.4000 */
    if (!srv->settings.max_packet_size)
        srv->settings.max_packet_size = TDS_PACKET_MAX;
    if (cfg->route_host) {
        srv->settings.route_host = cfg->route_host;
        srv->settings.route_port = cfg->route_port;
    }
    if (cfg->fedauth_required)
        srv->settings.fedauth_required = true;
    if (cfg->cert_file && cfg->key_file) {
        srv->tls = net_tls_ctx_new(cfg->cert_file, cfg->key_file, err, errcap);
        if (!srv->tls)
            return -1;
    } else if (cfg->tls_mode != NET_TLS_OFF || cfg->strict_port >= 0) {
        snprintf(err, errcap, "--tls-mode on/required and --strict-port need --tls-cert and --tls-key");
        return -1;
    }
    return 0;
}

static int listen_on(net_server *srv, uv_tcp_t *t, int port, int *bound)
{
    struct sockaddr_storage ss;
    int r;
    if (strchr(srv->cfg->host, ':'))
        r = uv_ip6_addr(srv->cfg->host, port, (struct sockaddr_in6 *)&ss);
    else
        r = uv_ip4_addr(srv->cfg->host, port, (struct sockaddr_in *)&ss);
    if (r < 0)
        return r;
    uv_tcp_init(srv->loop, t);
    t->data = srv;
    r = uv_tcp_bind(t, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)t, 128, on_connection);
    if (r < 0)
        return r;
    struct sockaddr_storage got;
    int len = sizeof got;
    r = uv_tcp_getsockname(t, (struct sockaddr *)&got, &len);
    if (r < 0)
        return r;
    if (got.ss_family == AF_INET6)
        *bound = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
    else
        *bound = ntohs(((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

int net_server_listen(net_server *srv)
{
    int r = listen_on(srv, &srv->listen_tcp, srv->cfg->port, &srv->port);
    if (r < 0)
        return r;
    if (srv->cfg->strict_port >= 0) {
        srv->strict_on = true;
        r = listen_on(srv, &srv->strict_tcp, srv->cfg->strict_port, &srv->strict_port);
        if (r < 0)
            return r;
    }
    return 0;
}

void net_server_stop(net_server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    if (!uv_is_closing((uv_handle_t *)&srv->listen_tcp) && srv->listen_tcp.loop)
        uv_close((uv_handle_t *)&srv->listen_tcp, NULL);
    if (srv->strict_on && srv->strict_tcp.loop && !uv_is_closing((uv_handle_t *)&srv->strict_tcp))
        uv_close((uv_handle_t *)&srv->strict_tcp, NULL);
    /* Replies in progress are dropped: a test server stops when told. */
    for (net_conn *c = srv->conns; c; c = c->next)
        net_conn_close(c);
}

void net_server_free(net_server *srv)
{
    net_tls_ctx_free(srv->tls);
    srv->tls = NULL;
}
