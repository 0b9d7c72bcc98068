/*
 * token_build.h — helpers for the token decoder's tests: a byte builder for
 * hand-made token streams (little-endian fields, B_VARCHAR/US_VARCHAR from
 * ASCII), a decode helper that returns every event's line, and a three-way
 * replay that can prepare the session first (requested features) and
 * coalesces streamed PLP chunks (their sizes follow the input's split
 * points by design; their bytes and order do not).
 */
#ifndef TDS_TEST_TOKEN_BUILD_H
#define TDS_TEST_TOKEN_BUILD_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds_int.h"
#include "vectors.h"

typedef struct tb {
    uint8_t *p;
    size_t n, cap;
} tb;

static inline void tb_put(tb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static inline void tb_u8(tb *b, uint8_t v) { tb_put(b, &v, 1); }
static inline void tb_u16(tb *b, uint16_t v) { uint8_t x[2]; tds_wle16(x, v); tb_put(b, x, 2); }
static inline void tb_u32(tb *b, uint32_t v) { uint8_t x[4]; tds_wle32(x, v); tb_put(b, x, 4); }
static inline void tb_u64(tb *b, uint64_t v) { uint8_t x[8]; tds_wle64(x, v); tb_put(b, x, 8); }
static inline void tb_hex(tb *b, const char *hex)
{
    size_t n;
    uint8_t *x = tv_hex(hex, &n);
    tb_put(b, x, n);
    free(x);
}
/* ASCII as UTF-16LE code units. */
static inline void tb_u16s(tb *b, const char *s)
{
    for (; *s; s++) {
        tb_u8(b, (uint8_t)*s);
        tb_u8(b, 0);
    }
}
static inline void tb_bvarchar(tb *b, const char *s) { tb_u8(b, (uint8_t)strlen(s)); tb_u16s(b, s); }
static inline void tb_usvarchar(tb *b, const char *s) { tb_u16(b, (uint16_t)strlen(s)); tb_u16s(b, s); }
/* Patches a 2-byte length at `at` to cover everything after it. */
static inline void tb_len16(tb *b, size_t at) { tds_wle16(b->p + at, (uint16_t)(b->n - at - 2)); }

/* Token helpers. */
static inline void tb_done(tb *b, uint8_t tok, uint16_t status, uint16_t cmd, uint64_t rows)
{
    tb_u8(b, tok); tb_u16(b, status); tb_u16(b, cmd); tb_u64(b, rows);
}
static inline void tb_env_str(tb *b, uint8_t type, const char *nv, const char *ov)
{
    tb_u8(b, TDS_TOK_ENVCHANGE);
    size_t at = b->n;
    tb_u16(b, 0);
    tb_u8(b, type);
    tb_bvarchar(b, nv);
    tb_bvarchar(b, ov);
    tb_len16(b, at);
}
static inline void tb_env_bytes(tb *b, uint8_t type, const char *nv_hex, const char *ov_hex)
{
    size_t nn, on;
    uint8_t *nv = tv_hex(nv_hex, &nn), *ov = tv_hex(ov_hex, &on);
    tb_u8(b, TDS_TOK_ENVCHANGE);
    size_t at = b->n;
    tb_u16(b, 0);
    tb_u8(b, type);
    tb_u8(b, (uint8_t)nn); tb_put(b, nv, nn);
    tb_u8(b, (uint8_t)on); tb_put(b, ov, on);
    tb_len16(b, at);
    free(nv);
    free(ov);
}
static inline void tb_msg(tb *b, uint8_t tok, int32_t number, uint8_t state, uint8_t cls,
                          const char *text, const char *server, const char *proc, int32_t line)
{
    tb_u8(b, tok);
    size_t at = b->n;
    tb_u16(b, 0);
    tb_u32(b, (uint32_t)number); tb_u8(b, state); tb_u8(b, cls);
    tb_usvarchar(b, text); tb_bvarchar(b, server); tb_bvarchar(b, proc);
    tb_u32(b, (uint32_t)line);
    tb_len16(b, at);
}
/* COLMETADATA column: UserType 0, flags, then raw TYPE_INFO hex, name. */
static inline void tb_col(tb *b, uint16_t flags, const char *typeinfo_hex, const char *name)
{
    tb_u32(b, 0);
    tb_u16(b, flags);
    tb_hex(b, typeinfo_hex);
    tb_bvarchar(b, name);
}

/* Frames b as a REPLY message in packets of pkt bytes. */
static inline uint8_t *tb_wire(const tb *b, size_t pkt, size_t *len)
{
    return tv_packetize(TDS_PKT_REPLY, b->p, b->n, pkt, len);
}

typedef void (*tb_setup_fn)(tds_session *s);

static inline void tb_app(char **out, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    *out = realloc(*out, *len + (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(*out + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

/* FNV-1a over streamed PLP bytes, per value. */
typedef struct tb_plp { int col; size_t len; uint32_t h; } tb_plp;

static inline void tb_line(char **out, size_t *olen, tb_plp *plp, const tds_event *ev)
{
    if (ev->type == TDS_EV_PLP_CHUNK) {
        if (plp->col != ev->u.plp.col) {
            plp->col = ev->u.plp.col;
            plp->len = 0;
            plp->h = 2166136261u;
        }
        for (size_t i = 0; i < ev->u.plp.len; i++)
            plp->h = (plp->h ^ ev->u.plp.data[i]) * 16777619u;
        plp->len += ev->u.plp.len;
        if (ev->u.plp.len == 0) {
            tb_app(out, olen, "PLPVALUE col=%d len=%zu fnv=%08x\n", plp->col, plp->len, plp->h);
            plp->col = -1;
        }
        return;
    }
    tv_event_line(out, olen, ev);
}

/* Like tv_transcript, with a setup hook and coalesced PLP chunks. */
static inline char *tb_transcript(const tds_session_opts *opts, tb_setup_fn setup,
                                  const uint8_t *wire, size_t len, const size_t *cuts, size_t ncuts)
{
    tds_session *s = tds_session_new(opts);
    cr_assert_not_null(s);
    if (setup)
        setup(s);
    char *out = calloc(1, 1);
    size_t olen = 0, from = 0;
    tb_plp plp = { -1, 0, 0 };
    bool failed = false;
    for (size_t k = 0; k <= ncuts && !failed; k++) {
        size_t to = k < ncuts ? cuts[k] : len;
        while (from < to && !failed) {
            ptrdiff_t took = tds_feed(s, wire + from, to - from);
            if (took < 0) {
                tb_app(&out, &olen, "ERROR %s\n", tds_strerror((int)took));
                failed = true;
                break;
            }
            from += (size_t)took;
            tds_event ev;
            int rc;
            while ((rc = tds_next(s, &ev)) == 1)
                tb_line(&out, &olen, &plp, &ev);
            if (rc < 0) {
                tb_app(&out, &olen, "ERROR %s\n", tds_strerror(rc));
                failed = true;
            } else if (took == 0) {
                tb_app(&out, &olen, "STUCK\n");
                failed = true;
            }
        }
    }
    tds_session_free(s);
    return out;
}

/* Whole, byte at a time, split at every offset: all identical. Returns the
 * whole-fed transcript (malloc'd). */
static inline char *tb_three_ways(const tds_session_opts *opts, tb_setup_fn setup,
                                  const uint8_t *wire, size_t len)
{
    char *whole = tb_transcript(opts, setup, wire, len, NULL, 0);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    char *bytes = tb_transcript(opts, setup, wire, len, cuts, len ? len - 1 : 0);
    cr_assert_str_eq(bytes, whole, "byte-at-a-time transcript differs");
    free(bytes);
    for (size_t k = 1; k < len; k++) {
        char *split = tb_transcript(opts, setup, wire, len, &k, 1);
        cr_assert_str_eq(split, whole, "transcript split at %zu differs", k);
        free(split);
    }
    free(cuts);
    return whole;
}

/* Decodes a whole wire and returns the transcript (no replay). */
static inline char *tb_decode(const tds_session_opts *opts, tb_setup_fn setup,
                              const uint8_t *wire, size_t len)
{
    return tb_transcript(opts, setup, wire, len, NULL, 0);
}

#endif
