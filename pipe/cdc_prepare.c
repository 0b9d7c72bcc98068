/*
 * cdc_prepare.c — what a Change Data Capture load checks and decides
 * before it reads: flags that make no sense for a captured table, CDC on
 * for the database and the table, the capture instance (the URI's
 * capture_instance, else the table's only one), SELECT on it, the key,
 * the cursor and the mode of this run (snapshot or changes, merge or
 * replace).
 *
 * The cursor's name in the state table is
 *   cdc:<database>.<schema>.<table>:<destination table>
 * and its value the last LSN whose changes are all in the destination, 20
 * hex digits. A destination table with _cdc_lsn but no state row (loaded
 * by ingestr) resumes from MAX(_cdc_lsn); a state row whose table is gone
 * or empty starts over with a snapshot.
 */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"
#include "tds_ascii.h"

static int errf(char *err, size_t cap, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int errf(char *err, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return code;
}

/* The cursor lives in the destination's state table, so a file or
 * discard destination is refused before anything connects. */
static bool file_dest(const char *uri)
{
    static const char *const files[] = {"csv://", "jsonl://", "ndjson://", "parquet://", "discard://", NULL};
    for (size_t i = 0; uri && files[i]; i++)
        if (!tds_ascii_ncasecmp(uri, files[i], strlen(files[i])))
            return true;
    return false;
}

int pipe_cdc_check_flags(const tdspipe_load_opts *o, tdspipe_error *err)
{
    if (file_dest(o->dest_uri))
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "Change Data Capture needs a database destination (duckdb, postgresql, sqlite, mssql) to "
                          "keep its cursor, not %.*s", (int)strcspn(o->dest_uri, ":"), o->dest_uri);
    if (o->source_table && !tds_ascii_ncasecmp(o->source_table, "query:", 6))
        return pipe__fail(err, TDSPIPE_E_USAGE, "Change Data Capture reads a table: a query: source has no capture instance");
    if (o->strategy_given && o->strategy != SINK_MERGE && !o->full_refresh)
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "Change Data Capture sources load by merge: --incremental-strategy %s needs --full-refresh",
                          sink_strategy_name(o->strategy));
    if (o->sql_limit > 0)
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "--sql-limit cannot be used with Change Data Capture (a partial read would lose changes)");
    if (o->incremental_key || o->interval_start || o->interval_end)
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "--incremental-key and --interval-start/-end do not apply to Change Data Capture "
                          "(the LSN is the cursor)");
    for (size_t i = 0; i < o->nexclude; i++)
        if (!tds_ascii_ncasecmp(o->exclude[i], "_cdc_", 5))
            return pipe__fail(err, TDSPIPE_E_USAGE,
                              "--sql-exclude-columns: '%s' cannot be excluded from a Change Data Capture load",
                              o->exclude[i]);
    return 0;
}

/* USE [db]; then sql, into out[0..n). */
static int query(pipe_cdc *c, net_client *cl, const char *sql, size_t n, pipe_list *out, char *err, size_t cap)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "USE ");
    pipe_sqlbuf_ident(&b, c->db);
    pipe_sqlbuf_put(&b, ";\n");
    pipe_sqlbuf_put(&b, sql);
    if (b.oom) {
        free(b.p);
        return errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    }
    net_error ne;
    int rc = pipe_cdc_rows(cl, b.p, n, out, true, &ne);
    free(b.p);
    if (rc)
        return errf(err, cap, TDSPIPE_E_LOAD, "reading the Change Data Capture settings: %s",
                    ne.message[0] ? ne.message : net_strerror(rc));
    return 0;
}

/* A one-line N'…' literal appended to a fixed SQL text. */
static char *with_name(const char *pre, const char *name, const char *post)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, pre);
    pipe_ct_tstr(&b, name);
    pipe_sqlbuf_put(&b, post);
    if (b.oom)
        free(b.p);
    return b.oom ? NULL : b.p;
}

/* CDC on for the database, snapshot isolation, and the table's capture
 * instances: the wanted one, else the only one. */
static int pick_instance(pipe_cdc *c, net_client *cl, const pipe_mssql_name *n, const char *want, char *err,
                         size_t cap)
{
    pipe_list r[2] = {{0}, {0}};
    int rc = query(c, cl, "SELECT is_cdc_enabled, snapshot_isolation_state FROM sys.databases WHERE database_id = DB_ID()",
                   1, r, err, cap);
    if (rc)
        return rc;
    bool on = r[0].n >= 2 && (!strcmp(r[0].v[0], "1") || !tds_ascii_casecmp(r[0].v[0], "true"));
    c->snap_iso = r[0].n >= 2 && !strcmp(r[0].v[1], "1");
    pipe_list_free(&r[0]);
    if (!on)
        return errf(err, cap, TDSPIPE_E_LOAD,
                    "Change Data Capture is not enabled for database '%s' (EXEC sys.sp_cdc_enable_db)", c->db);
    char *sql = with_name("SELECT capture_instance, role_name FROM cdc.change_tables WHERE source_object_id = OBJECT_ID(",
                          c->qname, ") ORDER BY capture_instance");
    rc = sql ? query(c, cl, sql, 1, r, err, cap) : errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    free(sql);
    if (rc)
        return rc;
    size_t found = r[0].n / 2, pick = found;
    for (size_t i = 0; want && i < found; i++)
        if (!tds_ascii_casecmp(r[0].v[2 * i], want))
            pick = i;
    if (!found)
        rc = errf(err, cap, TDSPIPE_E_LOAD,
                  "Change Data Capture is not enabled for table %s.%s: it has no capture instance "
                  "(EXEC sys.sp_cdc_enable_table)", n->schema, n->table);
    else if (want && pick == found)
        rc = errf(err, cap, TDSPIPE_E_USAGE, "table %s.%s has no capture instance '%s' (it has %s%s%s)", n->schema,
                  n->table, want, r[0].v[0], found > 1 ? ", " : "", found > 1 ? r[0].v[2] : "");
    else if (!want && found > 1)
        rc = errf(err, cap, TDSPIPE_E_USAGE,
                  "table %s.%s has two capture instances (%s, %s): choose one with capture_instance=", n->schema,
                  n->table, r[0].v[0], r[0].v[2]);
    else
        snprintf(c->instance, sizeof c->instance, "%s", r[0].v[2 * (want ? pick : 0)]);
    pipe_list_free(&r[0]);
    return rc;
}

/* The instance's columns and index columns, and whether this login may
 * read its changes: sys.fn_cdc_get_min_lsn returns zero when the caller is
 * not authorised (SELECT on every captured column and the gating role). */
static int read_instance(pipe_cdc *c, net_client *cl, pipe_list *index, char *err, size_t cap)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "SELECT sys.fn_cdc_get_min_lsn(");
    pipe_ct_tstr(&b, c->instance);
    pipe_sqlbuf_put(&b, "), role_name FROM cdc.change_tables WHERE capture_instance = ");
    pipe_ct_tstr(&b, c->instance);
    pipe_sqlbuf_put(&b, ";\nSELECT [cc].[column_name], [cc].[column_ordinal] FROM cdc.captured_columns AS [cc] JOIN "
                        "cdc.change_tables AS [ct] ON [cc].[object_id] = [ct].[object_id] WHERE [ct].[capture_instance] = ");
    pipe_ct_tstr(&b, c->instance);
    pipe_sqlbuf_put(&b, " ORDER BY [cc].[column_ordinal];\nSELECT [ic].[column_name], [ic].[index_ordinal] FROM "
                        "cdc.index_columns AS [ic] JOIN cdc.change_tables AS [ct] ON [ic].[object_id] = [ct].[object_id] "
                        "WHERE [ct].[capture_instance] = ");
    pipe_ct_tstr(&b, c->instance);
    pipe_sqlbuf_put(&b, " ORDER BY [ic].[index_ordinal]");
    pipe_list r[3] = {{0}, {0}, {0}};
    int rc = b.oom ? errf(err, cap, TDSPIPE_E_LOAD, "out of memory") : query(c, cl, b.p, 3, r, err, cap);
    free(b.p);
    char min[CDC_LSN_HEX + 1];
    if (!rc && (r[0].n < 2 || !pipe_cdc_lsn_parse(r[0].v[0], min) || strspn(min, "0") == CDC_LSN_HEX))
        rc = errf(err, cap, TDSPIPE_E_LOAD,
                  "no SELECT permission on capture instance '%s' (the login needs SELECT on every captured "
                  "column%s%s)", c->instance, r[0].n >= 2 && r[0].v[1][0] ? " and membership in role " : "",
                  r[0].n >= 2 ? r[0].v[1] : "");
    for (size_t i = 0; !rc && i < r[1].n; i += 2)
        if (pipe_list_add(&c->captured, r[1].v[i], strlen(r[1].v[i])))
            rc = errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    for (size_t i = 0; !rc && i < r[2].n; i += 2)
        if (pipe_list_add(index, r[2].v[i], strlen(r[2].v[i])))
            rc = errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    if (!rc && !c->captured.n)
        rc = errf(err, cap, TDSPIPE_E_LOAD, "capture instance '%s' lists no captured column", c->instance);
    for (int i = 0; i < 3; i++)
        pipe_list_free(&r[i]);
    return rc;
}

static int copy_list(pipe_list *to, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pipe_list_add(to, v[i], strlen(v[i])))
            return -1;
    return 0;
}

/* The key: --primary-key, else the table's primary key, else the capture
 * instance's index columns (sp_cdc_enable_table @index_name); every key
 * column captured and none excluded. */
static int choose_key(pipe_cdc *c, const tdspipe_load_opts *o, const pipe_mssql_name *n, const pipe_list *index,
                      char *err, size_t cap)
{
    const pipe_catalog *cat = c->cat;
    int bad = o->nprimary_keys ? copy_list(&c->key, o->primary_keys, o->nprimary_keys)
              : cat->pk.n      ? copy_list(&c->key, (const char *const *)cat->pk.v, cat->pk.n)
                               : copy_list(&c->key, (const char *const *)index->v, index->n);
    if (bad)
        return errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    if (!c->key.n)
        return errf(err, cap, TDSPIPE_E_USAGE,
                    "Change Data Capture needs a key: table %s.%s has no primary key and capture instance '%s' "
                    "no index columns; give --primary-key", n->schema, n->table, c->instance);
    for (size_t k = 0; k < c->key.n; k++) {
        if (!pipe_name_in((const char *const *)c->captured.v, c->captured.n, c->key.v[k]))
            return errf(err, cap, TDSPIPE_E_USAGE, "key column '%s' is not captured by capture instance '%s'",
                        c->key.v[k], c->instance);
        if (pipe_name_in(o->exclude, o->nexclude, c->key.v[k]))
            return errf(err, cap, TDSPIPE_E_USAGE,
                        "--sql-exclude-columns: key column '%s' cannot be excluded from a Change Data Capture load",
                        c->key.v[k]);
    }
    return 0;
}

int pipe_cdc_open_checks(pipe_cdc *c, net_client *cl, const pipe_plan *p, const pipe_mssql_name *n,
                         const pipe_catalog *cat, const char *want, char *err, size_t cap)
{
    c->cat = cat;
    const char *db = n->db ? n->db : net_conn_database(net_client_conn(cl));
    if (!db || !*db)
        return errf(err, cap, TDSPIPE_E_LOAD, "cannot tell the source table's database");
    c->db = strdup(db);
    c->qname = pipe_mssql_quoted(&(pipe_mssql_name){.db = (char *)db, .schema = n->schema, .table = n->table});
    if (!c->db || !c->qname)
        return errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    pipe_list index = {0};
    int rc = pick_instance(c, cl, n, want, err, cap);
    if (!rc)
        rc = read_instance(c, cl, &index, err, cap);
    if (!rc)
        rc = choose_key(c, p->o, n, &index, err, cap);
    pipe_list_free(&index);
    return rc ? rc : pipe_cdc_build_cols(c, p, err, cap);
}

/* ------------------------------------------------------------ cursor */

/* The state table, else an ingestr-loaded table's MAX(_cdc_lsn). */
static int read_cursor(pipe_cdc *c, sink *sk, const pipe_plan *p, char *err, size_t cap)
{
    char val[128];
    bool found = false;
    int rc = sink_state_get(sk, c->state_name, val, sizeof val, &found);
    if (rc == SINK_E_UNSUPPORTED)
        return errf(err, cap, TDSPIPE_E_USAGE,
                    "Change Data Capture needs a database destination (duckdb, postgresql, sqlite, mssql) to keep "
                    "its cursor, not %s", sink_name(sk));
    if (rc)
        return errf(err, cap, TDSPIPE_E_LOAD, "reading the Change Data Capture cursor: %s", sink_errmsg(sk));
    if (p->o->full_refresh)
        return 0;
    /* with a state row, whether the table still holds rows: one dropped or
     * emptied since would otherwise only get the rows changed later */
    char maxv[128];
    bool any = false;
    rc = sink_max_value(sk, p->dest_table, "_cdc_lsn", maxv, sizeof maxv, &any);
    if (rc)
        return errf(err, cap, TDSPIPE_E_LOAD,
                    "destination table %s has no readable _cdc_lsn (%s): run with --full-refresh", p->dest_table,
                    sink_errmsg(sk));
    if (!found && any)
        snprintf(val, sizeof val, "%s", maxv);
    if (!any)
        return 0;
    if (!pipe_cdc_cursor_parse(val, c->cursor, c->snap_time, sizeof c->snap_time))
        return errf(err, cap, TDSPIPE_E_LOAD,
                    "the Change Data Capture cursor of %s is not an LSN ('%.60s'): run with --full-refresh",
                    p->dest_table, val);
    c->have_cursor = true;
    return 0;
}

/* from = sys.fn_cdc_increment_lsn(cursor), the instance's minimum and the
 * captured maximum. */
static int read_range(pipe_cdc *c, net_client *cl, char min[CDC_LSN_HEX + 1], char *err, size_t cap)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "SELECT sys.fn_cdc_increment_lsn(0x");
    pipe_sqlbuf_put(&b, c->cursor);
    pipe_sqlbuf_put(&b, "), sys.fn_cdc_get_min_lsn(");
    pipe_ct_tstr(&b, c->instance);
    pipe_sqlbuf_put(&b, ");\nSELECT sys.fn_cdc_get_max_lsn()");
    pipe_list r[2] = {{0}, {0}};
    int rc = b.oom ? errf(err, cap, TDSPIPE_E_LOAD, "out of memory") : query(c, cl, b.p, 2, r, err, cap);
    free(b.p);
    if (!rc && (r[0].n < 2 || r[1].n < 2 || !pipe_cdc_lsn_parse(r[0].v[0], c->from) ||
                !pipe_cdc_lsn_parse(r[0].v[1], min) || !pipe_cdc_lsn_parse(r[1].v[0], c->to)))
        rc = errf(err, cap, TDSPIPE_E_LOAD, "unexpected LSNs from the server (is capture instance '%s' still there?)",
                  c->instance);
    pipe_list_free(&r[0]);
    pipe_list_free(&r[1]);
    return rc;
}

/* After a snapshot: whether capture has passed the snapshot's time, so
 * that the window (cursor, to] holds every change the snapshot saw
 * (cdc_read.c says why). Not yet: this run reads nothing. */
static int handoff(pipe_cdc *c, net_client *cl, char *err, size_t cap)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "SELECT sys.fn_cdc_map_lsn_to_time(0x");
    pipe_sqlbuf_put(&b, c->to);
    pipe_sqlbuf_put(&b, "), NULL");
    pipe_list r[1] = {{0}};
    int rc = b.oom ? errf(err, cap, TDSPIPE_E_LOAD, "out of memory") : query(c, cl, b.p, 1, r, err, cap);
    free(b.p);
    if (!rc && !pipe_cdc_handoff_passed(c->snap_time, r[0].n >= 2 ? r[0].v[0] : ""))
        c->empty = true;
    pipe_list_free(&r[0]);
    return rc;
}

/* The mode of this run, from the cursor and the LSNs the server keeps. */
static int decide_mode(pipe_cdc *c, net_client *cl, const pipe_plan *p, const pipe_mssql_name *n, char *err,
                       size_t cap)
{
    const tdspipe_load_opts *o = p->o;
    c->strategy = SINK_MERGE;
    c->snapshot = !c->have_cursor;
    if (o->full_refresh) {
        c->strategy = SINK_REPLACE;
        c->snapshot = true;
    } else if (c->have_cursor) {
        char min[CDC_LSN_HEX + 1];
        int rc = read_range(c, cl, min, err, cap);
        if (rc)
            return rc;
        if (strcmp(c->from, min) < 0) {
            if (!o->cdc_resnapshot)
                return errf(err, cap, TDSPIPE_E_LOAD,
                            "the Change Data Capture cursor of %s (LSN 0x%s) is older than the oldest change "
                            "capture instance '%s' still keeps (0x%s; cleanup ran): run with --full-refresh "
                            "(or --cdc-expired=resnapshot)", p->dest_table, c->cursor, c->instance, min);
            pipe__warn(o, "warning: the Change Data Capture cursor of %s (LSN 0x%s) expired (oldest kept 0x%s); "
                          "reloading %s.%s from a fresh snapshot", p->dest_table, c->cursor, min, n->schema, n->table);
            c->snapshot = true;
            c->strategy = SINK_REPLACE;
        } else if (strcmp(c->cursor, c->to) > 0 && strcmp(c->to, min) >= 0) {
            /* (a maximum below the instance's minimum: nothing captured
             * since the instance began, and the cursor is just before it) */
            return errf(err, cap, TDSPIPE_E_LOAD,
                        "the Change Data Capture cursor of %s (LSN 0x%s) is ahead of the server's captured maximum "
                        "0x%s (another database?): run with --full-refresh", p->dest_table, c->cursor, c->to);
        }
        c->empty = !c->snapshot && strcmp(c->from, c->to) > 0;
        if (!c->snapshot && !c->empty && c->snap_time[0] && (rc = handoff(c, cl, err, cap)))
            return rc;
    }
    c->cdc = c->strategy == SINK_MERGE;
    return 0;
}

int pipe_cdc_prepare(pipe_cdc *c, net_client *cl, sink *sk, const pipe_plan *p, const pipe_mssql_name *n,
                     char *err, size_t cap)
{
    if ((size_t)snprintf(c->state_name, sizeof c->state_name, "cdc:%s.%s.%s:%s", c->db, n->schema, n->table,
                         p->dest_table) >= sizeof c->state_name)
        return errf(err, cap, TDSPIPE_E_USAGE, "table names too long for the state table");
    int rc = read_cursor(c, sk, p, err, cap);
    if (!rc)
        rc = decide_mode(c, cl, p, n, err, cap);
    if (!rc && c->snapshot && !c->snap_iso)
        pipe__warn(p->o, "warning: snapshot isolation is off for database '%s'; reading the snapshot under "
                         "SERIALIZABLE (ALTER DATABASE ... SET ALLOW_SNAPSHOT_ISOLATION ON avoids blocking writers)",
                   c->db);
    return rc;
}
