/*
 * cursor.c — srv_cursor: one reply being produced. srv_exec_batch and
 * srv_exec_rpc only parse and capture parameters; srv_cursor_step runs the
 * statements in order, writing tokens into the session, and hands control
 * back whenever a streaming result set has used its byte budget.
 *
 * DONE discipline (as SQL Server): one DONE per statement, DONE_MORE on
 * all but the last, DONE_ERROR on a failed statement, DONE_COUNT with the
 * row count unless SET NOCOUNT ON. RPC replies use DONEINPROC per
 * statement, then RETURNSTATUS and DONEPROC. A batch-aborting error (208,
 * 207, syntax) ends the reply with a final DONE_ERROR. ATTENTION ends the
 * message at a row boundary and sends DONE_ATTN as a message of its own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"

int srv_rule_part(srv_cursor *cur, tds_session *s, int rule, int part, bool *more);
int srv_rule_match_rpc(const srv_db *db, const char *proc);

/* ------------------------------------------------------------ messages */

static void cursor_put_msg(srv_cursor *cur, tds_session *s, bool error, int32_t number, uint8_t severity,
                    uint8_t state, const char *text)
{
    tds_server_msg m;
    memset(&m, 0, sizeof m);
    m.number = number;
    m.state = state;
    m.severity = severity;
    m.message.ptr = text;
    m.message.len = strlen(text);
    m.server.ptr = cur->c->db->server_name;
    m.server.len = strlen(cur->c->db->server_name);
    m.procedure.ptr = ""; /* not NULL: the engine's UTF-16 writer does pointer math on it */
    m.line = 1;
    if (error)
        tds_put_error(s, &m);
    else
        tds_put_info(s, &m);
}

void srv_put_error(srv_cursor *cur, tds_session *s, int32_t number, uint8_t severity, uint8_t state,
                   const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cur->any_error = true;
    cursor_put_msg(cur, s, true, number, severity, state, text);
}

void srv_put_info(srv_cursor *cur, tds_session *s, int32_t number, uint8_t state, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cursor_put_msg(cur, s, false, number, 0, state, text);
}

void srv_err_object(srv_cursor *cur, tds_session *s, const char *name)
{
    srv_put_error(cur, s, 208, 16, 1, "Invalid object name '%s'.", name);
}

void srv_err_column(srv_cursor *cur, tds_session *s, const char *name)
{
    srv_put_error(cur, s, 207, 16, 1, "Invalid column name '%s'.", name);
}

void srv_err_syntax(srv_cursor *cur, tds_session *s, const char *near)
{
    srv_put_error(cur, s, 102, 15, 1, "Incorrect syntax near '%s'.", near);
}

void srv_err_convert(srv_cursor *cur, tds_session *s, int code, const srv_coldef *d, const char *table)
{
    switch (code) {
    case 2628:
        srv_put_error(cur, s, 2628, 16, 1,
                      "String or binary data would be truncated in table '%s', column '%s'. Truncated value: ''.",
                      table, d->name);
        break;
    case 8115:
        srv_put_error(cur, s, 8115, 16, 2, "Arithmetic overflow error converting expression to data type %s.", d->type_name);
        break;
    case 241: case 242:
        srv_put_error(cur, s, 241, 16, 1, "Conversion failed when converting date and/or time from character string.");
        break;
    case 8169:
        srv_put_error(cur, s, 8169, 16, 2, "Conversion failed when converting from a character string to uniqueidentifier.");
        break;
    case 515:
        srv_put_error(cur, s, 515, 16, 2,
                      "Cannot insert the value NULL into column '%s', table '%s'; column does not allow nulls. INSERT fails.",
                      d->name, table);
        break;
    default:
        srv_put_error(cur, s, 245, 16, 1, "Conversion failed when converting the value to data type %s.", d->type_name);
        break;
    }
}

void srv_put_done(srv_cursor *cur, tds_session *s, uint16_t status, uint16_t curcmd, uint64_t count)
{
    bool more = !cur->aborted && cur->next < cur->batch.n;
    if (status & TDS_DONE_ERROR)
        cur->any_error = true;
    if (cur->rpc) {
        tds_put_done(s, TDS_TOK_DONEINPROC, (uint16_t)(status | TDS_DONE_MORE), curcmd, count);
        return;
    }
    if (cur->c->trancount)
        status |= TDS_DONE_INXACT;
    tds_put_done(s, TDS_TOK_DONE, (uint16_t)(status | (more ? TDS_DONE_MORE : 0)), curcmd, count);
    if (!more)
        cur->finished = true;
}

/* ------------------------------------------------------------ requests */

static srv_cursor *cursor_new(srv_conn *c)
{
    srv_cursor *cur = calloc(1, sizeof *cur);
    if (cur)
        cur->c = c;
    return cur;
}

srv_cursor *srv_exec_batch(srv_conn *c, const char *sql, size_t len)
{
    srv_cursor *cur = cursor_new(c);
    if (!cur)
        return NULL;
    cur->sql = malloc(len + 1);
    if (!cur->sql) {
        free(cur);
        return NULL;
    }
    memcpy(cur->sql, sql, len);
    cur->sql[len] = 0;
    cur->sql_len = len;
    int rule = srv_rule_match(c->db, cur->sql);
    if (rule >= 0) {
        cur->batch.stmts = sql_alloc(&cur->batch, sizeof *cur->batch.stmts);
        if (!cur->batch.stmts) {
            srv_cursor_free(cur);
            return NULL;
        }
        cur->batch.stmts[0].t = ST_RULE;
        cur->batch.stmts[0].rule = rule;
        cur->batch.n = 1;
        cur->parsed = true;
        return cur;
    }
    cur->parsed = sql_parse(cur->sql, len, &cur->batch, &cur->perr) == 0;
    return cur;
}

static int copy_param(srv_param *p, const tds_param *in)
{
    snprintf(p->name, sizeof p->name, "%s", in->name ? in->name : "");
    if (in->value.flags & TDS_VF_NULL) {
        p->v = sv_null();
        return 0;
    }
    p->mem = malloc((size_t)in->value.len * 2 + 64);
    if (!p->mem)
        return -1;
    if (in->value.flags & TDS_VF_UTF8) {
        memcpy(p->mem, in->value.ptr, in->value.len);
        p->v = sv_str((const char *)p->mem, in->value.len);
        return 0;
    }
    if (sv_from_wire(&in->col, in->value.ptr, in->value.len, &p->v, (char *)p->mem, (size_t)in->value.len * 2 + 64) < 0)
        return -1;
    if (p->v.k == SV_BIN) {
        memcpy(p->mem, in->value.ptr, in->value.len);
        p->v.s = (const char *)p->mem;
    }
    return 0;
}

srv_cursor *srv_exec_rpc(srv_conn *c, const tds_rpc_decoded *rpc, const tds_param *params, size_t n)
{
    srv_cursor *cur = cursor_new(c);
    if (!cur)
        return NULL;
    cur->rpc = true;
    char proc[SRV_NAME_MAX];
    if (rpc->proc_id)
        snprintf(proc, sizeof proc, "%s", rpc->proc_id == TDS_PROC_SP_EXECUTESQL ? "sp_executesql"
                                          : rpc->proc_id == TDS_PROC_SP_PREPARE ? "sp_prepare"
                                          : rpc->proc_id == TDS_PROC_SP_EXECUTE ? "sp_execute" : "?");
    else
        snprintf(proc, sizeof proc, "%.*s", (int)rpc->proc_name.len, rpc->proc_name.ptr ? rpc->proc_name.ptr : "");
    /* strip [dbo].[...] / sys. prefixes */
    const char *dot = strrchr(proc, '.');
    char bare[SRV_NAME_MAX];
    snprintf(bare, sizeof bare, "%s", dot ? dot + 1 : proc);
    size_t bl = strlen(bare);
    if (bl > 1 && bare[0] == '[' && bare[bl - 1] == ']') {
        memmove(bare, bare + 1, bl - 2);
        bare[bl - 2] = 0;
    }
    cur->params = calloc(n + 1, sizeof *cur->params);
    if (!cur->params) {
        free(cur);
        return NULL;
    }
    size_t first = 0;
    const char *sql = NULL;
    size_t sqlen = 0;
    char *stmt_text = NULL;
    if (srv_ieq(bare, "sp_executesql")) {
        if (n < 1) {
            cur->perr.number = 8144;
            snprintf(cur->perr.msg, sizeof cur->perr.msg, "Procedure or function sp_executesql has too many arguments specified.");
            return cur;
        }
        srv_param stmt;
        memset(&stmt, 0, sizeof stmt);
        if (copy_param(&stmt, &params[0]) < 0 || stmt.v.k != SV_STR) {
            free(stmt.mem);
            cur->perr.number = 214;
            snprintf(cur->perr.msg, sizeof cur->perr.msg, "Procedure expects parameter '@statement' of type 'ntext/nchar/nvarchar'.");
            return cur;
        }
        stmt_text = (char *)stmt.mem;
        sql = stmt.v.s;
        sqlen = stmt.v.n;
        first = n >= 2 ? 2 : 1; /* @params declaration is not needed: values carry their types */
    } else {
        /* any other procedure: EXEC name @a = …, as a batch with parameters */
        int rule = srv_rule_match_rpc(c->db, bare);
        char text[512];
        size_t o = (size_t)snprintf(text, sizeof text, "EXEC %s", bare);
        for (size_t i = 0; i < n && o < sizeof text - 40; i++) {
            const char *pn = params[i].name && params[i].name[0] ? params[i].name : NULL;
            if (pn)
                o += (size_t)snprintf(text + o, sizeof text - o, "%s %s = %s", i ? "," : "", pn, pn);
            else
                o += (size_t)snprintf(text + o, sizeof text - o, "%s @__p%zu", i ? "," : "", i);
        }
        stmt_text = malloc(o + 1);
        if (!stmt_text) {
            free(cur->params);
            free(cur);
            return NULL;
        }
        memcpy(stmt_text, text, o + 1);
        sql = stmt_text;
        sqlen = o;
        if (rule >= 0) {
            cur->sql = stmt_text;
            cur->batch.stmts = sql_alloc(&cur->batch, sizeof *cur->batch.stmts);
            cur->batch.stmts[0].t = ST_RULE;
            cur->batch.stmts[0].rule = rule;
            cur->batch.n = 1;
            cur->parsed = true;
            return cur;
        }
    }
    for (size_t i = first; i < n; i++) {
        srv_param *p = &cur->params[cur->nparams++];
        if (copy_param(p, &params[i]) < 0) {
            cur->perr.number = 8114;
            snprintf(cur->perr.msg, sizeof cur->perr.msg, "Error converting data type for parameter %zu.", i);
        }
        if (!p->name[0])
            snprintf(p->name, sizeof p->name, "@__p%zu", i);
    }
    cur->sql = malloc(sqlen + 1);
    if (cur->sql) {
        memcpy(cur->sql, sql, sqlen);
        cur->sql[sqlen] = 0;
        cur->sql_len = sqlen;
    }
    free(stmt_text);
    if (!cur->sql) {
        srv_cursor_free(cur);
        return NULL;
    }
    if (!cur->perr.number) {
        int rule = srv_rule_match(c->db, cur->sql);
        if (rule >= 0) {
            cur->batch.stmts = sql_alloc(&cur->batch, sizeof *cur->batch.stmts);
            cur->batch.stmts[0].t = ST_RULE;
            cur->batch.stmts[0].rule = rule;
            cur->batch.n = 1;
            cur->parsed = true;
        } else {
            cur->parsed = sql_parse(cur->sql, cur->sql_len, &cur->batch, &cur->perr) == 0;
        }
    }
    return cur;
}

void srv_cursor_cancel(srv_cursor *cur) { cur->cancelled = true; }

void srv_cursor_free(srv_cursor *cur)
{
    if (!cur)
        return;
    srv_rs_free(cur->rs);
    sql_batch_free(&cur->batch);
    for (int i = 0; i < cur->nparams; i++)
        free(cur->params[i].mem);
    free(cur->params);
    free(cur->sql);
    free(cur);
}

/* ------------------------------------------------------------ stepping */

static int run_stmt(srv_cursor *cur, tds_session *s, sql_stmt *st)
{
    switch (st->t) {
    case ST_SELECT:
        return exec_select(cur, s, &st->sel);
    case ST_SET: case ST_USE: case ST_BEGIN: case ST_COMMIT: case ST_ROLLBACK:
        return exec_session(cur, s, st);
    case ST_INSERT: case ST_INSERT_SELECT: case ST_UPDATE: case ST_DELETE: case ST_MERGE: case ST_TRUNCATE:
        return exec_dml(cur, s, st);
    case ST_CREATE_TABLE: case ST_CREATE_SCHEMA: case ST_DROP_TABLE: case ST_ALTER_DB:
    case ST_ALTER_TABLE_CT: case ST_INSERT_BULK:
        return exec_ddl(cur, s, st);
    case ST_EXEC:
        return exec_proc(cur, s, st);
    case ST_RULE: {
        bool more;
        int rc = srv_rule_part(cur, s, st->rule, cur->rule_part, &more);
        if (more) {
            cur->rule_part++;
            cur->next--; /* run the same statement again for the next part */
        }
        return rc;
    }
    default:
        srv_err_syntax(cur, s, "");
        return -2;
    }
}

static int cursor_finish(srv_cursor *cur, tds_session *s)
{
    if (cur->rpc) {
        tds_put_returnstatus(s, cur->any_error ? 1 : 0);
        tds_put_done(s, TDS_TOK_DONEPROC, cur->any_error ? TDS_DONE_ERROR : 0, 0, 0);
    } else if (!cur->finished) {
        tds_put_done(s, TDS_TOK_DONE, cur->any_error ? TDS_DONE_ERROR : 0, 0, 0);
    }
    tds_msg_end(s);
    return SRV_DONE;
}

int srv_cursor_step(srv_cursor *cur, tds_session *s, size_t budget)
{
    if (cur->fault)
        return cur->fault;
    if (!cur->began) {
        if (tds_msg_begin(s, TDS_PKT_REPLY, 0) < 0)
            return SRV_CLOSE;
        cur->began = true;
        if (cur->c->faults.stall) {
            cur->fault = SRV_STALL;
            return SRV_STALL;
        }
    }
    if (cur->bulk_end) {
        if (cur->perr.number)
            srv_put_error(cur, s, cur->perr.number, cur->perr.number == 2627 ? 14 : 16, cur->perr.number == 515 ? 2 : 1,
                          "%s", cur->perr.msg);
        tds_put_done(s, TDS_TOK_DONE, cur->perr.number ? TDS_DONE_ERROR : TDS_DONE_COUNT, 0, cur->bulk_count);
        tds_msg_end(s);
        cur->fault = SRV_DONE;
        return SRV_DONE;
    }
    if (cur->cancelled) {
        /* end the interrupted message at a row boundary, then DONE_ATTN alone */
        tds_msg_end(s);
        tds_msg_begin(s, TDS_PKT_REPLY, 0);
        tds_put_done(s, TDS_TOK_DONE, TDS_DONE_ATTN, 0, 0);
        tds_msg_end(s);
        srv_rs_free(cur->rs);
        cur->rs = NULL;
        cur->fault = SRV_DONE;
        return SRV_DONE;
    }
    if (!cur->parsed) {
        srv_put_error(cur, s, cur->perr.number ? cur->perr.number : 102,
                      cur->perr.number == 102 || cur->perr.number == 156 || cur->perr.number == 105 ? 15 : 16,
                      1, "%s", cur->perr.msg);
        cur->aborted = true;
        return cursor_finish(cur, s);
    }
    size_t start = tds_send_pending(s);
    for (;;) {
        if (cur->rs) {
            size_t used = tds_send_pending(s) - start;
            int rc = srv_rs_step(cur, s, budget > used ? budget - used : 1);
            if (rc == SRV_MORE)
                return SRV_MORE;
            if (rc == SRV_CLOSE || rc == SRV_STALL) {
                cur->fault = rc;
                return rc;
            }
            srv_rs_free(cur->rs);
            cur->rs = NULL;
        }
        if (cur->aborted || cur->next >= cur->batch.n)
            return cursor_finish(cur, s);
        sql_stmt *st = &cur->batch.stmts[cur->next++];
        int rc = run_stmt(cur, s, st);
        if (rc == -2) {
            cur->aborted = true;
            if (!cur->rpc)
                tds_put_done(s, TDS_TOK_DONE, TDS_DONE_ERROR | (cur->c->trancount ? TDS_DONE_INXACT : 0), 0, 0);
            cur->finished = true;
            return cursor_finish(cur, s);
        }
        if (rc == -1)
            srv_put_done(cur, s, TDS_DONE_ERROR, 0, 0);
        if (tds_send_pending(s) - start >= budget && !cur->rs)
            return SRV_MORE;
    }
}
