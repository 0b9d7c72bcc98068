/*
 * csv_parse.h — the streaming CSV parser (csv_parse.c), kept apart from
 * cli_int.h so the fuzz target links it alone.
 */
#ifndef TDSPIPE_CSV_PARSE_H
#define TDSPIPE_CSV_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { CLI_CSV_BAD = -1 };

/* One record: n fields, NUL-terminated (lens without the NUL), quoted[i]
 * when field i was in quotes; line: where the record starts. Return 0 to
 * go on, anything else stops cli_csv_feed/finish with that value. */
typedef int (*cli_csv_record_fn)(void *ud, char **fields, const size_t *lens, const bool *quoted, size_t n,
                                 uint64_t line);

typedef struct cli_csv cli_csv;

/* NULL when out of memory. */
cli_csv *cli_csv_new(char delim, size_t max_record, size_t max_fields, cli_csv_record_fn cb, void *ud);
void cli_csv_free(cli_csv *c);
/* Bytes in any pieces. Returns 0, CLI_CSV_BAD (cli_csv_error says why),
 * or the callback's non-zero value. */
int cli_csv_feed(cli_csv *c, const char *p, size_t n);
/* End of input: the last record (without a final newline) is delivered;
 * an open quote is an error. */
int cli_csv_finish(cli_csv *c);
/* "line N: reason" of the last CLI_CSV_BAD. */
const char *cli_csv_error(const cli_csv *c);
uint64_t cli_csv_line(const cli_csv *c);

#endif
