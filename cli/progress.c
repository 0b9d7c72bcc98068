/*
 * progress.c — what a load shows while it runs, always on stderr (stdout
 * stays clean for scripts). Its only input is the library's progress
 * callback (tdspipe_load_opts.progress, relayed by ingest.c), which the
 * engine calls at most every 1024 rows: nothing here runs per row.
 *
 *   interactive  on a terminal, a live line redrawn in place with "\r" at
 *                most 10 times a second: a bar, percentage and ETA when the
 *                source gave a row-count estimate (shown "~N est."), then
 *                rows, rows/s, MB, seconds; fitted to the terminal's width
 *                (a bar of a quarter of it, then the text cut at its tail).
 *                Off a terminal, only the summary line.
 *   log          a line every 2 s (with % and ETA when estimated), then the
 *                summary line
 *   json         one JSON object per line: {"event":"progress",…} every
 *                second and at a phase change, {"event":"done",…} at the end
 *                (fields in docs/cli.md, "Progress")
 * Every mode ends a successful load with a summary (rows, bytes, seconds,
 * rows/s); a failed load's text modes print nothing more (the error line
 * says it), json says "ok":false.
 * Invariant: never prints a URI or anything else that may hold a secret.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"
#include "progress_int.h"

struct cli_progress {
    FILE *f;
    cli_progress_mode mode;
    bool tty;   /* draw the live line */
    int width;
    char table[160];
    int64_t est;
    uint64_t rows, bytes;
    uint64_t unclocked_rows, unclocked_bytes; /* since the clock was last read */
    double start, last;
    const char *phase;
    bool drawn; /* a live line is on the screen */
    uint32_t windows, windows_done, windows_running; /* a parallel read's */
};

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ arithmetic */

double cli_progress_fraction(uint64_t rows, int64_t est)
{
    if (est <= 0)
        return -1;
    double f = (double)rows / (double)est;
    return f > 1 ? 1 : f;
}

double cli_progress_rate(uint64_t rows, double elapsed)
{
    return elapsed > 0 ? (double)rows / elapsed : 0;
}

double cli_progress_eta(uint64_t rows, int64_t est, double elapsed)
{
    double rate = cli_progress_rate(rows, elapsed);
    if (est <= 0 || rate <= 0 || rows >= (uint64_t)est)
        return -1;
    return ((double)est - (double)rows) / rate;
}

int cli_progress_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *cols = getenv("COLUMNS");
    long n = cols ? strtol(cols, NULL, 10) : 0;
    return n > 0 && n < 10000 ? (int)n : 80;
}

/* ------------------------------------------------------------- rendering */

/* "ETA 1m05s", "ETA 3s", "ETA --" */
static void eta_text(char *out, size_t cap, double eta)
{
    if (eta < 0)
        snprintf(out, cap, "ETA --");
    else if (eta >= 3600)
        snprintf(out, cap, "ETA %dh%02dm", (int)(eta / 3600), (int)(eta / 60) % 60);
    else if (eta >= 60)
        snprintf(out, cap, "ETA %dm%02ds", (int)(eta / 60), (int)eta % 60);
    else
        snprintf(out, cap, "ETA %.0fs", eta);
}

/* The text after the bar, what matters most first so a cut tail loses
 * the least: "42%  ETA 3s  t: 420 rows of ~1000 est.  84 rows/s  …", or
 * without an estimate "t: 420 rows  84 rows/s  0.1 MB  5.0s". */
static int line_text(char *out, size_t cap, const cli_progress_snap *s)
{
    double rate = cli_progress_rate(s->rows, s->elapsed);
    double frac = cli_progress_fraction(s->rows, s->est);
    bool committing = s->phase && !strcmp(s->phase, "committing");
    char head[48] = "", of[48] = "";
    if (frac >= 0) {
        char eta[24] = "committing";
        if (!committing)
            eta_text(eta, sizeof eta, cli_progress_eta(s->rows, s->est, s->elapsed));
        snprintf(head, sizeof head, "%3.0f%%  %s  ", frac * 100, eta);
        snprintf(of, sizeof of, " of ~%lld est.", (long long)s->est);
    }
    return snprintf(out, cap, "%s%s: %llu rows%s  %.0f rows/s  %.1f MB  %.1fs%s", head, s->table ? s->table : "",
                    (unsigned long long)s->rows, of, rate, (double)s->bytes / 1e6, s->elapsed,
                    committing && frac < 0 ? "  committing" : "");
}

size_t cli_progress_line(char *out, size_t cap, const cli_progress_snap *s, int width)
{
    char text[512];
    int tl = line_text(text, sizeof text, s);
    if (tl < 0)
        tl = 0;
    if ((size_t)tl >= sizeof text)
        tl = (int)sizeof text - 1;
    size_t room = width > 1 ? (size_t)width - 1 : 79;
    if (room > cap - 1)
        room = cap - 1;
    size_t n = 0;
    /* a bar of a quarter of the width (at most 40 cells), the same on every
     * redraw; none on a terminal under 60 columns */
    if (cli_progress_fraction(s->rows, s->est) >= 0 && room >= 59) {
        size_t cells = room / 4 > 40 ? 40 : room / 4;
        size_t fill = (size_t)(cli_progress_fraction(s->rows, s->est) * (double)cells);
        out[n++] = '[';
        for (size_t i = 0; i < cells; i++)
            out[n++] = i < fill ? '#' : '.';
        out[n++] = ']';
        out[n++] = ' ';
    }
    size_t take = (size_t)tl < room - n ? (size_t)tl : room - n;
    memcpy(out + n, text, take);
    n += take;
    out[n] = '\0';
    return n;
}

/* ----------------------------------------------------------------- modes */

cli_progress *cli_progress_new_on(FILE *f, bool tty, int width, cli_progress_mode mode, const char *table,
                                  int64_t est_rows)
{
    cli_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->f = f;
    p->mode = mode;
    p->tty = tty && mode == CLI_PROGRESS_INTERACTIVE;
    p->width = width > 0 ? width : 80;
    snprintf(p->table, sizeof p->table, "%s", table ? table : "");
    p->est = est_rows;
    p->start = cli_now();
    /* a live line shows from the first report on; the others wait a period */
    p->last = p->tty ? p->start - 1 : p->start;
    p->phase = "reading";
    return p;
}

cli_progress *cli_progress_new(cli_progress_mode mode, const char *table, int64_t known_rows)
{
    bool tty = isatty(STDERR_FILENO) == 1;
    return cli_progress_new_on(stderr, tty, tty ? cli_progress_width(STDERR_FILENO) : 80, mode, table, known_rows);
}

/* JSON string body: table names are ours but may hold quotes. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_line(cli_progress *p, double el, bool final, bool ok)
{
    FILE *f = p->f;
    double frac = cli_progress_fraction(p->rows, p->est);
    double eta = final ? -1 : cli_progress_eta(p->rows, p->est, el);
    fprintf(f, "{\"event\":\"%s\",\"table\":", final ? "done" : "progress");
    json_str(f, p->table);
    fprintf(f, ",\"phase\":\"%s\",\"rows\":%llu,\"bytes\":%llu,\"elapsed_s\":%.3f,\"rows_per_s\":%.0f",
            final ? (ok ? "done" : "failed") : p->phase, (unsigned long long)p->rows, (unsigned long long)p->bytes, el,
            cli_progress_rate(p->rows, el));
    if (p->est >= 0)
        fprintf(f, ",\"est_rows\":%lld,\"total_rows\":%lld", (long long)p->est, (long long)p->est);
    else
        fputs(",\"est_rows\":null,\"total_rows\":null", f);
    if (frac >= 0)
        fprintf(f, ",\"percent\":%.1f", frac * 100);
    else
        fputs(",\"percent\":null", f);
    if (eta >= 0)
        fprintf(f, ",\"eta_s\":%.1f", eta);
    else
        fputs(",\"eta_s\":null", f);
    if (p->windows)
        fprintf(f, ",\"windows\":%u,\"windows_done\":%u", (unsigned)p->windows, (unsigned)p->windows_done);
    if (final)
        fprintf(f, ",\"ok\":%s", ok ? "true" : "false");
    fputs("}\n", f);
    fflush(f);
}

static void draw(cli_progress *p, double now, bool final, bool ok)
{
    double el = now - p->start;
    if (p->mode == CLI_PROGRESS_JSON) {
        json_line(p, el, final, ok);
        return;
    }
    cli_progress_snap s = {p->table, p->phase, p->rows, p->bytes, p->est, el};
    char line[512], win[64] = "";
    if (p->windows) /* a parallel read: its windows, where the line has room */
        snprintf(win, sizeof win, "  windows %u/%u (%u reading)", (unsigned)p->windows_done, (unsigned)p->windows,
                 (unsigned)p->windows_running);
    if (!final && p->tty) {
        size_t n = cli_progress_line(line, sizeof line, &s, p->width);
        if (n + strlen(win) + 1 < (size_t)p->width && n + strlen(win) < sizeof line)
            strcat(line, win);
        fprintf(p->f, "\r\033[K%s", line);
        p->drawn = true;
    } else if (!final && p->mode == CLI_PROGRESS_LOG) {
        line_text(line, sizeof line, &s); /* a log has no bar */
        fprintf(p->f, "%s%s\n", line, win);
    } else if (final) {
        if (p->drawn)
            fputs("\r\033[K", p->f);
        if (ok) /* a failure's error line says it all */
            fprintf(p->f, "%s: loaded %llu rows in %.2fs (%.0f rows/s, %.1f MB)\n", p->table,
                    (unsigned long long)p->rows, el, cli_progress_rate(p->rows, el), (double)p->bytes / 1e6);
    }
    fflush(p->f);
}

void cli_progress_rows(cli_progress *p, size_t rows, size_t bytes)
{
    if (!p)
        return;
    p->rows += rows;
    p->bytes += bytes;
    /* Reading the clock for every row cost a quarter of a narrow load's CPU:
     * look at it once per 1024 rows or 1 MB, whichever comes first (the
     * engine reports that often anyway). */
    p->unclocked_rows += rows;
    p->unclocked_bytes += bytes;
    if (p->unclocked_rows < 1024 && p->unclocked_bytes < (1u << 20))
        return;
    p->unclocked_rows = p->unclocked_bytes = 0;
    if (p->mode == CLI_PROGRESS_INTERACTIVE && !p->tty)
        return; /* off a terminal only the summary */
    double now = cli_now();
    double every = p->mode == CLI_PROGRESS_INTERACTIVE ? 0.1 : p->mode == CLI_PROGRESS_JSON ? 1.0 : 2.0;
    if (now - p->last >= every) {
        p->last = now;
        draw(p, now, false, true);
    }
}

void cli_progress_phase(cli_progress *p, const char *phase)
{
    if (!p || !phase || (p->phase && !strcmp(p->phase, phase)))
        return;
    p->phase = phase;
    /* a commit can take a while: say so at once where something is shown */
    if (p->tty || p->mode == CLI_PROGRESS_JSON)
        draw(p, cli_now(), false, true);
}

void cli_progress_end(cli_progress *p, bool ok)
{
    if (!p)
        return;
    draw(p, cli_now(), true, ok);
    free(p);
}

/* A parallel read's window started or finished: json has an event for
 * each, a log a line for each finished window, a live line its count. */
void cli_progress_window(cli_progress *p, const tdspipe_progress *w)
{
    if (!p)
        return;
    p->windows = w->windows;
    p->windows_done = w->windows_done;
    p->windows_running = w->windows_running;
    if (!w->window || !w->window_event)
        return;
    bool done = !strcmp(w->window_event, "done");
    if (p->mode == CLI_PROGRESS_JSON) {
        fputs("{\"event\":\"window\",\"table\":", p->f);
        json_str(p->f, p->table);
        fputs(",\"window\":", p->f);
        json_str(p->f, w->window);
        fprintf(p->f, ",\"state\":\"%s\",\"rows\":%llu,\"windows\":%u,\"windows_done\":%u,\"windows_running\":%u}\n",
                done ? "done" : "start", (unsigned long long)w->window_rows, (unsigned)w->windows,
                (unsigned)w->windows_done, (unsigned)w->windows_running);
    } else if (p->mode == CLI_PROGRESS_LOG && done) {
        if (p->drawn)
            fputs("\r\033[K", p->f);
        fprintf(p->f, "%s: window %u/%u done (%s): %llu rows\n", p->table, (unsigned)w->windows_done,
                (unsigned)w->windows, w->window, (unsigned long long)w->window_rows);
    } else {
        return;
    }
    fflush(p->f);
}

/* --stream: what one poll left (the library calls once per poll). */
void cli_progress_stream(cli_progress_mode mode, const tdspipe_progress *p)
{
    if (mode == CLI_PROGRESS_JSON) {
        fputs("{\"event\":\"stream\",\"table\":", stderr);
        json_str(stderr, p->table ? p->table : "");
        fprintf(stderr, ",\"rows\":%llu,\"polls\":%llu,\"batches\":%llu", (unsigned long long)p->rows,
                (unsigned long long)p->polls, (unsigned long long)p->batches);
        if (p->has_lag)
            fprintf(stderr, ",\"lag_distance\":%llu", (unsigned long long)p->lag_distance);
        else
            fputs(",\"lag_distance\":null", stderr);
        fprintf(stderr, ",\"lag_s\":%.3f}\n", p->lag_seconds);
    } else if (mode == CLI_PROGRESS_LOG) {
        /* a log line when a batch committed, else every 10 s while idle */
        static double last;
        static uint64_t last_batches;
        double now = cli_now();
        if (p->batches == last_batches && last && now - last < 10)
            return;
        last = now;
        last_batches = p->batches;
        char dist[32] = "?";
        if (p->has_lag)
            snprintf(dist, sizeof dist, "%llu", (unsigned long long)p->lag_distance);
        fprintf(stderr, "%s: streaming, %llu rows applied in %llu batches (%llu polls), lag %s, %.3fs\n",
                p->table ? p->table : "", (unsigned long long)p->rows, (unsigned long long)p->batches,
                (unsigned long long)p->polls, dist, p->lag_seconds);
    }
    fflush(stderr);
}
