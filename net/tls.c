/*
 * tls.c — the client's TLS adapter: OpenSSL 3 through memory BIOs.
 *
 * Owns: one SSL_CTX + SSL per connection, certificate verification (system
 * store or a CA file, host name or address check, HostNameInCertificate
 * override handled by the caller choosing verify_host) and the mapping of
 * verification failures to their own error codes and messages. TDS 7.x:
 * TLS 1.2 at most (the handshake travels in PRELOGIN packets, carried by
 * login.c). TDS 8.0 strict: TLS 1.2–1.3, ALPN "tds/8.0", SNI.
 *
 * Never touches a socket: ciphertext in by net_tls_feed, out by
 * net_tls_out. Every call that may produce records is followed by the
 * caller draining net_tls_out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net_int.h"

struct net_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *rbio;       /* ciphertext from the peer (SSL reads it) */
    BIO *wbio;       /* ciphertext to the peer (SSL writes it) */
    bool strict;
    bool verify;
    bool spoke_tls;  /* the peer's first byte was a TLS record type */
    bool saw_input;
    char host[256];
    char alpn[32];
};

static const unsigned char alpn_wire[] = "\x07tds/8.0";

static bool is_ip_literal(const char *h)
{
    unsigned char buf[16];
    return h && (inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1);
}

/* The last OpenSSL error as text (and the queue cleared). */
static void ssl_err_text(char *out, size_t cap)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    if (last)
        ERR_error_string_n(last, out, cap);
    else
        snprintf(out, cap, "no detail");
}

net_tls *net_tls_new(const net_tls_cfg *cfg, net_error *e)
{
    net_tls *t = calloc(1, sizeof *t);
    if (!t) {
        net__fail(e, NET_E_NOMEM, "out of memory");
        return NULL;
    }
    t->strict = cfg->strict;
    t->verify = cfg->verify;
    snprintf(t->host, sizeof t->host, "%s", cfg->verify_host ? cfg->verify_host : "");
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx)
        goto nomem;
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(t->ctx, cfg->strict ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    if (cfg->verify) {
        if (cfg->ca_file && *cfg->ca_file) {
            if (SSL_CTX_load_verify_locations(t->ctx, cfg->ca_file, NULL) != 1) {
                char d[200];
                ssl_err_text(d, sizeof d);
                net__fail(e, NET_E_TLS, "cannot load the CA certificate file '%s' (ServerCertificate): %s",
                          cfg->ca_file, d);
                net_tls_free(t);
                return NULL;
            }
            /* A pinned server certificate is its own trust anchor. */
            X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(t->ctx), X509_V_FLAG_PARTIAL_CHAIN);
        } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            goto nomem;
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    }
    t->ssl = SSL_new(t->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        t->rbio = t->wbio = NULL;
        goto nomem;
    }
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_connect_state(t->ssl);
    if (cfg->verify && t->host[0]) {
        if (is_ip_literal(t->host)) {
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->host) != 1)
                goto nomem;
        } else if (SSL_set1_host(t->ssl, t->host) != 1) {
            goto nomem;
        }
    }
    if (cfg->sni && *cfg->sni && !is_ip_literal(cfg->sni))
        SSL_set_tlsext_host_name(t->ssl, cfg->sni);
    if (cfg->strict && SSL_set_alpn_protos(t->ssl, alpn_wire, sizeof alpn_wire - 1) != 0)
        goto nomem;
    return t;
nomem:
    net__fail(e, NET_E_NOMEM, "out of memory setting up TLS");
    net_tls_free(t);
    return NULL;
}

void net_tls_free(net_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    SSL_CTX_free(t->ctx);
    free(t);
}

int net_tls_feed(net_tls *t, const uint8_t *p, size_t n)
{
    if (n && !t->saw_input) {
        t->saw_input = true;
        /* TLS record types: alert 21, handshake 22. A TDS packet starts
         * with 0x04 or 0x12 instead. */
        t->spoke_tls = p[0] == 21 || p[0] == 22;
    }
    while (n) {
        int k = BIO_write(t->rbio, p, n > 65536 ? 65536 : (int)n);
        if (k <= 0)
            return NET_E_NOMEM;
        p += k;
        n -= (size_t)k;
    }
    return NET_OK;
}

bool net_tls_peer_spoke_tls(const net_tls *t) { return t->spoke_tls; }

static void x509_time(const ASN1_TIME *tm, char *out, size_t cap)
{
    out[0] = '\0';
    if (!tm)
        return;
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (ASN1_TIME_print(b, tm) == 1) {
        int n = BIO_read(b, out, (int)cap - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

/* A failed handshake: name what was wrong with the certificate, if that
 * was it. */
static int handshake_error(net_tls *t, net_error *e)
{
    long vr = SSL_get_verify_result(t->ssl);
    char d[200];
    ssl_err_text(d, sizeof d);
    if (t->verify && vr != X509_V_OK) {
        const char *why = X509_verify_cert_error_string(vr);
        switch (vr) {
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return net__fail(e, NET_E_TLS_HOSTNAME,
                             "TLS: the server's certificate does not match the host name '%s'; "
                             "set HostNameInCertificate to the name the certificate carries",
                             t->host);
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID: {
            char when[64] = "";
            X509 *peer = SSL_get0_peer_certificate(t->ssl);
            if (peer)
                x509_time(vr == X509_V_ERR_CERT_HAS_EXPIRED ? X509_get0_notAfter(peer)
                                                            : X509_get0_notBefore(peer),
                          when, sizeof when);
            return net__fail(e, NET_E_TLS_EXPIRED,
                             "TLS: the server's certificate %s%s%s; renew it on the server",
                             vr == X509_V_ERR_CERT_HAS_EXPIRED ? "has expired" : "is not valid yet",
                             when[0] ? (vr == X509_V_ERR_CERT_HAS_EXPIRED ? " (not after " : " (not before ") : "",
                             when[0] ? when : "");
        }
        default:
            return net__fail(e, NET_E_TLS_UNTRUSTED,
                             "TLS: the server's certificate is not trusted (%s); give its CA with "
                             "ServerCertificate=<file.pem>, or TrustServerCertificate=yes for testing only",
                             why);
        }
    }
    return net__fail(e, NET_E_TLS, "TLS handshake failed: %s", d);
}

int net_tls_handshake(net_tls *t, net_error *e)
{
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1)
        return 1;
    int err = SSL_get_error(t->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    if (t->strict && t->saw_input && !t->spoke_tls)
        return net__fail(e, NET_E_STRICT_UNSUPPORTED,
                         "encrypt=strict: the server answered the TLS handshake with TDS, it does "
                         "not support TDS 8.0 (use encrypt=true)");
    return handshake_error(t, e);
}

int net_tls_read(net_tls *t, uint8_t *buf, size_t cap, net_error *e)
{
    if (cap > INT32_MAX)
        cap = INT32_MAX;
    ERR_clear_error();
    int r = SSL_read(t->ssl, buf, (int)cap);
    if (r > 0)
        return r;
    int err = SSL_get_error(t->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    if (err == SSL_ERROR_ZERO_RETURN)
        return net__fail(e, NET_E_CLOSED, "the server closed the TLS session");
    char d[200];
    ssl_err_text(d, sizeof d);
    return net__fail(e, NET_E_TLS, "TLS read failed: %s", d);
}

int net_tls_write(net_tls *t, const uint8_t *p, size_t n, net_error *e)
{
    if (n == 0)
        return NET_OK;
    ERR_clear_error();
    int r = SSL_write(t->ssl, p, (int)n);
    if (r == (int)n)
        return NET_OK;
    char d[200];
    ssl_err_text(d, sizeof d);
    return net__fail(e, NET_E_TLS, "TLS write failed: %s", d);
}

size_t net_tls_out_pending(net_tls *t)
{
    return BIO_ctrl_pending(t->wbio);
}

size_t net_tls_out_read(net_tls *t, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    while (got < cap) {
        size_t want = cap - got;
        int k = BIO_read(t->wbio, buf + got, want > INT32_MAX ? INT32_MAX : (int)want);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}

const char *net_tls_version(const net_tls *t) { return SSL_get_version(t->ssl); }

const char *net_tls_alpn(net_tls *t)
{
    const unsigned char *p = NULL;
    unsigned n = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    if (!p || n >= sizeof t->alpn)
        return "";
    memcpy(t->alpn, p, n);
    t->alpn[n] = '\0';
    return t->alpn;
}
