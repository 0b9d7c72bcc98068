/*
 * exec_cdc_setup.c — capture instances: sys.sp_cdc_enable_table's checks
 * and effects (the change table cdc.<instance>_CT, its captured columns
 * and row identifier), dropping an instance, the scenario's "cdc" object,
 * and freeing a database's CDC state.
 *
 * The change table is an ordinary table of the cdc schema (so SELECT from
 * it works like any table): __$start_lsn, __$end_lsn, __$seqval,
 * __$operation, __$update_mask, the captured columns (nullable), then
 * __$command_id, as documented for cdc.<capture_instance>_CT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "cdc_int.h"

void cdc_coldef(srv_coldef *d, const char *name, const char *type, bool nullable)
{
    memset(d, 0, sizeof *d);
    srv_type_parse(type, d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->nullable = nullable;
    if (nullable)
        d->col.flags |= TDS_COL_NULLABLE;
    else
        d->col.flags &= (uint16_t)~TDS_COL_NULLABLE;
    srv_gen_defaults(d);
    srv_coldef_fix(d);
}

#define FAILV(num, ...) do { *err = (num); snprintf(msg, cap, __VA_ARGS__); return -1; } while (0)

/* ------------------------------------------------------------ column list */

/* Next name of a captured column list ("a, [b c], \"d\""): into out,
 * advancing *p. Returns 1, 0 at the end, -1 for an unterminated quote. */
static int next_col(const char **p, char *out, size_t cap)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (!*s)
        return 0;
    size_t n = 0;
    if (*s == '[' || *s == '"') {
        char close = *s == '[' ? ']' : '"';
        const char *e = strchr(s + 1, close);
        if (!e)
            return -1;
        n = (size_t)(e - s - 1);
        snprintf(out, cap, "%.*s", (int)n, s + 1);
        s = e + 1;
    } else {
        const char *e = s;
        while (*e && *e != ',')
            e++;
        n = (size_t)(e - s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        snprintf(out, cap, "%.*s", (int)n, s);
        s = e;
    }
    *p = s;
    return 1;
}

static bool reserved_col(const char *name)
{
    static const char *r[] = { "__$start_lsn", "__$end_lsn", "__$seqval", "__$operation", "__$update_mask" };
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        if (srv_ieq(name, r[i]))
            return true;
    return false;
}

/* The captured columns of t into ci->cols, in source order. */
static int capture_cols(cdc_inst *ci, const srv_table *t, const char *list, int32_t *err, char *msg, size_t cap)
{
    bool *take = calloc(t->ncols + 1u, sizeof *take);
    ci->cols = calloc(t->ncols + 1u, sizeof *ci->cols);
    if (!take || !ci->cols) {
        free(take);
        FAILV(701, "There is insufficient system memory to run this query.");
    }
    int rc = 0;
    if (!list) {
        for (int c = 0; c < t->ncols && !rc; c++) {
            take[c] = true;
            if (reserved_col(t->cols[c].name)) {
                *err = 22975;
                snprintf(msg, cap, "Source table '%s' contains one of the following reserved column names: __$start_lsn, __$end_lsn, __$seqval, __$operation, and __$update_mask. To enable Change Data Capture for this table, specify a captured column list and ensure that these columns are excluded from the list.", t->name);
                rc = -1;
            }
        }
    } else {
        char name[SRV_NAME_MAX];
        const char *p = list;
        int r;
        while (!rc && (r = next_col(&p, name, sizeof name)) != 0) {
            int c = r < 0 ? -1 : srv_table_colno(t, name);
            if (r < 0) {
                *err = 22965;
                snprintf(msg, cap, "A quoted column in the column list is not properly terminated. Verify that columns are correctly delimited and retry the operation. For more information, see 'Delimited Identifiers' in Books Online.");
                rc = -1;
            } else if (c < 0) {
                *err = 22930;
                snprintf(msg, cap, "Could not locate '%s' as a column of source table '%s.%s'. Specify a valid column name.", name, t->schema, t->name);
                rc = -1;
            } else {
                take[c] = true;
            }
        }
    }
    for (int c = 0; c < t->ncols; c++)
        if (take[c])
            ci->cols[ci->ncols++] = c;
    free(take);
    return rc;
}

/* ------------------------------------------------------------ change table */

static srv_table *change_table(const cdc_inst *ci)
{
    int n = ci->ncols + 6;
    srv_coldef *defs = calloc((size_t)n, sizeof *defs);
    if (!defs)
        return NULL;
    cdc_coldef(&defs[0], "__$start_lsn", "binary(10)", false);
    cdc_coldef(&defs[1], "__$end_lsn", "binary(10)", true);
    cdc_coldef(&defs[2], "__$seqval", "binary(10)", false);
    cdc_coldef(&defs[3], "__$operation", "int", false);
    cdc_coldef(&defs[4], "__$update_mask", "varbinary(128)", true);
    for (int k = 0; k < ci->ncols; k++) {
        defs[5 + k] = ci->src->cols[ci->cols[k]];
        defs[5 + k].nullable = true;
        defs[5 + k].col.flags |= TDS_COL_NULLABLE;
        srv_coldef_fix(&defs[5 + k]);
    }
    cdc_coldef(&defs[n - 1], "__$command_id", "int", true);
    char name[SRV_NAME_MAX];
    snprintf(name, sizeof name, "%s_CT", ci->name);
    srv_table *t = srv_table_new("cdc", name, defs, (uint16_t)n);
    free(defs);
    return t;
}

static void inst_free(cdc_inst *ci)
{
    if (!ci)
        return;
    srv_table_unref(ci->ct);
    srv_table_unref(ci->src);
    free(ci->cols);
    free(ci);
}

static int inst_add(srv_cdc_db *x, cdc_inst *ci)
{
    cdc_inst **n = realloc(x->inst, (x->ninst + 1) * sizeof *n);
    if (!n)
        return -1;
    x->inst = n;
    x->inst[x->ninst++] = ci;
    return 0;
}

/* The row identifier: the primary key, or index_name when it names it. */
static int inst_key(cdc_inst *ci, const srv_table *t, const char *index, int net, int32_t *err, char *msg, size_t cap)
{
    if (index && *index && !(t->npk && srv_ieq(index, t->pk_name)))
        FAILV(22928, "Index name '%s' is not an index for table '%s.%s'. Specify a valid index name for the table.", index,
              t->schema, t->name);
    ci->nkey = t->npk;
    memcpy(ci->key, t->pk, sizeof ci->key);
    if (t->npk)
        snprintf(ci->index_name, sizeof ci->index_name, "%s", t->pk_name[0] ? t->pk_name : "PK");
    ci->net = net < 0 ? t->npk > 0 : net;
    if (ci->net && !t->npk)
        FAILV(22939, "The parameter @supports_net_changes is set to 1, but the source table does not have a primary key defined and no alternate unique index has been specified.");
    return 0;
}

static int inst_checks(srv_cdc_db *x, const srv_table *t, const char *name, int32_t *err, char *msg, size_t cap)
{
    if (strlen(name) > CDC_INSTANCE_MAX)
        FAILV(22927, "Capture instance name '%s' exceeds the length limit of 100 characters. Specify a name that satisfies the length constraint.", name);
    if (!*name)
        FAILV(22932, "Capture instance name '%s' is invalid. Specify a valid name. See the topic 'Identifiers' in SQL Server Books Online for object name rules.", name);
    if (cdc_inst_find(x, name))
        FAILV(22926, "Could not create a capture instance because the capture instance name '%s' already exists in the current database. Specify an explicit unique name for the parameter @capture_instance.", name);
    int have = 0;
    for (size_t i = 0; i < x->ninst; i++)
        have += x->inst[i]->src == t;
    if (have >= CDC_MAX_INSTANCES)
        FAILV(22962, "Two capture instances already exist for source table '%s.%s'. A table can have at most two capture instances. If the current tracking options are not appropriate, disable change tracking for the obsolete instance by using sys.sp_cdc_disable_table and retry the operation.", t->schema, t->name);
    return 0;
}

static bool key_captured(const cdc_inst *ci)
{
    for (int q = 0; q < ci->nkey; q++) {
        bool in = false;
        for (int k = 0; k < ci->ncols; k++)
            in |= ci->cols[k] == ci->key[q];
        if (!in)
            return false;
    }
    return true;
}

static int inst_create(srv_conn *c, srv_database *d, srv_table *t, cdc_inst *ci, int32_t *err, char *msg, size_t cap)
{
    srv_cdc_db *x = d->cdc;
    ci->src = t;
    srv_table_ref(t);
    /* documented: the primary key's (or @index_name's) columns must be
     * captured, whether or not net changes are asked for */
    if (ci->nkey && !key_captured(ci))
        FAILV(22943, "Columns used to uniquely identify a row for net change tracking must be included in the list of captured columns. Add either the primary key columns of the source table, or the columns defined for the index specified in the parameter @index_name to the list of captured columns and retry the operation.");
    ci->ct = change_table(ci);
    if (!ci->ct || srv_database_add_table(c->db, d, ci->ct) < 0 || inst_add(x, ci) < 0) {
        if (ci->ct && ci->ct->dbp)
            srv_database_drop_table(d, ci->ct);
        else
            srv_table_unref(ci->ct);
        ci->ct = NULL;
        FAILV(701, "There is insufficient system memory to run this query.");
    }
    srv_table_ref(ci->ct); /* the instance's own reference */
    ci->object_id = ci->ct->object_id;
    ci->enable_pos = ci->start_pos = ++x->pos;
    ci->start_set = true;
    ci->create_us = cdc_now_us();
    if (x->immediate)
        cdc_scan(d);
    return 0;
}

int cdc_enable_table(srv_conn *c, srv_database *d, const char *schema, const char *name, const char *inst,
                     const char *role, int net, const char *index, const char *cols, int32_t *err, char *msg, size_t cap)
{
    srv_cdc_db *x = d->cdc;
    if (!x || !x->enabled)
        FAILV(22901, "The database '%s' is not enabled for Change Data Capture. Ensure that the correct database context is set and retry the operation. To report on the databases enabled for Change Data Capture, query the is_cdc_enabled column in the sys.databases catalog view.", d->name);
    if (!*schema || !*name)
        FAILV(22963, "Parameter '%s' cannot be null or empty. Specify a value for the named parameter and retry the operation.",
              !*schema ? "@source_schema" : "@source_name");
    if (srv_ieq(schema, "cdc"))
        FAILV(22974, "Tables contained in the cdc schema cannot be enabled for Change Data Capture.");
    srv_table *t = srv_table_find(d, schema, name);
    if (!t || t->generated)
        FAILV(22931, "Source table '%s.%s' does not exist in the current database. Ensure that the correct database context is set. Specify a valid schema and table name for the database.", schema, name);
    char iname[SRV_NAME_MAX];
    if (inst)
        snprintf(iname, sizeof iname, "%s", inst);
    else
        snprintf(iname, sizeof iname, "%s_%s", t->schema, t->name);
    if (inst_checks(x, t, iname, err, msg, cap) < 0)
        return -1;
    cdc_inst *ci = calloc(1, sizeof *ci);
    if (!ci)
        FAILV(701, "There is insufficient system memory to run this query.");
    snprintf(ci->name, sizeof ci->name, "%s", iname);
    snprintf(ci->role, sizeof ci->role, "%s", role ? role : "");
    if (inst_key(ci, t, index, net, err, msg, cap) < 0 || capture_cols(ci, t, cols, err, msg, cap) < 0 ||
        inst_create(c, d, t, ci, err, msg, cap) < 0) {
        inst_free(ci);
        return -1;
    }
    return 0;
}

void cdc_inst_drop(srv_database *d, cdc_inst *ci)
{
    srv_cdc_db *x = d->cdc;
    for (size_t i = 0; i < x->ninst; i++)
        if (x->inst[i] == ci) {
            memmove(&x->inst[i], &x->inst[i + 1], (x->ninst - i - 1) * sizeof *x->inst);
            x->ninst--;
            break;
        }
    if (ci->ct && ci->ct->dbp == d)
        srv_database_drop_table(d, ci->ct);
    inst_free(ci);
}

void srv_cdc_table_dropped(srv_database *d, const srv_table *t)
{
    srv_cdc_db *x = d ? d->cdc : NULL;
    for (size_t i = x ? x->ninst : 0; i-- > 0;)
        if (i < x->ninst && x->inst[i]->src == t)
            cdc_inst_drop(d, x->inst[i]);
}

/* ------------------------------------------------------------ scenario */

static const char *jtext(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static int scenario_table(srv_db *db, srv_database *d, const cJSON *jt, char *err, size_t cap)
{
    (void)db;
    const cJSON *net = cJSON_GetObjectItemCaseSensitive(jt, "supports_net_changes");
    int32_t num = 0;
    char msg[1024];
    srv_conn tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.db = db;
    tmp.cur = d;
    if (cdc_enable_table(&tmp, d, jtext(jt, "schema", "dbo"), jtext(jt, "name", ""), jtext(jt, "capture_instance", NULL),
                         jtext(jt, "role_name", NULL), cJSON_IsBool(net) ? cJSON_IsTrue(net) : cJSON_IsNumber(net) ? net->valueint != 0 : -1,
                         jtext(jt, "index_name", NULL), jtext(jt, "captured_column_list", NULL), &num, msg, sizeof msg) < 0) {
        snprintf(err, cap, "database %s: cdc table: %d %s", d->name, (int)num, msg);
        return -1;
    }
    return 0;
}

int srv_cdc_scenario(srv_db *db, srv_database *d, const void *cjson, char *err, size_t cap)
{
    const cJSON *j = cjson;
    if (!j || cJSON_IsFalse(j))
        return 0;
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(j, "enabled");
    if (!cJSON_IsTrue(j) && cJSON_IsFalse(en))
        return 0;
    if (cdc_enable_db(db, d) < 0) {
        snprintf(err, cap, "database %s: cannot enable cdc", d->name);
        return -1;
    }
    const char *capture = jtext(j, "capture", "scan");
    if (!srv_ieq(capture, "scan") && !srv_ieq(capture, "immediate")) {
        snprintf(err, cap, "database %s: cdc.capture must be \"scan\" or \"immediate\"", d->name);
        return -1;
    }
    d->cdc->immediate = srv_ieq(capture, "immediate");
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(j, "retention_minutes");
    if (cJSON_IsNumber(rm) && rm->valuedouble >= 1)
        d->cdc->retention_min = (int64_t)rm->valuedouble;
    const cJSON *jt;
    cJSON_ArrayForEach(jt, cJSON_GetObjectItemCaseSensitive(j, "tables"))
        if (scenario_table(db, d, jt, err, cap) < 0)
            return -1;
    return 0;
}

void srv_cdc_db_free(srv_database *d)
{
    srv_cdc_db *x = d->cdc;
    if (!x)
        return;
    for (size_t i = 0; i < x->nlog; i++) {
        for (size_t k = 0; k < x->log[i].n; k++)
            cdc_change_free(&x->log[i].ch[k]);
        free(x->log[i].ch);
    }
    free(x->log);
    for (size_t i = 0; i < x->ninst; i++)
        inst_free(x->inst[i]);
    free(x->inst);
    srv_table_unref(x->ltm);
    free(x);
    d->cdc = NULL;
}
