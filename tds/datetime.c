/*
 * datetime.c — calendar math and the canonical text of every date/time
 * kind, plus tds_datetime_parse.
 *
 * Invariants: a tds_datetime holds days since 0001-01-01 (proleptic
 * Gregorian) and 100 ns ticks since midnight; for datetimeoffset these are
 * UTC and offset_min gives local time. tds__datetime_round() snaps ticks to
 * the grid of the kind (1/300 s for datetime, minutes for smalldatetime,
 * 10^-scale s otherwise); parse, encode and text all go through it, so
 * text(decode(x)) parses back to exactly the decoded struct.
 */
#include "value_int.h"

/* Howard Hinnant's civil-from-days / days-from-civil, shifted so that day
 * 0 is 0001-01-01 (day 306 is 0001-03-01 counted from 0000-03-01). */
int32_t tds__ymd_to_days(int32_t y, unsigned m, unsigned d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    uint64_t yoe = (uint64_t)(yy - era * 400);
    uint64_t doy = (153 * (uint64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + (int64_t)doe - 306);
}

void tds__days_to_ymd(int32_t days, int32_t *y, unsigned *m, unsigned *d)
{
    int64_t z = (int64_t)days + 306;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    uint64_t doe = (uint64_t)(z - era * 146097);
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int32_t)((int64_t)yoe + era * 400 + (*m <= 2));
}

static const uint64_t pow10_u64[8] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000 };

static void add_days(tds_datetime *dt, int64_t n)
{
    int64_t nd = (int64_t)dt->days + n;
    dt->days = nd > INT32_MAX ? INT32_MAX : nd < INT32_MIN ? INT32_MIN : (int32_t)nd;
}

void tds__datetime_round(tds_datetime *dt)
{
    if (dt->ticks >= TDS__TICKS_PER_DAY) {
        add_days(dt, (int64_t)(dt->ticks / TDS__TICKS_PER_DAY));
        dt->ticks %= TDS__TICKS_PER_DAY;
    }
    switch (dt->kind) {
    case TDS_K_DATE:
        dt->ticks = 0;
        dt->scale = 0;
        break;
    case TDS_K_DATETIME: {
        uint64_t t300 = (dt->ticks * 3 + 50000) / 100000;
        if (t300 >= 300ULL * 86400) {
            add_days(dt, 1);
            t300 = 0;
        }
        dt->ticks = (t300 * 100000 + 1) / 3;
        dt->scale = 3;
        break;
    }
    case TDS_K_SMALLDATETIME: {
        uint64_t min = (dt->ticks + 300000000) / 600000000;
        if (min >= 1440) {
            add_days(dt, 1);
            min = 0;
        }
        dt->ticks = min * 600000000;
        dt->scale = 0;
        break;
    }
    case TDS_K_TIME: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET: {
        if (dt->scale > 7)
            dt->scale = 7;
        uint64_t unit = pow10_u64[7 - dt->scale];
        dt->ticks = (dt->ticks + unit / 2) / unit * unit;
        if (dt->ticks >= TDS__TICKS_PER_DAY) {
            dt->ticks = 0;
            if (dt->kind != TDS_K_TIME)
                add_days(dt, 1);
        }
        break;
    }
    default:
        break;
    }
    if (dt->kind == TDS_K_TIME)
        dt->days = 0;
    if (dt->kind != TDS_K_DATETIMEOFFSET)
        dt->offset_min = 0;
}

bool tds__datetime_in_range(const tds_datetime *dt)
{
    if (dt->ticks >= TDS__TICKS_PER_DAY)
        return false;
    switch (dt->kind) {
    case TDS_K_DATETIME:
        return dt->days >= TDS__DAYS_1753 && dt->days <= TDS__DAYS_MAX;
    case TDS_K_SMALLDATETIME:
        return dt->days >= TDS__DAYS_1900 && dt->days <= TDS__DAYS_1900 + 65535;
    case TDS_K_TIME:
        return dt->scale <= 7;
    case TDS_K_DATE: case TDS_K_DATETIME2:
        return dt->days >= 0 && dt->days <= TDS__DAYS_MAX && dt->scale <= 7;
    case TDS_K_DATETIMEOFFSET:
        return dt->days >= 0 && dt->days <= TDS__DAYS_MAX && dt->scale <= 7 &&
               dt->offset_min >= -840 && dt->offset_min <= 840;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------ text */

static size_t put_uint(char *b, uint64_t v, unsigned width)
{
    char t[24];
    size_t n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        t[n++] = '0';
    for (size_t i = 0; i < n; i++)
        b[i] = t[n - 1 - i];
    return n;
}

static size_t put_date(char *b, int32_t days)
{
    int32_t y;
    unsigned m, d;
    tds__days_to_ymd(days, &y, &m, &d);
    size_t o = 0;
    if (y < 0)
        b[o++] = '-';
    o += put_uint(b + o, y < 0 ? (uint64_t)-(int64_t)y : (uint64_t)y, 4);
    b[o++] = '-';
    o += put_uint(b + o, m, 2);
    b[o++] = '-';
    o += put_uint(b + o, d, 2);
    return o;
}

/* hh:mm:ss plus `digits` fractional digits taken from ticks. */
static size_t put_time(char *b, uint64_t ticks, unsigned digits)
{
    uint64_t secs = ticks / 10000000;
    size_t o = put_uint(b, secs / 3600, 2);
    b[o++] = ':';
    o += put_uint(b + o, secs / 60 % 60, 2);
    b[o++] = ':';
    o += put_uint(b + o, secs % 60, 2);
    if (digits) {
        b[o++] = '.';
        o += put_uint(b + o, ticks % 10000000 / pow10_u64[7 - digits], digits);
    }
    return o;
}

size_t tds__datetime_text(const tds_datetime *in, char *buf)
{
    tds_datetime dt = *in;
    tds__datetime_round(&dt);
    size_t o = 0;
    switch (dt.kind) {
    case TDS_K_DATE:
        o = put_date(buf, dt.days);
        break;
    case TDS_K_TIME:
        o = put_time(buf, dt.ticks, dt.scale);
        break;
    case TDS_K_DATETIME: {
        /* 1/300 s shown as milliseconds the way SQL Server does: .000,
         * .003, .007. Ticks are on the 1/300 grid, so this never reaches
         * the next day. */
        uint64_t ms = (dt.ticks + 5000) / 10000;
        o = put_date(buf, dt.days);
        buf[o++] = ' ';
        o += put_time(buf + o, ms / 1000 * 10000000, 0);
        buf[o++] = '.';
        o += put_uint(buf + o, ms % 1000, 3);
        break;
    }
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME2:
        o = put_date(buf, dt.days);
        buf[o++] = ' ';
        o += put_time(buf + o, dt.ticks, dt.scale);
        break;
    case TDS_K_DATETIMEOFFSET: {
        int64_t local = (int64_t)dt.days * (int64_t)TDS__TICKS_PER_DAY + (int64_t)dt.ticks +
                        (int64_t)dt.offset_min * 600000000;
        int64_t tpd = (int64_t)TDS__TICKS_PER_DAY;
        int64_t ld = local >= 0 ? local / tpd : -((-local + tpd - 1) / tpd);
        o = put_date(buf, (int32_t)ld);
        buf[o++] = ' ';
        o += put_time(buf + o, (uint64_t)(local - ld * tpd), dt.scale);
        int off = dt.offset_min;
        buf[o++] = ' ';
        buf[o++] = off < 0 ? '-' : '+';
        if (off < 0)
            off = -off;
        o += put_uint(buf + o, (unsigned)off / 60, 2);
        buf[o++] = ':';
        o += put_uint(buf + o, (unsigned)off % 60, 2);
        break;
    }
    default:
        break;
    }
    buf[o] = '\0';
    return o;
}

/* ----------------------------------------------------------------- parse */

typedef struct {
    const char *s;
    size_t i, n;
} cur;

/* Exactly min..max digits; returns false otherwise. */
static bool digits(cur *c, unsigned min, unsigned max, uint32_t *v)
{
    uint32_t r = 0;
    unsigned k = 0;
    while (k < max && c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        r = r * 10 + (uint32_t)(c->s[c->i++] - '0');
        k++;
    }
    *v = r;
    return k >= min && !(c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9');
}

static bool lit(cur *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

static bool peek_date(const cur *c)
{
    /* a date starts with 4+ digits then '-' */
    size_t i = c->i;
    while (i < c->n && c->s[i] >= '0' && c->s[i] <= '9')
        i++;
    return i - c->i >= 4 && i < c->n && c->s[i] == '-';
}

static bool parse_date(cur *c, int32_t *days)
{
    uint32_t y, m, d;
    if (!digits(c, 4, 5, &y) || !lit(c, '-') || !digits(c, 2, 2, &m) || !lit(c, '-') ||
        !digits(c, 2, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1)
        return false;
    static const uint8_t mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return false;
    *days = tds__ymd_to_days((int32_t)y, m, d);
    return true;
}

static bool parse_time(cur *c, uint64_t *ticks)
{
    uint32_t h, mi, s = 0;
    if (!digits(c, 2, 2, &h) || !lit(c, ':') || !digits(c, 2, 2, &mi))
        return false;
    uint64_t frac = 0;
    if (lit(c, ':')) {
        if (!digits(c, 2, 2, &s))
            return false;
        if (lit(c, '.')) {
            unsigned k = 0;
            bool up = false;
            while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
                unsigned dg = (unsigned)(c->s[c->i++] - '0');
                if (k < 7)
                    frac = frac * 10 + dg;
                else if (k == 7)
                    up = dg >= 5;
                k++;
            }
            if (k == 0)
                return false;
            for (; k < 7; k++)
                frac *= 10;
            frac += up;
        }
    }
    if (h > 23 || mi > 59 || s > 59)
        return false;
    *ticks = ((uint64_t)h * 3600 + mi * 60 + s) * 10000000 + frac;
    return true;
}

int tds_datetime_parse(const char *s, size_t len, tds_kind kind, uint8_t scale, tds_datetime *out)
{
    if (!s || !out)
        return TDS_E_ARG;
    switch (kind) {
    case TDS_K_DATE: case TDS_K_DATETIME: case TDS_K_SMALLDATETIME:
        scale = kind == TDS_K_DATETIME ? 3 : 0;
        break;
    case TDS_K_TIME: case TDS_K_DATETIME2: case TDS_K_DATETIMEOFFSET:
        if (scale > 7)
            return TDS_E_ARG;
        break;
    default:
        return TDS_E_ARG;
    }
    cur c = { s, 0, len };
    bool have_date = false, have_time = false;
    int32_t days = TDS__DAYS_1900; /* SQL Server's default date for time-only text */
    uint64_t ticks = 0;
    if (peek_date(&c)) {
        if (!parse_date(&c, &days))
            return TDS_E_ARG;
        have_date = true;
        if (c.i < c.n && (c.s[c.i] == ' ' || c.s[c.i] == 'T') && c.i + 1 < c.n &&
            c.s[c.i + 1] >= '0' && c.s[c.i + 1] <= '9') {
            c.i++;
            if (!parse_time(&c, &ticks))
                return TDS_E_ARG;
            have_time = true;
        }
    } else {
        if (!parse_time(&c, &ticks))
            return TDS_E_ARG;
        have_time = true;
    }
    int off = 0;
    if (have_time && c.i < c.n) {
        size_t save = c.i;
        lit(&c, ' ');
        if (lit(&c, 'Z')) {
            off = 0;
        } else if (c.i < c.n && (c.s[c.i] == '+' || c.s[c.i] == '-')) {
            bool neg = c.s[c.i++] == '-';
            uint32_t oh, om;
            if (!digits(&c, 2, 2, &oh) || !lit(&c, ':') || !digits(&c, 2, 2, &om) || om > 59)
                return TDS_E_ARG;
            off = (int)(oh * 60 + om);
            if (off > 840)
                return TDS_E_ARG;
            if (neg)
                off = -off;
        } else {
            c.i = save;
        }
    }
    if (c.i != c.n)
        return TDS_E_ARG;
    if ((kind == TDS_K_DATE && !have_date) || (kind == TDS_K_TIME && !have_time))
        return TDS_E_ARG;

    tds_datetime dt;
    memset(&dt, 0, sizeof dt);
    dt.kind = (uint8_t)kind;
    dt.scale = scale;
    dt.days = days;
    dt.ticks = ticks;
    if (kind == TDS_K_DATETIMEOFFSET) {
        /* Round in local time first, then move to UTC. */
        tds__datetime_round(&dt);
        int64_t tpd = (int64_t)TDS__TICKS_PER_DAY;
        int64_t utc = (int64_t)dt.days * tpd + (int64_t)dt.ticks - (int64_t)off * 600000000;
        int64_t ud = utc >= 0 ? utc / tpd : -((-utc + tpd - 1) / tpd);
        if (ud < INT32_MIN || ud > INT32_MAX)
            return TDS_E_ARG;
        dt.days = (int32_t)ud;
        dt.ticks = (uint64_t)(utc - ud * tpd);
        dt.offset_min = (int16_t)off;
    } else {
        tds__datetime_round(&dt);
    }
    if (!tds__datetime_in_range(&dt))
        return TDS_E_ARG;
    *out = dt;
    return TDS_OK;
}
