/*
 * scenario.c — loads a JSON scenario (README.md, "Scenario format") into
 * an srv_db: server settings, logins, databases with schemas and tables
 * (generated or with inline data), scripted rules and default faults; the
 * login check; database/schema/table lookup.
 *
 * Invariants: every name is copied into fixed sysname-sized buffers; the
 * cJSON tree is freed after loading except each rule's result spec (kept
 * as a detached cJSON subtree, freed with the db).
 */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cdc.h"
#include "query_int.h"

struct srv_rule {
    regex_t re;
    bool has_re;
    char rpc[SRV_NAME_MAX];
    int times;          /* 0: unlimited */
    int used;
    cJSON *spec;
};

/* ------------------------------------------------------------ lookup */

srv_database *srv_db_find(srv_db *db, const char *name)
{
    for (size_t i = 0; i < db->ndbs; i++)
        if (srv_ieq(db->dbs[i]->name, name))
            return db->dbs[i];
    return NULL;
}

srv_database *srv_database_new(srv_db *db, const char *name)
{
    srv_database **n = realloc(db->dbs, (db->ndbs + 1) * sizeof *n);
    if (!n)
        return NULL;
    db->dbs = n;
    srv_database *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->id = srv_ieq(name, "master") ? 1 : (int32_t)(5 + db->ndbs);
    d->ct_retention = 2;
    d->ct_auto_cleanup = true;
    db->dbs[db->ndbs++] = d;
    srv_schema_add(d, "dbo");
    return d;
}

bool srv_schema_exists(const srv_database *d, const char *schema)
{
    for (size_t i = 0; i < d->nschemas; i++)
        if (srv_ieq(d->schemas[i], schema))
            return true;
    return srv_ieq(schema, "sys") || srv_ieq(schema, "INFORMATION_SCHEMA");
}

int32_t srv_schema_id(const srv_database *d, const char *schema)
{
    for (size_t i = 0; i < d->nschemas; i++)
        if (srv_ieq(d->schemas[i], schema))
            return i == 0 ? 1 : (int32_t)(4 + i); /* dbo is 1; user schemas from 5 */
    return srv_ieq(schema, "sys") ? 4 : srv_ieq(schema, "INFORMATION_SCHEMA") ? 3 : 0;
}

int srv_schema_add(srv_database *d, const char *schema)
{
    if (srv_schema_exists(d, schema))
        return 0;
    char(*n)[SRV_NAME_MAX] = realloc(d->schemas, (d->nschemas + 1) * sizeof *n);
    if (!n)
        return -1;
    d->schemas = n;
    snprintf(d->schemas[d->nschemas++], SRV_NAME_MAX, "%s", schema);
    return 0;
}

srv_table *srv_table_find(srv_database *d, const char *schema, const char *name)
{
    for (size_t i = 0; i < d->ntables; i++)
        if (srv_ieq(d->tables[i]->name, name) && srv_ieq(d->tables[i]->schema, schema && *schema ? schema : "dbo"))
            return d->tables[i];
    return NULL;
}

int srv_database_add_table(srv_db *db, srv_database *d, srv_table *t)
{
    srv_table **n = realloc(d->tables, (d->ntables + 1) * sizeof *n);
    if (!n)
        return -1;
    d->tables = n;
    d->tables[d->ntables++] = t;
    t->dbp = d;
    t->object_id = db->next_object_id;
    db->next_object_id += 16016;
    return 0;
}

void srv_database_drop_table(srv_database *d, srv_table *t)
{
    for (size_t i = 0; i < d->ntables; i++) {
        if (d->tables[i] == t) {
            memmove(&d->tables[i], &d->tables[i + 1], (d->ntables - i - 1) * sizeof *d->tables);
            d->ntables--;
            srv_cdc_table_dropped(d, t); /* its capture instances go with it */
            t->dbp = NULL;
            srv_table_unref(t);
            return;
        }
    }
}

/* ------------------------------------------------------------ JSON */

static const char *jstr(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static bool jbool(const cJSON *o, const char *k, bool def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : cJSON_IsNumber(v) ? v->valuedouble != 0 : def;
}

static int hex_digit(int c) { return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1; }

/* Integer text "-123" (all digits after an optional sign)? */
static bool is_int_text(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* JSON scalar → srv_val. Numbers that are integers become SV_INT; big
 * integers arrive as strings (json_quote_bigints) and are parsed exactly
 * for integer columns. "0x…" strings become binary for binary columns
 * (the bytes go into *bin, malloc'd, which the caller frees). */
static srv_val json_val(const cJSON *j, const srv_coldef *d, uint8_t **bin, bool *bad)
{
    if (!j || cJSON_IsNull(j))
        return sv_null();
    if (cJSON_IsBool(j))
        return sv_int(cJSON_IsTrue(j));
    if (cJSON_IsNumber(j)) {
        double f = j->valuedouble;
        if (f == (double)(int64_t)f && f > -9.2e18 && f < 9.2e18)
            return sv_int((int64_t)f);
        srv_val v = { .k = SV_FLOAT, .f = f };
        return v;
    }
    if (!cJSON_IsString(j)) {
        *bad = true; /* arrays and objects are no values */
        return sv_null();
    }
    const char *s = j->valuestring;
    switch (d->col.kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT:
        if (is_int_text(s)) {
            errno = 0;
            long long v = strtoll(s, NULL, 10);
            if (errno == ERANGE) {
                *bad = true;
                return sv_null();
            }
            return sv_int((int64_t)v);
        }
        break;
    case TDS_K_BINARY:
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            size_t hl = strlen(s + 2);
            if (hl % 2) {
                *bad = true;
                return sv_null();
            }
            *bin = malloc(hl / 2 + 1);
            if (!*bin) {
                *bad = true;
                return sv_null();
            }
            size_t n = 0;
            for (const char *p = s + 2; p[0] && p[1]; p += 2) {
                int hi = hex_digit((unsigned char)p[0]), lo = hex_digit((unsigned char)p[1]);
                if (hi < 0 || lo < 0) {
                    *bad = true;
                    return sv_null();
                }
                (*bin)[n++] = (uint8_t)(hi * 16 + lo);
            }
            srv_val v = { .k = SV_BIN, .s = (const char *)*bin, .n = n };
            return v;
        }
        break;
    default:
        break;
    }
    return sv_str(s, strlen(s));
}

/* Integer parameter: a JSON number, or a string of digits for values
 * beyond 2^53 (json_quote_bigints turns long integer literals into those). */
static int64_t jint(const cJSON *o, const char *k, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsString(v) && is_int_text(v->valuestring))
        return (int64_t)strtoll(v->valuestring, NULL, 10);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

/* cJSON keeps numbers as doubles, which cannot hold every bigint. Before
 * parsing, integer literals of 16 or more digits are wrapped in quotes so
 * they reach json_val/jint as text and are parsed exactly. Returns a new
 * malloc'd text or NULL. */
static char *json_quote_bigints(const char *in, size_t len)
{
    size_t extra = 0;
    for (size_t i = 0; i < len; i++)
        if (in[i] == '-' || isdigit((unsigned char)in[i]))
            extra++;
    char *out = malloc(len + extra * 2 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool instr = false;
    for (size_t i = 0; i < len;) {
        char ch = in[i];
        if (instr) {
            out[o++] = ch;
            if (ch == '\\' && i + 1 < len) {
                out[o++] = in[i + 1];
                i += 2;
                continue;
            }
            if (ch == '"')
                instr = false;
            i++;
            continue;
        }
        if (ch == '"') {
            instr = true;
            out[o++] = ch;
            i++;
            continue;
        }
        if (ch == '-' || isdigit((unsigned char)ch)) {
            size_t e = i + (ch == '-');
            while (e < len && isdigit((unsigned char)in[e]))
                e++;
            bool integer = e >= len || !(in[e] == '.' || in[e] == 'e' || in[e] == 'E');
            size_t digits = e - i - (ch == '-');
            if (integer && digits >= 16) {
                out[o++] = '"';
                memcpy(out + o, in + i, e - i);
                o += e - i;
                out[o++] = '"';
            } else {
                while (e < len && (isdigit((unsigned char)in[e]) || in[e] == '.' || in[e] == 'e' ||
                                   in[e] == 'E' || in[e] == '+' || in[e] == '-'))
                    e++;
                memcpy(out + o, in + i, e - i);
                o += e - i;
            }
            i = e;
            continue;
        }
        out[o++] = ch;
        i++;
    }
    out[o] = 0;
    return out;
}

static int coldef_from_json(const cJSON *jc, srv_coldef *d, char *err, size_t cap)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", jstr(jc, "name", ""));
    const char *type = jstr(jc, "type", "");
    if (!d->name[0] || srv_type_parse(type, d) < 0) {
        snprintf(err, cap, "column '%s': bad type '%s'", d->name, type);
        return -1;
    }
    d->nullable = jbool(jc, "nullable", true);
    if (!d->nullable)
        d->col.flags &= (uint16_t)~TDS_COL_NULLABLE;
    srv_gen_defaults(d);
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(jc, "gen");
    if (g) {
        d->gen.start = jint(g, "start", 1);
        d->gen.step = jint(g, "step", 1);
        d->gen.modulo = jint(g, "modulo", 0);
        d->gen.null_every = (uint32_t)jnum(g, "null_every", 0);
        d->gen.width = (uint32_t)jnum(g, "width", 0);
        const char *p = jstr(g, "prefix", NULL);
        if (p) {
            snprintf(d->gen.prefix, sizeof d->gen.prefix, "%s", p);
            d->gen.has_prefix = true;
        }
    }
    srv_coldef_fix(d);
    return 0;
}

static uint64_t rows_override(const char *table, uint64_t rows)
{
    char var[200];
    snprintf(var, sizeof var, "TDSTESTD_ROWS_%s", table);
    for (char *p = var; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    const char *e = getenv(var);
    if (e && *e)
        return strtoull(e, NULL, 10);
    return rows;
}

srv_table *srv_table_from_json(srv_db *db, const void *jv, char *err, size_t cap)
{
    (void)db;
    const cJSON *jt = jv;
    const cJSON *jcols = cJSON_GetObjectItemCaseSensitive(jt, "columns");
    int n = cJSON_GetArraySize(jcols);
    if (n <= 0 || n > SRV_MAX_COLS) {
        snprintf(err, cap, "table '%s': needs 1..%d columns", jstr(jt, "name", "?"), SRV_MAX_COLS);
        return NULL;
    }
    srv_coldef *defs = calloc((size_t)n, sizeof *defs);
    if (!defs)
        return NULL;
    for (int i = 0; i < n; i++)
        if (coldef_from_json(cJSON_GetArrayItem(jcols, i), &defs[i], err, cap) < 0) {
            free(defs);
            return NULL;
        }
    srv_table *t = srv_table_new(jstr(jt, "schema", "dbo"), jstr(jt, "name", "result"), defs, (uint16_t)n);
    free(defs);
    if (!t)
        return NULL;
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(jt, "primary_key");
    cJSON *e;
    cJSON_ArrayForEach(e, pk) {
        int c = cJSON_IsString(e) ? srv_table_colno(t, e->valuestring) : -1;
        if (c < 0 || t->npk >= SRV_MAX_PK) {
            snprintf(err, cap, "table '%s': bad primary key column", t->name);
            srv_table_unref(t);
            return NULL;
        }
        t->pk[t->npk++] = c;
        t->cols[c].nullable = false;
        t->cols[c].col.flags &= (uint16_t)~TDS_COL_NULLABLE;
    }
    snprintf(t->pk_name, sizeof t->pk_name, "%s", jstr(jt, "pk_name", ""));
    if (t->npk && !t->pk_name[0])
        snprintf(t->pk_name, sizeof t->pk_name, "PK_%s", t->name);
    t->ct_enabled = jbool(jt, "change_tracking", false);
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(jt, "partition_function");
    if (pf && srv_partfn_from_json(t, pf, err, cap)) {
        srv_table_unref(t);
        return NULL;
    }
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(jt, "rows");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(jt, "data");
    if (cJSON_IsNumber(rows)) {
        t->generated = true;
        t->gen_rows = rows_override(t->name, (uint64_t)rows->valuedouble);
        if (jbool(jt, "materialize", false) || data || t->ct_enabled)
            if (srv_table_materialize(t) < 0) {
                snprintf(err, cap, "table '%s': out of memory", t->name);
                srv_table_unref(t);
                return NULL;
            }
    }
    cJSON *row;
    cJSON_ArrayForEach(row, data) {
        srv_val vals[SRV_MAX_COLS];
        uint8_t *bin[SRV_MAX_COLS] = { 0 };
        if (cJSON_GetArraySize(row) != n) {
            snprintf(err, cap, "table '%s': data row with %d values, expected %d", t->name, cJSON_GetArraySize(row), n);
            srv_table_unref(t);
            return NULL;
        }
        int badcol = -1;
        for (int c = 0; c < n; c++) {
            bool bad = false;
            vals[c] = json_val(cJSON_GetArrayItem(row, c), &t->cols[c], &bin[c], &bad);
            if (bad && badcol < 0)
                badcol = c;
        }
        uint64_t off;
        int rc = badcol >= 0 ? -(245 + 100000 * (badcol + 1)) : srv_table_insert_vals(t, vals, &off);
        for (int c = 0; c < n; c++)
            free(bin[c]);
        if (rc < 0 || srv_table_append(t, off) < 0) {
            int col = rc < -100000 ? (-rc) / 100000 - 1 : 0;
            snprintf(err, cap, "table '%s': row %d: value for column '%s' does not convert (error %d)",
                     t->name, cJSON_GetArraySize(data), t->cols[col].name, rc < -100000 ? (-rc) % 100000 : -rc);
            srv_table_unref(t);
            return NULL;
        }
    }
    return t;
}

static void faults_from_json(const cJSON *f, srv_faults *q, srv_wire_faults *w)
{
    if (!f)
        return;
    q->close_after_rows = (uint64_t)jnum(f, "close_after_rows", 0);
    q->error_after_rows = (uint64_t)jnum(f, "error_after_rows", 0);
    q->malformed_after_rows = (uint64_t)jnum(f, "malformed_after_rows", 0);
    q->stall_after_rows = (uint64_t)jnum(f, "stall_after_rows", 0);
    q->stall = jbool(f, "stall", false);
    w->close_after_bytes = (uint64_t)jnum(f, "close_after_bytes", 0);
    w->drip = jbool(f, "drip", false);
    w->drip_delay_ms = (uint32_t)jnum(f, "drip_delay_ms", 0);
}

static void version_text(srv_db *db)
{
    uint32_t v = db->settings.version;
    snprintf(db->version_text, sizeof db->version_text,
             "Microsoft SQL Server 2022 (RTM-CU12) (KB5033663) - %u.%u.%u.5 (X64) \n"
             "\tMar  4 2024 08:56:10 \n"
             "\tCopyright (C) 2022 Microsoft Corporation\n"
             "\tDeveloper Edition (64-bit) on Linux (Ubuntu 22.04.4 LTS) <X64> (%s)",
             v >> 24, (v >> 16) & 0xFF, v & 0xFFFF, db->server_name);
}

static int load_db(srv_db *db, const cJSON *jd, char *err, size_t cap)
{
    srv_database *d = srv_db_find(db, jstr(jd, "name", "master"));
    if (!d)
        d = srv_database_new(db, jstr(jd, "name", "master"));
    if (!d)
        return -1;
    d->snapshot_isolation = jbool(jd, "snapshot_isolation", false);
    d->rcsi = jbool(jd, "read_committed_snapshot", false);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(jd, "change_tracking");
    if (ct) {
        d->ct_enabled = cJSON_IsTrue(ct) || jbool(ct, "enabled", false);
        d->ct_retention = (int32_t)jnum(ct, "retention_days", 2);
        d->ct_auto_cleanup = jbool(ct, "auto_cleanup", true);
    }
    cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(jd, "schemas"))
        if (cJSON_IsString(s))
            srv_schema_add(d, s->valuestring);
    cJSON *jt;
    cJSON_ArrayForEach(jt, cJSON_GetObjectItemCaseSensitive(jd, "tables")) {
        srv_table *t = srv_table_from_json(db, jt, err, cap);
        if (!t)
            return -1;
        srv_schema_add(d, t->schema);
        if (srv_database_add_table(db, d, t) < 0)
            return -1;
        if (t->ct_enabled) {
            /* the scenario's rows are the state at version 0 */
            t->ct_begin_version = 0;
        }
    }
    /* after the tables: "cdc" enables capture instances on them */
    return srv_cdc_scenario(db, d, cJSON_GetObjectItemCaseSensitive(jd, "cdc"), err, cap);
}

/* The "server" object: name, version, FEDAUTH, packet size, routing. */
static void load_server(srv_db *db, const cJSON *js)
{
    snprintf(db->server_name, sizeof db->server_name, "%s", jstr(js, "name", "tdstestd"));
    db->settings.server_name = db->server_name;
    unsigned maj = 16, min = 0, build = 4115;
    sscanf(jstr(js, "version", "16.0.4115"), "%u.%u.%u", &maj, &min, &build);
    db->settings.version = (maj << 24) | (min << 16) | (build & 0xFFFF);
    db->settings.fedauth_required = jbool(js, "fedauth_required", false);
    db->settings.max_packet_size = (uint32_t)jnum(js, "max_packet_size", 32767);
    const cJSON *route = cJSON_GetObjectItemCaseSensitive(js, "route");
    if (route) {
        snprintf(db->route_host, sizeof db->route_host, "%s", jstr(route, "host", ""));
        db->settings.route_host = db->route_host[0] ? db->route_host : NULL;
        db->settings.route_port = (uint16_t)jnum(route, "port", 1433);
    }
    version_text(db);
}

static void load_logins(srv_db *db, const cJSON *logins)
{
    const cJSON *jl;
    db->nlogins = (size_t)cJSON_GetArraySize(logins);
    db->logins = calloc(db->nlogins ? db->nlogins : 1, sizeof *db->logins);
    size_t li = 0;
    cJSON_ArrayForEach(jl, logins) {
        srv_login_def *l = &db->logins[li++];
        snprintf(l->user, sizeof l->user, "%s", jstr(jl, "user", ""));
        snprintf(l->password, sizeof l->password, "%s", jstr(jl, "password", ""));
        snprintf(l->database, sizeof l->database, "%s", jstr(jl, "database", ""));
        snprintf(l->token, sizeof l->token, "%s", jstr(jl, "token", ""));
    }
}

/* Returns 0, or -1 with the reason in err (a bad regex). */
static int load_rules(srv_db *db, const cJSON *rules, char *err, size_t errcap)
{
    const cJSON *jr;
    db->rules = calloc((size_t)cJSON_GetArraySize(rules) + 1, sizeof *db->rules);
    cJSON_ArrayForEach(jr, rules) {
        srv_rule *r = &db->rules[db->nrules];
        const char *m = jstr(jr, "match", NULL);
        if (m) {
            if (regcomp(&r->re, m, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
                snprintf(err, errcap, "rule %zu: bad regex '%s'", db->nrules, m);
                return -1;
            }
            r->has_re = true;
        }
        snprintf(r->rpc, sizeof r->rpc, "%s", jstr(jr, "rpc", ""));
        r->times = (int)jnum(jr, "times", 0);
        r->spec = cJSON_Duplicate(jr, 1);
        db->nrules++;
    }
    return 0;
}

/* The scenario's parsed JSON → a server state. */
static srv_db *db_from_json(const cJSON *root, char *err, size_t errcap)
{
    srv_db *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->next_object_id = 901578250;
    db->next_spid = 51;
    load_server(db, cJSON_GetObjectItemCaseSensitive(root, "server"));
    int rc = 0;
    if (!srv_database_new(db, "master"))
        rc = -1;
    const cJSON *jd;
    cJSON_ArrayForEach(jd, cJSON_GetObjectItemCaseSensitive(root, "databases"))
        if (!rc && load_db(db, jd, err, errcap) < 0)
            rc = -1;
    load_logins(db, cJSON_GetObjectItemCaseSensitive(root, "logins"));
    if (load_rules(db, cJSON_GetObjectItemCaseSensitive(root, "rules"), err, errcap) < 0)
        rc = -1;
    faults_from_json(cJSON_GetObjectItemCaseSensitive(root, "faults"), &db->faults, &db->wire);
    if (rc < 0) {
        if (!err[0])
            snprintf(err, errcap, "out of memory");
        srv_db_free(db);
        return NULL;
    }
    return db;
}

srv_db *srv_db_load_text(const char *json, size_t len, const char *name, char *err, size_t errcap)
{
    char *quoted = json_quote_bigints(json, len);
    if (!quoted) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    cJSON *root = cJSON_Parse(quoted);
    if (!root) {
        snprintf(err, errcap, "scenario '%s': invalid JSON near '%.20s'", name, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
        free(quoted);
        return NULL;
    }
    free(quoted);
    srv_db *db = db_from_json(root, err, errcap);
    cJSON_Delete(root);
    return db;
}

srv_db *srv_db_load(const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "cannot open scenario '%s'", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)sz + 1);
    if (!text || fread(text, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(text);
        snprintf(err, errcap, "cannot read scenario '%s'", path);
        return NULL;
    }
    fclose(f);
    text[sz] = 0;
    srv_db *db = srv_db_load_text(text, (size_t)sz, path, err, errcap);
    free(text);
    return db;
}

void srv_db_free(srv_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->ndbs; i++) {
        srv_database *d = db->dbs[i];
        srv_cdc_db_free(d);
        for (size_t t = 0; t < d->ntables; t++) {
            d->tables[t]->dbp = NULL;
            srv_table_unref(d->tables[t]);
        }
        free(d->tables);
        free(d->schemas);
        free(d);
    }
    for (size_t i = 0; i < db->nrules; i++) {
        if (db->rules[i].has_re)
            regfree(&db->rules[i].re);
        cJSON_Delete(db->rules[i].spec);
    }
    free(db->rules);
    free(db->dbs);
    free(db->logins);
    free(db);
}

const srv_settings *srv_db_settings(const srv_db *db) { return &db->settings; }

/* ------------------------------------------------------------ login */

bool srv_login(srv_db *db, const srv_login_req *req, srv_conn **conn_out, srv_error *msg)
{
    const char *user = req->user ? req->user : "";
    const char *dbname = NULL;
    bool ok = db->nlogins == 0;
    for (size_t i = 0; i < db->nlogins && !ok; i++) {
        const srv_login_def *l = &db->logins[i];
        if (req->token) {
            ok = l->token[0] && (strcmp(l->token, "*") == 0 || strcmp(l->token, req->token) == 0);
        } else {
            ok = srv_ieq(l->user, user) && strcmp(l->password, req->password ? req->password : "") == 0;
        }
        if (ok && l->database[0])
            dbname = l->database;
    }
    memset(msg, 0, sizeof *msg);
    if (!ok) {
        msg->number = 18456;
        msg->severity = 14;
        msg->state = 1;
        snprintf(msg->message, sizeof msg->message, "Login failed for user '%s'.", user);
        return false;
    }
    if (req->database && req->database[0])
        dbname = req->database;
    if (!dbname)
        dbname = db->ndbs > 1 ? db->dbs[1]->name : "master";
    srv_database *d = srv_db_find(db, dbname);
    if (!d) {
        msg->number = 4060;
        msg->severity = 11;
        msg->state = 1;
        snprintf(msg->message, sizeof msg->message,
                 "Cannot open database \"%s\" requested by the login. The login failed.", dbname);
        return false;
    }
    srv_conn *c = calloc(1, sizeof *c);
    if (!c) {
        msg->number = 701;
        msg->severity = 17;
        snprintf(msg->message, sizeof msg->message, "There is insufficient system memory to run this query.");
        return false;
    }
    c->db = db;
    c->cur = d;
    c->spid = db->next_spid++;
    c->faults = db->faults;
    c->wire = db->wire;
    *conn_out = c;
    return true;
}

void srv_conn_free(srv_conn *c)
{
    if (!c)
        return;
    if (c->trancount)
        tran_rollback(c);
    srv_cdc_conn_free(c);
    if (c->bulk_table)
        srv_table_unref(c->bulk_table);
    free(c->bulk_rows);
    free(c->tran_tables);
    free(c);
}

const char *srv_conn_database(const srv_conn *c) { return c->cur->name; }
const srv_wire_faults *srv_conn_faults(const srv_conn *c) { return &c->wire; }

/* ------------------------------------------------------------ rules */

int srv_rule_match(const srv_db *db, const char *sql)
{
    for (size_t i = 0; i < db->nrules; i++) {
        const srv_rule *r = &db->rules[i];
        if (r->times && r->used >= r->times)
            continue;
        if (r->has_re && regexec(&r->re, sql, 0, NULL, 0) == 0)
            return (int)i;
    }
    return -1;
}

int srv_rule_match_rpc(const srv_db *db, const char *proc);
int srv_rule_match_rpc(const srv_db *db, const char *proc)
{
    for (size_t i = 0; i < db->nrules; i++) {
        const srv_rule *r = &db->rules[i];
        if (r->rpc[0] && srv_ieq(r->rpc, proc) && !(r->times && r->used >= r->times))
            return (int)i;
    }
    return -1;
}

/* Runs part `part` of a rule: each result set is one part, then messages
 * and the row count. Returns like the executors; *more is set when parts
 * remain. */
int srv_rule_part(srv_cursor *cur, tds_session *s, int rule, int part, bool *more);
int srv_rule_part(srv_cursor *cur, tds_session *s, int rule, int part, bool *more)
{
    srv_rule *r = &cur->c->db->rules[rule];
    const cJSON *sets = cJSON_GetObjectItemCaseSensitive(r->spec, "resultsets");
    int nsets = cJSON_GetArraySize(sets);
    bool tail = nsets == 0 || cJSON_GetObjectItemCaseSensitive(r->spec, "error") ||
                cJSON_GetObjectItemCaseSensitive(r->spec, "rowcount");
    *more = part + 1 < nsets + (tail ? 1 : 0);
    if (part == 0)
        r->used++;
    if (part == 0) {
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(r->spec, "info"))
            srv_put_info(cur, s, (int32_t)jnum(m, "number", 0), (uint8_t)jnum(m, "state", 1), "%s",
                         jstr(m, "message", ""));
    }
    if (part < nsets) {
        char err[256];
        srv_table *t = srv_table_from_json(cur->c->db, cJSON_GetArrayItem(sets, part), err, sizeof err);
        if (!t) {
            srv_put_error(cur, s, 50000, 16, 1, "tdstestd: rule %d: %s", rule, err);
            return -1;
        }
        int rc = srv_rs_from_table(cur, s, t);
        srv_table_unref(t);
        return rc;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->spec, "error");
    if (e) {
        srv_put_error(cur, s, (int32_t)jnum(e, "number", 50000), (uint8_t)jnum(e, "severity", 16),
                      (uint8_t)jnum(e, "state", 1), "%s", jstr(e, "message", "tdstestd: scripted error"));
        return -1;
    }
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(r->spec, "rowcount");
    if (cJSON_IsNumber(rc))
        srv_put_done(cur, s, TDS_DONE_COUNT, 0xC3, (uint64_t)rc->valuedouble);
    else
        srv_put_done(cur, s, 0, 0, 0);
    return 0;
}
