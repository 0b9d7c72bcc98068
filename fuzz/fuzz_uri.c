/*
 * fuzz_uri.c — the URI parsers of `tdspipe ingest` on arbitrary text:
 * cli_uri_mssql (cli/uri.c: the checks uriparser would make, then
 * net_opts_from_uri in net/options.c, the default parser since Debian
 * ships no static uriparser), net_opts_from_uri alone, and cli_uri_dest.
 * The first byte picks the entry point; the rest is the URI. Checked:
 * no crash, leak or undefined behaviour; a refusal has a one-line message;
 * an accepted source URI names a host; and a password placed in the
 * user-info never appears in a message.
 */
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

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
    uint8_t mode = data[0] % 4;
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
    bool ct;
    memset(&o, 0, sizeof o);
    switch (mode) {
    case 0: /* as given */
        if (cli_uri_mssql(text, &o, &ct, err, sizeof err) == 0) {
            if (!o.host)
                abort();
        } else {
            check_msg(err, 1);
        }
        break;
    case 1: { /* a password in the user-info, the rest from the input */
        char *u = malloc(n + 64);
        if (!u)
            break;
        strcpy(u, "mssql://user:" CANARY "@");
        strcat(u, text);
        if (cli_uri_mssql(u, &o, &ct, err, sizeof err) == 0) {
            if (!o.host || !o.password)
                abort();
        } else {
            check_msg(err, quote_ok);
        }
        free(u);
        break;
    }
    case 2: /* net's parser alone quotes decoded keys as they are (the CLI
             * replaces control characters): no message check here */
        if (net_opts_from_uri(&o, text, err, sizeof err) != NET_OK && !err[0])
            abort();
        break;
    default: {
        sink_options so;
        if (cli_uri_dest(text, &so, err, sizeof err) != 0)
            check_msg(err, 1);
        break;
    }
    }
    net_opts_free(&o);
    free(text);
    return 0;
}
