/*
 * test_estimate.c — the row-count estimate behind the progress percentage
 * (pipe_select_estimate in pipe/mssql_select.c) as an embedder sees it:
 * tdspipe_progress.est_rows from sys.dm_db_partition_stats when
 * tdspipe_load_opts.estimate_rows asks for it, from sys.partitions when the
 * DMV is refused (no VIEW DATABASE STATE), -1 when not asked.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pipe.h"

typedef struct est_seen {
    int64_t first, last;
    int calls;
} est_seen;

static void on_progress(void *ud, const tdspipe_progress *p)
{
    est_seen *s = ud;
    if (!s->calls++)
        s->first = p->est_rows;
    s->last = p->est_rows;
}

/* Loads sales.narrow (rows rows) into a CSV file; returns what the
 * progress reports said of the estimate. */
static est_seen load(const char *name, unsigned long rows, const char *extra, bool ask)
{
    th_server srv;
    cr_assert(th_start(&srv, th_scenario_default(name, rows, extra), NULL), "tdstestd did not start");
    char uri[256], path[512], dest[600];
    snprintf(uri, sizeof uri, "mssql://sa:Secret%%231@127.0.0.1:%d/sales?encrypt=disable", srv.port);
    th_scenario("mkdir", "{}"); /* makes NET_TEST_TMP */
    snprintf(path, sizeof path, "%s/%s.%d.csv", NET_TEST_TMP, name, (int)getpid());
    snprintf(dest, sizeof dest, "csv:///%s", path); /* absolute under either path rule */
    est_seen s = {-2, -2, 0};
    tdspipe_load_opts o = {0};
    o.source_uri = uri;
    o.source_table = "narrow";
    o.dest_uri = dest;
    o.estimate_rows = ask;
    o.progress = on_progress;
    o.progress_ud = &s;
    tdspipe_error err;
    cr_assert_eq(tdspipe_load(&o, &err), TDSPIPE_OK, "%s", err.message);
    unlink(path);
    th_stop(&srv);
    return s;
}

Test(estimate, from_dm_db_partition_stats)
{
    est_seen s = load("est_dmv", 3000, "", true);
    cr_assert_gt(s.calls, 1);
    cr_assert_eq(s.first, 3000, "est_rows %lld", (long long)s.first);
    cr_assert_eq(s.last, 3000);
}

Test(estimate, falls_back_to_sys_partitions)
{
    /* the DMV refused as SQL Server refuses it to a login without VIEW
     * DATABASE STATE: the catalog view still answers */
    const char *refuse = "\"rules\": [{\"match\": \"dm_db_partition_stats\", \"error\": {\"number\": 297, "
                         "\"severity\": 16, \"state\": 1, \"message\": \"The user does not have permission to "
                         "perform this action.\"}}],";
    est_seen s = load("est_fallback", 2500, refuse, true);
    cr_assert_eq(s.first, 2500, "est_rows %lld", (long long)s.first);
}

Test(estimate, not_asked_is_unknown)
{
    est_seen s = load("est_off", 1500, "", false);
    cr_assert_eq(s.first, -1, "est_rows %lld", (long long)s.first);
}
