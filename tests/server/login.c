/*
 * login.c — tdstestd's PRELOGIN answer and LOGIN7 reply, shaped like SQL
 * Server's.
 *
 * Owns: the ENCRYPTION negotiation table (OFF→OFF with a certificate,
 * meaning login-only TLS; ON/REQ→ON; NOT_SUP→NOT_SUP; in "required" mode
 * OFF→REQ and NOT_SUP→REQ and then a refusal), FEDAUTHREQUIRED and NONCE,
 * the LOGIN7 check through srv_login(), the login reply tokens (ENVCHANGE
 * database + INFO 5701, collation, language + INFO 5703, LOGINACK,
 * FEATUREEXTACK only for what the client asked — FEDAUTH, UTF8_SUPPORT,
 * JSONSUPPORT 1 and VECTORSUPPORT min(asked, 2) unless --no-2025-types —,
 * packet size, DONE), the
 * failure reply (ERROR 18456 class 14 + DONE_ERROR, then close) and
 * routing (ENVCHANGE 20, DONE, close).
 *
 * Invariant: the login reply is sent with the packet size in force during
 * login (4096); the negotiated size applies from the next message on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "network_int.h"

/* SQL_Latin1_General_CP1_CI_AS, as SQL Server sends it in ENVCHANGE 7. */
static const uint8_t default_collation[5] = {0x09, 0x04, 0xD0, 0x00, 0x34};

static tds_str mkstr(const char *s)
{
    tds_str t;
    t.ptr = s ? s : "";
    t.len = strlen(t.ptr);
    return t;
}

static const char *enc_name(uint8_t e)
{
    switch (e) {
    case TDS_ENCRYPT_OFF: return "OFF";
    case TDS_ENCRYPT_ON: return "ON";
    case TDS_ENCRYPT_NOT_SUP: return "NOT_SUP";
    case TDS_ENCRYPT_REQ: return "REQ";
    default: return "?";
    }
}

/* ------------------------------------------------------------- PRELOGIN */

int srv_net_prelogin_handle(srv_net_conn *c, const uint8_t *p, size_t n)
{
    srv_net_server *srv = c->srv;
    tds_prelogin in;
    memset(&in, 0, sizeof in);
    int r = tds_prelogin_decode(p, n, &in);
    if (r < 0) {
        srv_net_log(c, "bad PRELOGIN: %s", tds_strerror(r));
        return -1;
    }
    uint8_t cenc = (in.present & (1u << TDS_PL_ENCRYPTION))
                       ? (uint8_t)(in.encryption & ~TDS_ENCRYPT_CLIENT_CERT)
                       : TDS_ENCRYPT_OFF;
    c->client_encrypt = cenc;
    c->client_fedauth_opt = (in.present & (1u << TDS_PL_FEDAUTHREQUIRED)) != 0;

    uint8_t ans = TDS_ENCRYPT_NOT_SUP;
    bool tls = false, login_only = false, refuse = false;
    bool have_cert = srv->tls != NULL;
    if (c->enc == SRV_NET_ENC_STRICT) {
        /* TLS is already up; answer as a server with a certificate would
         * and change nothing. */
        ans = cenc == TDS_ENCRYPT_REQ ? TDS_ENCRYPT_ON : cenc;
        if (ans > TDS_ENCRYPT_REQ)
            ans = TDS_ENCRYPT_ON;
    } else if (!have_cert || srv->cfg->tls_mode == SRV_NET_TLS_OFF) {
        ans = TDS_ENCRYPT_NOT_SUP; /* a client that needs TLS gives up */
    } else if (srv->cfg->tls_mode == SRV_NET_TLS_ON) {
        switch (cenc) {
        case TDS_ENCRYPT_NOT_SUP:
            ans = TDS_ENCRYPT_NOT_SUP;
            break;
        case TDS_ENCRYPT_ON:
        case TDS_ENCRYPT_REQ:
            ans = TDS_ENCRYPT_ON;
            tls = true;
            break;
        default: /* OFF: encrypt the LOGIN7 only */
            ans = TDS_ENCRYPT_OFF;
            tls = login_only = true;
            break;
        }
    } else { /* required */
        switch (cenc) {
        case TDS_ENCRYPT_NOT_SUP:
            ans = TDS_ENCRYPT_REQ; /* MS-TDS: REQ, then the connection ends */
            refuse = true;
            break;
        case TDS_ENCRYPT_ON:
            ans = TDS_ENCRYPT_ON;
            tls = true;
            break;
        default:
            ans = TDS_ENCRYPT_REQ;
            tls = true;
            break;
        }
    }

    tds_prelogin out;
    memset(&out, 0, sizeof out);
    out.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION) |
                  (1u << TDS_PL_INSTOPT) | (1u << TDS_PL_THREADID) | (1u << TDS_PL_MARS);
    out.version = srv->settings.version;
    out.subbuild = 0;
    out.encryption = ans;
    out.instance[0] = 0;
    out.thread_id = (uint32_t)c->id;
    out.mars = 0;
    if (c->client_fedauth_opt) {
        c->fedauth_required = srv->settings.fedauth_required;
        out.present |= 1u << TDS_PL_FEDAUTHREQUIRED;
        out.fedauth_required = c->fedauth_required ? 1 : 0;
        if (c->fedauth_required) {
            if (RAND_bytes(c->nonce, sizeof c->nonce) != 1)
                return -1;
            memcpy(out.nonce, c->nonce, sizeof c->nonce);
            out.present |= 1u << TDS_PL_NONCEOPT;
            c->nonce_sent = true;
        }
    }
    r = tds_send_prelogin(c->s, &out);
    if (r < 0) {
        srv_net_log(c, "PRELOGIN reply: %s", tds_strerror(r));
        return -1;
    }
    srv_net_conn_flush(c);
    srv_net_log(c, "PRELOGIN: client encryption %s, answered %s%s%s", enc_name(cenc),
            enc_name(ans), c->client_fedauth_opt ? ", FEDAUTHREQUIRED" : "",
            c->nonce_sent ? " + NONCE" : "");
    if (refuse) {
        srv_net_log(c, "encryption required but the client does not support it");
        return -1;
    }
    if (c->enc == SRV_NET_ENC_STRICT) {
        c->state = NC_LOGIN;
        return 0;
    }
    if (tls) {
        c->tls = srv_net_tls_new(srv->tls, false);
        if (!c->tls)
            return -1;
        c->enc = login_only ? SRV_NET_ENC_LOGIN_ONLY : SRV_NET_ENC_FULL;
        c->state = NC_TLS_HS;
    } else {
        c->state = NC_LOGIN;
    }
    return 0;
}

/* --------------------------------------------------------------- LOGIN7 */

static uint32_t ack_version(uint32_t asked)
{
    switch (asked) {
    case 0x71000001u: /* 7.1 */
    case 0x72090002u: /* 7.2 */
    case 0x730A0003u: /* 7.3A */
    case 0x730B0003u: /* 7.3B */
        return asked;
    default:
        return TDS_VERSION_74;
    }
}

static int put_env_text(tds_session *s, uint8_t type, const char *new_v, const char *old_v)
{
    tds_envchange e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.new_text = mkstr(new_v);
    e.old_text = mkstr(old_v);
    return tds_put_envchange(s, &e);
}

static int login_put_msg(srv_net_conn *c, bool error, int32_t number, uint8_t state, uint8_t cls,
                   const char *text)
{
    tds_server_msg m;
    memset(&m, 0, sizeof m);
    m.number = number;
    m.state = state;
    m.severity = cls;
    m.message = mkstr(text);
    m.server = mkstr(c->srv->settings.server_name);
    m.procedure = mkstr("");
    m.line = 1;
    return error ? tds_put_error(c->s, &m) : tds_put_info(c->s, &m);
}

static int login_fail(srv_net_conn *c, const srv_error *e)
{
    int r = tds_msg_begin(c->s, TDS_PKT_REPLY, 0);
    if (r == 0)
        r = login_put_msg(c, true, e->number, e->state, e->severity, e->message);
    if (r == 0)
        r = tds_put_done(c->s, TDS_TOK_DONE, TDS_DONE_ERROR, 0, 0);
    if (r == 0)
        r = tds_msg_end(c->s);
    srv_net_conn_flush(c);
    srv_net_log(c, "login refused: %d %s", (int)e->number, e->message);
    return -1; /* close after the reply */
}

static void fail_msg(srv_error *e, const char *user)
{
    memset(e, 0, sizeof *e);
    e->number = 18456;
    e->state = 1;
    e->severity = 14;
    snprintf(e->message, sizeof e->message, "Login failed for user '%s'.", user ? user : "");
}

int srv_net_login_refuse_token(srv_net_conn *c)
{
    srv_error err;
    fail_msg(&err, "<token-identified principal>");
    return login_fail(c, &err);
}

/* FEDAUTH ack data: the client's nonce and a 32-byte signature of it. A
 * real server signs with the session key derived from the token; tdstestd
 * has none, so it signs with HMAC-SHA-256 keyed by the token itself. */
static int fedauth_ack_data(const tds_login7 *l, uint8_t out[64])
{
    unsigned int slen = 32;
    const char *tok = l->fedauth_token ? l->fedauth_token : "";
    memcpy(out, l->fedauth_nonce, 32);
    if (!HMAC(EVP_sha256(), tok, (int)strlen(tok), l->fedauth_nonce, 32, out + 32, &slen))
        return -1;
    return 64;
}

/* FEDAUTH checks beyond the token: the echo bit, the library, the nonce.
 * Returns true when the LOGIN7's FEDAUTH feature is acceptable. */
static bool fedauth_ok(srv_net_conn *c, const tds_login7 *l)
{
    bool bad = false;
    /* MS-TDS server rule: fFedAuthEcho is 1 iff our PRELOGIN said
     * FEDAUTHREQUIRED=1. */
    if (l->fedauth_echo != c->fedauth_required) {
        srv_net_log(c, "FEDAUTH echo %d does not match FEDAUTHREQUIRED %d",
                l->fedauth_echo, c->fedauth_required);
        bad = true;
    }
    if (l->fedauth_library == TDS_FEDAUTH_LIB_ADAL) {
        if (l->fedauth_workflow < TDS_FEDAUTH_WF_PASSWORD ||
            l->fedauth_workflow > TDS_FEDAUTH_WF_INTERACTIVE) {
            srv_net_log(c, "FEDAUTH ADAL workflow 0x%02x unknown", l->fedauth_workflow);
            bad = true;
        }
        return !bad; /* the nonce comes back in FEDAUTH_TOKEN (fedauth.c) */
    }
    if (l->fedauth_library != TDS_FEDAUTH_LIB_SECURITYTOKEN) {
        srv_net_log(c, "FEDAUTH library %u not supported", l->fedauth_library);
        bad = true;
    }
    /* A nonce that comes back must be ours; tedious sends none at all
     * (it does not read NONCEOPT), which SQL Server tolerates too. */
    if (c->nonce_sent && l->fedauth_has_nonce &&
        memcmp(l->fedauth_nonce, c->nonce, 32) != 0) {
        srv_net_log(c, "FEDAUTH nonce differs from the one sent");
        bad = true;
    } else if (c->nonce_sent && !l->fedauth_has_nonce) {
        srv_net_log(c, "FEDAUTH without the nonce (accepted)");
    }
    return !bad;
}

/* Checks the login against the scenario (token: the FEDAUTH token of
 * either workflow, NULL for a SQL login). Returns the new query-half
 * connection, or NULL with err filled in (the caller refuses). */
static srv_conn *login_check(srv_net_conn *c, const tds_login7 *l, const char *token,
                             srv_error *err)
{
    if (l->sspi_len > 0) {
        fail_msg(err, "");
        snprintf(err->message, sizeof err->message,
                 "Login failed. The login is from an untrusted domain and cannot be used with Integrated authentication.");
        return NULL;
    }
    if (l->fedauth && (!fedauth_ok(c, l) || !srv_net_fedauth_token_ok(c, token ? token : ""))) {
        fail_msg(err, "<token-identified principal>");
        return NULL;
    }
    srv_login_req req;
    memset(&req, 0, sizeof req);
    req.user = l->username ? l->username : "";
    req.password = l->password ? l->password : "";
    req.token = l->fedauth ? (token ? token : "") : NULL;
    req.database = l->database ? l->database : "";
    req.app_name = l->appname ? l->appname : "";
    srv_conn *qc = NULL;
    memset(err, 0, sizeof *err);
    if (!srv_login(c->srv->db, &req, &qc, err)) {
        if (err->number == 0)
            fail_msg(err, l->fedauth ? "<token-identified principal>" : req.user);
        return NULL;
    }
    return qc;
}

/* Packet size: as asked, within 512..cap (16383 under TLS). */
static uint32_t packet_size_for(const srv_net_conn *c, const tds_login7 *l)
{
    uint32_t want = l->packet_size ? l->packet_size : TDS_PACKET_DEFAULT;
    uint32_t pcap = c->srv->settings.max_packet_size;
    if (pcap > TDS_PACKET_MAX)
        pcap = TDS_PACKET_MAX;
    if ((c->enc == SRV_NET_ENC_FULL || c->enc == SRV_NET_ENC_STRICT) && pcap > 16383)
        pcap = 16383;
    if (want > pcap)
        want = pcap;
    if (want < TDS_PACKET_MIN)
        want = TDS_PACKET_MIN;
    return want;
}

/* The reply's environment before LOGINACK: database + INFO 5701,
 * collation, language + INFO 5703. */
static int put_login_env(srv_net_conn *c, const char *db)
{
    char text[600];
    int r = put_env_text(c->s, TDS_ENV_DATABASE, db, "master");
    if (r == 0) {
        snprintf(text, sizeof text, "Changed database context to '%s'.", db ? db : "");
        r = login_put_msg(c, false, 5701, 2, 0, text);
    }
    if (r == 0) {
        tds_envchange e;
        memset(&e, 0, sizeof e);
        e.type = TDS_ENV_COLLATION;
        e.new_raw = default_collation;
        e.new_raw_len = sizeof default_collation;
        r = tds_put_envchange(c->s, &e);
    }
    if (r == 0)
        r = put_env_text(c->s, TDS_ENV_LANGUAGE, "us_english", "");
    if (r == 0)
        r = login_put_msg(c, false, 5703, 1, 0, "Changed language setting to us_english.");
    return r;
}

static int put_login_ack(srv_net_conn *c)
{
    uint32_t v = c->srv->settings.version;
    tds_loginack a;
    memset(&a, 0, sizeof a);
    a.interface = 1;
    a.tds_version = c->tds_version;
    a.prog_name = mkstr("Microsoft SQL Server");
    a.major = (uint8_t)(v >> 24);
    a.minor = (uint8_t)(v >> 16);
    a.build = (uint16_t)v;
    return tds_put_loginack(c->s, &a);
}

/* The JSONSUPPORT / VECTORSUPPORT versions acked for l (0: none): json 1,
 * vector the client's up to 2 (float32, float16). */
static void types2025_versions(const srv_net_conn *c, const tds_login7 *l, uint8_t *json,
                               uint8_t *vector)
{
    bool on = c->tds_version == TDS_VERSION_74 && !c->srv->cfg->no_types2025;
    *json = on && l->json_support ? 1 : 0;
    *vector = on && l->vector_support ? (l->vector_support < 2 ? l->vector_support : 2) : 0;
}

/* FEATUREEXTACK naming only the features the client sent (TDS 7.4). */
static int put_feature_acks(srv_net_conn *c, const tds_login7 *l)
{
    uint8_t json, vector;
    types2025_versions(c, l, &json, &vector);
    if (c->tds_version != TDS_VERSION_74 || !(l->utf8_support || l->fedauth || json || vector))
        return 0;
    tds_feature_ack acks[4];
    size_t na = 0;
    static const uint8_t utf8_on = 0x01;
    uint8_t fa[64];
    if (l->fedauth) {
        /* ADAL: no data (SqlClient refuses any); security token: as below. */
        acks[na].id = TDS_FEAT_FEDAUTH;
        acks[na].data = fa;
        acks[na].len = 0;
        if (l->fedauth_library == TDS_FEDAUTH_LIB_SECURITYTOKEN && l->fedauth_has_nonce) {
            int fl = fedauth_ack_data(l, fa);
            if (fl < 0)
                return TDS_E_NOMEM;
            acks[na].len = (uint32_t)fl;
        }
        na++;
    }
    if (l->utf8_support) {
        acks[na].id = TDS_FEAT_UTF8_SUPPORT;
        acks[na].data = &utf8_on;
        acks[na].len = 1;
        na++;
    }
    if (json)
        acks[na++] = (tds_feature_ack){TDS_FEAT_JSONSUPPORT, &json, 1};
    if (vector)
        acks[na++] = (tds_feature_ack){TDS_FEAT_VECTORSUPPORT, &vector, 1};
    return tds_put_featureextack(c->s, acks, na);
}

/* The whole successful login reply, ending with routing when the
 * scenario or --route-to asks for it. */
static int put_login_reply(srv_net_conn *c, const tds_login7 *l, const char *db, uint32_t want)
{
    const srv_settings *st = &c->srv->settings;
    char size_new[16], size_old[16];
    int r = tds_msg_begin(c->s, TDS_PKT_REPLY, 0);
    if (r == 0)
        r = put_login_env(c, db);
    if (r == 0)
        r = put_login_ack(c);
    if (r == 0)
        r = put_feature_acks(c, l);
    if (r == 0) {
        snprintf(size_new, sizeof size_new, "%u", (unsigned)want);
        snprintf(size_old, sizeof size_old, "%u", (unsigned)TDS_PACKET_DEFAULT);
        r = put_env_text(c->s, TDS_ENV_PACKETSIZE, size_new, size_old);
    }
    if (r == 0 && st->route_host != NULL) {
        tds_envchange e;
        memset(&e, 0, sizeof e);
        e.type = TDS_ENV_ROUTING;
        e.routing_server = mkstr(st->route_host);
        e.routing_port = st->route_port;
        r = tds_put_envchange(c->s, &e);
    }
    if (r == 0)
        r = tds_put_done(c->s, TDS_TOK_DONE, 0, 0, 0);
    if (r == 0)
        r = tds_msg_end(c->s);
    return r;
}

int srv_net_login7_answer(srv_net_conn *c, const tds_login7 *l, const char *token)
{
    srv_net_server *srv = c->srv;
    srv_error err;
    srv_conn *qc = login_check(c, l, token, &err);
    if (!qc)
        return login_fail(c, &err);
    uint32_t want = packet_size_for(c, l);
    c->packet_size = want;
    const char *db = srv_conn_database(qc);
    int r = put_login_reply(c, l, db, want);
    if (r < 0) {
        srv_net_log(c, "login reply: %s", tds_strerror(r));
        srv_conn_free(qc);
        return -1;
    }
    srv_net_conn_flush(c);
    if (srv->settings.route_host != NULL) {
        srv_net_log(c, "routed to %s:%u", srv->settings.route_host, srv->settings.route_port);
        srv_conn_free(qc);
        return -1;
    }
    tds_set_packet_size(c->s, want);
    uint8_t json, vector;
    types2025_versions(c, l, &json, &vector);
    srv_conn_set_types2025(qc, json, vector);
    c->qc = qc;
    c->state = NC_READY;
    srv_net_faults_poll(c);
    srv_net_log(c, "logged in, database '%s', packet size %u", db ? db : "", (unsigned)want);
    return 0;
}

int srv_net_login7_handle(srv_net_conn *c, const uint8_t *p, size_t n)
{
    size_t cap = n * 2 + 1024;
    char *strbuf = malloc(cap);
    if (!strbuf)
        return -1;
    tds_login7 l;
    memset(&l, 0, sizeof l);
    int r = tds_login7_decode(p, n, &l, strbuf, cap);
    if (r < 0) {
        srv_net_log(c, "bad LOGIN7: %s", tds_strerror(r));
        free(strbuf);
        return -1;
    }
    c->tds_version = ack_version(l.tds_version);
    srv_net_log(c, "LOGIN7: tds 0x%08x user '%s' db '%s' app '%s' packet %u%s%s%s%s",
            (unsigned)l.tds_version, l.username ? l.username : "",
            l.database ? l.database : "", l.appname ? l.appname : "",
            (unsigned)l.packet_size,
            !l.fedauth ? "" : l.fedauth_library == TDS_FEDAUTH_LIB_ADAL ? " FEDAUTH(ADAL)" : " FEDAUTH",
            l.utf8_support ? " UTF8_SUPPORT" : "", l.json_support ? " JSONSUPPORT" : "",
            l.vector_support ? " VECTORSUPPORT" : "");
    if (l.fedauth && l.fedauth_library == TDS_FEDAUTH_LIB_ADAL) {
        /* The token comes in the next message; the login is answered then. */
        if (l.sspi_len > 0 || !fedauth_ok(c, &l)) {
            free(strbuf);
            return srv_net_login_refuse_token(c);
        }
        free(strbuf);
        return srv_net_fedauth_begin(c, p, n);
    }
    /* l's strings live in strbuf until the reply has been queued. */
    r = srv_net_login7_answer(c, &l, l.fedauth ? (l.fedauth_token ? l.fedauth_token : "") : NULL);
    free(strbuf);
    return r;
}
