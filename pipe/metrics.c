/*
 * metrics.c — the --metrics-addr endpoint: a tiny HTTP/1.1 server on the
 * stream loop's own libuv loop (stream.c runs it while it waits between
 * polls; a request that comes during a poll is answered after it). It
 * binds only the address it is given. Each connection reads one request
 * head (metrics_http.c), gets one answer and is closed; a connection that
 * sends more than PIPE_HTTP_HEAD_MAX bytes without a head gets 400.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_int.h"

struct pipe_metrics {
    uv_tcp_t server;
    pipe_metrics_values v;
    struct http_conn *conns;  /* open connections, to close them all */
    bool closing;
};

typedef struct http_conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    pipe_metrics *m;
    struct http_conn *next, *prev;
    char in[PIPE_HTTP_HEAD_MAX];
    size_t len;
    char out[4096];
    bool answered;
} http_conn;

static void conn_closed(uv_handle_t *h)
{
    http_conn *c = h->data;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->m->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void conn_close(http_conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    conn_close(w->data);
}

static void answer(http_conn *c, const char *method, const char *path, bool bad)
{
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    size_t n = pipe_metrics_response(&c->m->v, method, path, bad, c->out, sizeof c->out);
    uv_buf_t b = uv_buf_init(c->out, (unsigned)n);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written))
        conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    http_conn *c = h->data;
    *buf = uv_buf_init(c->in + c->len, (unsigned)(sizeof c->in - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    http_conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (c->answered)
        return;
    c->len += (size_t)n;
    char method[16], path[256];
    int rc = pipe_metrics_http_parse(c->in, c->len, method, sizeof method, path, sizeof path);
    if (rc > 0)
        answer(c, method, path, false);
    else if (rc < 0 || c->len == sizeof c->in)
        answer(c, "", "", true);
}

static void on_connection(uv_stream_t *server, int status)
{
    pipe_metrics *m = server->data;
    if (status < 0 || m->closing)
        return;
    http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->m = m;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    c->next = m->conns;
    if (m->conns)
        m->conns->prev = c;
    m->conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read))
        conn_close(c);
}

/* "HOST:PORT", "[v6]:PORT", "localhost:PORT" into sa. 0 or -1. */
static int parse_addr(const char *addr, struct sockaddr_storage *sa)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || !colon[1] || strlen(addr) > 100)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    char host[101];
    size_t hl = (size_t)(colon - addr);
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)sa) ? -1 : 0;
    }
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)sa) ? -1 : 0;
}

int pipe_metrics_start(uv_loop_t *loop, const char *addr, pipe_metrics **out, char *why, size_t cap)
{
    *out = NULL;
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof sa);
    if (parse_addr(addr, &sa)) {
        snprintf(why, cap, "--metrics-addr '%.100s': expected HOST:PORT with a numeric address "
                           "(127.0.0.1:9102, [::1]:9102, localhost:9102)", addr);
        return -1;
    }
    pipe_metrics *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    uv_tcp_init(loop, &m->server);
    m->server.data = m;
    int rc = uv_tcp_bind(&m->server, (const struct sockaddr *)&sa, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&m->server, 16, on_connection);
    if (rc) {
        snprintf(why, cap, "--metrics-addr '%.100s': cannot listen: %s", addr, uv_strerror(rc));
        m->closing = true;
        uv_close((uv_handle_t *)&m->server, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void pipe_metrics_set(pipe_metrics *m, const pipe_metrics_values *v)
{
    if (m)
        m->v = *v;
}

void pipe_metrics_close(pipe_metrics *m)
{
    if (!m || m->closing)
        return;
    m->closing = true;
    for (http_conn *c = m->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&m->server, NULL);
}

void pipe_metrics_free(pipe_metrics *m)
{
    free(m);
}
