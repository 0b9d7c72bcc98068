/*
 * faults.c — the wire writer of tdstestd and the faults it can inject.
 *
 * Owns: every uv_write (srv_net_raw_write), the in-flight byte count used for
 * back-pressure, and three wire faults the query half asks for through
 * srv_conn_faults() (polled after each request) or the cursor's step
 * result: close after N reply bytes, drip reply bytes one at a time with a
 * delay, and stall (never send again). Also the per-connection throughput
 * cap (--rate-limit-mbs, a real server's per-session rate): every byte
 * goes through the drip queue, released by a 1 ms timer as a token bucket
 * allows (at most 20 ms of burst); queued bytes count as in flight, so the
 * cursor stops generating rows while the cap holds them back. The same cap
 * applies to received bytes (bulk loads): reading pauses while what
 * arrived exceeds the credit, and the timer resumes it.
 *
 * Invariants: bytes are copied before uv_write, so callers may reuse their
 * buffers at once; the drip timer handle is initialised with the
 * connection and closed with it (server.c frees the connection after both
 * close callbacks ran).
 */
#include <stdlib.h>
#include <string.h>

#include "network_int.h"

typedef struct wreq {
    uv_write_t req;
    srv_net_conn *c;
    size_t n;
    uint8_t data[];
} wreq;

static void write_cb(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    srv_net_conn *c = w->c;
    size_t n = w->n;
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        srv_net_log(c, "write failed: %s", uv_strerror(status));
    srv_net_conn_write_done(c, n);
}

int srv_net_raw_write(srv_net_conn *c, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (c->closing)
        return -1;
    wreq *w = malloc(sizeof *w + n);
    if (!w)
        return -1;
    w->c = c;
    w->n = n;
    memcpy(w->data, p, n);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)n);
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
    if (r < 0) {
        free(w);
        srv_net_log(c, "uv_write: %s", uv_strerror(r));
        return -1;
    }
    c->inflight += n;
    return 0;
}

static void drip_cb(uv_timer_t *t);

/* A token bucket's credit, refilled at rate_bps since *last_ms and capped
 * at a burst of 20 ms of rate (at least min_burst bytes). */
static void refill(double *credit, uint64_t *last_ms, uint64_t now, double rate_bps, double min_burst)
{
    double burst = rate_bps / 50 > min_burst ? rate_bps / 50 : min_burst;
    *credit += (double)(now - *last_ms) * rate_bps / 1000.0;
    *credit = *credit > burst ? burst : *credit;
    *last_ms = now;
}

/* The cap: as many queued bytes as the credit earned since the last tick. */
static void pace_tick(srv_net_conn *c, srv_net_faults *f)
{
    refill(&f->credit, &f->pace_ms, uv_now(c->srv->loop), f->rate_bps, 4096);
    size_t n = f->dq_len - f->dq_pos;
    if ((double)n > f->credit)
        n = (size_t)f->credit;
    if (!n)
        return;
    if (srv_net_raw_write(c, f->dq + f->dq_pos, n) < 0) {
        uv_timer_stop(&f->timer);
        return;
    }
    f->credit -= (double)n;
    f->dq_pos += n;
    c->inflight -= n; /* counted when queued */
    if (f->dq_pos == f->dq_len) {
        f->dq_pos = f->dq_len = 0;
        if (!f->rx_paused)
            uv_timer_stop(&f->timer);
    }
}

/* The receive half of the cap: credit earned since the last read. */
static void rx_refill(srv_net_conn *c, srv_net_faults *f)
{
    refill(&f->rx_credit, &f->rx_ms, uv_now(c->srv->loop), f->rate_bps, 65536);
}

void srv_net_faults_received(srv_net_conn *c, size_t n)
{
    srv_net_faults *f = &c->faults;
    if (f->rate_bps <= 0 || c->closing)
        return;
    uv_update_time(c->srv->loop);
    rx_refill(c, f);
    f->rx_credit -= (double)n;
    if (f->rx_credit >= 0 || !c->reading)
        return;
    srv_net_conn_read_stop(c); /* until the debt is paid (drip_cb) */
    f->rx_paused = true;
    if (!uv_is_active((uv_handle_t *)&f->timer))
        uv_timer_start(&f->timer, drip_cb, 1, 1);
}

/* A paused reader resumes once the credit is back (the dispatcher may
 * have started reading meanwhile: then nothing to do). */
static void rx_tick(srv_net_conn *c, srv_net_faults *f)
{
    rx_refill(c, f);
    if (f->rx_credit < 0)
        return;
    f->rx_paused = false;
    if (!c->reading)
        srv_net_conn_read_start(c);
}

static void drip_cb(uv_timer_t *t)
{
    srv_net_conn *c = t->data;
    srv_net_faults *f = &c->faults;
    if (f->rx_paused && !c->closing)
        rx_tick(c, f);
    if (c->closing || f->dq_pos >= f->dq_len) {
        if (c->closing || !f->rx_paused)
            uv_timer_stop(t);
        return;
    }
    if (!f->drip && f->rate_bps > 0) {
        pace_tick(c, f);
        return;
    }
    if (srv_net_raw_write(c, f->dq + f->dq_pos, 1) < 0) {
        uv_timer_stop(t);
        return;
    }
    f->dq_pos++;
    c->inflight--; /* counted when queued */
    if (f->dq_pos == f->dq_len) {
        f->dq_pos = f->dq_len = 0;
        uv_timer_stop(t);
    }
}

static int drip_queue(srv_net_conn *c, const uint8_t *p, size_t n)
{
    srv_net_faults *f = &c->faults;
    if (f->dq_pos > 0 && f->dq_pos == f->dq_len)
        f->dq_pos = f->dq_len = 0;
    if (f->dq_len + n > f->dq_cap) {
        size_t cap = f->dq_cap ? f->dq_cap : 4096;
        while (cap < f->dq_len + n)
            cap *= 2;
        uint8_t *q = realloc(f->dq, cap);
        if (!q)
            return -1;
        f->dq = q;
        f->dq_cap = cap;
    }
    memcpy(f->dq + f->dq_len, p, n);
    f->dq_len += n;
    c->inflight += n; /* queued bytes count against the high-water mark */
    if (!uv_is_active((uv_handle_t *)&f->timer)) {
        uint64_t ms = f->drip_ms && f->drip ? f->drip_ms : 1;
        if (!f->drip && f->rate_bps > 0) { /* the bucket refills from now, and sends at once what it holds */
            uv_update_time(c->srv->loop);
            if (uv_now(c->srv->loop) > f->pace_ms + 1)
                f->pace_ms = uv_now(c->srv->loop) - 1;
            uv_timer_start(&f->timer, drip_cb, 0, ms);
        } else {
            uv_timer_start(&f->timer, drip_cb, ms, ms);
        }
    }
    return 0;
}

int srv_net_wire_write(srv_net_conn *c, const uint8_t *p, size_t n)
{
    srv_net_faults *f = &c->faults;
    if (c->closing)
        return -1;
    if (f->stalled || f->close_pending)
        return 0; /* swallowed: the fault decides what the peer sees */
    if (f->close_after) {
        uint64_t left = f->close_after > f->sent ? f->close_after - f->sent : 0;
        if (n >= left) {
            n = (size_t)left;
            f->close_pending = true;
            srv_net_log(c, "fault: closing after %llu reply bytes",
                    (unsigned long long)f->close_after);
        }
        f->sent += n;
    }
    int r = 0;
    if (n > 0)
        r = (f->drip || f->rate_bps > 0 || f->dq_len > f->dq_pos) ? drip_queue(c, p, n)
                                                : srv_net_raw_write(c, p, n);
    if (f->close_pending)
        srv_net_conn_write_done(c, 0); /* closes at once if nothing is in flight */
    return r;
}

void srv_net_faults_init(srv_net_conn *c)
{
    memset(&c->faults, 0, sizeof c->faults);
    uv_timer_init(c->srv->loop, &c->faults.timer);
    c->faults.timer.data = c;
    c->faults.timer_init = true;
    c->faults.rate_bps = c->srv->cfg ? c->srv->cfg->rate_limit_mbs * 1e6 : 0;
    c->faults.pace_ms = c->faults.rx_ms = uv_now(c->srv->loop);
}

void srv_net_faults_free(srv_net_conn *c)
{
    free(c->faults.dq);
    c->faults.dq = NULL;
    c->faults.dq_len = c->faults.dq_pos = c->faults.dq_cap = 0;
}

void srv_net_faults_poll(srv_net_conn *c)
{
    if (!c->qc)
        return;
    const srv_wire_faults *w = srv_conn_faults(c->qc);
    if (!w)
        return;
    srv_net_faults *f = &c->faults;
    if (w->close_after_bytes != f->close_after) {
        f->close_after = w->close_after_bytes;
        f->sent = 0; /* counted from the request that set it */
    }
    if (w->drip != f->drip || w->drip_delay_ms != f->drip_ms) {
        f->drip = w->drip;
        f->drip_ms = w->drip_delay_ms;
        if (f->drip)
            srv_net_log(c, "fault: drip, %u ms per byte", (unsigned)f->drip_ms);
    }
}
