/*
 * entra_azcli.c — the token of the signed-in Azure CLI:
 *   az account get-access-token --resource <SPN> -o json [--tenant <t>]
 * run with posix_spawnp (no shell; nothing secret on its command line; the
 * environment passed as it is: az needs HOME/AZURE_CONFIG_DIR), stdin from
 * /dev/null, stdout and stderr through pipes, bounded in time: az and the
 * processes it started are killed when it overruns, whether it is still
 * writing or has closed its output and just does not exit. The child alone gets an empty signal mask and
 * default dispositions (posix_spawnattr), so a parent that ignores SIGPIPE
 * or blocks signals does not pass that on; nothing of the calling
 * process's signal state changes. Only our own child is waited for.
 *
 * az missing → NET_E_ARG "Azure CLI (az) not found on PATH"; signed out →
 * NET_E_ARG with az's own "Please run 'az login'" line (azidentity treats
 * both as "not available", so the Default chain moves on); any other
 * failure → NET_E_LOGIN with the first line az wrote to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "entra_src.h"

extern char **environ;

#define AZ_TIMEOUT_MS 30000u
#define AZ_OUT_MAX (1u << 20)
#define AZ_ERR_MAX 4096u

typedef struct az_run {
    pid_t pid;
    int out_fd, err_fd;
    char *out;                   /* stdout (holds the token): wiped on free */
    size_t out_len;
    char errbuf[AZ_ERR_MAX + 1]; /* the start of stderr */
    size_t err_len;
    int status;                  /* waitpid status, -1 if unknown */
    bool timed_out;
    uint32_t timeout_ms;         /* its time: 30 s, or what the fetch has left */
} az_run;

/* TDSPIPE_AZ_TIMEOUT_MS (tests) or 30 s, within the fetch's budget. */
static uint32_t az_timeout_ms(void)
{
    const char *v = entra_env("TDSPIPE_AZ_TIMEOUT_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    return entra_budget_ms(ms > 0 && ms <= 600000 ? (uint32_t)ms : AZ_TIMEOUT_MS);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A pipe whose ends are closed on exec (pipe2 is not POSIX 2008). */
static int cloexec_pipe(int p[2])
{
    if (pipe(p))
        return errno;
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* Spawns az; returns 0 or an errno value (ENOENT: not on PATH). */
static int az_spawn(az_run *a, char *const argv[])
{
    int o[2], e[2], x;
    if ((x = cloexec_pipe(o)))
        return x;
    if ((x = cloexec_pipe(e))) {
        close(o[0]);
        close(o[1]);
        return x;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    static const int reset[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGALRM,
                                SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ};
    for (size_t i = 0; i < sizeof reset / sizeof reset[0]; i++)
        sigaddset(&dfl, reset[i]);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setpgroup(&at, 0); /* its own group: az_kill reaches its children */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    int rc = posix_spawnp(&a->pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(o[1]);
    close(e[1]);
    if (rc) {
        close(o[0]);
        close(e[0]);
        return rc;
    }
    a->out_fd = o[0];
    a->err_fd = e[0];
    return 0;
}

/* Appends what fd has to a->out or a->errbuf; false at EOF or error. */
static bool az_read(az_run *a, int fd)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
        return true;
    if (n <= 0)
        return false;
    if (fd == a->err_fd) {
        size_t k = (size_t)n < AZ_ERR_MAX - a->err_len ? (size_t)n : AZ_ERR_MAX - a->err_len;
        memcpy(a->errbuf + a->err_len, buf, k);
        a->err_len += k;
    } else if (a->out_len + (size_t)n <= AZ_OUT_MAX) {
        char *nb = malloc(a->out_len + (size_t)n + 1);
        if (!nb)
            return false;
        if (a->out) {
            memcpy(nb, a->out, a->out_len);
            net_wipe(a->out, a->out_len);
            free(a->out);
        }
        memcpy(nb + a->out_len, buf, (size_t)n);
        a->out = nb;
        a->out_len += (size_t)n;
        a->out[a->out_len] = '\0';
    }
    net_wipe(buf, sizeof buf);
    return true;
}

/* Kills az and whatever it started: it leads its own process group (the
 * az launcher is a shell script that runs python without exec, so killing
 * only the shell would leave python running). */
static void az_kill(const az_run *a)
{
    if (kill(-a->pid, SIGKILL) != 0)
        kill(a->pid, SIGKILL);
}

/* Reaps az by the deadline, killing it when it is still running then: an
 * az that closed its output but did not exit must not hold us forever. */
static void az_reap(az_run *a, int64_t deadline)
{
    int st;
    pid_t w;
    a->status = -1;
    for (;;) {
        while ((w = waitpid(a->pid, &st, WNOHANG)) < 0 && errno == EINTR)
            ;
        if (w != 0)
            break; /* reaped, or not ours to wait for (ECHILD) */
        if (mono_ms() >= deadline) {
            a->timed_out = true;
            az_kill(a);
            while ((w = waitpid(a->pid, &st, 0)) < 0 && errno == EINTR)
                ;
            break;
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (w == a->pid)
        a->status = st;
}

/* Reads both pipes to EOF or the deadline, then reaps the child. */
static void az_collect(az_run *a, uint32_t timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct pollfd p[2] = {{.fd = out_open ? a->out_fd : -1, .events = POLLIN},
                              {.fd = err_open ? a->err_fd : -1, .events = POLLIN}};
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (p[0].revents && !az_read(a, a->out_fd))
            out_open = false;
        if (p[1].revents && !az_read(a, a->err_fd))
            err_open = false;
    }
    close(a->out_fd);
    close(a->err_fd);
    az_reap(a, out_open || err_open ? mono_ms() : deadline);
    a->errbuf[a->err_len] = '\0';
}

/* The first non-empty line of az's stderr, one line, at most 300 bytes. */
static void first_line(const char *s, char *out, size_t cap)
{
    while (*s == '\n' || *s == '\r' || *s == ' ')
        s++;
    size_t n = strcspn(s, "\r\n");
    snprintf(out, cap, "%.*s", (int)(n < 300 ? n : 300), s);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
}

static int az_result(az_run *a, entra_token *out, net_error *err)
{
    char line[320];
    first_line(a->errbuf, line, sizeof line);
    if (a->timed_out)
        return net__fail(err, NET_E_TIMEOUT, "Azure CLI: az account get-access-token gave no answer in %u s (killed)",
                         (unsigned)((a->timeout_ms + 999) / 1000));
    bool exited_ok = a->status == -1 || (WIFEXITED(a->status) && WEXITSTATUS(a->status) == 0);
    if (!exited_ok || !a->out_len) {
        if (strstr(line, "az login") || strstr(line, "az account set"))
            return net__fail(err, NET_E_ARG, "Azure CLI: %s", line);
        if (WIFEXITED(a->status) && WEXITSTATUS(a->status) == 127)
            return net__fail(err, NET_E_ARG, "Azure CLI (az) not found on PATH");
        return net__fail(err, NET_E_LOGIN, "Azure CLI: %s", line[0] ? line : "az account get-access-token failed");
    }
    net_error pe = {0};
    int rc = entra_reply_parse(a->out, a->out_len, 0, entra_now(), out, &pe);
    if (rc)
        return net__fail(err, rc, "Azure CLI: %s", pe.message[0] ? pe.message : "no token in its answer");
    return NET_OK;
}

int entra_azcli_token(const entra_request *r, entra_token *out, net_error *err)
{
    const net_opts *o = r->o;
    const char *resource = r->spn && *r->spn ? r->spn : ENTRA_SQL_RESOURCE;
    const char *tenant = o->auth == NET_AUTH_AZ_CLI ? o->tenant_id : NULL;
    char *argv[] = {"az", "account", "get-access-token", "--resource", (char *)resource, "-o", "json",
                    tenant ? "--tenant" : NULL, (char *)tenant, NULL};
    az_run a;
    memset(&a, 0, sizeof a);
    if (!(a.timeout_ms = az_timeout_ms()))
        return net__fail(err, NET_E_TIMEOUT, "Azure CLI: no time left to run az: the connection timeout ran out "
                                             "while fetching the token");
    int e = az_spawn(&a, argv);
    if (e == ENOENT)
        return net__fail(err, NET_E_ARG, "Azure CLI (az) not found on PATH");
    if (e)
        return net__fail(err, NET_E_IO, "Azure CLI: cannot run az: %s", strerror(e));
    az_collect(&a, a.timeout_ms);
    int rc = az_result(&a, out, err);
    if (a.out) {
        net_wipe(a.out, a.out_len);
        free(a.out);
    }
    net_wipe(&a, sizeof a);
    return rc;
}
