/*
 * ddb_types2025.c — DuckDB's side of SQL Server 2025's json and vector
 * types, as small functions the DuckDB appender (duckdb_append.c, H5's)
 * calls: the column type (json → JSON, whose values are VARCHAR strings
 * for the appender; vector(n) → FLOAT[n], a fixed-size ARRAY, float16
 * widened exactly) and the writer of one vector into an ARRAY vector's
 * child data (n floats per row).
 *
 * Invariant: no DuckDB API here — the caller hands over the child data
 * pointer (duckdb_vector_get_data(duckdb_array_vector_get_child(vec))).
 */
#include <stdio.h>

#include "sink_int.h"

const char *sink__ddb_t25_type(const tds_column *c, char *tmp, size_t cap)
{
    if (c->kind == TDS_K_JSON)
        return "JSON";
    if (c->kind != TDS_K_VECTOR)
        return NULL;
    snprintf(tmp, cap, "FLOAT[%u]", (unsigned)c->vector_dims);
    return tmp;
}

size_t sink__ddb_t25_chunk_bytes(const tds_column *cols, size_t ncols, size_t rows)
{
    size_t n = 0;
    for (size_t i = 0; i < ncols; i++)
        if (cols[i].kind == TDS_K_VECTOR)
            n += rows * cols[i].vector_dims * sizeof(float);
    return n;
}

int sink__ddb_t25_put_floats(float *child, uint64_t row, const tds_column *c, const tds_value *v)
{
    tds_vector vec;
    if (tds_value_vector(c, v, &vec))
        return SINK_E_VALUE;
    float *o = child + row * vec.dims;
    for (uint32_t j = 0; j < vec.dims; j++)
        o[j] = tds_vector_get(&vec, j);
    return SINK_OK;
}
