/*
 * entra_mi.c — managed identity: the endpoint the machine offers, chosen
 * as MSAL chooses it (entra-notes §4):
 *   IDENTITY_ENDPOINT + IDENTITY_HEADER   App Service, Container Apps
 *     (+ IDENTITY_SERVER_THUMBPRINT       Service Fabric: left out, said so)
 *   MSI_ENDPOINT + MSI_SECRET             Azure Machine Learning
 *   MSI_ENDPOINT                          Cloud Shell (POST form)
 *   IDENTITY_ENDPOINT + IMDS_ENDPOINT, or the himds agent   Azure Arc
 *   otherwise                             IMDS, 169.254.169.254 or
 *                                         AZURE_POD_IDENTITY_AUTHORITY_HOST
 * Every one is plain HTTP on the machine. Transient answers (IMDS: 404,
 * 410, 429, 5xx; the others 408, 429, 5xx) are retried with exponential
 * backoff, bounded, as azidentity does. The resource is the server's SPN
 * (https://database.windows.net/ by default).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "entra_src.h"

#define MI_IMDS_RETRIES 5       /* azidentity: MaxRetries 5, RetryDelay 2 s */
#define MI_IMDS_BASE_MS 2000
#define MI_OTHER_RETRIES 3      /* azcore's defaults: 3 retries from 800 ms */
#define MI_OTHER_BASE_MS 800
#define MI_MAX_DELAY_MS 60000
#define MI_TOTAL_SLEEP_MS 70000 /* MSAL waits up to 70 s for an IMDS upgrade (410) */
#define ARC_KEY_DIR "/var/opt/azcmagent/tokens"
#define ARC_HIMDS "/opt/azcmagent/bin/himds"

typedef struct mi_ctx {
    const entra_request *r;
    const char *resource;
    const char *client_id;       /* user-assigned by client id, or NULL */
    const char *res_id;          /* user-assigned by ARM resource id, or NULL */
    uint32_t probe_ms;           /* Default chain: IMDS probe limit */
} mi_ctx;

static bool retryable(long status, bool imds)
{
    if (status == 429 || (status >= 500 && status <= 511 && status != 501 && status != 505))
        return true;
    return imds ? status == 404 || status == 410 || status == 501 || status == 505 : status == 408;
}

/* "host:port" of url, for messages. */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    snprintf(out, cap, "%.*s", (int)strcspn(p, "/?#"), p);
}

/* The reason part of entra_http's "cannot reach host:port: reason", short:
 * libcurl's "Failed to connect to h port p after n ms: Couldn't connect to
 * server" is a refused connection. */
static const char *reach_reason(const net_error *e)
{
    const char *m = strstr(e->message, "cannot reach ");
    const char *why = e->message;
    if (m && strstr(m + 13, ": "))
        why = strstr(m + 13, ": ") + 2;
    const char *last = strrchr(why, ':');
    if (!strncmp(why, "Failed to connect", 17) && last && last[1] == ' ')
        why = last + 2;
    return !strcmp(why, "Couldn't connect to server") ? "connection refused" : why;
}

/* One request with the retries; resp filled on NET_OK. */
static int mi_send(const entra_http_req *q, bool imds, entra_http_resp *resp, net_error *err)
{
    unsigned max = imds ? MI_IMDS_RETRIES : MI_OTHER_RETRIES;
    uint32_t slept = 0;
    for (unsigned attempt = 0;; attempt++) {
        memset(resp, 0, sizeof *resp);
        int rc = entra_http(q, resp, err);
        if (rc)
            return rc;
        if (!retryable(resp->status, imds) || attempt >= max)
            return NET_OK;
        uint32_t d = entra_retry_delay_ms(resp->retry_after, attempt, imds ? MI_IMDS_BASE_MS : MI_OTHER_BASE_MS,
                                          MI_MAX_DELAY_MS);
        if (slept + d > MI_TOTAL_SLEEP_MS || d >= entra_budget_ms(UINT32_MAX))
            return NET_OK; /* the last reply stands: no time for another try */
        entra_http_resp_free(resp);
        entra_sleep_ms(d);
        slept += d;
    }
}

/* The reply of an endpoint at host (label: "IMDS at 127.0.0.1:9"). */
static int mi_reply(const mi_ctx *m, const char *label, entra_http_resp *resp, entra_token *out, net_error *err)
{
    bool user_assigned = m->client_id || m->res_id;
    if (resp->status == 400 && !user_assigned && !strncmp(label, "IMDS", 4))
        return net__fail(err, NET_E_ARG, "managed identity: %s has no identity for this machine (HTTP 400)", label);
    if (resp->status == 400 && user_assigned)
        return net__fail(err, NET_E_LOGIN, "managed identity: %s says the requested identity is not assigned to "
                                           "this resource (HTTP 400)", label);
    if (resp->status == 403 && resp->body && strstr(resp->body, "unreachable"))
        return net__fail(err, NET_E_ARG, "no managed identity endpoint reachable on this machine (%s: a proxy "
                                         "answered that it is unreachable)", label);
    net_error pe = {0};
    int rc = entra_reply_parse(resp->body ? resp->body : "", resp->len, resp->status, entra_now(), out, &pe);
    if (rc == NET_OK && resp->status >= 300) {
        entra_token_clear(out);
        rc = NET_E_LOGIN;
    }
    if (rc == NET_OK)
        return NET_OK;
    if (rc == NET_E_PROTO && m->probe_ms)
        rc = NET_E_ARG; /* something else listens there (azidentity: unavailable in a chain) */
    return net__fail(err, rc, "managed identity: %s answered HTTP %ld%s%s", label, resp->status,
                     pe.message[0] ? ": " : "", pe.message);
}

/* GET/POST url (+ "?" or "&" + query), the headers, the retries, the reply. */
static int mi_request(const mi_ctx *m, const char *label, const char *method, const char *base, const char *query,
                      const char *const *headers, bool imds, entra_token *out, net_error *err)
{
    size_t n = strlen(base) + (query ? strlen(query) : 0) + 2;
    char *url = malloc(n);
    if (!url)
        return net__fail(err, NET_E_NOMEM, "out of memory");
    bool post = !strcmp(method, "POST");
    snprintf(url, n, "%s%s%s", base, !query || post ? "" : strchr(base, '?') ? "&" : "?",
             !query || post ? "" : query);
    entra_http_req q = {.method = method, .url = url, .headers = headers, .body = post ? query : NULL,
                        .body_len = post && query ? strlen(query) : 0};
    entra_http_resp resp;
    int rc = mi_send(&q, imds, &resp, err);
    free(url);
    if (rc == NET_E_IO || rc == NET_E_TIMEOUT) {
        net_error e = *err;
        return net__fail(err, NET_E_ARG, "no managed identity endpoint reachable on this machine (%s: %s)", label,
                         rc == NET_E_TIMEOUT ? "no answer in time" : reach_reason(&e));
    }
    if (rc)
        return rc;
    rc = mi_reply(m, label, &resp, out, err);
    entra_http_resp_free(&resp);
    return rc;
}

/* resource=…[&<id_key>=client | &<res_key>=resource id] (+ api-version). */
static char *mi_query(const mi_ctx *m, const char *api_version, const char *id_key, const char *res_key)
{
    char *b = NULL;
    size_t len = 0;
    int rc = api_version ? entra_form_add(&b, &len, "api-version", api_version) : NET_OK;
    if (!rc)
        rc = entra_form_add(&b, &len, "resource", m->resource);
    if (!rc && m->res_id && res_key)
        rc = entra_form_add(&b, &len, res_key, m->res_id);
    else if (!rc && m->client_id && id_key)
        rc = entra_form_add(&b, &len, id_key, m->client_id);
    if (rc) {
        free(b);
        return NULL;
    }
    return b;
}

static int mi_query_call(const mi_ctx *m, const char *label, const char *method, const char *base,
                         const char *api_version, const char *id_key, const char *res_key,
                         const char *const *headers, bool imds, entra_token *out, net_error *err)
{
    char *query = mi_query(m, api_version, id_key, res_key);
    if (!query)
        return net__fail(err, NET_E_NOMEM, "out of memory");
    int rc = mi_request(m, label, method, base, query, headers, imds, out, err);
    free(query);
    return rc;
}

/* App Service / Container Apps: X-IDENTITY-HEADER holds a secret. */
static int mi_app_service(const mi_ctx *m, const char *endpoint, entra_token *out, net_error *err)
{
    char host[200], label[240], hdr[1100];
    url_host(endpoint, host, sizeof host);
    snprintf(label, sizeof label, "IDENTITY_ENDPOINT at %s", host);
    snprintf(hdr, sizeof hdr, "X-IDENTITY-HEADER: %.1024s", getenv("IDENTITY_HEADER"));
    const char *headers[] = {hdr, NULL};
    int rc = mi_query_call(m, label, "GET", endpoint, "2019-08-01", "client_id", "mi_res_id", headers, false, out,
                           err);
    net_wipe(hdr, sizeof hdr);
    return rc;
}

/* Azure Machine Learning: header "secret", clientid (DEFAULT_IDENTITY_CLIENT_ID
 * unless a user-assigned id is asked for). */
static int mi_azure_ml(const mi_ctx *m, const char *endpoint, entra_token *out, net_error *err)
{
    if (m->res_id)
        return net__fail(err, NET_E_ARG, "managed identity: Azure Machine Learning takes no resource id");
    mi_ctx ml = *m;
    if (!ml.client_id)
        ml.client_id = entra_env("DEFAULT_IDENTITY_CLIENT_ID");
    char host[200], label[240], hdr[1100];
    url_host(endpoint, host, sizeof host);
    snprintf(label, sizeof label, "MSI_ENDPOINT at %s", host);
    snprintf(hdr, sizeof hdr, "secret: %.1024s", getenv("MSI_SECRET"));
    const char *headers[] = {hdr, NULL};
    int rc = mi_query_call(&ml, label, "GET", endpoint, "2017-09-01", "clientid", NULL, headers, false, out, err);
    net_wipe(hdr, sizeof hdr);
    return rc;
}

/* Cloud Shell: POST form resource=…, Metadata: true; system identity only. */
static int mi_cloud_shell(const mi_ctx *m, const char *endpoint, entra_token *out, net_error *err)
{
    if (m->client_id || m->res_id)
        return net__fail(err, NET_E_ARG, "managed identity: Cloud Shell offers only its own identity (no client id)");
    char host[200], label[240];
    url_host(endpoint, host, sizeof host);
    snprintf(label, sizeof label, "MSI_ENDPOINT at %s", host);
    const char *headers[] = {"Metadata: true", "Content-Type: application/x-www-form-urlencoded", NULL};
    return mi_query_call(m, label, "POST", endpoint, NULL, NULL, NULL, headers, false, out, err);
}

/* Azure Arc: a first request answers 401 naming a key file under
 * ARC_KEY_DIR in WWW-Authenticate ("Basic realm=<path>"); its contents
 * go back as the Authorization. Only a .key file in that directory, of at
 * most 4 KiB, is read (the endpoint must not make us read any file). */
static int arc_key(const char *challenge, char **key, net_error *err)
{
    const char *eq = strchr(challenge, '=');
    const char *path = eq ? eq + 1 : "";
    const char *slash = strrchr(path, '/');
    size_t plen = strlen(path);
    if (!slash || (size_t)(slash - path) != strlen(ARC_KEY_DIR) || strncmp(path, ARC_KEY_DIR, strlen(ARC_KEY_DIR)) ||
        plen < 5 || strcmp(path + plen - 4, ".key") || strstr(path, "/.."))
        return net__fail(err, NET_E_LOGIN, "managed identity: Azure Arc named a key file outside " ARC_KEY_DIR);
    return entra_read_file(path, 4096, key, err);
}

static int mi_arc(const mi_ctx *m, const char *endpoint, entra_token *out, net_error *err)
{
    if (m->client_id || m->res_id)
        return net__fail(err, NET_E_ARG, "managed identity: Azure Arc offers only the machine's own identity");
    char host[200], label[240], *query = mi_query(m, "2020-06-01", NULL, NULL);
    if (!query)
        return net__fail(err, NET_E_NOMEM, "out of memory");
    url_host(endpoint, host, sizeof host);
    snprintf(label, sizeof label, "Azure Arc at %s", host);
    size_t n = strlen(endpoint) + strlen(query) + 2;
    char *url = malloc(n);
    int rc = NET_E_NOMEM;
    entra_http_resp resp = {0};
    if (url) {
        snprintf(url, n, "%s%s%s", endpoint, strchr(endpoint, '?') ? "&" : "?", query);
        const char *h1[] = {"Metadata: true", NULL};
        entra_http_req q = {.method = "GET", .url = url, .headers = h1};
        rc = entra_http(&q, &resp, err);
        free(url);
    }
    if (rc == NET_E_IO || rc == NET_E_TIMEOUT)
        rc = net__fail(err, NET_E_ARG, "no managed identity endpoint reachable on this machine (%s)", label);
    else if (rc == NET_OK && (resp.status != 401 || !resp.www_authenticate[0]))
        rc = net__fail(err, NET_E_LOGIN, "managed identity: %s answered HTTP %ld, not its key challenge", label,
                       resp.status);
    char *key = NULL;
    if (rc == NET_OK)
        rc = arc_key(resp.www_authenticate, &key, err);
    entra_http_resp_free(&resp);
    if (rc == NET_OK) {
        size_t hn = strlen(key) + 40;
        char *auth = malloc(hn);
        if (!auth) {
            rc = net__fail(err, NET_E_NOMEM, "out of memory");
        } else {
            snprintf(auth, hn, "Authorization: Basic %s", key);
            const char *h2[] = {"Metadata: true", auth, NULL};
            rc = mi_request(m, label, "GET", endpoint, query, h2, false, out, err);
            net_wipe(auth, hn);
            free(auth);
        }
        net_wipe(key, strlen(key));
        free(key);
    }
    free(query);
    return rc;
}

/* IMDS, or AZURE_POD_IDENTITY_AUTHORITY_HOST (azure-identity's override;
 * tests point it at 127.0.0.1). In the Default chain a probe without the
 * Metadata header first (IMDS answers it at once with 400): no answer
 * within probe_ms means no IMDS here, as azidentity decides. */
static int mi_imds(const mi_ctx *m, entra_token *out, net_error *err)
{
    const char *host = entra_env("AZURE_POD_IDENTITY_AUTHORITY_HOST");
    char base[600], hp[200], label[240];
    size_t hl = strlen(host ? host : ENTRA_IMDS_DEFAULT);
    while (host && hl > 1 && host[hl - 1] == '/')
        hl--;
    snprintf(base, sizeof base, "%.*s/metadata/identity/oauth2/token", (int)(hl < 400 ? hl : 400),
             host ? host : ENTRA_IMDS_DEFAULT);
    url_host(base, hp, sizeof hp);
    snprintf(label, sizeof label, "IMDS at %s", hp);
    if (m->probe_ms) {
        entra_http_req probe = {.method = "GET", .url = base, .timeout_ms = m->probe_ms};
        entra_http_resp resp;
        memset(&resp, 0, sizeof resp);
        int rc = entra_http(&probe, &resp, err);
        entra_http_resp_free(&resp);
        if (rc) {
            net_error e = *err;
            return net__fail(err, NET_E_ARG, "no managed identity endpoint reachable on this machine (%s: %s)", label,
                             rc == NET_E_TIMEOUT ? "no answer in time" : reach_reason(&e));
        }
    }
    const char *headers[] = {"Metadata: true", NULL};
    return mi_query_call(m, label, "GET", base, "2018-02-01", "client_id", "msi_res_id", headers, true, out, err);
}

int entra_mi_token_ex(const entra_request *r, const char *client_id, uint32_t probe_ms, entra_token *out,
                      net_error *err)
{
    const net_opts *o = r->o;
    mi_ctx m = {.r = r, .resource = r->spn && *r->spn ? r->spn : ENTRA_SQL_RESOURCE,
                .client_id = client_id ? client_id : (o->user && *o->user ? o->user : NULL),
                .res_id = o->mi_resource_id && *o->mi_resource_id ? o->mi_resource_id : NULL,
                .probe_ms = probe_ms};
    const char *id_ep = entra_env("IDENTITY_ENDPOINT"), *msi_ep = entra_env("MSI_ENDPOINT");
    if (id_ep && entra_env("IDENTITY_HEADER")) {
        if (entra_env("IDENTITY_SERVER_THUMBPRINT"))
            return net__fail(err, NET_E_ARG, "managed identity on Service Fabric is not supported (use a service "
                                             "principal or workload identity)");
        return mi_app_service(&m, id_ep, out, err);
    }
    if (msi_ep)
        return entra_env("MSI_SECRET") ? mi_azure_ml(&m, msi_ep, out, err) : mi_cloud_shell(&m, msi_ep, out, err);
    if (id_ep && entra_env("IMDS_ENDPOINT"))
        return mi_arc(&m, id_ep, out, err);
    if (!id_ep && access(ARC_HIMDS, X_OK) == 0)
        return mi_arc(&m, "http://127.0.0.1:40342/metadata/identity/oauth2/token", out, err);
    return mi_imds(&m, out, err);
}

int entra_mi_token(const entra_request *r, entra_token *out, net_error *err)
{
    return entra_mi_token_ex(r, NULL, 0, out, err);
}
