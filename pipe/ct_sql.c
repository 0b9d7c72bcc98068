/*
 * ct_sql.c — the SQL text of a Change Tracking read and its small
 * queries. A run is one of:
 *   snapshot     no cursor (first run), full_refresh, or an expired
 *                cursor with ct_resnapshot: the whole table, every row
 *                stamped with CHANGE_TRACKING_CURRENT_VERSION() read in
 *                the same transaction;
 *   changes      CHANGETABLE(CHANGES t, cursor) LEFT JOINed back to t on
 *                the key, up to that same current version, ordered by
 *                version then key.
 */
#include <stdio.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ct_int.h"
#include "tds_ascii.h"

static bool listed(const pipe_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (!tds_ascii_casecmp(l->v[i], name))
            return true;
    return false;
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

int pipe_ct_scalars(net_client *cl, const char *sql, size_t n, char (*v)[2][64], bool (*null)[2], bool retry,
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
    return pipe_changes_query(cl, sql, &cb, &s, retry, "Change Tracking", &s.bad, &s.cur, n, ne);
}

bool pipe_ct_parse_version(const char *s, uint64_t *out)
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
void pipe_ct_tstr(pipe_sqlbuf *b, const char *s)
{
    pipe_sqlbuf_put(b, "N'");
    for (const char *p = s; *p; p++) {
        char one[3] = {*p, *p == '\'' ? '\'' : '\0', '\0'};
        pipe_sqlbuf_put(b, one);
    }
    pipe_sqlbuf_put(b, "'");
}

static const pipe_colspec *spec_for(const pipe_colspec *specs, size_t n, const char *col)
{
    for (size_t i = 0; i < n; i++)
        if (!tds_ascii_casecmp(specs[i].source, col))
            return &specs[i];
    return NULL;
}

/* One column of the select list: from CHANGETABLE's alias for a key
 * column of a changes read, else from the table. */
static void put_column(pipe_sqlbuf *b, const char *alias, const char *col, const pipe_colspec *cs)
{
    if (cs && cs->sqltype[0]) {
        pipe_sqlbuf_put(b, "CAST(");
        pipe_sqlbuf_put(b, alias);
        pipe_sqlbuf_ident(b, col);
        pipe_sqlbuf_put(b, " AS ");
        pipe_sqlbuf_put(b, cs->sqltype);
        pipe_sqlbuf_put(b, ") AS ");
        pipe_sqlbuf_ident(b, cs->name);
    } else {
        pipe_sqlbuf_put(b, alias);
        pipe_sqlbuf_ident(b, col);
        pipe_sqlbuf_put(b, " AS ");
        pipe_sqlbuf_ident(b, cs ? cs->name : col);
    }
}

/* FROM CHANGETABLE(CHANGES t, cursor) LEFT JOIN t ON the key, and the
 * ORDER BY version, key the read appends after its version bound. */
static void put_changes_from(pipe_ct *ct, pipe_sqlbuf *b)
{
    const pipe_catalog *cat = ct->cat;
    pipe_sqlbuf_put(b, " FROM CHANGETABLE(CHANGES ");
    pipe_sqlbuf_put(b, ct->qname);
    char v[32];
    snprintf(v, sizeof v, ", %" PRIu64 ") AS [ct] LEFT JOIN ", ct->cursor);
    pipe_sqlbuf_put(b, v);
    pipe_sqlbuf_put(b, ct->qname);
    pipe_sqlbuf_put(b, " AS [t] ON ");
    pipe_sqlbuf ord = {0};
    pipe_sqlbuf_put(&ord, " ORDER BY [ct].[SYS_CHANGE_VERSION]");
    for (size_t k = 0; k < cat->pk.n; k++) {
        pipe_sqlbuf_put(b, k ? " AND [t]." : "[t].");
        pipe_sqlbuf_ident(b, cat->pk.v[k]);
        pipe_sqlbuf_put(b, " = [ct].");
        pipe_sqlbuf_ident(b, cat->pk.v[k]);
        pipe_sqlbuf_put(&ord, ", [ct].");
        pipe_sqlbuf_ident(&ord, cat->pk.v[k]);
    }
    if (ord.oom)
        b->oom = true;
    ct->order = ord.p;
}

/* The select list: the table's columns in order (less excluded ones), key
 * columns from CHANGETABLE's alias (a deleted row is only its key), the
 * others from the joined table; --columns as CAST/AS. */
int pipe_ct_build_select(pipe_ct *ct, const pipe_plan *p, char *err, size_t cap)
{
    const tdspipe_load_opts *o = p->o;
    const pipe_catalog *cat = ct->cat;
    for (size_t i = 0; i < o->nexclude; i++)
        if (!listed(&cat->names, o->exclude[i]))
            return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE, "--sql-exclude-columns: table has no column '%s'",
                                     o->exclude[i]);
    for (size_t s = 0; s < p->nspecs; s++)
        if (!listed(&cat->names, p->specs[s].source))
            return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE, "--columns: table has no column '%s'",
                                     p->specs[s].source);
    ct->rows.is_key = calloc(cat->names.n + 1, sizeof *ct->rows.is_key);
    if (!ct->rows.is_key)
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "SELECT ");
    if (!ct->snapshot)
        pipe_sqlbuf_put(&b, "[ct].[SYS_CHANGE_VERSION], [ct].[SYS_CHANGE_OPERATION], ");
    for (size_t c = 0; c < cat->names.n; c++) {
        const char *col = cat->names.v[c];
        if (pipe_name_in(o->exclude, o->nexclude, col))
            continue;
        bool key = listed(&cat->pk, col);
        if (ct->rows.nsel)
            pipe_sqlbuf_put(&b, ", ");
        ct->rows.is_key[ct->rows.nsel++] = key;
        put_column(&b, key && !ct->snapshot ? "[ct]." : "[t].", col, spec_for(p->specs, p->nspecs, col));
    }
    if (!ct->snapshot) {
        put_changes_from(ct, &b);
    } else {
        pipe_sqlbuf_put(&b, " FROM ");
        pipe_sqlbuf_put(&b, ct->qname);
        pipe_sqlbuf_put(&b, " AS [t]");
    }
    if (b.oom) {
        free(b.p);
        return pipe_changes_errf(err, cap, TDSPIPE_E_LOAD, "out of memory");
    }
    ct->select = b.p;
    return 0;
}

