/*
 * exec_expr.c — scalar expressions that do not read a row: literals,
 * parameters (@p from sp_executesql), system variables (@@VERSION …) and
 * the built-in functions of the subset (README.md, "Functions"), plus the
 * result-column metadata SQL Server gives such expressions.
 *
 * Invariants: text results are written into the caller's buffer, so a
 * value stays valid until that buffer is reused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cdc.h"
#include "query_int.h"

static srv_val text_val(char *buf, size_t cap, const char *s)
{
    snprintf(buf, cap, "%s", s);
    return sv_str(buf, strlen(buf));
}

/* OBJECT_ID('[db.][schema.]name') for user tables. */
static int32_t object_id_of(srv_cursor *cur, const char *text, size_t n)
{
    char parts[3][SRV_NAME_MAX] = { "", "", "" };
    int np = 0;
    size_t i = 0;
    while (i <= n && np < 3) {
        char *o = parts[np];
        size_t k = 0;
        if (i < n && text[i] == '[') {
            i++;
            while (i < n && text[i] != ']' && k + 1 < SRV_NAME_MAX)
                o[k++] = text[i++];
            i++;
        } else if (i < n && text[i] == '"') {
            i++;
            while (i < n && text[i] != '"' && k + 1 < SRV_NAME_MAX)
                o[k++] = text[i++];
            i++;
        } else {
            while (i < n && text[i] != '.' && k + 1 < SRV_NAME_MAX)
                o[k++] = text[i++];
        }
        o[k] = 0;
        np++;
        if (i < n && text[i] == '.')
            i++;
        else
            break;
    }
    const char *dbn = np == 3 ? parts[0] : "";
    const char *sch = np >= 2 ? parts[np - 2] : "dbo";
    const char *tn = parts[np - 1];
    srv_database *d = dbn[0] ? srv_db_find(cur->c->db, dbn) : cur->c->cur;
    if (!d)
        return 0;
    srv_table *t = srv_table_find(d, sch[0] ? sch : "dbo", tn);
    return t ? t->object_id : 0;
}

static srv_table *table_by_id(srv_cursor *cur, int64_t id)
{
    srv_database *d = cur->c->cur;
    for (size_t i = 0; i < d->ntables; i++)
        if (d->tables[i]->object_id == id)
            return d->tables[i];
    return NULL;
}

static srv_val now_val(bool utc)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t t = ts.tv_sec;
    struct tm tmv;
    if (utc)
        gmtime_r(&t, &tmv);
    else
        localtime_r(&t, &tmv);
    srv_val v = { .k = SV_DT };
    int64_t y = tmv.tm_year + 1900;
    unsigned m = (unsigned)tmv.tm_mon + 1, d = (unsigned)tmv.tm_mday;
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    uint64_t yoe = (uint64_t)(yy - era * 400);
    uint64_t doy = (153 * (uint64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    v.dt.days = (int32_t)(era * 146097 + (int64_t)doe - 306);
    v.dt.ticks = ((uint64_t)tmv.tm_hour * 3600 + (uint64_t)tmv.tm_min * 60 + (uint64_t)tmv.tm_sec) * 10000000ULL +
                 (uint64_t)ts.tv_nsec / 100;
    v.dt.kind = TDS_K_DATETIME2;
    v.dt.scale = 7;
    return v;
}

#define FAIL(num, ...) do { *err = (num); snprintf(msg, msgcap, __VA_ARGS__); return -1; } while (0)

#define EVAL_OUT srv_val *out, char *buf, size_t cap, int32_t *err, char *msg, size_t msgcap

/* -e: numbers change sign; NULL stays NULL. */
static int eval_neg(srv_cursor *cur, const sql_expr *e, EVAL_OUT)
{
    if (eval_const(cur, e->args[0], out, buf, cap, err, msg, msgcap) < 0)
        return -1;
    if (out->k == SV_INT) out->i = -out->i;
    else if (out->k == SV_FLOAT) out->f = -out->f;
    else if (out->k == SV_DEC) out->d.negative = !out->d.negative;
    else if (out->k != SV_NULL)
        FAIL(8117, "Operand data type nvarchar is invalid for minus operator.");
    return 0;
}

/* @@VERSION and the other @@ names. */
static int eval_sysvar(const srv_conn *c, const sql_expr *e, EVAL_OUT)
{
    const char *v = e->parts[0] + 2;
    if (srv_ieq(v, "version")) { *out = text_val(buf, cap, c->db->version_text); return 0; }
    if (srv_ieq(v, "spid")) { *out = sv_int(c->spid); return 0; }
    if (srv_ieq(v, "trancount")) { *out = sv_int(c->trancount); return 0; }
    if (srv_ieq(v, "rowcount")) { *out = sv_int(c->rowcount); return 0; }
    if (srv_ieq(v, "servername")) { *out = text_val(buf, cap, c->db->server_name); return 0; }
    if (srv_ieq(v, "servicename")) { *out = text_val(buf, cap, "MSSQLSERVER"); return 0; }
    if (srv_ieq(v, "language")) { *out = text_val(buf, cap, "us_english"); return 0; }
    if (srv_ieq(v, "max_precision")) { *out = sv_int(38); return 0; }
    if (srv_ieq(v, "textsize")) { *out = sv_int(2147483647); return 0; }
    if (srv_ieq(v, "error")) { *out = sv_int(0); return 0; }
    if (srv_ieq(v, "microsoftversion")) { *out = sv_int((int64_t)(c->db->settings.version & 0xFFFF) | ((int64_t)(c->db->settings.version >> 24) << 24)); return 0; }
    FAIL(137, "Must declare the scalar variable \"%s\".", e->parts[0]);
}

/* CAST/CONVERT: through the target type's wire image, so the value is
 * exactly what a column of that type would hold. */
static int eval_cast(srv_cursor *cur, const sql_expr *e, EVAL_OUT)
{
    srv_val in;
    char tmp[512];
    if ((e->cast.col.kind == TDS_K_JSON || e->cast.col.kind == TDS_K_VECTOR) && !srv_t25_known(cur->c))
        FAIL(243, "Type %s is not a defined system type.", e->cast.type_name);
    if (eval_const(cur, e->args[0], &in, tmp, sizeof tmp, err, msg, msgcap) < 0)
        return -1;
    if (in.k == SV_NULL)
        return 0;
    uint8_t wire[1024];
    int64_t n = sv_to_wire(&e->cast, &in, wire, sizeof wire);
    if (n == -2628 && (e->cast.col.kind == TDS_K_CHAR || e->cast.col.kind == TDS_K_NCHAR)) {
        /* CAST truncates strings silently */
        srv_val t = in;
        if (t.k == SV_STR && e->cast.char_len > 0 && t.n > (size_t)e->cast.char_len)
            t.n = (size_t)e->cast.char_len;
        n = sv_to_wire(&e->cast, &t, wire, sizeof wire);
    }
    if (n < 0 && n != (int64_t)SRV_NULL_LEN) {
        char t[128];
        sv_text(&in, t, sizeof t);
        FAIL(245, "Conversion failed when converting the value '%s' to data type %s.", t, e->cast.type_name);
    }
    if (sv_from_wire(&e->cast.col, wire, (uint32_t)n, out, buf, cap) < 0)
        FAIL(245, "Conversion failed.");
    if (out->k == SV_BIN) {
        /* out->s points into wire: copy into buf */
        size_t m = out->n < cap ? out->n : cap;
        memcpy(buf, out->s, m);
        out->s = buf;
        out->n = m;
    }
    return 0;
}

/* DB_NAME, DB_ID, SCHEMA_NAME, SCHEMA_ID, USER_NAME and friends,
 * OBJECT_ID, OBJECT_NAME. Returns 1 when f is one of them (out is the
 * answer or NULL), else 0. */
static int func_catalog(srv_cursor *cur, const char *f, const sql_expr *e, const srv_val *a,
                        srv_val *out, char *buf, size_t cap)
{
    srv_conn *c = cur->c;
    if (srv_ieq(f, "db_name")) {
        if (e->nargs == 0) { *out = text_val(buf, cap, c->cur->name); return 1; }
        for (size_t i = 0; i < c->db->ndbs; i++)
            if (a[0].k == SV_INT && c->db->dbs[i]->id == a[0].i) { *out = text_val(buf, cap, c->db->dbs[i]->name); return 1; }
        return 1;
    }
    if (srv_ieq(f, "db_id")) {
        if (e->nargs == 0) { *out = sv_int(c->cur->id); return 1; }
        if (a[0].k == SV_STR) {
            char nm[SRV_NAME_MAX];
            snprintf(nm, sizeof nm, "%.*s", (int)a[0].n, a[0].s);
            srv_database *d = srv_db_find(c->db, nm);
            if (d) *out = sv_int(d->id);
        }
        return 1;
    }
    if (srv_ieq(f, "schema_name")) {
        if (e->nargs == 0) { *out = text_val(buf, cap, "dbo"); return 1; }
        if (a[0].k == SV_INT) {
            if (a[0].i == 4) *out = text_val(buf, cap, "sys");
            else if (a[0].i == 3) *out = text_val(buf, cap, "INFORMATION_SCHEMA");
            else
                for (size_t i = 0; i < c->cur->nschemas; i++)
                    if (srv_schema_id(c->cur, c->cur->schemas[i]) == a[0].i)
                        *out = text_val(buf, cap, c->cur->schemas[i]);
        }
        return 1;
    }
    if (srv_ieq(f, "schema_id")) {
        if (e->nargs == 0) { *out = sv_int(1); return 1; }
        if (a[0].k == SV_STR) {
            char nm[SRV_NAME_MAX];
            snprintf(nm, sizeof nm, "%.*s", (int)a[0].n, a[0].s);
            int32_t id = srv_schema_id(c->cur, nm);
            if (id) *out = sv_int(id);
        }
        return 1;
    }
    if (srv_ieq(f, "user_name") || srv_ieq(f, "current_user") || srv_ieq(f, "suser_sname") || srv_ieq(f, "suser_name") || srv_ieq(f, "system_user")) {
        *out = text_val(buf, cap, "dbo");
        return 1;
    }
    if (srv_ieq(f, "object_id")) {
        if (a[0].k == SV_STR) {
            int32_t id = object_id_of(cur, a[0].s, a[0].n);
            if (id) *out = sv_int(id);
        }
        return 1;
    }
    if (srv_ieq(f, "object_name")) {
        srv_table *t = a[0].k == SV_INT ? table_by_id(cur, a[0].i) : NULL;
        if (t) *out = text_val(buf, cap, t->name);
        return 1;
    }
    return 0;
}

/* SERVERPROPERTY('…'): NULL for properties it does not know. */
static void func_serverproperty(const srv_conn *c, const srv_val *a, srv_val *out, char *buf, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "%.*s", a[0].k == SV_STR ? (int)a[0].n : 0, a[0].s ? a[0].s : "");
    uint32_t v = c->db->settings.version;
    char t[64];
    if (srv_ieq(key, "ProductVersion")) { snprintf(t, sizeof t, "%u.%u.%u.5", v >> 24, (v >> 16) & 0xFF, v & 0xFFFF); *out = text_val(buf, cap, t); }
    else if (srv_ieq(key, "ProductMajorVersion")) { snprintf(t, sizeof t, "%u", v >> 24); *out = text_val(buf, cap, t); }
    else if (srv_ieq(key, "ProductLevel")) *out = text_val(buf, cap, "RTM");
    else if (srv_ieq(key, "Edition")) *out = text_val(buf, cap, "Developer Edition (64-bit)");
    else if (srv_ieq(key, "EngineEdition")) *out = sv_int(3);
    else if (srv_ieq(key, "ServerName") || srv_ieq(key, "MachineName")) *out = text_val(buf, cap, c->db->server_name);
    else if (srv_ieq(key, "Collation")) *out = text_val(buf, cap, "SQL_Latin1_General_CP1_CI_AS");
    else if (srv_ieq(key, "IsHadrEnabled") || srv_ieq(key, "IsClustered")) *out = sv_int(0);
}

/* Change Tracking versions, the clock, ISNULL/COALESCE, LEN. Returns 1
 * when f is one of them, else 0. */
static int func_value(srv_cursor *cur, const char *f, const sql_expr *e, const srv_val *a,
                      srv_val *out, char *buf, size_t cap)
{
    srv_conn *c = cur->c;
    if (srv_ieq(f, "change_tracking_current_version")) {
        if (c->cur->ct_enabled) *out = sv_int((int64_t)c->cur->ct_version);
        return 1;
    }
    if (srv_ieq(f, "change_tracking_min_valid_version")) {
        srv_table *t = a[0].k == SV_INT ? table_by_id(cur, a[0].i) : NULL;
        if (t && t->ct_enabled && c->cur->ct_enabled) *out = sv_int(ct_min_valid(t));
        return 1;
    }
    if (srv_ieq(f, "getdate") || srv_ieq(f, "sysdatetime") || srv_ieq(f, "current_timestamp")) { *out = now_val(false); return 1; }
    if (srv_ieq(f, "getutcdate") || srv_ieq(f, "sysutcdatetime")) { *out = now_val(true); return 1; }
    if (srv_ieq(f, "isnull") || srv_ieq(f, "coalesce")) {
        for (int i = 0; i < e->nargs; i++)
            if (a[i].k != SV_NULL) {
                *out = a[i];
                if (out->k == SV_STR) {
                    *out = text_val(buf, cap, "");
                    snprintf(buf, cap, "%.*s", (int)a[i].n, a[i].s);
                    out->n = strlen(buf);
                }
                return 1;
            }
        return 1;
    }
    if (srv_ieq(f, "len") && e->nargs == 1) {
        if (a[0].k == SV_STR) {
            size_t n = a[0].n;
            while (n && a[0].s[n - 1] == ' ') n--;
            *out = sv_int((int64_t)n);
        }
        return 1;
    }
    return 0;
}

/* A built-in function call: the arguments first, then the function. */
static int eval_func(srv_cursor *cur, const sql_expr *e, EVAL_OUT)
{
    const char *f = e->parts[0];
    srv_val a[4];
    char abuf[4][256];
    for (int i = 0; i < e->nargs; i++)
        if (eval_const(cur, e->args[i], &a[i], abuf[i], sizeof abuf[i], err, msg, msgcap) < 0)
            return -1;
    int rc;
    if (srv_cdc_func(cur, e, a, out, buf, cap, err, msg, msgcap, &rc))
        return rc;
    if (e->parts[1][0])
        FAIL(4121, "Cannot find either column \"%s\" or the user-defined function or aggregate \"%s.%s\", or the name is ambiguous.",
             e->parts[1], e->parts[1], f);
    if (func_catalog(cur, f, e, a, out, buf, cap) || func_value(cur, f, e, a, out, buf, cap))
        return 0;
    if (srv_ieq(f, "serverproperty")) {
        func_serverproperty(cur->c, a, out, buf, cap);
        return 0;
    }
    if (srv_ieq(f, "count") || srv_ieq(f, "count_big") || srv_ieq(f, "min") || srv_ieq(f, "max"))
        FAIL(147, "An aggregate may not appear in the WHERE clause unless it is in a subquery contained in a HAVING clause or a select list, and the column being aggregated is an outer reference.");
    FAIL(195, "'%s' is not a recognized built-in function name.", f);
}

int eval_const(srv_cursor *cur, const sql_expr *e, srv_val *out, char *buf, size_t cap,
               int32_t *err, char *msg, size_t msgcap)
{
    *out = sv_null();
    switch (e->t) {
    case EX_LIT:
        *out = e->lit;
        if (out->k == SV_STR)
            out->i = 0;
        return 0;
    case EX_NEG:
        return eval_neg(cur, e, out, buf, cap, err, msg, msgcap);
    case EX_VAR:
        for (int i = 0; i < cur->nparams; i++)
            if (srv_ieq(cur->params[i].name, e->parts[0])) {
                *out = cur->params[i].v;
                return 0;
            }
        FAIL(137, "Must declare the scalar variable \"%s\".", e->parts[0]);
    case EX_SYSVAR:
        return eval_sysvar(cur->c, e, out, buf, cap, err, msg, msgcap);
    case EX_CAST:
        return eval_cast(cur, e, out, buf, cap, err, msg, msgcap);
    case EX_FUNC:
        return eval_func(cur, e, out, buf, cap, err, msg, msgcap);
    case EX_COL:
        if (cur->col_eval && e->src >= 0)
            return cur->col_eval(cur->col_ctx, e, out, buf, cap);
        FAIL(207, "Invalid column name '%s'.", e->parts[e->nparts - 1]);
    default:
        FAIL(102, "Incorrect syntax near '*'.");
    }
}

void expr_coldef(const sql_expr *e, const srv_val *v, srv_coldef *out)
{
    memset(out, 0, sizeof *out);
    const char *type = "int";
    char tbuf[48];
    if (e->t == EX_CAST) {
        *out = e->cast;
        out->name[0] = 0;
        srv_coldef_fix(out);
        return;
    }
    if (srv_cdc_func_type(e))
        type = srv_cdc_func_type(e);
    else if (e->t == EX_SYSVAR && srv_ieq(e->parts[0], "@@version"))
        type = "nvarchar(300)";
    else if (e->t == EX_SYSVAR && srv_ieq(e->parts[0], "@@spid"))
        type = "smallint";
    else if (e->t == EX_FUNC && (srv_ieq(e->parts[0], "change_tracking_current_version") ||
                                 srv_ieq(e->parts[0], "change_tracking_min_valid_version") ||
                                 srv_ieq(e->parts[0], "count_big")))
        type = "bigint";
    else if (e->t == EX_FUNC && (srv_ieq(e->parts[0], "object_id") || srv_ieq(e->parts[0], "db_id") ||
                                 srv_ieq(e->parts[0], "count") || srv_ieq(e->parts[0], "schema_id")))
        type = "int";
    else if (e->t == EX_FUNC && (srv_ieq(e->parts[0], "db_name") || srv_ieq(e->parts[0], "schema_name") ||
                                 srv_ieq(e->parts[0], "object_name") || srv_ieq(e->parts[0], "user_name") ||
                                 srv_ieq(e->parts[0], "suser_sname")))
        type = "nvarchar(128)";
    else if (e->t == EX_FUNC && srv_ieq(e->parts[0], "serverproperty"))
        type = "sql_variant";
    else if (e->t == EX_FUNC && (srv_ieq(e->parts[0], "getdate") || srv_ieq(e->parts[0], "getutcdate") ||
                                 srv_ieq(e->parts[0], "current_timestamp")))
        type = "datetime";
    else if (e->t == EX_FUNC && (srv_ieq(e->parts[0], "sysdatetime") || srv_ieq(e->parts[0], "sysutcdatetime")))
        type = "datetime2(7)";
    else {
        switch (v->k) {
        case SV_INT: type = v->i < INT32_MIN || v->i > INT32_MAX ? "bigint" : "int"; break;
        case SV_FLOAT: type = "float"; break;
        case SV_DEC:
            snprintf(tbuf, sizeof tbuf, "numeric(%u,%u)", v->d.precision < 1 ? 1 : v->d.precision, v->d.scale);
            type = tbuf;
            break;
        case SV_STR: {
            size_t n = v->n ? v->n : 1;
            if (e->t == EX_LIT && !e->lit.i && n <= 8000)
                snprintf(tbuf, sizeof tbuf, "varchar(%zu)", n);
            else
                snprintf(tbuf, sizeof tbuf, n > 4000 ? "nvarchar(max)" : "nvarchar(%zu)", n);
            type = tbuf;
            break;
        }
        case SV_BIN: snprintf(tbuf, sizeof tbuf, v->n > 8000 ? "varbinary(max)" : "varbinary(%zu)", v->n ? v->n : 1); type = tbuf; break;
        case SV_DT: type = "datetime2(7)"; break;
        case SV_GUID: type = "uniqueidentifier"; break;
        default: type = "int"; break;
        }
    }
    srv_type_parse(type, out);
    srv_gen_defaults(out);
    srv_coldef_fix(out);
}
