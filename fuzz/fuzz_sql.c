/*
 * fuzz_sql.c — tdstestd's SQL lexer and parser (tests/server/sql_lex.c,
 * sql_parse.c, sql_parse_sub.c) on fuzzer input: a batch's text as a
 * client sends it. Parsing either succeeds or fails with an error number
 * and message; nothing may read outside the text or leak, and nesting is
 * bounded (error 191) so deep input cannot exhaust the stack.
 */
#include <stdint.h>
#include <string.h>

#include "query_int.h"

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sql_batch b;
    sql_perr err;
    memset(&err, 0, sizeof err);
    int rc = sql_parse((const char *)data, size, &b, &err);
    if (rc == 0) {
        for (int i = 0; i < b.n; i++)
            sink ^= (int)b.stmts[i].t ^ (int)b.stmts[i].sel.nitems;
    } else {
        sink ^= (int)err.number ^ (int)strlen(err.msg);
    }
    sql_batch_free(&b);
    return 0;
}
