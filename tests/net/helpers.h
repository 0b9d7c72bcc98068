/*
 * helpers.h — test support for tests/net: start build/tdstestd with a
 * scenario and TLS options (reading "port N" / "strict-port N" from its
 * stdout), test certificates made once per build by
 * tests/server/certs.sh, scenario files, and small net_* conveniences.
 */
#ifndef TESTS_NET_HELPERS_H
#define TESTS_NET_HELPERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "net.h"

typedef struct th_server {
    pid_t pid;
    int port;
    int strict_port;
} th_server;

/* Path of tdstestd ($TDSTESTD, else build/tdstestd), or NULL when it is
 * not built (tests then skip). NET_TEST_VERBOSE=1 shows its log. */
const char *th_tdstestd(void);
/* Directory holding ca.pem, server.pem/key, wronghost.*, expired.* */
const char *th_certs(void);
/* Writes json to a scenario file named name; returns its path (static). */
const char *th_scenario(const char *name, const char *json);
/* The default scenario: login sa/Secret#1 (database sales), token login
 * "good-token", database sales with table narrow (int, bigint,
 * nvarchar(32), float) of `rows` rows. extra is spliced into the top-level
 * object (e.g. "\"faults\":{…},"), may be "". */
const char *th_scenario_default(const char *name, unsigned long rows, const char *extra);
/* Starts tdstestd --scenario path plus args (NULL-terminated). Returns
 * false when it does not come up. */
bool th_start(th_server *s, const char *scenario, const char *const *args);
void th_stop(th_server *s);
/* Options for 127.0.0.1:port, user sa, password Secret#1, db sales. */
net_opts th_opts(int port);
/* ms since an arbitrary point. */
uint64_t th_now_ms(void);

/* Counting callbacks for net_client_batch. */
typedef struct th_count {
    uint64_t rows;
    uint64_t sum_id;
    int64_t last_id;
    bool ordered;
    int resultsets;
    int errors;
    int32_t last_error;
} th_count;
extern const net_result_cb th_count_cb;

#endif
