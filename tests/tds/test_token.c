/*
 * test_token.c — the token-stream decoder on whole responses: the login
 * response, the spec's bulk-load example on the server side, several
 * result sets, procedures (DONEPROC/DONEINPROC, RETURNSTATUS,
 * RETURNVALUE), every ENVCHANGE type and its effect on the session,
 * FEATUREEXTACK, rows spanning 2 and 10 packets, NBCROW bitmaps and PLP
 * streaming. Every stream is replayed three ways with identical
 * transcripts and checked field by field where the transcript is not
 * enough.
 */
#include "token_build.h"

static const tds_session_opts client = {0};

/* Decodes wire on a fresh client session, calling check for each event. */
typedef void (*ev_check)(tds_session *s, const tds_event *ev, int i, void *ud);
static int decode_each(const tds_session_opts *opts, tb_setup_fn setup, const uint8_t *wire,
                       size_t len, ev_check check, void *ud, tds_session **keep)
{
    tds_session *s = tds_session_new(opts);
    cr_assert_not_null(s);
    if (setup)
        setup(s);
    size_t off = 0;
    int n = 0, rc;
    tds_event ev;
    for (;;) {
        while ((rc = tds_next(s, &ev)) == 1)
            check(s, &ev, n++, ud);
        cr_assert_geq(rc, 0, "decode failed: %s", tds_strerror(rc));
        if (off == len)
            break;
        ptrdiff_t took = tds_feed(s, wire + off, len - off);
        cr_assert_gt(took, 0);
        off += (size_t)took;
    }
    if (keep)
        *keep = s;
    else
        tds_session_free(s);
    return n;
}

/* ------------------------------------------------------ login response */

/* The shape of MS-TDS 4.3: ENVCHANGE database, INFO 5701, ENVCHANGE
 * language, INFO 5703, LOGINACK, ENVCHANGE packet size, DONE. */
static void login_response(tb *b, const char *psize)
{
    tb_env_str(b, TDS_ENV_DATABASE, "master", "master");
    tb_msg(b, TDS_TOK_INFO, 5701, 2, 0, "Changed database context to 'master'.", "SQLSRV", "", 1);
    tb_env_str(b, TDS_ENV_LANGUAGE, "us_english", "");
    tb_msg(b, TDS_TOK_INFO, 5703, 1, 0, "Changed language setting to us_english.", "SQLSRV", "", 1);
    tb_u8(b, TDS_TOK_LOGINACK);
    size_t at = b->n;
    tb_u16(b, 0);
    tb_u8(b, 1);
    tb_hex(b, "74 00 00 04");
    tb_bvarchar(b, "Microsoft SQL Server");
    tb_hex(b, "10 00 10 7B"); /* 16.0.4219 */
    tb_len16(b, at);
    tb_env_str(b, TDS_ENV_PACKETSIZE, psize, "4096");
    tb_done(b, TDS_TOK_DONE, 0, 0, 0);
}

Test(token, login_response_three_ways)
{
    tb b = {0};
    login_response(&b, "8000");
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_str_eq(t,
        "ENVCHANGE type=1 new=master old=master rawlen=0/0 port=0 server=\n"
        "INFO 5701 state=2 class=0 msg=Changed database context to 'master'. server=SQLSRV proc= line=1\n"
        "ENVCHANGE type=2 new=us_english old= rawlen=0/0 port=0 server=\n"
        "INFO 5703 state=1 class=0 msg=Changed language setting to us_english. server=SQLSRV proc= line=1\n"
        "LOGINACK if=1 tds=0x74000004 prog=Microsoft SQL Server ver=16.0.4219\n"
        "ENVCHANGE type=4 new=8000 old=4096 rawlen=0/0 port=0 server=\n"
        "DONE tok=0xfd status=0x0 cmd=0 rows=0\n"
        "END\n");
    free(t);
    free(wire);
    free(b.p);
}

static void check_nothing(tds_session *s, const tds_event *ev, int i, void *ud)
{
    (void)s; (void)ev; (void)i; (void)ud;
}

Test(token, login_response_changes_session)
{
    tb b = {0};
    login_response(&b, "512");
    size_t len;
    uint8_t *wire = tb_wire(&b, 4096, &len);
    tds_session *s;
    int n = decode_each(&client, NULL, wire, len, check_nothing, NULL, &s);
    cr_assert_eq(n, 8);
    cr_assert_eq(tds_packet_size(s), 512);
    cr_assert_str_eq(tds_database(s), "master");
    tds_session_free(s);
    free(wire);
    free(b.p);
}

/* The packet size changes in the middle of the login response: the
 * server's packets after it are still decoded (the new size applies to
 * the next message), and a second reply in 512-byte packets follows. */
Test(token, packet_size_change_mid_login)
{
    tb b = {0};
    login_response(&b, "512");
    size_t l1, l2;
    uint8_t *w1 = tb_wire(&b, 4096, &l1);
    tb r = {0};
    tb_u8(&r, TDS_TOK_COLMETADATA); tb_u16(&r, 1);
    tb_col(&r, 1, "E7 40 1F 09 04 D0 00 34", "s");
    for (int i = 0; i < 40; i++) {
        tb_u8(&r, TDS_TOK_ROW);
        tb_u16(&r, 40);
        tb_u16s(&r, "abcdefghijklmnopqrst");
    }
    tb_done(&r, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 40);
    uint8_t *w2 = tb_wire(&r, 512, &l2);
    uint8_t *wire = malloc(l1 + l2);
    memcpy(wire, w1, l1);
    memcpy(wire + l1, w2, l2);
    char *t = tb_three_ways(&client, NULL, wire, l1 + l2);
    cr_assert_not_null(strstr(t, "ENVCHANGE type=4 new=512 old=4096"));
    cr_assert_not_null(strstr(t, "DONE tok=0xfd status=0x10 cmd=193 rows=40\nEND\n"));
    size_t rows = 0;
    for (const char *p = t; (p = strstr(p, "ROW abcdefghijklmnopqrst\n")); p++)
        rows++;
    cr_assert_eq(rows, 40);
    free(t);
    free(wire); free(w1); free(w2); free(b.p); free(r.p);
}

/* ------------------------------------------------- bulk load (server) */

Test(token, spec_bulk_load_server)
{
    /* MS-TDS 4.12 BULKLOADBCP, byte for byte. */
    size_t len;
    uint8_t *wire = tv_hex("07 01 00 26 00 00 01 00 81 01 00 00 00 00 00 05"
                           "00 32 02 63 00 31 00 D1 00 FD 00 00 00 00 00 00"
                           "00 00 00 00 00 00", &len);
    tds_session_opts srv = { .role = TDS_ROLE_SERVER };
    char *t = tv_three_ways(&srv, false, wire, len);
    cr_assert_str_eq(t,
        "COLMETADATA n=1 [c1 type=0x32 kind=5 len=1 p=0 s=0 flags=0x5 cp=0]\n"
        "ROW 0\n"
        "DONE tok=0xfd status=0x0 cmd=0 rows=0\n"
        "END\n");
    free(t);
    free(wire);
}

Test(token, bulk_load_without_done)
{
    /* FreeTDS ends BulkLoadBCP right after the last ROW. */
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 2);
    tb_col(&b, 1, "38", "id");
    tb_col(&b, 1, "A7 0A 00 09 04 D0 00 34", "name");
    tb_u8(&b, TDS_TOK_ROW); tb_u32(&b, 7); tb_u16(&b, 3); tb_put(&b, "abc", 3);
    tb_u8(&b, TDS_TOK_ROW); tb_u32(&b, 8); tb_u16(&b, 0xFFFF);
    size_t len;
    uint8_t *wire = tv_packetize(TDS_PKT_BULK, b.p, b.n, 512, &len);
    tds_session_opts srv = { .role = TDS_ROLE_SERVER };
    char *t = tv_three_ways(&srv, false, wire, len);
    cr_assert_str_eq(t,
        "COLMETADATA n=2 [id type=0x38 kind=3 len=4 p=0 s=0 flags=0x1 cp=0] "
        "[name type=0xa7 kind=18 len=10 p=0 s=0 flags=0x1 cp=1252]\n"
        "ROW 7 | abc\n"
        "ROW 8 | NULL\n"
        "END\n");
    free(t);
    free(wire);
    free(b.p);
}

Test(token, server_rejects_client_tokens)
{
    tb b = {0};
    tb_env_str(&b, TDS_ENV_DATABASE, "x", "y");
    size_t len;
    uint8_t *wire = tv_packetize(TDS_PKT_BULK, b.p, b.n, 512, &len);
    tds_session_opts srv = { .role = TDS_ROLE_SERVER };
    char *t = tv_three_ways(&srv, false, wire, len);
    cr_assert_str_eq(t, "ERROR protocol error: malformed data from the peer\n");
    free(t);
    free(wire);
    free(b.p);
}

/* ------------------------------------------------ several result sets */

static void two_results(tb *b)
{
    tb_u8(b, TDS_TOK_COLMETADATA); tb_u16(b, 1);
    tb_col(b, 0x11, "26 04", "n");
    tb_u8(b, TDS_TOK_ROW); tb_hex(b, "04 01 00 00 00");
    tb_u8(b, TDS_TOK_ROW); tb_hex(b, "00");
    tb_done(b, TDS_TOK_DONE, TDS_DONE_MORE | TDS_DONE_COUNT, 0xC1, 2);
    tb_u8(b, TDS_TOK_COLMETADATA); tb_u16(b, 2);
    tb_col(b, 0x09, "E7 14 00 09 04 D0 00 34", "a");
    tb_col(b, 0x09, "6D 08", "f");
    tb_u8(b, TDS_TOK_ROW); tb_u16(b, 4); tb_u16s(b, "hi"); tb_hex(b, "08 00 00 00 00 00 00 F8 3F");
    tb_done(b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 1);
}

Test(token, several_results_done_more)
{
    tb b = {0};
    two_results(&b);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_str_eq(t,
        "COLMETADATA n=1 [n type=0x26 kind=3 len=4 p=0 s=0 flags=0x11 cp=0]\n"
        "ROW 1\n"
        "ROW NULL\n"
        "DONE tok=0xfd status=0x11 cmd=193 rows=2\n"
        "COLMETADATA n=2 [a type=0xe7 kind=19 len=20 p=0 s=0 flags=0x9 cp=1252] "
        "[f type=0x6d kind=7 len=8 p=0 s=0 flags=0x9 cp=0]\n"
        "ROW hi | 1.5\n"
        "DONE tok=0xfd status=0x10 cmd=193 rows=1\n"
        "END\n");
    free(t);
    free(wire);
    free(b.p);
}

/* --------------------------------------------------------- procedures */

Test(token, procedure_with_output_parameter)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 1);
    tb_col(&b, 0, "38", "x");
    tb_u8(&b, TDS_TOK_ROW); tb_u32(&b, 42);
    tb_done(&b, TDS_TOK_DONEINPROC, TDS_DONE_MORE | TDS_DONE_COUNT, 0xC1, 1);
    tb_u8(&b, TDS_TOK_RETURNSTATUS); tb_u32(&b, (uint32_t)-3);
    /* RETURNVALUE @out int = 99, and @s nvarchar(max) = 'ok' in 2 chunks. */
    tb_u8(&b, TDS_TOK_RETURNVALUE); tb_u16(&b, 1); tb_bvarchar(&b, "@out"); tb_u8(&b, 1);
    tb_u32(&b, 0); tb_u16(&b, 1); tb_hex(&b, "26 04 04 63 00 00 00");
    tb_u8(&b, TDS_TOK_RETURNVALUE); tb_u16(&b, 2); tb_bvarchar(&b, "@s"); tb_u8(&b, 1);
    tb_u32(&b, 0); tb_u16(&b, 1); tb_hex(&b, "E7 FF FF 09 04 D0 00 34");
    tb_u64(&b, 4); tb_u32(&b, 2); tb_u16s(&b, "o"); tb_u32(&b, 2); tb_u16s(&b, "k"); tb_u32(&b, 0);
    tb_done(&b, TDS_TOK_DONEPROC, 0, 0xE0, 0);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_str_eq(t,
        "COLMETADATA n=1 [x type=0x38 kind=3 len=4 p=0 s=0 flags=0x0 cp=0]\n"
        "ROW 42\n"
        "DONE tok=0xff status=0x11 cmd=193 rows=1\n"
        "RETURNSTATUS -3\n"
        "RETURNVALUE 1 @out status=1 99\n"
        "RETURNVALUE 2 @s status=1 ok\n"
        "DONE tok=0xfe status=0x0 cmd=224 rows=0\n"
        "END\n");
    free(t);
    free(wire);
    free(b.p);
}

/* ---------------------------------------------------------- ENVCHANGE */

static void all_envchanges(tb *b)
{
    tb_env_str(b, TDS_ENV_DATABASE, "tempdb", "master");
    tb_env_str(b, TDS_ENV_LANGUAGE, "Deutsch", "us_english");
    tb_env_str(b, TDS_ENV_CHARSET, "iso_1", "");
    tb_env_str(b, TDS_ENV_PACKETSIZE, "16384", "4096");
    tb_env_str(b, TDS_ENV_SORT_LCID, "1033", "");
    tb_env_str(b, TDS_ENV_SORT_FLAGS, "196609", "");
    tb_env_bytes(b, TDS_ENV_COLLATION, "09 04 D0 00 34", "");
    tb_env_bytes(b, TDS_ENV_BEGIN_TRAN, "01 02 03 04 05 06 07 08", "");
    tb_env_bytes(b, TDS_ENV_COMMIT_TRAN, "", "01 02 03 04 05 06 07 08");
    tb_env_bytes(b, TDS_ENV_BEGIN_TRAN, "11 00 00 00 00 00 00 00", "");
    tb_env_bytes(b, TDS_ENV_ROLLBACK_TRAN, "", "11 00 00 00 00 00 00 00");
    tb_env_bytes(b, TDS_ENV_ENLIST_DTC, "", "21 00 00 00 00 00 00 00");
    tb_env_bytes(b, TDS_ENV_DEFECT_TRAN, "22 00 00 00 00 00 00 00", "");
    tb_env_str(b, TDS_ENV_MIRROR_PARTNER, "partner", "");
    /* Promote: L_VARBYTE new value, empty old. */
    tb_u8(b, TDS_TOK_ENVCHANGE); tb_u16(b, 1 + 4 + 3 + 1); tb_u8(b, TDS_ENV_PROMOTE_TRAN);
    tb_u32(b, 3); tb_hex(b, "AA BB CC"); tb_u8(b, 0);
    tb_env_bytes(b, TDS_ENV_TRAN_MANAGER_ADDR, "0A 0B", "");
    tb_env_bytes(b, TDS_ENV_TRAN_ENDED, "", "31 00 00 00 00 00 00 00");
    tb_env_bytes(b, TDS_ENV_RESET_ACK, "", "");
    tb_env_str(b, TDS_ENV_USER_INSTANCE, "inst", "");
    tb_env_bytes(b, TDS_ENV_BEGIN_TRAN, "44 33 22 11 00 00 00 00", "");
    /* Routing: ValueLength, protocol 0, port 1433, US_VARCHAR server. */
    tb_u8(b, TDS_TOK_ENVCHANGE);
    size_t at = b->n;
    tb_u16(b, 0);
    tb_u8(b, TDS_ENV_ROUTING);
    tb_u16(b, (uint16_t)(1 + 2 + 2 + 2 * strlen("srv2\\inst")));
    tb_u8(b, 0); tb_u16(b, 1433); tb_usvarchar(b, "srv2\\inst");
    tb_u16(b, 0);
    tb_len16(b, at);
    tb_done(b, TDS_TOK_DONE, 0, 0, 0);
}

Test(token, envchange_every_type)
{
    tb b = {0};
    all_envchanges(&b);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_str_eq(t,
        "ENVCHANGE type=1 new=tempdb old=master rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=2 new=Deutsch old=us_english rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=3 new=iso_1 old= rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=4 new=16384 old=4096 rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=5 new=1033 old= rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=6 new=196609 old= rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=7 new= old= rawlen=5/0 port=0 server=\n"
        "ENVCHANGE type=8 new= old= rawlen=8/0 port=0 server=\n"
        "ENVCHANGE type=9 new= old= rawlen=0/8 port=0 server=\n"
        "ENVCHANGE type=8 new= old= rawlen=8/0 port=0 server=\n"
        "ENVCHANGE type=10 new= old= rawlen=0/8 port=0 server=\n"
        "ENVCHANGE type=11 new= old= rawlen=0/8 port=0 server=\n"
        "ENVCHANGE type=12 new= old= rawlen=8/0 port=0 server=\n"
        "ENVCHANGE type=13 new=partner old= rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=15 new= old= rawlen=3/0 port=0 server=\n"
        "ENVCHANGE type=16 new= old= rawlen=2/0 port=0 server=\n"
        "ENVCHANGE type=17 new= old= rawlen=0/8 port=0 server=\n"
        "ENVCHANGE type=18 new= old= rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=19 new=inst old= rawlen=0/0 port=0 server=\n"
        "ENVCHANGE type=8 new= old= rawlen=8/0 port=0 server=\n"
        "ENVCHANGE type=20 new=srv2\\inst old= rawlen=0/0 port=1433 server=srv2\\inst\n"
        "DONE tok=0xfd status=0x0 cmd=0 rows=0\n"
        "END\n");
    free(t);
    free(wire);
    free(b.p);
}

struct env_seen { uint64_t tran[32]; int n; };

static void check_env(tds_session *s, const tds_event *ev, int i, void *ud)
{
    struct env_seen *e = ud;
    (void)i;
    if (ev->type == TDS_EV_ENVCHANGE && e->n < 32)
        e->tran[e->n++] = tds_transaction(s);
    if (ev->type == TDS_EV_ENVCHANGE && ev->u.env.type == TDS_ENV_ROUTING) {
        cr_assert_eq(ev->u.env.routing_port, 1433);
        cr_assert_str_eq(ev->u.env.routing_server.ptr, "srv2\\inst");
    }
    if (ev->type == TDS_EV_ENVCHANGE && ev->u.env.type == TDS_ENV_PROMOTE_TRAN)
        cr_assert_eq(memcmp(ev->u.env.new_raw, "\xAA\xBB\xCC", 3), 0);
}

Test(token, envchange_effects)
{
    tb b = {0};
    all_envchanges(&b);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    struct env_seen e = {0};
    tds_session *s;
    decode_each(&client, NULL, wire, len, check_env, &e, &s);
    cr_assert_eq(e.n, 21);
    cr_assert_eq(e.tran[7], 0x0807060504030201ull);  /* begin */
    cr_assert_eq(e.tran[8], 0);                      /* commit */
    cr_assert_eq(e.tran[9], 0x11);                   /* begin */
    cr_assert_eq(e.tran[10], 0);                     /* rollback */
    cr_assert_eq(e.tran[19], 0x11223344);            /* begin */
    cr_assert_eq(tds_transaction(s), 0x11223344);
    cr_assert_str_eq(tds_database(s), "tempdb");
    cr_assert_eq(tds_packet_size(s), 16384);
    const tds_collation *c = tds_session_collation(s);
    cr_assert_eq(c->lcid, 0x0409);
    cr_assert_eq(c->sort_id, 0x34);
    cr_assert_eq(c->codepage, 1252);
    tds_session_free(s);
    free(wire);
    free(b.p);
}

/* ------------------------------------------------- small misc tokens */

static void set_features(tds_session *s)
{
    s->features_requested = (1u << TDS_FEAT_FEDAUTH) | (1u << TDS_FEAT_UTF8_SUPPORT);
}

Test(token, featureextack_requested)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_FEATUREEXTACK);
    tb_u8(&b, TDS_FEAT_UTF8_SUPPORT); tb_u32(&b, 1); tb_u8(&b, 1);
    tb_u8(&b, TDS_FEAT_FEDAUTH); tb_u32(&b, 0);
    tb_u8(&b, 0xFF);
    tb_done(&b, TDS_TOK_DONE, 0, 0, 0);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, set_features, wire, len);
    cr_assert_str_eq(t, "FEATUREEXTACK n=2 10:1 2:0\nDONE tok=0xfd status=0x0 cmd=0 rows=0\nEND\n");
    free(t);
    /* Without the request the same bytes are an error. */
    t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_str_eq(t, "ERROR server acknowledged a feature that was not requested\n");
    free(t);
    free(wire);
    free(b.p);
}

Test(token, order_colinfo_tabname_fedauthinfo)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 2);
    tb_col(&b, 0, "38", "a");
    tb_col(&b, 0, "38", "b");
    tb_u8(&b, TDS_TOK_ORDER); tb_u16(&b, 4); tb_u16(&b, 2); tb_u16(&b, 1);
    tb_u8(&b, TDS_TOK_TABNAME); tb_u16(&b, 3); tb_hex(&b, "01 00 00");
    tb_u8(&b, TDS_TOK_COLINFO); tb_u16(&b, 6); tb_hex(&b, "01 01 00 02 01 00");
    tb_u8(&b, TDS_TOK_FEDAUTHINFO); tb_u32(&b, 4); tb_u32(&b, 0);
    tb_done(&b, TDS_TOK_DONE, 0, 0, 0);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_str_eq(t,
        "COLMETADATA n=2 [a type=0x38 kind=3 len=4 p=0 s=0 flags=0x0 cp=0] "
        "[b type=0x38 kind=3 len=4 p=0 s=0 flags=0x0 cp=0]\n"
        "ORDER 2 1\n"
        "TABNAME len=3\n"
        "COLINFO len=6\n"
        "FEDAUTHINFO len=4\n"
        "DONE tok=0xfd status=0x0 cmd=0 rows=0\n"
        "END\n");
    free(t);
    free(wire);
    free(b.p);
}

Test(token, error_token_fields)
{
    tb b = {0};
    tb_msg(&b, TDS_TOK_ERROR, 208, 1, 16, "Invalid object name 'nope'.", "SRV", "proc", 7);
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_ERROR, 0xC1, 0);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_str_eq(t,
        "SERVERERROR 208 state=1 class=16 msg=Invalid object name 'nope'. server=SRV proc=proc line=7\n"
        "DONE tok=0xfd status=0x2 cmd=193 rows=0\n"
        "END\n");
    free(t);
    free(wire);
    free(b.p);
}

/* ------------------------------------------------ rows across packets */

/* One row of ~n bytes spread over several 512-byte packets: an int, a
 * varchar(8000) of n bytes, an nvarchar and another int. */
static char *wide_row(size_t n, size_t pkt, size_t *npackets)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 4);
    tb_col(&b, 0, "38", "a");
    tb_col(&b, 0, "A7 40 1F 09 04 D0 00 34", "v");
    tb_col(&b, 0, "E7 40 1F 09 04 D0 00 34", "w");
    tb_col(&b, 0, "38", "z");
    tb_u8(&b, TDS_TOK_ROW);
    tb_u32(&b, 1);
    tb_u16(&b, (uint16_t)n);
    for (size_t i = 0; i < n; i++)
        tb_u8(&b, (uint8_t)('a' + i % 26));
    tb_u16(&b, 6); tb_u16s(&b, "xyz");
    tb_u32(&b, 2);
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 1);
    size_t len;
    uint8_t *wire = tb_wire(&b, pkt, &len);
    *npackets = (b.n + pkt - 9) / (pkt - 8);
    char *t = tb_three_ways(&client, NULL, wire, len);
    free(wire);
    free(b.p);
    return t;
}

static void check_wide(const char *t, size_t n)
{
    char *expect = malloc(n + 256);
    int o = sprintf(expect, "ROW 1 | ");
    for (size_t i = 0; i < n; i++)
        expect[o++] = (char)('a' + i % 26);
    sprintf(expect + o, " | xyz | 2\nDONE");
    cr_assert_not_null(strstr(t, expect), "%s", t);
    free(expect);
}

Test(token, row_spanning_two_packets)
{
    size_t np;
    char *t = wide_row(600, 512, &np);
    cr_assert_eq(np, 2);
    check_wide(t, 600);
    free(t);
}

Test(token, row_spanning_ten_packets)
{
    size_t np;
    char *t = wide_row(4900, 512, &np);
    cr_assert_eq(np, 10);
    check_wide(t, 4900);
    free(t);
}

/* ------------------------------------------------------------- NBCROW */

Test(token, nbcrow_bitmaps)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 10);
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        tb_col(&b, 1, i % 2 ? "E7 14 00 09 04 D0 00 34" : "26 04", name);
    }
    /* all NULL */
    tb_u8(&b, TDS_TOK_NBCROW); tb_hex(&b, "FF 03");
    /* none NULL */
    tb_u8(&b, TDS_TOK_NBCROW); tb_hex(&b, "00 00");
    for (int i = 0; i < 10; i++) {
        if (i % 2) { tb_u16(&b, 2); tb_u16s(&b, "x"); }
        else { tb_u8(&b, 4); tb_u32(&b, (uint32_t)i); }
    }
    /* every other NULL: columns 1,3,5,7,9 */
    tb_u8(&b, TDS_TOK_NBCROW); tb_hex(&b, "AA 02");
    for (int i = 0; i < 10; i += 2) { tb_u8(&b, 4); tb_u32(&b, (uint32_t)i); }
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 3);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_not_null(strstr(t,
        "ROW NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL | NULL\n"
        "ROW 0 | x | 2 | x | 4 | x | 6 | x | 8 | x\n"
        "ROW 0 | NULL | 2 | NULL | 4 | NULL | 6 | NULL | 8 | NULL\n"
        "DONE tok=0xfd status=0x10 cmd=193 rows=3\nEND\n"), "%s", t);
    free(t);
    free(wire);
    free(b.p);
}

/* --------------------------------------------------------- stream_plp */

static void plp_rows(tb *b, size_t big)
{
    tb_u8(b, TDS_TOK_COLMETADATA); tb_u16(b, 4);
    tb_col(b, 1, "38", "id");
    tb_col(b, 1, "A5 FF FF", "blob");
    tb_col(b, 1, "E7 14 00 09 04 D0 00 34", "tag");
    tb_col(b, 1, "E7 FF FF 09 04 D0 00 34", "doc");
    /* row 1: big blob in chunks of 1000, NULL doc */
    tb_u8(b, TDS_TOK_ROW); tb_u32(b, 1);
    tb_u64(b, big);
    for (size_t off = 0; off < big; off += 1000) {
        size_t k = big - off < 1000 ? big - off : 1000;
        tb_u32(b, (uint32_t)k);
        for (size_t i = 0; i < k; i++)
            tb_u8(b, (uint8_t)(off + i));
    }
    tb_u32(b, 0);
    tb_u16(b, 4); tb_u16s(b, "t1");
    tb_u64(b, TDS__PLP_NULL);
    /* row 2: empty blob (unknown length), doc 'héllo' in one chunk */
    tb_u8(b, TDS_TOK_ROW); tb_u32(b, 2);
    tb_u64(b, TDS__PLP_UNKNOWN); tb_u32(b, 0);
    tb_u16(b, 4); tb_u16s(b, "t2");
    tb_u64(b, 10); tb_u32(b, 10); tb_hex(b, "68 00 E9 00 6C 00 6C 00 6F 00"); tb_u32(b, 0);
    tb_done(b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 2);
}

Test(token, plp_assembled_rows)
{
    tb b = {0};
    plp_rows(&b, 2500);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    char *t = tb_three_ways(&client, NULL, wire, len);
    cr_assert_not_null(strstr(t, "ROW 2 | 0x | t2 | h\xc3\xa9llo\n"), "%s", t);
    free(t);
    free(wire);
    free(b.p);
}

struct plp_check { size_t got; bool ended; int rows; };

static void check_stream(tds_session *s, const tds_event *ev, int i, void *ud)
{
    struct plp_check *c = ud;
    (void)s; (void)i;
    if (ev->type == TDS_EV_PLP_CHUNK) {
        cr_assert_eq(ev->u.plp.col == 1 || ev->u.plp.col == 3, 1);
        for (size_t k = 0; k < ev->u.plp.len && ev->u.plp.col == 1; k++)
            cr_assert_eq(ev->u.plp.data[k], (uint8_t)(c->got + k));
        if (ev->u.plp.col == 1)
            c->got += ev->u.plp.len;
        if (ev->u.plp.len == 0)
            c->ended = true;
    }
    if (ev->type == TDS_EV_ROW) {
        const tds_value *v = ev->u.row.values;
        int64_t id;
        cr_assert_eq(tds_value_int(&ev->u.row.cols[0], &v[0], &id), TDS_OK);
        cr_assert_eq(id, c->rows + 1);
        cr_assert(v[1].flags & TDS_VF_STREAMED);
        cr_assert_eq(v[1].len, c->rows == 0 ? 2500u : 0u);
        cr_assert_eq(v[2].len, 4);
        cr_assert_eq(memcmp(v[2].ptr, c->rows == 0 ? "t\0001\0" : "t\0002\0", 4), 0);
        if (c->rows == 0)
            cr_assert(v[3].flags & TDS_VF_NULL);
        else
            cr_assert(v[3].flags & TDS_VF_STREAMED);
        c->rows++;
    }
}

Test(token, plp_streamed)
{
    tb b = {0};
    plp_rows(&b, 2500);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    tds_session_opts opts = { .stream_plp = true };
    char *t = tb_three_ways(&opts, NULL, wire, len);
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < 2500; i++)
        h = (h ^ (uint8_t)i) * 16777619u;
    char expect[128];
    snprintf(expect, sizeof expect, "PLPVALUE col=1 len=2500 fnv=%08x\nROW 1 | <streamed 2500> | t1 | NULL\n", h);
    cr_assert_not_null(strstr(t, expect), "%s", t);
    cr_assert_not_null(strstr(t, "PLPVALUE col=1 len=0 fnv=811c9dc5\n"), "%s", t);
    cr_assert_not_null(strstr(t, "PLPVALUE col=3 len=10"), "%s", t);
    cr_assert_not_null(strstr(t, "ROW 2 | <streamed 0> | t2 | <streamed 10>\n"), "%s", t);
    free(t);
    struct plp_check c = {0};
    decode_each(&opts, NULL, wire, len, check_stream, &c, NULL);
    cr_assert_eq(c.got, 2500);
    cr_assert(c.ended);
    cr_assert_eq(c.rows, 2);
    free(wire);
    free(b.p);
}

/* max_row bounds non-streamed rows; streaming lifts it. */
Test(token, max_row_toobig_unless_streamed)
{
    tb b = {0};
    plp_rows(&b, 5000);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    tds_session_opts small = { .max_row = 3000 };
    char *t = tb_three_ways(&small, NULL, wire, len);
    cr_assert_not_null(strstr(t, "ERROR length exceeds the engine's limit\n"), "%s", t);
    free(t);
    tds_session_opts stream = { .max_row = 3000, .stream_plp = true };
    t = tb_three_ways(&stream, NULL, wire, len);
    cr_assert_not_null(strstr(t, "ROW 1 | <streamed 5000> | t1 | NULL\n"), "%s", t);
    free(t);
    free(wire);
    free(b.p);
}

/* A large COLMETADATA (4096 columns) and a row over many packets. */
Test(token, widest_result)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 4096);
    for (int i = 0; i < 4096; i++)
        tb_col(&b, 1, "26 04", "c");
    tb_u8(&b, TDS_TOK_ROW);
    for (int i = 0; i < 4096; i++) { tb_u8(&b, 4); tb_u32(&b, (uint32_t)i); }
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_COUNT, 0xC1, 1);
    size_t len;
    uint8_t *wire = tb_wire(&b, 512, &len);
    /* whole and in 97-byte pieces (every split would take too long) */
    char *whole = tb_transcript(&client, NULL, wire, len, NULL, 0);
    size_t *cuts = malloc(len * sizeof *cuts), ncuts = 0;
    for (size_t i = 97; i < len; i += 97)
        cuts[ncuts++] = i;
    char *bytes = tb_transcript(&client, NULL, wire, len, cuts, ncuts);
    cr_assert_str_eq(bytes, whole);
    cr_assert_not_null(strstr(whole, " | 4095\nDONE"));
    free(cuts);
    free(bytes);
    free(whole);
    free(wire);
    free(b.p);
}
