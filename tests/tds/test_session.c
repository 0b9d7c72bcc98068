/*
 * test_session.c — the whole engine end to end in memory: a client session
 * and a server session talk through byte buffers (PRELOGIN, LOGIN7 with
 * FEDAUTH and UTF8_SUPPORT, login reply with a packet-size change, SQL
 * batch, a multi-result reply, RPC, ATTENTION). Both sides use only the
 * public API, exactly as net/ and tdstestd do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"
#include "vectors.h"

/* Moves everything queued on `from` into `to`, in odd-sized pieces, and
 * returns the events `to` produced as a transcript. */
static char *pump(tds_session *from, tds_session *to)
{
    char *out = calloc(1, 1);
    size_t olen = 0;
    const uint8_t *p;
    size_t n;
    tds_send_buf(from, &p, &n);
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, p, n);
    tds_send_ack(from, n);
    size_t off = 0;
    unsigned turn = 0;
    for (;;) {
        tds_event ev;
        int rc;
        while ((rc = tds_next(to, &ev)) == 1)
            tv_event_line(&out, &olen, &ev);
        cr_assert_geq(rc, 0, "decode failed: %s", tds_strerror(rc));
        if (off == n)
            break;
        size_t k = (turn++ % 3 == 0) ? 1 : 777;
        if (k > n - off)
            k = n - off;
        ptrdiff_t took = tds_feed(to, copy + off, k);
        cr_assert_geq(took, 0, "feed failed: %s", tds_strerror((int)took));
        off += (size_t)took;
    }
    free(copy);
    return out;
}

/* Pulls the next whole message on a server session (after pump). */
static void server_message(tds_session *srv, tds_session *cli, uint8_t type, uint8_t *buf,
                           size_t cap, size_t *len)
{
    const uint8_t *p;
    size_t n;
    tds_send_buf(cli, &p, &n);
    cr_assert_gt(n, 0);
    size_t off = 0;
    tds_event ev;
    for (;;) {
        int rc = tds_next(srv, &ev);
        cr_assert_geq(rc, 0);
        if (rc == 1)
            break;
        cr_assert_lt(off, n, "message incomplete");
        ptrdiff_t took = tds_feed(srv, p + off, n - off);
        cr_assert_gt(took, 0);
        off += (size_t)took;
    }
    cr_assert_eq(ev.type, TDS_EV_MESSAGE);
    cr_assert_eq(ev.u.message.type, type);
    cr_assert_leq(ev.u.message.len, cap);
    memcpy(buf, ev.u.message.data, ev.u.message.len);
    *len = ev.u.message.len;
    tds_send_ack(cli, off);
}

static tds_column col(uint8_t type, uint32_t len, uint8_t p, uint8_t s, const char *name)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, len, p, s), TDS_OK);
    c.name.ptr = name;
    c.name.len = strlen(name);
    c.flags = TDS_COL_NULLABLE;
    return c;
}

Test(session, login_batch_rpc_attention)
{
    tds_session_opts co = {0}, so = {.role = TDS_ROLE_SERVER};
    tds_session *cli = tds_session_new(&co), *srv = tds_session_new(&so);
    uint8_t msg[65536];
    size_t mlen;

    /* PRELOGIN */
    tds_prelogin pl = {0};
    pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION) | (1u << TDS_PL_FEDAUTHREQUIRED);
    pl.version = 0x01000000;
    pl.encryption = TDS_ENCRYPT_NOT_SUP;
    pl.fedauth_required = 1;
    cr_assert_eq(tds_send_prelogin(cli, &pl), TDS_OK);
    server_message(srv, cli, TDS_PKT_PRELOGIN, msg, sizeof msg, &mlen);
    tds_prelogin got;
    cr_assert_eq(tds_prelogin_decode(msg, mlen, &got), TDS_OK);
    cr_assert_eq(got.encryption, TDS_ENCRYPT_NOT_SUP);
    tds_prelogin reply = {0};
    reply.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION) | (1u << TDS_PL_FEDAUTHREQUIRED) |
                    (1u << TDS_PL_NONCEOPT);
    reply.version = 0x10000FA0;
    reply.encryption = TDS_ENCRYPT_NOT_SUP;
    reply.fedauth_required = 1;
    for (int i = 0; i < 32; i++)
        reply.nonce[i] = (uint8_t)i;
    cr_assert_eq(tds_send_prelogin(srv, &reply), TDS_OK);
    char *t = pump(srv, cli);
    cr_assert(strncmp(t, "MESSAGE type=4", 14) == 0, "%s", t);
    free(t);

    /* LOGIN7 with a security token echoing FEDAUTHREQUIRED and the nonce */
    tds_login7 l = {0};
    l.tds_version = TDS_VERSION_74;
    l.packet_size = 8192;
    l.hostname = "host";
    l.appname = "tdspipe";
    l.servername = "127.0.0.1";
    l.library = "tdspipe";
    l.database = "shop";
    l.fedauth = true;
    l.fedauth_echo = true;
    l.fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
    l.fedauth_token = "eyJ0eXAi.token.\xF0\x9F\x98\x80";
    l.fedauth_has_nonce = true;
    memcpy(l.fedauth_nonce, reply.nonce, 32);
    l.utf8_support = true;
    cr_assert_eq(tds_send_login7(cli, &l), TDS_OK);
    server_message(srv, cli, TDS_PKT_LOGIN7, msg, sizeof msg, &mlen);
    tds_login7 dl;
    char strbuf[8192];
    cr_assert_eq(tds_login7_decode(msg, mlen, &dl, strbuf, sizeof strbuf), TDS_OK);
    cr_assert(dl.fedauth);
    cr_assert(dl.fedauth_echo);
    cr_assert_str_eq(dl.fedauth_token, l.fedauth_token);
    cr_assert_arr_eq(dl.fedauth_nonce, reply.nonce, 32);
    cr_assert_str_eq(dl.database, "shop");
    cr_assert_eq(dl.packet_size, 8192);

    /* Login reply: database, packet size as a string, collation, LOGINACK,
     * FEATUREEXTACK for what was asked, DONE. */
    cr_assert_eq(tds_msg_begin(srv, TDS_PKT_REPLY, 0), TDS_OK);
    tds_envchange e = {0};
    e.type = TDS_ENV_DATABASE;
    e.new_text = (tds_str){"shop", 4};
    e.old_text = (tds_str){"master", 6};
    cr_assert_eq(tds_put_envchange(srv, &e), TDS_OK);
    tds_server_msg info = {.number = 5701, .state = 2, .severity = 0,
                           .message = {"Changed database context to 'shop'.", 35},
                           .server = {"tdstestd", 8}, .line = 1};
    cr_assert_eq(tds_put_info(srv, &info), TDS_OK);
    uint8_t coll[5] = {0x09, 0x04, 0xD0, 0x00, 0x34};
    memset(&e, 0, sizeof e);
    e.type = TDS_ENV_COLLATION;
    e.new_raw = coll;
    e.new_raw_len = 5;
    cr_assert_eq(tds_put_envchange(srv, &e), TDS_OK);
    memset(&e, 0, sizeof e);
    e.type = TDS_ENV_PACKETSIZE;
    e.new_text = (tds_str){"8192", 4};
    e.old_text = (tds_str){"4096", 4};
    cr_assert_eq(tds_put_envchange(srv, &e), TDS_OK);
    tds_loginack ack = {.interface = 1, .tds_version = TDS_VERSION_74,
                        .prog_name = {"Microsoft SQL Server", 20}, .major = 16, .minor = 0, .build = 4000};
    cr_assert_eq(tds_put_loginack(srv, &ack), TDS_OK);
    uint8_t fed_ack[32] = {0};
    uint8_t utf8_ack[1] = {1};
    tds_feature_ack acks[2] = {{TDS_FEAT_FEDAUTH, fed_ack, 32}, {TDS_FEAT_UTF8_SUPPORT, utf8_ack, 1}};
    cr_assert_eq(tds_put_featureextack(srv, acks, 2), TDS_OK);
    cr_assert_eq(tds_put_done(srv, TDS_TOK_DONE, TDS_DONE_FINAL, 0, 0), TDS_OK);
    cr_assert_eq(tds_msg_end(srv), TDS_OK);
    cr_assert_eq(tds_set_packet_size(srv, 8192), TDS_OK);
    t = pump(srv, cli);
    cr_assert(strstr(t, "ENVCHANGE type=1 new=shop old=master") != NULL, "%s", t);
    cr_assert(strstr(t, "INFO 5701 state=2 class=0 msg=Changed database context to 'shop'.") != NULL, "%s", t);
    cr_assert(strstr(t, "ENVCHANGE type=4 new=8192 old=4096") != NULL, "%s", t);
    cr_assert(strstr(t, "LOGINACK if=1 tds=0x74000004 prog=Microsoft SQL Server ver=16.0.4000") != NULL, "%s", t);
    cr_assert(strstr(t, "FEATUREEXTACK n=2 2:32 10:1") != NULL, "%s", t);
    cr_assert(strstr(t, "DONE tok=0xfd status=0x0 cmd=0 rows=0\nEND\n") != NULL, "%s", t);
    free(t);
    cr_assert_eq(tds_packet_size(cli), 8192);
    cr_assert_str_eq(tds_database(cli), "shop");
    cr_assert_eq(tds_session_collation(cli)->codepage, 1252);

    /* SQL batch, long enough to span packets at the new size */
    char sql[12000];
    memset(sql, ' ', sizeof sql);
    memcpy(sql, "SELECT id, name, price FROM dbo.items; SELECT 1", 47);
    cr_assert_eq(tds_send_sql_batch(cli, sql, sizeof sql), TDS_OK);
    server_message(srv, cli, TDS_PKT_SQL_BATCH, msg, sizeof msg, &mlen);
    char text[16000];
    size_t tlen;
    uint64_t tran = 99;
    cr_assert_eq(tds_sql_batch_decode(msg, mlen, text, sizeof text, &tlen, &tran), TDS_OK);
    cr_assert_eq(tlen, sizeof sql);
    cr_assert_eq(memcmp(text, sql, sizeof sql), 0);
    cr_assert_eq(tran, 0);

    /* Reply: two result sets, the first with 300 rows spanning packets. */
    tds_column cols[3] = {col(TDS_T_INTN, 4, 0, 0, "id"), col(TDS_T_NVARCHAR, 0xFFFF, 0, 0, "name"),
                          col(TDS_T_DECIMALN, 17, 38, 4, "price")};
    cr_assert_eq(tds_msg_begin(srv, TDS_PKT_REPLY, 0), TDS_OK);
    cr_assert_eq(tds_put_colmetadata(srv, cols, 3), TDS_OK);
    for (int i = 0; i < 300; i++) {
        uint8_t b0[4], b2[17];
        char name[64];
        int nl = snprintf(name, sizeof name, "item \xE2\x82\xAC %d", i);
        tds_decimal d;
        char dec[64];
        int dl2 = snprintf(dec, sizeof dec, "-%d.%04d", i * 1000, i);
        cr_assert_eq(tds_decimal_parse(dec, (size_t)dl2, 38, 4, &d), TDS_OK);
        tds_value v[3] = {{b0, (uint32_t)tds_encode_int(&cols[0], i, b0, 4), 0},
                          {(const uint8_t *)name, (uint32_t)nl, TDS_VF_UTF8},
                          {b2, (uint32_t)tds_encode_decimal(&cols[2], &d, b2, sizeof b2), 0}};
        if (i % 7 == 3)
            v[1] = (tds_value){NULL, 0, TDS_VF_NULL};
        cr_assert_eq(tds_put_row(srv, cols, v, 3), TDS_OK);
    }
    cr_assert_eq(tds_put_done(srv, TDS_TOK_DONE, TDS_DONE_MORE | TDS_DONE_COUNT, 0xC1, 300), TDS_OK);
    tds_column one = col(TDS_T_INT4, 4, 0, 0, "");
    cr_assert_eq(tds_put_colmetadata(srv, &one, 1), TDS_OK);
    uint8_t b1[4] = {1, 0, 0, 0};
    tds_value v1 = {b1, 4, 0};
    cr_assert_eq(tds_put_row(srv, &one, &v1, 1), TDS_OK);
    cr_assert_eq(tds_put_done(srv, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 1), TDS_OK);
    cr_assert_eq(tds_msg_end(srv), TDS_OK);
    t = pump(srv, cli);
    cr_assert(strstr(t, "ROW 0 | item \xE2\x82\xAC 0 | 0.0000\n") != NULL, "%s", t);
    cr_assert(strstr(t, "ROW 3 | NULL | -3000.0003\n") != NULL, "%s", t);
    cr_assert(strstr(t, "ROW 299 | item \xE2\x82\xAC 299 | -299000.0299\n") != NULL, "%s", t);
    cr_assert(strstr(t, "DONE tok=0xfd status=0x11 cmd=193 rows=300\nCOLMETADATA n=1") != NULL, "%s", t);
    cr_assert(strstr(t, "ROW 1\nDONE tok=0xfd status=0x10 cmd=193 rows=1\nEND\n") != NULL, "%s", t);
    free(t);

    /* RPC sp_executesql with an int and an nvarchar parameter */
    tds_param params[3];
    memset(params, 0, sizeof params);
    const char *stmt = "SELECT * FROM t WHERE id = @id";
    params[0].col = col(TDS_T_NVARCHAR, 0xFFFF, 0, 0, "");
    params[0].value = (tds_value){(const uint8_t *)stmt, (uint32_t)strlen(stmt), TDS_VF_UTF8};
    params[1].col = col(TDS_T_NVARCHAR, 8000, 0, 0, "");
    params[1].value = (tds_value){(const uint8_t *)"@id int", 7, TDS_VF_UTF8};
    uint8_t idb[4];
    params[2].name = "@id";
    params[2].col = col(TDS_T_INTN, 4, 0, 0, "");
    params[2].value = (tds_value){idb, (uint32_t)tds_encode_int(&params[2].col, -42, idb, 4), 0};
    tds_rpc rpc = {.proc_id = TDS_PROC_SP_EXECUTESQL, .params = params, .nparams = 3};
    cr_assert_eq(tds_send_rpc(cli, &rpc), TDS_OK);
    server_message(srv, cli, TDS_PKT_RPC, msg, sizeof msg, &mlen);
    tds_rpc_decoded rd;
    tds_param dp[8];
    uint8_t scratch[4096];
    int np = tds_rpc_decode(msg, mlen, &rd, dp, 8, scratch, sizeof scratch);
    cr_assert_eq(np, 3);
    cr_assert_eq(rd.proc_id, TDS_PROC_SP_EXECUTESQL);
    size_t ul;
    cr_assert_eq(tds_value_utf8(&dp[0].col, &dp[0].value, text, sizeof text, &ul), TDS_OK);
    cr_assert_str_eq(text, stmt);
    cr_assert_str_eq(dp[2].name, "@id");
    int64_t idv;
    cr_assert_eq(tds_value_int(&dp[2].col, &dp[2].value, &idv), TDS_OK);
    cr_assert_eq(idv, -42);

    /* ATTENTION, answered by a DONE with DONE_ATTN in its own message */
    cr_assert_eq(tds_send_attention(cli), TDS_OK);
    server_message(srv, cli, TDS_PKT_ATTENTION, msg, sizeof msg, &mlen);
    cr_assert_eq(mlen, 0);
    cr_assert_eq(tds_msg_begin(srv, TDS_PKT_REPLY, 0), TDS_OK);
    cr_assert_eq(tds_put_done(srv, TDS_TOK_DONE, TDS_DONE_ATTN, 0, 0), TDS_OK);
    cr_assert_eq(tds_msg_end(srv), TDS_OK);
    t = pump(srv, cli);
    cr_assert_str_eq(t, "DONE tok=0xfd status=0x20 cmd=0 rows=0\nEND\n");
    free(t);

    tds_session_free(cli);
    tds_session_free(srv);
}

Test(session, unrequested_feature_ack_is_rejected)
{
    tds_session_opts so = {.role = TDS_ROLE_SERVER};
    tds_session *cli = tds_session_new(NULL), *srv = tds_session_new(&so);
    tds_login7 l = {.tds_version = TDS_VERSION_74, .packet_size = 4096, .username = "u", .password = "p"};
    cr_assert_eq(tds_send_login7(cli, &l), TDS_OK);
    tds_send_ack(cli, tds_send_pending(cli));
    uint8_t d[1] = {1};
    tds_feature_ack ack = {TDS_FEAT_UTF8_SUPPORT, d, 1};
    cr_assert_eq(tds_msg_begin(srv, TDS_PKT_REPLY, 0), TDS_OK);
    cr_assert_eq(tds_put_featureextack(srv, &ack, 1), TDS_OK);
    cr_assert_eq(tds_put_done(srv, TDS_TOK_DONE, 0, 0, 0), TDS_OK);
    cr_assert_eq(tds_msg_end(srv), TDS_OK);
    const uint8_t *p;
    size_t n;
    tds_send_buf(srv, &p, &n);
    cr_assert_eq(tds_feed(cli, p, n), (ptrdiff_t)n);
    tds_event ev;
    cr_assert_eq(tds_next(cli, &ev), TDS_E_FEATURE);
    cr_assert_eq(tds_session_error(cli), TDS_E_FEATURE);
    tds_session_free(cli);
    tds_session_free(srv);
}

/* The LOGIN7 carries the password (obfuscated, trivially reversible) or an
 * access token: once written, its bytes must not stay in the send queue. */
Test(session, login7_bytes_are_wiped_after_send)
{
    tds_session *cli = tds_session_new(NULL);
    tds_login7 l = {.tds_version = TDS_VERSION_74, .packet_size = 4096, .username = "u",
                    .password = "pw", .fedauth = false};
    char token[3000];
    memset(token, 'T', sizeof token - 1);
    token[sizeof token - 1] = '\0';
    l.fedauth = true;
    l.fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
    l.fedauth_token = token;
    cr_assert_eq(tds_send_login7(cli, &l), TDS_OK);
    const uint8_t *p;
    size_t n;
    tds_send_buf(cli, &p, &n);
    cr_assert_gt(n, 6000);
    /* 'T' as UTF-16LE is "T\0": the token is in the queue before the ack */
    size_t hits = 0;
    for (size_t i = 0; i + 1 < n; i++)
        hits += p[i] == 'T' && p[i + 1] == 0;
    cr_assert_gt(hits, 2900);
    const uint8_t *base = p;
    tds_send_ack(cli, 100);
    tds_send_ack(cli, n - 100);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(base[i], 0, "byte %zu of the sent LOGIN7 survived", i);
    tds_session_free(cli);
}
