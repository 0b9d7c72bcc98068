/*
 * token_int.h — state of the token-stream decoder (token*.c). Owned by the
 * token decoder; the rest of the engine only embeds it in tds_session.
 *
 * Invariant: cols/values are sized at COLMETADATA and reused for every row
 * (no allocation per row). While a row is incomplete, value positions are
 * kept as offsets from the row's start (the buffer may move at compaction)
 * and turned into pointers only when the row is delivered.
 */
#ifndef TDS_TOKEN_INT_H
#define TDS_TOKEN_INT_H

#include "tds.h"

typedef struct tds_tokdec {
    tds_column *cols;      /* current result's metadata */
    tds_value *values;     /* one view per column, reused per row */
    uint16_t ncols;
    uint16_t cap_cols;
    int state;             /* decoder state, see token.c */
} tds_tokdec;

#endif /* TDS_TOKEN_INT_H */
