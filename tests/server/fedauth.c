/*
 * fedauth.c — tdstestd's side of the FEDAUTH ADAL/MSAL workflow (Entra
 * logins, issue 15) and the token check of both FEDAUTH workflows.
 *
 *   LOGIN7 with FEDAUTH library 0x02 (echo checked in login.c)
 *   → a message holding only FEDAUTHINFO: STS URL (--fedauth-sts-url, else
 *     https://login.microsoftonline.com/<--fedauth-tenant or common>) and
 *     SPN (--fedauth-spn, else https://database.windows.net/)
 *   ← FEDAUTH_TOKEN (packet 0x08): the token, and our PRELOGIN nonce iff
 *     we sent NONCEOPT (a missing, wrong or unasked-for nonce is refused)
 *   → the login reply of login.c, or 18456 for '<token-identified
 *     principal>' (as SQL Server words it).
 *
 * Token check: with --fedauth-issuer-cert a token must also be an RS256
 * JWT of that key with a live exp and the --fedauth-audience audience
 * (fedauth_jwt.c); then, as without the flag, the scenario's token logins
 * decide ("*" takes any). The token is never logged, only why it failed.
 *
 * The LOGIN7 waits between the two messages as a copy of its payload
 * (c->fa_login7), wiped when freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "network_int.h"

void srv_net_fedauth_release(srv_net_conn *c)
{
    if (c->fa_login7) {
        memset(c->fa_login7, 0, c->fa_login7_len);
        free(c->fa_login7);
    }
    c->fa_login7 = NULL;
    c->fa_login7_len = 0;
    c->fa_wait = false;
}

int srv_net_fedauth_begin(srv_net_conn *c, const uint8_t *p, size_t n)
{
    srv_net_server *srv = c->srv;
    c->fa_login7 = malloc(n ? n : 1);
    if (!c->fa_login7)
        return -1;
    memcpy(c->fa_login7, p, n);
    c->fa_login7_len = n;
    int r = tds_msg_begin(c->s, TDS_PKT_REPLY, 0);
    if (r == 0)
        r = tds_put_fedauthinfo(c->s, srv->fa_sts_url, srv->fa_spn);
    if (r == 0)
        r = tds_msg_end(c->s);
    if (r < 0) {
        srv_net_log(c, "FEDAUTHINFO: %s", tds_strerror(r));
        return -1;
    }
    srv_net_conn_flush(c);
    c->fa_wait = true;
    srv_net_log(c, "FEDAUTHINFO sent (STS URL %s, SPN %s)", srv->fa_sts_url, srv->fa_spn);
    return 0;
}

/* The nonce rules of FEDAUTH_TOKEN (MS-TDS 2.2.6.3): ours back iff sent. */
static bool nonce_ok(srv_net_conn *c, bool has, const uint8_t nonce[32])
{
    if (c->nonce_sent && !has) {
        srv_net_log(c, "FEDAUTH_TOKEN without the PRELOGIN nonce");
        return false;
    }
    if (!c->nonce_sent && has) {
        srv_net_log(c, "FEDAUTH_TOKEN carries a nonce that was never sent");
        return false;
    }
    if (has && memcmp(nonce, c->nonce, 32) != 0) {
        srv_net_log(c, "FEDAUTH_TOKEN nonce differs from the one sent");
        return false;
    }
    if (has)
        srv_net_log(c, "FEDAUTH_TOKEN nonce echoed");
    return true;
}

/* The saved LOGIN7, decoded again, answered with the token. */
static int answer_saved_login(srv_net_conn *c, const char *token)
{
    size_t cap = c->fa_login7_len * 2 + 1024;
    char *strbuf = malloc(cap);
    if (!strbuf)
        return -1;
    tds_login7 l;
    int r = tds_login7_decode(c->fa_login7, c->fa_login7_len, &l, strbuf, cap);
    if (r == TDS_OK)
        r = srv_net_login7_answer(c, &l, token);
    else
        srv_net_log(c, "saved LOGIN7: %s", tds_strerror(r));
    memset(strbuf, 0, cap);
    free(strbuf);
    return r;
}

int srv_net_fedauth_token_handle(srv_net_conn *c, uint8_t type, const uint8_t *p, size_t n)
{
    if (type != TDS_PKT_FEDAUTH_TOKEN) {
        srv_net_log(c, "expected FEDAUTH_TOKEN (0x08), got packet type 0x%02x", type);
        srv_net_fedauth_release(c);
        return -1;
    }
    size_t cap = n * 2 + 1;
    char *tok = malloc(cap);
    if (!tok)
        return -1;
    bool has_nonce = false;
    uint8_t nonce[32];
    int r = tds_fedauth_token_decode(p, n, tok, cap, &has_nonce, nonce);
    if (r < 0) {
        srv_net_log(c, "bad FEDAUTH_TOKEN: %s", tds_strerror(r));
        free(tok);
        srv_net_fedauth_release(c);
        return -1;
    }
    if (!nonce_ok(c, has_nonce, nonce))
        r = srv_net_login_refuse_token(c);
    else
        r = answer_saved_login(c, tok);
    memset(tok, 0, cap);
    free(tok);
    srv_net_fedauth_release(c);
    return r;
}

bool srv_net_fedauth_token_ok(srv_net_conn *c, const char *token)
{
    srv_net_server *srv = c->srv;
    if (!srv->fa_key)
        return true;
    char why[160], principal[128];
    if (srv_fedauth_jwt_verify(srv->fa_key, token, srv->fa_audience, (int64_t)time(NULL), why,
                               sizeof why, principal, sizeof principal) != 0) {
        /* Always said, even without --verbose: a refused token is news. */
        fprintf(stderr, "tdstestd: conn %llu: token refused (%s): %s\n", (unsigned long long)c->id,
                principal, why);
        return false;
    }
    srv_net_log(c, "token verified (%s)", principal);
    return true;
}
