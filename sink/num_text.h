/*
 * num_text.h — number text and byte scans for the text sinks' hot path: the same
 * characters as the engine's canonical text (tds_value_text), written
 * straight into the sink's output buffer without the engine's per-value
 * dispatch. Integers here (inline: they are half the values of a typical
 * row), doubles in num_text.c, and sink__value_text_fast, which the text
 * sinks call for every value before anything else.
 *
 * An integer is cut into blocks of 8 digits (divisions by 10^8 are
 * multiplies); each block becomes its 8 ASCII digits in one 64-bit word
 * by splitting lanes in a register (4+4 digits, then 2+2, then 1+1: no
 * table, no loop), and the first block's leading zeros are shifted out
 * of the word rather than skipped digit by digit. Callers guarantee
 * SINK__INT_TEXT_ROOM free bytes, so every store is a whole word.
 */
#ifndef TDSPIPE_SINK_NUM_TEXT_H
#define TDSPIPE_SINK_NUM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tds.h"

/* Bytes out must have free for one number's text: up to 24 characters,
 * plus the 8-byte stores that may reach past the last one. */
#define SINK__INT_TEXT_ROOM 40

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The 8 decimal digits of x (< 10^8) as byte values 0..9, most
 * significant in the lowest byte (first in memory). */
static inline uint64_t sink__digits8(uint32_t x)
{
    uint64_t w = (uint64_t)(x / 10000) | (uint64_t)(x % 10000) << 32;  /* 4 | 4 */
    uint64_t hi = ((w * 10486) >> 20) & 0x0000007F0000007Full;          /* /100 per lane */
    w = hi | (w - 100 * hi) << 16;                                        /* 2 | 2 | 2 | 2 */
    hi = ((w * 103) >> 10) & 0x000F000F000F000Full;                       /* /10 per lane */
    return hi | (w - 10 * hi) << 8;                                       /* 1 | 1 | … */
}

static inline void sink__put8(char *out, uint32_t x)
{
    uint64_t w = sink__digits8(x) + 0x3030303030303030ull;
    memcpy(out, &w, 8);
}

/* x (< 10^8) without leading zeros; returns its length (1 for 0). */
static inline size_t sink__put_head(char *out, uint32_t x)
{
    uint64_t d = sink__digits8(x);
    unsigned zeros = d ? (unsigned)__builtin_ctzll(d) / 8 : 7;
    uint64_t w = (d + 0x3030303030303030ull) >> (8 * zeros);
    memcpy(out, &w, 8);
    return 8 - zeros;
}
#else
static inline void sink__put8(char *out, uint32_t x)
{
    for (int i = 7; i >= 0; i--, x /= 10)
        out[i] = (char)('0' + x % 10);
}

static inline size_t sink__put_head(char *out, uint32_t x)
{
    char q[8];
    size_t n = 0;
    do
        q[n++] = (char)('0' + x % 10);
    while (x /= 10);
    for (size_t i = 0; i < n; i++)
        out[i] = q[n - 1 - i];
    return n;
}
#endif

/* Decimal text of u, no NUL. out must have SINK__INT_TEXT_ROOM bytes
 * free; bytes past the returned length may be overwritten. */
static inline size_t sink__u64_text(uint64_t u, char *out)
{
    if (u < 100000000)
        return sink__put_head(out, (uint32_t)u);
    uint64_t hi = u / 100000000;
    uint32_t lo = (uint32_t)(u - hi * 100000000);
    size_t n;
    if (hi < 100000000) {
        n = sink__put_head(out, (uint32_t)hi);
    } else {
        uint64_t top = hi / 100000000; /* at most 1844 */
        n = sink__put_head(out, (uint32_t)top);
        sink__put8(out + n, (uint32_t)(hi - top * 100000000));
        n += 8;
    }
    sink__put8(out + n, lo);
    return n + 8;
}

static inline size_t sink__i64_text(int64_t v, char *out)
{
    if (v >= 0)
        return sink__u64_text((uint64_t)v, out);
    out[0] = '-';
    return 1 + sink__u64_text((uint64_t)0 - (uint64_t)v, out + 1);
}

/* The engine's text of a double (tds_value_text of a float column) when
 * v is one of the short decimals it writes in plain notation without
 * printf (1e-4 <= |v| < 1e14, the nearest double to n / 10^k, k <= 6);
 * 0 when it is not, and the engine must be asked. Same room rule. */
size_t sink__f64_text_short(double v, char *out);

/* Byte scans a word at a time (SWAR): x's 8 bytes in memory order. */
static inline uint64_t sink__word_at(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}
#define SINK__BYTES(b) (0x0101010101010101ull * (uint8_t)(b))
/* True when some byte of x is zero (exact: the borrow only runs past a
 * zero byte). */
static inline bool sink__word_has_zero(uint64_t x)
{
    return ((x - SINK__BYTES(1)) & ~x & SINK__BYTES(0x80)) != 0;
}
/* A byte CSV must quote: comma, quote, CR or LF. */
static inline bool sink__word_has_csv_special(uint64_t x)
{
    return sink__word_has_zero(x ^ SINK__BYTES(',')) || sink__word_has_zero(x ^ SINK__BYTES('"')) ||
           sink__word_has_zero(x ^ SINK__BYTES('\r')) || sink__word_has_zero(x ^ SINK__BYTES('\n'));
}
/* A byte a JSON string must escape: quote, backslash or below 0x20. */
static inline bool sink__word_has_json_special(uint64_t x)
{
    bool below = ((x - SINK__BYTES(0x20)) & ~x & SINK__BYTES(0x80)) != 0;
    return below || sink__word_has_zero(x ^ SINK__BYTES('"')) || sink__word_has_zero(x ^ SINK__BYTES('\\'));
}

/* True when no byte of s[0..n) must be escaped in a JSON string. */
static inline bool sink__json_plain(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        if (sink__word_has_json_special(sink__word_at(s + i)))
            return false;
    for (; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == '"' || ch == '\\')
            return false;
    }
    return true;
}

/* Little-endian reads, written so compilers make each one load. */
static inline uint32_t sink__le16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t sink__le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t sink__le64(const uint8_t *p) { return sink__le32(p) | (uint64_t)sink__le32(p + 4) << 32; }

/* The canonical text of an integer, bit or float value at out (which has
 * SINK__INT_TEXT_ROOM bytes free), as tds_value_text writes it; 0 when
 * the sink does not write this value itself (another kind, a length the
 * kind does not have, NULL, streamed, a double not in short form): the
 * engine decides then. The kind fixed the length, so the bytes are read
 * here without the engine's per-value dispatch. */
static inline size_t sink__value_text_fast(const tds_column *c, const tds_value *v, char *out)
{
    const uint8_t *p = v->ptr;
    if (!p || (v->flags & (TDS_VF_NULL | TDS_VF_STREAMED)))
        return 0;
    switch (c->kind) {
    case TDS_K_INT:
        return v->len == 4 ? sink__i64_text((int64_t)(sink__le32(p) ^ 0x80000000u) - 0x80000000, out) : 0;
    case TDS_K_BIGINT: {
        if (v->len != 8)
            return 0;
        uint64_t u = sink__le64(p);
        if (!(u >> 63))
            return sink__u64_text(u, out);
        out[0] = '-';
        return 1 + sink__u64_text(~u + 1, out + 1);
    }
    case TDS_K_FLOAT: {
        if (v->len != 8)
            return 0;
        uint64_t u = sink__le64(p);
        double d;
        memcpy(&d, &u, 8);
        return sink__f64_text_short(d, out);
    }
    case TDS_K_SMALLINT:
        return v->len == 2 ? sink__i64_text((int64_t)(sink__le16(p) ^ 0x8000u) - 0x8000, out) : 0;
    case TDS_K_TINYINT:
        return v->len == 1 ? sink__u64_text(p[0], out) : 0;
    case TDS_K_BIT:
        return v->len == 1 ? sink__u64_text(p[0] != 0, out) : 0;
    default:
        return 0;
    }
}

#endif
