/*
 * test_blocking.c — net/blocking.c: the wrapper's requests, cancel on
 * SIGINT/SIGTERM while a request runs, net_client_cancel from another
 * thread, NET_ROW_PAUSE treated as NEXT, RPC, and a malformed stream
 * ending in a clean protocol error.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

typedef struct sig_ctx {
    uint64_t rows;
    int signum;
    uint64_t at;
    net_client *cl;
} sig_ctx;

static int sig_row(void *ud, const tds_column *c, uint16_t n, const tds_value *v)
{
    (void)c;
    (void)n;
    (void)v;
    sig_ctx *s = ud;
    if (++s->rows == s->at && s->signum)
        raise(s->signum);
    return s->rows % 2 ? NET_ROW_PAUSE : NET_ROW_NEXT; /* PAUSE means NEXT here */
}

static const net_result_cb sig_cb = {.row = sig_row};

/* The program's own handler (the library installs none): it only sets
 * the flag the client polls. */
static volatile sig_atomic_t cancel_requested;
static void on_sig(int signum)
{
    (void)signum;
    cancel_requested = 1;
}

static void cancel_on(int signum)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(signum, &sa, &old);
    cancel_requested = 0;
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("sig", 2000000, ""), NULL));
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_client_cancel_flag(cl, &cancel_requested);
    sig_ctx ctx = {.signum = signum, .at = 3000};
    int rc = net_client_batch(cl, "SELECT * FROM narrow", &sig_cb, &ctx, &e);
    cr_assert_eq(rc, NET_E_CANCELLED, "%d %s", rc, e.message);
    cr_assert_lt(ctx.rows, 2000000);
    /* reusable once the flag is cleared */
    cancel_requested = 0;
    sig_ctx ctx2 = {0};
    rc = net_client_batch(cl, "SELECT TOP 5 * FROM narrow", &sig_cb, &ctx2, &e);
    cr_assert_eq(rc, NET_OK, "%s", e.message);
    cr_assert_eq(ctx2.rows, 5);
    net_client_close(cl);
    th_stop(&s);
    sigaction(signum, &old, NULL);
}

Test(blocking, cancel_on_sigint)
{
    cancel_on(SIGINT);
}

Test(blocking, cancel_on_sigterm)
{
    cancel_on(SIGTERM);
}

static void *canceller(void *arg)
{
    usleep(100000);
    net_client_cancel(arg);
    return NULL;
}

Test(blocking, cancel_from_another_thread)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("thr", 5000000, ""), NULL));
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    pthread_t t;
    pthread_create(&t, NULL, canceller, cl);
    sig_ctx ctx = {0};
    int rc = net_client_batch(cl, "SELECT * FROM narrow", &sig_cb, &ctx, &e);
    pthread_join(t, NULL);
    cr_assert_eq(rc, NET_E_CANCELLED, "%d %s (rows %llu)", rc, e.message, (unsigned long long)ctx.rows);
    net_client_close(cl);
    th_stop(&s);
}

Test(blocking, malformed_stream_is_a_clean_protocol_error)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("bad", 10000, "\"faults\": {\"malformed_after_rows\": 500},"), NULL));
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    int rc = net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e);
    cr_assert_eq(rc, NET_E_PROTO, "%d %s", rc, e.message);
    cr_assert(strstr(e.message, "malformed"), "%s", e.message);
    cr_assert_eq(net_client_batch(cl, "SELECT 1", &th_count_cb, &cnt, &e), NET_E_STATE);
    net_client_close(cl);
    th_stop(&s);
}

Test(blocking, rpc_sp_executesql)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("rpc", 100, ""), NULL));
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    tds_param p[1];
    memset(p, 0, sizeof p);
    tds_column_init(&p[0].col, TDS_T_NVARCHAR, 8000, 0, 0);
    const char *sql = "SELECT * FROM narrow";
    p[0].value.ptr = (const uint8_t *)sql;
    p[0].value.len = (uint32_t)strlen(sql);
    p[0].value.flags = TDS_VF_UTF8;
    tds_rpc r = {.proc_id = TDS_PROC_SP_EXECUTESQL, .params = p, .nparams = 1};
    th_count cnt = {0};
    int rc = net_client_rpc(cl, &r, &th_count_cb, &cnt, &e);
    cr_assert_eq(rc, NET_OK, "%s", e.message);
    cr_assert_eq(cnt.rows, 100);
    net_client_close(cl);
    th_stop(&s);
}
