/*
 * registry.c — the list of destinations and the public entry points that
 * dispatch to them (URI scheme lookup, call-order checks, error text).
 *
 * Adding a destination: write sink/NAME.c exporting
 * `const sink_vtable sink_NAME_vtable`, add one X(NAME) line below
 * (sink/README.md works one through; a SQL database fills a sink_dialect
 * and gets every strategy from the SQL core).
 */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <strings.h>

#include "sink_int.h"
#include "tds_ascii.h"

#define SINK_LIST(X) \
    X(csv)           \
    X(jsonl)         \
    X(sqlite)        \
    X(postgres)      \
    X(duckdb)        \
    X(parquet)       \
    X(mssql)         \
    X(azuresql)      \
    X(discard)

#define SINK_DECLARE(n) extern const sink_vtable sink_##n##_vtable;
SINK_LIST(SINK_DECLARE)
#define SINK_ENTRY(n) &sink_##n##_vtable,
static const sink_vtable *const registry[] = { SINK_LIST(SINK_ENTRY) NULL };

const sink_vtable *const *sink_registry(void) { return registry; }

const sink_vtable *sink_find(const char *scheme, size_t len)
{
    for (size_t i = 0; registry[i]; i++) {
        const sink_vtable *vt = registry[i];
        if (strlen(vt->scheme) == len && tds_ascii_ncasecmp(vt->scheme, scheme, len) == 0)
            return vt;
        if (vt->alias && strlen(vt->alias) == len && tds_ascii_ncasecmp(vt->alias, scheme, len) == 0)
            return vt;
    }
    return NULL;
}

const char *sink_strerror(int err)
{
    switch (err) {
    case SINK_OK: return "ok";
    case SINK_E_NOMEM: return "out of memory";
    case SINK_E_ARG: return "bad argument";
    case SINK_E_URI: return "bad destination URI";
    case SINK_E_UNSUPPORTED: return "not supported by this destination";
    case SINK_E_IO: return "file system error";
    case SINK_E_DEST: return "destination error";
    case SINK_E_VALUE: return "value not representable in the destination";
    case SINK_E_LIB: return "run-time library missing";
    case SINK_E_SCHEMA: return "the load breaks the table's schema contract";
    default: return "unknown error";
    }
}

int sink_strategy_parse(const char *s, sink_strategy *out)
{
    static const char *const names[] = { "replace", "append", "merge", "delete+insert" };
    if (!s || !out)
        return SINK_E_ARG;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (sink_strategy)i;
            return SINK_OK;
        }
    return SINK_E_ARG;
}

const char *sink_strategy_name(sink_strategy s)
{
    switch (s) {
    case SINK_REPLACE: return "replace";
    case SINK_APPEND: return "append";
    case SINK_MERGE: return "merge";
    case SINK_DELETE_INSERT: return "delete+insert";
    }
    return "unknown";
}

int sink__errf(char *err, size_t cap, int code, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
        /* one line: a URI's own text quoted in the message may hold any byte */
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    }
    return code;
}

int sink__fail(sink *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    /* One line: a database's multi-line message keeps its first line. */
    char *nl = strpbrk(s->err, "\r\n");
    if (nl)
        *nl = '\0';
    return code;
}

int sink_open(const char *uri, const sink_options *opts, sink **out, char *err, size_t errcap)
{
    static const sink_options zero;
    if (err && errcap)
        err[0] = '\0';
    if (!uri || !out)
        return sink__errf(err, errcap, SINK_E_ARG, "no destination URI");
    *out = NULL;
    const char *colon = strstr(uri, "://");
    if (!colon)
        return sink__errf(err, errcap, SINK_E_URI, "destination URI has no scheme:// part");
    const sink_vtable *vt = sink_find(uri, (size_t)(colon - uri));
    if (!vt)
        return sink__errf(err, errcap, SINK_E_URI, "unknown destination scheme '%.*s'",
                          (int)(colon - uri > 32 ? 32 : colon - uri), uri);
    sink *s = NULL;
    int rc = vt->open(colon + 3, opts ? opts : &zero, &s, err, errcap);
    if (rc)
        return rc;
    s->vt = vt;
    s->state = SINK__IDLE;
    s->err[0] = '\0';
    memset(&s->pending, 0, sizeof s->pending);
    *out = s;
    return SINK_OK;
}

static int check_table(sink *s, const sink_table *t)
{
    if (!t || !t->name || !*t->name || !t->cols || !t->ncols)
        return sink__fail(s, SINK_E_ARG, "no table name or no columns");
    if (t->npk && !t->pk)
        return sink__fail(s, SINK_E_ARG, "primary key count without indices");
    for (size_t i = 0; i < t->npk; i++)
        if (t->pk[i] >= t->ncols)
            return sink__fail(s, SINK_E_ARG, "primary key index out of range");
    if (t->incremental_key >= (int)t->ncols)
        return sink__fail(s, SINK_E_ARG, "incremental key index out of range");
    if (t->strategy == SINK_MERGE && !t->npk)
        return sink__fail(s, SINK_E_UNSUPPORTED, "merge needs a primary key");
    if (t->cdc) {
        /* the Change Tracking merge compares these two by name */
        int have = 0;
        for (size_t i = 0; i < t->ncols; i++) {
            const char *n = t->names && t->names[i] ? t->names[i] : t->cols[i].name.ptr;
            have |= n && !strcmp(n, "_cdc_lsn") ? 1 : n && !strcmp(n, "_cdc_deleted") ? 2 : 0;
        }
        if (t->strategy != SINK_MERGE || have != 3)
            return sink__fail(s, SINK_E_ARG, "a Change Tracking load needs merge and the columns _cdc_lsn and _cdc_deleted");
    }
    if (t->merge_predicate && *t->merge_predicate && (t->strategy != SINK_MERGE || t->cdc))
        return sink__fail(s, SINK_E_ARG, "a merge predicate needs the merge strategy and no Change Tracking");
    if (t->strategy == SINK_DELETE_INSERT && t->incremental_key < 0)
        return sink__fail(s, SINK_E_UNSUPPORTED, "delete+insert needs an incremental key");
    return SINK_OK;
}

int sink_begin(sink *s, const sink_table *t)
{
    if (!s)
        return SINK_E_ARG;
    if (s->state == SINK__LOADING)
        return sink__fail(s, SINK_E_ARG, "a load is already in progress");
    s->err[0] = '\0';
    int rc = check_table(s, t);
    if (rc)
        return rc;
    s->pending.len = 0;
    rc = s->vt->begin(s, t);
    if (rc) {
        s->vt->abort(s);
        s->state = SINK__FAILED;
        return rc;
    }
    s->state = SINK__LOADING;
    return SINK_OK;
}

int sink_append(sink *s, const sink_batch *b)
{
    if (!s || !b)
        return SINK_E_ARG;
    if (s->state != SINK__LOADING)
        return sink__fail(s, SINK_E_ARG, s->state == SINK__FAILED ? "the load already failed"
                                                                   : "append before begin");
    if (!b->nrows)
        return SINK_OK;
    if (!b->values)
        return sink__fail(s, SINK_E_ARG, "batch without values");
    int rc = s->vt->append(s, b);
    if (rc) {
        s->vt->abort(s);
        s->state = SINK__FAILED;
    }
    return rc;
}

int sink_commit(sink *s)
{
    if (!s)
        return SINK_E_ARG;
    if (s->state != SINK__LOADING)
        return sink__fail(s, SINK_E_ARG, s->state == SINK__FAILED ? "the load already failed"
                                                                   : "commit before begin");
    int rc = s->vt->commit(s);
    if (rc) {
        s->vt->abort(s);
        s->state = SINK__FAILED;
        return rc;
    }
    s->state = SINK__IDLE;
    return SINK_OK;
}

void sink_abort(sink *s)
{
    if (!s)
        return;
    if (s->state == SINK__LOADING)
        s->vt->abort(s);
    s->state = SINK__IDLE;
    s->pending.len = 0;
}

void sink_close(sink *s)
{
    if (!s)
        return;
    sink_abort(s);
    free(s->pending.p);
    s->vt->close(s);
}

const char *sink_errmsg(const sink *s) { return s ? s->err : "no sink"; }
const char *sink_name(const sink *s) { return s ? s->vt->scheme : "none"; }

static int ident_into(char *o, size_t cap, const char *name)
{
    size_t n = 0;
    if (cap < 3)
        return SINK_E_ARG;
    o[n++] = '"';
    for (const char *p = name; *p; p++) {
        if (n + 4 > cap)
            return SINK_E_ARG;
        if (*p == '"')
            o[n++] = '"';
        o[n++] = *p;
    }
    o[n++] = '"';
    o[n] = '\0';
    return SINK_OK;
}

int sink_max_value(sink *s, const char *table, const char *column, char *out, size_t cap, bool *found)
{
    if (!s || !table || !column || !out || !cap || !found)
        return SINK_E_ARG;
    *found = false;
    out[0] = '\0';
    if (s->state == SINK__LOADING)
        return sink__fail(s, SINK_E_ARG, "max_value during a load");
    if (!s->vt->lookup)
        return sink__fail(s, SINK_E_UNSUPPORTED, "%s destinations keep no incremental state", s->vt->scheme);
    s->err[0] = '\0';
    char expr[600];
    memcpy(expr, "MAX(", 4);
    if (ident_into(expr + 4, sizeof expr - 6, column))
        return sink__fail(s, SINK_E_ARG, "column name too long");
    strcat(expr, ")");
    int rc = s->vt->lookup(s, table, expr, NULL, out, cap, found);
    if (rc || !*found)
        return rc;
    /* timestamptz prints "…+00" (UTC): spell the offset " +00:00" as
     * tds_datetime_parse and the canonical text do */
    size_t n = strlen(out);
    if (n > 9 && (out[n - 3] == '+' || out[n - 3] == '-') && out[n - 6] == ':' && strchr(out, ' ') &&
        isdigit((unsigned char)out[n - 1]) && isdigit((unsigned char)out[n - 2]) &&
        isdigit((unsigned char)out[n - 4]) && isdigit((unsigned char)out[n - 5])) {
        if (n + 4 >= cap)
            return sink__fail(s, SINK_E_ARG, "max value longer than the buffer");
        char sign = out[n - 3], h1 = out[n - 2], h2 = out[n - 1];
        snprintf(out + n - 3, cap - (n - 3), " %c%c%c:00", sign, h1, h2);
    }
    return SINK_OK;
}

int sink_state_set(sink *s, const char *name, const char *value)
{
    if (!s || !name || !*name || !value)
        return SINK_E_ARG;
    if (s->state != SINK__LOADING)
        return sink__fail(s, SINK_E_ARG, "state is written inside a load");
    if (!s->vt->lookup)
        return sink__fail(s, SINK_E_UNSUPPORTED, "%s destinations keep no state", s->vt->scheme);
    size_t a = strlen(name) + 1, b = strlen(value) + 1;
    sink_kv *kv = &s->pending;
    if (kv->cap - kv->len < a + b) {
        size_t cap = kv->cap ? kv->cap : 256;
        while (cap - kv->len < a + b)
            cap *= 2;
        char *p = sink__realloc(kv->p, cap);
        if (!p)
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
        kv->p = p;
        kv->cap = cap;
    }
    memcpy(kv->p + kv->len, name, a);
    memcpy(kv->p + kv->len + a, value, b);
    kv->len += a + b;
    return SINK_OK;
}

int sink_state_get(sink *s, const char *name, char *out, size_t cap, bool *found)
{
    if (!s || !name || !out || !cap || !found)
        return SINK_E_ARG;
    *found = false;
    out[0] = '\0';
    if (s->state == SINK__LOADING)
        return sink__fail(s, SINK_E_ARG, "state_get during a load");
    if (!s->vt->lookup)
        return sink__fail(s, SINK_E_UNSUPPORTED, "%s destinations keep no state", s->vt->scheme);
    s->err[0] = '\0';
    char where[600];
    size_t n = 0;
    n += (size_t)snprintf(where, sizeof where, "\"name\" = '");
    for (const char *p = name; *p; p++) {
        if (n + 4 > sizeof where)
            return sink__fail(s, SINK_E_ARG, "state name too long");
        if (*p == '\'')
            where[n++] = '\'';
        where[n++] = *p;
    }
    where[n++] = '\'';
    where[n] = '\0';
    /* the last one written wins (sink_state_set appends) */
    return s->vt->lookup(s, SINK__STATE_TABLE, "\"value\"", where, out, cap, found);
}
