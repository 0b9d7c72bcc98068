/*
 * request.c — the requests of a logged-in connection: SQL batch and RPC
 * (decoded, handed to the query half as a cursor), ATTENTION (cancels the
 * running cursor, or is acknowledged alone when the reply had ended) and
 * the transaction manager request (BEGIN/COMMIT/ROLLBACK answered with the
 * ENVCHANGEs SQL Server sends).
 *
 * Invariant: a request's payload copy and decode scratch live until its
 * cursor is freed (srv_net_conn_release_request), since the cursor's views
 * point into them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "network_int.h"

/* --------------------------------------------------------------- requests */

static uint8_t *copy_payload(srv_net_conn *c, const uint8_t *p, size_t n)
{
    free(c->req_copy);
    c->req_copy = malloc(n ? n : 1);
    if (c->req_copy)
        memcpy(c->req_copy, p, n);
    return c->req_copy;
}

void srv_net_req_batch(srv_net_conn *c, const uint8_t *p, size_t n)
{
    uint8_t *in = copy_payload(c, p, n);
    size_t cap = n / 2 * 3 + 16;
    char *sql = malloc(cap);
    c->req_scratch = sql;
    if (!in || !sql) {
        srv_net_conn_close(c);
        return;
    }
    size_t sql_len = 0;
    uint64_t tran = 0;
    int r = tds_sql_batch_decode(in, n, sql, cap, &sql_len, &tran);
    if (r < 0) {
        srv_net_log(c, "bad SQL_BATCH: %s", tds_strerror(r));
        srv_net_conn_close(c);
        return;
    }
    srv_net_log(c, "batch: %.*s", (int)(sql_len > 200 ? 200 : sql_len), sql);
    srv_net_conn_start_cursor(c, srv_exec_batch(c->qc, sql, sql_len));
}

void srv_net_req_rpc(srv_net_conn *c, const uint8_t *p, size_t n)
{
    uint8_t *in = copy_payload(c, p, n);
    size_t max = 2048;
    size_t scap = n * 2 + 4096;
    tds_param *params = calloc(max, sizeof *params);
    uint8_t *scratch = malloc(scap);
    c->req_params = params;
    c->req_scratch = scratch;
    if (!in || !params || !scratch) {
        srv_net_conn_close(c);
        return;
    }
    tds_rpc_decoded rpc;
    memset(&rpc, 0, sizeof rpc);
    int np = tds_rpc_decode(in, n, &rpc, params, max, scratch, scap);
    if (np < 0) {
        srv_net_log(c, "bad RPC: %s", tds_strerror(np));
        srv_net_conn_close(c);
        return;
    }
    srv_net_log(c, "rpc: id %u name %s, %d params", rpc.proc_id,
            rpc.proc_name.ptr ? rpc.proc_name.ptr : "-", np);
    srv_net_conn_start_cursor(c, srv_exec_rpc(c->qc, &rpc, params, (size_t)np));
}

void srv_net_req_attention(srv_net_conn *c)
{
    srv_net_log(c, "attention");
    if (c->cur) {
        srv_cursor_cancel(c->cur);
        srv_net_conn_step(c);
        return;
    }
    /* The reply had ended already: acknowledge on a message of its own. */
    if (tds_msg_begin(c->s, TDS_PKT_REPLY, 0) < 0 ||
        tds_put_done(c->s, TDS_TOK_DONE, TDS_DONE_ATTN, 0, 0) < 0 ||
        tds_msg_end(c->s) < 0) {
        srv_net_conn_close(c);
        return;
    }
    srv_net_conn_flush(c);
}

/* Transaction manager request (MS-TDS 2.2.6.9): BEGIN, COMMIT, ROLLBACK,
 * SAVE; answered with the ENVCHANGE SQL Server sends. pytds uses it when
 * autocommit is off. */
enum { TM_GET_DTC = 0, TM_PROPAGATE = 1, TM_BEGIN = 5, TM_PROMOTE = 6,
       TM_COMMIT = 7, TM_ROLLBACK = 8, TM_SAVE = 9 };

static int tm_env(srv_net_conn *c, uint8_t type, uint64_t new_d, uint64_t old_d)
{
    uint8_t nb[8], ob[8];
    tds_envchange e;
    memset(&e, 0, sizeof e);
    e.type = type;
    for (int i = 0; i < 8; i++) {
        nb[i] = (uint8_t)(new_d >> (8 * i));
        ob[i] = (uint8_t)(old_d >> (8 * i));
    }
    if (new_d) {
        e.new_raw = nb;
        e.new_raw_len = 8;
    }
    if (old_d) {
        e.old_raw = ob;
        e.old_raw_len = 8;
    }
    return tds_put_envchange(c->s, &e);
}

void srv_net_req_tranmgr(srv_net_conn *c, const uint8_t *p, size_t n)
{
    if (n < 6) {
        srv_net_conn_close(c);
        return;
    }
    uint32_t hl = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                  ((uint32_t)p[3] << 24);
    if (hl < 4 || hl + 2 > n) {
        srv_net_conn_close(c);
        return;
    }
    const uint8_t *q = p + hl;
    size_t left = n - hl;
    uint16_t type = (uint16_t)(q[0] | (q[1] << 8));
    q += 2;
    left -= 2;
    int r = tds_msg_begin(c->s, TDS_PKT_REPLY, 0);
    uint64_t old = c->tran;
    switch (type) {
    case TM_BEGIN:
        c->tran = ++c->tran_seq | 0x0100000000000000ull;
        if (r == 0)
            r = tm_env(c, TDS_ENV_BEGIN_TRAN, c->tran, 0);
        break;
    case TM_COMMIT:
    case TM_ROLLBACK: {
        /* name (B_VARCHAR), then fBeginXact */
        size_t namelen = left ? (size_t)q[0] * 2 : 0;
        bool begin = left > 1 + namelen && q[1 + namelen] != 0;
        if (r == 0 && old)
            r = tm_env(c, type == TM_COMMIT ? TDS_ENV_COMMIT_TRAN : TDS_ENV_ROLLBACK_TRAN, 0, old);
        c->tran = 0;
        if (begin) {
            c->tran = ++c->tran_seq | 0x0100000000000000ull;
            if (r == 0)
                r = tm_env(c, TDS_ENV_BEGIN_TRAN, c->tran, 0);
        }
        break;
    }
    case TM_SAVE:
        break;
    default: {
        tds_server_msg m;
        memset(&m, 0, sizeof m);
        m.number = 40000;
        m.state = 1;
        m.severity = 16;
        m.message.ptr = "Transaction manager request not supported by tdstestd.";
        m.message.len = strlen(m.message.ptr);
        m.server.ptr = c->srv->settings.server_name;
        m.server.len = m.server.ptr ? strlen(m.server.ptr) : 0;
        m.procedure.ptr = "";
        if (r == 0)
            r = tds_put_error(c->s, &m);
        if (r == 0)
            r = tds_put_done(c->s, TDS_TOK_DONE, TDS_DONE_ERROR, 0, 0);
        if (r == 0)
            r = tds_msg_end(c->s);
        if (r < 0)
            srv_net_conn_close(c);
        else
            srv_net_conn_flush(c);
        return;
    }
    }
    if (r == 0)
        r = tds_put_done(c->s, TDS_TOK_DONE, 0, 0, 0);
    if (r == 0)
        r = tds_msg_end(c->s);
    if (r < 0) {
        srv_net_log(c, "transaction reply: %s", tds_strerror(r));
        srv_net_conn_close(c);
        return;
    }
    srv_net_log(c, "transaction request %u", type);
    srv_net_conn_flush(c);
}
