/*
 * par_plan.c — the windows of a parallel read (par_int.h), computed from
 * the partition key's bounds alone: no I/O, so tests/pipe/test_par_plan.c
 * checks its exactness over random key sets.
 *
 * Windows are closed-open [lo, hi) on the key as a 64-bit number, laid
 * end to end from the start (the minimum, or --interval-start on the
 * same column); the first is open below and the last open above, so they
 * partition every possible key value, and NULL has a window of its own.
 * Arithmetic on the span is done in 128 bits (a bigint key may span the
 * whole int64 range).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par_int.h"
#include "pipe_int.h"
#include "tds_ascii.h"

par_kind par_kind_of(const char *t)
{
    static const struct { const char *name; par_kind kind; } kinds[] = {
        {"tinyint", PAR_INT}, {"smallint", PAR_INT}, {"int", PAR_INT}, {"bigint", PAR_INT},
        {"date", PAR_DATE}, {"datetime", PAR_TIME}, {"datetime2", PAR_TIME}, {"smalldatetime", PAR_TIME},
        {"datetimeoffset", PAR_TIME_UTC},
    };
    for (size_t i = 0; t && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!tds_ascii_casecmp(t, kinds[i].name))
            return kinds[i].kind;
    return PAR_NONE;
}

/* ---------------------------------------------------------- interval */

/* One "<number><unit>" of a duration; the number may have a fraction.
 * Returns where it stopped, or NULL. */
static const char *duration_part(const char *p, __int128 *ticks)
{
    static const struct { const char *unit; int64_t ticks; } units[] = {
        {"ns", 0}, {"us", 10}, {"ms", 10000}, {"s", PAR_TICKS_PER_SECOND},
        {"m", 60 * PAR_TICKS_PER_SECOND}, {"h", 3600 * PAR_TICKS_PER_SECOND}, {"d", PAR_TICKS_PER_DAY},
        {"w", 7 * PAR_TICKS_PER_DAY},
    };
    char *end;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return NULL;
    double x = pipe__strtod_c(p, &end);
    if (end == p || x < 0 || x > 1e15)
        return NULL;
    size_t best = 0, blen = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t l = strlen(units[i].unit);
        if (!strncmp(end, units[i].unit, l) && l > blen)
            best = i, blen = l;
    }
    if (!blen)
        return NULL;
    /* ns: below a tick, counted as ticks of 100 ns rounded down */
    double t = units[best].ticks ? x * (double)units[best].ticks : x / 100.0;
    if (t > 9e18)
        return NULL;
    *ticks += (__int128)t;
    return end + blen;
}

int par_interval_parse(const char *s, par_interval *iv, char *why, size_t cap)
{
    memset(iv, 0, sizeof *iv);
    if (!s || !*s || !tds_ascii_casecmp(s, "auto")) {
        iv->is_auto = true;
        return 0;
    }
    if (strspn(s, "0123456789") == strlen(s)) {
        char *end;
        long long x = strtoll(s, &end, 10);
        if (x <= 0 || strlen(s) > 18) {
            snprintf(why, cap, "--extract-partition-interval: the step must be a positive whole number below 10^18, got '%.40s'", s);
            return -1;
        }
        iv->step = x;
        return 0;
    }
    __int128 ticks = 0;
    const char *p = s;
    while (p && *p)
        p = duration_part(p, &ticks);
    if (!p || ticks <= 0 || ticks > INT64_MAX) {
        snprintf(why, cap, "--extract-partition-interval: expected auto, a whole number or a duration such as 6h, 7d or 1w, got '%.40s'", s);
        return -1;
    }
    iv->is_duration = true;
    iv->step = (int64_t)ticks;
    return 0;
}

/* --------------------------------------------------------- windows */

/* The step for b and iv, or 0 with a reason in why. */
static int64_t step_for(const par_bounds *b, const par_interval *iv, unsigned connections, __int128 width, char *why,
                        size_t cap)
{
    if (iv->is_auto) {
        __int128 target = (__int128)(connections ? connections : 1) * PAR_WINDOWS_PER_CONNECTION;
        __int128 step = (width + target - 1) / target;
        if (b->kind == PAR_TIME || b->kind == PAR_TIME_UTC)
            step = step < PAR_TICKS_PER_SECOND ? PAR_TICKS_PER_SECOND : step; /* ingestr: at least 1 s */
        return step > INT64_MAX ? INT64_MAX : step < 1 ? 1 : (int64_t)step;
    }
    if (!iv->is_duration) {
        if (b->kind == PAR_INT)
            return iv->step;
        snprintf(why, cap, "--extract-partition-interval: a date or datetime column takes a duration such as 6h or 7d, not a number");
        return 0;
    }
    if (b->kind == PAR_INT) {
        snprintf(why, cap, "--extract-partition-interval: an integer column takes a whole number step, not a duration");
        return 0;
    }
    if (b->kind == PAR_DATE) {
        if (iv->step % PAR_TICKS_PER_DAY) {
            snprintf(why, cap, "--extract-partition-interval: a date column takes whole days (24h, 1d, 7d…)");
            return 0;
        }
        return iv->step / PAR_TICKS_PER_DAY;
    }
    return iv->step;
}

int par_plan(const par_bounds *b, const par_interval *iv, unsigned connections, par_window **out, size_t *n,
             char *why, size_t cap)
{
    *out = NULL;
    *n = 0;
    __int128 start = b->min, count = 1, width = 1;
    int64_t step = 1;
    if (b->has_range) {
        if (b->has_anchor && b->anchor <= b->min)
            start = b->anchor; /* windows aligned on --interval-start */
        width = (__int128)b->max - start + 1;
        if (!(step = step_for(b, iv, connections, width, why, cap)))
            return -1;
        count = (width + step - 1) / step;
        if (count > PAR_MAX_WINDOWS) {
            snprintf(why, cap, "--extract-partition-interval would make more than %d windows: use a larger step or auto",
                     PAR_MAX_WINDOWS);
            return -1;
        }
    }
    size_t total = (size_t)count + (b->has_nulls ? 1 : 0);
    par_window *w = calloc(total, sizeof *w);
    if (!w) {
        snprintf(why, cap, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < (size_t)count; k++) {
        __int128 lo = start + (__int128)k * step;
        w[k].lo = (int64_t)lo;
        w[k].hi = lo + step > INT64_MAX ? INT64_MAX : (int64_t)(lo + step);
        w[k].open_lo = k == 0;
        w[k].open_hi = k + 1 == (size_t)count;
    }
    if (b->has_nulls)
        w[total - 1].is_null = true;
    *out = w;
    *n = total;
    return 0;
}

bool par_window_has(const par_window *w, bool is_null, int64_t key)
{
    if (w->is_empty)
        return false;
    if (w->is_null || is_null)
        return (w->is_null || w->or_null) && is_null;
    return (w->open_lo || key >= w->lo) && (w->open_hi || key < w->hi);
}

/* ------------------------------------------------------------ text */

/* Days from 0001-01-01 (SQL Server's date origin) to 1970-01-01, where
 * pipe_days_from_civil counts from. */
#define PAR_EPOCH_DAYS 719162

int par_literal(par_kind kind, int64_t v, char *out, size_t cap)
{
    if (kind == PAR_INT)
        return snprintf(out, cap, "%lld", (long long)v);
    int64_t days = kind == PAR_DATE ? v : v / PAR_TICKS_PER_DAY;
    int64_t ticks = kind == PAR_DATE ? 0 : v % PAR_TICKS_PER_DAY;
    if (v < 0 || days > 3652058) /* 0001-01-01 .. 9999-12-31 */
        return -1;
    long y;
    int m, d;
    pipe_civil_from_days((long)(days - PAR_EPOCH_DAYS), &y, &m, &d);
    if (kind == PAR_DATE)
        return snprintf(out, cap, "CAST(N'%04ld-%02d-%02d' AS date)", y, m, d);
    int64_t s = ticks / PAR_TICKS_PER_SECOND;
    return snprintf(out, cap, "CAST(N'%04ld-%02d-%02d %02lld:%02lld:%02lld.%07lld%s' AS %s)", y, m, d,
                    (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60),
                    (long long)(ticks % PAR_TICKS_PER_SECOND), kind == PAR_TIME_UTC ? " +00:00" : "",
                    kind == PAR_TIME_UTC ? "datetimeoffset(7)" : "datetime2(7)");
}

int par_value_parse(par_kind kind, const char *text, int64_t *out)
{
    if (kind == PAR_INT) {
        char *end;
        if (!*text)
            return -1;
        long long x = strtoll(text, &end, 10);
        *out = x;
        return *end ? -1 : 0;
    }
    char norm[64];
    bool ht, ho;
    if (kind == PAR_NONE || pipe_datetime_norm(text, true, norm, sizeof norm, &ht, &ho))
        return -1;
    int64_t days =
        pipe_days_from_civil(pipe_digits(norm, 4), pipe_digits(norm + 5, 2), pipe_digits(norm + 8, 2)) + PAR_EPOCH_DAYS;
    if (kind == PAR_DATE) {
        *out = days;
        return 0;
    }
    int64_t t = 0;
    if (ht) /* "YYYY-MM-DD HH:MM:SS.fffffff" */
        t = ((int64_t)pipe_digits(norm + 11, 2) * 3600 + pipe_digits(norm + 14, 2) * 60 + pipe_digits(norm + 17, 2)) *
                PAR_TICKS_PER_SECOND + pipe_digits(norm + 20, 7);
    *out = days * PAR_TICKS_PER_DAY + t;
    return 0;
}

char *par_window_sql(const par_window *w, par_kind kind, const char *qcol)
{
    char lo[96], hi[96];
    size_t cap = 2 * strlen(qcol) + 2 * sizeof lo + 32;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    if (w->is_empty) {
        snprintf(s, cap, "1 = 0");
        return s;
    }
    if (w->is_null) {
        snprintf(s, cap, "%s IS NULL", qcol);
        return s;
    }
    if ((!w->open_lo && par_literal(kind, w->lo, lo, sizeof lo) < 0) ||
        (!w->open_hi && par_literal(kind, w->hi, hi, sizeof hi) < 0)) {
        free(s);
        return NULL;
    }
    if (w->or_null && w->open_lo && w->open_hi)
        snprintf(s, cap, "1 = 1");
    else if (w->or_null && w->open_lo) /* par_partfn.c: the first window takes the NULLs */
        snprintf(s, cap, "(%s IS NULL OR %s < %s)", qcol, qcol, hi);
    else if (w->open_lo && w->open_hi)
        snprintf(s, cap, "%s IS NOT NULL", qcol);
    else if (w->open_lo)
        snprintf(s, cap, "%s < %s", qcol, hi);
    else if (w->open_hi)
        snprintf(s, cap, "%s >= %s", qcol, lo);
    else
        snprintf(s, cap, "%s >= %s AND %s < %s", qcol, lo, qcol, hi);
    return s;
}
