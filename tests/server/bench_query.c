/*
 * bench_query.c — encode rate of the query half: streams `select * from
 * narrow` (scenario narrow.json, rows overridable with TDSTESTD_ROWS_NARROW)
 * through srv_cursor_step (rows in batches, one row plan) into a server session, discarding the framed
 * bytes after each step as a fast network would. Prints MB/s and ns/row.
 *
 *   bench_query [SCENARIO [SQL]]      the whole server side (default)
 *   BENCH_MODE=gen bench_query        only the generators: every row of the
 *                                     first generated table made into value views
 *   BENCH_MODE=engine bench_query     only the engine: row 0 of that table
 *                                     encoded again and again with
 *                                     tds_put_row (what the encoder costs)
 *   BENCH_MODE=plan bench_query       the same through a row plan
 *                                     (tds_put_rows, 64 rows per call)
 *   BENCH_MODE=batch bench_query      generators plus the prototype that
 *                                     led to row plans: per-column
 *                                     length-prefix sizes worked out once,
 *                                     ROW tokens written into a 256 KiB
 *                                     batch, the batch framed with one
 *                                     tds_put_bytes (1- and 2-byte length
 *                                     prefixes only, no checks)
 *
 * The split tells which side is the bottleneck: the full rate can never
 * beat either part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "query_int.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void report(const char *what, uint64_t bytes, uint64_t rows, double secs)
{
    printf("%s: %llu rows, %llu bytes in %.3f s = %.1f MB/s, %.1f ns/row\n", what,
           (unsigned long long)rows, (unsigned long long)bytes, secs, (double)bytes / secs / 1e6,
           secs * 1e9 / (double)(rows ? rows : 1));
}

/* The first table of the first database, with its per-column buffers. */
typedef struct gen_src {
    srv_table *t;
    srv_genplan *plans;
    bool *need;
    size_t *off;
    uint8_t *buf;
    tds_value *vals;
} gen_src;

static int gen_open(srv_db *db, gen_src *g)
{
    g->t = NULL;
    for (size_t d = 0; d < db->ndbs && !g->t; d++)
        for (size_t k = 0; k < db->dbs[d]->ntables && !g->t; k++)
            if (db->dbs[d]->tables[k]->generated)
                g->t = db->dbs[d]->tables[k];
    if (!g->t) {
        fprintf(stderr, "bench_query: the scenario has no generated table\n");
        return -1;
    }
    uint16_t n = g->t->ncols;
    g->plans = calloc(n, sizeof *g->plans);
    g->need = calloc(n, sizeof *g->need);
    g->off = calloc(n + 1u, sizeof *g->off);
    g->vals = calloc(n, sizeof *g->vals);
    if (!g->plans || !g->need || !g->off || !g->vals)
        return -1;
    for (uint16_t c = 0; c < n; c++) {
        srv_genplan_init(&g->plans[c], &g->t->cols[c]);
        g->need[c] = true;
        g->off[c + 1] = g->off[c] + srv_gen_cap(&g->t->cols[c]);
    }
    g->buf = malloc(g->off[n]);
    return g->buf ? 0 : -1;
}

static void gen_close(gen_src *g)
{
    free(g->plans);
    free(g->need);
    free(g->off);
    free(g->vals);
    free(g->buf);
}

static int bench_gen(srv_db *db)
{
    gen_src g;
    if (gen_open(db, &g) < 0)
        return 1;
    uint64_t bytes = 0, rows = g.t->gen_rows;
    double t0 = now();
    for (uint64_t i = 0; i < rows; i++) {
        srv_genplan_row(g.plans, g.t->ncols, g.need, i, g.buf, g.off, g.vals);
        for (uint16_t c = 0; c < g.t->ncols; c++)
            bytes += g.vals[c].len;
    }
    report("generators only (value bytes)", bytes, rows, now() - t0);
    gen_close(&g);
    return 0;
}

static int bench_engine(srv_db *db)
{
    uint64_t rows;
    gen_src g;
    if (gen_open(db, &g) < 0)
        return 1;
    rows = g.t->gen_rows;
    srv_genplan_row(g.plans, g.t->ncols, g.need, 0, g.buf, g.off, g.vals);
    tds_column *cols = calloc(g.t->ncols, sizeof *cols);
    for (uint16_t c = 0; c < g.t->ncols; c++)
        cols[c] = g.t->cols[c].col;
    tds_session_opts so = { .role = TDS_ROLE_SERVER, .packet_size = 32767 };
    tds_session *s = tds_session_new(&so);
    tds_set_packet_size(s, 32767);
    tds_msg_begin(s, TDS_PKT_REPLY, 0);
    tds_put_colmetadata(s, cols, g.t->ncols);
    uint64_t bytes = 0;
    double t0 = now();
    for (uint64_t i = 0; i < rows; i++) {
        if (tds_put_row(s, cols, g.vals, g.t->ncols) < 0)
            return 1;
        if ((i & 1023) == 1023) {
            const uint8_t *buf;
            size_t len;
            tds_send_buf(s, &buf, &len);
            bytes += len;
            tds_send_ack(s, len);
        }
    }
    double secs = now() - t0;
    report("engine only (tds_put_row of one row)", bytes, rows, secs);
    tds_session_free(s);
    free(cols);
    gen_close(&g);
    return 0;
}

/* Like bench_engine, through a row plan: row 0 written 64 rows per
 * tds_put_rows call. */
static int bench_plan(srv_db *db)
{
    gen_src g;
    if (gen_open(db, &g) < 0)
        return 1;
    uint16_t n = g.t->ncols;
    uint64_t rows = g.t->gen_rows;
    srv_genplan_row(g.plans, n, g.need, 0, g.buf, g.off, g.vals);
    tds_column *cols = calloc(n, sizeof *cols);
    tds_value *batch = calloc(64u * n, sizeof *batch);
    for (uint16_t c = 0; c < n; c++)
        cols[c] = g.t->cols[c].col;
    for (unsigned r = 0; r < 64; r++)
        memcpy(batch + r * n, g.vals, n * sizeof *batch);
    tds_session_opts so = { .role = TDS_ROLE_SERVER, .packet_size = 32767 };
    tds_session *s = tds_session_new(&so);
    tds_set_packet_size(s, 32767);
    tds_msg_begin(s, TDS_PKT_REPLY, 0);
    tds_put_colmetadata(s, cols, n);
    tds_row_plan *plan;
    if (tds_row_plan_new(s, TDS_TOK_ROW, cols, n, &plan) < 0)
        return 1;
    uint64_t bytes = 0;
    double t0 = now();
    for (uint64_t i = 0; i < rows; i += 64) {
        if (tds_put_rows(s, plan, batch, rows - i < 64 ? (size_t)(rows - i) : 64, NULL) < 0)
            return 1;
        if ((i & 1023) == 1024 - 64) {
            const uint8_t *buf;
            size_t len;
            tds_send_buf(s, &buf, &len);
            bytes += len;
            tds_send_ack(s, len);
        }
    }
    double secs = now() - t0;
    report("engine only (tds_put_rows of row 0, 64 per call)", bytes, rows, secs);
    tds_row_plan_free(plan);
    tds_session_free(s);
    free(batch);
    free(cols);
    gen_close(&g);
    return 0;
}

static int bench_batch(srv_db *db)
{
    gen_src g;
    if (gen_open(db, &g) < 0)
        return 1;
    uint16_t n = g.t->ncols;
    uint8_t *pfx = calloc(n, 1); /* length-prefix bytes per column */
    for (uint16_t c = 0; c < n; c++) {
        const tds_column *col = &g.t->cols[c].col;
        pfx[c] = col->is_plp ? 0 : col->max_len <= 255 && col->type != TDS_T_NVARCHAR &&
                 col->type != TDS_T_BIGVARCHR && col->type != TDS_T_BIGVARBIN ? 1 : 2;
        if (!pfx[c]) {
            fprintf(stderr, "bench_query: batch mode handles no PLP column\n");
            return 1;
        }
    }
    tds_column *cols = calloc(n, sizeof *cols);
    for (uint16_t c = 0; c < n; c++)
        cols[c] = g.t->cols[c].col;
    tds_session_opts so = { .role = TDS_ROLE_SERVER, .packet_size = 32767 };
    tds_session *s = tds_session_new(&so);
    tds_set_packet_size(s, 32767);
    tds_msg_begin(s, TDS_PKT_REPLY, 0);
    tds_put_colmetadata(s, cols, n);
    size_t cap = 256 * 1024, rowmax = 1 + g.off[n] + 2u * n;
    uint8_t *batch = malloc(cap);
    size_t used = 0;
    uint64_t bytes = 0, rows = g.t->gen_rows;
    double t0 = now();
    for (uint64_t i = 0; i < rows; i++) {
        srv_genplan_row(g.plans, n, g.need, i, g.buf, g.off, g.vals);
        uint8_t *p = batch + used;
        *p++ = TDS_TOK_ROW;
        for (uint16_t c = 0; c < n; c++) {
            const tds_value *v = &g.vals[c];
            bool null = v->flags & TDS_VF_NULL;
            if (pfx[c] == 1) {
                *p++ = null ? 0 : (uint8_t)v->len;
            } else {
                uint16_t l = null ? 0xFFFF : (uint16_t)v->len;
                p[0] = (uint8_t)l;
                p[1] = (uint8_t)(l >> 8);
                p += 2;
            }
            memcpy(p, v->ptr, null ? 0 : v->len);
            p += null ? 0 : v->len;
        }
        used = (size_t)(p - batch);
        if (cap - used < rowmax || i + 1 == rows) {
            if (tds_put_bytes(s, batch, used) < 0)
                return 1;
            used = 0;
            const uint8_t *buf;
            size_t len;
            tds_send_buf(s, &buf, &len);
            bytes += len;
            tds_send_ack(s, len);
        }
    }
    report("generators + batch row encoder prototype", bytes, rows, now() - t0);
    free(batch);
    free(pfx);
    free(cols);
    tds_session_free(s);
    gen_close(&g);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : TDSTESTD_SCENARIOS "/narrow.json";
    const char *sql = argc > 2 ? argv[2] : "select * from narrow";
    const char *mode = getenv("BENCH_MODE");
    char err[256];
    srv_db *db = srv_db_load(path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (mode && !strcmp(mode, "gen")) {
        int r = bench_gen(db);
        srv_db_free(db);
        return r;
    }
    if (mode && !strcmp(mode, "batch")) {
        int r = bench_batch(db);
        srv_db_free(db);
        return r;
    }
    if (mode && !strcmp(mode, "plan")) {
        int r = bench_plan(db);
        srv_db_free(db);
        return r;
    }
    if (mode && !strcmp(mode, "engine")) {
        int r = bench_engine(db);
        srv_db_free(db);
        return r;
    }
    srv_login_req req = { .user = "sa", .password = "Passw0rd!" };
    srv_conn *c;
    srv_error e;
    if (!srv_login(db, &req, &c, &e)) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    tds_session_opts so = { .role = TDS_ROLE_SERVER, .packet_size = 32767 };
    tds_session *s = tds_session_new(&so);
    tds_set_packet_size(s, 32767);
    double t0 = now();
    srv_cursor *cur = srv_exec_batch(c, sql, strlen(sql));
    uint64_t bytes = 0;
    int rc;
    do {
        rc = srv_cursor_step(cur, s, 64 * 1024);
        const uint8_t *buf;
        size_t len;
        tds_send_buf(s, &buf, &len);
        bytes += len;
        tds_send_ack(s, len);
    } while (rc == SRV_MORE);
    report(sql, bytes, cur->rows_sent, now() - t0);
    srv_cursor_free(cur);
    tds_session_free(s);
    srv_conn_free(c);
    srv_db_free(db);
    return rc == SRV_DONE ? 0 : 1;
}
