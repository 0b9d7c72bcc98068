/* test_par_partfn.c — windows from a table's own partition function
 * (pipe/par_partfn.c): one window per partition, RANGE LEFT and RIGHT,
 * NULL in the leftmost, adjacent partitions merged when there are more
 * than 4 per connection, partitions outside the incremental limits left
 * out. Random boundary sets are checked against an independent
 * partition-number function written from SQL Server's rule
 * (CREATE PARTITION FUNCTION: LEFT puts col <= b1 in partition 1, RIGHT
 * puts col < b1 there; NULL sorts lowest). The read end to end is
 * tests/cli/e2e_partfn.sh. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "par_partfn.h"
#include "xorshift.h"

/* The model: SQL Server's $PARTITION for boundaries b (ascending; a NULL
 * boundary first when null_bound). NULL compares below every value and
 * equal to a NULL boundary. */
static size_t model_partition(bool right, bool null_bound, const int64_t *b, size_t nb, bool is_null, int64_t key)
{
    size_t below = 0; /* boundaries on the key's left */
    if (null_bound)
        below += right ? 1 : !is_null; /* RIGHT: NULL <= key always; LEFT: NULL < key unless key is NULL */
    for (size_t i = 0; i < nb && !is_null; i++)
        below += right ? b[i] <= key : b[i] < key;
    return below + 1;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Random ascending distinct boundaries: dense, sparse over the whole
 * range (with the int64 ends), or clustered. */
static size_t random_bounds(int64_t *b, size_t max)
{
    size_t n = rnd() % (max + 1), shape = rnd() % 3;
    for (size_t i = 0; i < n; i++) {
        if (shape == 0)
            b[i] = (int64_t)(rnd() % 400) - 200;
        else if (shape == 1)
            b[i] = rnd() % 10 == 0 ? (rnd() % 2 ? INT64_MAX : INT64_MIN) : (int64_t)rnd();
        else
            b[i] = 1000000 + (int64_t)(rnd() % 50) * 7;
    }
    qsort(b, n, sizeof *b, cmp64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!k || b[i] != b[k - 1])
            b[k++] = b[i];
    return k;
}

/* The window holding the key; fails unless exactly one does. */
static size_t window_of(const par_window *w, size_t n, bool is_null, int64_t key)
{
    size_t hits = 0, at = 0;
    for (size_t i = 0; i < n; i++)
        if (par_window_has(&w[i], is_null, key))
            hits++, at = i;
    cr_assert_eq(hits, 1, "key %s%lld in %zu windows", is_null ? "NULL " : "", (long long)key, hits);
    return at;
}

/* Test keys: each boundary and its neighbours, the int64 ends, randoms. */
static size_t test_keys(const int64_t *b, size_t nb, int64_t *k)
{
    size_t n = 0;
    for (size_t i = 0; i < nb; i++) {
        k[n++] = b[i];
        if (b[i] > INT64_MIN)
            k[n++] = b[i] - 1;
        if (b[i] < INT64_MAX)
            k[n++] = b[i] + 1;
    }
    k[n++] = INT64_MIN;
    k[n++] = INT64_MAX;
    for (int i = 0; i < 40; i++)
        k[n++] = (int64_t)rnd();
    return n;
}

/* Every key in exactly one window; a window is a run of adjacent whole
 * partitions (window index never decreases with the partition number and
 * keys of one partition share a window); NULL in the first window,
 * with partition 1. Returns how many partitions hold a tested key. */
static void check_exact(const par_partfn *f, bool null_bound, const par_window *w, size_t n, const int64_t *keys,
                        size_t nk, size_t *win_of_part)
{
    size_t nparts = f->nbounds + 2 + null_bound;
    for (size_t i = 0; i < nparts; i++)
        win_of_part[i] = SIZE_MAX;
    for (size_t i = 0; i <= nk; i++) {
        bool is_null = i == nk;
        int64_t key = is_null ? 0 : keys[i];
        size_t part = model_partition(f->range_right, null_bound, f->bounds, f->nbounds, is_null, key);
        size_t win = window_of(w, n, is_null, key);
        if (win_of_part[part] == SIZE_MAX)
            win_of_part[part] = win;
        cr_assert_eq(win_of_part[part], win, "partition %zu split over windows %zu and %zu (key %lld)", part,
                     win_of_part[part], win, (long long)key);
    }
    cr_assert_eq(window_of(w, n, true, 0), 0, "NULL not in the first window");
    size_t last = 0;
    for (size_t p = 1; p < nparts; p++)
        if (win_of_part[p] != SIZE_MAX) {
            cr_assert_geq(win_of_part[p], last, "partition %zu's window goes back", p);
            cr_assert_leq(win_of_part[p], last + 1, "windows skip between partitions (partition %zu)", p);
            last = win_of_part[p];
        }
}

Test(par_partfn, random_boundaries_left_and_right)
{
    rng_state = 0x16161616ULL;
    static int64_t b[400], keys[1400];
    static size_t win_of_part[420];
    for (int round = 0; round < 600; round++) {
        par_partfn f = {.kind = PAR_INT, .range_right = rnd() % 2, .bounds = b};
        f.nbounds = random_bounds(b, round % 4 == 0 ? 390 : 30);
        bool null_bound = rnd() % 5 == 0; /* a NULL boundary the catalog read left out */
        unsigned conn = 1 + rnd() % 8;
        par_window *w;
        size_t n;
        cr_assert_eq(par_partfn_plan(&f, NULL, conn, &w, &n), 0);
        size_t nk = test_keys(b, f.nbounds, keys);
        check_exact(&f, null_bound, w, n, keys, nk, win_of_part);
        size_t parts = f.nbounds + 1 - (!f.range_right && f.nbounds && b[f.nbounds - 1] == INT64_MAX);
        size_t want = parts < conn * PAR_WINDOWS_PER_CONNECTION ? parts : conn * PAR_WINDOWS_PER_CONNECTION;
        cr_assert_eq(n, want, "round %d: %zu windows for %zu partitions, %u connections", round, n, parts, conn);
        if (parts <= conn * PAR_WINDOWS_PER_CONNECTION && !null_bound) /* one window per partition */
            for (size_t p = 1; p <= parts; p++)
                cr_assert(win_of_part[p] == SIZE_MAX || win_of_part[p] == p - 1, "round %d: partition %zu in window %zu",
                          round, p, win_of_part[p]);
        free(w);
    }
}

Test(par_partfn, incremental_limits_leave_out_whole_partitions)
{
    rng_state = 0x5eed16ULL;
    static int64_t b[64], keys[300];
    static size_t win_of_part[80];
    for (int round = 0; round < 400; round++) {
        par_partfn f = {.kind = PAR_INT, .range_right = rnd() % 2, .bounds = b};
        f.nbounds = random_bounds(b, 60);
        int64_t x = (int64_t)(rnd() % 600) - 300, y = (int64_t)(rnd() % 600) - 300;
        if (round % 7 == 0)
            x = 999900, y = 1000400;
        par_limits lim = {.has_lo = rnd() % 4 != 0, .has_hi = rnd() % 4 != 0, .lo = x < y ? x : y, .hi = x < y ? y : x};
        par_window *w;
        size_t n;
        cr_assert_eq(par_partfn_plan(&f, &lim, 64, &w, &n), 0);
        size_t nk = test_keys(b, f.nbounds, keys);
        check_exact(&f, false, w, n, keys, nk, win_of_part); /* still a partition of every key */
        /* one window per partition that can hold a key within the limits */
        size_t plo = lim.has_lo ? model_partition(f.range_right, false, b, f.nbounds, false, lim.lo) : 1;
        size_t phi = lim.has_hi ? model_partition(f.range_right, false, b, f.nbounds, false, lim.hi)
                                : model_partition(f.range_right, false, b, f.nbounds, false, INT64_MAX);
        cr_assert_eq(n, phi - plo + 1, "round %d: %zu windows, partitions %zu..%zu", round, n, plo, phi);
        free(w);
    }
}

static void expect_sql(const par_partfn *f, unsigned conn, const char *const *want, size_t nwant)
{
    par_window *w;
    size_t n;
    cr_assert_eq(par_partfn_plan(f, NULL, conn, &w, &n), 0);
    cr_assert_eq(n, nwant, "%zu windows", n);
    for (size_t i = 0; i < n; i++) {
        char *s = par_window_sql(&w[i], f->kind, "[k]");
        cr_assert_str_eq(s, want[i]);
        free(s);
    }
    free(w);
}

Test(par_partfn, window_sql_of_the_docs_examples)
{
    int64_t b[] = {1, 100, 1000}; /* CREATE PARTITION FUNCTION myRangePF1 (int) AS RANGE LEFT FOR VALUES (1, 100, 1000) */
    par_partfn left = {.kind = PAR_INT, .bounds = b, .nbounds = 3};
    const char *const lw[] = {"([k] IS NULL OR [k] < 2)", "[k] >= 2 AND [k] < 101", "[k] >= 101 AND [k] < 1001",
                              "[k] >= 1001"};
    expect_sql(&left, 8, lw, 4);
    par_partfn right = {.kind = PAR_INT, .range_right = true, .bounds = b, .nbounds = 3};
    const char *const rw[] = {"([k] IS NULL OR [k] < 1)", "[k] >= 1 AND [k] < 100", "[k] >= 100 AND [k] < 1000",
                              "[k] >= 1000"};
    expect_sql(&right, 8, rw, 4);
    par_partfn none = {.kind = PAR_INT};
    const char *const one[] = {"1 = 1"};
    expect_sql(&none, 4, one, 1);
}

Test(par_partfn, merging_adjacent_partitions)
{
    int64_t b[9];
    for (int i = 0; i < 9; i++)
        b[i] = (i + 1) * 10;
    par_partfn right = {.kind = PAR_INT, .range_right = true, .bounds = b, .nbounds = 9}; /* 10 partitions */
    const char *const two[] = {"([k] IS NULL OR [k] < 20)", "[k] >= 20 AND [k] < 50", "[k] >= 50 AND [k] < 70",
                               "[k] >= 70"};
    expect_sql(&right, 1, two, 4); /* 1 connection: 4 windows of 2, 3, 2, 3 partitions */
}

Test(par_partfn, dates_and_the_last_date)
{
    int64_t d[2];
    cr_assert_eq(par_value_parse(PAR_DATE, "2024-01-01", &d[0]), 0);
    cr_assert_eq(par_value_parse(PAR_DATE, "9999-12-31", &d[1]), 0);
    par_partfn left = {.kind = PAR_DATE, .bounds = d, .nbounds = 2};
    /* RANGE LEFT: the partition above 9999-12-31 cannot hold a row and is not read */
    const char *const lw[] = {"([k] IS NULL OR [k] < CAST(N'2024-01-02' AS date))", "[k] >= CAST(N'2024-01-02' AS date)"};
    expect_sql(&left, 4, lw, 2);
    int64_t t;
    cr_assert_eq(par_value_parse(PAR_TIME, "2024-03-01 00:00:00", &t), 0);
    par_partfn tl = {.kind = PAR_TIME, .bounds = &t, .nbounds = 1};
    const char *const tw[] = {"([k] IS NULL OR [k] < CAST(N'2024-03-01 00:00:00.0000001' AS datetime2(7)))",
                              "[k] >= CAST(N'2024-03-01 00:00:00.0000001' AS datetime2(7))"};
    expect_sql(&tl, 4, tw, 2);
}
