/*
 * thread.c — the one way a sink starts a thread of its own (DuckDB's feed,
 * the background file writer, SQL Server's bulk writers, PostgreSQL's COPY
 * writers): with every signal blocked, so signals stay with the
 * application's threads. The mask is the caller's only for the moment of
 * pthread_create, which hands it to the new thread.
 */
#include <pthread.h>
#include <signal.h>

#include "sink_int.h"

int sink__thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(th, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
