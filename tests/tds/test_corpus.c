/*
 * test_corpus.c — every file of the shared token-stream corpus (bare
 * token streams from mssql-rs's fuzzing corpus, mostly malformed) is fed
 * as a REPLY message to a client session, in 512- and 4096-byte packets,
 * whole and one byte at a time, plain and with PLP streaming, and as a
 * BULK message to a server. Each must decode or fail with an error — never
 * crash, hang or read out of bounds — and the whole and byte-at-a-time
 * transcripts must be identical.
 */
#include <dirent.h>

#include "token_build.h"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0, k;
    uint8_t tmp[4096];
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (n + k > cap) {
            cap = (n + k) * 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + n, tmp, k);
        n += k;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void replay(const tds_session_opts *opts, uint8_t type, const uint8_t *data, size_t n,
                   size_t pkt, const char *name)
{
    size_t len;
    uint8_t *wire = tv_packetize(type, data, n, pkt, &len);
    char *whole = tb_transcript(opts, NULL, wire, len, NULL, 0);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    char *bytes = tb_transcript(opts, NULL, wire, len, cuts, len ? len - 1 : 0);
    cr_assert_str_eq(bytes, whole, "%s: byte-at-a-time differs", name);
    cr_assert_null(strstr(whole, "STUCK"), "%s: %s", name, whole);
    size_t tl = strlen(whole);
    cr_assert(tl >= 4 && (strcmp(whole + tl - 4, "END\n") == 0 || strstr(whole, "ERROR ")),
              "%s: %s", name, whole);
    free(cuts);
    free(bytes);
    free(whole);
    free(wire);
}

Test(corpus, token_stream_never_crashes, .timeout = 600)
{
    const char *dir = TDS_CORPUS_DIR "/token_stream";
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *e;
    size_t files = 0;
    tds_session_opts plain = {0}, stream = { .stream_plp = true, .max_row = 4096 };
    tds_session_opts server = { .role = TDS_ROLE_SERVER };
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n;
        uint8_t *data = slurp(path, &n);
        replay(&plain, TDS_PKT_REPLY, data, n, 512, e->d_name);
        replay(&plain, TDS_PKT_REPLY, data, n, 4096, e->d_name);
        replay(&stream, TDS_PKT_REPLY, data, n, 512, e->d_name);
        replay(&server, TDS_PKT_BULK, data, n, 512, e->d_name);
        free(data);
        files++;
    }
    closedir(d);
    cr_assert_geq(files, 100, "only %zu corpus files", files);
}
