/*
 * ct_prepare.c — what a Change Tracking load checks and decides before it
 * reads: flags that make no sense for a tracked table, the key, the
 * server's settings (tracking on, snapshot isolation, the versions kept),
 * the cursor and the mode of this run (snapshot or changes, merge or
 * replace).
 *
 * The cursor's name in the state table is
 *   ct:<database>.<schema>.<table>:<destination table>
 * (the destination table is part of it: one source may feed several
 * tables of one destination, each at its own version). Its value is the
 * version as 20 zero-padded digits, the form of _cdc_lsn. A destination
 * table with _cdc_lsn but no state row (loaded by ingestr) resumes from
 * MAX(_cdc_lsn); a state row whose table is gone or empty starts over with
 * a snapshot.
 */
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ct_int.h"
#include "tds_ascii.h"

static bool listed(const pipe_list *l, const char *name)
{
    return pipe_name_in((const char *const *)l->v, l->n, name);
}

int pipe_ct_check_flags(const pipe_plan *p, const pipe_mssql_name *n, tdspipe_error *err)
{
    const tdspipe_load_opts *o = p->o;
    if (n->is_query)
        return pipe__fail(err, TDSPIPE_E_USAGE, "Change Tracking reads a table: a query: source cannot be tracked");
    if (o->strategy_given && o->strategy != SINK_MERGE && !o->full_refresh)
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "Change Tracking sources load by merge: --incremental-strategy %s needs --full-refresh",
                          sink_strategy_name(o->strategy));
    if (o->sql_limit > 0)
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "--sql-limit cannot be used with Change Tracking (a partial read would lose changes)");
    if (o->incremental_key || o->interval_start || o->interval_end)
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "--incremental-key and --interval-start/-end do not apply to Change Tracking "
                          "(the tracked version is the cursor)");
    for (size_t i = 0; i < o->nexclude; i++)
        if (!tds_ascii_ncasecmp(o->exclude[i], "_cdc_", 5))
            return pipe__fail(err, TDSPIPE_E_USAGE,
                              "--sql-exclude-columns: '%s' cannot be excluded from a Change Tracking load",
                              o->exclude[i]);
    return 0;
}

/* The key: the table's own (CHANGETABLE returns it); --primary-key may
 * only name it, and no key column may be excluded. */
static int check_key(const tdspipe_load_opts *o, const pipe_mssql_name *n, const pipe_catalog *cat, char *err,
                     size_t cap)
{
    if (!cat->pk.n)
        return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE,
                                 o->nprimary_keys
                                     ? "Change Tracking needs a table with a primary key (table %s.%s has none)"
                                     : "Change Tracking needs a primary key: table %s.%s has none",
                                 n->schema, n->table);
    if (o->nprimary_keys) {
        bool same = o->nprimary_keys == cat->pk.n;
        for (size_t i = 0; same && i < o->nprimary_keys; i++)
            same = listed(&cat->pk, o->primary_keys[i]);
        if (!same)
            return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE,
                                     "--primary-key must name the table's primary key for Change Tracking (%s%s%s)",
                                     cat->pk.v[0], cat->pk.n > 1 ? ", " : "", cat->pk.n > 1 ? cat->pk.v[1] : "");
    }
    for (size_t k = 0; k < cat->pk.n; k++)
        if (pipe_name_in(o->exclude, o->nexclude, cat->pk.v[k]))
            return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE,
                                     "--sql-exclude-columns: key column '%s' cannot be excluded from a Change "
                                     "Tracking load",
                                     cat->pk.v[k]);
    return 0;
}

/* The server: tracking on for the database and the table, snapshot
 * isolation, the oldest kept and the current versions. */
static int server_settings(pipe_ct *ct, net_client *cl, const pipe_mssql_name *n, uint64_t *minv, uint64_t *cur,
                           char *err, size_t cap)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "USE ");
    pipe_sqlbuf_ident(&b, ct->db);
    pipe_sqlbuf_put(&b, ";\nSELECT COUNT(*) FROM sys.change_tracking_databases WHERE database_id = DB_ID();\n"
                        "SELECT COUNT(*) FROM sys.change_tracking_tables WHERE object_id = OBJECT_ID(");
    pipe_ct_tstr(&b, ct->qname);
    pipe_sqlbuf_put(&b, ");\nSELECT snapshot_isolation_state FROM sys.databases WHERE database_id = DB_ID();\n"
                        "SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(");
    pipe_ct_tstr(&b, ct->qname);
    pipe_sqlbuf_put(&b, ")), CHANGE_TRACKING_CURRENT_VERSION();\n"
                        /* --stream restamps an idle cursor within a quarter of it */
                        "SELECT retention_period, retention_period_units FROM sys.change_tracking_databases "
                        "WHERE database_id = DB_ID()");
    if (b.oom) {
        free(b.p);
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    }
    char v[5][2][64];
    bool null[5][2];
    net_error ne;
    int rc = pipe_ct_scalars(cl, b.p, 5, v, null, true, &ne);
    free(b.p);
    if (rc)
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "reading the Change Tracking settings: %s",
                                 ne.message[0] ? ne.message : net_strerror(rc));
    if (null[0][0] || !strcmp(v[0][0], "0"))
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD,
                                 "Change Tracking is not enabled for database '%s' "
                                 "(ALTER DATABASE ... SET CHANGE_TRACKING = ON)", ct->db);
    if (null[1][0] || !strcmp(v[1][0], "0"))
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD,
                                 "Change Tracking is not enabled for table %s.%s (ALTER TABLE ... ENABLE "
                                 "CHANGE_TRACKING)",
                                 n->schema, n->table);
    if (null[3][0]) /* tracked, yet no version: SQL Server's answer without the permission */
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD,
                                 "cannot read the Change Tracking versions of %s.%s (the login needs VIEW "
                                 "CHANGE TRACKING on the table)",
                                 n->schema, n->table);
    ct->snap_iso = !null[2][0] && !strcmp(v[2][0], "1");
    uint64_t period = 0, units = 0; /* 1 minutes, 2 hours, 3 days */
    if (!null[4][0] && !null[4][1] && pipe_ct_parse_version(v[4][0], &period) && pipe_ct_parse_version(v[4][1], &units))
        ct->retention_s = (int64_t)period * (units == 1 ? 60 : units == 2 ? 3600 : 86400);
    if (!pipe_ct_parse_version(v[3][0], minv) || null[3][1] || !pipe_ct_parse_version(v[3][1], cur))
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "unexpected Change Tracking versions from the server");
    return 0;
}

/* The cursor: the state table, else an ingestr-loaded table's
 * MAX(_cdc_lsn). The destination must be a database. */
static int read_cursor(pipe_ct *ct, sink *sk, const pipe_plan *p, char *err, size_t cap)
{
    const char *dest_table = p->dest_table;
    char val[128];
    bool found = false;
    int rc = sink_state_get(sk, ct->state_name, val, sizeof val, &found);
    if (rc == SINK_E_UNSUPPORTED)
        return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE,
                                 "Change Tracking needs a database destination (duckdb, postgresql, sqlite) "
                                 "to keep its cursor, not %s", sink_name(sk));
    if (rc)
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "reading the Change Tracking cursor: %s", sink_errmsg(sk));
    if (p->o->full_refresh)
        return 0;
    /* MAX(_cdc_lsn): the cursor of a table ingestr loaded; with a state
     * row, whether the table still holds rows — one dropped or emptied
     * since would otherwise only get the rows changed after the cursor */
    char maxv[128];
    bool any = false;
    rc = sink_max_value(sk, dest_table, "_cdc_lsn", maxv, sizeof maxv, &any);
    if (rc)
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD,
                                 "destination table %s has no readable _cdc_lsn (%s): run with --full-refresh",
                                 dest_table, sink_errmsg(sk));
    if (!found && any)
        snprintf(val, sizeof val, "%s", maxv);
    if (!any)
        return 0;
    if (!pipe_ct_parse_version(val, &ct->cursor))
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD,
                                 "the Change Tracking cursor of %s is not a version ('%s'): run with --full-refresh",
                                 dest_table, val);
    ct->have_cursor = true;
    return 0;
}

/* The mode of this run, from the cursor and the versions the server keeps. */
static int decide_mode(pipe_ct *ct, const pipe_plan *p, const pipe_mssql_name *n, uint64_t minv, uint64_t cur,
                       char *err, size_t cap)
{
    const tdspipe_load_opts *o = p->o;
    const char *dest_table = p->dest_table;
    ct->strategy = SINK_MERGE;
    ct->snapshot = !ct->have_cursor;
    if (o->full_refresh) {
        ct->strategy = SINK_REPLACE;
    } else if (ct->have_cursor && ct->cursor < minv) {
        if (!o->ct_resnapshot)
            return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD,
                                     "the Change Tracking cursor of %s (version %" PRIu64 ") is older than the oldest "
                                     "version SQL Server still keeps for %s.%s (%" PRIu64 "): run with --full-refresh "
                                     "(or --ct-expired=resnapshot)",
                                     dest_table, ct->cursor, n->schema, n->table, minv);
        pipe__warn(o, "warning: the Change Tracking cursor of %s (version %" PRIu64 ") expired (oldest kept %" PRIu64
                   "); reloading the table from a fresh snapshot",
                   dest_table, ct->cursor, minv);
        ct->snapshot = true;
        ct->strategy = SINK_REPLACE;
    } else if (ct->have_cursor && ct->cursor > cur) {
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD,
                                 "the Change Tracking cursor of %s (version %" PRIu64 ") is ahead of the server's "
                                 "current version %" PRIu64 " (another database?): run with --full-refresh",
                                 dest_table, ct->cursor, cur);
    }
    ct->cdc = ct->strategy == SINK_MERGE;
    return 0;
}

int pipe_ct_prepare(pipe_ct *ct, net_client *cl, sink *sk, const pipe_plan *p, const pipe_mssql_name *n,
                    const pipe_catalog *cat, char *err, size_t cap)
{
    ct->cat = cat;
    int rc = check_key(p->o, n, cat, err, cap);
    if (rc)
        return rc;
    const char *db = n->db ? n->db : net_conn_database(net_client_conn(cl));
    if (!db || !*db)
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "cannot tell the source table's database");
    ct->db = strdup(db);
    ct->qname = pipe_mssql_quoted(&(pipe_mssql_name){.db = (char *)db, .schema = n->schema, .table = n->table});
    if (!ct->db || !ct->qname)
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    if ((size_t)snprintf(ct->state_name, sizeof ct->state_name, "ct:%s.%s.%s:%s", db, n->schema, n->table,
                         p->dest_table) >= sizeof ct->state_name)
        return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE, "table names too long for the state table");
    uint64_t minv = 0, cur = 0;
    if ((rc = server_settings(ct, cl, n, &minv, &cur, err, cap)) || (rc = read_cursor(ct, sk, p, err, cap)) ||
        (rc = decide_mode(ct, p, n, minv, cur, err, cap)))
        return rc;
    if (!ct->snap_iso)
        pipe__warn(p->o, "warning: snapshot isolation is off for database '%s'; reading under SERIALIZABLE "
                         "(ALTER DATABASE ... SET ALLOW_SNAPSHOT_ISOLATION ON avoids blocking writers)", ct->db);
    return pipe_ct_build_select(ct, p, err, cap);
}
