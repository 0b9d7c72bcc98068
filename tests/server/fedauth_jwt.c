/*
 * fedauth_jwt.c — tdstestd's check of an Entra access token (JWT) when
 * started with --fedauth-issuer-cert: the token must be a compact JWS
 * signed RS256 by the test identity server's key, not expired (exp, no
 * clock skew allowed), not before its nbf, and carry the expected audience
 * (aud: a string or an array of strings).
 *
 * Owns: loading the issuer key (a PEM certificate or public key) and the
 * verification. The token is never logged; the reason a token failed is
 * one short line naming the claim, and the principal (upn, unique_name,
 * appid, oid or sub, the first present) is for log lines only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "network_int.h"

struct srv_fedauth_key {
    EVP_PKEY *pkey;
};

srv_fedauth_key *srv_fedauth_key_load(const char *pem_path, char *err, size_t errcap)
{
    FILE *f = fopen(pem_path, "r");
    if (!f) {
        snprintf(err, errcap, "--fedauth-issuer-cert %s: cannot open", pem_path);
        return NULL;
    }
    EVP_PKEY *pk = NULL;
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    if (x) {
        pk = X509_get_pubkey(x);
        X509_free(x);
    } else {
        rewind(f);
        pk = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    }
    fclose(f);
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pk);
        snprintf(err, errcap, "--fedauth-issuer-cert %s: no RSA certificate or public key", pem_path);
        return NULL;
    }
    srv_fedauth_key *k = calloc(1, sizeof *k);
    if (!k) {
        EVP_PKEY_free(pk);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    k->pkey = pk;
    return k;
}

void srv_fedauth_key_free(srv_fedauth_key *k)
{
    if (k) {
        EVP_PKEY_free(k->pkey);
        free(k);
    }
}

/* base64url (no padding) into a malloc'd buffer (NUL-terminated). */
static unsigned char *b64url_decode(const char *s, size_t n, size_t *out_len)
{
    size_t padded = (n + 3) / 4 * 4;
    char *t = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!t || !out) {
        free(t);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+' || c == '/' || c == '=') /* base64url only */
            c = '!';
        t[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    for (size_t i = n; i < padded; i++)
        t[i] = '=';
    int w = n % 4 == 1 ? -1 : EVP_DecodeBlock(out, (const unsigned char *)t, (int)padded);
    free(t);
    if (w < 0) {
        free(out);
        return NULL;
    }
    size_t pad = (padded - n);
    *out_len = (size_t)w - pad;
    out[*out_len] = 0;
    return out;
}

static cJSON *segment_json(const char *s, size_t n)
{
    size_t len;
    unsigned char *raw = b64url_decode(s, n, &len);
    if (!raw)
        return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)raw, len);
    free(raw);
    return j;
}

static bool rs256_ok(const srv_fedauth_key *k, const char *signed_part, size_t slen,
                     const char *sig64, size_t sig64_len)
{
    size_t siglen;
    unsigned char *sig = b64url_decode(sig64, sig64_len, &siglen);
    if (!sig)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
              EVP_DigestVerify(md, sig, siglen, (const unsigned char *)signed_part, slen) == 1;
    EVP_MD_CTX_free(md);
    free(sig);
    return ok;
}

static bool aud_matches(const cJSON *aud, const char *want)
{
    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, want) == 0;
    if (!cJSON_IsArray(aud))
        return false;
    const cJSON *a;
    cJSON_ArrayForEach(a, aud)
        if (cJSON_IsString(a) && strcmp(a->valuestring, want) == 0)
            return true;
    return false;
}

static void principal_of(const cJSON *claims, char *out, size_t cap)
{
    static const char *const names[] = {"upn", "unique_name", "appid", "oid", "sub"};
    snprintf(out, cap, "?");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, names[i]);
        if (cJSON_IsString(v)) {
            snprintf(out, cap, "%s=%.100s", names[i], v->valuestring);
            return;
        }
    }
}

/* The claims' checks (exp, nbf, aud). Returns NULL or the reason. */
static const char *claims_fail(const cJSON *claims, const char *audience, int64_t now)
{
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
    if (!cJSON_IsNumber(exp))
        return "no exp claim";
    if ((double)now >= exp->valuedouble)
        return "token expired (exp)";
    if (nbf && (!cJSON_IsNumber(nbf) || (double)now < nbf->valuedouble))
        return "token not yet valid (nbf)";
    if (!aud_matches(cJSON_GetObjectItemCaseSensitive(claims, "aud"), audience))
        return "wrong audience (aud)";
    return NULL;
}

int srv_fedauth_jwt_verify(const srv_fedauth_key *k, const char *token, const char *audience,
                           int64_t now, char *why, size_t whycap, char *principal, size_t pcap)
{
    snprintf(principal, pcap, "?");
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.')) {
        snprintf(why, whycap, "not a JWT (three dot-separated parts)");
        return -1;
    }
    cJSON *hdr = segment_json(token, (size_t)(d1 - token));
    cJSON *claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    const char *fail = NULL;
    const cJSON *alg = hdr ? cJSON_GetObjectItemCaseSensitive(hdr, "alg") : NULL;
    if (!hdr || !cJSON_IsObject(claims))
        fail = "header or claims are not base64url JSON";
    else if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "RS256") != 0)
        fail = "alg is not RS256";
    else if (!rs256_ok(k, token, (size_t)(d2 - token), d2 + 1, strlen(d2 + 1)))
        fail = "signature does not verify with the issuer key";
    else
        fail = claims_fail(claims, audience, now);
    if (cJSON_IsObject(claims))
        principal_of(claims, principal, pcap);
    cJSON_Delete(hdr);
    cJSON_Delete(claims);
    if (fail) {
        snprintf(why, whycap, "%s", fail);
        return -1;
    }
    return 0;
}
