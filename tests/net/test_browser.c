/*
 * test_browser.c — net/browser.c: SSRP response parsing, a lookup against
 * an in-test SQL Browser (UDP responder thread), opening host\instance
 * through it, unknown instances and a Browser that never answers, and
 * instance names matched without regard to the process locale.
 */
#include <arpa/inet.h>
#include <locale.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

static uint8_t *resp(const char *text, size_t *n)
{
    static uint8_t buf[1024];
    size_t l = strlen(text);
    buf[0] = 0x05;
    buf[1] = (uint8_t)l;
    buf[2] = (uint8_t)(l >> 8);
    memcpy(buf + 3, text, l);
    *n = l + 3;
    return buf;
}

Test(browser, parse)
{
    size_t n;
    const uint8_t *d = resp("ServerName;H1;InstanceName;MSSQLSERVER;IsClustered;No;Version;16.0.1000.6;tcp;1433;;"
                            "ServerName;H1;InstanceName;SQLEXPRESS;IsClustered;No;Version;15.0.2000.5;tcp;50123;np;\\\\H1\\pipe\\MSSQL$SQLEXPRESS\\sql\\query;;",
                            &n);
    cr_assert_eq(net_browser_parse(d, n, "SQLEXPRESS"), 50123);
    cr_assert_eq(net_browser_parse(d, n, "sqlexpress"), 50123);
    cr_assert_eq(net_browser_parse(d, n, "MSSQLSERVER"), 1433);
    cr_assert_eq(net_browser_parse(d, n, "OTHER"), -1);
    d = resp("ServerName;H1;InstanceName;NOTCP;np;x;;", &n);
    cr_assert_eq(net_browser_parse(d, n, "NOTCP"), -1);
    uint8_t bad[] = {0x05, 0xFF, 0x00, 'a'};
    cr_assert_eq(net_browser_parse(bad, sizeof bad, "a"), -1);
    cr_assert_eq(net_browser_parse(bad, 2, "a"), -1);
}

/* Under tr_TR.UTF-8, strncasecmp does not fold 'I' to 'i': instance names
 * (ASCII, case-insensitive in SQL Server) must still match. (ASan's
 * strncasecmp interceptor folds ASCII whatever the locale: only a build
 * without sanitizers can see the old failure.) */
Test(browser, parse_ignores_the_locale)
{
    cr_assert_not_null(setlocale(LC_ALL, "tr_TR.UTF-8"), "tr_TR.UTF-8 is not installed: run scripts/deps.sh");
    size_t n;
    const uint8_t *d = resp("SERVERNAME;H1;INSTANCENAME;MSSQLINSTANCE;TCP;14330;;", &n);
    cr_assert_eq(net_browser_parse(d, n, "mssqlinstance"), 14330);
    cr_assert_eq(net_browser_parse(d, n, "MSSQLINSTANCE"), 14330);
    cr_assert_eq(net_browser_parse(d, n, "mssqlinstancf"), -1);
    setlocale(LC_ALL, "C");
}

typedef struct responder {
    int fd;
    int port;
    int answer_port;
    bool silent;
    char got[64];
} responder;

static void *respond(void *arg)
{
    responder *r = arg;
    uint8_t in[256];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(r->fd, in, sizeof in - 1, 0, (struct sockaddr *)&from, &fl);
    if (n < 2 || in[0] != 0x04)
        return NULL;
    in[n] = 0;
    size_t l = strnlen((char *)in + 1, sizeof r->got - 1);
    memcpy(r->got, in + 1, l);
    r->got[l] = 0;
    if (r->silent)
        return NULL;
    char text[256];
    snprintf(text, sizeof text, "ServerName;T;InstanceName;SQLEXPRESS;IsClustered;No;Version;16.0;tcp;%d;;", r->answer_port);
    size_t len;
    uint8_t *d = resp(text, &len);
    sendto(r->fd, d, len, 0, (struct sockaddr *)&from, fl);
    return NULL;
}

static pthread_t start_responder(responder *r)
{
    r->fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(r->fd, (struct sockaddr *)&a, &al);
    r->port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, respond, r);
    return t;
}

Test(browser, lookup)
{
    responder r = {.answer_port = 41234};
    pthread_t t = start_responder(&r);
    uint16_t port = 0;
    net_error e;
    cr_assert_eq(net_browser_lookup("127.0.0.1", (uint16_t)r.port, "SQLEXPRESS", 2000, &port, &e), NET_OK, "%s", e.message);
    cr_assert_eq(port, 41234);
    cr_assert_str_eq(r.got, "SQLEXPRESS");
    pthread_join(t, NULL);
    close(r.fd);
}

Test(browser, unknown_instance)
{
    responder r = {.answer_port = 41234};
    pthread_t t = start_responder(&r);
    uint16_t port = 0;
    net_error e;
    cr_assert_eq(net_browser_lookup("127.0.0.1", (uint16_t)r.port, "OTHER", 2000, &port, &e), NET_E_BROWSER);
    cr_assert(strstr(e.message, "OTHER"), "%s", e.message);
    pthread_join(t, NULL);
    close(r.fd);
}

Test(browser, no_answer_times_out)
{
    responder r = {.silent = true};
    pthread_t t = start_responder(&r);
    uint16_t port = 0;
    net_error e;
    uint64_t t0 = th_now_ms();
    cr_assert_eq(net_browser_lookup("127.0.0.1", (uint16_t)r.port, "SQLEXPRESS", 300, &port, &e), NET_E_TIMEOUT);
    cr_assert_lt(th_now_ms() - t0, 2000);
    cr_assert(strstr(e.message, "SQL Browser"), "%s", e.message);
    pthread_join(t, NULL);
    close(r.fd);
}

Test(browser, open_host_backslash_instance)
{
    if (!th_tdstestd())
        cr_skip_test("build/tdstestd is not built");
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("browser", 10, ""), NULL));
    responder r = {.answer_port = s.port};
    pthread_t t = start_responder(&r);
    net_opts o = th_opts(0);
    o.host = "127.0.0.1\\SQLEXPRESS";
    o.browser_port = (uint16_t)r.port;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(net_conn_port(net_client_conn(cl)), s.port);
    net_client_close(cl);
    pthread_join(t, NULL);
    close(r.fd);
    th_stop(&s);
}

Test(browser, bad_instance_names_are_argument_errors)
{
    net_opts o = th_opts(0);
    o.host = "127.0.0.1\\ThisInstanceNameIsFarTooLongForSSRP_1234";
    net_error e;
    cr_assert_null(net_client_open(&o, &e));
    cr_assert_eq(e.code, NET_E_ARG, "%d %s", e.code, e.message);
}

/* Random SVR_RESP datagrams never crash or read out of bounds. */
Test(browser, random_responses_are_safe)
{
    uint8_t d[300];
    uint32_t seed = 99;
    static const char text[] = "InstanceName;tcp;;X;12;np;";
    for (int i = 0; i < 50000; i++) {
        seed = seed * 1664525u + 1013904223u;
        size_t n = (seed >> 8) % sizeof d;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1664525u + 1013904223u;
            d[k] = (seed >> 24) & 1 ? (uint8_t)text[(seed >> 8) % (sizeof text - 1)] : (uint8_t)(seed >> 16);
        }
        if (n > 0)
            d[0] = 0x05;
        if (n > 2) {
            d[1] = (uint8_t)(n - 3 + (seed & 3) - 1);
            d[2] = 0;
        }
        int port = net_browser_parse(d, n, "X");
        cr_assert(port == -1 || (port > 0 && port <= 65535));
    }
}
