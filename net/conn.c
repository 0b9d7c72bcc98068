/*
 * conn.c — the async connection core on libuv: lifecycle (new, open with
 * Browser lookup, connect timeout and retries, close) and the transport
 * pump between socket, TLS and the engine. Requests live in request.c.
 *
 * Invariants:
 * - Only net__pump() pulls engine events, and it never runs re-entrantly
 *   (in_pump); callbacks may call any net_conn_* function.
 * - A paused request keeps its event's views alive: nothing calls
 *   tds_next or tds_recv_buf until net_conn_resume, and the socket is not
 *   read (back-pressure reaches the server through TCP).
 * - open_cb and each request's complete run exactly once.
 * - c is freed only from the last timer's close callback, never inside a
 *   call the user made, so callbacks can close the connection safely.
 * - Secrets (password, token copies) are zeroed before they are freed;
 *   writes made before the login completes are zeroed after sending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"


/* ------------------------------------------------------------ helpers */

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static void free_secret(char *s)
{
    if (s) {
        net_wipe(s, strlen(s));
        free(s);
    }
}

/* The connection's own copies; secrets zeroed first. */
static void free_strings(net_conn *c)
{
    free(c->host);
    free(c->instance);
    free(c->route_host);
    free((char *)c->o.host);
    free((char *)c->o.user);
    free_secret((char *)c->o.password);
    free_secret((char *)c->o.access_token);
    free_secret(c->entra_held);
    c->entra_held = NULL;
    free((char *)c->o.database);
    free((char *)c->o.host_in_cert);
    free((char *)c->o.ca_file);
    free((char *)c->o.app_name);
    free((char *)c->o.tenant_id);
    free((char *)c->o.client_cert_path);
    free((char *)c->o.app_client_id);
    free((char *)c->o.mi_resource_id);
    free((char *)c->o.token_file_path);
}

/* The Entra options' copies (not secrets: ids and paths). Returns false
 * when out of memory. */
static bool copy_entra_strings(net_conn *c, const net_opts *o)
{
    c->o.tenant_id = dup_str(o->tenant_id);
    c->o.client_cert_path = dup_str(o->client_cert_path);
    c->o.app_client_id = dup_str(o->app_client_id);
    c->o.mi_resource_id = dup_str(o->mi_resource_id);
    c->o.token_file_path = dup_str(o->token_file_path);
    return (!o->tenant_id || c->o.tenant_id) && (!o->client_cert_path || c->o.client_cert_path) &&
           (!o->app_client_id || c->o.app_client_id) && (!o->mi_resource_id || c->o.mi_resource_id) &&
           (!o->token_file_path || c->o.token_file_path);
}

static bool in_handshake(const net_conn *c)
{
    return c->state == NS_BROWSER || c->state == NS_CONNECTING || c->state == NS_TLS_STRICT ||
           c->state == NS_PRELOGIN || c->state == NS_TLS_HS || c->state == NS_LOGIN;
}

static uint32_t connect_timeout(const net_conn *c)
{
    return c->o.connect_timeout_ms ? c->o.connect_timeout_ms : NET_DEFAULT_CONNECT_TIMEOUT_MS;
}

/* ------------------------------------------------------------- flush */

/* Sends the engine's queue. TLS: one record per TDS packet, so no record
 * is larger than the packet size (servers reset otherwise). */
int net__flush(net_conn *c)
{
    if (!c->s || !c->tcp)
        return net__fail(&c->last_err, NET_E_STATE, "not connected");
    const uint8_t *p;
    size_t n;
    tds_send_buf(c->s, &p, &n);
    if (n == 0)
        return NET_OK;
    bool wipe = in_handshake(c);
    int rc;
    if (c->wire == WIRE_PLAIN) {
        rc = net_tcp_write(c->tcp, p, n, wipe);
        tds_send_ack(c->s, n);
        if (rc)
            return net__fail(&c->last_err, rc, "cannot write to %s:%u", c->host, (unsigned)c->port);
        return NET_OK;
    }
    size_t off = 0;
    while (off < n) {
        size_t k = n - off;
        if (k >= TDS_HEADER_SIZE) {
            size_t plen = (size_t)p[off + 2] << 8 | p[off + 3];
            if (plen >= TDS_HEADER_SIZE && plen <= k)
                k = plen;
        }
        if (k > 16384)
            k = 16384;
        rc = net_tls_write(c->tls, p + off, k, &c->last_err);
        if (rc) {
            tds_send_ack(c->s, n);
            return rc;
        }
        off += k;
    }
    tds_send_ack(c->s, n);
    size_t m = net_tls_out_pending(c->tls);
    if (m == 0)
        return NET_OK;
    uint8_t *buf = malloc(m);
    if (!buf)
        return net__fail(&c->last_err, NET_E_NOMEM, "out of memory");
    m = net_tls_out_read(c->tls, buf, m);
    rc = net_tcp_write_take(c->tcp, buf, m, false);
    if (rc)
        return net__fail(&c->last_err, rc, "cannot write to %s:%u", c->host, (unsigned)c->port);
    return NET_OK;
}

/* ------------------------------------------------------- lifecycle */

net_conn *net_conn_new(uv_loop_t *loop, const net_opts *o, net_error *err)
{
    if (!loop || !o || !o->host || !*o->host) {
        net__fail(err, NET_E_ARG, "no server host given");
        return NULL;
    }
    if (o->packet_size && (o->packet_size < TDS_PACKET_MIN || o->packet_size > TDS_PACKET_MAX)) {
        net__fail(err, NET_E_ARG, "packet size %u is outside 512 to 32767", (unsigned)o->packet_size);
        return NULL;
    }
    bool entra = net__auth_is_entra(o->auth);
    if (entra && net__entra_check(o, err))
        return NULL;
    const char *token = entra ? NULL : o->access_token;
    const char *password = o->password;
    /* A given token: access_token, else the password slot. */
    if (!entra && (o->password_is_token || (o->auth == NET_AUTH_ACCESS_TOKEN && !token))) {
        token = o->password;
        password = NULL;
        if (!token || !*token) {
            net__fail(err, NET_E_ARG,
                      "Authentication=ActiveDirectoryAccessToken needs the token in the password slot");
            return NULL;
        }
    }
    if (!entra && !token && (!o->user || !*o->user)) {
        net__fail(err, NET_E_ARG, "no user name given (or an access token)");
        return NULL;
    }
    net_conn *c = calloc(1, sizeof *c);
    if (!c) {
        net__fail(err, NET_E_NOMEM, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->o = *o;
    c->o.store_ = NULL;
    c->entra = entra;
    /* Split "host\instance" unless an instance was given. */
    const char *bs = strchr(o->host, '\\');
    size_t hl = bs ? (size_t)(bs - o->host) : strlen(o->host);
    c->host = malloc(hl + 1);
    if (c->host) {
        memcpy(c->host, o->host, hl);
        c->host[hl] = '\0';
    }
    c->instance = dup_str(o->instance ? o->instance : (bs && bs[1] ? bs + 1 : NULL));
    c->o.host = dup_str(c->host);
    c->o.instance = c->instance;
    c->o.user = dup_str(o->user);
    c->o.password = dup_str(password);
    c->o.access_token = dup_str(token);
    c->o.password_is_token = false;
    c->o.database = dup_str(o->database);
    c->o.host_in_cert = dup_str(o->host_in_cert);
    c->o.ca_file = dup_str(o->ca_file);
    c->o.app_name = dup_str(o->app_name);
    bool entra_ok = copy_entra_strings(c, o);
    if (!c->host || !c->o.host || (o->user && !c->o.user) || (password && !c->o.password) ||
        (token && !c->o.access_token) || (o->database && !c->o.database) ||
        (o->host_in_cert && !c->o.host_in_cert) || (o->ca_file && !c->o.ca_file) ||
        (o->app_name && !c->o.app_name) || !entra_ok) {
        net__fail(err, NET_E_NOMEM, "out of memory");
        free_strings(c);
        free(c);
        return NULL;
    }
    if (c->instance && (strlen(c->instance) == 0 || strlen(c->instance) > 32)) {
        net__fail(err, NET_E_ARG, "invalid instance name '%.40s' (1 to 32 characters)", c->instance);
        free_strings(c);
        free(c);
        return NULL;
    }
    c->port = o->port;
    c->tls_host = c->host;
    uv_timer_init(loop, &c->open_timer);
    uv_timer_init(loop, &c->req_timer);
    uv_timer_init(loop, &c->retry_timer);
    c->open_timer.data = c->req_timer.data = c->retry_timer.data = c;
    c->handles = 3;
    snprintf(c->enc_desc, sizeof c->enc_desc, "none");
    return c;
}

void net__transport_reset(net_conn *c)
{
    if (c->browser) {
        net_browser_cancel(c->browser);
        c->browser = NULL;
    }
    if (c->tcp) {
        net_tcp_close(c->tcp);
        c->tcp = NULL;
    }
    net_tls_free(c->tls);
    c->tls = NULL;
    tds_session_free(c->s);
    c->s = NULL;
    c->wire = WIRE_PLAIN;
    c->paused = false;
}

void net__open_done(net_conn *c, const net_error *err)
{
    uv_timer_stop(&c->open_timer);
    if (err) {
        net__transport_reset(c);
        c->state = NS_DEAD;
        c->last_err = *err;
    } else {
        c->state = NS_READY;
    }
    net_open_cb cb = c->open_cb;
    c->open_cb = NULL;
    if (cb)
        cb(c, err, c->open_ud);
}

void net__open_cancel(net_conn *c)
{
    net_error e;
    net__fail(&e, NET_E_CANCELLED, "connecting to %s:%u was cancelled", c->host, (unsigned)c->port);
    e.during_login = true;
    uv_timer_stop(&c->retry_timer);
    net__open_done(c, &e);
}

static void on_retry_timer(uv_timer_t *t)
{
    net_conn *c = t->data;
    if (c->closing)
        return;
    c->attempt++;
    net__begin_attempt(c);
}

void net__open_failed(net_conn *c, const net_error *err)
{
    if (c->closing || !c->open_cb)
        return;
    net_error e = *err;
    e.during_login = true;
    net__transport_reset(c);
    bool no_retry = c->no_retry;
    c->no_retry = false;
    if (!no_retry && net_error_transient(&e) && c->attempt <= c->o.retries) {
        uv_timer_stop(&c->open_timer);
        c->state = NS_RETRY_WAIT;
        c->last_err = e;
        uv_timer_start(&c->retry_timer, on_retry_timer, net__retry_wait(&c->o, c->attempt), 0);
        return;
    }
    if (c->attempt > 1) {
        size_t l = strlen(e.message);
        snprintf(e.message + l, sizeof e.message - l, " (after %u attempts)", c->attempt);
    }
    net__open_done(c, &e);
}

static void on_open_timeout(uv_timer_t *t)
{
    net_conn *c = t->data;
    if (c->closing || !c->open_cb)
        return;
    static const char *const stage[] = {
        [NS_BROWSER] = "asking the SQL Browser",   [NS_CONNECTING] = "connecting",
        [NS_TLS_STRICT] = "in the TLS handshake",   [NS_PRELOGIN] = "waiting for the PRELOGIN reply",
        [NS_TLS_HS] = "in the TLS handshake",       [NS_LOGIN] = "waiting for the login reply",
    };
    const char *st = (c->state < sizeof stage / sizeof *stage && stage[c->state]) ? stage[c->state] : "opening";
    net_error e;
    net__fail(&e, NET_E_TIMEOUT, "connection to %s:%u timed out after %u ms %s (connection timeout)",
              c->host, (unsigned)c->port, (unsigned)connect_timeout(c), st);
    e.during_login = true;
    net__open_done(c, &e);
}

/* ------------------------------------------------------ socket events */

static void on_tcp_read(net_tcp *t, int status, const net_error *e, void *ud)
{
    (void)t;
    net_conn *c = ud;
    if (c->closing)
        return;
    if (status == 0) {
        net__query_timer_restart(c);
        net__pump(c);
        return;
    }
    /* The stream ended. Process what is staged first (a reply may be
     * complete in it), then report. */
    net__pump(c);
    if (c->closing)
        return;
    net_error err;
    if (in_handshake(c)) {
        net__login_closed(c, status, e, &err);
        net__open_failed(c, &err);
        return;
    }
    if (c->state == NS_BUSY) {
        if (c->cancel_sent)
            /* The cancel is what the caller sees; the drop is how it ended. */
            net__fail(&err, c->cancel_by_timeout ? NET_E_TIMEOUT : NET_E_CANCELLED,
                      "%s after %llu rows; %s:%u closed the connection instead of acknowledging the cancel",
                      c->cancel_by_timeout ? "the query timed out" : "the request was cancelled",
                      (unsigned long long)c->rows, c->host, (unsigned)c->port);
        else
            net__fail(&err, status, "%s:%u %s in the middle of a result (%llu rows received): %s",
                      c->host, (unsigned)c->port, status == NET_E_CLOSED ? "closed the connection" : "failed",
                      (unsigned long long)c->rows, e ? e->message : "");
        net__transport_reset(c);
        c->state = NS_DEAD;
        c->last_err = err;
        net__request_finish(c, &err);
        return;
    }
    if (c->state == NS_READY) {
        net__fail(&err, status, "%s:%u closed the idle connection: %s", c->host, (unsigned)c->port,
                  e ? e->message : "");
        net__transport_reset(c);
        c->state = NS_DEAD;
        c->last_err = err;
    }
}

static void on_tcp_connect(net_tcp *t, int status, const net_error *e, void *ud)
{
    (void)t;
    net_conn *c = ud;
    if (c->closing)
        return;
    if (status) {
        net__open_failed(c, e);
        return;
    }
    c->s = tds_session_new(&(tds_session_opts){.role = TDS_ROLE_CLIENT, .stream_plp = c->o.stream_plp});
    if (!c->s) {
        net_error err;
        net__fail(&err, NET_E_NOMEM, "out of memory");
        net__open_failed(c, &err);
        return;
    }
    net_tcp_read_start(c->tcp, on_tcp_read, c);
    int rc = net__login_start(c);
    if (rc) {
        net__open_failed(c, &c->last_err);
        return;
    }
}

void net__connect_start(net_conn *c)
{
    uint16_t port = c->port ? c->port : NET_DEFAULT_PORT;
    c->port = port;
    uint32_t to = connect_timeout(c);
    c->state = NS_CONNECTING;
    c->connects++;
    c->tcp = net_tcp_connect(c->loop, c->host, port, to == NET_NO_TIMEOUT ? 0 : to,
                             c->o.keepalive_s, on_tcp_connect, c);
    if (!c->tcp) {
        net_error e;
        net__fail(&e, NET_E_NOMEM, "out of memory");
        net__open_failed(c, &e);
    }
}

static void on_browser(int status, uint16_t port, const net_error *e, void *ud)
{
    net_conn *c = ud;
    net_browser *b = c->browser;
    c->browser = NULL;
    net_browser_cancel(b); /* releases our reference; it closes after this callback */
    if (c->closing)
        return;
    if (status) {
        net__open_failed(c, e);
        return;
    }
    c->port = port;
    net__connect_start(c);
}

void net__begin_attempt(net_conn *c)
{
    /* Every attempt starts from the configured target. */
    if (strcmp(c->host, c->o.host) != 0) {
        char *h = dup_str(c->o.host);
        if (h) {
            free(c->host);
            c->host = h;
        }
    }
    c->tls_host = c->host;
    c->port = c->o.port;
    c->routed = false;
    free(c->route_host);
    c->route_host = NULL;
    uint32_t to = connect_timeout(c);
    if (to != NET_NO_TIMEOUT)
        uv_timer_start(&c->open_timer, on_open_timeout, to, 0);
    if (c->instance && *c->instance && !c->port) {
        c->state = NS_BROWSER;
        c->browser = net_browser_query(c->loop, c->host, c->o.browser_port, c->instance,
                                       to == NET_NO_TIMEOUT ? 5000 : (to < 5000 ? to : 5000),
                                       on_browser, c);
        if (!c->browser) {
            net_error e;
            net__fail(&e, NET_E_ARG, "invalid instance name '%s' (1 to 32 characters)", c->instance);
            net__open_failed(c, &e);
        }
        return;
    }
    net__connect_start(c);
}

int net_conn_open(net_conn *c, net_open_cb cb, void *ud)
{
    if (!c || c->state != NS_NEW || c->closing)
        return NET_E_STATE;
    c->open_cb = cb;
    c->open_ud = ud;
    c->attempt = 1;
    c->entra_retried = false;
    net__begin_attempt(c);
    return NET_OK;
}

/* ---------------------------------------------------------------- pump */

/* Moves bytes from the socket (through TLS when on) into the engine.
 * Returns bytes moved, 0 when the socket has nothing, or a negative
 * net_err with c->last_err. */
static int feed_engine(net_conn *c)
{
    uint8_t *buf;
    size_t want;
    int rc = tds_recv_buf(c->s, &buf, &want);
    if (rc)
        return net__fail(&c->last_err, rc == TDS_E_NOMEM ? NET_E_NOMEM : NET_E_PROTO,
                         "receive from %s:%u failed: %s (at byte %llu)", c->host, (unsigned)c->port,
                         tds_strerror(rc), (unsigned long long)tds_error_offset(c->s));
    if (want == 0)
        return 0;
    const uint8_t *p;
    size_t n;
    net_tcp_peek(c->tcp, &p, &n);
    if (c->wire == WIRE_PLAIN) {
        if (n == 0)
            return 0;
        size_t k = n < want ? n : want;
        memcpy(buf, p, k);
        net_tcp_consume(c->tcp, k);
        rc = tds_recv_ack(c->s, k);
        if (rc)
            return net__fail(&c->last_err, NET_E_PROTO, "malformed TDS packet from %s:%u: %s",
                             c->host, (unsigned)c->port, tds_strerror(rc));
        return (int)k;
    }
    if (n) {
        if (net_tls_feed(c->tls, p, n))
            return net__fail(&c->last_err, NET_E_NOMEM, "out of memory");
        net_tcp_consume(c->tcp, n);
    }
    int r = net_tls_read(c->tls, buf, want, &c->last_err);
    if (r <= 0)
        return r;
    rc = tds_recv_ack(c->s, (size_t)r);
    if (rc)
        return net__fail(&c->last_err, NET_E_PROTO, "malformed TDS packet from %s:%u: %s",
                         c->host, (unsigned)c->port, tds_strerror(rc));
    return r;
}

/* A failure of the transport or the stream: fails what is in progress. */
void net__fail_now(net_conn *c, const net_error *err)
{
    if (in_handshake(c)) {
        net__open_failed(c, err);
        return;
    }
    net__transport_reset(c);
    bool busy = c->state == NS_BUSY;
    c->state = NS_DEAD;
    c->last_err = *err;
    if (busy)
        net__request_finish(c, err);
}

void net__pump(net_conn *c)
{
    if (c->in_pump) {
        c->pump_again = true;
        return;
    }
    c->in_pump = true;
    for (;;) {
        c->pump_again = false;
        if (c->closing || !c->s || !c->tcp)
            break;
        if (c->state == NS_TLS_STRICT) {
            tds_session *s0 = c->s;
            int rc = net__login_strict_input(c);
            if (rc) {
                net__fail_now(c, &c->last_err);
                break;
            }
            if (c->state == NS_TLS_STRICT || c->s != s0)
                break;
            continue;
        }
        if (c->paused)
            break;
        if (c->state != NS_PRELOGIN && c->state != NS_TLS_HS && c->state != NS_LOGIN &&
            c->state != NS_BUSY && c->state != NS_READY)
            break;
        tds_event ev;
        int r = tds_next(c->s, &ev);
        if (r == 1) {
            tds_session *s0 = c->s;
            if (in_handshake(c)) {
                int rc = net__login_event(c, &ev);
                if (rc) {
                    net__open_failed(c, &c->last_err);
                    break;
                }
            } else if (c->state == NS_BUSY) {
                net__request_event(c, &ev);
            }
            if (c->s != s0)
                break; /* routed or reset: the new transport pumps itself */
            continue;
        }
        if (r < 0) {
            net_error err;
            net__fail(&err, NET_E_PROTO, "malformed TDS from %s:%u: %s (at byte %llu)", c->host,
                      (unsigned)c->port, tds_strerror(r), (unsigned long long)tds_error_offset(c->s));
            net__fail_now(c, &err);
            break;
        }
        int k = feed_engine(c);
        if (k < 0) {
            net_error err = c->last_err;
            net__fail_now(c, &err);
            break;
        }
        if (k == 0 && !c->pump_again)
            break;
    }
    if (c->tcp && !c->closing) {
        if (c->paused)
            net_tcp_read_stop(c->tcp);
        else
            net_tcp_read_start(c->tcp, on_tcp_read, c);
    }
    c->in_pump = false;
}

/* --------------------------------------------------------------- close */

static void free_conn(net_conn *c)
{
    free_strings(c);
    net_wipe(c->nonce, sizeof c->nonce);
    if (c->close_cb)
        c->close_cb(c, c->close_ud); /* c is closed; only its identity remains useful */
    net_wipe(c, sizeof *c);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    net_conn *c = h->data;
    if (--c->handles == 0)
        free_conn(c);
}

void net_conn_close(net_conn *c, net_close_cb cb, void *ud)
{
    if (!c || c->closing)
        return;
    /* First, so a callback run from here that closes again is a no-op. */
    c->closing = true;
    c->close_cb = cb;
    c->close_ud = ud;
    net_error err;
    net__fail(&err, NET_E_CANCELLED, "the connection was closed by the caller");
    if (c->open_cb) {
        err.during_login = true;
        net__open_done(c, &err);
    }
    if (c->state == NS_BUSY) {
        net__transport_reset(c);
        c->state = NS_DEAD;
        net__request_finish(c, &err);
    }
    net__transport_reset(c);
    c->state = NS_DEAD;
    uv_timer_stop(&c->open_timer);
    uv_timer_stop(&c->req_timer);
    uv_timer_stop(&c->retry_timer);
    uv_close((uv_handle_t *)&c->open_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->req_timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
}

/* ---------------------------------------------------------- accessors */

bool net_conn_is_open(const net_conn *c) { return c && (c->state == NS_READY || c->state == NS_BUSY); }
uint32_t net_conn_packet_size(const net_conn *c) { return c && c->s ? tds_packet_size(c->s) : 0; }
const char *net_conn_database(const net_conn *c) { return c && c->s ? tds_database(c->s) : ""; }
const char *net_conn_encryption(const net_conn *c) { return c ? c->enc_desc : ""; }
const char *net_conn_host(const net_conn *c) { return c ? c->host : ""; }
uint16_t net_conn_port(const net_conn *c) { return c ? c->port : 0; }
unsigned net_conn_connects(const net_conn *c) { return c ? c->connects : 0; }
