/*
 * par_partfn.h — splitting a parallel read on the source table's own
 * partitions (SQL Server partition function and scheme; docs/parallel.md
 * "Partitioned tables"). par_partfn_plan is pure (tests/pipe/
 * test_par_partfn.c); par_partfn_find reads the catalog. Not installed.
 */
#ifndef TDSPIPE_PAR_PARTFN_H
#define TDSPIPE_PAR_PARTFN_H

#include "par_int.h"

/* A table's partition function as the planner needs it. */
typedef struct par_partfn {
    par_kind kind;      /* of the partitioning column */
    bool range_right;   /* RANGE RIGHT: a boundary starts the partition to its right */
    int64_t *bounds;    /* ascending, distinct; NULL boundaries left out */
    size_t nbounds;
    char col[256];      /* the partitioning column, as the catalog spells it */
} par_partfn;

/* What every row the read returns satisfies on the partitioning column
 * (the incremental bounds when it is the incremental key): lo <= key <=
 * hi. Used only to leave out partitions no such row is in. */
typedef struct par_limits {
    bool has_lo, has_hi;
    int64_t lo, hi;
} par_limits;

/* One window per partition (partition i: RANGE LEFT (b[i-1], b[i]],
 * RANGE RIGHT [b[i-1], b[i]) as closed-open int64 ranges), partitions
 * outside lim dropped, then adjacent partitions merged into at most
 * connections × PAR_WINDOWS_PER_CONNECTION windows of near-equal
 * partition counts. The first window is open below and takes the NULLs
 * (SQL Server's leftmost partition), the last is open above: every key
 * and NULL is in exactly one window. *out is malloc'd. Returns 0 or -1
 * (out of memory). */
int par_partfn_plan(const par_partfn *f, const par_limits *lim, unsigned connections, par_window **out, size_t *n);

/* par_partfn_plan with the limits of a read's incremental bounds lo and
 * hi (text, NULL: none) when f's column is o's incremental key (widened
 * by a day for datetimes: a bound's text may carry an offset). */
struct tdspipe_load_opts;
int par_partfn_windows(const par_partfn *f, const struct tdspipe_load_opts *o, const char *lo, const char *hi,
                       unsigned connections, par_window **out, size_t *n);

void par_partfn_free(par_partfn *f);

/* The partition function of m's table (its heap or clustered index) when
 * the table is partitioned on a column par_kind_of can split: returns 1
 * and fills f; 0 when not (also when the catalog cannot say). */
struct pipe_mssql;
int par_partfn_find(struct pipe_mssql *m, par_partfn *f);

#endif /* TDSPIPE_PAR_PARTFN_H */
