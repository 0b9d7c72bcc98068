/*
 * app.c — a program built against an installed libtdspipe only (no build
 * tree): tests/install/check_install.sh compiles it through pkg-config
 * and through find_package(tdspipe), shared and static, and runs it.
 *
 *   app OUT.csv     prints "version X.Y.Z" and writes a one-row CSV
 *
 * It touches each layer once: the version (headers and library must
 * agree), tds_ (a column, a value encoder), net_ (an option parser), sink_
 * (a real CSV load) and pipe (tdspipe_load refusing a bad source URI).
 */
#include <stdio.h>
#include <string.h>

#include <tdspipe/tdspipe.h>

static int load_csv(const char *path)
{
    char uri[600], err[300];
    snprintf(uri, sizeof uri, "csv://%s", path);
    sink *s;
    if (sink_open(uri, NULL, &s, err, sizeof err) != SINK_OK)
        return fprintf(stderr, "app: sink_open: %s\n", err), 1;
    tds_column col;
    tds_column_init(&col, TDS_T_INTN, 4, 0, 0);
    const char *names[] = {"answer"};
    sink_table t = {.name = "t", .cols = &col, .names = names, .ncols = 1, .incremental_key = -1};
    uint8_t bytes[4];
    tds_value v = {.ptr = bytes, .len = (uint32_t)tds_encode_int(&col, 42, bytes, sizeof bytes)};
    sink_batch b = {.values = &v, .nrows = 1};
    if (sink_begin(s, &t) || sink_append(s, &b) || sink_commit(s)) {
        fprintf(stderr, "app: sink: %s\n", sink_errmsg(s));
        sink_close(s);
        return 1;
    }
    sink_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return fprintf(stderr, "usage: app OUT.csv\n"), 2;
    if (strcmp(tdspipe_version(), TDSPIPE_VERSION_STRING) != 0)
        return fprintf(stderr, "app: library %s, headers %s\n", tdspipe_version(),
                       TDSPIPE_VERSION_STRING), 1;
    if (TDSPIPE_VERSION_NUM != ((TDSPIPE_VERSION_MAJOR << 16) | (TDSPIPE_VERSION_MINOR << 8) |
                                TDSPIPE_VERSION_PATCH))
        return fprintf(stderr, "app: TDSPIPE_VERSION_NUM is wrong\n"), 1;
    printf("version %s\n", tdspipe_version());

    net_opts o = {0};
    char why[200];
    if (net_opts_from_uri(&o, "mssql://u:p@db.example:1500/demo", why, sizeof why) != NET_OK ||
        o.port != 1500 || strcmp(o.database, "demo") != 0)
        return fprintf(stderr, "app: net_opts_from_uri: %s\n", why), 1;
    net_opts_free(&o);

    tdspipe_load_opts lo = {0};
    lo.source_uri = "nosuchscheme://x";
    lo.source_table = "t";
    lo.dest_uri = "discard://";
    tdspipe_error e;
    if (tdspipe_load(&lo, &e) == TDSPIPE_OK)
        return fprintf(stderr, "app: tdspipe_load took a bad URI\n"), 1;
    printf("load refused: %s\n", e.code == TDSPIPE_E_USAGE ? "usage" : "load");
    return load_csv(argv[1]);
}
