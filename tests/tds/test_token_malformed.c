/*
 * test_token_malformed.c — what the decoder does with bytes it must not
 * trust: every truncation of valid streams, unknown and unsupported
 * tokens, impossible column counts, lengths larger than the message or
 * the type allows, PLP lengths that lie, unrequested FEATUREEXTACK, bad
 * ENVCHANGE values. Each case is replayed three ways, and error offsets
 * point at the offending byte.
 */
#include "token_build.h"

static const tds_session_opts client = {0};

/* Decodes b (as one REPLY) three ways; returns the transcript. */
static char *run(const tds_session_opts *opts, const tb *b)
{
    size_t len;
    uint8_t *wire = tb_wire(b, 512, &len);
    char *t = tb_three_ways(opts, NULL, wire, len);
    free(wire);
    return t;
}

/* Decodes b whole; returns the sticky error and its offset. */
static int error_at(const tb *b, uint64_t *off)
{
    size_t len;
    uint8_t *wire = tb_wire(b, 4096, &len);
    tds_session *s = tds_session_new(NULL);
    size_t o = 0;
    int rc;
    tds_event ev;
    for (;;) {
        while ((rc = tds_next(s, &ev)) == 1)
            ;
        if (rc < 0 || o == len)
            break;
        ptrdiff_t took = tds_feed(s, wire + o, len - o);
        if (took <= 0)
            break;
        o += (size_t)took;
    }
    rc = tds_session_error(s);
    *off = tds_error_offset(s);
    tds_session_free(s);
    free(wire);
    return rc;
}

#define PROTO "ERROR protocol error: malformed data from the peer\n"
#define UNSUP "ERROR unsupported protocol feature\n"
#define TOOBIG "ERROR length exceeds the engine's limit\n"

static void meta1(tb *b, const char *typeinfo)
{
    tb_u8(b, TDS_TOK_COLMETADATA); tb_u16(b, 1);
    tb_col(b, 1, typeinfo, "c");
}

/* A valid response touching most decoder states. */
static void valid_stream(tb *b)
{
    tb_env_str(b, TDS_ENV_DATABASE, "db", "master");
    tb_msg(b, TDS_TOK_INFO, 5701, 2, 0, "ctx", "S", "", 1);
    tb_u8(b, TDS_TOK_COLMETADATA); tb_u16(b, 4);
    tb_col(b, 1, "26 04", "i");
    tb_col(b, 1, "E7 FF FF 09 04 D0 00 34", "m");
    tb_col(b, 1, "A7 10 00 09 04 D0 00 34", "v");
    tb_u32(b, 0); tb_u16(b, 1); tb_hex(b, "23 FF FF FF 7F 09 04 D0 00 34");
    tb_u8(b, 1); tb_usvarchar(b, "t"); /* text: table name before the column name */
    tb_bvarchar(b, "t");
    tb_u8(b, TDS_TOK_ROW); tb_hex(b, "04 01 00 00 00");
    tb_u64(b, 4); tb_u32(b, 2); tb_u16s(b, "a"); tb_u32(b, 2); tb_u16s(b, "b"); tb_u32(b, 0);
    tb_u16(b, 2); tb_put(b, "xy", 2);
    tb_u8(b, 16); for (int i = 0; i < 16; i++) tb_u8(b, 1);
    tb_u64(b, 0); tb_u32(b, 1); tb_u8(b, 'q');
    tb_u8(b, TDS_TOK_NBCROW); tb_hex(b, "0F");
    tb_done(b, TDS_TOK_DONEINPROC, TDS_DONE_MORE | TDS_DONE_COUNT, 0xC1, 2);
    tb_u8(b, TDS_TOK_RETURNSTATUS); tb_u32(b, 0);
    tb_u8(b, TDS_TOK_RETURNVALUE); tb_u16(b, 1); tb_bvarchar(b, "@o"); tb_u8(b, 1);
    tb_u32(b, 0); tb_u16(b, 1); tb_hex(b, "26 04 04 05 00 00 00");
    tb_done(b, TDS_TOK_DONEPROC, 0, 0xE0, 0);
}

Test(token_malformed, valid_stream_decodes)
{
    tb b = {0};
    valid_stream(&b);
    char *t = run(&client, &b);
    cr_assert_str_eq(t,
        "ENVCHANGE type=1 new=db old=master rawlen=0/0 port=0 server=\n"
        "INFO 5701 state=2 class=0 msg=ctx server=S proc= line=1\n"
        "COLMETADATA n=4 [i type=0x26 kind=3 len=4 p=0 s=0 flags=0x1 cp=0] "
        "[m type=0xe7 kind=19 len=65535 p=0 s=0 flags=0x1 cp=1252] "
        "[v type=0xa7 kind=18 len=16 p=0 s=0 flags=0x1 cp=1252] "
        "[t type=0x23 kind=18 len=2147483647 p=0 s=0 flags=0x1 cp=1252]\n"
        "ROW 1 | ab | xy | q\n"
        "ROW NULL | NULL | NULL | NULL\n"
        "DONE tok=0xff status=0x11 cmd=193 rows=2\n"
        "RETURNSTATUS 0\n"
        "RETURNVALUE 1 @o status=1 5\n"
        "DONE tok=0xfe status=0x0 cmd=224 rows=0\n"
        "END\n");
    free(t);
    free(b.p);
}

/* Every prefix of the valid stream, sent as a complete message, decodes
 * to a prefix of the full transcript and then ends cleanly (at a token
 * boundary) or with a protocol error — never hangs, never reads past. */
Test(token_malformed, every_truncation)
{
    tb b = {0};
    valid_stream(&b);
    size_t flen;
    uint8_t *fw = tb_wire(&b, 4096, &flen);
    char *full = tb_decode(&client, NULL, fw, flen);
    free(fw);
    for (size_t k = 0; k < b.n; k++) {
        tb p = { b.p, k, k };
        size_t len;
        uint8_t *wire = tb_wire(&p, 512, &len);
        char *t = k < 40 ? tb_three_ways(&client, NULL, wire, len) : tb_decode(&client, NULL, wire, len);
        char *last = t + strlen(t) - 1;
        while (last > t && last[-1] != '\n')
            last--;
        bool clean = strcmp(last, "END\n") == 0;
        cr_assert(clean || strcmp(last, PROTO) == 0, "prefix %zu: %s", k, t);
        cr_assert_eq(strncmp(full, t, (size_t)(last - t)), 0, "prefix %zu: %s", k, t);
        free(t);
        free(wire);
    }
    free(full);
    free(b.p);
}

Test(token_malformed, unknown_token_offset)
{
    tb b = {0};
    tb_done(&b, TDS_TOK_DONE, TDS_DONE_MORE, 0, 0);
    tb_u8(&b, 0x01);
    char *t = run(&client, &b);
    cr_assert_str_eq(t, "DONE tok=0xfd status=0x1 cmd=0 rows=0\n" PROTO);
    free(t);
    uint64_t off;
    cr_assert_eq(error_at(&b, &off), TDS_E_PROTO);
    cr_assert_eq(off, 13);
    free(b.p);
}

Test(token_malformed, unsupported_tokens)
{
    static const uint8_t toks[] = { TDS_TOK_SSPI, TDS_TOK_ALTMETADATA, TDS_TOK_ALTROW,
                                    TDS_TOK_OFFSET, TDS_TOK_SESSIONSTATE, TDS_TOK_DATACLASSIFICATION };
    for (size_t i = 0; i < sizeof toks; i++) {
        tb b = {0};
        tb_u8(&b, toks[i]); tb_hex(&b, "04 00 01 02 03 04");
        char *t = run(&client, &b);
        cr_assert_str_eq(t, UNSUP, "token 0x%02x", toks[i]);
        free(t);
        free(b.p);
    }
}

Test(token_malformed, impossible_column_counts)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 4097);
    char *t = run(&client, &b);
    cr_assert_str_eq(t, PROTO);
    free(t);
    uint64_t off;
    cr_assert_eq(error_at(&b, &off), TDS_E_PROTO);
    cr_assert_eq(off, 1);
    free(b.p);
    /* a count larger than the columns that follow */
    tb c = {0};
    tb_u8(&c, TDS_TOK_COLMETADATA); tb_u16(&c, 3);
    tb_col(&c, 1, "38", "a");
    tb_done(&c, TDS_TOK_DONE, 0, 0, 0);
    t = run(&client, &c);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(c.p);
}

Test(token_malformed, row_without_metadata)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_ROW); tb_u32(&b, 1);
    char *t = run(&client, &b);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(b.p);
}

Test(token_malformed, lengths_beyond_message_or_type)
{
    struct { const char *ti, *row; const char *err; } c[] = {
        { "A7 0A 00 09 04 D0 00 34", "0B 00 61 61 61 61 61 61 61 61 61 61 61", PROTO }, /* > max_len */
        { "A7 0A 00 09 04 D0 00 34", "09 00 61", PROTO },            /* past the message */
        { "E7 0A 00 09 04 D0 00 34", "03 00 61 00 62", PROTO },      /* odd UTF-16 */
        { "26 04", "03 01 02 03", PROTO },                          /* INTN(3) */
        { "26 04", "08 01 02 03 04 05 06 07 08", PROTO },            /* beyond INTN(4) */
        { "24 10", "04 01 02 03 04", PROTO },                        /* short GUID */
        { "29 07", "03 00 00 00", PROTO },                           /* time(7) needs 5 */
        { "62 50 1F 00 00", "01 00 00 00 38", PROTO },               /* variant of 1 byte */
        { "22 FF FF FF 7F", "10 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
                                        " 00 00 00 00 00 00 00 00 F0 FF FF 7F 00", TOOBIG },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        tb b = {0};
        tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 1);
        tb_u32(&b, 0); tb_u16(&b, 1); tb_hex(&b, c[i].ti);
        if (c[i].ti[0] == '2' && c[i].ti[1] == '2')
            tb_hex(&b, "01 00 00"); /* image: a one-part, empty table name */
        tb_bvarchar(&b, "c");
        tb_u8(&b, TDS_TOK_ROW); tb_hex(&b, c[i].row);
        char *t = run(&client, &b);
        const char *nl = strchr(t, '\n');
        cr_assert_str_eq(nl ? nl + 1 : t, c[i].err, "case %zu: %s", i, t);
        free(t);
        free(b.p);
    }
}

Test(token_malformed, bad_typeinfo)
{
    const char *bad[] = {
        "99",                          /* unknown type */
        "A7 41 1F 09 04 D0 00 34",     /* varchar(8001) */
        "AF FF FF 09 04 D0 00 34",     /* char(max) */
        "26 03",                       /* INTN(3) */
        "6A 11 27 02",                 /* precision 39 */
        "29 08",                       /* time(8) */
        "F1 02",                       /* XML schema flag 2 */
        "62 00 00 00 00",              /* variant max 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tb b = {0};
        meta1(&b, bad[i]);
        char *t = run(&client, &b);
        cr_assert_str_eq(t, PROTO, "typeinfo %s", bad[i]);
        free(t);
        uint64_t off;
        cr_assert_eq(error_at(&b, &off), TDS_E_PROTO);
        /* token 1, count 2, user type 4, flags 2: the type byte is at 9 */
        cr_assert(off == 9 || off == 10, "typeinfo %s at %llu", bad[i], (unsigned long long)off);
        free(b.p);
    }
    /* Always Encrypted columns */
    tb b = {0};
    tb_u8(&b, TDS_TOK_COLMETADATA); tb_u16(&b, 1);
    tb_col(&b, TDS_COL_ENCRYPTED, "38", "c");
    char *t = run(&client, &b);
    cr_assert_str_eq(t, UNSUP);
    free(t);
    free(b.p);
}

Test(token_malformed, plp_lies)
{
    const char *rows[] = {
        "05 00 00 00 00 00 00 00 02 00 00 00 61 00 00 00 00 00",       /* sum < total */
        "02 00 00 00 00 00 00 00 04 00 00 00 61 00 62 00 00 00 00 00", /* chunk > total */
        "FE FF FF FF FF FF FF FF 00 00 00 80",                          /* chunk >= 2^31 */
        "FE FF FF FF FF FF FF FF 10 00 00 00 61 00",                    /* chunk past message */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (int stream = 0; stream < 2; stream++) {
            tb b = {0};
            meta1(&b, "E7 FF FF 09 04 D0 00 34");
            tb_u8(&b, TDS_TOK_ROW); tb_hex(&b, rows[i]);
            tds_session_opts o = { .stream_plp = stream };
            char *t = run(&o, &b);
            const char *e = strstr(t, "ERROR");
            cr_assert_not_null(e, "case %zu: %s", i, t);
            cr_assert_str_eq(e, PROTO, "case %zu: %s", i, t);
            free(t);
            free(b.p);
        }
    }
    /* a total beyond max_row */
    tb b = {0};
    meta1(&b, "A5 FF FF");
    tb_u8(&b, TDS_TOK_ROW); tb_u64(&b, 1ull << 40);
    char *t = run(&client, &b);
    cr_assert_str_eq(strchr(t, '\n') + 1, TOOBIG);
    free(t);
    free(b.p);
}

Test(token_malformed, featureextack_unrequested_and_sspi)
{
    tb b = {0};
    tb_u8(&b, TDS_TOK_FEATUREEXTACK); tb_u8(&b, TDS_FEAT_SESSIONRECOVERY); tb_u32(&b, 0); tb_u8(&b, 0xFF);
    char *t = run(&client, &b);
    cr_assert_str_eq(t, "ERROR server acknowledged a feature that was not requested\n");
    free(t);
    uint64_t off;
    cr_assert_eq(error_at(&b, &off), TDS_E_FEATURE);
    cr_assert_eq(off, 1);
    free(b.p);
    tb s = {0};
    tb_u8(&s, TDS_TOK_SSPI); tb_u16(&s, 2); tb_hex(&s, "4E 54");
    t = run(&client, &s);
    cr_assert_str_eq(t, UNSUP);
    free(t);
    free(s.p);
}

Test(token_malformed, bad_envchange)
{
    tb a = {0};
    tb_env_str(&a, TDS_ENV_PACKETSIZE, "100", "4096");
    char *t = run(&client, &a);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(a.p);
    tb b = {0};
    tb_env_str(&b, TDS_ENV_PACKETSIZE, "4k", "4096");
    t = run(&client, &b);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(b.p);
    tb c = {0};
    tb_env_bytes(&c, TDS_ENV_BEGIN_TRAN, "01 02", "");
    t = run(&client, &c);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(c.p);
    /* body shorter than its strings, unknown type, routing protocol 1 */
    tb d = {0};
    tb_u8(&d, TDS_TOK_ENVCHANGE); tb_u16(&d, 3); tb_u8(&d, 1); tb_u8(&d, 5); tb_u8(&d, 0);
    t = run(&client, &d);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(d.p);
    tb e = {0};
    tb_u8(&e, TDS_TOK_ENVCHANGE); tb_u16(&e, 3); tb_u8(&e, 99); tb_u8(&e, 0); tb_u8(&e, 0);
    t = run(&client, &e);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(e.p);
    tb f = {0};
    tb_u8(&f, TDS_TOK_ENVCHANGE); tb_u16(&f, 10); tb_u8(&f, 20);
    tb_u16(&f, 5); tb_u8(&f, 1); tb_u16(&f, 1433); tb_u16(&f, 0); tb_u16(&f, 0);
    t = run(&client, &f);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(f.p);
}

Test(token_malformed, message_ends_inside_token)
{
    tb b = {0};
    tb_msg(&b, TDS_TOK_INFO, 1, 1, 1, "hello", "s", "p", 1);
    b.n -= 2;
    char *t = run(&client, &b);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(b.p);
    /* ERROR whose length field says more than it holds */
    tb c = {0};
    tb_u8(&c, TDS_TOK_ERROR); tb_u16(&c, 0xFFFF); tb_u32(&c, 1);
    t = run(&client, &c);
    cr_assert_str_eq(t, PROTO);
    free(t);
    free(c.p);
}
