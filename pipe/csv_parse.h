/*
 * csv_parse.h — the streaming CSV parser (csv_parse.c), kept apart from
 * file_int.h so the fuzz target links it alone.
 */
#ifndef TDSPIPE_CSV_PARSE_H
#define TDSPIPE_CSV_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PIPE_CSV_BAD = -1 };

/* One record: n fields, NUL-terminated (lens without the NUL), quoted[i]
 * when field i was in quotes; line: where the record starts. Return 0 to
 * go on, anything else stops pipe_csv_feed/finish with that value. */
typedef int (*pipe_csv_record_fn)(void *ud, char **fields, const size_t *lens, const bool *quoted, size_t n,
                                  uint64_t line);

typedef struct pipe_csv pipe_csv;

/* NULL when out of memory. */
pipe_csv *pipe_csv_new(char delim, size_t max_record, size_t max_fields, pipe_csv_record_fn cb, void *ud);
void pipe_csv_free(pipe_csv *c);
/* Bytes in any pieces. Returns 0, PIPE_CSV_BAD (pipe_csv_error says why),
 * or the callback's non-zero value. */
int pipe_csv_feed(pipe_csv *c, const char *p, size_t n);
/* End of input: the last record (without a final newline) is delivered;
 * an open quote is an error. */
int pipe_csv_finish(pipe_csv *c);
/* "line N: reason" of the last PIPE_CSV_BAD. */
const char *pipe_csv_error(const pipe_csv *c);
uint64_t pipe_csv_line(const pipe_csv *c);

#endif
