/*
 * exec_sub.c — subqueries: a derived table "(SELECT …) AS a" or a common
 * table expression reference is run into a temporary table the outer
 * query reads like any other source (each reference runs the query once,
 * as SQL Server evaluates a CTE per reference); EXISTS (SELECT …) opens
 * the subquery inside the outer query's current row (correlated names
 * bind outward, exec_select.c) and stops at its first row.
 *
 * The temporary table belongs to no database; its reference is dropped
 * with the result set that reads it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "query_int.h"

srv_table *sub_table(srv_cursor *cur, const sql_select *sel, const char *name, int32_t *err, char *msg, size_t cap)
{
    srv_rs *rs = srv_rs_open(cur, sel, err, msg, cap);
    if (!rs)
        return NULL;
    srv_table *t = NULL;
    const tds_value *vals;
    const srv_coldef *defs;
    int n = srv_rs_defs(rs, &defs);
    for (int i = 0; i < n && n > 0; i++) {
        /* SQL Server names every column of a derived table, once */
        if (!defs[i].name[0]) {
            *err = 8155;
            snprintf(msg, cap, "No column name was specified for column %d of '%s'.", i + 1, name);
            goto out;
        }
        for (int j = 0; j < i; j++)
            if (srv_ieq(defs[i].name, defs[j].name)) {
                *err = 8156;
                snprintf(msg, cap, "The column '%s' was specified multiple times for '%s'.", defs[i].name, name);
                goto out;
            }
    }
    if (n <= 0 || !(t = srv_table_new("dbo", name, defs, (uint16_t)n)))
        goto oom;
    for (;;) {
        int r = srv_rs_next(rs);
        if (r > 0 && srv_rs_project(rs, &vals, &defs) < 0)
            r = -1;
        if (r < 0) {
            srv_rs_error(rs, err, msg, cap);
            srv_table_unref(t);
            t = NULL;
            goto out;
        }
        if (!r)
            break;
        uint64_t off = srv_table_heap_put(t, vals);
        if (off == UINT64_MAX || srv_table_append(t, off) < 0)
            goto oom;
    }
    goto out;
oom:
    if (t)
        srv_table_unref(t);
    t = NULL;
    *err = 701;
    snprintf(msg, cap, "There is insufficient system memory to run this query.");
out:
    srv_rs_free(rs);
    return t;
}

int sub_exists(srv_cursor *cur, const sql_select *sel, srv_rs *parent, int32_t *err, char *msg, size_t cap)
{
    srv_rs *rs = srv_rs_open_in(cur, sel, parent, err, msg, cap);
    if (!rs)
        return -1;
    int r = srv_rs_next(rs);
    if (r < 0)
        srv_rs_error(rs, err, msg, cap);
    srv_rs_free(rs);
    return r < 0 ? -1 : r > 0;
}
