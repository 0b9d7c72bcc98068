/*
 * conn.c — one connection's bytes: reading (plain bytes straight into the
 * engine's lent buffer; TLS ciphertext into conn->raw, then through OpenSSL
 * into the lent buffer), sending what the engine queued (through TLS when
 * it is on the wire), closing and freeing.
 *
 * Invariants:
 *  - The socket is read only while no event is held (dispatch.c parks a
 *    request that arrives while a reply runs and stops reading), so views
 *    into the engine's receive buffer stay valid until handled.
 *  - A connection is freed only after both its uv handles (tcp, drip
 *    timer) have closed; until then every callback checks c->closing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network_int.h"

/* ------------------------------------------------------- closing, freeing */

void srv_net_conn_release_request(srv_net_conn *c)
{
    free(c->req_copy);
    free(c->req_scratch);
    free(c->req_params);
    c->req_copy = NULL;
    c->req_scratch = NULL;
    c->req_params = NULL;
}

static void conn_free(srv_net_conn *c)
{
    srv_net_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    if (c->cur)
        srv_cursor_free(c->cur);
    srv_net_conn_release_request(c);
    if (c->qc)
        srv_conn_free(c->qc);
    tds_session_free(c->s);
    srv_net_tls_free(c->tls);
    srv_net_fedauth_release(c); /* a LOGIN7 kept for the FEDAUTH_TOKEN step */
    srv_net_faults_free(c);
    free(c->raw);
    free(c);
}

static void handle_closed(uv_handle_t *h)
{
    srv_net_conn *c = h->data;
    if (--c->handles == 0)
        conn_free(c);
}

void srv_net_conn_close(srv_net_conn *c)
{
    if (c->closing)
        return;
    srv_net_log(c, "closing");
    c->closing = true;
    c->state = NC_CLOSING;
    uv_timer_stop(&c->faults.timer);
    uv_close((uv_handle_t *)&c->faults.timer, handle_closed);
    uv_close((uv_handle_t *)&c->tcp, handle_closed);
}

void srv_net_conn_read_stop(srv_net_conn *c)
{
    if (c->reading && !c->closing)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    c->faults.rx_paused = false; /* the dispatcher's stop: the cap must not resume */
}

void srv_net_conn_close_after_flush(srv_net_conn *c)
{
    if (c->closing)
        return;
    srv_net_conn_flush(c);
    if (c->closing)
        return;
    c->state = NC_CLOSING;
    srv_net_conn_read_stop(c);
    if (c->inflight == 0)
        srv_net_conn_close(c);
}

/* ------------------------------------------------------------------ send */

static void tls_flush_out(srv_net_conn *c)
{
    uint8_t tmp[16384 + 512];
    size_t n;
    while (!c->closing && (n = srv_net_tls_out(c->tls, tmp, sizeof tmp)) > 0)
        srv_net_wire_write(c, tmp, n);
}

void srv_net_conn_flush(srv_net_conn *c)
{
    while (!c->closing) {
        const uint8_t *p;
        size_t n;
        tds_send_buf(c->s, &p, &n);
        if (n == 0)
            break;
        if (c->tls_wire) {
            if (srv_net_tls_write(c->tls, p, n) < 0) {
                srv_net_conn_close(c);
                return;
            }
            tds_send_ack(c->s, n);
            tls_flush_out(c);
        } else {
            srv_net_wire_write(c, p, n);
            tds_send_ack(c->s, n);
        }
    }
}

/* ---------------------------------------------------------------- reading */

void srv_net_conn_pump_tls(srv_net_conn *c)
{
    while (c->tls_wire && !c->held && !c->closing && c->state != NC_CLOSING) {
        uint8_t *p;
        size_t n;
        if (tds_recv_buf(c->s, &p, &n) == TDS_OK && n == 0) {
            /* a whole message whose last event (its end) is still to be
             * pulled, e.g. after a BULK message: pull it, then read on */
            srv_net_conn_events(c);
            if (c->held || c->closing || c->state == NC_CLOSING)
                return;
            if (tds_recv_buf(c->s, &p, &n) == TDS_OK && n == 0) {
                srv_net_log(c, "engine lends no buffer with no event pending");
                srv_net_conn_close(c);
                return;
            }
        }
        if (tds_session_error(c->s) || n == 0) {
            srv_net_conn_close(c);
            return;
        }
        int r = srv_net_tls_read(c->tls, p, n);
        tls_flush_out(c);
        if (r < 0) {
            srv_net_log(c, "TLS closed or failed");
            srv_net_conn_close(c);
            return;
        }
        if (r == 0)
            return;
        if (tds_recv_ack(c->s, (size_t)r) != TDS_OK) {
            srv_net_log(c, "bad packet: %s", tds_strerror(tds_session_error(c->s)));
            srv_net_conn_close(c);
            return;
        }
        srv_net_conn_events(c);
    }
}

static void tls_input(srv_net_conn *c, const uint8_t *p, size_t n)
{
    if (srv_net_tls_feed(c->tls, p, n) < 0) {
        srv_net_conn_close(c);
        return;
    }
    if (!srv_net_tls_done(c->tls)) { /* strict: TLS first on the raw socket */
        int r = srv_net_tls_handshake(c->tls);
        tls_flush_out(c);
        if (r < 0) {
            srv_net_log(c, "strict TLS handshake failed");
            srv_net_conn_close_after_flush(c);
            return;
        }
        if (r == 0)
            return;
        srv_net_log(c, "strict TLS %s up, ALPN \"%s\"", srv_net_tls_version(c->tls),
                srv_net_tls_alpn(c->tls));
        c->state = NC_PRELOGIN;
    }
    srv_net_conn_pump_tls(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    srv_net_conn *c = h->data;
    if (c->tls_wire) {
        *b = uv_buf_init((char *)c->raw, SRV_NET_RAW_BUF);
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
    srv_net_conn *c = st->data;
    if (c->closing)
        return;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread == UV_ENOBUFS)
            srv_net_log(c, "engine refused to lend a buffer: %s",
                    tds_strerror(tds_session_error(c->s)));
        else if (nread != UV_EOF)
            srv_net_log(c, "read: %s", uv_strerror((int)nread));
        else
            srv_net_log(c, "peer closed");
        srv_net_conn_close(c);
        return;
    }
    if (c->tls_wire) {
        tls_input(c, (const uint8_t *)b->base, (size_t)nread);
        return;
    }
    if (tds_recv_ack(c->s, (size_t)nread) != TDS_OK) {
        srv_net_log(c, "bad packet: %s", tds_strerror(tds_session_error(c->s)));
        srv_net_conn_close(c);
        return;
    }
    srv_net_faults_received(c, (size_t)nread); /* --rate-limit-mbs on what arrives */
    srv_net_conn_events(c);
}

void srv_net_conn_read_start(srv_net_conn *c)
{
    if (c->reading || c->closing)
        return;
    int r = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (r < 0) {
        srv_net_log(c, "uv_read_start: %s", uv_strerror(r));
        srv_net_conn_close(c);
        return;
    }
    c->reading = true;
}
