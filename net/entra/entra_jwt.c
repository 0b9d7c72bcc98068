/*
 * entra_jwt.c — the signed client assertion of a certificate credential
 * (Microsoft identity platform, "certificate credentials"): a JWT with
 * header {alg RS256, typ JWT, x5t} and claims {aud, iss, sub, jti, nbf,
 * iat, exp}, signed with the certificate's RSA key (OpenSSL 3 EVP).
 *
 * The PEM file holds the certificate and its private key in any order
 * (a chain may follow; the certificate used is the one matching the key).
 * An encrypted key is opened with key_password only: OpenSSL's default
 * password callback would prompt on the terminal, so a callback of our own
 * answers instead. The file's bytes are wiped after use, and OpenSSL's
 * thread-local error queue is left empty (net/tls.c reads it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "entra_int.h"
#include "net_int.h"

#define PEM_FILE_MAX (1u << 20)

/* base64url without padding (RFC 7515 §2); malloc'd or NULL. */
static char *b64url(const unsigned char *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *o = malloc(n / 3 * 4 + 5), *w = o;
    if (!o)
        return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        *w++ = a[v >> 18], *w++ = a[(v >> 12) & 63], *w++ = a[(v >> 6) & 63], *w++ = a[v & 63];
    }
    if (i + 1 == n) {
        unsigned v = (unsigned)p[i] << 16;
        *w++ = a[v >> 18], *w++ = a[(v >> 12) & 63];
    } else if (i + 2 == n) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        *w++ = a[v >> 18], *w++ = a[(v >> 12) & 63], *w++ = a[(v >> 6) & 63];
    }
    *w = '\0';
    return o;
}

/* A JSON string literal (quotes included) for s; malloc'd or NULL. */
static char *json_quote(const char *s)
{
    char *o = malloc(strlen(s) * 6 + 3), *w = o;
    if (!o)
        return NULL;
    *w++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            *w++ = '\\', *w++ = (char)*p;
        else if (*p < 0x20)
            w += sprintf(w, "\\u%04x", *p);
        else
            *w++ = (char)*p;
    }
    *w++ = '"';
    *w = '\0';
    return o;
}

static void wipe_free(char *s, size_t n)
{
    if (s) {
        net_wipe(s, n);
        free(s);
    }
}

/* The whole file (≤ 1 MB) in *buf; 0, or a net_err with err filled. */
static int pem_read_file(const char *path, char **buf, size_t *len, net_error *err)
{
    FILE *f = entra_fopen_regular(path);
    if (!f)
        return net__fail(err, NET_E_ARG, "cannot read the client certificate %s: %s", path,
                         errno == EINVAL ? "not a regular file" : strerror(errno));
    char *b = malloc(PEM_FILE_MAX + 1);
    size_t n = b ? fread(b, 1, PEM_FILE_MAX + 1, f) : 0;
    bool bad = b && (ferror(f) || n > PEM_FILE_MAX);
    fclose(f);
    if (!b)
        return net__fail(err, NET_E_NOMEM, "out of memory");
    if (bad) {
        wipe_free(b, n);
        return net__fail(err, NET_E_ARG, "cannot read the client certificate %s (over 1 MB?)", path);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return NET_OK;
}

/* OpenSSL asks for the key's password here: the one given, or none. */
static int pem_password(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    if (!pw)
        return -1;
    size_t n = strlen(pw);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pw, n);
    return (int)n;
}

/* The private key and the certificate it belongs to. */
static int pem_load(const char *buf, size_t len, const char *password, const char *path, EVP_PKEY **key,
                    X509 **cert, net_error *err)
{
    BIO *b = BIO_new_mem_buf(buf, (int)len);
    *key = b ? PEM_read_bio_PrivateKey(b, NULL, pem_password, (void *)password) : NULL;
    BIO_free(b);
    if (!*key)
        return net__fail(err, NET_E_ARG, "cannot read the private key in %s (%s)", path,
                         password ? "wrong password?" : "none, or encrypted and no password given");
    if (!EVP_PKEY_is_a(*key, "RSA"))
        return net__fail(err, NET_E_ARG, "the key in %s is not an RSA key (RS256 needs one)", path);
    b = BIO_new_mem_buf(buf, (int)len);
    X509 *x;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        if (X509_check_private_key(x, *key)) {
            *cert = x;
            break;
        }
        X509_free(x);
    }
    BIO_free(b);
    if (!*cert)
        return net__fail(err, NET_E_ARG, "%s holds no certificate for its private key", path);
    return NET_OK;
}

/* The header, base64url: {"alg":"RS256","typ":"JWT","x5t":"<SHA-1 of DER>"}. */
static char *jwt_header(X509 *cert)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!X509_digest(cert, EVP_sha1(), md, &mdlen))
        return NULL;
    char *x5t = b64url(md, mdlen), json[160], *out = NULL;
    if (x5t) {
        snprintf(json, sizeof json, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\"}", x5t);
        out = b64url((const unsigned char *)json, strlen(json));
    }
    free(x5t);
    return out;
}

/* The claims, base64url; jti a random UUID (v4 form). */
static char *jwt_claims(const char *client_id, const char *audience, int64_t now)
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1)
        return NULL;
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40), r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    char jti[40], *aud = json_quote(audience), *id = json_quote(client_id), *json = NULL, *out = NULL;
    snprintf(jti, sizeof jti, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    size_t cap = (aud ? strlen(aud) : 0) + (id ? 2 * strlen(id) : 0) + 200;
    if (aud && id && (json = malloc(cap))) {
        int n = snprintf(json, cap, "{\"aud\":%s,\"iss\":%s,\"sub\":%s,\"jti\":\"%s\",\"nbf\":%lld,\"iat\":%lld,"
                                    "\"exp\":%lld}",
                         aud, id, id, jti, (long long)now, (long long)now, (long long)now + 600);
        out = b64url((const unsigned char *)json, (size_t)n);
    }
    free(aud), free(id), free(json);
    return out;
}

/* "<header>.<claims>.<signature>", RSASSA-PKCS1-v1_5 with SHA-256. */
static char *jwt_sign(EVP_PKEY *key, const char *header, const char *claims)
{
    size_t hn = strlen(header), cn = strlen(claims), sn = 0;
    char *data = malloc(hn + cn + 2), *sig64 = NULL, *out = NULL;
    unsigned char *sig = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!data || !md)
        goto done;
    snprintf(data, hn + cn + 2, "%s.%s", header, claims);
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, NULL, &sn, (unsigned char *)data, hn + cn + 1) != 1 || !(sig = malloc(sn)) ||
        EVP_DigestSign(md, sig, &sn, (unsigned char *)data, hn + cn + 1) != 1 || !(sig64 = b64url(sig, sn)))
        goto done;
    size_t on = hn + cn + strlen(sig64) + 3;
    if ((out = malloc(on)))
        snprintf(out, on, "%s.%s", data, sig64);
done:
    EVP_MD_CTX_free(md);
    free(data), free(sig), free(sig64);
    return out;
}

int entra_jwt_assertion(const char *pem_path, const char *key_password, const char *client_id,
                        const char *audience, int64_t now, char **out, net_error *err)
{
    char *buf = NULL, *header = NULL, *claims = NULL;
    size_t len = 0;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    *out = NULL;
    int rc = pem_read_file(pem_path, &buf, &len, err);
    if (!rc)
        rc = pem_load(buf, len, key_password, pem_path, &key, &cert, err);
    if (!rc && (!(header = jwt_header(cert)) || !(claims = jwt_claims(client_id, audience, now)) ||
                !(*out = jwt_sign(key, header, claims))))
        rc = net__fail(err, NET_E_NOMEM, "cannot sign the client assertion with the key in %s", pem_path);
    wipe_free(buf, len);
    free(header), free(claims);
    EVP_PKEY_free(key); /* OpenSSL clears key material on free */
    X509_free(cert);
    ERR_clear_error();
    return rc;
}
