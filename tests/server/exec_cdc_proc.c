/*
 * exec_cdc_proc.c — the CDC stored procedures: sys.sp_cdc_enable_db,
 * sp_cdc_disable_db, sp_cdc_enable_table, sp_cdc_disable_table,
 * sp_cdc_scan (one capture scan), sp_cdc_cleanup_change_table,
 * sp_cdc_help_change_data_capture, sp_cdc_help_jobs and sp_cdc_change_job
 * (the cleanup job's retention; the other Agent job procedures are
 * no-ops), and
 * the harness procedure tdstestd_cdc_capture (capture mode at run time). Error numbers and texts are SQL Server's
 * (the 22xxx messages of the CDC procedures).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"

/* ------------------------------------------------------------ arguments */

typedef struct proc_args {
    const char *const *names;   /* the procedure's parameters in order */
    int n;
    srv_val v[10];
    bool given[10];
    char buf[10][512];
} proc_args;

/* Binds st's arguments (positional, then @name = value) to a->names.
 * Returns 0, or -1 with the error written. */
static int args_bind(srv_cursor *cur, tds_session *s, const sql_stmt *st, proc_args *a)
{
    for (int i = 0; i < st->nargs; i++) {
        int k = i;
        if (st->argnames[i][0]) {
            for (k = 0; k < a->n && !srv_ieq(a->names[k], st->argnames[i]); k++)
                ;
            if (k == a->n) {
                srv_put_error(cur, s, 8145, 16, 2, "%s is not a parameter for procedure %s.", st->argnames[i], st->word);
                return -1;
            }
        } else if (k >= a->n) {
            srv_put_error(cur, s, 8144, 16, 2, "Procedure or function %s has too many arguments specified.", st->word);
            return -1;
        }
        int32_t err;
        char msg[512];
        if (eval_const(cur, st->args[i], &a->v[k], a->buf[k], sizeof a->buf[k], &err, msg, sizeof msg) < 0) {
            srv_put_error(cur, s, err, 16, 1, "%s", msg);
            return -1;
        }
        if (a->v[k].k == SV_STR || a->v[k].k == SV_BIN) { /* keep it past the next evaluation */
            size_t m = a->v[k].n < sizeof a->buf[k] - 1 ? a->v[k].n : sizeof a->buf[k] - 1;
            memmove(a->buf[k], a->v[k].s, m);
            a->buf[k][m] = 0;
            a->v[k].s = a->buf[k];
            a->v[k].n = m;
        }
        a->given[k] = true;
    }
    return 0;
}

/* Text of argument k (right-trimmed, as the procedures trim names) or ""
 * for NULL / not given. */
static const char *arg_text(proc_args *a, int k)
{
    if (!a->given[k] || a->v[k].k != SV_STR)
        return "";
    char *p = a->buf[k];
    size_t n = strlen(p);
    while (n && p[n - 1] == ' ')
        p[--n] = 0;
    return p;
}

static bool arg_null(const proc_args *a, int k) { return !a->given[k] || a->v[k].k == SV_NULL; }

static int done_ok(srv_cursor *cur, tds_session *s)
{
    srv_put_done(cur, s, 0, 0xE0, 0);
    return 0;
}

static int not_enabled(srv_cursor *cur, tds_session *s, const srv_database *d)
{
    srv_put_error(cur, s, 22901, 16, 1,
                  "The database '%s' is not enabled for Change Data Capture. Ensure that the correct database context is set and retry the operation. To report on the databases enabled for Change Data Capture, query the is_cdc_enabled column in the sys.databases catalog view.",
                  d->name);
    return -1;
}

/* ------------------------------------------------------------ database */

/* cdc.lsn_time_mapping, as a table of the cdc schema. */
static int make_ltm(srv_db *db, srv_database *d, srv_cdc_db *x)
{
    srv_coldef defs[4];
    cdc_coldef(&defs[0], "start_lsn", "binary(10)", false);
    cdc_coldef(&defs[1], "tran_begin_time", "datetime", true);
    cdc_coldef(&defs[2], "tran_end_time", "datetime", true);
    cdc_coldef(&defs[3], "tran_id", "varbinary(10)", true);
    srv_table *t = srv_table_new("cdc", "lsn_time_mapping", defs, 4);
    if (!t || srv_database_add_table(db, d, t) < 0) {
        srv_table_unref(t);
        return -1;
    }
    srv_table_ref(t);
    x->ltm = t;
    return 0;
}

int cdc_enable_db(srv_db *db, srv_database *d)
{
    srv_cdc_db *x = cdc_db_get(d, true);
    if (!x)
        return -1;
    if (x->enabled)
        return 0;
    if (srv_schema_add(d, "cdc") < 0 || make_ltm(db, d, x) < 0)
        return -1;
    x->enabled = true;
    if (!x->retention_min)
        x->retention_min = 4320; /* sp_cdc_add_job's default: 3 days */
    return 0;
}

static int proc_enable_db(srv_cursor *cur, tds_session *s)
{
    srv_database *d = cur->c->cur;
    if (srv_ieq(d->name, "master") || srv_ieq(d->name, "tempdb") || srv_ieq(d->name, "model") || srv_ieq(d->name, "msdb")) {
        srv_put_error(cur, s, 22989, 16, 1,
                      "Could not enable Change Data Capture for database '%s'. Change data capture is not supported on system databases, or on a distribution database.",
                      d->name);
        return -1;
    }
    if (d->cdc && d->cdc->enabled) {
        srv_put_info(cur, s, 22905, 1,
                     "Database '%s' is already enabled for Change Data Capture. Ensure that the correct database context is set, and retry the operation. To report on the databases enabled for Change Data Capture, query the is_cdc_enabled column in the sys.databases catalog view.",
                     d->name);
        return done_ok(cur, s);
    }
    if (srv_table_find(d, "cdc", "lsn_time_mapping") || (srv_schema_exists(d, "cdc") && !d->cdc)) {
        srv_put_error(cur, s, 22906, 16, 1,
                      "The database '%s' cannot be enabled for Change Data Capture because a database user named 'cdc' or a schema named 'cdc' already exists in the current database. These objects are required exclusively by Change Data Capture. Drop or rename the user or schema and retry the operation.",
                      d->name);
        return -1;
    }
    if (cdc_enable_db(cur->c->db, d) < 0) {
        srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
        return -1;
    }
    return done_ok(cur, s);
}

void cdc_disable_db(srv_database *d)
{
    srv_cdc_db *x = d->cdc;
    while (x->ninst)
        cdc_inst_drop(d, x->inst[x->ninst - 1]);
    if (x->ltm) {
        srv_database_drop_table(d, x->ltm);
        srv_table_unref(x->ltm);
        x->ltm = NULL;
    }
    x->enabled = false;
}

static int proc_disable_db(srv_cursor *cur, tds_session *s)
{
    srv_database *d = cur->c->cur;
    if (d->cdc && d->cdc->enabled)
        cdc_disable_db(d);
    return done_ok(cur, s);
}

/* ------------------------------------------------------------ tables */

static const char *const enable_names[] = { "@source_schema", "@source_name", "@role_name", "@capture_instance",
                                            "@supports_net_changes", "@index_name", "@captured_column_list",
                                            "@filegroup_name", "@allow_partition_switch", "@enable_extended_ddl_handling" };

static int proc_enable_table(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    proc_args a = { .names = enable_names, .n = 10 };
    if (args_bind(cur, s, st, &a) < 0)
        return -1;
    for (int k = 0; k < 3; k++)
        if (!a.given[k]) {
            srv_put_error(cur, s, 201, 16, 4, "Procedure or function 'sp_cdc_enable_table' expects parameter '%s', which was not supplied.",
                          enable_names[k]);
            return -1;
        }
    int net = arg_null(&a, 4) ? -1 : a.v[4].k == SV_INT ? (a.v[4].i != 0) : -2;
    if (net == -2) {
        srv_put_error(cur, s, 22844, 16, 1, "The '%s' option must be either 1 or 0.", "supports_net_changes");
        return -1;
    }
    if (!arg_null(&a, 2) && !*arg_text(&a, 2)) {
        srv_put_error(cur, s, 22907, 16, 1, "Parameter @role_name cannot be empty. Specify a value for @role_name and retry the operation. Supply null as the value if no role is to be used to gate access to captured change data.");
        return -1;
    }
    int32_t err = 0;
    char msg[1024];
    if (cdc_enable_table(cur->c, cur->c->cur, arg_text(&a, 0), arg_text(&a, 1), arg_null(&a, 3) ? NULL : arg_text(&a, 3),
                         arg_text(&a, 2), net, arg_text(&a, 5), arg_null(&a, 6) ? NULL : arg_text(&a, 6), &err, msg,
                         sizeof msg) < 0) {
        srv_put_error(cur, s, err, err == 701 ? 17 : 16, 1, "%s", msg);
        return -1;
    }
    return done_ok(cur, s);
}

static const char *const disable_names[] = { "@source_schema", "@source_name", "@capture_instance" };

static int proc_disable_table(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    proc_args a = { .names = disable_names, .n = 3 };
    if (args_bind(cur, s, st, &a) < 0)
        return -1;
    srv_database *d = cur->c->cur;
    srv_cdc_db *x = d->cdc;
    if (!x || !x->enabled)
        return not_enabled(cur, s, d);
    const char *sch = arg_text(&a, 0), *name = arg_text(&a, 1), *inst = arg_text(&a, 2);
    srv_table *t = srv_table_find(d, sch, name);
    if (!t || !srv_cdc_tracked(t)) {
        srv_put_error(cur, s, 22985, 16, 1,
                      "Change data capture has not been enabled for source table '%s.%s'. Specify the name of a table enabled for Change Data Capture. To report on the tables enabled for Change Data Capture, query the is_tracked_by_cdc column in the sys.tables catalog view.",
                      sch, name);
        return -1;
    }
    bool all = srv_ieq(inst, "all"), found = false;
    for (size_t i = x->ninst; i-- > 0;)
        if (x->inst[i]->src == t && (all || srv_ieq(x->inst[i]->name, inst))) {
            cdc_inst_drop(d, x->inst[i]);
            found = true;
        }
    if (!found) {
        srv_put_error(cur, s, 22960, 16, 1,
                      "Change data capture instance '%s' has not been enabled for the source table '%s.%s'. Use sys.sp_cdc_help_change_data_capture to verify the capture instance name and retry the operation.",
                      inst, sch, name);
        return -1;
    }
    return done_ok(cur, s);
}

/* ------------------------------------------------------------ capture, cleanup */

static int proc_scan(srv_cursor *cur, tds_session *s)
{
    srv_database *d = cur->c->cur;
    if (!d->cdc || !d->cdc->enabled)
        return not_enabled(cur, s, d);
    if (cdc_scan(d) < 0) {
        srv_put_error(cur, s, 22863, 16, 1, "Failed to insert rows into Change Data Capture change tables. Refer to previous errors in the current session to identify the cause and correct any associated problems.");
        return -1;
    }
    return done_ok(cur, s);
}

/* The low water mark a cleanup to lsn sets: the smallest start_lsn of the
 * mapping entries sharing lsn's commit time. UINT64_MAX: lsn is not the
 * start_lsn of an entry. */
static uint64_t cleanup_mark(const srv_cdc_db *x, const uint8_t *lsn)
{
    tds_value v[4], w[4];
    for (size_t i = 0; i < x->ltm->nrows; i++) {
        srv_table_row(x->ltm, x->ltm->rows[i], v);
        if (v[0].len != CDC_LSN_LEN || memcmp(v[0].ptr, lsn, CDC_LSN_LEN) != 0)
            continue;
        size_t j = i;
        while (j > 0) {
            srv_table_row(x->ltm, x->ltm->rows[j - 1], w);
            if (w[2].len != v[2].len || (v[2].len && memcmp(w[2].ptr, v[2].ptr, v[2].len) != 0))
                break;
            j--;
        }
        srv_table_row(x->ltm, x->ltm->rows[j], w);
        return cdc_lsn_pos(w[0].ptr);
    }
    return UINT64_MAX;
}

/* Removes change rows with __$start_lsn below the instance's low water mark. */
static void cleanup_rows(cdc_inst *ci)
{
    uint8_t mark[CDC_LSN_LEN];
    cdc_lsn(ci->start_pos, mark);
    size_t o = 0;
    for (size_t i = 0; i < ci->ct->nrows; i++) {
        tds_value v[SRV_MAX_COLS];
        srv_table_row(ci->ct, ci->ct->rows[i], v);
        if (memcmp(v[0].ptr, mark, CDC_LSN_LEN) < 0)
            continue;
        ci->ct->rows[o++] = ci->ct->rows[i];
    }
    ci->ct->nrows = o;
    ci->ct->idx_dirty = true;
}

static const char *const cleanup_names[] = { "@capture_instance", "@low_water_mark", "@threshold" };

static int proc_cleanup(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    proc_args a = { .names = cleanup_names, .n = 3 };
    if (args_bind(cur, s, st, &a) < 0)
        return -1;
    srv_database *d = cur->c->cur;
    srv_cdc_db *x = d->cdc;
    if (!x || !x->enabled)
        return not_enabled(cur, s, d);
    cdc_inst *ci = cdc_inst_find(x, arg_text(&a, 0));
    if (!ci) {
        srv_put_error(cur, s, 22920, 16, 1, "The named capture instance %s does not exist for database %s.", arg_text(&a, 0), d->name);
        return -1;
    }
    if (!arg_null(&a, 1)) {
        uint8_t lsn[CDC_LSN_LEN] = { 0 };
        if (a.v[1].k == SV_BIN)
            memcpy(lsn, a.v[1].s, a.v[1].n < CDC_LSN_LEN ? a.v[1].n : CDC_LSN_LEN);
        uint64_t mark = cleanup_mark(x, lsn);
        if (mark == UINT64_MAX) {
            char hex[2 * CDC_LSN_LEN + 3] = "0x";
            for (int i = 0; i < CDC_LSN_LEN; i++)
                snprintf(hex + 2 + 2 * i, 3, "%02X", lsn[i]);
            srv_put_error(cur, s, 22964, 16, 1,
                          "LSN %s, specified as the new low end point for change table cleanup must represent the start_lsn value of a current entry in the cdc.lsn_time_mapping table. Choose an LSN value that satisfies this requirement.",
                          hex);
            return -1;
        }
        if (mark > ci->start_pos)
            ci->start_pos = mark;
    }
    cleanup_rows(ci);
    return done_ok(cur, s);
}

static const char *const help_names[] = { "@source_schema", "@source_name" };

static int proc_help(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    proc_args a = { .names = help_names, .n = 2 };
    if (args_bind(cur, s, st, &a) < 0)
        return -1;
    srv_database *d = cur->c->cur;
    if (!d->cdc || !d->cdc->enabled)
        return not_enabled(cur, s, d);
    const char *sch = arg_text(&a, 0), *name = arg_text(&a, 1);
    if (!*sch != !*name) {
        srv_put_error(cur, s, 22972, 16, 1, "When calling stored procedure [sys].sp_cdc_help_change_data capture, if either @source_schema or @source_name is non-null and non-empty, the other parameter must also be non-null and non-empty.");
        return -1;
    }
    srv_table *t = cdc_help_table(d->cdc, sch, name);
    if (!t) {
        srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
        return -1;
    }
    int rc = srv_rs_from_table(cur, s, t);
    srv_table_unref(t);
    return rc;
}

/* tdstestd_cdc_capture @mode = N'scan' | N'immediate': the capture mode of
 * the current database from now on (immediate also scans at once). */
static int proc_capture_mode(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    static const char *const names[] = { "@mode" };
    proc_args a = { .names = names, .n = 1 };
    if (args_bind(cur, s, st, &a) < 0)
        return -1;
    srv_database *d = cur->c->cur;
    if (!d->cdc || !d->cdc->enabled)
        return not_enabled(cur, s, d);
    const char *mode = arg_text(&a, 0);
    if (!srv_ieq(mode, "scan") && !srv_ieq(mode, "immediate")) {
        srv_put_error(cur, s, 50000, 16, 1, "tdstestd: @mode must be N'scan' or N'immediate'.");
        return -1;
    }
    d->cdc->immediate = srv_ieq(mode, "immediate");
    if (d->cdc->immediate)
        cdc_scan(d);
    return done_ok(cur, s);
}

/* ------------------------------------------------------------ jobs */

/* sys.sp_cdc_help_jobs: the capture and cleanup jobs, columns as
 * documented. Simplification: the jobs exist while the database has CDC
 * on (SQL Server adds them with the first sp_cdc_enable_table). */
static int proc_help_jobs(srv_cursor *cur, tds_session *s)
{
    srv_database *d = cur->c->cur;
    if (!d->cdc || !d->cdc->enabled)
        return not_enabled(cur, s, d);
    static const char *const specs[][2] = {
        {"job_id", "uniqueidentifier"}, {"job_type", "nvarchar(20)"}, {"job_name", "nvarchar(128)"},
        {"maxtrans", "int"}, {"maxscans", "int"}, {"continuous", "bit"}, {"pollinginterval", "bigint"},
        {"retention", "bigint"}, {"threshold", "bigint"}};
    srv_coldef defs[9];
    for (int i = 0; i < 9; i++)
        cdc_coldef(&defs[i], specs[i][0], specs[i][1], true);
    srv_table *t = srv_table_new("cdc", "sp_cdc_help_jobs", defs, 9);
    for (int k = 0; t && k < 2; k++) {
        bool cleanup = k == 1;
        char name[300];
        snprintf(name, sizeof name, "cdc.%s_%s", d->name, cleanup ? "cleanup" : "capture");
        srv_val id = { .k = SV_GUID };
        memset(id.g, 0, sizeof id.g);
        id.g[15] = (uint8_t)(k + 1);
        const char *type = cleanup ? "cleanup" : "capture";
        srv_val v[9] = { id, sv_str(type, strlen(type)), sv_str(name, strlen(name)),
                         sv_int(cleanup ? 0 : 500), sv_int(cleanup ? 0 : 10), sv_int(!cleanup),
                         sv_int(cleanup ? 0 : 5), sv_int(cleanup ? d->cdc->retention_min : 0),
                         sv_int(cleanup ? 5000 : 0) };
        uint64_t off;
        if (srv_table_insert_vals(t, v, &off) < 0 || srv_table_append(t, off) < 0) {
            srv_table_unref(t);
            t = NULL;
        }
    }
    if (!t) {
        srv_put_error(cur, s, 701, 17, 1, "There is insufficient system memory to run this query.");
        return -1;
    }
    int rc = srv_rs_from_table(cur, s, t);
    srv_table_unref(t);
    return rc;
}

/* sys.sp_cdc_change_job: only the cleanup job's @retention is kept (the
 * capture job's settings change nothing the emulation does). The error
 * numbers of the two checks are not confirmed against a server. */
static int proc_change_job(srv_cursor *cur, tds_session *s, const sql_stmt *st)
{
    static const char *const names[] = { "@job_type", "@maxtrans", "@maxscans", "@continuous",
                                          "@pollinginterval", "@retention", "@threshold" };
    proc_args a = { .names = names, .n = 7 };
    if (args_bind(cur, s, st, &a) < 0)
        return -1;
    srv_database *d = cur->c->cur;
    if (!d->cdc || !d->cdc->enabled)
        return not_enabled(cur, s, d);
    const char *type = a.given[0] ? arg_text(&a, 0) : "capture";
    if (!srv_ieq(type, "capture") && !srv_ieq(type, "cleanup")) {
        srv_put_error(cur, s, 22992, 16, 1, "The specified job_type '%s' is not valid. Specify 'capture' or 'cleanup'.", type);
        return -1;
    }
    if (!arg_null(&a, 5) && srv_ieq(type, "cleanup")) {
        int64_t r = a.v[5].k == SV_INT ? a.v[5].i : atoll(arg_text(&a, 5));
        if (r <= 0 || r > 52494800) {
            srv_put_error(cur, s, 22985, 16, 1, "The value specified for the parameter @retention must be between 1 and 52494800.");
            return -1;
        }
        d->cdc->retention_min = r;
    }
    return done_ok(cur, s);
}

/* ------------------------------------------------------------ entry */

int srv_cdc_proc(srv_cursor *cur, tds_session *s, const sql_stmt *st, int *rc)
{
    const char *w = st->word;
    if (srv_ieq(w, "sp_cdc_enable_db"))
        *rc = proc_enable_db(cur, s);
    else if (srv_ieq(w, "sp_cdc_disable_db"))
        *rc = proc_disable_db(cur, s);
    else if (srv_ieq(w, "sp_cdc_enable_table"))
        *rc = proc_enable_table(cur, s, st);
    else if (srv_ieq(w, "sp_cdc_disable_table"))
        *rc = proc_disable_table(cur, s, st);
    else if (srv_ieq(w, "sp_cdc_scan"))
        *rc = proc_scan(cur, s);
    else if (srv_ieq(w, "sp_cdc_cleanup_change_table"))
        *rc = proc_cleanup(cur, s, st);
    else if (srv_ieq(w, "sp_cdc_help_change_data_capture"))
        *rc = proc_help(cur, s, st);
    else if (srv_ieq(w, "sp_cdc_help_jobs"))
        *rc = proc_help_jobs(cur, s);
    else if (srv_ieq(w, "sp_cdc_change_job"))
        *rc = proc_change_job(cur, s, st);
    else if (srv_ieq(w, "tdstestd_cdc_capture"))
        *rc = proc_capture_mode(cur, s, st);
    else if (srv_ieq(w, "sp_cdc_start_job") || srv_ieq(w, "sp_cdc_stop_job") || srv_ieq(w, "sp_cdc_add_job") ||
             srv_ieq(w, "sp_cdc_drop_job"))
        *rc = cur->c->cur->cdc && cur->c->cur->cdc->enabled ? done_ok(cur, s) : not_enabled(cur, s, cur->c->cur);
    else
        return 0;
    return 1;
}

