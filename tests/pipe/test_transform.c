/* test_transform.c — pipe/mask.c, pipe/trim.c, pipe/transform.c: each mask
 * algorithm's exact output against published vectors (FIPS 180-2 SHA-256,
 * RFC 1321 MD5, RFC 4231 HMAC-SHA256) and ingestr's documented examples;
 * trimming nchar and char text; NULLs; a streamed (max) value; the
 * columns a masked load hands the destination. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "transform_int.h"

static char *masked(const char *spec, const char *in)
{
    pipe_mask m;
    char why[300];
    cr_assert_eq(pipe_mask_parse(spec, &m, why, sizeof why), 0, "%s: %s", spec, why);
    pipe_bytes out = {0};
    cr_assert_eq(pipe_mask_apply(&m, in, strlen(in), &out), 0);
    char *s = strndup(out.p ? out.p : "", out.len);
    pipe_bytes_free(&out);
    pipe_mask_free(&m);
    return s;
}

#define MASKS_TO(spec, in, want)                                                                                  \
    do {                                                                                                           \
        char *got_ = masked(spec, in);                                                                             \
        cr_expect_str_eq(got_, want, "%s on '%s'", spec, in);                                                      \
        free(got_);                                                                                                \
    } while (0)

Test(mask, digests_match_published_vectors)
{
    /* FIPS 180-2 appendix B.1; the empty string */
    MASKS_TO("c:sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    MASKS_TO("c:hash", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    MASKS_TO("c:HASH", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* RFC 1321 A.5 */
    MASKS_TO("c:md5", "abc", "900150983cd24fb0d6963f7d28e17f72");
    MASKS_TO("c:md5", "", "d41d8cd98f00b204e9800998ecf8427e");
    MASKS_TO("c:md5", "message digest", "f96b697d7cb7938d525a2f31aaf161d0");
    /* RFC 4231 test case 2: key "Jefe" */
    MASKS_TO("c:hmac:Jefe", "what do ya want for nothing?",
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* RFC 4231 test case 6: a key longer than the block */
    char key[131 + 8] = "c:hmac:";
    memset(key + 7, 0xaa, 131);
    key[7 + 131] = '\0';
    MASKS_TO(key, "Test Using Larger Than Block-Size Key - Hash Key First",
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* the key is everything after the second ':' (openssl dgst -sha256 -hmac 'Je:fe') */
    MASKS_TO("c:hmac:Je:fe", "x", "5099c035aa3eea3e0b28a103856c3dae2bf63221925f51c2d12258eea894b35d");
}

/* One mask, many values: the reused digest state starts afresh each time. */
Test(mask, digests_reused_across_values)
{
    static const char *const specs[] = {"c:sha256", "c:md5", "c:hmac:Jefe"};
    static const char *const want[][2] = {
        {"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"900150983cd24fb0d6963f7d28e17f72", "d41d8cd98f00b204e9800998ecf8427e"},
        {"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    };
    static const char *const in[][2] = {{"abc", ""}, {"abc", ""},
                                        {"what do ya want for nothing?", "what do ya want for nothing?"}};
    for (int s = 0; s < 3; s++) {
        pipe_mask m;
        char why[300];
        cr_assert_eq(pipe_mask_parse(specs[s], &m, why, sizeof why), 0, "%s", why);
        pipe_bytes out = {0};
        for (int round = 0; round < 3; round++)
            for (int v = 0; v < 2; v++) {
                cr_assert_eq(pipe_mask_apply(&m, in[s][v], strlen(in[s][v]), &out), 0);
                cr_expect(out.len == strlen(want[s][v]) && !memcmp(out.p, want[s][v], out.len), "%s value %d round %d",
                          specs[s], v, round);
            }
        pipe_bytes_free(&out);
        pipe_mask_free(&m);
    }
}

Test(mask, text_algorithms_as_ingestr)
{
    MASKS_TO("c:redact", "Customer complaint about...", "REDACTED");
    MASKS_TO("c:redact", "", "REDACTED");
    MASKS_TO("c:stars", "secret123", "*********");
    MASKS_TO("c:stars", "Zoë 😀", "*****"); /* characters, not bytes */
    MASKS_TO("c:stars", "", "");
    MASKS_TO("c:fixed", "anything", "MASKED");
    MASKS_TO("c:fixed:N/A", "anything", "N/A");
    MASKS_TO("c:fixed:", "anything", "");
    MASKS_TO("c:fixed:a:b", "anything", "a:b");
    MASKS_TO("c:partial:2", "Jonathan", "Jo****an"); /* ingestr's docs */
    MASKS_TO("c:partial", "Jonathan", "Jo****an");   /* default 2 */
    MASKS_TO("c:partial:3", "+1-555-123-4567", "+1-*********567");
    MASKS_TO("c:partial:2", "abcd", "****");         /* 2N or shorter: all stars */
    MASKS_TO("c:partial:2", "abc", "***");
    MASKS_TO("c:partial:2", "", "");
    MASKS_TO("c:partial:0", "Jonathan", "Jo****an"); /* not positive: 2 */
    MASKS_TO("c:partial:x", "Jonathan", "Jo****an");
    MASKS_TO("c:partial:3", "Zoë Ünicode", "Zoë*****ode");
    MASKS_TO("c:partial:1", "ü😀ab€", "ü***€");
}

Test(mask, bad_specs)
{
    static const char *const bad[][2] = {
        {"email", "column:algorithm"},        {":hash", "required"},
        {"e:", "required"},                   {"e:nope", "unknown mask algorithm 'nope'"},
        {"e:first_letter", "not supported"},  {"e:hmac", "requires a key"},
        {"e:hmac:", "requires a key"},        {"e:date_shift:3", "not supported"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pipe_mask m;
        char why[300] = "";
        cr_expect_eq(pipe_mask_parse(bad[i][0], &m, why, sizeof why), -1, "%s", bad[i][0]);
        cr_expect(strstr(why, bad[i][1]), "%s: '%s'", bad[i][0], why);
        pipe_mask_free(&m);
    }
    pipe_mask m;
    char why[300] = "";
    cr_assert_eq(pipe_mask_parse("e:hmac:TOPSECRET", &m, why, sizeof why), 0);
    pipe_mask_free(&m);
    cr_assert_eq(pipe_mask_parse("e:HMAC", &m, why, sizeof why), -1);
    cr_assert(!strstr(why, "TOPSECRET"));
}

/* ------------------------------------------------------------- trim */

static tds_column text_col(uint8_t type, uint32_t max_len, const char *name)
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, max_len, 0, 0), TDS_OK);
    c.name = (tds_str){name, strlen(name)};
    c.flags |= TDS_COL_NULLABLE;
    return c;
}

/* v over buf: text encoded in c's encoding */
static tds_value enc(const tds_column *c, const char *utf8, uint8_t *buf, size_t cap)
{
    int n = tds_encode_text(c, utf8, strlen(utf8), buf, cap);
    cr_assert(n >= 0, "encode '%s'", utf8);
    return (tds_value){buf, (uint32_t)n, 0};
}

static char *utf8_of(const tds_column *c, const tds_value *v)
{
    static char out[512];
    size_t n = 0;
    cr_assert_eq(tds_value_utf8(c, v, out, sizeof out, &n), TDS_OK);
    out[n] = '\0';
    return out;
}

Test(trim, nchar_unicode_spaces)
{
    tds_column c = text_col(TDS_T_NVARCHAR, 400, "n");
    uint8_t buf[400];
    tds_value v = enc(&c, " \t\n\v\f\r\u00a0\u2003\u3000A-123 b\u3000\r\n", buf, sizeof buf);
    pipe_trim_value(&c, &v);
    cr_assert_str_eq(utf8_of(&c, &v), "A-123 b");
    v = enc(&c, "  Alice  ", buf, sizeof buf);
    pipe_trim_value(&c, &v);
    cr_assert_str_eq(utf8_of(&c, &v), "Alice");
    v = enc(&c, "ACME  Inc", buf, sizeof buf); /* interior kept */
    pipe_trim_value(&c, &v);
    cr_assert_str_eq(utf8_of(&c, &v), "ACME  Inc");
    v = enc(&c, " \t \n", buf, sizeof buf);   /* all whitespace: empty, not NULL */
    pipe_trim_value(&c, &v);
    cr_assert_eq(v.len, 0);
    cr_assert(!(v.flags & TDS_VF_NULL));
    v = enc(&c, "\u200bx", buf, sizeof buf);   /* a zero-width space is no space to Go */
    pipe_trim_value(&c, &v);
    cr_assert_str_eq(utf8_of(&c, &v), "\u200bx");
}

Test(trim, char_ascii_whitespace)
{
    tds_column c = text_col(TDS_T_BIGVARCHR, 200, "v");
    uint8_t buf[200];
    tds_value v = enc(&c, "\t  x y \r\n", buf, sizeof buf);
    pipe_trim_value(&c, &v);
    cr_assert_eq(v.len, 3);
    cr_assert_eq(memcmp(v.ptr, "x y", 3), 0);
    tds_value null = {NULL, 0, TDS_VF_NULL};
    pipe_trim_value(&c, &null);
    cr_assert(null.flags & TDS_VF_NULL);
    /* not text: untouched */
    tds_column i;
    cr_assert_eq(tds_column_init(&i, TDS_T_INTN, 4, 0, 0), TDS_OK);
    uint8_t four[4] = {0x20, 0, 0, 0x20};
    tds_value iv = {four, 4, 0};
    pipe_trim_value(&i, &iv);
    cr_assert_eq(iv.len, 4);
}

/* ------------------------------------------------------- the transform */

struct fixture {
    tds_column cols[4];
    uint8_t b_id[8], b_name[200], b_email[200];
};

static void three_columns(struct fixture *f)
{
    cr_assert_eq(tds_column_init(&f->cols[0], TDS_T_INTN, 4, 0, 0), TDS_OK);
    f->cols[0].name = (tds_str){"id", 2};
    f->cols[1] = text_col(TDS_T_NVARCHAR, 200, "Name");
    f->cols[2] = text_col(TDS_T_BIGVARCHR, 200, "email");
    f->cols[3] = text_col(TDS_T_NVARCHAR, 0xFFFF, "note"); /* (max): streamed */
}

Test(xform, none_asked_is_null)
{
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    pipe_xform *x = (pipe_xform *)1;
    char why[300];
    cr_assert_eq(pipe_xform_new(&o, &x, why, sizeof why), 0);
    cr_assert_null(x);
}

Test(xform, masks_trim_nulls_and_streamed_values)
{
    struct fixture f;
    three_columns(&f);
    const char *masks[] = {"EMAIL:md5", "name:partial:1", "id:sha256"};
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    o.trim_whitespace = true;
    o.masks = masks;
    o.nmasks = 3;
    pipe_xform *x = NULL;
    char why[300] = "";
    cr_assert_eq(pipe_xform_new(&o, &x, why, sizeof why), 0, "%s", why);
    cr_assert_not_null(x);
    const tds_column *out = NULL;
    cr_assert_eq(pipe_xform_columns(x, f.cols, 4, &out, why, sizeof why), 0, "%s", why);
    /* masked columns are nvarchar, sized to the digest where it has one */
    cr_assert_eq(out[0].type, TDS_T_NVARCHAR);
    cr_assert_eq(out[0].max_len, 128);
    cr_assert_str_eq(out[0].name.ptr, "id");
    cr_assert_eq(out[2].kind, TDS_K_NCHAR);
    cr_assert_eq(out[2].max_len, 64);
    cr_assert(out[2].flags & TDS_COL_NULLABLE);
    cr_assert_eq(out[1].max_len, 0xFFFF);
    cr_assert_eq(out[3].type, TDS_T_NVARCHAR); /* trimmed only: its own type */
    cr_assert_eq(out[3].max_len, 0xFFFF);

    tds_value row[4];
    int n = tds_encode_int(&f.cols[0], 7, f.b_id, sizeof f.b_id);
    cr_assert(n > 0);
    row[0] = (tds_value){f.b_id, (uint32_t)n, 0};
    row[1] = enc(&f.cols[1], "  Ada  ", f.b_name, sizeof f.b_name);
    row[2] = (tds_value){NULL, 0, TDS_VF_NULL};
    row[3] = (tds_value){NULL, 0, TDS_VF_STREAMED};
    uint8_t note[64];
    tds_value nv = enc(&f.cols[3], "\t order 1 \n", note, sizeof note);
    cr_assert_eq(pipe_xform_chunk(x, 3, nv.ptr, 4), 1, "a touched column's chunk stays here");
    cr_assert_eq(pipe_xform_chunk(x, 3, nv.ptr + 4, nv.len - 4), 1);
    const tds_value *got = NULL;
    cr_assert_eq(pipe_xform_row(x, row, &got, why, sizeof why), 0, "%s", why);
    /* sha256("7"), independently: printf 7 | sha256sum */
    cr_assert_str_eq(utf8_of(&out[0], &got[0]), "7902699be42c8a8e46fbbb4501726517e86b22c56a189f7625a6da49081b2451");
    cr_assert_str_eq(utf8_of(&out[1], &got[1]), "A*a"); /* trimmed, then masked */
    cr_assert(got[2].flags & TDS_VF_NULL, "a masked NULL stays NULL");
    cr_assert(!(got[3].flags & TDS_VF_STREAMED), "handed whole");
    cr_assert_str_eq(utf8_of(&out[3], &got[3]), "order 1");

    /* the next row: chunks do not carry over */
    row[2] = enc(&f.cols[2], " abc ", f.b_email, sizeof f.b_email);
    row[3] = (tds_value){NULL, 0, TDS_VF_NULL};
    cr_assert_eq(pipe_xform_row(x, row, &got, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(utf8_of(&out[2], &got[2]), "900150983cd24fb0d6963f7d28e17f72", "md5 of the trimmed 'abc'");
    cr_assert(got[3].flags & TDS_VF_NULL);
    pipe_xform_free(x);
}

Test(xform, untouched_columns_pass_as_they_came)
{
    struct fixture f;
    three_columns(&f);
    const char *masks[] = {"id:redact"};
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    o.masks = masks;
    o.nmasks = 1;
    pipe_xform *x = NULL;
    char why[300] = "";
    cr_assert_eq(pipe_xform_new(&o, &x, why, sizeof why), 0, "%s", why);
    const tds_column *out = NULL;
    cr_assert_eq(pipe_xform_columns(x, f.cols, 4, &out, why, sizeof why), 0, "%s", why);
    cr_assert_eq(out[0].max_len, 16, "redact: nvarchar(8)");
    uint8_t chunk[2] = {'a', 0};
    cr_assert_eq(pipe_xform_chunk(x, 3, chunk, 2), 0, "no trim: the note streams on");
    tds_value row[4];
    int n = tds_encode_int(&f.cols[0], 1, f.b_id, sizeof f.b_id);
    row[0] = (tds_value){f.b_id, (uint32_t)n, 0};
    row[1] = enc(&f.cols[1], "  Ada  ", f.b_name, sizeof f.b_name);
    row[2] = enc(&f.cols[2], " e ", f.b_email, sizeof f.b_email);
    row[3] = (tds_value){NULL, 2, TDS_VF_STREAMED};
    const tds_value *got = NULL;
    cr_assert_eq(pipe_xform_row(x, row, &got, why, sizeof why), 0, "%s", why);
    cr_assert_str_eq(utf8_of(&out[0], &got[0]), "REDACTED");
    cr_assert_eq(got[1].ptr, row[1].ptr);
    cr_assert_eq(got[1].len, row[1].len, "no --trim-whitespace: kept as is");
    cr_assert_eq(got[2].ptr, row[2].ptr);
    cr_assert_eq(got[3].flags, TDS_VF_STREAMED);
    cr_assert_eq(got[3].len, 2);
    pipe_xform_free(x);
}

Test(xform, mask_of_a_missing_column_is_usage)
{
    struct fixture f;
    three_columns(&f);
    const char *masks[] = {"email:hash", "ssn:redact"};
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    o.masks = masks;
    o.nmasks = 2;
    pipe_xform *x = NULL;
    char why[300] = "";
    cr_assert_eq(pipe_xform_new(&o, &x, why, sizeof why), 0, "%s", why);
    const tds_column *out = NULL;
    cr_assert_eq(pipe_xform_columns(x, f.cols, 4, &out, why, sizeof why), TDSPIPE_E_USAGE);
    cr_assert(strstr(why, "--mask") && strstr(why, "'ssn'"), "%s", why);
    pipe_xform_free(x);
    const char *bad[] = {"email:rot13"};
    o.masks = bad;
    o.nmasks = 1;
    cr_assert_eq(pipe_xform_new(&o, &x, why, sizeof why), TDSPIPE_E_USAGE);
    cr_assert_null(x);
    cr_assert(strstr(why, "rot13"), "%s", why);
}
