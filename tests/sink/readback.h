/*
 * readback.h — reading destination tables back as text rows "a|b|c"
 * (NULL as "∅"), through each destination's own client library. Each
 * test file defines the one it needs.
 */
#ifndef TDSPIPE_TEST_READBACK_H
#define TDSPIPE_TEST_READBACK_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

/* Compares got rows with want rows, printing all of got on mismatch. */
static inline void rows_eq(char **got, size_t ngot, const char *const *want, size_t nwant, const char *what)
{
    bool ok = ngot == nwant;
    for (size_t i = 0; ok && i < ngot; i++)
        ok = strcmp(got[i], want[i]) == 0;
    if (!ok) {
        fprintf(stderr, "%s: got %zu rows, want %zu\n", what, ngot, nwant);
        for (size_t i = 0; i < ngot; i++) {
            bool same = i < nwant && strcmp(got[i], want[i]) == 0;
            fprintf(stderr, "  %s got  [%s]\n", same ? " " : "!", got[i]);
            if (!same && i < nwant)
                fprintf(stderr, "    want [%s]\n", want[i]);
        }
    }
    cr_assert(ok, "%s: rows differ (see stderr)", what);
}

#endif
