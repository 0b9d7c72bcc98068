/* test_par_plan.c — the window planner of parallel reads (pipe/par_plan.c):
 * --extract-partition-interval, and the exactness property — over random
 * dense, sparse, skewed and duplicated key sets with NULLs, every key
 * (also keys outside the bounds, as rows written after the bounds were
 * read) lies in exactly one window, NULL only in the NULL window, and the
 * windows' counts add up to an independent count of the keys. Also the
 * key values' SQL literals and their parse back. The end-to-end read is
 * tests/cli/e2e_parallel.sh. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par_int.h"
#include "xorshift.h"

static int64_t rnd_in(int64_t lo, int64_t hi) /* inclusive */
{
    __uint128_t span = (__uint128_t)((__int128)hi - lo) + 1;
    return (int64_t)((__int128)lo + (__int128)(rnd() % (uint64_t)(span > UINT64_MAX ? UINT64_MAX : span)));
}

Test(par_plan, interval_parse)
{
    par_interval iv;
    char why[300];
    cr_assert_eq(par_interval_parse(NULL, &iv, why, sizeof why), 0);
    cr_assert(iv.is_auto);
    cr_assert_eq(par_interval_parse("AUTO", &iv, why, sizeof why), 0);
    cr_assert(iv.is_auto);
    cr_assert_eq(par_interval_parse("10000", &iv, why, sizeof why), 0);
    cr_assert(!iv.is_auto && !iv.is_duration && iv.step == 10000);
    static const struct { const char *s; int64_t ticks; } d[] = {
        {"6h", 6 * 3600 * PAR_TICKS_PER_SECOND}, {"7d", 7 * PAR_TICKS_PER_DAY}, {"1w", 7 * PAR_TICKS_PER_DAY},
        {"1h30m", 5400 * PAR_TICKS_PER_SECOND}, {"1.5d", 36 * 3600 * PAR_TICKS_PER_SECOND}, {"250ms", 2500000},
        {"90s", 90 * PAR_TICKS_PER_SECOND},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        cr_assert_eq(par_interval_parse(d[i].s, &iv, why, sizeof why), 0, "%s: %s", d[i].s, why);
        cr_assert(iv.is_duration, "%s", d[i].s);
        cr_assert_eq(iv.step, d[i].ticks, "%s: %lld", d[i].s, (long long)iv.step);
    }
    static const char *const bad[] = {"0", "-5", "abc", "5x", "7d3", "h", "0s", "1e400h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(par_interval_parse(bad[i], &iv, why, sizeof why), -1, "%s accepted", bad[i]);
        cr_assert(strstr(why, "--extract-partition-interval"), "%s", why);
    }
}

/* The interval must fit the column: ingestr's rules. */
Test(par_plan, interval_kinds)
{
    par_interval iv;
    par_window *w;
    size_t n;
    char why[300];
    par_bounds b = {.kind = PAR_INT, .has_range = true, .min = 0, .max = 99};
    par_interval_parse("6h", &iv, why, sizeof why);
    cr_assert_eq(par_plan(&b, &iv, 5, &w, &n, why, sizeof why), -1);
    cr_assert(strstr(why, "whole number step"), "%s", why);
    b.kind = PAR_DATE;
    par_interval_parse("7", &iv, why, sizeof why);
    cr_assert_eq(par_plan(&b, &iv, 5, &w, &n, why, sizeof why), -1);
    cr_assert(strstr(why, "duration"), "%s", why);
    par_interval_parse("36h", &iv, why, sizeof why);
    cr_assert_eq(par_plan(&b, &iv, 5, &w, &n, why, sizeof why), -1, "a date window is whole days");
    par_interval_parse("48h", &iv, why, sizeof why);
    cr_assert_eq(par_plan(&b, &iv, 5, &w, &n, why, sizeof why), 0, "%s", why);
    cr_assert_eq(n, 50, "100 days in 2-day windows");
    cr_assert_eq(w[1].lo, 2);
    cr_assert_eq(w[1].hi, 4);
    free(w);
    /* auto: 4 windows per connection (ingestr's extractAutoPartitionsPerWorker) */
    b.kind = PAR_INT;
    b.max = 999;
    iv.is_auto = true;
    cr_assert_eq(par_plan(&b, &iv, 5, &w, &n, why, sizeof why), 0);
    cr_assert_eq(n, 20);
    cr_assert_eq(w[0].hi - w[0].lo, 50);
    free(w);
    /* auto on a datetime: at least one second */
    b.kind = PAR_TIME;
    b.min = 0;
    b.max = 5 * PAR_TICKS_PER_SECOND - 1;
    cr_assert_eq(par_plan(&b, &iv, 8, &w, &n, why, sizeof why), 0);
    cr_assert_eq(n, 5);
    free(w);
    /* too many windows */
    b.kind = PAR_INT;
    b.max = 10000000;
    par_interval_parse("1", &iv, why, sizeof why);
    cr_assert_eq(par_plan(&b, &iv, 5, &w, &n, why, sizeof why), -1);
    cr_assert(strstr(why, "more than 100000 windows"), "%s", why);
}

Test(par_plan, window_sql)
{
    par_bounds b = {.kind = PAR_INT, .has_range = true, .has_nulls = true, .min = 0, .max = 29};
    par_interval iv;
    char why[300];
    par_interval_parse("10", &iv, why, sizeof why);
    par_window *w;
    size_t n;
    cr_assert_eq(par_plan(&b, &iv, 2, &w, &n, why, sizeof why), 0);
    cr_assert_eq(n, 4);
    static const char *const want[] = {"[id] < 10", "[id] >= 10 AND [id] < 20", "[id] >= 20", "[id] IS NULL"};
    for (size_t i = 0; i < n; i++) {
        char *s = par_window_sql(&w[i], PAR_INT, "[id]");
        cr_assert_str_eq(s, want[i]);
        free(s);
    }
    free(w);
    /* an empty source: one window, still returning the columns */
    par_bounds e = {.kind = PAR_DATE};
    iv.is_auto = true;
    cr_assert_eq(par_plan(&e, &iv, 5, &w, &n, why, sizeof why), 0);
    cr_assert_eq(n, 1);
    char *s = par_window_sql(&w[0], PAR_DATE, "[d]");
    cr_assert_str_eq(s, "[d] IS NOT NULL");
    free(s);
    free(w);
    par_window dw = {.lo = 738885, .hi = 738886}; /* 2024-01-01 .. 2024-01-02 */
    s = par_window_sql(&dw, PAR_DATE, "[d]");
    cr_assert_str_eq(s, "[d] >= CAST(N'2024-01-01' AS date) AND [d] < CAST(N'2024-01-02' AS date)");
    free(s);
}

/* Literal text back through par_value_parse gives the same value. */
Test(par_plan, literal_round_trip)
{
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 2000; i++) {
        par_kind k = i % 3 == 0 ? PAR_DATE : i % 3 == 1 ? PAR_TIME : PAR_TIME_UTC;
        int64_t v = k == PAR_DATE ? rnd_in(0, 3652058) : rnd_in(0, 3652059 * PAR_TICKS_PER_DAY - 1);
        char lit[96];
        cr_assert_gt(par_literal(k, v, lit, sizeof lit), 0);
        char *q = strchr(lit, '\'');
        cr_assert(q);
        char text[64];
        size_t len = (size_t)(strchr(q + 1, '\'') - q - 1);
        memcpy(text, q + 1, len);
        text[len] = '\0';
        int64_t back;
        cr_assert_eq(par_value_parse(k, text, &back), 0, "%s", text);
        cr_assert_eq(back, v, "%s: %lld != %lld", text, (long long)back, (long long)v);
    }
    int64_t v;
    cr_assert_eq(par_value_parse(PAR_TIME, "2024-03-01T06:00:00+02:00", &v), 0);
    char lit[96];
    par_literal(PAR_TIME, v, lit, sizeof lit);
    cr_assert_str_eq(lit, "CAST(N'2024-03-01 04:00:00.0000000' AS datetime2(7))", "RFC 3339 to UTC");
    cr_assert_eq(par_value_parse(PAR_INT, "12x", &v), -1);
    cr_assert_eq(par_kind_of("DateTime2"), PAR_TIME);
    cr_assert_eq(par_kind_of("decimal"), PAR_NONE);
}

/* ------------------------------------------------- the property */

typedef struct keyset {
    int64_t *k;
    bool *null;
    size_t n;
} keyset;

/* Dense, sparse over the whole int64 range, skewed (most keys in a narrow
 * band, a few far away), or few distinct values repeated; NULLs mixed in. */
static void make_keys(keyset *ks, int shape)
{
    ks->n = (size_t)rnd_in(0, 400);
    ks->k = calloc(ks->n + 1, sizeof *ks->k);
    ks->null = calloc(ks->n + 1, sizeof *ks->null);
    int64_t base = rnd_in(-1000000, 1000000);
    uint64_t null_pct = rnd() % 3 == 0 ? 0 : rnd() % 30;
    for (size_t i = 0; i < ks->n; i++) {
        ks->null[i] = rnd() % 100 < null_pct;
        switch (shape) {
        case 0: ks->k[i] = base + (int64_t)i; break;
        case 1: ks->k[i] = rnd_in(INT64_MIN, INT64_MAX); break;
        case 2: ks->k[i] = rnd() % 10 ? base + rnd_in(0, 50) : rnd_in(base - (1LL << 40), base + (1LL << 40)); break;
        default: ks->k[i] = base + 1000 * rnd_in(0, 3); break;
        }
    }
}

/* The bounds as the source would read them: MIN, MAX, any NULL. */
static par_bounds bounds_of(const keyset *ks)
{
    par_bounds b = {.kind = PAR_INT};
    for (size_t i = 0; i < ks->n; i++) {
        if (ks->null[i]) {
            b.has_nulls = true;
            continue;
        }
        if (!b.has_range || ks->k[i] < b.min)
            b.min = ks->k[i];
        if (!b.has_range || ks->k[i] > b.max)
            b.max = ks->k[i];
        b.has_range = true;
    }
    return b;
}

static void random_interval(par_interval *iv, const par_bounds *b)
{
    memset(iv, 0, sizeof *iv);
    if (rnd() % 3 == 0 || !b->has_range) {
        iv->is_auto = true;
        return;
    }
    __int128 width = (__int128)b->max - b->min + 1;
    __int128 lo = width / 200 + 1; /* at most ~200 windows: every key is checked against each */
    __int128 spread = width / 8 + 1;
    __int128 step = lo + (__int128)(rnd() % (uint64_t)(spread > UINT64_MAX ? UINT64_MAX : spread));
    if (rnd() % 4 == 0)
        step = width + (__int128)(rnd() % 5); /* one window */
    iv->step = step > INT64_MAX ? INT64_MAX : (int64_t)step;
}

/* Every key in exactly one window; returns the keys counted. */
static size_t check_cover(const par_window *w, size_t n, bool is_null, int64_t key)
{
    size_t hits = 0;
    for (size_t j = 0; j < n; j++)
        hits += par_window_has(&w[j], is_null, key);
    cr_assert_eq(hits, 1, "key %lld (null %d) in %zu windows", (long long)key, is_null, hits);
    return hits;
}

Test(par_plan, every_key_in_exactly_one_window)
{
    for (uint64_t seed = 1; seed <= 1500; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ULL;
        keyset ks;
        make_keys(&ks, (int)(seed % 4));
        par_bounds b = bounds_of(&ks);
        if (b.has_range && rnd() % 5 == 0) { /* --interval-start on the same column, at or below MIN */
            b.has_anchor = true;
            b.anchor = b.min - (int64_t)(rnd() % 100 > b.min - (__int128)INT64_MIN ? 0 : rnd() % 100);
        }
        par_interval iv;
        random_interval(&iv, &b);
        par_window *w;
        size_t n;
        char why[300];
        unsigned conns = (unsigned)rnd_in(1, 8);
        cr_assert_eq(par_plan(&b, &iv, conns, &w, &n, why, sizeof why), 0, "seed %llu: %s", (unsigned long long)seed, why);
        cr_assert_leq(n, PAR_MAX_WINDOWS + 1);
        /* windows in order, end to end */
        size_t nrange = n - (b.has_nulls ? 1 : 0);
        cr_assert(w[0].open_lo && w[nrange - 1].open_hi);
        for (size_t j = 0; j + 1 < nrange; j++)
            cr_assert_eq(w[j].hi, w[j + 1].lo, "seed %llu: gap after window %zu", (unsigned long long)seed, j);
        cr_assert_eq(b.has_nulls, n > nrange && w[n - 1].is_null);
        /* the independent count: windows' rows add up to the keys */
        size_t total = 0;
        for (size_t i = 0; i < ks.n; i++)
            total += check_cover(w, n, ks.null[i], ks.k[i]);
        cr_assert_eq(total, ks.n);
        /* keys written after the bounds were read, outside them */
        for (int extra = 0; extra < 20; extra++)
            check_cover(w, n, false, rnd_in(INT64_MIN, INT64_MAX));
        check_cover(w, n, false, INT64_MIN);
        check_cover(w, n, false, INT64_MAX);
        if (b.has_nulls) /* no NULL window when the bounds saw none (docs/parallel.md) */
            check_cover(w, n, true, 0);
        if (b.has_range && iv.is_auto) /* auto: never more than 4 windows per connection */
            cr_assert_leq(nrange, (size_t)conns * PAR_WINDOWS_PER_CONNECTION);
        free(w);
        free(ks.k);
        free(ks.null);
    }
}
