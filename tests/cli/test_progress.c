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
