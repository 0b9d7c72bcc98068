/*
 * drain.c — loopback throughput of a running tdstestd: logs in (plain TDS
 * 7.4, packet size 32767, the engine's PRELOGIN/LOGIN7 encoders over a
 * blocking socket), sends one SQL batch, then reads the reply as raw bytes
 * as fast as the socket delivers them, following only the 8-byte packet
 * headers to find the end of the message. Nothing is decoded, so the rate
 * is the server's (and the kernel's), not a client's.
 *
 *   drain PORT [SQL] [USER PASSWORD]
 *   default SQL "select * from narrow", user sa / Passw0rd!
 *
 * Prints bytes, seconds, MB/s. Exit 0 when the reply ended (EOM) and held
 * no ERROR token in its first packet, 1 otherwise.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tds.h"

static int fd = -1;

static int flush_out(tds_session *s)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        tds_send_buf(s, &p, &n);
        if (n == 0)
            return 0;
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        tds_send_ack(s, (size_t)w);
    }
}

/* Reads until an event of type want (or an ERROR: -1). */
static int wait_event(tds_session *s, tds_event_type want, tds_event *ev)
{
    for (;;) {
        int e;
        while ((e = tds_next(s, ev)) == 1) {
            if (ev->type == TDS_EV_ERROR) {
                fprintf(stderr, "drain: server error %d: %.*s\n", (int)ev->u.msg.number,
                        (int)ev->u.msg.message.len, ev->u.msg.message.ptr);
                return -1;
            }
            if (ev->type == want)
                return 0;
        }
        if (e < 0) {
            fprintf(stderr, "drain: %s\n", tds_strerror(e));
            return -1;
        }
        uint8_t *p;
        size_t n;
        if (tds_recv_buf(s, &p, &n) != TDS_OK)
            return -1;
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            fprintf(stderr, "drain: connection closed during login\n");
            return -1;
        }
        if (tds_recv_ack(s, (size_t)r) != TDS_OK)
            return -1;
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: drain PORT [SQL] [USER PASSWORD]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *sql = argc > 2 ? argv[2] : "select * from narrow";
    const char *user = argc > 4 ? argv[3] : "sa";
    const char *pass = argc > 4 ? argv[4] : "Passw0rd!";

    fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        perror("drain: connect");
        return 1;
    }
    int one = 1, big = 4 << 20;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);

    tds_session_opts o = { .role = TDS_ROLE_CLIENT };
    tds_session *s = tds_session_new(&o);
    tds_prelogin pl;
    memset(&pl, 0, sizeof pl);
    pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION);
    pl.encryption = TDS_ENCRYPT_NOT_SUP;
    tds_event ev;
    if (tds_send_prelogin(s, &pl) < 0 || flush_out(s) < 0)
        return 1;
    tds_expect_message(s);
    if (wait_event(s, TDS_EV_MESSAGE, &ev) < 0)
        return 1;
    tds_login7 l;
    memset(&l, 0, sizeof l);
    l.tds_version = TDS_VERSION_74;
    l.packet_size = 32767;
    l.hostname = "drain";
    l.username = user;
    l.password = pass;
    l.appname = "tdstestd-drain";
    if (tds_send_login7(s, &l) < 0 || flush_out(s) < 0)
        return 1;
    if (wait_event(s, TDS_EV_LOGINACK, &ev) < 0 || wait_event(s, TDS_EV_MESSAGE_END, &ev) < 0)
        return 1;

    if (tds_send_sql_batch(s, sql, strlen(sql)) < 0 || flush_out(s) < 0)
        return 1;
    /* Raw drain: follow packet headers only. */
    size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    uint8_t hdr[8];
    size_t hdr_have = 0, left = 0;
    bool eom = false, last = false, first = true, error = false;
    uint64_t bytes = 0;
    double t0 = now();
    while (!eom) {
        ssize_t r = read(fd, buf, cap);
        if (r <= 0) {
            fprintf(stderr, "drain: connection closed before the end of the reply\n");
            break;
        }
        bytes += (uint64_t)r;
        size_t i = 0;
        while (i < (size_t)r) {
            if (left == 0 && hdr_have < 8) {
                hdr[hdr_have++] = buf[i++];
                if (hdr_have == 8) {
                    left = (size_t)((hdr[2] << 8) | hdr[3]) - 8;
                    last = (hdr[1] & 1) != 0;
                    if (first && i < (size_t)r && buf[i] == 0xAA)
                        error = true;
                    first = false;
                    if (left == 0 && last)
                        eom = true;
                }
                continue;
            }
            size_t take = (size_t)r - i < left ? (size_t)r - i : left;
            i += take;
            left -= take;
            if (left == 0) {
                hdr_have = 0;
                if (last)
                    eom = true;
            }
        }
    }
    double secs = now() - t0;
    printf("%s: %llu bytes in %.3f s = %.1f MB/s over loopback\n", sql, (unsigned long long)bytes,
           secs, (double)bytes / secs / 1e6);
    free(buf);
    tds_session_free(s);
    close(fd);
    return eom && !error ? 0 : 1;
}
