/*
 * load_dest.c — the destination URI before anything is opened: a scheme
 * sink_find() knows (the sinks' registry is the only list of
 * destinations), and a URI with credentials that is well-formed RFC 3986
 * text (libpq would otherwise read a password with a raw space as
 * something else). SQL Server destinations are checked by
 * net_opts_from_uri inside their sink, the parser every SQL Server URI
 * goes through. parquet:// is checked by its path (ingestr's file rule)
 * so a malformed one says why before anything starts. Also: the database
 * file a failed load must not leave behind.
 * Invariant: no message quotes the URI.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "load_int.h"
#include "mssql_int.h"
#include "tds_ascii.h"

/* The scheme's length, or -1 when uri has no well-formed "scheme://". */
static int scheme_len(const char *uri)
{
    const char *sep = uri ? strstr(uri, "://") : NULL;
    if (!sep || sep == uri || sep - uri >= 32)
        return -1;
    for (const char *p = uri; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return -1;
    return (int)(sep - uri);
}

/* True when uri is RFC 3986 text: no character that must be
 * percent-encoded, no broken %XX escape. */
static bool uri_text_ok(const char *uri)
{
    for (const char *p = uri; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                return false;
            p += 2;
        } else if (!isalnum(c) && !strchr("-._~:/?#[]@!$&'()*+,;=", c)) {
            return false;
        }
    }
    return true;
}

/* "csv, jsonl, … or discard" from the registry. */
static void scheme_list(char *out, size_t cap)
{
    const sink_vtable *const *r = sink_registry();
    size_t n = 0, len = 0;
    while (r[n])
        n++;
    out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", r[i]->scheme);
        len += w > 0 ? (size_t)w : 0;
    }
}

/* parquet://PATH: read by ingestr's file rule, so a malformed one says
 * why before the source is read. */
static int parquet_check(const char *uri, tdspipe_error *err)
{
    char *path = NULL, why[300];
    if (sink_file_path(uri, &path, why, sizeof why))
        return pipe__fail(err, TDSPIPE_E_USAGE, "parquet destination: %s", why);
    free(path);
    return 0;
}

int pipe_dest_check(const char *uri, tdspipe_error *err)
{
    int n = scheme_len(uri);
    if (n < 0)
        return pipe__fail(err, TDSPIPE_E_USAGE, "destination URI has no scheme (e.g. duckdb:///out.duckdb)");
    if (n == 7 && !tds_ascii_ncasecmp(uri, "parquet", 7)) {
        int rc = parquet_check(uri, err);
        if (rc)
            return rc;
    }
    if (!sink_find(uri, (size_t)n)) {
        if (pipe_mssql_scheme(uri, true) || pipe_src_cdc.accepts(uri))
            return pipe__fail(err, TDSPIPE_E_USAGE, "'%.*s' is a source scheme; use mssql:// for a destination", n,
                              uri);
        char list[300];
        scheme_list(list, sizeof list);
        return pipe__fail(err, TDSPIPE_E_USAGE, "unsupported destination scheme '%.*s' (use %s)", n, uri, list);
    }
    if (pipe_mssql_scheme(uri, false))
        return 0;
    const char *auth = uri + n + 3, *q = auth + strcspn(auth, "?");
    const char *at = memchr(auth, '@', (size_t)(q - auth));
    if (at && !uri_text_ok(uri))
        return pipe__fail(err, TDSPIPE_E_USAGE,
                          "malformed destination URI (percent-encode special characters in the password)");
    return 0;
}

/* sqlite:// and duckdb:// open (and so create) their file at sink_open:
 * the file they name (sink_db_file), when it does not exist yet. */
char *pipe_dest_new_file(const char *uri)
{
    char *path = sink_db_file(uri);
    if (path && access(path, F_OK) == 0) {
        free(path);
        return NULL;
    }
    return path;
}

void pipe_dest_remove_file(const char *path)
{
    static const char *const sidecars[] = {"", ".wal", "-journal", "-wal", "-shm", NULL};
    for (size_t i = 0; sidecars[i]; i++) {
        char buf[4096];
        if ((size_t)snprintf(buf, sizeof buf, "%s%s", path, sidecars[i]) < sizeof buf)
            unlink(buf);
    }
}
