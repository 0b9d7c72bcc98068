/*
 * file_csv.c — a CSV file (plain or gzip) through the streaming parser
 * (csv_parse.c) into file_record: the first record is the header (the
 * column names: non-empty, distinct); every later record must have as
 * many fields; an empty unquoted field is NULL, "" an empty string.
 * Also the gzread loop both readers use (file_fill).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csv_parse.h"
#include "file_int.h"

int file_fill(file_src *f)
{
    int n = gzread(f->gz, f->buf, PIPE_FILE_READ_BUF);
    if (n >= 0)
        return n;
    int e;
    const char *m = gzerror(f->gz, &e);
    return file_fail(f, "%s: %s", f->path, e == Z_ERRNO ? strerror(errno) : m);
}

static int header(file_src *f, char **fields, const size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!lens[i])
            return file_fail(f, "%s: column %zu of the header has no name", f->path, i + 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(fields[i], fields[j]))
                return file_fail(f, "%s: two columns are named '%s'", f->path, fields[i]);
        if (file_add_name(f, fields[i], lens[i]))
            return -1;
    }
    return 0;
}

static int on_csv(void *ud, char **fields, const size_t *lens, const bool *quoted, size_t n, uint64_t line)
{
    file_src *f = ud;
    f->line = line;
    if (!f->names)
        return header(f, fields, lens, n);
    if (n != f->ncols)
        return file_fail(f, "%s line %llu: %zu fields, the header has %zu", f->path, (unsigned long long)line, n,
                         f->ncols);
    if (!f->row && !(f->row = malloc(n * sizeof *f->row)))
        return FILE_NOMEM(f);
    for (size_t i = 0; i < n; i++) {
        f->row[i].p = fields[i];
        f->row[i].len = lens[i];
        f->row[i].kind = !lens[i] && !quoted[i] ? PIPE_FV_NULL : PIPE_FV_STRING;
    }
    return file_record(f, f->row);
}

int file_read_csv(file_src *f)
{
    pipe_csv *c = pipe_csv_new(',', PIPE_FILE_MAX_RECORD, PIPE_FILE_MAX_COLS, on_csv, f);
    if (!c)
        return FILE_NOMEM(f);
    int rc = 0, n;
    while (!rc && (n = file_fill(f)) > 0)
        rc = pipe_csv_feed(c, f->buf, (size_t)n);
    if (!rc && n < 0)
        rc = -1;
    if (!rc)
        rc = pipe_csv_finish(c);
    if (rc == PIPE_CSV_BAD)
        file_fail(f, "%s %s", f->path, pipe_csv_error(c));
    pipe_csv_free(c);
    if (!rc && !f->names)
        return file_fail(f, "%s is empty (no header)", f->path);
    return rc ? -1 : 0;
}
