/*
 * file_types.c — types for the file sources: inference from a sample of
 * fields, the --columns type names, and each field's text into the wire
 * bytes of its column (so every sink, SQL Server's bulk load included,
 * gets the same typed value views a SQL Server source gives).
 *
 * Text forms read: integers in decimal; floats as strtod reads them in
 * the "C" locale (file_num.c: a decimal point whatever LC_NUMERIC says);
 * booleans true/false, t/f, yes/no, 1/0 (any case); decimals exact; dates
 * YYYY-MM-DD; timestamps "YYYY-MM-DD[ T]hh:mm[:ss[.f…]][Z|±hh[:mm]]"
 * (pipe_datetime_norm; a timestamp without offset is UTC for
 * datetimeoffset); times hh:mm:ss[.f…]; GUIDs 8-4-4-4-12; binary as hex
 * with an optional 0x.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file_int.h"
#include "tds_ascii.h"

void pipe_infer_init(pipe_infer *f)
{
    memset(f, 0, sizeof *f);
    f->is_int = f->is_float = f->is_bool = f->is_date = f->is_ts = f->is_tstz = true;
}

static bool parse_int(const char *p, size_t n, int64_t *out)
{
    char buf[32];
    if (!n || n >= sizeof buf)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    const char *s = buf + (buf[0] == '-' || buf[0] == '+');
    if (!*s)
        return false;
    for (const char *q = s; *q; q++)
        if (!isdigit((unsigned char)*q))
            return false;
    errno = 0;
    char *end;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_float(const char *p, size_t n, double *out)
{
    char buf[64];
    if (!n || n >= sizeof buf || isspace((unsigned char)p[0]))
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end;
    double v = pipe__strtod_c(buf, &end);
    if (*end || !isfinite(v)) /* nan/inf: no SQL Server float holds them */
        return false;
    /* hex floats and the like are not data files' numbers */
    for (const char *q = buf; *q; q++)
        if (!strchr("0123456789+-.eE", *q))
            return false;
    *out = v;
    return true;
}

static int parse_bool(const char *p, size_t n)
{
    static const char *const t[] = {"true", "t", "yes", "1", NULL}, *const f[] = {"false", "f", "no", "0", NULL};
    for (int i = 0; t[i]; i++)
        if (n == strlen(t[i]) && !tds_ascii_ncasecmp(p, t[i], n))
            return 1;
    for (int i = 0; f[i]; i++)
        if (n == strlen(f[i]) && !tds_ascii_ncasecmp(p, f[i], n))
            return 0;
    return -1;
}

/* date (1), timestamp without offset (2), with offset (3), or 0 */
static int ts_form(const char *p, size_t n)
{
    char in[64], norm[64];
    if (n < 10 || n >= sizeof in)
        return 0;
    memcpy(in, p, n);
    in[n] = '\0';
    bool ht, ho;
    if (pipe_datetime_norm(in, false, norm, sizeof norm, &ht, &ho))
        return 0;
    return !ht ? 1 : ho ? 3 : 2;
}

void pipe_infer_add(pipe_infer *f, const pipe_fv *v)
{
    if (v->kind == PIPE_FV_NULL)
        return;
    f->seen = true;
    int64_t i;
    double d;
    switch (v->kind) {
    case PIPE_FV_INT:
        f->is_bool = f->is_date = f->is_ts = f->is_tstz = false;
        break;
    case PIPE_FV_FLOAT:
        f->is_int = f->is_bool = f->is_date = f->is_ts = f->is_tstz = false;
        break;
    case PIPE_FV_BOOL:
        f->is_int = f->is_float = f->is_date = f->is_ts = f->is_tstz = false;
        break;
    case PIPE_FV_JSON:
        f->is_int = f->is_float = f->is_bool = f->is_date = f->is_ts = f->is_tstz = false;
        f->is_json = true;
        break;
    case PIPE_FV_TEXT: /* a JSON string: a date or timestamp, else text */
        f->is_int = f->is_float = f->is_bool = false;
        /* fall through */
    default: {
        if (f->is_int && !parse_int(v->p, v->len, &i))
            f->is_int = false;
        if (f->is_float && !parse_float(v->p, v->len, &d))
            f->is_float = false;
        if (f->is_bool && (parse_bool(v->p, v->len) < 0 || isdigit((unsigned char)v->p[0])))
            f->is_bool = false; /* 0/1 columns are integers */
        int t = f->is_date || f->is_ts || f->is_tstz ? ts_form(v->p, v->len) : 0;
        if (t != 1)
            f->is_date = false;
        if (t == 0)
            f->is_ts = f->is_tstz = false;
        if (t == 2)
            f->is_tstz = false;
        break;
    }
    }
}

int pipe_infer_column(const pipe_infer *f, tds_column *out)
{
    int rc;
    if (!f->seen)
        rc = tds_column_init(out, TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    else if (f->is_int)
        rc = tds_column_init(out, TDS_T_INTN, 8, 0, 0);
    else if (f->is_float)
        rc = tds_column_init(out, TDS_T_FLTN, 8, 0, 0);
    else if (f->is_bool)
        rc = tds_column_init(out, TDS_T_BITN, 1, 0, 0);
    else if (f->is_date)
        rc = tds_column_init(out, TDS_T_DATEN, 3, 0, 0);
    else if (f->is_tstz)
        rc = tds_column_init(out, TDS_T_DATETIMEOFFSETN, 0, 0, 7);
    else if (f->is_ts)
        rc = tds_column_init(out, TDS_T_DATETIME2N, 0, 0, 7);
    else
        rc = tds_column_init(out, TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    out->flags |= TDS_COL_NULLABLE;
    return rc == TDS_OK ? 0 : -1;
}

/* "name" or "name(a[,b])" → base and up to two numbers (-1 absent, -2 max) */
static int split_type(const char *t, char *base, size_t cap, long *a, long *b)
{
    *a = *b = -1;
    const char *lp = strchr(t, '(');
    size_t bn = lp ? (size_t)(lp - t) : strlen(t);
    if (!bn || bn >= cap)
        return -1;
    for (size_t i = 0; i < bn; i++)
        base[i] = (char)tolower((unsigned char)t[i]);
    base[bn] = '\0';
    if (!lp)
        return 0;
    if (!tds_ascii_ncasecmp(lp, "(max)", 5)) {
        *a = -2;
        return 0;
    }
    char *end;
    *a = strtol(lp + 1, &end, 10);
    if (*end == ',')
        *b = strtol(end + 1, &end, 10);
    return *end == ')' ? 0 : -1;
}

int pipe_file_column(const char *sqltype, tds_column *out)
{
    char base[32];
    long a, b;
    if (split_type(sqltype, base, sizeof base, &a, &b))
        return -1;
    int rc = -1;
    uint8_t sc = a >= 0 && a <= 7 ? (uint8_t)a : 7;
    if (!strcmp(base, "bigint"))
        rc = tds_column_init(out, TDS_T_INTN, 8, 0, 0);
    else if (!strcmp(base, "int"))
        rc = tds_column_init(out, TDS_T_INTN, 4, 0, 0);
    else if (!strcmp(base, "smallint"))
        rc = tds_column_init(out, TDS_T_INTN, 2, 0, 0);
    else if (!strcmp(base, "tinyint"))
        rc = tds_column_init(out, TDS_T_INTN, 1, 0, 0);
    else if (!strcmp(base, "bit"))
        rc = tds_column_init(out, TDS_T_BITN, 1, 0, 0);
    else if (!strcmp(base, "float"))
        rc = tds_column_init(out, TDS_T_FLTN, a > 0 && a <= 24 ? 4 : 8, 0, 0);
    else if (!strcmp(base, "real"))
        rc = tds_column_init(out, TDS_T_FLTN, 4, 0, 0);
    else if (!strcmp(base, "money"))
        rc = tds_column_init(out, TDS_T_MONEYN, 8, 0, 0);
    else if (!strcmp(base, "smallmoney"))
        rc = tds_column_init(out, TDS_T_MONEYN, 4, 0, 0);
    else if (!strcmp(base, "decimal") || !strcmp(base, "numeric")) {
        long p = a > 0 ? a : 18, s = b >= 0 ? b : 0;
        if (p > 38 || s > p)
            return -1;
        rc = tds_column_init(out, TDS_T_DECIMALN, 0, (uint8_t)p, (uint8_t)s);
    } else if (!strcmp(base, "date"))
        rc = tds_column_init(out, TDS_T_DATEN, 3, 0, 0);
    else if (!strcmp(base, "time"))
        rc = tds_column_init(out, TDS_T_TIMEN, 0, 0, sc);
    else if (!strcmp(base, "datetime2") || !strcmp(base, "datetime"))
        rc = tds_column_init(out, TDS_T_DATETIME2N, 0, 0, !strcmp(base, "datetime") ? 3 : sc);
    else if (!strcmp(base, "datetimeoffset"))
        rc = tds_column_init(out, TDS_T_DATETIMEOFFSETN, 0, 0, sc);
    else if (!strcmp(base, "uniqueidentifier"))
        rc = tds_column_init(out, TDS_T_GUID, 16, 0, 0);
    else if (!strcmp(base, "nvarchar") || !strcmp(base, "varchar") || !strcmp(base, "nchar") || !strcmp(base, "char"))
        rc = tds_column_init(out, TDS_T_NVARCHAR, a > 0 && a <= 4000 ? (uint32_t)(2 * a) : 0xFFFF, 0, 0);
    else if (!strcmp(base, "varbinary") || !strcmp(base, "binary"))
        rc = tds_column_init(out, TDS_T_BIGVARBIN, a > 0 && a <= 8000 ? (uint32_t)a : 0xFFFF, 0, 0);
    if (rc != TDS_OK)
        return -1;
    out->flags |= TDS_COL_NULLABLE;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#define WHY(...) (snprintf(why, whycap, __VA_ARGS__), -1)

/* Each encoder: the field's text p[0..len) (NUL-terminated at len for
 * CSV; JSON text is copied first by the readers) into out. Returns the
 * bytes written or -1 with why. */

static int enc_int(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why, size_t whycap)
{
    int64_t x;
    if (!parse_int(p, len, &x))
        return WHY("'%.40s' is not an integer", p);
    int w = tds_encode_int(c, x, out, cap);
    return w < 0 ? WHY("%.40s does not fit the column's integer type", p) : w;
}

static int enc_bit(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why, size_t whycap)
{
    int b = parse_bool(p, len);
    return b < 0 ? WHY("'%.40s' is not a boolean", p) : tds_encode_int(c, b, out, cap);
}

static int enc_float(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why,
                     size_t whycap)
{
    double x;
    return parse_float(p, len, &x) ? tds_encode_float(c, x, out, cap) : WHY("'%.40s' is not a number", p);
}

static int enc_decimal(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why,
                       size_t whycap)
{
    tds_decimal d;
    uint8_t prec = c->kind == TDS_K_DECIMAL ? c->precision : c->kind == TDS_K_MONEY ? 19 : 10;
    uint8_t sc = c->kind == TDS_K_DECIMAL ? c->scale : 4;
    if (tds_decimal_parse(p, len, prec, sc, &d))
        return WHY("'%.40s' is not a decimal(%u,%u)", p, prec, sc);
    int w = tds_encode_decimal(c, &d, out, cap);
    return w < 0 ? WHY("%.40s does not fit the column", p) : w;
}

static int enc_datetime(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why,
                        size_t whycap)
{
    char in[64], norm[80];
    bool ht, ho, dto = c->kind == TDS_K_DATETIMEOFFSET;
    if (len >= sizeof in)
        return WHY("'%.40s' is not a date or timestamp", p);
    memcpy(in, p, len);
    in[len] = '\0';
    /* a stored wall time: an offset is applied (UTC), except for
     * datetimeoffset, which keeps it */
    if (pipe_datetime_norm(in, !dto, norm, sizeof norm - 20, &ht, &ho))
        return WHY("'%.40s' is not a date or timestamp", p);
    if (c->kind == TDS_K_DATE) {
        if (ht)
            return WHY("'%.40s' is not a date (it has a time)", p);
    } else {
        if (!ht)
            strcat(norm, " 00:00:00.0000000");
        if (dto && !ho)
            strcat(norm, " +00:00");
    }
    tds_datetime d;
    if (tds_datetime_parse(norm, strlen(norm), (tds_kind)c->kind, c->scale, &d))
        return WHY("'%.40s' is out of range for the column", p);
    return tds_encode_datetime(c, &d, out, cap);
}

static int enc_time(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why, size_t whycap)
{
    tds_datetime d;
    if (tds_datetime_parse(p, len, TDS_K_TIME, c->scale, &d))
        return WHY("'%.40s' is not a time", p);
    return tds_encode_datetime(c, &d, out, cap);
}

static int enc_guid(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why, size_t whycap)
{
    uint8_t g[16];
    if (tds_guid_parse(p, len, g))
        return WHY("'%.40s' is not a GUID", p);
    return tds_encode_guid(c, g, out, cap);
}

static int enc_text(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why, size_t whycap)
{
    int w = tds_encode_text(c, p, len, out, cap);
    if (w == TDS_E_ENCODING)
        return WHY("text that is not valid UTF-8");
    if (w < 0 || (!c->is_plp && (uint32_t)w > c->max_len))
        return WHY("text longer than the column's %u bytes", (unsigned)c->max_len);
    return w;
}

static int enc_binary(const tds_column *c, const char *p, size_t len, uint8_t *out, size_t cap, char *why,
                      size_t whycap)
{
    const char *text = p;
    if (len >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        len -= 2;
    }
    if (len % 2 || len / 2 > cap || (!c->is_plp && len / 2 > c->max_len))
        return WHY("'%.40s' is not hex bytes that fit the column", text);
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval(p[i]), lo = hexval(p[i + 1]);
        if (hi < 0 || lo < 0)
            return WHY("'%.40s' is not hex bytes", text);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(len / 2);
}

typedef int (*enc_fn)(const tds_column *, const char *, size_t, uint8_t *, size_t, char *, size_t);

static enc_fn encoder(uint8_t kind)
{
    switch (kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT:
        return enc_int;
    case TDS_K_BIT:
        return enc_bit;
    case TDS_K_REAL: case TDS_K_FLOAT:
        return enc_float;
    case TDS_K_DECIMAL: case TDS_K_MONEY: case TDS_K_SMALLMONEY:
        return enc_decimal;
    case TDS_K_DATE: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET: case TDS_K_DATETIME: case TDS_K_SMALLDATETIME:
        return enc_datetime;
    case TDS_K_TIME:
        return enc_time;
    case TDS_K_GUID:
        return enc_guid;
    case TDS_K_NCHAR: case TDS_K_CHAR:
        return enc_text;
    case TDS_K_BINARY:
        return enc_binary;
    default:
        return NULL;
    }
}

int pipe_fv_encode(const tds_column *c, const pipe_fv *v, uint8_t *out, size_t cap, size_t *n, bool *null,
                   char *why, size_t whycap)
{
    *n = 0;
    *null = v->kind == PIPE_FV_NULL;
    if (*null)
        return 0;
    enc_fn fn = encoder(c->kind);
    if (!fn)
        return WHY("no conversion for this column type");
    why[0] = '\0';
    int w = fn(c, v->p, v->len, out, cap, why, whycap);
    if (w < 0 && !why[0])
        return WHY("'%.40s' cannot be stored in the column", v->p);
    if (w < 0)
        return -1;
    *n = (size_t)w;
    return 0;
}
