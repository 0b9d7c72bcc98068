/*
 * test_blocking.c — net/blocking.c: the wrapper's requests, cancel on
 * SIGINT/SIGTERM while a request runs, during an open (a server that never
 * answers the login) and during a retry's wait, net_client_cancel from
 * another thread, the cancel timer keeping no loop alive, NET_ROW_PAUSE
 * treated as NEXT, RPC, and a malformed stream ending in a clean protocol
 * error.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

/* SIGALRM after ms, handled by the program's own handler setting the
 * flag (returns the previous action to restore). */
static struct sigaction alarm_sets_flag(unsigned ms)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigaction(SIGALRM, &sa, &old);
    cancel_requested = 0;
    struct itimerval it = {.it_value = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
    return old;
}

/* A listener that never accepts: the kernel completes the TCP handshake,
 * the PRELOGIN goes unanswered. Returns the port (fd in *lfd). */
static int silent_listener(int *lfd)
{
    *lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(*lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(*lfd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(*lfd, (struct sockaddr *)&a, &len);
    return ntohs(a.sin_port);
}

Test(blocking, cancel_during_open)
{
    int lfd;
    net_opts o = th_opts(silent_listener(&lfd));
    o.encrypt = NET_ENCRYPT_DISABLE;
    o.connect_timeout_ms = 20000;
    o.cancel_flag = &cancel_requested;
    struct sigaction old = alarm_sets_flag(300);
    uint64_t t0 = th_now_ms();
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    uint64_t took = th_now_ms() - t0;
    sigaction(SIGALRM, &old, NULL);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_CANCELLED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "cancelled"), "%s", e.message);
    cr_assert_lt(took, 2000, "the open went on for %llu ms after the flag", (unsigned long long)took);
    close(lfd);
}

Test(blocking, cancel_during_retry_wait)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("retrywait", 1000, ""), NULL));
    net_opts o = th_opts(s.port);
    o.retries = 3;
    o.retry_base_ms = 20000; /* the wait the flag must cut short */
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_client_cancel_flag(cl, &cancel_requested);
    cancel_requested = 0;
    /* the reply is cut after 10 bytes, before any row: a dropped
     * connection worth retrying */
    cr_assert_eq(net_client_batch(cl, "EXEC tdstestd_fault @close_after_bytes = 10", NULL, NULL, &e), NET_OK, "%s",
                 e.message);
    struct sigaction old = alarm_sets_flag(300);
    uint64_t t0 = th_now_ms();
    int rc = net_client_batch_retry(cl, "SELECT * FROM narrow", NULL, NULL, &e);
    uint64_t took = th_now_ms() - t0;
    sigaction(SIGALRM, &old, NULL);
    cr_assert_eq(rc, NET_E_CANCELLED, "%d %s", rc, e.message);
    cr_assert(strstr(e.message, "waiting to retry"), "%s", e.message);
    cr_assert_lt(took, 2000, "the wait went on for %llu ms after the flag", (unsigned long long)took);
    net_client_close(cl);
    th_stop(&s);
}

/* With a flag set but not raised, a request completes as fast as without
 * one (no 100 ms tick in its way), and the timer keeps no loop alive: a
 * client closes at once. */
Test(blocking, flag_timer_neither_delays_nor_keeps_alive)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("flagfast", 10, ""), NULL));
    net_opts o = th_opts(s.port);
    cancel_requested = 0;
    o.cancel_flag = &cancel_requested;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    uint64_t t0 = th_now_ms();
    for (int i = 0; i < 20; i++) {
        th_count n = {0};
        cr_assert_eq(net_client_batch(cl, "SELECT TOP 1 * FROM narrow", &th_count_cb, &n, &e), NET_OK, "%s",
                     e.message);
        cr_assert_eq(n.rows, 1);
    }
    uint64_t took = th_now_ms() - t0;
    cr_expect_lt(took, 1000, "20 one-row requests took %llu ms", (unsigned long long)took);
    t0 = th_now_ms();
    net_client_close(cl);
    cr_expect_lt(th_now_ms() - t0, 500, "closing waited for the cancel timer");
    th_stop(&s);
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
