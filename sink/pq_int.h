/*
 * pq_int.h — the few libpq functions the PostgreSQL sink uses, loaded at
 * run time with dlopen("libpq.so.5") so the binary neither links libpq nor
 * needs its header at build time. Declarations follow libpq-fe.h; the
 * opaque handles stay opaque. Tests reuse this loader to read back.
 */
#ifndef TDSPIPE_PQ_INT_H
#define TDSPIPE_PQ_INT_H

#include <stddef.h>
#include <stdint.h>

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;
typedef unsigned int Oid;
typedef void (*PQnoticeProcessor)(void *arg, const char *message);

/* libpq-fe.h enum values that we compare with. */
enum { SINK_PQ_CONNECTION_OK = 0 };
enum {
    SINK_PGRES_EMPTY_QUERY = 0,
    SINK_PGRES_COMMAND_OK = 1,
    SINK_PGRES_TUPLES_OK = 2,
    SINK_PGRES_COPY_OUT = 3,
    SINK_PGRES_COPY_IN = 4,
};

typedef struct sink_pq_api {
    PGconn *(*PQconnectdb)(const char *conninfo);
    int (*PQstatus)(const PGconn *conn);
    char *(*PQerrorMessage)(const PGconn *conn);
    void (*PQfinish)(PGconn *conn);
    PGresult *(*PQexec)(PGconn *conn, const char *query);
    PGresult *(*PQexecParams)(PGconn *conn, const char *command, int nParams,
                              const Oid *paramTypes, const char *const *paramValues,
                              const int *paramLengths, const int *paramFormats, int resultFormat);
    int (*PQresultStatus)(const PGresult *res);
    char *(*PQresultErrorMessage)(const PGresult *res);
    void (*PQclear)(PGresult *res);
    int (*PQntuples)(const PGresult *res);
    int (*PQnfields)(const PGresult *res);
    char *(*PQgetvalue)(const PGresult *res, int row, int col);
    int (*PQgetlength)(const PGresult *res, int row, int col);
    int (*PQgetisnull)(const PGresult *res, int row, int col);
    int (*PQputCopyData)(PGconn *conn, const char *buffer, int nbytes);
    int (*PQputCopyEnd)(PGconn *conn, const char *errormsg);
    PGresult *(*PQgetResult)(PGconn *conn);
    PQnoticeProcessor (*PQsetNoticeProcessor)(PGconn *conn, PQnoticeProcessor proc, void *arg);
} sink_pq_api;

/* Loads libpq once (path NULL = "libpq.so.5"). Returns the table, or NULL
 * with a one-line reason in err. Thread-compatible, not thread-safe. */
const sink_pq_api *sink__pq_load(const char *path, char *err, size_t errcap);

/* pg_copy.c: big-endian stores, a field of n bytes appended to b (returns
 * where its bytes go, NULL when out of memory), and a whole value in
 * binary COPY form (NULL as length -1). sink__pg_copy_value returns 0,
 * SINK_E_NOMEM, or SINK_E_VALUE (cannot be decoded; text with U+0000). */
struct sink_buf;
struct tds_column;
struct tds_value;
void sink__pg_be16(uint8_t *o, uint16_t v);
void sink__pg_be32(uint8_t *o, uint32_t v);
void sink__pg_be64(uint8_t *o, uint64_t v);
uint8_t *sink__pg_field(struct sink_buf *b, size_t n);
int sink__pg_copy_value(struct sink_buf *b, struct sink_buf *text, const struct tds_column *c,
                        const struct tds_value *v);

/* pg_parallel.c: copy_writers=K (K >= 2) — K COPY connections into a
 * committed stage, fed from the caller's thread through a bounded queue. */
struct pg_par;
struct sql_sink;
int sink__pg_par_writers(char *uri, unsigned *k, char *err, size_t errcap);
/* *out NULL on success: the schema is new, load on one connection. */
int sink__pg_par_open(struct pg_par **out, const sink_pq_api *api, const char *conninfo, unsigned k,
                      struct sql_sink *q, PGconn *main);
int sink__pg_par_send(struct pg_par *par, struct sink_buf *out, struct sql_sink *q);
int sink__pg_par_finish(struct pg_par *par, struct sink_buf *out, struct sql_sink *q);
/* drop: a load that failed (or closes): writers stopped, the main
 * transaction rolled back, the stage dropped. free: the writers' part of a
 * load that committed. Both set *par NULL; NULL is fine. */
void sink__pg_par_drop(struct pg_par **par, struct sql_sink *q, PGconn *main);
void sink__pg_par_free(struct pg_par **par);

#endif
