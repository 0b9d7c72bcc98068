/*
 * test_entra_http.c — net/entra's HTTP core against loopback servers only
 * (tests/net/test_entra_https.py: HTTPS with the test CA of
 * tests/server/certs.sh, and a CONNECT proxy): TLS verification with
 * SSL_CERT_FILE / SSL_CERT_DIR, proxies from the environment, timeouts,
 * refused connections, the 1 MB cap, no redirects, reply headers
 * (entra_http.c), and the v2.0 token endpoint's grants, errors and retries
 * (entra_aad.c). Nothing here dials anything but 127.0.0.1.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "entra/entra_int.h"
#include "helpers.h"
#include "json_load.h"

#define SECRET "s3cret &=+%/\xc3\xa9"

typedef struct py_server {
    pid_t pid;
    int port;
    char log[512];
} py_server;

static py_server srv, prx;

/* Starts test_entra_https.py MODE [cert]; reads "port N". */
static bool py_start(py_server *s, const char *mode, const char *cert)
{
    const char *certs = th_certs();
    snprintf(s->log, sizeof s->log, "%s/entra-%s-%d.log", NET_TEST_TMP, mode, (int)getpid());
    unlink(s->log);
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    s->pid = fork();
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        char script[600];
        snprintf(script, sizeof script, "%s/tests/net/test_entra_https.py", TDS_SOURCE_DIR);
        if (strcmp(mode, "serve") == 0)
            execlp("python3", "python3", script, mode, certs, s->log, cert, (char *)NULL);
        else
            execlp("python3", "python3", script, mode, s->log, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = "";
    size_t n = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    while (n < sizeof buf - 1 && !strchr(buf, '\n') && poll(&p, 1, 15000) == 1) {
        ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
    }
    close(fds[0]);
    return sscanf(buf, "port %d", &s->port) == 1;
}

static void py_stop(py_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
        unlink(s->log);
    }
}

/* Lines of the server's log that contain needle. */
static int log_count(const py_server *s, const char *needle)
{
    FILE *f = fopen(s->log, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return n;
}

static void clean_env(void)
{
    static const char *const vars[] = {"https_proxy", "HTTPS_PROXY", "http_proxy", "all_proxy", "ALL_PROXY",
                                       "no_proxy", "NO_PROXY", "SSL_CERT_DIR", "AZURE_AUTHORITY_HOST",
                                       "TDSPIPE_CURL_LIB"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    char ca[1100];
    snprintf(ca, sizeof ca, "%s/ca.pem", th_certs());
    setenv("SSL_CERT_FILE", ca, 1);
}

static bool fully_static(void)
{
    const net_json_api *cj;
    return net_json_load(&cj) == NET_JSON_STATIC;
}

static void setup(void)
{
    if (fully_static())
        cr_skip_test("fully static build: no libcurl (entra_static checks the refusal)");
    clean_env();
    cr_assert(py_start(&srv, "serve", "server"), "test HTTPS server did not start");
}

static void teardown(void)
{
    py_stop(&srv);
    py_stop(&prx);
}

static int get(const char *path, uint32_t timeout_ms, const char *const *headers, entra_http_resp *resp,
               net_error *e)
{
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%d%s", srv.port, path);
    entra_http_req r = {.method = "GET", .url = url, .headers = headers, .timeout_ms = timeout_ms};
    memset(e, 0, sizeof *e);
    return entra_http(&r, resp, e);
}

static void one_line(const net_error *e)
{
    cr_assert(strlen(e->message) > 0);
    cr_assert_null(strchr(e->message, '\n'), "%s", e->message);
}

/* A loopback port nothing listens on. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    return ntohs(a.sin_port);
}

/* The fully static build refuses every HTTP method in one line. */
Test(entra_static, one_line_refusal)
{
    if (!fully_static())
        cr_skip_test("default build");
    entra_http_req r = {.method = "GET", .url = "https://127.0.0.1:1/"};
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(entra_http(&r, &resp, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, "Microsoft Entra sign-in methods other than ActiveDirectoryAccessToken need the "
                                "default build (libcurl loaded at run time)");
    entra_token t;
    cr_assert_eq(entra_reply_parse("{}", 2, 200, 0, &t, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, "Microsoft Entra sign-in methods other than ActiveDirectoryAccessToken need the "
                                "default build (libcurl loaded at run time)");
}

TestSuite(entra_http, .init = setup, .fini = teardown, .timeout = 120);

Test(entra_http, get_verified_with_ssl_cert_file)
{
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(get("/ok", 0, NULL, &resp, &e), NET_OK, "%s", e.message);
    cr_assert_eq(resp.status, 200);
    entra_token t;
    cr_assert_eq(entra_reply_parse(resp.body, resp.len, resp.status, entra_now(), &t, &e), NET_OK);
    cr_assert_str_eq(t.access_token, "tok-ok");
    cr_assert_geq(t.expires_at, entra_now() + 3590);
    entra_token_clear(&t);
    entra_http_resp_free(&resp);
    cr_assert_null(resp.body);
}

Test(entra_http, untrusted_without_the_test_ca)
{
    entra_http_resp resp;
    net_error e;
    char dir[600];
    snprintf(dir, sizeof dir, "%s/entra-empty-cadir", NET_TEST_TMP);
    mkdir(dir, 0700);
    unsetenv("SSL_CERT_FILE");
    setenv("SSL_CERT_DIR", dir, 1); /* and the system store: no test CA in either */
    cr_assert_eq(get("/ok", 0, NULL, &resp, &e), NET_E_IO);
    char want[64];
    snprintf(want, sizeof want, "cannot reach 127.0.0.1:%d: ", srv.port);
    cr_assert_not_null(strstr(e.message, want), "%s", e.message);
    cr_assert_eq(log_count(&srv, "GET /ok"), 0);
    one_line(&e);
    cr_assert_null(resp.body);
}

Test(entra_http, ssl_cert_dir)
{
    char dir[600], cmd[2000];
    snprintf(dir, sizeof dir, "%s/entra-cadir-%d", NET_TEST_TMP, (int)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s/ca.pem' '%s/' && openssl rehash '%s' 2>/dev/null", dir,
             th_certs(), dir, dir);
    cr_assert_eq(system(cmd), 0);
    unsetenv("SSL_CERT_FILE");
    setenv("SSL_CERT_DIR", dir, 1);
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(get("/ok", 0, NULL, &resp, &e), NET_OK, "%s", e.message);
    cr_assert_eq(resp.status, 200);
    entra_http_resp_free(&resp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(entra_http, host_name_checked)
{
    py_stop(&srv);
    cr_assert(py_start(&srv, "serve", "wronghost")); /* trusted CA, names wrong.example.invalid */
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(get("/ok", 0, NULL, &resp, &e), NET_E_IO);
    cr_assert_not_null(strstr(e.message, "127.0.0.1"), "%s", e.message);
    cr_assert_eq(log_count(&srv, "GET /ok"), 0);
}

Test(entra_http, timeout_bounded)
{
    entra_http_resp resp;
    net_error e;
    uint64_t t0 = th_now_ms();
    cr_assert_eq(get("/slow", 500, NULL, &resp, &e), NET_E_TIMEOUT, "%s", e.message);
    cr_assert_lt(th_now_ms() - t0, 3000);
    cr_assert_not_null(strstr(e.message, "127.0.0.1:"), "%s", e.message);
    one_line(&e);
}

Test(entra_http, refused_is_one_line_io)
{
    char url[128];
    int port = closed_port();
    snprintf(url, sizeof url, "https://127.0.0.1:%d/token?secret=not-shown", port);
    entra_http_req r = {.method = "POST", .url = url, .body = "client_secret=hidden", .body_len = 20};
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(entra_http(&r, &resp, &e), NET_E_IO);
    char want[64];
    snprintf(want, sizeof want, "cannot reach 127.0.0.1:%d: ", port);
    cr_assert_eq(strncmp(e.message, want, strlen(want)), 0, "%s", e.message);
    cr_assert_null(strstr(e.message, "hidden"));
    cr_assert_null(strstr(e.message, "not-shown"));
    one_line(&e);
}

Test(entra_http, reply_capped)
{
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(get("/big", 0, NULL, &resp, &e), NET_E_IO);
    cr_assert_not_null(strstr(e.message, "larger than 1 MB"), "%s", e.message);
    cr_assert_null(strstr(e.message, "xxxx"));
}

Test(entra_http, redirect_not_followed)
{
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(get("/redirect", 0, NULL, &resp, &e), NET_OK, "%s", e.message);
    cr_assert_eq(resp.status, 302);
    entra_http_resp_free(&resp);
    cr_assert_eq(log_count(&srv, "GET /ok"), 0);
}

Test(entra_http, headers_both_ways)
{
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(get("/challenge", 0, NULL, &resp, &e), NET_OK);
    cr_assert_eq(resp.status, 401);
    cr_assert_str_eq(resp.www_authenticate, "Basic realm=/var/opt/azcmagent/tokens/x.key");
    cr_assert_str_eq(resp.retry_after, "7");
    entra_http_resp_free(&resp);
    const char *const h[] = {"X-Test: sent-value", "Metadata: true", NULL};
    cr_assert_eq(get("/echo-header", 0, h, &resp, &e), NET_OK);
    cr_assert_not_null(strstr(resp.body, "sent-value"));
    cr_assert_str_eq(resp.www_authenticate, "");
    entra_http_resp_free(&resp);
}

Test(entra_http, https_proxy_honoured)
{
    cr_assert(py_start(&prx, "proxy", NULL));
    char p[64];
    snprintf(p, sizeof p, "http://127.0.0.1:%d", prx.port);
    setenv("HTTPS_PROXY", p, 1);
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(get("/ok", 0, NULL, &resp, &e), NET_OK, "%s", e.message);
    cr_assert_eq(resp.status, 200);
    entra_http_resp_free(&resp);
    char want[64];
    snprintf(want, sizeof want, "CONNECT 127.0.0.1:%d", srv.port);
    cr_assert_eq(log_count(&prx, want), 1);
}

Test(entra_http, https_proxy_lower_case_and_no_proxy)
{
    char p[64];
    snprintf(p, sizeof p, "http://127.0.0.1:%d", closed_port());
    setenv("https_proxy", p, 1);
    entra_http_resp resp;
    net_error e;
    cr_assert_neq(get("/ok", 0, NULL, &resp, &e), NET_OK); /* the dead proxy is used */
    cr_assert_eq(log_count(&srv, "GET /ok"), 0);
    setenv("NO_PROXY", "127.0.0.1", 1);
    cr_assert_eq(get("/ok", 0, NULL, &resp, &e), NET_OK, "%s", e.message);
    entra_http_resp_free(&resp);
    unsetenv("NO_PROXY");
    setenv("no_proxy", "localhost,127.0.0.1", 1);
    cr_assert_eq(get("/ok", 0, NULL, &resp, &e), NET_OK, "%s", e.message);
    entra_http_resp_free(&resp);
}

Test(entra_http, arguments_and_missing_libcurl)
{
    entra_http_req r = {.method = "GET", .url = "ftp://127.0.0.1/x"};
    entra_http_resp resp;
    net_error e;
    cr_assert_eq(entra_http(&r, &resp, &e), NET_E_ARG);
    r.url = "https://127.0.0.1:1/";
    r.method = "DELETE";
    cr_assert_eq(entra_http(&r, &resp, &e), NET_E_ARG);
    setenv("TDSPIPE_CURL_LIB", "/nonexistent/libcurl.so.4", 1); /* read once per process */
    r.method = "GET";
    cr_assert_eq(entra_http(&r, &resp, &e), NET_E_ARG);
    cr_assert_str_eq(e.message, "Microsoft Entra sign-in needs libcurl.so.4 (Debian/Ubuntu: apt install libcurl4)");
}

/* ------------------------------------------------ the v2.0 token endpoint */

static int aad(const char *tenant, entra_aad_req r, entra_token *t, net_error *e)
{
    char authority[64];
    snprintf(authority, sizeof authority, "https://127.0.0.1:%d", srv.port);
    r.authority = authority;
    r.tenant = tenant;
    r.client_id = "app-1";
    r.scope = "https://database.windows.net//.default";
    memset(e, 0, sizeof *e);
    return entra_aad_token(&r, t, e);
}

Test(entra_http, aad_client_secret)
{
    entra_token t;
    net_error e;
    cr_assert_eq(aad("t1", (entra_aad_req){.client_secret = SECRET}, &t, &e), NET_OK, "%s", e.message);
    cr_assert_str_eq(t.access_token, "tok-secret");
    cr_assert_geq(t.expires_at, entra_now() + 3590);
    entra_token_clear(&t);
    cr_assert_eq(log_count(&srv, "POST /t1/oauth2/v2.0/token grant=client_credentials "
                                 "ctype=application/x-www-form-urlencoded"),
                 1);
}

Test(entra_http, aad_wrong_secret)
{
    entra_token t;
    net_error e;
    cr_assert_eq(aad("t1", (entra_aad_req){.client_secret = "wrong-secret-xyz"}, &t, &e), NET_E_LOGIN);
    cr_assert_str_eq(e.message, "AADSTS7000215: Invalid client secret provided.");
    cr_assert_null(strstr(e.message, "wrong-secret"));
    cr_assert_null(t.access_token);
    cr_assert_eq(log_count(&srv, "POST"), 1); /* a refusal is not retried */
}

Test(entra_http, aad_password_and_assertion)
{
    entra_token t;
    net_error e;
    cr_assert_eq(aad("t1", (entra_aad_req){.username = "u@example.com", .password = SECRET}, &t, &e), NET_OK,
                 "%s", e.message);
    cr_assert_str_eq(t.access_token, "tok-pw");
    entra_token_clear(&t);
    cr_assert_eq(log_count(&srv, "grant=password"), 1);
    cr_assert_eq(aad("t1", (entra_aad_req){.username = "u@example.com", .password = "bad-pw"}, &t, &e),
                 NET_E_LOGIN);
    cr_assert_str_eq(e.message, "AADSTS50126: Error validating credentials due to invalid username or password.");
    cr_assert_eq(aad("t1", (entra_aad_req){.client_assertion = "aaa.bbb.ccc"}, &t, &e), NET_OK, "%s", e.message);
    cr_assert_str_eq(t.access_token, "tok-assert.2"); /* the server saw the JWT's two dots */
    cr_assert_geq(t.expires_at, entra_now() + 3590);  /* expires_in as a string */
    entra_token_clear(&t);
    cr_assert_eq(aad("t1", (entra_aad_req){0}, &t, &e), NET_E_ARG);
}

Test(entra_http, aad_retries_5xx_then_succeeds)
{
    entra_token t;
    net_error e;
    cr_assert_eq(aad("flaky", (entra_aad_req){.client_secret = SECRET}, &t, &e), NET_OK, "%s", e.message);
    cr_assert_str_eq(t.access_token, "tok-secret");
    entra_token_clear(&t);
    cr_assert_eq(log_count(&srv, "POST /flaky/"), 3);
}

Test(entra_http, aad_retries_bounded)
{
    entra_token t;
    net_error e;
    uint64_t t0 = th_now_ms();
    cr_assert_eq(aad("down", (entra_aad_req){.client_secret = SECRET}, &t, &e), NET_E_PROTO);
    cr_assert_str_eq(e.message, "identity endpoint answered HTTP 503 (not a token reply)");
    cr_assert_eq(log_count(&srv, "POST /down/"), 3);
    uint64_t ms = th_now_ms() - t0;
    cr_assert_geq(ms, 1400); /* 0.5 s + 1 s backoff */
    cr_assert_eq(aad("throttle", (entra_aad_req){.client_secret = SECRET}, &t, &e), NET_E_LOGIN);
    cr_assert_str_eq(e.message, "identity endpoint answered HTTP 429: throttled");
    cr_assert_eq(log_count(&srv, "POST /throttle/"), 3);
    cr_assert_geq(th_now_ms() - t0 - ms, 1900); /* Retry-After: 1, twice */
}

Test(entra_http, aad_unreachable_not_retried)
{
    entra_aad_req r = {.authority = "https://127.0.0.1:1", .tenant = "t1", .client_id = "app-1",
                       .scope = "s", .client_secret = SECRET};
    char authority[64];
    snprintf(authority, sizeof authority, "https://127.0.0.1:%d", closed_port());
    r.authority = authority;
    entra_token t;
    net_error e;
    uint64_t t0 = th_now_ms();
    cr_assert_eq(entra_aad_token(&r, &t, &e), NET_E_IO);
    cr_assert_lt(th_now_ms() - t0, 1400); /* no 0.5 s + 1 s backoff */
    cr_assert_null(strstr(e.message, "s3cret"));
    one_line(&e);
}
