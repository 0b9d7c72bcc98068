/*
 * c_locale.c — number text independent of the process locale.
 *
 * The engine formats and reads floats with the C library (%.*g, strtod),
 * which follow LC_NUMERIC: under a locale with a decimal comma
 * ("de_DE.UTF-8") they would print "0,1" and stop reading at the '.'.
 * The library never calls setlocale; instead the calling thread switches
 * to a C locale object for the few calls that need it (uselocale, POSIX
 * 2008) and switches back to whatever it had, so neither the program's
 * locale nor other threads are touched.
 *
 * The C locale object is made once and never changes (published with a
 * compare-and-swap: no lock, no pthread dependency). glibc hands out a
 * static object for "C", so nothing is allocated there.
 */
#include <locale.h>
#include <stdatomic.h>

#include "value_int.h"

static _Atomic(locale_t) c_locale;

/* The C locale object, or (locale_t)0 if it cannot be made (out of
 * memory on a C library that allocates it). */
static locale_t c_locale_get(void)
{
    locale_t l = atomic_load_explicit(&c_locale, memory_order_acquire);
    if (l)
        return l;
    locale_t made = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (!made)
        return (locale_t)0;
    locale_t expected = (locale_t)0;
    if (!atomic_compare_exchange_strong_explicit(&c_locale, &expected, made, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        freelocale(made); /* another thread published first */
        return expected;
    }
    return made;
}

tds__locale_save tds__c_numeric_begin(void)
{
    locale_t c = c_locale_get();
    return c ? uselocale(c) : (locale_t)0;
}

void tds__c_numeric_end(tds__locale_save saved)
{
    if (saved)
        uselocale(saved);
}
