/*
 * util.c — small things every pipe/ file uses: the one-line error of a
 * load (pipe__fail), warnings handed to the caller (pipe__warn), lists of
 * owned strings and case-insensitive name lookups.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipe_int.h"
#include "tds_ascii.h"

int pipe__fail(tdspipe_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    tds_ascii_one_line(err->message);
    return code;
}

void pipe__warn(const tdspipe_load_opts *o, const char *fmt, ...)
{
    if (!o || !o->warning)
        return;
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tds_ascii_one_line(msg);
    o->warning(o->warning_ud, msg);
}

int pipe_list_add(pipe_list *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return -1;
    memcpy(c, s, len);
    c[len] = '\0';
    l->v[l->n++] = c;
    return 0;
}

void pipe_list_free(pipe_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

bool pipe_name_in(const char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!tds_ascii_casecmp(v[i], name))
            return true;
    return false;
}
