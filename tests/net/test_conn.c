/*
 * test_conn.c — net/conn.c, the async core, against tdstestd: several
 * connections in one loop, back-pressure (pause/resume), cancel in
 * mid-stream and reuse, abort from the row callback, query timeout on a
 * stalled server, a connection dropped in mid-result (clean error, no
 * hang), close during a request, connect timeout, cancel during the
 * open, refused and unresolvable hosts, every resolved address tried,
 * server errors.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <uv.h>

#include "helpers.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

static th_server start_rows(unsigned long rows, const char *extra)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("conn", rows, extra), NULL), "tdstestd did not start");
    return s;
}

/* ----------------------------------------------------- async harness */

typedef struct job {
    net_conn *c;
    uv_loop_t *loop;
    const char *sql;
    bool opened, completed, closed;
    int completions;
    net_error open_err, err;
    uint64_t rows;
    int64_t last_id;
    bool ordered;
    /* behaviour */
    uint64_t pause_every;   /* return PAUSE every n rows */
    uint64_t cancel_at;     /* net_conn_cancel at this row */
    uint64_t abort_at;      /* return ABORT at this row */
    uint64_t close_at;      /* net_conn_close at this row */
    uint64_t pauses;
    bool paused_now;
    uv_timer_t resume_timer;
} job;

static void on_resume(uv_timer_t *t)
{
    job *j = t->data;
    j->paused_now = false;
    net_conn_resume(j->c);
}

static int j_row(void *ud, const tds_column *cols, uint16_t n, const tds_value *v)
{
    job *j = ud;
    (void)n;
    cr_assert(!j->paused_now, "a row arrived while paused");
    int64_t id = 0;
    tds_value_int(&cols[0], &v[0], &id);
    if (j->rows == 0)
        j->ordered = true;
    else if (id != j->last_id + 1)
        j->ordered = false;
    j->last_id = id;
    j->rows++;
    if (j->cancel_at && j->rows == j->cancel_at)
        net_conn_cancel(j->c);
    if (j->close_at && j->rows == j->close_at) {
        net_conn_close(j->c, NULL, NULL);
        j->closed = true;
    }
    if (j->abort_at && j->rows == j->abort_at)
        return NET_ROW_ABORT;
    if (j->pause_every && j->rows % j->pause_every == 0) {
        j->pauses++;
        j->paused_now = true;
        uv_timer_start(&j->resume_timer, on_resume, 1, 0);
        return NET_ROW_PAUSE;
    }
    return NET_ROW_NEXT;
}

static void j_complete(void *ud, const net_error *err)
{
    job *j = ud;
    j->completions++;
    j->completed = true;
    /* the completion may run in a timer callback (resume) at the start of
     * run_until_done's UV_RUN_ONCE, which would then poll an idle socket
     * forever */
    if (j->loop)
        uv_stop(j->loop);
    if (err)
        j->err = *err;
    else
        memset(&j->err, 0, sizeof j->err);
}

static const net_result_cb jcb = {.row = j_row, .complete = j_complete};

static void j_open(net_conn *c, const net_error *err, void *ud)
{
    job *j = ud;
    (void)c;
    j->opened = true;
    if (err) {
        j->open_err = *err;
        if (j->loop)
            uv_stop(j->loop);
        return;
    }
    if (j->sql)
        cr_assert_eq(net_conn_batch(c, j->sql, strlen(j->sql), &jcb, j), NET_OK);
}

static void job_init(job *j, uv_loop_t *loop, const net_opts *o, const char *sql)
{
    memset(j, 0, sizeof *j);
    j->loop = loop;
    j->sql = sql;
    net_error e;
    j->c = net_conn_new(loop, o, &e);
    cr_assert_not_null(j->c, "%s", e.message);
    uv_timer_init(loop, &j->resume_timer);
    j->resume_timer.data = j;
}

static void job_close(job *j)
{
    if (!j->closed)
        net_conn_close(j->c, NULL, NULL);
    j->closed = true;
    uv_close((uv_handle_t *)&j->resume_timer, NULL);
}

static void run_until_done(uv_loop_t *loop, job *jobs, int n, uint64_t limit_ms)
{
    uint64_t end = th_now_ms() + limit_ms;
    for (;;) {
        bool all = true;
        for (int i = 0; i < n; i++)
            if (!(jobs[i].completed || (jobs[i].opened && jobs[i].open_err.code)))
                all = false;
        if (all)
            return;
        cr_assert_lt(th_now_ms(), end, "hang: the request did not complete in %llu ms",
                     (unsigned long long)limit_ms);
        uv_run(loop, UV_RUN_ONCE);
    }
}

static void loop_finish(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "handles left open");
}

/* ------------------------------------------------------------- tests */

Test(conn, several_connections_in_one_loop)
{
    th_server s = start_rows(20000, "");
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(s.port);
    job j[4];
    for (int i = 0; i < 4; i++) {
        job_init(&j[i], &loop, &o, "SELECT * FROM narrow");
        net_conn_open(j[i].c, j_open, &j[i]);
    }
    run_until_done(&loop, j, 4, 30000);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(j[i].open_err.code, 0, "%s", j[i].open_err.message);
        cr_assert_eq(j[i].err.code, NET_OK, "%s", j[i].err.message);
        cr_assert_eq(j[i].rows, 20000);
        cr_assert(j[i].ordered);
        job_close(&j[i]);
    }
    loop_finish(&loop);
    th_stop(&s);
}

Test(conn, pause_and_resume)
{
    th_server s = start_rows(30000, "");
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(s.port);
    job j;
    job_init(&j, &loop, &o, "SELECT * FROM narrow");
    j.pause_every = 997;
    net_conn_open(j.c, j_open, &j);
    run_until_done(&loop, &j, 1, 30000);
    cr_assert_eq(j.err.code, NET_OK, "%s", j.err.message);
    cr_assert_eq(j.rows, 30000);
    cr_assert(j.ordered);
    cr_assert_eq(j.pauses, 30000 / 997);
    cr_assert_eq(j.completions, 1);
    job_close(&j);
    loop_finish(&loop);
    th_stop(&s);
}

Test(conn, pause_resume_and_cancel_over_tls)
{
    /* The TLS receive path (SSL_read into the engine's lent buffer) with
     * back-pressure, then a cancel, then reuse. */
    NEED_SERVER();
    const char *d = th_certs();
    char cert[512], key[512], ca[512];
    snprintf(cert, sizeof cert, "%s/server.pem", d);
    snprintf(key, sizeof key, "%s/server.key", d);
    snprintf(ca, sizeof ca, "%s/ca.pem", d);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("conntls", 400000, ""), args));
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    o.packet_size = 32767;
    job j;
    job_init(&j, &loop, &o, "SELECT * FROM narrow");
    j.pause_every = 4999;
    j.cancel_at = 60000;
    net_conn_open(j.c, j_open, &j);
    run_until_done(&loop, &j, 1, 30000);
    cr_assert_eq(j.err.code, NET_E_CANCELLED, "%d %s", j.err.code, j.err.message);
    cr_assert(j.ordered);
    cr_assert_geq(j.pauses, 12);
    cr_assert_str_eq(net_conn_encryption(j.c), "TLSv1.2");
    j.completed = false;
    j.rows = 0;
    j.cancel_at = 0;
    j.pause_every = 0;
    cr_assert_eq(net_conn_batch(j.c, "SELECT TOP 7 * FROM narrow", 26, &jcb, &j), NET_OK);
    run_until_done(&loop, &j, 1, 10000);
    cr_assert_eq(j.err.code, NET_OK, "%s", j.err.message);
    cr_assert_eq(j.rows, 7);
    job_close(&j);
    loop_finish(&loop);
    th_stop(&s);
}

Test(conn, cancel_mid_stream_then_reuse)
{
    th_server s = start_rows(2000000, "");
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(s.port);
    job j;
    job_init(&j, &loop, &o, "SELECT * FROM narrow");
    j.cancel_at = 5000;
    net_conn_open(j.c, j_open, &j);
    run_until_done(&loop, &j, 1, 30000);
    cr_assert_eq(j.err.code, NET_E_CANCELLED, "%d %s", j.err.code, j.err.message);
    cr_assert_lt(j.rows, 2000000, "cancel must stop the stream");
    cr_assert(net_conn_is_open(j.c));
    /* reuse: a fresh request on the same connection */
    j.completed = false;
    j.rows = 0;
    j.cancel_at = 0;
    cr_assert_eq(net_conn_batch(j.c, "SELECT TOP 10 * FROM narrow", 27, &jcb, &j), NET_OK);
    run_until_done(&loop, &j, 1, 10000);
    cr_assert_eq(j.err.code, NET_OK, "%s", j.err.message);
    cr_assert_eq(j.rows, 10);
    job_close(&j);
    loop_finish(&loop);
    th_stop(&s);
}

Test(conn, abort_from_row_callback)
{
    th_server s = start_rows(500000, "");
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(s.port);
    job j;
    job_init(&j, &loop, &o, "SELECT * FROM narrow");
    j.abort_at = 100;
    net_conn_open(j.c, j_open, &j);
    run_until_done(&loop, &j, 1, 30000);
    cr_assert_eq(j.err.code, NET_E_CANCELLED, "%d %s", j.err.code, j.err.message);
    cr_assert_eq(j.rows, 100, "no row after the abort reaches the consumer");
    cr_assert_eq(j.completions, 1);
    job_close(&j);
    loop_finish(&loop);
    th_stop(&s);
}

Test(conn, close_during_request)
{
    th_server s = start_rows(500000, "");
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(s.port);
    job j;
    job_init(&j, &loop, &o, "SELECT * FROM narrow");
    j.close_at = 1000;
    net_conn_open(j.c, j_open, &j);
    run_until_done(&loop, &j, 1, 30000);
    cr_assert_eq(j.err.code, NET_E_CANCELLED, "%d %s", j.err.code, j.err.message);
    cr_assert_eq(j.completions, 1);
    job_close(&j);
    loop_finish(&loop);
    th_stop(&s);
}

Test(conn, query_timeout_on_stalled_server)
{
    th_server s = start_rows(100000, "\"faults\": {\"stall_after_rows\": 500},");
    net_opts o = th_opts(s.port);
    o.query_timeout_ms = 400;
    o.cancel_timeout_ms = 600;
    o.packet_size = 4096; /* the 500 rows before the stall fill whole packets */
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    uint64_t t0 = th_now_ms();
    int rc = net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e);
    uint64_t took = th_now_ms() - t0;
    cr_assert_eq(rc, NET_E_TIMEOUT, "%d %s", rc, e.message);
    cr_assert_geq(took, 380);
    cr_assert_lt(took, 3000, "took %llu ms", (unsigned long long)took);
    cr_assert_geq(cnt.rows, 1);
    net_client_close(cl);
    th_stop(&s);
}

Test(conn, dropped_connection_mid_result)
{
    th_server s = start_rows(100000, "\"faults\": {\"close_after_bytes\": 60000},");
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    uint64_t t0 = th_now_ms();
    int rc = net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e);
    cr_assert_eq(rc, NET_E_CLOSED, "%d %s", rc, e.message);
    cr_assert(strstr(e.message, "middle of a result"), "%s", e.message);
    cr_assert_lt(th_now_ms() - t0, 5000);
    cr_assert_gt(cnt.rows, 0);
    cr_assert_lt(cnt.rows, 100000);
    /* the connection is dead now: a clear error, no hang */
    rc = net_client_batch(cl, "SELECT 1", &th_count_cb, &cnt, &e);
    cr_assert_eq(rc, NET_E_STATE, "%d %s", rc, e.message);
    net_client_close(cl);
    th_stop(&s);
}

Test(conn, server_error_in_batch)
{
    th_server s = start_rows(10, "");
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    int rc = net_client_batch(cl, "SELECT * FROM no_such_table", &th_count_cb, &cnt, &e);
    cr_assert_eq(rc, NET_E_SERVER, "%d %s", rc, e.message);
    cr_assert_eq(e.server_number, 208, "%s", e.message);
    cr_assert_eq(cnt.errors, 1);
    /* still usable */
    cnt.rows = 0;
    cr_assert_eq(net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e), NET_OK, "%s", e.message);
    cr_assert_eq(cnt.rows, 10);
    net_client_close(cl);
    th_stop(&s);
}

Test(conn, connect_timeout)
{
    /* A socket that listens but never speaks: the TCP handshake completes
     * in the backlog, PRELOGIN is never answered. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 4), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    net_opts o = th_opts(ntohs(a.sin_port));
    o.connect_timeout_ms = 300;
    net_error e;
    uint64_t t0 = th_now_ms();
    net_client *cl = net_client_open(&o, &e);
    uint64_t took = th_now_ms() - t0;
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_TIMEOUT, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "PRELOGIN"), "%s", e.message);
    cr_assert_geq(took, 290);
    cr_assert_lt(took, 2000);
    close(fd);
}

static void cancel_open_cb(uv_timer_t *t)
{
    net_conn_cancel(t->data);
}

/* Async: net_conn_cancel during an open ends it (open_cb with
 * NET_E_CANCELLED, once), then close frees everything. */
Test(conn, cancel_during_open)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 4), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    net_opts o = th_opts(ntohs(a.sin_port));
    o.connect_timeout_ms = 20000;
    uv_loop_t loop;
    uv_loop_init(&loop);
    job j;
    job_init(&j, &loop, &o, NULL);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = j.c;
    uv_timer_start(&t, cancel_open_cb, 200, 0);
    uint64_t t0 = th_now_ms();
    cr_assert_eq(net_conn_open(j.c, j_open, &j), NET_OK);
    run_until_done(&loop, &j, 1, 5000);
    cr_assert_lt(th_now_ms() - t0, 2000);
    cr_assert_eq(j.open_err.code, NET_E_CANCELLED, "%d %s", j.open_err.code, j.open_err.message);
    cr_assert(j.open_err.during_login);
    cr_assert(!net_conn_is_open(j.c));
    net_conn_cancel(j.c); /* no-op now */
    uv_close((uv_handle_t *)&t, NULL);
    job_close(&j);
    loop_finish(&loop);
    close(fd);
}

Test(conn, refused_and_unresolvable)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd); /* nobody listens there now */
    net_opts o = th_opts(ntohs(a.sin_port));
    net_error e;
    cr_assert_null(net_client_open(&o, &e));
    cr_assert_eq(e.code, NET_E_CONNECT, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "refused"), "%s", e.message);
    o.host = "no-such-host.invalid";
    cr_assert_null(net_client_open(&o, &e));
    cr_assert_eq(e.code, NET_E_RESOLVE, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "no-such-host.invalid"), "%s", e.message);
}

Test(conn, every_address_is_tried)
{
    /* "localhost" may resolve to ::1 first; the server listens on
     * 127.0.0.1 only, so ::1 is refused and the next address is used. */
    th_server s = start_rows(10, "");
    net_opts o = th_opts(s.port);
    o.host = "localhost";
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_client_close(cl);
    th_stop(&s);
}

Test(conn, ipv6_literal)
{
    NEED_SERVER();
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool v6 = fd >= 0 && bind(fd, (struct sockaddr *)&a6, sizeof a6) == 0;
    if (fd >= 0)
        close(fd);
    if (!v6)
        cr_skip_test("no IPv6 loopback here");
    const char *args[] = {"--host", "::1", NULL};
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("v6", 10, ""), args), "tdstestd did not start on ::1");
    net_opts o = th_opts(s.port);
    o.host = "::1";
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    cr_assert_eq(net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e), NET_OK, "%s", e.message);
    cr_assert_eq(cnt.rows, 10);
    net_client_close(cl);
    th_stop(&s);
}

Test(conn, async_open_error_and_close_in_callback)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(1);
    o.host = "no-such-host.invalid";
    job j;
    job_init(&j, &loop, &o, NULL);
    net_conn_open(j.c, j_open, &j);
    run_until_done(&loop, &j, 1, 10000);
    cr_assert_eq(j.open_err.code, NET_E_RESOLVE);
    cr_assert_eq(net_conn_batch(j.c, "SELECT 1", 8, &jcb, &j), NET_E_STATE);
    job_close(&j);
    loop_finish(&loop);
}

static void close_in_open(net_conn *c, const net_error *err, void *ud)
{
    (void)err;
    *(int *)ud += 1;
    net_conn_close(c, NULL, NULL);
    net_conn_close(c, NULL, NULL); /* twice: a no-op */
}

static void close_in_complete(void *ud, const net_error *err)
{
    job *j = ud;
    j->completions++;
    j->completed = true;
    if (err)
        j->err = *err;
    net_conn_close(j->c, NULL, NULL);
    j->closed = true;
}

static void open_then_batch(net_conn *c, const net_error *err, void *ud)
{
    job *j = ud;
    static const net_result_cb cb = {.complete = close_in_complete};
    j->opened = true;
    cr_assert_null(err);
    cr_assert_eq(net_conn_batch(c, "SELECT * FROM narrow", 20, &cb, j), NET_OK);
}

Test(conn, close_inside_callbacks)
{
    th_server s = start_rows(100, "");
    uv_loop_t loop;
    uv_loop_init(&loop);
    net_opts o = th_opts(s.port);
    net_error e;
    int opened = 0;
    net_conn *c = net_conn_new(&loop, &o, &e);
    net_conn_open(c, close_in_open, &opened);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(opened, 1);
    /* close from complete() */
    job j;
    memset(&j, 0, sizeof j);
    j.c = net_conn_new(&loop, &o, &e);
    net_conn_open(j.c, open_then_batch, &j);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(j.completions, 1);
    cr_assert_eq(j.err.code, NET_OK, "%s", j.err.message);
    /* close while the open is still resolving/connecting */
    int opened2 = 0;
    c = net_conn_new(&loop, &o, &e);
    net_conn_open(c, close_in_open, &opened2);
    net_conn_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(opened2, 1, "open_cb runs exactly once, with NET_E_CANCELLED");
    cr_assert_eq(uv_loop_close(&loop), 0);
    th_stop(&s);
}

/* ------------------------------------------- a server that ignores ATTENTION */

/* An in-process server on the engine's server role: logs anyone in,
 * answers a batch with metadata and rows but never ends the reply, and
 * ignores ATTENTION, so only the client's cancel timeout can end it. */
typedef struct deaf {
    int lfd, port;
    bool saw_attention;
} deaf;

static void send_all(int fd, tds_session *s)
{
    const uint8_t *p;
    size_t n;
    tds_send_buf(s, &p, &n);
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        tds_send_ack(s, (size_t)w);
        tds_send_buf(s, &p, &n);
    }
}

/* Reads until a whole message; returns its packet type or -1. */
static int next_message(int fd, tds_session *s)
{
    for (;;) {
        tds_event ev;
        int r = tds_next(s, &ev);
        if (r == 1 && ev.type == TDS_EV_MESSAGE)
            return ev.u.message.type;
        if (r < 0)
            return -1;
        uint8_t *buf;
        size_t want;
        if (tds_recv_buf(s, &buf, &want) || want == 0)
            return -1;
        ssize_t got = read(fd, buf, want);
        if (got <= 0)
            return -1;
        tds_recv_ack(s, (size_t)got);
    }
}

static void *deaf_serve(void *arg)
{
    deaf *d = arg;
    int fd = accept(d->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    tds_session *s = tds_session_new(&(tds_session_opts){.role = TDS_ROLE_SERVER});
    if (next_message(fd, s) != TDS_PKT_PRELOGIN)
        goto out;
    tds_prelogin pl;
    memset(&pl, 0, sizeof pl);
    pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION);
    pl.version = 0x10000FA0;
    pl.encryption = TDS_ENCRYPT_NOT_SUP;
    tds_send_prelogin(s, &pl);
    send_all(fd, s);
    if (next_message(fd, s) != TDS_PKT_LOGIN7)
        goto out;
    tds_loginack ack = {.interface = 1, .tds_version = TDS_VERSION_74,
                        .prog_name = {"deaf", 4}, .major = 16};
    tds_msg_begin(s, TDS_PKT_REPLY, 0);
    tds_put_loginack(s, &ack);
    tds_put_done(s, TDS_TOK_DONE, 0, 0, 0);
    tds_msg_end(s);
    send_all(fd, s);
    if (next_message(fd, s) != TDS_PKT_SQL_BATCH)
        goto out;
    tds_column col;
    tds_column_init(&col, TDS_T_INT4, 4, 0, 0);
    col.name = (tds_str){"id", 2};
    tds_msg_begin(s, TDS_PKT_REPLY, 0);
    tds_put_colmetadata(s, &col, 1);
    for (int i = 1; i <= 3000; i++) {
        uint8_t b[4];
        tds_encode_int(&col, i, b, sizeof b);
        tds_value v = {.ptr = b, .len = 4};
        tds_put_row(s, &col, &v, 1);
    }
    send_all(fd, s); /* whole packets only: the reply never ends */
    if (next_message(fd, s) == TDS_PKT_ATTENTION)
        d->saw_attention = true;
    /* ignore it; wait for the client to hang up */
    uint8_t sink[256];
    while (read(fd, sink, sizeof sink) > 0)
        ;
out:
    tds_session_free(s);
    close(fd);
    return NULL;
}

Test(conn, cancel_timeout_when_attention_is_ignored)
{
    deaf d = {0};
    d.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(d.lfd, (struct sockaddr *)&a, sizeof a), 0);
    listen(d.lfd, 1);
    socklen_t al = sizeof a;
    getsockname(d.lfd, (struct sockaddr *)&a, &al);
    pthread_t t;
    pthread_create(&t, NULL, deaf_serve, &d);
    net_opts o = th_opts(ntohs(a.sin_port));
    o.packet_size = 4096;
    o.query_timeout_ms = 300;
    o.cancel_timeout_ms = 400;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    uint64_t t0 = th_now_ms();
    int rc = net_client_batch(cl, "SELECT id FROM t", &th_count_cb, &cnt, &e);
    uint64_t took = th_now_ms() - t0;
    cr_assert_eq(rc, NET_E_TIMEOUT, "%d %s", rc, e.message);
    cr_assert(strstr(e.message, "cancel"), "%s", e.message);
    cr_assert_geq(took, 650);
    cr_assert_lt(took, 3000);
    cr_assert_gt(cnt.rows, 0);
    cr_assert_eq(net_client_batch(cl, "SELECT 1", &th_count_cb, &cnt, &e), NET_E_STATE);
    net_client_close(cl);
    pthread_join(t, NULL);
    close(d.lfd);
    cr_assert(d.saw_attention);
}

/* ------------------------------ a server that errors and hangs up in login */

typedef struct hangup {
    int lfd;
    int conns;
    int served;
} hangup;

static void *hangup_serve(void *arg)
{
    hangup *h = arg;
    for (int i = 0; i < h->conns; i++) {
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        h->served++;
        tds_session *s = tds_session_new(&(tds_session_opts){.role = TDS_ROLE_SERVER});
        if (next_message(fd, s) == TDS_PKT_PRELOGIN) {
            tds_prelogin pl;
            memset(&pl, 0, sizeof pl);
            pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION);
            pl.version = 0x10000FA0;
            pl.encryption = TDS_ENCRYPT_NOT_SUP;
            tds_send_prelogin(s, &pl);
            send_all(fd, s);
            if (next_message(fd, s) == TDS_PKT_LOGIN7) {
                /* ERROR 40613, then enough INFO text to seal the first
                 * packet; the message never ends: the server hangs up. */
                static const char text[] = "Database 'sales' on server 'x' is not currently available.";
                tds_server_msg m = {.number = 40613, .state = 1, .severity = 17,
                                    .message = {text, sizeof text - 1}};
                tds_msg_begin(s, TDS_PKT_REPLY, 0);
                tds_put_error(s, &m);
                char pad[1500];
                memset(pad, 'x', sizeof pad);
                tds_server_msg info = {.number = 5701, .state = 1, .severity = 0,
                                       .message = {pad, sizeof pad}};
                for (int k = 0; k < 4; k++)
                    tds_put_info(s, &info);
                send_all(fd, s);
            }
        }
        tds_session_free(s);
        close(fd);
    }
    return NULL;
}

Test(conn, login_error_then_hang_up_is_reported_and_retried)
{
    hangup h = {.conns = 2};
    h.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(h.lfd, (struct sockaddr *)&a, sizeof a), 0);
    listen(h.lfd, 4);
    socklen_t al = sizeof a;
    getsockname(h.lfd, (struct sockaddr *)&a, &al);
    pthread_t t;
    pthread_create(&t, NULL, hangup_serve, &h);
    net_opts o = th_opts(ntohs(a.sin_port));
    o.retries = 1;
    o.retry_base_ms = 10;
    net_error e;
    cr_assert_null(net_client_open(&o, &e));
    cr_assert_eq(e.code, NET_E_LOGIN, "%d %s", e.code, e.message);
    cr_assert_eq(e.server_number, 40613, "%s", e.message);
    cr_assert(strstr(e.message, "not currently available"), "%s", e.message);
    cr_assert(strstr(e.message, "after 2 attempts"), "%s", e.message);
    pthread_join(t, NULL);
    close(h.lfd);
    cr_assert_eq(h.served, 2);
}

/* --------------------------------------------------------- streamed PLP */

typedef struct plp_count {
    uint64_t rows, chunks, ends, bytes;
} plp_count;

static int p_row(void *ud, const tds_column *c, uint16_t n, const tds_value *v)
{
    (void)c;
    (void)n;
    (void)v;
    ((plp_count *)ud)->rows++;
    return NET_ROW_NEXT;
}

static int p_plp(void *ud, uint16_t col, const uint8_t *d, size_t len)
{
    (void)col;
    (void)d;
    plp_count *p = ud;
    if (len == 0)
        p->ends++;
    else {
        p->chunks++;
        p->bytes += len;
    }
    return NET_ROW_NEXT;
}

Test(conn, max_values_stream_as_chunks)
{
    NEED_SERVER();
    const char *scen = th_scenario("plp",
        "{\"logins\":[{\"user\":\"sa\",\"password\":\"Secret#1\",\"database\":\"sales\"}],"
        "\"databases\":[{\"name\":\"sales\",\"tables\":[{\"name\":\"docs\",\"rows\":50,"
        "\"columns\":[{\"name\":\"id\",\"type\":\"int\"},"
        "{\"name\":\"body\",\"type\":\"nvarchar(max)\",\"nullable\":false,\"gen\":{\"width\":20000}}]}]}]}");
    th_server s;
    cr_assert(th_start(&s, scen, NULL), "tdstestd did not start");
    net_opts o = th_opts(s.port);
    o.stream_plp = true;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    plp_count pc = {0};
    net_result_cb cb = {.row = p_row, .plp = p_plp};
    int rc = net_client_batch(cl, "SELECT id, body FROM docs", &cb, &pc, &e);
    cr_assert_eq(rc, NET_OK, "%s", e.message);
    cr_assert_eq(pc.rows, 50);
    cr_assert_eq(pc.ends, 50, "one end-of-value per row");
    cr_assert_geq(pc.chunks, 50);
    cr_assert_gt(pc.bytes, 0);
    net_client_close(cl);
    th_stop(&s);
}

Test(conn, reply_dripped_one_byte_at_a_time)
{
    /* Every reply byte in its own write (plain and TLS): reassembly of
     * headers, payloads and TLS records split at every offset. */
    NEED_SERVER();
    const char *d = th_certs();
    char cert[512], key[512], ca[512];
    snprintf(cert, sizeof cert, "%s/server.pem", d);
    snprintf(key, sizeof key, "%s/server.key", d);
    snprintf(ca, sizeof ca, "%s/ca.pem", d);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("drip", 30, "\"faults\": {\"drip\": true},"), args));
    for (int tls = 0; tls < 2; tls++) {
        net_opts o = th_opts(s.port);
        o.encrypt = tls ? NET_ENCRYPT_MANDATORY : NET_ENCRYPT_DISABLE;
        o.ca_file = ca;
        o.connect_timeout_ms = 20000;
        net_error e;
        net_client *cl = net_client_open(&o, &e);
        cr_assert_not_null(cl, "%s", e.message);
        th_count cnt = {0};
        cr_assert_eq(net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e), NET_OK, "%s", e.message);
        cr_assert_eq(cnt.rows, 30);
        cr_assert(cnt.ordered);
        net_client_close(cl);
    }
    th_stop(&s);
}
