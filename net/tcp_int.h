/*
 * tcp_int.h — the TCP connection shared by tcp.c (resolve, connect,
 * lifetime, the poll handle) and tcp_io.c (reading, writing, the end of
 * the stream). Not installed.
 */
#ifndef TDSPIPE_NET_TCP_INT_H
#define TDSPIPE_NET_TCP_INT_H

#include "net_int.h"

#define STAGE_CAP (256u * 1024u)

typedef struct tcp_sock {
    uv_poll_t h;
    int fd;
    bool poll_err; /* libuv saw POLLERR and stopped the handle for good */
    net_tcp *t;
} tcp_sock;

/* A write the socket has not taken yet (off bytes of it are sent). */
typedef struct tcp_wbuf {
    struct tcp_wbuf *next;
    uint8_t *buf;
    size_t n, off;
    bool wipe;
} tcp_wbuf;

struct net_tcp {
    uv_loop_t *loop;
    char host[256];
    uint16_t port;
    uint32_t per_addr_ms;
    uint32_t keepalive_s;
    net_tcp_connect_cb connect_cb;
    net_tcp_read_cb read_cb;
    void *ud;

    uv_getaddrinfo_t gai;
    bool gai_active;
    struct addrinfo *ai;
    struct addrinfo *cur;
    unsigned tried;
    char last_err[128];

    tcp_sock *sock;          /* current attempt / the connection */
    int events;              /* what the poll handle watches now */
    uv_timer_t timer;        /* per-address timeout; later, reporting the end */
    bool timer_init;

    uint8_t *stage;
    size_t rpos, rlen;
    bool reading;
    bool connected;
    bool dead;               /* closed by the owner: no callbacks */
    int refs;                /* outstanding libuv callbacks + the owner */

    tcp_wbuf *wq, *wq_tail;  /* queued writes, oldest first */
    size_t queued;           /* unsent bytes in wq */
    size_t unreported;       /* sent, but the loop has not run since */

    int end_code;            /* the read side ended: NET_E_CLOSED / NET_E_IO */
    char end_msg[128];
    int werr_code;           /* a send failed (reported if reading ends quietly) */
    char werr_msg[128];
    bool end_reported;
    char peer[80];
};

/* tcp.c: watches what the state needs (writable while connecting or
 * while writes are queued or unreported; readable while reading and not
 * at the end). */
void net__tcp_watch(net_tcp *t);
/* tcp_io.c: the connected socket is ready (status < 0: POLLERR). */
void net__tcp_io(net_tcp *t, int status, int events);
/* tcp_io.c: drops every queued write (closing, or the socket broke). */
void net__tcp_drop_writes(net_tcp *t);

#endif /* TDSPIPE_NET_TCP_INT_H */
