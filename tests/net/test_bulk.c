/*
 * test_bulk.c — net/bulk.c against build/tdstestd: a BulkLoadBCP message
 * after INSERT BULK stores every row (many packets, streamed), the
 * server's rejection comes back as NET_E_SERVER with its text and the
 * connection stays usable, a value the plan refuses is NET_E_ARG, abort
 * closes the connection and the open transaction rolls back, a server
 * that drops the connection in mid-bulk is reported, and begin refuses a
 * busy or closed client. net_bulk_rows_values: (max) values go out as PLP
 * chunks and read back whole; a value a column cannot take is NET_E_ARG
 * naming its row and column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "helpers.h"

#define NEED_SERVER()                                    \
    do {                                                 \
        if (!th_tdstestd())                              \
            cr_skip_test("build/tdstestd is not built"); \
    } while (0)

/* (id int NOT NULL, name nvarchar(40) NULL), n rows: id = first + i */
typedef struct rows {
    tds_column cols[2];
    tds_value *v;
    uint8_t *buf;
    size_t n;
} rows;

static void rows_make(rows *r, size_t n, int first)
{
    cr_assert_eq(tds_column_init(&r->cols[0], TDS_T_INTN, 4, 0, 0), TDS_OK);
    r->cols[0].flags = 0;
    r->cols[0].name = (tds_str){"id", 2};
    cr_assert_eq(tds_column_init(&r->cols[1], TDS_T_NVARCHAR, 80, 0, 0), TDS_OK);
    r->cols[1].flags = TDS_COL_NULLABLE;
    r->cols[1].name = (tds_str){"name", 4};
    r->n = n;
    r->v = calloc(2 * n, sizeof *r->v);
    r->buf = calloc(n, 4 + 80);
    cr_assert(r->v && r->buf);
    for (size_t i = 0; i < n; i++) {
        uint8_t *b = r->buf + i * 84;
        int w = tds_encode_int(&r->cols[0], first + (int)i, b, 4);
        r->v[2 * i] = (tds_value){b, (uint32_t)w, 0};
        char text[40];
        snprintf(text, sizeof text, "name-%zu", i);
        w = tds_encode_text(&r->cols[1], text, strlen(text), b + 4, 80);
        r->v[2 * i + 1] = i % 7 == 3 ? (tds_value){NULL, 0, TDS_VF_NULL} : (tds_value){b + 4, (uint32_t)w, 0};
    }
}

static void rows_free(rows *r)
{
    free(r->v);
    free(r->buf);
}

static int64_t scalar(net_client *cl, const char *sql)
{
    th_count c = {0};
    net_error e;
    cr_assert_eq(net_client_batch(cl, sql, &th_count_cb, &c, &e), NET_OK, "%s: %s", sql, e.message);
    return c.last_id;
}

static net_client *open_with_table(th_server *s, const char *name, const char *extra)
{
    cr_assert(th_start(s, th_scenario_default(name, 10, extra), NULL));
    net_opts o = th_opts(s->port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(net_client_batch(cl, "CREATE TABLE bt (id int NOT NULL PRIMARY KEY, name nvarchar(40) NULL)", NULL,
                                  NULL, &e),
                 NET_OK, "%s", e.message);
    return cl;
}

static int insert_bulk(net_client *cl, net_error *e)
{
    return net_client_batch(cl, "INSERT BULK bt ([id] int, [name] nvarchar(40)) WITH (TABLOCK)", NULL, NULL, e);
}

/* Loads r through a plan; returns net_bulk_end's code. */
static int load(net_client *cl, rows *r, net_error *e)
{
    cr_assert_eq(insert_bulk(cl, e), NET_OK, "%s", e->message);
    net_bulk *b = net_bulk_begin(cl, r->cols, 2, e);
    cr_assert_not_null(b, "%s", e->message);
    tds_row_plan *p = NULL;
    cr_assert_eq(net_bulk_plan(b, &p, e), NET_OK, "%s", e->message);
    size_t put = 0;
    int rc = net_bulk_rows(b, p, r->v, r->n, &put, e);
    tds_row_plan_free(p);
    if (rc) {
        net_bulk_abort(b);
        return rc;
    }
    cr_assert_eq(put, r->n);
    uint64_t count = 0;
    return net_bulk_end(b, &count, e);
}

Test(bulk, many_packets_all_rows_stored)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_with_table(&s, "bulk1", "");
    rows r;
    rows_make(&r, 200000, 1); /* several MiB: many packets, back-pressure */
    net_error e;
    cr_assert_eq(load(cl, &r, &e), NET_OK, "%s", e.message);
    cr_expect_eq(scalar(cl, "SELECT COUNT(*) FROM bt"), 200000);
    cr_expect_eq(scalar(cl, "SELECT MAX(id) FROM bt"), 200000);
    cr_expect_eq(scalar(cl, "SELECT COUNT(name) FROM bt"), 200000 - 200000 / 7 - (200000 % 7 > 3));
    rows_free(&r);
    net_client_close(cl);
    th_stop(&s);
}

/* The message is streamed: however many rows went in, the engine never
 * holds more than a flush threshold plus one slice of them. */
Test(bulk, streams_with_a_bounded_buffer)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_with_table(&s, "bulk6", "");
    rows r;
    rows_make(&r, 200000, 1);
    net_error e;
    cr_assert_eq(insert_bulk(cl, &e), NET_OK, "%s", e.message);
    net_bulk *b = net_bulk_begin(cl, r.cols, 2, &e);
    cr_assert_not_null(b, "%s", e.message);
    tds_row_plan *p = NULL;
    cr_assert_eq(net_bulk_plan(b, &p, &e), NET_OK, "%s", e.message);
    size_t most = 0, bytes = 0;
    for (size_t off = 0; off < r.n; off += 5000) {
        size_t put = 0;
        cr_assert_eq(net_bulk_rows(b, p, r.v + 2 * off, 5000, &put, &e), NET_OK, "%s", e.message);
        size_t pend = net_bulk_pending(b);
        most = pend > most ? pend : most;
        for (size_t i = off; i < off + 5000; i++)
            bytes += 1 + 5 + 2 + r.v[2 * i + 1].len;
    }
    cr_assert_gt(bytes, 4u << 20, "the load is several MiB (%zu bytes)", bytes);
    cr_expect_lt(most, 512u * 1024, "the engine held %zu bytes at most", most);
    tds_row_plan_free(p);
    uint64_t n = 0;
    cr_assert_eq(net_bulk_end(b, &n, &e), NET_OK, "%s", e.message);
    cr_expect_eq(scalar(cl, "SELECT COUNT(*) FROM bt"), 200000);
    rows_free(&r);
    net_client_close(cl);
    th_stop(&s);
}

Test(bulk, server_rejection_reported_connection_usable)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_with_table(&s, "bulk2", "");
    rows r;
    rows_make(&r, 10, 1);
    net_error e;
    cr_assert_eq(load(cl, &r, &e), NET_OK, "%s", e.message);
    int rc = load(cl, &r, &e); /* the same keys again */
    cr_assert_eq(rc, NET_E_SERVER, "%d %s", rc, e.message);
    cr_expect_eq(e.server_number, 2627);
    cr_expect(strstr(e.message, "PRIMARY KEY") != NULL, "%s", e.message);
    cr_expect_eq(scalar(cl, "SELECT COUNT(*) FROM bt"), 10, "the rejected batch stored nothing");
    rows_free(&r);
    net_client_close(cl);
    th_stop(&s);
}

Test(bulk, bad_value_is_arg_and_abort_rolls_back)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_with_table(&s, "bulk3", "");
    net_error e;
    cr_assert_eq(net_client_batch(cl, "BEGIN TRANSACTION", NULL, NULL, &e), NET_OK, "%s", e.message);
    rows r;
    rows_make(&r, 50, 1);
    r.v[2 * 20] = (tds_value){NULL, 0, TDS_VF_NULL}; /* NULL where the column says NOT NULL */
    r.cols[0].type = TDS_T_INT4;                      /* …and the type cannot carry one */
    r.cols[0].flags = 0;
    int rc = load(cl, &r, &e);
    cr_expect_eq(rc, NET_E_ARG, "%d %s", rc, e.message);
    /* aborted: the connection is closed; the server rolled back */
    cr_expect(!net_conn_is_open(net_client_conn(cl)));
    net_client_close(cl);
    net_opts o = th_opts(s.port);
    cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_expect_eq(scalar(cl, "SELECT COUNT(*) FROM bt"), 0);
    rows_free(&r);
    net_client_close(cl);
    th_stop(&s);
}

Test(bulk, dropped_in_mid_bulk_is_reported)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_with_table(&s, "bulk4", "\"faults\": {\"close_after_rows\": 1000},");
    rows r;
    rows_make(&r, 50000, 1);
    net_error e;
    int rc = load(cl, &r, &e);
    cr_expect(rc == NET_E_CLOSED || rc == NET_E_IO, "%d %s", rc, e.message);
    cr_expect(e.message[0]);
    rows_free(&r);
    net_client_close(cl);
    th_stop(&s);
}

Test(bulk, begin_refuses_busy_or_closed)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_with_table(&s, "bulk5", "");
    rows r;
    rows_make(&r, 1, 1);
    net_error e;
    cr_assert_eq(insert_bulk(cl, &e), NET_OK, "%s", e.message);
    net_bulk *b = net_bulk_begin(cl, r.cols, 2, &e);
    cr_assert_not_null(b);
    cr_expect_null(net_bulk_begin(cl, r.cols, 2, &e), "a second bulk on a busy connection");
    cr_expect_eq(e.code, NET_E_STATE);
    cr_expect_eq(net_client_batch(cl, "SELECT 1", NULL, NULL, &e), NET_E_STATE, "a batch during the bulk");
    uint64_t n = 0;
    cr_assert_eq(net_bulk_end(b, &n, &e), NET_OK, "%s", e.message);
    cr_expect_null(net_bulk_begin(cl, NULL, 0, &e), "no columns");
    cr_expect_eq(e.code, NET_E_ARG);
    rows_free(&r);
    net_client_close(cl);
    th_stop(&s);
}

/* ------------------------------------------------- net_bulk_rows_values */

#define BIG_DOC 12345 /* characters: 24,690 UTF-16 bytes, four PLP chunks */
#define BIG_BIN 17000

/* (id int NOT NULL, doc nvarchar(max) NULL, bin varbinary(max) NULL) */
typedef struct max_rows {
    tds_column cols[3];
    tds_value v[9];
    uint8_t ids[3][4];
    uint8_t *doc, *bin, small[8];
    int doc_len;
} max_rows;

static void max_rows_make(max_rows *m)
{
    cr_assert_eq(tds_column_init(&m->cols[0], TDS_T_INTN, 4, 0, 0), TDS_OK);
    m->cols[0].flags = 0;
    m->cols[0].name = (tds_str){"id", 2};
    cr_assert_eq(tds_column_init(&m->cols[1], TDS_T_NVARCHAR, 0xFFFF, 0, 0), TDS_OK);
    m->cols[1].flags = TDS_COL_NULLABLE;
    m->cols[1].name = (tds_str){"doc", 3};
    cr_assert_eq(tds_column_init(&m->cols[2], TDS_T_BIGVARBIN, 0xFFFF, 0, 0), TDS_OK);
    m->cols[2].flags = TDS_COL_NULLABLE;
    m->cols[2].name = (tds_str){"bin", 3};
    cr_assert(m->cols[1].is_plp && m->cols[2].is_plp);
    char *text = malloc(BIG_DOC + 1);
    m->doc = malloc(2 * BIG_DOC);
    m->bin = malloc(BIG_BIN);
    cr_assert(text && m->doc && m->bin);
    for (int i = 0; i < BIG_DOC; i++)
        text[i] = (char)('a' + i % 26);
    m->doc_len = tds_encode_text(&m->cols[1], text, BIG_DOC, m->doc, 2 * BIG_DOC);
    cr_assert_eq(m->doc_len, 2 * BIG_DOC);
    free(text);
    for (int i = 0; i < BIG_BIN; i++)
        m->bin[i] = (uint8_t)(i * 7);
    memcpy(m->small, "h\0i\0", 4);
    for (int r = 0; r < 3; r++) {
        cr_assert_eq(tds_encode_int(&m->cols[0], r + 1, m->ids[r], 4), 4);
        m->v[3 * r] = (tds_value){m->ids[r], 4, 0};
    }
    m->v[1] = (tds_value){m->doc, (uint32_t)m->doc_len, 0}; /* row 1: both large */
    m->v[2] = (tds_value){m->bin, BIG_BIN, 0};
    m->v[4] = (tds_value){NULL, 0, TDS_VF_NULL};            /* row 2: NULL, empty */
    m->v[5] = (tds_value){m->bin, 0, 0};
    m->v[7] = (tds_value){m->small, 4, 0};                   /* row 3: small */
    m->v[8] = (tds_value){NULL, 0, TDS_VF_NULL};
}

typedef struct readback {
    const max_rows *m;
    int rows, bad;
} readback;

static bool same(const tds_value *got, const tds_value *want)
{
    if ((got->flags & TDS_VF_NULL) || (want->flags & TDS_VF_NULL))
        return (got->flags & TDS_VF_NULL) == (want->flags & TDS_VF_NULL);
    return got->len == want->len && (!want->len || memcmp(got->ptr, want->ptr, want->len) == 0);
}

static int rb_row(void *ud, const tds_column *cols, uint16_t n, const tds_value *v)
{
    readback *rb = ud;
    int64_t id = 0;
    if (n != 3 || tds_value_int(&cols[0], &v[0], &id) || id < 1 || id > 3)
        rb->bad++;
    else if (!same(&v[1], &rb->m->v[3 * (id - 1) + 1]) || !same(&v[2], &rb->m->v[3 * (id - 1) + 2]))
        rb->bad++;
    rb->rows++;
    return NET_ROW_NEXT;
}

static net_client *open_max_table(th_server *s, const char *name)
{
    cr_assert(th_start(s, th_scenario_default(name, 10, ""), NULL));
    net_opts o = th_opts(s->port);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    cr_assert_eq(net_client_batch(cl, "CREATE TABLE bm (id int NOT NULL PRIMARY KEY, doc nvarchar(max) NULL, "
                                      "bin varbinary(max) NULL)", NULL, NULL, &e), NET_OK, "%s", e.message);
    cr_assert_eq(net_client_batch(cl, "INSERT BULK bm ([id] int, [doc] nvarchar(max), [bin] varbinary(max))",
                                  NULL, NULL, &e), NET_OK, "%s", e.message);
    return cl;
}

Test(bulk, max_values_go_as_plp_chunks_and_read_back)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_max_table(&s, "bulk7");
    max_rows m;
    max_rows_make(&m);
    net_error e;
    net_bulk *b = net_bulk_begin(cl, m.cols, 3, &e);
    cr_assert_not_null(b, "%s", e.message);
    size_t put = 0;
    cr_assert_eq(net_bulk_rows_values(b, m.v, 3, &put, &e), NET_OK, "%s", e.message);
    cr_expect_eq(put, 3);
    uint64_t n = 0;
    cr_assert_eq(net_bulk_end(b, &n, &e), NET_OK, "%s", e.message);
    readback rb = {.m = &m};
    net_result_cb cb = {.row = rb_row};
    cr_assert_eq(net_client_batch(cl, "SELECT id, doc, bin FROM bm ORDER BY id", &cb, &rb, &e), NET_OK, "%s",
                 e.message);
    cr_expect_eq(rb.rows, 3);
    cr_expect_eq(rb.bad, 0, "%d rows read back different", rb.bad);
    free(m.doc);
    free(m.bin);
    net_client_close(cl);
    th_stop(&s);
}

Test(bulk, values_error_names_row_and_column)
{
    NEED_SERVER();
    th_server s;
    net_client *cl = open_max_table(&s, "bulk8");
    max_rows m;
    max_rows_make(&m);
    m.cols[0].type = TDS_T_INT4; /* a type that cannot carry a NULL… */
    m.v[6] = (tds_value){NULL, 0, TDS_VF_NULL}; /* …and a NULL in row 3 */
    net_error e;
    net_bulk *b = net_bulk_begin(cl, m.cols, 3, &e);
    cr_assert_not_null(b, "%s", e.message);
    size_t put = 9;
    int rc = net_bulk_rows_values(b, m.v, 3, &put, &e);
    cr_expect_eq(rc, NET_E_ARG, "%d %s", rc, e.message);
    cr_expect_eq(put, 2, "rows before the bad one went out");
    cr_expect(strstr(e.message, "row 3, column id") != NULL, "%s", e.message);
    net_bulk_abort(b);
    cr_expect(!net_conn_is_open(net_client_conn(cl)));
    free(m.doc);
    free(m.bin);
    net_client_close(cl);
    th_stop(&s);
}
