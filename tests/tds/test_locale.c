/*
 * test_locale.c — number text does not depend on the process locale: under
 * de_DE.UTF-8 (decimal comma; scripts/deps.sh installs it), set for the
 * process or only for the thread, float/real text, decimal-to-double and
 * the decimal/datetime parsers give exactly what they give in the C
 * locale, and the caller's locale is still in force afterwards.
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tds.h"

#define DE "de_DE.UTF-8"

static const double doubles[] = {
    0.1, 1.5, -2.25e-300, 1e308, -1e308, 5e-324, 2.2250738585072014e-308, 0.30000000000000004,
    3.141592653589793, -123456.789012345, 1e-5, 123456789012345678.0, 0.0, -0.0, 1e15, 2.5e-7,
};
static const char *const doubles_text[] = {
    "0.1", "1.5", "-2.25e-300", "1e+308", "-1e+308", "5e-324", "2.2250738585072014e-308",
    "0.30000000000000004", "3.141592653589793", "-123456.789012345", "1e-05",
    "1.2345678901234568e+17", "0", "-0", "1e+15", "2.5e-07",
};
static const float reals[] = {0.1f, 1.5f, -2.25e-30f, 3.4028235e38f, 1e-45f, 3.1415927f, 16777216.0f, 1e-5f};
static const char *const reals_text[] = {"0.1",       "1.5",       "-2.25e-30", "3.4028235e+38",
                                         "1e-45",     "3.1415927", "16777216",  "1e-05"};

#define NDOUBLES (sizeof doubles / sizeof *doubles)
#define NREALS (sizeof reals / sizeof *reals)

typedef struct results {
    char d[NDOUBLES][64];
    char r[NREALS][64];
    double dec_as_double[3];
    tds_decimal dec[3];
    tds_datetime dt[2];
} results;

static void text_of(uint8_t type, uint32_t len, const uint8_t *b, char out[64])
{
    tds_column c;
    cr_assert_eq(tds_column_init(&c, type, len, 0, 0), TDS_OK);
    tds_value v = {b, len, 0};
    size_t n = 0;
    cr_assert_eq(tds_value_text(&c, &v, out, 64, &n), TDS_OK);
}

static void compute(results *r)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < NDOUBLES; i++) {
        uint8_t b[8];
        tds_column c;
        tds_column_init(&c, TDS_T_FLTN, 8, 0, 0);
        cr_assert_eq(tds_encode_float(&c, doubles[i], b, sizeof b), 8);
        text_of(TDS_T_FLTN, 8, b, r->d[i]);
    }
    for (size_t i = 0; i < NREALS; i++) {
        uint8_t b[4];
        tds_column c;
        tds_column_init(&c, TDS_T_FLTN, 4, 0, 0);
        cr_assert_eq(tds_encode_float(&c, reals[i], b, sizeof b), 4);
        text_of(TDS_T_FLTN, 4, b, r->r[i]);
    }
    static const char *const decs[] = {"12345.6789", "-0.0001", "99999999999999999999.123456789"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(tds_decimal_parse(decs[i], strlen(decs[i]), 38, i == 2 ? 9 : 4, &r->dec[i]), TDS_OK,
                     "%s", decs[i]);
        tds_column c;
        tds_column_init(&c, TDS_T_DECIMALN, 17, 38, r->dec[i].scale);
        uint8_t b[17];
        int n = tds_encode_decimal(&c, &r->dec[i], b, sizeof b);
        cr_assert_gt(n, 0);
        tds_value v = {b, (uint32_t)n, 0};
        cr_assert_eq(tds_value_float(&c, &v, &r->dec_as_double[i]), TDS_OK);
    }
    static const char *const dts[] = {"2024-02-29 23:59:59.1234567", "1753-01-01 00:00:00.003"};
    cr_assert_eq(tds_datetime_parse(dts[0], strlen(dts[0]), TDS_K_DATETIME2, 7, &r->dt[0]), TDS_OK);
    cr_assert_eq(tds_datetime_parse(dts[1], strlen(dts[1]), TDS_K_DATETIME, 3, &r->dt[1]), TDS_OK);
}

static void assert_canonical(const results *r)
{
    for (size_t i = 0; i < NDOUBLES; i++)
        cr_expect_str_eq(r->d[i], doubles_text[i], "double %zu", i);
    for (size_t i = 0; i < NREALS; i++)
        cr_expect_str_eq(r->r[i], reals_text[i], "real %zu", i);
    cr_expect_eq(r->dec_as_double[0], 12345.6789);
    cr_expect_eq(r->dec_as_double[1], -0.0001);
    cr_expect_eq(r->dec_as_double[2], 99999999999999999999.123456789);
}

static void assert_same(const results *a, const results *b)
{
    for (size_t i = 0; i < NDOUBLES; i++)
        cr_expect_str_eq(a->d[i], b->d[i], "double %zu", i);
    for (size_t i = 0; i < NREALS; i++)
        cr_expect_str_eq(a->r[i], b->r[i], "real %zu", i);
    cr_expect_eq(memcmp(a->dec_as_double, b->dec_as_double, sizeof a->dec_as_double), 0);
    cr_expect_eq(memcmp(a->dec, b->dec, sizeof a->dec), 0);
    cr_expect_eq(memcmp(a->dt, b->dt, sizeof a->dt), 0);
}

/* The locale in force uses a decimal comma, for the C library too. */
static void assert_comma_in_force(void)
{
    cr_assert_str_eq(localeconv()->decimal_point, ",", "the decimal point is not ','");
    char b[16];
    snprintf(b, sizeof b, "%g", 0.5);
    cr_assert_str_eq(b, "0,5");
}

Test(locale, process_locale_with_decimal_comma)
{
    results c_loc, de;
    cr_assert_not_null(setlocale(LC_ALL, "C"));
    compute(&c_loc);
    assert_canonical(&c_loc);
    cr_assert_not_null(setlocale(LC_ALL, DE), DE " is not installed: run scripts/deps.sh");
    assert_comma_in_force();
    compute(&de);
    assert_same(&c_loc, &de);
    assert_canonical(&de);
    assert_comma_in_force(); /* the library switched back */
}

Test(locale, thread_locale_with_decimal_comma)
{
    results c_loc, de;
    compute(&c_loc);
    locale_t l = newlocale(LC_ALL_MASK, DE, (locale_t)0);
    cr_assert_not_null(l, DE " is not installed: run scripts/deps.sh");
    locale_t before = uselocale(l);
    assert_comma_in_force();
    compute(&de);
    cr_expect(uselocale((locale_t)0) == l, "the thread's locale was not restored");
    assert_comma_in_force();
    uselocale(before);
    freelocale(l);
    assert_same(&c_loc, &de);
    assert_canonical(&de);
}
