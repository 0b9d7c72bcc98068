/*
 * tcp.c — one client TCP connection on libuv: resolve (IPv4 and IPv6),
 * try every address in turn with a per-address timeout, keepalive and
 * no-delay; the socket's lifetime and its poll handle. Reading, writing
 * and the end of the stream are in tcp_io.c; the struct in tcp_int.h.
 *
 * The socket is our own, watched with a uv_poll_t, and every byte goes
 * out through send(MSG_NOSIGNAL) (SO_NOSIGPIPE where MSG_NOSIGNAL does not
 * exist): a write to a peer that closed is an EPIPE/ECONNRESET error, never
 * a SIGPIPE, whatever the program's SIGPIPE disposition or signal mask, and
 * whoever runs the loop (our blocking wrapper or an embedder). libuv's
 * uv_tcp_t writes with write()/writev(), which raise SIGPIPE; that is why
 * it is not used here. Nothing process-wide is touched.
 *
 * Invariants: the struct lives until every libuv request and handle it
 * started has called back (refs); after net_tcp_close no user callback
 * runs. The descriptor is closed only in the poll handle's close callback
 * (libuv must never poll a closed descriptor). Staged bytes are zeroed
 * before their memory is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_int.h"

/* ------------------------------------------------------------- lifetime */

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
    close(s->fd); /* only now: libuv must not poll a closed descriptor */
    free(s);
    tcp_unref(t);
}

static void sock_close(net_tcp *t)
{
    net__tcp_drop_writes(t);
    if (!t->sock)
        return;
    tcp_sock *s = t->sock;
    t->sock = NULL;
    t->reading = false;
    t->events = 0;
    uv_close((uv_handle_t *)&s->h, sock_closed);
}

static void timer_closed(uv_handle_t *h)
{
    tcp_unref(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events);

/* Watches what the state needs: writable while connecting, while writes
 * are queued or unreported; readable while reading and not at the end. */
void net__tcp_watch(net_tcp *t)
{
    if (!t->sock || t->dead || t->sock->poll_err)
        return; /* after POLLERR, the end timer drives what is left */
    int want = 0;
    if (!t->connected || t->queued || t->unreported)
        want |= UV_WRITABLE;
    if (t->connected && t->reading && !t->end_code)
        want |= UV_READABLE;
    if (want == t->events)
        return;
    t->events = want;
    if (want)
        uv_poll_start(&t->sock->h, want, on_poll);
    else
        uv_poll_stop(&t->sock->h);
}

/* ------------------------------------------------------------ connecting */

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

static void set_sockopt_int(int fd, int level, int name, int v)
{
    (void)setsockopt(fd, level, name, &v, sizeof v); /* best effort, as libuv's */
}

/* No-delay and keepalive (idle time keepalive_s) once connected. */
static void tune(int fd, uint32_t keepalive_s)
{
    set_sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
#if defined(TCP_KEEPIDLE)
    set_sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)keepalive_s);
#elif defined(TCP_KEEPALIVE)
    set_sockopt_int(fd, IPPROTO_TCP, TCP_KEEPALIVE, (int)keepalive_s);
#endif
}

/* The connect attempt on t->sock finished (writable or failed). */
static void connect_done(net_tcp *t, int status)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(t->sock->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (!err && status < 0)
        err = ECONNREFUSED; /* POLLERR without a pending error: treat as refused */
    if (!err) {
        uv_timer_stop(&t->timer);
        t->connected = true;
        tune(t->sock->fd, t->keepalive_s ? t->keepalive_s : NET_DEFAULT_KEEPALIVE_S);
        net__tcp_watch(t);
        t->connect_cb(t, 0, NULL, t->ud);
        return;
    }
    snprintf(t->last_err, sizeof t->last_err, "%s", uv_strerror(uv_translate_sys_error(err)));
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

/* A non-blocking socket connecting to a (errno set and -1 on failure). */
static int open_socket(const struct addrinfo *a)
{
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -1;
#else
    int fd = socket(a->ai_family, SOCK_STREAM, IPPROTO_TCP);
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
#ifdef SO_NOSIGPIPE
    set_sockopt_int(fd, SOL_SOCKET, SO_NOSIGPIPE, 1);
#endif
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS || errno == EINTR)
        return fd;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
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
    t->tried++;
    addr_text(t->cur->ai_addr, t->peer, sizeof t->peer);
    int fd = open_socket(t->cur);
    if (fd < 0) {
        snprintf(t->last_err, sizeof t->last_err, "%s", uv_strerror(uv_translate_sys_error(errno)));
        t->cur = t->cur->ai_next;
        try_next(t);
        return;
    }
    tcp_sock *s = calloc(1, sizeof *s);
    int r = s ? uv_poll_init_socket(t->loop, &s->h, fd) : UV_ENOMEM;
    if (r) {
        close(fd);
        free(s);
        fail_connect(t, r == UV_ENOMEM ? NET_E_NOMEM : NET_E_IO, "%s", uv_strerror(r));
        return;
    }
    s->fd = fd;
    s->t = t;
    s->h.data = s;
    t->refs++; /* the poll handle */
    t->sock = s;
    t->events = 0;
    net__tcp_watch(t); /* writable = connected (or failed) */
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

static void on_poll(uv_poll_t *h, int status, int events)
{
    tcp_sock *s = h->data;
    net_tcp *t = s->t;
    if (t->dead || t->sock != s)
        return;
    if (status < 0) {
        /* POLLERR: libuv stopped the handle; recv/send say what happened
         * (bytes already received are still read first). */
        s->poll_err = true;
        t->events = 0;
        events = UV_READABLE | UV_WRITABLE;
    }
    if (!t->connected) {
        connect_done(t, status);
        return;
    }
    net__tcp_io(t, status, events);
}

