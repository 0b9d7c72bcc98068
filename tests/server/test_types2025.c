/*
 * test_types2025.c — tdstestd's json and vector columns (types2025.c)
 * without a network: the reply of a batch is decoded by a client-role
 * tds_session. Native 0xF4/0xF5 only for a connection that negotiated
 * them (float16 needs VECTORSUPPORT 2), text otherwise; INSERT BULK
 * refuses json in bulk metadata as SQL Server does, takes text and
 * native vectors, refuses a wrong dimension count; a server before 2025
 * (scenario version 16) does not know the type names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "engine.h"
#include "query_int.h"

#ifndef TDSTESTD_SCENARIOS
#define TDSTESTD_SCENARIOS "tests/server/scenarios"
#endif

/* "types: f4 f5 …\n" per result, "row: a|b\n" per row, "error N\n". */
static void app(char **o, size_t *n, const char *s)
{
    size_t k = strlen(s);
    *o = realloc(*o, *n + k + 1);
    memcpy(*o + *n, s, k + 1);
    *n += k;
}

static void on_event(const tds_event *ev, char **o, size_t *n)
{
    char buf[80];
    if (ev->type == TDS_EV_COLMETADATA) {
        app(o, n, "types:");
        for (uint16_t i = 0; i < ev->u.colmeta.ncols; i++) {
            snprintf(buf, sizeof buf, " %02x", ev->u.colmeta.cols[i].type);
            app(o, n, buf);
        }
        app(o, n, "\n");
    } else if (ev->type == TDS_EV_ROW) {
        app(o, n, "row: ");
        for (uint16_t i = 0; i < ev->u.row.ncols; i++) {
            static char text[70000];
            size_t tl;
            if (ev->u.row.values[i].flags & TDS_VF_NULL)
                snprintf(text, sizeof text, "NULL");
            else if (tds_value_text(&ev->u.row.cols[i], &ev->u.row.values[i], text, sizeof text, &tl))
                snprintf(text, sizeof text, "<bad>");
            if (strlen(text) > 60)
                snprintf(text + 40, sizeof text - 40, "…(%zu)", strlen(text));
            app(o, n, i ? "|" : "");
            app(o, n, text);
        }
        app(o, n, "\n");
    } else if (ev->type == TDS_EV_ERROR) {
        snprintf(buf, sizeof buf, "error %d\n", (int)ev->u.msg.number);
        app(o, n, buf);
    }
}

static char *drain(srv_cursor *cur)
{
    tds_session_opts so = { .role = TDS_ROLE_SERVER }, co = { .role = TDS_ROLE_CLIENT };
    tds_session *srv = tds_session_new(&so), *cli = tds_session_new(&co);
    char *out = calloc(1, 1);
    size_t n = 0;
    for (int rc = SRV_MORE; rc == SRV_MORE;) {
        rc = srv_cursor_step(cur, srv, 4096);
        const uint8_t *buf;
        size_t len;
        tds_send_buf(srv, &buf, &len);
        for (size_t off = 0; off < len;) {
            ptrdiff_t k = tds_feed(cli, buf + off, len - off);
            cr_assert(k >= 0, "feed: %s", tds_strerror((int)k));
            off += (size_t)k;
            tds_event ev;
            int e;
            while ((e = tds_next(cli, &ev)) == 1)
                on_event(&ev, &out, &n);
            cr_assert_eq(e, 0, "decode: %s", tds_strerror(e));
        }
        tds_send_ack(srv, len);
    }
    tds_session_free(srv);
    tds_session_free(cli);
    srv_cursor_free(cur);
    return out;
}

static char *run(srv_conn *c, const char *sql)
{
    srv_cursor *cur = srv_exec_batch(c, sql, strlen(sql));
    cr_assert(cur);
    return drain(cur);
}

static srv_conn *login(srv_db **db, const char *scen)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/%s", TDSTESTD_SCENARIOS, scen);
    *db = srv_db_load(path, err, sizeof err);
    cr_assert(*db, "%s", err);
    srv_login_req req = { .user = "sa", .password = "Passw0rd!" };
    srv_conn *c = NULL;
    srv_error e;
    cr_assert(srv_login(*db, &req, &c, &e), "login: %s", e.message);
    return c;
}

#define ROW1 "row: 1|{\"i\":1,\"s\":\"j-1\",\"a\":[1,-1,null],\"ok\":false,\"u\":\"\xC3\xA9\xE2\x82\xAC\"}|" \
             "[-121.125,-120.25,-119.375]|[-121.125,-120.25,-119.375,-118.5]\n"

Test(types2025, native_or_text_by_negotiation)
{
    srv_db *db;
    srv_conn *c = login(&db, "types2025.json");
    static const struct { uint8_t j, v; const char *types; } cases[] = {
        { 1, 2, "types: 26 f4 f5 f5\n" },
        { 0, 0, "types: 26 e7 a7 a7\n" },
        { 1, 1, "types: 26 f4 f5 a7\n" }, /* float16 needs VECTORSUPPORT 2 */
    };
    for (size_t k = 0; k < 3; k++) {
        srv_conn_set_types2025(c, cases[k].j, cases[k].v);
        char *t = run(c, "SELECT id, j, v, h FROM dbo.t2025 WHERE id = 1");
        char want[512];
        snprintf(want, sizeof want, "%s" ROW1, cases[k].types);
        cr_assert_str_eq(t, want, "case %zu", k);
        free(t);
    }
    /* maximum dimensions, both ways */
    for (uint8_t v = 0; v <= 2; v += 2) {
        srv_conn_set_types2025(c, v ? 1 : 0, v);
        char *t = run(c, "SELECT vmax, hmax FROM dbo.t2025 WHERE id = 2");
        cr_assert(strstr(t, v ? "types: f5 f5\n" : "types: a7 a7\n") && strstr(t, "row: [-117.25,-116.375,") &&
                  strstr(t, "(13224)|[-101.75,-100.875,") && strstr(t, "(26446)\n"), "%s", t);
        free(t);
    }
    srv_conn_free(c);
    srv_db_free(db);
}

static char *bulk(srv_conn *c, const tds_column *cols, const tds_value *vals, uint16_t n)
{
    char *t = run(c, "INSERT BULK dbo.b (id int, j json, v vector(2))");
    cr_assert_str_eq(t, "");
    free(t);
    cr_assert_eq(srv_bulk_columns(c, cols, n), 0);
    srv_bulk_row(c, cols, vals, n);
    return drain(srv_bulk_end(c));
}

Test(types2025, insert_bulk)
{
    srv_db *db;
    srv_conn *c = login(&db, "types2025.json");
    srv_conn_set_types2025(c, 1, 2);
    free(run(c, "CREATE TABLE dbo.b (id int NOT NULL, j json, v vector(2))"));
    tds_column cols[3];
    tds_column_init(&cols[0], TDS_T_INTN, 4, 0, 0);
    tds_column_init(&cols[1], TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    tds_column_init(&cols[2], TDS_T_VECTOR, 16, 0, TDS_VEC_FLOAT32);
    uint8_t id[4] = { 7, 0, 0, 0 }, js[32], vb[16];
    int jn = tds_utf8_to_utf16("{\"k\":[1]}", 9, js, sizeof js);
    float f[2] = { 0.5f, -2.0f };
    cr_assert_eq(tds_encode_vector(&cols[2], f, 2, vb, sizeof vb), 16);
    tds_value vals[3] = { { id, 4, 0 }, { js, (uint32_t)jn, 0 }, { vb, 16, 0 } };
    char *t = bulk(c, cols, vals, 3);
    cr_assert_eq(strstr(t, "error"), NULL, "%s", t);
    free(t);
    t = run(c, "SELECT id, j, v FROM dbo.b");
    cr_assert_str_eq(t, "types: 26 f4 f5\nrow: 7|{\"k\":[1]}|[0.5,-2]\n");
    free(t);
    /* json (0xF4) in bulk metadata: refused, as SQL Server does */
    tds_column jcol;
    tds_column_init(&jcol, TDS_T_JSON, 0, 0, 0);
    tds_column c2[3] = { cols[0], jcol, cols[2] };
    tds_value v2[3] = { vals[0], { (const uint8_t *)"{}", 2, 0 }, vals[2] };
    t = bulk(c, c2, v2, 3);
    cr_assert(strstr(t, "error 4816"), "%s", t);
    free(t);
    /* a vector of another dimension count */
    tds_column v3;
    tds_column_init(&v3, TDS_T_VECTOR, 20, 0, TDS_VEC_FLOAT32);
    float g[3] = { 1, 2, 3 };
    uint8_t wb[20];
    tds_encode_vector(&v3, g, 3, wb, sizeof wb);
    tds_column c3[3] = { cols[0], cols[1], v3 };
    tds_value w3[3] = { vals[0], vals[1], { wb, 20, 0 } };
    t = bulk(c, c3, w3, 3);
    cr_assert(strstr(t, "error 4815"), "%s", t);
    free(t);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(types2025, older_server_lacks_the_types)
{
    srv_db *db;
    srv_conn *c = login(&db, "demo.json");
    char *t = run(c, "CREATE TABLE dbo.x (id int, j json)");
    cr_assert_str_eq(t, "error 2715\n");
    free(t);
    t = run(c, "SELECT CAST(NULL AS vector(3))");
    cr_assert_str_eq(t, "error 243\n");
    free(t);
    srv_conn_free(c);
    srv_db_free(db);
}
