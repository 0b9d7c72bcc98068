/*
 * value.c — SQL scalars for the query half: SQL type names → column
 * metadata, wire bytes ↔ srv_val, comparison with SQL Server's rules
 * (case-insensitive strings, trailing blanks ignored), canonical text.
 *
 * Invariants: wire bytes are exactly what a ROW token carries after the
 * length prefix; every writer checks cap first. char/varchar use code page
 * 1252 read as Latin-1 (documented in README: the generator only emits
 * ASCII into them).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "query_int.h"

#define DAYS_1900 693595
#define TICKS_DAY 864000000000ULL

bool srv_ieq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }
bool srv_ieqn(const char *a, size_t an, const char *b)
{
    return strlen(b) == an && strncasecmp(a, b, an) == 0;
}

/* ------------------------------------------------------------ types */

typedef struct type_info {
    const char *name;
    uint8_t type;       /* wire type */
    int32_t fixed;      /* max_length for fixed types, 0 = sized */
    uint8_t prec, scale;
    int args;           /* 0 none, 1 length/scale, 2 precision+scale */
} type_info;

static const type_info types[] = {
    { "bit", TDS_T_BITN, 1, 1, 0, 0 },
    { "tinyint", TDS_T_INTN, 1, 3, 0, 0 },
    { "smallint", TDS_T_INTN, 2, 5, 0, 0 },
    { "int", TDS_T_INTN, 4, 10, 0, 0 },
    { "bigint", TDS_T_INTN, 8, 19, 0, 0 },
    { "real", TDS_T_FLTN, 4, 24, 0, 0 },
    { "float", TDS_T_FLTN, 8, 53, 0, 1 },
    { "smallmoney", TDS_T_MONEYN, 4, 10, 4, 0 },
    { "money", TDS_T_MONEYN, 8, 19, 4, 0 },
    { "decimal", TDS_T_DECIMALN, 0, 18, 0, 2 },
    { "numeric", TDS_T_NUMERICN, 0, 18, 0, 2 },
    { "smalldatetime", TDS_T_DATETIMN, 4, 16, 0, 0 },
    { "datetime", TDS_T_DATETIMN, 8, 23, 3, 0 },
    { "date", TDS_T_DATEN, 3, 10, 0, 0 },
    { "time", TDS_T_TIMEN, 0, 16, 7, 1 },
    { "datetime2", TDS_T_DATETIME2N, 0, 27, 7, 1 },
    { "datetimeoffset", TDS_T_DATETIMEOFFSETN, 0, 34, 7, 1 },
    { "uniqueidentifier", TDS_T_GUID, 16, 0, 0, 0 },
    { "char", TDS_T_BIGCHAR, 0, 0, 0, 1 },
    { "varchar", TDS_T_BIGVARCHR, 0, 0, 0, 1 },
    { "nchar", TDS_T_NCHAR, 0, 0, 0, 1 },
    { "nvarchar", TDS_T_NVARCHAR, 0, 0, 0, 1 },
    { "sysname", TDS_T_NVARCHAR, 0, 0, 0, 0 },
    { "binary", TDS_T_BIGBINARY, 0, 0, 0, 1 },
    { "varbinary", TDS_T_BIGVARBIN, 0, 0, 0, 1 },
    { "text", TDS_T_TEXT, 16, 0, 0, 0 },
    { "ntext", TDS_T_NTEXT, 16, 0, 0, 0 },
    { "image", TDS_T_IMAGE, 16, 0, 0, 0 },
    { "xml", TDS_T_XML, -1, 0, 0, 0 },
    { "sql_variant", TDS_T_VARIANT, 8016, 0, 0, 0 },
};

void srv_coldef_fix(srv_coldef *d)
{
    d->col.name.ptr = d->name;
    d->col.name.len = strlen(d->name);
}

static const char *skip_ws(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

int srv_type_parse(const char *text, srv_coldef *d)
{
    int t25 = srv_t25_type_parse(text, d);
    if (t25)
        return t25 > 0 ? 0 : -1;
    const char *p = skip_ws(text);
    char name[32];
    size_t n = 0;
    if (*p == '[')
        p++;
    while ((isalnum((unsigned char)*p) || *p == '_') && n + 1 < sizeof name)
        name[n++] = (char)tolower((unsigned char)*p++);
    name[n] = 0;
    if (*p == ']')
        p++;
    const type_info *ti = NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(types[i].name, name) == 0)
            ti = &types[i];
    if (!ti)
        return -1;
    long a1 = -2, a2 = -2; /* -2 absent, -1 max */
    p = skip_ws(p);
    if (*p == '(') {
        p = skip_ws(p + 1);
        if (strncasecmp(p, "max", 3) == 0) {
            a1 = -1;
            p += 3;
        } else {
            a1 = strtol(p, (char **)&p, 10);
        }
        p = skip_ws(p);
        if (*p == ',') {
            a2 = strtol(skip_ws(p + 1), (char **)&p, 10);
            p = skip_ws(p);
        }
        if (*p != ')')
            return -1;
        p = skip_ws(p + 1);
        if (!ti->args)
            return -1;
    }
    if (*p)
        return -1;
    memset(&d->col, 0, sizeof d->col);
    snprintf(d->type_name, sizeof d->type_name, "%s", strcmp(name, "sysname") == 0 ? "nvarchar" : ti->name);
    d->char_len = 0;
    uint8_t wt = ti->type, prec = ti->prec, scale = ti->scale;
    uint32_t ml = ti->fixed > 0 ? (uint32_t)ti->fixed : 0;
    d->max_length = ti->fixed;
    switch (wt) {
    case TDS_T_FLTN:
        if (a1 >= 1 && a1 <= 24) {
            ml = 4; prec = 24; d->max_length = 4;
            snprintf(d->type_name, sizeof d->type_name, "real");
        } else if (a1 > 53 || a1 == -1 || a1 == 0) {
            return -1;
        }
        break;
    case TDS_T_DECIMALN: case TDS_T_NUMERICN:
        if (a1 != -2) {
            if (a1 < 1 || a1 > 38)
                return -1;
            prec = (uint8_t)a1;
            scale = a2 == -2 ? 0 : (uint8_t)a2;
            if (a2 < -2 || scale > prec)
                return -1;
        }
        ml = 0;
        d->max_length = prec <= 9 ? 5 : prec <= 19 ? 9 : prec <= 28 ? 13 : 17;
        break;
    case TDS_T_TIMEN: case TDS_T_DATETIME2N: case TDS_T_DATETIMEOFFSETN:
        if (a1 != -2) {
            if (a1 < 0 || a1 > 7)
                return -1;
            scale = (uint8_t)a1;
        }
        {
            int tl = scale <= 2 ? 3 : scale <= 4 ? 4 : 5;
            d->max_length = tl + (wt == TDS_T_TIMEN ? 0 : wt == TDS_T_DATETIME2N ? 3 : 5);
            int base = wt == TDS_T_TIMEN ? 8 : wt == TDS_T_DATETIME2N ? 19 : 26;
            prec = (uint8_t)(base + (scale ? scale + 1 : 0));
        }
        break;
    case TDS_T_BIGCHAR: case TDS_T_BIGVARCHR: case TDS_T_NCHAR: case TDS_T_NVARCHAR:
    case TDS_T_BIGBINARY: case TDS_T_BIGVARBIN: {
        bool var = wt == TDS_T_BIGVARCHR || wt == TDS_T_NVARCHAR || wt == TDS_T_BIGVARBIN;
        bool wide = wt == TDS_T_NCHAR || wt == TDS_T_NVARCHAR;
        long len = a1 == -2 ? (strcmp(name, "sysname") == 0 ? 128 : 1) : a1;
        if (len == -1 && !var)
            return -1;
        if (len == 0 || len > (wide ? 4000 : 8000))
            return -1;
        d->char_len = (int32_t)len;
        if (len == -1) {
            ml = 0xFFFF;
            d->max_length = -1;
        } else {
            ml = (uint32_t)len * (wide ? 2u : 1u);
            d->max_length = (int32_t)ml;
        }
        break;
    }
    case TDS_T_TEXT: case TDS_T_NTEXT: case TDS_T_IMAGE:
        ml = 0x7FFFFFFF;
        d->char_len = wt == TDS_T_NTEXT ? 0x3FFFFFFF : 0x7FFFFFFF;
        break;
    case TDS_T_XML:
        ml = 0xFFFF;
        d->char_len = -1;
        break;
    default:
        break;
    }
    if (tds_column_init(&d->col, wt, ml, prec, scale) != TDS_OK)
        return -1;
    d->col.precision = prec;
    d->col.scale = scale;
    d->col.flags = TDS_COL_NULLABLE;
    d->nullable = true;
    srv_coldef_fix(d);
    return 0;
}

/* ------------------------------------------------------------ u128 */

static void mag_from_u64(uint8_t m[16], uint64_t v)
{
    memset(m, 0, 16);
    for (int i = 0; i < 8; i++)
        m[i] = (uint8_t)(v >> (8 * i));
}

/* Divides m by 10 in place, returns the remainder. */
static unsigned mag_div10(uint8_t m[16])
{
    unsigned r = 0;
    for (int i = 15; i >= 0; i--) {
        unsigned cur = (r << 8) | m[i];
        m[i] = (uint8_t)(cur / 10);
        r = cur % 10;
    }
    return r;
}

static bool mag_zero(const uint8_t m[16])
{
    for (int i = 0; i < 16; i++)
        if (m[i])
            return false;
    return true;
}

static size_t dec_text(const tds_decimal *d, char *buf, size_t cap)
{
    char digits[48];
    int nd = 0;
    uint8_t m[16];
    memcpy(m, d->magnitude, 16);
    while (!mag_zero(m) && nd < 45)
        digits[nd++] = (char)('0' + mag_div10(m));
    while (nd <= d->scale)
        digits[nd++] = '0';
    char out[64];
    size_t o = 0;
    if (d->negative && !mag_zero(d->magnitude))
        out[o++] = '-';
    for (int i = nd - 1; i >= 0; i--) {
        out[o++] = digits[i];
        if (i == d->scale && d->scale > 0)
            out[o++] = '.';
    }
    out[o] = 0;
    return (size_t)snprintf(buf, cap, "%s", out);
}

static long double dec_ld(const tds_decimal *d)
{
    long double v = 0;
    for (int i = 15; i >= 0; i--)
        v = v * 256 + d->magnitude[i];
    v /= powl(10, d->scale);
    return d->negative ? -v : v;
}

/* ------------------------------------------------------------ text */

static size_t dt_text(const tds_datetime *dt, char *buf, size_t cap)
{
    int32_t days = dt->days;
    int64_t ticks = (int64_t)dt->ticks;
    if (dt->kind == TDS_K_DATETIMEOFFSET) {
        ticks += (int64_t)dt->offset_min * 600000000LL;
        while (ticks < 0) { ticks += (int64_t)TICKS_DAY; days--; }
        while (ticks >= (int64_t)TICKS_DAY) { ticks -= (int64_t)TICKS_DAY; days++; }
    }
    /* civil from days (0 = 0001-01-01) */
    int64_t z = (int64_t)days + 306 + 0; /* days since 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    unsigned m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    uint64_t t = (uint64_t)ticks;
    unsigned hh = (unsigned)(t / 36000000000ULL), mi = (unsigned)(t / 600000000ULL % 60),
             ss = (unsigned)(t / 10000000ULL % 60);
    uint64_t frac = t % 10000000ULL;
    char date[32], tm[40];
    snprintf(date, sizeof date, "%04lld-%02u-%02u", (long long)y, m, d);
    unsigned sc = dt->kind == TDS_K_DATETIME ? 3 : dt->scale;
    if (sc > 7)
        sc = 7;
    char fr[16] = "";
    if (sc) {
        char f7[8];
        snprintf(f7, sizeof f7, "%07llu", (unsigned long long)frac);
        snprintf(fr, sizeof fr, ".%.*s", (int)sc, f7);
    }
    snprintf(tm, sizeof tm, "%02u:%02u:%02u%s", hh, mi, ss, fr);
    switch (dt->kind) {
    case TDS_K_DATE: return (size_t)snprintf(buf, cap, "%s", date);
    case TDS_K_TIME: return (size_t)snprintf(buf, cap, "%s", tm);
    case TDS_K_DATETIMEOFFSET: {
        int o = dt->offset_min;
        return (size_t)snprintf(buf, cap, "%s %s %c%02d:%02d", date, tm, o < 0 ? '-' : '+',
                                abs(o) / 60, abs(o) % 60);
    }
    default: return (size_t)snprintf(buf, cap, "%s %s", date, tm);
    }
}

void sv_text(const srv_val *v, char *buf, size_t cap)
{
    if (!cap)
        return;
    switch (v->k) {
    case SV_NULL: snprintf(buf, cap, "NULL"); break;
    case SV_INT: snprintf(buf, cap, "%lld", (long long)v->i); break;
    case SV_FLOAT: {
        for (int p = 15; p <= 17; p++) {
            snprintf(buf, cap, "%.*g", p, v->f);
            if (strtod(buf, NULL) == v->f)
                break;
        }
        break;
    }
    case SV_DEC: dec_text(&v->d, buf, cap); break;
    case SV_STR: snprintf(buf, cap, "%.*s", (int)v->n, v->s); break;
    case SV_BIN: {
        size_t o = (size_t)snprintf(buf, cap, "0x");
        for (size_t i = 0; i < v->n && o + 3 < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, "%02X", ((const uint8_t *)v->s)[i]);
        break;
    }
    case SV_DT: dt_text(&v->dt, buf, cap); break;
    case SV_GUID: {
        const uint8_t *g = v->g;
        snprintf(buf, cap, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
                 g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12],
                 g[13], g[14], g[15]);
        break;
    }
    }
}

/* ------------------------------------------------------------ decode */

static int64_t le_signed(const uint8_t *p, uint32_t n)
{
    uint64_t u = 0;
    for (uint32_t i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (n < 8 && (u >> (8 * n - 1)) & 1)
        u |= ~0ULL << (8 * n);
    return (int64_t)u;
}

static uint64_t le_u(const uint8_t *p, uint32_t n)
{
    uint64_t u = 0;
    for (uint32_t i = 0; i < n; i++)
        u |= (uint64_t)p[i] << (8 * i);
    return u;
}

static const uint64_t pow10u[] = { 1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL };

static int latin1_to_utf8(const uint8_t *p, uint32_t n, char *out, size_t cap, size_t *olen)
{
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] < 0x80) {
            if (o + 1 >= cap) return -1;
            out[o++] = (char)p[i];
        } else {
            if (o + 2 >= cap) return -1;
            out[o++] = (char)(0xC0 | (p[i] >> 6));
            out[o++] = (char)(0x80 | (p[i] & 0x3F));
        }
    }
    out[o] = 0;
    *olen = o;
    return 0;
}

int sv_from_wire(const tds_column *c, const uint8_t *p, uint32_t len, srv_val *v,
                 char *scratch, size_t cap)
{
    memset(v, 0, sizeof *v);
    if (len == SRV_NULL_LEN) {
        v->k = SV_NULL;
        return 0;
    }
    switch (c->kind) {
    case TDS_K_TINYINT:
        v->k = SV_INT; v->i = p[0]; return 0;
    case TDS_K_BIT:
        v->k = SV_INT; v->i = p[0] != 0; return 0;
    case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT:
        if (c->type == TDS_T_INTN && len == 1) { v->k = SV_INT; v->i = p[0]; return 0; }
        v->k = SV_INT; v->i = le_signed(p, len); return 0;
    case TDS_K_REAL: case TDS_K_FLOAT:
        v->k = SV_FLOAT;
        if (len == 4) { float f; memcpy(&f, p, 4); v->f = f; }
        else { memcpy(&v->f, p, 8); }
        return 0;
    case TDS_K_SMALLMONEY: case TDS_K_MONEY: {
        int64_t units = len == 4 ? le_signed(p, 4)
                                 : (int64_t)(((uint64_t)(uint32_t)le_u(p, 4) << 32) | (uint32_t)le_u(p + 4, 4));
        v->k = SV_DEC;
        v->d.precision = 19; v->d.scale = 4;
        v->d.negative = units < 0;
        mag_from_u64(v->d.magnitude, units < 0 ? (uint64_t)0 - (uint64_t)units : (uint64_t)units);
        return 0;
    }
    case TDS_K_DECIMAL:
        v->k = SV_DEC;
        v->d.precision = c->precision; v->d.scale = c->scale;
        v->d.negative = p[0] == 0;
        memset(v->d.magnitude, 0, 16);
        memcpy(v->d.magnitude, p + 1, len - 1 > 16 ? 16 : len - 1);
        return 0;
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME:
        v->k = SV_DT;
        if (len == 4) {
            v->dt.days = DAYS_1900 + (int32_t)le_u(p, 2);
            v->dt.ticks = le_u(p + 2, 2) * 600000000ULL;
            v->dt.kind = TDS_K_SMALLDATETIME;
        } else {
            v->dt.days = DAYS_1900 + (int32_t)le_signed(p, 4);
            uint64_t t300 = le_u(p + 4, 4);
            v->dt.ticks = (t300 * 100000ULL + 1) / 3; /* 1/300 s → 100 ns, rounded */
            v->dt.kind = TDS_K_DATETIME;
            v->dt.scale = 3;
        }
        return 0;
    case TDS_K_DATE:
        v->k = SV_DT; v->dt.kind = TDS_K_DATE; v->dt.days = (int32_t)le_u(p, 3); return 0;
    case TDS_K_TIME: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET: {
        uint32_t tl = c->scale <= 2 ? 3 : c->scale <= 4 ? 4 : 5;
        v->k = SV_DT;
        v->dt.kind = c->kind;
        v->dt.scale = c->scale;
        v->dt.ticks = le_u(p, tl) * pow10u[7 - (c->scale > 7 ? 7 : c->scale)];
        if (c->kind != TDS_K_TIME)
            v->dt.days = (int32_t)le_u(p + tl, 3);
        if (c->kind == TDS_K_DATETIMEOFFSET)
            v->dt.offset_min = (int16_t)le_signed(p + tl + 3, 2);
        return 0;
    }
    case TDS_K_GUID:
        v->k = SV_GUID;
        v->g[0] = p[3]; v->g[1] = p[2]; v->g[2] = p[1]; v->g[3] = p[0];
        v->g[4] = p[5]; v->g[5] = p[4]; v->g[6] = p[7]; v->g[7] = p[6];
        memcpy(v->g + 8, p + 8, 8);
        return 0;
    case TDS_K_CHAR: {
        size_t o;
        if (latin1_to_utf8(p, len, scratch, cap, &o) < 0)
            return -1;
        v->k = SV_STR; v->s = scratch; v->n = o;
        return 0;
    }
    case TDS_K_NCHAR: case TDS_K_XML: {
        int n = tds_utf16_to_utf8(p, len, scratch, cap > 0 ? cap - 1 : 0);
        if (n < 0)
            return -1;
        scratch[n] = 0;
        v->k = SV_STR; v->s = scratch; v->n = (size_t)n;
        return 0;
    }
    case TDS_K_BINARY: case TDS_K_UDT:
        v->k = SV_BIN; v->s = (const char *)p; v->n = len;
        return 0;
    case TDS_K_JSON: case TDS_K_VECTOR:
        return srv_t25_from_wire(c, p, len, v, scratch, cap);
    case TDS_K_VARIANT: {
        if (len < 2 || (uint32_t)p[1] + 2 > len)
            return -1;
        uint8_t bt = p[0], np = p[1];
        tds_column in;
        uint32_t ml = len - 2 - np;
        uint8_t prec = 0, sc = 0;
        if (bt == TDS_T_DECIMALN || bt == TDS_T_NUMERICN) { prec = p[2]; sc = p[3]; ml = 17; }
        else if (bt == TDS_T_TIMEN || bt == TDS_T_DATETIME2N || bt == TDS_T_DATETIMEOFFSETN) sc = p[2];
        else if (bt == TDS_T_INTN || bt == TDS_T_FLTN || bt == TDS_T_MONEYN || bt == TDS_T_DATETIMN || bt == TDS_T_BITN) ml = len - 2 - np;
        if (tds_column_init(&in, bt, ml, prec, sc) != TDS_OK)
            return -1;
        return sv_from_wire(&in, p + 2 + np, len - 2 - np, v, scratch, cap);
    }
    default:
        return -1;
    }
}

/* ------------------------------------------------------------ encode */

static bool parse_guid(const char *s, size_t n, uint8_t g[16])
{
    int k = 0;
    size_t i = 0;
    if (n && s[0] == '{') { i = 1; n--; }
    for (; i < n && k < 32; i++) {
        char ch = s[i];
        if (ch == '-')
            continue;
        int h = isdigit((unsigned char)ch) ? ch - '0' : isxdigit((unsigned char)ch) ? (tolower((unsigned char)ch) - 'a' + 10) : -1;
        if (h < 0)
            return false;
        if (k % 2 == 0) g[k / 2] = (uint8_t)(h << 4); else g[k / 2] |= (uint8_t)h;
        k++;
    }
    return k == 32;
}

static int to_int(const srv_val *v, int64_t *out)
{
    switch (v->k) {
    case SV_INT: *out = v->i; return 0;
    case SV_FLOAT:
        if (!(v->f > -9.3e18 && v->f < 9.3e18)) return -8115;
        *out = (int64_t)v->f; return 0;
    case SV_DEC: {
        long double x = dec_ld(&v->d);
        if (!(x > -9.3e18L && x < 9.3e18L)) return -8115;
        *out = (int64_t)x; return 0;
    }
    case SV_STR: {
        char tmp[64];
        size_t n = v->n < 63 ? v->n : 63;
        memcpy(tmp, v->s, n); tmp[n] = 0;
        char *e;
        long long x = strtoll(tmp, &e, 10);
        while (*e == ' ') e++;
        if (e == tmp || *e) {
            if (srv_ieq(tmp, "true")) { *out = 1; return 0; }
            if (srv_ieq(tmp, "false")) { *out = 0; return 0; }
            return -245;
        }
        *out = x; return 0;
    }
    default: return -245;
    }
}

static int to_double(const srv_val *v, double *out)
{
    switch (v->k) {
    case SV_INT: *out = (double)v->i; return 0;
    case SV_FLOAT: *out = v->f; return 0;
    case SV_DEC: *out = (double)dec_ld(&v->d); return 0;
    case SV_STR: {
        char tmp[128];
        size_t n = v->n < 127 ? v->n : 127;
        memcpy(tmp, v->s, n); tmp[n] = 0;
        char *e;
        *out = strtod(tmp, &e);
        return e == tmp ? -245 : 0;
    }
    default: return -245;
    }
}

static int to_dec(const srv_val *v, uint8_t prec, uint8_t scale, tds_decimal *out)
{
    char tmp[128];
    if (v->k == SV_FLOAT)
        snprintf(tmp, sizeof tmp, "%.*f", scale, v->f);
    else if (v->k == SV_INT || v->k == SV_DEC || v->k == SV_STR)
        sv_text(v, tmp, sizeof tmp);
    else
        return -245;
    /* round to `scale` digits (half away from zero) by text */
    char *dot = strchr(tmp, '.');
    if (dot && strlen(dot + 1) > scale) {
        char *cut = dot + 1 + scale;
        bool up = *cut >= '5';
        *cut = 0;
        if (up) {
            char *q = cut - 1;
            for (;;) {
                if (q < tmp || *q == '-') {
                    memmove(q + 2, q + 1, strlen(q + 1) + 1);
                    q[1] = '1';
                    break;
                }
                if (*q == '.') { q--; continue; }
                if (*q == '9') { *q-- = '0'; continue; }
                (*q)++;
                break;
            }
        }
        if (scale == 0)
            *strchr(tmp, '.') = 0;
    }
    if (tds_decimal_parse(tmp, strlen(tmp), prec, scale, out) != TDS_OK)
        return v->k == SV_STR ? -245 : -8115;
    return 0;
}

static int to_dt(const srv_val *v, tds_kind kind, uint8_t scale, tds_datetime *out)
{
    if (v->k == SV_DT) {
        *out = v->dt;
        if (out->kind == TDS_K_DATETIMEOFFSET && kind != TDS_K_DATETIMEOFFSET) {
            int64_t t = (int64_t)out->ticks + (int64_t)out->offset_min * 600000000LL;
            while (t < 0) { t += (int64_t)TICKS_DAY; out->days--; }
            while (t >= (int64_t)TICKS_DAY) { t -= (int64_t)TICKS_DAY; out->days++; }
            out->ticks = (uint64_t)t;
            out->offset_min = 0;
        } else if (out->kind != TDS_K_DATETIMEOFFSET) {
            out->offset_min = 0;
        }
        if (out->kind == TDS_K_TIME && kind != TDS_K_TIME)
            out->days = DAYS_1900;
        return 0;
    }
    if (v->k == SV_STR) {
        if (tds_datetime_parse(v->s, v->n, kind == TDS_K_DATE ? TDS_K_DATETIME2 : kind, scale > 7 ? 7 : scale, out) != TDS_OK &&
            tds_datetime_parse(v->s, v->n, TDS_K_DATETIMEOFFSET, 7, out) != TDS_OK)
            return -241;
        return 0;
    }
    return -245;
}

/* Rounds ticks to the grid of kind/scale, carrying into days. */
static void dt_round(tds_datetime *dt, tds_kind kind, uint8_t scale)
{
    uint64_t unit = kind == TDS_K_SMALLDATETIME ? 600000000ULL
                  : kind == TDS_K_DATE ? TICKS_DAY
                  : kind == TDS_K_DATETIME ? 0 : pow10u[7 - scale];
    if (kind == TDS_K_DATE) {
        dt->ticks = 0;
        return;
    }
    if (kind == TDS_K_DATETIME) {
        uint64_t n300 = (dt->ticks * 3 + 50000) / 100000;
        dt->ticks = (n300 * 100000 + 1) / 3;
    } else {
        dt->ticks = (dt->ticks + unit / 2) / unit * unit;
    }
    if (dt->ticks >= TICKS_DAY) {
        dt->ticks -= TICKS_DAY;
        if (kind != TDS_K_TIME)
            dt->days++;
    }
}

static void wire_put_le(uint8_t *o, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        o[i] = (uint8_t)(v >> (8 * i));
}

/* Each type's wire image of a value (sv_to_wire below dispatches). */
/* Integers and bit, range-checked against the column. */
static int64_t wire_int(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    (void)cap;
    int64_t x;
    int rc = to_int(v, &x);
    if (rc) return rc;
    uint32_t n = c->max_len;
    if (c->kind == TDS_K_BIT) { out[0] = x != 0; return 1; }
    if (c->kind == TDS_K_TINYINT ? (x < 0 || x > 255)
        : n == 2 ? (x < INT16_MIN || x > INT16_MAX)
        : n == 4 ? (x < INT32_MIN || x > INT32_MAX) : false)
        return -8115;
    wire_put_le(out, (uint64_t)x, (int)n);
    return n;
}

/* Real (4 bytes) and float (8). */
static int64_t wire_float(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    (void)cap;
    double f;
    int rc = to_double(v, &f);
    if (rc) return rc;
    if (c->max_len == 4) { float g = (float)f; memcpy(out, &g, 4); return 4; }
    memcpy(out, &f, 8);
    return 8;
}

/* Smallmoney (4 bytes) and money (8: high half first), in 1/10000 units. */
static int64_t wire_money(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    (void)cap;
    tds_decimal dd;
    int rc = to_dec(v, 19, 4, &dd);
    if (rc) return rc;
    uint64_t mag = le_u(dd.magnitude, 8);
    int64_t units = (int64_t)(dd.negative ? (uint64_t)0 - mag : mag);
    if (c->max_len == 4) {
        if (units < INT32_MIN || units > INT32_MAX) return -8115;
        wire_put_le(out, (uint64_t)units, 4);
        return 4;
    }
    wire_put_le(out, (uint64_t)units >> 32, 4);
    wire_put_le(out + 4, (uint32_t)units, 4);
    return 8;
}

/* Decimal/numeric: sign byte, then the magnitude in the precision's width. */
static int64_t wire_decimal(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    (void)cap;
    tds_decimal dd;
    int rc = to_dec(v, c->precision, c->scale, &dd);
    if (rc) return rc;
    uint32_t ml = c->precision <= 9 ? 4 : c->precision <= 19 ? 8 : c->precision <= 28 ? 12 : 16;
    out[0] = dd.negative ? 0 : 1;
    memcpy(out + 1, dd.magnitude, ml);
    return 1 + ml;
}

/* Every date and time type, rounded to the column's precision. */
static int64_t wire_datetime(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    (void)cap;
    tds_datetime dt;
    tds_kind k = c->type == TDS_T_DATETIMN ? (c->max_len == 4 ? TDS_K_SMALLDATETIME : TDS_K_DATETIME) : (tds_kind)c->kind;
    int rc = to_dt(v, k, c->scale, &dt);
    if (rc) return rc;
    dt_round(&dt, k, c->scale);
    if (k == TDS_K_SMALLDATETIME) {
        int32_t dd = dt.days - DAYS_1900;
        if (dd < 0 || dd > 65535) return -242;
        wire_put_le(out, (uint64_t)dd, 2);
        wire_put_le(out + 2, dt.ticks / 600000000ULL, 2);
        return 4;
    }
    if (k == TDS_K_DATETIME) {
        int32_t dd = dt.days - DAYS_1900;
        if (dt.days < 639905 || dt.days > 3652058) return -242;
        wire_put_le(out, (uint64_t)(uint32_t)dd, 4);
        wire_put_le(out + 4, (dt.ticks * 3 + 50000) / 100000, 4);
        return 8;
    }
    if (dt.days < 0 || dt.days > 3652058) return -242;
    if (k == TDS_K_DATE) { wire_put_le(out, (uint64_t)dt.days, 3); return 3; }
    uint32_t tl = c->scale <= 2 ? 3 : c->scale <= 4 ? 4 : 5;
    if (k == TDS_K_DATETIMEOFFSET && v->k == SV_DT && v->dt.kind != TDS_K_DATETIMEOFFSET)
        dt.offset_min = 0;
    wire_put_le(out, dt.ticks / pow10u[7 - c->scale], (int)tl);
    if (k == TDS_K_TIME) return tl;
    wire_put_le(out + tl, (uint64_t)dt.days, 3);
    if (k == TDS_K_DATETIME2) return tl + 3;
    wire_put_le(out + tl + 3, (uint64_t)(uint16_t)dt.offset_min, 2);
    return tl + 5;
}

/* Uniqueidentifier: the first three groups little-endian. */
static int64_t wire_guid(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    (void)d;
    (void)cap;
    uint8_t g[16];
    if (v->k == SV_GUID) memcpy(g, v->g, 16);
    else if (v->k != SV_STR || !parse_guid(v->s, v->n, g)) return -8169;
    out[0] = g[3]; out[1] = g[2]; out[2] = g[1]; out[3] = g[0];
    out[4] = g[5]; out[5] = g[4]; out[6] = g[7]; out[7] = g[6];
    memcpy(out + 8, g + 8, 8);
    return 16;
}

/* Char/varchar (Latin-1), nchar/nvarchar/xml (UTF-16); fixed lengths padded. */
static int64_t wire_text(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    char tmp[128];
    const char *s;
    size_t n;
    if (v->k == SV_STR) { s = v->s; n = v->n; }
    else { sv_text(v, tmp, sizeof tmp); s = tmp; n = strlen(tmp); }
    size_t o = 0;
    int64_t chars = 0;
    if (c->kind == TDS_K_CHAR) {
        for (size_t i = 0; i < n; i++, chars++) {
            unsigned char ch = (unsigned char)s[i];
            uint32_t cp = ch;
            if (ch >= 0xC0 && i + 1 < n && (ch & 0xE0) == 0xC0) { cp = ((ch & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu); i++; }
            else if (ch >= 0x80) { while (i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80) i++; cp = '?'; }
            if (o >= cap) return -2628;
            out[o++] = cp > 0xFF ? '?' : (uint8_t)cp;
        }
    } else {
        int r = tds_utf8_to_utf16(s, n, out, cap);
        if (r < 0) return r == TDS_E_SPACE ? -2628 : -245;
        o = (size_t)r;
        chars = (int64_t)(o / 2);
    }
    if (d->char_len > 0 && chars > d->char_len && c->kind != TDS_K_XML)
        return -2628;
    if (c->type == TDS_T_BIGCHAR || c->type == TDS_T_NCHAR) {
        while (chars < d->char_len) {
            if (o + 2 > cap) return -2628;
            out[o++] = ' ';
            if (c->type == TDS_T_NCHAR) out[o++] = 0;
            chars++;
        }
    }
    return (int64_t)o;
}

/* Binary/varbinary; binary(n) padded with zeros. */
static int64_t wire_binary(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    const tds_column *c = &d->col;
    const uint8_t *b;
    size_t n;
    uint8_t tmp[8];
    if (v->k == SV_BIN || v->k == SV_STR) { b = (const uint8_t *)v->s; n = v->n; }
    else if (v->k == SV_INT) { for (int i = 0; i < 8; i++) tmp[i] = (uint8_t)(v->i >> (56 - 8 * i)); b = tmp; n = 8; }
    else return -245;
    if (d->char_len > 0 && n > (size_t)d->char_len) return -2628;
    if (n > cap) return -2628;
    memcpy(out, b, n);
    if (c->type == TDS_T_BIGBINARY)
        while ((int64_t)n < d->char_len) { if (n >= cap) return -2628; out[n++] = 0; }
    return (int64_t)n;
}

/* Sql_variant: base type, property bytes, value. */
static int64_t wire_variant(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    (void)d;
    if (v->k == SV_INT) {
        bool big = v->i < INT32_MIN || v->i > INT32_MAX;
        out[0] = big ? TDS_T_INT8 : TDS_T_INT4; out[1] = 0;
        wire_put_le(out + 2, (uint64_t)v->i, big ? 8 : 4);
        return big ? 10 : 6;
    }
    if (v->k == SV_FLOAT) { out[0] = TDS_T_FLT8; out[1] = 0; memcpy(out + 2, &v->f, 8); return 10; }
    if (v->k == SV_DEC) {
        out[0] = TDS_T_DECIMALN; out[1] = 2; out[2] = 38; out[3] = v->d.scale;
        out[4] = v->d.negative ? 0 : 1;
        memcpy(out + 5, v->d.magnitude, 16);
        return 21;
    }
    if (v->k == SV_STR) {
        if (cap < 9) return -2628;
        int r = tds_utf8_to_utf16(v->s, v->n, out + 9, cap - 9);
        if (r < 0 || r > 8000) return -2628;
        static const uint8_t coll[5] = { 0x09, 0x04, 0xD0, 0x00, 0x34 };
        out[0] = TDS_T_NVARCHAR; out[1] = 7;
        memcpy(out + 2, coll, 5);
        wire_put_le(out + 7, 8000, 2);
        return 9 + r;
    }
    if (v->k == SV_DT) {
        srv_coldef t;
        memset(&t, 0, sizeof t);
        srv_type_parse("datetime2(7)", &t);
        out[0] = TDS_T_DATETIME2N; out[1] = 1; out[2] = 7;
        int64_t r = sv_to_wire(&t, v, out + 3, cap - 3);
        return r < 0 ? r : r + 3;
    }
    if (v->k == SV_GUID) {
        srv_coldef t;
        memset(&t, 0, sizeof t);
        srv_type_parse("uniqueidentifier", &t);
        out[0] = TDS_T_GUID; out[1] = 0;
        return sv_to_wire(&t, v, out + 2, cap - 2) + 2;
    }
    if (v->k == SV_BIN) {
        if (v->n > 8000 || v->n + 4 > cap) return -2628;
        out[0] = TDS_T_BIGVARBIN; out[1] = 2; wire_put_le(out + 2, 8000, 2);
        memcpy(out + 4, v->s, v->n);
        return 4 + (int64_t)v->n;
    }
    return -245;
}

int64_t sv_to_wire(const srv_coldef *d, const srv_val *v, uint8_t *out, size_t cap)
{
    if (v->k == SV_NULL)
        return SRV_NULL_LEN;
    if (cap < 32)
        return -8115;
    switch (d->col.kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT:
        return wire_int(d, v, out, cap);
    case TDS_K_REAL: case TDS_K_FLOAT:
        return wire_float(d, v, out, cap);
    case TDS_K_SMALLMONEY: case TDS_K_MONEY:
        return wire_money(d, v, out, cap);
    case TDS_K_DECIMAL:
        return wire_decimal(d, v, out, cap);
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: case TDS_K_DATE: case TDS_K_TIME:
    case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        return wire_datetime(d, v, out, cap);
    case TDS_K_GUID:
        return wire_guid(d, v, out, cap);
    case TDS_K_CHAR: case TDS_K_NCHAR: case TDS_K_XML:
        return wire_text(d, v, out, cap);
    case TDS_K_BINARY:
        return wire_binary(d, v, out, cap);
    case TDS_K_VARIANT:
        return wire_variant(d, v, out, cap);
    case TDS_K_JSON: case TDS_K_VECTOR:
        return srv_t25_to_wire(d, v, out, cap);
    default:
        return -245;
    }
}

/* ------------------------------------------------------------ compare */

static int cmp_str(const char *a, size_t an, const char *b, size_t bn)
{
    while (an && a[an - 1] == ' ') an--;
    while (bn && b[bn - 1] == ' ') bn--;
    size_t n = an < bn ? an : bn;
    for (size_t i = 0; i < n; i++) {
        int x = tolower((unsigned char)a[i]), y = tolower((unsigned char)b[i]);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return an < bn ? -1 : an > bn;
}

static bool is_numeric_kind(sv_kind k) { return k == SV_INT || k == SV_FLOAT || k == SV_DEC; }

static long double as_ld(const srv_val *v)
{
    return v->k == SV_INT ? (long double)v->i : v->k == SV_FLOAT ? (long double)v->f : dec_ld(&v->d);
}

static void dt_utc(const tds_datetime *dt, int64_t *days, int64_t *ticks)
{
    *days = dt->days;
    *ticks = (int64_t)dt->ticks;
    if (dt->kind == TDS_K_TIME)
        *days = 0;
}

int sv_cmp(const srv_val *a, const srv_val *b, bool *incomparable)
{
    *incomparable = false;
    if (a->k == SV_NULL || b->k == SV_NULL)
        return (a->k != SV_NULL) - (b->k != SV_NULL);
    if (a->k == SV_INT && b->k == SV_INT)
        return a->i < b->i ? -1 : a->i > b->i;
    if (is_numeric_kind(a->k) && is_numeric_kind(b->k)) {
        long double x = as_ld(a), y = as_ld(b);
        return x < y ? -1 : x > y;
    }
    if (is_numeric_kind(a->k) && b->k == SV_STR) {
        double y;
        if (to_double(b, &y)) { *incomparable = true; return 0; }
        srv_val t = { .k = SV_FLOAT, .f = y };
        return sv_cmp(a, &t, incomparable);
    }
    if (a->k == SV_STR && is_numeric_kind(b->k))
        return -sv_cmp(b, a, incomparable);
    if (a->k == SV_STR && b->k == SV_STR)
        return cmp_str(a->s, a->n, b->s, b->n);
    if (a->k == SV_DT || b->k == SV_DT) {
        tds_datetime x, y;
        const srv_val *dv = a->k == SV_DT ? a : b;
        tds_kind k = (tds_kind)dv->dt.kind;
        if (to_dt(a, k, 7, &x) || to_dt(b, k, 7, &y)) { *incomparable = true; return 0; }
        int64_t xd, xt, yd, yt;
        dt_utc(&x, &xd, &xt);
        dt_utc(&y, &yd, &yt);
        if (k == TDS_K_DATE) xt = yt = 0;
        return xd != yd ? (xd < yd ? -1 : 1) : (xt < yt ? -1 : xt > yt);
    }
    if (a->k == SV_GUID || b->k == SV_GUID) {
        uint8_t x[16], y[16];
        if (a->k == SV_GUID) memcpy(x, a->g, 16); else if (a->k != SV_STR || !parse_guid(a->s, a->n, x)) { *incomparable = true; return 0; }
        if (b->k == SV_GUID) memcpy(y, b->g, 16); else if (b->k != SV_STR || !parse_guid(b->s, b->n, y)) { *incomparable = true; return 0; }
        int r = memcmp(x, y, 16);
        return r < 0 ? -1 : r > 0;
    }
    if ((a->k == SV_BIN || a->k == SV_STR) && (b->k == SV_BIN || b->k == SV_STR)) {
        size_t n = a->n < b->n ? a->n : b->n;
        int r = memcmp(a->s, b->s, n);
        return r ? (r < 0 ? -1 : 1) : (a->n < b->n ? -1 : a->n > b->n);
    }
    *incomparable = true;
    return 0;
}
