/*
 * secrets.c — keeps passwords and access tokens out of sight.
 *
 * Owns: overwriting the password/token part of the URIs in argv (and in
 * the environment strings they may have come from) once flags.c copied
 * them, so /proc/PID/cmdline and /proc/PID/environ show '*' instead (the
 * parts are found by pipe/uri_secret.c, as the load's redaction finds
 * them); and
 * redacting a secret from a message before it is printed.
 * Invariant: overwrites are in place and keep lengths (argv memory cannot
 * grow).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_int.h"
#include "uri_secret.h"

static void stars(char *a, char *b)
{
    for (; a < b; a++)
        *a = '*';
}

/* pipe__secret_fn: stars over one secret of the URI ud (writable: the
 * span is found again from the start of ud, not written through s) */
static void scrub_span(void *ud, const char *s, size_t n, bool query)
{
    (void)query;
    char *uri = ud;
    char *at = uri + (s - uri);
    stars(at, at + n);
}

void cli_secrets_scrub_uri(char *uri)
{
    pipe__uri_secrets(uri, "&", scrub_span, uri);
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

/* pipe__secret_fn: a copy of the user-info password, owned until
 * cli_secrets_forget() */
static void register_span(void *ud, const char *s, size_t n, bool query)
{
    (void)ud;
    if (query || !n || nregistered >= MAX_SECRETS)
        return;
    char *c = malloc(n + 1);
    if (!c)
        return;
    memcpy(c, s, n);
    c[n] = '\0';
    owned[nregistered] = c;
    registered[nregistered++] = c;
}

void cli_secrets_register_uri(const char *uri)
{
    pipe__uri_secrets(uri, "&", register_span, NULL);
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
