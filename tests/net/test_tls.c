/*
 * test_tls.c — net/tls.c and the encryption half of net/login.c against
 * tdstestd: every encrypt mode (disable, optional, mandatory, strict)
 * against servers without a certificate, with TLS on, TLS required and a
 * TDS 8.0 strict listener, and every certificate failure with its own
 * error: untrusted, host name mismatch, expired; plus "server cannot
 * encrypt", "encryption required" and "strict without TDS 8.0".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

static char cert[512], key[512], ca[512];

static void certs(const char *name)
{
    const char *d = th_certs();
    snprintf(cert, sizeof cert, "%s/%s.pem", d, name);
    snprintf(key, sizeof key, "%s/%s.key", d, name);
    snprintf(ca, sizeof ca, "%s/ca.pem", d);
}

/* Starts a server with the given certificate (NULL: none) and mode. */
static void start(th_server *s, const char *certname, const char *mode, bool strict)
{
    NEED_SERVER();
    const char *scen = th_scenario_default("tls", 2000, "");
    const char *args[12];
    int n = 0;
    if (certname) {
        certs(certname);
        args[n++] = "--tls-cert";
        args[n++] = cert;
        args[n++] = "--tls-key";
        args[n++] = key;
    } else {
        certs("server");
    }
    if (mode) {
        args[n++] = "--tls-mode";
        args[n++] = mode;
    }
    if (strict) {
        args[n++] = "--strict-port";
        args[n++] = "0";
    }
    args[n] = NULL;
    cr_assert(th_start(s, scen, args), "tdstestd did not start");
}

/* Opens, runs the narrow table, returns the error code; fills e. */
static int run(const net_opts *o, net_error *e, char *enc, size_t enccap)
{
    net_client *cl = net_client_open(o, e);
    if (!cl)
        return e->code;
    if (enc)
        snprintf(enc, enccap, "%s", net_conn_encryption(net_client_conn(cl)));
    th_count cnt = {0};
    int rc = net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, e);
    if (rc == NET_OK)
        cr_assert_eq(cnt.rows, 2000);
    net_client_close(cl);
    return rc;
}

Test(tls, disable_against_plain_server)
{
    th_server s;
    start(&s, NULL, NULL, false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_DISABLE;
    net_error e;
    char enc[32];
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    cr_assert_str_eq(enc, "none");
    th_stop(&s);
}

Test(tls, optional_is_login_only)
{
    th_server s;
    start(&s, "server", "on", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_OPTIONAL;
    net_error e;
    char enc[32];
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    cr_assert_str_eq(enc, "login-only");
    th_stop(&s);
}

Test(tls, optional_against_server_without_cert)
{
    th_server s;
    start(&s, NULL, NULL, false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_OPTIONAL;
    net_error e;
    char enc[32];
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    cr_assert_str_eq(enc, "none");
    th_stop(&s);
}

Test(tls, optional_against_required_server_is_full)
{
    th_server s;
    start(&s, "server", "required", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_OPTIONAL;
    net_error e;
    char enc[32];
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    cr_assert_str_eq(enc, "TLSv1.2");
    th_stop(&s);
}

Test(tls, mandatory_with_ca_file)
{
    th_server s;
    start(&s, "server", "on", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    net_error e;
    char enc[32];
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    cr_assert_str_eq(enc, "TLSv1.2", "TDS 7.x TLS is at most 1.2");
    /* by name as well (the certificate names localhost too) */
    o.host = "localhost";
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    th_stop(&s);
}

Test(tls, mandatory_against_required_server)
{
    th_server s;
    start(&s, "server", "required", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_OK, "%s", e.message);
    th_stop(&s);
}

Test(tls, untrusted_certificate)
{
    th_server s;
    start(&s, "server", "on", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY; /* system store: the test CA is not in it */
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_TLS_UNTRUSTED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "not trusted"), "%s", e.message);
    cr_assert(strstr(e.message, "TrustServerCertificate"), "%s", e.message);
    cr_assert_null(strchr(e.message, '\n'));
    th_stop(&s);
}

Test(tls, trust_server_certificate_skips_checks)
{
    th_server s;
    start(&s, "expired", "on", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.trust_server_cert = true;
    net_error e;
    char enc[32];
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    cr_assert_str_eq(enc, "TLSv1.2");
    th_stop(&s);
}

Test(tls, host_name_mismatch_and_override)
{
    th_server s;
    start(&s, "wronghost", "on", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_TLS_HOSTNAME, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "127.0.0.1"), "%s", e.message);
    cr_assert(strstr(e.message, "HostNameInCertificate"), "%s", e.message);
    o.host_in_cert = "wrong.example.invalid";
    cr_assert_eq(run(&o, &e, NULL, 0), NET_OK, "%s", e.message);
    th_stop(&s);
}

Test(tls, expired_certificate)
{
    th_server s;
    start(&s, "expired", "on", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_TLS_EXPIRED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "expired"), "%s", e.message);
    th_stop(&s);
}

Test(tls, server_cannot_encrypt_while_mandatory)
{
    th_server s;
    start(&s, NULL, NULL, false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_ENCRYPT_UNSUPPORTED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "cannot encrypt"), "%s", e.message);
    th_stop(&s);
}

Test(tls, disable_against_required_server)
{
    th_server s;
    start(&s, "server", "required", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_DISABLE;
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_ENCRYPT_REQUIRED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "requires encryption"), "%s", e.message);
    th_stop(&s);
}

Test(tls, strict_tds8)
{
    th_server s;
    start(&s, "server", "on", true);
    net_opts o = th_opts(s.strict_port);
    o.encrypt = NET_ENCRYPT_STRICT;
    o.ca_file = ca;
    net_error e;
    char enc[32];
    cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "%s", e.message);
    cr_assert_str_eq(enc, "TLSv1.3 strict");
    th_stop(&s);
}

Test(tls, strict_checks_certificates_too)
{
    th_server s;
    start(&s, "wronghost", "on", true);
    net_opts o = th_opts(s.strict_port);
    o.encrypt = NET_ENCRYPT_STRICT;
    o.ca_file = ca;
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_TLS_HOSTNAME, "%d %s", e.code, e.message);
    th_stop(&s);
}

Test(tls, strict_against_tds7_server)
{
    th_server s;
    start(&s, "server", "on", false);
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_STRICT;
    o.ca_file = ca;
    net_error e;
    uint64_t t0 = th_now_ms();
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_STRICT_UNSUPPORTED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "TDS 8.0"), "%s", e.message);
    cr_assert_lt(th_now_ms() - t0, 4000, "must not wait for the connect timeout");
    th_stop(&s);
}

Test(tls, tds7_client_against_strict_listener)
{
    th_server s;
    start(&s, "server", "on", true);
    net_opts o = th_opts(s.strict_port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    o.connect_timeout_ms = 3000;
    net_error e;
    int rc = run(&o, &e, NULL, 0);
    cr_assert_neq(rc, NET_OK);
    cr_assert(strstr(e.message, "strict"), "%d %s", e.code, e.message);
    th_stop(&s);
}

Test(tls, large_access_token_in_small_records)
{
    /* A 24 KB token makes a multi-packet LOGIN7: each TDS packet must go
     * in its own TLS record (no record bigger than the packet size). */
    NEED_SERVER();
    certs("server");
    const char *scen = th_scenario("bigtoken",
        "{\"logins\":[{\"token\":\"*\",\"database\":\"sales\"}],"
        "\"databases\":[{\"name\":\"sales\",\"tables\":[{\"name\":\"t\",\"rows\":5,"
        "\"columns\":[{\"name\":\"id\",\"type\":\"int\"}]}]}]}");
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--tls-mode", "on", "--fedauth-required", NULL};
    th_server s;
    cr_assert(th_start(&s, scen, args));
    static char tok[24001];
    for (size_t i = 0; i < sizeof tok - 1; i++)
        tok[i] = (char)('a' + i % 26);
    net_opts o = th_opts(s.port);
    o.user = NULL;
    o.password = NULL;
    o.access_token = tok;
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    cr_assert_eq(net_client_batch(cl, "SELECT * FROM t", &th_count_cb, &cnt, &e), NET_OK, "%s", e.message);
    cr_assert_eq(cnt.rows, 5);
    net_client_close(cl);
    th_stop(&s);
}

Test(tls, every_mode_with_every_login_kind)
{
    /* disable, optional, mandatory and strict, each with a SQL login and
     * an access token (FEDAUTH with FEDAUTHREQUIRED and nonce). */
    NEED_SERVER();
    certs("server");
    const char *scen = th_scenario_default("matrix", 2000, "");
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--tls-mode", "on",
                          "--strict-port", "0", "--fedauth-required", NULL};
    th_server s;
    cr_assert(th_start(&s, scen, args));
    static const struct { net_encrypt enc; const char *want; } modes[] = {
        {NET_ENCRYPT_DISABLE, "none"},
        {NET_ENCRYPT_OPTIONAL, "login-only"},
        {NET_ENCRYPT_MANDATORY, "TLSv1.2"},
        {NET_ENCRYPT_STRICT, "TLSv1.3 strict"},
    };
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
        for (int token = 0; token < 2; token++) {
            net_opts o = th_opts(modes[m].enc == NET_ENCRYPT_STRICT ? s.strict_port : s.port);
            o.encrypt = modes[m].enc;
            o.ca_file = ca;
            if (token) {
                o.user = NULL;
                o.password = "good-token";
                o.password_is_token = true;
            }
            net_error e;
            char enc[32];
            cr_assert_eq(run(&o, &e, enc, sizeof enc), NET_OK, "mode %zu token %d: %s", m, token, e.message);
            cr_assert_str_eq(enc, modes[m].want, "mode %zu token %d", m, token);
        }
    th_stop(&s);
}

Test(tls, wildcard_host_name_in_certificate)
{
    /* Azure style: the certificate carries *.example.invalid and the user
     * writes HostNameInCertificate=*.example.invalid. */
    NEED_SERVER();
    const char *d = th_certs();
    char cmd[4096], wc[600], wk[600];
    snprintf(wc, sizeof wc, "%s/wild.%d.pem", d, (int)getpid());
    snprintf(wk, sizeof wk, "%s/wild.%d.key", d, (int)getpid());
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl req -newkey rsa:2048 -nodes -keyout '%s' -out w.%d.csr -subj /CN=wild "
             ">/dev/null 2>&1 && printf 'subjectAltName=DNS:*.example.invalid\\nextendedKeyUsage=serverAuth\\n' > w.%d.ext && "
             "openssl x509 -req -in w.%d.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile w.%d.ext "
             "-out '%s' >/dev/null 2>&1 && rm -f w.%d.csr w.%d.ext",
             d, wk, (int)getpid(), (int)getpid(), (int)getpid(), (int)getpid(), wc, (int)getpid(), (int)getpid());
    cr_assert_eq(system(cmd), 0, "openssl failed");
    certs("server");
    const char *args[] = {"--tls-cert", wc, "--tls-key", wk, NULL};
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("wild", 2000, ""), args));
    net_opts o = th_opts(s.port);
    o.encrypt = NET_ENCRYPT_MANDATORY;
    o.ca_file = ca;
    net_error e;
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_TLS_HOSTNAME, "%d %s", e.code, e.message);
    o.host_in_cert = "*.example.invalid";
    cr_assert_eq(run(&o, &e, NULL, 0), NET_OK, "%s", e.message);
    o.host_in_cert = "*.other.invalid";
    cr_assert_eq(run(&o, &e, NULL, 0), NET_E_TLS_HOSTNAME, "%d %s", e.code, e.message);
    o.host_in_cert = "db1.example.invalid";
    cr_assert_eq(run(&o, &e, NULL, 0), NET_OK, "%s", e.message);
    th_stop(&s);
    unlink(wc);
    unlink(wk);
}
