/*
 * load_rows.c — the callbacks a source feeds (pipe_rows_cb): the columns
 * build the destination table (load_schema.c); each row's kept values go
 * into a sink_rows buffer that becomes one sink_append per page; streamed
 * (max) values go in as chunks. The row path is the hot path of a load:
 * no allocation, no clock; the progress callback and the cancel flag at
 * most every PIPE_REPORT_ROWS rows or PIPE_REPORT_BYTES bytes (so a
 * source that never blocks, a file, is cancelled too). --trim-whitespace
 * and --mask (transform.c) sit behind one pointer test per row and chunk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load_int.h"

void pipe_load_report(pipe_load *l, const char *phase)
{
    const tdspipe_load_opts *o = l->o;
    l->next_rows = l->seen + PIPE_REPORT_ROWS;
    l->next_bytes = l->bytes + PIPE_REPORT_BYTES;
    if (!o->progress)
        return;
    tdspipe_progress p = {.rows = l->seen, .bytes = l->bytes, .est_rows = l->plan.est_rows, .phase = phase, .table = l->dest_table};
    p.windows = l->windows;
    p.windows_done = l->windows_done;
    p.windows_running = l->windows_running;
    if (l->window) {
        p.window = l->window->window;
        p.window_event = l->window->event;
        p.window_rows = l->window->rows;
    }
    o->progress(o->progress_ud, &p);
}

int pipe_load_tick(pipe_load *l)
{
    pipe_load_report(l, "reading");
    if (l->o->cancel && *l->o->cancel)
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "the load was cancelled");
    return 0;
}

int pipe_load_flush(pipe_load *l)
{
    if (!l->rows || !sink_rows_count(l->rows))
        return 0;
    sink_batch b = sink_rows_batch(l->rows);
    if (sink_append(l->sk, &b))
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "%s", sink_errmsg(l->sk));
    sink_rows_reset(l->rows);
    return 0;
}

int pipe_load_flush_all(pipe_load *l)
{
    sink_rows *cur = l->rows;
    int rc = pipe_load_flush(l);
    for (unsigned i = 0; !rc && i < l->nlanes; i++) {
        l->rows = l->lanes[i];
        rc = pipe_load_flush(l);
    }
    l->rows = cur;
    return rc;
}

void pipe_load_lanes_free(pipe_load *l)
{
    bool in_lanes = false;
    for (unsigned i = 0; i < l->nlanes; i++) {
        in_lanes |= l->lanes[i] == l->rows;
        sink_rows_free(l->lanes[i]);
    }
    if (!in_lanes)
        sink_rows_free(l->rows);
    free(l->lanes);
    l->lanes = NULL;
    l->rows = NULL;
    l->nlanes = 0;
}

/* Rows from producer `lane` go to a batch of its own: lane 0 is the batch
 * load_schema.c made, the others are made as they first come (each at
 * most page_size rows: memory linear in the producers). */
static int on_lane(void *ud, unsigned lane)
{
    pipe_load *l = ud;
    if (!l->begun || lane > 4096)
        return PIPE_NEXT;
    if (lane >= l->nlanes) {
        sink_rows **v = realloc(l->lanes, (lane + 1) * sizeof *v);
        if (!v) {
            pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
            return PIPE_STOP;
        }
        l->lanes = v;
        if (!l->nlanes) /* the first batch becomes lane 0 */
            l->lanes[l->nlanes++] = l->rows;
        while (l->nlanes <= lane) {
            if (!(l->lanes[l->nlanes] = sink_rows_new(l->ncols))) {
                pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
                return PIPE_STOP;
            }
            l->nlanes++;
        }
    }
    l->rows = l->lanes[lane];
    return PIPE_NEXT;
}

/* The transform the options ask for, bound to the source's columns; cols
 * becomes the columns the destination is built from. 0 or -1 (failed). */
static int transform_columns(pipe_load *l, const tds_column **cols, size_t ncols)
{
    char why[400];
    int rc = pipe_xform_new(l->o, &l->xf, why, sizeof why);
    if (!rc && l->xf)
        rc = pipe_xform_columns(l->xf, *cols, ncols, cols, why, sizeof why);
    return rc ? pipe_load_fail(l, rc, "%s", why) : 0;
}

static int on_columns(void *ud, const tds_column *cols, size_t ncols)
{
    pipe_load *l = ud;
    if (l->begun)
        return PIPE_NEXT; /* a source hands its columns once */
    if ((l->o->trim_whitespace || l->o->nmasks) && !l->xf && transform_columns(l, &cols, ncols))
        return PIPE_STOP;
    return pipe_load_schema(l, cols, ncols) ? PIPE_STOP : PIPE_NEXT;
}

/* The row with its trimmed and masked values. NULL: failed. */
static const tds_value *transform_row(pipe_load *l, const tds_value *vals)
{
    char why[400];
    const tds_value *out;
    if (pipe_xform_row(l->xf, vals, &out, why, sizeof why)) {
        pipe_load_fail(l, TDSPIPE_E_LOAD, "%s", why);
        return NULL;
    }
    return out;
}

static int on_row(void *ud, const tds_value *vals)
{
    pipe_load *l = ud;
    if (!l->begun)
        return PIPE_NEXT;
    if (l->plan.limit >= 0 && l->seen >= (uint64_t)l->plan.limit) {
        l->limit_hit = true;
        return PIPE_STOP;
    }
    if (l->xf && !(vals = transform_row(l, vals)))
        return PIPE_STOP;
    size_t bytes = 0; /* streamed (max) values: on_chunk counts them */
    for (size_t i = 0; i < l->nkept; i++) {
        l->rowbuf[i] = vals[l->map[i]];
        bytes += l->rowbuf[i].len;
    }
    int rc = sink_rows_add(l->rows, l->rowbuf);
    if (rc) {
        pipe_load_fail(l, TDSPIPE_E_LOAD, "cannot buffer a row: %s", sink_strerror(rc));
        return PIPE_STOP;
    }
    l->seen++;
    l->bytes += bytes;
    if ((l->seen >= l->next_rows || l->bytes >= l->next_bytes) && pipe_load_tick(l))
        return PIPE_STOP;
    if (sink_rows_count(l->rows) >= l->page_size && pipe_load_flush(l))
        return PIPE_STOP;
    return PIPE_NEXT;
}

/* A chunk of a (max) value of the row being read (chunks come before
 * their row); len 0 ends the value. */
static int on_chunk(void *ud, size_t col, const uint8_t *data, size_t len)
{
    pipe_load *l = ud;
    if (!l->begun || col >= l->nsrc || !l->keep[col] || !len)
        return PIPE_NEXT;
    int kept = l->xf ? pipe_xform_chunk(l->xf, col, data, len) : 0;
    if (kept < 0) {
        pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory for a (max) value of result column %u", (unsigned)col + 1);
        return PIPE_STOP;
    }
    for (size_t i = 0; !kept && i < l->nkept; i++) {
        if (l->map[i] != col)
            continue;
        int rc = sink_rows_chunk(l->rows, i, data, len); /* the row takes it */
        if (rc) {
            pipe_load_fail(l, TDSPIPE_E_LOAD,
                           rc == SINK_E_VALUE ? "a value of result column %u is over 4 GiB"
                                              : "out of memory for a (max) value of result column %u",
                           (unsigned)col + 1);
            return PIPE_STOP;
        }
    }
    l->bytes += len;
    if (l->bytes >= l->next_bytes && pipe_load_tick(l))
        return PIPE_STOP;
    return PIPE_NEXT;
}

/* A parallel read's window started or ended: one progress report that
 * names it. */
static void on_window(void *ud, const pipe_window_report *w)
{
    pipe_load *l = ud;
    l->windows = w->total;
    l->windows_done = w->done;
    l->windows_running = w->running;
    l->window = w;
    pipe_load_report(l, "reading");
    l->window = NULL;
}

const pipe_rows_cb pipe_load_rows_cb = {
    .columns = on_columns,
    .chunk = on_chunk,
    .row = on_row,
    .window = on_window,
    .lane = on_lane,
};
