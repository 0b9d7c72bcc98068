/*
 * tls.c — tdstestd's TLS adapter: OpenSSL 3 driven through memory BIOs.
 *
 * Owns: two SSL_CTXs (TDS 7.x: TLS 1.2 at most, handshake carried by the
 * caller inside PRELOGIN packets; TDS 8.0 strict: TLS 1.2–1.3 on the raw
 * socket with ALPN "tds/8.0") and one SSL per connection. This file never
 * sees a socket or a TDS packet: the caller feeds ciphertext in, takes
 * ciphertext out, and reads/writes plaintext.
 *
 * Invariant: every SSL call is followed by the caller draining srv_net_tls_out,
 * so alerts and handshake flights are never left behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "network_int.h"

struct srv_net_tls_ctx {
    SSL_CTX *ctx7;     /* TDS 7.x */
    SSL_CTX *strict;   /* TDS 8.0 */
};

struct srv_net_tls {
    SSL *ssl;
    BIO *rbio;         /* ciphertext from the peer */
    BIO *wbio;         /* ciphertext to the peer */
    bool done;
};

static const unsigned char alpn_tds8[] = "tds/8.0";

static void tls_log_errors(const char *what)
{
    unsigned long e;
    char buf[256];
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof buf);
        fprintf(stderr, "tdstestd: tls: %s: %s\n", what, buf);
    }
}

/* ALPN: pick tds/8.0 when offered; a client that offers none still gets
 * TLS (SQL Server is lenient here too), one that offers only others fails. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned int i = 0;
    while (i < inlen) {
        unsigned int l = in[i];
        if (i + 1 + l > inlen)
            break;
        if (l == sizeof alpn_tds8 - 1 && memcmp(in + i + 1, alpn_tds8, l) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)l;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static SSL_CTX *ctx_make(const char *cert, const char *key, bool strict,
                         char *err, size_t errcap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errcap, "SSL_CTX_new failed");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, strict ? TLS1_3_VERSION : TLS1_2_VERSION);
    /* No tickets: a TLS 1.2 flight then never carries an extra message the
     * in-PRELOGIN handshake would have to place. No renegotiation. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_log_errors("certificate");
        snprintf(err, errcap, "cannot load certificate %s", cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        tls_log_errors("key");
        snprintf(err, errcap, "cannot load private key %s", key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (strict)
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
}

srv_net_tls_ctx *srv_net_tls_ctx_new(const char *cert_file, const char *key_file,
                             char *err, size_t errcap)
{
    srv_net_tls_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    c->ctx7 = ctx_make(cert_file, key_file, false, err, errcap);
    if (c->ctx7)
        c->strict = ctx_make(cert_file, key_file, true, err, errcap);
    if (!c->ctx7 || !c->strict) {
        srv_net_tls_ctx_free(c);
        return NULL;
    }
    return c;
}

void srv_net_tls_ctx_free(srv_net_tls_ctx *c)
{
    if (!c)
        return;
    SSL_CTX_free(c->ctx7);
    SSL_CTX_free(c->strict);
    free(c);
}

srv_net_tls *srv_net_tls_new(srv_net_tls_ctx *c, bool strict)
{
    srv_net_tls *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ssl = SSL_new(strict ? c->strict : c->ctx7);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return NULL;
    }
    /* An empty read BIO means "want more", not EOF. */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both now */
    SSL_set_accept_state(t->ssl);
    return t;
}

void srv_net_tls_free(srv_net_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

int srv_net_tls_feed(srv_net_tls *t, const uint8_t *p, size_t n)
{
    while (n > 0) {
        int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
        int w = BIO_write(t->rbio, p, chunk);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int srv_net_tls_handshake(srv_net_tls *t)
{
    if (t->done)
        return 1;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->done = true;
        return 1;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    tls_log_errors("handshake");
    return -1;
}

bool srv_net_tls_done(const srv_net_tls *t) { return t->done; }

int srv_net_tls_read(srv_net_tls *t, uint8_t *buf, size_t cap)
{
    if (cap == 0)
        return 0;
    ERR_clear_error();
    int want = cap > (1u << 30) ? (1 << 30) : (int)cap;
    int r = SSL_read(t->ssl, buf, want);
    if (r > 0)
        return r;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e != SSL_ERROR_ZERO_RETURN)
        tls_log_errors("read");
    return -1;
}

int srv_net_tls_write(srv_net_tls *t, const uint8_t *p, size_t n)
{
    while (n > 0) {
        /* One record at most 16 KiB: SSL_write splits as needed. */
        int chunk = n > 16384 ? 16384 : (int)n;
        ERR_clear_error();
        int w = SSL_write(t->ssl, p, chunk);
        if (w <= 0) {
            tls_log_errors("write");
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

size_t srv_net_tls_out(srv_net_tls *t, uint8_t *buf, size_t cap)
{
    int want = cap > (1u << 30) ? (1 << 30) : (int)cap;
    int r = BIO_read(t->wbio, buf, want);
    return r > 0 ? (size_t)r : 0;
}

size_t srv_net_tls_out_pending(srv_net_tls *t) { return BIO_ctrl_pending(t->wbio); }

bool srv_net_tls_has_plain(srv_net_tls *t) { return SSL_pending(t->ssl) > 0; }

const char *srv_net_tls_version(const srv_net_tls *t) { return SSL_get_version(t->ssl); }

const char *srv_net_tls_alpn(const srv_net_tls *t)
{
    static char buf[32]; /* single-threaded server */
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    if (!p || n >= sizeof buf)
        return "";
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}
