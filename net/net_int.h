/*
 * net_int.h — internals shared between net/ files. Not installed.
 *
 * Owns: the TLS adapter (tls.c), the TCP socket with its read staging
 * buffer (tcp.c, tcp_io.c, tcp_int.h), the async SQL Browser query (browser.c), the error
 * builders (errors.c), and struct net_conn, whose lifecycle and transport
 * live in conn.c, its requests in request.c and its handshake (PRELOGIN,
 * TLS, LOGIN7, routing) in login.c, with the Entra (FEDAUTH ADAL) steps of
 * a login in login_entra.c.
 *
 * Wire invariant: c->wire says what the socket carries. WIRE_PLAIN: TDS
 * packets (also PRELOGIN packets wrapping TDS 7.x handshake records).
 * WIRE_TLS: TLS records whose plaintext is TDS packets. Handshake bytes of
 * TDS 8.0 strict go straight between the socket and the TLS object.
 */
#ifndef TDSPIPE_NET_INT_H
#define TDSPIPE_NET_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "entra/entra_int.h"
#include "net.h"
#include "tds.h"

/* ------------------------------------------------------ ASCII, any locale */

/* Case-insensitive equality of n bytes, ASCII letters only: strncasecmp
 * follows LC_CTYPE, and under tr_TR.UTF-8 'I' does not fold to 'i'. */
static inline bool net__ascii_ncaseeq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------ errors.c */

/* Fills e (code, one-line message from fmt). Returns code. */
int net__fail(net_error *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A server ERROR token as a net_error (message verbatim). */
void net__server_error(net_error *e, int code, const tds_server_msg *m);
void net__error_clear(net_error *e);

/* --------------------------------------------------------------- tls.c */

typedef struct net_tls net_tls;

typedef struct net_tls_cfg {
    bool strict;             /* TLS 1.2–1.3 + ALPN tds/8.0; else TLS 1.2 max */
    bool verify;             /* check chain and host name */
    const char *ca_file;     /* NULL: system store */
    const char *verify_host; /* name (or address) the certificate must carry */
    const char *sni;         /* server name indication (skipped for addresses) */
} net_tls_cfg;

/* Returns NULL with e filled (NET_E_NOMEM, NET_E_TLS for a bad CA file). */
net_tls *net_tls_new(const net_tls_cfg *cfg, net_error *e);
void net_tls_free(net_tls *t);
/* Ciphertext from the peer. Returns 0 or NET_E_NOMEM. */
int net_tls_feed(net_tls *t, const uint8_t *p, size_t n);
/* Advances the handshake. Returns 1 done, 0 needs more ciphertext, or a
 * negative net_err with e filled (certificate failures classified). */
int net_tls_handshake(net_tls *t, net_error *e);
/* Plaintext into buf. Returns bytes (>0), 0 when more ciphertext is
 * needed, or NET_E_CLOSED (close_notify) / NET_E_TLS with e filled. */
int net_tls_read(net_tls *t, uint8_t *buf, size_t cap, net_error *e);
/* Encrypts n bytes as one record (n <= 16384). Returns 0 or NET_E_TLS. */
int net_tls_write(net_tls *t, const uint8_t *p, size_t n, net_error *e);
/* Ciphertext waiting to go out, and moving up to cap bytes of it out. */
size_t net_tls_out_pending(net_tls *t);
size_t net_tls_out_read(net_tls *t, uint8_t *buf, size_t cap);
/* "TLSv1.2" etc.; ALPN selected ("" when none). */
const char *net_tls_version(const net_tls *t);
const char *net_tls_alpn(net_tls *t);
/* True once any byte of the peer's ciphertext looked like TLS. */
bool net_tls_peer_spoke_tls(const net_tls *t);

/* --------------------------------------------------------------- tcp.c */

typedef struct net_tcp net_tcp;

/* status: 0 connected, else NET_E_RESOLVE / NET_E_CONNECT / NET_E_TIMEOUT
 * with e filled. After a failure t is dead: call net_tcp_close. */
typedef void (*net_tcp_connect_cb)(net_tcp *t, int status, const net_error *e, void *ud);
/* New bytes are staged (net_tcp_peek), or the stream ended: status
 * NET_E_CLOSED (EOF/reset) or NET_E_IO, with e filled. */
typedef void (*net_tcp_read_cb)(net_tcp *t, int status, const net_error *e, void *ud);

/* Resolves host (IPv4 and IPv6) and tries every address in turn, each
 * for at most per_addr_ms. Returns NULL when out of memory. */
net_tcp *net_tcp_connect(uv_loop_t *loop, const char *host, uint16_t port,
                         uint32_t per_addr_ms, uint32_t keepalive_s,
                         net_tcp_connect_cb cb, void *ud);
/* Stops everything; no callback runs afterwards; memory is freed once
 * libuv has closed the handles. Staged bytes are zeroed. */
void net_tcp_close(net_tcp *t);
/* Reading into the staging buffer; reading pauses by itself while it is
 * full, and resumes with net_tcp_read_start. */
int net_tcp_read_start(net_tcp *t, net_tcp_read_cb cb, void *ud);
void net_tcp_read_stop(net_tcp *t);
void net_tcp_peek(net_tcp *t, const uint8_t **p, size_t *n);
void net_tcp_consume(net_tcp *t, size_t n);
/* Copies and writes. wipe: zero the copy after the write (secrets).
 * Returns 0 or NET_E_IO/NET_E_NOMEM. */
int net_tcp_write(net_tcp *t, const uint8_t *p, size_t n, bool wipe);
/* Writes buf (malloc'd, n bytes) and takes ownership of it. */
int net_tcp_write_take(net_tcp *t, uint8_t *buf, size_t n, bool wipe);
size_t net_tcp_write_pending(const net_tcp *t);
const char *net_tcp_peer(const net_tcp *t); /* "addr:port" connected to */

/* ----------------------------------------------------------- browser.c */

typedef struct net_browser net_browser;
/* status NET_OK with port, or NET_E_BROWSER/NET_E_RESOLVE/NET_E_TIMEOUT. */
typedef void (*net_browser_cb)(int status, uint16_t port, const net_error *e, void *ud);
net_browser *net_browser_query(uv_loop_t *loop, const char *host, uint16_t browser_port,
                               const char *instance, uint32_t timeout_ms,
                               net_browser_cb cb, void *ud);
/* Cancels (no callback afterwards). */
void net_browser_cancel(net_browser *b);

/* ------------------------------------------------------------ retry.c */

/* Copies of the options a retry loop needs. */
uint32_t net__retry_wait(const net_opts *o, unsigned attempt);

/* --------------------------------------------------------- struct conn */

typedef enum net_state {
    NS_NEW = 0,
    NS_BROWSER,      /* asking the SQL Browser for the instance's port */
    NS_CONNECTING,   /* resolving / TCP connect */
    NS_TLS_STRICT,   /* TDS 8.0: TLS handshake on the raw socket */
    NS_PRELOGIN,     /* waiting for the PRELOGIN reply */
    NS_TLS_HS,       /* TDS 7.x: TLS handshake inside PRELOGIN packets */
    NS_LOGIN,        /* LOGIN7 sent, reading the login reply */
    NS_RETRY_WAIT,   /* backing off before another attempt */
    NS_READY,        /* open, no request */
    NS_BUSY,         /* a request is running */
    NS_DEAD,         /* failed or closed: only net_conn_close */
} net_state;

typedef enum net_wire { WIRE_PLAIN = 0, WIRE_TLS } net_wire;

typedef enum net_enc_mode {
    ENC_NONE = 0,
    ENC_LOGIN_ONLY,
    ENC_FULL,
    ENC_STRICT,
} net_enc_mode;

struct net_conn {
    uv_loop_t *loop;
    /* options (strings copied; secrets zeroed at free) */
    net_opts o;
    char *strings;            /* one block holding every copied string */
    size_t strings_len;
    char *host;               /* current target (after Browser/routing) */
    char *instance;
    uint16_t port;
    char *tls_host;           /* name the certificate must carry */

    net_state state;
    net_wire wire;
    net_enc_mode enc;
    tds_session *s;
    net_tcp *tcp;
    net_tls *tls;
    net_browser *browser;
    unsigned connects;        /* TCP connections made */
    unsigned attempt;         /* open attempts (1-based) */

    /* handshake */
    uint8_t client_encrypt;   /* what we sent in PRELOGIN */
    bool fedauth_required;    /* server's FEDAUTHREQUIRED */
    bool have_nonce;
    uint8_t nonce[32];
    bool routed;              /* routing followed already (once per login) */
    char *route_host;         /* pending redirect */
    uint16_t route_port;
    bool loginack;
    bool login_error;
    net_error login_err;      /* first ERROR during login */
    char enc_desc[32];
    /* Entra (FEDAUTH ADAL workflow, login_entra.c) */
    bool entra;               /* o.auth is an Entra method */
    bool fa_info_seen;        /* FEDAUTHINFO arrived in this login */
    bool fa_token_sent;       /* FEDAUTH_TOKEN went out in this login */
    bool fa_token_cached;     /* the token sent came from the process cache */
    tds_fedauthinfo fa_info;  /* its STS URL and SPN */
    bool entra_retried;       /* the fresh-token retry was made (once per open) */
    uint8_t entra_digest[32]; /* SHA-256 of the last token sent */
    char *entra_held;         /* the fresh token for that retry (wiped, freed) */
    bool no_retry;            /* this failure is not worth another attempt */

    /* open */
    net_open_cb open_cb;
    void *open_ud;
    uv_timer_t open_timer;    /* connect timeout and retry backoff */
    uv_timer_t req_timer;     /* query timeout, then cancel timeout */
    uv_timer_t retry_timer;
    int handles;              /* timers still open */

    /* request */
    const net_result_cb *cb;
    net_result_cb cb_copy;
    void *cb_ud;
    bool paused;
    bool cancel_sent;         /* ATTENTION queued */
    bool cancel_by_timeout;
    bool aborted_by_cb;
    bool attn_seen;           /* DONE with DONE_ATTN arrived */
    bool reply_ended;         /* final DONE + MESSAGE_END of the reply */
    uint64_t rows;            /* rows delivered in this request */
    net_error req_err;        /* first server ERROR (severity > 10) */
    bool in_pump;
    bool pump_again;

    /* close */
    bool closing;
    net_close_cb close_cb;
    void *close_ud;
    net_error last_err;
};

/* conn.c: transport */
/* Sends whatever the engine queued (through TLS when the wire is TLS).
 * Returns 0 or a negative net_err (with c->last_err). */
int net__flush(net_conn *c);
/* Ends the open with err (NULL = success) and calls open_cb once. */
void net__open_done(net_conn *c, const net_error *err);
/* Ends an open in progress with NET_E_CANCELLED (net_conn_cancel). */
void net__open_cancel(net_conn *c);
/* The open attempt failed: retry (when transient and allowed) or finish. */
void net__open_failed(net_conn *c, const net_error *err);
/* Drops the current TCP/TLS/session (for routing or retry). */
void net__transport_reset(net_conn *c);
/* Connects c->host:c->port (after the Browser when needed). */
void net__connect_start(net_conn *c);
/* Starts an attempt from the configured target (Browser, connect). */
void net__begin_attempt(net_conn *c);

/* Pulls engine events and feeds it bytes until it needs the socket, the
 * consumer pauses or the state changes. Never re-entrant. */
void net__pump(net_conn *c);
/* A transport or stream failure: fails the open or the request. */
void net__fail_now(net_conn *c, const net_error *err);

/* request.c */
void net__request_event(net_conn *c, const tds_event *ev);
void net__request_finish(net_conn *c, const net_error *err);
void net__query_timer_restart(net_conn *c);

/* login.c: handshake */
/* TCP is up: start strict TLS or send PRELOGIN. */
int net__login_start(net_conn *c);
/* Strict handshake bytes arrived (raw socket). */
int net__login_strict_input(net_conn *c);
/* An engine event during PRELOGIN/TLS_HS/LOGIN. Returns 0, or a negative
 * net_err with c->last_err filled (the attempt fails). */
int net__login_event(net_conn *c, const tds_event *ev);
/* The peer closed during the handshake: a clear error for the state. */
void net__login_closed(net_conn *c, int status, const net_error *e, net_error *out);

/* login_entra.c: the Entra steps of a login (FEDAUTH library ADAL).
 *
 * Token source: entra_token_get (net/entra/), or, when tests set it, the
 * private hook below (NULL in production; set it before opening and leave
 * it alone while connections run). Same contract as entra_token_get. */
typedef int (*net__entra_token_fn)(const entra_request *r, entra_token *out, net_error *err);
extern net__entra_token_fn net__entra_token_hook;
/* True for the methods that fetch a token (not SQL, not a given token). */
bool net__auth_is_entra(net_auth a);
/* "ActiveDirectoryServicePrincipal" etc., for messages. */
const char *net__auth_name(net_auth a);
/* NET_OK, or NET_E_ARG with e filled when o's Entra method cannot run
 * with its options (encrypt=optional/disable). */
int net__entra_check(const net_opts *o, net_error *e);
/* LOGIN7 FEDAUTH fields for an Entra login. */
void net__entra_login7(net_conn *c, tds_login7 *l);
/* A FEDAUTHINFO event during login. Returns 0 or a net_err (last_err). */
int net__entra_info(net_conn *c, const tds_event *ev);
/* At the end of a login reply that held FEDAUTHINFO: fetch the token and
 * send FEDAUTH_TOKEN. Returns 0 or a net_err (last_err). */
int net__entra_send_token(net_conn *c);
/* At the end of a refused login: 1 when the attempt starts again with a
 * token fetched past the cache (the refusal was 18456 and the fresh token
 * differs from the refused one; once per open), 0 when the refusal stands,
 * or a net_err (last_err) when the fresh fetch failed. */
int net__entra_retry_fresh(net_conn *c);
/* A refused (18456) access token whose JWT exp has passed: e says it
 * expired and cannot be refreshed. */
void net__token_expiry_note(const net_conn *c, net_error *e);

#endif /* TDSPIPE_NET_INT_H */
