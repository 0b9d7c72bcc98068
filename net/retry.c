/*
 * retry.c — which faults are worth another attempt, and how long to wait.
 *
 * Owns: the transient-fault list (Azure SQL's documented transient errors
 * plus connections reset or closed during login) and exponential backoff
 * with jitter. The loops that retry live with what they retry (conn.c for
 * opens, blocking.c for whole batches); this file holds only the policy,
 * so the rule "never retry once rows reached a sink" is applied by the
 * caller, who knows.
 */
#include <stdlib.h>

#include "net_int.h"

#define DEFAULT_BASE_MS 500u
#define DEFAULT_MAX_MS 30000u

bool net_error_transient(const net_error *e)
{
    if (!e)
        return false;
    switch (e->server_number) {
    case 4060:  /* cannot open database (Azure: during failover) */
    case 40197: /* service error processing the request */
    case 40501: /* service busy */
    case 40613: /* database not currently available */
    case 49918: /* not enough resources to process the request */
    case 49919: /* too many create/update operations */
    case 49920: /* too many operations in progress */
        return true;
    default:
        break;
    }
    /* A reset or close while logging in (failover, gateway hiccup). */
    return e->during_login && (e->code == NET_E_CLOSED || e->code == NET_E_IO);
}

/* A random-enough number without state shared between threads: the
 * clock's nanoseconds (and where this thread's stack is) through the
 * splitmix64 finaliser. */
static uint32_t next_rand(void)
{
    uint64_t x = uv_hrtime();
    x ^= (uint64_t)(uintptr_t)&x << 16;
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)(x ^ (x >> 31));
}

uint32_t net_retry_delay_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms)
{
    if (!base_ms)
        base_ms = DEFAULT_BASE_MS;
    if (!max_ms)
        max_ms = DEFAULT_MAX_MS;
    if (attempt == 0)
        attempt = 1;
    uint64_t d = base_ms;
    for (unsigned i = 1; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    /* ±25 % so parallel extractors do not retry in lockstep. */
    uint64_t span = d / 2;
    if (span)
        d = d - span / 2 + next_rand() % (span + 1);
    return (uint32_t)(d > max_ms ? max_ms : d);
}

uint32_t net__retry_wait(const net_opts *o, unsigned attempt)
{
    return net_retry_delay_ms(attempt, o->retry_base_ms, o->retry_max_ms);
}
