/*
 * fuzz_uri.c — the URI parsers of a load on arbitrary text: a SQL Server
 * source URI as the source reads it (pipe_mssql_opts: net_opts_from_uri,
 * the one parser of SQL Server URIs, with the source's wording),
 * net_opts_from_uri alone, the destination check (pipe_dest_check), and
 * the parameters of parquet:// and duckdb:// (sink__pq_target,
 * sink__ddb_uri). The first byte picks the entry point; the rest is the
 * URI. Checked: no crash, leak or undefined behaviour; a refusal has a
 * one-line message; an accepted source URI names a host; an accepted
 * file destination has a path and 1 to 64 threads; and a password placed
 * in the user-info never appears in a message.
 */
#include <stdlib.h>
#include <string.h>

#include "load_int.h"
#include "mssql_int.h"
/* the sinks' own (their mssql_int.h is another file) */
#include "../sink/duckdb_sink.h"
#include "../sink/parquet_int.h"

#define CANARY "SECRETPW"

static void check_msg(const char *err, int quote_ok)
{
    if (!err[0] || strchr(err, '\n'))
        abort(); /* refusals say why, on one line */
    if (!quote_ok && strstr(err, CANARY))
        abort(); /* the password leaked into a message */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    uint8_t mode = data[0] % 6;
    char *text = malloc(size + 64);
    if (!text)
        return 0;
    size_t n = size - 1;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    /* the canary may be quoted only if the input could spell it itself */
    int quote_ok = memchr(text, '%', n) || strstr(text, "SECRET") || strlen(text) != n;
    char err[512] = "";
    net_opts o;
    memset(&o, 0, sizeof o);
    tdspipe_load_opts lo;
    memset(&lo, 0, sizeof lo);
    tdspipe_error e;
    memset(&e, 0, sizeof e);
    switch (mode) {
    case 0: /* as given */
        lo.source_uri = text;
        if (pipe_mssql_opts(&lo, &o, &e) == 0) {
            if (!o.host)
                abort();
        } else {
            check_msg(e.message, 1);
        }
        break;
    case 1: { /* a password in the user-info, the rest from the input */
        char *u = malloc(n + 64);
        if (!u)
            break;
        strcpy(u, "mssql://user:" CANARY "@");
        strcat(u, text);
        lo.source_uri = u;
        if (pipe_mssql_opts(&lo, &o, &e) == 0) {
            if (!o.host || !o.password)
                abort();
        } else {
            check_msg(e.message, quote_ok);
        }
        free(u);
        break;
    }
    case 2: /* net's parser alone quotes decoded keys as they are (the
             * source replaces control characters): no message check here */
        if (net_opts_from_uri(&o, text, err, sizeof err) != NET_OK && !err[0])
            abort();
        break;
    case 4: { /* parquet://TEXT */
        pq_target t;
        if (sink__pq_target(text, &t, err, sizeof err) == 0) {
            if (!t.path || t.threads < 1 || t.threads > SINK_DDB_MAX_THREADS || !t.compression[0])
                abort();
            sink__pq_target_free(&t);
        } else {
            check_msg(err, 1);
        }
        break;
    }
    case 5: { /* duckdb://TEXT */
        char *path = NULL;
        unsigned threads = 0;
        if (sink__ddb_uri(text, &path, &threads, err, sizeof err) == 0) {
            if (!path || !path[0] || threads < 1 || threads > SINK_DDB_MAX_THREADS)
                abort();
            free(path);
        } else {
            check_msg(err, 1);
        }
        break;
    }
    default: {
        if (pipe_dest_check(text, &e) != 0)
            check_msg(e.message, 1);
        break;
    }
    }
    net_opts_free(&o);
    free(text);
    return 0;
}
