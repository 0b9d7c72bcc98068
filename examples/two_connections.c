/*
 * two_connections.c — one libuv loop, two SQL Server connections, two
 * queries running at once. Each connection opens on its own; once both
 * are open, both queries are sent and their rows arrive through callbacks
 * as each socket delivers them, printed as "1: a|b|c" and "2: …".
 *
 *   two_connections "mssql://user:pw@host:port/db?encrypt=disable" "SELECT …" "SELECT …"
 *
 * Build with libuv too: cc … $(pkg-config --cflags --libs tdspipe libuv)
 */
#define _POSIX_C_SOURCE 200809L /* libuv's headers need POSIX types */
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include <tdspipe/net.h>

typedef struct job {
    int id;
    const char *sql;
    net_conn *conn;
    bool open, done, closed;
    unsigned long long rows;
    net_error err;
} job;

static job jobs[2];

static void close_all(void)
{
    for (int i = 0; i < 2; i++)
        if (!jobs[i].closed) {
            jobs[i].closed = true;
            net_conn_close(jobs[i].conn, NULL, NULL);
        }
}

static int on_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    job *j = ud;
    char text[8192];
    printf("%d: ", j->id);
    for (uint16_t i = 0; i < ncols; i++) {
        size_t len = 0;
        if (vals[i].flags & TDS_VF_NULL)
            snprintf(text, sizeof text, "NULL");
        else if (tds_value_text(&cols[i], &vals[i], text, sizeof text, &len) != TDS_OK)
            snprintf(text, sizeof text, "(%zu bytes)", len);
        printf("%s%s", i ? "|" : "", text);
    }
    printf("\n");
    j->rows++;
    return NET_ROW_NEXT; /* NET_ROW_PAUSE would stop reading this socket only */
}

/* Runs once per query; the connections close when both are done. */
static void on_complete(void *ud, const net_error *err)
{
    job *j = ud;
    j->done = true;
    if (err)
        j->err = *err;
    printf("%d: done, %llu rows%s%s\n", j->id, j->rows, j->err.code ? ": " : "",
           j->err.code ? j->err.message : "");
    if (jobs[0].done && jobs[1].done)
        close_all();
}

static const net_result_cb callbacks = {.row = on_row, .complete = on_complete};

static void on_open(net_conn *c, const net_error *err, void *ud)
{
    job *j = ud;
    (void)c;
    if (err) { /* give up on both */
        fprintf(stderr, "connection %d: %s\n", j->id, err->message);
        j->err = *err;
        close_all();
        return;
    }
    j->open = true;
    if (!(jobs[0].open && jobs[1].open))
        return;
    printf("both connections open; sending both queries\n");
    for (int i = 0; i < 2; i++)
        net_conn_batch(jobs[i].conn, jobs[i].sql, strlen(jobs[i].sql), &callbacks, &jobs[i]);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: two_connections URI SQL1 SQL2\n"), 2;
    net_opts o = {0};
    char why[256];
    if (net_opts_from_uri(&o, argv[1], why, sizeof why) != NET_OK)
        return fprintf(stderr, "two_connections: %s\n", why), 2;
    uv_loop_t loop;
    uv_loop_init(&loop);
    for (int i = 0; i < 2; i++) {
        jobs[i] = (job){.id = i + 1, .sql = argv[2 + i]};
        jobs[i].conn = net_conn_new(&loop, &o, &jobs[i].err);
        if (!jobs[i].conn)
            return fprintf(stderr, "two_connections: %s\n", jobs[i].err.message), 1;
        net_conn_open(jobs[i].conn, on_open, &jobs[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once both connections are closed */
    uv_loop_close(&loop);
    net_opts_free(&o);
    return jobs[0].err.code || jobs[1].err.code;
}
