/*
 * cdc_sql.c — the SQL text of a Change Data Capture read, its small
 * queries and LSN text. A run is one of:
 *   snapshot  no cursor (first run), full_refresh, or an expired cursor
 *             with cdc_resnapshot: the captured columns of the table, read
 *             in one transaction that first reads sys.fn_cdc_get_max_lsn()
 *             (cdc_read.c says why that order makes the handoff exact);
 *   changes   cdc.fn_cdc_get_all_changes_<instance>(from, to, N'all')
 *             ordered by __$start_lsn, __$seqval, __$operation, where from
 *             is sys.fn_cdc_increment_lsn(cursor) and to the captured
 *             maximum read before. LSNs are written as binary literals
 *             (0x…): the range is fixed before the read starts.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"
#include "tds_ascii.h"

/* ------------------------------------------------------------ LSN text */

bool pipe_cdc_lsn_parse(const char *s, char out[CDC_LSN_HEX + 1])
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    size_t n = strlen(s);
    if (n != CDC_LSN_HEX && n != 2 * CDC_LSN_HEX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    for (size_t i = 0; i < CDC_LSN_HEX; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[CDC_LSN_HEX] = '\0';
    return true;
}

void pipe_cdc_lsn_dec(const char lsn[CDC_LSN_HEX + 1], char out[CDC_LSN_HEX + 1])
{
    static const char hex[] = "0123456789ABCDEF";
    memcpy(out, lsn, CDC_LSN_HEX + 1);
    if (strspn(lsn, "0") == CDC_LSN_HEX)
        return;
    for (int i = CDC_LSN_HEX - 1; i >= 0; i--) {
        const char *d = strchr(hex, out[i]);
        int v = d ? (int)(d - hex) : 0;
        if (v) {
            out[i] = hex[v - 1];
            return;
        }
        out[i] = 'F'; /* borrow */
    }
}

/* ------------------------------------------------------------ rows as text */

typedef struct texts {
    size_t n, cur;
    pipe_list *out;
    bool bad;
} texts;

static int tx_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    (void)cols;
    (void)ncols;
    ((texts *)ud)->cur++;
    return NET_ROW_NEXT;
}

static int tx_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    texts *t = ud;
    if (!t->cur || t->cur > t->n)
        return NET_ROW_NEXT;
    pipe_list *l = &t->out[t->cur - 1];
    for (size_t c = 0; c < 2; c++) {
        char v[300] = "";
        size_t len = 0;
        if (c < ncols && !(vals[c].flags & TDS_VF_NULL) &&
            tds_value_text(&cols[c], &vals[c], v, sizeof v, &len) != TDS_OK) {
            t->bad = true;
            return NET_ROW_ABORT;
        }
        if (pipe_list_add(l, v, len)) {
            t->bad = true;
            return NET_ROW_ABORT;
        }
    }
    return NET_ROW_NEXT;
}

int pipe_cdc_rows(net_client *cl, const char *sql, size_t n, pipe_list *out, bool retry, net_error *ne)
{
    texts t = {n, 0, out, false};
    for (size_t i = 0; i < n; i++)
        pipe_list_free(&out[i]);
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.columns = tx_columns;
    cb.row = tx_row;
    return pipe_changes_query(cl, sql, &cb, &t, retry, "Change Data Capture", &t.bad, &t.cur, n, ne);
}

/* ------------------------------------------------------------ SQL text */

static const pipe_colspec *spec_for(const pipe_colspec *specs, size_t n, const char *col)
{
    for (size_t i = 0; i < n; i++)
        if (!tds_ascii_casecmp(specs[i].source, col))
            return &specs[i];
    return NULL;
}

static void put_column(pipe_sqlbuf *b, const char *col, const pipe_colspec *cs)
{
    if (cs && cs->sqltype[0]) {
        pipe_sqlbuf_put(b, "CAST(");
        pipe_sqlbuf_ident(b, col);
        pipe_sqlbuf_put(b, " AS ");
        pipe_sqlbuf_put(b, cs->sqltype);
        pipe_sqlbuf_put(b, ") AS ");
        pipe_sqlbuf_ident(b, cs->name);
    } else {
        pipe_sqlbuf_ident(b, col);
        if (cs) {
            pipe_sqlbuf_put(b, " AS ");
            pipe_sqlbuf_ident(b, cs->name);
        }
    }
}

/* The captured columns in order less excluded ones; a column the capture
 * instance does not capture cannot be loaded (its changes are not kept). */
int pipe_cdc_build_cols(pipe_cdc *c, const pipe_plan *p, char *err, size_t cap)
{
    const tdspipe_load_opts *o = p->o;
    const pipe_list *cc = &c->captured;
    for (size_t i = 0; i < o->nexclude; i++)
        if (!pipe_name_in((const char *const *)cc->v, cc->n, o->exclude[i]))
            return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE,
                                     "--sql-exclude-columns: capture instance '%s' has no column '%s'", c->instance,
                                     o->exclude[i]);
    for (size_t s = 0; s < p->nspecs; s++)
        if (!pipe_name_in((const char *const *)cc->v, cc->n, p->specs[s].source))
            return pipe_changes_errf(err, cap, TDSPIPE_E_USAGE,
                                     "--columns: capture instance '%s' does not capture column '%s'", c->instance,
                                     p->specs[s].source);
    pipe_sqlbuf b = {0};
    c->rows.nsel = 0;
    for (size_t i = 0; i < cc->n; i++) {
        if (pipe_name_in(o->exclude, o->nexclude, cc->v[i]))
            continue;
        if (c->rows.nsel++)
            pipe_sqlbuf_put(&b, ", ");
        put_column(&b, cc->v[i], spec_for(p->specs, p->nspecs, cc->v[i]));
    }
    if (b.oom || !c->rows.nsel) {
        free(b.p);
        return pipe_changes_errf(err, cap, b.oom ? TDSPIPE_E_LOAD : TDSPIPE_E_USAGE,
                                 b.oom ? "out of memory" : "no column of capture instance '%s' is left to load",
                                 c->instance);
    }
    c->cols = b.p;
    return 0;
}

char *pipe_cdc_sql_snapshot(const pipe_cdc *c)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "SELECT ");
    pipe_sqlbuf_put(&b, c->cols);
    pipe_sqlbuf_put(&b, " FROM ");
    pipe_sqlbuf_put(&b, c->qname);
    if (b.oom)
        free(b.p);
    return b.oom ? NULL : b.p;
}

static void put_lsn(pipe_sqlbuf *b, const char *hex)
{
    pipe_sqlbuf_put(b, "0x");
    pipe_sqlbuf_put(b, hex);
}

char *pipe_cdc_sql_changes(const pipe_cdc *c)
{
    pipe_sqlbuf b = {0};
    if (c->empty) {
        /* nothing captured after the cursor: the function refuses an empty
         * range (error 313); the same columns, no row, from the table (its
         * captured columns have the change table's types) */
        pipe_sqlbuf_put(&b, "SELECT TOP (0) CAST(NULL AS binary(10)) AS [__$start_lsn], CAST(NULL AS binary(10)) AS "
                            "[__$seqval], CAST(NULL AS int) AS [__$operation], ");
        pipe_sqlbuf_put(&b, c->cols);
        pipe_sqlbuf_put(&b, " FROM ");
        pipe_sqlbuf_put(&b, c->qname);
    } else {
        /* the batch runs after USE [db] (cdc_read.c) */
        pipe_sqlbuf_put(&b, "SELECT [__$start_lsn], [__$seqval], [__$operation], ");
        pipe_sqlbuf_put(&b, c->cols);
        pipe_sqlbuf_put(&b, " FROM [cdc].");
        char fn[300];
        snprintf(fn, sizeof fn, "fn_cdc_get_all_changes_%s", c->instance);
        pipe_sqlbuf_ident(&b, fn);
        pipe_sqlbuf_put(&b, "(");
        put_lsn(&b, c->from);
        pipe_sqlbuf_put(&b, ", ");
        put_lsn(&b, c->to);
        pipe_sqlbuf_put(&b, ", N'all') ORDER BY [__$start_lsn], [__$seqval], [__$operation]");
    }
    if (b.oom)
        free(b.p);
    return b.oom ? NULL : b.p;
}

/* ------------------------------------------------------------ handoff time */

bool pipe_cdc_cursor_parse(const char *s, char lsn[CDC_LSN_HEX + 1], char *time, size_t cap)
{
    time[0] = '\0';
    const char *sp = strchr(s, ' ');
    if (!sp)
        return pipe_cdc_lsn_parse(s, lsn);
    char head[2 * CDC_LSN_HEX + 3];
    size_t n = (size_t)(sp - s);
    if (n >= sizeof head || strncmp(sp, " after ", 7) || strlen(sp + 7) >= cap || !sp[7])
        return false;
    memcpy(head, s, n);
    head[n] = '\0';
    snprintf(time, cap, "%s", sp + 7);
    return pipe_cdc_lsn_parse(head, lsn);
}

static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD hh:mm:ss[.fffffff]" into microseconds since 1970. */
static bool time_us(const char *s, long long *out)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return false;
    long long us = 0, scale = 100000;
    if (s[n] == '.')
        for (const char *p = s + n + 1; isdigit((unsigned char)*p); p++, scale /= 10)
            us += (*p - '0') * scale;
    *out = ((long long)days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000 + us;
    return true;
}

bool pipe_cdc_handoff_passed(const char *snap_time, const char *max_time)
{
    long long t, m;
    if (!max_time[0] || !time_us(max_time, &m))
        return true; /* unknown: the changes are applied (at least once, in order) */
    return !time_us(snap_time, &t) || m > t + 10000;
}
