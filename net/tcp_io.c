/*
 * tcp_io.c — the connected socket of tcp.c: reading into the bounded
 * staging buffer, writing with send(MSG_NOSIGNAL) (never a SIGPIPE; see
 * tcp.c), and reporting the end of the stream once.
 *
 * Invariants: reading stops by itself when the staging buffer is full
 * (the consumer is paused), which is what pushes back on the server. A
 * write is sent at once when nothing is queued; what the socket does not
 * take is queued and sent when it is writable. Bytes count as pending
 * until the loop has run once after they were handed over (as with
 * uv_write), so a writer that waits on net_tcp_write_pending lets the loop
 * see replies. The end (EOF, reset, a failed send, POLLERR) is reported
 * once through the read callback, after the bytes still readable, and
 * never from inside a call the owner made (a zero timer).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp_int.h"

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0 /* SO_NOSIGPIPE is set on the socket instead (tcp.c) */
#endif

static void wbuf_free(tcp_wbuf *w)
{
    if (w->wipe)
        net_wipe(w->buf, w->n);
    free(w->buf);
    free(w);
}

/* Drops every queued write (the connection is closing or broken). */
void net__tcp_drop_writes(net_tcp *t)
{
    while (t->wq) {
        tcp_wbuf *w = t->wq;
        t->wq = w->next;
        wbuf_free(w);
    }
    t->wq_tail = NULL;
    t->queued = t->unreported = 0;
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
    net__tcp_watch(t);
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
    net__tcp_watch(t);
    schedule_end(t);
    return NET_OK;
}

void net_tcp_read_stop(net_tcp *t)
{
    if (!t->reading || !t->sock)
        return;
    t->reading = false;
    net__tcp_watch(t);
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
        net__tcp_drop_writes(t);
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
    net__tcp_drop_writes(t);
}

/* The connected socket is ready (or failed: status < 0). */
void net__tcp_io(net_tcp *t, int status, int events)
{
    tcp_sock *s = t->sock;
    if ((events & UV_WRITABLE) && (t->wq || t->unreported))
        send_queue(t);
    if (status < 0)
        note_socket_error(t);
    if (events & UV_READABLE)
        read_and_report(t);
    if (!t->dead && t->sock == s) {
        net__tcp_watch(t);
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
    net__tcp_watch(t);
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
    net__tcp_watch(t);
    return rc;
}

size_t net_tcp_write_pending(const net_tcp *t) { return t->queued + t->unreported; }

const char *net_tcp_peer(const net_tcp *t) { return t->peer; }
