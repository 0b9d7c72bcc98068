/*
 * entra_workload.c — workload identity (AKS, GitHub Actions OIDC…): the
 * federated token in AZURE_FEDERATED_TOKEN_FILE (or tokenfilepath=) is the
 * client assertion of a jwt-bearer client_credentials request. The file is
 * read on every request: the kubelet rotates it. Client id: the user slot,
 * else AZURE_CLIENT_ID; tenant: "client@tenant" or tenant_id, else
 * AZURE_TENANT_ID, else the server's STS URL; authority:
 * AZURE_AUTHORITY_HOST (the AKS webhook sets all four).
 */
#include <stdlib.h>
#include <string.h>

#include "entra_src.h"

#define WORKLOAD_TOKEN_MAX (64u * 1024u)

int entra_workload_token(const entra_request *r, entra_token *out, net_error *err)
{
    const net_opts *o = r->o;
    bool own = o->auth == NET_AUTH_WORKLOAD_IDENTITY; /* else: a step of the Default chain */
    const char *file = own && o->token_file_path ? o->token_file_path : entra_env("AZURE_FEDERATED_TOKEN_FILE");
    if (!file)
        return net__fail(err, NET_E_ARG, "workload identity: AZURE_FEDERATED_TOKEN_FILE not set");
    char client[256] = "";
    const char *at = o->user ? strchr(o->user, '@') : NULL;
    if (o->user && *o->user)
        snprintf(client, sizeof client, "%.*s", at ? (int)(at - o->user) : 255, o->user);
    else if (entra_env("AZURE_CLIENT_ID"))
        snprintf(client, sizeof client, "%s", entra_env("AZURE_CLIENT_ID"));
    if (!client[0])
        return net__fail(err, NET_E_ARG, "workload identity: AZURE_CLIENT_ID not set");
    const char *tenant = at ? at + 1 : o->tenant_id;
    if (!tenant)
        tenant = entra_env("AZURE_TENANT_ID");
    char *assertion = NULL;
    int rc = entra_read_file(file, WORKLOAD_TOKEN_MAX, &assertion, err);
    if (rc) {
        net_error e = *err;
        return net__fail(err, rc, "workload identity: %s", e.message);
    }
    if (!assertion[0]) {
        free(assertion);
        return net__fail(err, NET_E_LOGIN, "workload identity: the federated token file %.200s is empty", file);
    }
    char authority[300], tid[200], scope[600], why[300] = "";
    rc = entra_authority(r->sts_url, tenant, authority, sizeof authority, tid, sizeof tid, why, sizeof why);
    if (rc) {
        net__fail(err, rc, "workload identity: %s", why);
    } else {
        entra_scope(r->spn, scope, sizeof scope);
        entra_aad_req q = {.authority = authority, .tenant = tid, .client_id = client, .scope = scope,
                           .client_assertion = assertion};
        rc = entra_aad_token(&q, out, err);
    }
    net_wipe(assertion, strlen(assertion));
    free(assertion);
    return rc;
}
