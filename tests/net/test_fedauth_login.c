/*
 * test_fedauth_login.c — Entra logins on the wire (net/login_entra.c) against a
 * real tdstestd over TLS, tokens checked by tdstestd's
 * --fedauth-issuer-cert (RS256 JWTs signed here with the test server key):
 * the ADAL workflow with FEDAUTHINFO and FEDAUTH_TOKEN (token accepted;
 * STS URL and SPN handed to the token source; the PRELOGIN nonce echoed
 * when the server sent one and absent when it did not — tdstestd refuses
 * both mistakes), a wrong audience refused with 18456 on one line without
 * the token, the one fresh retry after a refused cached token (and none
 * when the fresh token is the same), identity-source errors not retried,
 * the workflow byte per method, the security-token library (0x01) still
 * working and checked (an expired one said to be expired), TDS 8.0
 * strict, a routed login, and encrypt=optional/disable refused.
 *
 * Tokens come from a test provider set through net__entra_token_hook.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "helpers.h"
#include "net_int.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

static char cert[512], key[512], ca[512], other_key[512];

/* ------------------------------------------------------------ JWTs */

static void b64url(const unsigned char *in, size_t n, char *out)
{
    int w = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (w > 0 && out[w - 1] == '=')
        w--;
    out[w] = 0;
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

/* An RS256 JWT for aud, valid until now + exp_in, signed with key_path. */
static char *make_jwt(const char *key_path, const char *aud, long exp_in, const char *oid)
{
    long now = (long)time(NULL);
    char claims[512], h64[64], c64[800], signing[1024];
    snprintf(claims, sizeof claims,
             "{\"aud\":\"%s\",\"iss\":\"https://sts.test/\",\"nbf\":%ld,\"iat\":%ld,\"exp\":%ld,"
             "\"oid\":\"%s\"}", aud, now - 5, now - 5, now + exp_in, oid);
    const char *hdr = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    b64url((const unsigned char *)hdr, strlen(hdr), h64);
    b64url((const unsigned char *)claims, strlen(claims), c64);
    snprintf(signing, sizeof signing, "%s.%s", h64, c64);
    FILE *f = fopen(key_path, "r");
    cr_assert_not_null(f, "%s", key_path);
    EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    cr_assert_not_null(pk);
    unsigned char sig[512];
    size_t slen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    cr_assert(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1);
    cr_assert(EVP_DigestSign(md, sig, &slen, (const unsigned char *)signing, strlen(signing)) == 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    char s64[700];
    b64url(sig, slen, s64);
    char *jwt = malloc(strlen(signing) + strlen(s64) + 2);
    sprintf(jwt, "%s.%s", signing, s64);
    return jwt;
}

/* ---------------------------------------------------- token provider */

/* What the provider was asked, and what it answers: tokens[0] for a
 * request through the cache, tokens[1] for a fresh one. */
static struct {
    int calls, fresh_calls;
    char sts_url[256], spn[256];
    net_auth auth;
    char *tokens[2];
    int fail_code;
    uint32_t time_left_ms;
    bool uncached;      /* answer through-cache requests as freshly fetched */
} prov;

static int provider(const entra_request *r, entra_token *out, net_error *err)
{
    prov.calls++;
    prov.fresh_calls += r->fresh;
    snprintf(prov.sts_url, sizeof prov.sts_url, "%s", r->sts_url);
    snprintf(prov.spn, sizeof prov.spn, "%s", r->spn);
    prov.auth = r->o->auth;
    prov.time_left_ms = r->time_left_ms;
    if (prov.fail_code) {
        snprintf(err->message, sizeof err->message,
                 "AADSTS7000215: Invalid client secret provided.");
        err->code = prov.fail_code;
        return prov.fail_code;
    }
    const char *t = prov.tokens[r->fresh ? 1 : 0];
    out->access_token = strdup(t);
    out->from_cache = !r->fresh && !prov.uncached; /* as entra_token_get marks a cache hit */
    out->expires_at = (int64_t)time(NULL) + 3600;
    return NET_OK;
}

static void prov_reset(const char *cached, const char *fresh)
{
    memset(&prov, 0, sizeof prov);
    prov.tokens[0] = (char *)cached;
    prov.tokens[1] = (char *)(fresh ? fresh : cached);
    net__entra_token_hook = provider;
}

/* ------------------------------------------------------------ server */

static const char *scenario(void)
{
    return th_scenario("fedauth",
        "{\"logins\":[{\"user\":\"sa\",\"password\":\"Secret#1\",\"database\":\"sales\"},"
        "{\"token\":\"*\",\"database\":\"sales\"}],"
        "\"databases\":[{\"name\":\"sales\",\"tables\":[{\"name\":\"t\",\"rows\":7,"
        "\"columns\":[{\"name\":\"id\",\"type\":\"int\"}]}]}]}");
}

/* tdstestd over TLS checking tokens with the server certificate's key;
 * extra: more arguments (NULL-terminated), may be NULL. */
static th_server start_with(bool fedauth_required, const char *const *extra)
{
    NEED_SERVER();
    const char *d = th_certs();
    snprintf(cert, sizeof cert, "%s/server.pem", d);
    snprintf(key, sizeof key, "%s/server.key", d);
    snprintf(ca, sizeof ca, "%s/ca.pem", d);
    snprintf(other_key, sizeof other_key, "%s/wronghost.key", d);
    const char *args[16];
    int n = 0;
    const char *fixed[] = {"--tls-cert", cert, "--tls-key", key, "--tls-mode", "on",
                           "--fedauth-issuer-cert", cert, "--fedauth-tenant", "tenant-x"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        args[n++] = fixed[i];
    if (fedauth_required)
        args[n++] = "--fedauth-required";
    for (; extra && *extra && n < 15; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    th_server s;
    cr_assert(th_start(&s, scenario(), args), "tdstestd did not start");
    return s;
}

static th_server start(bool fedauth_required)
{
    return start_with(fedauth_required, NULL);
}

static net_opts entra_opts(int port, net_auth auth)
{
    net_opts o = th_opts(port);
    o.auth = auth;
    o.user = auth == NET_AUTH_SERVICE_PRINCIPAL ? "11111111-2222-3333-4444-555555555555" : NULL;
    o.password = auth == NET_AUTH_SERVICE_PRINCIPAL ? "client-Secret-1" : NULL;
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    return o;
}

static uint64_t rows_of_t(net_client *cl)
{
    th_count cnt = {0};
    net_error e;
    cr_assert_eq(net_client_batch(cl, "SELECT * FROM t", &th_count_cb, &cnt, &e), NET_OK, "%s",
                 e.message);
    return cnt.rows;
}

static void assert_one_line_without(const net_error *e, const char *secret)
{
    cr_assert_null(strchr(e->message, '\n'), "%s", e->message);
    cr_assert_null(strstr(e->message, secret), "%s", e->message);
}

/* ------------------------------------------------------------- tests */

Test(fedauth, adal_token_accepted_with_nonce)
{
    th_server s = start(true);
    char *good = make_jwt(key, "https://database.windows.net/", 600, "oid-1");
    prov_reset(good, NULL);
    net_opts o = entra_opts(s.port, NET_AUTH_SERVICE_PRINCIPAL);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    /* tdstestd refuses a FEDAUTH_TOKEN without its nonce: getting in
     * means the nonce was echoed. */
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(rows_of_t(cl), 7);
    cr_assert_eq(prov.calls, 1);
    cr_assert_eq(prov.fresh_calls, 0);
    cr_assert_str_eq(prov.sts_url, "https://login.microsoftonline.com/tenant-x");
    cr_assert_str_eq(prov.spn, "https://database.windows.net/");
    cr_assert_eq(prov.auth, NET_AUTH_SERVICE_PRINCIPAL);
    net_client_close(cl);
    free(good);
    th_stop(&s);
}

/* The token fetch blocks the loop, so the open timer cannot stop it: the
 * fetch is handed what the connect timeout leaves, and nothing without
 * one (NET_NO_TIMEOUT). */
Test(fedauth, token_fetch_gets_the_connect_timeout_left)
{
    th_server s = start(true);
    char *good = make_jwt(key, "https://database.windows.net/", 600, "oid-t");
    prov_reset(good, NULL);
    net_opts o = entra_opts(s.port, NET_AUTH_SERVICE_PRINCIPAL);
    o.connect_timeout_ms = 7000;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_client_close(cl);
    cr_assert(prov.time_left_ms > 0 && prov.time_left_ms <= 7000, "time left %u", (unsigned)prov.time_left_ms);
    prov_reset(good, NULL);
    o.connect_timeout_ms = NET_NO_TIMEOUT;
    cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_client_close(cl);
    cr_assert_eq(prov.calls, 1);
    cr_assert_eq(prov.time_left_ms, 0);
    free(good);
    th_stop(&s);
}

Test(fedauth, adal_without_fedauth_required_sends_no_nonce)
{
    /* FEDAUTHREQUIRED=0: echo 0 and no nonce, or tdstestd refuses. */
    th_server s = start(false);
    char *good = make_jwt(key, "https://database.windows.net/", 600, "oid-2");
    prov_reset(good, NULL);
    net_opts o = entra_opts(s.port, NET_AUTH_MANAGED_IDENTITY);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(rows_of_t(cl), 7);
    cr_assert_eq(prov.auth, NET_AUTH_MANAGED_IDENTITY);
    net_client_close(cl);
    free(good);
    th_stop(&s);
}

Test(fedauth, wrong_audience_is_18456_on_one_line)
{
    th_server s = start(true);
    char *bad = make_jwt(key, "https://management.azure.com/", 600, "oid-3");
    prov_reset(bad, NULL);
    net_opts o = entra_opts(s.port, NET_AUTH_SERVICE_PRINCIPAL);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_LOGIN, "%s", e.message);
    cr_assert_eq(e.server_number, 18456);
    cr_assert(strstr(e.message, "Login failed for user '<token-identified principal>'."), "%s",
              e.message);
    assert_one_line_without(&e, bad);
    assert_one_line_without(&e, "client-Secret-1");
    /* The refused token may have been a cached one: one fresh fetch, and
     * as it is the same token, no second login. */
    cr_assert_eq(prov.calls, 2);
    cr_assert_eq(prov.fresh_calls, 1);
    free(bad);
    th_stop(&s);
}

Test(fedauth, refused_cached_token_retried_once_fresh)
{
    th_server s = start(true);
    char *expired = make_jwt(key, "https://database.windows.net/", -30, "oid-4");
    char *good = make_jwt(key, "https://database.windows.net/", 600, "oid-4");
    prov_reset(expired, good);
    net_opts o = entra_opts(s.port, NET_AUTH_DEFAULT);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(prov.calls, 2);
    cr_assert_eq(prov.fresh_calls, 1);
    cr_assert_eq(net_conn_connects(net_client_conn(cl)), 2);
    cr_assert_eq(rows_of_t(cl), 7);
    net_client_close(cl);

    /* A fresh token refused too: reported after exactly one retry. */
    char *other = make_jwt(other_key, "https://database.windows.net/", 600, "oid-4");
    prov_reset(expired, other);
    cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.server_number, 18456, "%s", e.message);
    cr_assert_eq(prov.calls, 2);
    assert_one_line_without(&e, other);
    free(expired);
    free(good);
    free(other);
    th_stop(&s);
}

/* A refused token that was just fetched (not from the cache) is not
 * fetched again: the identity source would give the same answer. */
Test(fedauth, refused_fresh_token_not_fetched_again)
{
    th_server s = start(true);
    char *bad = make_jwt(key, "https://management.azure.com/", 600, "oid-5");
    prov_reset(bad, NULL);
    prov.uncached = true;
    net_opts o = entra_opts(s.port, NET_AUTH_SERVICE_PRINCIPAL);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.server_number, 18456, "%s", e.message);
    cr_assert_eq(prov.calls, 1);
    cr_assert_eq(prov.fresh_calls, 0);
    free(bad);
    th_stop(&s);
}

Test(fedauth, identity_error_is_one_line_and_not_retried)
{
    th_server s = start(true);
    prov_reset("unused", NULL);
    prov.fail_code = NET_E_LOGIN;
    net_opts o = entra_opts(s.port, NET_AUTH_SERVICE_PRINCIPAL);
    o.retries = 3;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_LOGIN);
    cr_assert(strstr(e.message, "AADSTS7000215"), "%s", e.message);
    assert_one_line_without(&e, "client-Secret-1");
    cr_assert_eq(prov.calls, 1);

    /* An unreachable identity endpoint (NET_E_IO) is not retried here
     * either: the identity source has its own bounded retries. */
    prov_reset("unused", NULL);
    prov.fail_code = NET_E_IO;
    cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_IO);
    cr_assert_eq(prov.calls, 1);
    th_stop(&s);
}

Test(fedauth, security_token_library_still_works_and_is_checked)
{
    th_server s = start(true);
    net__entra_token_hook = NULL;
    char *good = make_jwt(key, "https://database.windows.net/", 600, "oid-5");
    char *expired = make_jwt(key, "https://database.windows.net/", -1, "oid-5");
    net_opts o = entra_opts(s.port, NET_AUTH_ACCESS_TOKEN);
    o.access_token = good;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(rows_of_t(cl), 7);
    net_client_close(cl);
    /* the token in the password slot, as Authentication=ActiveDirectoryAccessToken */
    o.access_token = NULL;
    o.password = good;
    cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_client_close(cl);
    o.password = expired;
    cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.server_number, 18456, "%s", e.message);
    cr_assert(strstr(e.message, "the access token expired at "), "%s", e.message);
    cr_assert(strstr(e.message, "cannot be refreshed"), "%s", e.message);
    assert_one_line_without(&e, expired);
    /* a live token refused for another reason says nothing of expiry */
    char *other = make_jwt(other_key, "https://database.windows.net/", 600, "oid-5");
    o.password = other;
    cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.server_number, 18456, "%s", e.message);
    cr_assert_null(strstr(e.message, "expired"), "%s", e.message);
    free(other);
    free(good);
    free(expired);
    th_stop(&s);
}

Test(fedauth, encrypt_optional_or_disable_refused)
{
    prov_reset("never-used", NULL);
    net_auth methods[] = {NET_AUTH_SERVICE_PRINCIPAL, NET_AUTH_MANAGED_IDENTITY, NET_AUTH_DEFAULT,
                          NET_AUTH_AZ_CLI, NET_AUTH_WORKLOAD_IDENTITY, NET_AUTH_PASSWORD};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        for (int m = 0; m < 2; m++) {
            net_opts o = entra_opts(1, methods[i]);
            o.encrypt = m ? NET_ENCRYPT_DISABLE : NET_ENCRYPT_OPTIONAL;
            net_error e;
            net_client *cl = net_client_open(&o, &e);
            cr_assert_null(cl);
            cr_assert_eq(e.code, NET_E_ARG, "%s", e.message);
            cr_assert(strstr(e.message, net__auth_name(methods[i])), "%s", e.message);
            cr_assert(strstr(e.message, "encrypt"), "%s", e.message);
            assert_one_line_without(&e, "client-Secret-1");
        }
    }
    cr_assert_eq(prov.calls, 0);
}

Test(fedauth, workflow_byte_per_method)
{
    struct { net_auth a; uint8_t wf; } cases[] = {
        {NET_AUTH_SERVICE_PRINCIPAL, TDS_FEDAUTH_WF_PASSWORD},
        {NET_AUTH_PASSWORD, TDS_FEDAUTH_WF_PASSWORD},
        {NET_AUTH_MANAGED_IDENTITY, TDS_FEDAUTH_WF_INTERACTIVE},
        {NET_AUTH_WORKLOAD_IDENTITY, TDS_FEDAUTH_WF_INTERACTIVE},
        {NET_AUTH_AZ_CLI, TDS_FEDAUTH_WF_INTERACTIVE},
        {NET_AUTH_DEFAULT, TDS_FEDAUTH_WF_INTERACTIVE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int req = 0; req < 2; req++) {
            static net_conn c;
            memset(&c, 0, sizeof c);
            c.o.auth = cases[i].a;
            c.fedauth_required = req;
            tds_login7 l;
            memset(&l, 0, sizeof l);
            net__entra_login7(&c, &l);
            cr_assert(l.fedauth);
            cr_assert_eq(l.fedauth_library, TDS_FEDAUTH_LIB_ADAL);
            cr_assert_eq(l.fedauth_workflow, cases[i].wf, "%s", net__auth_name(cases[i].a));
            cr_assert_eq(l.fedauth_echo, (bool)req);
            cr_assert_null(l.fedauth_token);
        }
    }
}

Test(fedauth, adal_over_tds8_strict)
{
    const char *extra[] = {"--strict-port", "0", NULL};
    th_server s = start_with(true, extra);
    char *good = make_jwt(key, "https://database.windows.net/", 600, "oid-6");
    prov_reset(good, NULL);
    net_opts o = entra_opts(s.strict_port, NET_AUTH_WORKLOAD_IDENTITY);
    o.encrypt = NET_ENCRYPT_STRICT;
    o.host_in_cert = "localhost";
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert(strstr(net_conn_encryption(net_client_conn(cl)), "strict"));
    cr_assert_eq(rows_of_t(cl), 7);
    cr_assert_eq(prov.calls, 1);
    net_client_close(cl);
    free(good);
    th_stop(&s);
}

Test(fedauth, adal_routed_login_asks_again)
{
    /* Azure's gateway redirect: the second server sends its own
     * FEDAUTHINFO (another tenant here) and gets a token for it. */
    const char *tb[] = {"--fedauth-tenant", "tenant-b", NULL};
    th_server b = start_with(true, tb);
    char route[64];
    snprintf(route, sizeof route, "127.0.0.1:%d", b.port);
    const char *ta[] = {"--route-to", route, NULL};
    th_server a = start_with(true, ta);
    char *good = make_jwt(key, "https://database.windows.net/", 600, "oid-7");
    prov_reset(good, NULL);
    net_opts o = entra_opts(a.port, NET_AUTH_AZ_CLI);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(net_conn_port(net_client_conn(cl)), b.port);
    cr_assert_eq(prov.calls, 2);
    cr_assert_str_eq(prov.sts_url, "https://login.microsoftonline.com/tenant-b");
    cr_assert_eq(rows_of_t(cl), 7);
    net_client_close(cl);
    free(good);
    th_stop(&a);
    th_stop(&b);
}
