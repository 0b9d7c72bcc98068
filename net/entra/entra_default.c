/*
 * entra_default.c — ActiveDirectoryDefault, DefaultAzureCredential's
 * chain: environment → workload identity → managed identity → Azure CLI.
 * The chain moves on only when a step is not available here (NET_E_ARG:
 * its variables unset, no endpoint answering, az missing or signed out);
 * any other failure — a refused secret, an unreadable token file — ends
 * it, as azidentity's ChainedTokenCredential does. When no step works the
 * error is one line saying what each step found.
 *
 * Managed identity: the user slot, else AZURE_CLIENT_ID, names a
 * user-assigned identity; IMDS gets a 1 s probe first (azidentity's), so a
 * laptop without IMDS reaches the Azure CLI step quickly.
 */
#include <stdio.h>
#include <string.h>

#include "entra_src.h"

#define DEFAULT_MI_PROBE_MS 1000u
#define STEP_NOTE_MAX 118 /* four notes and the prefix fit net_error.message */

typedef enum { STEP_ENV, STEP_WORKLOAD, STEP_MI, STEP_AZ, STEP_COUNT } step;

static int run_step(step s, const entra_request *r, entra_token *out, net_error *err)
{
    switch (s) {
    case STEP_ENV:
        return entra_env_token(r, out, err);
    case STEP_WORKLOAD:
        return entra_workload_token(r, out, err);
    case STEP_MI: {
        const char *id = r->o->user && *r->o->user ? r->o->user : entra_env("AZURE_CLIENT_ID");
        return entra_mi_token_ex(r, id, DEFAULT_MI_PROBE_MS, out, err);
    }
    default:
        return entra_azcli_token(r, out, err);
    }
}

int entra_default_token(const entra_request *r, entra_token *out, net_error *err)
{
    char notes[STEP_COUNT][STEP_NOTE_MAX + 1];
    for (step s = STEP_ENV; s < STEP_COUNT; s++) {
        net_error e = {0};
        int rc = run_step(s, r, out, &e);
        if (rc == NET_OK)
            return NET_OK;
        entra_token_clear(out);
        if (rc != NET_E_ARG) {
            *err = e;
            return net__fail(err, rc, "ActiveDirectoryDefault: %s", e.message);
        }
        size_t n = strlen(e.message);
        snprintf(notes[s], sizeof notes[s], "%.*s%s", (int)(n > STEP_NOTE_MAX ? STEP_NOTE_MAX - 3 : n), e.message,
                 n > STEP_NOTE_MAX ? "..." : "");
    }
    return net__fail(err, NET_E_ARG, "ActiveDirectoryDefault: %s; %s; %s; %s", notes[STEP_ENV], notes[STEP_WORKLOAD],
                     notes[STEP_MI], notes[STEP_AZ]);
}
