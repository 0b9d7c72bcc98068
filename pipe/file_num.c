/*
 * file_num.c — number text in the "C" locale for the file sources.
 *
 * strtod and printf follow LC_NUMERIC, and a program embedding libtdspipe
 * may have called setlocale(LC_NUMERIC, "de_DE.UTF-8"): "1.5" would then
 * read as 1 and 2.5 print as "2,5". The library never changes the
 * process's locale; it reads with strtod_l and formats under uselocale()
 * (per thread, restored before returning) with one "C" locale object made
 * once (pthread_once) and kept for the life of the process.
 */
#define _GNU_SOURCE /* strtod_l */
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "file_int.h"

static pthread_once_t c_once = PTHREAD_ONCE_INIT;
static locale_t c_locale = (locale_t)0;

static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static locale_t c_loc(void)
{
    pthread_once(&c_once, make_c_locale);
    return c_locale;
}

double pipe__strtod_c(const char *s, char **end)
{
    locale_t c = c_loc();
    /* newlocale("C") fails only without memory: the plain strtod is
     * then right unless the program changed LC_NUMERIC */
    return c ? strtod_l(s, end, c) : strtod(s, end);
}

int pipe__snprintf_c(char *buf, size_t cap, const char *fmt, ...)
{
    locale_t c = c_loc();
    locale_t old = c ? uselocale(c) : (locale_t)0;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (old)
        uselocale(old);
    return n;
}
