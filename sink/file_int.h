/*
 * file_int.h — the atomic output file the CSV and JSONL sinks write:
 * a temp file beside the target (optionally gzip through zlib), renamed
 * over the target at commit, removed at abort.
 */
#ifndef TDSPIPE_FILE_INT_H
#define TDSPIPE_FILE_INT_H

#include "sink_int.h"

typedef struct sink_file {
    char *path;        /* target */
    char *tmp;         /* temp file while a load is open, else NULL */
    bool gz;           /* path ends in ".gz" */
    int level;         /* gzip level */
    int fd;
    void *gzf;         /* gzFile when gz */
    bool had_data;     /* append: the target existed and was not empty */
    char *made;        /* the target's directory when this load created
                          any of it (removed again by abort), else NULL */
    size_t made_top;   /* length of the topmost directory it created */
    sink_buf out;      /* pending bytes, written in large pieces */
} sink_file;

/* The URI target (after "scheme://") into f->path by sink_file_path's
 * rule; a ".gz" path means gzip. */
int sink__file_init(sink_file *f, const char *target, const sink_options *o,
                    char *err, size_t errcap);
/* Creates the target's missing directories (as ingestr's os.MkdirAll),
 * then the temp file; with append, copies the target's bytes into it
 * first (a gzip target gets a new gzip member after them). */
int sink__file_start(sink *s, sink_file *f, bool append);
/* Writes f->out when it holds at least `min` bytes. */
int sink__file_flush(sink *s, sink_file *f, size_t min);
/* Flushes, syncs, closes and renames the temp file over the target. */
int sink__file_commit(sink *s, sink_file *f);
/* Closes and removes the temp file (no-op without one) and the
 * directories the load created, when they are still empty. */
void sink__file_abort(sink_file *f);
void sink__file_free(sink_file *f);

#endif
