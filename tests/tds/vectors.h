/*
 * vectors.h — helpers shared by the engine's tests: hex vectors, packet
 * framing, and the three-way replay (whole, one byte at a time, split at
 * every offset) that every captured byte stream goes through.
 */
#ifndef TDS_TEST_VECTORS_H
#define TDS_TEST_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "tds.h"

/* Hex text ("04 01 00 2b", whitespace and '|' ignored) to bytes; malloc'd. */
uint8_t *tv_hex(const char *hex, size_t *len);

/* Frames payload into packets of at most pkt bytes (header included),
 * status EOM on the last, ids from 1. malloc'd. */
uint8_t *tv_packetize(uint8_t type, const uint8_t *payload, size_t len, size_t pkt, size_t *out_len);

/* Feeds wire into a fresh session made from opts, in pieces cut at the
 * given offsets (ascending; none = whole), pulling every event after each
 * feed, and returns a malloc'd transcript: one line per event, values in
 * canonical text, ending with "ERROR <tds_strerror>" if decoding failed.
 * If expect_message is set, tds_expect_message() is called first. */
char *tv_transcript(const tds_session_opts *opts, bool expect_message,
                    const uint8_t *wire, size_t len, const size_t *cuts, size_t ncuts);

/* One line for one event (appended to a malloc'd growing string). */
void tv_event_line(char **out, size_t *len, const tds_event *ev);

/* Asserts (Criterion) that the transcript is the same fed whole, one byte
 * at a time, and split at every offset; returns the whole-fed transcript
 * (malloc'd) for further checks. */
char *tv_three_ways(const tds_session_opts *opts, bool expect_message,
                    const uint8_t *wire, size_t len);

#endif
