/*
 * load_csv.c — one call loads a SQL Server table into a CSV file:
 * tdspipe_load() opens the source and the destination, copies the rows
 * and commits (the file appears whole, or not at all).
 *
 *   load_csv "mssql://user:pw@host:port/db?encrypt=disable" schema.table out.csv
 */
#include <stdio.h>

#include <tdspipe/tdspipe.h>

static void on_progress(void *ud, const tdspipe_progress *p)
{
    *(uint64_t *)ud = p->rows;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: load_csv SOURCE_URI SCHEMA.TABLE OUT.csv\n"), 2;
    char dest[4200];
    snprintf(dest, sizeof dest, "csv://%s", argv[3]); /* csv:///abs or csv://relative */
    uint64_t rows = 0;
    tdspipe_load_opts o = {.source_uri = argv[1], .source_table = argv[2], .dest_uri = dest,
                           .progress = on_progress, .progress_ud = &rows};
    tdspipe_error err;
    if (tdspipe_load(&o, &err) != TDSPIPE_OK)
        return fprintf(stderr, "load_csv: %s\n", err.message), err.code;
    printf("loaded %llu rows of %s into %s (libtdspipe %s)\n", (unsigned long long)rows, argv[2],
           argv[3], tdspipe_version());
    return 0;
}
