/*
 * test_memory.c — allocation failure walk (tds/memory.c and every caller):
 * a client decodes a reply (several result sets, rows spanning packets,
 * PLP values assembled, server messages) with an allocator that fails the
 * Nth allocation, for every N until decoding needs no more. Each run must
 * end in success with the reference transcript or in TDS_E_NOMEM — never a
 * crash, another error or a leak (the allocator counts what is live).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"
#include "vectors.h"

typedef struct failing {
    long countdown; /* allocations left before failing; <0 = never fail */
    long live;
    long calls;
} failing;

static void *f_malloc(void *ud, size_t n)
{
    failing *f = ud;
    f->calls++;
    if (f->countdown == 0)
        return NULL;
    if (f->countdown > 0)
        f->countdown--;
    void *p = malloc(n);
    if (p)
        f->live++;
    return p;
}

static void *f_realloc(void *ud, void *p, size_t n)
{
    failing *f = ud;
    f->calls++;
    if (f->countdown == 0)
        return NULL;
    if (f->countdown > 0)
        f->countdown--;
    void *q = realloc(p, n);
    if (q && !p)
        f->live++;
    return q;
}

static void f_free(void *ud, void *p)
{
    failing *f = ud;
    if (p)
        f->live--;
    free(p);
}

static uint8_t *reply(size_t *len)
{
    tds_session_opts so = {.role = TDS_ROLE_SERVER, .packet_size = 512};
    tds_session *s = tds_session_new(&so);
    tds_column cols[3];
    cr_assert_eq(tds_column_init(&cols[0], TDS_T_INTN, 4, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&cols[1], TDS_T_NVARCHAR, 0xFFFF, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&cols[2], TDS_T_BIGVARBIN, 0xFFFF, 0, 0), TDS_OK);
    const char *names[3] = {"id", "note", "blob"};
    for (int i = 0; i < 3; i++) {
        cols[i].name.ptr = names[i];
        cols[i].name.len = strlen(names[i]);
    }
    static uint8_t blob[3000];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (uint8_t)(i * 31);
    cr_assert_eq(tds_msg_begin(s, TDS_PKT_REPLY, 0), TDS_OK);
    tds_server_msg m = {.number = 5701, .state = 2, .message = {"Changed database context.", 25},
                        .server = {"srv", 3}, .line = 1};
    cr_assert_eq(tds_put_info(s, &m), TDS_OK);
    cr_assert_eq(tds_put_colmetadata(s, cols, 3), TDS_OK);
    for (int r = 0; r < 6; r++) {
        uint8_t b0[4];
        char note[64];
        int nl = snprintf(note, sizeof note, "row %d \xF0\x9F\x98\x80", r);
        tds_value v[3] = {{b0, (uint32_t)tds_encode_int(&cols[0], r, b0, 4), 0},
                          {(const uint8_t *)note, (uint32_t)nl, TDS_VF_UTF8},
                          {blob, (uint32_t)(r * 500), 0}};
        cr_assert_eq(tds_put_row(s, cols, v, 3), TDS_OK);
    }
    cr_assert_eq(tds_put_done(s, TDS_TOK_DONE, TDS_DONE_MORE | TDS_DONE_COUNT, 0xC1, 6), TDS_OK);
    m.number = 50000;
    m.severity = 16;
    m.message = (tds_str){"boom", 4};
    cr_assert_eq(tds_put_error(s, &m), TDS_OK);
    cr_assert_eq(tds_put_done(s, TDS_TOK_DONE, TDS_DONE_ERROR, 0xC1, 0), TDS_OK);
    cr_assert_eq(tds_msg_end(s), TDS_OK);
    const uint8_t *p;
    tds_send_buf(s, &p, len);
    uint8_t *copy = malloc(*len);
    memcpy(copy, p, *len);
    tds_session_free(s);
    return copy;
}

/* Decodes wire with the allocator; returns the transcript, or NULL when
 * the session could not be created, and the error in *err. */
static char *decode(const tds_alloc *a, const uint8_t *wire, size_t len, int *err)
{
    tds_session_opts co = {.packet_size = 512, .alloc = a};
    *err = 0;
    tds_session *c = tds_session_new(&co);
    if (!c)
        return NULL;
    char *out = calloc(1, 1);
    size_t olen = 0, off = 0;
    for (;;) {
        tds_event ev;
        int rc;
        while ((rc = tds_next(c, &ev)) == 1)
            tv_event_line(&out, &olen, &ev);
        if (rc < 0) {
            *err = rc;
            break;
        }
        if (off == len)
            break;
        ptrdiff_t took = tds_feed(c, wire + off, len - off);
        if (took < 0) {
            *err = (int)took;
            break;
        }
        off += (size_t)took;
    }
    tds_session_free(c);
    return out;
}

Test(memory, every_allocation_failure_is_clean)
{
    size_t len;
    uint8_t *wire = reply(&len);
    failing f = {.countdown = -1};
    tds_alloc a = {f_malloc, f_realloc, f_free, &f};
    int err;
    char *ref = decode(&a, wire, len, &err);
    cr_assert_eq(err, 0, "reference decode failed: %s", tds_strerror(err));
    cr_assert_eq(f.live, 0, "reference decode leaked %ld allocations", f.live);
    cr_assert(strstr(ref, "ROW 5 | row 5 \xF0\x9F\x98\x80 | 0x") != NULL, "%s", ref);
    long needed = f.calls;
    cr_assert_gt(needed, 2);
    for (long n = 0; n < needed; n++) {
        f = (failing){.countdown = n};
        char *t = decode(&a, wire, len, &err);
        cr_assert_eq(f.live, 0, "failing allocation %ld leaked %ld", n, f.live);
        if (t) {
            if (err == 0)
                cr_assert_str_eq(t, ref, "failing allocation %ld: wrong transcript", n);
            else
                cr_assert_eq(err, TDS_E_NOMEM, "failing allocation %ld: %s", n, tds_strerror(err));
            free(t);
        }
    }
    free(ref);
    free(wire);
}
