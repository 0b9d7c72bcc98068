/*
 * test_fedauth.c — the FEDAUTH ADAL workflow's messages (tds/fedauth.c) and
 * the LOGIN7 features added with it (tds/login7.c): FEDAUTHINFO and
 * FEDAUTH_TOKEN against byte vectors derived by hand from MS-TDS 2.2.7.12
 * and 2.2.6.3, round trips (UTF-16 outside the BMP, a long token crossing
 * packets), every truncation and malformed field → TDS_E_PROTO, the LOGIN7
 * FEDAUTH library 0x02 / JSONSUPPORT / VECTORSUPPORT block byte for byte,
 * and FEATUREEXTACK for the new features accepted only when requested.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "token_build.h"

/* FEDAUTHINFO data (after EE + TokenLength) for STS URL "ab" and SPN "c":
 * CountOfInfoIDs 2; options (id, len, offset from CountOfInfoIDs); data
 * at 4 + 2*9 = 22 (0x16) and 22 + 4 = 26 (0x1A). */
static const char INFO_AB_C[] =
    "02 00 00 00"
    "01 04 00 00 00 16 00 00 00"
    "02 02 00 00 00 1A 00 00 00"
    "61 00 62 00 63 00";

static int info_dec(const uint8_t *p, size_t n, tds_fedauthinfo *out)
{
    uint8_t *exact = malloc(n ? n : 1); /* ASan sees any over-read */
    memcpy(exact, p, n);
    int rc = tds_fedauthinfo_decode(exact, n, out);
    free(exact);
    return rc;
}

Test(fedauthinfo, decodes_hand_vector)
{
    size_t n;
    uint8_t *v = tv_hex(INFO_AB_C, &n);
    cr_assert_eq(n, 28);
    tds_fedauthinfo fi;
    cr_assert_eq(info_dec(v, n, &fi), TDS_OK);
    cr_assert_str_eq(fi.sts_url, "ab");
    cr_assert_str_eq(fi.spn, "c");
    /* Every truncation fails: the SPN's data reaches the last byte. */
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(info_dec(v, k, &fi), TDS_E_PROTO, "truncated to %zu", k);
    free(v);
}

/* Server side: the token as tds_put_fedauthinfo writes it, header off. */
static uint8_t *put_info(const char *sts, const char *spn, size_t *len)
{
    tds_session_opts so = {.role = TDS_ROLE_SERVER};
    tds_session *srv = tds_session_new(&so);
    cr_assert_eq(tds_msg_begin(srv, TDS_PKT_REPLY, 0), TDS_OK);
    cr_assert_eq(tds_put_fedauthinfo(srv, sts, spn), TDS_OK);
    cr_assert_eq(tds_msg_end(srv), TDS_OK);
    const uint8_t *p;
    size_t n;
    tds_send_buf(srv, &p, &n);
    uint8_t *out = malloc(n);
    memcpy(out, p, n);
    *len = n;
    tds_session_free(srv);
    return out;
}

Test(fedauthinfo, encodes_hand_vector)
{
    size_t n, vn;
    uint8_t *w = put_info("ab", "c", &n);
    uint8_t *v = tv_hex(INFO_AB_C, &vn);
    cr_assert_eq(n, 8 + 1 + 4 + vn);
    cr_assert_eq(w[0], TDS_PKT_REPLY);
    cr_assert_eq(w[8], 0xEE);
    cr_assert_eq(tds_le32(w + 9), vn, "TokenLength counts the bytes after it");
    cr_assert_arr_eq(w + 13, v, vn);
    free(w);
    free(v);
    /* Only the SPN: one option, data at 4 + 9. */
    w = put_info(NULL, "c", &n);
    v = tv_hex("01 00 00 00 02 02 00 00 00 0D 00 00 00 63 00", &vn);
    cr_assert_eq(n, 13 + vn);
    cr_assert_arr_eq(w + 13, v, vn);
    free(w);
    free(v);
}

Test(fedauthinfo, client_event_round_trip)
{
    const char *sts = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/"
                      "oauth2/authorize?\xC3\xA9\xF0\x9F\x98\x80";
    size_t n;
    uint8_t *w = put_info(sts, "https://database.windows.net/", &n);
    /* Whole, byte by byte and split everywhere: one FEDAUTHINFO event. */
    char *t = tb_three_ways(NULL, NULL, w, n);
    cr_assert(strstr(t, "FEDAUTHINFO len=") != NULL, "%s", t);
    free(t);
    tds_session *cli = tds_session_new(NULL);
    cr_assert_eq(tds_feed(cli, w, n), (ptrdiff_t)n);
    tds_event ev;
    cr_assert_eq(tds_next(cli, &ev), 1);
    cr_assert_eq(ev.type, TDS_EV_FEDAUTHINFO);
    tds_fedauthinfo fi;
    cr_assert_eq(info_dec(ev.u.raw.data, ev.u.raw.len, &fi), TDS_OK);
    cr_assert_str_eq(fi.sts_url, sts);
    cr_assert_str_eq(fi.spn, "https://database.windows.net/");
    cr_assert_eq(tds_next(cli, &ev), 1);
    cr_assert_eq(ev.type, TDS_EV_MESSAGE_END);
    tds_session_free(cli);
    free(w);
}

static int info_hex(const char *hex)
{
    size_t n;
    uint8_t *v = tv_hex(hex, &n);
    tds_fedauthinfo fi;
    memset(&fi, 0x5A, sizeof fi);
    int rc = info_dec(v, n, &fi);
    if (rc != TDS_OK)
        cr_assert(fi.sts_url[0] == 0 && fi.spn[0] == 0, "nothing half-decoded is left");
    free(v);
    return rc;
}

Test(fedauthinfo, malformed)
{
    cr_assert_eq(info_hex(""), TDS_E_PROTO);
    cr_assert_eq(info_hex("00 00 00"), TDS_E_PROTO);
    cr_assert_eq(info_hex("00 00 00 00"), TDS_OK); /* no options: allowed */
    /* count larger than the table that fits */
    cr_assert_eq(info_hex("02 00 00 00 01 00 00 00 00 0D 00 00 00"), TDS_E_PROTO);
    cr_assert_eq(info_hex("FF FF FF FF 01 00 00 00 00 0D 00 00 00"), TDS_E_PROTO);
    /* offset inside the option table */
    cr_assert_eq(info_hex("01 00 00 00 01 02 00 00 00 0B 00 00 00 61 00"), TDS_E_PROTO);
    /* data past the end; huge length and offset (no overflow) */
    cr_assert_eq(info_hex("01 00 00 00 01 04 00 00 00 0D 00 00 00 61 00"), TDS_E_PROTO);
    cr_assert_eq(info_hex("01 00 00 00 01 FF FF FF FF 0D 00 00 00 61 00"), TDS_E_PROTO);
    cr_assert_eq(info_hex("01 00 00 00 01 02 00 00 00 FF FF FF FF 61 00"), TDS_E_PROTO);
    /* odd length, a NUL character, a lone surrogate */
    cr_assert_eq(info_hex("01 00 00 00 01 01 00 00 00 0D 00 00 00 61 00"), TDS_E_PROTO);
    cr_assert_eq(info_hex("01 00 00 00 01 04 00 00 00 0D 00 00 00 61 00 00 00"), TDS_E_PROTO);
    cr_assert_eq(info_hex("01 00 00 00 01 02 00 00 00 0D 00 00 00 00 D8"), TDS_E_PROTO);
    /* the same id twice */
    cr_assert_eq(info_hex("02 00 00 00 02 02 00 00 00 16 00 00 00 02 02 00 00 00 16 00 00 00 63 00"),
                 TDS_E_PROTO);
    /* an unknown id is skipped, its bounds checked all the same */
    cr_assert_eq(info_hex("01 00 00 00 09 02 00 00 00 0D 00 00 00 63 00"), TDS_OK);
    cr_assert_eq(info_hex("01 00 00 00 09 04 00 00 00 0D 00 00 00 63 00"), TDS_E_PROTO);
    /* empty data: offset ignored */
    cr_assert_eq(info_hex("01 00 00 00 01 00 00 00 00 FF FF FF FF"), TDS_OK);
}

Test(fedauthinfo, field_longer_than_its_buffer)
{
    char url[2048];
    memset(url, 'u', sizeof url - 1);
    url[sizeof url - 1] = 0;
    size_t n;
    url[1023] = 0; /* 1023 bytes + NUL: fits exactly */
    uint8_t *w = put_info(url, NULL, &n);
    tds_fedauthinfo fi;
    cr_assert_eq(info_dec(w + 13, n - 13, &fi), TDS_OK);
    cr_assert_eq(strlen(fi.sts_url), 1023);
    free(w);
    url[1023] = 'u';
    url[1024] = 0;
    w = put_info(url, NULL, &n);
    cr_assert_eq(info_dec(w + 13, n - 13, &fi), TDS_E_PROTO);
    free(w);
    cr_assert_eq(tds_fedauthinfo_decode(NULL, 0, &fi), TDS_E_PROTO);
    cr_assert_eq(tds_fedauthinfo_decode(NULL, 4, &fi), TDS_E_ARG);
}

/* ---------------------------------------------------------- FEDAUTH_TOKEN */

static uint8_t *send_token(const char *tok, const uint8_t *nonce, size_t *len)
{
    tds_session *cli = tds_session_new(NULL);
    cr_assert_eq(tds_send_fedauth_token(cli, tok, nonce), TDS_OK);
    const uint8_t *p;
    size_t n;
    tds_send_buf(cli, &p, &n);
    uint8_t *out = malloc(n);
    memcpy(out, p, n);
    *len = n;
    tds_session_free(cli);
    return out;
}

Test(fedauth_token, hand_vectors)
{
    size_t n, vn;
    uint8_t *w = send_token("ab", NULL, &n);
    /* 08 (FEDAUTH_TOKEN) 01 (EOM), length 8 + 12; DataLen 8, token 4 bytes. */
    uint8_t *v = tv_hex("08 01 00 14 00 00 01 00  08 00 00 00  04 00 00 00  61 00 62 00", &vn);
    cr_assert_eq(n, vn);
    cr_assert_arr_eq(w, v, vn);
    free(w);
    free(v);

    uint8_t nonce[32];
    for (int i = 0; i < 32; i++)
        nonce[i] = (uint8_t)(0xA0 + i);
    w = send_token("ab", nonce, &n);
    cr_assert_eq(n, 8 + 4 + 4 + 4 + 32);
    cr_assert_eq(tds_le32(w + 8), 4 + 4 + 32, "DataLen counts token length, token, nonce");
    cr_assert_arr_eq(w + 20, nonce, 32);
    char tok[16];
    bool has = false;
    uint8_t got[32];
    cr_assert_eq(tds_fedauth_token_decode(w + 8, n - 8, tok, sizeof tok, &has, got), TDS_OK);
    cr_assert_str_eq(tok, "ab");
    cr_assert(has);
    cr_assert_arr_eq(got, nonce, 32);
    free(w);
}

Test(fedauth_token, long_token_crosses_packets)
{
    size_t tl = 20000;
    char *tok = malloc(tl + 1);
    for (size_t i = 0; i < tl; i++)
        tok[i] = (char)('A' + i % 26);
    tok[tl] = 0;
    size_t n;
    uint8_t *w = send_token(tok, NULL, &n);
    cr_assert_gt(n, 3 * 4096, "several packets");
    /* Reassembled by a server session: one whole message. */
    tds_session_opts so = {.role = TDS_ROLE_SERVER};
    tds_session *srv = tds_session_new(&so);
    size_t fed = 0;
    tds_event ev;
    bool got_msg = false;
    while (!got_msg) {
        if (fed < n) {
            ptrdiff_t k = tds_feed(srv, w + fed, n - fed);
            cr_assert_geq(k, 0);
            fed += (size_t)k;
        }
        while (tds_next(srv, &ev) == 1) {
            if (ev.type != TDS_EV_MESSAGE)
                continue;
            cr_assert_eq(ev.u.message.type, TDS_PKT_FEDAUTH_TOKEN);
            char *out = malloc(tl + 1);
            bool has;
            uint8_t nonce[32];
            cr_assert_eq(tds_fedauth_token_decode(ev.u.message.data, ev.u.message.len, out, tl + 1,
                                                  &has, nonce), TDS_OK);
            cr_assert_str_eq(out, tok);
            cr_assert(!has);
            /* One byte short of room: TDS_E_SPACE. */
            cr_assert_eq(tds_fedauth_token_decode(ev.u.message.data, ev.u.message.len, out, tl,
                                                  &has, nonce), TDS_E_SPACE);
            free(out);
            got_msg = true;
        }
        cr_assert(fed <= n);
    }
    tds_session_free(srv);
    free(w);
    free(tok);
}

static int tok_hex(const char *hex)
{
    size_t n;
    uint8_t *v = tv_hex(hex, &n);
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, v, n);
    char tok[64];
    bool has;
    uint8_t nonce[32];
    int rc = tds_fedauth_token_decode(exact, n, tok, sizeof tok, &has, nonce);
    free(exact);
    free(v);
    return rc;
}

Test(fedauth_token, malformed)
{
    cr_assert_eq(tok_hex("08 00 00 00 04 00 00 00 61 00 62 00"), TDS_OK);
    cr_assert_eq(tok_hex(""), TDS_E_PROTO);
    cr_assert_eq(tok_hex("04 00 00 00 00 00 00"), TDS_E_PROTO);
    cr_assert_eq(tok_hex("04 00 00 00 00 00 00 00"), TDS_OK); /* empty token */
    /* DataLen past the payload; below its own token length field */
    cr_assert_eq(tok_hex("09 00 00 00 04 00 00 00 61 00 62 00"), TDS_E_PROTO);
    cr_assert_eq(tok_hex("03 00 00 00 00 00 00 00"), TDS_E_PROTO);
    /* token length past DataLen, odd, huge */
    cr_assert_eq(tok_hex("08 00 00 00 06 00 00 00 61 00 62 00"), TDS_E_PROTO);
    cr_assert_eq(tok_hex("07 00 00 00 03 00 00 00 61 00 62"), TDS_E_PROTO);
    cr_assert_eq(tok_hex("08 00 00 00 FF FF FF FF 61 00 62 00"), TDS_E_PROTO);
    /* bytes after the token that are not a 32-byte nonce */
    cr_assert_eq(tok_hex("09 00 00 00 04 00 00 00 61 00 62 00 01"), TDS_E_PROTO);
    /* a lone surrogate, a NUL character */
    cr_assert_eq(tok_hex("06 00 00 00 02 00 00 00 00 D8"), TDS_E_PROTO);
    cr_assert_eq(tok_hex("08 00 00 00 04 00 00 00 61 00 00 00"), TDS_E_PROTO);
    /* every truncation of a token with a nonce fails */
    uint8_t nonce[32] = {1};
    size_t n;
    uint8_t *w = send_token("xyz", nonce, &n);
    char tok[16];
    bool has;
    uint8_t got[32];
    for (size_t k = 0; k < n - 8; k++) {
        uint8_t *exact = malloc(k ? k : 1);
        memcpy(exact, w + 8, k);
        cr_assert_eq(tds_fedauth_token_decode(exact, k, tok, sizeof tok, &has, got), TDS_E_PROTO,
                     "truncated to %zu", k);
        free(exact);
    }
    free(w);
    cr_assert_eq(tds_fedauth_token_decode(NULL, 0, tok, 0, &has, got), TDS_E_ARG);
}

Test(fedauth_token, bad_arguments)
{
    tds_session *cli = tds_session_new(NULL);
    cr_assert_eq(tds_send_fedauth_token(cli, NULL, NULL), TDS_E_ARG);
    cr_assert_eq(tds_send_fedauth_token(NULL, "x", NULL), TDS_E_ARG);
    cr_assert_eq(tds_send_fedauth_token(cli, "\xC3", NULL), TDS_E_ENCODING);
    cr_assert_eq(tds_send_pending(cli), 0);
    tds_session_free(cli);
    /* put_fedauthinfo outside a message */
    tds_session_opts so = {.role = TDS_ROLE_SERVER};
    tds_session *srv = tds_session_new(&so);
    cr_assert_eq(tds_put_fedauthinfo(srv, "a", "b"), TDS_E_STATE);
    tds_session_free(srv);
}

/* ------------------------------------------------ LOGIN7 FeatureExt block */

static const uint8_t *feature_block(const uint8_t *l7, size_t n)
{
    size_t ib = tds_le16(l7 + 56);
    size_t fo = tds_le32(l7 + ib);
    cr_assert_lt(fo, n);
    return l7 + fo;
}

Test(login7_features, adal_json_vector_bytes)
{
    tds_login7 l = {.tds_version = TDS_VERSION_74, .packet_size = 4096, .username = ""};
    l.fedauth = true;
    l.fedauth_echo = true;
    l.fedauth_library = TDS_FEDAUTH_LIB_ADAL;
    l.fedauth_workflow = TDS_FEDAUTH_WF_PASSWORD;
    l.utf8_support = true;
    l.json_support = 1;
    l.vector_support = 2;
    uint8_t buf[1024];
    int n = tds_login7_encode(&l, buf, sizeof buf);
    cr_assert_gt(n, 0);
    /* MS-TDS 2.2.6.4: FEDAUTH 02, DataLen 2, Options (2 << 1) | echo = 05,
     * Workflow 01; UTF8_SUPPORT 0A, DataLen 0; JSONSUPPORT 0D and
     * VECTORSUPPORT 0E, DataLen 1, the version; terminator FF. */
    size_t vn;
    uint8_t *v = tv_hex("02 02 00 00 00 05 01  0A 00 00 00 00  0D 01 00 00 00 01"
                        "0E 01 00 00 00 02  FF", &vn);
    const uint8_t *fb = feature_block(buf, (size_t)n);
    cr_assert_eq((size_t)(buf + n - fb), vn, "the block ends the LOGIN7");
    cr_assert_arr_eq(fb, v, vn);
    free(v);

    char sb[2048];
    tds_login7 d;
    cr_assert_eq(tds_login7_decode(buf, (size_t)n, &d, sb, sizeof sb), TDS_OK);
    cr_assert(d.fedauth && d.fedauth_echo && d.utf8_support);
    cr_assert_eq(d.fedauth_library, TDS_FEDAUTH_LIB_ADAL);
    cr_assert_eq(d.fedauth_workflow, TDS_FEDAUTH_WF_PASSWORD);
    cr_assert_null(d.fedauth_token);
    cr_assert_eq(d.json_support, 1);
    cr_assert_eq(d.vector_support, 2);

    /* No echo, workflow 3, json only: 04 03; the extension flag is set. */
    l.fedauth_echo = false;
    l.fedauth_workflow = TDS_FEDAUTH_WF_INTERACTIVE;
    l.utf8_support = false;
    l.vector_support = 0;
    n = tds_login7_encode(&l, buf, sizeof buf);
    cr_assert_gt(n, 0);
    v = tv_hex("02 02 00 00 00 04 03  0D 01 00 00 00 01  FF", &vn);
    fb = feature_block(buf, (size_t)n);
    cr_assert_arr_eq(fb, v, vn);
    free(v);
    cr_assert(buf[27] & TDS_LOGIN_OF3_EXTENSION);

    /* JSONSUPPORT alone still makes a FeatureExt. */
    tds_login7 j = {.tds_version = TDS_VERSION_74, .packet_size = 4096, .json_support = 1};
    n = tds_login7_encode(&j, buf, sizeof buf);
    cr_assert_gt(n, 0);
    cr_assert(buf[27] & TDS_LOGIN_OF3_EXTENSION);
    cr_assert_eq(tds_login7_decode(buf, (size_t)n, &d, sb, sizeof sb), TDS_OK);
    cr_assert_eq(d.json_support, 1);
    cr_assert_eq(d.vector_support, 0);
    cr_assert(!d.fedauth);
}

Test(login7_features, encoder_refusals)
{
    uint8_t buf[1024];
    tds_login7 l = {.tds_version = TDS_VERSION_74, .packet_size = 4096};
    l.fedauth = true;
    l.fedauth_library = TDS_FEDAUTH_LIB_ADAL;
    l.fedauth_workflow = 0;
    cr_assert_eq(tds_login7_encode(&l, buf, sizeof buf), TDS_E_ARG);
    l.fedauth_workflow = 4;
    cr_assert_eq(tds_login7_encode(&l, buf, sizeof buf), TDS_E_ARG);
    l.fedauth_workflow = TDS_FEDAUTH_WF_INTERACTIVE;
    l.fedauth_token = "tok"; /* ADAL sends its token later, never here */
    cr_assert_eq(tds_login7_encode(&l, buf, sizeof buf), TDS_E_ARG);
    l.fedauth_token = NULL;
    l.fedauth_library = TDS_FEDAUTH_LIB_LIVEID;
    cr_assert_eq(tds_login7_encode(&l, buf, sizeof buf), TDS_E_ARG);
    /* features need TDS 7.4 */
    tds_login7 old = {.tds_version = 0x730B0003u, .packet_size = 4096, .vector_support = 1};
    cr_assert_eq(tds_login7_encode(&old, buf, sizeof buf), TDS_E_ARG);
}

/* A LOGIN7 whose FeatureExt block is `feat_hex` (terminator included). */
static int decode_with_features(const char *feat_hex, tds_login7 *d, char *sb, size_t sbcap)
{
    tds_login7 l = {.tds_version = TDS_VERSION_74, .packet_size = 4096, .utf8_support = true};
    uint8_t buf[1024];
    int n = tds_login7_encode(&l, buf, sizeof buf);
    cr_assert_gt(n, 0);
    size_t fo = (size_t)(feature_block(buf, (size_t)n) - buf), vn;
    uint8_t *v = tv_hex(feat_hex, &vn);
    memcpy(buf + fo, v, vn);
    size_t total = fo + vn;
    tds_wle32(buf, (uint32_t)total);
    free(v);
    uint8_t *exact = malloc(total);
    memcpy(exact, buf, total);
    int rc = tds_login7_decode(exact, total, d, sb, sbcap);
    free(exact);
    return rc;
}

Test(login7_features, decoder_refusals)
{
    tds_login7 d;
    char sb[1024];
    cr_assert_eq(decode_with_features("02 02 00 00 00 05 01 FF", &d, sb, sizeof sb), TDS_OK);
    cr_assert_eq(d.fedauth_workflow, 1);
    /* ADAL with one byte, or three */
    cr_assert_eq(decode_with_features("02 01 00 00 00 05 FF", &d, sb, sizeof sb), TDS_E_PROTO);
    cr_assert_eq(decode_with_features("02 03 00 00 00 05 01 00 FF", &d, sb, sizeof sb), TDS_E_PROTO);
    /* JSONSUPPORT / VECTORSUPPORT: one non-zero byte, once */
    cr_assert_eq(decode_with_features("0D 01 00 00 00 01 0E 01 00 00 00 02 FF", &d, sb, sizeof sb),
                 TDS_OK);
    cr_assert_eq(d.json_support, 1);
    cr_assert_eq(d.vector_support, 2);
    cr_assert_eq(decode_with_features("0D 00 00 00 00 FF", &d, sb, sizeof sb), TDS_E_PROTO);
    cr_assert_eq(decode_with_features("0D 02 00 00 00 01 01 FF", &d, sb, sizeof sb), TDS_E_PROTO);
    cr_assert_eq(decode_with_features("0E 01 00 00 00 00 FF", &d, sb, sizeof sb), TDS_E_PROTO);
    cr_assert_eq(decode_with_features("0E 01 00 00 00 01 0E 01 00 00 00 01 FF", &d, sb, sizeof sb),
                 TDS_E_PROTO);
    /* a feature's DataLen past the end */
    cr_assert_eq(decode_with_features("0D 05 00 00 00 01 FF", &d, sb, sizeof sb), TDS_E_PROTO);
}

/* ----------------------------------------------------- FEATUREEXTACK */

static int ack_after_login(const tds_login7 *l, uint8_t id, uint8_t version)
{
    tds_session_opts so = {.role = TDS_ROLE_SERVER};
    tds_session *cli = tds_session_new(NULL), *srv = tds_session_new(&so);
    cr_assert_eq(tds_send_login7(cli, l), TDS_OK);
    tds_send_ack(cli, tds_send_pending(cli));
    tds_feature_ack ack = {id, &version, 1};
    cr_assert_eq(tds_msg_begin(srv, TDS_PKT_REPLY, 0), TDS_OK);
    cr_assert_eq(tds_put_featureextack(srv, &ack, 1), TDS_OK);
    cr_assert_eq(tds_put_done(srv, TDS_TOK_DONE, 0, 0, 0), TDS_OK);
    cr_assert_eq(tds_msg_end(srv), TDS_OK);
    const uint8_t *p;
    size_t n;
    tds_send_buf(srv, &p, &n);
    cr_assert_eq(tds_feed(cli, p, n), (ptrdiff_t)n);
    tds_event ev;
    int rc = tds_next(cli, &ev);
    if (rc == 1) {
        cr_assert_eq(ev.type, TDS_EV_FEATUREEXTACK);
        cr_assert_eq(ev.u.features.n, 1);
        cr_assert_eq(ev.u.features.acks[0].id, id);
        cr_assert_eq(ev.u.features.acks[0].data[0], version);
    }
    tds_session_free(cli);
    tds_session_free(srv);
    return rc;
}

Test(login7_features, ack_only_when_requested)
{
    tds_login7 l = {.tds_version = TDS_VERSION_74, .packet_size = 4096, .username = "u"};
    cr_assert_eq(ack_after_login(&l, TDS_FEAT_JSONSUPPORT, 1), TDS_E_FEATURE);
    cr_assert_eq(ack_after_login(&l, TDS_FEAT_VECTORSUPPORT, 1), TDS_E_FEATURE);
    l.json_support = 1;
    cr_assert_eq(ack_after_login(&l, TDS_FEAT_JSONSUPPORT, 1), 1);
    cr_assert_eq(ack_after_login(&l, TDS_FEAT_VECTORSUPPORT, 1), TDS_E_FEATURE);
    l.vector_support = 2;
    cr_assert_eq(ack_after_login(&l, TDS_FEAT_VECTORSUPPORT, 2), 1);
    tds_login7 a = {.tds_version = TDS_VERSION_74, .packet_size = 4096, .fedauth = true,
                    .fedauth_library = TDS_FEDAUTH_LIB_ADAL, .fedauth_workflow = 3};
    cr_assert_eq(ack_after_login(&a, TDS_FEAT_FEDAUTH, 0), 1);
}
