/*
 * test_sigpipe.c — writing to a server that closed the connection is an
 * error (NET_E_CLOSED/NET_E_IO), never a SIGPIPE, with the program's
 * SIGPIPE at SIG_DFL and unblocked; and the library leaves SIGPIPE's
 * disposition and the signal mask as it found them.
 *
 * Each case runs in a forked child that restores SIGPIPE to SIG_DFL and
 * unblocks it: a SIGPIPE would kill the child, which the parent sees.
 * - bulk: tdstestd closes the connection at the 100th bulk row (fault
 *   close_after_rows); the client keeps streaming rows (blocking API).
 * - async: the server is stopped while the connection is idle, then a
 *   batch of several MiB is sent on the caller's own loop (async API,
 *   the embedder runs uv_run).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "helpers.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

/* Child exit codes other than 0 say which step went wrong. */
enum { OK = 0, E_SETUP = 10, E_WRONG_ERROR = 11, E_NO_ERROR = 12 };

static void sigpipe_default(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* Runs fn in a child with SIGPIPE at SIG_DFL; asserts it exited 0. */
static void in_child(int (*fn)(void), const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        sigpipe_default();
        _exit(fn());
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(!WIFSIGNALED(st), "%s: the child was killed by signal %d (%s)", what, WTERMSIG(st),
              strsignal(WTERMSIG(st)));
    cr_assert(WIFEXITED(st));
    cr_assert_eq(WEXITSTATUS(st), OK, "%s: the child exited with %d", what, WEXITSTATUS(st));
}

static bool dropped(int rc)
{
    return rc == NET_E_CLOSED || rc == NET_E_IO;
}

/* ------------------------------------------------------------ bulk */

#define BULK_ROWS 400000u /* a few MiB: far more than the socket buffers */

static int bulk_into_closed(void)
{
    th_server s;
    if (!th_start(&s, th_scenario_default("sigpipe_bulk", 10, "\"faults\": {\"close_after_rows\": 100},"), NULL))
        return E_SETUP;
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    if (!cl || net_client_batch(cl, "CREATE TABLE bt (id int NOT NULL)", NULL, NULL, &e) ||
        net_client_batch(cl, "INSERT BULK bt ([id] int)", NULL, NULL, &e))
        return E_SETUP;
    tds_column col;
    tds_column_init(&col, TDS_T_INTN, 4, 0, 0);
    col.name = (tds_str){"id", 2};
    net_bulk *b = net_bulk_begin(cl, &col, 1, &e);
    tds_row_plan *p = NULL;
    if (!b || tds_row_plan_new(net_bulk_session(b), TDS_TOK_ROW, &col, 1, &p))
        return E_SETUP;
    uint8_t buf[4 * 1000];
    tds_value v[1000];
    int rc = NET_OK;
    for (unsigned sent = 0; sent < BULK_ROWS && rc == NET_OK; sent += 1000) {
        for (unsigned i = 0; i < 1000; i++) {
            tds_encode_int(&col, (int64_t)(sent + i), buf + 4 * i, 4);
            v[i] = (tds_value){buf + 4 * i, 4, 0};
        }
        size_t put = 0;
        rc = net_bulk_rows(b, p, v, 1000, &put, &e);
    }
    tds_row_plan_free(p);
    uint64_t n = 0;
    if (rc == NET_OK)
        rc = net_bulk_end(b, &n, &e);
    else
        net_bulk_abort(b);
    net_client_close(cl);
    th_stop(&s);
    if (rc == NET_OK)
        return E_NO_ERROR;
    if (!dropped(rc)) {
        fprintf(stderr, "bulk: %d %s\n", rc, e.message);
        return E_WRONG_ERROR;
    }
    return OK;
}

Test(sigpipe, bulk_to_a_server_that_closed_is_an_error)
{
    NEED_SERVER();
    in_child(bulk_into_closed, "bulk");
}

/* ----------------------------------------------------------- async */

typedef struct ajob {
    uv_loop_t loop;
    net_conn *c;
    bool opened, completed;
    net_error open_err, err;
} ajob;

static void a_open(net_conn *c, const net_error *err, void *ud)
{
    (void)c;
    ajob *j = ud;
    j->opened = true;
    if (err)
        j->open_err = *err;
    uv_stop(&j->loop);
}

static void a_complete(void *ud, const net_error *err)
{
    ajob *j = ud;
    j->completed = true;
    if (err)
        j->err = *err;
    uv_stop(&j->loop);
}

static int batch_into_closed(void)
{
    th_server s;
    if (!th_start(&s, th_scenario_default("sigpipe_async", 10, ""), NULL))
        return E_SETUP;
    ajob j;
    memset(&j, 0, sizeof j);
    uv_loop_init(&j.loop);
    net_opts o = th_opts(s.port);
    net_error e;
    j.c = net_conn_new(&j.loop, &o, &e);
    if (!j.c || net_conn_open(j.c, a_open, &j))
        return E_SETUP;
    while (!j.opened)
        uv_run(&j.loop, UV_RUN_ONCE);
    if (j.open_err.code)
        return E_SETUP;
    th_stop(&s); /* the server is gone: its end of the socket is closed */
    size_t len = 8u << 20;
    char *sql = malloc(len + 1);
    memset(sql, ' ', len);
    memcpy(sql, "SELECT 1", 8);
    sql[len] = '\0';
    static const net_result_cb cb = {.complete = a_complete};
    int rc = net_conn_batch(j.c, sql, len, &cb, &j);
    if (rc == NET_OK)
        while (!j.completed)
            uv_run(&j.loop, UV_RUN_ONCE);
    free(sql);
    net_conn_close(j.c, NULL, NULL);
    uv_run(&j.loop, UV_RUN_DEFAULT);
    uv_loop_close(&j.loop);
    if (rc != NET_OK) {
        fprintf(stderr, "async: net_conn_batch said %d: nothing was written\n", rc);
        return E_SETUP; /* the connection must still look open: the loop has not run */
    }
    if (!j.err.code)
        return E_NO_ERROR;
    if (!dropped(j.err.code)) {
        fprintf(stderr, "async: %d %s\n", j.err.code, j.err.message);
        return E_WRONG_ERROR;
    }
    return OK;
}

Test(sigpipe, async_batch_to_a_server_that_closed_is_an_error)
{
    NEED_SERVER();
    in_child(batch_into_closed, "async");
}

/* ------------------------------------------------------ disposition */

Test(sigpipe, disposition_and_mask_are_left_alone)
{
    NEED_SERVER();
    sigpipe_default();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("sigpipe_disp", 10, ""), NULL));
    net_opts o = th_opts(s.port);
    net_error e;
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_conn *c = net_conn_new(&loop, &o, &e);
    cr_assert_not_null(c, "%s", e.message);
    struct sigaction sa;
    cr_assert_eq(sigaction(SIGPIPE, NULL, &sa), 0);
    cr_expect(sa.sa_handler == SIG_DFL, "net_conn_new changed SIGPIPE's disposition");
    net_conn_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);

    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count n = {0};
    cr_assert_eq(net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &n, &e), NET_OK, "%s", e.message);
    cr_expect_eq(n.rows, 10);
    net_client_close(cl);
    th_stop(&s);

    cr_assert_eq(sigaction(SIGPIPE, NULL, &sa), 0);
    cr_expect(sa.sa_handler == SIG_DFL, "a connection changed SIGPIPE's disposition");
    sigset_t now;
    cr_assert_eq(sigprocmask(SIG_BLOCK, NULL, &now), 0);
    cr_expect(!sigismember(&now, SIGPIPE), "SIGPIPE was left blocked");
}
