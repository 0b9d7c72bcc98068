/*
 * progress_int.h — the pieces of progress.c that tests drive directly:
 * the percentage and ETA arithmetic, the live line rendered for a given
 * terminal width, and a progress display on any FILE (a memory stream in
 * tests) with the terminal's answers (is it one, how wide) given instead
 * of asked. The command itself only uses cli_int.h's cli_progress_new().
 */
#ifndef TDSPIPE_CLI_PROGRESS_INT_H
#define TDSPIPE_CLI_PROGRESS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli_int.h"

/* What one line shows. est < 0: no estimate. */
typedef struct cli_progress_snap {
    const char *table;
    const char *phase;   /* "reading", "committing" */
    uint64_t rows, bytes;
    int64_t est;         /* the source's row-count estimate */
    double elapsed;      /* seconds since the load started */
} cli_progress_snap;

/* Share of the estimate read so far, in [0, 1]; -1 when there is no
 * estimate (est < 0) or it is 0. A low estimate (rows past it) gives 1. */
double cli_progress_fraction(uint64_t rows, int64_t est);

/* Seconds left at the mean rate so far; -1 when unknown (no estimate,
 * nothing read yet, no time elapsed, or rows already past the estimate). */
double cli_progress_eta(uint64_t rows, int64_t est, double elapsed);

/* Rows per second so far (0 before any time has passed). */
double cli_progress_rate(uint64_t rows, double elapsed);

/* The live line for a terminal `width` columns wide, without "\r" or
 * newline, never longer than width - 1 (a full last column makes some
 * terminals wrap, and a wrapped line cannot be redrawn with "\r"). With
 * est >= 0: a [####....] bar a quarter of the width wide (at most 40
 * cells; none under 60 columns, so it keeps its size from one redraw to
 * the next), the percentage, the ETA ("committing" in that phase), then
 * table, rows "of ~N est." (the catalog's count is not exact), rows/s,
 * MB and seconds; without, the text alone. A line too long loses its
 * tail. Returns the length written (out always NUL-terminated, cap > 0). */
size_t cli_progress_line(char *out, size_t cap, const cli_progress_snap *s, int width);

/* A display writing to f. tty: draw the live line (interactive mode);
 * width: the terminal's columns (<= 0: 80). */
cli_progress *cli_progress_new_on(FILE *f, bool tty, int width, cli_progress_mode mode, const char *table,
                                  int64_t est_rows);

/* The terminal's width for fd: TIOCGWINSZ, else $COLUMNS, else 80. */
int cli_progress_width(int fd);

#endif
