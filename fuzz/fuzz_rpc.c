/*
 * fuzz_rpc.c — the server-side request decoders on fuzzer input: the bytes
 * are an RPC payload and a SQL_BATCH payload (what a TDS_EV_MESSAGE hands
 * the test server). Every view a successful decode returns must lie in the
 * input or the scratch buffer (ASan checks the reads below).
 */
#include <string.h>

#include "tds.h"

static volatile uint8_t sink;

static void touch(const uint8_t *p, size_t n)
{
    if (p && n)
        sink ^= p[0] ^ p[n - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tds_param params[64];
    static uint8_t scratch[1 << 16];
    tds_rpc_decoded d;
    int n = tds_rpc_decode(data, size, &d, params, 64, scratch, sizeof scratch);
    if (n >= 0) {
        touch((const uint8_t *)d.proc_name.ptr, d.proc_name.len + (d.proc_name.ptr ? 1 : 0));
        for (int i = 0; i < n; i++) {
            if (params[i].name)
                touch((const uint8_t *)params[i].name, strlen(params[i].name) + 1);
            touch(params[i].value.ptr, params[i].value.len);
        }
    }
    static char sql[1 << 16];
    size_t len;
    uint64_t tran;
    if (tds_sql_batch_decode(data, size, sql, sizeof sql, &len, &tran) == TDS_OK)
        touch((const uint8_t *)sql, len + 1);
    return 0;
}
