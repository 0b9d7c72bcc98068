/*
 * generate.c — deterministic row generators. The value of column c at row
 * i (0-based) is a pure function of (i, the column's type, its generator
 * parameters start/step/modulo/null_every/width/prefix), so a client test
 * can recompute every value without asking the server. The functions are
 * documented in README.md ("Generated values"); keep the two in step.
 *
 *   x(i) = start + i*step            (modulo 0; 64-bit two's complement)
 *   x(i) = start + (i*step) mod M    (modulo M > 0)
 *   NULL when the column is nullable, null_every = k > 0 and i % k == k-1.
 *
 * Invariants: no allocation, no libc formatting on the hot path (the
 * narrow table is generated at several million rows per second); output
 * is wire bytes as a ROW carries them.
 */
#include <string.h>

#include "query_int.h"

#define DAYS_2020 737424ULL        /* 2020-01-01, days since 0001-01-01 */
#define TICKS_STEP 37231234567ULL  /* 1 h 2 min 3.1234567 s */
#define TICKS_DAY 864000000000ULL

void srv_gen_defaults(srv_coldef *d)
{
    memset(&d->gen, 0, sizeof d->gen);
    d->gen.start = 1;
    d->gen.step = 1;
}

static inline int64_t gen_x(const srv_gen *g, uint64_t i)
{
    uint64_t m = i * (uint64_t)g->step;
    if (g->modulo > 0) {
        int64_t sm = (int64_t)m;
        int64_t r = g->step >= 0 ? (int64_t)((i * (uint64_t)g->step) % (uint64_t)g->modulo)
                                 : sm % g->modulo;
        return (int64_t)((uint64_t)g->start + (uint64_t)r);
    }
    return (int64_t)((uint64_t)g->start + m);
}

static inline int64_t pmod(int64_t a, int64_t m)
{
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

/* Decimal digits of v (with '-') into buf; returns the length. */
static size_t i64_digits(int64_t v, char *buf)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    while (n)
        buf[o++] = tmp[--n];
    return o;
}

static inline void gen_put_le(uint8_t *o, uint64_t v, int n)
{
    for (int k = 0; k < n; k++)
        o[k] = (uint8_t)(v >> (8 * k));
}

size_t srv_gen_cap(const srv_coldef *d)
{
    if (d->col.kind == TDS_K_JSON || d->col.kind == TDS_K_VECTOR)
        return srv_t25_gen_cap(d);
    size_t w = d->gen.width;
    size_t cl = d->char_len > 0 && d->char_len < 100000 ? (size_t)d->char_len : 0;
    size_t chars = (w > cl ? w : cl) + sizeof d->gen.prefix + SRV_NAME_MAX + 32;
    return chars * 4 + 64;
}

bool srv_gen_monotonic(const srv_coldef *d)
{
    if (d->gen.step <= 0 || d->gen.modulo || (d->nullable && d->gen.null_every))
        return false;
    switch (d->col.kind) {
    case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_SMALLINT: case TDS_K_FLOAT: case TDS_K_REAL:
        return true;
    default:
        return false;
    }
}

/* The text of a text column: prefix + x, padded with a..z to width.
 * UTF-8 into buf; returns the length in bytes. */
static size_t gen_text(const srv_coldef *d, int64_t x, char *buf, size_t cap)
{
    size_t o = 0;
    if (d->gen.has_prefix) {
        size_t pl = strlen(d->gen.prefix);
        memcpy(buf, d->gen.prefix, pl);
        o = pl;
    } else {
        size_t nl = strlen(d->name);
        if (nl > 60)
            nl = 60;
        memcpy(buf, d->name, nl);
        buf[nl] = '-';
        o = nl + 1;
    }
    o += i64_digits(x, buf + o);
    while (o < d->gen.width && o + 1 < cap) {
        buf[o] = (char)('a' + o % 26);
        o++;
    }
    return o;
}

static uint32_t text_to_wire(const srv_coldef *d, const char *s, size_t n, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    bool wide = c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML;
    size_t limit = d->char_len > 0 ? (size_t)d->char_len : (size_t)-1;
    bool ascii = true;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)s[k] >= 0x80)
            ascii = false;
    size_t o = 0;
    if (ascii || !wide) {
        size_t m = n < limit ? n : limit;
        for (size_t k = 0; k < m; k++) {
            if (wide) {
                out[o++] = (uint8_t)s[k];
                out[o++] = 0;
            } else {
                out[o++] = (unsigned char)s[k] < 0x80 ? (uint8_t)s[k] : '?';
            }
        }
    } else {
        int r = tds_utf8_to_utf16(s, n, out, cap);
        o = r < 0 ? 0 : (size_t)r;
        if (o / 2 > limit)
            o = limit * 2;
    }
    if (c->type == TDS_T_BIGCHAR || c->type == TDS_T_NCHAR) {
        size_t chars = wide ? o / 2 : o;
        while (chars < limit) {
            out[o++] = ' ';
            if (wide)
                out[o++] = 0;
            chars++;
        }
    }
    return (uint32_t)o;
}

static void gen_time(int64_t x, uint64_t unit, int32_t *days, uint64_t *ticks)
{
    uint64_t t = (uint64_t)pmod(x, 100000) * TICKS_STEP;
    if (unit > 1)
        t = (t + unit / 2) / unit * unit;
    *days = (int32_t)(DAYS_2020 + t / TICKS_DAY);
    *ticks = t % TICKS_DAY;
}

static const uint64_t p10[] = { 1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL,
                                10000000ULL, 100000000ULL, 1000000000ULL, 10000000000ULL,
                                100000000000ULL, 1000000000000ULL, 10000000000000ULL,
                                100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
                                100000000000000000ULL, 1000000000000000000ULL };

uint32_t srv_gen_value(const srv_coldef *d, uint16_t colno, uint64_t i, uint8_t *out, size_t cap)
{
    (void)colno;
    const srv_gen *g = &d->gen;
    const tds_column *c = &d->col;
    if (d->nullable && g->null_every && i % g->null_every == g->null_every - 1)
        return SRV_NULL_LEN;
    int64_t x = gen_x(g, i);
    switch (c->kind) {
    case TDS_K_BIT: out[0] = (uint8_t)(x & 1); return 1;
    case TDS_K_TINYINT: out[0] = (uint8_t)x; return 1;
    case TDS_K_SMALLINT: gen_put_le(out, (uint64_t)x, 2); return 2;
    case TDS_K_INT: gen_put_le(out, (uint64_t)x, 4); return 4;
    case TDS_K_BIGINT: gen_put_le(out, (uint64_t)x, 8); return 8;
    case TDS_K_REAL: { float f = (float)((double)x / 4.0); memcpy(out, &f, 4); return 4; }
    case TDS_K_FLOAT: { double f = (double)x / 4.0; memcpy(out, &f, 8); return 8; }
    case TDS_K_SMALLMONEY: gen_put_le(out, (uint64_t)(int32_t)(x * 100), 4); return 4;
    case TDS_K_MONEY: {
        uint64_t u = (uint64_t)x * 100;
        gen_put_le(out, u >> 32, 4);
        gen_put_le(out + 4, (uint32_t)u, 4);
        return 8;
    }
    case TDS_K_DECIMAL: {
        unsigned p = c->precision > 18 ? 18 : c->precision;
        int64_t un = x % (int64_t)p10[p];
        uint32_t ml = c->precision <= 9 ? 4 : c->precision <= 19 ? 8 : c->precision <= 28 ? 12 : 16;
        out[0] = un < 0 ? 0 : 1;
        memset(out + 1, 0, ml);
        gen_put_le(out + 1, un < 0 ? (uint64_t)0 - (uint64_t)un : (uint64_t)un, 8 < ml ? 8 : (int)ml);
        return 1 + ml;
    }
    case TDS_K_DATE: gen_put_le(out, DAYS_2020 + (uint64_t)pmod(x, 36500), 3); return 3;
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: case TDS_K_TIME: case TDS_K_DATETIME2:
    case TDS_K_DATETIMEOFFSET: {
        bool small = c->type == TDS_T_DATETIMN ? c->max_len == 4 : c->kind == TDS_K_SMALLDATETIME;
        int32_t days;
        uint64_t ticks;
        if (c->type == TDS_T_DATETIMN || c->kind == TDS_K_DATETIME || c->kind == TDS_K_SMALLDATETIME) {
            if (small) {
                gen_time(x, 600000000ULL, &days, &ticks);
                gen_put_le(out, (uint64_t)(days - 693595), 2);
                gen_put_le(out + 2, ticks / 600000000ULL, 2);
                return 4;
            }
            gen_time(x, 1, &days, &ticks);
            uint64_t n300 = (ticks * 3 + 50000) / 100000;
            if (n300 >= 25920000) { n300 -= 25920000; days++; }
            gen_put_le(out, (uint64_t)(uint32_t)(days - 693595), 4);
            gen_put_le(out + 4, n300, 4);
            return 8;
        }
        uint8_t sc = c->scale > 7 ? 7 : c->scale;
        uint32_t tl = sc <= 2 ? 3 : sc <= 4 ? 4 : 5;
        gen_time(x, p10[7 - sc], &days, &ticks);
        if (c->kind == TDS_K_DATETIMEOFFSET) {
            int16_t off = (int16_t)((pmod(x, 57) - 28) * 30);
            int64_t t = (int64_t)ticks - (int64_t)off * 600000000LL;
            if (t < 0) { t += (int64_t)TICKS_DAY; days--; }
            else if (t >= (int64_t)TICKS_DAY) { t -= (int64_t)TICKS_DAY; days++; }
            gen_put_le(out, (uint64_t)t / p10[7 - sc], (int)tl);
            gen_put_le(out + tl, (uint64_t)days, 3);
            gen_put_le(out + tl + 3, (uint64_t)(uint16_t)off, 2);
            return tl + 5;
        }
        gen_put_le(out, ticks / p10[7 - sc], (int)tl);
        if (c->kind == TDS_K_TIME)
            return tl;
        gen_put_le(out + tl, (uint64_t)days, 3);
        return tl + 3;
    }
    case TDS_K_GUID: {
        uint64_t u = (uint64_t)x;
        gen_put_le(out, (uint32_t)u, 4);
        gen_put_le(out + 4, (uint16_t)(u >> 32), 2);
        gen_put_le(out + 6, 0x4000u | ((u >> 48) & 0x0FFFu), 2);
        out[8] = 0x80;
        out[9] = 0;
        for (int k = 0; k < 6; k++)
            out[10 + k] = (uint8_t)(u >> (40 - 8 * k));
        return 16;
    }
    case TDS_K_CHAR: case TDS_K_NCHAR: {
        char buf[512];
        char *t = buf;
        size_t need = (size_t)g->width + 128;
        if (need > sizeof buf) {
            /* long (max) values: build the text at the end of out, then
             * widen it to the front (UTF-16 never overtakes the source). */
            if (c->kind == TDS_K_NCHAR && cap >= need * 3) {
                t = (char *)out + cap - need;
            } else if (c->kind == TDS_K_CHAR && cap >= need) {
                size_t n = gen_text(d, x, (char *)out, cap);
                size_t limit = d->char_len > 0 ? (size_t)d->char_len : n;
                return (uint32_t)(n < limit ? n : limit);
            } else {
                return 0;
            }
        }
        size_t n = gen_text(d, x, t, need);
        return text_to_wire(d, t, n, out, cap);
    }
    case TDS_K_XML: {
        char buf[64];
        memcpy(buf, "<r i=\"", 6);
        size_t n = 6 + i64_digits(x, buf + 6);
        memcpy(buf + n, "\"/>", 3);
        return text_to_wire(d, buf, n + 3, out, cap);
    }
    case TDS_K_BINARY: {
        size_t n = g->width ? g->width
                 : c->type == TDS_T_BIGBINARY ? (size_t)d->char_len
                 : d->char_len > 0 && d->char_len < 8 ? (size_t)d->char_len : 8;
        if (d->char_len > 0 && n > (size_t)d->char_len)
            n = (size_t)d->char_len;
        if (n > cap)
            n = cap;
        for (size_t k = 0; k < n; k++)
            out[k] = (uint8_t)((uint64_t)x + k);
        return (uint32_t)n;
    }
    case TDS_K_JSON: case TDS_K_VECTOR:
        return srv_t25_gen(d, x, out, cap);
    case TDS_K_VARIANT: {
        int64_t sel = pmod(x, 3);
        if (sel == 0) {
            out[0] = TDS_T_INT4; out[1] = 0;
            gen_put_le(out + 2, (uint64_t)(uint32_t)(int32_t)x, 4);
            return 6;
        }
        if (sel == 2) {
            double f = (double)x / 4.0;
            out[0] = TDS_T_FLT8; out[1] = 0;
            memcpy(out + 2, &f, 8);
            return 10;
        }
        static const uint8_t coll[5] = { 0x09, 0x04, 0xD0, 0x00, 0x34 };
        char buf[128];
        srv_coldef tmp = *d;
        tmp.gen.width = 0;
        size_t n = gen_text(&tmp, x, buf, sizeof buf);
        out[0] = TDS_T_NVARCHAR; out[1] = 7;
        memcpy(out + 2, coll, 5);
        gen_put_le(out + 7, 8000, 2);
        int r = tds_utf8_to_utf16(buf, n, out + 9, cap - 9);
        return r < 0 ? 9 : (uint32_t)(9 + r);
    }
    default:
        return SRV_NULL_LEN;
    }
}

/* ------------------------------------------------------------ plans */

enum { GP_SLOW = 0, GP_BIT, GP_INT1, GP_INT2, GP_INT4, GP_INT8, GP_FLT4, GP_FLT8, GP_TEXT };

/* Longest padded text the fast text path builds on the stack. */
#define GP_TEXT_MAX 256u
_Static_assert(sizeof ((srv_genplan *)0)->img == 2 * GP_TEXT_MAX, "text image size");

void srv_genplan_init(srv_genplan *p, const srv_coldef *d)
{
    memset(p, 0, sizeof *p);
    p->d = d;
    p->null_every = d->nullable ? d->gen.null_every : 0;
    p->start = d->gen.start;
    p->step = d->gen.step;
    p->modulo = d->gen.modulo;
    switch (d->col.kind) {
    case TDS_K_BIT: p->op = GP_BIT; return;
    case TDS_K_TINYINT: p->op = GP_INT1; return;
    case TDS_K_SMALLINT: p->op = GP_INT2; return;
    case TDS_K_INT: p->op = GP_INT4; return;
    case TDS_K_BIGINT: p->op = GP_INT8; return;
    case TDS_K_REAL: p->op = GP_FLT4; return;
    case TDS_K_FLOAT: p->op = GP_FLT8; return;
    case TDS_K_CHAR: case TDS_K_NCHAR: break;
    default: p->op = GP_SLOW; return;
    }
    /* Text: the same prefix gen_text uses, if it is ASCII and the padded
     * text stays short; anything else takes the general path. */
    size_t pl;
    if (d->gen.has_prefix) {
        pl = strlen(d->gen.prefix);
        memcpy(p->prefix, d->gen.prefix, pl);
    } else {
        pl = strlen(d->name);
        if (pl > 60)
            pl = 60;
        memcpy(p->prefix, d->name, pl);
        p->prefix[pl++] = '-';
    }
    for (size_t k = 0; k < pl; k++)
        if ((unsigned char)p->prefix[k] >= 0x80)
            return; /* GP_SLOW */
    if (d->gen.width > GP_TEXT_MAX - 24 || pl > GP_TEXT_MAX - 24)
        return;
    p->plen = (uint16_t)pl;
    p->width = (uint16_t)d->gen.width;
    p->limit = d->char_len > 0 ? (uint32_t)d->char_len : UINT32_MAX;
    p->wide = d->col.kind == TDS_K_NCHAR;
    p->fixed = d->col.type == TDS_T_BIGCHAR || d->col.type == TDS_T_NCHAR;
    if (p->fixed && p->limit > GP_TEXT_MAX)
        return;
    p->op = GP_TEXT;
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Decimal digits of v (with '-'); same text as i64_digits, two at a time. */
static size_t i64_digits_fast(int64_t v, char *buf)
{
    char tmp[24];
    size_t n = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        tmp[--n] = digits2[2 * r + 1];
        tmp[--n] = digits2[2 * r];
    }
    if (u >= 10) {
        tmp[--n] = digits2[2 * u + 1];
        tmp[--n] = digits2[2 * u];
    } else {
        tmp[--n] = (char)('0' + u);
    }
    size_t o = 0;
    if (v < 0)
        buf[o++] = '-';
    memcpy(buf + o, tmp + n, sizeof tmp - n);
    return o + sizeof tmp - n;
}

/* n bytes (at most sizeof img), short texts with overlapping 16-byte moves. */
static inline void copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
    if (n >= 16) {
        size_t k = 0;
        for (; k + 16 < n; k += 16)
            memcpy(d + k, s + k, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else {
        for (size_t k = 0; k < n; k++)
            d[k] = s[k];
    }
}

static uint32_t text_build(srv_genplan *p, int64_t x, uint64_t i, uint8_t *out, size_t cap);

static inline uint32_t genplan_value(srv_genplan *p, uint64_t i, uint8_t *out, size_t cap)
{
    if (p->op == GP_SLOW)
        return srv_gen_value(p->d, 0, i, out, cap);
    if (p->null_every && i % p->null_every == p->null_every - 1)
        return SRV_NULL_LEN;
    int64_t x = p->modulo ? gen_x(&p->d->gen, i) : (int64_t)((uint64_t)p->start + i * (uint64_t)p->step);
    switch (p->op) {
    case GP_BIT: out[0] = (uint8_t)(x & 1); return 1;
    case GP_INT1: out[0] = (uint8_t)x; return 1;
    case GP_INT2: gen_put_le(out, (uint64_t)x, 2); return 2;
    case GP_INT4: gen_put_le(out, (uint64_t)x, 4); return 4;
    case GP_INT8: gen_put_le(out, (uint64_t)x, 8); return 8;
    case GP_FLT4: { float f = (float)((double)x / 4.0); memcpy(out, &f, 4); return 4; }
    case GP_FLT8: { double f = (double)x / 4.0; memcpy(out, &f, 8); return 8; }
    default: break;
    }
    /* GP_TEXT: prefix + x, padded with a..z to width, cut to the declared
     * length, blank-padded for char(n)/nchar(n); ASCII throughout. The
     * common case is the next integer: count the digits of the last
     * image up in place (a carry out of the first digit changes the
     * length, and the padding with it: build afresh). */
    if (p->img_ok && x == (int64_t)((uint64_t)p->last_x + 1) && x > 0 && p->img_len <= cap) {
        unsigned sh = p->wide ? 1 : 0;
        size_t k = p->dig_end;
        while (k > p->dig_start && p->img[(k - 1) << sh] == '9')
            k--;
        if (k > p->dig_start) {
            /* copy first, then store the changed digits into both: a wide
             * load of bytes just stored would stall on store forwarding */
            copy_small(out, p->img, p->img_len);
            uint8_t c = (uint8_t)(p->img[(k - 1) << sh] + 1);
            p->img[(k - 1) << sh] = out[(k - 1) << sh] = c;
            for (size_t j = k; j < p->dig_end; j++)
                p->img[j << sh] = out[j << sh] = '0';
            p->last_x = x;
            return p->img_len;
        }
    }
    return text_build(p, x, i, out, cap);
}

/* GP_TEXT afresh: the text of x, its wire image kept for the next row. */
__attribute__((noinline)) static uint32_t text_build(srv_genplan *p, int64_t x, uint64_t i,
                                                     uint8_t *out, size_t cap)
{
    char t[GP_TEXT_MAX];
    memcpy(t, p->prefix, p->plen);
    size_t n = p->plen + i64_digits_fast(x, t + p->plen);
    size_t dig_end = n;
    while (n < p->width) {
        t[n] = (char)('a' + n % 26);
        n++;
    }
    if (n > p->limit)
        n = p->limit;
    size_t chars = p->fixed ? p->limit : n;
    size_t need = p->wide ? chars * 2 : chars;
    p->img_ok = false;
    if (need > cap || need > sizeof p->img)
        return srv_gen_value(p->d, 0, i, out, cap);
    if (!p->wide) {
        memcpy(p->img, t, n);
        memset(p->img + n, ' ', chars - n);
    } else {
        for (size_t k = 0; k < n; k++) {
            p->img[2 * k] = (uint8_t)t[k];
            p->img[2 * k + 1] = 0;
        }
        for (size_t k = n; k < chars; k++) {
            p->img[2 * k] = ' ';
            p->img[2 * k + 1] = 0;
        }
    }
    p->img_len = (uint32_t)need;
    p->last_x = x;
    p->dig_start = (uint16_t)p->plen;
    p->dig_end = (uint16_t)dig_end;
    p->img_ok = x > 0 && dig_end <= n;
    memcpy(out, p->img, need);
    return (uint32_t)need;
}

size_t srv_genplan_cap(const srv_genplan *p)
{
    switch (p->op) {
    case GP_SLOW:
        return srv_gen_cap(p->d);
    case GP_TEXT: {
        size_t chars = (size_t)p->plen + 20; /* '-' and 19 digits */
        if (chars < p->width)
            chars = p->width;
        if (chars > p->limit || p->fixed)
            chars = p->limit;
        return p->wide ? 2 * chars : chars;
    }
    default:
        return 8;
    }
}

uint32_t srv_genplan_value(srv_genplan *p, uint64_t i, uint8_t *out, size_t cap)
{
    return genplan_value(p, i, out, cap);
}

void srv_genplan_row(srv_genplan *plans, uint16_t n, const bool *need, uint64_t i,
                     uint8_t *buf, const size_t *off, tds_value *vals)
{
    for (uint16_t c = 0; c < n; c++) {
        if (!need[c])
            continue;
        uint8_t *p = buf + off[c];
        uint32_t len = genplan_value(&plans[c], i, p, off[c + 1] - off[c]);
        vals[c].ptr = p;
        vals[c].len = len == SRV_NULL_LEN ? 0 : len;
        vals[c].flags = len == SRV_NULL_LEN ? TDS_VF_NULL : 0;
    }
}
