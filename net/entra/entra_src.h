/*
 * entra_src.h — what the identity sources (entra.c, entra_mi.c,
 * entra_workload.c, entra_azcli.c, entra_env.c, entra_default.c) share,
 * private to them. The module's contract is entra_int.h; this header only
 * names helpers two or more sources use.
 */
#ifndef TDSPIPE_ENTRA_SRC_H
#define TDSPIPE_ENTRA_SRC_H

#include <stdint.h>

#include "entra_int.h"
#include "net_int.h"

/* getenv(name) when set and not empty, else NULL. */
const char *entra_env(const char *name);

/* A client at the v2.0 token endpoint: client_credentials with a secret or
 * a certificate assertion, or the password grant (username set). The
 * authority and tenant come from entra_authority (tenant NULL: the STS
 * URL's). entra.c. */
typedef struct entra_client {
    const char *client_id;
    const char *tenant;
    const char *secret;
    const char *cert_path;
    const char *cert_password;   /* the PEM key's password, may be NULL */
    const char *username;
    const char *password;
} entra_client;
int entra_client_token(const entra_request *r, const entra_client *c, entra_token *out, net_error *err);

/* Managed identity with an explicit user-assigned client id (NULL:
 * system-assigned, or the connection's user) and, for the Default chain,
 * probe_ms > 0: the first IMDS request gets that long and no retries, and
 * no answer means "not available" (azidentity's 1 s probe). entra_mi.c. */
int entra_mi_token_ex(const entra_request *r, const char *client_id, uint32_t probe_ms, entra_token *out,
                      net_error *err);

/* Reads a small file whole (at most cap bytes), trailing whitespace cut.
 * *out malloc'd (the caller wipes and frees it). NET_OK, or NET_E_IO with
 * a one-line reason naming the file (never its contents). entra.c. */
int entra_read_file(const char *path, size_t cap, char **out, net_error *err);

#endif
