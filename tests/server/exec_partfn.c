/*
 * exec_partfn.c — partitioned tables in tdstestd: a scenario table's
 * "partition_function" (README.md, "Partitioned tables") and the catalog
 * views a client reads it from, with SQL Server's documented columns:
 * sys.partition_functions, sys.partition_schemes, sys.partition_range_values
 * (value as sql_variant, boundary_id 1..n in ascending value order), and
 * for exec_catalog.c the data_space_id of sys.indexes and the
 * partition_ordinal of sys.index_columns. Each partitioned table has a
 * function and a scheme of its own: function_id 65536 + k and
 * data_space_id 65600 + k for the k-th partitioned table of its database.
 * Rows are not stored per partition (sys.partitions keeps one row per
 * table); the partitions exist in the catalog only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "query_int.h"

typedef struct srv_partfn_bound {
    uint8_t *wire;      /* the value encoded for the column; NULL: a NULL boundary */
    uint32_t len;
} srv_partfn_bound;

struct srv_partfn {
    char name[SRV_NAME_MAX], scheme[SRV_NAME_MAX];
    int col;            /* the partitioning column */
    bool range_right;
    srv_partfn_bound *b;
    size_t nb;
};

void srv_partfn_free(srv_partfn *f)
{
    for (size_t i = 0; f && i < f->nb; i++)
        free(f->b[i].wire);
    if (f)
        free(f->b);
    free(f);
}

/* b's value as a srv_val (scratch holds text). */
static srv_val bound_val(const srv_table *t, const srv_partfn_bound *b, char *scratch, size_t cap)
{
    srv_val v = sv_null();
    if (b->wire && sv_from_wire(&t->cols[t->partfn->col].col, b->wire, b->len, &v, scratch, cap))
        v = sv_null();
    return v;
}

static int bound_cmp(const srv_table *t, const srv_partfn_bound *x, const srv_partfn_bound *y)
{
    char s1[256], s2[256];
    srv_val a = bound_val(t, x, s1, sizeof s1), b = bound_val(t, y, s2, sizeof s2);
    bool inc;
    return sv_cmp(&a, &b, &inc);
}

/* SQL Server sorts the values (with a warning); insertion sort: a
 * scenario's few values, and no global for qsort's missing context.
 * Returns how many values equal their neighbour. */
static size_t sort_bounds(const srv_table *t, srv_partfn_bound *b, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && bound_cmp(t, &b[j - 1], &b[j]) > 0; j--) {
            srv_partfn_bound x = b[j];
            b[j] = b[j - 1];
            b[j - 1] = x;
        }
    size_t same = 0;
    for (size_t i = 1; i < n; i++)
        same += !bound_cmp(t, &b[i - 1], &b[i]);
    return same;
}

/* One boundary from JSON (a number, a string the column's type converts,
 * or null) encoded as the column's value. */
static int bound_from_json(const srv_coldef *d, const cJSON *j, srv_partfn_bound *b)
{
    if (cJSON_IsNull(j))
        return 0;
    srv_val v;
    if (cJSON_IsNumber(j)) {
        v = sv_int((int64_t)j->valuedouble);
    } else if (cJSON_IsString(j)) {
        v = sv_str(j->valuestring, strlen(j->valuestring));
    } else {
        return -1;
    }
    uint8_t buf[64];
    int64_t n = sv_to_wire(d, &v, buf, sizeof buf);
    if (n < 0 || n == SRV_NULL_LEN || !(b->wire = malloc((size_t)n)))
        return -1;
    memcpy(b->wire, buf, (size_t)n);
    b->len = (uint32_t)n;
    return 0;
}

int srv_partfn_from_json(srv_table *t, const void *jv, char *err, size_t cap)
{
    const cJSON *j = jv, *name = cJSON_GetObjectItemCaseSensitive(j, "name"),
                *col = cJSON_GetObjectItemCaseSensitive(j, "column"),
                *range = cJSON_GetObjectItemCaseSensitive(j, "range"),
                *scheme = cJSON_GetObjectItemCaseSensitive(j, "scheme"),
                *vals = cJSON_GetObjectItemCaseSensitive(j, "values");
    int c = cJSON_IsString(col) ? srv_table_colno(t, col->valuestring) : -1;
    bool right = cJSON_IsString(range) && srv_ieq(range->valuestring, "right");
    if (!cJSON_IsString(name) || c < 0 || (range && !right && !(cJSON_IsString(range) && srv_ieq(range->valuestring, "left"))) ||
        (vals && !cJSON_IsArray(vals))) {
        snprintf(err, cap, "table '%s': partition_function needs name, column (of the table), range left|right, values []", t->name);
        return -1;
    }
    srv_partfn *f = calloc(1, sizeof *f);
    int n = cJSON_GetArraySize(vals);
    if (!f || (n && !(f->b = calloc((size_t)n, sizeof *f->b)))) {
        free(f);
        snprintf(err, cap, "out of memory");
        return -1;
    }
    snprintf(f->name, sizeof f->name, "%s", name->valuestring);
    snprintf(f->scheme, sizeof f->scheme, "%s", cJSON_IsString(scheme) ? scheme->valuestring : "");
    if (!f->scheme[0])
        snprintf(f->scheme, sizeof f->scheme, "ps_%s", name->valuestring);
    f->col = c;
    f->range_right = right;
    t->partfn = f;
    for (f->nb = 0; f->nb < (size_t)n; f->nb++)
        if (bound_from_json(&t->cols[c], cJSON_GetArrayItem(vals, (int)f->nb), &f->b[f->nb])) {
            snprintf(err, cap, "table '%s': partition_function value %zu does not convert to %s", t->name, f->nb + 1,
                     t->cols[c].type_name);
            return -1; /* t->partfn is freed with t */
        }
    if (sort_bounds(t, f->b, f->nb)) {
        snprintf(err, cap, "table '%s': partition_function values repeat (SQL Server error 7708)", t->name);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ catalog */

/* The partitioned table's k (0, 1, …) in d, or -1. */
static int part_index(const srv_database *d, const srv_table *t)
{
    int k = 0;
    for (size_t i = 0; i < d->ntables; i++) {
        if (d->tables[i] == t)
            return t->partfn ? k : -1;
        k += d->tables[i]->partfn != NULL;
    }
    return -1;
}

int srv_partfn_space_id(const srv_database *d, const srv_table *t)
{
    int k = part_index(d, t);
    return k < 0 ? 1 : 65600 + k; /* 1: PRIMARY */
}

int srv_partfn_ordinal(const srv_table *t, int col)
{
    return t->partfn && t->partfn->col == col ? 1 : 0;
}

int srv_partfn_extra_column(const srv_table *t)
{
    if (!t->partfn)
        return -1;
    for (int k = 0; k < t->npk; k++)
        if (t->pk[k] == t->partfn->col)
            return -1;
    return t->partfn->col;
}

static srv_table *view_new(const char *name, const char *const *cols, int n)
{
    srv_coldef defs[8];
    for (int i = 0; i < n; i++) {
        memset(&defs[i], 0, sizeof defs[i]);
        const char *colon = strchr(cols[i], ':');
        snprintf(defs[i].name, sizeof defs[i].name, "%.*s", (int)(colon - cols[i]), cols[i]);
        srv_type_parse(colon + 1, &defs[i]);
        defs[i].nullable = !strcmp(colon + 1, "sql_variant");
        if (!defs[i].nullable)
            defs[i].col.flags &= (uint16_t)~TDS_COL_NULLABLE;
    }
    return srv_table_new("sys", name, defs, (uint16_t)n);
}

static void add_row(srv_table *v, const srv_val *vals)
{
    uint64_t off;
    if (srv_table_insert_vals(v, vals, &off) == 0)
        srv_table_append(v, off);
}

static void rows_of(srv_table *v, const srv_database *d, int which)
{
    char text[2][SRV_NAME_MAX + 8], scratch[128];
    for (size_t i = 0; i < d->ntables; i++) {
        const srv_table *t = d->tables[i];
        const srv_partfn *f = t->partfn;
        int k = part_index(d, t);
        if (!f)
            continue;
        if (which == 0) {
            snprintf(text[0], sizeof text[0], "%s", f->name);
            srv_val r[] = {sv_str(text[0], strlen(text[0])), sv_int(65536 + k), sv_str("R ", 2), sv_str("RANGE", 5),
                           sv_int((int64_t)f->nb + 1), sv_int(f->range_right), sv_int(0)};
            add_row(v, r);
        } else if (which == 1) {
            snprintf(text[0], sizeof text[0], "%s", f->scheme);
            srv_val r[] = {sv_str(text[0], strlen(text[0])), sv_int(65600 + k), sv_str("PS", 2),
                           sv_str("PARTITION_SCHEME", 16), sv_int(0), sv_int(0), sv_int(65536 + k)};
            add_row(v, r);
        } else {
            for (size_t b = 0; b < f->nb; b++) {
                srv_val r[] = {sv_int(65536 + k), sv_int((int64_t)b + 1), sv_int(1),
                               bound_val(t, &f->b[b], scratch, sizeof scratch)};
                add_row(v, r);
            }
        }
    }
}

srv_table *srv_partfn_view(const srv_database *d, const char *name)
{
    static const char *const fn[] = {"name:nvarchar(128)", "function_id:int", "type:char(2)", "type_desc:nvarchar(60)",
                                     "fanout:int", "boundary_value_on_right:bit", "is_system:bit"};
    static const char *const ps[] = {"name:nvarchar(128)", "data_space_id:int", "type:char(2)", "type_desc:nvarchar(60)",
                                     "is_default:bit", "is_system:bit", "function_id:int"};
    static const char *const rv[] = {"function_id:int", "boundary_id:int", "parameter_id:int", "value:sql_variant"};
    int which = srv_ieq(name, "partition_functions") ? 0 : srv_ieq(name, "partition_schemes") ? 1
              : srv_ieq(name, "partition_range_values") ? 2 : -1;
    if (which < 0)
        return NULL;
    srv_table *v = which == 0 ? view_new(name, fn, 7) : which == 1 ? view_new(name, ps, 7) : view_new(name, rv, 4);
    if (v)
        rows_of(v, d, which);
    return v;
}
