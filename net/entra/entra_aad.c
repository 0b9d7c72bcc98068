/*
 * entra_aad.c — the Microsoft identity platform's v2.0 token endpoint:
 * POST {authority}/{tenant}/oauth2/v2.0/token, form-encoded, for a client
 * secret or a client assertion (client_credentials; the assertion is a
 * certificate's JWT or a workload identity's federated token) or a user's
 * password (the resource-owner password grant).
 *
 * Retries: a 429 or a 5xx is tried again, 3 tries in all, after
 * Retry-After (seconds, at most 5) or 0.5 s then 1 s, as Azure's SDKs back
 * off; a refusal (4xx) or an unreachable host is not retried. The form
 * holds the secret: it is wiped before it is freed, and never appears in
 * an error (entra_reply_parse words those from the reply's error fields).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entra_int.h"
#include "net_int.h"

#define AAD_TRIES 3
#define AAD_RETRY_BASE_MS 500u  /* then 1 s */
#define AAD_RETRY_MAX_MS 5000u  /* Retry-After is capped here too */

/* The form for r; NET_OK with *form malloc'd, or an error. */
static int aad_form(const entra_aad_req *r, char **form, size_t *len, net_error *err)
{
    int rc = NET_OK;
    *form = NULL;
    *len = 0;
    if (r->client_secret) {
        rc = entra_form_add(form, len, "grant_type", "client_credentials");
        rc = rc ? rc : entra_form_add(form, len, "client_secret", r->client_secret);
    } else if (r->client_assertion) {
        rc = entra_form_add(form, len, "grant_type", "client_credentials");
        rc = rc ? rc : entra_form_add(form, len, "client_assertion_type",
                                      "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        rc = rc ? rc : entra_form_add(form, len, "client_assertion", r->client_assertion);
    } else if (r->username && r->password) {
        rc = entra_form_add(form, len, "grant_type", "password");
        rc = rc ? rc : entra_form_add(form, len, "username", r->username);
        rc = rc ? rc : entra_form_add(form, len, "password", r->password);
    } else {
        return net__fail(err, NET_E_ARG, "no client secret, certificate or password to sign in with");
    }
    rc = rc ? rc : entra_form_add(form, len, "client_id", r->client_id);
    rc = rc ? rc : entra_form_add(form, len, "scope", r->scope);
    if (rc)
        net__fail(err, rc, "out of memory");
    return rc;
}

static bool aad_retryable(long status) { return status == 429 || (status >= 500 && status <= 599); }

/* Posts the form up to AAD_TRIES times; the last reply parsed. */
static int aad_post(const char *url, const char *form, size_t len, entra_token *out, net_error *err)
{
    static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded",
                                          "Accept: application/json", NULL};
    entra_http_req req = {.method = "POST", .url = url, .headers = headers, .body = form, .body_len = len};
    for (int attempt = 1;; attempt++) {
        entra_http_resp resp;
        int rc = entra_http(&req, &resp, err);
        if (rc)
            return rc;
        uint32_t wait = entra_retry_delay_ms(resp.retry_after, (unsigned)attempt - 1, AAD_RETRY_BASE_MS,
                                             AAD_RETRY_MAX_MS);
        /* no retry the connection's timeout would not leave time for */
        if (aad_retryable(resp.status) && attempt < AAD_TRIES && wait < entra_budget_ms(UINT32_MAX)) {
            entra_http_resp_free(&resp);
            entra_sleep_ms(wait);
            continue;
        }
        rc = entra_reply_parse(resp.body, resp.len, resp.status, entra_now(), out, err);
        entra_http_resp_free(&resp);
        return rc;
    }
}

int entra_aad_token(const entra_aad_req *r, entra_token *out, net_error *err)
{
    char url[1024], *form = NULL;
    size_t len = 0;
    out->access_token = NULL;
    out->expires_at = 0;
    if (!r->authority || !*r->authority || !r->tenant || !*r->tenant || !r->client_id || !*r->client_id ||
        !r->scope)
        return net__fail(err, NET_E_ARG, "Entra token request without authority, tenant or client id");
    if ((size_t)snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token", r->authority, r->tenant) >= sizeof url)
        return net__fail(err, NET_E_ARG, "Entra authority URL too long");
    int rc = aad_form(r, &form, &len, err);
    if (!rc)
        rc = aad_post(url, form, len, out, err);
    if (form) {
        net_wipe(form, len);
        free(form);
    }
    return rc;
}
