/* test_progress.c — cli/progress.c: json lines and the final log line. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "cli_int.h"

static void redirect(void) { cr_redirect_stderr(); }

Test(progress, json_done_line, .init = redirect)
{
    cli_progress *p = cli_progress_new(CLI_PROGRESS_JSON, "sales.\"o\"", 10);
    cli_progress_rows(p, 4, 100);
    cli_progress_end(p, true);
    fflush(stderr);
    char buf[512] = "";
    FILE *f = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    cr_assert(strstr(buf, "{\"event\":\"done\",\"table\":\"sales.\\\"o\\\"\""), "%s", buf);
    cr_assert(strstr(buf, "\"rows\":4,\"bytes\":100"), "%s", buf);
    cr_assert(strstr(buf, "\"total_rows\":10"), "%s", buf);
    cr_assert(strstr(buf, "\"ok\":true}\n"), "%s", buf);
}

Test(progress, failed_log_prints_nothing, .init = redirect)
{
    cli_progress *p = cli_progress_new(CLI_PROGRESS_LOG, "t", -1);
    cli_progress_rows(p, 1, 1);
    cli_progress_end(p, false);
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}

Test(progress, log_final_line, .init = redirect)
{
    cli_progress *p = cli_progress_new(CLI_PROGRESS_LOG, "t", -1);
    cli_progress_rows(p, 3, 1000000);
    cli_progress_end(p, true);
    fflush(stderr);
    char buf[256] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, cr_get_redirected_stderr());
    buf[n] = '\0';
    cr_assert(!strncmp(buf, "t: loaded 3 rows in ", 20), "%s", buf);
    cr_assert(strstr(buf, "1.0 MB)\n"), "%s", buf);
}

/* ------------------------------------------------ percent, ETA, the bar */
#include <stdlib.h>

#include "progress_int.h"

static bool starts(const char *s, const char *prefix) { return !strncmp(s, prefix, strlen(prefix)); }

Test(progress, fraction_and_eta)
{
    cr_assert_eq(cli_progress_fraction(10, -1), -1);
    cr_assert_eq(cli_progress_fraction(10, 0), -1);
    cr_assert_float_eq(cli_progress_fraction(250, 1000), 0.25, 1e-9);
    cr_assert_eq(cli_progress_fraction(1500, 1000), 1, "a low estimate stops at 100%%");
    /* 250 rows in 5 s: 50 rows/s, 750 left: 15 s */
    cr_assert_float_eq(cli_progress_eta(250, 1000, 5.0), 15.0, 1e-9);
    cr_assert_eq(cli_progress_eta(250, -1, 5.0), -1);
    cr_assert_eq(cli_progress_eta(0, 1000, 5.0), -1, "no rate yet");
    cr_assert_eq(cli_progress_eta(250, 1000, 0), -1, "no time yet");
    cr_assert_eq(cli_progress_eta(1000, 1000, 5.0), -1, "past the estimate: unknown");
    cr_assert_float_eq(cli_progress_rate(250, 5.0), 50.0, 1e-9);
    cr_assert_eq(cli_progress_rate(250, 0), 0);
}

Test(progress, bar_at_width)
{
    cli_progress_snap s = {"sales.orders", "reading", 250, 2000000, 1000, 5.0};
    char line[512];
    size_t n = cli_progress_line(line, sizeof line, &s, 120);
    cr_assert_eq(n, strlen(line));
    cr_assert_leq(n, 119, "fits in 119 columns: %zu [%s]", n, line);
    /* a quarter of the 119 usable columns: 29 cells, a quarter of them filled */
    cr_assert(starts(line, "[#######......................]  25%  ETA 15s  sales.orders: 250 rows of ~1000 est."), "%s", line);
    cr_assert(strstr(line, "  50 rows/s  2.0 MB  5.0s"), "%s", line);
    /* the bar keeps its size whatever the text */
    s.rows = 999;
    s.bytes = 123456789;
    cli_progress_line(line, sizeof line, &s, 120);
    cr_assert(starts(line, "[############################.] 100%"), "%s", line);
    /* a narrow terminal cuts the tail, then drops the bar */
    s.rows = 250;
    s.bytes = 2000000;
    n = cli_progress_line(line, sizeof line, &s, 60);
    cr_assert_eq(n, 59, "%s", line);
    cr_assert(starts(line, "[###...........]  25%  ETA 15s  sales.orders: 250 rows"), "%s", line);
    n = cli_progress_line(line, sizeof line, &s, 40);
    cr_assert_eq(n, 39, "%s", line);
    cr_assert(starts(line, " 25%  ETA 15s  sales.orders: 250 rows"), "%s", line);
    /* a wide one caps the bar at 40 cells */
    n = cli_progress_line(line, sizeof line, &s, 300);
    cr_assert_eq(strchr(line, ']') - line, 41, "%s", line);
    cr_assert_leq(n, 299);
}

Test(progress, line_without_estimate_is_the_plain_line)
{
    cli_progress_snap s = {"t", "reading", 3000, 1500000, -1, 2.0};
    char line[256];
    cli_progress_line(line, sizeof line, &s, 120);
    cr_assert_str_eq(line, "t: 3000 rows  1500 rows/s  1.5 MB  2.0s");
    s.phase = "committing";
    cli_progress_line(line, sizeof line, &s, 120);
    cr_assert_str_eq(line, "t: 3000 rows  1500 rows/s  1.5 MB  2.0s  committing");
}

Test(progress, eta_units)
{
    cli_progress_snap s = {"t", "reading", 10, 0, 100000, 10.0}; /* 1 row/s, 99990 s left */
    char line[256];
    cli_progress_line(line, sizeof line, &s, 200);
    cr_assert(strstr(line, "ETA 27h46m"), "%s", line);
    s.rows = 100; /* 10 rows/s, 9990 s */
    s.est = 1000; /* 90 s */
    cli_progress_line(line, sizeof line, &s, 200);
    cr_assert(strstr(line, "ETA 1m30s"), "%s", line);
    s.rows = 2000; /* past the estimate */
    cli_progress_line(line, sizeof line, &s, 200);
    cr_assert(starts(line, "[########################################] 100%  ETA --  t: 2000 rows of ~1000 est."), "%s", line);
    s.phase = "committing";
    cli_progress_line(line, sizeof line, &s, 200);
    cr_assert(strstr(line, "] 100%  committing  t: 2000 rows of ~1000 est."), "%s", line);
}

/* What a display wrote to its memory stream. */
typedef struct memout {
    char *buf;
    size_t len;
    FILE *f;
} memout;

/* open_memstream keeps &m->buf and &m->len: m must outlive the stream */
static void mem_open(memout *m)
{
    m->buf = NULL;
    m->len = 0;
    m->f = open_memstream(&m->buf, &m->len);
    cr_assert_not_null(m->f);
}

static void mem_close(memout *m)
{
    fclose(m->f);
}

Test(progress, live_line_redraws_in_place_then_summary)
{
    memout m;
    mem_open(&m);
    cli_progress *p = cli_progress_new_on(m.f, true, 100, CLI_PROGRESS_INTERACTIVE, "dbo.t", 4096);
    cli_progress_rows(p, 1024, 10000); /* the first report draws at once */
    cli_progress_rows(p, 1024, 10000); /* within 0.1 s: no redraw */
    cli_progress_end(p, true);
    mem_close(&m);
    cr_assert(starts(m.buf, "\r\033[K["), "%s", m.buf);
    cr_assert(strstr(m.buf, "]  25%  ETA "), "%s", m.buf);
    cr_assert(strstr(m.buf, "  dbo.t: 1024 rows of ~4096 est."), "%s", m.buf);
    cr_assert_null(strstr(m.buf, "2048 rows of"), "at most 10 redraws a second: %s", m.buf);
    const char *nl = strchr(m.buf, '\n');
    cr_assert(nl && !nl[1], "one newline, at the end: %s", m.buf);
    cr_assert(strstr(m.buf, "\r\033[Kdbo.t: loaded 2048 rows in "), "the live line is cleared: %s", m.buf);
    cr_assert(strstr(m.buf, "rows/s, 0.0 MB)\n"), "%s", m.buf);
    free(m.buf);
}

Test(progress, interactive_off_a_terminal_prints_only_the_summary)
{
    memout m;
    mem_open(&m);
    cli_progress *p = cli_progress_new_on(m.f, false, 80, CLI_PROGRESS_INTERACTIVE, "t", 10000);
    for (int i = 0; i < 5; i++)
        cli_progress_rows(p, 1024, 2048);
    cli_progress_phase(p, "committing");
    cli_progress_end(p, true);
    mem_close(&m);
    cr_assert(starts(m.buf, "t: loaded 5120 rows in "), "%s", m.buf);
    cr_assert(strstr(m.buf, "rows/s, 0.0 MB)\n"), "%s", m.buf);
    cr_assert_null(strchr(m.buf, '\r'), "%s", m.buf);
    free(m.buf);
}

Test(progress, json_lines_fields)
{
    memout m;
    mem_open(&m);
    cli_progress *p = cli_progress_new_on(m.f, false, 80, CLI_PROGRESS_JSON, "t", 2000);
    cli_progress_rows(p, 1000, 5000);
    cli_progress_phase(p, "committing"); /* a phase change is reported at once */
    cli_progress_end(p, true);
    mem_close(&m);
    char *second = strchr(m.buf, '\n');
    cr_assert_not_null(second, "%s", m.buf);
    *second++ = '\0';
    cr_assert(starts(m.buf, "{\"event\":\"progress\",\"table\":\"t\",\"phase\":\"committing\","
                            "\"rows\":1000,\"bytes\":5000,"), "%s", m.buf);
    cr_assert(strstr(m.buf, "\"est_rows\":2000,\"total_rows\":2000,\"percent\":50.0,\"eta_s\":"), "%s", m.buf);
    cr_assert_null(strstr(m.buf, "\"ok\""), "%s", m.buf);
    cr_assert(starts(second, "{\"event\":\"done\",\"table\":\"t\",\"phase\":\"done\",\"rows\":1000,"), "%s", second);
    cr_assert(strstr(second, "\"percent\":50.0,\"eta_s\":null,\"ok\":true}\n"), "%s", second);
    free(m.buf);
}

Test(progress, json_without_estimate_has_nulls_and_failed_says_so)
{
    memout m;
    mem_open(&m);
    cli_progress *p = cli_progress_new_on(m.f, false, 80, CLI_PROGRESS_JSON, "t", -1);
    cli_progress_rows(p, 7, 70);
    cli_progress_end(p, false);
    mem_close(&m);
    cr_assert(strstr(m.buf, "\"phase\":\"failed\",\"rows\":7,\"bytes\":70,"), "%s", m.buf);
    cr_assert(strstr(m.buf, "\"est_rows\":null,\"total_rows\":null,\"percent\":null,\"eta_s\":null,\"ok\":false}\n"),
              "%s", m.buf);
    free(m.buf);
}

Test(progress, log_lines_then_summary)
{
    memout m;
    mem_open(&m);
    cli_progress *p = cli_progress_new_on(m.f, true, 80, CLI_PROGRESS_LOG, "t", 100000);
    cli_progress_rows(p, 1024, 1024); /* a log waits its 2 s period */
    cli_progress_end(p, true);
    mem_close(&m);
    cr_assert(starts(m.buf, "t: loaded 1024 rows in "), "a log never draws a live line: %s", m.buf);
    free(m.buf);
}

Test(progress, terminal_width_from_columns)
{
    int fd = fileno(tmpfile()); /* not a terminal: TIOCGWINSZ fails */
    setenv("COLUMNS", "132", 1);
    cr_assert_eq(cli_progress_width(fd), 132);
    setenv("COLUMNS", "junk", 1);
    cr_assert_eq(cli_progress_width(fd), 80);
    unsetenv("COLUMNS");
    cr_assert_eq(cli_progress_width(fd), 80);
}
