/*
 * net.h — tdspipe's client connections to SQL Server: TCP on libuv, TLS
 * (TDS 7.x in PRELOGIN and TDS 8.0 strict) through OpenSSL memory BIOs,
 * SQL and access-token login, routing, timeouts, cancel and retries, on top
 * of the sans-I/O engine in tds/tds.h.
 *
 * Two ways in:
 *   async     net_conn_* on a caller's uv_loop_t: several connections in one
 *             loop; results stream into callbacks; a row callback may ask to
 *             pause (back-pressure: the socket is not read until
 *             net_conn_resume) or abort (the request is cancelled).
 *   blocking  net_client_* runs a private loop until each call is done.
 *
 * Errors: functions return 0 or a negative net_err; where a net_error is
 * filled, its message is one clear line for the user. Messages never hold
 * a password or an access token (server messages are shown verbatim: SQL
 * Server never echoes a password).
 *
 * Secrets: the connection copies the password/token it is given and zeroes
 * every buffer of its own that held them (copies, LOGIN7 bytes) before
 * freeing. net_opts_free() zeroes what net_opts_set() stored.
 */
#ifndef TDSPIPE_NET_H
#define TDSPIPE_NET_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tds.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is the public API: exported from the shared
 * library (which builds with hidden visibility by default). */
#pragma GCC visibility push(default)

typedef struct uv_loop_s uv_loop_t;

/* ---------------------------------------------------------------- errors */

typedef enum net_err {
    NET_OK = 0,
    NET_E_NOMEM = -1,
    NET_E_ARG = -2,              /* bad option or argument */
    NET_E_STATE = -3,            /* call not allowed now (busy, closed) */
    NET_E_RESOLVE = -4,          /* host name did not resolve */
    NET_E_CONNECT = -5,          /* no address accepted the TCP connection */
    NET_E_TIMEOUT = -6,          /* connect, query or cancel timeout */
    NET_E_BROWSER = -7,          /* SQL Browser: no answer or no such instance */
    NET_E_TLS_UNTRUSTED = -8,    /* certificate chain not trusted */
    NET_E_TLS_HOSTNAME = -9,     /* certificate does not name the host */
    NET_E_TLS_EXPIRED = -10,     /* certificate expired or not yet valid */
    NET_E_TLS = -11,             /* other TLS failure */
    NET_E_ENCRYPT_UNSUPPORTED = -12, /* encryption mandatory, server has none */
    NET_E_ENCRYPT_REQUIRED = -13,/* encrypt=disable, server demands TLS */
    NET_E_STRICT_UNSUPPORTED = -14, /* encrypt=strict, server lacks TDS 8.0 */
    NET_E_LOGIN = -15,           /* the server refused the login (its text) */
    NET_E_ROUTING = -16,         /* bad or repeated routing redirect */
    NET_E_CLOSED = -17,          /* the server closed or reset the connection */
    NET_E_PROTO = -18,           /* malformed TDS from the server */
    NET_E_SERVER = -19,          /* the request ended with a server error */
    NET_E_CANCELLED = -20,       /* cancelled by the caller, a signal or abort */
    NET_E_IO = -21,              /* other socket error */
} net_err;

/* One line for the user. server_number etc. are set for NET_E_LOGIN and
 * NET_E_SERVER (the first ERROR token of severity > 10). */
typedef struct net_error {
    int code;                 /* net_err */
    int32_t server_number;    /* e.g. 18456, 4060; 0 if none */
    uint8_t server_state;
    uint8_t server_severity;
    bool during_login;        /* the failure happened before the login completed */
    char message[512];
} net_error;

/* Static text naming a net_err ("unknown error" for others). Never NULL. */
const char *net_strerror(int code);

/* ---------------------------------------------------------------- options */

typedef enum net_encrypt {
    NET_ENCRYPT_MANDATORY = 0, /* default: ENCRYPT_ON, certificate checked */
    NET_ENCRYPT_OPTIONAL,      /* ENCRYPT_OFF: login encrypted when the server can */
    NET_ENCRYPT_DISABLE,       /* ENCRYPT_NOT_SUP: no TLS at all */
    NET_ENCRYPT_STRICT,        /* TDS 8.0: TLS first, ALPN tds/8.0 */
} net_encrypt;

#define NET_DEFAULT_PORT 1433
/* Requested unless "packet size" says otherwise; the server may grant
 * less (ENVCHANGE). 32767 measured faster with TLS (see net/README.md). */
#define NET_DEFAULT_PACKET_SIZE 32767u
#define NET_DEFAULT_CONNECT_TIMEOUT_MS 15000u
#define NET_DEFAULT_CANCEL_TIMEOUT_MS 5000u
#define NET_DEFAULT_KEEPALIVE_S 30u
#define NET_NO_TIMEOUT UINT32_MAX

/* How the connection signs in (issue 15). NET_AUTH_SQL: user and
 * password. NET_AUTH_ACCESS_TOKEN: the caller's token (access_token, or the
 * password slot with password_is_token), FEDAUTH security-token library.
 * Every other value is a Microsoft Entra method: FEDAUTH library
 * ADAL/MSAL, the server answers LOGIN7 with FEDAUTHINFO (STS URL, SPN),
 * the token is fetched for that SPN (net/entra/, cached per process) and
 * sent in a FEDAUTH_TOKEN message. Entra methods refuse encrypt=optional
 * and disable (the token would cross the wire in clear). */
typedef enum net_auth {
    NET_AUTH_SQL = 0,
    NET_AUTH_ACCESS_TOKEN,
    NET_AUTH_SERVICE_PRINCIPAL, /* user = client id[@tenant]; password = secret,
                                   or client_cert_path (password = key password) */
    NET_AUTH_MANAGED_IDENTITY,  /* user (optional) = user-assigned client id */
    NET_AUTH_WORKLOAD_IDENTITY, /* AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID */
    NET_AUTH_AZ_CLI,            /* az account get-access-token */
    NET_AUTH_PASSWORD,          /* user + password, resource-owner grant */
    NET_AUTH_DEFAULT,           /* environment → workload → managed identity → az */
} net_auth;

/* Zero-initialised is valid (mandatory encryption, 32767-byte packets, 15 s
 * connect timeout, no query timeout, no retries). Strings are borrowed:
 * the caller keeps them alive until net_conn_new()/net_client_open()
 * returned (the connection copies them). Values set with net_opts_set()
 * are owned by the options and released by net_opts_free(). */
typedef struct net_opts {
    const char *host;            /* name or address; "host\instance" allowed */
    uint16_t port;               /* 0: the Browser's answer for an instance, else 1433 */
    const char *instance;        /* named instance (SQL Browser, UDP 1434) */
    uint16_t browser_port;       /* 0 = 1434 (tests use others) */
    const char *user;
    const char *password;
    const char *access_token;    /* FEDAUTH security token (JWT) */
    bool password_is_token;      /* Authentication=ActiveDirectoryAccessToken:
                                    the password slot holds the token */
    const char *database;
    net_encrypt encrypt;
    bool trust_server_cert;      /* skip certificate verification */
    const char *host_in_cert;    /* HostNameInCertificate */
    const char *ca_file;         /* ServerCertificate / ca file (PEM) */
    uint32_t packet_size;        /* 0 = NET_DEFAULT_PACKET_SIZE */
    const char *app_name;        /* 0 = "tdspipe" */
    uint32_t connect_timeout_ms; /* 0 = 15 s, NET_NO_TIMEOUT = none; the whole
                                    open incl. Browser, TLS, login, routing */
    uint32_t query_timeout_ms;   /* 0 = none; see net_conn_batch() */
    uint32_t cancel_timeout_ms;  /* 0 = 5 s: wait for DONE_ATTN after ATTENTION */
    uint32_t keepalive_s;        /* 0 = 30 s */
    unsigned retries;            /* extra attempts for transient faults */
    uint32_t retry_base_ms;      /* 0 = 500 ms, doubled per attempt */
    uint32_t retry_max_ms;       /* 0 = 30 s cap per wait */
    bool stream_plp;             /* (max) values as chunks (net_result_cb.plp) */
    bool no_utf8;                /* do not request UTF8_SUPPORT */
    const volatile sig_atomic_t *cancel_flag; /* blocking client: as net_client_cancel_flag,
                                    from net_client_open on (a connect or login
                                    in progress is cancelled too); NULL: none */
    /* Change Tracking / Change Data Capture source parameters (ingestr's;
     * only a "+ct" or "+cdc" URI sets them, net_opts_from_uri) */
    uint32_t poll_interval_ms;   /* poll_interval (+ct, +cdc); 0 = not given (1 s) */
    const char *capture_instance; /* capture_instance (+cdc) */
    const char *dest_schema;     /* dest_schema (+cdc, multi-table runs) */
    /* Microsoft Entra sign-in (Authentication= / fedauth=; issue 15) */
    net_auth auth;               /* NET_AUTH_SQL unless set */
    const char *tenant_id;       /* tenant_id=, or "client@tenant" in user */
    const char *client_cert_path;/* clientcertpath= (PEM: certificate + key) */
    const char *app_client_id;   /* applicationclientid= (password grant) */
    const char *mi_resource_id;  /* "resource id" / msi_res_id (user-assigned MI) */
    const char *token_file_path; /* tokenfilepath= (workload identity) */
    bool tenant_id_;             /* private: tenant_id seen (checked with the sign-in) */
    bool fedauth_set_;           /* private: fedauth= seen (it wins over Authentication=) */
    struct net_opts_store *store_; /* private: strings owned by net_opts_set */
} net_opts;

/* Sets one option from a URI/ODBC-style key (case-insensitive, spaces and
 * underscores ignored: "packet size", "PacketSize"; "encrypt",
 * "TrustServerCertificate", "HostNameInCertificate", "ServerCertificate",
 * "ca file", "app name", "connection timeout"/"Connect Timeout" (seconds),
 * "query timeout" (seconds), "Authentication", "database", "user",
 * "password", "instance", "port", "retries", "driver" (ignored), …).
 * The value is copied. Returns NET_OK or NET_E_ARG with a one-line reason
 * in err (never quoting a password or token value). */
int net_opts_set(net_opts *o, const char *key, const char *value, char *err, size_t errcap);

/* Parses mssql://, sqlserver://, azuresql://, azure-sql:// (and +ct, +cdc)
 * URIs: user:password@host[:port][/database][?k=v&…], percent-escapes
 * decoded, "host\instance" (or %5C) accepted; poll_interval (+ct, +cdc),
 * capture_instance and dest_schema (+cdc) only on those schemes. Returns NET_OK or NET_E_ARG
 * with a reason in err (the password is never quoted). */
int net_opts_from_uri(net_opts *o, const char *uri, char *err, size_t errcap);

/* Zeroes and frees what net_opts_set/net_opts_from_uri stored; the struct
 * is zeroed too. */
void net_opts_free(net_opts *o);

/* Parses yes/no/true/false/1/0 (any case). Returns 1, 0, or -1. */
int net_parse_bool(const char *v);

/* -------------------------------------------------------------- results */

enum {
    NET_ROW_NEXT = 0,   /* keep going */
    NET_ROW_PAUSE = 1,  /* stop reading until net_conn_resume(); the row's
                           views stay valid until then */
    NET_ROW_ABORT = -1, /* cancel the request (ATTENTION) */
};

/* Every member may be NULL. Pointers passed in die when the callback
 * returns, except after NET_ROW_PAUSE (until net_conn_resume()). */
typedef struct net_result_cb {
    /* A result set starts. Return NET_ROW_NEXT or NET_ROW_ABORT. */
    int (*columns)(void *ud, const tds_column *cols, uint16_t ncols);
    /* One row. Return NET_ROW_NEXT, NET_ROW_PAUSE or NET_ROW_ABORT. */
    int (*row)(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals);
    /* A streamed PLP chunk (opts.stream_plp); len 0 ends the value. */
    int (*plp)(void *ud, uint16_t col, const uint8_t *data, size_t len);
    /* DONE, DONEPROC or DONEINPROC (token says which). */
    void (*done)(void *ud, uint8_t token, uint16_t status, uint64_t rowcount);
    /* Server INFO (is_error false) or ERROR. */
    void (*message)(void *ud, const tds_server_msg *m, bool is_error);
    void (*return_status)(void *ud, int32_t status);
    void (*return_value)(void *ud, const tds_column *col, const char *name, const tds_value *v);
    /* Exactly once per accepted request: err->code NET_OK, NET_E_SERVER
     * (ended with a server error), NET_E_CANCELLED, NET_E_TIMEOUT,
     * NET_E_CLOSED, NET_E_PROTO… */
    void (*complete)(void *ud, const net_error *err);
} net_result_cb;

/* ------------------------------------------------------------ async core */

typedef struct net_conn net_conn;

typedef void (*net_open_cb)(net_conn *c, const net_error *err, void *ud);
typedef void (*net_close_cb)(net_conn *c, void *ud);

/* A new, unopened connection on loop. Copies the options. Returns NULL
 * with err filled (NET_E_NOMEM, NET_E_ARG).
 *
 * Signals: nothing process-wide is changed (no handler, no SIGPIPE
 * disposition, no signal mask). Every byte goes out through
 * send(MSG_NOSIGNAL) on a socket the connection owns, so a server that
 * closed the connection gives NET_E_CLOSED/NET_E_IO through the request's
 * complete (or open_cb), never a SIGPIPE, whichever thread runs the loop,
 * with SIGPIPE left at SIG_DFL. */
net_conn *net_conn_new(uv_loop_t *loop, const net_opts *o, net_error *err);

/* Starts resolving, connecting, TLS and login (with routing and retries of
 * transient faults). cb runs exactly once. Returns NET_OK or NET_E_STATE. */
int net_conn_open(net_conn *c, net_open_cb cb, void *ud);

/* Sends a SQL batch (UTF-8) or an RPC and streams the reply into cb. The
 * query timeout (opts) fires when the server sends nothing for that long
 * while we wait for it (paused time does not count); it cancels the
 * request. Returns NET_OK (cb->complete will run), NET_E_STATE (not open,
 * or a request is running) or NET_E_NOMEM. */
int net_conn_batch(net_conn *c, const char *sql, size_t len, const net_result_cb *cb, void *ud);
int net_conn_rpc(net_conn *c, const tds_rpc *r, const net_result_cb *cb, void *ud);

/* Resumes a request paused by NET_ROW_PAUSE. No-op otherwise. */
void net_conn_resume(net_conn *c);
/* Sends ATTENTION and drains to DONE_ATTN (cancel timeout); complete()
 * then reports NET_E_CANCELLED and the connection is reusable. During an
 * open (connect, TLS, login, retry waits), the open ends instead: open_cb
 * reports NET_E_CANCELLED and only net_conn_close remains. No-op
 * otherwise. Safe from inside callbacks. */
void net_conn_cancel(net_conn *c);
/* Closes (a running request completes with NET_E_CANCELLED, an open in
 * progress reports NET_E_CANCELLED), zeroes secrets and frees c once its
 * handles are closed; cb (may be NULL) runs then. */
void net_conn_close(net_conn *c, net_close_cb cb, void *ud);

bool net_conn_is_open(const net_conn *c);
/* Negotiated facts (valid once open). */
uint32_t net_conn_packet_size(const net_conn *c);
const char *net_conn_database(const net_conn *c);
/* "none", "login-only", "TLSv1.2", "TLSv1.3 strict"… */
const char *net_conn_encryption(const net_conn *c);
/* Host and port actually connected (after Browser and routing). */
const char *net_conn_host(const net_conn *c);
uint16_t net_conn_port(const net_conn *c);
/* Number of TCP connections made so far (attempts and routing). */
unsigned net_conn_connects(const net_conn *c);

/* --------------------------------------------------------- blocking wrapper */

typedef struct net_client net_client;

/* Opens a connection on a private loop (with the options' retries).
 * Returns NULL with err filled. */
net_client *net_client_open(const net_opts *o, net_error *err);
/* Runs a batch/RPC to completion. NET_ROW_PAUSE is treated as NEXT.
 * Returns err->code (NET_OK, NET_E_SERVER, …); err may be NULL. */
int net_client_batch(net_client *cl, const char *sql, const net_result_cb *cb, void *ud, net_error *err);
int net_client_rpc(net_client *cl, const tds_rpc *r, const net_result_cb *cb, void *ud, net_error *err);
/* Runs a batch, retrying transient faults (reconnecting when needed) up to
 * the options' retries, but never once a row of the failed attempt reached
 * cb->row. */
int net_client_batch_retry(net_client *cl, const char *sql, const net_result_cb *cb, void *ud, net_error *err);
/* While a net_client_* call waits (a request, a retry's wait and
 * reconnect), *flag (NULL: none) is checked when it starts and then about
 * every 100 ms; once it is non-zero the call ends with NET_E_CANCELLED (a
 * running request by ATTENTION, so the connection stays usable). Each
 * later call is cancelled too until the flag is cleared. The caller's own
 * signal handler may set it: the library installs no handler. The check
 * is a timer that never keeps a loop alive. The flag must outlive the
 * client. net_opts.cancel_flag sets it from net_client_open on. */
void net_client_cancel_flag(net_client *cl, const volatile sig_atomic_t *flag);
/* Thread-safe/async-signal-safe request to cancel the running request. */
void net_client_cancel(net_client *cl);
net_conn *net_client_conn(net_client *cl);
void net_client_close(net_client *cl);

/* ------------------------------------------------------------ bulk load */

/* BulkLoadBCP ([MS-TDS] 2.2.6.1): after a successful "INSERT BULK t (…)"
 * batch on cl, one message of type 0x07 carries COLMETADATA, ROW tokens
 * and a DONE. Packets go to the server as they fill, with back-pressure,
 * so memory stays bounded whatever the row count.
 *
 *   net_bulk *b = net_bulk_begin(cl, cols, n, &err);   COLMETADATA
 *   net_bulk_rows(b, plan, vals, nrows, &nput, &err)  … n×   (a plan from
 *       net_bulk_plan; or net_bulk_rows_values, value by value, for
 *       (max) columns)
 *   net_bulk_end(b, &rows, &err)   DONE, reply: NET_OK or NET_E_SERVER
 *                                  with the server's first error
 *   net_bulk_abort(b)              closes the connection instead (the
 *                                  server rolls back its transaction)
 *
 * cols describe the values as sent (the bulk rules apply: xml as
 * nvarchar(max), decimal as DECIMALN…). A failure while sending (the
 * server closed the connection or answered early) is reported by the next
 * call; after any failure only net_bulk_end or net_bulk_abort remain,
 * both of which free b. */
typedef struct net_bulk net_bulk;
net_bulk *net_bulk_begin(net_client *cl, const tds_column *cols, uint16_t ncols, net_error *err);
/* A row plan of ROW tokens for b's columns (tds_row_plan_new), for
 * net_bulk_rows on b or on a later bulk load of the same columns. Free it
 * with tds_row_plan_free. Returns NET_OK, NET_E_ARG (a column type that
 * cannot be framed), NET_E_NOMEM. */
int net_bulk_plan(net_bulk *b, tds_row_plan **out, net_error *err);
/* Bytes of sealed packets the engine holds that have not gone to the
 * socket yet (0 once the request ended): what back-pressure bounds. */
size_t net_bulk_pending(const net_bulk *b);
/* The session the message is written into; NULL once the request ended.
 * Valid until the next net_bulk_* call. For tests that look at the
 * engine's state; a caller writes rows through net_bulk_rows or
 * net_bulk_rows_values. */
tds_session *net_bulk_session(net_bulk *b);
/* Rows through a plan (tds_row_plan_new with TDS_TOK_ROW). *nput: rows
 * written. A bad value gives NET_E_ARG (row *nput left no bytes). */
int net_bulk_rows(net_bulk *b, const tds_row_plan *p, const tds_value *vals, size_t nrows,
                  size_t *nput, net_error *err);
/* Rows value by value: any column (PLP ones with an unknown total length,
 * sent in chunks, [MS-TDS] 2.2.5.2.3), cols/ncols as given to
 * net_bulk_begin. *nput: rows written. A value a column cannot take gives
 * NET_E_ARG with "row R, column NAME: …" in err (the row is partly sent:
 * only net_bulk_abort remains). */
int net_bulk_rows_values(net_bulk *b, const tds_value *vals, size_t nrows, size_t *nput, net_error *err);
int net_bulk_end(net_bulk *b, uint64_t *rows, net_error *err);
void net_bulk_abort(net_bulk *b);

/* ------------------------------------------------------------- retries */

/* True for faults worth another attempt: server errors 4060, 40197, 40501,
 * 40613, 49918–49920, and connection resets/closes during login. */
bool net_error_transient(const net_error *e);
/* Wait before attempt n (1-based) of a retry: base·2^(n-1) with ±25 %
 * jitter, capped at max (0 = defaults 500 ms / 30 s). */
uint32_t net_retry_delay_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms);

/* -------------------------------------------------------------- browser */

/* Asks the SQL Browser at host:browser_port (0 = 1434) over UDP for
 * instance's TCP port. Blocking helper (own loop); the async open uses the
 * same code. Returns NET_OK with *port set, or NET_E_BROWSER/NET_E_RESOLVE/
 * NET_E_TIMEOUT with err filled. */
int net_browser_lookup(const char *host, uint16_t browser_port, const char *instance,
                       uint32_t timeout_ms, uint16_t *port, net_error *err);
/* Parses an SSRP SVR_RESP datagram for instance; returns the TCP port or
 * -1 (not listed, or no tcp entry). */
int net_browser_parse(const uint8_t *d, size_t n, const char *instance);

/* Zeroes n bytes in a way the compiler keeps. */
void net_wipe(void *p, size_t n);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* TDSPIPE_NET_H */
