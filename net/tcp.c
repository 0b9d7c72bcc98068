/*
 * tcp.c — one client TCP connection on libuv: resolve (IPv4 and IPv6),
 * try every address in turn with a per-address timeout, keepalive and
 * no-delay, a bounded read staging buffer, and copying writes.
 *
 * Invariants: the struct lives until every libuv request and handle it
 * started has called back (refs); after net_tcp_close no user callback
 * runs. Reading stops by itself when the staging buffer is full (the
 * consumer is paused), which is what pushes back on the server. Staged
 * bytes and writes marked wipe are zeroed before their memory is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define STAGE_CAP (256u * 1024u)

typedef struct tcp_sock {
    uv_tcp_t h;
    uv_connect_t creq;
    net_tcp *t;
} tcp_sock;

typedef struct tcp_wreq {
    uv_write_t req;
    net_tcp *t;
    uint8_t *buf;
    size_t n;
    bool wipe;
} tcp_wreq;

struct net_tcp {
    uv_loop_t *loop;
    char host[256];
    uint16_t port;
    uint32_t per_addr_ms;
    uint32_t keepalive_s;
    net_tcp_connect_cb connect_cb;
    net_tcp_read_cb read_cb;
    void *ud;

    uv_getaddrinfo_t gai;
    bool gai_active;
    struct addrinfo *ai;
    struct addrinfo *cur;
    unsigned tried;
    char last_err[128];

    tcp_sock *sock;          /* current attempt / the connection */
    uv_timer_t timer;        /* per-address timeout */
    bool timer_init;

    uint8_t *stage;
    size_t rpos, rlen;
    bool reading;
    bool connected;
    bool dead;               /* closed by the owner: no callbacks */
    int refs;                /* outstanding libuv callbacks + the owner */
    size_t write_pending;
    char peer[80];
};

static void tcp_unref(net_tcp *t)
{
    if (--t->refs > 0)
        return;
    if (t->ai)
        uv_freeaddrinfo(t->ai);
    if (t->stage) {
        net_wipe(t->stage, STAGE_CAP);
        free(t->stage);
    }
    free(t);
}

static void sock_closed(uv_handle_t *h)
{
    tcp_sock *s = h->data;
    net_tcp *t = s->t;
    free(s);
    tcp_unref(t);
}

static void sock_close(net_tcp *t)
{
    if (!t->sock)
        return;
    tcp_sock *s = t->sock;
    t->sock = NULL;
    t->reading = false;
    uv_close((uv_handle_t *)&s->h, sock_closed);
}

static void timer_closed(uv_handle_t *h)
{
    tcp_unref(h->data);
}

static void try_next(net_tcp *t);

static void fail_connect(net_tcp *t, int code, const char *fmt, const char *detail)
{
    net_error e;
    char msg[300];
    snprintf(msg, sizeof msg, fmt, detail);
    net__fail(&e, code, "%s", msg);
    if (t->timer_init)
        uv_timer_stop(&t->timer);
    if (!t->dead && t->connect_cb)
        t->connect_cb(t, code, &e, t->ud);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    } else {
        snprintf(out, cap, "?");
    }
}

static void on_connect(uv_connect_t *req, int status)
{
    tcp_sock *s = req->data;
    net_tcp *t = s->t;
    t->refs--; /* the connect request; the handle keeps its own ref */
    if (t->dead || t->sock != s)
        return;
    if (status == 0) {
        uv_timer_stop(&t->timer);
        t->connected = true;
        uv_tcp_nodelay(&s->h, 1);
        uv_tcp_keepalive(&s->h, 1, t->keepalive_s ? t->keepalive_s : NET_DEFAULT_KEEPALIVE_S);
        t->connect_cb(t, 0, NULL, t->ud);
        return;
    }
    if (status == UV_ECANCELED)
        return;
    snprintf(t->last_err, sizeof t->last_err, "%s", uv_strerror(status));
    sock_close(t);
    t->cur = t->cur->ai_next;
    try_next(t);
}

static void on_addr_timeout(uv_timer_t *tm)
{
    net_tcp *t = tm->data;
    if (t->dead || t->connected)
        return;
    snprintf(t->last_err, sizeof t->last_err, "timed out after %u ms", (unsigned)t->per_addr_ms);
    sock_close(t);
    if (t->cur)
        t->cur = t->cur->ai_next;
    try_next(t);
}

static void try_next(net_tcp *t)
{
    while (t->cur && t->cur->ai_family != AF_INET && t->cur->ai_family != AF_INET6)
        t->cur = t->cur->ai_next;
    if (!t->cur) {
        char d[300];
        snprintf(d, sizeof d, "%.100s:%u (%u address%s tried; last: %.80s)", t->host, (unsigned)t->port,
                 t->tried, t->tried == 1 ? "" : "es", t->last_err[0] ? t->last_err : "none");
        fail_connect(t, NET_E_CONNECT, "cannot connect to %s", d);
        return;
    }
    tcp_sock *s = calloc(1, sizeof *s);
    if (!s) {
        fail_connect(t, NET_E_NOMEM, "%s", "out of memory");
        return;
    }
    s->t = t;
    s->h.data = s;
    s->creq.data = s;
    uv_tcp_init(t->loop, &s->h);
    t->refs++; /* the handle */
    t->sock = s;
    t->tried++;
    addr_text(t->cur->ai_addr, t->peer, sizeof t->peer);
    int r = uv_tcp_connect(&s->creq, &s->h, t->cur->ai_addr, on_connect);
    if (r) {
        snprintf(t->last_err, sizeof t->last_err, "%s", uv_strerror(r));
        sock_close(t);
        t->cur = t->cur->ai_next;
        try_next(t);
        return;
    }
    t->refs++; /* the connect request */
    if (t->per_addr_ms && t->per_addr_ms != NET_NO_TIMEOUT)
        uv_timer_start(&t->timer, on_addr_timeout, t->per_addr_ms, 0);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    net_tcp *t = req->data;
    t->gai_active = false;
    if (t->dead) {
        if (res)
            uv_freeaddrinfo(res);
        tcp_unref(t);
        return;
    }
    t->refs--; /* never the last: the owner still holds one */
    if (status) {
        char d[300];
        snprintf(d, sizeof d, "'%s': %s", t->host, uv_strerror(status));
        fail_connect(t, NET_E_RESOLVE, "cannot resolve host name %s", d);
        return;
    }
    t->ai = res;
    t->cur = res;
    /* Share the budget so one black-holed address cannot eat all of it
     * (each still gets at least 1 s). */
    unsigned n = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        n++;
    if (n > 1 && t->per_addr_ms && t->per_addr_ms != NET_NO_TIMEOUT) {
        uint32_t share = t->per_addr_ms / n;
        t->per_addr_ms = share < 1000 ? (t->per_addr_ms < 1000 ? t->per_addr_ms : 1000) : share;
    }
    try_next(t);
}

static void on_sync_fail(uv_timer_t *tm)
{
    net_tcp *t = tm->data;
    if (t->dead)
        return;
    char d[300];
    snprintf(d, sizeof d, "'%.160s': %.120s", t->host, t->last_err);
    fail_connect(t, NET_E_RESOLVE, "cannot resolve host name %s", d);
}

net_tcp *net_tcp_connect(uv_loop_t *loop, const char *host, uint16_t port,
                         uint32_t per_addr_ms, uint32_t keepalive_s,
                         net_tcp_connect_cb cb, void *ud)
{
    net_tcp *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->stage = malloc(STAGE_CAP);
    if (!t->stage) {
        free(t);
        return NULL;
    }
    t->loop = loop;
    snprintf(t->host, sizeof t->host, "%s", host);
    t->port = port;
    t->per_addr_ms = per_addr_ms;
    t->keepalive_s = keepalive_s;
    t->connect_cb = cb;
    t->ud = ud;
    t->refs = 1; /* the owner */
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    t->timer_init = true;
    t->refs++;
    t->gai.data = t;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_ADDRCONFIG;
    t->refs++;
    t->gai_active = true;
    int r = uv_getaddrinfo(loop, &t->gai, on_resolved, host, service, &hints);
    if (r) {
        t->refs--;
        t->gai_active = false;
        /* Reported from the loop, never from inside this call. */
        snprintf(t->last_err, sizeof t->last_err, "%s", uv_strerror(r));
        uv_timer_start(&t->timer, on_sync_fail, 0, 0);
    }
    return t;
}

void net_tcp_close(net_tcp *t)
{
    if (!t || t->dead)
        return;
    t->dead = true;
    if (t->gai_active)
        uv_cancel((uv_req_t *)&t->gai); /* its callback still runs (refs) */
    sock_close(t);
    if (t->timer_init) {
        uv_timer_stop(&t->timer);
        uv_close((uv_handle_t *)&t->timer, timer_closed);
        t->timer_init = false;
    }
    tcp_unref(t); /* the owner's reference */
}

/* --------------------------------------------------------------- reading */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    tcp_sock *s = h->data;
    net_tcp *t = s->t;
    if (t->rpos > 0 && t->rpos == t->rlen)
        t->rpos = t->rlen = 0;
    if (STAGE_CAP - t->rlen < 16384 && t->rpos > 0) {
        memmove(t->stage, t->stage + t->rpos, t->rlen - t->rpos);
        t->rlen -= t->rpos;
        t->rpos = 0;
    }
    if (t->rlen == STAGE_CAP) {
        *b = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS: stop */
        return;
    }
    *b = uv_buf_init((char *)t->stage + t->rlen, (unsigned)(STAGE_CAP - t->rlen));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
    (void)b;
    tcp_sock *s = st->data;
    net_tcp *t = s->t;
    if (t->dead)
        return;
    if (nread == 0)
        return;
    if (nread == UV_ENOBUFS) {
        net_tcp_read_stop(t);
        return;
    }
    if (nread < 0) {
        net_tcp_read_stop(t);
        net_error e;
        int code = (nread == UV_EOF || nread == UV_ECONNRESET || nread == UV_EPIPE) ? NET_E_CLOSED : NET_E_IO;
        net__fail(&e, code, "%s", nread == UV_EOF ? "the server closed the connection"
                                  : nread == UV_ECONNRESET ? "the server reset the connection"
                                                           : uv_strerror((int)nread));
        t->read_cb(t, code, &e, t->ud);
        return;
    }
    t->rlen += (size_t)nread;
    t->read_cb(t, 0, NULL, t->ud);
}

int net_tcp_read_start(net_tcp *t, net_tcp_read_cb cb, void *ud)
{
    t->read_cb = cb;
    t->ud = ud;
    if (t->reading || !t->sock || !t->connected || t->dead)
        return NET_OK;
    int r = uv_read_start((uv_stream_t *)&t->sock->h, on_alloc, on_read);
    if (r)
        return NET_E_IO;
    t->reading = true;
    return NET_OK;
}

void net_tcp_read_stop(net_tcp *t)
{
    if (!t->reading || !t->sock)
        return;
    uv_read_stop((uv_stream_t *)&t->sock->h);
    t->reading = false;
}

void net_tcp_peek(net_tcp *t, const uint8_t **p, size_t *n)
{
    *p = t->stage + t->rpos;
    *n = t->rlen - t->rpos;
}

void net_tcp_consume(net_tcp *t, size_t n)
{
    t->rpos += n;
    if (t->rpos == t->rlen)
        t->rpos = t->rlen = 0;
}

/* --------------------------------------------------------------- writing */

static void on_write(uv_write_t *req, int status)
{
    (void)status;
    tcp_wreq *w = req->data;
    net_tcp *t = w->t;
    t->write_pending -= w->n;
    if (w->wipe)
        net_wipe(w->buf, w->n);
    free(w->buf);
    free(w);
    tcp_unref(t);
}

int net_tcp_write_take(net_tcp *t, uint8_t *buf, size_t n, bool wipe)
{
    if (t->dead || !t->sock || !t->connected) {
        if (wipe)
            net_wipe(buf, n);
        free(buf);
        return NET_E_IO;
    }
    tcp_wreq *w = malloc(sizeof *w);
    if (!w) {
        if (wipe)
            net_wipe(buf, n);
        free(buf);
        return NET_E_NOMEM;
    }
    w->t = t;
    w->buf = buf;
    w->n = n;
    w->wipe = wipe;
    w->req.data = w;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
    int r = uv_write(&w->req, (uv_stream_t *)&t->sock->h, &b, 1, on_write);
    if (r) {
        if (wipe)
            net_wipe(buf, n);
        free(buf);
        free(w);
        return NET_E_IO;
    }
    t->refs++;
    t->write_pending += n;
    return NET_OK;
}

int net_tcp_write(net_tcp *t, const uint8_t *p, size_t n, bool wipe)
{
    if (n == 0)
        return NET_OK;
    uint8_t *buf = malloc(n);
    if (!buf)
        return NET_E_NOMEM;
    memcpy(buf, p, n);
    return net_tcp_write_take(t, buf, n, wipe);
}

size_t net_tcp_write_pending(const net_tcp *t) { return t->write_pending; }

const char *net_tcp_peer(const net_tcp *t) { return t->peer; }
