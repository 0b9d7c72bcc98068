/*
 * naming.c — destination column and table names in the load's naming
 * style (direct, or snake_case as ingestr/dlt spell it).
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipe_int.h"

char *pipe_name_apply(tdspipe_naming mode, const char *name)
{
    if (mode == TDSPIPE_NAMING_DIRECT)
        return strdup(name);
    /* snake_case as ingestr/dlt spell it: camelCase split, non-alphanumerics
     * to '_', runs collapsed, lower case, a leading digit prefixed by '_'. */
    size_t n = strlen(name);
    char *o = malloc(n * 2 + 2);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isalnum(c) || c >= 0x80) {
            bool up = isupper(c);
            if (up && k && o[k - 1] != '_') {
                unsigned char prev = (unsigned char)name[i - 1];
                unsigned char next = i + 1 < n ? (unsigned char)name[i + 1] : 0;
                if (islower(prev) || isdigit(prev) || (isupper(prev) && islower(next)))
                    o[k++] = '_';
            }
            o[k++] = (char)(c < 0x80 ? tolower(c) : c);
        } else if (k && o[k - 1] != '_') {
            o[k++] = '_';
        }
    }
    while (k && o[k - 1] == '_')
        k--;
    o[k] = '\0';
    if (!k) {
        free(o);
        return strdup("_");
    }
    if (isdigit((unsigned char)o[0])) {
        memmove(o + 1, o, k + 1);
        o[0] = '_';
    }
    return o;
}

