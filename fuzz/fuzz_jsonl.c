/*
 * fuzz_jsonl.c — one JSONL line through pipe/jsonl_parse.c (cJSON), then
 * every member through type inference and the conversion into each column
 * type the file sources produce (pipe/file_types.c). Nothing may crash,
 * leak or read outside a field; a conversion either fails with a reason or
 * writes within the bound it promised.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "file_int.h"

static const char *const types[] = {"bigint", "tinyint", "bit", "float", "decimal(10,3)", "money", "date",
                                    "time(7)", "datetime2(7)", "datetimeoffset(3)", "uniqueidentifier",
                                    "nvarchar(max)", "nvarchar(5)", "varbinary(8)", NULL};

static int member(void *ud, const char *key, const pipe_fv *v)
{
    pipe_infer *inf = ud;
    (void)key;
    pipe_infer_add(inf, v);
    size_t cap = pipe_fv_bound(v);
    uint8_t *out = malloc(cap);
    if (!out)
        return 0;
    for (size_t t = 0; types[t]; t++) {
        tds_column c;
        if (pipe_file_column(types[t], &c))
            abort();
        size_t n = 0;
        bool null = false;
        char why[160];
        if (pipe_fv_encode(&c, v, out, cap, &n, &null, why, sizeof why) == 0) {
            if (n > cap)
                abort();
            if (!null) {
                tds_value tv = {out, (uint32_t)n, 0};
                char text[256];
                size_t tl;
                tds_value_text(&c, &tv, text, sizeof text, &tl);
            }
        }
    }
    free(out);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pipe_infer inf;
    pipe_infer_init(&inf);
    char why[160];
    pipe_jsonl_record((const char *)data, size, member, &inf, why, sizeof why);
    tds_column c;
    pipe_infer_column(&inf, &c);
    return 0;
}
