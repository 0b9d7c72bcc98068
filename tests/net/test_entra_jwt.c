/*
 * test_entra_jwt.c — the certificate credential's client assertion
 * (entra_jwt.c): the signature is verified with the certificate's public
 * key, the header's x5t is the SHA-1 of the DER certificate computed here
 * independently, the claims are what the token endpoint expects, and bad
 * files (wrong password, no key, no matching certificate, EC key) give one
 * line without the password. Keys are made with the openssl command.
 */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "entra/entra_int.h"
#include "helpers.h"
#include "json_load.h"

#define AUD "https://127.0.0.1:4443/tenant-1/oauth2/v2.0/token"

static char dir[600];

static void path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* client.pem (cert then key), keyfirst.pem, enc.pem (key encrypted with
 * "pem pass"), certonly.pem, other.pem (another key), ec.pem. */
static void make_keys(void)
{
    th_certs(); /* creates NET_TEST_TMP */
    snprintf(dir, sizeof dir, "%s/entra-jwt-%d", NET_TEST_TMP, (int)getpid());
    char cmd[4000];
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p '%1$s'; cd '%1$s';"
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 2 -subj /CN=tdspipe-client 2>/dev/null;"
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out k2.pem 2>/dev/null;"
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out kec.pem 2>/dev/null;"
             "openssl req -x509 -key kec.pem -out cec.pem -days 2 -subj /CN=ec 2>/dev/null;"
             "openssl pkey -in k.pem -aes256 -passout 'pass:pem pass' -out kenc.pem;"
             "cat c.pem k.pem > client.pem; cat k.pem c.pem > keyfirst.pem; cat c.pem kenc.pem > enc.pem;"
             "cp c.pem certonly.pem; cat c.pem k2.pem > other.pem; cat cec.pem kec.pem > ec.pem",
             dir);
    cr_assert_eq(system(cmd), 0, "openssl failed");
}

static void drop_keys(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cleanup failed\n");
}

TestSuite(entra_jwt, .init = make_keys, .fini = drop_keys, .timeout = 60);

static unsigned char *b64url_decode(const char *s, size_t n, size_t *outlen)
{
    char *std = malloc(n + 4);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        std[m++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (m % 4)
        std[m++] = '=';
    unsigned char *out = malloc(m / 4 * 3 + 1);
    int r = EVP_DecodeBlock(out, (unsigned char *)std, (int)m);
    cr_assert_geq(r, 0);
    *outlen = (size_t)r - (n % 4 == 2 ? 2 : n % 4 == 3 ? 1 : 0);
    out[*outlen] = '\0';
    free(std);
    return out;
}

static const cJSON *member(const cJSON *o, const char *k)
{
    for (const cJSON *m = o->child; m; m = m->next)
        if (m->string && strcmp(m->string, k) == 0)
            return m;
    cr_assert_fail("no %s", k);
    return NULL;
}

static X509 *read_cert(const char *file)
{
    FILE *f = fopen(file, "r");
    cr_assert_not_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    cr_assert_not_null(x);
    return x;
}

/* The expected x5t: base64url(SHA-1(DER)) without padding. */
static void expected_x5t(X509 *x, char *out)
{
    unsigned char *der = NULL, md[20];
    int n = i2d_X509(x, &der);
    EVP_Digest(der, (size_t)n, md, NULL, EVP_sha1(), NULL);
    OPENSSL_free(der);
    unsigned char b64[40];
    EVP_EncodeBlock(b64, md, 20); /* 28 chars with one '=' */
    for (int i = 0; i < 27; i++)
        out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
    out[27] = '\0';
}

/* The claims (cJSON; skipped in a fully static build, which has none). */
static void check_claims(const unsigned char *c, size_t cl, const char *client_id, int64_t now)
{
    const net_json_api *cj;
    if (net_json_load(&cj) != NET_JSON_OK)
        return;
    cJSON *claims = cj->parse((const char *)c, cl, NULL, false);
    cr_assert_not_null(claims);
    cr_assert_str_eq(member(claims, "aud")->valuestring, AUD);
    cr_assert_str_eq(member(claims, "iss")->valuestring, client_id);
    cr_assert_str_eq(member(claims, "sub")->valuestring, client_id);
    cr_assert_eq(strlen(member(claims, "jti")->valuestring), 36);
    cr_assert_eq((int64_t)member(claims, "nbf")->valuedouble, now);
    cr_assert_eq((int64_t)member(claims, "iat")->valuedouble, now);
    cr_assert_eq((int64_t)member(claims, "exp")->valuedouble, now + 600);
    cj->del(claims);
}

/* Checks signature, header and claims of jwt for client_id. */
static void check_jwt(const char *jwt, const char *client_id, int64_t now)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    cr_assert(d1 && d2 && !strchr(d2 + 1, '.'));
    cr_assert_null(strchr(jwt, '='));
    size_t hl, cl, sl;
    unsigned char *h = b64url_decode(jwt, (size_t)(d1 - jwt), &hl);
    unsigned char *c = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &cl);
    unsigned char *sig = b64url_decode(d2 + 1, strlen(d2 + 1), &sl);
    char cpem[700];
    path(cpem, sizeof cpem, "c.pem");
    X509 *x = read_cert(cpem);
    EVP_PKEY *pub = X509_get_pubkey(x);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    cr_assert_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
    cr_assert_eq(EVP_DigestVerify(md, sig, sl, (const unsigned char *)jwt, (size_t)(d2 - jwt)), 1,
                 "signature does not verify");
    char x5t[32], header[128];
    expected_x5t(x, x5t);
    snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\"}", x5t);
    cr_assert_str_eq((const char *)h, header);
    check_claims(c, cl, client_id, now);
    EVP_MD_CTX_free(md), EVP_PKEY_free(pub), X509_free(x);
    free(h), free(c), free(sig);
}

static int assertion(const char *file, const char *pw, const char *client_id, char **jwt, net_error *e)
{
    char p[700];
    path(p, sizeof p, file);
    memset(e, 0, sizeof *e);
    return entra_jwt_assertion(p, pw, client_id, AUD, 1700000000, jwt, e);
}

Test(entra_jwt, signed_and_shaped)
{
    char *jwt;
    net_error e;
    cr_assert_eq(assertion("client.pem", NULL, "app-1", &jwt, &e), NET_OK, "%s", e.message);
    check_jwt(jwt, "app-1", 1700000000);
    char *jwt2;
    cr_assert_eq(assertion("client.pem", NULL, "app-1", &jwt2, &e), NET_OK);
    cr_assert_str_neq(jwt, jwt2); /* a fresh jti each time */
    free(jwt), free(jwt2);
}

Test(entra_jwt, key_first_and_encrypted_key)
{
    char *jwt;
    net_error e;
    cr_assert_eq(assertion("keyfirst.pem", NULL, "app-1", &jwt, &e), NET_OK, "%s", e.message);
    check_jwt(jwt, "app-1", 1700000000);
    free(jwt);
    cr_assert_eq(assertion("enc.pem", "pem pass", "a\"pp\\2", &jwt, &e), NET_OK, "%s", e.message);
    check_jwt(jwt, "a\"pp\\2", 1700000000); /* JSON-escaped client id */
    free(jwt);
}

Test(entra_jwt, refusals_one_line_no_password)
{
    char *jwt = NULL;
    net_error e;
    cr_assert_eq(assertion("enc.pem", "wrong-password-123", "app-1", &jwt, &e), NET_E_ARG);
    cr_assert_not_null(strstr(e.message, "private key"), "%s", e.message);
    cr_assert_null(strstr(e.message, "wrong-password-123"));
    cr_assert_null(jwt);
    cr_assert_eq(assertion("enc.pem", NULL, "app-1", &jwt, &e), NET_E_ARG); /* no prompt on a terminal */
    cr_assert_not_null(strstr(e.message, "private key"), "%s", e.message);
    cr_assert_eq(assertion("certonly.pem", NULL, "app-1", &jwt, &e), NET_E_ARG);
    cr_assert_eq(assertion("other.pem", NULL, "app-1", &jwt, &e), NET_E_ARG);
    cr_assert_not_null(strstr(e.message, "no certificate for its private key"), "%s", e.message);
    cr_assert_eq(assertion("ec.pem", NULL, "app-1", &jwt, &e), NET_E_ARG);
    cr_assert_not_null(strstr(e.message, "not an RSA key"), "%s", e.message);
    cr_assert_eq(assertion("missing.pem", NULL, "app-1", &jwt, &e), NET_E_ARG);
    cr_assert_not_null(strstr(e.message, "missing.pem"), "%s", e.message);
    cr_assert_null(strchr(e.message, '\n'));
    cr_assert_null(jwt);
}
