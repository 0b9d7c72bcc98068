/*
 * test_retry.c — net/retry.c's policy and the retry loops that use it:
 * opens retried on transient login errors (4060 …) with backoff and a
 * limit, never on a wrong password; batches retried on a transient server
 * error, never once rows of the failed attempt reached the consumer.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "helpers.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

Test(retry, transient_list)
{
    const int32_t yes[] = {4060, 40197, 40501, 40613, 49918, 49919, 49920};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        net_error e = {.code = NET_E_LOGIN, .server_number = yes[i]};
        cr_assert(net_error_transient(&e), "%d", yes[i]);
    }
    net_error e = {.code = NET_E_LOGIN, .server_number = 18456};
    cr_assert(!net_error_transient(&e));
    net_error reset = {.code = NET_E_CLOSED, .during_login = true};
    cr_assert(net_error_transient(&reset));
    reset.during_login = false;
    cr_assert(!net_error_transient(&reset), "a drop mid-result is not retried by the policy");
    net_error tls = {.code = NET_E_TLS_UNTRUSTED, .during_login = true};
    cr_assert(!net_error_transient(&tls));
}

Test(retry, backoff_grows_with_jitter_and_cap)
{
    for (unsigned a = 1; a <= 12; a++) {
        uint32_t d = net_retry_delay_ms(a, 100, 5000);
        uint64_t nominal = 100ull << (a - 1);
        if (nominal > 5000)
            nominal = 5000;
        cr_assert_geq(d, nominal * 3 / 4 - 1, "attempt %u: %u", a, d);
        cr_assert_leq(d, nominal * 5 / 4 + 1 > 5000 ? 5000 : nominal * 5 / 4 + 1, "attempt %u: %u", a, d);
    }
    cr_assert_leq(net_retry_delay_ms(100, 0, 0), 30000);
}

/* The jitter really spreads (no shared generator state: calls from any
 * thread are independent). */
Test(retry, jitter_spreads)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < 200; i++) {
        uint32_t d = net_retry_delay_ms(3, 1000, 0); /* nominal 4000 ms: 3000..5000 */
        cr_assert(d >= 3000 && d <= 5000, "%u", d);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    cr_assert_geq(hi - lo, 500, "200 waits all within %u..%u ms", lo, hi);
}

Test(retry, open_retries_transient_login_error)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("retry", 10, ""), NULL));
    net_opts o = th_opts(s.port);
    o.database = "nosuchdb"; /* 4060, on the transient list */
    o.retries = 2;
    o.retry_base_ms = 20;
    net_error e;
    uint64_t t0 = th_now_ms();
    cr_assert_null(net_client_open(&o, &e));
    cr_assert_eq(e.code, NET_E_LOGIN);
    cr_assert_eq(e.server_number, 4060);
    cr_assert(strstr(e.message, "after 3 attempts"), "%s", e.message);
    cr_assert_geq(th_now_ms() - t0, 20 * 3 / 4 + 40 * 3 / 4);
    th_stop(&s);
}

typedef struct open_count {
    unsigned connects;
    net_error err;
    bool done;
} open_count;

static void oc_open(net_conn *c, const net_error *err, void *ud)
{
    open_count *oc = ud;
    oc->connects = net_conn_connects(c);
    if (err)
        oc->err = *err;
    oc->done = true;
}

Test(retry, open_never_retries_wrong_password)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("retry", 10, ""), NULL));
    net_opts o = th_opts(s.port);
    o.password = "nope";
    o.retries = 3;
    o.retry_base_ms = 10;
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_error e;
    net_conn *c = net_conn_new(&loop, &o, &e);
    open_count oc = {0};
    net_conn_open(c, oc_open, &oc);
    while (!oc.done)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(oc.err.server_number, 18456);
    cr_assert_eq(oc.connects, 1);
    /* and the transient one counts every attempt */
    net_conn_close(c, NULL, NULL);
    o.password = "Secret#1";
    o.database = "nosuchdb";
    c = net_conn_new(&loop, &o, &e);
    memset(&oc, 0, sizeof oc);
    net_conn_open(c, oc_open, &oc);
    while (!oc.done)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(oc.err.server_number, 4060);
    cr_assert_eq(oc.connects, 4);
    net_conn_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    th_stop(&s);
}

Test(retry, batch_retried_on_transient_server_error)
{
    NEED_SERVER();
    th_server s;
    const char *extra =
        "\"rules\": [{\"match\": \"^SELECT \\\\* FROM narrow\", \"times\": 1,"
        " \"error\": {\"number\": 40501, \"severity\": 16, \"message\": \"The service is currently busy.\"}}],";
    cr_assert(th_start(&s, th_scenario_default("retryb", 50, extra), NULL));
    net_opts o = th_opts(s.port);
    o.retries = 2;
    o.retry_base_ms = 10;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    cr_assert_eq(net_client_batch_retry(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e), NET_OK, "%s", e.message);
    cr_assert_eq(cnt.rows, 50);
    cr_assert_eq(cnt.errors, 1, "the first attempt saw the 40501");
    net_client_close(cl);
    th_stop(&s);
}

Test(retry, batch_never_retried_after_rows)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("retryr", 10000, "\"faults\": {\"close_after_bytes\": 20000},"), NULL));
    net_opts o = th_opts(s.port);
    o.retries = 3;
    o.retry_base_ms = 10;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    int rc = net_client_batch_retry(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e);
    cr_assert_eq(rc, NET_E_CLOSED, "%d %s", rc, e.message);
    cr_assert_gt(cnt.rows, 0);
    cr_assert_eq(net_conn_connects(net_client_conn(cl)), 1, "no reconnect once rows were delivered");
    net_client_close(cl);
    th_stop(&s);
}
