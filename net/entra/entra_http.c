/*
 * entra_http.c — one HTTP(S) request for the Entra module, through libcurl
 * loaded at run time (libcurl.so.4, or TDSPIPE_CURL_LIB), as libpq and
 * libduckdb are: the default binary still needs only the C library, and
 * only Entra sign-in needs libcurl. A fully static build cannot dlopen and
 * says which build the methods need.
 *
 * Process state: curl_global_init(CURL_GLOBAL_DEFAULT) runs once, under
 * pthread_once, before the first handle. libcurl documents it as not
 * thread-safe before 7.84, which the once-guard covers; with OpenSSL ≥ 1.1
 * it only initialises OpenSSL's own state (no signal handlers, no locale)
 * and curl_easy_init would run it implicitly anyway. It is never undone
 * (curl_global_cleanup is not safe while another thread may use libcurl).
 * CURLOPT_NOSIGNAL: libcurl never touches SIGPIPE or uses alarm() here.
 *
 * Security: TLS peer and host always verified (SSL_CERT_FILE/SSL_CERT_DIR
 * passed on as OpenSSL would read them: libcurl does not look at them);
 * redirects are never followed (a Location could carry the form to another
 * host); proxies come from https_proxy/HTTPS_PROXY/no_proxy/NO_PROXY, which
 * libcurl reads itself (http_proxy only in lower case, against httpoxy).
 * Error lines name host:port and libcurl's reason, never the URL's query,
 * the headers, the form or the reply. The reply is capped at 1 MB and
 * every buffer that held it, or a header value, is wiped before free.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef TDSPIPE_NO_DLOPEN
#include <curl/curl.h>
#include <dlfcn.h>
#endif

#include "entra_int.h"
#include "net_int.h"

#define ENTRA_HTTP_MAX_BODY (1u << 20)
#define ENTRA_HTTP_CONNECT_MS 5000u
#define ENTRA_HTTP_DEFAULT_MS 30000u

void entra_http_resp_free(entra_http_resp *resp)
{
    if (!resp)
        return;
    if (resp->body) {
        net_wipe(resp->body, resp->len);
        free(resp->body);
    }
    net_wipe(resp, sizeof *resp);
}

#ifdef TDSPIPE_NO_DLOPEN
int entra_http(const entra_http_req *r, entra_http_resp *resp, net_error *err)
{
    (void)r;
    memset(resp, 0, sizeof *resp);
    return net__fail(err, NET_E_ARG,
                     "Microsoft Entra sign-in methods other than ActiveDirectoryAccessToken need the "
                     "default build (libcurl loaded at run time)");
}
#else
/* "host:port" of an http(s) URL for messages (user info dropped). */
static void url_hostport(const char *url, char *out, size_t cap)
{
    bool tls = strncasecmp(url, "https://", 8) == 0;
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    const char *close = *h == '[' ? memchr(h, ']', n) : NULL; /* [IPv6] */
    const char *after = close ? close + 1 : h;
    bool has_port = memchr(after, ':', n - (size_t)(after - h)) != NULL;
    if (has_port)
        snprintf(out, cap, "%.*s", (int)n, h);
    else
        snprintf(out, cap, "%.*s:%s", (int)n, h, tls ? "443" : "80");
}

typedef struct curl_api {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl_api;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static curl_api curl; /* written once, under curl_once */
static bool curl_ok;

static void curl_load(void)
{
    const char *path = getenv("TDSPIPE_CURL_LIB");
    void *h = dlopen(path && *path ? path : "libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    curl_api a;
    *(void **)&a.global_init = dlsym(h, "curl_global_init");
    *(void **)&a.easy_init = dlsym(h, "curl_easy_init");
    *(void **)&a.easy_setopt = dlsym(h, "curl_easy_setopt");
    *(void **)&a.easy_perform = dlsym(h, "curl_easy_perform");
    *(void **)&a.easy_getinfo = dlsym(h, "curl_easy_getinfo");
    *(void **)&a.easy_cleanup = dlsym(h, "curl_easy_cleanup");
    *(void **)&a.easy_strerror = dlsym(h, "curl_easy_strerror");
    *(void **)&a.slist_append = dlsym(h, "curl_slist_append");
    *(void **)&a.slist_free_all = dlsym(h, "curl_slist_free_all");
    if (!a.global_init || !a.easy_init || !a.easy_setopt || !a.easy_perform || !a.easy_getinfo ||
        !a.easy_cleanup || !a.easy_strerror || !a.slist_append || !a.slist_free_all ||
        a.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        dlclose(h);
        return;
    }
    curl = a;
    curl_ok = true;
}

/* What one transfer collects. */
typedef struct http_sink {
    entra_http_resp *resp;
    size_t cap;
    bool too_big;
} http_sink;

/* Grows by copy-then-wipe (a token reply must leave no copy behind). */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    http_sink *s = ud;
    entra_http_resp *r = s->resp;
    size_t n = size * nmemb;
    if (n > ENTRA_HTTP_MAX_BODY - r->len) {
        s->too_big = true;
        return 0;
    }
    if (r->len + n + 1 > s->cap) {
        size_t cap = (r->len + n + 1) * 2;
        char *nb = malloc(cap);
        if (!nb)
            return 0;
        if (r->body) {
            memcpy(nb, r->body, r->len);
            net_wipe(r->body, r->len);
            free(r->body);
        }
        r->body = nb;
        s->cap = cap;
    }
    memcpy(r->body + r->len, p, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* Copies the value of "Name: value" into out when the name matches. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return;
    const char *v = line + k + 1;
    size_t vn = n - k - 1;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
        vn--;
    snprintf(out, cap, "%.*s", (int)(vn < cap ? vn : cap - 1), v);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    entra_http_resp *r = ((http_sink *)ud)->resp;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after a proxy's CONNECT, a 100) */
        r->www_authenticate[0] = '\0';
        r->retry_after[0] = '\0';
    }
    header_value(p, n, "WWW-Authenticate", r->www_authenticate, sizeof r->www_authenticate);
    header_value(p, n, "Retry-After", r->retry_after, sizeof r->retry_after);
    return n;
}

/* Request headers; values may be secrets (X-IDENTITY-HEADER, Basic). */
static struct curl_slist *headers_new(const entra_http_req *r, bool *ok)
{
    struct curl_slist *list = NULL, *t;
    *ok = true;
    for (const char *const *h = r->headers; h && *h; h++) {
        if (!(t = curl.slist_append(list, *h)))
            goto fail;
        list = t;
    }
    if (strcmp(r->method, "POST") == 0) { /* no 100-continue round trip */
        if (!(t = curl.slist_append(list, "Expect:")))
            goto fail;
        list = t;
    }
    return list;
fail:
    *ok = false;
    return list;
}

static void headers_free(struct curl_slist *list)
{
    for (struct curl_slist *s = list; s; s = s->next)
        net_wipe(s->data, strlen(s->data));
    curl.slist_free_all(list);
}

static void set_tls(CURL *h)
{
    const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (file && *file)
        curl.easy_setopt(h, CURLOPT_CAINFO, file);
    if (dir && *dir)
        curl.easy_setopt(h, CURLOPT_CAPATH, dir);
}

static void set_options(CURL *h, const entra_http_req *r, uint32_t total_ms, struct curl_slist *hdrs,
                        http_sink *sink, char *errbuf)
{
    long total = (long)total_ms;
    curl.easy_setopt(h, CURLOPT_URL, r->url);
    curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"); /* ignored before 7.85 */
    curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, total);
    curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, total < (long)ENTRA_HTTP_CONNECT_MS ? total : (long)ENTRA_HTTP_CONNECT_MS);
    curl.easy_setopt(h, CURLOPT_USERAGENT, "tdspipe");
    curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl.easy_setopt(h, CURLOPT_WRITEDATA, sink);
    curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl.easy_setopt(h, CURLOPT_HEADERDATA, sink);
    curl.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    set_tls(h);
    if (strcmp(r->method, "POST") == 0) {
        curl.easy_setopt(h, CURLOPT_POST, 1L);
        curl.easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : ""); /* not copied: caller wipes it */
        curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
    } else {
        curl.easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
}

/* One line for a failed transfer. */
static int transfer_error(CURLcode rc, const http_sink *sink, const char *errbuf, const entra_http_req *r,
                          net_error *err)
{
    char hp[300];
    url_hostport(r->url, hp, sizeof hp);
    if (sink->too_big)
        return net__fail(err, NET_E_IO, "the reply from %s is larger than 1 MB", hp);
    const char *why = errbuf[0] ? errbuf : curl.easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return net__fail(err, NET_E_TIMEOUT, "no reply from %s in time: %s", hp, why);
    if (rc == CURLE_OUT_OF_MEMORY)
        return net__fail(err, NET_E_NOMEM, "out of memory");
    return net__fail(err, NET_E_IO, "cannot reach %s: %s", hp, why);
}

static int http_checks(const entra_http_req *r, net_error *err)
{
    if (!r->url || (strncasecmp(r->url, "https://", 8) != 0 && strncasecmp(r->url, "http://", 7) != 0))
        return net__fail(err, NET_E_ARG, "identity endpoint URL must start with https:// or http://");
    if (!r->method || (strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0))
        return net__fail(err, NET_E_ARG, "HTTP method must be GET or POST");
    pthread_once(&curl_once, curl_load);
    if (!curl_ok)
        return net__fail(err, NET_E_ARG,
                         "Microsoft Entra sign-in needs libcurl.so.4 (Debian/Ubuntu: apt install libcurl4)");
    return NET_OK;
}

int entra_http(const entra_http_req *r, entra_http_resp *resp, net_error *err)
{
    memset(resp, 0, sizeof *resp);
    int rc = http_checks(r, err);
    if (rc)
        return rc;
    uint32_t total_ms = entra_budget_ms(r->timeout_ms ? r->timeout_ms : ENTRA_HTTP_DEFAULT_MS);
    if (!total_ms) {
        char hp[300];
        url_hostport(r->url, hp, sizeof hp);
        return net__fail(err, NET_E_TIMEOUT, "no time left to ask %s: the connection timeout ran out while "
                                             "fetching the token", hp);
    }
    bool ok;
    char errbuf[CURL_ERROR_SIZE] = "";
    http_sink sink = {.resp = resp};
    CURL *h = curl.easy_init();
    struct curl_slist *hdrs = h ? headers_new(r, &ok) : NULL;
    if (!h || !ok) {
        headers_free(hdrs);
        if (h)
            curl.easy_cleanup(h);
        return net__fail(err, NET_E_NOMEM, "out of memory");
    }
    set_options(h, r, total_ms, hdrs, &sink, errbuf);
    CURLcode cc = curl.easy_perform(h);
    if (cc == CURLE_OK) {
        curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        rc = NET_OK;
    } else {
        rc = transfer_error(cc, &sink, errbuf, r, err);
    }
    curl.easy_cleanup(h);
    headers_free(hdrs);
    if (rc)
        entra_http_resp_free(resp);
    else if (!resp->body && !(resp->body = calloc(1, 1)))
        rc = net__fail(err, NET_E_NOMEM, "out of memory");
    return rc;
}
#endif
