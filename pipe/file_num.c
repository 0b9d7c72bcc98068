/*
 * file_num.c — number text in the "C" locale for the file sources.
 *
 * strtod and printf follow LC_NUMERIC, and a program embedding libtdspipe
 * may run with a German numeric locale of its own choosing: "1.5" would
 * then read as 1 and 2.5 print as "2,5". The library never changes the
 * process's locale: both calls run with the calling thread switched to
 * the engine's C locale object and back (tds/tds_c_locale.h), so the
 * library has one such object and one way to use it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "file_int.h"
#include "tds_c_locale.h"

double pipe__strtod_c(const char *s, char **end)
{
    tds__locale_save saved = tds__c_numeric_begin();
    double v = strtod(s, end);
    tds__c_numeric_end(saved);
    return v;
}

int pipe__snprintf_c(char *buf, size_t cap, const char *fmt, ...)
{
    tds__locale_save saved = tds__c_numeric_begin();
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    tds__c_numeric_end(saved);
    return n;
}
