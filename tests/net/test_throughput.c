/*
 * test_throughput.c — rows/s on the narrow table (int, bigint,
 * nvarchar(32), float) through the whole client path, plain vs TLS and
 * packet size 4096 vs 32767. Correctness is asserted (every row, in
 * order); the numbers are printed. NET_BENCH_ROWS sets the row count
 * (default 50000; use a build without sanitizers for real numbers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "helpers.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double last_cpu_rate;

/* Wall-clock rows/s (bounded by tdstestd producing them); the client's
 * own CPU rows/s lands in last_cpu_rate. */
static double run(const net_opts *o, unsigned long rows)
{
    net_error e;
    net_client *cl = net_client_open(o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    th_count cnt = {0};
    uint64_t t0 = th_now_ms();
    double c0 = cpu_ms();
    cr_assert_eq(net_client_batch(cl, "SELECT * FROM narrow", &th_count_cb, &cnt, &e), NET_OK, "%s", e.message);
    uint64_t ms = th_now_ms() - t0;
    double cms = cpu_ms() - c0;
    last_cpu_rate = (double)rows * 1000.0 / (cms > 0.001 ? cms : 0.001);
    cr_assert_eq(cnt.rows, rows);
    cr_assert(cnt.ordered);
    net_client_close(cl);
    return (double)rows * 1000.0 / (double)(ms ? ms : 1);
}

Test(throughput, narrow_plain_vs_tls_by_packet_size, .timeout = 600)
{
    if (!th_tdstestd())
        cr_skip_test("build/tdstestd is not built");
    unsigned long rows = getenv("NET_BENCH_ROWS") ? strtoul(getenv("NET_BENCH_ROWS"), NULL, 10) : 50000;
    const char *d = th_certs();
    char cert[512], key[512], ca[512];
    snprintf(cert, sizeof cert, "%s/server.pem", d);
    snprintf(key, sizeof key, "%s/server.key", d);
    snprintf(ca, sizeof ca, "%s/ca.pem", d);
    const char *args[] = {"--tls-cert", cert, "--tls-key", key, "--tls-mode", "on", NULL};
    th_server s;
    cr_assert(th_start(&s, th_scenario_default("bench", rows, ""), args));
    const uint32_t sizes[] = {4096, 32767};
    for (int tls = 0; tls < 2; tls++)
        for (int i = 0; i < 2; i++) {
            net_opts o = th_opts(s.port);
            o.packet_size = sizes[i];
            o.encrypt = tls ? NET_ENCRYPT_MANDATORY : NET_ENCRYPT_DISABLE;
            o.ca_file = ca;
            run(&o, rows); /* warm-up */
            double best = 0, best_cpu = 0;
            for (int k = 0; k < 5; k++) {
                double r = run(&o, rows);
                if (r > best)
                    best = r;
                if (last_cpu_rate > best_cpu)
                    best_cpu = last_cpu_rate;
            }
            printf("throughput: %-5s packet %5u: wall %10.0f rows/s, client CPU %10.0f rows/s (%lu rows, best of 5)\n",
                   tls ? "TLS" : "plain", (unsigned)sizes[i], best, best_cpu, rows);
            fflush(stdout);
        }
    th_stop(&s);
}
