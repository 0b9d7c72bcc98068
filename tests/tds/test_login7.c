/*
 * test_login7.c — LOGIN7 encode/decode (tds/login7.c): the specification's
 * 4.2 example both ways, password obfuscation, code-unit lengths for
 * characters outside the BMP, the FeatureExt block (FEDAUTH, UTF8_SUPPORT)
 * byte for byte, randomised round trips, every truncation, bad offsets and
 * lengths, small buffers.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
    size_t o = 0;
    int hi = -1;
    for (; *h; h++) {
        int c = (unsigned char)*h, v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else continue;
        if (hi < 0) {
            hi = v;
        } else {
            cr_assert_lt(o, cap);
            out[o++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return o;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void wle16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wle32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* Decodes from an exactly-sized heap copy so ASan sees any over-read. */
static int dec(const uint8_t *in, size_t n, tds_login7 *l, char *sb, size_t cap)
{
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, in, n);
    int rc = tds_login7_decode(exact, n, l, sb, cap);
    /* views (sspi) point into `in`, not into the copy */
    if (rc == TDS_OK && l->sspi)
        l->sspi = in + (l->sspi - exact);
    free(exact);
    return rc;
}

/* MS-TDS 4.2 Login Request, packet header (10 01 00 90 00 00 01 00) removed. */
static const char SPEC_42[] =
    "88 00 00 00 02 00 09 72 00 10 00 00 00 00 00 07 00 01 00 00 00 00 00 00"
    "E0 03 00 00 00 00 00 00 09 04 00 00 5E 00 08 00 6E 00 02 00 72 00 00 00"
    "72 00 07 00 80 00 00 00 80 00 00 00 80 00 04 00 88 00 00 00 88 00 00 00"
    "00 50 8B E2 B7 8F 88 00 00 00 88 00 00 00 88 00 00 00 00 00 00 00"
    "73 00 6B 00 6F 00 73 00 74 00 6F 00 76 00 31 00 73 00 61 00 4F 00 53 00"
    "51 00 4C 00 2D 00 33 00 32 00 4F 00 44 00 42 00 43 00";

static void spec_inputs(tds_login7 *l)
{
    static const uint8_t cid[6] = {0x00, 0x50, 0x8B, 0xE2, 0xB7, 0x8F};
    memset(l, 0, sizeof *l);
    l->tds_version = 0x72090002;
    l->packet_size = 4096;
    l->client_prog_ver = 0x07000000;
    l->client_pid = 0x100;
    l->option_flags1 = 0xE0;
    l->option_flags2 = 0x03;
    l->client_lcid = 0x0409;
    l->hostname = "skostov1";
    l->username = "sa";
    l->appname = "OSQL-32";
    l->library = "ODBC";
    memcpy(l->client_id, cid, 6);
}

Test(login7, spec_example_decodes)
{
    uint8_t in[256];
    size_t n = hex(SPEC_42, in, sizeof in);
    cr_assert_eq(n, 0x90 - 8);
    tds_login7 l;
    char sb[512];
    cr_assert_eq(dec(in, n, &l, sb, sizeof sb), TDS_OK);
    cr_assert_eq(l.tds_version, 0x72090002u);
    cr_assert_eq(l.packet_size, 4096);
    cr_assert_eq(l.client_prog_ver, 0x07000000u);
    cr_assert_eq(l.client_pid, 0x100);
    cr_assert_eq(l.connection_id, 0);
    cr_assert_eq(l.option_flags1, 0xE0);
    cr_assert_eq(l.option_flags2, 0x03);
    cr_assert_eq(l.type_flags, 0);
    cr_assert_eq(l.option_flags3, 0);
    cr_assert_eq(l.client_timezone, 0);
    cr_assert_eq(l.client_lcid, 0x0409);
    cr_assert_str_eq(l.hostname, "skostov1");
    cr_assert_str_eq(l.username, "sa");
    cr_assert_str_eq(l.password, "");
    cr_assert_str_eq(l.appname, "OSQL-32");
    cr_assert_str_eq(l.servername, "");
    cr_assert_str_eq(l.library, "ODBC");
    cr_assert_str_eq(l.language, "");
    cr_assert_str_eq(l.database, "");
    cr_assert_str_eq(l.attach_db_file, "");
    cr_assert_str_eq(l.change_password, "");
    uint8_t cid[6] = {0x00, 0x50, 0x8B, 0xE2, 0xB7, 0x8F};
    cr_assert_arr_eq(l.client_id, cid, 6);
    cr_assert_null(l.sspi);
    cr_assert_eq(l.sspi_len, 0);
    cr_assert(!l.fedauth && !l.utf8_support);
    /* strings point into the caller's buffer */
    cr_assert(l.hostname >= sb && l.hostname < sb + sizeof sb);
}

Test(login7, spec_example_reencodes_identically)
{
    uint8_t in[256], out[512];
    size_t n = hex(SPEC_42, in, sizeof in);
    tds_login7 l;
    spec_inputs(&l);
    int w = tds_login7_encode(&l, out, sizeof out);
    cr_assert_eq(w, (int)n);
    cr_assert_arr_eq(out, in, n);
}

Test(login7, obfuscation_known_vector)
{
    /* "sa" UTF-16LE 73 00 61 00: swap nibbles 37 00 16 00, XOR A5. */
    uint8_t b[] = {0x73, 0x00, 0x61, 0x00};
    tds_password_obfuscate(b, sizeof b);
    uint8_t want[] = {0x92, 0xA5, 0xB3, 0xA5};
    cr_assert_arr_eq(b, want, 4);
    tds_password_deobfuscate(b, sizeof b);
    uint8_t back[] = {0x73, 0x00, 0x61, 0x00};
    cr_assert_arr_eq(b, back, 4);
    /* every byte value round-trips, and the two are not the same map */
    for (int v = 0; v < 256; v++) {
        uint8_t x = (uint8_t)v, y = (uint8_t)v;
        tds_password_obfuscate(&x, 1);
        tds_password_deobfuscate(&x, 1);
        cr_assert_eq(x, v);
        tds_password_obfuscate(&y, 1);
        cr_assert_eq(y, (uint8_t)(((v << 4) | (v >> 4)) ^ 0xA5));
    }

    tds_login7 l = {.tds_version = TDS_VERSION_74, .password = "sa", .change_password = "\xC3\xA9"};
    uint8_t out[256];
    int w = tds_login7_encode(&l, out, sizeof out);
    cr_assert_eq(w, 94 + 4 + 2);
    cr_assert_eq(le16(out + 44), 94);
    cr_assert_eq(le16(out + 46), 2);
    cr_assert_arr_eq(out + 94, want, 4);
    /* é = U+00E9: E9 00 -> 9E 00 -> 3B A5 */
    cr_assert_eq(le16(out + 86), 98);
    cr_assert_eq(le16(out + 88), 1);
    cr_assert_eq(out[98], 0x3B);
    cr_assert_eq(out[99], 0xA5);
    tds_login7 d;
    char sb[256];
    cr_assert_eq(dec(out, (size_t)w, &d, sb, sizeof sb), TDS_OK);
    cr_assert_str_eq(d.password, "sa");
    cr_assert_str_eq(d.change_password, "\xC3\xA9");
}

#define GRIN "\xF0\x9F\x98\x80" /* U+1F600, a surrogate pair */

Test(login7, non_bmp_lengths_in_code_units)
{
    tds_login7 l = {.tds_version = TDS_VERSION_74};
    l.username = GRIN;
    l.appname = "a" GRIN "b";
    uint8_t out[512];
    int w = tds_login7_encode(&l, out, sizeof out);
    cr_assert_eq(w, 94 + 4 + 8);
    cr_assert_eq(le16(out + 40), 94);
    cr_assert_eq(le16(out + 42), 2); /* one character, two code units */
    uint8_t pair[] = {0x3D, 0xD8, 0x00, 0xDE};
    cr_assert_arr_eq(out + 94, pair, 4);
    cr_assert_eq(le16(out + 48), 98);
    cr_assert_eq(le16(out + 50), 4);
    uint8_t app[] = {'a', 0, 0x3D, 0xD8, 0x00, 0xDE, 'b', 0};
    cr_assert_arr_eq(out + 98, app, 8);
    tds_login7 d;
    char sb[256];
    cr_assert_eq(dec(out, (size_t)w, &d, sb, sizeof sb), TDS_OK);
    cr_assert_str_eq(d.username, GRIN);
    cr_assert_str_eq(d.appname, "a" GRIN "b");

    /* 64 grins = 128 code units: the limit; 65 is over */
    char big[65 * 4 + 1];
    for (int i = 0; i < 64; i++)
        memcpy(big + 4 * i, GRIN, 4);
    big[64 * 4] = 0;
    l.appname = big;
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), 94 + 4 + 256);
    memcpy(big + 64 * 4, GRIN, 5);
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), TDS_E_ARG);
}

Test(login7, all_empty)
{
    tds_login7 l = {0};
    uint8_t out[128];
    int w = tds_login7_encode(&l, out, sizeof out);
    cr_assert_eq(w, 94);
    cr_assert_eq(le32(out), 94);
    static const int pairs[] = {36, 40, 44, 48, 52, 56, 60, 64, 68, 78, 82, 86};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        cr_assert_eq(le16(out + pairs[i]), 94, "pair at %d", pairs[i]);
        cr_assert_eq(le16(out + pairs[i] + 2), 0);
    }
    cr_assert_eq(le32(out + 90), 0);
    cr_assert_eq(out[27] & TDS_LOGIN_OF3_EXTENSION, 0);
    tds_login7 d;
    char sb[64];
    cr_assert_eq(dec(out, 94, &d, sb, sizeof sb), TDS_OK);
    cr_assert_str_eq(d.hostname, "");
    cr_assert(!d.fedauth && !d.utf8_support);
    /* the caller's stray fExtension bit is cleared when nothing is sent */
    l.option_flags3 = TDS_LOGIN_OF3_EXTENSION | 0x01;
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), 94);
    cr_assert_eq(out[27], 0x01);
}

static const uint8_t NONCE[32] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* Encodes l and returns the feature block (after checking the pointer). */
static const uint8_t *features_of(const uint8_t *out, int w, size_t *flen)
{
    cr_assert_gt(w, 94);
    cr_assert(out[27] & TDS_LOGIN_OF3_EXTENSION);
    size_t ib = le16(out + 56);
    cr_assert_eq(le16(out + 58), 4);
    size_t fo = le32(out + ib);
    cr_assert_lt(fo, (size_t)w);
    *flen = (size_t)w - fo;
    return out + fo;
}

static void fedauth_case(bool echo, bool nonce)
{
    tds_login7 l = {.tds_version = TDS_VERSION_74, .hostname = "h", .database = "db"};
    l.fedauth = true;
    l.fedauth_echo = echo;
    l.fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
    l.fedauth_token = "ab";
    l.fedauth_has_nonce = nonce;
    if (nonce)
        memcpy(l.fedauth_nonce, NONCE, 32);
    uint8_t out[512];
    int w = tds_login7_encode(&l, out, sizeof out);
    size_t flen;
    const uint8_t *f = features_of(out, w, &flen);
    /* The feature block comes after all other data: h, ext dword, db. */
    cr_assert_eq(le16(out + 36), 94);
    cr_assert_eq(le16(out + 56), 96);
    cr_assert_eq(le16(out + 68), 100);
    cr_assert_eq(f - out, 104);
    uint8_t want[64];
    size_t n = hex("02", want, sizeof want);
    wle32(want + n, nonce ? 1 + 4 + 4 + 32 : 1 + 4 + 4);
    n += 4;
    want[n++] = echo ? 0x03 : 0x02; /* (SECURITYTOKEN << 1) | echo */
    n += hex("04 00 00 00 61 00 62 00", want + n, sizeof want - n);
    if (nonce) {
        memcpy(want + n, NONCE, 32);
        n += 32;
    }
    want[n++] = 0xFF;
    cr_assert_eq(flen, n);
    cr_assert_arr_eq(f, want, n);

    tds_login7 d;
    char sb[256];
    cr_assert_eq(dec(out, (size_t)w, &d, sb, sizeof sb), TDS_OK);
    cr_assert(d.fedauth);
    cr_assert_eq(d.fedauth_echo, echo);
    cr_assert_eq(d.fedauth_library, TDS_FEDAUTH_LIB_SECURITYTOKEN);
    cr_assert_str_eq(d.fedauth_token, "ab");
    cr_assert_eq(d.fedauth_has_nonce, nonce);
    if (nonce)
        cr_assert_arr_eq(d.fedauth_nonce, NONCE, 32);
    cr_assert(!d.utf8_support);
    cr_assert_str_eq(d.database, "db");
}

Test(login7, fedauth_no_nonce_echo0) { fedauth_case(false, false); }
Test(login7, fedauth_no_nonce_echo1) { fedauth_case(true, false); }
Test(login7, fedauth_nonce_echo0) { fedauth_case(false, true); }
Test(login7, fedauth_nonce_echo1) { fedauth_case(true, true); }

Test(login7, utf8_support_only)
{
    tds_login7 l = {.tds_version = TDS_VERSION_74, .utf8_support = true};
    uint8_t out[256];
    int w = tds_login7_encode(&l, out, sizeof out);
    cr_assert_eq(w, 94 + 4 + 6);
    size_t flen;
    const uint8_t *f = features_of(out, w, &flen);
    cr_assert_eq(le16(out + 56), 94);
    cr_assert_eq(le32(out + 94), 98);
    uint8_t want[] = {0x0A, 0, 0, 0, 0, 0xFF};
    cr_assert_eq(flen, sizeof want);
    cr_assert_arr_eq(f, want, sizeof want);
    tds_login7 d;
    char sb[64];
    cr_assert_eq(dec(out, (size_t)w, &d, sb, sizeof sb), TDS_OK);
    cr_assert(d.utf8_support && !d.fedauth);
}

Test(login7, fedauth_and_utf8_support)
{
    tds_login7 l = {.tds_version = TDS_VERSION_74, .utf8_support = true, .fedauth = true,
                    .fedauth_echo = true, .fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN,
                    .fedauth_token = "eyJ0." GRIN, .fedauth_has_nonce = true};
    memcpy(l.fedauth_nonce, NONCE, 32);
    uint8_t out[512];
    int w = tds_login7_encode(&l, out, sizeof out);
    size_t flen;
    const uint8_t *f = features_of(out, w, &flen);
    cr_assert_eq(flen, 1 + 4 + 1 + 4 + 14 + 32 + 5 + 1);
    cr_assert_eq(f[0], 0x02);
    cr_assert_eq(le32(f + 1), 1 + 4 + 14 + 32);
    cr_assert_eq(f[5], 0x03);
    cr_assert_eq(le32(f + 6), 14);
    uint8_t tok[] = {'e', 0, 'y', 0, 'J', 0, '0', 0, '.', 0, 0x3D, 0xD8, 0x00, 0xDE};
    cr_assert_arr_eq(f + 10, tok, 14);
    cr_assert_arr_eq(f + 24, NONCE, 32);
    uint8_t tail[] = {0x0A, 0, 0, 0, 0, 0xFF};
    cr_assert_arr_eq(f + 56, tail, 6);
    tds_login7 d;
    char sb[256];
    cr_assert_eq(dec(out, (size_t)w, &d, sb, sizeof sb), TDS_OK);
    cr_assert(d.fedauth && d.fedauth_echo && d.fedauth_has_nonce && d.utf8_support);
    cr_assert_str_eq(d.fedauth_token, "eyJ0." GRIN);
}

/* ------------------------------------------------------------ round trips */

static uint32_t rng = 20240601;
static uint32_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Random UTF-8 text of at most max code units: ASCII, 2- and 3-byte
 * characters, and surrogate pairs. */
static char *rand_text(char *buf, int max)
{
    int units = (int)(rnd() % (unsigned)(max + 1)), u = 0;
    char *p = buf;
    while (u < units) {
        unsigned kind = rnd() % 4;
        if (kind == 3 && u + 2 <= units) {
            uint32_t c = 0x10000 + rnd() % 0xFFFFF;
            *p++ = (char)(0xF0 | (c >> 18));
            *p++ = (char)(0x80 | ((c >> 12) & 0x3F));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (char)(0x80 | (c & 0x3F));
            u += 2;
        } else if (kind == 2) {
            uint32_t c = 0x800 + rnd() % (0xD800 - 0x800);
            *p++ = (char)(0xE0 | (c >> 12));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3F));
            *p++ = (char)(0x80 | (c & 0x3F));
            u++;
        } else if (kind == 1) {
            uint32_t c = 0x80 + rnd() % 0x780;
            *p++ = (char)(0xC0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3F));
            u++;
        } else {
            *p++ = (char)(0x20 + rnd() % 0x5F);
            u++;
        }
    }
    *p = 0;
    return rnd() % 5 == 0 ? NULL : buf;
}

static const char *nz(const char *s) { return s ? s : ""; }

static void assert_same(const tds_login7 *a, const tds_login7 *b, int iter)
{
    cr_assert_eq(a->tds_version, b->tds_version, "iter %d", iter);
    cr_assert_eq(a->packet_size, b->packet_size);
    cr_assert_eq(a->client_prog_ver, b->client_prog_ver);
    cr_assert_eq(a->client_pid, b->client_pid);
    cr_assert_eq(a->connection_id, b->connection_id);
    cr_assert_eq(a->option_flags1, b->option_flags1);
    cr_assert_eq(a->option_flags2, b->option_flags2);
    cr_assert_eq(a->type_flags, b->type_flags);
    bool feat = a->fedauth || a->utf8_support;
    cr_assert_eq(b->option_flags3, feat ? (a->option_flags3 | 0x10) : (a->option_flags3 & ~0x10));
    cr_assert_eq(a->client_timezone, b->client_timezone);
    cr_assert_eq(a->client_lcid, b->client_lcid);
    cr_assert_str_eq(nz(a->hostname), b->hostname, "iter %d", iter);
    cr_assert_str_eq(nz(a->username), b->username);
    cr_assert_str_eq(nz(a->password), b->password);
    cr_assert_str_eq(nz(a->appname), b->appname);
    cr_assert_str_eq(nz(a->servername), b->servername);
    cr_assert_str_eq(nz(a->library), b->library);
    cr_assert_str_eq(nz(a->language), b->language);
    cr_assert_str_eq(nz(a->database), b->database);
    cr_assert_str_eq(nz(a->attach_db_file), b->attach_db_file);
    cr_assert_str_eq(nz(a->change_password), b->change_password);
    cr_assert_arr_eq(a->client_id, b->client_id, 6);
    cr_assert_eq(a->sspi_len, b->sspi_len);
    if (a->sspi_len)
        cr_assert_arr_eq(a->sspi, b->sspi, a->sspi_len);
    cr_assert_eq(a->fedauth, b->fedauth);
    if (a->fedauth) {
        cr_assert_eq(a->fedauth_echo, b->fedauth_echo);
        cr_assert_eq(a->fedauth_library, b->fedauth_library);
        cr_assert_str_eq(nz(a->fedauth_token), b->fedauth_token);
        cr_assert_eq(a->fedauth_has_nonce, b->fedauth_has_nonce);
        if (a->fedauth_has_nonce)
            cr_assert_arr_eq(a->fedauth_nonce, b->fedauth_nonce, 32);
    }
    cr_assert_eq(a->utf8_support, b->utf8_support);
}

static void random_login(tds_login7 *l, char bufs[12][1200], uint8_t *sspi)
{
    memset(l, 0, sizeof *l);
    l->tds_version = rnd() % 8 ? TDS_VERSION_74 : 0x730B0003;
    l->packet_size = rnd();
    l->client_prog_ver = rnd();
    l->client_pid = rnd();
    l->connection_id = rnd();
    l->option_flags1 = (uint8_t)rnd();
    l->option_flags2 = (uint8_t)rnd();
    l->type_flags = (uint8_t)rnd();
    l->option_flags3 = (uint8_t)rnd();
    l->client_timezone = (int32_t)(rnd() - (1u << 23));
    l->client_lcid = rnd();
    l->hostname = rand_text(bufs[0], 128);
    l->username = rand_text(bufs[1], 128);
    l->password = rand_text(bufs[2], 128);
    l->appname = rand_text(bufs[3], 128);
    l->servername = rand_text(bufs[4], 128);
    l->library = rand_text(bufs[5], 128);
    l->language = rand_text(bufs[6], 128);
    l->database = rand_text(bufs[7], 128);
    l->attach_db_file = rand_text(bufs[8], 260);
    l->change_password = rand_text(bufs[9], 128);
    for (int i = 0; i < 6; i++)
        l->client_id[i] = (uint8_t)rnd();
    if (rnd() % 4 == 0) {
        l->sspi_len = rnd() % 300;
        for (uint32_t i = 0; i < l->sspi_len; i++)
            sspi[i] = (uint8_t)rnd();
        l->sspi = sspi;
    }
    if (l->tds_version == TDS_VERSION_74) {
        l->utf8_support = rnd() & 1;
        l->fedauth = rnd() & 1;
        if (l->fedauth) {
            l->fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
            l->fedauth_echo = rnd() & 1;
            l->fedauth_token = rand_text(bufs[10], 300);
            l->fedauth_has_nonce = rnd() & 1;
            for (int i = 0; i < 32; i++)
                l->fedauth_nonce[i] = (uint8_t)rnd();
        }
    }
}

Test(login7, randomised_roundtrip)
{
    static char bufs[12][1200];
    static uint8_t sspi[300], out[16384];
    static char sb[16384];
    for (int iter = 0; iter < 3000; iter++) {
        tds_login7 l, d;
        random_login(&l, bufs, sspi);
        int w = tds_login7_encode(&l, out, sizeof out);
        cr_assert_gt(w, 0, "iter %d: %d", iter, w);
        cr_assert_eq(le32(out), (uint32_t)w);
        cr_assert_eq(dec(out, (size_t)w, &d, sb, sizeof sb), TDS_OK, "iter %d", iter);
        if (d.sspi)
            cr_assert(d.sspi >= out && d.sspi + d.sspi_len <= out + w);
        assert_same(&l, &d, iter);
        /* re-encoding the decoded login gives the same bytes */
        static uint8_t again[16384];
        cr_assert_eq(tds_login7_encode(&d, again, sizeof again), w);
        cr_assert_arr_eq(again, out, (size_t)w);
        if (iter % 50 == 0) {
            for (int cap = 0; cap < w; cap++)
                cr_assert_eq(tds_login7_encode(&l, out, (size_t)cap), TDS_E_SPACE);
        }
    }
}

/* ------------------------------------------------------------ truncation */

static int build_full(uint8_t *out, size_t cap)
{
    static uint8_t sspi[5] = {1, 2, 3, 4, 5};
    tds_login7 l = {.tds_version = TDS_VERSION_74, .hostname = "host", .username = "u",
                    .password = "pw", .appname = "app", .servername = "srv",
                    .library = "lib", .language = "us_english", .database = "db",
                    .attach_db_file = "f.mdf", .change_password = "npw",
                    .sspi = sspi, .sspi_len = 5, .utf8_support = true, .fedauth = true,
                    .fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN,
                    .fedauth_token = "tok" GRIN, .fedauth_has_nonce = true};
    memcpy(l.fedauth_nonce, NONCE, 32);
    int w = tds_login7_encode(&l, out, cap);
    cr_assert_gt(w, 0);
    return w;
}

Test(login7, every_truncation_fails)
{
    uint8_t full[1024], spec[256];
    int w = build_full(full, sizeof full);
    size_t sn = hex(SPEC_42, spec, sizeof spec);
    const uint8_t *vec[] = {full, spec};
    size_t vlen[] = {(size_t)w, sn};
    char sb[1024];
    for (int v = 0; v < 2; v++) {
        for (size_t k = 0; k < vlen[v]; k++) {
            tds_login7 d;
            /* as cut off: Length says more than there is */
            cr_assert_eq(dec(vec[v], k, &d, sb, sizeof sb), TDS_E_PROTO, "v %d k %zu", v, k);
            /* Length patched to the prefix: every offset check is reached */
            if (k >= 4) {
                uint8_t *cut = malloc(k);
                memcpy(cut, vec[v], k);
                wle32(cut, (uint32_t)k);
                cr_assert_eq(dec(cut, k, &d, sb, sizeof sb), TDS_E_PROTO, "v %d patched k %zu", v, k);
                free(cut);
            }
        }
        tds_login7 d;
        cr_assert_eq(dec(vec[v], vlen[v], &d, sb, sizeof sb), TDS_OK);
    }
}

Test(login7, small_string_buffer)
{
    uint8_t full[1024];
    int w = build_full(full, sizeof full);
    char sb[1024];
    tds_login7 d;
    cr_assert_eq(dec(full, (size_t)w, &d, sb, sizeof sb), TDS_OK);
    /* host u pw app srv lib us_english db f.mdf npw tok😀 and 11 NULs */
    size_t need = 4 + 1 + 2 + 3 + 3 + 3 + 10 + 2 + 5 + 3 + 7 + 11;
    cr_assert_eq(dec(full, (size_t)w, &d, sb, need), TDS_OK);
    for (size_t cap = 0; cap < need; cap++) {
        cr_assert_eq(dec(full, (size_t)w, &d, cap ? sb : NULL, cap), TDS_E_SPACE, "cap %zu", cap);
        cr_assert_null(d.hostname); /* nothing half-decoded is left */
    }
}

/* ------------------------------------------------------------- malformed */

static uint8_t base[1024];
static int base_len;

static void base_init(void)
{
    base_len = build_full(base, sizeof base);
}

static int dec_mod(void (*mod)(uint8_t *, size_t *), tds_login7 *d)
{
    uint8_t m[1100];
    size_t n = (size_t)base_len;
    memcpy(m, base, n);
    mod(m, &n);
    static char sb[2048];
    return dec(m, n, d, sb, sizeof sb);
}

static size_t feat_at(const uint8_t *m) { return le32(m + le16(m + 56)); }

static void m_host_outside(uint8_t *m, size_t *n) { (void)n; wle16(m + 36, 0xFFF0); }
static void m_host_in_header(uint8_t *m, size_t *n) { (void)n; wle16(m + 36, 10); }
static void m_host_len_overflow(uint8_t *m, size_t *n) { wle16(m + 38, (uint16_t)(*n / 2)); }
static void m_host_straddles(uint8_t *m, size_t *n) { wle16(m + 36, (uint16_t)(*n - 2)); wle16(m + 38, 4); }
static void m_host_len_max(uint8_t *m, size_t *n) { (void)n; wle16(m + 38, 0xFFFF); }
static void m_user_129(uint8_t *m, size_t *n) { (void)n; wle16(m + 40, 94); wle16(m + 42, 129); }
static void m_len_small(uint8_t *m, size_t *n) { (void)n; wle32(m, 93); }
static void m_len_big(uint8_t *m, size_t *n) { wle32(m, (uint32_t)*n + 1); }
static void m_len_huge(uint8_t *m, size_t *n) { (void)n; wle32(m, 0xFFFFFFFF); }
static void m_trailing(uint8_t *m, size_t *n) { m[*n] = 0xEE; *n += 1; }
static void m_ext_outside(uint8_t *m, size_t *n) { wle16(m + 56, (uint16_t)(*n - 2)); }
static void m_ext_cb_small(uint8_t *m, size_t *n) { (void)n; wle16(m + 58, 3); }
static void m_feat_outside(uint8_t *m, size_t *n) { wle32(m + le16(m + 56), (uint32_t)*n); }
static void m_feat_in_header(uint8_t *m, size_t *n) { (void)n; wle32(m + le16(m + 56), 20); }
static void m_feat_len_huge(uint8_t *m, size_t *n) { (void)n; wle32(m + feat_at(m) + 1, 0xFFFFFFFF); }
static void m_no_terminator(uint8_t *m, size_t *n) { m[*n - 1] = 0x0B; }
static void m_token_odd(uint8_t *m, size_t *n)
{
    (void)n;
    size_t f = feat_at(m);
    wle32(m + f + 6, le32(m + f + 6) - 1);
}
static void m_token_overflow(uint8_t *m, size_t *n)
{
    (void)n;
    size_t f = feat_at(m);
    wle32(m + f + 6, 0xFFFFFFF0);
}
static void m_nonce_short(uint8_t *m, size_t *n)
{
    /* FeatureDataLen one short: 31 bytes after the token */
    (void)n;
    size_t f = feat_at(m);
    uint32_t dl = le32(m + f + 1);
    wle32(m + f + 1, dl - 1);
    memmove(m + f + 5 + dl - 1, m + f + 5 + dl, *n - (f + 5 + dl));
    *n -= 1;
    wle32(m, (uint32_t)*n);
}
static void m_fedauth_empty(uint8_t *m, size_t *n)
{
    size_t f = feat_at(m);
    uint8_t b[] = {0x02, 0, 0, 0, 0, 0xFF};
    memcpy(m + f, b, sizeof b);
    *n = f + sizeof b;
    wle32(m, (uint32_t)*n);
}
static void m_fedauth_twice(uint8_t *m, size_t *n)
{
    size_t f = feat_at(m);
    uint8_t b[] = {0x02, 5, 0, 0, 0, 0x02, 0, 0, 0, 0, 0x02, 5, 0, 0, 0, 0x02, 0, 0, 0, 0, 0xFF};
    memcpy(m + f, b, sizeof b);
    *n = f + sizeof b;
    wle32(m, (uint32_t)*n);
}
static void m_unknown_feature(uint8_t *m, size_t *n)
{
    size_t f = feat_at(m);
    uint8_t b[] = {0x08, 1, 0, 0, 0, 0x01, 0x42, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0xFF};
    memcpy(m + f, b, sizeof b);
    *n = f + sizeof b;
    wle32(m, (uint32_t)*n);
}
static void m_adal(uint8_t *m, size_t *n)
{
    size_t f = feat_at(m);
    uint8_t b[] = {0x02, 2, 0, 0, 0, (TDS_FEDAUTH_LIB_ADAL << 1) | 1, 0x01, 0xFF};
    memcpy(m + f, b, sizeof b);
    *n = f + sizeof b;
    wle32(m, (uint32_t)*n);
}
static void m_lone_surrogate(uint8_t *m, size_t *n)
{
    (void)n;
    size_t off = le16(m + 36);
    m[off] = 0x3D;
    m[off + 1] = 0xD8; /* high surrogate followed by 'o' */
}
static void m_sspi_outside(uint8_t *m, size_t *n) { wle16(m + 78, (uint16_t)(*n - 2)); }
static void m_sspi_long(uint8_t *m, size_t *n) { (void)n; wle16(m + 80, 0xFFFF); wle32(m + 90, 0x10000); }
static void m_ext_bit_off(uint8_t *m, size_t *n) { (void)n; m[27] &= (uint8_t)~0x10; }
static void m_empty_field_bad_offset(uint8_t *m, size_t *n) { (void)n; wle16(m + 64, 0xFFFF); wle16(m + 66, 0); }

Test(login7, malformed_offsets_and_lengths, .init = base_init)
{
    tds_login7 d;
    struct { void (*f)(uint8_t *, size_t *); int want; const char *what; } cases[] = {
        {m_host_outside, TDS_E_PROTO, "host offset outside"},
        {m_host_in_header, TDS_E_PROTO, "host offset in the fixed header"},
        {m_host_len_overflow, TDS_E_PROTO, "host length past the end"},
        {m_host_len_max, TDS_E_PROTO, "host length 0xFFFF"},
        {m_host_straddles, TDS_E_PROTO, "host data straddles the end"},
        {m_user_129, TDS_E_PROTO, "user 129 characters"},
        {m_len_small, TDS_E_PROTO, "Length below the header"},
        {m_len_big, TDS_E_PROTO, "Length past the payload"},
        {m_len_huge, TDS_E_PROTO, "Length 0xFFFFFFFF"},
        {m_trailing, TDS_OK, "bytes after Length ignored"},
        {m_ext_outside, TDS_E_PROTO, "ibExtension past the end"},
        {m_ext_cb_small, TDS_E_PROTO, "cbExtension 3"},
        {m_feat_outside, TDS_E_PROTO, "FeatureExt offset at the end"},
        {m_feat_in_header, TDS_E_PROTO, "FeatureExt offset in the header"},
        {m_feat_len_huge, TDS_E_PROTO, "FeatureDataLen 0xFFFFFFFF"},
        {m_no_terminator, TDS_E_PROTO, "no feature terminator"},
        {m_token_odd, TDS_E_PROTO, "odd token length"},
        {m_token_overflow, TDS_E_PROTO, "token length past the data"},
        {m_nonce_short, TDS_E_PROTO, "31-byte nonce"},
        {m_fedauth_empty, TDS_E_PROTO, "FEDAUTH without options"},
        {m_fedauth_twice, TDS_E_PROTO, "FEDAUTH twice"},
        {m_lone_surrogate, TDS_E_PROTO, "lone surrogate in host"},
        {m_sspi_outside, TDS_E_PROTO, "SSPI past the end"},
        {m_sspi_long, TDS_E_PROTO, "cbSSPILong past the end"},
        {m_unknown_feature, TDS_OK, "unknown feature skipped"},
        {m_adal, TDS_OK, "ADAL library"},
        {m_ext_bit_off, TDS_OK, "fExtension clear: no features read"},
        {m_empty_field_bad_offset, TDS_OK, "empty field's offset ignored"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(dec_mod(cases[i].f, &d), cases[i].want, "%s", cases[i].what);

    cr_assert_eq(dec_mod(m_unknown_feature, &d), TDS_OK);
    cr_assert(d.utf8_support && !d.fedauth);
    cr_assert_eq(dec_mod(m_adal, &d), TDS_OK);
    cr_assert(d.fedauth && d.fedauth_echo);
    cr_assert_eq(d.fedauth_library, TDS_FEDAUTH_LIB_ADAL);
    cr_assert_null(d.fedauth_token);
    cr_assert_eq(dec_mod(m_ext_bit_off, &d), TDS_OK);
    cr_assert(!d.fedauth && !d.utf8_support);
    cr_assert_eq(dec_mod(m_trailing, &d), TDS_OK);
    cr_assert_str_eq(d.fedauth_token, "tok" GRIN);
    cr_assert_eq(dec_mod(m_empty_field_bad_offset, &d), TDS_OK);
    cr_assert_str_eq(d.language, "");
}

Test(login7, sspi_decoded_and_reencoded, .init = base_init)
{
    tds_login7 d;
    char sb[1024];
    cr_assert_eq(dec(base, (size_t)base_len, &d, sb, sizeof sb), TDS_OK);
    uint8_t want[5] = {1, 2, 3, 4, 5};
    cr_assert_eq(d.sspi_len, 5);
    cr_assert_arr_eq(d.sspi, want, 5);
    cr_assert(d.sspi >= base && d.sspi < base + base_len);

    /* a blob of 0xFFFF bytes or more goes in cbSSPILong */
    size_t big = 70000;
    uint8_t *blob = calloc(1, big), *out = malloc(big + 200);
    blob[0] = 0x4E;
    blob[big - 1] = 0x54;
    tds_login7 l = {.tds_version = TDS_VERSION_74, .sspi = blob, .sspi_len = (uint32_t)big};
    int w = tds_login7_encode(&l, out, big + 200);
    cr_assert_eq(w, (int)(94 + big));
    cr_assert_eq(le16(out + 80), 0xFFFF);
    cr_assert_eq(le32(out + 90), big);
    cr_assert_eq(dec(out, (size_t)w, &d, sb, sizeof sb), TDS_OK);
    cr_assert_eq(d.sspi_len, big);
    cr_assert_eq(d.sspi[0], 0x4E);
    cr_assert_eq(d.sspi[big - 1], 0x54);
    free(blob);
    free(out);
}

Test(login7, tds71_header_unsupported)
{
    uint8_t m[100] = {0};
    wle32(m, 86);
    wle32(m + 4, 0x71000001);
    for (int p = 36; p < 86; p += 4)
        wle16(m + p, 86);
    tds_login7 d;
    char sb[16];
    cr_assert_eq(tds_login7_decode(m, 86, &d, sb, sizeof sb), TDS_E_UNSUPPORTED);
}

/* --------------------------------------------------------- encode limits */

Test(login7, field_limits)
{
    char s[300];
    uint8_t out[2048];
    tds_login7 l = {.tds_version = TDS_VERSION_74};
    memset(s, 'x', 128);
    s[128] = 0;
    const char **fields[] = {&l.hostname, &l.username, &l.password, &l.appname, &l.servername,
                             &l.library, &l.language, &l.database, &l.change_password};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        memset(&l, 0, sizeof l);
        l.tds_version = TDS_VERSION_74;
        s[128] = 0;
        *fields[i] = s;
        cr_assert_eq(tds_login7_encode(&l, out, sizeof out), 94 + 256, "field %zu", i);
        s[128] = 'x';
        s[129] = 0;
        cr_assert_eq(tds_login7_encode(&l, out, sizeof out), TDS_E_ARG, "field %zu", i);
    }
    memset(&l, 0, sizeof l);
    memset(s, 'x', 260);
    s[260] = 0;
    l.attach_db_file = s;
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), 94 + 520);
    s[260] = 'x';
    s[261] = 0;
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), TDS_E_ARG);

    /* invalid UTF-8 */
    memset(&l, 0, sizeof l);
    l.username = "a\xC3";
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), TDS_E_ENCODING);
    l.username = NULL;
    l.fedauth = true;
    l.tds_version = TDS_VERSION_74;
    l.fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
    l.fedauth_token = "\xED\xA0\x80"; /* an encoded surrogate */
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), TDS_E_ENCODING);
}

Test(login7, feature_arguments)
{
    uint8_t out[512];
    tds_login7 l = {.tds_version = 0x730B0003, .utf8_support = true};
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), TDS_E_ARG); /* no FeatureExt below 7.4 */
    l.tds_version = 0x08000000; /* TDS 8.0 (strict TLS) has them */
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), 94 + 4 + 6);
    l.tds_version = TDS_VERSION_74;
    l.utf8_support = false;
    l.fedauth = true;
    l.fedauth_library = TDS_FEDAUTH_LIB_ADAL;
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), TDS_E_ARG);
    l.fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN;
    l.fedauth_token = NULL; /* an empty token is still a token */
    cr_assert_eq(tds_login7_encode(&l, out, sizeof out), 94 + 4 + 1 + 4 + 1 + 4 + 1);
    tds_login7 s = {.sspi_len = 3};
    cr_assert_eq(tds_login7_encode(&s, out, sizeof out), TDS_E_ARG);
    cr_assert_eq(tds_login7_encode(NULL, out, sizeof out), TDS_E_ARG);
}

Test(login7, whole_login_at_most_128k)
{
    /* A token that pushes the LOGIN7 past 128K-1 bytes is refused. */
    size_t tl = 65481; /* 109 bytes of header and framing + 2 * 65481 = 131071 */
    char *tok = malloc(tl + 1);
    memset(tok, 'T', tl);
    tok[tl] = 0;
    uint8_t *out = malloc(1u << 20);
    tds_login7 l = {.tds_version = TDS_VERSION_74, .fedauth = true,
                    .fedauth_library = TDS_FEDAUTH_LIB_SECURITYTOKEN, .fedauth_token = tok};
    int w = tds_login7_encode(&l, out, 1u << 20);
    cr_assert_eq(w, (int)(94 + 4 + 10 + 2 * tl + 1));
    cr_assert_eq(w, 131071);
    free(tok);
    tl = 65482;
    tok = malloc(tl + 1);
    memset(tok, 'T', tl);
    tok[tl] = 0;
    l.fedauth_token = tok;
    cr_assert_eq(tds_login7_encode(&l, out, 1u << 20), TDS_E_ARG);
    free(tok);
    free(out);
}
