/*
 * trim.c — --trim-whitespace on one text value, as ingestr's
 * strings.TrimSpace: leading and trailing whitespace go, interior
 * whitespace stays. A trimmed value is a narrower view of the same bytes
 * (no copy). nchar values (UTF-16LE) lose every code point Go's
 * unicode.IsSpace calls a space; char values (a code page, or UTF-8
 * under a _UTF8 collation) lose ASCII whitespace only, the one set every
 * code page spells the same way (a code-page no-break space is kept).
 */
#include "transform_int.h"

static bool u16_space(unsigned u)
{
    return (u >= 0x09 && u <= 0x0D) || u == 0x20 || u == 0x85 || u == 0xA0 || u == 0x1680 ||
           (u >= 0x2000 && u <= 0x200A) || u == 0x2028 || u == 0x2029 || u == 0x202F || u == 0x205F ||
           u == 0x3000;
}

static bool ascii_space(unsigned b) { return (b >= 0x09 && b <= 0x0D) || b == 0x20; }

static unsigned u16_at(const uint8_t *p, size_t i) { return (unsigned)p[2 * i] | (unsigned)p[2 * i + 1] << 8; }

void pipe_trim_value(const tds_column *c, tds_value *v)
{
    if (!v->ptr || !v->len || (v->flags & TDS_VF_NULL))
        return;
    if (c->kind == TDS_K_NCHAR) {
        size_t n = v->len / 2, a = 0, b = n;
        while (a < b && u16_space(u16_at(v->ptr, a)))
            a++;
        while (b > a && u16_space(u16_at(v->ptr, b - 1)))
            b--;
        v->ptr += 2 * a;
        v->len = (uint32_t)(2 * (b - a));
    } else if (c->kind == TDS_K_CHAR) {
        size_t a = 0, b = v->len;
        while (a < b && ascii_space(v->ptr[a]))
            a++;
        while (b > a && ascii_space(v->ptr[b - 1]))
            b--;
        v->ptr += a;
        v->len = (uint32_t)(b - a);
    }
}
