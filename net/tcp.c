/*
 * tcp.c — one client TCP connection on libuv: resolve (IPv4 and IPv6),
 * try every address in turn with a per-address timeout, keepalive and
 * no-delay, a bounded read staging buffer, and writes.
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
 * runs. Reading stops by itself when the staging buffer is full (the
 * consumer is paused), which is what pushes back on the server. A write
 * is sent at once when nothing is queued; what the socket does not take is
 * queued and sent when it is writable. Bytes count as pending until the
 * loop has run once after they were handed over (as with uv_write), so a
 * writer that waits on net_tcp_write_pending lets the loop see replies.
 * The end of the stream (EOF, reset, or a failed send) is reported once
 * through the read callback, after the bytes still readable. Staged bytes
 * and writes marked wipe are zeroed before their memory is freed.
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

#include "net_int.h"

#define STAGE_CAP (256u * 1024u)

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0 /* SO_NOSIGPIPE is set on the socket instead */
#endif

typedef struct tcp_sock {
    uv_poll_t h;
    int fd;
    bool poll_err; /* libuv saw POLLERR and stopped the handle for good */
    net_tcp *t;
} tcp_sock;

/* A write the socket has not taken yet (off bytes of it are sent). */
typedef struct tcp_wbuf {
    struct tcp_wbuf *next;
    uint8_t *buf;
    size_t n, off;
    bool wipe;
} tcp_wbuf;

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
    int events;              /* what the poll handle watches now */
    uv_timer_t timer;        /* per-address timeout; later, reporting the end */
    bool timer_init;

    uint8_t *stage;
    size_t rpos, rlen;
    bool reading;
    bool connected;
    bool dead;               /* closed by the owner: no callbacks */
    int refs;                /* outstanding libuv callbacks + the owner */

    tcp_wbuf *wq, *wq_tail;  /* queued writes, oldest first */
    size_t queued;           /* unsent bytes in wq */
    size_t unreported;       /* sent, but the loop has not run since */

    int end_code;            /* the read side ended: NET_E_CLOSED / NET_E_IO */
    char end_msg[128];
    int werr_code;           /* a send failed (reported if reading ends quietly) */
    char werr_msg[128];
    bool end_reported;
    char peer[80];
};

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

static void wbuf_free(tcp_wbuf *w)
{
    if (w->wipe)
        net_wipe(w->buf, w->n);
    free(w->buf);
    free(w);
}

/* Drops every queued write (the connection is closing or broken). */
static void drop_writes(net_tcp *t)
{
    while (t->wq) {
        tcp_wbuf *w = t->wq;
        t->wq = w->next;
        wbuf_free(w);
    }
    t->wq_tail = NULL;
    t->queued = t->unreported = 0;
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
    drop_writes(t);
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
static void watch(net_tcp *t)
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
        watch(t);
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
    watch(t); /* writable = connected (or failed) */
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

/* ------------------------------------------------------------- the end */

/* Records how the stream ended, from errno of a failed recv/send (0: EOF). */
static void end_text(int sys_errno, int *code, char *msg, size_t cap)
{
    if (sys_errno == 0) {
        *code = NET_E_CLOSED;
        snprintf(msg, cap, "the server closed the connection");
    } else if (sys_errno == ECONNRESET) {
        *code = NET_E_CLOSED;
        snprintf(msg, cap, "the server reset the connection");
    } else {
        *code = sys_errno == EPIPE ? NET_E_CLOSED : NET_E_IO;
        snprintf(msg, cap, "%s", uv_strerror(uv_translate_sys_error(sys_errno)));
    }
}

/* Reports the end once, while the consumer reads. A failed send is
 * reported only when the read side has nothing more (quiet is true): the
 * server's last words (an error, say) are delivered first. */
static void report_end(net_tcp *t, bool quiet)
{
    if (t->dead || t->end_reported || !t->reading || !t->read_cb)
        return;
    int code = t->end_code;
    const char *msg = t->end_msg;
    if (!code && quiet && t->werr_code) {
        code = t->werr_code;
        msg = t->werr_msg;
    }
    if (!code)
        return;
    t->end_reported = true;
    t->reading = false;
    watch(t);
    net_error e;
    net__fail(&e, code, "%s", msg);
    t->read_cb(t, code, &e, t->ud);
}

/* ------------------------------------------------------------- reading */

enum { READ_AGAIN, READ_STOPPED, READ_ENDED };

/* Reads what the socket has into the staging buffer, calling the read
 * callback after each chunk. Stops when the consumer stops reading (or
 * the buffer is full), the socket is drained, or the stream ended. */
static int read_some(net_tcp *t)
{
    while (!t->dead && t->reading && t->sock && !t->end_code) {
        if (t->rpos > 0 && t->rpos == t->rlen)
            t->rpos = t->rlen = 0;
        if (STAGE_CAP - t->rlen < 16384 && t->rpos > 0) {
            memmove(t->stage, t->stage + t->rpos, t->rlen - t->rpos);
            t->rlen -= t->rpos;
            t->rpos = 0;
        }
        size_t room = STAGE_CAP - t->rlen;
        if (room == 0) {
            net_tcp_read_stop(t); /* the consumer resumes with read_start */
            return READ_STOPPED;
        }
        ssize_t n = recv(t->sock->fd, t->stage + t->rlen, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return READ_AGAIN;
        if (n <= 0) {
            end_text(n == 0 ? 0 : errno, &t->end_code, t->end_msg, sizeof t->end_msg);
            return READ_ENDED;
        }
        t->rlen += (size_t)n;
        t->read_cb(t, 0, NULL, t->ud);
        if ((size_t)n < room)
            return READ_AGAIN; /* drained for now (saves a recv that would say EAGAIN) */
    }
    return t->end_code ? READ_ENDED : READ_STOPPED;
}

static void read_and_report(net_tcp *t)
{
    int r = read_some(t);
    if (r != READ_STOPPED)
        report_end(t, r == READ_AGAIN);
}

static void on_end_timer(uv_timer_t *tm)
{
    read_and_report(tm->data);
}

/* The end is known but not reported (a failed send, or a resume after
 * the stream ended): report it from the loop, never from inside a call. */
static void schedule_end(net_tcp *t)
{
    if (t->timer_init && t->reading && !t->end_reported && (t->end_code || t->werr_code))
        uv_timer_start(&t->timer, on_end_timer, 0, 0);
}

int net_tcp_read_start(net_tcp *t, net_tcp_read_cb cb, void *ud)
{
    t->read_cb = cb;
    t->ud = ud;
    if (t->reading || !t->sock || !t->connected || t->dead || t->end_reported)
        return NET_OK;
    t->reading = true;
    watch(t);
    schedule_end(t);
    return NET_OK;
}

void net_tcp_read_stop(net_tcp *t)
{
    if (!t->reading || !t->sock)
        return;
    t->reading = false;
    watch(t);
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

/* Sends up to n bytes now. Returns bytes sent (maybe 0: would block), or
 * -1 when the send failed (t->werr_* set, queued writes dropped). */
static ssize_t send_now(net_tcp *t, const uint8_t *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = send(t->sock->fd, p + done, n - done, SEND_FLAGS);
        if (k > 0) {
            done += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        end_text(k == 0 ? EPIPE : errno, &t->werr_code, t->werr_msg, sizeof t->werr_msg);
        drop_writes(t);
        return -1;
    }
    return (ssize_t)done;
}

/* The socket is writable: sends the queue in order. */
static void send_queue(net_tcp *t)
{
    t->unreported = 0;
    while (t->wq) {
        tcp_wbuf *w = t->wq;
        ssize_t k = send_now(t, w->buf + w->off, w->n - w->off);
        if (k < 0)
            return;
        w->off += (size_t)k;
        t->queued -= (size_t)k;
        if (w->off < w->n)
            return;
        t->wq = w->next;
        if (!t->wq)
            t->wq_tail = NULL;
        wbuf_free(w);
    }
}

/* POLLERR on a connected socket: the send error (if a send did not fail
 * already), reported once the read side is quiet. */
static void note_socket_error(net_tcp *t)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(t->sock->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err == 0)
        err = EIO;
    if (!t->werr_code)
        end_text(err, &t->werr_code, t->werr_msg, sizeof t->werr_msg);
    drop_writes(t);
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
    if ((events & UV_WRITABLE) && (t->wq || t->unreported))
        send_queue(t);
    if (status < 0)
        note_socket_error(t);
    if (events & UV_READABLE)
        read_and_report(t);
    if (!t->dead && t->sock == s) {
        watch(t);
        schedule_end(t);
    }
}

/* Queues buf (ours now) from byte off on. */
static int enqueue(net_tcp *t, uint8_t *buf, size_t n, size_t off, bool wipe)
{
    tcp_wbuf *w = malloc(sizeof *w);
    if (!w) {
        if (wipe)
            net_wipe(buf, n);
        free(buf);
        return NET_E_NOMEM;
    }
    *w = (tcp_wbuf){NULL, buf, n, off, wipe};
    if (t->wq_tail)
        t->wq_tail->next = w;
    else
        t->wq = w;
    t->wq_tail = w;
    t->queued += n - off;
    return NET_OK;
}

/* Sends what the socket takes now when nothing is queued before it.
 * Returns the bytes taken; all of them when the send failed (they are
 * dropped, and the end is reported through the read callback). */
static size_t send_first(net_tcp *t, const uint8_t *p, size_t n)
{
    if (t->wq)
        return 0;
    ssize_t k = send_now(t, p, n);
    if (k < 0) {
        schedule_end(t);
        return n;
    }
    t->unreported += (size_t)k;
    return (size_t)k;
}

static bool writable_state(const net_tcp *t)
{
    return !t->dead && t->sock && t->connected;
}

int net_tcp_write_take(net_tcp *t, uint8_t *buf, size_t n, bool wipe)
{
    if (!writable_state(t) || t->werr_code) {
        if (wipe)
            net_wipe(buf, n);
        free(buf);
        return t->werr_code && writable_state(t) ? NET_OK : NET_E_IO;
    }
    size_t sent = send_first(t, buf, n);
    int rc = NET_OK;
    if (sent == n) {
        if (wipe)
            net_wipe(buf, n);
        free(buf);
    } else {
        rc = enqueue(t, buf, n, sent, wipe);
    }
    watch(t);
    return rc;
}

int net_tcp_write(net_tcp *t, const uint8_t *p, size_t n, bool wipe)
{
    if (n == 0)
        return NET_OK;
    if (!writable_state(t))
        return NET_E_IO;
    if (t->werr_code)
        return NET_OK; /* dropped: see send_first */
    size_t sent = send_first(t, p, n);
    int rc = NET_OK;
    if (sent < n) {
        uint8_t *buf = malloc(n - sent);
        if (buf) {
            memcpy(buf, p + sent, n - sent);
            rc = enqueue(t, buf, n - sent, 0, wipe);
        } else {
            rc = NET_E_NOMEM;
        }
    }
    watch(t);
    return rc;
}

size_t net_tcp_write_pending(const net_tcp *t) { return t->queued + t->unreported; }

const char *net_tcp_peer(const net_tcp *t) { return t->peer; }
