/*
 * entra_reply.c — a token reply (JSON) into an entra_token or a one-line
 * error. One parser for every identity source: the v2.0 token endpoint
 * {access_token, expires_in} and its errors {error, error_description,
 * error_codes}; managed identity endpoints (expires_in/expires_on as
 * numbers or as strings of digits); az's {accessToken, expires_on |
 * expiresOn (local time "YYYY-MM-DD HH:MM:SS.ffffff")}.
 *
 * The reply is untrusted (fuzz/fuzz_entra_reply.c) and holds a token: the
 * error line is built only from error_description's first line (Entra puts
 * trace and correlation ids on the next lines), the error code and the
 * HTTP status, never from the body; every string cJSON copied out of the
 * body is wiped before the tree is freed. cJSON comes from net/json_load.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "entra_int.h"
#include "json_load.h"
#include "net_int.h"

#define ENTRA_TOKEN_MAX 65536 /* FEDAUTH tokens are a few KB; refuse absurd ones */

typedef struct reply_fields {
    const char *token;                           /* access_token | accessToken */
    const cJSON *expires_in, *expires_on, *expires_on_local;
    const char *error, *description, *message;
    const cJSON *codes;                          /* error_codes */
} reply_fields;

static const char *str_of(const cJSON *m)
{
    return net_json_type(m) == cJSON_String && m->valuestring ? m->valuestring : NULL;
}

static void fields_read(const cJSON *root, reply_fields *f)
{
    memset(f, 0, sizeof *f);
    for (const cJSON *m = root->child; m; m = m->next) {
        const char *k = m->string ? m->string : "";
        if (!strcmp(k, "access_token") || !strcmp(k, "accessToken"))
            f->token = str_of(m);
        else if (!strcmp(k, "expires_in"))
            f->expires_in = m;
        else if (!strcmp(k, "expires_on"))
            f->expires_on = m;
        else if (!strcmp(k, "expiresOn"))
            f->expires_on_local = m;
        else if (!strcmp(k, "error"))
            f->error = str_of(m);
        else if (!strcmp(k, "error_description"))
            f->description = str_of(m);
        else if (!strcmp(k, "message") || !strcmp(k, "Message"))
            f->message = str_of(m);
        else if (!strcmp(k, "error_codes"))
            f->codes = m;
    }
}

/* Seconds as a JSON number or a string of digits; -1 if neither. */
static int64_t seconds_of(const cJSON *m)
{
    if (!m)
        return -1;
    if (net_json_type(m) == cJSON_Number)
        return m->valuedouble >= 0 && m->valuedouble < 1e12 ? (int64_t)m->valuedouble : -1;
    const char *s = str_of(m);
    if (!s || !*s || strlen(s) > 12 || strspn(s, "0123456789") != strlen(s))
        return -1;
    return (int64_t)strtoll(s, NULL, 10);
}

/* az's expiresOn, local time "YYYY-MM-DD HH:MM:SS[.ffffff]"; -1 if not. */
static int64_t local_time_of(const cJSON *m)
{
    const char *s = m ? str_of(m) : NULL;
    struct tm tm = {0};
    if (!s || sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                     &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    return t == (time_t)-1 ? -1 : (int64_t)t;
}

static int64_t expiry_of(const reply_fields *f, int64_t now)
{
    int64_t v;
    if ((v = seconds_of(f->expires_in)) > 0)
        return now + v;
    if ((v = seconds_of(f->expires_on)) > 0)
        return v;
    if ((v = local_time_of(f->expires_on_local)) > 0)
        return v;
    return 0;
}

/* "AADSTS<code>: <first line>" or the closest the reply allows. */
static int error_line(const reply_fields *f, long status, net_error *err)
{
    const char *d = f->description ? f->description : f->message;
    int dn = d ? (int)strcspn(d, "\r\n") : 0;
    if (dn > 300)
        dn = 300;
    const cJSON *c = f->codes && net_json_type(f->codes) == cJSON_Array ? f->codes->child : NULL;
    bool has_code = c && net_json_type(c) == cJSON_Number && c->valuedouble >= 0 && c->valuedouble < 1e9;
    if (dn && strncmp(d, "AADSTS", 6) == 0)
        return net__fail(err, NET_E_LOGIN, "%.*s", dn, d);
    if (has_code)
        return net__fail(err, NET_E_LOGIN, "AADSTS%lld%s%.*s", (long long)c->valuedouble, dn ? ": " : "", dn,
                         dn ? d : "");
    if (f->error && dn)
        return net__fail(err, NET_E_LOGIN, "%.80s: %.*s", f->error, dn, d);
    if (f->error || dn)
        return net__fail(err, NET_E_LOGIN, "identity endpoint answered HTTP %ld: %.*s", status,
                         f->error ? 80 : dn, f->error ? f->error : d);
    return net__fail(err, NET_E_LOGIN, "identity endpoint answered HTTP %ld", status);
}

static bool token_ok(const char *t)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++, n++)
        if (*p < 0x21 || *p > 0x7e || n >= ENTRA_TOKEN_MAX)
            return false;
    return n > 0;
}

static int fields_to_token(const reply_fields *f, long status, int64_t now, entra_token *out, net_error *err)
{
    if ((status >= 300 || !f->token) && (f->error || f->description || f->message || status >= 300))
        return error_line(f, status, err);
    if (!f->token)
        return net__fail(err, NET_E_PROTO, "the identity endpoint's reply has no access token");
    if (!token_ok(f->token))
        return net__fail(err, NET_E_PROTO, "the identity endpoint's access token is not a token");
    if (!(out->access_token = strdup(f->token)))
        return net__fail(err, NET_E_NOMEM, "out of memory");
    out->expires_at = expiry_of(f, now);
    return NET_OK;
}

/* Every string value of the tree (tokens, refresh tokens) zeroed. */
static void tree_wipe(cJSON *j)
{
    for (; j; j = j->next) {
        if (j->valuestring)
            net_wipe(j->valuestring, strlen(j->valuestring));
        tree_wipe(j->child);
    }
}

static int json_missing(int why, net_error *err)
{
    if (why == NET_JSON_STATIC)
        return net__fail(err, NET_E_ARG,
                         "Microsoft Entra sign-in methods other than ActiveDirectoryAccessToken need the "
                         "default build (libcurl loaded at run time)");
    return net__fail(err, NET_E_ARG,
                     "Microsoft Entra sign-in needs libcjson.so.1 (Debian/Ubuntu: apt install libcjson1)");
}

int entra_reply_parse(const char *body, size_t len, long status, int64_t now, entra_token *out, net_error *err)
{
    const net_json_api *cj;
    out->access_token = NULL;
    out->expires_at = 0;
    int why = net_json_load(&cj);
    if (why != NET_JSON_OK)
        return json_missing(why, err);
    cJSON *root = body && len ? cj->parse(body, len, NULL, false) : NULL;
    if (!root || net_json_type(root) != cJSON_Object) {
        if (root) {
            tree_wipe(root);
            cj->del(root);
        }
        if (status >= 300)
            return net__fail(err, NET_E_PROTO, "identity endpoint answered HTTP %ld (not a token reply)", status);
        return net__fail(err, NET_E_PROTO, "the identity endpoint's reply is not JSON");
    }
    reply_fields f;
    fields_read(root, &f);
    int rc = fields_to_token(&f, status, now, out, err);
    tree_wipe(root);
    cj->del(root);
    return rc;
}
