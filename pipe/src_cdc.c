/*
 * src_cdc.c — Change Data Capture sources (mssql+cdc://, sqlserver+cdc://,
 * azuresql+cdc://, azure-sql+cdc://), as far as they go today: the URI is
 * read by net_opts_from_uri like every SQL Server URI (so a bad one says
 * why, and capture_instance, dest_schema and poll_interval are checked),
 * then the load is refused with a usage error before anything connects.
 * A +cdc URI must never be read as a plain table: the rows would lack the
 * change columns and deletes. The reader of the change tables comes later
 * and replaces the refusal in cdc_open.
 */
#include <string.h>

#include "mssql_int.h"
#include "tds_ascii.h"

static bool cdc_accepts(const char *uri)
{
    static const char *const schemes[] = {"mssql+cdc://", "sqlserver+cdc://", "azuresql+cdc://",
                                          "azure-sql+cdc://", NULL};
    for (size_t i = 0; uri && schemes[i]; i++)
        if (!tds_ascii_ncasecmp(uri, schemes[i], strlen(schemes[i])))
            return true;
    return false;
}

static int cdc_open(const pipe_plan *p, pipe_source **out, tdspipe_error *err)
{
    *out = NULL;
    net_opts o;
    memset(&o, 0, sizeof o);
    int rc = pipe_mssql_opts(p->o, &o, err);
    net_opts_free(&o);
    if (rc)
        return rc;
    return pipe__fail(err, TDSPIPE_E_USAGE,
                      "Change Data Capture sources are not supported yet (mssql+ct:// reads Change Tracking)");
}

/* Never reached: open refuses every load. */
static int cdc_describe(pipe_source *s, pipe_desc *d, tdspipe_error *err)
{
    (void)s;
    (void)d;
    return pipe__fail(err, TDSPIPE_E_USAGE, "Change Data Capture sources are not supported yet");
}

static int cdc_read(pipe_source *s, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    (void)s;
    (void)p;
    (void)cb;
    (void)ud;
    return pipe__fail(err, TDSPIPE_E_USAGE, "Change Data Capture sources are not supported yet");
}

static void cdc_close(pipe_source *s) { (void)s; }

const pipe_source_vtable pipe_src_cdc = {
    .name = "mssql+cdc",
    .accepts = cdc_accepts,
    .open = cdc_open,
    .describe = cdc_describe,
    .read = cdc_read,
    .close = cdc_close,
};
