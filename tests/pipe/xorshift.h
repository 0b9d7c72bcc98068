/*
 * xorshift.h — the random generator of the planner tests (test_par_plan.c,
 * test_par_partfn.c): xorshift64*, so a failing case is reproducible from
 * the seed a test prints. Each test file has its own state.
 */
#ifndef TDSPIPE_TEST_XORSHIFT_H
#define TDSPIPE_TEST_XORSHIFT_H

#include <stdint.h>

static uint64_t rng_state;

static inline uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
