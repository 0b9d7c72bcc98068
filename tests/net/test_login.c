/*
 * test_login.c — net/login.c against tdstestd: SQL login, access-token
 * login (FEDAUTH, with and without FEDAUTHREQUIRED/nonce), the server's
 * login error verbatim and without the password, database selection,
 * packet size negotiation, and Azure-style routing (followed once, TLS
 * verified against the new host, a second redirect refused).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

static th_server start(const char *const *args)
{
    NEED_SERVER();
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("login", 100, ""), args), "tdstestd did not start");
    return s;
}

static int count_rows(net_client *cl, uint64_t *rows, net_error *e)
{
    th_count cnt = {0};
    int rc = net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, e);
    *rows = cnt.rows;
    return rc;
}

Test(login, sql_login)
{
    th_server s = start(NULL);
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_str_eq(net_conn_database(net_client_conn(cl)), "sales");
    uint64_t rows;
    cr_assert_eq(count_rows(cl, &rows, &e), NET_OK, "%s", e.message);
    cr_assert_eq(rows, 100);
    net_client_close(cl);
    th_stop(&s);
}

Test(login, failure_is_verbatim_and_has_no_password)
{
    th_server s = start(NULL);
    net_opts o = th_opts(s.port);
    o.password = "Wrong-Pa55word!";
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_LOGIN);
    cr_assert_eq(e.server_number, 18456);
    cr_assert(strstr(e.message, "Login failed for user 'sa'."), "%s", e.message);
    cr_assert(strstr(e.message, "18456"), "%s", e.message);
    cr_assert_null(strstr(e.message, "Wrong-Pa55word"), "%s", e.message);
    cr_assert_null(strstr(e.message, "Secret"), "%s", e.message);
    cr_assert(e.during_login);
    th_stop(&s);
}

Test(login, access_token)
{
    th_server s = start(NULL);
    net_opts o = th_opts(s.port);
    o.user = NULL;
    o.password = "good-token";
    o.password_is_token = true; /* Authentication=ActiveDirectoryAccessToken */
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    uint64_t rows;
    cr_assert_eq(count_rows(cl, &rows, &e), NET_OK, "%s", e.message);
    net_client_close(cl);
    th_stop(&s);
}

Test(login, access_token_with_fedauth_required_and_nonce)
{
    const char *args[] = {"--fedauth-required", NULL};
    th_server s = start(args);
    net_opts o = th_opts(s.port);
    o.user = NULL;
    o.password = NULL;
    o.access_token = "good-token";
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_client_close(cl);
    o.access_token = "bad-token-XYZ";
    cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_LOGIN);
    cr_assert_eq(e.server_number, 18456);
    cr_assert_null(strstr(e.message, "bad-token-XYZ"), "%s", e.message);
    th_stop(&s);
}

Test(login, database_selection)
{
    th_server s = start(NULL);
    net_opts o = th_opts(s.port);
    o.database = "other";
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_str_eq(net_conn_database(net_client_conn(cl)), "other");
    net_client_close(cl);
    o.database = "nosuchdb";
    cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_LOGIN);
    cr_assert_eq(e.server_number, 4060);
    cr_assert(strstr(e.message, "nosuchdb"), "%s", e.message);
    th_stop(&s);
}

Test(login, packet_size_negotiated)
{
    th_server s = start(NULL);
    const uint32_t sizes[] = {0, 512, 8192, 32767};
    const uint32_t want[] = {NET_DEFAULT_PACKET_SIZE, 512, 8192, 32767};
    for (int i = 0; i < 4; i++) {
        net_opts o = th_opts(s.port);
        o.packet_size = sizes[i];
        net_error e;
        net_client *cl = net_client_open(&o, &e);
        cr_assert_not_null(cl, "%s", e.message);
        uint64_t rows;
        cr_assert_eq(count_rows(cl, &rows, &e), NET_OK, "%s", e.message);
        cr_assert_eq(rows, 100);
        cr_assert_eq(net_conn_packet_size(net_client_conn(cl)), want[i]);
        net_client_close(cl);
    }
    th_stop(&s);
}

Test(login, routing_followed_once)
{
    th_server b = start(NULL);
    char route[64];
    snprintf(route, sizeof route, "127.0.0.1:%d", b.port);
    const char *args[] = {"--route-to", route, NULL};
    th_server a = start(args);
    net_opts o = th_opts(a.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(net_conn_port(net_client_conn(cl)), b.port);
    cr_assert_eq(net_conn_connects(net_client_conn(cl)), 2);
    uint64_t rows;
    cr_assert_eq(count_rows(cl, &rows, &e), NET_OK, "%s", e.message);
    cr_assert_eq(rows, 100);
    net_client_close(cl);
    th_stop(&a);
    th_stop(&b);
}

Test(login, routing_strips_instance_and_verifies_tls_against_new_host)
{
    NEED_SERVER();
    const char *d = th_certs();
    char cert[512], key[512], ca[512], route[128];
    snprintf(cert, sizeof cert, "%s/server.pem", d);
    snprintf(key, sizeof key, "%s/server.key", d);
    snprintf(ca, sizeof ca, "%s/ca.pem", d);
    const char *bargs[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    th_server b = start(bargs);
    /* The redirect names "localhost\INST": the instance is stripped and
     * the certificate (valid for localhost) is checked against localhost. */
    snprintf(route, sizeof route, "localhost\\INST:%d", b.port);
    const char *aargs[] = {"--tls-cert", cert, "--tls-key", key, "--route-to", route, NULL};
    th_server a = start(aargs);
    net_opts o = th_opts(a.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_str_eq(net_conn_host(net_client_conn(cl)), "localhost");
    net_client_close(cl);
    th_stop(&a);
    th_stop(&b);
}

Test(login, routing_twice_is_refused)
{
    th_server c = start(NULL);
    char route[64];
    snprintf(route, sizeof route, "127.0.0.1:%d", c.port);
    const char *bargs[] = {"--route-to", route, NULL};
    th_server b = start(bargs);
    snprintf(route, sizeof route, "127.0.0.1:%d", b.port);
    const char *aargs[] = {"--route-to", route, NULL};
    th_server a = start(aargs);
    net_opts o = th_opts(a.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_null(cl);
    cr_assert_eq(e.code, NET_E_ROUTING, "%d %s", e.code, e.message);
    th_stop(&a);
    th_stop(&b);
    th_stop(&c);
}

Test(login, packet_size_capped_by_server)
{
    /* Some servers cap encrypted connections at 16383: the default
     * request (32767) is answered with less, and the client follows. */
    NEED_SERVER();
    const char *scen = th_scenario("cap",
        "{\"server\":{\"max_packet_size\":16383},"
        "\"logins\":[{\"user\":\"sa\",\"password\":\"Secret#1\",\"database\":\"sales\"}],"
        "\"databases\":[{\"name\":\"sales\",\"tables\":[{\"name\":\"narrow\",\"rows\":3000,"
        "\"columns\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"name\",\"type\":\"nvarchar(32)\"}]}]}]}");
    th_server s;
    cr_assert(th_start(&s, scen, NULL));
    net_opts o = th_opts(s.port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(net_conn_packet_size(net_client_conn(cl)), 16383);
    uint64_t rows;
    cr_assert_eq(count_rows(cl, &rows, &e), NET_OK, "%s", e.message);
    cr_assert_eq(rows, 3000);
    net_client_close(cl);
    th_stop(&s);
}
