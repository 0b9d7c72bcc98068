/*
 * tdspipe.h — libtdspipe's umbrella header: everything a program needs.
 *
 *   #include <tdspipe/tdspipe.h>      cc app.c $(pkg-config --cflags --libs tdspipe)
 *
 * The layers, each usable alone (docs/embedding.md):
 *   tds.h    the sans-I/O TDS engine: bytes in, events out, no sockets;
 *   net.h    connections on libuv (async, many per loop) or blocking;
 *   sink.h   destinations (CSV, JSONL, SQLite, DuckDB, PostgreSQL, …);
 *   pipe.h   sources and the load engine: tdspipe_load().
 * tdspipe_version.h holds the version the program is compiled with;
 * tdspipe_version() the version of the library it runs with.
 */
#ifndef TDSPIPE_TDSPIPE_H
#define TDSPIPE_TDSPIPE_H

#include "tds.h"
#include "net.h"
#include "sink.h"
#include "pipe.h"
#include "tdspipe_version.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* The library's version, "MAJOR.MINOR.PATCH" (static; never NULL). Equals
 * TDSPIPE_VERSION_STRING when the headers and the library match. */
const char *tdspipe_version(void);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* TDSPIPE_TDSPIPE_H */
