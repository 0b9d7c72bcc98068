/*
 * file_write.c — how the CSV and JSONL sinks' pending bytes reach the temp
 * file: written (or gzip-compressed) by the calling thread for a small
 * load, and by one background thread per load once the output passes the
 * first flush, so the write(2) copies and zlib's deflate overlap the next
 * megabyte's formatting instead of adding to it.
 *
 * Invariants: the thread owns f->fd and f->gzf while it runs (the caller
 * touches neither until sink__file_writer_stop has joined it); buffers are
 * swapped, never shared: the thread writes w->job while the caller fills
 * f->out. The first write error sticks: later jobs are dropped and the
 * next flush or the commit reports it. The thread blocks every signal, so
 * a program's handlers keep running on its own threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "file_int.h"

struct sink_file_writer {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a job posted, a job done, or quit */
    sink_file *f;
    sink_buf job;      /* the bytes the thread writes */
    bool busy, quit;
    int err;           /* errno of the first failed write, 0 */
    char zmsg[96];     /* zlib's message when it had no errno */
};

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes p[0..n) to f's temp file (through gzip when f->gzf). Returns 0,
 * or an errno (EIO with *zmsg set for a zlib error without one). */
static int write_bytes(sink_file *f, const char *p, size_t n, char *zmsg, size_t zcap)
{
    if (!f->gzf)
        return write_all(f->fd, p, n) ? errno : 0;
    for (size_t off = 0; off < n;) {
        unsigned chunk = n - off > (1u << 30) ? (1u << 30) : (unsigned)(n - off);
        if (gzwrite(f->gzf, p + off, chunk) != (int)chunk) {
            int ze;
            const char *m = gzerror(f->gzf, &ze);
            if (ze == Z_ERRNO && errno)
                return errno;
            snprintf(zmsg, zcap, "%s", m ? m : "gzip error");
            return EIO;
        }
        off += chunk;
    }
    return 0;
}

static int fail_write(sink *s, sink_file *f, int e, const char *zmsg)
{
    return sink__fail(s, SINK_E_IO, "cannot write %s: %s", f->tmp, *zmsg ? zmsg : strerror(e));
}

int sink__file_write_now(sink *s, sink_file *f)
{
    char zmsg[96] = "";
    int e = write_bytes(f, f->out.p, f->out.len, zmsg, sizeof zmsg);
    if (e)
        return fail_write(s, f, e, zmsg);
    f->out.len = 0;
    return SINK_OK;
}

static void *writer_main(void *arg)
{
    sink_file_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->busy && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->busy)
            break;
        pthread_mutex_unlock(&w->mu);
        char zmsg[96] = "";
        int e = w->err ? 0 : write_bytes(w->f, w->job.p, w->job.len, zmsg, sizeof zmsg);
        pthread_mutex_lock(&w->mu);
        if (e && !w->err) {
            w->err = e;
            memcpy(w->zmsg, zmsg, sizeof zmsg);
        }
        w->job.len = 0;
        w->busy = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

void sink__file_writer_start(sink_file *f)
{
    sink_file_writer *w = sink__calloc(1, sizeof *w);
    if (!w)
        return; /* the caller's thread writes instead */
    w->f = f;
    if (pthread_mutex_init(&w->mu, NULL)) {
        free(w);
        return;
    }
    if (pthread_cond_init(&w->cv, NULL)) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return;
    }
    if (sink__thread_start(&w->th, writer_main, w)) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return;
    }
    f->w = w;
}

int sink__file_writer_post(sink *s, sink_file *f)
{
    sink_file_writer *w = f->w;
    pthread_mutex_lock(&w->mu);
    while (w->busy)
        pthread_cond_wait(&w->cv, &w->mu);
    int e = w->err;
    if (!e) {
        sink_buf t = w->job; /* empty: the thread finished it */
        w->job = f->out;
        f->out = t;
        w->busy = true;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    f->out.len = 0;
    return e ? fail_write(s, f, e, w->zmsg) : SINK_OK;
}

int sink__file_writer_stop(sink *s, sink_file *f)
{
    sink_file_writer *w = f->w;
    if (!w)
        return SINK_OK;
    pthread_mutex_lock(&w->mu);
    w->quit = true; /* after the job in hand, if any */
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    int rc = w->err && s ? fail_write(s, f, w->err, w->zmsg) : w->err ? SINK_E_IO : SINK_OK;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    sink__buf_free(&w->job);
    free(w);
    f->w = NULL;
    return rc;
}
