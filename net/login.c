/*
 * login.c — the handshake of one connection attempt: TDS 8.0 strict TLS,
 * PRELOGIN and the encryption decision, the TDS 7.x TLS handshake carried
 * in PRELOGIN packets, LOGIN7 (SQL login, FEDAUTH security token with
 * the echo bit and nonce, or an Entra method: FEDAUTH ADAL, whose
 * FEDAUTHINFO / FEDAUTH_TOKEN exchange lives in login_entra.c), the login
 * reply and routing.
 *
 * Encryption decision (client PRELOGIN value → server answer → result):
 *   disable  NOT_SUP: NOT_SUP/OFF → none; ON/REQ → NET_E_ENCRYPT_REQUIRED
 *   optional OFF:     NOT_SUP → none; OFF → login-only; ON/REQ → full
 *   mandatory ON:     NOT_SUP → NET_E_ENCRYPT_UNSUPPORTED; else full
 *   strict:           TLS first (ALPN tds/8.0); PRELOGIN inside TLS
 * Certificates are verified when the client asked for encryption
 * (mandatory, strict) unless TrustServerCertificate. With encrypt=optional
 * the user opted out: TLS that happens anyway (login-only, or full because
 * the server forces it) is not verified, as with ODBC's Encrypt=no.
 *
 * Invariant: the LOGIN7 bytes (password, token) pass only through the
 * engine's queue and net__flush, which zeroes its copies (wipe writes);
 * the local tds_login7 struct holds borrowed pointers only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_int.h"

#define CLIENT_VERSION 0x00010000u /* tdspipe 0.1: PRELOGIN UL_VERSION */

static int tls_start(net_conn *c, bool strict)
{
    net_tls_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.strict = strict;
    /* Only a client that asked for encryption checks the certificate. */
    cfg.verify = !c->o.trust_server_cert &&
                 (c->o.encrypt == NET_ENCRYPT_MANDATORY || c->o.encrypt == NET_ENCRYPT_STRICT);
    cfg.ca_file = c->o.ca_file;
    cfg.verify_host = (c->o.host_in_cert && *c->o.host_in_cert && !c->routed) ? c->o.host_in_cert
                                                                               : c->tls_host;
    /* HostNameInCertificate=*.database.windows.net names the certificate's
     * wildcard; OpenSSL matches wildcards only against concrete names, so
     * check a concrete name under it (the host itself when it is one). */
    char concrete[300];
    if (cfg.verify_host[0] == '*' && cfg.verify_host[1] == '.') {
        const char *suffix = cfg.verify_host + 1;
        size_t hl = strlen(c->tls_host), sl = strlen(suffix);
        const char *dot = strchr(c->tls_host, '.');
        if (hl > sl && dot && !strcmp(dot, suffix))
            snprintf(concrete, sizeof concrete, "%s", c->tls_host);
        else
            snprintf(concrete, sizeof concrete, "tdspipe-check%s", suffix);
        cfg.verify_host = concrete;
    }
    cfg.sni = c->tls_host;
    c->tls = net_tls_new(&cfg, &c->last_err);
    return c->tls ? NET_OK : c->last_err.code;
}

/* Moves TLS output to the socket (strict) or into PRELOGIN packets (7.x). */
static int tls_out(net_conn *c, bool in_prelogin)
{
    size_t n = net_tls_out_pending(c->tls);
    if (n == 0)
        return NET_OK;
    uint8_t *buf = malloc(n);
    if (!buf)
        return net__fail(&c->last_err, NET_E_NOMEM, "out of memory");
    n = net_tls_out_read(c->tls, buf, n);
    int rc;
    if (in_prelogin) {
        rc = tds_send_message(c->s, TDS_PKT_PRELOGIN, buf, n);
        free(buf);
        if (rc)
            return net__fail(&c->last_err, NET_E_NOMEM, "cannot queue a TLS handshake packet: %s",
                             tds_strerror(rc));
        return net__flush(c);
    }
    rc = net_tcp_write_take(c->tcp, buf, n, false);
    if (rc)
        return net__fail(&c->last_err, rc, "cannot write to the server");
    return NET_OK;
}

static int send_prelogin(net_conn *c)
{
    tds_prelogin p;
    memset(&p, 0, sizeof p);
    p.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION) | (1u << TDS_PL_INSTOPT) |
                (1u << TDS_PL_THREADID) | (1u << TDS_PL_MARS);
    p.version = CLIENT_VERSION;
    switch (c->o.encrypt) {
    case NET_ENCRYPT_DISABLE: c->client_encrypt = TDS_ENCRYPT_NOT_SUP; break;
    case NET_ENCRYPT_OPTIONAL: c->client_encrypt = TDS_ENCRYPT_OFF; break;
    /* Strict: TLS is already up; ON states we want it (SqlClient does). */
    case NET_ENCRYPT_STRICT:
    case NET_ENCRYPT_MANDATORY: c->client_encrypt = TDS_ENCRYPT_ON; break;
    }
    p.encryption = c->client_encrypt;
    if (c->instance && *c->instance && !c->routed)
        snprintf(p.instance, sizeof p.instance, "%s", c->instance);
    p.thread_id = (uint32_t)getpid();
    p.mars = 0;
    if (c->o.access_token || c->entra) {
        p.present |= 1u << TDS_PL_FEDAUTHREQUIRED;
        p.fedauth_required = 1;
    }
    tds_expect_message(c->s);
    int rc = tds_send_prelogin(c->s, &p);
    if (rc)
        return net__fail(&c->last_err, NET_E_NOMEM, "cannot build PRELOGIN: %s", tds_strerror(rc));
    c->state = NS_PRELOGIN;
    return net__flush(c);
}

static int send_login7(net_conn *c)
{
    tds_login7 l;
    memset(&l, 0, sizeof l);
    char hostname[256] = "";
    gethostname(hostname, sizeof hostname - 1);
    l.tds_version = TDS_VERSION_74;
    l.packet_size = c->o.packet_size ? c->o.packet_size : NET_DEFAULT_PACKET_SIZE;
    l.client_prog_ver = CLIENT_VERSION;
    l.client_pid = (uint32_t)getpid();
    l.option_flags1 = TDS_LOGIN_OF1_USE_DB_ON | TDS_LOGIN_OF1_INIT_DB_FATAL | TDS_LOGIN_OF1_SET_LANG_ON;
    l.option_flags2 = TDS_LOGIN_OF2_INIT_LANG_FATAL | TDS_LOGIN_OF2_ODBC_ON;
    l.client_lcid = 0x0409;
    l.hostname = hostname;
    l.appname = c->o.app_name && *c->o.app_name ? c->o.app_name : "tdspipe";
    l.servername = c->host;
    l.library = "tdspipe";
    l.database = c->o.database;
    l.utf8_support = !c->o.no_utf8;
    l.json_support = 1;   /* JSONSUPPORT v1: json (0xF4) natively */
    l.vector_support = 2; /* VECTORSUPPORT v2: float32 and float16 vectors (0xF5) */
    if (c->entra) {
        net__entra_login7(c, &l);
    } else if (c->o.access_token) {
        l.fedauth = true;
        l.fedauth_echo = c->fedauth_required;
        l.fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
        l.fedauth_token = c->o.access_token;
        l.fedauth_has_nonce = c->have_nonce;
        if (c->have_nonce)
            memcpy(l.fedauth_nonce, c->nonce, sizeof l.fedauth_nonce);
    } else {
        l.username = c->o.user;
        l.password = c->o.password;
    }
    int rc = tds_send_login7(c->s, &l);
    net_wipe(l.fedauth_nonce, sizeof l.fedauth_nonce);
    if (rc)
        return net__fail(&c->last_err, rc == TDS_E_ARG ? NET_E_ARG : NET_E_NOMEM,
                         "cannot build LOGIN7: %s", tds_strerror(rc));
    c->state = NS_LOGIN;
    c->loginack = false;
    c->login_error = false;
    rc = net__flush(c);
    if (rc)
        return rc;
    if (c->enc == ENC_LOGIN_ONLY) {
        /* LOGIN7 went out encrypted; everything after it is plain text,
         * in both directions. */
        net_tls_free(c->tls);
        c->tls = NULL;
        c->wire = WIRE_PLAIN;
    }
    return NET_OK;
}

static void describe_encryption(net_conn *c)
{
    switch (c->enc) {
    case ENC_NONE: snprintf(c->enc_desc, sizeof c->enc_desc, "none"); break;
    case ENC_LOGIN_ONLY: snprintf(c->enc_desc, sizeof c->enc_desc, "login-only"); break;
    case ENC_FULL:
    case ENC_STRICT:
        snprintf(c->enc_desc, sizeof c->enc_desc, "%s%s", c->tls ? net_tls_version(c->tls) : "TLS",
                 c->enc == ENC_STRICT ? " strict" : "");
        break;
    }
}

int net__login_start(net_conn *c)
{
    c->have_nonce = false;
    c->fedauth_required = false;
    c->fa_info_seen = c->fa_token_sent = false;
    c->wire = WIRE_PLAIN;
    if (c->o.encrypt == NET_ENCRYPT_STRICT) {
        c->enc = ENC_STRICT;
        int rc = tls_start(c, true);
        if (rc)
            return rc;
        c->state = NS_TLS_STRICT;
        if (net_tls_handshake(c->tls, &c->last_err) < 0)
            return c->last_err.code;
        return tls_out(c, false);
    }
    c->enc = ENC_NONE;
    return send_prelogin(c);
}

int net__login_strict_input(net_conn *c)
{
    const uint8_t *p;
    size_t n;
    net_tcp_peek(c->tcp, &p, &n);
    if (n == 0)
        return NET_OK;
    if (net_tls_feed(c->tls, p, n))
        return net__fail(&c->last_err, NET_E_NOMEM, "out of memory");
    net_tcp_consume(c->tcp, n);
    int r = net_tls_handshake(c->tls, &c->last_err);
    int rc = tls_out(c, false);
    if (r < 0)
        return c->last_err.code;
    if (rc)
        return rc;
    if (r == 0)
        return NET_OK;
    const char *alpn = net_tls_alpn(c->tls);
    if (*alpn && strcmp(alpn, "tds/8.0") != 0)
        return net__fail(&c->last_err, NET_E_STRICT_UNSUPPORTED,
                         "encrypt=strict: the server chose ALPN '%s', not tds/8.0", alpn);
    c->wire = WIRE_TLS;
    describe_encryption(c);
    return send_prelogin(c);
}

/* The PRELOGIN reply: decide on encryption. */
static int prelogin_reply(net_conn *c, const tds_event *ev)
{
    tds_prelogin p;
    if (ev->u.message.type != TDS_PKT_REPLY && ev->u.message.type != TDS_PKT_PRELOGIN)
        return net__fail(&c->last_err, NET_E_PROTO,
                         "the server answered PRELOGIN with packet type 0x%02X", ev->u.message.type);
    int rc = tds_prelogin_decode(ev->u.message.data, ev->u.message.len, &p);
    if (rc)
        return net__fail(&c->last_err, NET_E_PROTO, "malformed PRELOGIN reply: %s", tds_strerror(rc));
    uint8_t srv = (p.present & (1u << TDS_PL_ENCRYPTION)) ? (uint8_t)(p.encryption & 0x7F)
                                                            : TDS_ENCRYPT_NOT_SUP;
    c->fedauth_required = (p.present & (1u << TDS_PL_FEDAUTHREQUIRED)) && p.fedauth_required;
    c->have_nonce = (p.present & (1u << TDS_PL_NONCEOPT)) != 0;
    if (c->have_nonce)
        memcpy(c->nonce, p.nonce, sizeof c->nonce);
    if (c->enc == ENC_STRICT)
        return send_login7(c);

    switch (c->client_encrypt) {
    case TDS_ENCRYPT_NOT_SUP:
        if (srv == TDS_ENCRYPT_ON || srv == TDS_ENCRYPT_REQ)
            return net__fail(&c->last_err, NET_E_ENCRYPT_REQUIRED,
                             "the server %s requires encryption but encrypt=disable; use "
                             "encrypt=true (or encrypt=false for login-only encryption)", c->host);
        c->enc = ENC_NONE;
        break;
    case TDS_ENCRYPT_OFF:
        c->enc = srv == TDS_ENCRYPT_NOT_SUP ? ENC_NONE
                 : srv == TDS_ENCRYPT_OFF  ? ENC_LOGIN_ONLY
                                           : ENC_FULL;
        break;
    default:
        if (srv == TDS_ENCRYPT_NOT_SUP)
            return net__fail(&c->last_err, NET_E_ENCRYPT_UNSUPPORTED,
                             "the server %s cannot encrypt (no TLS certificate) while encryption "
                             "is mandatory; fix the server, or use encrypt=false to connect "
                             "without encryption", c->host);
        c->enc = ENC_FULL;
        break;
    }
    if (c->enc == ENC_NONE) {
        describe_encryption(c);
        return send_login7(c);
    }
    rc = tls_start(c, false);
    if (rc)
        return rc;
    c->state = NS_TLS_HS;
    tds_expect_message(c->s);
    if (net_tls_handshake(c->tls, &c->last_err) < 0)
        return c->last_err.code;
    return tls_out(c, true);
}

/* A PRELOGIN packet carrying the server's handshake records. */
static int tls_hs_message(net_conn *c, const tds_event *ev)
{
    if (ev->u.message.type != TDS_PKT_REPLY && ev->u.message.type != TDS_PKT_PRELOGIN)
        return net__fail(&c->last_err, NET_E_PROTO,
                         "unexpected packet type 0x%02X during the TLS handshake", ev->u.message.type);
    if (net_tls_feed(c->tls, ev->u.message.data, ev->u.message.len))
        return net__fail(&c->last_err, NET_E_NOMEM, "out of memory");
    int r = net_tls_handshake(c->tls, &c->last_err);
    if (r < 0)
        return c->last_err.code;
    int rc = tls_out(c, true);
    if (rc)
        return rc;
    if (r == 0) {
        tds_expect_message(c->s);
        return NET_OK;
    }
    /* Handshake done: from now on TDS packets travel inside TLS records. */
    c->wire = WIRE_TLS;
    describe_encryption(c);
    return send_login7(c);
}

static int reroute(net_conn *c)
{
    if (c->routed)
        return net__fail(&c->last_err, NET_E_ROUTING,
                         "the server %s redirected the login again (to %s:%u); only one redirect is followed",
                         c->host, c->route_host, (unsigned)c->route_port);
    if (!c->route_port || !c->route_host || !*c->route_host)
        return net__fail(&c->last_err, NET_E_ROUTING, "the server sent an empty routing redirect");
    char *h = c->route_host;
    c->route_host = NULL;
    free(c->host);
    c->host = h;
    c->port = c->route_port;
    c->tls_host = c->host; /* verify TLS against the new host */
    c->routed = true;
    net__transport_reset(c);
    net__connect_start(c);
    return NET_OK;
}

static int login_event(net_conn *c, const tds_event *ev)
{
    switch (ev->type) {
    case TDS_EV_LOGINACK:
        c->loginack = true;
        break;
    case TDS_EV_ENVCHANGE:
        if (ev->u.env.type == TDS_ENV_ROUTING) {
            const tds_str *srv = &ev->u.env.routing_server;
            size_t n = srv->len;
            const char *bs = memchr(srv->ptr, '\\', n);
            if (bs)
                n = (size_t)(bs - srv->ptr); /* strip \instance */
            free(c->route_host);
            c->route_host = malloc(n + 1);
            if (!c->route_host)
                return net__fail(&c->last_err, NET_E_NOMEM, "out of memory");
            memcpy(c->route_host, srv->ptr, n);
            c->route_host[n] = '\0';
            c->route_port = ev->u.env.routing_port;
        }
        break;
    case TDS_EV_ERROR:
        if (!c->login_error) {
            c->login_error = true;
            net__server_error(&c->login_err, NET_E_LOGIN, &ev->u.msg);
            c->login_err.during_login = true;
        }
        break;
    case TDS_EV_FEDAUTHINFO:
        return net__entra_info(c, ev);
    case TDS_EV_MESSAGE_END:
        if (c->route_host)
            return reroute(c);
        if (c->login_error) {
            int r = net__entra_retry_fresh(c);
            if (r)
                return r > 0 ? NET_OK : r;
            c->last_err = c->login_err;
            net__token_expiry_note(c, &c->last_err);
            return c->last_err.code;
        }
        if (c->fa_info_seen && !c->fa_token_sent) {
            /* FEDAUTHINFO is the only token of its message (MS-TDS
             * 2.2.7.12): nothing else may have come with it. */
            if (c->loginack)
                return net__fail(&c->last_err, NET_E_PROTO,
                                 "the server sent FEDAUTHINFO together with a login acknowledgement");
            return net__entra_send_token(c);
        }
        if (!c->loginack)
            return net__fail(&c->last_err, NET_E_LOGIN,
                             "the server ended the login reply without accepting or refusing it");
        net__open_done(c, NULL);
        break;
    default:
        break;
    }
    return NET_OK;
}

int net__login_event(net_conn *c, const tds_event *ev)
{
    switch (c->state) {
    case NS_PRELOGIN:
        if (ev->type != TDS_EV_MESSAGE)
            return net__fail(&c->last_err, NET_E_PROTO, "unexpected reply to PRELOGIN");
        return prelogin_reply(c, ev);
    case NS_TLS_HS:
        if (ev->type != TDS_EV_MESSAGE)
            return net__fail(&c->last_err, NET_E_PROTO, "unexpected data during the TLS handshake");
        return tls_hs_message(c, ev);
    case NS_LOGIN:
        return login_event(c, ev);
    default:
        return net__fail(&c->last_err, NET_E_STATE, "handshake event in the wrong state");
    }
}

void net__login_closed(net_conn *c, int status, const net_error *e, net_error *out)
{
    const char *why = e ? e->message : "connection closed";
    if (c->state == NS_LOGIN && c->login_error) {
        /* The server said why before hanging up: that is the news. */
        *out = c->login_err;
        out->during_login = true;
        net__token_expiry_note(c, out);
        return;
    }
    switch (c->state) {
    case NS_TLS_STRICT:
        if (c->tls && !net_tls_peer_spoke_tls(c->tls)) {
            net__fail(out, NET_E_STRICT_UNSUPPORTED,
                      "encrypt=strict: %s:%u closed the connection during the TLS handshake; it does "
                      "not support TDS 8.0 (use encrypt=true)", c->host, (unsigned)c->port);
            return;
        }
        net__fail(out, status, "TLS handshake with %s:%u failed: %s", c->host, (unsigned)c->port, why);
        break;
    case NS_PRELOGIN:
        net__fail(out, status,
                  "%s:%u closed the connection after PRELOGIN (%s); if the server only accepts TDS 8.0, "
                  "use encrypt=strict", c->host, (unsigned)c->port, why);
        break;
    case NS_TLS_HS:
        net__fail(out, status, "%s:%u closed the connection during the TLS handshake (%s)", c->host,
                  (unsigned)c->port, why);
        break;
    default:
        net__fail(out, status, "%s:%u closed the connection during login (%s)", c->host,
                  (unsigned)c->port, why);
        break;
    }
    out->during_login = true;
}
