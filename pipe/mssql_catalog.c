/*
 * mssql_catalog.c — the columns and primary key of a SQL Server table
 * source, read with the catalog query shapes tests/server/README.md
 * documents (plain INFORMATION_SCHEMA that SQL Server answers too).
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mssql_int.h"

typedef struct cat_read {
    pipe_list *a, *b;
    int ncols;
    int fail;
} cat_read;

static int cat_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    cat_read *r = ud;
    pipe_list *dst[2] = {r->a, r->b};
    for (int i = 0; i < 2 && i < ncols; i++) {
        if (!dst[i])
            continue;
        char buf[1024];
        size_t len = 0;
        if (vals[i].flags & TDS_VF_NULL) {
            buf[0] = '\0';
        } else if (tds_value_text(&cols[i], &vals[i], buf, sizeof buf, &len) != TDS_OK) {
            r->fail = 1;
            return NET_ROW_ABORT;
        }
        if (pipe_list_add(dst[i], buf, len)) {
            r->fail = 1;
            return NET_ROW_ABORT;
        }
    }
    return NET_ROW_NEXT;
}

static int run_list(net_client *cl, const char *sql, pipe_list *a, pipe_list *b, char *err, size_t cap)
{
    cat_read r = {a, b, 0, 0};
    net_result_cb cb = {0};
    cb.row = cat_row;
    net_error e;
    memset(&e, 0, sizeof e);
    /* transient faults (Azure failovers…) are retried per the URI's retries: no
     * row has reached the destination yet */
    int rc = net_client_batch_retry(cl, sql, &cb, &r, &e);
    if (r.fail) {
        snprintf(err, cap, "cannot read the catalog: a name did not decode");
        return TDSPIPE_E_LOAD;
    }
    if (rc != NET_OK) {
        snprintf(err, cap, "reading the catalog: %s", e.message[0] ? e.message : net_strerror(rc));
        return TDSPIPE_E_LOAD;
    }
    return 0;
}

int pipe_catalog_read(net_client *cl, const pipe_mssql_name *n, pipe_catalog *cat, char *err, size_t cap)
{
    memset(cat, 0, sizeof *cat);
    char *qs = pipe_mssql_quote_str(n->schema), *qt = pipe_mssql_quote_str(n->table);
    char *qd = n->db ? pipe_mssql_quote_ident(n->db) : NULL;
    int rc = TDSPIPE_E_LOAD;
    char *sql = NULL;
    if (!qs || !qt || (n->db && !qd)) {
        snprintf(err, cap, "out of memory");
        goto out;
    }
    size_t len = 2048 + strlen(qs) * 2 + strlen(qt) * 2 + (qd ? strlen(qd) * 3 : 0);
    sql = malloc(len);
    if (!sql) {
        snprintf(err, cap, "out of memory");
        goto out;
    }
    const char *pre = qd ? qd : "", *dot = qd ? "." : "";
    snprintf(sql, len,
             "SELECT COLUMN_NAME, DATA_TYPE FROM %s%sINFORMATION_SCHEMA.COLUMNS "
             "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
             pre, dot, qs, qt);
    if ((rc = run_list(cl, sql, &cat->names, &cat->types, err, cap)))
        goto out;
    if (!cat->names.n) {
        snprintf(err, cap, "source table %s%s%s.%s does not exist (or has no columns you may read)",
                 n->db ? n->db : "", n->db ? "." : "", n->schema, n->table);
        rc = TDSPIPE_E_LOAD;
        goto out;
    }
    snprintf(sql, len,
             "SELECT kcu.COLUMN_NAME FROM %s%sINFORMATION_SCHEMA.TABLE_CONSTRAINTS tc "
             "JOIN %s%sINFORMATION_SCHEMA.KEY_COLUMN_USAGE kcu ON tc.CONSTRAINT_NAME = kcu.CONSTRAINT_NAME "
             "AND tc.TABLE_SCHEMA = kcu.TABLE_SCHEMA AND tc.TABLE_NAME = kcu.TABLE_NAME "
             "WHERE tc.CONSTRAINT_TYPE = 'PRIMARY KEY' AND tc.TABLE_SCHEMA = %s AND tc.TABLE_NAME = %s "
             "ORDER BY kcu.ORDINAL_POSITION",
             pre, dot, pre, dot, qs, qt);
    rc = run_list(cl, sql, &cat->pk, NULL, err, cap);
out:
    free(sql);
    free(qs);
    free(qt);
    free(qd);
    return rc;
}

void pipe_catalog_free(pipe_catalog *c)
{
    pipe_list_free(&c->names);
    pipe_list_free(&c->types);
    pipe_list_free(&c->pk);
}
