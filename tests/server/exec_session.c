/*
 * exec_session.c — session statements and procedures: SET options, USE,
 * BEGIN/COMMIT/ROLLBACK TRANSACTION (with ENVCHANGE 8/9/10 carrying the
 * 8-byte transaction descriptor), EXEC sp_rename, and the harness-only
 * procedures tdstestd_fault and tdstestd_ct_cleanup (README.md).
 *
 * Invariants: SET options that the subset does not model are accepted and
 * ignored (SQL Server accepts them too); unknown options are error 195.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc.h"
#include "query_int.h"

static const char *known_set[] = {
    "nocount", "fmtonly", "textsize", "ansi_nulls", "ansi_padding", "ansi_warnings",
    "ansi_null_dflt_on", "ansi_null_dflt_off", "ansi_defaults", "arithabort", "arithignore",
    "concat_null_yields_null", "quoted_identifier", "numeric_roundabort", "implicit_transactions",
    "cursor_close_on_commit", "xact_abort", "language", "dateformat", "datefirst",
    "lock_timeout", "deadlock_priority", "rowcount", "statistics", "showplan_xml", "showplan_text",
    "showplan_all", "nocount", "query_governor_cost_limit", "context_info", "no_browsetable",
    "parseonly", "noexec", "forceplan", "identity_insert", NULL,
};

static void env_db(srv_cursor *cur, tds_session *s, const char *newdb, const char *olddb)
{
    tds_envchange e;
    memset(&e, 0, sizeof e);
    e.type = TDS_ENV_DATABASE;
    e.new_text.ptr = newdb;
    e.new_text.len = strlen(newdb);
    e.old_text.ptr = olddb;
    e.old_text.len = strlen(olddb);
    tds_put_envchange(s, &e);
    srv_put_info(cur, s, 5701, 2, "Changed database context to '%s'.", newdb);
}

static void env_tran(tds_session *s, uint8_t type, uint64_t id)
{
    uint8_t d[8];
    for (int i = 0; i < 8; i++)
        d[i] = (uint8_t)(id >> (8 * i));
    tds_envchange e;
    memset(&e, 0, sizeof e);
    e.type = type;
    if (type == TDS_ENV_BEGIN_TRAN) {
        e.new_raw = d;
        e.new_raw_len = 8;
    } else {
        e.old_raw = d;
        e.old_raw_len = 8;
    }
    tds_put_envchange(s, &e);
}

int exec_session(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    srv_conn *c = cur->c;
    switch (st->t) {
    case ST_SET: {
        if (srv_ieq(st->word, "isolation")) {
            c->isolation = srv_ieq(st->word2, "snapshot") ? 1 : 0;
        } else if (srv_ieq(st->word, "nocount")) {
            c->nocount = st->flag;
        } else if (srv_ieq(st->word, "fmtonly")) {
            c->fmtonly = st->flag;
        } else {
            bool ok = false;
            for (int i = 0; known_set[i]; i++)
                ok |= srv_ieq(st->word, known_set[i]);
            if (!ok) {
                srv_put_error(cur, s, 195, 15, 5, "'%s' is not a recognized SET option.", st->word);
                return -1;
            }
        }
        srv_put_done(cur, s, 0, 0xB9, 0);
        return 0;
    }
    case ST_USE: {
        srv_database *d = srv_db_find(c->db, st->word);
        if (!d) {
            srv_put_error(cur, s, 911, 16, 1,
                          "Database '%s' does not exist. Make sure that the name is entered correctly.", st->word);
            return -1;
        }
        char old[SRV_NAME_MAX];
        snprintf(old, sizeof old, "%s", c->cur->name);
        c->cur = d;
        env_db(cur, s, d->name, old);
        srv_put_done(cur, s, 0, 0, 0);
        return 0;
    }
    case ST_BEGIN:
        if (c->trancount == 0) {
            static uint64_t next_tran = 0x0000000100000001ULL;
            c->tran_id = next_tran++;
            c->tran_version = 0;
            c->tran_saved_version = c->cur->ct_version;
            env_tran(s, TDS_ENV_BEGIN_TRAN, c->tran_id);
        }
        c->trancount++;
        srv_put_done(cur, s, 0, 0xD4, 0);
        return 0;
    case ST_COMMIT:
        if (c->trancount == 0) {
            srv_put_error(cur, s, 3902, 16, 1, "The COMMIT TRANSACTION request has no corresponding BEGIN TRANSACTION.");
            return -1;
        }
        if (--c->trancount == 0) {
            tran_commit(c);
            env_tran(s, TDS_ENV_COMMIT_TRAN, c->tran_id);
        }
        srv_put_done(cur, s, 0, 0xD5, 0);
        return 0;
    case ST_ROLLBACK:
        if (c->trancount == 0) {
            srv_put_error(cur, s, 3903, 16, 1, "The ROLLBACK TRANSACTION request has no corresponding BEGIN TRANSACTION.");
            return -1;
        }
        c->trancount = 0;
        tran_rollback(c);
        env_tran(s, TDS_ENV_ROLLBACK_TRAN, c->tran_id);
        srv_put_done(cur, s, 0, 0xD6, 0);
        return 0;
    default:
        return -1;
    }
}

/* ------------------------------------------------------------ procedures */

static const sql_expr *arg(const sql_stmt *st, const char *name, int pos)
{
    for (int i = 0; i < st->nargs; i++)
        if (st->argnames[i][0] ? srv_ieq(st->argnames[i], name) : i == pos)
            return st->args[i];
    return NULL;
}

static int arg_int(srv_cursor *cur, const sql_stmt *st, const char *name, int pos, int64_t *out)
{
    const sql_expr *e = arg(st, name, pos);
    if (!e)
        return 0;
    srv_val v;
    char buf[256], msg[256];
    int32_t err;
    if (eval_const(cur, e, &v, buf, sizeof buf, &err, msg, sizeof msg) < 0)
        return -1;
    if (v.k == SV_STR)
        *out = strtoll(v.s, NULL, 10);
    else
        *out = v.k == SV_INT ? v.i : v.k == SV_FLOAT ? (int64_t)v.f : 0;
    return 1;
}

static int arg_str(srv_cursor *cur, const sql_stmt *st, const char *name, int pos, char *out, size_t cap)
{
    const sql_expr *e = arg(st, name, pos);
    out[0] = 0;
    if (!e)
        return 0;
    srv_val v;
    char buf[512], msg[256];
    int32_t err;
    if (eval_const(cur, e, &v, buf, sizeof buf, &err, msg, sizeof msg) < 0 || v.k != SV_STR)
        return -1;
    snprintf(out, cap, "%.*s", (int)v.n, v.s);
    return 1;
}

static int proc_fault(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    srv_conn *c = cur->c;
    if (st->nargs == 0) {
        memset(&c->faults, 0, sizeof c->faults);
        memset(&c->wire, 0, sizeof c->wire);
    }
    static const char *names[] = { "@close_after_rows", "@error_after_rows", "@malformed_after_rows",
                                   "@stall_after_rows", "@stall", "@close_after_bytes", "@drip",
                                   "@drip_delay_ms", "@clear", "@for_new_connections", NULL };
    for (int i = 0; i < st->nargs; i++) {
        bool ok = false;
        for (int k = 0; names[k]; k++)
            ok |= srv_ieq(st->argnames[i], names[k]);
        if (!ok) {
            srv_put_error(cur, s, 8145, 16, 2, "%s is not a parameter for procedure tdstestd_fault.",
                          st->argnames[i][0] ? st->argnames[i] : "(positional)");
            return -1;
        }
    }
    int64_t v;
    if (arg_int(cur, st, "@clear", -1, &v) > 0 && v) {
        memset(&c->faults, 0, sizeof c->faults);
        memset(&c->wire, 0, sizeof c->wire);
    }
    if (arg_int(cur, st, "@close_after_rows", -1, &v) > 0) c->faults.close_after_rows = (uint64_t)v;
    if (arg_int(cur, st, "@error_after_rows", -1, &v) > 0) c->faults.error_after_rows = (uint64_t)v;
    if (arg_int(cur, st, "@malformed_after_rows", -1, &v) > 0) c->faults.malformed_after_rows = (uint64_t)v;
    if (arg_int(cur, st, "@stall_after_rows", -1, &v) > 0) c->faults.stall_after_rows = (uint64_t)v;
    if (arg_int(cur, st, "@stall", -1, &v) > 0) c->faults.stall = v != 0;
    if (arg_int(cur, st, "@close_after_bytes", -1, &v) > 0) c->wire.close_after_bytes = (uint64_t)v;
    if (arg_int(cur, st, "@drip", -1, &v) > 0) c->wire.drip = v != 0;
    if (arg_int(cur, st, "@drip_delay_ms", -1, &v) > 0) c->wire.drip_delay_ms = (uint32_t)v;
    /* tests of other clients: the faults become the defaults of later logins */
    if (arg_int(cur, st, "@for_new_connections", -1, &v) > 0 && v) {
        c->db->faults = c->faults;
        c->db->wire = c->wire;
    }
    srv_put_done(cur, s, 0, 0xE0, 0);
    return 0;
}

static int proc_ct_cleanup(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    int64_t v = 0;
    if (arg_int(cur, st, "@min_valid", 0, &v) <= 0 || v < 0) {
        srv_put_error(cur, s, 201, 16, 4,
                      "Procedure or function 'tdstestd_ct_cleanup' expects parameter '@min_valid', which was not supplied.");
        return -1;
    }
    srv_database *d = cur->c->cur;
    d->ct_min_valid = (uint64_t)v;
    /* drop the log entries the cleanup expired */
    for (size_t i = 0; i < d->ntables; i++) {
        srv_table *t = d->tables[i];
        size_t o = 0;
        for (size_t k = 0; k < t->nct; k++)
            if (t->ct[k].version >= (uint64_t)v)
                t->ct[o++] = t->ct[k];
        t->nct = o;
    }
    srv_put_done(cur, s, 0, 0xE0, 0);
    return 0;
}

static int proc_rename(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    char from[300], to[SRV_NAME_MAX], type[32];
    if (arg_str(cur, st, "@objname", 0, from, sizeof from) <= 0 || arg_str(cur, st, "@newname", 1, to, sizeof to) <= 0) {
        srv_put_error(cur, s, 201, 16, 4, "Procedure or function 'sp_rename' expects parameter '@newname', which was not supplied.");
        return -1;
    }
    arg_str(cur, st, "@objtype", 2, type, sizeof type);
    /* objname: [schema.]table or [schema.]table.column with objtype COLUMN */
    char parts[3][SRV_NAME_MAX] = { "", "", "" };
    int np = 0;
    for (char *p = from, *tok; np < 3 && (tok = strsep(&p, ".")); np++) {
        size_t l = strlen(tok);
        if (l >= 2 && tok[0] == '[' && tok[l - 1] == ']') {
            tok[l - 1] = 0;
            tok++;
        }
        snprintf(parts[np], SRV_NAME_MAX, "%s", tok);
    }
    bool column = srv_ieq(type, "column");
    int tn = column ? np - 2 : np - 1;
    srv_table *t = tn >= 0 ? srv_table_find(cur->c->cur, tn >= 1 ? parts[tn - 1] : "dbo", parts[tn]) : NULL;
    if (!t) {
        srv_put_error(cur, s, 15248, 11, 1,
                      "Either the parameter @objname is ambiguous or the claimed @objtype (%s) is wrong.", type[0] ? type : "OBJECT");
        return -1;
    }
    if (column) {
        int c = srv_table_colno(t, parts[np - 1]);
        if (c < 0) {
            srv_put_error(cur, s, 15248, 11, 1, "Either the parameter @objname is ambiguous or the claimed @objtype (COLUMN) is wrong.");
            return -1;
        }
        snprintf(t->cols[c].name, sizeof t->cols[c].name, "%s", to);
        srv_coldef_fix(&t->cols[c]);
    } else {
        if (srv_table_find(cur->c->cur, t->schema, to)) {
            srv_put_error(cur, s, 15335, 11, 1,
                          "Error: The new name '%s' is already in use as a OBJECT name and would cause a duplicate that is not permitted.", to);
            return -1;
        }
        snprintf(t->name, sizeof t->name, "%s", to);
        for (uint16_t c = 0; c < t->ncols; c++)
            if (t->cols[c].col.table.ptr)
                t->cols[c].col.table.len = strlen(t->name);
    }
    srv_put_info(cur, s, 15477, 1, "Caution: Changing any part of an object name could break scripts and stored procedures.");
    srv_put_done(cur, s, 0, 0xE0, 0);
    return 0;
}

int exec_proc(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    if (srv_ieq(st->word, "tdstestd_fault"))
        return proc_fault(cur, s, st);
    if (srv_ieq(st->word, "tdstestd_ct_cleanup"))
        return proc_ct_cleanup(cur, s, st);
    if (srv_ieq(st->word, "sp_rename"))
        return proc_rename(cur, s, st);
    int rc;
    if (srv_cdc_proc(cur, s, st, &rc))
        return rc;
    srv_put_error(cur, s, 2812, 16, 62, "Could not find stored procedure '%s'.", st->word);
    return -1;
}
