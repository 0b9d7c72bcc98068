/*
 * redact.c — the passwords and tokens of a load's URIs never reach a
 * message it returns: each is replaced by "***", as written in the URI
 * and percent-decoded (a server or a sink may quote either). Per load,
 * from the options: no process-wide registry.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "load_int.h"
#include "net.h"

static void redact(char *msg, const char *secret, size_t n)
{
    if (n < 3)
        return; /* too short to redact without mangling the message */
    char *p;
    char s[512];
    if (n >= sizeof s)
        n = sizeof s - 1;
    memcpy(s, secret, n);
    s[n] = '\0';
    while ((p = strstr(msg, s))) {
        size_t rest = strlen(p + n);
        p[0] = p[1] = p[2] = '*';
        memmove(p + 3, p + n, rest + 1);
    }
    net_wipe(s, sizeof s);
}

static int hex(int c) { return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10; }

/* secret as written, then percent-decoded ('+' as space in a query). */
static void redact_both(char *msg, const char *secret, size_t n, bool query)
{
    redact(msg, secret, n);
    char d[512];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < sizeof d; i++) {
        if (secret[i] == '%' && i + 2 < n && isxdigit((unsigned char)secret[i + 1]) &&
            isxdigit((unsigned char)secret[i + 2])) {
            d[k++] = (char)(hex((unsigned char)secret[i + 1]) * 16 + hex((unsigned char)secret[i + 2]));
            i += 2;
        } else {
            d[k++] = query && secret[i] == '+' ? ' ' : secret[i];
        }
    }
    redact(msg, d, k);
    net_wipe(d, sizeof d);
}

static bool secret_key(const char *k, size_t n)
{
    static const char *const keys[] = {"password", "pwd", "accesstoken", "token", "sslpassword", NULL};
    char norm[32];
    size_t m = 0;
    for (size_t i = 0; i < n && m + 1 < sizeof norm; i++) {
        if (k[i] == '_' || k[i] == ' ' || k[i] == '-' || k[i] == '+')
            continue;
        if (k[i] == '%') { /* "%20" inside a key: skip the escape */
            i += 2;
            continue;
        }
        norm[m++] = (char)tolower((unsigned char)k[i]);
    }
    norm[m] = '\0';
    for (size_t i = 0; keys[i]; i++)
        if (!strcmp(norm, keys[i]))
            return true;
    return false;
}

void pipe_redact_uri(char *msg, const char *uri)
{
    const char *start = uri ? strstr(uri, "://") : NULL;
    if (!start)
        return;
    start += 3;
    const char *q = strchr(start, '?');
    const char *end = q ? q : start + strlen(start);
    /* user-info ends at the last '@' before the query (a password may
     * hold an unescaped '/' or '@') */
    const char *at = NULL;
    for (const char *p = start; p < end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (colon)
        redact_both(msg, colon + 1, (size_t)(at - colon - 1), false);
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        const char *e = p + strcspn(p, "&#");
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq && secret_key(p, (size_t)(eq - p)))
            redact_both(msg, eq + 1, (size_t)(e - eq - 1), true);
        p = *e == '&' ? e + 1 : NULL;
    }
}
