/*
 * file_sample.c — from a file's records to the load engine's columns and
 * rows (pipe_rows_cb). The first PIPE_FILE_SAMPLE records are held (one
 * block each) while every field goes through type inference; then the
 * column types are fixed (--columns types win, renames apply), the
 * columns go to cb->columns once, the held records are converted and
 * sent, and every later record is converted and sent as it is read.
 *
 * A field that does not convert into its column fails the load with one
 * line naming the file, the line and the column, and the fix when the
 * type was only inferred. A callback's PIPE_STOP ends the read
 * (FILE_STOPPED).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file_int.h"
#include "tds_ascii.h"

int file_fail(file_src *f, const char *fmt, ...)
{
    if (f->outcome)
        return -1;
    f->outcome = FILE_FAILED;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int stopped(file_src *f)
{
    if (!f->outcome)
        f->outcome = FILE_STOPPED;
    return -1;
}

int file_add_name(file_src *f, const char *name, size_t n)
{
    if (f->ncols >= PIPE_FILE_MAX_COLS)
        return file_fail(f, "%s: more than %d columns", f->path, PIPE_FILE_MAX_COLS);
    if (f->ncols == f->capcols) {
        size_t cap = f->capcols ? f->capcols * 2 : 32;
        char **p = realloc(f->names, cap * sizeof *p);
        if (!p)
            return FILE_NOMEM(f);
        f->names = p;
        f->capcols = cap;
    }
    if (!(f->names[f->ncols] = strndup(name, n)))
        return FILE_NOMEM(f);
    f->ncols++;
    return 0;
}

int file_find_name(const file_src *f, const char *name, size_t hint)
{
    if (hint < f->ncols && !strcmp(f->names[hint], name))
        return (int)hint;
    for (size_t i = 0; i < f->ncols; i++)
        if (!strcmp(f->names[i], name))
            return (int)i;
    return -1;
}

static const pipe_colspec *spec_for(const file_src *f, const char *name)
{
    for (size_t s = 0; s < f->nspecs; s++)
        if (!tds_ascii_casecmp(f->specs[s].source, name))
            return &f->specs[s];
    return NULL;
}

/* A copy of ncols fields in one block, held in the sample. */
static int keep(file_src *f, const pipe_fv *row)
{
    size_t bytes = f->ncols * sizeof(pipe_fv);
    for (size_t i = 0; i < f->ncols; i++)
        bytes += row[i].len + 1;
    pipe_fv *v = malloc(bytes);
    if (!v)
        return FILE_NOMEM(f);
    char *t = (char *)(v + f->ncols);
    for (size_t i = 0; i < f->ncols; i++) {
        v[i] = row[i];
        if (row[i].len)
            memcpy(t, row[i].p, row[i].len);
        t[row[i].len] = '\0';
        v[i].p = t;
        t += row[i].len + 1;
    }
    f->sample[f->nsample++] = (file_rec){.v = v, .n = f->ncols, .line = f->line};
    return 0;
}

/* --columns: every spec names a column (JSONL: a typed spec may add a
 * key no sampled line had). */
static int check_specs(file_src *f)
{
    for (size_t s = 0; s < f->nspecs; s++) {
        bool found = false;
        for (size_t i = 0; i < f->ncols; i++)
            found |= !tds_ascii_casecmp(f->specs[s].source, f->names[i]);
        if (!found && f->jsonl && f->specs[s].sqltype[0]) {
            if (file_add_name(f, f->specs[s].source, strlen(f->specs[s].source)))
                return -1;
        } else if (!found) {
            return file_fail(f, "--columns: %s has no column '%s'", f->path, f->specs[s].source);
        }
    }
    return f->ncols ? 0 : file_fail(f, "%s has no columns", f->path);
}

/* Column i's type (declared or inferred) and output name. */
static int fix_column(file_src *f, size_t i)
{
    const pipe_colspec *sp = spec_for(f, f->names[i]);
    pipe_infer none;
    pipe_infer_init(&none);
    int rc = sp && sp->sqltype[0] ? pipe_file_column(sp->sqltype, &f->cols[i])
                                  : pipe_infer_column(i < f->ninf ? &f->inf[i] : &none, &f->cols[i]);
    if (rc)
        return file_fail(f, "--columns: type '%s' cannot be read from a file", sp ? sp->sqltype : "?");
    if (!(f->outnames[i] = strdup(sp ? sp->name : f->names[i])))
        return FILE_NOMEM(f);
    f->cols[i].name.ptr = f->outnames[i];
    f->cols[i].name.len = strlen(f->outnames[i]);
    f->cols[i].ordinal = (uint16_t)i;
    return 0;
}

/* Types fixed: the columns to the callback. */
static int start(file_src *f)
{
    if (check_specs(f))
        return -1;
    f->cols = calloc(f->ncols, sizeof *f->cols);
    f->outnames = calloc(f->ncols, sizeof *f->outnames);
    f->vals = calloc(f->ncols, sizeof *f->vals);
    f->voff = calloc(f->ncols, sizeof *f->voff);
    pipe_fv *row = realloc(f->row, f->ncols * sizeof *row);
    if (row)
        f->row = row;
    if (!f->cols || !f->outnames || !f->vals || !f->voff || !row)
        return FILE_NOMEM(f);
    for (size_t i = 0; i < f->ncols; i++)
        if (fix_column(f, i))
            return -1;
    f->started = true;
    if (f->cb->columns && f->cb->columns(f->ud, f->cols, f->ncols) != PIPE_NEXT)
        return stopped(f);
    return 0;
}

static int arena_fit(file_src *f, size_t need)
{
    if (need <= f->arena_cap)
        return 0;
    size_t cap = f->arena_cap ? f->arena_cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *a = realloc(f->arena, cap);
    if (!a)
        return FILE_NOMEM(f);
    f->arena = a;
    f->arena_cap = cap;
    return 0;
}

static int bad_field(file_src *f, size_t i, uint64_t line, const char *why)
{
    const pipe_colspec *sp = spec_for(f, f->names[i]);
    bool declared = sp && sp->sqltype[0];
    return file_fail(f, "%s %s %llu, column '%s': %s%s%s%s", f->path, f->jsonl ? "line" : "record at line",
                     (unsigned long long)line, f->names[i], why,
                     declared ? "" : " (the type was inferred from the first records; declare it with --columns ",
                     declared ? "" : f->names[i], declared ? "" : ":string)");
}

/* One row: fields → values → the row callback. */
static int emit(file_src *f, const pipe_fv *row, uint64_t line)
{
    size_t need = 0;
    for (size_t i = 0; i < f->ncols; i++)
        need += pipe_fv_bound(&row[i]);
    if (arena_fit(f, need))
        return -1;
    size_t used = 0;
    for (size_t i = 0; i < f->ncols; i++) {
        size_t n = 0;
        bool null = false;
        char why[160];
        if (pipe_fv_encode(&f->cols[i], &row[i], f->arena + used, f->arena_cap - used, &n, &null, why, sizeof why))
            return bad_field(f, i, line, why);
        f->vals[i].flags = null ? TDS_VF_NULL : 0;
        f->vals[i].len = (uint32_t)n;
        f->voff[i] = used;
        used += n;
    }
    /* pointers last: the arena does not move while a row is encoded */
    for (size_t i = 0; i < f->ncols; i++)
        f->vals[i].ptr = f->vals[i].flags & TDS_VF_NULL ? NULL : f->arena + f->voff[i];
    if (f->cb->row && f->cb->row(f->ud, f->vals) != PIPE_NEXT)
        return stopped(f);
    return 0;
}

static int flush_sample(file_src *f)
{
    if (!f->started && start(f))
        return -1;
    for (size_t r = 0; r < f->nsample; r++) {
        /* a JSONL key first seen later: NULL in the rows before */
        for (size_t i = 0; i < f->ncols; i++)
            f->row[i] = i < f->sample[r].n ? f->sample[r].v[i] : (pipe_fv){.kind = PIPE_FV_NULL};
        int rc = emit(f, f->row, f->sample[r].line);
        free(f->sample[r].v);
        f->sample[r].v = NULL;
        if (rc)
            return rc;
    }
    f->nsample = 0;
    return 0;
}

static int sample_room(file_src *f)
{
    if (f->ninf < f->ncols) {
        pipe_infer *inf = realloc(f->inf, f->ncols * sizeof *inf);
        if (!inf)
            return FILE_NOMEM(f);
        f->inf = inf;
        for (size_t i = f->ninf; i < f->ncols; i++)
            pipe_infer_init(&f->inf[i]);
        f->ninf = f->ncols;
    }
    if (!f->sample && !(f->sample = calloc(PIPE_FILE_SAMPLE, sizeof *f->sample)))
        return FILE_NOMEM(f);
    return 0;
}

int file_record(file_src *f, const pipe_fv *row)
{
    if (f->started)
        return emit(f, row, f->line);
    if (sample_room(f))
        return -1;
    for (size_t i = 0; i < f->ncols; i++)
        pipe_infer_add(&f->inf[i], &row[i]);
    if (keep(f, row))
        return -1;
    return f->nsample == PIPE_FILE_SAMPLE ? flush_sample(f) : 0;
}

/* Past the sample every record was sent as read; else the columns and
 * the held records go now (a file of fewer records than the sample). */
int file_end(file_src *f) { return f->started ? 0 : flush_sample(f); }

void file_free_columns(file_src *f)
{
    for (size_t r = 0; r < f->nsample; r++)
        free(f->sample[r].v);
    free(f->sample);
    for (size_t i = 0; i < f->ncols; i++) {
        free(f->names[i]);
        if (f->outnames)
            free(f->outnames[i]);
    }
    free(f->names);
    free(f->outnames);
    free(f->cols);
    free(f->inf);
    free(f->row);
    free(f->arena);
    free(f->vals);
    free(f->voff);
}
