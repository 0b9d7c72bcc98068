/*
 * fuzz_vector.c — the vector (0xF5) value decoder and its text: input byte
 * 0 picks the element type (bit 0) and byte 1 the dimension count the
 * column declares (0: taken from the value's own header), the rest is one
 * value as the ROW token carries it after its length. The header check,
 * the accessor, every element, the JSON-array text (both with a small and
 * a large buffer) and the text parser on that text run; a value that
 * passes the check must print and parse back to the same element count.
 */
#include <stdlib.h>
#include <string.h>

#include "tds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t elem = data[0] & 1;
    unsigned es = tds_vector_elem_size(elem);
    const uint8_t *p = data + 2;
    size_t n = size - 2;
    uint32_t dims = data[1] ? data[1] : (n >= 4 ? (uint32_t)(p[2] | (p[3] << 8)) : 1);
    if (dims == 0 || 8 + (size_t)dims * es > TDS_VECTOR_MAX_BYTES)
        return 0;
    tds_column c;
    if (tds_column_init(&c, TDS_T_VECTOR, 8 + dims * es, 0, elem) != TDS_OK)
        return 0;
    size_t bad;
    int ok = tds_vector_check(p, n, elem, (uint16_t)dims, &bad) == TDS_OK;
    if (!ok && bad >= 8)
        abort();
    tds_value v = { p, (uint32_t)n, 0 };
    tds_vector vec;
    if ((tds_value_vector(&c, &v, &vec) == TDS_OK) != ok)
        abort();
    if (!ok)
        return 0;
    float acc = 0;
    for (uint32_t i = 0; i < vec.dims; i++)
        acc += tds_vector_get(&vec, i);
    if (acc == 12345.678f && vec.dims == 0)
        abort(); /* keeps the reads */
    char small[16];
    size_t need, len;
    tds_value_text(&c, &v, small, sizeof small, &need);
    char *text = malloc(need + 1);
    if (!text || tds_value_text(&c, &v, text, need + 1, &len) != TDS_OK || len != need)
        abort();
    float *back = malloc(dims * sizeof *back);
    uint32_t got;
    int rc = tds_vector_parse(text, len, back, dims, &got);
    /* NaN/Inf print as null, which the parser refuses; else all come back */
    if (rc == TDS_OK && got != dims)
        abort();
    free(back);
    free(text);
    return 0;
}
