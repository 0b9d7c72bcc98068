/*
 * parquet_int.h — the Parquet sink's two files: parquet.c (the load:
 * rows through tdspipe_feed() into DuckDB's COPY … TO (FORMAT parquet))
 * and parquet_file.c (the file system: the URI's path and parameters,
 * temp files beside the target, append's part names, the atomic rename).
 */
#ifndef TDSPIPE_PARQUET_INT_H
#define TDSPIPE_PARQUET_INT_H

#include <stdbool.h>
#include <stddef.h>

/* What parquet://PATH?compression=C&row_group_size=N says. */
typedef struct pq_target {
    char *path;           /* percent-decoded (sink_file_path's rule) */
    char compression[16]; /* zstd unless given */
    long row_group_size;  /* 0: DuckDB's own (122,880 rows) */
    unsigned threads;     /* DuckDB threads encoding at once (1: rows in order) */
} pq_target;

/* Parses target (the URI after "parquet://"). 0, or SINK_E_URI /
 * SINK_E_NOMEM with a one-line message in err. */
int sink__pq_target(const char *target, pq_target *t, char *err, size_t errcap);
void sink__pq_target_free(pq_target *t);

/* Where an append's rows go: path itself when it does not exist, else the
 * next part beside it, "<stem>.part-NNNN<ext>" (stem and ext: the file
 * name split before a final ".parquet"; NNNN one more than the highest
 * part there, from 0001). malloc'd, NULL when out of memory. */
char *sink__pq_part_name(const char *path);
/* Removes the parts of path (replace: the new file is the whole data set). */
void sink__pq_remove_parts(const char *path);
/* A new empty temp file "<dest>.tmp-XXXXXX" beside dest (same file
 * system, so the rename at commit is atomic). malloc'd name, or NULL with
 * the reason in err. */
char *sink__pq_temp(const char *dest, char *err, size_t errcap);
/* fsync tmp, rename it to dest, fsync the directory. 0 or SINK_E_IO. */
int sink__pq_publish(const char *tmp, const char *dest, char *err, size_t errcap);

#endif
