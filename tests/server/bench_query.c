/*
 * bench_query.c — encode rate of the query half: streams `select * from
 * narrow` (scenario narrow.json, rows overridable with TDSTESTD_ROWS_NARROW)
 * through srv_cursor_step into a server session, discarding the framed
 * bytes after each step as a fast network would. Prints rows/s and MB/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : TDSTESTD_SCENARIOS "/narrow.json";
    const char *sql = argc > 2 ? argv[2] : "select * from narrow";
    char err[256];
    srv_db *db = srv_db_load(path, err, sizeof err);
    if (!db) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    srv_login_req req = { .user = "sa", .password = "Passw0rd!" };
    srv_conn *c;
    srv_error e;
    if (!srv_login(db, &req, &c, &e)) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    tds_session_opts so = { .role = TDS_ROLE_SERVER, .packet_size = 32767 };
    tds_session *s = tds_session_new(&so);
    tds_set_packet_size(s, 32767);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    srv_cursor *cur = srv_exec_batch(c, sql, strlen(sql));
    uint64_t bytes = 0;
    int rc;
    do {
        rc = srv_cursor_step(cur, s, 64 * 1024);
        const uint8_t *buf;
        size_t len;
        tds_send_buf(s, &buf, &len);
        bytes += len;
        tds_send_ack(s, len);
    } while (rc == SRV_MORE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s: %llu bytes in %.3f s = %.1f MB/s\n", sql, (unsigned long long)bytes, secs, (double)bytes / secs / 1e6);
    srv_cursor_free(cur);
    tds_session_free(s);
    srv_conn_free(c);
    srv_db_free(db);
    return rc == SRV_DONE ? 0 : 1;
}
