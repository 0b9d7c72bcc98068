/*
 * login_entra.c — the Microsoft Entra steps of a login (issue 15), FEDAUTH
 * library ADAL/MSAL (MS-TDS 2.2.6.4, 2.2.7.12, 2.2.6.3):
 *
 *   PRELOGIN  FEDAUTHREQUIRED=1 (login.c)
 *   LOGIN7    FEDAUTH: library 0x02, echo = the server's FEDAUTHREQUIRED,
 *             workflow 0x01 for a password or service principal, else 0x03
 *   ← FEDAUTHINFO (STS URL, SPN), the only token of its message
 *   token     entra_token_get(STS URL, SPN) — blocks the loop while it runs,
 *             within what the connect timeout leaves; the per-process cache
 *             makes that once per token lifetime
 *   FEDAUTH_TOKEN (packet 0x08): the token, plus the server's PRELOGIN
 *             nonce iff it sent NONCEOPT
 *   ← the normal login reply
 *
 * One retry: when the server refuses a token that came from the process
 * cache (18456) — it may have been revoked — a token is fetched past the
 * cache at once; when it differs from the refused one (SHA-256) the login starts
 * again from the configured target and sends it, else the refusal stands
 * (no connection is made only to be refused the same way). Once per open.
 *
 * A given access token (security-token library) cannot be refreshed: when
 * the server refuses it and its JWT exp has passed, the error says so.
 *
 * Secrets: the token lives only in the entra_token (wiped by
 * entra_token_clear) and the engine's queue (zeroed once written). Errors
 * never quote it; identity-provider errors come from net/entra/ one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "net_int.h"

net__entra_token_fn net__entra_token_hook = NULL;

bool net__auth_is_entra(net_auth a)
{
    return a != NET_AUTH_SQL && a != NET_AUTH_ACCESS_TOKEN;
}

const char *net__auth_name(net_auth a)
{
    switch (a) {
    case NET_AUTH_SQL: return "SqlPassword";
    case NET_AUTH_ACCESS_TOKEN: return "ActiveDirectoryAccessToken";
    case NET_AUTH_SERVICE_PRINCIPAL: return "ActiveDirectoryServicePrincipal";
    case NET_AUTH_MANAGED_IDENTITY: return "ActiveDirectoryManagedIdentity";
    case NET_AUTH_WORKLOAD_IDENTITY: return "ActiveDirectoryWorkloadIdentity";
    case NET_AUTH_AZ_CLI: return "ActiveDirectoryAzCli";
    case NET_AUTH_PASSWORD: return "ActiveDirectoryPassword";
    case NET_AUTH_DEFAULT: return "ActiveDirectoryDefault";
    }
    return "an Entra method";
}

int net__entra_check(const net_opts *o, net_error *e)
{
    /* Login-only TLS would carry FEDAUTH_TOKEN in clear (it follows the
     * LOGIN7, after TLS is dropped); no TLS at all is worse. */
    if (o->encrypt == NET_ENCRYPT_OPTIONAL || o->encrypt == NET_ENCRYPT_DISABLE)
        return net__fail(e, NET_E_ARG,
                         "Authentication=%s needs encryption: with encrypt=%s the token would cross "
                         "the network in clear; use encrypt=true or encrypt=strict",
                         net__auth_name(o->auth),
                         o->encrypt == NET_ENCRYPT_OPTIONAL ? "false" : "disable");
    return NET_OK;
}

void net__entra_login7(net_conn *c, tds_login7 *l)
{
    l->fedauth = true;
    l->fedauth_echo = c->fedauth_required;
    l->fedauth_library = TDS_FEDAUTH_LIB_ADAL;
    /* The drivers' choice (entra-notes §2): the password grant and the
     * service principal say "password", every other source "interactive". */
    l->fedauth_workflow = (c->o.auth == NET_AUTH_SERVICE_PRINCIPAL || c->o.auth == NET_AUTH_PASSWORD)
                              ? TDS_FEDAUTH_WF_PASSWORD
                              : TDS_FEDAUTH_WF_INTERACTIVE;
}

int net__entra_info(net_conn *c, const tds_event *ev)
{
    if (!c->entra)
        return net__fail(&c->last_err, NET_E_PROTO,
                         "the server %s sent FEDAUTHINFO, but this login did not ask for an Entra token",
                         c->host);
    if (c->fa_info_seen || c->fa_token_sent)
        return net__fail(&c->last_err, NET_E_PROTO, "the server %s sent FEDAUTHINFO twice", c->host);
    int rc = tds_fedauthinfo_decode(ev->u.raw.data, ev->u.raw.len, &c->fa_info);
    if (rc)
        return net__fail(&c->last_err, NET_E_PROTO, "malformed FEDAUTHINFO from %s: %s", c->host,
                         tds_strerror(rc));
    c->fa_info_seen = true;
    return NET_OK;
}

static void token_digest(const char *token, uint8_t out[32])
{
    unsigned int n = 32;
    if (!EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL))
        memset(out, 0, 32);
}

/* What the connect timeout leaves of this attempt (0: no timeout). The
 * fetch blocks the loop, so the open timer cannot fire during it: the
 * fetch is given the rest of the connect timeout instead, and a token that
 * would only arrive after the timer has fired is not waited for. */
static uint32_t open_time_left(net_conn *c)
{
    if (!uv_is_active((uv_handle_t *)&c->open_timer))
        return 0;
    uv_update_time(c->loop);
    uint64_t due = uv_timer_get_due_in(&c->open_timer);
    return due == 0 ? 1 : due > UINT32_MAX ? UINT32_MAX : (uint32_t)due;
}

/* The token for the server's STS URL and SPN, from the hook or net/entra/,
 * through the cache unless fresh. Returns 0 or a net_err with
 * c->last_err filled. */
static int fetch_token(net_conn *c, bool fresh, entra_token *t)
{
    entra_request r;
    memset(&r, 0, sizeof r);
    r.o = &c->o;
    r.sts_url = c->fa_info.sts_url;
    r.spn = c->fa_info.spn;
    r.fresh = fresh;
    r.time_left_ms = open_time_left(c);
    net_error e;
    memset(&e, 0, sizeof e);
    net__entra_token_fn get = net__entra_token_hook ? net__entra_token_hook : entra_token_get;
    int rc = get(&r, t, &e);
    if (rc == NET_OK && (!t->access_token || !*t->access_token)) {
        entra_token_clear(t);
        rc = net__fail(&e, NET_E_LOGIN, "%s returned an empty token", net__auth_name(c->o.auth));
    }
    if (rc) {
        if (!e.code)
            net__fail(&e, rc, "%s: no token (%s)", net__auth_name(c->o.auth), net_strerror(rc));
        e.code = rc;
        e.during_login = true;
        c->last_err = e;
        /* The identity source has its own retries (IMDS backoff); another
         * whole attempt would only repeat them. */
        c->no_retry = true;
    }
    return rc;
}

int net__entra_send_token(net_conn *c)
{
    entra_token t;
    memset(&t, 0, sizeof t);
    if (c->entra_held) {
        /* The retry's fresh token, fetched before reconnecting. */
        t.access_token = c->entra_held;
        c->entra_held = NULL;
    } else {
        int rc = fetch_token(c, false, &t);
        if (rc)
            return rc;
    }
    token_digest(t.access_token, c->entra_digest);
    c->fa_token_cached = t.from_cache;
    int rc = tds_send_fedauth_token(c->s, t.access_token, c->have_nonce ? c->nonce : NULL);
    entra_token_clear(&t);
    if (rc)
        return net__fail(&c->last_err, rc == TDS_E_ARG ? NET_E_ARG : NET_E_NOMEM,
                         "cannot build the FEDAUTH_TOKEN message: %s", tds_strerror(rc));
    c->fa_token_sent = true;
    return net__flush(c);
}

int net__entra_retry_fresh(net_conn *c)
{
    /* Only a token that came from the cache is worth a fresh fetch: one
     * just fetched would come back the same. */
    if (!c->fa_token_sent || !c->fa_token_cached || c->entra_retried || c->login_err.server_number != 18456)
        return 0;
    c->entra_retried = true;
    entra_token t;
    memset(&t, 0, sizeof t);
    int rc = fetch_token(c, true, &t);
    if (rc)
        return rc;
    uint8_t digest[32];
    token_digest(t.access_token, digest);
    if (memcmp(digest, c->entra_digest, sizeof digest) == 0) {
        /* The identity source gives the refused token again: the refusal
         * stands, no second login. */
        entra_token_clear(&t);
        return 0;
    }
    c->entra_held = t.access_token; /* wiped when used or when c is freed */
    c->login_error = false;
    net__transport_reset(c);
    net__begin_attempt(c);
    return 1;
}

/* The exp claim of a JWT (its payload's "exp": number), or false. A hint
 * for a message only: the signature is the server's business. */
static bool jwt_exp(const char *jwt, int64_t *exp)
{
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || d2 - d1 - 1 > 8192)
        return false;
    size_t n = (size_t)(d2 - d1 - 1), padded = (n + 3) / 4 * 4;
    char *b64 = malloc(padded + 1);
    unsigned char *raw = malloc(padded / 4 * 3 + 1);
    bool ok = false;
    if (b64 && raw && n % 4 != 1) {
        for (size_t i = 0; i < padded; i++)
            b64[i] = i >= n ? '=' : d1[1 + i] == '-' ? '+' : d1[1 + i] == '_' ? '/' : d1[1 + i];
        int w = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)padded);
        if (w > 0) {
            raw[w] = 0;
            const char *k = strstr((char *)raw, "\"exp\"");
            if (k) {
                k += 5;
                while (*k == ' ' || *k == ':')
                    k++;
                char *end;
                long long v = strtoll(k, &end, 10);
                ok = end != k;
                *exp = v;
            }
        }
    }
    /* copies of part of a token: wiped like the token itself */
    if (b64)
        net_wipe(b64, padded + 1);
    if (raw)
        net_wipe(raw, padded / 4 * 3 + 1);
    free(b64);
    free(raw);
    return ok;
}

void net__token_expiry_note(const net_conn *c, net_error *e)
{
    int64_t exp;
    if (c->entra || !c->o.access_token || e->server_number != 18456 ||
        !jwt_exp(c->o.access_token, &exp) || exp > (int64_t)time(NULL))
        return;
    time_t t = (time_t)exp;
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    size_t l = strlen(e->message);
    snprintf(e->message + l, sizeof e->message - l,
             "; the access token expired at %s and cannot be refreshed: get a new one, or use an "
             "Authentication method that fetches tokens", when);
}
