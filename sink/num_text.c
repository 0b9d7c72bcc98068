/*
 * num_text.c — the text sinks' fast text of a double. Most stored floats
 * are short decimals (prices, halves, counts); the engine writes those in
 * plain notation by a rule of its own before it tries printf
 * (tds/value_text.c, float_text_short_decimal). This is that rule, step
 * for step — the same products, the same round-trip test, so the same
 * decision for every double — with the digits written by num_text.h's
 * word formatter instead of through a scratch buffer. Anything else
 * (other magnitudes, more digits, -0, NaN, the infinities) is left to the
 * engine. tests/sink/test_csv_text.c holds the two to the same bytes.
 */
#include <math.h>

#include "num_text.h"

/* n / 10^k (n != 0, k <= 6, no trailing zero when k > 0) in plain
 * notation: the digits of |n| with the point k from the right. */
static size_t scaled_text(int64_t n, int k, char *out)
{
    size_t o = 0;
    if (n < 0) {
        out[o++] = '-';
        n = -n;
    }
    size_t nd = sink__u64_text((uint64_t)n, out + o);
    if ((size_t)k >= nd) { /* 0.000ddd: the digits move right */
        size_t lead = 2 + (size_t)k - nd;
        char d[8];
        memcpy(d, out + o, 8); /* nd <= k <= 6 */
        memcpy(out + o, "0.000000", 8);
        memcpy(out + o + lead, d, 8);
        return o + lead + nd;
    }
    if (k == 0)
        return o + nd;
    /* the last k (<= 6) digits move one right for the point */
    char *point = out + o + nd - (size_t)k;
    char d[8];
    memcpy(d, point, 8);
    memcpy(point + 1, d, 8);
    *point = '.';
    return o + nd + 1;
}

size_t sink__f64_text_short(double v, char *out)
{
    static const double p10[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };
    if (!(fabs(v) >= 1e-4 && fabs(v) < 1e14))
        return 0;
    for (int k = 0; k < 7; k++) {
        double t = v * p10[k];
        if (!(fabs(t) < 1e14))
            return 0;
        int64_t n = (int64_t)t;
        if ((double)n != t || (double)n / p10[k] != v)
            continue;
        /* v * 10^k can round onto an integer ending in 0 (293.21 * 1000):
         * the same decimal with fewer digits */
        while (k > 0 && n % 10 == 0) {
            n /= 10;
            k--;
        }
        return scaled_text(n, k, out);
    }
    return 0;
}
