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
#include "uri_secret.h"

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

/* pipe__secret_fn: one secret of the URI out of the message */
static void redact_span(void *msg, const char *s, size_t n, bool query)
{
    redact_both(msg, s, n, query);
}

void pipe_redact_uri(char *msg, const char *uri)
{
    pipe__uri_secrets(uri, "&#", redact_span, msg);
}
