/*
 * secrets.c — keeps passwords and access tokens out of sight.
 *
 * Owns: overwriting the password/token part of the URIs in argv (and in
 * the environment strings they may have come from) once flags.c copied
 * them, so /proc/PID/cmdline and /proc/PID/environ show '*' instead; and
 * redacting a secret from a message before it is printed.
 * Invariant: overwrites are in place and keep lengths (argv memory cannot
 * grow).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_int.h"

static void stars(char *a, char *b)
{
    for (; a < b; a++)
        *a = '*';
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

void cli_secrets_scrub_uri(char *uri)
{
    if (!uri)
        return;
    char *start = strstr(uri, "://");
    if (!start)
        return;
    start += 3;
    char *q = strchr(start, '?');
    char *end = q ? q : start + strlen(start);
    /* user-info ends at the last '@' before the query (a password may hold
     * an unescaped '/' or '@') */
    char *at = NULL;
    for (char *p = start; p < end; p++)
        if (*p == '@')
            at = p;
    if (at) {
        char *colon = memchr(start, ':', (size_t)(at - start));
        if (colon)
            stars(colon + 1, at);
    }
    if (!q)
        return;
    char *p = q + 1;
    while (*p) {
        char *amp = strchr(p, '&');
        char *e = amp ? amp : p + strlen(p);
        char *eq = memchr(p, '=', (size_t)(e - p));
        if (eq && secret_key(p, (size_t)(eq - p)))
            stars(eq + 1, e);
        if (!amp)
            break;
        p = amp + 1;
    }
}

void cli_secrets_scrub_argv(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strstr(argv[i], "://"))
            cli_secrets_scrub_uri(argv[i]);
    static const char *const envs[] = {"SOURCE_URI", "INGESTR_SOURCE_URI", "DESTINATION_URI",
                                       "INGESTR_DESTINATION_URI", "DEST_URI", "INGESTR_DEST_URI", NULL};
    for (size_t i = 0; envs[i]; i++) {
        char *v = getenv(envs[i]);
        if (v)
            cli_secrets_scrub_uri(v);
    }
}

void cli_secrets_redact(char *msg, const char *secret)
{
    if (!msg || !secret)
        return;
    size_t n = strlen(secret);
    if (n < 3)
        return; /* too short to redact without mangling the message */
    char *p;
    while ((p = strstr(msg, secret))) {
        size_t rest = strlen(p + n);
        p[0] = p[1] = p[2] = '*';
        memmove(p + 3, p + n, rest + 1);
    }
}

/* ------------------------------------------------- registered secrets */

#define MAX_SECRETS 8
static const char *registered[MAX_SECRETS];
static char *owned[MAX_SECRETS];
static size_t nregistered;

void cli_secrets_register(const char *secret)
{
    if (secret && *secret && nregistered < MAX_SECRETS)
        registered[nregistered++] = secret;
}

void cli_secrets_register_uri(const char *uri)
{
    const char *start = uri ? strstr(uri, "://") : NULL;
    if (!start || nregistered >= MAX_SECRETS)
        return;
    start += 3;
    const char *q = strchr(start, '?');
    const char *end = q ? q : start + strlen(start);
    const char *at = NULL;
    for (const char *p = start; p < end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
    if (!colon || at == colon + 1)
        return;
    size_t n = (size_t)(at - colon - 1);
    char *c = malloc(n + 1);
    if (!c)
        return;
    memcpy(c, colon + 1, n);
    c[n] = '\0';
    owned[nregistered] = c;
    registered[nregistered++] = c;
}

void cli_secrets_redact_all(char *msg)
{
    for (size_t i = 0; i < nregistered; i++)
        cli_secrets_redact(msg, registered[i]);
}

void cli_secrets_forget(void)
{
    for (size_t i = 0; i < nregistered; i++) {
        if (owned[i]) {
            net_wipe(owned[i], strlen(owned[i]));
            free(owned[i]);
            owned[i] = NULL;
        }
        registered[i] = NULL;
    }
    nregistered = 0;
}
