/*
 * test_tcp.c — the transport under misbehaving peers, with an in-process
 * scripted server (a thread on a raw socket): garbage instead of TDS, a
 * reply cut short, a peer that hangs up at once (retried as a reset
 * during login), a malformed PRELOGIN option table, garbage in the TLS
 * handshake. Every case must end in a clean one-line error, quickly,
 * with nothing leaked (ASan).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

typedef struct script {
    int lfd;
    int port;
    int conns;            /* connections to serve */
    const uint8_t *reply; /* written after the first read */
    size_t reply_len;
    const uint8_t *reply2;/* written after the second read (TLS step) */
    size_t reply2_len;
    int served;
} script;

static void *serve(void *arg)
{
    script *s = arg;
    for (int i = 0; i < s->conns; i++) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        s->served++;
        uint8_t buf[8192];
        if (read(fd, buf, sizeof buf) > 0 && s->reply_len) {
            if (write(fd, s->reply, s->reply_len) < 0)
                break;
            if (s->reply2_len && read(fd, buf, sizeof buf) > 0)
                if (write(fd, s->reply2, s->reply2_len) < 0)
                    break;
        }
        usleep(20000);
        close(fd);
    }
    return NULL;
}

static pthread_t start(script *s)
{
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->lfd, 8), 0);
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, serve, s);
    return t;
}

static void finish(script *s, pthread_t t)
{
    pthread_join(t, NULL);
    close(s->lfd);
}

static int open_err(int port, unsigned retries, net_encrypt enc, net_error *e)
{
    net_opts o = th_opts(port);
    o.retries = retries;
    o.retry_base_ms = 10;
    o.encrypt = enc;
    o.trust_server_cert = true;
    o.connect_timeout_ms = 3000;
    uint64_t t0 = th_now_ms();
    net_client *cl = net_client_open(&o, e);
    cr_assert_null(cl);
    cr_assert_lt(th_now_ms() - t0, 2500, "must fail fast, not at the timeout: %s", e->message);
    cr_log_info("%d: %s", e->code, e->message);
    cr_assert_null(strchr(e->message, '\n'));
    cr_assert_null(strstr(e->message, "Secret#1"));
    return e->code;
}

/* A PRELOGIN reply: VERSION and ENCRYPTION=enc. */
static size_t prelogin_reply(uint8_t *out, uint8_t enc)
{
    static const uint8_t p[] = {
        0x04, 0x01, 0x00, 0x1A, 0x00, 0x00, 0x01, 0x00,     /* header, length 26 */
        0x00, 0x00, 0x0B, 0x00, 0x06,                       /* VERSION at 11, 6 */
        0x01, 0x00, 0x11, 0x00, 0x01,                       /* ENCRYPTION at 17, 1 */
        0xFF,
        0x10, 0x00, 0x0F, 0xA0, 0x00, 0x00,                 /* 16.0.4000 */
        0x00,
    };
    memcpy(out, p, sizeof p);
    out[sizeof p - 1] = enc;
    return sizeof p;
}

Test(tcp, garbage_instead_of_tds)
{
    static const uint8_t http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    script s = {.conns = 1, .reply = http, .reply_len = sizeof http - 1};
    pthread_t t = start(&s);
    net_error e;
    cr_assert_eq(open_err(s.port, 0, NET_ENCRYPT_DISABLE, &e), NET_E_PROTO, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "malformed"), "%s", e.message);
    finish(&s, t);
}

Test(tcp, reply_cut_short)
{
    uint8_t r[64];
    size_t n = prelogin_reply(r, TDS_ENCRYPT_NOT_SUP);
    script s = {.conns = 1, .reply = r, .reply_len = n - 7};
    pthread_t t = start(&s);
    net_error e;
    cr_assert_eq(open_err(s.port, 0, NET_ENCRYPT_DISABLE, &e), NET_E_CLOSED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "PRELOGIN"), "%s", e.message);
    finish(&s, t);
}

Test(tcp, hang_up_at_once_is_retried)
{
    script s = {.conns = 3};
    pthread_t t = start(&s);
    net_error e;
    cr_assert_eq(open_err(s.port, 2, NET_ENCRYPT_DISABLE, &e), NET_E_CLOSED, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "after 3 attempts"), "%s", e.message);
    finish(&s, t);
    cr_assert_eq(s.served, 3);
}

Test(tcp, malformed_prelogin_table)
{
    uint8_t r[64];
    size_t n = prelogin_reply(r, TDS_ENCRYPT_NOT_SUP);
    r[10] = 0x40; /* VERSION offset far outside the payload */
    script s = {.conns = 1, .reply = r, .reply_len = n};
    pthread_t t = start(&s);
    net_error e;
    cr_assert_eq(open_err(s.port, 0, NET_ENCRYPT_DISABLE, &e), NET_E_PROTO, "%d %s", e.code, e.message);
    cr_assert(strstr(e.message, "PRELOGIN"), "%s", e.message);
    finish(&s, t);
}

Test(tcp, garbage_in_tls_handshake)
{
    uint8_t r[64];
    size_t n = prelogin_reply(r, TDS_ENCRYPT_ON);
    /* a PRELOGIN packet whose payload is not TLS */
    static const uint8_t junk[] = {0x12, 0x01, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00,
                                   0x16, 0x03, 0x03, 0x00, 0x03, 0xDE, 0xAD, 0xBE};
    script s = {.conns = 1, .reply = r, .reply_len = n, .reply2 = junk, .reply2_len = sizeof junk};
    pthread_t t = start(&s);
    net_error e;
    int rc = open_err(s.port, 0, NET_ENCRYPT_MANDATORY, &e);
    cr_assert(rc == NET_E_TLS || rc == NET_E_CLOSED, "%d %s", e.code, e.message);
    finish(&s, t);
}

Test(tcp, strict_against_silent_plain_server)
{
    /* A peer that answers a ClientHello with a TDS packet. */
    uint8_t r[64];
    size_t n = prelogin_reply(r, TDS_ENCRYPT_NOT_SUP);
    script s = {.conns = 1, .reply = r, .reply_len = n};
    pthread_t t = start(&s);
    net_error e;
    cr_assert_eq(open_err(s.port, 0, NET_ENCRYPT_STRICT, &e), NET_E_STRICT_UNSUPPORTED, "%d %s", e.code, e.message);
    finish(&s, t);
}
