/*
 * entra_env.c — azidentity's EnvironmentCredential, the first step of the
 * Default chain: AZURE_TENANT_ID and AZURE_CLIENT_ID, then the first of
 *   AZURE_CLIENT_SECRET                      a service principal's secret
 *   AZURE_CLIENT_CERTIFICATE_PATH            its certificate (PEM with the
 *     (+ AZURE_CLIENT_CERTIFICATE_PASSWORD)  key; the key's password)
 *   AZURE_USERNAME + AZURE_PASSWORD          the password grant
 * A missing variable means "not available here" (NET_E_ARG, the chain
 * moves on); a refused credential ends the chain.
 */
#include "entra_src.h"

int entra_env_token(const entra_request *r, entra_token *out, net_error *err)
{
    const char *tenant = entra_env("AZURE_TENANT_ID"), *client = entra_env("AZURE_CLIENT_ID");
    if (!tenant || !client)
        return net__fail(err, NET_E_ARG, "environment: %s not set", !tenant ? "AZURE_TENANT_ID" : "AZURE_CLIENT_ID");
    entra_client c = {.client_id = client, .tenant = tenant};
    if ((c.secret = entra_env("AZURE_CLIENT_SECRET")))
        return entra_client_token(r, &c, out, err);
    if ((c.cert_path = entra_env("AZURE_CLIENT_CERTIFICATE_PATH"))) {
        c.cert_password = entra_env("AZURE_CLIENT_CERTIFICATE_PASSWORD");
        return entra_client_token(r, &c, out, err);
    }
    c.username = entra_env("AZURE_USERNAME");
    c.password = entra_env("AZURE_PASSWORD");
    if (c.username && c.password)
        return entra_client_token(r, &c, out, err);
    return net__fail(err, NET_E_ARG, "environment: no AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or "
                                     "AZURE_USERNAME/AZURE_PASSWORD");
}
