/*
 * progress.c — what a load shows while it runs, always on stderr (stdout
 * stays clean for scripts).
 *
 *   interactive  a live line on a terminal (rows, rows/s, MB, elapsed; % and
 *                ETA when the row count is known); off a terminal only the
 *                final line
 *   log          a line every 2 s and a final line
 *   json         one JSON object per line: {"event":"progress",…} and
 *                {"event":"done",…}
 * Invariant: never prints a URI or anything else that may hold a secret.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_int.h"

struct cli_progress {
    cli_progress_mode mode;
    bool tty;
    char table[160];
    int64_t known;
    uint64_t rows, bytes;
    uint64_t unclocked_rows, unclocked_bytes; /* since the clock was last read */
    double start, last;
    const char *phase;
    bool drawn;
};

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cli_progress *cli_progress_new(cli_progress_mode mode, const char *table, int64_t known_rows)
{
    cli_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->mode = mode;
    p->tty = isatty(STDERR_FILENO) == 1;
    snprintf(p->table, sizeof p->table, "%s", table ? table : "");
    p->known = known_rows;
    p->start = p->last = cli_now();
    p->phase = "reading";
    return p;
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

static void draw(cli_progress *p, double now, bool final, bool ok)
{
    double el = now - p->start;
    double rate = el > 0 ? (double)p->rows / el : 0;
    double mb = (double)p->bytes / 1e6;
    FILE *f = stderr;
    if (p->mode == CLI_PROGRESS_JSON) {
        fprintf(f, "{\"event\":\"%s\",\"table\":", final ? "done" : "progress");
        json_str(f, p->table);
        fprintf(f, ",\"phase\":\"%s\",\"rows\":%llu,\"bytes\":%llu,\"elapsed_s\":%.3f,\"rows_per_s\":%.0f",
                p->phase, (unsigned long long)p->rows, (unsigned long long)p->bytes, el, rate);
        if (p->known >= 0)
            fprintf(f, ",\"total_rows\":%lld", (long long)p->known);
        if (final)
            fprintf(f, ",\"ok\":%s", ok ? "true" : "false");
        fputs("}\n", f);
        fflush(f);
        return;
    }
    char pct[48] = "";
    if (p->known > 0 && !final) {
        double frac = (double)p->rows / (double)p->known;
        double eta = rate > 0 ? ((double)p->known - (double)p->rows) / rate : 0;
        snprintf(pct, sizeof pct, "  %3.0f%%  ETA %.0fs", frac > 1 ? 100.0 : frac * 100.0, eta < 0 ? 0 : eta);
    }
    if (p->mode == CLI_PROGRESS_INTERACTIVE && p->tty && !final) {
        char bar[32] = "";
        if (p->known > 0) {
            int w = 20, fill = (int)((double)w * (double)p->rows / (double)p->known);
            fill = fill > w ? w : fill;
            bar[0] = '[';
            for (int i = 0; i < w; i++)
                bar[1 + i] = i < fill ? '#' : '.';
            bar[w + 1] = ']';
            bar[w + 2] = ' ';
            bar[w + 3] = '\0';
        }
        fprintf(f, "\r\033[K%s%s: %llu rows  %.0f rows/s  %.1f MB  %.1fs%s", bar, p->table,
                (unsigned long long)p->rows, rate, mb, el, pct);
        p->drawn = true;
        fflush(f);
        return;
    }
    if (p->mode == CLI_PROGRESS_INTERACTIVE && !final)
        return;
    if (p->drawn)
        fputs("\r\033[K", f);
    if (final && !ok)
        return; /* the error line says it all */
    if (final)
        fprintf(f, "%s: %s %llu rows in %.2fs (%.0f rows/s, %.1f MB)\n", p->table, ok ? "loaded" : "failed after",
                (unsigned long long)p->rows, el, rate, mb);
    else
        fprintf(f, "%s: %s %llu rows  %.0f rows/s  %.1f MB  %.1fs%s\n", p->table, p->phase,
                (unsigned long long)p->rows, rate, mb, el, pct);
    fflush(f);
}

void cli_progress_rows(cli_progress *p, size_t rows, size_t bytes)
{
    if (!p)
        return;
    p->rows += rows;
    p->bytes += bytes;
    /* Reading the clock for every row cost a quarter of a narrow load's CPU:
     * look at it once per 1024 rows or 1 MB, whichever comes first (a few ms
     * at worst, far below the 0.2 s redraw period). */
    p->unclocked_rows += rows;
    p->unclocked_bytes += bytes;
    if (p->unclocked_rows < 1024 && p->unclocked_bytes < (1u << 20))
        return;
    p->unclocked_rows = p->unclocked_bytes = 0;
    double now = cli_now();
    double every = p->mode == CLI_PROGRESS_INTERACTIVE ? 0.2 : 2.0;
    if (now - p->last >= every) {
        p->last = now;
        draw(p, now, false, true);
    }
}

void cli_progress_phase(cli_progress *p, const char *phase)
{
    if (p)
        p->phase = phase;
}

void cli_progress_end(cli_progress *p, bool ok)
{
    if (!p)
        return;
    draw(p, cli_now(), true, ok);
    free(p);
}
