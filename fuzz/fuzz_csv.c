/*
 * fuzz_csv.c — the streaming CSV parser (pipe/csv_parse.c) on fuzzer
 * input: the bytes are fed whole and again split at a point taken from
 * the first byte; both runs must deliver the same records (ASan checks
 * every field read: each is NUL-terminated within its length).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv_parse.h"

typedef struct acc {
    uint64_t h;
    size_t records;
} acc;

static int on_record(void *ud, char **f, const size_t *lens, const bool *quoted, size_t n, uint64_t line)
{
    acc *a = ud;
    a->records++;
    a->h = a->h * 31 + n + line;
    for (size_t i = 0; i < n; i++) {
        if (f[i][lens[i]] != '\0')
            abort();
        for (size_t k = 0; k < lens[i]; k++)
            a->h = a->h * 131 + (uint8_t)f[i][k];
        a->h += quoted[i];
    }
    return 0;
}

static int run(const uint8_t *d, size_t n, size_t split, acc *a)
{
    memset(a, 0, sizeof *a);
    pipe_csv *c = pipe_csv_new(',', 1 << 16, 256, on_record, a);
    if (!c)
        return -2;
    int rc = pipe_csv_feed(c, (const char *)d, split);
    if (!rc)
        rc = pipe_csv_feed(c, (const char *)d + split, n - split);
    if (!rc)
        rc = pipe_csv_finish(c);
    pipe_csv_free(c);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    acc a, b;
    int r1 = run(data, size, size, &a);
    int r2 = run(data, size, size ? data[0] % (size + 1) : 0, &b);
    if (r1 != r2 || (r1 == 0 && (a.h != b.h || a.records != b.records)))
        abort(); /* the split changed the result */
    return 0;
}
