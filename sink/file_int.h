/*
 * file_int.h — the atomic output file the CSV and JSONL sinks write:
 * a temp file beside the target (optionally gzip through zlib), renamed
 * over the target at commit, removed at abort; big loads write through a
 * background thread (file_write.c).
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
    struct sink_file_writer *w; /* the background writer of a big load, else NULL */
} sink_file;

/* The URI target (after "scheme://") into f->path by sink_file_path's
 * rule; a ".gz" path means gzip. */
int sink__file_init(sink_file *f, const char *target, const sink_options *o,
                    char *err, size_t errcap);
/* Creates the target's missing directories (as ingestr's os.MkdirAll),
 * then the temp file; with append, copies the target's bytes into it
 * first (a gzip target gets a new gzip member after them). */
int sink__file_start(sink *s, sink_file *f, bool append);
/* Writes f->out when it holds at least `min` bytes (min > 0: through the
 * background writer, started on the first such flush; a write error may
 * then be reported by a later flush or by the commit). */
int sink__file_flush(sink *s, sink_file *f, size_t min);
/* Flushes, syncs, closes and renames the temp file over the target. */
int sink__file_commit(sink *s, sink_file *f);
/* Closes and removes the temp file (no-op without one) and the
 * directories the load created, when they are still empty. */
void sink__file_abort(sink_file *f);
void sink__file_free(sink_file *f);

/* file_write.c: the bytes to the temp file. */
typedef struct sink_file_writer sink_file_writer;
/* Writes and empties f->out on the calling thread. */
int sink__file_write_now(sink *s, sink_file *f);
/* Starts f's writer thread (f->w); leaves f->w NULL when it cannot (out
 * of memory or threads): the caller's thread then writes. */
void sink__file_writer_start(sink_file *f);
/* Hands f->out to the writer (after its previous job) and gives f->out
 * the writer's emptied buffer. Returns 0 or SINK_E_IO (an earlier write
 * failed). */
int sink__file_writer_post(sink *s, sink_file *f);
/* Waits for the writer's last job and ends it; no-op without one. Returns
 * 0 or SINK_E_IO (through s when given) when any write failed. */
int sink__file_writer_stop(sink *s, sink_file *f);

#endif
