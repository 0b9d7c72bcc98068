/*
 * main.c — the tdstestd command line.
 *
 *   tdstestd --scenario FILE [--host 127.0.0.1] [--port N]
 *            [--tls-cert PEM --tls-key PEM] [--tls-mode off|on|required]
 *            [--strict-port N] [--route-to HOST:PORT] [--fedauth-required]
 *            [--verbose]
 *
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

#include "net_int.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tdstestd --scenario FILE [--host ADDR] [--port N]\n"
            "                [--tls-cert PEM --tls-key PEM] [--tls-mode off|on|required]\n"
            "                [--strict-port N] [--route-to HOST:PORT] [--fedauth-required]\n"
            "                [--verbose]\n"
            "  --port 0 picks a free port and prints \"port N\" first on stdout.\n"
            "  --tls-mode defaults to \"on\" when a certificate is given, else \"off\".\n");
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

static uv_signal_t sig_term, sig_int;
static net_server server;

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    net_log(NULL, "signal %d: stopping", signum);
    net_server_stop(&server);
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
}

int main(int argc, char **argv)
{
    net_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.strict_port = -1;
    const char *scenario = NULL, *tls_mode = NULL;
    char *route = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG()                                                  \
    do {                                                            \
        if (!v) {                                                   \
            fprintf(stderr, "tdstestd: %s needs a value\n", a);     \
            return 2;                                               \
        }                                                           \
        i++;                                                        \
    } while (0)
        if (!strcmp(a, "--scenario")) {
            NEED_ARG();
            scenario = v;
        } else if (!strcmp(a, "--host")) {
            NEED_ARG();
            cfg.host = v;
        } else if (!strcmp(a, "--port")) {
            NEED_ARG();
            if (parse_port(v, &cfg.port) < 0) {
                fprintf(stderr, "tdstestd: bad --port %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--strict-port")) {
            NEED_ARG();
            if (parse_port(v, &cfg.strict_port) < 0) {
                fprintf(stderr, "tdstestd: bad --strict-port %s\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--tls-cert")) {
            NEED_ARG();
            cfg.cert_file = v;
        } else if (!strcmp(a, "--tls-key")) {
            NEED_ARG();
            cfg.key_file = v;
        } else if (!strcmp(a, "--tls-mode")) {
            NEED_ARG();
            tls_mode = v;
        } else if (!strcmp(a, "--route-to")) {
            NEED_ARG();
            route = (char *)v;
        } else if (!strcmp(a, "--fedauth-required")) {
            cfg.fedauth_required = true;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            cfg.verbose++;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "tdstestd: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
#undef NEED_ARG
    }
    if (!scenario) {
        usage(stderr);
        return 2;
    }
    if ((cfg.cert_file != NULL) != (cfg.key_file != NULL)) {
        fprintf(stderr, "tdstestd: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (!tls_mode)
        cfg.tls_mode = cfg.cert_file ? NET_TLS_ON : NET_TLS_OFF;
    else if (!strcmp(tls_mode, "off"))
        cfg.tls_mode = NET_TLS_OFF;
    else if (!strcmp(tls_mode, "on"))
        cfg.tls_mode = NET_TLS_ON;
    else if (!strcmp(tls_mode, "required"))
        cfg.tls_mode = NET_TLS_REQUIRED;
    else {
        fprintf(stderr, "tdstestd: --tls-mode is off, on or required\n");
        return 2;
    }
    char route_host[256];
    if (route) {
        const char *colon = strrchr(route, ':');
        int port = 0;
        if (!colon || colon == route || (size_t)(colon - route) >= sizeof route_host ||
            parse_port(colon + 1, &port) < 0 || port == 0) {
            fprintf(stderr, "tdstestd: --route-to wants HOST:PORT\n");
            return 2;
        }
        memcpy(route_host, route, (size_t)(colon - route));
        route_host[colon - route] = 0;
        cfg.route_host = route_host;
        cfg.route_port = (uint16_t)port;
    }

    /* A client that hangs up mid-reply must not kill the server. */
    signal(SIGPIPE, SIG_IGN);

    char err[512] = "";
    srv_db *db = srv_db_load(scenario, err, sizeof err);
    if (!db) {
        fprintf(stderr, "tdstestd: scenario %s: %s\n", scenario, err);
        return 1;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    int status = 0;
    if (net_server_init(&server, &loop, &cfg, db, err, sizeof err) < 0) {
        fprintf(stderr, "tdstestd: %s\n", err);
        status = 1;
    } else {
        int r = net_server_listen(&server);
        if (r < 0) {
            fprintf(stderr, "tdstestd: listen on %s: %s\n", cfg.host, uv_strerror(r));
            status = 1;
            net_server_stop(&server);
        } else {
            if (cfg.port == 0)
                printf("port %d\n", server.port);
            if (cfg.strict_port == 0)
                printf("strict-port %d\n", server.strict_port);
            fflush(stdout);
            fprintf(stderr, "tdstestd: listening on %s:%d%s", cfg.host, server.port,
                    server.strict_on ? "" : "\n");
            if (server.strict_on)
                fprintf(stderr, ", strict TDS 8.0 on %d\n", server.strict_port);
            uv_signal_init(&loop, &sig_term);
            uv_signal_init(&loop, &sig_int);
            uv_signal_start(&sig_term, on_signal, SIGTERM);
            uv_signal_start(&sig_int, on_signal, SIGINT);
        }
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    net_server_free(&server);
    if (uv_loop_close(&loop) != 0) {
        /* Something is still open: run once more to let closes finish. */
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    srv_db_free(db);
    return status;
}
