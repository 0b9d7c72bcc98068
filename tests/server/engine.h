/*
 * engine.h — the contract between tdstestd's network half (server.c and
 * friends: libuv, TLS, PRELOGIN/LOGIN7, packet I/O, faults on the wire) and
 * its query half (scenario loading, SQL subset, tables, catalog, Change
 * Tracking, bulk load, scripted rules).
 *
 * The query half never sees sockets; it writes reply tokens into a
 * tds_session with the engine's tds_put_* encoders. Large results are
 * produced in steps so the network half can flush between them: a cursor
 * writes until its byte budget is used, then returns SRV_MORE.
 */
#ifndef TDSTESTD_ENGINE_H
#define TDSTESTD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tds.h"

typedef struct srv_db srv_db;         /* the scenario: databases, logins, tables, rules */
typedef struct srv_conn srv_conn;     /* per-connection query state (db, SET options, tran, bulk) */
typedef struct srv_cursor srv_cursor; /* one reply being produced */

/* Loads a scenario file (JSON, see tests/server/README.md). Returns NULL
 * and writes a one-line reason into err on failure. */
srv_db *srv_db_load(const char *path, char *err, size_t errcap);
/* The same from scenario text in memory (len bytes, no NUL needed); name
 * is what error messages call it. */
srv_db *srv_db_load_text(const char *json, size_t len, const char *name, char *err, size_t errcap);
void srv_db_free(srv_db *db);

/* What the network half needs from the scenario for the handshake. */
typedef struct srv_settings {
    const char *server_name;     /* e.g. "tdstestd" */
    uint32_t version;            /* PRELOGIN/LOGINACK version, e.g. 0x10000FA0 (16.0.4000) */
    bool fedauth_required;       /* answer FEDAUTHREQUIRED=1 in PRELOGIN */
    const char *route_host;      /* non-NULL: redirect logins there (ENVCHANGE 20) */
    uint16_t route_port;
    uint32_t max_packet_size;    /* cap for negotiation (e.g. 32767; 16383 with TLS) */
} srv_settings;
const srv_settings *srv_db_settings(const srv_db *db);

/* Login check. user/password for SQL logins, or token for FEDAUTH.
 * Returns true and sets *conn_out (a new connection state, database
 * selected: `database` if non-empty else the login's default) on success;
 * false with a server message (18456, 4060…) filled in msg otherwise. */
typedef struct srv_login_req {
    const char *user;
    const char *password;
    const char *token;           /* NULL unless FEDAUTH security token */
    const char *database;
    const char *app_name;
} srv_login_req;
typedef struct srv_error {
    int32_t number;
    uint8_t state, severity;
    char message[512];
} srv_error;
bool srv_login(srv_db *db, const srv_login_req *req, srv_conn **conn_out, srv_error *msg);
void srv_conn_free(srv_conn *c);
const char *srv_conn_database(const srv_conn *c);
/* SQL Server 2025 types negotiated at login (LOGIN7 JSONSUPPORT /
 * VECTORSUPPORT acked): 0 = not negotiated, values go out as text. */
void srv_conn_set_types2025(srv_conn *c, uint8_t json_ver, uint8_t vector_ver);

/* Requests. Each returns a cursor producing the whole reply (all result
 * sets, ERROR tokens, final DONE), or NULL on out-of-memory. */
srv_cursor *srv_exec_batch(srv_conn *c, const char *sql, size_t len);
srv_cursor *srv_exec_rpc(srv_conn *c, const tds_rpc_decoded *rpc, const tds_param *params, size_t n);
/* Bulk load: the BULK message's COLMETADATA, each ROW, then its end. The
 * cursor from srv_bulk_end writes the DONE (or the rejection). */
int srv_bulk_columns(srv_conn *c, const tds_column *cols, uint16_t n);
/* SRV_BULK_CLOSE: the close_after_rows fault fired, close the connection. */
#define SRV_BULK_CLOSE (-2)
int srv_bulk_row(srv_conn *c, const tds_column *cols, const tds_value *vals, uint16_t n);
srv_cursor *srv_bulk_end(srv_conn *c);

enum srv_step {
    SRV_DONE = 0,      /* reply complete (msg_end was called) */
    SRV_MORE = 1,      /* budget used: flush, then step again */
    SRV_CLOSE = 2,     /* fault: close the connection now (after flushing) */
    SRV_STALL = 3,     /* fault: stop sending and never continue */
};
/* Writes the next part of the reply into s (calls tds_msg_begin on the
 * first step and tds_msg_end on the last). budget: bytes to write before
 * returning SRV_MORE. */
int srv_cursor_step(srv_cursor *cur, tds_session *s, size_t budget);
/* The client sent ATTENTION: stop producing; the next step ends the
 * message with a DONE carrying DONE_ATTN (as its own message). */
void srv_cursor_cancel(srv_cursor *cur);
void srv_cursor_free(srv_cursor *cur);

/* Wire-level faults the network half applies, from the scenario or set by
 * control statements on this connection (polled after each request). */
typedef struct srv_wire_faults {
    uint64_t close_after_bytes;  /* 0 = off: close once this many reply bytes were sent */
    bool drip;                   /* send reply bytes one at a time */
    uint32_t drip_delay_ms;
} srv_wire_faults;
const srv_wire_faults *srv_conn_faults(const srv_conn *c);

#endif
