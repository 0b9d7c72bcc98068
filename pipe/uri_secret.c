/*
 * uri_secret.c — finds the password and token parts of a URI
 * (uri_secret.h): one parser for what redact.c hides from messages and
 * cli/secrets.c overwrites in argv, so the two never disagree.
 */
#include <ctype.h>
#include <string.h>

#include "uri_secret.h"

/* Does query key k (n bytes) name a secret? */
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

void pipe__uri_secrets(const char *uri, const char *seps, pipe__secret_fn *fn, void *ud)
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
        fn(ud, colon + 1, (size_t)(at - colon - 1), false);
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        const char *e = p + strcspn(p, seps);
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq && secret_key(p, (size_t)(eq - p)))
            fn(ud, eq + 1, (size_t)(e - eq - 1), true);
        p = *e == '&' ? e + 1 : NULL;
    }
}
