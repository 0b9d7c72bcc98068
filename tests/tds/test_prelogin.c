/*
 * test_prelogin.c — PRELOGIN encode/decode (tds/prelogin.c) against the
 * specification's own example bytes (MS-TDS 4.1, MS-SSTDS 4.1), exact
 * encodings, randomised round trips, every truncation and malformed
 * option tables.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"

#define BIT(o) (1u << (o))

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

/* MS-TDS 4.1 Pre-Login Request, packet header removed. */
static const char SPEC_41[] =
    "00 00 1A 00 06 01 00 20 00 01 02 00 21 00 01 03 00 22 00 04 04 00 26 00 01 FF"
    "09 00 00 00 00 00 01 00 B8 0D 00 00 01";

/* MS-SSTDS 4.1 Pre-Login Request (an instance name), header removed. */
static const char SSTDS_41[] =
    "00 00 15 00 06 01 00 1B 00 01 02 00 1C 00 0C 03 00 28 00 04 FF"
    "08 00 01 55 00 00 00 4D 53 53 51 4C 53 65 72 76 65 72 00 80 19 00 00";

Test(prelogin, spec_example_decodes)
{
    uint8_t in[64];
    size_t n = hex(SPEC_41, in, sizeof in);
    cr_assert_eq(n, 0x2F - 8);
    tds_prelogin p;
    cr_assert_eq(tds_prelogin_decode(in, n, &p), TDS_OK);
    cr_assert_eq(p.present, BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4));
    cr_assert_eq(p.version, 0x09000000u);
    cr_assert_eq(p.subbuild, 0);
    cr_assert_eq(p.encryption, TDS_ENCRYPT_ON);
    cr_assert_str_eq(p.instance, "");
    cr_assert_eq(p.thread_id, 0xB80D0000u); /* big-endian, see prelogin.c */
    cr_assert_eq(p.mars, 1);
}

Test(prelogin, spec_example_reencodes_identically)
{
    uint8_t in[64], out[256];
    size_t n = hex(SPEC_41, in, sizeof in);
    tds_prelogin p = {0};
    p.present = BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4);
    p.version = 0x09000000;
    p.encryption = TDS_ENCRYPT_ON;
    p.thread_id = 0xB80D0000;
    p.mars = 1;
    int w = tds_prelogin_encode(&p, out, sizeof out);
    cr_assert_eq(w, (int)n);
    cr_assert_arr_eq(out, in, n);
}

Test(prelogin, sstds_example_with_instance_roundtrips)
{
    uint8_t in[64], out[256];
    size_t n = hex(SSTDS_41, in, sizeof in);
    cr_assert_eq(n, 0x34 - 8);
    tds_prelogin p;
    cr_assert_eq(tds_prelogin_decode(in, n, &p), TDS_OK);
    cr_assert_eq(p.present, BIT(0) | BIT(1) | BIT(2) | BIT(3));
    cr_assert_eq(p.version, 0x08000155u);
    cr_assert_eq(p.encryption, TDS_ENCRYPT_OFF);
    cr_assert_str_eq(p.instance, "MSSQLServer");
    cr_assert_eq(p.thread_id, 0x80190000u);
    int w = tds_prelogin_encode(&p, out, sizeof out);
    cr_assert_eq(w, (int)n);
    cr_assert_arr_eq(out, in, n);
}

Test(prelogin, server_reply_with_empty_threadid)
{
    /* SQL Server answers with a zero-length THREADID; SQL Server 2019
     * version 15.0.2000 (0F 00 07 D0). */
    uint8_t in[64];
    size_t n = hex("00 00 1A 00 06 01 00 20 00 01 02 00 21 00 01 03 00 22 00 00"
                   "04 00 22 00 01 FF 0F 00 07 D0 00 00 00 00 00", in, sizeof in);
    tds_prelogin p;
    cr_assert_eq(tds_prelogin_decode(in, n, &p), TDS_OK);
    cr_assert_eq(p.present, BIT(0) | BIT(1) | BIT(2) | BIT(4));
    cr_assert_eq(p.version, 0x0F0007D0u);
    cr_assert_eq(p.encryption, TDS_ENCRYPT_OFF);
    cr_assert_eq(p.mars, 0);
}

static void all_options(tds_prelogin *pp)
{
    tds_prelogin p;
    memset(&p, 0, sizeof p);
    p.present = 0xFF;
    p.version = 0x0F0007D0;
    p.subbuild = 0x0102;
    p.encryption = TDS_ENCRYPT_REQ;
    strcpy(p.instance, "SQLEXPRESS");
    p.thread_id = 0x11223344;
    p.mars = 1;
    for (int i = 0; i < 36; i++)
        p.trace_id[i] = (uint8_t)(0xA0 + i);
    p.fedauth_required = 1;
    for (int i = 0; i < 32; i++)
        p.nonce[i] = (uint8_t)i;
    memcpy(pp, &p, sizeof p);
}

Test(prelogin, all_options_exact_bytes)
{
    tds_prelogin p;
    all_options(&p);
    uint8_t out[512], want[512];
    int w = tds_prelogin_encode(&p, out, sizeof out);
    /* table: 8 entries + FF = 41 = 0x29 */
    size_t n = hex("00 00 29 00 06  01 00 2F 00 01  02 00 30 00 0B  03 00 3B 00 04"
                   "04 00 3F 00 01  05 00 40 00 24  06 00 64 00 01  07 00 65 00 20 FF"
                   "0F 00 07 D0 01 02" /* version, subbuild */
                   "03"                /* encryption REQ */
                   "53 51 4C 45 58 50 52 45 53 53 00" /* SQLEXPRESS\0 */
                   "11 22 33 44"       /* thread id */
                   "01"                /* MARS */
                   "A0 A1 A2 A3 A4 A5 A6 A7 A8 A9 AA AB AC AD AE AF"
                   "B0 B1 B2 B3 B4 B5 B6 B7 B8 B9 BA BB BC BD BE BF C0 C1 C2 C3"
                   "01"                /* FEDAUTHREQUIRED */
                   "00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F"
                   "10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F", want, sizeof want);
    cr_assert_eq(w, (int)n);
    cr_assert_arr_eq(out, want, n);
    tds_prelogin d;
    cr_assert_eq(tds_prelogin_decode(out, n, &d), TDS_OK);
    cr_assert_eq(memcmp(&d, &p, sizeof d), 0);
}

Test(prelogin, fedauth_and_nonce_only)
{
    tds_prelogin p = {0};
    p.present = BIT(TDS_PL_FEDAUTHREQUIRED) | BIT(TDS_PL_NONCEOPT);
    p.fedauth_required = 1;
    memset(p.nonce, 0x5A, 32);
    uint8_t out[128];
    int w = tds_prelogin_encode(&p, out, sizeof out);
    cr_assert_eq(w, 11 + 1 + 32);
    uint8_t head[12];
    hex("06 00 0B 00 01 07 00 0C 00 20 FF 01", head, sizeof head);
    cr_assert_arr_eq(out, head, 12);
}

Test(prelogin, empty_table)
{
    uint8_t out[4];
    tds_prelogin p = {0};
    cr_assert_eq(tds_prelogin_encode(&p, out, sizeof out), 1);
    cr_assert_eq(out[0], 0xFF);
    tds_prelogin d;
    cr_assert_eq(tds_prelogin_decode(out, 1, &d), TDS_OK);
    cr_assert_eq(d.present, 0);
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

Test(prelogin, randomised_roundtrip)
{
    for (int iter = 0; iter < 5000; iter++) {
        tds_prelogin p;
        memset(&p, 0, sizeof p);
        p.present = rnd() & 0xFF;
        if (p.present & BIT(0)) { p.version = rnd() ^ (rnd() << 16); p.subbuild = (uint16_t)rnd(); }
        if (p.present & BIT(1)) p.encryption = (uint8_t)rnd();
        if (p.present & BIT(2)) {
            size_t k = rnd() % 128; /* 0..127 */
            for (size_t i = 0; i < k; i++)
                p.instance[i] = (char)(1 + rnd() % 255);
        }
        if (p.present & BIT(3)) p.thread_id = rnd() ^ (rnd() << 16);
        if (p.present & BIT(4)) p.mars = (uint8_t)rnd();
        if (p.present & BIT(5)) for (int i = 0; i < 36; i++) p.trace_id[i] = (uint8_t)rnd();
        if (p.present & BIT(6)) p.fedauth_required = (uint8_t)rnd();
        if (p.present & BIT(7)) for (int i = 0; i < 32; i++) p.nonce[i] = (uint8_t)rnd();
        uint8_t buf[512];
        int w = tds_prelogin_encode(&p, buf, sizeof buf);
        cr_assert_gt(w, 0);
        tds_prelogin d;
        cr_assert_eq(tds_prelogin_decode(buf, (size_t)w, &d), TDS_OK);
        cr_assert_eq(memcmp(&d, &p, sizeof d), 0, "iteration %d", iter);
        /* small buffers */
        for (int cap = 0; cap < w; cap += 1 + (int)(rnd() % 7))
            cr_assert_eq(tds_prelogin_encode(&p, buf, (size_t)cap), TDS_E_SPACE);
    }
}

Test(prelogin, every_truncation_fails)
{
    const char *vecs[] = {SPEC_41, SSTDS_41};
    for (size_t v = 0; v < 2; v++) {
        uint8_t in[64];
        size_t n = hex(vecs[v], in, sizeof in);
        for (size_t k = 0; k < n; k++) {
            uint8_t *cut = malloc(k ? k : 1); /* exact size: ASan sees over-reads */
            memcpy(cut, in, k);
            tds_prelogin d;
            cr_assert_eq(tds_prelogin_decode(cut, k, &d), TDS_E_PROTO, "vector %zu prefix %zu", v, k);
            free(cut);
        }
    }
    tds_prelogin p;
    all_options(&p);
    uint8_t buf[512];
    int w = tds_prelogin_encode(&p, buf, sizeof buf);
    for (int k = 0; k < w; k++) {
        uint8_t *cut = malloc(k ? (size_t)k : 1);
        memcpy(cut, buf, (size_t)k);
        tds_prelogin d;
        cr_assert_eq(tds_prelogin_decode(cut, (size_t)k, &d), TDS_E_PROTO, "prefix %d", k);
        free(cut);
    }
}

static int dec(const char *h)
{
    uint8_t in[128];
    size_t n = hex(h, in, sizeof in);
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, in, n);
    tds_prelogin d;
    int rc = tds_prelogin_decode(exact, n, &d);
    free(exact);
    return rc;
}

Test(prelogin, malformed_tables)
{
    /* no terminator */
    cr_assert_eq(dec(""), TDS_E_PROTO);
    cr_assert_eq(dec("00 00 05 00 06"), TDS_E_PROTO);
    /* offset inside the option table */
    cr_assert_eq(dec("01 00 00 00 01 FF"), TDS_E_PROTO);
    cr_assert_eq(dec("01 00 05 00 01 FF"), TDS_E_PROTO);
    /* offset past the payload */
    cr_assert_eq(dec("01 00 07 00 01 FF 00"), TDS_E_PROTO);
    cr_assert_eq(dec("01 FF FF 00 01 FF 00"), TDS_E_PROTO);
    /* length overflowing the payload */
    cr_assert_eq(dec("01 00 06 00 02 FF 00"), TDS_E_PROTO);
    cr_assert_eq(dec("01 00 06 FF FF FF 00"), TDS_E_PROTO);
    /* fixed options too short */
    cr_assert_eq(dec("00 00 06 00 05 FF 01 02 03 04 05"), TDS_E_PROTO);
    cr_assert_eq(dec("00 00 06 00 00 FF"), TDS_E_PROTO);
    cr_assert_eq(dec("01 00 06 00 00 FF"), TDS_E_PROTO);
    cr_assert_eq(dec("03 00 06 00 03 FF 01 02 03"), TDS_E_PROTO);
    cr_assert_eq(dec("05 00 06 00 23 FF" "00000000000000000000000000000000000000000000000000000000000000000000"),
                 TDS_E_PROTO);
    cr_assert_eq(dec("07 00 06 00 1F FF" "00000000000000000000000000000000000000000000000000000000000000"),
                 TDS_E_PROTO);
    /* INSTOPT without its NUL */
    cr_assert_eq(dec("02 00 06 00 02 FF 41 42"), TDS_E_PROTO);
    /* an option twice */
    cr_assert_eq(dec("01 00 0B 00 01 01 00 0B 00 01 FF 00"), TDS_E_PROTO);
    /* a truncated entry before the terminator */
    cr_assert_eq(dec("01 00 06 00"), TDS_E_PROTO);
    /* good: unknown token skipped (still bounds-checked), longer VERSION ok */
    cr_assert_eq(dec("09 00 0B 00 02 01 00 0D 00 01 FF AA BB 02"), TDS_OK);
    cr_assert_eq(dec("09 00 0B 00 09 01 00 0D 00 01 FF AA BB 02"), TDS_E_PROTO);
    cr_assert_eq(dec("00 00 06 00 08 FF 01 02 03 04 05 06 07 08"), TDS_OK);
    /* overlapping data is tolerated; a zero-length option at the very end too */
    cr_assert_eq(dec("01 00 0B 00 01 04 00 0B 00 01 FF 01"), TDS_OK);
    cr_assert_eq(dec("03 00 06 00 00 FF"), TDS_OK);
}

Test(prelogin, instance_name_bounds)
{
    /* 127 bytes plus NUL fit the 128-byte field; 128 do not. */
    uint8_t in[6 + 129];
    memcpy(in, "\x02\x00\x06\x00\x80\xFF", 6);
    memset(in + 6, 'x', 127);
    in[6 + 127] = 0;
    tds_prelogin d;
    cr_assert_eq(tds_prelogin_decode(in, 6 + 128, &d), TDS_OK);
    cr_assert_eq(strlen(d.instance), 127);
    in[4] = 0x81;
    in[6 + 127] = 'x';
    in[6 + 128] = 0;
    cr_assert_eq(tds_prelogin_decode(in, 6 + 129, &d), TDS_E_PROTO);
    /* text after the NUL inside the option is ignored */
    uint8_t in2[] = {0x02, 0x00, 0x06, 0x00, 0x04, 0xFF, 'a', 0, 'b', 'c'};
    cr_assert_eq(tds_prelogin_decode(in2, sizeof in2, &d), TDS_OK);
    cr_assert_str_eq(d.instance, "a");

    tds_prelogin p = {0};
    p.present = BIT(TDS_PL_INSTOPT);
    memset(p.instance, 'y', sizeof p.instance); /* no NUL */
    uint8_t out[512];
    cr_assert_eq(tds_prelogin_encode(&p, out, sizeof out), TDS_E_ARG);
    p.instance[127] = 0;
    cr_assert_eq(tds_prelogin_encode(&p, out, sizeof out), 6 + 128);
}

Test(prelogin, bad_arguments)
{
    tds_prelogin p = {0};
    uint8_t out[64];
    p.present = BIT(8);
    cr_assert_eq(tds_prelogin_encode(&p, out, sizeof out), TDS_E_ARG);
    cr_assert_eq(tds_prelogin_encode(NULL, out, sizeof out), TDS_E_ARG);
    cr_assert_eq(tds_prelogin_decode(out, 1, NULL), TDS_E_ARG);
}
