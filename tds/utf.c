/*
 * utf.c — UTF-16LE ↔ UTF-8. Surrogate pairs are combined; a lone surrogate
 * is an encoding error in both directions (never silently replaced), so a
 * value either round-trips exactly or is reported.
 */
#include "tds_int.h"

int tds_utf16_to_utf8(const uint8_t *in, size_t in_bytes, char *out, size_t cap)
{
    if (in_bytes & 1)
        return TDS_E_ENCODING;
    if (in_bytes == 0)
        return 0; /* in may be NULL */
    size_t o = 0;
    const uint8_t *p = in, *end = in + in_bytes;
    while (p < end) {
        /* ASCII fast path, four code units at a time: most text is ASCII. */
        if (end - p >= 8) {
            uint64_t x = tds_le64(p);
            if (!(x & 0xFF80FF80FF80FF80ull)) {
                if (out) {
                    if (cap - o < 4)
                        return TDS_E_SPACE;
                    /* the low byte of each unit, packed: 00d 00c 00b 00a -> dcba */
                    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFull;
                    uint32_t y = (uint32_t)(x | (x >> 16));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                    memcpy(out + o, &y, 4);
#else
                    out[o] = (char)(y & 0xFF);
                    out[o + 1] = (char)((y >> 8) & 0xFF);
                    out[o + 2] = (char)((y >> 16) & 0xFF);
                    out[o + 3] = (char)(y >> 24);
#endif
                }
                o += 4;
                p += 8;
                continue;
            }
        }
        uint32_t c = tds_le16(p);
        p += 2;
        /* ASCII one unit at a time. */
        if (c < 0x80) {
            if (out) {
                if (o >= cap)
                    return TDS_E_SPACE;
                out[o] = (char)c;
            }
            o++;
            continue;
        }
        if (c >= 0xD800 && c <= 0xDBFF) {
            if (end - p < 2)
                return TDS_E_ENCODING;
            uint32_t lo = tds_le16(p);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return TDS_E_ENCODING;
            p += 2;
            c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            return TDS_E_ENCODING;
        }
        uint8_t tmp[4];
        size_t n;
        if (c < 0x800) {
            tmp[0] = (uint8_t)(0xC0 | (c >> 6));
            tmp[1] = (uint8_t)(0x80 | (c & 0x3F));
            n = 2;
        } else if (c < 0x10000) {
            tmp[0] = (uint8_t)(0xE0 | (c >> 12));
            tmp[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            tmp[2] = (uint8_t)(0x80 | (c & 0x3F));
            n = 3;
        } else {
            tmp[0] = (uint8_t)(0xF0 | (c >> 18));
            tmp[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
            tmp[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            tmp[3] = (uint8_t)(0x80 | (c & 0x3F));
            n = 4;
        }
        if (out) {
            if (cap - o < n || o > cap)
                return TDS_E_SPACE;
            memcpy(out + o, tmp, n);
        }
        o += n;
    }
    if (o > INT32_MAX)
        return TDS_E_TOOBIG;
    return (int)o;
}

int32_t tds__utf8_next(const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp;
    uint32_t c = *p++;
    uint32_t min;
    int extra;
    if (c < 0x80) {
        *pp = p;
        return (int32_t)c;
    } else if ((c & 0xE0) == 0xC0) {
        c &= 0x1F; extra = 1; min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        c &= 0x0F; extra = 2; min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        c &= 0x07; extra = 3; min = 0x10000;
    } else {
        return -1;
    }
    if (end - p < extra)
        return -1;
    for (int i = 0; i < extra; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return -1;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return -1;
    *pp = p + extra;
    return (int32_t)c;
}

int tds_utf8_to_utf16(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len == 0)
        return 0; /* in may be NULL: no pointer arithmetic on it */
    const uint8_t *p = (const uint8_t *)in, *end = p + len;
    size_t o = 0;
    while (p < end) {
        int32_t c = tds__utf8_next(&p, end);
        if (c < 0)
            return TDS_E_ENCODING;
        if (c < 0x10000) {
            if (out) {
                if (cap < 2 || o > cap - 2)
                    return TDS_E_SPACE;
                tds_wle16(out + o, (uint16_t)c);
            }
            o += 2;
        } else {
            if (out) {
                if (cap < 4 || o > cap - 4)
                    return TDS_E_SPACE;
                uint32_t v = (uint32_t)c - 0x10000;
                tds_wle16(out + o, (uint16_t)(0xD800 + (v >> 10)));
                tds_wle16(out + o + 2, (uint16_t)(0xDC00 + (v & 0x3FF)));
            }
            o += 4;
        }
    }
    if (o > INT32_MAX)
        return TDS_E_TOOBIG;
    return (int)o;
}

int tds_utf8_utf16_units(const char *in, size_t len)
{
    int n = tds_utf8_to_utf16(in, len, NULL, 0);
    return n < 0 ? n : n / 2;
}
