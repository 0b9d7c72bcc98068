/*
 * entra_int.h — Microsoft Entra ID tokens for FEDAUTH logins (issue 15),
 * private to net/. Facts and sources: ../shared/spec/entra-notes.md.
 *
 * Who calls what:
 *   net/login.c, on FEDAUTHINFO  →  entra_token_get()      (entra.c)
 *   entra_token_get: cache (entra_cache.c), then by method:
 *     service principal, password   → entra_aad_*         (entra_aad.c)
 *     managed identity               → entra_mi_token      (entra_mi.c)
 *     workload identity              → entra_workload_token(entra_workload.c)
 *     Azure CLI                      → entra_azcli_token   (entra_azcli.c)
 *     Default chain                  → entra_default_token (entra_default.c)
 *   HTTP: entra_http (libcurl loaded at run time, entra_http.c);
 *   replies: entra_reply_parse (cJSON, entra_reply.c, fuzzed);
 *   client assertion: entra_jwt_assertion (OpenSSL, entra_jwt.c);
 *   authority choice: entra_authority (entra_authority.c).
 *
 * Blocking: these calls block the calling thread (HTTP, a child process).
 * net/login.c calls entra_token_get from the event loop while a login waits
 * for its token; the cache makes that once per token lifetime per process.
 *
 * Secrets: no function here puts a token, secret, assertion, password or an
 * HTTP body into err. Errors are one line: for the token endpoint the
 * AADSTS code and the first line of error_description. Buffers that held a
 * secret are wiped (net_wipe) before they are freed.
 */
#ifndef TDSPIPE_ENTRA_INT_H
#define TDSPIPE_ENTRA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "net.h"

#define ENTRA_SQL_RESOURCE "https://database.windows.net/"
#define ENTRA_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define ENTRA_IMDS_DEFAULT "http://169.254.169.254"
/* Public client id Microsoft's drivers use for the password grant when
 * applicationclientid is not given (SqlClient's). */
#define ENTRA_PUBLIC_CLIENT_ID "2fd908ad-0664-4344-b9be-cd3e8b574c38"

/* A fetched token. access_token is malloc'd (wipe + free with
 * entra_token_clear). expires_at: Unix seconds, 0 if unknown. */
typedef struct entra_token {
    char *access_token;
    int64_t expires_at;
    bool from_cache;    /* served by entra_cache_get (a refusal may mean
                           it was revoked: worth one fresh fetch) */
} entra_token;
void entra_token_clear(entra_token *t);

/* What the server said in FEDAUTHINFO plus the connection's options. */
typedef struct entra_request {
    const net_opts *o;       /* auth, user, password, tenant_id, client_cert_path… */
    const char *sts_url;     /* from FEDAUTHINFO, may be "" */
    const char *spn;         /* from FEDAUTHINFO; "" → ENTRA_SQL_RESOURCE */
    bool fresh;              /* skip the cache (after an 18456 with a cached token) */
    uint32_t time_left_ms;   /* what the connection's connect timeout leaves
                              * for the whole fetch, retries and az included;
                              * 0: no limit but each source's own bounds */
} entra_request;

/* entra.c: the one entry point. Returns NET_OK with *out filled, or a
 * net_err (NET_E_LOGIN for an identity-provider refusal, NET_E_ARG for a
 * method that cannot run here, NET_E_IO/NET_E_TIMEOUT for an unreachable
 * endpoint) with err->message one line. */
int entra_token_get(const entra_request *r, entra_token *out, net_error *err);

/* entra_cache.c: process-wide cache keyed by (method, authority, tenant,
 * client id, scope/resource), under a mutex; an entry is served while it
 * has more than 5 minutes left (or half its life, if shorter). */
bool entra_cache_get(const char *key, entra_token *out);        /* copies */
void entra_cache_put(const char *key, const entra_token *t);     /* copies */
void entra_cache_drop(const char *key);
void entra_cache_clear_all(void);                                /* tests */

/* entra_authority.c: the authority (scheme + host, no trailing slash) and
 * tenant for a token-endpoint request. AZURE_AUTHORITY_HOST when set; else
 * the STS URL's host only when it is a Microsoft login authority (public,
 * US government, China clouds; go-mssqldb's rule plus the sovereign
 * clouds); else ENTRA_DEFAULT_AUTHORITY. Tenant: explicit (user@tenant,
 * tenant_id, AZURE_TENANT_ID for environment/workload credentials) first,
 * else the STS URL's first path segment, else "organizations". */
int entra_authority(const char *sts_url, const char *explicit_tenant, char *authority, size_t acap,
                    char *tenant, size_t tcap, char *err, size_t errcap);
/* The resource a token is fetched for: the server's SPN when it is Azure
 * SQL's (any cloud) or equals TDSPIPE_ENTRA_RESOURCE, else
 * ENTRA_SQL_RESOURCE — a server never chooses another service's audience. */
const char *entra_resource(const char *spn);
/* The scope sent to the v2.0 endpoint: SPN + "/.default" (so
 * "https://database.windows.net//.default", as the drivers build it). */
void entra_scope(const char *spn, char *out, size_t cap);

/* entra_http.c: one HTTP(S) request through libcurl (libcurl.so.4 loaded
 * at run time, thread-safe). TLS verified against the system store, or
 * SSL_CERT_FILE / SSL_CERT_DIR when set; HTTPS_PROXY/HTTP_PROXY/NO_PROXY
 * honoured; connect and total timeouts bounded. headers: NULL-terminated
 * "Name: value" list. The body is never put into err. */
typedef struct entra_http_req {
    const char *method;              /* "GET" or "POST" */
    const char *url;
    const char *const *headers;      /* may be NULL */
    const char *body;                /* POST form body, may be NULL */
    size_t body_len;
    uint32_t timeout_ms;             /* 0 = 30 s */
} entra_http_req;
typedef struct entra_http_resp {
    long status;                     /* HTTP status; 0 if none */
    char *body;                      /* malloc'd, NUL-terminated; wiped on free */
    size_t len;
    char www_authenticate[512];      /* Azure Arc's challenge */
    char retry_after[32];
} entra_http_resp;
/* NET_OK (any HTTP status), NET_E_IO (connection refused, TLS failure,
 * DNS: "cannot reach <host:port>: …"), NET_E_TIMEOUT, NET_E_ARG (libcurl
 * missing / fully static build: one line saying which build is needed). */
int entra_http(const entra_http_req *r, entra_http_resp *resp, net_error *err);
void entra_http_resp_free(entra_http_resp *resp);
/* Form-encodes (application/x-www-form-urlencoded) one value onto b. */
int entra_form_add(char **b, size_t *len, const char *key, const char *value);

/* entra_reply.c: parses a token reply body. Accepts the v2.0 endpoint's
 * {access_token, expires_in} and its errors {error, error_description,
 * error_codes}, managed identity replies (expires_on / expires_in as
 * numbers or strings), and az's {accessToken, expires_on | expiresOn}.
 * status is the HTTP status (0 for az output). On an error reply err gets
 * "AADSTS<code>: <first line of error_description>" (never the body).
 * Returns NET_OK, NET_E_LOGIN (an error reply), NET_E_PROTO (not JSON,
 * no token). Fuzzed by fuzz/fuzz_entra_reply.c. */
int entra_reply_parse(const char *body, size_t len, long status, int64_t now, entra_token *out,
                      net_error *err);

/* entra_jwt.c: an RS256 client assertion for a certificate credential:
 * header {alg RS256, typ JWT, x5t = base64url SHA-1 of the DER
 * certificate}, claims {aud = token endpoint URL, iss = sub = client id,
 * jti, nbf, iat, exp = nbf + 10 min}. pem_path holds the certificate and
 * its private key (key_password may be NULL). *out malloc'd. */
int entra_jwt_assertion(const char *pem_path, const char *key_password, const char *client_id,
                        const char *audience, int64_t now, char **out, net_error *err);

/* entra_aad.c: the v2.0 token endpoint, POST {authority}/{tenant}/oauth2/v2.0/token. */
typedef struct entra_aad_req {
    const char *authority;           /* from entra_authority */
    const char *tenant;
    const char *client_id;
    const char *scope;
    const char *client_secret;       /* client_credentials with a secret */
    const char *client_assertion;    /* jwt-bearer assertion (certificate, workload) */
    const char *username, *password; /* password grant */
} entra_aad_req;
int entra_aad_token(const entra_aad_req *r, entra_token *out, net_error *err);

/* Sources (H3). Each returns NET_OK, or NET_E_ARG when the source is not
 * available here (no such environment, az not installed) — the Default
 * chain moves on only then — or another error when it was available but
 * failed (a refused secret ends the chain, as DefaultAzureCredential). */
int entra_mi_token(const entra_request *r, entra_token *out, net_error *err);
int entra_workload_token(const entra_request *r, entra_token *out, net_error *err);
int entra_azcli_token(const entra_request *r, entra_token *out, net_error *err);
int entra_env_token(const entra_request *r, entra_token *out, net_error *err); /* AZURE_CLIENT_* */
int entra_default_token(const entra_request *r, entra_token *out, net_error *err);

/* The wait before retry number attempt (0-based) of an identity request:
 * Retry-After in seconds when it is a number, else base_ms doubled per
 * attempt; never more than max_ms, however large the number (the header
 * comes from the network: it must not make a login sleep for days). */
uint32_t entra_retry_delay_ms(const char *retry_after, unsigned attempt, uint32_t base_ms, uint32_t max_ms);
/* Sleeps ms, resumed after a signal. */
void entra_sleep_ms(uint32_t ms);

/* The fetch's time budget (entra_request.time_left_ms), kept per thread
 * by entra_token_get for the sources below it, which block that thread:
 * entra_budget_ms(want) is want capped at what is left, 0 once nothing
 * is (want itself when no budget was set). HTTP timeouts, retry waits and
 * az's time are all taken through it. */
int64_t entra_budget_begin(uint32_t ms);   /* returns the previous deadline */
void entra_budget_end(int64_t previous);
uint32_t entra_budget_ms(uint32_t want);

/* fopen(path, "rb") for a regular file only, close-on-exec (az may be
 * spawned meanwhile): a FIFO or a device named by a variable must neither
 * block the login forever nor be read. NULL with errno set (EINVAL: not a
 * regular file). */
FILE *entra_fopen_regular(const char *path);

/* Current Unix time (tests use short-lived tokens from the test identity
 * server rather than a fake clock). */
int64_t entra_now(void);

#endif
