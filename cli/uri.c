/*
 * uri.c — source and destination URIs of `tdspipe ingest`.
 *
 * Owns: mssql://, sqlserver://, azuresql://, azure-sql:// (and their +ct
 * forms) parsed with uriparser into net options — user and password
 * percent-decoded, host[\instance], port, database from the path, query
 * parameters (names decoded, '+' as space) handed to net_opts_set(), which
 * knows the ODBC-style keys (encrypt, TrustServerCertificate,
 * HostNameInCertificate, packet size, Authentication, app name,
 * connection timeout, driver…); and the destination schemes we can write.
 * Without uriparser's static archive (TDSCLI_NO_URIPARSER, the default on
 * Debian, which ships none) the source URI goes to net_opts_from_uri()
 * after uri_checks() rejects what uriparser would have.
 * Invariant: no message here quotes a URI, a user-info part or a password.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef TDSCLI_NO_URIPARSER
#include <uriparser/Uri.h>
#endif

#include "cli_int.h"

static const char *const mssql_schemes[] = {"mssql", "sqlserver", "azuresql", "azure-sql", NULL};

/* Lower-case scheme of uri into out; returns its length or -1. */
static int scheme_of(const char *uri, char *out, size_t cap)
{
    const char *sep = strstr(uri, "://");
    if (!sep || sep == uri || (size_t)(sep - uri) >= cap)
        return -1;
    size_t n = (size_t)(sep - uri);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)uri[i];
        if (!isalnum(c) && c != '+' && c != '-' && c != '.')
            return -1;
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    return (int)n;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return true;
    return false;
}

bool cli_uri_is_mssql(const char *uri)
{
    char sch[32];
    if (!uri || scheme_of(uri, sch, sizeof sch) < 0)
        return false;
    size_t n = strlen(sch);
    if (n > 3 && !strcmp(sch + n - 3, "+ct"))
        sch[n - 3] = '\0';
    return in_list(sch, mssql_schemes);
}

#ifndef TDSCLI_NO_URIPARSER
/* A decoded copy of a text range (percent-escapes; '+' kept). */
static char *range_dup(const UriTextRangeA *r)
{
    if (!r->first || !r->afterLast)
        return strdup("");
    size_t n = (size_t)(r->afterLast - r->first);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, r->first, n);
    s[n] = '\0';
    uriUnescapeInPlaceExA(s, URI_FALSE, URI_BR_DONT_TOUCH);
    return s;
}

static void free_secret(char *s)
{
    if (s) {
        net_wipe(s, strlen(s));
        free(s);
    }
}
#endif

/* net quotes a bad key as decoded: "%0A" must not break the line */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

static int fail(char *err, size_t cap, const char *fmt, const char *a)
{
    snprintf(err, cap, fmt, a);
    return CLI_EXIT_USAGE;
}

#ifndef TDSCLI_NO_URIPARSER
static int set_opt(net_opts *o, const char *key, const char *val, char *err, size_t cap)
{
    char why[300];
    if (net_opts_set(o, key, val, why, sizeof why) != NET_OK) {
        one_line(why);
        snprintf(err, cap, "source URI: %s", why);
        return CLI_EXIT_USAGE;
    }
    return 0;
}
#endif

/* Where uri stops being RFC 3986 text (a character that must be
 * percent-encoded, or a broken %XX escape), NULL when it is all valid.
 * A raw backslash is allowed when backslash is set: "host\instance". */
static const char *uri_bad_char(const char *uri, bool backslash)
{
    for (const char *p = uri; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                return p;
            p += 2;
        } else if (!(isalnum(c) || strchr("-._~:/?#[]@!$&'()*+,;=", c) || (backslash && c == '\\'))) {
            return p;
        }
    }
    return NULL;
}

#ifdef TDSCLI_NO_URIPARSER
/* Where the path of a source URI starts: after the authority, which ends
 * at the last '@' before the query (a password may hold '/'). */
static char *uri_path(char *uri)
{
    char *q = uri + strcspn(uri, "?");
    char *auth = strstr(uri, "://") + 3;
    for (char *p = auth; p < q; p++)
        if (*p == '@')
            auth = p + 1;
    return auth + strcspn(auth, "/?#");
}

/* What uriparser rejected and net_opts_from_uri takes: characters that
 * must be escaped, a path of several segments, a parameter without a
 * value. Messages never quote the URI (it holds the password). */
static int uri_checks(const char *uri, char *err, size_t errcap)
{
    if (uri_bad_char(uri, true))
        return fail(err, errcap, "malformed source URI (percent-encode characters such as @ : / ? # %% and spaces in the user name and password)%s", "");
    const char *q = uri + strcspn(uri, "?");
    const char *path = uri_path((char *)uri);
    int segs = 0;
    while (*path == '/') {
        size_t n = strcspn(path + 1, "/?#");
        if (n > 0 && ++segs > 1)
            return fail(err, errcap, "source URI path must be just the database name (mssql://…@host/db)%s", "");
        path += 1 + n;
    }
    if (*q == '?') {
        for (const char *k = q + 1; *k && *k != '#';) {
            size_t n = strcspn(k, "&#");
            if (n > 0 && !memchr(k, '=', n)) {
                char key[61];
                snprintf(key, sizeof key, "%.*s", (int)(n < 60 ? n : 60), k);
                return fail(err, errcap, "source URI parameter '%s' needs a value (key=value)", key);
            }
            k += n + (k[n] == '&');
        }
    }
    return 0;
}
#endif

int cli_uri_mssql(const char *uri, net_opts *o, bool *ct, char *err, size_t errcap)
{
    char sch[32];
    if (!uri || scheme_of(uri, sch, sizeof sch) < 0)
        return fail(err, errcap, "source URI has no scheme (expected mssql://user:password@host:1433/db)%s", "");
    size_t sl = strlen(sch);
    *ct = sl > 3 && !strcmp(sch + sl - 3, "+ct");
    if (*ct)
        sch[sl - 3] = '\0';
    if (!in_list(sch, mssql_schemes))
        return fail(err, errcap, "unsupported source scheme '%s' (use mssql, sqlserver, azuresql or azure-sql)", sch);

#ifdef TDSCLI_NO_URIPARSER
    /* No uriparser archive (Debian ships none; the binary must need only
     * libc): net's own URI parser, same rules (percent-escapes,
     * host\instance, ODBC keys), after the checks uriparser would make. */
    int rc = uri_checks(uri, err, errcap);
    if (rc)
        return rc;
    if (!strcmp(sch, "azuresql") || !strcmp(sch, "azure-sql"))
        o->encrypt = NET_ENCRYPT_MANDATORY; /* Azure: encrypt=true unless the URI says otherwise */
    /* uriparser skipped empty path segments ("/db/" names db): drop them
     * from a copy (it holds the password: wiped after use) */
    char *copy = strdup(uri);
    if (!copy)
        return fail(err, errcap, "out of memory%s", "");
    char *path = uri_path(copy);
    size_t plen = strcspn(path, "?#"), k = 0;
    for (size_t i = 0; i < plen; i++)
        if (path[i] != '/' || (i + 1 < plen && path[i + 1] != '/'))
            path[k++] = path[i];
    memmove(path + k, path + plen, strlen(path + plen) + 1);
    char why[300];
    int nrc = net_opts_from_uri(o, copy, why, sizeof why);
    net_wipe(copy, strlen(copy));
    free(copy);
    if (nrc != NET_OK) {
        one_line(why);
        snprintf(err, errcap, "source URI: %s", why);
        return CLI_EXIT_USAGE;
    }
    return 0;
#else
    /* "host\instance" is common in SQL Server land; a raw backslash is not
     * a URI character, so escape it before parsing. */
    size_t n = strlen(uri), extra = 0;
    for (size_t i = 0; i < n; i++)
        extra += uri[i] == '\\' ? 2 : 0;
    char *text = malloc(n + extra + 1);
    if (!text)
        return fail(err, errcap, "out of memory%s", "");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (uri[i] == '\\') {
            memcpy(text + k, "%5C", 3);
            k += 3;
        } else {
            text[k++] = uri[i];
        }
    }
    text[k] = '\0';

    UriUriA u;
    const char *epos = NULL;
    int rc = 0;
    char *user = NULL, *pass = NULL, *host = NULL, *port = NULL, *db = NULL;
    UriQueryListA *ql = NULL;
    if (uriParseSingleUriA(&u, text, &epos) != URI_SUCCESS) {
        net_wipe(text, strlen(text));
        free(text);
        return fail(err, errcap, "malformed source URI (percent-encode characters such as @ : / ? # %% in the user name and password)%s", "");
    }
    if (!u.hostText.first || u.hostText.first == u.hostText.afterLast) {
        rc = fail(err, errcap, "source URI has no host (expected mssql://user:password@host:1433/db)%s", "");
        goto out;
    }
    if (u.userInfo.first) {
        const char *c = memchr(u.userInfo.first, ':', (size_t)(u.userInfo.afterLast - u.userInfo.first));
        UriTextRangeA ur = {u.userInfo.first, c ? c : u.userInfo.afterLast};
        user = range_dup(&ur);
        if (c) {
            UriTextRangeA pr = {c + 1, u.userInfo.afterLast};
            pass = range_dup(&pr);
        }
        if (!user || (c && !pass)) {
            rc = fail(err, errcap, "out of memory%s", "");
            goto out;
        }
    }
    host = range_dup(&u.hostText);
    if (!host) {
        rc = fail(err, errcap, "out of memory%s", "");
        goto out;
    }
    if ((rc = set_opt(o, "server", host, err, errcap)))
        goto out;
    if (u.portText.first && u.portText.first != u.portText.afterLast) {
        port = range_dup(&u.portText);
        if (!port || (rc = set_opt(o, "port", port, err, errcap)))
            goto out;
    }
    if (user && *user && (rc = set_opt(o, "user", user, err, errcap)))
        goto out;
    if (pass && (rc = set_opt(o, "password", pass, err, errcap)))
        goto out;
    /* path: /database (one segment) */
    int segs = 0;
    for (UriPathSegmentA *p = u.pathHead; p; p = p->next) {
        if (p->text.first == p->text.afterLast)
            continue;
        if (++segs > 1) {
            rc = fail(err, errcap, "source URI path must be just the database name (mssql://…@host/db)%s", "");
            goto out;
        }
        free(db);
        db = range_dup(&p->text);
        if (!db) {
            rc = fail(err, errcap, "out of memory%s", "");
            goto out;
        }
    }
    if (db && *db && (rc = set_opt(o, "database", db, err, errcap)))
        goto out;
    if (!strcmp(sch, "azuresql") || !strcmp(sch, "azure-sql"))
        o->encrypt = NET_ENCRYPT_MANDATORY; /* Azure: encrypt=true by default */
    if (u.query.first && u.query.first != u.query.afterLast) {
        int count = 0;
        if (uriDissectQueryMallocExA(&ql, &count, u.query.first, u.query.afterLast, URI_TRUE,
                                     URI_BR_DONT_TOUCH) != URI_SUCCESS) {
            rc = fail(err, errcap, "malformed query string in the source URI%s", "");
            goto out;
        }
        for (UriQueryListA *q = ql; q; q = q->next) {
            if (!q->key || !*q->key)
                continue;
            if (!q->value) {
                rc = fail(err, errcap, "source URI parameter '%.60s' needs a value (key=value)", q->key);
                goto out;
            }
            if ((rc = set_opt(o, q->key, q->value, err, errcap)))
                goto out;
        }
    }
out:
    if (ql) {
        for (UriQueryListA *q = ql; q; q = q->next)
            if (q->value)
                net_wipe((char *)q->value, strlen(q->value));
        uriFreeQueryListA(ql);
    }
    uriFreeUriMembersA(&u);
    free_secret(user);
    free_secret(pass);
    free(host);
    free(port);
    free(db);
    net_wipe(text, strlen(text));
    free(text);
    return rc;
#endif /* TDSCLI_NO_URIPARSER */
}

int cli_uri_dest(const char *uri, sink_options *so, char *err, size_t errcap)
{
    static const char *const files[] = {"csv", "jsonl", "duckdb", "sqlite", NULL};
    static const char *const dbs[] = {"postgresql", "postgres", NULL};
    char sch[32];
    memset(so, 0, sizeof *so);
    if (!uri || scheme_of(uri, sch, sizeof sch) < 0)
        return fail(err, errcap, "destination URI has no scheme (e.g. duckdb:///out.duckdb)%s", "");
    if (cli_uri_is_mssql(uri)) { /* net_opts_from_uri reads it at sink_open */
        if (strstr(sch, "+ct"))
            return fail(err, errcap, "'%s' is a source scheme; use mssql:// for a destination", sch);
        return 0;
    }
    if (!strcmp(sch, "discard"))
        return 0;
    const char *rest = strstr(uri, "://") + 3;
    if (in_list(sch, files)) {
        const char *path = rest;
        if (*path == '/')
            path++;
        if (!*path || path[strlen(path) - 1] == '/')
            return fail(err, errcap, "destination URI has no file path (e.g. %s:///out.file)", sch);
        if ((!strcmp(sch, "csv") || !strcmp(sch, "jsonl")) && strchr(path, '?'))
            return fail(err, errcap, "%s destination URIs take no parameters", sch);
        return 0;
    }
    if (in_list(sch, dbs)) {
        /* well-formed is all we check: libpq reads the rest (an empty host
         * means its local socket) */
        if (uri_bad_char(uri, false))
            return fail(err, errcap, "malformed destination URI (percent-encode special characters in the password)%s", "");
        return 0;
    }
    return fail(err, errcap,
                "unsupported destination scheme '%s' (use duckdb, postgresql, sqlite, csv, jsonl or discard)", sch);
}
