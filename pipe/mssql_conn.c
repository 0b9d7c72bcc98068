/*
 * mssql_conn.c — a SQL Server source's URI and connection: the scheme
 * family (mssql, sqlserver, azuresql, azure-sql, each also "+ct"), the URI
 * read by net_opts_from_uri (the one parser of SQL Server URIs, sources
 * and destinations alike), the load's flags over the URI's settings, and
 * the connection with the load's cancel flag.
 * Invariant: no message here quotes the URI (it holds the password).
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mssql_int.h"
#include "tds_ascii.h"

bool pipe_mssql_scheme(const char *uri, bool ct)
{
    static const char *const schemes[] = {"mssql", "sqlserver", "azuresql", "azure-sql", NULL};
    const char *sep = uri ? strstr(uri, "://") : NULL;
    if (!sep)
        return false;
    size_t n = (size_t)(sep - uri);
    if (ct) {
        if (n < 3 || tds_ascii_ncasecmp(sep - 3, "+ct", 3))
            return false;
        n -= 3;
    }
    for (size_t i = 0; schemes[i]; i++)
        if (strlen(schemes[i]) == n && !tds_ascii_ncasecmp(uri, schemes[i], n))
            return true;
    return false;
}

/* net's reasons say "URI"; ours say which one ("malformed source URI",
 * "source URI path must be…"). Decoded control characters become '?'. */
static void source_reason(const char *why, char *out, size_t cap)
{
    const char *u = strstr(why, "URI");
    if (u)
        snprintf(out, cap, "%.*ssource %s", (int)(u - why), why, u);
    else
        snprintf(out, cap, "source URI: %s", why);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int pipe_mssql_opts(const tdspipe_load_opts *lo, net_opts *o, tdspipe_error *err)
{
    char why[400] = "", msg[500];
    if (net_opts_from_uri(o, lo->source_uri, why, sizeof why) != NET_OK) {
        source_reason(why, msg, sizeof msg);
        return pipe__fail(err, TDSPIPE_E_USAGE, "%s", msg);
    }
    /* Flags win over the URI's parameters. */
    if (lo->query_timeout_s > 0)
        o->query_timeout_ms = (uint32_t)(lo->query_timeout_s * 1000);
    if (lo->retries > 0)
        o->retries = (unsigned)lo->retries;
    else if (lo->retries == TDSPIPE_NO_RETRIES)
        o->retries = 0;
    else if (o->retries == 0)
        o->retries = 3; /* transient Azure faults are routine */
    return 0;
}

int pipe_mssql_connect(const tdspipe_load_opts *lo, net_opts *o, net_client **out, tdspipe_error *err)
{
    /* (max) values stream in chunks, so no value is bounded by the
     * engine's 64 MiB row buffer */
    o->stream_plp = true;
    o->cancel_flag = lo->cancel; /* the login and its retries too */
    net_error ne;
    memset(&ne, 0, sizeof ne);
    *out = net_client_open(o, &ne);
    if (!*out)
        return pipe__fail(err, TDSPIPE_E_LOAD, "cannot connect to SQL Server: %s",
                          ne.message[0] ? ne.message : net_strerror(ne.code));
    net_client_cancel_flag(*out, lo->cancel);
    return 0;
}
