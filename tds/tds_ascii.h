/*
 * tds_ascii.h — case-insensitive comparison of ASCII letters only, for
 * keywords, schemes, option names and identifiers the library compares.
 * strcasecmp follows LC_CTYPE: under tr_TR.UTF-8 'I' does not fold to
 * 'i', so a program that set such a locale would see "HostNameInCertificate"
 * or "INFORMATION_SCHEMA" refused. Also the one-line rule of the
 * modules' error messages (net/errors.c, pipe/util.c). Internal (not
 * installed).
 */
#ifndef TDSPIPE_TDS_ASCII_H
#define TDSPIPE_TDS_ASCII_H

#include <stddef.h>

static inline int tds__ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* As strncasecmp, ASCII letters only. */
static inline int tds_ascii_ncasecmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = tds__ascii_lower((unsigned char)a[i]), y = tds__ascii_lower((unsigned char)b[i]);
        if (x != y || !x)
            return x - y;
    }
    return 0;
}

/* As strcasecmp, ASCII letters only. */
static inline int tds_ascii_casecmp(const char *a, const char *b) { return tds_ascii_ncasecmp(a, b, (size_t)-1); }

/* Tabs and line ends become spaces, so a message stays one line. */
static inline void tds_ascii_one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

#endif /* TDSPIPE_TDS_ASCII_H */
