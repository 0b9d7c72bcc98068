/*
 * metrics_http.c — the HTTP side of --metrics-addr without any I/O: the
 * head of a request (request line, headers up to the blank line; a body
 * is never read: GET has none) and the response text in Prometheus'
 * exposition format 0.0.4. Pure functions, the fuzz target's entry point
 * (fuzz/fuzz_metrics_http.c).
 */
#include <stdio.h>
#include <string.h>

#include "stream_int.h"

/* Where the head ends ("\r\n\r\n" or "\n\n"): its length, or 0. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n')
            return i + 2;
        if (i + 3 < len && !memcmp(buf + i, "\r\n\r\n", 4))
            return i + 4;
    }
    return 0;
}

static void copy_cut(char *dst, size_t cap, const char *src, size_t n)
{
    if (!cap)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int pipe_metrics_http_parse(const char *buf, size_t len, char *method, size_t mcap, char *path, size_t pcap)
{
    size_t end = head_end(buf, len < PIPE_HTTP_HEAD_MAX ? len : PIPE_HTTP_HEAD_MAX);
    if (!end)
        return len >= PIPE_HTTP_HEAD_MAX ? -1 : 0;
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
            return -1;
    }
    /* METHOD SP TARGET SP HTTP/1.x */
    const char *line_end = memchr(buf, '\n', end);
    size_t ll = (size_t)(line_end - buf);
    if (ll && buf[ll - 1] == '\r')
        ll--;
    const char *sp1 = memchr(buf, ' ', ll);
    if (!sp1 || sp1 == buf)
        return -1;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', ll - (size_t)(t - buf));
    if (!sp2 || sp2 == t || *t != '/')
        return -1;
    size_t vlen = ll - (size_t)(sp2 + 1 - buf);
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
        return -1;
    for (const char *p = buf; p < sp1; p++)
        if (*p < 'A' || *p > 'Z')
            return -1;
    size_t plen = (size_t)(sp2 - t);
    const char *q = memchr(t, '?', plen); /* a query string does not change the answer */
    if (q)
        plen = (size_t)(q - t);
    copy_cut(method, mcap, buf, (size_t)(sp1 - buf));
    copy_cut(path, pcap, t, plen);
    return (int)end;
}

/* The exposition text: one HELP, TYPE and sample per metric. */
static size_t body(const pipe_metrics_values *v, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "# HELP tdspipe_rows_applied_total Rows committed into the destination.\n"
                     "# TYPE tdspipe_rows_applied_total counter\ntdspipe_rows_applied_total %llu\n"
                     "# HELP tdspipe_batches_total Commits that carried rows.\n"
                     "# TYPE tdspipe_batches_total counter\ntdspipe_batches_total %llu\n"
                     "# HELP tdspipe_polls_total Polls of the source.\n"
                     "# TYPE tdspipe_polls_total counter\ntdspipe_polls_total %llu\n"
                     "# HELP tdspipe_restamps_total Idle commits of the cursor alone.\n"
                     "# TYPE tdspipe_restamps_total counter\ntdspipe_restamps_total %llu\n"
                     "# HELP tdspipe_errors_total Polls that failed.\n"
                     "# TYPE tdspipe_errors_total counter\ntdspipe_errors_total %llu\n"
                     "# HELP tdspipe_reconnects_total Reconnections after a failed poll.\n"
                     "# TYPE tdspipe_reconnects_total counter\ntdspipe_reconnects_total %llu\n"
                     "# HELP tdspipe_lag_seconds Seconds the destination is behind the source's captured head.\n"
                     "# TYPE tdspipe_lag_seconds gauge\ntdspipe_lag_seconds %.3f\n"
                     "# HELP tdspipe_lag_distance Versions or LSN units the last poll found past the cursor.\n"
                     "# TYPE tdspipe_lag_distance gauge\ntdspipe_lag_distance %llu\n"
                     "# HELP tdspipe_last_commit_timestamp_seconds Unix time of the last commit.\n"
                     "# TYPE tdspipe_last_commit_timestamp_seconds gauge\ntdspipe_last_commit_timestamp_seconds %.3f\n",
                     (unsigned long long)v->rows, (unsigned long long)v->batches, (unsigned long long)v->polls,
                     (unsigned long long)v->restamps, (unsigned long long)v->errors,
                     (unsigned long long)v->reconnects, v->lag_seconds, (unsigned long long)v->lag_distance,
                     v->last_commit_unix);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

size_t pipe_metrics_response(const pipe_metrics_values *v, const char *method, const char *path, bool bad,
                             char *out, size_t cap)
{
    char b[2048] = "";
    const char *status = "400 Bad Request", *type = "text/plain; charset=utf-8";
    size_t blen = 0;
    bool head = !bad && !strcmp(method, "HEAD");
    if (bad) {
        blen = (size_t)snprintf(b, sizeof b, "bad request\n");
    } else if (strcmp(method, "GET") && !head) {
        status = "405 Method Not Allowed";
        blen = (size_t)snprintf(b, sizeof b, "only GET\n");
    } else if (strcmp(path, "/metrics")) {
        status = "404 Not Found";
        blen = (size_t)snprintf(b, sizeof b, "not found (try /metrics)\n");
    } else {
        status = "200 OK";
        type = "text/plain; version=0.0.4; charset=utf-8";
        blen = body(v, b, sizeof b);
    }
    int n = snprintf(out, cap, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, type, blen, head ? "" : b);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
