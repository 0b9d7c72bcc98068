/*
 * datetime.c — date, datetime and RFC 3339 texts (interval bounds, cursor
 * values) normalised to one form SQL Server and the encoders read:
 * "YYYY-MM-DD[ HH:MM:SS.fffffff][ +HH:MM]". Pure arithmetic: no locale,
 * no time zone database.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipe_int.h"

int pipe_digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

long pipe_days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void pipe_civil_from_days(long z, long *y, int *m, int *d)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* A time of day and its offset, as parsed. */
typedef struct clock_part {
    int h, mi, s, off; /* off: minutes east of UTC */
    char frac[8];      /* 7 digits */
    bool has_offset;
} clock_part;

/* "Z", "+HH:MM", "-HHMM", "+HH" at p (after optional spaces); NULL when
 * malformed, else where it stopped. */
static const char *parse_offset(const char *p, clock_part *c)
{
    while (*p == ' ')
        p++;
    if (*p == 'Z' || *p == 'z') {
        c->has_offset = true;
        return p + 1;
    }
    if (*p != '+' && *p != '-')
        return p;
    int sign = *p == '-' ? -1 : 1;
    p++;
    int oh = pipe_digits(p, 2), om = 0;
    if (oh < 0)
        return NULL;
    p += 2;
    if (*p == ':')
        p++;
    if (*p) {
        if ((om = pipe_digits(p, 2)) < 0)
            return NULL;
        p += 2;
    }
    if (oh > 14 || om > 59)
        return NULL;
    c->off = sign * (oh * 60 + om);
    c->has_offset = true;
    return p;
}

/* "HH:MM[:SS[.fffffff…]]" and an offset at p; NULL when malformed, else
 * where it stopped. Fractions beyond 7 digits are dropped. */
static const char *parse_clock(const char *p, clock_part *c)
{
    if (strlen(p) < 5 || p[2] != ':')
        return NULL;
    c->h = pipe_digits(p, 2);
    c->mi = pipe_digits(p + 3, 2);
    p += 5;
    if (*p == ':') {
        if ((c->s = pipe_digits(p + 1, 2)) < 0)
            return NULL; /* also keeps p inside the string */
        p += 3;
        if (*p == '.') {
            p++;
            int k = 0;
            for (; isdigit((unsigned char)*p); p++)
                if (k < 7)
                    c->frac[k++] = *p;
            if (!k)
                return NULL;
        }
    }
    if (c->h < 0 || c->h > 23 || c->mi < 0 || c->mi > 59 || c->s > 59)
        return NULL;
    return parse_offset(p, c);
}

int pipe_datetime_norm(const char *in, bool to_utc, char *out, size_t cap, bool *has_time, bool *has_offset)
{
    *has_time = *has_offset = false;
    if (strlen(in) < 10 || in[4] != '-' || in[7] != '-')
        return -1;
    int y = pipe_digits(in, 4), mo = pipe_digits(in + 5, 2), d = pipe_digits(in + 8, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    clock_part c = {0, 0, 0, 0, "0000000", false};
    const char *p = in + 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        *has_time = true;
        if (!(p = parse_clock(p + 1, &c)))
            return -1;
    }
    if (*p)
        return -1;
    *has_offset = c.has_offset;
    long yy = y;
    if (c.has_offset && to_utc && c.off) {
        long mins = pipe_days_from_civil(y, mo, d) * 1440 + c.h * 60 + c.mi - c.off;
        long day = mins >= 0 ? mins / 1440 : -((-mins + 1439) / 1440);
        long rem = mins - day * 1440;
        pipe_civil_from_days(day, &yy, &mo, &d);
        c.h = (int)(rem / 60);
        c.mi = (int)(rem % 60);
    }
    if (!*has_time)
        snprintf(out, cap, "%04ld-%02d-%02d", yy, mo, d);
    else if (c.has_offset && !to_utc)
        snprintf(out, cap, "%04ld-%02d-%02d %02d:%02d:%02d.%s %c%02d:%02d", yy, mo, d, c.h, c.mi, c.s, c.frac,
                 c.off < 0 ? '-' : '+', abs(c.off) / 60, abs(c.off) % 60);
    else
        snprintf(out, cap, "%04ld-%02d-%02d %02d:%02d:%02d.%s", yy, mo, d, c.h, c.mi, c.s, c.frac);
    return 0;
}
