/*
 * engine_socket.c — the sans-I/O engine (tds.h alone) on the program's own
 * blocking socket: PRELOGIN, LOGIN7, one SQL batch, rows printed as
 * "a|b|c" (NULL for NULL). No libuv, no TLS: the server must allow
 * unencrypted connections (tdstestd without a certificate does).
 *
 *   engine_socket HOST PORT USER PASSWORD DATABASE "SELECT …"
 *
 * The engine never reads or writes: tds_send_buf() says what to write,
 * tds_recv_buf() lends the place to read into and says how many bytes it
 * wants, tds_next() hands back decoded events.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, MSG_NOSIGNAL */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tdspipe/tds.h>

static int sock = -1;

static int connect_to(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *a;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    for (a = ai; a; a = a->ai_next) {
        sock = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (sock >= 0 && connect(sock, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (sock >= 0)
            close(sock);
        sock = -1;
    }
    freeaddrinfo(ai);
    return sock;
}

/* Writes everything the engine has queued. */
static int flush_out(tds_session *s)
{
    const uint8_t *p;
    size_t n;
    for (tds_send_buf(s, &p, &n); n > 0; tds_send_buf(s, &p, &n)) {
        ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        tds_send_ack(s, (size_t)w);
    }
    return 0;
}

/* The next event, reading from the socket as the engine asks. 1 or -1. */
static int next_event(tds_session *s, tds_event *ev)
{
    for (;;) {
        int r = tds_next(s, ev);
        if (r != 0)
            return r > 0 ? 1 : (fprintf(stderr, "engine: %s\n", tds_strerror(r)), -1);
        uint8_t *buf;
        size_t want;
        if (tds_recv_buf(s, &buf, &want) != TDS_OK)
            return -1;
        ssize_t n = recv(sock, buf, want, 0);
        if (n <= 0)
            return fprintf(stderr, "engine: connection closed\n"), -1;
        if (tds_recv_ack(s, (size_t)n) != TDS_OK)
            return -1;
    }
}

/* Reads events up to the end of the server's reply, printing what it holds.
 * Returns 0, or -1 after a server error or a broken connection. */
static int print_reply(tds_session *s)
{
    tds_event ev;
    int failed = 0;
    char text[8192];
    while (next_event(s, &ev) == 1) {
        if (ev.type == TDS_EV_MESSAGE_END)
            return failed ? -1 : 0;
        if (ev.type == TDS_EV_ERROR) {
            fprintf(stderr, "server error %d: %s\n", (int)ev.u.msg.number, ev.u.msg.message.ptr);
            failed = 1;
        } else if (ev.type == TDS_EV_COLMETADATA) {
            for (uint16_t i = 0; i < ev.u.colmeta.ncols; i++)
                printf("%s%s", i ? "|" : "", ev.u.colmeta.cols[i].name.ptr);
            printf("\n");
        } else if (ev.type == TDS_EV_ROW) {
            for (uint16_t i = 0; i < ev.u.row.ncols; i++) {
                const tds_value *v = &ev.u.row.values[i];
                size_t len = 0;
                if (v->flags & TDS_VF_NULL)
                    snprintf(text, sizeof text, "NULL");
                else if (tds_value_text(&ev.u.row.cols[i], v, text, sizeof text, &len) != TDS_OK)
                    snprintf(text, sizeof text, "(%zu bytes)", len);
                printf("%s%s", i ? "|" : "", text);
            }
            printf("\n");
        } else if (ev.type == TDS_EV_DONE && (ev.u.done.status & TDS_DONE_COUNT)) {
            printf("(%llu rows)\n", (unsigned long long)ev.u.done.rowcount);
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc != 7)
        return fprintf(stderr, "usage: engine_socket HOST PORT USER PASSWORD DATABASE SQL\n"), 2;
    if (connect_to(argv[1], argv[2]) < 0)
        return fprintf(stderr, "engine_socket: cannot connect to %s:%s\n", argv[1], argv[2]), 1;
    tds_session *s = tds_session_new(NULL);

    /* PRELOGIN: we offer no encryption; the reply comes back whole. */
    tds_prelogin pl = {.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION),
                       .encryption = TDS_ENCRYPT_NOT_SUP};
    tds_event ev;
    tds_expect_message(s);
    if (tds_send_prelogin(s, &pl) || flush_out(s) || next_event(s, &ev) < 0 ||
        tds_prelogin_decode(ev.u.message.data, ev.u.message.len, &pl) ||
        (pl.encryption & 0x7F) == TDS_ENCRYPT_ON || (pl.encryption & 0x7F) == TDS_ENCRYPT_REQ)
        return fprintf(stderr, "engine_socket: PRELOGIN failed (or the server wants TLS)\n"), 1;

    tds_login7 l = {.tds_version = TDS_VERSION_74, .packet_size = 32767,
                    .option_flags1 = TDS_LOGIN_OF1_USE_DB_ON | TDS_LOGIN_OF1_INIT_DB_FATAL,
                    .hostname = "example", .username = argv[3], .password = argv[4],
                    .appname = "engine_socket", .database = argv[5], .utf8_support = true};
    if (tds_send_login7(s, &l) || flush_out(s) || print_reply(s) < 0)
        return fprintf(stderr, "engine_socket: login failed\n"), 1;

    int rc = tds_send_sql_batch(s, argv[6], strlen(argv[6])) || flush_out(s) || print_reply(s) < 0;
    tds_session_free(s);
    close(sock);
    return rc;
}
