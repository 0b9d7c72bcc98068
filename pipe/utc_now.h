/*
 * utc_now.h — this moment as a datetimeoffset(6) in UTC, the value of the
 * loads' timestamp columns (_ingestr_loaded_at, _cdc_synced_at). Not
 * installed.
 */
#ifndef TDSPIPE_UTC_NOW_H
#define TDSPIPE_UTC_NOW_H

#include <stddef.h>
#include <stdint.h>

#include "tds.h"

/* Makes c a datetimeoffset(6) column and encodes now into buf. Returns
 * the value's length, or -1. */
int pipe_utc_now(tds_column *c, uint8_t *buf, size_t cap);

#endif /* TDSPIPE_UTC_NOW_H */
