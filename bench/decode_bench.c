/*
 * decode_bench.c — decode speed of the engine on one core, no network:
 * a result of N rows is encoded once with the server-side encoders, then a
 * client session decodes it through the lending receive path, as the
 * network layer would feed it. Prints rows/s and MB/s for the narrow table
 * (int, bigint, nvarchar(32), float): views only, views plus typed
 * accessors, and views plus canonical text.
 *
 *   decode_bench [rows] [packet_size]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tds.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *encode_narrow(size_t rows, uint32_t psize, size_t *len)
{
    tds_session_opts o = {.role = TDS_ROLE_SERVER, .packet_size = psize};
    tds_session *s = tds_session_new(&o);
    tds_column cols[4];
    tds_column_init(&cols[0], TDS_T_INTN, 4, 0, 0);
    tds_column_init(&cols[1], TDS_T_INTN, 8, 0, 0);
    tds_column_init(&cols[2], TDS_T_NVARCHAR, 64, 0, 0);
    tds_column_init(&cols[3], TDS_T_FLTN, 8, 0, 0);
    const char *names[4] = {"id", "big", "name", "val"};
    for (int i = 0; i < 4; i++) {
        cols[i].name.ptr = names[i];
        cols[i].name.len = strlen(names[i]);
        cols[i].flags = TDS_COL_NULLABLE;
    }
    size_t cap = rows * 60 + (1u << 20), used = 0;
    uint8_t *out = malloc(cap);
    tds_msg_begin(s, TDS_PKT_REPLY, 0);
    tds_put_colmetadata(s, cols, 4);
    /* One row plan, rows encoded 64 at a time; names as UTF-8 text,
     * transcoded by the plan. */
    enum { BATCH = 64 };
    tds_row_plan *plan;
    if (tds_row_plan_new(s, TDS_TOK_ROW, cols, 4, &plan) != TDS_OK) {
        fprintf(stderr, "row plan failed\n");
        exit(1);
    }
    static uint8_t b0[BATCH][8], b1[BATCH][8], b3[BATCH][8];
    static char name[BATCH][40];
    tds_value v[BATCH * 4];
    for (size_t i = 0; i < rows;) {
        size_t k = rows - i < BATCH ? rows - i : BATCH;
        for (size_t j = 0; j < k; j++, i++) {
            int l0 = tds_encode_int(&cols[0], (int64_t)i, b0[j], 8);
            int l1 = tds_encode_int(&cols[1], (int64_t)i * 1000003, b1[j], 8);
            int l3 = tds_encode_float(&cols[3], (double)i * 0.5, b3[j], 8);
            char dig[24];
            size_t nd = 0, x = i;
            do
                dig[nd++] = (char)('0' + x % 10);
            while (x /= 10);
            memcpy(name[j], "name-", 5);
            for (size_t d = 0; d < nd; d++)
                name[j][5 + d] = dig[nd - 1 - d];
            v[j * 4 + 0] = (tds_value){b0[j], (uint32_t)l0, 0};
            v[j * 4 + 1] = (tds_value){b1[j], (uint32_t)l1, 0};
            v[j * 4 + 2] = (tds_value){(const uint8_t *)name[j], (uint32_t)(5 + nd), TDS_VF_UTF8};
            v[j * 4 + 3] = (tds_value){b3[j], (uint32_t)l3, 0};
        }
        size_t nput;
        if (tds_put_rows(s, plan, v, k, &nput) != TDS_OK) {
            fprintf(stderr, "encode failed at row %zu\n", i - k + nput);
            exit(1);
        }
        if (tds_send_pending(s) > (1u << 20)) {
            const uint8_t *p;
            size_t n;
            tds_send_buf(s, &p, &n);
            memcpy(out + used, p, n);
            used += n;
            tds_send_ack(s, n);
        }
    }
    tds_row_plan_free(plan);
    tds_put_done(s, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, rows);
    tds_msg_end(s);
    const uint8_t *p;
    size_t n;
    tds_send_buf(s, &p, &n);
    memcpy(out + used, p, n);
    used += n;
    tds_session_free(s);
    *len = used;
    return out;
}

enum mode { VIEWS, TYPED, TEXT };

static size_t decode(const uint8_t *wire, size_t len, uint32_t psize, enum mode m, uint64_t *check)
{
    tds_session_opts o = {.packet_size = psize};
    tds_session *c = tds_session_new(&o);
    size_t off = 0, rows = 0;
    uint64_t acc = 0;
    char text[128];
    for (;;) {
        tds_event ev;
        int rc;
        while ((rc = tds_next(c, &ev)) == 1) {
            if (ev.type == TDS_EV_ROW) {
                rows++;
                const tds_value *v = ev.u.row.values;
                const tds_column *col = ev.u.row.cols;
                if (m == VIEWS) {
                    acc += v[0].len + v[2].len;
                } else if (m == TYPED) {
                    int64_t a, b;
                    double d;
                    tds_value_int(&col[0], &v[0], &a);
                    tds_value_int(&col[1], &v[1], &b);
                    tds_value_float(&col[3], &v[3], &d);
                    acc += (uint64_t)a + (uint64_t)b + (uint64_t)d + v[2].len;
                } else {
                    for (int i = 0; i < 4; i++) {
                        size_t n;
                        tds_value_text(&col[i], &v[i], text, sizeof text, &n);
                        acc += n;
                    }
                }
            } else if (ev.type == TDS_EV_MESSAGE_END) {
                goto done;
            }
        }
        if (rc < 0) {
            fprintf(stderr, "decode error: %s at %llu\n", tds_strerror(rc),
                    (unsigned long long)tds_error_offset(c));
            exit(1);
        }
        uint8_t *buf;
        size_t want;
        tds_recv_buf(c, &buf, &want);
        if (want > len - off)
            want = len - off;
        if (want == 0)
            break;
        memcpy(buf, wire + off, want); /* stands in for read(2) */
        off += want;
        tds_recv_ack(c, want);
    }
done:
    tds_session_free(c);
    *check = acc;
    return rows;
}

int main(int argc, char **argv)
{
    size_t rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    uint32_t psize = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 4096;
    size_t len;
    double t_enc = now();
    uint8_t *wire = encode_narrow(rows, psize, &len);
    t_enc = now() - t_enc;
    printf("narrow table: %zu rows, %.1f MB on the wire, packet size %u\n", rows, len / 1e6, psize);
    printf("  %-16s %8.2f M rows/s  %8.1f MB/s  (server-side encoders, once)\n", "encode",
           rows / t_enc / 1e6, len / t_enc / 1e6);
    static const char *names[] = {"views", "typed accessors", "canonical text"};
    for (int m = VIEWS; m <= TEXT; m++) {
        double best = 1e9;
        uint64_t check = 0;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            size_t got = decode(wire, len, psize, (enum mode)m, &check);
            double t = now() - t0;
            if (got != rows) {
                fprintf(stderr, "decoded %zu rows, expected %zu\n", got, rows);
                return 1;
            }
            if (t < best)
                best = t;
        }
        printf("  %-16s %8.2f M rows/s  %8.1f MB/s  (best of 3, %.3f s, check %llu)\n", names[m],
               rows / best / 1e6, len / best / 1e6, best, (unsigned long long)check);
    }
    free(wire);
    return 0;
}
