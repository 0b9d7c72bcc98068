/*
 * server.c — tdstestd's listeners: binding 127.0.0.1 (the TDS 7.x port and
 * the TDS 8.0 strict one), accepting connections into their first state,
 * stopping (SIGTERM closes listeners and every connection) and logging.
 *
 * The rest of the network half, one job per file: conn.c (a connection's
 * bytes: reading, sending, closing), dispatch.c (events to handlers, reply
 * cursors stepped under back-pressure), request.c (SQL batch, RPC,
 * ATTENTION, transaction manager), login.c, tls.c, faults.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network_int.h"

/* ---------------------------------------------------------------- logging */

void srv_net_log(const srv_net_conn *c, const char *fmt, ...)
{
    if (c && c->srv->cfg->verbose <= 0)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c)
        fprintf(stderr, "tdstestd: conn %llu: %s\n", (unsigned long long)c->id, buf);
    else
        fprintf(stderr, "tdstestd: %s\n", buf);
}

/* -------------------------------------------------------------- listening */

static void on_connection(uv_stream_t *l, int status)
{
    srv_net_server *srv = l->data;
    if (status < 0 || srv->stopping)
        return;
    srv_net_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = srv;
    c->id = ++srv->next_id;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    srv_net_faults_init(c);
    c->handles = 2;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        srv_net_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    tds_session_opts o;
    memset(&o, 0, sizeof o);
    o.role = TDS_ROLE_SERVER;
    c->s = tds_session_new(&o);
    c->raw = malloc(SRV_NET_RAW_BUF);
    c->packet_size = TDS_PACKET_DEFAULT;
    c->strict_listener = (l == (uv_stream_t *)&srv->strict_tcp);
    if (!c->s || !c->raw) {
        srv_net_conn_close(c);
        return;
    }
    if (c->strict_listener) {
        c->tls = srv_net_tls_new(srv->tls, true);
        if (!c->tls) {
            srv_net_conn_close(c);
            return;
        }
        c->tls_wire = true;
        c->enc = SRV_NET_ENC_STRICT;
        c->state = NC_TLS_STRICT;
    } else {
        c->state = NC_PRELOGIN;
    }
    srv_net_log(c, "accepted on the %s listener", c->strict_listener ? "strict" : "TDS 7.x");
    srv_net_conn_read_start(c);
}

/* What FEDAUTHINFO says, and the issuer key that checks tokens. */
static int fedauth_init(srv_net_server *srv, const srv_net_config *cfg, char *err, size_t errcap)
{
    if (cfg->fedauth_sts_url)
        snprintf(srv->fa_sts_url, sizeof srv->fa_sts_url, "%s", cfg->fedauth_sts_url);
    else
        snprintf(srv->fa_sts_url, sizeof srv->fa_sts_url, "https://login.microsoftonline.com/%s",
                 cfg->fedauth_tenant ? cfg->fedauth_tenant : "common");
    srv->fa_spn = cfg->fedauth_spn ? cfg->fedauth_spn : "https://database.windows.net/";
    srv->fa_audience = cfg->fedauth_audience ? cfg->fedauth_audience : "https://database.windows.net/";
    if (cfg->fedauth_issuer_cert) {
        srv->fa_key = srv_fedauth_key_load(cfg->fedauth_issuer_cert, err, errcap);
        if (!srv->fa_key)
            return -1;
    }
    return 0;
}

int srv_net_server_init(srv_net_server *srv, uv_loop_t *loop, const srv_net_config *cfg,
                    srv_db *db, char *err, size_t errcap)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = cfg;
    srv->db = db;
    const srv_settings *st = srv_db_settings(db);
    if (st)
        srv->settings = *st;
    if (!srv->settings.server_name)
        srv->settings.server_name = "tdstestd";
    if (!srv->settings.version)
        srv->settings.version = 0x10000FA0u; /* 16.0.4000 */
    if (!srv->settings.max_packet_size)
        srv->settings.max_packet_size = TDS_PACKET_MAX;
    if (cfg->route_host) {
        srv->settings.route_host = cfg->route_host;
        srv->settings.route_port = cfg->route_port;
    }
    if (cfg->fedauth_required)
        srv->settings.fedauth_required = true;
    if (fedauth_init(srv, cfg, err, errcap) < 0)
        return -1;
    if (cfg->cert_file && cfg->key_file) {
        srv->tls = srv_net_tls_ctx_new(cfg->cert_file, cfg->key_file, err, errcap);
        if (!srv->tls)
            return -1;
    } else if (cfg->tls_mode != SRV_NET_TLS_OFF || cfg->strict_port >= 0) {
        snprintf(err, errcap, "--tls-mode on/required and --strict-port need --tls-cert and --tls-key");
        return -1;
    }
    return 0;
}

static int listen_on(srv_net_server *srv, uv_tcp_t *t, int port, int *bound)
{
    struct sockaddr_storage ss;
    int r;
    if (strchr(srv->cfg->host, ':'))
        r = uv_ip6_addr(srv->cfg->host, port, (struct sockaddr_in6 *)&ss);
    else
        r = uv_ip4_addr(srv->cfg->host, port, (struct sockaddr_in *)&ss);
    if (r < 0)
        return r;
    uv_tcp_init(srv->loop, t);
    t->data = srv;
    r = uv_tcp_bind(t, (const struct sockaddr *)&ss, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)t, 128, on_connection);
    if (r < 0)
        return r;
    struct sockaddr_storage got;
    int len = sizeof got;
    r = uv_tcp_getsockname(t, (struct sockaddr *)&got, &len);
    if (r < 0)
        return r;
    if (got.ss_family == AF_INET6)
        *bound = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
    else
        *bound = ntohs(((struct sockaddr_in *)&got)->sin_port);
    return 0;
}

int srv_net_server_listen(srv_net_server *srv)
{
    int r = listen_on(srv, &srv->listen_tcp, srv->cfg->port, &srv->port);
    if (r < 0)
        return r;
    if (srv->cfg->strict_port >= 0) {
        srv->strict_on = true;
        r = listen_on(srv, &srv->strict_tcp, srv->cfg->strict_port, &srv->strict_port);
        if (r < 0)
            return r;
    }
    return 0;
}

void srv_net_server_stop(srv_net_server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    if (!uv_is_closing((uv_handle_t *)&srv->listen_tcp) && srv->listen_tcp.loop)
        uv_close((uv_handle_t *)&srv->listen_tcp, NULL);
    if (srv->strict_on && srv->strict_tcp.loop && !uv_is_closing((uv_handle_t *)&srv->strict_tcp))
        uv_close((uv_handle_t *)&srv->strict_tcp, NULL);
    /* Replies in progress are dropped: a test server stops when told. */
    for (srv_net_conn *c = srv->conns; c; c = c->next)
        srv_net_conn_close(c);
}

void srv_net_server_free(srv_net_server *srv)
{
    srv_net_tls_ctx_free(srv->tls);
    srv->tls = NULL;
    srv_fedauth_key_free(srv->fa_key);
    srv->fa_key = NULL;
}
