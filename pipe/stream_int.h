/*
 * stream_int.h — the pieces of --stream (stream.c) that are not the loop:
 * the metrics endpoint (metrics.c on libuv, metrics_http.c the request
 * parser and the exposition text, both pure). Not installed.
 */
#ifndef TDSPIPE_STREAM_INT_H
#define TDSPIPE_STREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct net_client net_client;

/* cdc_retention.c: the CDC cleanup job's retention in seconds, from
 * sys.sp_cdc_help_jobs in database db; -1 with the reason in why when the
 * procedure fails (it needs db_owner) or reports no cleanup job. */
int64_t pipe_cdc_retention_s(net_client *cl, const char *db, char *why, size_t cap);

/* stream.c: the idle restamp interval for a retention (seconds, <= 0
 * unknown): a quarter of it, at most 5 minutes, at least 5 seconds. */
uint32_t pipe_stream_restamp_ms(int64_t retention_s);

/* What /metrics shows. */
typedef struct pipe_metrics_values {
    uint64_t rows;              /* rows applied (committed) */
    uint64_t batches;           /* commits that carried rows */
    uint64_t polls;
    uint64_t errors;            /* failed polls */
    uint64_t reconnects;        /* polls after a failed one (each connects anew) */
    uint64_t restamps;          /* idle cursor commits */
    uint64_t lag_distance;
    double lag_seconds;
    double last_commit_unix;    /* 0: none yet */
} pipe_metrics_values;

/* metrics_http.c: the head of one HTTP/1.x request in buf[0..len).
 * Returns the head's length (through the blank line) with the method's
 * and path's text copied (NUL-terminated, cut to cap) when complete, 0
 * when more bytes are needed, -1 when it is not a request we read (bad
 * request line, a head over 8 KiB, control bytes). */
#define PIPE_HTTP_HEAD_MAX 8192
int pipe_metrics_http_parse(const char *buf, size_t len, char *method, size_t mcap, char *path, size_t pcap);
/* The whole HTTP response for method and path: 200 with the Prometheus
 * text (version 0.0.4) for GET/HEAD /metrics, 404 for other paths, 405
 * for other methods, 400 when bad. Returns its length (< cap, cut when
 * cap is too small). */
size_t pipe_metrics_response(const pipe_metrics_values *v, const char *method, const char *path, bool bad,
                             char *out, size_t cap);

/* metrics.c: a tiny HTTP/1.1 server on loop, bound to addr only
 * ("HOST:PORT" with a numeric IPv4 address, "[IPv6]:PORT" or
 * "localhost:PORT"). Each connection gets one answer and is closed.
 * Returns 0 or -1 with the reason in why. */
typedef struct pipe_metrics pipe_metrics;
int pipe_metrics_start(uv_loop_t *loop, const char *addr, pipe_metrics **out, char *why, size_t cap);
/* The values the next answers show. */
void pipe_metrics_set(pipe_metrics *m, const pipe_metrics_values *v);
/* Closes the listener and every connection (the caller runs the loop
 * until they are closed, then frees with pipe_metrics_free). */
void pipe_metrics_close(pipe_metrics *m);
void pipe_metrics_free(pipe_metrics *m);

#endif /* TDSPIPE_STREAM_INT_H */
