/*
 * uri_secret.h — where a URI keeps its secrets (uri_secret.c), shared by
 * the load engine's message redaction (redact.c) and the CLI's argv
 * scrubbing (cli/secrets.c). Internal: not installed.
 */
#ifndef TDSPIPE_URI_SECRET_H
#define TDSPIPE_URI_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* One secret of a URI: n bytes at s (inside the URI, not terminated);
 * query: a query value (where '+' means a space), else the password of
 * the user-info. */
typedef void pipe__secret_fn(void *ud, const char *s, size_t n, bool query);

/* Calls fn for the password of uri's user-info ("scheme://user:pw@host",
 * even when empty) and for each query value whose key names a password or
 * token ("password", "pwd", "access_token", "token", "sslpassword";
 * case, '_', '-', ' ' and escapes ignored). A query parameter ends at any
 * of seps ("&" or "&#"); the walk stops at a separator other than '&'.
 * uri NULL or without "://": no call. */
void pipe__uri_secrets(const char *uri, const char *seps, pipe__secret_fn *fn, void *ud);

#endif
