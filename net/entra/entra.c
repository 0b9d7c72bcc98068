/*
 * entra.c — entra_token_get, the one entry point of the Entra module:
 * the per-process cache, then the connection's method (service principal
 * and password grant here, the other sources in their own files); and the
 * helpers the sources share (entra_src.h).
 *
 * Cache key: the method and a SHA-256 over AZURE_AUTHORITY_HOST, STS URL,
 * tenant, client id (or user name), certificate path, managed identity
 * resource id, token file, resource and the password slot — never the
 * secret itself. The password slot keeps an embedder's second connection
 * with a wrong secret for the same client from being served the token the
 * right one fetched: it must fail as it would alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "entra_src.h"

const char *entra_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

int entra_read_file(const char *path, size_t cap, char **out, net_error *err)
{
    *out = NULL;
    FILE *f = entra_fopen_regular(path);
    if (!f)
        return net__fail(err, NET_E_IO, "cannot read %.200s: %s", path,
                         errno == EINVAL ? "not a regular file" : strerror(errno));
    char *b = malloc(cap + 1);
    size_t n = b ? fread(b, 1, cap + 1, f) : 0;
    bool failed = b && ferror(f);
    fclose(f);
    if (!b)
        return net__fail(err, NET_E_NOMEM, "out of memory");
    if (failed || n > cap) {
        net_wipe(b, cap + 1);
        free(b);
        return net__fail(err, NET_E_IO, failed ? "cannot read %.200s" : "%.200s is too large", path);
    }
    while (n && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' ' || b[n - 1] == '\t'))
        n--;
    b[n] = '\0';
    *out = b;
    return NET_OK;
}

/* ------------------------------------------------- token endpoint clients */

int entra_client_token(const entra_request *r, const entra_client *c, entra_token *out, net_error *err)
{
    char authority[300], tenant[200], scope[600], why[300] = "";
    int rc = entra_authority(r->sts_url, c->tenant, authority, sizeof authority, tenant, sizeof tenant, why,
                             sizeof why);
    if (rc)
        return net__fail(err, rc, "%s", why[0] ? why : "no usable Microsoft Entra authority");
    entra_scope(r->spn, scope, sizeof scope);
    entra_aad_req q = {.authority = authority, .tenant = tenant, .client_id = c->client_id, .scope = scope,
                       .client_secret = c->secret, .username = c->username, .password = c->password};
    char *assertion = NULL;
    if (c->cert_path) {
        char aud[600];
        snprintf(aud, sizeof aud, "%s/%s/oauth2/v2.0/token", authority, tenant);
        rc = entra_jwt_assertion(c->cert_path, c->cert_password, c->client_id, aud, entra_now(), &assertion, err);
        if (rc)
            return rc;
        q.client_secret = NULL;
        q.client_assertion = assertion;
    }
    rc = entra_aad_token(&q, out, err);
    if (assertion) {
        net_wipe(assertion, strlen(assertion));
        free(assertion);
    }
    return rc;
}

/* Service principal: the client id in the user slot ("client@tenant" is
 * split by net_opts_from_uri; split here too for options set by hand),
 * the secret in the password, or a PEM certificate from clientcertpath or
 * AZURE_CLIENT_CERTIFICATE_PATH (the password, else
 * AZURE_CLIENT_CERTIFICATE_PASSWORD, unlocks its key). */
static int service_principal(const entra_request *r, entra_token *out, net_error *err)
{
    const net_opts *o = r->o;
    char client[256];
    const char *at = o->user ? strchr(o->user, '@') : NULL;
    snprintf(client, sizeof client, "%.*s", at ? (int)(at - o->user) : 255, o->user ? o->user : "");
    if (!client[0])
        return net__fail(err, NET_E_ARG, "ActiveDirectoryServicePrincipal needs the application (client) id as the "
                                         "user name");
    entra_client c = {.client_id = client, .tenant = at ? at + 1 : o->tenant_id};
    if (!c.tenant)
        c.tenant = entra_env("AZURE_TENANT_ID");
    const char *env_cert = entra_env("AZURE_CLIENT_CERTIFICATE_PATH");
    if (o->client_cert_path) {
        c.cert_path = o->client_cert_path;
        c.cert_password = o->password;
    } else if (o->password && *o->password) {
        c.secret = o->password;
    } else if (env_cert) {
        c.cert_path = env_cert;
        c.cert_password = entra_env("AZURE_CLIENT_CERTIFICATE_PASSWORD");
    } else {
        return net__fail(err, NET_E_ARG, "ActiveDirectoryServicePrincipal needs the client secret as the password, "
                                         "or a certificate (clientcertpath= or AZURE_CLIENT_CERTIFICATE_PATH)");
    }
    return entra_client_token(r, &c, out, err);
}

/* Resource-owner password grant (Microsoft is retiring it; the caller
 * warns): the user's UPN and password, applicationclientid or the public
 * client Microsoft's drivers use. */
static int password_grant(const entra_request *r, entra_token *out, net_error *err)
{
    const net_opts *o = r->o;
    if (!o->user || !*o->user || !o->password)
        return net__fail(err, NET_E_ARG, "ActiveDirectoryPassword needs a user name and a password");
    entra_client c = {.client_id = o->app_client_id ? o->app_client_id : ENTRA_PUBLIC_CLIENT_ID,
                      .tenant = o->tenant_id, .username = o->user, .password = o->password};
    return entra_client_token(r, &c, out, err);
}

/* ------------------------------------------------------------ entry point */

/* One field of the key, length first: "a|b"+"c" and "a"+"b|c" differ. */
static void key_field(EVP_MD_CTX *md, const char *v)
{
    char len[24];
    size_t n = v ? strlen(v) : 0;
    int k = snprintf(len, sizeof len, "%zu:", n);
    EVP_DigestUpdate(md, len, (size_t)k);
    EVP_DigestUpdate(md, v ? v : "", n);
}

/* The cache key: "<method>:" and the hex SHA-256 of every field that
 * changes which token a request gets, the password slot included (a
 * client secret, a key password, a user's password). Hashed, not
 * concatenated into a fixed buffer: a long STS URL from the server or a
 * long resource id could otherwise cut the key short and let a request
 * with another secret be served this one's token. One-way, so the key
 * never holds the secret. Empty when hashing fails (then nothing is
 * cached). */
static void cache_key(const entra_request *r, char *key, size_t cap)
{
    const net_opts *o = r->o;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    key[0] = '\0';
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return;
    }
    const char *fields[] = {getenv("AZURE_AUTHORITY_HOST"), r->sts_url, o->tenant_id, o->user, o->app_client_id,
                            o->client_cert_path, o->mi_resource_id, o->token_file_path,
                            r->spn && *r->spn ? r->spn : ENTRA_SQL_RESOURCE, o->password};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        key_field(ctx, fields[i]);
    bool ok = EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 32;
    EVP_MD_CTX_free(ctx); /* frees (and clears) the digest state that saw the password */
    if (!ok)
        return;
    int k = snprintf(key, cap, "%d:", (int)o->auth);
    for (unsigned i = 0; i < n && (size_t)k + 2 * i + 2 < cap; i++)
        snprintf(key + k + 2 * i, 3, "%02x", md[i]);
    net_wipe(md, sizeof md);
}

static int fetch(const entra_request *r, entra_token *out, net_error *err)
{
    switch (r->o->auth) {
    case NET_AUTH_SERVICE_PRINCIPAL:
        return service_principal(r, out, err);
    case NET_AUTH_PASSWORD:
        return password_grant(r, out, err);
    case NET_AUTH_MANAGED_IDENTITY:
        return entra_mi_token(r, out, err);
    case NET_AUTH_WORKLOAD_IDENTITY:
        return entra_workload_token(r, out, err);
    case NET_AUTH_AZ_CLI:
        return entra_azcli_token(r, out, err);
    case NET_AUTH_DEFAULT:
        return entra_default_token(r, out, err);
    default:
        return net__fail(err, NET_E_ARG, "this sign-in method does not fetch Microsoft Entra tokens");
    }
}

int entra_token_get(const entra_request *r, entra_token *out, net_error *err)
{
    if (!r || !r->o || !out)
        return net__fail(err, NET_E_ARG, "no sign-in options");
    memset(out, 0, sizeof *out);
    entra_request req = *r;
    req.spn = entra_resource(r->spn); /* the server never picks another audience */
    r = &req;
    char key[80];
    cache_key(r, key, sizeof key);
    if (key[0] && !r->fresh && entra_cache_get(key, out))
        return NET_OK;
    if (key[0] && r->fresh)
        entra_cache_drop(key);
    int64_t outer = entra_budget_begin(r->time_left_ms);
    int rc = fetch(r, out, err);
    entra_budget_end(outer);
    if (rc == NET_OK && (!out->access_token || !*out->access_token)) {
        entra_token_clear(out);
        return net__fail(err, NET_E_PROTO, "the identity source answered without a token");
    }
    if (rc == NET_OK && key[0])
        entra_cache_put(key, out);
    else
        entra_token_clear(out);
    return rc;
}
