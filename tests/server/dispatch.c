/*
 * dispatch.c — a connection's state machine PRELOGIN → [TLS] → LOGIN7 →
 * requests: engine events to their handlers, BULK token events to the
 * query half, and the reply cursors stepped under back-pressure.
 *
 * Invariants:
 *  - An event that cannot be handled yet (a request arriving while a cursor
 *    still runs) is held with reading stopped, and handled when the cursor
 *    ends.
 *  - A cursor is stepped only while fewer than SRV_NET_HIGH_WATER bytes are in
 *    flight; a completed uv_write resumes it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network_int.h"

/* ---------------------------------------------------------------- cursors */

static void conn_dispatch(srv_net_conn *c, tds_event *ev);

static void cursor_finish(srv_net_conn *c)
{
    srv_cursor_free(c->cur);
    c->cur = NULL;
    srv_net_conn_release_request(c);
}

/* Handles a held event, then goes back to reading. */
static void conn_resume(srv_net_conn *c)
{
    if (c->closing || c->cur)
        return;
    if (c->held) {
        tds_event ev = c->held_ev;
        c->held = false;
        conn_dispatch(c, &ev);
        if (c->closing || c->held || c->cur)
            return;
        srv_net_conn_events(c);
        if (c->closing || c->held)
            return;
    }
    if (c->tls_wire)
        srv_net_conn_pump_tls(c);
    if (!c->closing && !c->held && c->state != NC_CLOSING)
        srv_net_conn_read_start(c);
}

void srv_net_conn_step(srv_net_conn *c)
{
    if (c->stepping)
        return;
    c->stepping = true;
    while (c->cur && !c->closing) {
        if (c->faults.stalled || c->inflight >= SRV_NET_HIGH_WATER)
            break; /* srv_net_conn_write_done resumes */
        int r = srv_cursor_step(c->cur, c->s, SRV_NET_STEP_BUDGET);
        srv_net_conn_flush(c);
        if (c->closing)
            break;
        if (r == SRV_MORE)
            continue;
        cursor_finish(c);
        if (r < 0) {
            srv_net_log(c, "cursor failed: %s", tds_strerror(r));
            srv_net_conn_close(c);
            break;
        }
        if (r == SRV_CLOSE) {
            srv_net_log(c, "fault: close after this reply");
            srv_net_conn_close_after_flush(c);
            break;
        }
        if (r == SRV_STALL) {
            srv_net_log(c, "fault: stall");
            c->faults.stalled = true;
        }
        srv_net_faults_poll(c);
        c->stepping = false;
        conn_resume(c); /* may start the next cursor */
        if (c->stepping)
            return;
        c->stepping = true;
    }
    c->stepping = false;
}

void srv_net_conn_start_cursor(srv_net_conn *c, srv_cursor *cur)
{
    if (!cur) {
        srv_net_log(c, "out of memory starting a reply");
        srv_net_conn_close(c);
        return;
    }
    c->cur = cur;
    srv_net_faults_poll(c);
    srv_net_conn_step(c);
}

void srv_net_conn_write_done(srv_net_conn *c, size_t n)
{
    c->inflight -= n <= c->inflight ? n : c->inflight;
    if (c->closing)
        return;
    if ((c->faults.close_pending || c->state == NC_CLOSING)) {
        if (c->inflight == 0)
            srv_net_conn_close(c);
        return;
    }
    if (c->cur && !c->stepping && c->inflight < SRV_NET_HIGH_WATER)
        srv_net_conn_step(c);
}

/* ---------------------------------------------------------------- bulk */

void srv_net_bulk_end(srv_net_conn *c)
{
    c->bulk_active = false;
    c->bulk_failed = false;
    srv_net_conn_start_cursor(c, srv_bulk_end(c->qc));
}

/* ------------------------------------------------------------ dispatching */

static void tls7_handshake_msg(srv_net_conn *c, const uint8_t *p, size_t n)
{
    if (srv_net_tls_feed(c->tls, p, n) < 0) {
        srv_net_conn_close(c);
        return;
    }
    int r = srv_net_tls_handshake(c->tls);
    size_t pend = srv_net_tls_out_pending(c->tls);
    if (pend > 0) {
        uint8_t *out = malloc(pend);
        if (!out) {
            srv_net_conn_close(c);
            return;
        }
        size_t got = srv_net_tls_out(c->tls, out, pend);
        /* One PRELOGIN message per client message: pytds and tedious read
         * exactly one reply per handshake flight. */
        int e = tds_send_message(c->s, TDS_PKT_PRELOGIN, out, got);
        free(out);
        if (e < 0) {
            srv_net_conn_close(c);
            return;
        }
        srv_net_conn_flush(c);
    }
    if (r < 0) {
        srv_net_log(c, "TLS handshake (in PRELOGIN) failed");
        srv_net_conn_close_after_flush(c);
        return;
    }
    if (r == 1) {
        srv_net_log(c, "TLS %s up (%s)", srv_net_tls_version(c->tls),
                c->enc == SRV_NET_ENC_LOGIN_ONLY ? "login only" : "full");
        c->tls_wire = true;
        c->state = NC_LOGIN;
    }
}

static void on_message(srv_net_conn *c, tds_event *ev)
{
    uint8_t type = ev->u.message.type;
    const uint8_t *p = ev->u.message.data;
    size_t n = ev->u.message.len;

    switch (c->state) {
    case NC_PRELOGIN:
        if (type != TDS_PKT_PRELOGIN) {
            srv_net_log(c, "expected PRELOGIN, got packet type 0x%02x", type);
            srv_net_conn_close(c);
            return;
        }
        if (srv_net_prelogin_handle(c, p, n) < 0)
            srv_net_conn_close_after_flush(c);
        return;
    case NC_TLS_HS:
        if (type != TDS_PKT_PRELOGIN) {
            srv_net_log(c, "expected TLS in PRELOGIN, got packet type 0x%02x", type);
            srv_net_conn_close(c);
            return;
        }
        tls7_handshake_msg(c, p, n);
        return;
    case NC_LOGIN:
        if (c->fa_wait) { /* FEDAUTH ADAL: the token message (fedauth.c) */
            if (srv_net_fedauth_token_handle(c, type, p, n) < 0)
                srv_net_conn_close_after_flush(c);
            return;
        }
        if (type != TDS_PKT_LOGIN7) {
            srv_net_log(c, "expected LOGIN7, got packet type 0x%02x", type);
            srv_net_conn_close(c);
            return;
        }
        if (c->enc == SRV_NET_ENC_LOGIN_ONLY)
            c->tls_wire = false; /* the reply and all after it are plain */
        if (srv_net_login7_handle(c, p, n) < 0)
            srv_net_conn_close_after_flush(c);
        return;
    case NC_READY:
        break;
    default:
        return;
    }

    if (type == TDS_PKT_ATTENTION) {
        srv_net_req_attention(c);
        return;
    }
    if (c->cur) { /* a request while the reply still runs: park it */
        c->held = true;
        c->held_ev = *ev;
        srv_net_conn_read_stop(c);
        return;
    }
    switch (type) {
    case TDS_PKT_SQL_BATCH:
        srv_net_req_batch(c, p, n);
        break;
    case TDS_PKT_RPC:
        srv_net_req_rpc(c, p, n);
        break;
    case TDS_PKT_TRANSACTION:
        srv_net_req_tranmgr(c, p, n);
        break;
    default:
        srv_net_log(c, "unexpected packet type 0x%02x after login", type);
        srv_net_conn_close(c);
        break;
    }
}

static void conn_dispatch(srv_net_conn *c, tds_event *ev)
{
    if (ev->type == TDS_EV_MESSAGE) {
        on_message(c, ev);
        return;
    }
    if (c->state != NC_READY) {
        srv_net_log(c, "token event %d before login", ev->type);
        srv_net_conn_close(c);
        return;
    }
    /* Token events come only from BULK messages. */
    if (c->cur && (ev->type == TDS_EV_COLMETADATA || !c->bulk_active)) {
        c->held = true;
        c->held_ev = *ev;
        srv_net_conn_read_stop(c);
        return;
    }
    int r = 0;
    switch (ev->type) {
    case TDS_EV_COLMETADATA:
        c->bulk_active = true;
        c->bulk_failed = false;
        /* --verbose: the client's bulk metadata, one line per column, so
         * clients can be compared on the wire (tests/cli/e2e_freebcp_compare.sh) */
        for (uint16_t i = 0; i < ev->u.colmeta.ncols; i++) {
            const tds_column *k = &ev->u.colmeta.cols[i];
            srv_net_log(c, "bulk column %u %s: type 0x%02X len %u prec %u scale %u flags 0x%04X collation %02X%02X%02X%02X%02X",
                    (unsigned)i, k->name.ptr ? k->name.ptr : "", k->type, (unsigned)k->max_len, k->precision,
                    k->scale, k->flags, k->collation.raw[0], k->collation.raw[1], k->collation.raw[2],
                    k->collation.raw[3], k->collation.raw[4]);
        }
        r = srv_bulk_columns(c->qc, ev->u.colmeta.cols, ev->u.colmeta.ncols);
        break;
    case TDS_EV_ROW:
        if (c->bulk_active && !c->bulk_failed)
            r = srv_bulk_row(c->qc, ev->u.row.cols, ev->u.row.values, ev->u.row.ncols);
        if (r == SRV_BULK_CLOSE) {
            srv_net_log(c, "fault: closing in mid-bulk");
            srv_net_conn_close(c);
            return;
        }
        break;
    case TDS_EV_DONE:
    case TDS_EV_MESSAGE_END:
        /* FreeTDS ends the BULK message right after its last ROW; the
         * specified form has a DONE token first. Accept both, end once. */
        if (c->bulk_active)
            srv_net_bulk_end(c);
        break;
    default:
        srv_net_log(c, "ignoring token event %d", ev->type);
        break;
    }
    if (r < 0) {
        /* srv_bulk_end reports the rejection; keep draining the rows. */
        srv_net_log(c, "bulk load rejected: %d", r);
        c->bulk_failed = true;
    }
}

void srv_net_conn_events(srv_net_conn *c)
{
    tds_event ev;
    while (!c->held && !c->closing && c->state != NC_CLOSING) {
        int r = tds_next(c->s, &ev);
        if (r == 0)
            break;
        if (r < 0) {
            srv_net_log(c, "protocol error: %s at offset %llu", tds_strerror(r),
                    (unsigned long long)tds_error_offset(c->s));
            srv_net_conn_close(c);
            break;
        }
        conn_dispatch(c, &ev);
    }
}
