/*
 * entra_authority.c — which identity provider gets a secret, and for which
 * tenant (issue 15, "a SQL Server must never be able to steer a secret to a
 * host of its choosing").
 *
 * The server names an STS URL in FEDAUTHINFO, and with
 * TrustServerCertificate=yes that server is not authenticated. Its host is
 * used only when it is one of Microsoft's login hosts below; anything else
 * falls back to ENTRA_DEFAULT_AUTHORITY. AZURE_AUTHORITY_HOST (the
 * operator's choice, as azidentity reads it) always wins. The tenant is the
 * STS URL's first path segment unless the connection names one.
 *
 * Microsoft login hosts: MSAL.NET's trusted host list (AadAuthority.cs)
 * without login.microsoftonline.de (the retired Azure Germany cloud):
 * public, US Government (current and legacy) and China (21Vianet, old and
 * new names) clouds; azure-identity's KnownAuthorityHosts agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entra_int.h"

static const char *const microsoft_login_hosts[] = {
    "login.microsoftonline.com",  "login.windows.net",      "login.microsoftonline.us",
    "login-us.microsoftonline.com", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
};

/* A tenant id or domain: letters, digits, '-', '.', '_' (it becomes a
 * path segment of the token URL, so nothing that could change the path). */
static bool tenant_ok(const char *t, size_t n)
{
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_'))
            return false;
    }
    return !(n <= 2 && t[0] == '.'); /* not "." or ".." */
}

/* The host of an https URL when it is exactly one of Microsoft's (no port,
 * no user info: "https://login.microsoftonline.com@evil/" is not). */
static const char *sts_microsoft_host(const char *url)
{
    if (strncasecmp(url, "https://", 8) != 0)
        return NULL;
    const char *h = url + 8;
    size_t n = strcspn(h, "/?#");
    for (size_t i = 0; i < sizeof microsoft_login_hosts / sizeof *microsoft_login_hosts; i++) {
        const char *m = microsoft_login_hosts[i];
        if (strlen(m) == n && strncasecmp(h, m, n) == 0)
            return m;
    }
    return NULL;
}

/* AZURE_AUTHORITY_HOST: an https URL; trailing slashes dropped. */
static int env_authority(const char *v, char *authority, size_t acap, char *err, size_t errcap)
{
    size_t n = strlen(v);
    while (n > 8 && v[n - 1] == '/')
        n--;
    if (strncasecmp(v, "https://", 8) != 0 || n <= 8 || strcspn(v, " \t\r\n") < n) {
        snprintf(err, errcap, "AZURE_AUTHORITY_HOST must be an https:// URL");
        return NET_E_ARG;
    }
    if (n >= acap) {
        snprintf(err, errcap, "AZURE_AUTHORITY_HOST is too long");
        return NET_E_ARG;
    }
    memcpy(authority, v, n);
    authority[n] = '\0';
    return NET_OK;
}

/* The STS URL's first path segment when it looks like a tenant. */
static bool sts_tenant(const char *url, char *tenant, size_t tcap)
{
    const char *p = strstr(url ? url : "", "://");
    if (!p)
        return false;
    p += 3;
    p += strcspn(p, "/?#");
    if (*p != '/')
        return false;
    p++;
    size_t n = strcspn(p, "/?#");
    if (!tenant_ok(p, n) || n >= tcap)
        return false;
    memcpy(tenant, p, n);
    tenant[n] = '\0';
    return true;
}

int entra_authority(const char *sts_url, const char *explicit_tenant, char *authority, size_t acap,
                    char *tenant, size_t tcap, char *err, size_t errcap)
{
    const char *env = getenv("AZURE_AUTHORITY_HOST");
    const char *ms = sts_url ? sts_microsoft_host(sts_url) : NULL;
    if (env && *env) {
        int rc = env_authority(env, authority, acap, err, errcap);
        if (rc)
            return rc;
    } else {
        snprintf(authority, acap, "%s%s", ms ? "https://" : ENTRA_DEFAULT_AUTHORITY, ms ? ms : "");
    }
    if (explicit_tenant && *explicit_tenant) {
        if (!tenant_ok(explicit_tenant, strlen(explicit_tenant)) || strlen(explicit_tenant) >= tcap) {
            snprintf(err, errcap, "tenant id \"%.64s\" is not a tenant id or domain name", explicit_tenant);
            return NET_E_ARG;
        }
        snprintf(tenant, tcap, "%s", explicit_tenant);
    } else if (!sts_tenant(sts_url, tenant, tcap)) {
        snprintf(tenant, tcap, "organizations");
    }
    return NET_OK;
}

void entra_scope(const char *spn, char *out, size_t cap)
{
    const char *s = spn && *spn ? spn : ENTRA_SQL_RESOURCE;
    size_t n = strlen(s);
    if (n >= 9 && strcmp(s + n - 9, "/.default") == 0)
        snprintf(out, cap, "%s", s);
    else
        snprintf(out, cap, "%s/.default", s);
}

/* Azure SQL's resource in each cloud (public, US Government, China, and
 * the retired Germany cloud still named by older servers). */
static const char *const sql_resources[] = {
    "https://database.windows.net/", "https://database.usgovcloudapi.net/",
    "https://database.chinacloudapi.cn/", "https://database.cloudapi.de/",
};

static bool same_resource(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na > 0 && a[na - 1] == '/')
        na--;
    while (nb > 0 && b[nb - 1] == '/')
        nb--;
    return na == nb && strncasecmp(a, b, na) == 0;
}

/* The server's SPN names the audience of the token we fetch with the
 * caller's identity. An unauthenticated server (TrustServerCertificate)
 * could ask for a token meant for another service (Key Vault, Azure
 * Resource Manager) and replay it there, so only Azure SQL's resources are
 * taken from it, plus the one TDSPIPE_ENTRA_RESOURCE names (a server
 * configured with its own SPN); anything else gets ENTRA_SQL_RESOURCE. */
const char *entra_resource(const char *spn)
{
    if (!spn || !*spn)
        return ENTRA_SQL_RESOURCE;
    for (size_t i = 0; i < sizeof sql_resources / sizeof *sql_resources; i++)
        if (same_resource(spn, sql_resources[i]))
            return spn;
    const char *own = getenv("TDSPIPE_ENTRA_RESOURCE");
    if (own && *own && same_resource(spn, own))
        return spn;
    return ENTRA_SQL_RESOURCE;
}
