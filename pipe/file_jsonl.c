/*
 * file_jsonl.c — a JSONL file (plain or gzip) into file_record: one JSON
 * object per line (jsonl_parse.c), blank lines skipped. The columns are
 * the keys of the sampled lines in order of first appearance; a missing
 * key is NULL; a key first seen after the sample is an error naming it.
 * A line is bounded by PIPE_FILE_MAX_RECORD bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_int.h"

typedef struct jrow {
    file_src *f;
    bool *set;       /* per column: the line had the key */
    size_t next;     /* expected position of the next key */
    char *line;      /* the line being assembled */
    size_t len, cap;
} jrow;

/* A key no earlier line had: a new column (while sampling). */
static int new_column(jrow *j, const char *key)
{
    file_src *f = j->f;
    if (f->started)
        return file_fail(f,
                         "%s line %llu: key '%s' is not among the columns of the first %d lines (declare it with "
                         "--columns %s:string)",
                         f->path, (unsigned long long)f->line, key, PIPE_FILE_SAMPLE, key);
    if (file_add_name(f, key, strlen(key)))
        return -1;
    pipe_fv *row = realloc(f->row, f->ncols * sizeof *row);
    if (row)
        f->row = row;
    bool *set = realloc(j->set, f->ncols * sizeof *set);
    if (set)
        j->set = set;
    if (!row || !set)
        return FILE_NOMEM(f);
    j->set[f->ncols - 1] = false;
    return (int)f->ncols - 1;
}

static int on_member(void *ud, const char *key, const pipe_fv *v)
{
    jrow *j = ud;
    file_src *f = j->f;
    int i = file_find_name(f, key, j->next);
    if (i < 0 && (i = new_column(j, key)) < 0)
        return -1;
    if (j->set[i])
        return file_fail(f, "%s line %llu: key '%s' twice", f->path, (unsigned long long)f->line, key);
    j->set[i] = true;
    f->row[i] = *v;
    j->next = (size_t)i + 1;
    /* the member's text dies with the parse: copy what the walk keeps */
    if (v->len || v->kind != PIPE_FV_NULL) {
        char *t = malloc(v->len + 1);
        if (!t) {
            f->row[i].p = NULL;
            return FILE_NOMEM(f);
        }
        memcpy(t, v->p, v->len);
        t[v->len] = '\0';
        f->row[i].p = t;
    }
    return 0;
}

static void free_row_texts(file_src *f, const bool *set)
{
    for (size_t i = 0; i < f->ncols; i++)
        if (set[i] && f->row[i].p) {
            free((char *)f->row[i].p);
            f->row[i].p = NULL;
        }
}

/* Per-line state sized to the columns known so far, all unset. */
static int line_begin(jrow *j)
{
    file_src *f = j->f;
    j->next = 0;
    if (!f->ncols)
        return 0;
    bool *set = realloc(j->set, f->ncols * sizeof *set);
    if (!set)
        return FILE_NOMEM(f);
    j->set = set;
    memset(j->set, 0, f->ncols * sizeof *set);
    if (!f->row && !(f->row = calloc(f->ncols, sizeof *f->row)))
        return FILE_NOMEM(f);
    return 0;
}

static int jsonl_line(jrow *j, const char *line, size_t len)
{
    file_src *f = j->f;
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
        k++;
    if (k == len)
        return 0; /* blank */
    if (line_begin(j))
        return -1;
    char why[160] = "";
    int rc = pipe_jsonl_record(line, len, on_member, j, why, sizeof why);
    if (rc && !f->outcome)
        file_fail(f, "%s line %llu: %s", f->path, (unsigned long long)f->line, why);
    if (!rc) {
        for (size_t i = 0; i < f->ncols; i++)
            if (!j->set || !j->set[i])
                f->row[i] = (pipe_fv){.kind = PIPE_FV_NULL};
        rc = file_record(f, f->row);
    }
    if (j->set)
        free_row_texts(f, j->set);
    return rc ? -1 : 0;
}

static int line_put(jrow *j, char ch)
{
    if (j->len + 1 >= j->cap) {
        if (j->cap >= PIPE_FILE_MAX_RECORD)
            return file_fail(j->f, "%s line %llu: longer than %u bytes", j->f->path, (unsigned long long)j->f->line,
                             PIPE_FILE_MAX_RECORD);
        size_t cap = j->cap ? j->cap * 2 : 4096;
        char *p = realloc(j->line, cap);
        if (!p)
            return FILE_NOMEM(j->f);
        j->line = p;
        j->cap = cap;
    }
    j->line[j->len++] = ch;
    return 0;
}

/* Splits n bytes of f->buf into lines. */
static int feed(jrow *j, size_t n)
{
    file_src *f = j->f;
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (f->buf[i] == '\n') {
            rc = jsonl_line(j, j->line ? j->line : "", j->len);
            j->len = 0;
            f->line++;
        } else {
            rc = line_put(j, f->buf[i]);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int file_read_jsonl(file_src *f)
{
    jrow j = {.f = f};
    int n, rc = 0;
    f->line = 1;
    while (!rc && (n = file_fill(f)) > 0)
        rc = feed(&j, (size_t)n);
    if (!rc && n < 0)
        rc = -1;
    if (!rc && j.len)
        rc = jsonl_line(&j, j.line, j.len);
    free(j.line);
    free(j.set);
    return rc;
}
