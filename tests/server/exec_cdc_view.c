/*
 * exec_cdc_view.c — CDC metadata as tables built on demand:
 * cdc.change_tables, cdc.captured_columns, cdc.index_columns (columns as
 * documented for SQL Server 2012+), and the CDC columns of the catalog:
 * sys.databases.is_cdc_enabled, sys.tables.is_tracked_by_cdc (and
 * is_ms_shipped = 1 for the cdc schema's own tables).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"

/* A temporary table from "name:type[?]" column specs (? = nullable). */
static srv_table *view_new(const char *name, const char *const *specs, int n)
{
    srv_coldef defs[16];
    for (int i = 0; i < n; i++) {
        char nm[SRV_NAME_MAX], ty[32];
        const char *c = strchr(specs[i], ':');
        snprintf(nm, sizeof nm, "%.*s", (int)(c - specs[i]), specs[i]);
        snprintf(ty, sizeof ty, "%s", c + 1);
        size_t l = strlen(ty);
        bool nul = l && ty[l - 1] == '?';
        if (nul)
            ty[l - 1] = 0;
        cdc_coldef(&defs[i], nm, ty, nul);
    }
    return srv_table_new("cdc", name, defs, (uint16_t)n);
}

static int add_row(srv_table *t, const srv_val *v)
{
    uint64_t off;
    return srv_table_insert_vals(t, v, &off) < 0 ? -1 : srv_table_append(t, off);
}

static srv_val bin_val(uint8_t *buf, uint64_t pos)
{
    cdc_lsn(pos, buf);
    return (srv_val){ .k = SV_BIN, .s = (const char *)buf, .n = CDC_LSN_LEN };
}

static srv_val text(const char *s) { return *s ? sv_str(s, strlen(s)) : sv_null(); }

static srv_table *change_tables(const srv_cdc_db *x)
{
    static const char *const cols[] = { "object_id:int", "version:int?", "source_object_id:int?", "capture_instance:nvarchar(128)?",
                                        "start_lsn:binary(10)?", "end_lsn:binary(10)?", "supports_net_changes:bit?",
                                        "has_drop_pending:bit?", "role_name:nvarchar(128)?", "index_name:nvarchar(128)?",
                                        "filegroup_name:nvarchar(128)?", "create_date:datetime?", "partition_switch:bit" };
    srv_table *t = view_new("change_tables", cols, 13);
    for (size_t i = 0; t && i < x->ninst; i++) {
        const cdc_inst *ci = x->inst[i];
        uint8_t lsn[CDC_LSN_LEN];
        srv_val v[13] = { sv_int(ci->object_id), sv_int(0), sv_int(ci->src->object_id), text(ci->name),
                          ci->start_set ? bin_val(lsn, ci->start_pos) : sv_null(), sv_null(), sv_int(ci->net),
                          sv_null(), text(ci->role), text(ci->index_name), sv_null(), cdc_time_val(ci->create_us),
                          sv_int(1) };
        add_row(t, v);
    }
    return t;
}

static srv_table *captured_columns(const srv_cdc_db *x)
{
    static const char *const cols[] = { "object_id:int", "column_name:nvarchar(128)", "column_id:int?", "column_type:nvarchar(128)?",
                                        "column_ordinal:int", "is_computed:bit?", "masking_function:nvarchar(4000)?" };
    srv_table *t = view_new("captured_columns", cols, 7);
    for (size_t i = 0; t && i < x->ninst; i++) {
        const cdc_inst *ci = x->inst[i];
        for (int k = 0; k < ci->ncols; k++) {
            const srv_coldef *d = &ci->src->cols[ci->cols[k]];
            srv_val v[7] = { sv_int(ci->object_id), text(d->name), sv_int(ci->cols[k] + 1), text(d->type_name),
                             sv_int(k + 1), sv_int(0), sv_null() };
            add_row(t, v);
        }
    }
    return t;
}

static srv_table *index_columns(const srv_cdc_db *x)
{
    static const char *const cols[] = { "object_id:int", "column_name:nvarchar(128)", "index_ordinal:tinyint", "column_id:int" };
    srv_table *t = view_new("index_columns", cols, 4);
    for (size_t i = 0; t && i < x->ninst; i++) {
        const cdc_inst *ci = x->inst[i];
        for (int q = 0; q < ci->nkey; q++) {
            srv_val v[4] = { sv_int(ci->object_id), text(ci->src->cols[ci->key[q]].name), sv_int(q + 1),
                             sv_int(ci->key[q] + 1) };
            add_row(t, v);
        }
    }
    return t;
}

/* "[a], [b]" of source columns. */
static void col_list(const cdc_inst *ci, const int *cols, int n, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (int k = 0; k < n && o < cap; k++)
        o += (size_t)snprintf(out + o, cap - o, "%s[%s]", k ? ", " : "", ci->src->cols[cols[k]].name);
}

srv_table *cdc_help_table(const srv_cdc_db *x, const char *schema, const char *name)
{
    static const char *const cols[] = {
        "source_schema:nvarchar(128)?", "source_table:nvarchar(128)?", "capture_instance:nvarchar(128)?",
        "object_id:int?", "source_object_id:int?", "start_lsn:binary(10)?", "end_lsn:binary(10)?",
        "supports_net_changes:bit?", "has_drop_pending:bit?", "role_name:nvarchar(128)?", "index_name:nvarchar(128)?",
        "filegroup_name:nvarchar(128)?", "create_date:datetime?", "index_column_list:nvarchar(4000)?",
        "captured_column_list:nvarchar(4000)?" };
    srv_table *t = view_new("sp_cdc_help_change_data_capture", cols, 15);
    for (size_t i = 0; t && i < x->ninst; i++) {
        const cdc_inst *ci = x->inst[i];
        if (*schema && (!srv_ieq(ci->src->schema, schema) || !srv_ieq(ci->src->name, name)))
            continue;
        uint8_t lsn[CDC_LSN_LEN];
        char keys[2048], capt[4096];
        col_list(ci, ci->key, ci->nkey, keys, sizeof keys);
        col_list(ci, ci->cols, ci->ncols, capt, sizeof capt);
        srv_val v[15] = { text(ci->src->schema), text(ci->src->name), text(ci->name), sv_int(ci->object_id),
                          sv_int(ci->src->object_id), bin_val(lsn, ci->start_pos), sv_null(), sv_int(ci->net), sv_null(),
                          text(ci->role), text(ci->index_name), sv_null(), cdc_time_val(ci->create_us), text(keys),
                          text(capt) };
        add_row(t, v);
    }
    return t;
}

srv_table *srv_cdc_view(srv_conn *c, srv_database *d, const char *name)
{
    (void)c;
    const srv_cdc_db *x = d ? d->cdc : NULL;
    if (!x || !x->enabled)
        return NULL;
    if (srv_ieq(name, "change_tables"))
        return change_tables(x);
    if (srv_ieq(name, "captured_columns"))
        return captured_columns(x);
    if (srv_ieq(name, "index_columns"))
        return index_columns(x);
    return NULL;
}

/* ------------------------------------------------------------ catalog */

static srv_table *table_by_oid(srv_database *d, const tds_value *v)
{
    int32_t id;
    if (!d || (v->flags & TDS_VF_NULL) || v->len != 4)
        return NULL;
    memcpy(&id, v->ptr, 4);
    for (size_t i = 0; i < d->ntables; i++)
        if (d->tables[i]->object_id == id)
            return d->tables[i];
    return NULL;
}

/* Copies t's rows into a table with one more column (extra, NULL unless
 * fill sets it), letting fill edit each row. */
static srv_table *rebuild(srv_table *t, const srv_coldef *extra, void (*fill)(void *, tds_value *, int, uint8_t *), void *ctx)
{
    int n = t->ncols + (extra ? 1 : 0);
    srv_coldef *defs = calloc((size_t)n, sizeof *defs);
    if (!defs)
        return NULL;
    memcpy(defs, t->cols, t->ncols * sizeof *defs);
    if (extra)
        defs[n - 1] = *extra;
    srv_table *r = srv_table_new(t->schema, t->name, defs, (uint16_t)n);
    free(defs);
    for (size_t i = 0; r && i < t->nrows; i++) {
        tds_value v[SRV_MAX_COLS];
        uint8_t scratch[8];
        srv_table_row(t, t->rows[i], v);
        v[n - 1] = extra ? (tds_value){ .flags = TDS_VF_NULL } : v[n - 1];
        fill(ctx, v, n, scratch);
        uint64_t off = srv_table_heap_put(r, v);
        if (off == UINT64_MAX || srv_table_append(r, off) < 0)
            break;
    }
    return r;
}

static uint8_t one = 1, zero = 0;

static void fill_db(void *ctx, tds_value *v, int n, uint8_t *scratch)
{
    srv_db *db = ctx;
    (void)scratch;
    char name[SRV_NAME_MAX];
    snprintf(name, sizeof name, "%s", "");
    /* v[0] is the name (nvarchar: UTF-16LE) */
    size_t k = 0;
    for (uint32_t i = 0; i + 1 < v[0].len && k + 1 < sizeof name; i += 2)
        name[k++] = (char)v[0].ptr[i];
    name[k] = 0;
    srv_database *d = srv_db_find(db, name);
    bool on = d && d->cdc && d->cdc->enabled;
    v[n - 1] = (tds_value){ .ptr = on ? &one : &zero, .len = 1 };
}

static void fill_tables(void *ctx, tds_value *v, int n, uint8_t *scratch)
{
    srv_database *d = ctx;
    (void)scratch;
    srv_table *t = table_by_oid(d, &v[1]);
    if (!t)
        return;
    if (srv_ieq(t->schema, "cdc") && d->cdc && d->cdc->enabled)
        v[7] = (tds_value){ .ptr = &one, .len = 1 }; /* is_ms_shipped */
    v[n - 1] = (tds_value){ .ptr = srv_cdc_tracked(t) ? &one : &zero, .len = 1 };
}

srv_table *srv_cdc_catalog_fix(srv_conn *c, srv_database *d, const char *name, srv_table *t)
{
    if (!t)
        return t;
    srv_table *r = NULL;
    if (srv_ieq(name, "databases") && srv_table_colno(t, "is_cdc_enabled") < 0) {
        srv_coldef extra;
        cdc_coldef(&extra, "is_cdc_enabled", "bit", false);
        r = rebuild(t, &extra, fill_db, c->db);
    } else if (srv_ieq(name, "tables") && srv_table_colno(t, "is_tracked_by_cdc") == t->ncols - 1 &&
               srv_table_colno(t, "is_ms_shipped") == 7 && d && d->cdc) {
        r = rebuild(t, NULL, fill_tables, d);
    }
    if (!r)
        return t;
    srv_table_unref(t);
    return r;
}
