/*
 * ct.c — Change Tracking sources (mssql+ct:// and friends): the checks
 * before anything is read, the cursor, and the SQL of the read. The rows
 * themselves go through the adapter in ct_rows.c into ingest.c's load.
 *
 * A run is one of:
 *   snapshot     no cursor (first run), --full-refresh, or an expired
 *                cursor with --ct-expired=resnapshot: the whole table, every
 *                row stamped with CHANGE_TRACKING_CURRENT_VERSION() read in
 *                the same transaction;
 *   changes      CHANGETABLE(CHANGES t, cursor) LEFT JOINed back to t on
 *                the key, up to that same current version, ordered by
 *                version then key.
 * Both read inside one transaction, SNAPSHOT isolation when the database
 * allows it, else SERIALIZABLE (with a warning). The new cursor goes into
 * the destination's state table in the load's own transaction (ingest.c
 * calls cli_ct_save before sink_commit), so rows and cursor move together.
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
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_int.h"

static int ct_errf(char *err, size_t cap, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int ct_errf(char *err, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return code;
}

static bool listed(const cli_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcasecmp(l->v[i], name))
            return true;
    return false;
}

int cli_ct_check_flags(const cli_opts *o, const cli_source_name *n, char *err, size_t cap)
{
    if (n->is_query)
        return ct_errf(err, cap, CLI_EXIT_USAGE, "Change Tracking reads a table: a query: source cannot be tracked");
    if (o->strategy_given && o->strategy != SINK_MERGE && !o->full_refresh)
        return ct_errf(err, cap, CLI_EXIT_USAGE,
                       "Change Tracking sources load by merge: --incremental-strategy %s needs --full-refresh",
                       sink_strategy_name(o->strategy));
    if (o->sql_limit >= 0)
        return ct_errf(err, cap, CLI_EXIT_USAGE,
                       "--sql-limit cannot be used with Change Tracking (a partial read would lose changes)");
    if (o->incremental_key || o->interval_start || o->interval_end)
        return ct_errf(err, cap, CLI_EXIT_USAGE,
                       "--incremental-key and --interval-start/-end do not apply to Change Tracking "
                       "(the tracked version is the cursor)");
    for (size_t i = 0; i < o->exclude.n; i++)
        if (!strncasecmp(o->exclude.v[i], "_cdc_", 5))
            return ct_errf(err, cap, CLI_EXIT_USAGE,
                           "--sql-exclude-columns: '%s' cannot be excluded from a Change Tracking load",
                           o->exclude.v[i]);
    return 0;
}

/* ------------------------------------------------------------ scalars */

/* The first row's first two columns of each result set of a batch, as
 * text ("" and null for NULL or no row). */
typedef struct scalars {
    size_t n, cur;
    char (*v)[2][64];
    bool (*null)[2];
    bool bad;
} scalars;

static int sc_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    (void)cols;
    (void)ncols;
    scalars *s = ud;
    s->cur++;
    return NET_ROW_NEXT;
}

static int sc_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    scalars *s = ud;
    size_t r = s->cur - 1;
    if (!s->cur || r >= s->n || !s->null[r][0])
        return NET_ROW_NEXT; /* only the first row counts */
    for (size_t c = 0; c < 2 && c < ncols; c++) {
        size_t len = 0;
        if (vals[c].flags & TDS_VF_NULL)
            continue;
        if (tds_value_text(&cols[c], &vals[c], s->v[r][c], sizeof s->v[r][c], &len) != TDS_OK) {
            s->bad = true;
            return NET_ROW_ABORT;
        }
        s->null[r][c] = false;
    }
    return NET_ROW_NEXT;
}

static int run_scalars(net_client *cl, const char *sql, size_t n, char (*v)[2][64], bool (*null)[2], bool retry,
                       net_error *ne)
{
    scalars s = {n, 0, v, null, false};
    for (size_t i = 0; i < n; i++) {
        v[i][0][0] = v[i][1][0] = '\0';
        null[i][0] = null[i][1] = true;
    }
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.columns = sc_columns;
    cb.row = sc_row;
    memset(ne, 0, sizeof *ne);
    /* retrying reconnects: fine before the read's transaction, never in it */
    int rc = retry ? net_client_batch_retry(cl, sql, &cb, &s, ne) : net_client_batch(cl, sql, &cb, &s, ne);
    if (rc == NET_OK && (s.bad || s.cur != n)) {
        snprintf(ne->message, sizeof ne->message, "unexpected answer to a Change Tracking query");
        rc = NET_E_PROTO;
    }
    return rc;
}

static bool parse_version(const char *s, uint64_t *out)
{
    if (!*s || strlen(s) > 20)
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ------------------------------------------------------------ SQL text */

/* N'…' with quotes doubled */
static void tstr(cli_sqlbuf *b, const char *s)
{
    cli_sqlbuf_put(b, "N'");
    for (const char *p = s; *p; p++) {
        char one[3] = {*p, *p == '\'' ? '\'' : '\0', '\0'};
        cli_sqlbuf_put(b, one);
    }
    cli_sqlbuf_put(b, "'");
}

static const cli_colspec *spec_for(const cli_colspec *specs, size_t n, const char *col)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(specs[i].source, col))
            return &specs[i];
    return NULL;
}

/* The select list: the table's columns in order (less excluded ones), key
 * columns from CHANGETABLE's alias (a deleted row is only its key), the
 * others from the joined table; --columns as CAST/AS. */
static int build_select(cli_ct *ct, const cli_opts *o, const cli_colspec *specs, size_t nspecs, char *err,
                        size_t cap)
{
    const cli_catalog *cat = ct->cat;
    for (size_t i = 0; i < o->exclude.n; i++)
        if (!listed(&cat->names, o->exclude.v[i]))
            return ct_errf(err, cap, CLI_EXIT_USAGE, "--sql-exclude-columns: table has no column '%s'", o->exclude.v[i]);
    for (size_t s = 0; s < nspecs; s++)
        if (!listed(&cat->names, specs[s].source))
            return ct_errf(err, cap, CLI_EXIT_USAGE, "--columns: table has no column '%s'", specs[s].source);
    ct->is_key = calloc(cat->names.n + 1, sizeof *ct->is_key);
    if (!ct->is_key)
        return ct_errf(err, cap, CLI_EXIT_LOAD, "out of memory");
    cli_sqlbuf b = {0};
    cli_sqlbuf_put(&b, "SELECT ");
    if (!ct->snapshot)
        cli_sqlbuf_put(&b, "[ct].[SYS_CHANGE_VERSION], [ct].[SYS_CHANGE_OPERATION], ");
    for (size_t c = 0; c < cat->names.n; c++) {
        const char *col = cat->names.v[c];
        if (listed(&o->exclude, col))
            continue;
        bool key = listed(&cat->pk, col);
        const char *alias = key && !ct->snapshot ? "[ct]." : "[t].";
        if (ct->nsel)
            cli_sqlbuf_put(&b, ", ");
        ct->is_key[ct->nsel++] = key;
        const cli_colspec *cs = spec_for(specs, nspecs, col);
        if (cs && cs->sqltype[0]) {
            cli_sqlbuf_put(&b, "CAST(");
            cli_sqlbuf_put(&b, alias);
            cli_sqlbuf_ident(&b, col);
            cli_sqlbuf_put(&b, " AS ");
            cli_sqlbuf_put(&b, cs->sqltype);
            cli_sqlbuf_put(&b, ") AS ");
            cli_sqlbuf_ident(&b, cs->name);
        } else {
            cli_sqlbuf_put(&b, alias);
            cli_sqlbuf_ident(&b, col);
            cli_sqlbuf_put(&b, " AS ");
            cli_sqlbuf_ident(&b, cs ? cs->name : col);
        }
    }
    if (!ct->snapshot) {
        cli_sqlbuf_put(&b, " FROM CHANGETABLE(CHANGES ");
        cli_sqlbuf_put(&b, ct->qname);
        char v[32];
        snprintf(v, sizeof v, ", %" PRIu64 ") AS [ct] LEFT JOIN ", ct->cursor);
        cli_sqlbuf_put(&b, v);
        cli_sqlbuf_put(&b, ct->qname);
        cli_sqlbuf_put(&b, " AS [t] ON ");
        cli_sqlbuf ord = {0};
        cli_sqlbuf_put(&ord, " ORDER BY [ct].[SYS_CHANGE_VERSION]");
        for (size_t k = 0; k < cat->pk.n; k++) {
            cli_sqlbuf_put(&b, k ? " AND [t]." : "[t].");
            cli_sqlbuf_ident(&b, cat->pk.v[k]);
            cli_sqlbuf_put(&b, " = [ct].");
            cli_sqlbuf_ident(&b, cat->pk.v[k]);
            cli_sqlbuf_put(&ord, ", [ct].");
            cli_sqlbuf_ident(&ord, cat->pk.v[k]);
        }
        if (ord.oom)
            b.oom = true;
        ct->order = ord.p;
    } else {
        cli_sqlbuf_put(&b, " FROM ");
        cli_sqlbuf_put(&b, ct->qname);
        cli_sqlbuf_put(&b, " AS [t]");
    }
    if (b.oom) {
        free(b.p);
        return ct_errf(err, cap, CLI_EXIT_LOAD, "out of memory");
    }
    ct->select = b.p;
    return 0;
}

/* ------------------------------------------------------------ prepare */

int cli_ct_prepare(cli_ct *ct, net_client *cl, sink *sk, const cli_opts *o, const cli_source_name *n,
                   const cli_catalog *cat, const cli_colspec *specs, size_t nspecs, const char *dest_table,
                   char *err, size_t cap)
{
    ct->cat = cat;
    /* the key: the table's own (CHANGETABLE returns it); --primary-key
     * may only name it */
    if (!cat->pk.n)
        return ct_errf(err, cap, CLI_EXIT_USAGE,
                       o->primary_keys.n ? "Change Tracking needs a table with a primary key (table %s.%s has none)"
                                         : "Change Tracking needs a primary key: table %s.%s has none",
                       n->schema, n->table);
    if (o->primary_keys.n) {
        bool same = o->primary_keys.n == cat->pk.n;
        for (size_t i = 0; same && i < o->primary_keys.n; i++)
            same = listed(&cat->pk, o->primary_keys.v[i]);
        if (!same)
            return ct_errf(err, cap, CLI_EXIT_USAGE,
                           "--primary-key must name the table's primary key for Change Tracking (%s%s%s)",
                           cat->pk.v[0], cat->pk.n > 1 ? ", " : "", cat->pk.n > 1 ? cat->pk.v[1] : "");
    }
    for (size_t k = 0; k < cat->pk.n; k++)
        if (listed(&o->exclude, cat->pk.v[k]))
            return ct_errf(err, cap, CLI_EXIT_USAGE,
                           "--sql-exclude-columns: key column '%s' cannot be excluded from a Change Tracking load",
                           cat->pk.v[k]);

    const char *db = n->db ? n->db : net_conn_database(net_client_conn(cl));
    if (!db || !*db)
        return ct_errf(err, cap, CLI_EXIT_LOAD, "cannot tell the source table's database");
    ct->db = strdup(db);
    ct->qname = cli_source_quoted(&(cli_source_name){.db = (char *)db, .schema = n->schema, .table = n->table});
    if (!ct->db || !ct->qname)
        return ct_errf(err, cap, CLI_EXIT_LOAD, "out of memory");
    if ((size_t)snprintf(ct->state_name, sizeof ct->state_name, "ct:%s.%s.%s:%s", db, n->schema, n->table,
                         dest_table) >= sizeof ct->state_name)
        return ct_errf(err, cap, CLI_EXIT_USAGE, "table names too long for the state table");

    /* ---- the server: tracking on for the database and the table,
     * snapshot isolation, the versions */
    cli_sqlbuf b = {0};
    cli_sqlbuf_put(&b, "USE ");
    cli_sqlbuf_ident(&b, db);
    cli_sqlbuf_put(&b, ";\nSELECT COUNT(*) FROM sys.change_tracking_databases WHERE database_id = DB_ID();\n"
             "SELECT COUNT(*) FROM sys.change_tracking_tables WHERE object_id = OBJECT_ID(");
    tstr(&b, ct->qname);
    cli_sqlbuf_put(&b, ");\nSELECT snapshot_isolation_state FROM sys.databases WHERE database_id = DB_ID();\n"
             "SELECT CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(");
    tstr(&b, ct->qname);
    cli_sqlbuf_put(&b, ")), CHANGE_TRACKING_CURRENT_VERSION()");
    if (b.oom) {
        free(b.p);
        return ct_errf(err, cap, CLI_EXIT_LOAD, "out of memory");
    }
    char v[4][2][64];
    bool null[4][2];
    net_error ne;
    int rc = run_scalars(cl, b.p, 4, v, null, true, &ne);
    free(b.p);
    if (rc)
        return ct_errf(err, cap, CLI_EXIT_LOAD, "reading the Change Tracking settings: %s",
                       ne.message[0] ? ne.message : net_strerror(rc));
    if (null[0][0] || !strcmp(v[0][0], "0"))
        return ct_errf(err, cap, CLI_EXIT_LOAD,
                       "Change Tracking is not enabled for database '%s' "
                       "(ALTER DATABASE ... SET CHANGE_TRACKING = ON)", db);
    if (null[1][0] || !strcmp(v[1][0], "0"))
        return ct_errf(err, cap, CLI_EXIT_LOAD,
                       "Change Tracking is not enabled for table %s.%s (ALTER TABLE ... ENABLE CHANGE_TRACKING)",
                       n->schema, n->table);
    if (null[3][0]) /* tracked, yet no version: SQL Server's answer without the permission */
        return ct_errf(err, cap, CLI_EXIT_LOAD,
                       "cannot read the Change Tracking versions of %s.%s (the login needs VIEW CHANGE TRACKING "
                       "on the table)", n->schema, n->table);
    ct->snap_iso = !null[2][0] && !strcmp(v[2][0], "1");
    uint64_t minv = 0, cur = 0;
    if (!parse_version(v[3][0], &minv) || null[3][1] || !parse_version(v[3][1], &cur))
        return ct_errf(err, cap, CLI_EXIT_LOAD, "unexpected Change Tracking versions from the server");

    /* ---- the cursor: the state table, else an ingestr-loaded table's
     * MAX(_cdc_lsn). The destination must be a database. */
    char val[128];
    bool found = false;
    rc = sink_state_get(sk, ct->state_name, val, sizeof val, &found);
    if (rc == SINK_E_UNSUPPORTED)
        return ct_errf(err, cap, CLI_EXIT_USAGE,
                       "Change Tracking needs a database destination (duckdb, postgresql, sqlite) "
                       "to keep its cursor, not %s", sink_name(sk));
    if (rc)
        return ct_errf(err, cap, CLI_EXIT_LOAD, "reading the Change Tracking cursor: %s", sink_errmsg(sk));
    if (!o->full_refresh) {
        /* MAX(_cdc_lsn): the cursor of a table ingestr loaded; with a state
         * row, whether the table still holds rows — one dropped or emptied
         * since would otherwise only get the rows changed after the cursor */
        char maxv[128];
        bool any = false;
        rc = sink_max_value(sk, dest_table, "_cdc_lsn", maxv, sizeof maxv, &any);
        if (rc)
            return ct_errf(err, cap, CLI_EXIT_LOAD,
                           "destination table %s has no readable _cdc_lsn (%s): run with --full-refresh",
                           dest_table, sink_errmsg(sk));
        if (!found && any)
            snprintf(val, sizeof val, "%s", maxv);
        found = any;
    }
    if (found && !o->full_refresh) {
        if (!parse_version(val, &ct->cursor))
            return ct_errf(err, cap, CLI_EXIT_LOAD,
                           "the Change Tracking cursor of %s is not a version ('%s'): run with --full-refresh",
                           dest_table, val);
        ct->have_cursor = true;
    }

    /* ---- the mode of this run */
    ct->strategy = SINK_MERGE;
    ct->snapshot = !ct->have_cursor;
    if (o->full_refresh) {
        ct->strategy = SINK_REPLACE;
    } else if (ct->have_cursor && ct->cursor < minv) {
        if (!o->ct_resnapshot)
            return ct_errf(err, cap, CLI_EXIT_LOAD,
                           "the Change Tracking cursor of %s (version %" PRIu64 ") is older than the oldest "
                           "version SQL Server still keeps for %s.%s (%" PRIu64 "): run with --full-refresh "
                           "(or --ct-expired=resnapshot)",
                           dest_table, ct->cursor, n->schema, n->table, minv);
        cli_err("warning: the Change Tracking cursor of %s (version %" PRIu64 ") expired (oldest kept %" PRIu64
                "); reloading the table from a fresh snapshot",
                dest_table, ct->cursor, minv);
        ct->snapshot = true;
        ct->strategy = SINK_REPLACE;
    } else if (ct->have_cursor && ct->cursor > cur) {
        return ct_errf(err, cap, CLI_EXIT_LOAD,
                       "the Change Tracking cursor of %s (version %" PRIu64 ") is ahead of the server's "
                       "current version %" PRIu64 " (another database?): run with --full-refresh",
                       dest_table, ct->cursor, cur);
    }
    ct->cdc = ct->strategy == SINK_MERGE;
    if (!ct->snap_iso)
        cli_err("warning: snapshot isolation is off for database '%s'; reading under SERIALIZABLE "
                "(ALTER DATABASE ... SET ALLOW_SNAPSHOT_ISOLATION ON avoids blocking writers)", db);
    return build_select(ct, o, specs, nspecs, err, cap);
}

/* ------------------------------------------------------------ read */

static int read_fail(net_error *ne, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int read_fail(net_error *ne, const char *fmt, ...)
{
    memset(ne, 0, sizeof *ne);
    ne->code = NET_E_SERVER;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ne->message, sizeof ne->message, fmt, ap);
    va_end(ap);
    return NET_E_SERVER;
}

int cli_ct_read(cli_ct *ct, net_client *cl, const net_result_cb *cb, void *ud, net_error *ne)
{
    /* One transaction over three requests (the session carries its
     * descriptor): the versions, the rows, COMMIT. Under SNAPSHOT both
     * reads see one point in time; under SERIALIZABLE the changes read is
     * bounded by the version read first, and a row changed after it has a
     * later SYS_CHANGE_VERSION and is left for the next run. */
    cli_sqlbuf b = {0};
    cli_sqlbuf_put(&b, ct->snap_iso ? "SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n"
                          : "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n");
    /* The version is read first, before any row. SQL Server starts a
     * SNAPSHOT transaction's view at its first data access, which is then
     * no older than the version: a change committed in between has a
     * higher version, so the changes read (bounded by the version) leaves
     * it for the next run, and a snapshot row showing it is re-sent then
     * (the merge is idempotent). Reading the version after the view began
     * could count a commit the view cannot see, and lose it. */
    cli_sqlbuf_put(&b, "BEGIN TRANSACTION;\nSELECT CHANGE_TRACKING_CURRENT_VERSION(), CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(");
    tstr(&b, ct->qname);
    cli_sqlbuf_put(&b, "))");
    if (b.oom) {
        free(b.p);
        return read_fail(ne, "out of memory");
    }
    char v[1][2][64];
    bool null[1][2];
    int rc = run_scalars(cl, b.p, 1, v, null, false, ne);
    free(b.p);
    if (rc)
        return rc;
    uint64_t minv = 0;
    if (null[0][0] || null[0][1] || !parse_version(v[0][0], &ct->version) || !parse_version(v[0][1], &minv))
        return read_fail(ne, "Change Tracking was turned off for the table while reading it");
    if (!ct->snapshot && ct->cursor < minv)
        return read_fail(ne, "the Change Tracking cursor (version %" PRIu64 ") expired while reading "
                             "(oldest kept %" PRIu64 "): run again with --full-refresh",
                         ct->cursor, minv);

    b = (cli_sqlbuf){0};
    cli_sqlbuf_put(&b, ct->select);
    if (!ct->snapshot) {
        char w[64];
        snprintf(w, sizeof w, " WHERE [ct].[SYS_CHANGE_VERSION] <= %" PRIu64, ct->version);
        cli_sqlbuf_put(&b, w);
        cli_sqlbuf_put(&b, ct->order);
    }
    if (b.oom) {
        free(b.p);
        return read_fail(ne, "out of memory");
    }
    ct->inner = *cb;
    ct->inner_ud = ud;
    ct->prefix = ct->snapshot ? 0 : 2;
    memset(ne, 0, sizeof *ne);
    rc = net_client_batch(cl, b.p, &cli_ct_rows_cb, ct, ne);
    free(b.p);
    if (ct->fail)
        return read_fail(ne, "%s", ct->err);
    if (rc)
        return rc;
    net_result_cb none;
    memset(&none, 0, sizeof none);
    memset(ne, 0, sizeof *ne);
    return net_client_batch(cl, "COMMIT TRANSACTION", &none, NULL, ne);
}

int cli_ct_save(cli_ct *ct, sink *sk)
{
    /* no write when nothing moved: the state row is not rewritten */
    if (ct->have_cursor && !ct->snapshot && ct->version == ct->cursor)
        return 0;
    char val[32];
    snprintf(val, sizeof val, "%020" PRIu64, ct->version);
    return sink_state_set(sk, ct->state_name, val);
}

void cli_ct_free(cli_ct *ct)
{
    free(ct->qname);
    free(ct->db);
    free(ct->select);
    free(ct->order);
    free(ct->is_key);
    free(ct->cols);
    free(ct->vals);
    memset(ct, 0, sizeof *ct);
}
