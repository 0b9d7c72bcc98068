/*
 * options.c — connection options from URI/ODBC-style keys and from
 * mssql:// URIs (the ingestr contract, ../shared/spec/ingestr-compat.md).
 *
 * Owns: net_opts_set, net_opts_from_uri, net_opts_free, net_parse_bool.
 * Strings set here are copied into the options' store; net_opts_free
 * zeroes every one of them (passwords and tokens among them) before
 * freeing. Error messages quote keys and non-secret values only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net_int.h"
#include "tds_ascii.h"

typedef struct store_str {
    struct store_str *next;
    size_t len;
    char s[];
} store_str;

struct net_opts_store {
    store_str *head;
};

static const char *store(net_opts *o, const char *v, size_t n)
{
    if (!o->store_) {
        o->store_ = calloc(1, sizeof *o->store_);
        if (!o->store_)
            return NULL;
    }
    store_str *s = malloc(sizeof *s + n + 1);
    if (!s)
        return NULL;
    memcpy(s->s, v, n);
    s->s[n] = '\0';
    s->len = n;
    s->next = o->store_->head;
    o->store_->head = s;
    return s->s;
}

void net_opts_free(net_opts *o)
{
    if (!o)
        return;
    if (o->store_) {
        store_str *s = o->store_->head;
        while (s) {
            store_str *next = s->next;
            net_wipe(s->s, s->len);
            free(s);
            s = next;
        }
        free(o->store_);
    }
    net_wipe(o, sizeof *o);
}

int net_parse_bool(const char *v)
{
    if (!v)
        return -1;
    if (!tds_ascii_casecmp(v, "yes") || !tds_ascii_casecmp(v, "true") || !strcmp(v, "1") || !tds_ascii_casecmp(v, "on"))
        return 1;
    if (!tds_ascii_casecmp(v, "no") || !tds_ascii_casecmp(v, "false") || !strcmp(v, "0") || !tds_ascii_casecmp(v, "off"))
        return 0;
    return -1;
}

/* Key normalised: lower case, without spaces, '_' and '-'. */
static void norm_key(const char *k, char *out, size_t cap)
{
    size_t n = 0;
    for (; *k && n + 1 < cap; k++) {
        if (*k == ' ' || *k == '_' || *k == '-')
            continue;
        out[n++] = (char)tolower((unsigned char)*k);
    }
    out[n] = '\0';
}

static bool key_is(const char *k, const char *const *names)
{
    for (; *names; names++)
        if (!strcmp(k, *names))
            return true;
    return false;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    if (!v || !*v)
        return -1;
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    unsigned long x = strtoul(v, NULL, 10);
    if (errno || x > max)
        return -1;
    *out = x;
    return 0;
}

/* Seconds (ODBC convention: 0 = no timeout) to milliseconds. */
static int seconds_ms(const char *v, uint32_t *ms)
{
    unsigned long s;
    if (parse_uint(v, 4000000ul, &s))
        return -1;
    *ms = s == 0 ? NET_NO_TIMEOUT : (uint32_t)(s * 1000ul);
    return 0;
}

static int set_str(net_opts *o, const char **field, const char *v, char *err, size_t errcap)
{
    const char *c = store(o, v, strlen(v));
    if (!c) {
        if (err && errcap)
            snprintf(err, errcap, "out of memory");
        return NET_E_NOMEM;
    }
    *field = c;
    return NET_OK;
}

static int bad(char *err, size_t errcap, const char *fmt, const char *a, const char *b)
{
    if (err && errcap)
        snprintf(err, errcap, fmt, a, b);
    return NET_E_ARG;
}

/* ------------------------------------------------------ sign-in method */

/* Authentication= / fedauth= values: ODBC Driver 18, go-mssqldb (what
 * ingestr v1 passes on) and SqlClient spellings, compared lower case with
 * spaces removed ("Active Directory Service Principal"). */
static const struct auth_name {
    const char *norm;
    net_auth auth;
    const char *name;
} auth_names[] = {
    {"sqlpassword", NET_AUTH_SQL, "SqlPassword"},
    {"activedirectoryaccesstoken", NET_AUTH_ACCESS_TOKEN, "ActiveDirectoryAccessToken"},
    {"activedirectoryserviceprincipalaccesstoken", NET_AUTH_ACCESS_TOKEN, "ActiveDirectoryAccessToken"},
    {"activedirectoryserviceprincipal", NET_AUTH_SERVICE_PRINCIPAL, "ActiveDirectoryServicePrincipal"},
    {"activedirectoryapplication", NET_AUTH_SERVICE_PRINCIPAL, "ActiveDirectoryServicePrincipal"},
    {"activedirectorymanagedidentity", NET_AUTH_MANAGED_IDENTITY, "ActiveDirectoryManagedIdentity"},
    {"activedirectorymsi", NET_AUTH_MANAGED_IDENTITY, "ActiveDirectoryManagedIdentity"},
    {"activedirectoryworkloadidentity", NET_AUTH_WORKLOAD_IDENTITY, "ActiveDirectoryWorkloadIdentity"},
    {"activedirectoryazcli", NET_AUTH_AZ_CLI, "ActiveDirectoryAzCli"},
    {"activedirectorypassword", NET_AUTH_PASSWORD, "ActiveDirectoryPassword"},
    {"activedirectorydefault", NET_AUTH_DEFAULT, "ActiveDirectoryDefault"},
};

/* Methods that need a person (a browser, a device code) or Windows
 * integrated sign-in: a pipeline has none of them, so they are refused
 * before anything is tried. */
static const struct {
    const char *norm, *name, *why;
} auth_refused[] = {
    {"activedirectoryinteractive", "ActiveDirectoryInteractive", "needs a browser"},
    {"activedirectorydevicecode", "ActiveDirectoryDeviceCode", "needs a person to enter a code"},
    {"activedirectorydevicecodeflow", "ActiveDirectoryDeviceCodeFlow", "needs a person to enter a code"},
    {"activedirectoryintegrated", "ActiveDirectoryIntegrated", "needs Windows/Kerberos integrated sign-in"},
};

static const char *auth_name(net_auth a)
{
    for (size_t i = 0; i < sizeof auth_names / sizeof auth_names[0]; i++)
        if (auth_names[i].auth == a)
            return auth_names[i].name;
    return "?";
}

static int set_auth(net_opts *o, const char *key, const char *value, char *err, size_t errcap)
{
    char v[64];
    size_t n = 0;
    for (const char *c = value; *c && n + 1 < sizeof v; c++)
        if (*c != ' ')
            v[n++] = (char)tolower((unsigned char)*c);
    v[n] = '\0';
    if (!n) {
        o->auth = NET_AUTH_SQL;
        o->password_is_token = false;
        return NET_OK;
    }
    for (size_t i = 0; i < sizeof auth_names / sizeof auth_names[0]; i++)
        if (!strcmp(v, auth_names[i].norm)) {
            o->auth = auth_names[i].auth;
            o->password_is_token = o->auth == NET_AUTH_ACCESS_TOKEN;
            return NET_OK;
        }
    for (size_t i = 0; i < sizeof auth_refused / sizeof auth_refused[0]; i++)
        if (!strcmp(v, auth_refused[i].norm)) {
            if (err && errcap)
                snprintf(err, errcap,
                         "%s=%s %s, which an unattended pipeline lacks: use ActiveDirectoryServicePrincipal, "
                         "ActiveDirectoryManagedIdentity, ActiveDirectoryWorkloadIdentity, or ActiveDirectoryAzCli "
                         "after 'az login'",
                         key, auth_refused[i].name, auth_refused[i].why);
            return NET_E_ARG;
        }
    if (err && errcap)
        snprintf(err, errcap,
                 "unsupported %s '%.60s' (use SqlPassword, ActiveDirectoryAccessToken, ActiveDirectoryServicePrincipal, "
                 "ActiveDirectoryManagedIdentity, ActiveDirectoryWorkloadIdentity, ActiveDirectoryAzCli, "
                 "ActiveDirectoryPassword or ActiveDirectoryDefault)",
                 key, value);
    return NET_E_ARG;
}

int net_opts_set(net_opts *o, const char *key, const char *value, char *err, size_t errcap)
{
    static const char *const k_host[] = {"server", "host", "address", "addr", "datasource", "hostname", NULL};
    static const char *const k_user[] = {"user", "uid", "userid", "username", NULL};
    static const char *const k_pass[] = {"password", "pwd", NULL};
    static const char *const k_db[] = {"database", "initialcatalog", "db", NULL};
    static const char *const k_trust[] = {"trustservercertificate", "trustservercert", "trustcert", NULL};
    static const char *const k_hic[] = {"hostnameincertificate", "hostincertificate", NULL};
    static const char *const k_ca[] = {"servercertificate", "cafile", "certificate", "sslca", NULL};
    static const char *const k_app[] = {"appname", "applicationname", "app", NULL};
    static const char *const k_cto[] = {"connectiontimeout", "connecttimeout", "logintimeout", "timeout", "dialtimeout", NULL};
    static const char *const k_qto[] = {"querytimeout", "commandtimeout", NULL};
    static const char *const k_retry[] = {"retries", "connectretrycount", NULL};
    static const char *const k_ignored[] = {"driver", "multisubnetfailover", "applicationintent",
                                            "marsconnection", "multipleactiveresultsets", "log",
                                            "workstationid", "wsid", "language", "failoverpartner",
                                            "persistsecurityinfo", "pooling", NULL};
    char k[64];
    if (!o || !key || !value)
        return bad(err, errcap, "missing %s%s", "connection parameter", "");
    norm_key(key, k, sizeof k);
    unsigned long x;

    if (key_is(k, k_host)) {
        /* ODBC forms: "tcp:host,port" and "host\instance". */
        const char *v = value;
        if (!tds_ascii_ncasecmp(v, "tcp:", 4))
            v += 4;
        char tmp[512];
        if (strlen(v) >= sizeof tmp)
            return bad(err, errcap, "host name too long%s%s", "", "");
        strcpy(tmp, v);
        char *comma = strrchr(tmp, ',');
        if (comma) {
            *comma = '\0';
            if (parse_uint(comma + 1, 65535, &x) || x == 0)
                return bad(err, errcap, "invalid port '%s' in server '%s'", comma + 1, "");
            o->port = (uint16_t)x;
        }
        char *bs = strchr(tmp, '\\');
        if (bs) {
            *bs = '\0';
            if (bs[1] && set_str(o, &o->instance, bs + 1, err, errcap))
                return NET_E_NOMEM;
        }
        return set_str(o, &o->host, tmp, err, errcap);
    }
    if (!strcmp(k, "port")) {
        if (parse_uint(value, 65535, &x) || x == 0)
            return bad(err, errcap, "invalid port '%s'%s", value, "");
        o->port = (uint16_t)x;
        return NET_OK;
    }
    if (!strcmp(k, "instance") || !strcmp(k, "instancename"))
        return set_str(o, &o->instance, value, err, errcap);
    if (!strcmp(k, "browserport")) {
        if (parse_uint(value, 65535, &x) || x == 0)
            return bad(err, errcap, "invalid browser port '%s'%s", value, "");
        o->browser_port = (uint16_t)x;
        return NET_OK;
    }
    if (key_is(k, k_user))
        return set_str(o, &o->user, value, err, errcap);
    if (key_is(k, k_pass))
        return set_str(o, &o->password, value, err, errcap);
    if (!strcmp(k, "accesstoken"))
        return set_str(o, &o->access_token, value, err, errcap);
    if (key_is(k, k_db))
        return set_str(o, &o->database, value, err, errcap);
    if (!strcmp(k, "encrypt")) {
        if (!tds_ascii_casecmp(value, "disable"))
            o->encrypt = NET_ENCRYPT_DISABLE;
        else if (!tds_ascii_casecmp(value, "optional") || net_parse_bool(value) == 0)
            o->encrypt = NET_ENCRYPT_OPTIONAL;
        else if (!tds_ascii_casecmp(value, "mandatory") || net_parse_bool(value) == 1)
            o->encrypt = NET_ENCRYPT_MANDATORY;
        else if (!tds_ascii_casecmp(value, "strict"))
            o->encrypt = NET_ENCRYPT_STRICT;
        else
            return bad(err, errcap,
                       "invalid encrypt value '%s' (use disable, false, optional, true, mandatory or strict)%s",
                       value, "");
        return NET_OK;
    }
    if (key_is(k, k_trust)) {
        int b = net_parse_bool(value);
        if (b < 0)
            return bad(err, errcap, "invalid TrustServerCertificate value '%s' (use yes/no/true/false/1/0)%s", value, "");
        o->trust_server_cert = b == 1;
        return NET_OK;
    }
    if (key_is(k, k_hic))
        return set_str(o, &o->host_in_cert, value, err, errcap);
    if (key_is(k, k_ca))
        return set_str(o, &o->ca_file, value, err, errcap);
    if (!strcmp(k, "packetsize")) {
        if (parse_uint(value, TDS_PACKET_MAX, &x) || x < TDS_PACKET_MIN)
            return bad(err, errcap, "invalid packet size '%s' (512 to 32767)%s", value, "");
        o->packet_size = (uint32_t)x;
        return NET_OK;
    }
    if (key_is(k, k_app))
        return set_str(o, &o->app_name, value, err, errcap);
    if (key_is(k, k_cto)) {
        if (seconds_ms(value, &o->connect_timeout_ms))
            return bad(err, errcap, "invalid connection timeout '%s' (seconds)%s", value, "");
        return NET_OK;
    }
    if (key_is(k, k_qto)) {
        uint32_t ms;
        if (seconds_ms(value, &ms))
            return bad(err, errcap, "invalid query timeout '%s' (seconds)%s", value, "");
        o->query_timeout_ms = ms == NET_NO_TIMEOUT ? 0 : ms;
        return NET_OK;
    }
    if (!strcmp(k, "canceltimeout")) {
        uint32_t ms;
        if (seconds_ms(value, &ms) || ms == NET_NO_TIMEOUT)
            return bad(err, errcap, "invalid cancel timeout '%s' (seconds, > 0)%s", value, "");
        o->cancel_timeout_ms = ms;
        return NET_OK;
    }
    if (!strcmp(k, "keepalive")) {
        if (parse_uint(value, 86400, &x))
            return bad(err, errcap, "invalid keepalive '%s' (seconds)%s", value, "");
        o->keepalive_s = (uint32_t)x;
        return NET_OK;
    }
    if (key_is(k, k_retry)) {
        if (parse_uint(value, 100, &x))
            return bad(err, errcap, "invalid retries '%s' (0 to 100)%s", value, "");
        o->retries = (unsigned)x;
        return NET_OK;
    }
    if (!strcmp(k, "connectretryinterval")) {
        if (parse_uint(value, 60, &x) || x == 0)
            return bad(err, errcap, "invalid ConnectRetryInterval '%s' (1 to 60 seconds)%s", value, "");
        o->retry_base_ms = (uint32_t)(x * 1000);
        return NET_OK;
    }
    if (!strcmp(k, "tenantid")) {
        o->tenant_id_ = true; /* net_opts_from_uri checks it with the sign-in */
        return set_str(o, &o->tenant_id, value, err, errcap);
    }
    if (!strcmp(k, "clientcertpath") || !strcmp(k, "clientcertificatepath"))
        return set_str(o, &o->client_cert_path, value, err, errcap);
    if (!strcmp(k, "applicationclientid"))
        return set_str(o, &o->app_client_id, value, err, errcap);
    if (!strcmp(k, "resourceid") || !strcmp(k, "msiresid") || !strcmp(k, "miresid"))
        return set_str(o, &o->mi_resource_id, value, err, errcap);
    if (!strcmp(k, "tokenfilepath"))
        return set_str(o, &o->token_file_path, value, err, errcap);
    /* ingestr passes fedauth= to go-mssqldb, which prefers it over
     * Authentication=: once fedauth was given, a later Authentication=
     * does not override it (either order gives fedauth's method). */
    if (!strcmp(k, "fedauth")) {
        o->fedauth_set_ = true;
        return set_auth(o, "fedauth", value, err, errcap);
    }
    if (!strcmp(k, "authentication"))
        return o->fedauth_set_ ? NET_OK : set_auth(o, "Authentication", value, err, errcap);
    if (key_is(k, k_ignored))
        return NET_OK;
    return bad(err, errcap, "unknown connection parameter '%s'%s", key, "");
}

/* ---------------------------------------------------------------- URIs */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decodes [p, p+n) into a new string; plus_space for query parts.
 * Returns NULL on a bad escape or out of memory (*bad_escape tells). */
static char *pct_decode(const char *p, size_t n, bool plus_space, bool *bad_escape)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    *bad_escape = false;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            int h, l;
            if (i + 2 >= n || (h = hexval((unsigned char)p[i + 1])) < 0 ||
                (l = hexval((unsigned char)p[i + 2])) < 0) {
                *bad_escape = true;
                net_wipe(out, n + 1);
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (plus_space && p[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void free_secret(char *s)
{
    if (s) {
        net_wipe(s, strlen(s));
        free(s);
    }
}

/* The RFC 3986 checks every SQL Server URI passes, source or destination:
 * no character that must be percent-encoded (a raw backslash is allowed:
 * "host\instance"), no broken %XX escape, every parameter key=value.
 * Messages never quote the URI (it holds the password). */
static int uri_well_formed(const char *uri, char *err, size_t errcap)
{
    for (const char *p = uri; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                return bad(err, errcap, "malformed URI (percent-encode characters such as @ : / ? # %% and spaces "
                                        "in the user name and password)%s%s", "", "");
            p += 2;
        } else if (!(isalnum(c) || strchr("-._~:/?#[]@!$&'()*+,;=\\", c))) {
            return bad(err, errcap, "malformed URI (percent-encode characters such as @ : / ? # %% and spaces "
                                    "in the user name and password)%s%s", "", "");
        }
    }
    const char *q = strchr(uri, '?');
    for (const char *k = q ? q + 1 : NULL; k && *k && *k != '#';) {
        size_t n = strcspn(k, "&#");
        if (n > 0 && !memchr(k, '=', n)) {
            char key[61];
            snprintf(key, sizeof key, "%.*s", (int)(n < 60 ? n : 60), k);
            return bad(err, errcap, "URI parameter '%s' needs a value (key=value)%s", key, "");
        }
        k += n + (k[n] == '&');
    }
    return NET_OK;
}

/* The user-info [p, at): user and password, percent-decoded. */
static int uri_userinfo(net_opts *o, const char *p, const char *at, char *err, size_t errcap)
{
    bool be;
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *uend = colon ? colon : at;
    char *user = pct_decode(p, (size_t)(uend - p), false, &be);
    if (!user)
        return bad(err, errcap, be ? "bad percent-escape in the user name%s%s" : "out of memory%s%s", "", "");
    int rc = *user ? set_str(o, &o->user, user, err, errcap) : NET_OK;
    free_secret(user);
    if (rc || !colon)
        return rc;
    char *pw = pct_decode(colon + 1, (size_t)(at - colon - 1), false, &be);
    if (!pw)
        return bad(err, errcap, be ? "bad percent-escape in the password%s%s" : "out of memory%s%s", "", "");
    rc = set_str(o, &o->password, pw, err, errcap);
    free_secret(pw);
    return rc;
}

/* host[:port], [v6]:port, host\instance (maybe %5C) in [p, hend). */
static int uri_host(net_opts *o, const char *p, const char *hend, char *err, size_t errcap)
{
    bool be;
    const char *portp = NULL;
    int rc;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hend - p));
        if (!rb)
            return bad(err, errcap, "unterminated [IPv6] host%s%s", "", "");
        if (rb + 1 < hend && rb[1] == ':')
            portp = rb + 2;
        char *h = pct_decode(p + 1, (size_t)(rb - p - 1), false, &be);
        if (!h)
            return bad(err, errcap, "bad host%s%s", "", "");
        rc = set_str(o, &o->host, h, err, errcap);
        free(h);
    } else {
        const char *colon = memchr(p, ':', (size_t)(hend - p));
        if (colon)
            portp = colon + 1;
        char *h = pct_decode(p, (size_t)((colon ? colon : hend) - p), false, &be);
        if (!h)
            return bad(err, errcap, "bad percent-escape in the host%s%s", "", "");
        if (!*h) {
            free(h);
            return bad(err, errcap, "the URI names no host%s%s", "", "");
        }
        rc = net_opts_set(o, "server", h, err, errcap);
        free(h);
    }
    if (rc || !portp)
        return rc;
    char tmp[16];
    size_t n = (size_t)(hend - portp);
    if (n == 0 || n >= sizeof tmp)
        return bad(err, errcap, "invalid port in the URI%s%s", "", "");
    memcpy(tmp, portp, n);
    tmp[n] = '\0';
    return net_opts_set(o, "port", tmp, err, errcap);
}

/* The path [p, end): the database, one segment; empty segments ("/db/",
 * "//db") are skipped. */
static int uri_path(net_opts *o, const char *p, const char *end, char *err, size_t errcap)
{
    const char *seg = NULL;
    size_t seglen = 0;
    while (p < end) {
        p++; /* the '/' */
        size_t n = strcspn(p, "/?#");
        if (p + n > end)
            n = (size_t)(end - p);
        if (n && seg)
            return bad(err, errcap, "URI path must be just the database name (mssql://…@host/db)%s%s", "", "");
        if (n) {
            seg = p;
            seglen = n;
        }
        p += n;
    }
    if (!seg)
        return NET_OK;
    bool be;
    char *db = pct_decode(seg, seglen, false, &be);
    if (!db)
        return bad(err, errcap, "bad percent-escape in the database%s%s", "", "");
    int rc = set_str(o, &o->database, db, err, errcap);
    free(db);
    return rc;
}

/* A Go duration ("1s", "500ms", "1m30s", "1.5h") in milliseconds, > 0. */
static int go_duration_ms(const char *v, uint32_t *ms)
{
    static const struct { const char *unit; double ms; } units[] = {
        {"ns", 1e-6}, {"us", 1e-3}, {"\xc2\xb5s", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 6e4}, {"h", 3.6e6}};
    double total = 0;
    if (!*v)
        return -1;
    while (*v) {
        const char *num = v;
        while (isdigit((unsigned char)*v) || *v == '.')
            v++;
        if (v == num || (v - num == 1 && *num == '.'))
            return -1;
        double x = 0, scale = 1;
        bool frac = false;
        for (const char *c = num; c < v; c++) {
            if (*c == '.') {
                if (frac)
                    return -1;
                frac = true;
            } else if (frac) {
                scale /= 10;
                x += (*c - '0') * scale;
            } else {
                x = x * 10 + (*c - '0');
            }
        }
        size_t best = 0;
        double mul = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t n = strlen(units[i].unit);
            if (n > best && !strncmp(v, units[i].unit, n)) {
                best = n;
                mul = units[i].ms;
            }
        }
        if (!best)
            return -1;
        total += x * mul;
        v += best;
    }
    if (total < 1 || total > 86400000.0 * 24)
        return -1;
    *ms = (uint32_t)total;
    return 0;
}

/* The parameters ingestr reads on a Change Tracking (+ct) or Change Data
 * Capture (+cdc) source: poll_interval (both), capture_instance and
 * dest_schema (+cdc). Returns 1 when k is none of them. */
static int change_param(net_opts *o, const char *changes, const char *k, const char *v, char *err, size_t errcap)
{
    bool poll = !strcmp(k, "poll_interval"), inst = !strcmp(k, "capture_instance"),
         schema = !strcmp(k, "dest_schema");
    if (!poll && !inst && !schema)
        return 1;
    if (!changes)
        return bad(err, errcap, "URI parameter '%s' is for mssql+ct:// and mssql+cdc:// sources only%s", k, "");
    if (!poll && strcmp(changes, "cdc"))
        return bad(err, errcap, "URI parameter '%s' is for Change Data Capture sources (mssql+cdc://)%s", k, "");
    if (poll) {
        if (go_duration_ms(v, &o->poll_interval_ms))
            return bad(err, errcap, "invalid poll_interval '%.40s' (a positive duration such as 1s or 500ms)%s", v, "");
        return NET_OK;
    }
    if (!*v || strlen(v) > 128)
        return bad(err, errcap, "URI parameter '%s' needs a name of 1 to 128 characters%s", k, "");
    return set_str(o, inst ? &o->capture_instance : &o->dest_schema, v, err, errcap);
}

/* ?key=value&… up to '#', names and values decoded ('+' as space);
 * changes: "ct", "cdc" or NULL (see change_param). */
static int uri_query(net_opts *o, const char *q, const char *changes, char *err, size_t errcap)
{
    bool be;
    while (*q && *q != '#') {
        const char *amp = q + strcspn(q, "&#");
        const char *eq = memchr(q, '=', (size_t)(amp - q));
        if (amp > q) {
            char *k = pct_decode(q, (size_t)((eq ? eq : amp) - q), true, &be);
            char *v = eq ? pct_decode(eq + 1, (size_t)(amp - eq - 1), true, &be) : strdup("");
            if (!k || !v) {
                free(k);
                free_secret(v);
                return bad(err, errcap, "bad percent-escape in the URI parameters%s%s", "", "");
            }
            int rc = change_param(o, changes, k, v, err, errcap);
            if (rc == 1)
                rc = net_opts_set(o, k, v, err, errcap);
            free(k);
            free_secret(v);
            if (rc)
                return rc;
        }
        q = *amp == '&' ? amp + 1 : amp;
    }
    return NET_OK;
}

/* The scheme of uri (without "+ct" or "+cdc", which *changes names),
 * lower case, into out; NET_OK if it is one of SQL Server's. */
static int uri_scheme(const char *uri, char *out, size_t cap, const char **changes, char *err, size_t errcap)
{
    static const char *const schemes[] = {"mssql", "sqlserver", "azuresql", "azure-sql", NULL};
    const char *sep = strstr(uri, "://");
    if (!sep)
        return bad(err, errcap, "not a URI (expected mssql://user:password@host/db)%s%s", "", "");
    size_t sl = (size_t)(sep - uri);
    if (sl >= cap)
        return bad(err, errcap, "unsupported URI scheme%s%s", "", "");
    for (size_t i = 0; i < sl; i++)
        out[i] = (char)tolower((unsigned char)uri[i]);
    out[sl] = '\0';
    char *plus = strchr(out, '+');
    *changes = NULL;
    if (plus && (!strcmp(plus, "+ct") || !strcmp(plus, "+cdc"))) {
        *changes = plus[2] == 't' ? "ct" : "cdc";
        *plus = '\0';
    }
    for (const char *const *s = schemes; *s; s++)
        if (!strcmp(out, *s))
            return NET_OK;
    return bad(err, errcap, "unsupported URI scheme '%s' (mssql, sqlserver, azuresql)%s", out, "");
}

/* "client@tenant" in the user slot (ingestr appends tenant_id so, and
 * go-mssqldb splits it): the client id stays in user, the tenant wins
 * over a tenant_id parameter. */
static int split_client_tenant(net_opts *o, char *err, size_t errcap)
{
    const char *at = o->user ? strchr(o->user, '@') : NULL;
    if (!at)
        return NET_OK;
    if (at == o->user || !at[1])
        return bad(err, errcap, "user must be the application (client) id, or client_id@tenant_id%s%s", "", "");
    const char *client = store(o, o->user, (size_t)(at - o->user));
    const char *tenant = store(o, at + 1, strlen(at + 1));
    if (!client || !tenant)
        return bad(err, errcap, "out of memory%s%s", "", "");
    o->user = client;
    o->tenant_id = tenant;
    return NET_OK;
}

/* The sign-in checks once every parameter is known (their order in the
 * URI is free): ingestr v1's azuresql:// defaults — without a method,
 * user + tenant_id means a service principal and no user means
 * ActiveDirectoryDefault — then what each Entra method needs. */
static int uri_sign_in(net_opts *o, bool azure, char *err, size_t errcap)
{
    if (azure && o->auth == NET_AUTH_SQL && !o->password_is_token) {
        if (o->tenant_id_ && o->user)
            o->auth = NET_AUTH_SERVICE_PRINCIPAL;
        else if (!o->user)
            o->auth = NET_AUTH_DEFAULT;
    }
    if (o->auth == NET_AUTH_SQL) {
        /* a SQL login named like an Entra service principal is a mistake */
        if (o->tenant_id_)
            return bad(err, errcap, "tenant_id means Microsoft Entra service principal sign-in: add "
                                    "Authentication=ActiveDirectoryServicePrincipal (or use an azuresql:// URI)%s%s",
                       "", "");
        return NET_OK;
    }
    if (o->auth == NET_AUTH_ACCESS_TOKEN)
        return NET_OK;
#ifdef TDSPIPE_NO_DLOPEN
    /* token fetching loads libcurl at run time, which a static binary cannot */
    return bad(err, errcap, "%s needs the default tdspipe build (this fully static build signs in to Microsoft Entra "
                            "with Authentication=ActiveDirectoryAccessToken only)%s", auth_name(o->auth), "");
#endif
    /* login-only TLS would carry the FEDAUTH_TOKEN message in clear */
    if (o->encrypt == NET_ENCRYPT_OPTIONAL || o->encrypt == NET_ENCRYPT_DISABLE)
        return bad(err, errcap, "%s needs an encrypted connection (the token would cross the network in clear): "
                                "drop encrypt=false/optional/disable%s", auth_name(o->auth), "");
    if ((o->auth == NET_AUTH_SERVICE_PRINCIPAL || o->auth == NET_AUTH_WORKLOAD_IDENTITY) &&
        split_client_tenant(o, err, errcap))
        return NET_E_ARG;
    if (o->auth == NET_AUTH_SERVICE_PRINCIPAL && (!o->user || !*o->user))
        return bad(err, errcap, "ActiveDirectoryServicePrincipal needs the application (client) id as the user name "
                                "(mssql://client_id:secret@host/db)%s%s", "", "");
    if (o->auth == NET_AUTH_PASSWORD && (!o->user || !o->password))
        return bad(err, errcap, "ActiveDirectoryPassword needs a user name and a password%s%s", "", "");
    return NET_OK;
}

int net_opts_from_uri(net_opts *o, const char *uri, char *err, size_t errcap)
{
    if (!o || !uri)
        return bad(err, errcap, "missing %s%s", "URI", "");
    char scheme[32];
    const char *changes;
    int rc = uri_scheme(uri, scheme, sizeof scheme, &changes, err, errcap);
    if (rc || (rc = uri_well_formed(uri, err, errcap)))
        return rc;
    if (!strcmp(scheme, "azuresql") || !strcmp(scheme, "azure-sql"))
        o->encrypt = NET_ENCRYPT_MANDATORY; /* Azure (ingestr v1): encrypt unless the URI says otherwise */
    const char *p = strstr(uri, "://") + 3;
    const char *end = p + strcspn(p, "/?#");
    /* user-info ends at the last '@' before the query: a password may
     * hold an unescaped '/' or '#' ('?' must be escaped; '@' in parameter
     * values stays in the query) */
    const char *q1 = p + strcspn(p, "?"), *at = NULL;
    for (const char *c = p; c < q1; c++)
        if (*c == '@')
            at = c;
    if (at && at > end)
        end = at + 1 + strcspn(at + 1, "/?#");
    if (at && (rc = uri_userinfo(o, p, at, err, errcap)))
        return rc;
    if ((rc = uri_host(o, at ? at + 1 : p, end, err, errcap)))
        return rc;
    const char *pend = end + strcspn(end, "?#");
    if (*end == '/' && (rc = uri_path(o, end, pend, err, errcap)))
        return rc;
    if (*pend == '?' && (rc = uri_query(o, pend + 1, changes, err, errcap)))
        return rc;
    return uri_sign_in(o, !strcmp(scheme, "azuresql") || !strcmp(scheme, "azure-sql"), err, errcap);
}
