/*
 * measure.c — runs one command and reports what it cost: wall seconds
 * (CLOCK_MONOTONIC around fork/exec/wait, ns resolution, unlike
 * /usr/bin/time's 10 ms), user and system CPU seconds and peak RSS.
 *
 *   bench_measure OUT -- CMD [ARG...]
 *
 * OUT gets one line "wall user sys maxrss_kb status" (status: the exit
 * code, or 128+signal). The numbers come from wait4() on the child, i.e.
 * RUSAGE_CHILDREN semantics for that child: its own CPU plus that of every
 * descendant it waited for (node's and python's helpers), and the largest
 * peak RSS among them (ru_maxrss is a maximum, not a sum). Separate server
 * processes (tdstestd, a PostgreSQL backend) are not counted.
 * The command's stdout/stderr pass through; exit status is the command's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--") != 0) {
        fprintf(stderr, "usage: bench_measure OUT -- CMD [ARG...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror("bench_measure: OUT");
        return 2;
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("bench_measure: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        fprintf(stderr, "bench_measure: cannot run %s\n", argv[3]);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    /* a SIGTERM from a timeout wrapper goes to the child, which we wait for */
    signal(SIGINT, SIG_IGN);
    while (wait4(pid, &st, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("bench_measure: wait4");
            return 2;
        }
    }
    double wall = now() - t0;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    fprintf(out, "%.6f %.6f %.6f %ld %d\n", wall,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, code);
    fclose(out);
    return code;
}
