/*
 * helpers.c — see helpers.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#ifndef TDSTESTD_PATH
#define TDSTESTD_PATH "tdstestd"
#endif
#ifndef NET_TEST_TMP
#define NET_TEST_TMP "/tmp/tdspipe-net-tests"
#endif
#ifndef TDS_SOURCE_DIR
#define TDS_SOURCE_DIR "."
#endif

uint64_t th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *th_tdstestd(void)
{
    static char path[1024];
    const char *env = getenv("TDSTESTD");
    const char *cands[] = {env, TDSTESTD_PATH, NULL};
    for (int i = 0; i < 2; i++)
        if (cands[i] && access(cands[i], X_OK) == 0) {
            snprintf(path, sizeof path, "%s", cands[i]);
            return path;
        }
    snprintf(path, sizeof path, "%s", TDSTESTD_PATH);
    char *slash = strrchr(path, '/');
    if (slash) {
        snprintf(slash, sizeof path - (size_t)(slash - path), "/tests/server/tdstestd");
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

static void mkdirs(const char *p)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", p);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0700);
            *s = '/';
        }
    mkdir(tmp, 0700);
}

const char *th_certs(void)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/certs", NET_TEST_TMP);
    char lock[1100], ca[1100];
    mkdirs(NET_TEST_TMP);
    snprintf(lock, sizeof lock, "%s/certs.lock", NET_TEST_TMP);
    snprintf(ca, sizeof ca, "%s/expired.pem", dir);
    int fd = open(lock, O_CREAT | O_RDWR, 0600);
    if (fd >= 0)
        flock(fd, LOCK_EX);
    struct stat st;
    /* Regenerate when missing or older than a day (the CA lives 30 days). */
    if (stat(ca, &st) != 0 || time(NULL) - st.st_mtime > 86400) {
        char cmd[3000];
        snprintf(cmd, sizeof cmd, "sh '%s/tests/server/certs.sh' '%s' >/dev/null 2>&1", TDS_SOURCE_DIR, dir);
        if (system(cmd) != 0)
            fprintf(stderr, "helpers: certs.sh failed\n");
    }
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
    return dir;
}

const char *th_scenario(const char *name, const char *json)
{
    static char path[1024];
    mkdirs(NET_TEST_TMP);
    snprintf(path, sizeof path, "%s/%s.%d.json", NET_TEST_TMP, name, (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(json, f);
    fclose(f);
    return path;
}

const char *th_scenario_default(const char *name, unsigned long rows, const char *extra)
{
    char *json = malloc(8192);
    snprintf(json, 8192,
             "{\n"
             "  %s\n"
             "  \"server\": {\"name\": \"tdstestd\"},\n"
             "  \"logins\": [{\"user\": \"sa\", \"password\": \"Secret#1\", \"database\": \"sales\"},\n"
             "               {\"token\": \"good-token\", \"database\": \"sales\"}],\n"
             "  \"databases\": [{\"name\": \"sales\", \"tables\": [\n"
             "    {\"name\": \"narrow\", \"rows\": %lu, \"columns\": [\n"
             "      {\"name\": \"id\", \"type\": \"int\", \"nullable\": false},\n"
             "      {\"name\": \"big\", \"type\": \"bigint\"},\n"
             "      {\"name\": \"name\", \"type\": \"nvarchar(32)\"},\n"
             "      {\"name\": \"score\", \"type\": \"float\"}]}]},\n"
             "    {\"name\": \"other\"}]\n"
             "}\n",
             extra ? extra : "", rows);
    const char *p = th_scenario(name, json);
    free(json);
    return p;
}

static int read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    uint64_t end = th_now_ms() + (uint64_t)timeout_ms;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(end - th_now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return -1;
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r <= 0)
            return -1;
        if (ch == '\n')
            break;
        buf[n++] = ch;
    }
    buf[n] = 0;
    return (int)n;
}

bool th_start(th_server *s, const char *scenario, const char *const *args)
{
    memset(s, 0, sizeof *s);
    s->pid = -1;
    const char *bin = th_tdstestd();
    if (!bin)
        return false;
    const char *argv[64];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--scenario";
    argv[n++] = scenario;
    argv[n++] = "--port";
    argv[n++] = "0";
    bool strict = false;
    if (getenv("NET_TEST_VERBOSE"))
        argv[n++] = "--verbose";
    for (int i = 0; args && args[i] && n < 60; i++) {
        if (!strcmp(args[i], "--strict-port"))
            strict = true;
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int pfd[2];
    if (pipe(pfd))
        return false;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        /* A test that fails an assertion never reaches th_stop: the
         * server goes with it. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        if (!getenv("NET_TEST_VERBOSE")) {
            int dn = open("/dev/null", O_WRONLY);
            dup2(dn, 2);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    s->pid = pid;
    char line[128];
    bool ok = read_line(pfd[0], line, sizeof line, 10000) > 0 && sscanf(line, "port %d", &s->port) == 1;
    if (ok && strict)
        ok = read_line(pfd[0], line, sizeof line, 5000) > 0 &&
             sscanf(line, "strict-port %d", &s->strict_port) == 1;
    close(pfd[0]);
    if (!ok) {
        th_stop(s);
        return false;
    }
    return true;
}

void th_stop(th_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        for (int i = 0; i < 200; i++) {
            if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
                s->pid = -1;
                return;
            }
            usleep(10000);
        }
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &st, 0);
        s->pid = -1;
    }
}

net_opts th_opts(int port)
{
    net_opts o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = (uint16_t)port;
    o.user = "sa";
    o.password = "Secret#1";
    o.database = "sales";
    o.encrypt = NET_ENCRYPT_DISABLE;
    o.connect_timeout_ms = 5000;
    return o;
}

/* --------------------------------------------------------- counting */

static int c_columns(void *ud, const tds_column *cols, uint16_t n)
{
    (void)cols;
    (void)n;
    ((th_count *)ud)->resultsets++;
    return NET_ROW_NEXT;
}

static int c_row(void *ud, const tds_column *cols, uint16_t n, const tds_value *v)
{
    th_count *c = ud;
    int64_t id = 0;
    if (n > 0 && !(v[0].flags & TDS_VF_NULL) && tds_value_int(&cols[0], &v[0], &id) == TDS_OK) {
        if (c->rows == 0)
            c->ordered = true;
        else if (id != c->last_id + 1)
            c->ordered = false;
        c->last_id = id;
        c->sum_id += (uint64_t)id;
    }
    c->rows++;
    return NET_ROW_NEXT;
}

static void c_message(void *ud, const tds_server_msg *m, bool is_error)
{
    th_count *c = ud;
    if (is_error) {
        c->errors++;
        c->last_error = m->number;
    }
}

const net_result_cb th_count_cb = {.columns = c_columns, .row = c_row, .message = c_message};
