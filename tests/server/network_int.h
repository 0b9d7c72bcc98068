/*
 * network_int.h — tdstestd's network half, shared between main.c, server.c,
 * conn.c, dispatch.c, request.c, tls.c, login.c, fedauth.c, fedauth_jwt.c and
 * faults.c. Not part of
 * the engine.h contract.
 *
 * Owns: the server and per-connection structs, the TLS adapter API (OpenSSL
 * with memory BIOs, never touching a socket), the handshake handlers and
 * the wire-fault writer.
 *
 * Invariants: a connection reads the socket only while nothing is held
 * (no request parked behind a running cursor), so the engine's receive
 * buffer (lent through tds_recv_buf) is never invalidated under a live
 * event. Every byte leaving the process goes through srv_net_wire_write(),
 * which applies the connection's wire faults and counts in-flight bytes
 * for back-pressure.
 */
#ifndef TDSTESTD_NETWORK_INT_H
#define TDSTESTD_NETWORK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "engine.h"
#include "tds.h"

/* ------------------------------------------------------------ config */

typedef enum srv_net_tls_mode {
    SRV_NET_TLS_OFF = 0,      /* answer ENCRYPT_NOT_SUP */
    SRV_NET_TLS_ON = 1,       /* login-only or full, as the client asks */
    SRV_NET_TLS_REQUIRED = 2, /* demand encryption */
} srv_net_tls_mode;

typedef struct srv_net_config {
    const char *host;          /* listen address, default 127.0.0.1 */
    int port;                  /* 0 = pick a free one */
    int strict_port;           /* -1 = no TDS 8.0 listener; 0 = pick */
    const char *cert_file;     /* PEM */
    const char *key_file;      /* PEM */
    srv_net_tls_mode tls_mode;
    const char *route_host;    /* overrides the scenario's routing */
    uint16_t route_port;
    bool fedauth_required;     /* overrides the scenario (or-ed) */
    /* FEDAUTH ADAL workflow (Entra, issue 15): what FEDAUTHINFO says */
    const char *fedauth_sts_url; /* NULL: https://login.microsoftonline.com/<tenant> */
    const char *fedauth_tenant;  /* NULL: "common" */
    const char *fedauth_spn;     /* NULL: https://database.windows.net/ */
    /* token validation (both workflows): NULL = the scenario's token list only */
    const char *fedauth_issuer_cert; /* PEM certificate or public key (RS256) */
    const char *fedauth_audience;    /* NULL: https://database.windows.net/ */
    bool no_types2025;         /* never ack JSONSUPPORT / VECTORSUPPORT */
    double rate_limit_mbs;     /* --rate-limit-mbs: reply bytes per connection, MB/s (faults.c); 0 none */
    int verbose;
} srv_net_config;

/* Send queue high-water mark: stop stepping the cursor above it. */
#define SRV_NET_HIGH_WATER (1024u * 1024u)
/* Bytes one cursor step may write before yielding. */
#define SRV_NET_STEP_BUDGET (64u * 1024u)
/* Raw read buffer for TLS ciphertext. */
#define SRV_NET_RAW_BUF (64u * 1024u)

/* ------------------------------------------------------------ TLS (tls.c) */

typedef struct srv_net_tls_ctx srv_net_tls_ctx; /* SSL_CTXs for TDS 7.x and strict */
typedef struct srv_net_tls srv_net_tls;         /* one connection's SSL + memory BIOs */

/* Loads cert and key. Returns NULL with a reason in err on failure. */
srv_net_tls_ctx *srv_net_tls_ctx_new(const char *cert_file, const char *key_file,
                             char *err, size_t errcap);
void srv_net_tls_ctx_free(srv_net_tls_ctx *c);

/* strict: TLS 1.2–1.3 and ALPN tds/8.0 (TDS 8.0, TLS first on the raw
 * socket); otherwise TLS 1.2 at most (TDS 7.x, handshake in PRELOGIN). */
srv_net_tls *srv_net_tls_new(srv_net_tls_ctx *c, bool strict);
void srv_net_tls_free(srv_net_tls *t);
/* Ciphertext from the peer. Returns 0 or -1 (out of memory). */
int srv_net_tls_feed(srv_net_tls *t, const uint8_t *p, size_t n);
/* Advances the handshake. Returns 1 when complete, 0 when it needs more
 * ciphertext, -1 on a TLS failure (reason logged). */
int srv_net_tls_handshake(srv_net_tls *t);
bool srv_net_tls_done(const srv_net_tls *t);
/* Decrypted bytes into buf (at most cap). Returns the count, 0 when more
 * ciphertext is needed, -1 on failure or close_notify. */
int srv_net_tls_read(srv_net_tls *t, uint8_t *buf, size_t cap);
/* Plaintext to encrypt. Returns 0 or -1. */
int srv_net_tls_write(srv_net_tls *t, const uint8_t *p, size_t n);
/* Ciphertext waiting to go out: up to cap bytes moved into buf. Returns
 * the count (0 when none). */
size_t srv_net_tls_out(srv_net_tls *t, uint8_t *buf, size_t cap);
size_t srv_net_tls_out_pending(srv_net_tls *t);
/* Plaintext already decrypted and buffered inside OpenSSL. */
bool srv_net_tls_has_plain(srv_net_tls *t);
/* Negotiated protocol and ALPN for logs ("" when none). */
const char *srv_net_tls_version(const srv_net_tls *t);
const char *srv_net_tls_alpn(const srv_net_tls *t);

/* ------------------------------------------------------------- server */

typedef struct srv_net_server srv_net_server;
typedef struct srv_net_conn srv_net_conn;
typedef struct srv_fedauth_key srv_fedauth_key; /* fedauth_jwt.c */

typedef enum srv_net_conn_state {
    NC_TLS_STRICT = 0, /* strict listener: TLS handshake on the raw socket */
    NC_PRELOGIN,       /* waiting for PRELOGIN */
    NC_TLS_HS,         /* TDS 7.x TLS handshake inside PRELOGIN packets */
    NC_LOGIN,          /* waiting for LOGIN7 */
    NC_READY,          /* logged in: requests */
    NC_CLOSING,        /* flushing, then close */
} srv_net_conn_state;

typedef enum srv_net_enc {
    SRV_NET_ENC_NONE = 0,
    SRV_NET_ENC_LOGIN_ONLY, /* TLS for LOGIN7 only, then plain */
    SRV_NET_ENC_FULL,       /* TDS 7.x: TLS after the in-PRELOGIN handshake */
    SRV_NET_ENC_STRICT,     /* TDS 8.0: TLS from the first byte */
} srv_net_enc;

typedef struct srv_net_faults {
    uint64_t close_after;   /* 0 = off */
    uint64_t sent;          /* reply bytes counted against close_after */
    bool drip;
    uint32_t drip_ms;
    bool stalled;           /* SRV_STALL: never send again */
    uint8_t *dq;            /* drip queue */
    size_t dq_len, dq_pos, dq_cap;
    uv_timer_t timer;
    bool timer_init;
    bool close_pending;     /* close once the limit's bytes are written */
    double rate_bps;        /* --rate-limit-mbs in bytes/s (paced through dq); 0 none */
    double credit;          /* bytes the pace allows now */
    uint64_t pace_ms;       /* loop time of the last credit */
    double rx_credit;       /* the same cap on received bytes (bulk loads) */
    uint64_t rx_ms;
    bool rx_paused;         /* reading stopped by the cap; a read_stop clears it */
} srv_net_faults;

struct srv_net_conn {
    uv_tcp_t tcp;            /* first: handle->data is the conn */
    srv_net_server *srv;
    srv_net_conn *next, *prev;
    uint64_t id;
    bool strict_listener;
    srv_net_conn_state state;
    tds_session *s;

    /* TLS */
    srv_net_tls *tls;
    srv_net_enc enc;
    bool tls_wire;           /* raw socket bytes are TLS records now */
    uint8_t *raw;            /* SRV_NET_RAW_BUF, for ciphertext reads */

    /* handshake results */
    uint8_t client_encrypt;  /* the client's PRELOGIN ENCRYPTION */
    bool client_fedauth_opt; /* the client sent FEDAUTHREQUIRED */
    bool fedauth_required;   /* we answered FEDAUTHREQUIRED=1 */
    bool nonce_sent;
    uint8_t nonce[32];
    bool fa_wait;            /* FEDAUTHINFO sent: waiting for FEDAUTH_TOKEN */
    uint8_t *fa_login7;      /* that login's LOGIN7 payload (wiped, freed) */
    size_t fa_login7_len;
    uint32_t tds_version;    /* what we acknowledged */
    uint32_t packet_size;    /* negotiated */

    /* query half */
    srv_conn *qc;
    srv_cursor *cur;
    uint8_t *req_copy;       /* the request payload the cursor came from */
    void *req_scratch;       /* decoded SQL / RPC params (cursor lifetime) */
    void *req_params;
    bool bulk_active;        /* inside a BULK message */
    bool bulk_failed;

    /* a request that arrived while a cursor ran (parked, reading stopped) */
    bool held;
    tds_event held_ev;

    /* I/O */
    bool reading;
    bool stepping;           /* inside conn_step (no re-entry) */
    bool closing;
    int handles;             /* open uv handles; freed at 0 */
    bool read_eof;
    size_t inflight;         /* bytes handed to uv_write and not completed */
    uint64_t tran_seq;       /* transaction descriptors handed out */
    uint64_t tran;           /* current transaction descriptor (0 = none) */
    srv_net_faults faults;
};

struct srv_net_server {
    uv_loop_t *loop;
    const srv_net_config *cfg;
    srv_db *db;
    srv_settings settings;   /* scenario settings with CLI overrides */
    srv_net_tls_ctx *tls;        /* NULL when no cert */
    srv_fedauth_key *fa_key;     /* --fedauth-issuer-cert, NULL when none */
    char fa_sts_url[512];        /* what FEDAUTHINFO carries */
    const char *fa_spn;
    const char *fa_audience;
    uv_tcp_t listen_tcp;
    uv_tcp_t strict_tcp;
    bool strict_on;
    int port, strict_port;
    srv_net_conn *conns;
    uint64_t next_id;
    size_t nconns;
    bool stopping;
};

/* demo_scenario.c (generated from scenarios/demo.json by
 * embed_scenario.cmake): the scenario served without --scenario. */
extern const char srv_demo_scenario[];
extern const size_t srv_demo_scenario_len;

/* server.c */
int srv_net_server_init(srv_net_server *srv, uv_loop_t *loop, const srv_net_config *cfg,
                    srv_db *db, char *err, size_t errcap);
/* Binds and listens; fills srv->port / srv->strict_port. Returns 0 or a
 * negative libuv error. */
int srv_net_server_listen(srv_net_server *srv);
/* Closes listeners and every connection; the loop then runs dry. */
void srv_net_server_stop(srv_net_server *srv);
/* Frees what is left after the loop has stopped. */
void srv_net_server_free(srv_net_server *srv);

/* Sends whatever the engine queued (through TLS when on the wire). */
void srv_net_conn_flush(srv_net_conn *c);
/* Flushes, then closes once everything is written. */
void srv_net_conn_close_after_flush(srv_net_conn *c);
/* Closes now (dropping unsent bytes). */
void srv_net_conn_close(srv_net_conn *c);
void srv_net_log(const srv_net_conn *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* conn.c: reading and closing (server.c starts reading on accept). */
void srv_net_conn_read_start(srv_net_conn *c);
void srv_net_conn_read_stop(srv_net_conn *c);
/* Decrypts and handles what TLS has buffered. */
void srv_net_conn_pump_tls(srv_net_conn *c);
/* Frees the request payload copy and decode scratch of the last request. */
void srv_net_conn_release_request(srv_net_conn *c);

/* dispatch.c: handles the engine's events until none is ready (or one is
 * held); starts and steps reply cursors. */
void srv_net_conn_events(srv_net_conn *c);
/* Takes the cursor (NULL: out of memory, the connection closes). */
void srv_net_conn_start_cursor(srv_net_conn *c, srv_cursor *cur);
void srv_net_conn_step(srv_net_conn *c);
/* Ends a bulk load (BULK message complete). */
void srv_net_bulk_end(srv_net_conn *c);

/* request.c: one handler per request type of a logged-in connection. */
void srv_net_req_batch(srv_net_conn *c, const uint8_t *p, size_t n);
void srv_net_req_rpc(srv_net_conn *c, const uint8_t *p, size_t n);
void srv_net_req_attention(srv_net_conn *c);
void srv_net_req_tranmgr(srv_net_conn *c, const uint8_t *p, size_t n);

/* login.c: PRELOGIN and LOGIN7 handling. Return 0 to go on, -1 when the
 * connection is to be closed (after flushing what was queued). */
int srv_net_prelogin_handle(srv_net_conn *c, const uint8_t *p, size_t n);
int srv_net_login7_handle(srv_net_conn *c, const uint8_t *p, size_t n);
/* Checks the login (token: the FEDAUTH token of either workflow, or NULL)
 * and sends the reply: refusal, routing, or the logged-in state. */
int srv_net_login7_answer(srv_net_conn *c, const tds_login7 *l, const char *token);
/* Error 18456 for '<token-identified principal>'; returns -1 (close). */
int srv_net_login_refuse_token(srv_net_conn *c);

/* fedauth.c: the FEDAUTH ADAL workflow (FEDAUTHINFO, then the client's
 * FEDAUTH_TOKEN message) and token validation for both workflows. */
/* LOGIN7 p/n asked for library ADAL (echo already checked): FEDAUTHINFO. */
int srv_net_fedauth_begin(srv_net_conn *c, const uint8_t *p, size_t n);
/* A message while fa_wait: must be FEDAUTH_TOKEN (packet 0x08). */
int srv_net_fedauth_token_handle(srv_net_conn *c, uint8_t type, const uint8_t *p, size_t n);
/* True when the token passes --fedauth-issuer-cert's checks (always true
 * without it); the reason for a refusal is logged, never the token. */
bool srv_net_fedauth_token_ok(srv_net_conn *c, const char *token);
/* Frees a saved LOGIN7 (connection close). */
void srv_net_fedauth_release(srv_net_conn *c);

/* fedauth_jwt.c */
srv_fedauth_key *srv_fedauth_key_load(const char *pem_path, char *err, size_t errcap);
void srv_fedauth_key_free(srv_fedauth_key *k);
/* 0 when token is an RS256 JWT signed by k, now < exp, nbf <= now, aud
 * audience; else -1 with the reason in why. principal: for logs. */
int srv_fedauth_jwt_verify(const srv_fedauth_key *k, const char *token, const char *audience,
                           int64_t now, char *why, size_t whycap, char *principal, size_t pcap);

/* faults.c: the only way bytes reach the socket. */
void srv_net_faults_init(srv_net_conn *c);
void srv_net_faults_free(srv_net_conn *c);  /* closes the timer (async) */
/* Applies the query half's faults (polled after each request). */
/* --rate-limit-mbs on received bytes: after n bytes read, reading
 * pauses while they exceed the credit (faults.c). */
void srv_net_faults_received(srv_net_conn *c, size_t n);
void srv_net_faults_poll(srv_net_conn *c);
/* Writes raw wire bytes (copied). Returns 0, or -1 when the connection is
 * being closed. */
int srv_net_wire_write(srv_net_conn *c, const uint8_t *p, size_t n);
/* uv_write of a copy; the only caller of uv_write. */
int srv_net_raw_write(srv_net_conn *c, const uint8_t *p, size_t n);
/* Called by server.c when a uv_write completes. */
void srv_net_conn_write_done(srv_net_conn *c, size_t n);

#endif
