/*
 * load_schema.c — the destination table of a load, built once the source
 * hands its columns: which are loaded (exclude), under which names
 * (naming, --columns renames done by the source), the _ingestr_loaded_at
 * column, the primary key (the options', else the source's), the
 * incremental key, the delete+insert window and the schema contract;
 * then sink_begin.
 * Failures here are usage errors when the options name what is not there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "load_int.h"
#include "tds_ascii.h"
#include "utc_now.h"

static bool same_name(const char *a, const char *b) { return !tds_ascii_casecmp(a, b); }

/* Index of the output column for a user-given column name: by source
 * name, else through a --columns rename of that source column. -1 if none. */
static int out_index(const pipe_load *l, const char *name)
{
    for (size_t i = 0; i < l->nkept; i++)
        if (same_name(l->cols[i].name.ptr, name))
            return (int)i;
    for (size_t s = 0; s < l->plan.nspecs; s++)
        if (same_name(l->plan.specs[s].source, name))
            for (size_t i = 0; i < l->nkept; i++)
                if (same_name(l->cols[i].name.ptr, l->plan.specs[s].name))
                    return (int)i;
    return -1;
}

static int alloc_schema(pipe_load *l, size_t ncols)
{
    l->nsrc = ncols;
    l->map = calloc(ncols + 1u, sizeof *l->map);
    l->keep = calloc(ncols + 1u, sizeof *l->keep);
    l->cols = calloc(ncols + 1u, sizeof *l->cols);
    l->names = calloc(ncols + 1u, sizeof *l->names);
    l->rowbuf = calloc(ncols + 1u, sizeof *l->rowbuf);
    if (!l->map || !l->keep || !l->cols || !l->names || !l->rowbuf)
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
    return 0;
}

/* Projection and naming: every column not excluded, named as the load
 * says; two columns may not end up with one name. */
static int keep_columns(pipe_load *l, const tds_column *cols, size_t ncols)
{
    const tdspipe_load_opts *o = l->o;
    for (size_t i = 0; i < o->nexclude; i++) {
        bool found = false;
        for (size_t c = 0; c < ncols; c++)
            found |= same_name(cols[c].name.ptr, o->exclude[i]);
        if (!found && !l->desc.has_catalog)
            return pipe_load_fail(l, TDSPIPE_E_USAGE, "--sql-exclude-columns: the query has no column '%s'",
                                  o->exclude[i]);
    }
    for (size_t c = 0; c < ncols; c++) {
        if (pipe_name_in(o->exclude, o->nexclude, cols[c].name.ptr))
            continue;
        l->keep[c] = true;
        if (!cols[c].name.len)
            return pipe_load_fail(l, TDSPIPE_E_USAGE, "result column %u has no name (give it one with AS)",
                                  (unsigned)c + 1);
        l->map[l->nkept] = c;
        l->cols[l->nkept] = cols[c];
        /* snake_case would drop the leading '_' of the _cdc_ columns */
        bool as_is = l->plan.keep_cdc_names && !strncmp(cols[c].name.ptr, "_cdc_", 5);
        l->names[l->nkept] = as_is ? strdup(cols[c].name.ptr) : pipe_name_apply(l->plan.naming, cols[c].name.ptr);
        if (!l->names[l->nkept])
            return pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
        l->nkept++;
    }
    if (!l->nkept)
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "no columns left to load");
    for (size_t i = 0; i < l->nkept; i++)
        for (size_t j = 0; j < i; j++)
            if (same_name(l->names[i], l->names[j]))
                return pipe_load_fail(l, TDSPIPE_E_USAGE, "two columns are both named '%s' in the destination",
                                      l->names[i]);
    l->ncols = l->nkept;
    return 0;
}

/* _ingestr_loaded_at: this moment as a datetimeoffset(6) in UTC, NOT
 * NULL, as ingestr writes it; one value for every row of the load. */
static int add_loaded_at(pipe_load *l)
{
    tds_column *c = &l->cols[l->ncols];
    int n = pipe_utc_now(c, l->loaded_at_bytes, sizeof l->loaded_at_bytes);
    if (n < 0)
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "cannot encode the load timestamp");
    c->flags &= (uint16_t)~TDS_COL_NULLABLE;
    l->loaded_at = (tds_value){l->loaded_at_bytes, (uint32_t)n, 0};
    l->names[l->ncols] = strdup(PIPE_LOADED_AT);
    if (!l->names[l->ncols])
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
    l->rowbuf[l->ncols] = l->loaded_at;
    l->ncols++;
    return 0;
}

/* The key: the options' columns, else the source's (dropped when one of
 * its columns was excluded, unless the load merges on it). */
static int key_indices(pipe_load *l, size_t *pk, size_t *npk)
{
    const tdspipe_load_opts *o = l->o;
    bool given = o->nprimary_keys > 0;
    const char *const *v = given ? o->primary_keys : l->desc.pk;
    size_t n = given ? o->nprimary_keys : l->desc.npk;
    *npk = 0;
    if (n > 64)
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "too many primary key columns");
    for (size_t i = 0; i < n; i++) {
        int k = out_index(l, v[i]);
        if (k < 0 && (given || l->plan.strategy == SINK_MERGE))
            return pipe_load_fail(l, TDSPIPE_E_USAGE, "primary key column '%s' is not among the loaded columns",
                                  v[i]);
        if (k < 0) { /* the table's key was excluded: load without a key */
            *npk = 0;
            return 0;
        }
        pk[(*npk)++] = (size_t)k;
    }
    return 0;
}

/* The incremental key's column and, for delete+insert, the window the
 * interval flags give. */
static int incremental(pipe_load *l, sink_table *t)
{
    const tdspipe_load_opts *o = l->o;
    if (!o->incremental_key)
        return 0;
    int k = out_index(l, o->incremental_key);
    if (k < 0)
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "incremental key '%s' is not among the loaded columns",
                              o->incremental_key);
    t->incremental_key = k;
    if (l->plan.strategy != SINK_DELETE_INSERT)
        return 0;
    const char *bt[2] = {o->interval_start, o->interval_end};
    for (int b = 0; b < 2; b++) {
        if (!bt[b])
            continue;
        if (pipe_bound_encode(&l->cols[k], bt[b], l->win_bytes[b], sizeof l->win_bytes[b], &l->win[b]))
            return pipe_load_fail(l, TDSPIPE_E_USAGE, "--interval-%s '%s' does not fit the incremental key's type",
                                  b ? "end" : "start", bt[b]);
    }
    t->window_lo = bt[0] ? &l->win[0] : NULL;
    t->window_hi = bt[1] ? &l->win[1] : NULL;
    return 0;
}

/* --schema-contract for the sink. A full refresh drops the table and
 * its schema first, as ingestr's (dlt's refresh="drop_sources") does, so
 * nothing constrains it. */
static sink_contract contract_of(const tdspipe_load_opts *o)
{
    if (o->full_refresh)
        return SINK_EVOLVE;
    switch (o->schema_contract) {
    case TDSPIPE_CONTRACT_FREEZE: return SINK_FREEZE;
    case TDSPIPE_CONTRACT_DISCARD_ROW: return SINK_DISCARD_ROW;
    case TDSPIPE_CONTRACT_DISCARD_VALUE: return SINK_DISCARD_VALUE;
    case TDSPIPE_CONTRACT_EVOLVE: break;
    }
    return SINK_EVOLVE;
}

/* --incremental-predicate: ANDed to the merge's join condition in the
 * destination (sink_table.merge_predicate), so only a merge that is not a
 * full refresh nor a Change Tracking / Change Data Capture one takes it,
 * as in ingestr. Returns 0 or -1 (usage). */
static int merge_predicate(pipe_load *l, sink_table *t)
{
    const char *p = l->o->incremental_predicate;
    if (!p || !*p)
        return 0;
    if (l->o->full_refresh || l->plan.strategy != SINK_MERGE || l->plan.cdc)
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "--incremental-predicate needs the merge strategy, "
                              "without --full-refresh and not from a +ct/+cdc source");
    t->merge_predicate = p;
    return 0;
}

int pipe_load_schema(pipe_load *l, const tds_column *cols, size_t ncols)
{
    if (alloc_schema(l, ncols) || keep_columns(l, cols, ncols))
        return -1;
    if (!l->o->no_load_timestamp && add_loaded_at(l))
        return -1;
    sink_table t;
    memset(&t, 0, sizeof t);
    t.name = l->dest_table;
    t.cols = l->cols;
    t.names = (const char *const *)l->names;
    t.ncols = l->ncols;
    t.strategy = l->plan.strategy;
    t.cdc = l->plan.cdc;
    t.cdc_images = l->plan.cdc_images;
    t.contract = contract_of(l->o);
    t.incremental_key = -1;
    size_t pk[64];
    if (key_indices(l, pk, &t.npk) || incremental(l, &t) || merge_predicate(l, &t))
        return -1;
    t.pk = t.npk ? pk : NULL;
    int rc = sink_begin(l->sk, &t);
    if (rc)
        return pipe_load_fail(l, rc == SINK_E_UNSUPPORTED ? TDSPIPE_E_USAGE : TDSPIPE_E_LOAD, "%s",
                              sink_errmsg(l->sk));
    l->rows = sink_rows_new(l->ncols);
    if (!l->rows)
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
    l->begun = true;
    return 0;
}
