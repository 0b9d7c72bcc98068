/*
 * cdc_multi.c — a Change Data Capture run over several tables
 * (--source-table dbo.a,dbo.b, usually with the URI's dest_schema=raw):
 * one load per table, each in its own transaction with its own cursor, so
 * a table that fails leaves the others exactly as their own commit left
 * them. The run goes on to the next table after a failure and fails at
 * the end naming each table that failed.
 *
 * The list is split at commas outside [brackets] and "quotes" (a bracketed
 * name may hold a comma); a query: source is never split.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"
#include "tds_ascii.h"

/* The items of s, trimmed, into l. Returns 0, or -1 (an empty item, an
 * unclosed quote, out of memory). */
static int split_tables(const char *s, pipe_list *l)
{
    const char *start = s;
    char close = 0;
    for (const char *p = s;; p++) {
        if (close) {
            if (!*p)
                return -1;
            if (*p == close)
                close = p[1] == close ? (p++, close) : 0; /* ]] or "" inside */
            continue;
        }
        if (*p == '[' || *p == '"') {
            close = *p == '[' ? ']' : '"';
            continue;
        }
        if (*p && *p != ',')
            continue;
        const char *a = start, *b = p;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a == b || pipe_list_add(l, a, (size_t)(b - a)))
            return -1;
        if (!*p)
            return 0;
        start = p + 1;
    }
}

bool pipe_cdc_multi(const tdspipe_load_opts *o)
{
    if (!o || !o->source_table || !pipe_src_cdc.accepts(o->source_uri) ||
        !tds_ascii_ncasecmp(o->source_table, "query:", 6))
        return false;
    pipe_list l = {0};
    bool multi = !split_tables(o->source_table, &l) && l.n > 1;
    pipe_list_free(&l);
    return multi;
}

/* Appends "table T: why" to the run's message (the first failure's code
 * is the run's). */
static void note_failure(tdspipe_error *run, const char *table, const tdspipe_error *one, size_t *failed)
{
    if (!(*failed)++)
        run->code = one->code;
    size_t len = strlen(run->message);
    if (len < sizeof run->message - 1)
        snprintf(run->message + len, sizeof run->message - len, "%stable %s: %s", len ? "; " : "", table,
                 one->message);
}

int pipe_cdc_load_tables(const tdspipe_load_opts *o, tdspipe_error *err)
{
    tdspipe_error run;
    memset(&run, 0, sizeof run);
    pipe_list l = {0};
    if (o->dest_table)
        pipe__fail(&run, TDSPIPE_E_USAGE,
                   "--dest-table names one table: with several source tables use the URI's dest_schema");
    else if (split_tables(o->source_table, &l))
        pipe__fail(&run, TDSPIPE_E_USAGE, "--source-table: a comma-separated list of tables has an empty name");
    for (size_t i = 0; !run.code && i < l.n; i++)
        for (size_t j = 0; !run.code && j < i; j++)
            if (!tds_ascii_casecmp(l.v[i], l.v[j]))
                pipe__fail(&run, TDSPIPE_E_USAGE, "--source-table lists %s twice", l.v[i]);
    bool refused = run.code != 0;
    size_t failed = 0;
    for (size_t i = 0; !refused && i < l.n; i++) {
        tdspipe_load_opts one = *o;
        one.source_table = l.v[i];
        tdspipe_error e;
        memset(&e, 0, sizeof e);
        if (tdspipe_load(&one, &e) != TDSPIPE_OK)
            note_failure(&run, l.v[i], &e, &failed);
        if (o->cancel && *o->cancel && i + 1 < l.n) { /* the tables not started are not loaded */
            tdspipe_error c = {TDSPIPE_E_LOAD, "the load was cancelled before this table"};
            note_failure(&run, l.v[i + 1], &c, &failed);
            break;
        }
    }
    if (failed > 1) {
        char msg[sizeof run.message];
        snprintf(msg, sizeof msg, "%zu of %zu tables failed: %s", failed, l.n, run.message);
        snprintf(run.message, sizeof run.message, "%s", msg);
    }
    pipe_list_free(&l);
    if (err)
        *err = run;
    return run.code;
}
