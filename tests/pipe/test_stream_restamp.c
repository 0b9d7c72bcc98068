/*
 * test_stream_restamp.c — pipe/stream.c's idle restamp interval: a quarter
 * of the source's retention (CT's CHANGE_RETENTION, CDC's cleanup job
 * retention), at most 5 minutes, at least 5 seconds, 5 minutes unknown.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "stream_int.h"

Test(stream_restamp, quarter_of_the_retention_clamped)
{
    cr_assert_eq(pipe_stream_restamp_ms(60), 15000u);          /* CDC retention 1 minute */
    cr_assert_eq(pipe_stream_restamp_ms(10 * 60), 150000u);    /* 10 minutes: 2.5 min */
    cr_assert_eq(pipe_stream_restamp_ms(20 * 60), 300000u);    /* 20 minutes: exactly 5 min */
    cr_assert_eq(pipe_stream_restamp_ms(4320 * 60), 300000u);  /* CDC's default 3 days */
    cr_assert_eq(pipe_stream_restamp_ms(2 * 86400), 300000u);  /* CT's default 2 days */
    cr_assert_eq(pipe_stream_restamp_ms(8), 5000u);            /* floor */
    cr_assert_eq(pipe_stream_restamp_ms(0), 300000u);          /* unknown */
    cr_assert_eq(pipe_stream_restamp_ms(-1), 300000u);         /* unreadable */
    cr_assert_eq(pipe_stream_restamp_ms(INT64_MAX), 300000u);  /* no overflow */
}
