/*
 * test_entra_sources.c — net/entra's identity sources and entry point
 * (entra.c, entra_mi.c, entra_workload.c, entra_azcli.c, entra_env.c,
 * entra_default.c): the exact request each source sends (method, path,
 * query, headers, form), the Default chain's order and its one-line
 * summary, az missing / signed out / too slow, the cache, and that no
 * secret reaches an error message.
 *
 * Fakes, all on 127.0.0.1: a small HTTP(S) server thread answering a
 * script of replies and recording each request (IMDS, IDENTITY_ENDPOINT
 * and MSI_ENDPOINT are plain HTTP as on Azure; the token endpoint is HTTPS
 * with a certificate made here, trusted through SSL_CERT_FILE), and an
 * `az` shell script written into a directory put on PATH. Criterion runs
 * each test in its own process, so environment changes stay there.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "entra/entra_int.h"

/* ------------------------------------------------------------ fake HTTP */

#define FAKE_MAX 8

typedef struct fake_reply {
    int status;
    const char *body;
    const char *headers; /* extra "Name: value\r\n" lines, may be NULL */
} fake_reply;

typedef struct fake_req {
    char method[8];
    char target[2048];
    char headers[4096];
    char body[8192];
} fake_req;

typedef struct fake_srv {
    int lfd;
    uint16_t port;
    SSL_CTX *tls;
    pthread_t th;
    fake_reply reply[FAKE_MAX];
    int nreply;
    fake_req req[FAKE_MAX];
    int nreq;
} fake_srv;

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/entra-src-XXXXXX");
    cr_assert(mkdtemp(tmpdir));
}

/* A self-signed certificate for 127.0.0.1 (also the trust anchor: written
 * to tmpdir/ca.pem for SSL_CERT_FILE) and its key. */
static SSL_CTX *fake_tls_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    cr_assert(key && x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const char *exts[][2] = {{"basicConstraints", "critical,CA:TRUE"}, {"subjectAltName", "IP:127.0.0.1"},
                             {"keyUsage", "critical,digitalSignature,keyCertSign"}};
    for (size_t i = 0; i < 3; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        cr_assert(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    cr_assert(X509_sign(x, key, EVP_sha256()));
    char path[300];
    snprintf(path, sizeof path, "%s/ca.pem", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    PEM_write_X509(f, x);
    fclose(f);
    setenv("SSL_CERT_FILE", path, 1);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    cr_assert(ctx && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1);
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

typedef struct io {
    int fd;
    SSL *ssl;
} io;

static int io_read(io *c, char *b, size_t n)
{
    return c->ssl ? SSL_read(c->ssl, b, (int)n) : (int)read(c->fd, b, n);
}

static void io_write(io *c, const char *b, size_t n)
{
    if (c->ssl)
        SSL_write(c->ssl, b, (int)n);
    else if (write(c->fd, b, n) < 0)
        perror("fake write");
}

/* Reads one request (head, then Content-Length bytes) into r. */
static void fake_read_req(io *c, fake_req *r)
{
    static char buf[16384];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof buf - 1) {
        int k = io_read(c, buf + len, sizeof buf - 1 - len);
        if (k <= 0)
            return;
        len += (size_t)k;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return;
    *end = '\0';
    char *line_end = strstr(buf, "\r\n");
    sscanf(buf, "%7s %2047s", r->method, r->target);
    snprintf(r->headers, sizeof r->headers, "%s\r\n", line_end ? line_end + 2 : "");
    const char *cl = strcasestr(r->headers, "Content-Length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    memmove(buf, end + 4, have);
    while (have < want && have < sizeof buf - 1) {
        int k = io_read(c, buf + have, sizeof buf - 1 - have);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    snprintf(r->body, sizeof r->body, "%.*s", (int)have, buf);
}

static void *fake_main(void *arg)
{
    fake_srv *s = arg;
    for (int i = 0; i < s->nreply; i++) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20000) <= 0)
            break;
        io c = {.fd = accept(s->lfd, NULL, NULL)};
        if (c.fd < 0)
            break;
        if (s->tls) {
            c.ssl = SSL_new(s->tls);
            SSL_set_fd(c.ssl, c.fd);
            if (SSL_accept(c.ssl) != 1) {
                SSL_free(c.ssl);
                close(c.fd);
                i--;
                continue;
            }
        }
        fake_read_req(&c, &s->req[s->nreq++]);
        const fake_reply *rp = &s->reply[i];
        char head[1024];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%sConnection: "
                         "close\r\n\r\n",
                         rp->status, strlen(rp->body), rp->headers ? rp->headers : "");
        io_write(&c, head, (size_t)n);
        io_write(&c, rp->body, strlen(rp->body));
        if (c.ssl) {
            SSL_shutdown(c.ssl);
            SSL_free(c.ssl);
        }
        close(c.fd);
    }
    return NULL;
}

static int listen_any(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 8) == 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Starts a fake answering replies in order, one connection each. */
static void fake_start(fake_srv *s, bool tls, const fake_reply *replies, int n)
{
    memset(s, 0, sizeof *s);
    s->lfd = listen_any(&s->port);
    s->tls = tls ? fake_tls_ctx() : NULL;
    memcpy(s->reply, replies, (size_t)n * sizeof *replies);
    s->nreply = n;
    cr_assert(pthread_create(&s->th, NULL, fake_main, s) == 0);
}

/* Waits for the thread (it ends after its replies, or 20 s without one). */
static void fake_stop(fake_srv *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->lfd);
    if (s->tls)
        SSL_CTX_free(s->tls);
}

/* A loopback port nothing listens on. */
static uint16_t closed_port(void)
{
    uint16_t port;
    close(listen_any(&port));
    return port;
}

static bool has_header(const fake_req *r, const char *line)
{
    return strcasestr(r->headers, line) != NULL;
}

/* ------------------------------------------------------------- set-up */

static const char *const azure_vars[] = {
    "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST", "AZURE_POD_IDENTITY_AUTHORITY_HOST", "IDENTITY_ENDPOINT", "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET", "DEFAULT_IDENTITY_CLIENT_ID",
    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", NULL};

/* No Azure variable set; az not on PATH (an empty directory); IMDS at a
 * closed loopback port unless a test points it elsewhere. */
static void clean_env(void)
{
    for (const char *const *v = azure_vars; *v; v++)
        unsetenv(*v);
    setenv("NO_PROXY", "*", 1);
    make_tmpdir();
    char bin[300];
    snprintf(bin, sizeof bin, "%s/bin", tmpdir);
    mkdir(bin, 0700);
    setenv("PATH", bin, 1);
    char imds[64];
    snprintf(imds, sizeof imds, "http://127.0.0.1:%u", (unsigned)closed_port());
    setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds, 1);
    entra_cache_clear_all();
}

static void remove_tmpdir(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "/bin/rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
}

TestSuite(entra_sources, .init = clean_env, .fini = remove_tmpdir);

static void set_url_env(const char *name, const char *scheme, uint16_t port, const char *path)
{
    char v[200];
    snprintf(v, sizeof v, "%s://127.0.0.1:%u%s", scheme, (unsigned)port, path);
    setenv(name, v, 1);
}

static char token_json[256];

/* A managed-identity style reply: access_token and expires_in (string). */
static const char *mi_reply(const char *tok)
{
    snprintf(token_json, sizeof token_json,
             "{\"access_token\":\"%s\",\"expires_in\":\"3599\",\"resource\":\"https://database.windows.net/\","
             "\"token_type\":\"Bearer\"}", tok);
    return token_json;
}

static const char *aad_ok = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                            "\"access_token\":\"aad-token\"}";

static int get(net_opts *o, bool fresh, entra_token *t, net_error *e)
{
    entra_request r = {.o = o, .sts_url = "", .spn = "https://database.windows.net/", .fresh = fresh};
    memset(e, 0, sizeof *e);
    return entra_token_get(&r, t, e);
}

/* ------------------------------------------------------------ managed identity */

Test(entra_sources, imds_system_assigned)
{
    fake_srv s;
    fake_reply rp[] = {{200, mi_reply("imds-token"), NULL}};
    fake_start(&s, false, rp, 1);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "/");
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    cr_assert_str_eq(t.access_token, "imds-token");
    cr_assert(t.expires_at > entra_now() + 3000);
    cr_assert_eq(s.nreq, 1);
    cr_assert_str_eq(s.req[0].method, "GET");
    cr_assert_str_eq(s.req[0].target, "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
                                      "https%3A%2F%2Fdatabase.windows.net%2F");
    cr_assert(has_header(&s.req[0], "\nMetadata: true\r\n") || !strncasecmp(s.req[0].headers, "Metadata: true", 14),
              "%s", s.req[0].headers);
    entra_token_clear(&t);
}

Test(entra_sources, imds_user_assigned_by_client_or_resource_id)
{
    fake_srv s;
    fake_reply rp[] = {{200, mi_reply("a"), NULL}, {200, mi_reply("b"), NULL}};
    fake_start(&s, false, rp, 2);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "");
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY, .user = "11111111-2222"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    net_opts o2 = {.auth = NET_AUTH_MANAGED_IDENTITY, .mi_resource_id = "/subscriptions/s/rg/r/uami"};
    cr_assert_eq(get(&o2, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert(strstr(s.req[0].target, "&client_id=11111111-2222"), "%s", s.req[0].target);
    cr_assert(strstr(s.req[1].target, "&msi_res_id=%2Fsubscriptions%2Fs%2Frg%2Fr%2Fuami"), "%s", s.req[1].target);
}

/* 429 and 5xx are retried (Retry-After: 0 keeps the test fast). */
Test(entra_sources, imds_retries_throttling_and_server_errors)
{
    fake_srv s;
    fake_reply rp[] = {{429, "{}", "Retry-After: 0\r\n"},
                       {503, "{}", "Retry-After: 0\r\n"},
                       {410, "{}", "Retry-After: 0\r\n"},
                       {200, mi_reply("after-retries"), NULL}};
    fake_start(&s, false, rp, 4);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "");
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    cr_assert_eq(s.nreq, 4);
    cr_assert_str_eq(t.access_token, "after-retries");
    entra_token_clear(&t);
}

Test(entra_sources, imds_unreachable_said_plainly)
{
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    char want[80];
    snprintf(want, sizeof want, "(IMDS at %s: connection refused)", getenv("AZURE_POD_IDENTITY_AUTHORITY_HOST") + 7);
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert(strstr(e.message, "no managed identity endpoint reachable on this machine") && strstr(e.message, want) &&
                  !strchr(e.message, '\n'),
              "%s", e.message);
    cr_assert_null(t.access_token);
}

Test(entra_sources, imds_error_reply)
{
    fake_srv s;
    fake_reply rp[] = {{400, "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}", NULL}};
    fake_start(&s, false, rp, 1);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "");
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY, .user = "uami"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_LOGIN);
    fake_stop(&s);
    cr_assert(strstr(e.message, "not assigned"), "%s", e.message);
}

Test(entra_sources, app_service_identity_endpoint)
{
    fake_srv s;
    fake_reply rp[] = {{200, "{\"access_token\":\"app-token\",\"expires_on\":\"4102444800\",\"resource\":\"r\","
                             "\"token_type\":\"Bearer\",\"client_id\":\"c\"}", NULL}};
    fake_start(&s, false, rp, 1);
    set_url_env("IDENTITY_ENDPOINT", "http", s.port, "/msi/token");
    setenv("IDENTITY_HEADER", "hdr-SECRET-value", 1);
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY, .user = "uami-c"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    cr_assert_str_eq(t.access_token, "app-token");
    cr_assert_eq(t.expires_at, 4102444800);
    cr_assert_str_eq(s.req[0].method, "GET");
    cr_assert_str_eq(s.req[0].target, "/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fdatabase.windows.net"
                                      "%2F&client_id=uami-c");
    cr_assert(has_header(&s.req[0], "X-IDENTITY-HEADER: hdr-SECRET-value\r\n"), "%s", s.req[0].headers);
    cr_assert(!has_header(&s.req[0], "Metadata:"));
    entra_token_clear(&t);
}

Test(entra_sources, app_service_error_hides_the_header)
{
    fake_srv s;
    fake_reply rp[] = {{401, "{\"error\":\"unauthorized\",\"error_description\":\"bad header\"}", NULL}};
    fake_start(&s, false, rp, 1);
    set_url_env("IDENTITY_ENDPOINT", "http", s.port, "/msi/token");
    setenv("IDENTITY_HEADER", "hdr-SECRET-value", 1);
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_neq(get(&o, false, &t, &e), NET_OK);
    fake_stop(&s);
    cr_assert(strstr(e.message, "IDENTITY_ENDPOINT") && strstr(e.message, "401") && !strstr(e.message, "SECRET"),
              "%s", e.message);
}

Test(entra_sources, cloud_shell_msi_endpoint)
{
    fake_srv s;
    fake_reply rp[] = {{200, mi_reply("shell-token"), NULL}};
    fake_start(&s, false, rp, 1);
    set_url_env("MSI_ENDPOINT", "http", s.port, "/oauth2/token");
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].method, "POST");
    cr_assert_str_eq(s.req[0].target, "/oauth2/token");
    cr_assert_str_eq(s.req[0].body, "resource=https%3A%2F%2Fdatabase.windows.net%2F");
    cr_assert(has_header(&s.req[0], "Metadata: true\r\n"), "%s", s.req[0].headers);
    entra_token_clear(&t);
    net_opts u = {.auth = NET_AUTH_MANAGED_IDENTITY, .user = "uami"};
    cr_assert_eq(get(&u, false, &t, &e), NET_E_ARG);
    cr_assert(strstr(e.message, "Cloud Shell"), "%s", e.message);
}

Test(entra_sources, azure_ml_msi_endpoint_with_secret)
{
    fake_srv s;
    fake_reply rp[] = {{200, "{\"access_token\":\"ml-token\",\"expires_on\":\"4102444800\"}", NULL}};
    fake_start(&s, false, rp, 1);
    set_url_env("MSI_ENDPOINT", "http", s.port, "/ml");
    setenv("MSI_SECRET", "ml-SECRET", 1);
    setenv("DEFAULT_IDENTITY_CLIENT_ID", "ml-client", 1);
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/ml?api-version=2017-09-01&resource=https%3A%2F%2Fdatabase.windows.net%2F"
                                      "&clientid=ml-client");
    cr_assert(has_header(&s.req[0], "secret: ml-SECRET\r\n"), "%s", s.req[0].headers);
    entra_token_clear(&t);
}

/* Azure Arc: the challenge may only name a .key file in the agent's
 * directory; anything else is refused before a file is read. */
Test(entra_sources, azure_arc_challenge_outside_key_dir)
{
    fake_srv s;
    fake_reply rp[] = {{401, "{}", "WWW-Authenticate: Basic realm=/etc/shadow.key\r\n"}};
    fake_start(&s, false, rp, 1);
    set_url_env("IDENTITY_ENDPOINT", "http", s.port, "/metadata/identity/oauth2/token");
    set_url_env("IMDS_ENDPOINT", "http", s.port, "");
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_LOGIN);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/metadata/identity/oauth2/token?api-version=2020-06-01&resource="
                                      "https%3A%2F%2Fdatabase.windows.net%2F");
    cr_assert(has_header(&s.req[0], "Metadata: true\r\n"));
    cr_assert(strstr(e.message, "outside /var/opt/azcmagent/tokens"), "%s", e.message);
}

Test(entra_sources, service_fabric_left_out)
{
    setenv("IDENTITY_ENDPOINT", "https://127.0.0.1:1/", 1);
    setenv("IDENTITY_HEADER", "x", 1);
    setenv("IDENTITY_SERVER_THUMBPRINT", "ab", 1);
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert(strstr(e.message, "Service Fabric"), "%s", e.message);
}

/* -------------------------------------------------- token endpoint clients */

/* An HTTPS fake as AZURE_AUTHORITY_HOST. */
static void start_authority(fake_srv *s, const fake_reply *rp, int n)
{
    fake_start(s, true, rp, n);
    set_url_env("AZURE_AUTHORITY_HOST", "https", s->port, "");
}

static bool form_has(const fake_req *r, const char *kv)
{
    size_t n = strlen(kv);
    for (const char *p = r->body; (p = strstr(p, kv)); p++)
        if ((p == r->body || p[-1] == '&') && (p[n] == '&' || p[n] == '\0'))
            return true;
    return false;
}

#define SCOPE_FORM "scope=https%3A%2F%2Fdatabase.windows.net%2F%2F.default"
#define JWT_BEARER "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"

Test(entra_sources, service_principal_secret_and_cache)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}, {200, aad_ok, NULL}};
    start_authority(&s, rp, 2);
    net_opts o = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-1@tenant-s", .password = "s3cret"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message); /* cached: no request */
    cr_assert_str_eq(t.access_token, "aad-token");
    entra_token_clear(&t);
    cr_assert_eq(get(&o, true, &t, &e), NET_OK, "%s", e.message);  /* fresh: a second request */
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert_eq(s.nreq, 2);
    cr_assert_str_eq(s.req[0].method, "POST");
    cr_assert_str_eq(s.req[0].target, "/tenant-s/oauth2/v2.0/token");
    cr_assert(form_has(&s.req[0], "grant_type=client_credentials") && form_has(&s.req[0], "client_id=app-1") &&
                  form_has(&s.req[0], "client_secret=s3cret") && form_has(&s.req[0], SCOPE_FORM),
              "%s", s.req[0].body);
}

/* The cache key is never cut short: a long STS URL (the server's) and a
 * long resource id used to push the password's fingerprint out of a
 * 2 KB key, so a second request with a wrong secret was served the first
 * one's token; and fields cannot run into each other ("app|x" + "" is not
 * "app" + "x"). Each request below must reach the token endpoint. */
Test(entra_sources, cache_key_never_truncated_or_ambiguous)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL},
                       {401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
                             "secret provided.\",\"error_codes\":[7000215]}", NULL},
                       {200, aad_ok, NULL},
                       {200, aad_ok, NULL}};
    start_authority(&s, rp, 4);
    static char sts[1024], res_id[1200];
    snprintf(sts, sizeof sts, "https://login.microsoftonline.com/tenant-s/%01000d", 0);
    memset(res_id, 'r', sizeof res_id - 1);
    net_opts o = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-1@tenant-s", .password = "right",
                  .mi_resource_id = res_id};
    entra_request r = {.o = &o, .sts_url = sts, .spn = "https://database.windows.net/"};
    entra_token t = {0};
    net_error e = {0};
    cr_assert_eq(entra_token_get(&r, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    o.password = "wrong";
    cr_assert_eq(entra_token_get(&r, &t, &e), NET_E_LOGIN, "a wrong secret was served the cached token");
    cr_assert_null(t.access_token);
    net_opts a = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app|x@tenant-s", .password = "p"};
    net_opts b = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app@tenant-s", .app_client_id = "x", .password = "p"};
    cr_assert_eq(get(&a, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    cr_assert_eq(get(&b, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert_eq(s.nreq, 4, "every request must reach the token endpoint (%d did)", s.nreq);
}

Test(entra_sources, service_principal_refused_secret)
{
    fake_srv s;
    fake_reply rp[] = {{401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
                             "secret provided.\\r\\nTrace ID: 1\",\"error_codes\":[7000215]}", NULL}};
    start_authority(&s, rp, 1);
    net_opts o = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-1", .tenant_id = "t1", .password = "wr0ngSECRET"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_LOGIN);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/t1/oauth2/v2.0/token");
    cr_assert(strstr(e.message, "AADSTS7000215") && !strstr(e.message, "SECRET") && !strchr(e.message, '\n'), "%s",
              e.message);
}

/* tenant from the server's STS URL when none is named; AZURE_TENANT_ID
 * when set */
Test(entra_sources, service_principal_tenant_sources)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}, {200, aad_ok, NULL}};
    start_authority(&s, rp, 2);
    net_opts o = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-1", .password = "x"};
    entra_request r = {.o = &o, .sts_url = "https://login.microsoftonline.com/sts-tenant/", .spn = ""};
    entra_token t = {0};
    net_error e = {0};
    cr_assert_eq(entra_token_get(&r, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    setenv("AZURE_TENANT_ID", "env-tenant", 1);
    r.fresh = true;
    cr_assert_eq(entra_token_get(&r, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/sts-tenant/oauth2/v2.0/token");
    cr_assert_str_eq(s.req[1].target, "/env-tenant/oauth2/v2.0/token");
}

/* A PEM with an RSA certificate and its key, for certificate credentials. */
static const char *write_cert_pem(void)
{
    static char path[300];
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    cr_assert(key && x);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"sp", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    cr_assert(X509_sign(x, key, EVP_sha256()));
    snprintf(path, sizeof path, "%s/sp.pem", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    PEM_write_X509(f, x);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return path;
}

static void assert_jwt_assertion(const fake_req *r)
{
    const char *a = strstr(r->body, "client_assertion=");
    cr_assert(a, "%s", r->body);
    a += strlen("client_assertion=");
    size_t n = strcspn(a, "&"), dots = 0;
    for (size_t i = 0; i < n; i++)
        dots += a[i] == '.';
    cr_assert(n > 100 && dots == 2 && !strncmp(a, "eyJ", 3), "%.*s", (int)n, a);
}

Test(entra_sources, service_principal_certificate)
{
    const char *pem = write_cert_pem();
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}, {200, aad_ok, NULL}};
    start_authority(&s, rp, 2);
    net_opts o = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-c", .tenant_id = "tc", .client_cert_path = pem};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    /* AZURE_CLIENT_CERTIFICATE_PATH when the URI gives neither secret nor path */
    setenv("AZURE_CLIENT_CERTIFICATE_PATH", pem, 1);
    net_opts o2 = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-d", .tenant_id = "tc"};
    cr_assert_eq(get(&o2, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    for (int i = 0; i < 2; i++) {
        cr_assert(form_has(&s.req[i], JWT_BEARER) && form_has(&s.req[i], "grant_type=client_credentials") &&
                      !strstr(s.req[i].body, "client_secret"),
                  "%s", s.req[i].body);
        assert_jwt_assertion(&s.req[i]);
    }
    cr_assert(form_has(&s.req[1], "client_id=app-d"));
}

Test(entra_sources, service_principal_without_credential)
{
    net_opts o = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-1"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert(strstr(e.message, "client secret") && strstr(e.message, "clientcertpath"), "%s", e.message);
}

Test(entra_sources, password_grant)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}, {200, aad_ok, NULL}};
    start_authority(&s, rp, 2);
    net_opts o = {.auth = NET_AUTH_PASSWORD, .user = "ann@contoso.com", .password = "pw SECRET&"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    net_opts o2 = {.auth = NET_AUTH_PASSWORD, .user = "bob@contoso.com", .password = "p", .app_client_id = "app-x",
                   .tenant_id = "contoso.com"};
    cr_assert_eq(get(&o2, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/organizations/oauth2/v2.0/token");
    cr_assert(form_has(&s.req[0], "grant_type=password") && form_has(&s.req[0], "username=ann%40contoso.com") &&
                  form_has(&s.req[0], "password=pw+SECRET%26") &&
                  form_has(&s.req[0], "client_id=" ENTRA_PUBLIC_CLIENT_ID) && form_has(&s.req[0], SCOPE_FORM),
              "%s", s.req[0].body);
    cr_assert_str_eq(s.req[1].target, "/contoso.com/oauth2/v2.0/token");
    cr_assert(form_has(&s.req[1], "client_id=app-x"), "%s", s.req[1].body);
}

/* ---------------------------------------------------------- workload identity */

static const char *write_file(const char *name, const char *text)
{
    static char path[4][300];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 300, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return p;
}

Test(entra_sources, workload_identity_rereads_the_token_file)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}, {200, aad_ok, NULL}};
    start_authority(&s, rp, 2);
    setenv("AZURE_FEDERATED_TOKEN_FILE", write_file("fed", "fed.jwt.one\n"), 1);
    setenv("AZURE_CLIENT_ID", "wi-client", 1);
    setenv("AZURE_TENANT_ID", "wi-tenant", 1);
    net_opts o = {.auth = NET_AUTH_WORKLOAD_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    write_file("fed", "fed.jwt.two");
    cr_assert_eq(get(&o, true, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/wi-tenant/oauth2/v2.0/token");
    cr_assert(form_has(&s.req[0], "client_assertion=fed.jwt.one") && form_has(&s.req[0], JWT_BEARER) &&
                  form_has(&s.req[0], "client_id=wi-client") && form_has(&s.req[0], "grant_type=client_credentials") &&
                  form_has(&s.req[0], SCOPE_FORM),
              "%s", s.req[0].body);
    cr_assert(form_has(&s.req[1], "client_assertion=fed.jwt.two"), "%s", s.req[1].body);
}

Test(entra_sources, workload_identity_uri_overrides)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}};
    start_authority(&s, rp, 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", write_file("fed-env", "from-env"), 1);
    setenv("AZURE_CLIENT_ID", "env-client", 1);
    net_opts o = {.auth = NET_AUTH_WORKLOAD_IDENTITY, .user = "uri-client@uri-tenant",
                  .token_file_path = write_file("fed-uri", "from-uri")};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/uri-tenant/oauth2/v2.0/token");
    cr_assert(form_has(&s.req[0], "client_assertion=from-uri") && form_has(&s.req[0], "client_id=uri-client"), "%s",
              s.req[0].body);
}

Test(entra_sources, workload_identity_missing_pieces)
{
    net_opts o = {.auth = NET_AUTH_WORKLOAD_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, "workload identity: AZURE_FEDERATED_TOKEN_FILE not set");
    setenv("AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token", 1);
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, "workload identity: AZURE_CLIENT_ID not set");
    setenv("AZURE_CLIENT_ID", "c", 1);
    cr_assert_eq(get(&o, false, &t, &e), NET_E_IO);
    cr_assert(strstr(e.message, "/nonexistent/token"), "%s", e.message);
}

/* A FIFO named as the federated token file or the certificate (no writer
 * ever comes) is refused at once: opening it used to block forever. */
Test(entra_sources, fifo_token_file_or_certificate_refused, .timeout = 20)
{
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmpdir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    setenv("AZURE_FEDERATED_TOKEN_FILE", fifo, 1);
    setenv("AZURE_CLIENT_ID", "c", 1);
    setenv("AZURE_TENANT_ID", "t", 1);
    net_opts o = {.auth = NET_AUTH_WORKLOAD_IDENTITY};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_IO, "%s", e.message);
    cr_assert(strstr(e.message, "not a regular file"), "%s", e.message);
    net_opts sp = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-1@t", .client_cert_path = fifo};
    cr_assert_eq(get(&sp, false, &t, &e), NET_E_ARG, "%s", e.message);
    cr_assert(strstr(e.message, "not a regular file"), "%s", e.message);
}

/* ------------------------------------------------------------------ Azure CLI */

#define AZ_JSON "{\"accessToken\":\"az-token\",\"expiresOn\":\"2099-12-31 00:00:00.000000\",\"expires_on\":4102358400," \
                "\"subscription\":\"s\",\"tenant\":\"t\",\"tokenType\":\"Bearer\"}"

/* An `az` on PATH (tmpdir/bin) printing stdout_text and stderr_text and
 * exiting with rc; it records its arguments (one a line) in tmpdir/az.args
 * and its signal mask and ignored signals in tmpdir/az.sig (read by the
 * shell's builtins: a command it waits for would see the mask the shell
 * holds while waiting). */
static void stub_az(const char *stdout_text, const char *stderr_text, int rc, bool hang)
{
    write_file("az.out", stdout_text);
    write_file("az.err", stderr_text);
    char path[300];
    snprintf(path, sizeof path, "%s/bin/az", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f,
            "#!/bin/sh\n"
            "printf '%%s\\n' \"$@\" > '%s/az.args'\n"
            "while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k $v\";; esac; done "
            "< /proc/$$/status > '%s/az.sig'\n"
            "%s"
            "/bin/cat '%s/az.out'\n/bin/cat '%s/az.err' >&2\nexit %d\n",
            tmpdir, tmpdir, hang ? "exec /bin/sleep 5\n" : "", tmpdir, tmpdir, rc);
    fclose(f);
    chmod(path, 0700);
}

static char *slurp(const char *name)
{
    static char buf[4096];
    char path[300];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The bit of signal sig in a /proc status mask line "Name:\t<hex>". */
static bool mask_has(const char *status, const char *name, int sig)
{
    const char *l = strstr(status, name);
    cr_assert(l, "%s", status);
    unsigned long long m = strtoull(l + strlen(name) + 1, NULL, 16);
    return (m >> (sig - 1)) & 1;
}

Test(entra_sources, az_token_arguments_and_child_signals)
{
    stub_az(AZ_JSON, "", 0, false);
    /* the caller ignores SIGPIPE and blocks SIGTERM: the child must not
     * inherit either, and the caller's own state must stay as it was */
    struct sigaction ign = {.sa_handler = SIG_IGN}, now;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
    sigset_t block, cur;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    net_opts o = {.auth = NET_AUTH_AZ_CLI, .tenant_id = "tn-1"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    cr_assert_str_eq(t.access_token, "az-token");
    cr_assert_eq(t.expires_at, 4102358400);
    entra_token_clear(&t);
    cr_assert_str_eq(slurp("az.args"), "account\nget-access-token\n--resource\nhttps://database.windows.net/\n-o\n"
                                       "json\n--tenant\ntn-1\n");
    const char *sig = slurp("az.sig");
    cr_assert(sig);
    cr_assert(!mask_has(sig, "SigIgn:", SIGPIPE) && !mask_has(sig, "SigBlk:", SIGTERM), "%s", sig);
    sigaction(SIGPIPE, NULL, &now);
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    cr_assert(now.sa_handler == SIG_IGN && sigismember(&cur, SIGTERM), "the caller's signal state changed");
}

Test(entra_sources, az_missing)
{
    net_opts o = {.auth = NET_AUTH_AZ_CLI};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, "Azure CLI (az) not found on PATH");
}

Test(entra_sources, az_not_logged_in)
{
    stub_az("", "ERROR: Please run 'az login' to setup account.\nmore detail\n", 1, false);
    net_opts o = {.auth = NET_AUTH_AZ_CLI};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, "Azure CLI: ERROR: Please run 'az login' to setup account.");
    cr_assert_str_eq(slurp("az.args"), "account\nget-access-token\n--resource\nhttps://database.windows.net/\n-o\n"
                                       "json\n", "no --tenant without tenant_id");
}

Test(entra_sources, az_other_failure_and_garbage)
{
    stub_az("", "\nERROR: AADSTS70043: The refresh token has expired\n", 1, false);
    net_opts o = {.auth = NET_AUTH_AZ_CLI};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_LOGIN);
    cr_assert_str_eq(e.message, "Azure CLI: ERROR: AADSTS70043: The refresh token has expired");
    stub_az("not json", "", 0, false);
    cr_assert_eq(get(&o, false, &t, &e), NET_E_PROTO);
    cr_assert(!strncmp(e.message, "Azure CLI: ", 11), "%s", e.message);
}

Test(entra_sources, az_killed_after_its_time)
{
    stub_az(AZ_JSON, "", 0, true);
    setenv("TDSPIPE_AZ_TIMEOUT_MS", "300", 1);
    net_opts o = {.auth = NET_AUTH_AZ_CLI};
    entra_token t = {0};
    net_error e;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(get(&o, false, &t, &e), NET_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert(b.tv_sec - a.tv_sec < 4, "waited for the child past its time");
    cr_assert_str_eq(e.message, "Azure CLI: az account get-access-token gave no answer in 1 s (killed)");
}

/* An az that closes its output and then never exits (or leaves a child
 * behind, as the real launcher leaves python when the shell is killed):
 * the wait for it is bounded too, and nothing it started outlives it. */
static void stub_az_script(const char *body)
{
    char path[300];
    snprintf(path, sizeof path, "%s/bin/az", tmpdir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, "#!/bin/sh\n%s", body);
    fclose(f);
    chmod(path, 0700);
}

Test(entra_sources, az_closed_output_but_never_exits)
{
    stub_az_script("exec >/dev/null 2>&1 </dev/null\nexec /bin/sleep 6\n");
    setenv("TDSPIPE_AZ_TIMEOUT_MS", "300", 1);
    net_opts o = {.auth = NET_AUTH_AZ_CLI};
    entra_token t = {0};
    net_error e;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(get(&o, false, &t, &e), NET_E_TIMEOUT, "%s", e.message);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert(b.tv_sec - a.tv_sec < 4, "waited for a child that closed its pipes past its time");
    cr_assert_null(t.access_token);
}

Test(entra_sources, az_children_killed_with_it)
{
    char body[600];
    snprintf(body, sizeof body, "/bin/sleep 30 &\necho $! > '%s/az.child'\nwait\n", tmpdir);
    stub_az_script(body);
    setenv("TDSPIPE_AZ_TIMEOUT_MS", "500", 1);
    net_opts o = {.auth = NET_AUTH_AZ_CLI};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_TIMEOUT, "%s", e.message);
    const char *pid_text = slurp("az.child");
    cr_assert(pid_text, "the stub did not start its child");
    pid_t child = (pid_t)atoi(pid_text);
    cr_assert(child > 0);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) { /* an orphan is reaped by init: wait a little */
        gone = kill(child, 0) != 0 && errno == ESRCH;
        if (!gone)
            usleep(20000);
    }
    if (!gone)
        kill(child, SIGKILL);
    cr_assert(gone, "az's child %d still runs after az was killed", (int)child);
}

/* ------------------------------------------------------------ time budget */

/* entra_request.time_left_ms (what the connect timeout leaves; the fetch
 * blocks the loop, so nothing else can stop it) bounds every source: an
 * HTTPS endpoint that accepts but never answers, IMDS retries whose next
 * wait would not fit, and az. */
static double seconds_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

Test(entra_sources, budget_bounds_a_silent_token_endpoint)
{
    uint16_t port;
    int lfd = listen_any(&port); /* the kernel completes the handshake; nobody ever answers */
    set_url_env("AZURE_AUTHORITY_HOST", "https", port, "");
    net_opts o = {.auth = NET_AUTH_SERVICE_PRINCIPAL, .user = "app-1@tenant-s", .password = "s3cret"};
    entra_request r = {.o = &o, .sts_url = "", .spn = "https://database.windows.net/", .time_left_ms = 700};
    entra_token t = {0};
    net_error e = {0};
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(entra_token_get(&r, &t, &e), NET_E_TIMEOUT, "%s", e.message);
    cr_assert(seconds_since(&a) < 3, "the fetch outlived its budget: %.1f s", seconds_since(&a));
    cr_assert_null(strstr(e.message, "s3cret"), "%s", e.message);
    close(lfd);
}

Test(entra_sources, budget_stops_imds_retries_that_would_not_fit)
{
    fake_srv s;
    fake_reply rp[] = {{503, "{}", NULL}, {503, "{}", NULL}, {200, mi_reply("late"), NULL}};
    fake_start(&s, false, rp, 3);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "");
    net_opts o = {.auth = NET_AUTH_MANAGED_IDENTITY};
    entra_request r = {.o = &o, .sts_url = "", .spn = "https://database.windows.net/", .time_left_ms = 1500};
    entra_token t = {0};
    net_error e = {0};
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = entra_token_get(&r, &t, &e); /* the first wait is 2 s: it does not fit */
    double took = seconds_since(&a);
    shutdown(s.lfd, SHUT_RDWR);
    fake_stop(&s);
    cr_assert_neq(rc, NET_OK, "%s", t.access_token ? t.access_token : "");
    cr_assert(strstr(e.message, "HTTP 503"), "%s", e.message);
    cr_assert(took < 1.5, "waited %.1f s for a retry past the budget", took);
    cr_assert_eq(s.nreq, 1);
}

Test(entra_sources, budget_bounds_az)
{
    stub_az(AZ_JSON, "", 0, true);
    unsetenv("TDSPIPE_AZ_TIMEOUT_MS"); /* az's own 30 s */
    net_opts o = {.auth = NET_AUTH_AZ_CLI};
    entra_request r = {.o = &o, .sts_url = "", .spn = "https://database.windows.net/", .time_left_ms = 400};
    entra_token t = {0};
    net_error e = {0};
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(entra_token_get(&r, &t, &e), NET_E_TIMEOUT, "%s", e.message);
    cr_assert(seconds_since(&a) < 3, "az ran past the budget: %.1f s", seconds_since(&a));
    cr_assert_str_eq(e.message, "Azure CLI: az account get-access-token gave no answer in 1 s (killed)");
}

/* ---------------------------------------------------------------- Default */

Test(entra_sources, default_summary_when_nothing_works)
{
    net_opts o = {.auth = NET_AUTH_DEFAULT};
    entra_token t = {0};
    net_error e;
    char want[400];
    snprintf(want, sizeof want,
             "ActiveDirectoryDefault: environment: AZURE_TENANT_ID not set; workload identity: "
             "AZURE_FEDERATED_TOKEN_FILE not set; no managed identity endpoint reachable on this machine (IMDS at %s: "
             "connection refused); Azure CLI (az) not found on PATH",
             getenv("AZURE_POD_IDENTITY_AUTHORITY_HOST") + 7);
    cr_assert_eq(get(&o, false, &t, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, want);
}

Test(entra_sources, default_environment_secret_first)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}};
    start_authority(&s, rp, 1);
    setenv("AZURE_TENANT_ID", "env-t", 1);
    setenv("AZURE_CLIENT_ID", "env-c", 1);
    setenv("AZURE_CLIENT_SECRET", "env-SECRET", 1);
    stub_az(AZ_JSON, "", 0, false);
    net_opts o = {.auth = NET_AUTH_DEFAULT};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert_str_eq(s.req[0].target, "/env-t/oauth2/v2.0/token");
    cr_assert(form_has(&s.req[0], "client_secret=env-SECRET") && form_has(&s.req[0], "client_id=env-c"));
    cr_assert_null(slurp("az.args"), "the chain went on after a working step");
}

Test(entra_sources, default_environment_username_password)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}};
    start_authority(&s, rp, 1);
    setenv("AZURE_TENANT_ID", "env-t", 1);
    setenv("AZURE_CLIENT_ID", "env-c", 1);
    setenv("AZURE_USERNAME", "u@x", 1);
    setenv("AZURE_PASSWORD", "pw", 1);
    net_opts o = {.auth = NET_AUTH_DEFAULT};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert(form_has(&s.req[0], "grant_type=password") && form_has(&s.req[0], "username=u%40x") &&
                  form_has(&s.req[0], "client_id=env-c"),
              "%s", s.req[0].body);
}

/* A refused secret ends the chain (azidentity): az is not tried. */
Test(entra_sources, default_refused_secret_ends_the_chain)
{
    fake_srv s;
    fake_reply rp[] = {{400, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
                             "secret provided.\",\"error_codes\":[7000215]}", NULL}};
    start_authority(&s, rp, 1);
    setenv("AZURE_TENANT_ID", "env-t", 1);
    setenv("AZURE_CLIENT_ID", "env-c", 1);
    setenv("AZURE_CLIENT_SECRET", "env-SECRET", 1);
    stub_az(AZ_JSON, "", 0, false);
    net_opts o = {.auth = NET_AUTH_DEFAULT};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_E_LOGIN);
    fake_stop(&s);
    cr_assert(!strncmp(e.message, "ActiveDirectoryDefault: ", 24) && strstr(e.message, "AADSTS7000215") &&
                  !strstr(e.message, "SECRET"),
              "%s", e.message);
    cr_assert_null(slurp("az.args"));
}

Test(entra_sources, default_workload_identity_second)
{
    fake_srv s;
    fake_reply rp[] = {{200, aad_ok, NULL}};
    start_authority(&s, rp, 1);
    setenv("AZURE_FEDERATED_TOKEN_FILE", write_file("fed", "fed-default"), 1);
    setenv("AZURE_CLIENT_ID", "wi-c", 1);
    setenv("AZURE_TENANT_ID", "wi-t", 1); /* no secret: the environment step is not available */
    net_opts o = {.auth = NET_AUTH_DEFAULT};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    entra_token_clear(&t);
    fake_stop(&s);
    cr_assert(form_has(&s.req[0], "client_assertion=fed-default") && form_has(&s.req[0], "client_id=wi-c"));
}

/* IMDS in the chain: a probe without Metadata first (IMDS answers it with
 * 400 at once), then the real request; AZURE_CLIENT_ID names the identity. */
Test(entra_sources, default_managed_identity_probe_then_token)
{
    fake_srv s;
    fake_reply rp[] = {{400, "{\"error\":\"bad_request\",\"error_description\":\"Required metadata header not "
                             "specified\"}", NULL},
                       {200, mi_reply("mi-default"), NULL}};
    fake_start(&s, false, rp, 2);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "");
    setenv("AZURE_CLIENT_ID", "uami-env", 1);
    stub_az(AZ_JSON, "", 0, false);
    net_opts o = {.auth = NET_AUTH_DEFAULT};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    cr_assert_str_eq(t.access_token, "mi-default");
    entra_token_clear(&t);
    cr_assert_eq(s.nreq, 2);
    cr_assert(!has_header(&s.req[0], "Metadata:"), "%s", s.req[0].headers);
    cr_assert(has_header(&s.req[1], "Metadata: true"));
    cr_assert(strstr(s.req[1].target, "&client_id=uami-env"), "%s", s.req[1].target);
    cr_assert_null(slurp("az.args"));
}

/* IMDS present but no identity on the machine (400 for a system identity):
 * not available, the chain reaches az. */
Test(entra_sources, default_reaches_az)
{
    fake_srv s;
    fake_reply rp[] = {{400, "{}", NULL}, {400, "{\"error\":\"invalid_request\",\"error_description\":\"Identity "
                                                "not found\"}", NULL}};
    fake_start(&s, false, rp, 2);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "");
    stub_az(AZ_JSON, "", 0, false);
    net_opts o = {.auth = NET_AUTH_DEFAULT};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    cr_assert_str_eq(t.access_token, "az-token");
    entra_token_clear(&t);
    cr_assert(slurp("az.args"));
}

/* The user slot names a user-assigned identity for Default's managed
 * identity step, before AZURE_CLIENT_ID. */
Test(entra_sources, default_managed_identity_user_slot)
{
    fake_srv s;
    fake_reply rp[] = {{400, "{}", NULL}, {200, mi_reply("mi-user"), NULL}};
    fake_start(&s, false, rp, 2);
    set_url_env("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http", s.port, "");
    setenv("AZURE_CLIENT_ID", "uami-env", 1);
    net_opts o = {.auth = NET_AUTH_DEFAULT, .user = "uami-uri"};
    entra_token t = {0};
    net_error e;
    cr_assert_eq(get(&o, false, &t, &e), NET_OK, "%s", e.message);
    fake_stop(&s);
    entra_token_clear(&t);
    cr_assert(strstr(s.req[1].target, "&client_id=uami-uri"), "%s", s.req[1].target);
}
