/*
 * ddb_query.c — build/ddb_query FILE.duckdb SQL: runs one query through
 * libduckdb (loaded at run time by the DuckDB sink's own loader,
 * sink/duckdb_load.c) and prints the result, one row a line, columns
 * separated by '|', NULL as \N. The demo (scripts/demo.sh) and the
 * end-to-end tests (tests/cli/e2e_*.sh) read DuckDB files back with it:
 * there is no duckdb CLI on the machine, and the check must go through
 * DuckDB itself, not through our writer.
 * Exit 0 with the rows, 1 with one line on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "duckdb_int.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ddb_query FILE.duckdb SQL\n");
        return 2;
    }
    char err[512];
    const sink_ddb_api *d = sink__ddb_load(NULL, err, sizeof err);
    if (!d) {
        fprintf(stderr, "ddb_query: %s\n", err);
        return 1;
    }
    sink_ddb_handle db = NULL, conn = NULL;
    char *oerr = NULL;
    if (d->duckdb_open_ext(argv[1], &db, NULL, &oerr) != SINK_DDB_SUCCESS) {
        fprintf(stderr, "ddb_query: cannot open %s: %s\n", argv[1], oerr ? oerr : "?");
        if (oerr)
            d->duckdb_free(oerr);
        return 1;
    }
    int rc = 1;
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    if (d->duckdb_connect(db, &conn) != SINK_DDB_SUCCESS) {
        fprintf(stderr, "ddb_query: cannot connect\n");
    } else if (d->duckdb_query(conn, argv[2], &r) != SINK_DDB_SUCCESS) {
        const char *m = d->duckdb_result_error(&r);
        m = m ? m : "query failed";
        fprintf(stderr, "ddb_query: %.*s\n", (int)strcspn(m, "\n"), m);
    } else {
        sink_ddb_idx nr = d->duckdb_row_count(&r), nc = d->duckdb_column_count(&r);
        for (sink_ddb_idx i = 0; i < nr; i++) {
            for (sink_ddb_idx j = 0; j < nc; j++) {
                char *v = d->duckdb_value_varchar(&r, j, i);
                printf("%s%s", j ? "|" : "", v ? v : "\\N");
                if (v)
                    d->duckdb_free(v);
            }
            putchar('\n');
        }
        rc = 0;
    }
    d->duckdb_destroy_result(&r);
    if (conn)
        d->duckdb_disconnect(&conn);
    d->duckdb_close(&db);
    return rc;
}
