/*
 * par_pool.h — par_pool.c's one entry point: a parallel read's windows
 * over N connections on one libuv loop (see par_pool.c). Not installed.
 */
#ifndef TDSPIPE_PAR_POOL_H
#define TDSPIPE_PAR_POOL_H

#include "net.h"
#include "pipe_int.h"

/* One window: its SELECT, and its predicate for progress and messages. */
typedef struct par_job {
    char *sql;
    char *label;
} par_job;

/* Reads every job, at most nconn at once over connections made from no,
 * into cb (columns once: the first result; rows; chunks before their
 * row; window start/done). cancel (NULL: none) is looked at every 100 ms.
 * Returns TDSPIPE_OK, PIPE_STOPPED (a callback said PIPE_STOP; the
 * engine knows why) or TDSPIPE_E_LOAD with err set (the first window's
 * error, a lost connection, the cancel flag); on a failure every
 * connection is closed before it returns. */
int par_pool_run(const net_opts *no, unsigned nconn, const par_job *jobs, size_t njobs,
                 const volatile sig_atomic_t *cancel, const pipe_rows_cb *cb, void *ud, tdspipe_error *err);

#endif /* TDSPIPE_PAR_POOL_H */
