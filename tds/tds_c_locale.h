/*
 * tds_c_locale.h — number text in the C locale on the calling thread only
 * (tds/c_locale.c). Internal, not installed; used by the engine's float
 * text and by pipe/'s file sources, so the library has one C locale
 * object and one way to use it. Neither the process's locale nor other
 * threads are touched (uselocale is per thread; no setlocale).
 */
#ifndef TDSPIPE_TDS_C_LOCALE_H
#define TDSPIPE_TDS_C_LOCALE_H

#include <locale.h>

/* The thread's locale as it was before tds__c_numeric_begin. */
typedef locale_t tds__locale_save;
/* Switches the calling thread to the C locale until tds__c_numeric_end,
 * so snprintf("%g") and strtod use '.' whatever the program's
 * LC_NUMERIC. Always pair the two. If no C locale object can be made (out
 * of memory), nothing is switched. */
tds__locale_save tds__c_numeric_begin(void);
void tds__c_numeric_end(tds__locale_save saved);

#endif /* TDSPIPE_TDS_C_LOCALE_H */
