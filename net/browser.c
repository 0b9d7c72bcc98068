/*
 * browser.c — the SQL Server Resolution Protocol (SSRP, MS-SQLR): ask the
 * SQL Browser on UDP 1434 for a named instance's TCP port.
 *
 * Owns: CLNT_UCAST_INST (0x04, instance name, NUL) and parsing SVR_RESP
 * (0x05, 2-byte little-endian length, then "key;value;…" records, one
 * instance per record, records separated by ";;"). The async query is
 * used by the connection's open; net_browser_lookup wraps it on a private
 * loop. Invariant: the struct is freed only after both its handles closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define SSRP_CLNT_UCAST_INST 0x04
#define SSRP_SVR_RESP 0x05
#define SSRP_MAX_INSTANCE 32

struct net_browser {
    uv_loop_t *loop;
    uv_udp_t udp;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    uv_udp_send_t sreq;
    bool gai_active, udp_init, done, dead;
    int refs;
    char host[256];
    char instance[SSRP_MAX_INSTANCE + 1];
    uint16_t port;
    uint32_t timeout_ms;
    uint8_t req[SSRP_MAX_INSTANCE + 2];
    size_t req_len;
    uint8_t rbuf[4096];
    net_browser_cb cb;
    void *ud;
};

/* ------------------------------------------------------------- parsing */

int net_browser_parse(const uint8_t *d, size_t n, const char *instance)
{
    if (n < 3 || d[0] != SSRP_SVR_RESP)
        return -1;
    size_t len = (size_t)d[1] | ((size_t)d[2] << 8);
    if (len > n - 3)
        return -1;
    const char *p = (const char *)d + 3, *end = p + len;
    /* Walk records: a record is key;value pairs, ended by ";;" or the end. */
    while (p < end) {
        bool match = false;
        long tcp = -1;
        while (p < end) {
            const char *k = p;
            const char *ksemi = memchr(k, ';', (size_t)(end - k));
            if (!ksemi)
                return -1;
            if (ksemi == k) { /* empty key: record separator */
                p = ksemi + 1;
                break;
            }
            const char *v = ksemi + 1;
            const char *vsemi = memchr(v, ';', (size_t)(end - v));
            if (!vsemi)
                vsemi = end;
            size_t kl = (size_t)(ksemi - k), vl = (size_t)(vsemi - v);
            if (kl == 12 && net__ascii_ncaseeq(k, "InstanceName", 12))
                match = vl == strlen(instance) && net__ascii_ncaseeq(v, instance, vl);
            else if (kl == 3 && net__ascii_ncaseeq(k, "tcp", 3)) {
                tcp = 0;
                for (size_t i = 0; i < vl; i++) {
                    if (v[i] < '0' || v[i] > '9' || tcp > 65535) {
                        tcp = -1;
                        break;
                    }
                    tcp = tcp * 10 + (v[i] - '0');
                }
            }
            p = vsemi < end ? vsemi + 1 : end;
        }
        if (match && tcp > 0 && tcp <= 65535)
            return (int)tcp;
    }
    return -1;
}

/* --------------------------------------------------------------- async */

static void b_unref(net_browser *b)
{
    if (--b->refs == 0)
        free(b);
}

static void b_closed(uv_handle_t *h)
{
    b_unref(h->data);
}

static void b_shutdown(net_browser *b)
{
    if (b->udp_init) {
        b->udp_init = false;
        uv_close((uv_handle_t *)&b->udp, b_closed);
    }
    if (!uv_is_closing((uv_handle_t *)&b->timer)) {
        uv_timer_stop(&b->timer);
        uv_close((uv_handle_t *)&b->timer, b_closed);
    }
}

static void b_finish(net_browser *b, int status, uint16_t port, const net_error *e)
{
    if (b->done)
        return;
    b->done = true;
    if (!b->dead)
        b->cb(status, port, e, b->ud);
    b_shutdown(b);
}

static void b_fail(net_browser *b, int code, const char *fmt, const char *a)
{
    net_error e;
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a);
    net__fail(&e, code, "%s", msg);
    b_finish(b, code, 0, &e);
}

static void b_timeout(uv_timer_t *t)
{
    net_browser *b = t->data;
    char what[400];
    snprintf(what, sizeof what, "%s:%u did not answer for instance '%s' within %u ms", b->host,
             (unsigned)b->port, b->instance, (unsigned)b->timeout_ms);
    b_fail(b, NET_E_TIMEOUT,
           "SQL Browser at %s (is the SQL Browser service running and UDP 1434 reachable? "
           "or give the port instead of the instance)", what);
}

static void b_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf)
{
    (void)s;
    net_browser *b = h->data;
    *buf = uv_buf_init((char *)b->rbuf, sizeof b->rbuf);
}

static void b_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                   unsigned flags)
{
    (void)buf;
    (void)from;
    (void)flags;
    net_browser *b = u->data;
    if (b->done || n <= 0)
        return;
    int port = net_browser_parse(b->rbuf, (size_t)n, b->instance);
    if (port <= 0) {
        char what[400];
        snprintf(what, sizeof what, "instance '%s' is not listed (or has no TCP port) by the SQL Browser at %s",
                 b->instance, b->host);
        b_fail(b, NET_E_BROWSER, "%s", what);
        return;
    }
    b_finish(b, NET_OK, (uint16_t)port, NULL);
}

static void b_sent(uv_udp_send_t *r, int status)
{
    net_browser *b = r->data;
    if (status && !b->done && status != UV_ECANCELED)
        b_fail(b, NET_E_BROWSER, "cannot send to the SQL Browser: %s", uv_strerror(status));
    b_unref(b);
}

static void b_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    net_browser *b = req->data;
    b->gai_active = false;
    if (b->done || b->dead) {
        if (res)
            uv_freeaddrinfo(res);
        b_unref(b);
        return;
    }
    b->refs--;
    if (status || !res) {
        char what[400];
        snprintf(what, sizeof what, "'%s': %s", b->host, uv_strerror(status));
        b_fail(b, NET_E_RESOLVE, "cannot resolve host name %s", what);
        if (res)
            uv_freeaddrinfo(res);
        return;
    }
    const struct addrinfo *a = res;
    for (const struct addrinfo *x = res; x; x = x->ai_next)
        if (x->ai_family == AF_INET) {
            a = x;
            break;
        }
    struct sockaddr_storage dst;
    memcpy(&dst, a->ai_addr, a->ai_addrlen);
    uv_freeaddrinfo(res);
    uv_udp_init(b->loop, &b->udp);
    b->udp.data = b;
    b->udp_init = true;
    b->refs++;
    uv_udp_recv_start(&b->udp, b_alloc, b_recv);
    uv_buf_t buf = uv_buf_init((char *)b->req, (unsigned)b->req_len);
    b->sreq.data = b;
    int r = uv_udp_send(&b->sreq, &b->udp, &buf, 1, (const struct sockaddr *)&dst, b_sent);
    if (r) {
        b_fail(b, NET_E_BROWSER, "cannot send to the SQL Browser: %s", uv_strerror(r));
        return;
    }
    b->refs++;
}

net_browser *net_browser_query(uv_loop_t *loop, const char *host, uint16_t browser_port,
                               const char *instance, uint32_t timeout_ms,
                               net_browser_cb cb, void *ud)
{
    size_t il = strlen(instance);
    if (il == 0 || il > SSRP_MAX_INSTANCE)
        return NULL;
    net_browser *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->loop = loop;
    b->cb = cb;
    b->ud = ud;
    b->port = browser_port ? browser_port : 1434;
    b->timeout_ms = timeout_ms ? timeout_ms : 2000;
    snprintf(b->host, sizeof b->host, "%s", host);
    memcpy(b->instance, instance, il + 1);
    b->req[0] = SSRP_CLNT_UCAST_INST;
    memcpy(b->req + 1, instance, il);
    b->req[il + 1] = 0;
    b->req_len = il + 2;
    b->refs = 2; /* the owner and the timer */
    uv_timer_init(loop, &b->timer);
    b->timer.data = b;
    uv_timer_start(&b->timer, b_timeout, b->timeout_ms, 0);
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)b->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    b->gai.data = b;
    b->gai_active = true;
    b->refs++;
    if (uv_getaddrinfo(loop, &b->gai, b_resolved, host, service, &hints)) {
        b->gai_active = false;
        b->refs--;
        /* the timer reports it */
    }
    return b;
}

void net_browser_cancel(net_browser *b)
{
    if (!b || b->dead)
        return;
    b->dead = true;
    if (b->gai_active)
        uv_cancel((uv_req_t *)&b->gai);
    b->done = true;
    b_shutdown(b);
    b_unref(b); /* the owner */
}

/* ------------------------------------------------------------ blocking */

typedef struct lookup_state {
    bool done;
    int status;
    uint16_t port;
    net_error err;
} lookup_state;

static void lookup_cb(int status, uint16_t port, const net_error *e, void *ud)
{
    lookup_state *st = ud;
    st->done = true;
    st->status = status;
    st->port = port;
    if (e)
        st->err = *e;
}

int net_browser_lookup(const char *host, uint16_t browser_port, const char *instance,
                       uint32_t timeout_ms, uint16_t *port, net_error *err)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop))
        return net__fail(err, NET_E_NOMEM, "cannot create an event loop");
    lookup_state st = {0};
    net_browser *b = net_browser_query(&loop, host, browser_port, instance, timeout_ms, lookup_cb, &st);
    if (!b) {
        uv_loop_close(&loop);
        return net__fail(err, NET_E_ARG, "invalid instance name (1 to 32 characters)");
    }
    while (!st.done)
        uv_run(&loop, UV_RUN_ONCE);
    net_browser_cancel(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (st.status == NET_OK) {
        *port = st.port;
        return NET_OK;
    }
    if (err)
        *err = st.err;
    return st.status;
}
