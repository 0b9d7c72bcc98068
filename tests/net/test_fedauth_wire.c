/*
 * test_fedauth_wire.c — tdstestd's side of the FEDAUTH ADAL workflow and
 * of SQL Server 2025's feature acks, driven byte by byte with the engine
 * as a client on a blocking socket (no TLS): FEDAUTHINFO as the only
 * token of its message with the default and the flag-given STS URL / SPN;
 * every way the token step must fail (echo bit, missing / wrong / unasked
 * nonce, a packet other than FEDAUTH_TOKEN, a token the scenario does not
 * know) — 18456 for '<token-identified principal>' or a closed
 * connection; the FEDAUTH ack with no data; JSONSUPPORT 1 and
 * VECTORSUPPORT min(asked, 2) acked, and neither with --no-2025-types.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

#define NEED_SERVER()                                              \
    do {                                                           \
        if (!th_tdstestd())                                        \
            cr_skip_test("build/tdstestd is not built");           \
    } while (0)

static th_server start(const char *const *args)
{
    NEED_SERVER();
    th_server s;
    const char *scen = th_scenario("fedauth_wire",
        "{\"logins\":[{\"user\":\"sa\",\"password\":\"Secret#1\",\"database\":\"sales\"},"
        "{\"token\":\"good-token\",\"database\":\"sales\"}],"
        "\"databases\":[{\"name\":\"sales\",\"tables\":[{\"name\":\"t\",\"rows\":1,"
        "\"columns\":[{\"name\":\"id\",\"type\":\"int\"}]}]}]}");
    cr_assert(th_start(&s, scen, args), "tdstestd did not start");
    return s;
}

/* ------------------------------------------------------------ client */

typedef struct cli {
    int fd;
    tds_session *s;
} cli;

static void cli_flush(cli *c)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        tds_send_buf(c->s, &p, &n);
        if (!n)
            return;
        ssize_t w = write(c->fd, p, n);
        cr_assert(w > 0);
        tds_send_ack(c->s, (size_t)w);
    }
}

/* Next event, reading when needed. 0 at end of stream. */
static int cli_next(cli *c, tds_event *ev)
{
    for (;;) {
        int e = tds_next(c->s, ev);
        cr_assert(e >= 0, "tds_next: %s", tds_strerror(e));
        if (e == 1)
            return 1;
        uint8_t *p;
        size_t n;
        cr_assert_eq(tds_recv_buf(c->s, &p, &n), TDS_OK);
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        cr_assert(poll(&pf, 1, 20000) > 0, "no answer from tdstestd");
        ssize_t r = read(c->fd, p, n);
        if (r <= 0)
            return 0;
        cr_assert_eq(tds_recv_ack(c->s, (size_t)r), TDS_OK);
    }
}

static cli cli_connect(int port)
{
    cli c;
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(c.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    tds_session_opts o = {.role = TDS_ROLE_CLIENT};
    c.s = tds_session_new(&o);
    cr_assert(c.s);
    return c;
}

static void cli_close(cli *c)
{
    tds_session_free(c->s);
    close(c->fd);
}

/* PRELOGIN (FEDAUTHREQUIRED when fedauth); the server's answer. */
static tds_prelogin cli_prelogin(cli *c, bool fedauth)
{
    tds_prelogin pl;
    memset(&pl, 0, sizeof pl);
    pl.present = (1u << TDS_PL_VERSION) | (1u << TDS_PL_ENCRYPTION) |
                 (fedauth ? 1u << TDS_PL_FEDAUTHREQUIRED : 0);
    pl.encryption = TDS_ENCRYPT_NOT_SUP;
    pl.fedauth_required = 1;
    cr_assert_eq(tds_send_prelogin(c->s, &pl), 0);
    cli_flush(c);
    tds_event ev;
    cr_assert(cli_next(c, &ev));
    cr_assert_eq(ev.type, TDS_EV_MESSAGE);
    tds_prelogin in;
    cr_assert_eq(tds_prelogin_decode(ev.u.message.data, ev.u.message.len, &in), 0);
    return in;
}

/* What one reply message held. */
typedef struct reply {
    bool closed;              /* the server hung up instead */
    int ntokens;
    bool info;                /* FEDAUTHINFO */
    tds_fedauthinfo fi;
    bool ack;
    int32_t error;
    char error_text[200];
    int nacks;
    tds_feature_ack acks[8];
    uint8_t ack_data[8][4];
} reply;

static reply cli_reply(cli *c)
{
    reply r;
    memset(&r, 0, sizeof r);
    tds_event ev;
    for (;;) {
        if (!cli_next(c, &ev)) {
            r.closed = true;
            return r;
        }
        if (ev.type == TDS_EV_MESSAGE_END)
            return r;
        r.ntokens++;
        if (ev.type == TDS_EV_FEDAUTHINFO) {
            r.info = true;
            cr_assert_eq(tds_fedauthinfo_decode(ev.u.raw.data, ev.u.raw.len, &r.fi), TDS_OK);
        } else if (ev.type == TDS_EV_LOGINACK) {
            r.ack = true;
        } else if (ev.type == TDS_EV_ERROR) {
            r.error = ev.u.msg.number;
            snprintf(r.error_text, sizeof r.error_text, "%.*s", (int)ev.u.msg.message.len,
                     ev.u.msg.message.ptr);
        } else if (ev.type == TDS_EV_FEATUREEXTACK) {
            for (size_t k = 0; k < ev.u.features.n && r.nacks < 8; k++, r.nacks++) {
                r.acks[r.nacks] = ev.u.features.acks[k];
                size_t n = ev.u.features.acks[k].len < 4 ? ev.u.features.acks[k].len : 4;
                if (n)
                    memcpy(r.ack_data[r.nacks], ev.u.features.acks[k].data, n);
            }
        }
    }
}

static int ack_version(const reply *r, uint8_t id)
{
    for (int i = 0; i < r->nacks; i++)
        if (r->acks[i].id == id)
            return r->acks[i].len ? r->ack_data[i][0] : 0;
    return -1;
}

static void adal_login7(tds_login7 *l, bool echo)
{
    memset(l, 0, sizeof *l);
    l->tds_version = TDS_VERSION_74;
    l->packet_size = 4096;
    l->appname = "test_fedauth_wire";
    l->fedauth = true;
    l->fedauth_echo = echo;
    l->fedauth_library = TDS_FEDAUTH_LIB_ADAL;
    l->fedauth_workflow = TDS_FEDAUTH_WF_INTERACTIVE;
}

/* PRELOGIN, ADAL LOGIN7 (echo as given); the reply to the LOGIN7. */
static reply adal_begin(cli *c, bool echo, tds_prelogin *pl)
{
    *pl = cli_prelogin(c, true);
    tds_login7 l;
    adal_login7(&l, echo);
    cr_assert_eq(tds_send_login7(c->s, &l), 0);
    cli_flush(c);
    return cli_reply(c);
}

static reply send_token(cli *c, const char *tok, const uint8_t *nonce)
{
    cr_assert_eq(tds_send_fedauth_token(c->s, tok, nonce), TDS_OK);
    cli_flush(c);
    return cli_reply(c);
}

/* ------------------------------------------------------------- tests */

Test(fedauth_wire, info_then_token_with_nonce)
{
    const char *args[] = {"--fedauth-required", NULL};
    th_server s = start(args);
    cli c = cli_connect(s.port);
    tds_prelogin pl;
    reply r = adal_begin(&c, true, &pl);
    cr_assert_eq(pl.fedauth_required, 1);
    cr_assert(pl.present & (1u << TDS_PL_NONCEOPT));
    cr_assert(r.info);
    cr_assert_eq(r.ntokens, 1, "FEDAUTHINFO is the only token of its message");
    cr_assert_str_eq(r.fi.sts_url, "https://login.microsoftonline.com/common");
    cr_assert_str_eq(r.fi.spn, "https://database.windows.net/");
    r = send_token(&c, "good-token", pl.nonce);
    cr_assert(r.ack, "refused: %d %s", (int)r.error, r.error_text);
    cr_assert_eq(ack_version(&r, TDS_FEAT_FEDAUTH), 0, "ADAL's FEDAUTH ack has no data");
    cli_close(&c);
    th_stop(&s);
}

Test(fedauth_wire, sts_url_and_spn_flags)
{
    const char *args[] = {"--fedauth-sts-url", "https://login.microsoftonline.us/t-1/oauth2/authorize",
                          "--fedauth-spn", "https://database.usgovcloudapi.net/", NULL};
    th_server s = start(args);
    cli c = cli_connect(s.port);
    tds_prelogin pl;
    reply r = adal_begin(&c, false, &pl);
    cr_assert_eq(pl.fedauth_required, 0);
    cr_assert(!(pl.present & (1u << TDS_PL_NONCEOPT)));
    cr_assert(r.info);
    cr_assert_str_eq(r.fi.sts_url, "https://login.microsoftonline.us/t-1/oauth2/authorize");
    cr_assert_str_eq(r.fi.spn, "https://database.usgovcloudapi.net/");
    r = send_token(&c, "good-token", NULL);
    cr_assert(r.ack, "refused: %d %s", (int)r.error, r.error_text);
    cli_close(&c);

    const char *t_args[] = {"--fedauth-tenant", "contoso.onmicrosoft.com", NULL};
    th_server s2 = start(t_args);
    c = cli_connect(s2.port);
    r = adal_begin(&c, false, &pl);
    cr_assert_str_eq(r.fi.sts_url, "https://login.microsoftonline.com/contoso.onmicrosoft.com");
    cli_close(&c);
    th_stop(&s2);
    th_stop(&s);
}

Test(fedauth_wire, token_step_refusals)
{
    const char *args[] = {"--fedauth-required", NULL};
    th_server s = start(args);
    tds_prelogin pl;

    /* the echo bit must equal FEDAUTHREQUIRED: refused at LOGIN7 */
    cli c = cli_connect(s.port);
    reply r = adal_begin(&c, false, &pl);
    cr_assert(!r.info);
    cr_assert_eq(r.error, 18456);
    cr_assert_str_eq(r.error_text, "Login failed for user '<token-identified principal>'.");
    cli_close(&c);

    /* the nonce left out */
    c = cli_connect(s.port);
    r = adal_begin(&c, true, &pl);
    cr_assert(r.info);
    r = send_token(&c, "good-token", NULL);
    cr_assert(!r.ack);
    cr_assert_eq(r.error, 18456);
    cli_close(&c);

    /* a nonce that is not the server's */
    c = cli_connect(s.port);
    r = adal_begin(&c, true, &pl);
    pl.nonce[31] ^= 1;
    r = send_token(&c, "good-token", pl.nonce);
    cr_assert_eq(r.error, 18456);
    cli_close(&c);

    /* a token the scenario does not know */
    c = cli_connect(s.port);
    r = adal_begin(&c, true, &pl);
    r = send_token(&c, "other-token", pl.nonce);
    cr_assert_eq(r.error, 18456);
    cli_close(&c);

    /* anything but FEDAUTH_TOKEN after FEDAUTHINFO: the connection ends */
    c = cli_connect(s.port);
    r = adal_begin(&c, true, &pl);
    cr_assert_eq(tds_send_sql_batch(c.s, "SELECT 1", 8), TDS_OK);
    cli_flush(&c);
    r = cli_reply(&c);
    cr_assert(r.closed);
    cli_close(&c);
    th_stop(&s);

    /* a nonce when none was sent (FEDAUTHREQUIRED = 0) */
    th_server s2 = start(NULL);
    c = cli_connect(s2.port);
    r = adal_begin(&c, false, &pl);
    cr_assert(r.info);
    uint8_t made_up[32] = {7};
    r = send_token(&c, "good-token", made_up);
    cr_assert_eq(r.error, 18456);
    cli_close(&c);
    th_stop(&s2);
}

/* A SQL login asking for json/vector (vector version vv); its reply. */
static reply login_2025(int port, uint8_t vv)
{
    cli c = cli_connect(port);
    cli_prelogin(&c, false);
    tds_login7 l;
    memset(&l, 0, sizeof l);
    l.tds_version = TDS_VERSION_74;
    l.packet_size = 4096;
    l.username = "sa";
    l.password = "Secret#1";
    l.json_support = 1;
    l.vector_support = vv;
    cr_assert_eq(tds_send_login7(c.s, &l), 0);
    cli_flush(&c);
    reply r = cli_reply(&c);
    cli_close(&c);
    cr_assert(r.ack, "refused: %d %s", (int)r.error, r.error_text);
    return r;
}

Test(fedauth_wire, types2025_acks)
{
    th_server s = start(NULL);
    reply r = login_2025(s.port, 2);
    cr_assert_eq(ack_version(&r, TDS_FEAT_JSONSUPPORT), 1);
    cr_assert_eq(ack_version(&r, TDS_FEAT_VECTORSUPPORT), 2);
    r = login_2025(s.port, 1);
    cr_assert_eq(ack_version(&r, TDS_FEAT_VECTORSUPPORT), 1);
    r = login_2025(s.port, 9);
    cr_assert_eq(ack_version(&r, TDS_FEAT_VECTORSUPPORT), 2, "at most what tdstestd knows");
    th_stop(&s);

    const char *args[] = {"--no-2025-types", NULL};
    th_server s2 = start(args);
    r = login_2025(s2.port, 2);
    cr_assert_eq(ack_version(&r, TDS_FEAT_JSONSUPPORT), -1);
    cr_assert_eq(ack_version(&r, TDS_FEAT_VECTORSUPPORT), -1);
    th_stop(&s2);
}
