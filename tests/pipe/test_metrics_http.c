/*
 * test_metrics_http.c — pipe/metrics_http.c: the --metrics-addr request
 * head parser (whole, every prefix, bad forms) and the responses.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "stream_int.h"

static int parse(const char *s, char *m, char *p)
{
    return pipe_metrics_http_parse(s, strlen(s), m, 16, p, 256);
}

Test(metrics_http, complete_heads)
{
    char m[16], p[256];
    const char *get = "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
    cr_assert_eq(parse(get, m, p), (int)strlen(get));
    cr_assert_str_eq(m, "GET");
    cr_assert_str_eq(p, "/metrics");
    cr_assert_eq(parse("HEAD /metrics?a=b HTTP/1.0\n\n", m, p), 28);
    cr_assert_str_eq(m, "HEAD");
    cr_assert_str_eq(p, "/metrics"); /* the query string is dropped */
    /* every proper prefix needs more bytes */
    for (size_t n = 0; n < strlen(get); n++)
        cr_assert_eq(pipe_metrics_http_parse(get, n, m, sizeof m, p, sizeof p), 0, "prefix %zu", n);
}

Test(metrics_http, bad_heads)
{
    char m[16], p[256];
    static const char *const bad[] = {"GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n",
                                      "get /metrics HTTP/1.1\r\n\r\n", "GET /metrics HTTP/2.0\r\n\r\n",
                                      "GET /m\x01 HTTP/1.1\r\n\r\n", " /metrics HTTP/1.1\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(parse(bad[i], m, p), -1, "%zu", i);
    static char big[PIPE_HTTP_HEAD_MAX + 10];
    memset(big, 'a', sizeof big);
    cr_assert_eq(pipe_metrics_http_parse(big, sizeof big, m, sizeof m, p, sizeof p), -1, "no head in 8 KiB");
}

Test(metrics_http, responses)
{
    pipe_metrics_values v = {.rows = 42, .batches = 3, .errors = 2, .reconnects = 2, .lag_seconds = 1.5};
    char out[4096];
    size_t n = pipe_metrics_response(&v, "GET", "/metrics", false, out, sizeof out);
    cr_assert_eq(n, strlen(out));
    cr_assert(!strncmp(out, "HTTP/1.1 200 OK\r\n", 17), "%s", out);
    cr_assert(strstr(out, "Content-Type: text/plain; version=0.0.4"));
    cr_assert(strstr(out, "\ntdspipe_rows_applied_total 42\n"));
    cr_assert(strstr(out, "# TYPE tdspipe_lag_seconds gauge\ntdspipe_lag_seconds 1.500\n"));
    cr_assert(strstr(out, "\ntdspipe_reconnects_total 2\n"));
    const char *body = strstr(out, "\r\n\r\n") + 4;
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", strlen(body));
    cr_assert(strstr(out, cl), "length matches the body");
    pipe_metrics_response(&v, "GET", "/", false, out, sizeof out);
    cr_assert(!strncmp(out, "HTTP/1.1 404 ", 13));
    pipe_metrics_response(&v, "POST", "/metrics", false, out, sizeof out);
    cr_assert(!strncmp(out, "HTTP/1.1 405 ", 13));
    pipe_metrics_response(&v, "", "", true, out, sizeof out);
    cr_assert(!strncmp(out, "HTTP/1.1 400 ", 13));
    n = pipe_metrics_response(&v, "HEAD", "/metrics", false, out, sizeof out);
    cr_assert(!strcmp(out + n - 4, "\r\n\r\n"), "HEAD: no body");
}
