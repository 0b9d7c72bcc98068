/*
 * main.c — the tdstestd command line.
 *
 *   tdstestd [--scenario FILE] [--host 127.0.0.1] [--port N]
 *            [--tls-cert PEM --tls-key PEM] [--tls-mode off|on|required]
 *            [--strict-port N] [--route-to HOST:PORT] [--fedauth-required]
 *            [--fedauth-sts-url URL | --fedauth-tenant T] [--fedauth-spn SPN]
 *            [--fedauth-issuer-cert PEM] [--fedauth-audience AUD]
 *            [--no-2025-types] [--verbose]
 *
 * Without --scenario it serves the built-in demo (scenarios/demo.json,
 * compiled in) and says on stderr how to connect to it.
 * --port 0 (the default) picks a free port and prints "port N" as the
 * first line on stdout; with --strict-port 0 a second line "strict-port N"
 * follows. Both are flushed before the first connection is accepted.
 * SIGTERM/SIGINT stop cleanly: listeners and connections are closed,
 * everything is freed, exit status 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "network_int.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tdstestd [--scenario FILE] [--host ADDR] [--port N]\n"
            "                [--tls-cert PEM --tls-key PEM] [--tls-mode off|on|required]\n"
            "                [--strict-port N] [--route-to HOST:PORT] [--fedauth-required]\n"
            "                [--fedauth-sts-url URL | --fedauth-tenant T] [--fedauth-spn SPN]\n"
            "                [--fedauth-issuer-cert PEM] [--fedauth-audience AUD]\n"
            "                [--no-2025-types] [--rate-limit-mbs MB/S] [--verbose]\n"
            "  Without --scenario, serves the built-in demo (login sa / Passw0rd!, database demo).\n"
            "  --port 0 picks a free port and prints \"port N\" first on stdout.\n"
            "  --tls-mode defaults to \"on\" when a certificate is given, else \"off\".\n"
            "  FEDAUTH (Entra): FEDAUTHINFO carries --fedauth-sts-url (default\n"
            "  https://login.microsoftonline.com/<--fedauth-tenant, default common>) and --fedauth-spn\n"
            "  (default https://database.windows.net/). With --fedauth-issuer-cert a token must be an\n"
            "  RS256 JWT of that key, unexpired, for --fedauth-audience (default\n"
            "  https://database.windows.net/); the scenario's token logins then apply.\n"
            "  --no-2025-types: never acknowledge JSONSUPPORT / VECTORSUPPORT.\n");
}

static int parse_port(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < 0 || v > 65535)
        return -1;
    *out = (int)v;
    return 0;
}

/* What the command line asked for. */
typedef struct options {
    srv_net_config cfg;
    const char *scenario;    /* NULL: the built-in demo */
    const char *tls_mode;
    const char *route;
    char route_host[256];
} options;

/* Matches one flag that takes a value: sets *v and steps over it. Returns
 * true when argv[*i] is that flag; on a missing value *v stays NULL. */
static bool flag_value(int argc, char **argv, int *i, const char *name, const char **v)
{
    if (strcmp(argv[*i], name) != 0)
        return false;
    *v = *i + 1 < argc ? argv[++*i] : NULL;
    if (!*v)
        fprintf(stderr, "tdstestd: %s needs a value\n", name);
    return true;
}

/* One argument (and its value). Returns -1 to go on, else the exit status. */
static int parse_arg(options *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v = NULL;
    if (flag_value(argc, argv, i, "--scenario", &v))
        o->scenario = v;
    else if (flag_value(argc, argv, i, "--host", &v))
        o->cfg.host = v;
    else if (flag_value(argc, argv, i, "--port", &v)) {
        if (v && parse_port(v, &o->cfg.port) < 0) {
            fprintf(stderr, "tdstestd: bad --port %s\n", v);
            return 2;
        }
    } else if (flag_value(argc, argv, i, "--strict-port", &v)) {
        if (v && parse_port(v, &o->cfg.strict_port) < 0) {
            fprintf(stderr, "tdstestd: bad --strict-port %s\n", v);
            return 2;
        }
    } else if (flag_value(argc, argv, i, "--tls-cert", &v))
        o->cfg.cert_file = v;
    else if (flag_value(argc, argv, i, "--tls-key", &v))
        o->cfg.key_file = v;
    else if (flag_value(argc, argv, i, "--tls-mode", &v))
        o->tls_mode = v;
    else if (flag_value(argc, argv, i, "--route-to", &v))
        o->route = v;
    else if (flag_value(argc, argv, i, "--fedauth-sts-url", &v))
        o->cfg.fedauth_sts_url = v;
    else if (flag_value(argc, argv, i, "--fedauth-tenant", &v))
        o->cfg.fedauth_tenant = v;
    else if (flag_value(argc, argv, i, "--fedauth-spn", &v))
        o->cfg.fedauth_spn = v;
    else if (flag_value(argc, argv, i, "--fedauth-issuer-cert", &v))
        o->cfg.fedauth_issuer_cert = v;
    else if (flag_value(argc, argv, i, "--fedauth-audience", &v))
        o->cfg.fedauth_audience = v;
    else if (flag_value(argc, argv, i, "--rate-limit-mbs", &v)) { /* faults.c */
        char *end = NULL;
        o->cfg.rate_limit_mbs = v ? strtod(v, &end) : 0;
        if (!v || *end || !(o->cfg.rate_limit_mbs > 0)) {
            fprintf(stderr, "tdstestd: bad --rate-limit-mbs %s\n", v ? v : "");
            return 2;
        }
    } else {
        if (!strcmp(a, "--fedauth-required"))
            o->cfg.fedauth_required = true;
        else if (!strcmp(a, "--no-2025-types"))
            o->cfg.no_types2025 = true;
        else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
            o->cfg.verbose++;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tdstestd: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
        return -1;
    }
    return v ? -1 : 2;
}

/* --tls-mode and --route-to into the config. Returns -1 or exit status 2. */
static int finish_options(options *o)
{
    srv_net_config *cfg = &o->cfg;
    if ((cfg->cert_file != NULL) != (cfg->key_file != NULL)) {
        fprintf(stderr, "tdstestd: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (!o->tls_mode)
        cfg->tls_mode = cfg->cert_file ? SRV_NET_TLS_ON : SRV_NET_TLS_OFF;
    else if (!strcmp(o->tls_mode, "off"))
        cfg->tls_mode = SRV_NET_TLS_OFF;
    else if (!strcmp(o->tls_mode, "on"))
        cfg->tls_mode = SRV_NET_TLS_ON;
    else if (!strcmp(o->tls_mode, "required"))
        cfg->tls_mode = SRV_NET_TLS_REQUIRED;
    else {
        fprintf(stderr, "tdstestd: --tls-mode is off, on or required\n");
        return 2;
    }
    if (o->route) {
        const char *colon = strrchr(o->route, ':');
        int port = 0;
        if (!colon || colon == o->route || (size_t)(colon - o->route) >= sizeof o->route_host ||
            parse_port(colon + 1, &port) < 0 || port == 0) {
            fprintf(stderr, "tdstestd: --route-to wants HOST:PORT\n");
            return 2;
        }
        memcpy(o->route_host, o->route, (size_t)(colon - o->route));
        o->route_host[colon - o->route] = 0;
        cfg->route_host = o->route_host;
        cfg->route_port = (uint16_t)port;
    }
    return -1;
}

/* Returns -1 to serve, else the exit status (0 after --help). */
static int parse_options(options *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    o->cfg.host = "127.0.0.1";
    o->cfg.port = 0;
    o->cfg.strict_port = -1;
    for (int i = 1; i < argc; i++) {
        int r = parse_arg(o, argc, argv, &i);
        if (r >= 0)
            return r;
    }
    return finish_options(o);
}

/* The scenario file, or the demo compiled in (demo_scenario.c, made from
 * scenarios/demo.json by embed_scenario.cmake). */
static srv_db *load_scenario(const char *path)
{
    char err[512] = "";
    srv_db *db = path ? srv_db_load(path, err, sizeof err)
                      : srv_db_load_text(srv_demo_scenario, srv_demo_scenario_len, "built-in demo",
                                         err, sizeof err);
    if (!db)
        fprintf(stderr, "tdstestd: scenario %s: %s\n", path ? path : "built-in demo", err);
    return db;
}

static uv_signal_t sig_term, sig_int;
static srv_net_server server;

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    srv_net_log(NULL, "signal %d: stopping", signum);
    srv_net_server_stop(&server);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
}

/* The ports on stdout (for scripts: "port N" first, flushed before any
 * connection is accepted), where it listens on stderr, and for the demo
 * how to connect. */
static void announce(const options *o)
{
    const srv_net_config *cfg = &o->cfg;
    if (cfg->port == 0)
        printf("port %d\n", server.port);
    if (cfg->strict_port == 0)
        printf("strict-port %d\n", server.strict_port);
    fflush(stdout);
    fprintf(stderr, "tdstestd: listening on %s:%d%s", cfg->host, server.port,
            server.strict_on ? "" : "\n");
    if (server.strict_on)
        fprintf(stderr, ", strict TDS 8.0 on %d\n", server.strict_port);
    if (!o->scenario) {
        bool v6 = strchr(cfg->host, ':') != NULL;
        fprintf(stderr,
                "tdstestd: built-in demo scenario; connect with "
                "mssql://sa:Passw0rd%%21@%s%s%s:%d/demo%s\n",
                v6 ? "[" : "", cfg->host, v6 ? "]" : "", server.port,
                cfg->tls_mode == SRV_NET_TLS_OFF ? "?encrypt=disable" : "");
    }
}

/* Listens and installs the stop signals. Returns 0 or 1 (reason printed). */
static int serve(uv_loop_t *loop, const options *o, srv_db *db)
{
    char err[512] = "";
    if (srv_net_server_init(&server, loop, &o->cfg, db, err, sizeof err) < 0) {
        fprintf(stderr, "tdstestd: %s\n", err);
        return 1;
    }
    int r = srv_net_server_listen(&server);
    if (r < 0) {
        fprintf(stderr, "tdstestd: listen on %s: %s\n", o->cfg.host, uv_strerror(r));
        srv_net_server_stop(&server);
        return 1;
    }
    announce(o);
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    int r = parse_options(&o, argc, argv);
    if (r >= 0)
        return r;

    /* A client that hangs up mid-reply must not kill the server. */
    signal(SIGPIPE, SIG_IGN);

    srv_db *db = load_scenario(o.scenario);
    if (!db)
        return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    int status = serve(&loop, &o, db);
    uv_run(&loop, UV_RUN_DEFAULT);
    srv_net_server_free(&server);
    if (uv_loop_close(&loop) != 0) {
        /* Something is still open: run once more to let closes finish. */
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    srv_db_free(db);
    return status;
}
