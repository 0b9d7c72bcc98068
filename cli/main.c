/*
 * main.c — the `tdspipe` command: `ingest`, `version`, `help`, `--version`,
 * `--help` (also per command). Owns the exit code and the one-line error
 * format "tdspipe: …" (secrets redacted). Secrets in argv are overwritten
 * as soon as the flags are copied (secrets.c). The one place where the
 * process's signal dispositions change: SIGINT/SIGTERM set the flag the
 * load polls (the library installs no handler); a second one kills. A
 * one-shot load fails on it (exit 1, destination unchanged); with
 * --stream the poll in flight commits and the exit is 0.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "net.h"
#include "tdspipe_version.h"

static volatile sig_atomic_t cancelled;

static void on_signal(int sig)
{
    (void)sig;
    cancelled = 1;
}

/* SA_RESETHAND: the first signal cancels the load (the destination stays
 * as it was), a second one ends the process the default way. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_err(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    cli_secrets_redact_all(msg);
    fprintf(stderr, "tdspipe: %s\n", msg);
}

static void main_help(FILE *f)
{
    fprintf(f, "usage: tdspipe COMMAND [flags]\n\n"
               "commands:\n"
               "  ingest     copy a SQL Server table or query into a destination (ingestr-compatible)\n"
               "  version    print the version\n"
               "  help       this help (tdspipe help ingest: the flags of ingest)\n\n"
               "  --version  print the version;  --help  this help\n\n"
               "Example:\n"
               "  tdspipe ingest --source-uri 'mssql://sa:secret@localhost:1433/demo?encrypt=disable' \\\n"
               "                 --source-table dbo.customers --dest-uri duckdb:///out.duckdb\n");
}

static void version(void)
{
    printf("tdspipe %s\n", TDSPIPE_VERSION_STRING);
}

/* p points at ":hmac:" (the algorithm in any case) */
static bool at_hmac(const char *p)
{
    for (int i = 0; i < 4; i++)
        if ((p[1 + i] | 0x20) != "hmac"[i])
            return false;
    return p[0] == ':' && p[5] == ':';
}

/* --mask hmac keys are secrets, as passwords are: overwritten in argv
 * (/proc/PID/cmdline) once parsed (up to the ',' that ends a spec), and
 * registered so that no message prints them. */
/* ActiveDirectoryPassword works, but Microsoft is retiring the password
 * grant (and it fails under multifactor authentication): the library may
 * not print, so the command says so once per URI that uses it (issue 15). */
static void warn_entra_password(const cli_opts *o)
{
    const char *uris[] = {o->source_uri, o->dest_uri};
    for (size_t i = 0; i < 2; i++) {
        net_opts no = {0};
        char why[300];
        if (uris[i] && net_opts_from_uri(&no, uris[i], why, sizeof why) == NET_OK && no.auth == NET_AUTH_PASSWORD)
            cli_err("warning: %s URI: ActiveDirectoryPassword uses the password grant, which Microsoft is retiring "
                    "and which fails for accounts with multifactor authentication; prefer "
                    "ActiveDirectoryServicePrincipal or a managed or workload identity", i ? "destination" : "source");
        net_opts_free(&no);
    }
}

static void hide_hmac_keys(int argc, char **argv, const cli_opts *o)
{
    for (int i = 2; i < argc; i++)
        for (char *p = argv[i]; (p = strchr(p, ':')) != NULL; p++)
            if (at_hmac(p))
                for (char *k = p + 6; *k && *k != ','; k++)
                    *k = '*';
    for (size_t i = 0; i < o->masks.n; i++) { /* "column:hmac:KEY": the first ':' ends the column */
        const char *c1 = strchr(o->masks.v[i], ':');
        if (c1 && at_hmac(c1))
            cli_secrets_register(c1 + 6);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        main_help(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
        if (argc > 2 && strcmp(argv[2], "--help")) {
            cli_err("version takes no arguments");
            return CLI_EXIT_USAGE;
        }
        if (argc > 2) {
            printf("usage: tdspipe version\n\nPrints the version.\n");
            return CLI_EXIT_OK;
        }
        version();
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc > 2 && !strcmp(argv[2], "ingest"))
            cli_flags_help(stdout);
        else if (argc > 2 && !strcmp(argv[2], "version"))
            printf("usage: tdspipe version\n\nPrints the version.\n");
        else if (argc > 2) {
            cli_err("unknown command '%.60s' (use ingest or version)", argv[2]);
            return CLI_EXIT_USAGE;
        } else
            main_help(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "ingest")) {
        if (strstr(cmd, "://"))
            cli_err("unknown command (use ingest or version; see tdspipe --help)");
        else
            cli_err("unknown command '%.60s' (use ingest or version; see tdspipe --help)", cmd);
        cli_secrets_scrub_argv(argc, argv);
        return CLI_EXIT_USAGE;
    }

    cli_opts o;
    char err[512];
    int rc = cli_flags_parse(&o, argc, argv, 2, err, sizeof err);
    /* the URIs are copied (or parsing stopped): hide the secrets now */
    cli_secrets_scrub_argv(argc, argv);
    hide_hmac_keys(argc, argv, &o);
    if (rc) {
        if (o.source_uri) {
            /* a message never quotes a URI, but be safe */
            cli_secrets_register_uri(o.source_uri);
            cli_secrets_register_uri(o.dest_uri);
        }
        cli_err("%s", err);
        cli_secrets_forget();
        cli_opts_free(&o);
        return rc;
    }
    if (o.help) {
        cli_flags_help(stdout);
        cli_opts_free(&o);
        return CLI_EXIT_OK;
    }
    warn_entra_password(&o);
    catch_signals();
    rc = cli_ingest(&o, &cancelled);
    cli_opts_free(&o);
    return rc;
}
