/*
 * test_net.c — the real tdstestd process over loopback, driven by the
 * engine as a client (blocking socket): FEDAUTH with the server's nonce
 * echoed (the FEATUREEXTACK carries the nonce and its HMAC), every way a
 * FEDAUTH login must fail (wrong nonce, echo bit, token), ATTENTION in the
 * middle of a long result (DONE_ATTN as a message of its own, connection
 * reusable), the built-in demo served without --scenario (rows read, the
 * connection hint on stderr), and a clean exit on SIGTERM after all of it.
 *
 * tedious covers FEDAUTH without a nonce and ATTENTION as a third party
 * (tests/peers); no client we can install echoes the nonce, hence this.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tds.h"

#ifndef TDSTESTD_BIN
#define TDSTESTD_BIN "build/tdstestd"
#endif
#ifndef TDSTESTD_SCENARIOS
#define TDSTESTD_SCENARIOS "tests/server/scenarios"
#endif

/* ------------------------------------------------------------ server */

static pid_t srv_pid;
static int srv_port;

/* Starts tdstestd on a free port with the scenario file (NULL: none, the
 * built-in demo) and one extra argument (or NULL); its stderr goes to
 * errfile when given. Reads the port from the first line it prints. */
static void server_spawn(const char *scenario, const char *extra, const char *errfile)
{
    int out[2];
    cr_assert_eq(pipe(out), 0);
    srv_pid = fork();
    cr_assert(srv_pid >= 0);
    if (srv_pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        if (errfile && !freopen(errfile, "w", stderr))
            _exit(126);
        if (scenario)
            execl(TDSTESTD_BIN, "tdstestd", "--scenario", scenario, "--port", "0",
                  extra, (char *)NULL); /* extra NULL: no extra argument */
        else
            execl(TDSTESTD_BIN, "tdstestd", "--port", "0", extra, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[64] = "";
    size_t n = 0;
    struct pollfd p = { .fd = out[0], .events = POLLIN };
    while (n < sizeof line - 1 && poll(&p, 1, 20000) > 0) {
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = 0;
    close(out[0]);
    cr_assert(sscanf(line, "port %d", &srv_port) == 1, "tdstestd printed '%s'", line);
}

static void server_start(const char *extra)
{
    server_spawn(TDSTESTD_SCENARIOS "/regress.json", extra, NULL);
}

static void server_stop(void)
{
    int st = 0;
    kill(srv_pid, SIGTERM);
    cr_assert_eq(waitpid(srv_pid, &st, 0), srv_pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tdstestd exit status %d", st);
}

/* ------------------------------------------------------------ client */

typedef struct cli {
    int fd;
    tds_session *s;
} cli;

static void cli_flush(cli *c)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        tds_send_buf(c->s, &p, &n);
        if (!n)
            return;
        ssize_t w = write(c->fd, p, n);
        cr_assert(w > 0);
        tds_send_ack(c->s, (size_t)w);
    }
}

/* Next event; reads the socket when the engine needs bytes. Returns 0 at
 * end of stream. */
static int cli_next(cli *c, tds_event *ev)
{
    for (;;) {
        int e = tds_next(c->s, ev);
        cr_assert(e >= 0, "tds_next: %s", tds_strerror(e));
        if (e == 1)
            return 1;
        uint8_t *p;
        size_t n;
        cr_assert_eq(tds_recv_buf(c->s, &p, &n), TDS_OK);
        struct pollfd pf = { .fd = c->fd, .events = POLLIN };
        cr_assert(poll(&pf, 1, 20000) > 0, "no answer from tdstestd");
        ssize_t r = read(c->fd, p, n);
        if (r <= 0)
            return 0;
        cr_assert_eq(tds_recv_ack(c->s, (size_t)r), TDS_OK);
    }
}

static cli cli_connect(void)
{
    cli c;
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)srv_port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(c.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    tds_session_opts o = { .role = TDS_ROLE_CLIENT };
    c.s = tds_session_new(&o);
    cr_assert(c.s);
    return c;
}

static void cli_close(cli *c)
{
    tds_session_free(c->s);
    close(c->fd);
}

/* PRELOGIN with FEDAUTHREQUIRED; returns the server's answer. */
static tds_prelogin cli_prelogin(cli *c)
{
    tds_prelogin pl;
    memset(&pl, 0, sizeof pl);
    pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION) | (1u << TDS_PL_FEDAUTHREQUIRED);
    pl.encryption = TDS_ENCRYPT_NOT_SUP;
    pl.fedauth_required = 1;
    cr_assert_eq(tds_send_prelogin(c->s, &pl), 0);
    cli_flush(c);
    tds_expect_message(c->s);
    tds_event ev;
    cr_assert(cli_next(c, &ev));
    cr_assert_eq(ev.type, TDS_EV_MESSAGE);
    tds_prelogin in;
    cr_assert_eq(tds_prelogin_decode(ev.u.message.data, ev.u.message.len, &in), 0);
    return in;
}

typedef struct login_result {
    bool ack;
    int32_t error;
    bool fedauth_ack;
    uint8_t ack_data[64];
    size_t ack_len;
} login_result;

static login_result cli_login(cli *c, tds_login7 *l)
{
    login_result res;
    memset(&res, 0, sizeof res);
    cr_assert_eq(tds_send_login7(c->s, l), 0);
    cli_flush(c);
    tds_event ev;
    while (cli_next(c, &ev)) {
        if (ev.type == TDS_EV_LOGINACK)
            res.ack = true;
        else if (ev.type == TDS_EV_ERROR)
            res.error = ev.u.msg.number;
        else if (ev.type == TDS_EV_FEATUREEXTACK) {
            for (size_t k = 0; k < ev.u.features.n; k++)
                if (ev.u.features.acks[k].id == TDS_FEAT_FEDAUTH) {
                    res.fedauth_ack = true;
                    res.ack_len = ev.u.features.acks[k].len;
                    if (res.ack_len <= sizeof res.ack_data)
                        memcpy(res.ack_data, ev.u.features.acks[k].data, res.ack_len);
                }
        } else if (ev.type == TDS_EV_MESSAGE_END)
            break;
    }
    return res;
}

static void fedauth_login(tds_login7 *l, const char *token, bool echo, const uint8_t *nonce)
{
    memset(l, 0, sizeof *l);
    l->tds_version = TDS_VERSION_74;
    l->packet_size = 4096;
    l->hostname = "test_net";
    l->appname = "test_net";
    l->fedauth = true;
    l->fedauth_echo = echo;
    l->fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
    l->fedauth_token = token;
    if (nonce) {
        l->fedauth_has_nonce = true;
        memcpy(l->fedauth_nonce, nonce, 32);
    }
}

/* ------------------------------------------------------------ FEDAUTH */

Test(net, fedauth_nonce_echoed)
{
    server_start("--fedauth-required");

    /* the nonce echoed: LOGINACK, and the ack carries nonce + HMAC */
    cli c = cli_connect();
    tds_prelogin pl = cli_prelogin(&c);
    cr_assert_eq(pl.fedauth_required, 1);
    cr_assert(pl.present & (1u << TDS_PL_NONCEOPT), "no NONCEOPT in the PRELOGIN answer");
    tds_login7 l;
    fedauth_login(&l, "secret-token", true, pl.nonce);
    login_result r = cli_login(&c, &l);
    cr_assert(r.ack, "login refused with %d", (int)r.error);
    cr_assert(r.fedauth_ack);
    cr_assert_eq(r.ack_len, 64);
    cr_assert_arr_eq(r.ack_data, pl.nonce, 32);
    uint8_t mac[32];
    unsigned int ml = sizeof mac;
    HMAC(EVP_sha256(), "secret-token", 12, pl.nonce, 32, mac, &ml);
    cr_assert_arr_eq(r.ack_data + 32, mac, 32);
    cli_close(&c);

    /* a nonce that is not the server's */
    c = cli_connect();
    pl = cli_prelogin(&c);
    pl.nonce[0] ^= 0xFF;
    fedauth_login(&l, "secret-token", true, pl.nonce);
    r = cli_login(&c, &l);
    cr_assert(!r.ack);
    cr_assert_eq(r.error, 18456);
    cli_close(&c);

    /* the echo bit must match FEDAUTHREQUIRED */
    c = cli_connect();
    pl = cli_prelogin(&c);
    fedauth_login(&l, "secret-token", false, pl.nonce);
    r = cli_login(&c, &l);
    cr_assert_eq(r.error, 18456);
    cli_close(&c);

    /* a token the scenario does not know */
    c = cli_connect();
    pl = cli_prelogin(&c);
    fedauth_login(&l, "other-token", true, pl.nonce);
    r = cli_login(&c, &l);
    cr_assert_eq(r.error, 18456);
    cli_close(&c);

    server_stop();
}

/* ------------------------------------------------------------ ATTENTION */

Test(net, attention_mid_result)
{
    server_start(NULL);
    cli c = cli_connect();
    tds_prelogin pl;
    memset(&pl, 0, sizeof pl);
    pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION);
    pl.encryption = TDS_ENCRYPT_NOT_SUP;
    cr_assert_eq(tds_send_prelogin(c.s, &pl), 0);
    cli_flush(&c);
    tds_expect_message(c.s);
    tds_event ev;
    cr_assert(cli_next(&c, &ev));
    tds_login7 l;
    memset(&l, 0, sizeof l);
    l.tds_version = TDS_VERSION_74;
    l.packet_size = 4096;
    l.username = "sa";
    l.password = "Passw0rd!";
    login_result r = cli_login(&c, &l);
    cr_assert(r.ack);

    const char *sql = "select * from many";
    cr_assert_eq(tds_send_sql_batch(c.s, sql, strlen(sql)), 0);
    cli_flush(&c);
    uint64_t rows = 0;
    bool attn_sent = false, attn_done = false;
    int ends = 0;
    while (!attn_done && cli_next(&c, &ev)) {
        if (ev.type == TDS_EV_ROW && ++rows == 100) {
            cr_assert_eq(tds_send_attention(c.s), 0);
            cli_flush(&c);
            attn_sent = true;
        } else if (ev.type == TDS_EV_DONE && (ev.u.done.status & TDS_DONE_ATTN)) {
            attn_done = true;
            cr_assert(ends >= 1, "DONE_ATTN inside the interrupted message");
        } else if (ev.type == TDS_EV_MESSAGE_END) {
            ends++;
        }
    }
    cr_assert(attn_sent && attn_done);
    cr_assert_lt(rows, 500000, "every row came although ATTENTION was sent");
    /* drain the end of the DONE_ATTN message, then the connection answers */
    while (cli_next(&c, &ev) && ev.type != TDS_EV_MESSAGE_END)
        ;
    sql = "select count(*) from many";
    cr_assert_eq(tds_send_sql_batch(c.s, sql, strlen(sql)), 0);
    cli_flush(&c);
    bool got = false;
    while (cli_next(&c, &ev) && ev.type != TDS_EV_MESSAGE_END)
        if (ev.type == TDS_EV_ROW) {
            int32_t v;
            memcpy(&v, ev.u.row.values[0].ptr, 4);
            cr_assert_eq(v, 500000);
            got = true;
        }
    cr_assert(got);
    cli_close(&c);
    server_stop();
}

/* ------------------------------------------------------------ built-in demo */

static void cli_login_plain(cli *c, const char *user, const char *password)
{
    tds_prelogin pl;
    memset(&pl, 0, sizeof pl);
    pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION);
    pl.encryption = TDS_ENCRYPT_NOT_SUP;
    cr_assert_eq(tds_send_prelogin(c->s, &pl), 0);
    cli_flush(c);
    tds_expect_message(c->s);
    tds_event ev;
    cr_assert(cli_next(c, &ev));
    tds_login7 l;
    memset(&l, 0, sizeof l);
    l.tds_version = TDS_VERSION_74;
    l.packet_size = 4096;
    l.username = user;
    l.password = password;
    login_result r = cli_login(c, &l);
    cr_assert(r.ack, "login as %s refused with %d", user, (int)r.error);
}

/* Runs sql; copies the first column of each row (raw wire bytes, at most
 * 63) into out[] and returns the row count. */
static size_t cli_column(cli *c, const char *sql, char out[][64], size_t max)
{
    cr_assert_eq(tds_send_sql_batch(c->s, sql, strlen(sql)), 0);
    cli_flush(c);
    tds_event ev;
    size_t rows = 0;
    while (cli_next(c, &ev) && ev.type != TDS_EV_MESSAGE_END) {
        cr_assert_neq(ev.type, TDS_EV_ERROR, "%s: error %d", sql, (int)ev.u.msg.number);
        if (ev.type != TDS_EV_ROW)
            continue;
        if (rows < max) {
            const tds_value *v = &ev.u.row.values[0];
            size_t n = v->len < 63 ? v->len : 63;
            memset(out[rows], 0, 64);
            if (!(v->flags & TDS_VF_NULL))
                memcpy(out[rows], v->ptr, n);
        }
        rows++;
    }
    return rows;
}

/* Started without --scenario, tdstestd serves scenarios/demo.json from
 * its own binary and says on stderr how to connect. */
Test(net, builtin_demo_without_scenario)
{
    char errfile[] = "/tmp/test_net_demo_XXXXXX";
    int fd = mkstemp(errfile);
    cr_assert(fd >= 0);
    close(fd);
    server_spawn(NULL, NULL, errfile);

    cli c = cli_connect();
    cli_login_plain(&c, "sa", "Passw0rd!");
    char vals[8][64];
    cr_assert_eq(cli_column(&c, "select email from dbo.customers order by id", vals, 8), 3);
    cr_assert_str_eq(vals[0], "ada@example.com");
    cr_assert_str_eq(vals[1], "", "NULL email");
    cr_assert_str_eq(vals[2], "zoe@example.com");
    cr_assert_eq(cli_column(&c, "select count(*) from sales.orders", vals, 8), 1);
    int32_t n;
    memcpy(&n, vals[0], 4);
    cr_assert_eq(n, 1000);
    /* a scripted rule of the demo scenario */
    cr_assert_eq(cli_column(&c, "select name from sys.server_principals", vals, 8), 2);
    cli_close(&c);

    /* the second login of the scenario, into its default database */
    c = cli_connect();
    cli_login_plain(&c, "reader", "reader");
    cr_assert_eq(cli_column(&c, "select db_name()", vals, 8), 1);
    cr_assert_eq(memcmp(vals[0], "d\0e\0m\0o\0", 8), 0, "database is not demo");
    cli_close(&c);

    server_stop();
    FILE *f = fopen(errfile, "r");
    cr_assert(f);
    char text[2048] = "";
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    unlink(errfile);
    char uri[128];
    snprintf(uri, sizeof uri, "mssql://sa:Passw0rd%%21@127.0.0.1:%d/demo?encrypt=disable", srv_port);
    cr_assert(strstr(text, uri), "stderr does not say how to connect:\n%s", text);
}
