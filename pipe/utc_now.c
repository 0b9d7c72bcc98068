/*
 * utc_now.c — this moment as a datetimeoffset(6) value in UTC (see
 * utc_now.h).
 */
#include <string.h>
#include <time.h>

#include "utc_now.h"

int pipe_utc_now(tds_column *c, uint8_t *buf, size_t cap)
{
    if (tds_column_init(c, TDS_T_DATETIMEOFFSETN, 0, 0, 6) != TDS_OK)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t secs = (int64_t)ts.tv_sec;
    tds_datetime d;
    memset(&d, 0, sizeof d);
    d.days = (int32_t)(secs / 86400 + 719162); /* 0001-01-01 → 1970-01-01 */
    d.ticks = (uint64_t)(secs % 86400) * 10000000u + (uint64_t)(ts.tv_nsec / 1000) * 10u;
    d.scale = 6;
    d.kind = TDS_K_DATETIMEOFFSET;
    return tds_encode_datetime(c, &d, buf, cap);
}
