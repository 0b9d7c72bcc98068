/*
 * bench_sinks.c — rows/s of one sink alone: a narrow (4 columns: int,
 * bigint, nvarchar, datetime2) or wide (10 columns: plus decimal, float,
 * GUID, varchar, date, bit) table, rows built once with the engine's
 * encoders and appended in batches of 25 000 (the CLI's --page-size
 * default), one replace load, timed from begin to commit.
 *
 *   bench_sinks URI ROWS narrow|wide
 *   e.g. bench_sinks duckdb:////tmp/b.duckdb 1000000 wide
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink.h"

enum { NC = 10, BATCH = 25000, SLOT = 64 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put(tds_value *v, uint8_t *slot, int n)
{
    if (n < 0) {
        fprintf(stderr, "bench_sinks: encode failed: %s\n", tds_strerror(n));
        exit(1);
    }
    *v = (tds_value){ slot, (uint32_t)n, 0 };
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_sinks URI ROWS narrow|wide\n");
        return 2;
    }
    const char *uri = argv[1];
    size_t rows = (size_t)atol(argv[2]);
    bool wide = strcmp(argv[3], "wide") == 0;
    size_t nc = wide ? NC : 4;

    static const char *const names[NC] = { "id", "a", "b", "c", "d", "e", "f", "g", "h", "i" };
    tds_column c[NC];
    tds_column_init(&c[0], TDS_T_INTN, 4, 0, 0);
    c[0].flags = 0;
    tds_column_init(&c[1], TDS_T_INTN, 8, 0, 0);
    tds_column_init(&c[2], TDS_T_NVARCHAR, 100, 0, 0);
    tds_column_init(&c[3], TDS_T_DATETIME2N, 0, 0, 7);
    tds_column_init(&c[4], TDS_T_DECIMALN, 0, 18, 2);
    tds_column_init(&c[5], TDS_T_FLTN, 8, 0, 0);
    tds_column_init(&c[6], TDS_T_GUID, 16, 0, 0);
    tds_column_init(&c[7], TDS_T_BIGVARCHR, 100, 0, 0);
    tds_column_init(&c[8], TDS_T_DATEN, 3, 0, 0);
    tds_column_init(&c[9], TDS_T_BITN, 1, 0, 0);

    tds_value *vals = calloc(BATCH * nc, sizeof *vals);
    uint8_t *arena = malloc((size_t)BATCH * nc * SLOT);
    if (!vals || !arena)
        return 1;
    tds_datetime ts, day;
    tds_decimal dec;
    uint8_t guid[16];
    tds_datetime_parse("2024-05-06 07:08:09.1234567", 27, TDS_K_DATETIME2, 7, &ts);
    tds_datetime_parse("2024-05-06", 10, TDS_K_DATE, 0, &day);
    tds_decimal_parse("12345.67", 8, 18, 2, &dec);
    tds_guid_parse("6F9619FF-8B86-D011-B42D-00C04FC964FF", 36, guid);
    for (size_t r = 0; r < BATCH; r++) {
        tds_value *row = vals + r * nc;
        uint8_t *o = arena + r * nc * SLOT;
        put(&row[0], o, tds_encode_int(&c[0], (int64_t)r, o, SLOT));
        o += SLOT;
        put(&row[1], o, tds_encode_int(&c[1], (int64_t)r * 1000003, o, SLOT));
        o += SLOT;
        put(&row[2], o, tds_encode_text(&c[2], "customer name here", 18, o, SLOT));
        o += SLOT;
        put(&row[3], o, tds_encode_datetime(&c[3], &ts, o, SLOT));
        o += SLOT;
        if (!wide)
            continue;
        put(&row[4], o, tds_encode_decimal(&c[4], &dec, o, SLOT));
        o += SLOT;
        put(&row[5], o, tds_encode_float(&c[5], 3.25 * (double)r, o, SLOT));
        o += SLOT;
        put(&row[6], o, tds_encode_guid(&c[6], guid, o, SLOT));
        o += SLOT;
        put(&row[7], o, tds_encode_text(&c[7], "some ascii text", 15, o, SLOT));
        o += SLOT;
        put(&row[8], o, tds_encode_datetime(&c[8], &day, o, SLOT));
        o += SLOT;
        put(&row[9], o, tds_encode_int(&c[9], (int64_t)(r & 1), o, SLOT));
    }

    sink *s;
    char err[512];
    if (sink_open(uri, NULL, &s, err, sizeof err)) {
        fprintf(stderr, "bench_sinks: %s\n", err);
        return 1;
    }
    sink_table t = { .name = "bench", .cols = c, .names = names, .ncols = nc,
                     .incremental_key = -1, .strategy = SINK_REPLACE };
    double t0 = now();
    int rc = sink_begin(s, &t);
    for (size_t done = 0; !rc && done < rows; done += BATCH) {
        sink_batch b = { vals, rows - done < BATCH ? rows - done : BATCH };
        rc = sink_append(s, &b);
    }
    if (!rc)
        rc = sink_commit(s);
    double t1 = now();
    if (rc) {
        fprintf(stderr, "bench_sinks: %s\n", sink_errmsg(s));
        sink_close(s);
        return 1;
    }
    printf("%-10s %-6s %9zu rows %7.2f s %10.0f rows/s\n", sink_name(s), wide ? "wide" : "narrow",
           rows, t1 - t0, (double)rows / (t1 - t0));
    sink_close(s);
    free(vals);
    free(arena);
    return 0;
}
